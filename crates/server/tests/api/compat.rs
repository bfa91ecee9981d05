//! Smaller places where a client generated from Paxos's spec expected what
//! the spec says: `order_by=UPDATED_AT` on transfers, `include_deactivated`,
//! event types we never emit, `crypto_tx_index`, the `exceed-precision`
//! problem, and every scope Paxos defines.

use reqwest::Method;
use serde_json::json;
use stableport_client::Error;

use crate::common::*;
use crate::on_both_backends;

on_both_backends!(
    orders_transfers_by_update_time,
    validates_include_deactivated,
    filters_events_by_any_paxos_type,
    shows_crypto_tx_index,
    refuses_over_precise_amounts_as_exceed_precision,
    grants_every_paxos_scope,
    names_travel_rule_beneficiaries_both_ways,
    lists_orchestrations_under_their_key,
);

/// ListOrchestrationsResponse names its array `orchestrations`, filtered by
/// rule too; a rule or orchestration without a memo leaves the field out.
async fn lists_orchestrations_under_their_key(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let profile = funded_profile(&client, "USD", "10").await;
    let bank = bank_account(&client).await;
    let rule = send(
        &client,
        Method::POST,
        "/v2/orchestration/rules",
        json!({ "ref_id": "r-no-memo", "profile_id": profile, "source_asset": "USDC",
                "destination_asset": "USD", "source": { "crypto": { "network": "BASE" } },
                "destination": { "fiat": { "fiat_account_id": bank } } }),
    )
    .await;
    assert!(
        rule["rule"]["destination"]["fiat"].get("memo").is_none(),
        "{rule}"
    );
    let address = rule["rule"]["source"]["crypto"]["address"]
        .as_str()
        .unwrap();
    let body = json!({ "asset": "USDC", "amount": "2", "crypto_network": "BASE", "crypto_address": address });
    send(
        &client,
        Method::POST,
        &format!("/v2/sandbox/profiles/{profile}/deposit"),
        body,
    )
    .await;
    let direct = send(
        &client,
        Method::POST,
        "/v2/orchestration/orchestrations",
        json!({ "ref_id": "o-no-memo", "profile_id": profile, "source_asset": "USD",
                "destination_asset": "USD", "source_amount": "1",
                "source": { "profile": { "profile_id": profile } },
                "destination": { "fiat": { "bank_account_id": bank } } }),
    )
    .await;
    assert!(
        direct["destination"]["fiat"].get("memo").is_none(),
        "{direct}"
    );
    let rule_id = rule["rule"]["id"].as_str().unwrap();
    for (query, expected) in [
        (String::new(), 2),
        (format!("?orchestration_rule_id={rule_id}"), 1),
    ] {
        let (status, list) =
            get(&client, &format!("/v2/orchestration/orchestrations{query}")).await;
        assert_eq!(status, 200);
        assert!(list.get("items").is_none(), "{list}");
        assert_eq!(
            list["orchestrations"].as_array().unwrap().len(),
            expected,
            "{query}: {list}"
        );
    }
}

/// Paxos's `BeneficiaryPerson` requires `firstName`/`lastName` while naming
/// `first_name`/`last_name`: both are sent (the contract judge checks the
/// required ones), and both spellings carry the same names.
async fn names_travel_rule_beneficiaries_both_ways(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let put = send(
        &client,
        Method::PUT,
        "/v2/transfer/crypto-destination-address",
        json!({ "crypto_network": "ETHEREUM", "address": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
                "travelrule_metadata": { "custodian_type": "PRIVATE",
                    "beneficiary": { "person_details": { "first_name": "Jane", "last_name": "Doe" } } } }),
    )
    .await;
    let person = &put["address"]["travelrule_metadata"]["beneficiary"]["person_details"];
    assert_eq!(
        person,
        &json!({ "first_name": "Jane", "last_name": "Doe", "firstName": "Jane", "lastName": "Doe" })
    );
    let (_, listed) = get(&client, "/v2/transfer/crypto-destination-addresses").await;
    assert_eq!(
        &listed["addresses"][0]["travelrule_metadata"]["beneficiary"]["person_details"],
        person
    );
}

async fn orders_transfers_by_update_time(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start_with(&db, |c| {
        c.settlement_mode = stableport_server::config::SettlementMode::Manual
    })
    .await;
    let client = server.client().await;
    let profile = funded_profile(&client, "USD", "100").await;
    // The first transfer to be created is the last to change: the orchestration's
    // destination leg, updated when it is released.
    let o = send(
        &client,
        Method::POST,
        "/v2/orchestration/orchestrations",
        json!({ "ref_id": "late", "profile_id": profile, "source_asset": "USD",
                "destination_asset": "USDC", "source_amount": "5",
                "source": { "profile": { "profile_id": profile } },
                "destination": { "profile": { "profile_id": profile } } }),
    )
    .await;
    client.deposit(&profile, "USD", "1").await.unwrap();
    client
        .release_orchestration(o["id"].as_str().unwrap())
        .await
        .unwrap();
    let released = o["destination_transfer"]["transfer_id"]
        .as_str()
        .unwrap()
        .to_string();
    eventually("delivery", || async {
        client.transfer(&released).await.unwrap().status == "COMPLETED"
    })
    .await;

    let (status, by_update) = get(
        &client,
        "/v2/transfer/transfers?order_by=UPDATED_AT&order=DESC",
    )
    .await;
    assert_eq!(status, 200, "{by_update}");
    let items = by_update["items"].as_array().unwrap();
    assert_eq!(
        items[0]["id"],
        released.as_str(),
        "the last updated comes first"
    );
    let times: Vec<&str> = items
        .iter()
        .map(|t| t["updated_at"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    let (_, by_creation) = get(&client, "/v2/transfer/transfers?order=DESC").await;
    assert_ne!(by_creation["items"][0]["id"], released.as_str());

    // Paging by update time returns each transfer once; its cursor is its own.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = "/v2/transfer/transfers?order_by=UPDATED_AT&limit=1".to_string();
        if let Some(c) = &cursor {
            path.push_str(&format!("&page_cursor={c}"));
        }
        let (_, page) = get(&client, &path).await;
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].clone()),
        );
        match page["next_page_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), items.len());
    let (_, first) = get(
        &client,
        "/v2/transfer/transfers?order_by=UPDATED_AT&limit=1",
    )
    .await;
    let foreign = first["next_page_cursor"].as_str().unwrap();
    raw_problem(
        client
            .raw(
                Method::GET,
                &format!("/v2/transfer/transfers?limit=1&page_cursor={foreign}"),
                None,
            )
            .await
            .unwrap(),
        400,
        "page_cursor",
    );
    raw_problem(
        client
            .raw(Method::GET, "/v2/transfer/transfers?order_by=AMOUNT", None)
            .await
            .unwrap(),
        400,
        "order_by must be CREATED_AT or UPDATED_AT",
    );
}

async fn validates_include_deactivated(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let profile = default_profile(&client).await;
    for value in ["true", "false"] {
        let (status, body) = get(
            &client,
            &format!("/v2/profiles/{profile}?include_deactivated={value}"),
        )
        .await;
        assert_eq!((status, body["id"].as_str()), (200, Some(profile.as_str())));
    }
    raw_problem(
        client
            .raw(
                Method::GET,
                &format!("/v2/profiles/{profile}?include_deactivated=yes"),
                None,
            )
            .await
            .unwrap(),
        400,
        "include_deactivated must be true or false",
    );
}

async fn filters_events_by_any_paxos_type(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    funded_profile(&client, "USD", "10").await;
    let (status, all) = get(&client, "/v2/events").await;
    assert_eq!(status, 200);
    assert!(!all["events"].as_array().unwrap().is_empty());
    // Real Paxos types Stableport never emits: an empty list, not a 400.
    for kind in ["identity.approved", "transfer.rtp_deposit.completed"] {
        let (status, body) = get(&client, &format!("/v2/events?type={kind}")).await;
        assert_eq!((status, body), (200, json!({ "events": [] })), "{kind}");
    }
    let (_, mixed) = get(
        &client,
        "/v2/events?type=identity.approved&type=transfer.wire_deposit.completed",
    )
    .await;
    assert_eq!(mixed["events"].as_array().unwrap().len(), 1, "{mixed}");
    raw_problem(
        client
            .raw(
                Method::GET,
                "/v2/events?type=transfer.teleport.completed",
                None,
            )
            .await
            .unwrap(),
        400,
        "unknown event type",
    );
}

async fn shows_crypto_tx_index(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let profile = default_profile(&client).await;
    let address = send(
        &client,
        Method::POST,
        "/v2/transfer/deposit-addresses",
        json!({ "profile_id": profile, "crypto_network": "SOLANA" }),
    )
    .await;
    let tx =
        "5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW";
    let outcome = client
        .sandbox_crypto_deposit(
            "SOLANA",
            address["address"].as_str().unwrap(),
            "PYUSD",
            "3",
            tx,
        )
        .await
        .unwrap();
    let (_, transfer) = get(
        &client,
        &format!("/v2/transfer/transfers/{}", outcome.transfer_id),
    )
    .await;
    assert_eq!(
        (
            transfer["crypto_tx_hash"].as_str(),
            transfer["crypto_tx_index"].as_str()
        ),
        (Some(tx), Some("0"))
    );
    let (_, events) = get(&client, "/v2/events?type=transfer.crypto_deposit.completed").await;
    let object = &events["events"][0]["object"];
    assert_eq!(
        (
            object["crypto_tx_hash"].as_str(),
            object["crypto_tx_index"].as_str()
        ),
        (Some(tx), Some("0")),
        "{object}"
    );
    // A wire has no chain transaction, so no index.
    let wire = client.deposit(&profile, "USD", "1").await.unwrap();
    let (_, wire) = get(&client, &format!("/v2/transfer/transfers/{wire}")).await;
    assert!(wire.get("crypto_tx_index").is_none(), "{wire}");
}

async fn refuses_over_precise_amounts_as_exceed_precision(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let profile = funded_profile(&client, "USD", "100").await;
    let cases = [
        (
            "/v2/conversion/stablecoins",
            json!({ "profile_id": profile, "amount": "1.001",
            "source_asset": "USD", "target_asset": "USDP" }),
        ),
        (
            "/v2/orchestration/orchestrations",
            json!({ "ref_id": "p", "profile_id": profile,
            "source_asset": "USD", "destination_asset": "USDC", "source_amount": "0.001",
            "source": { "profile": { "profile_id": profile } },
            "destination": { "profile": { "profile_id": profile } } }),
        ),
        (
            &*format!("/v2/sandbox/profiles/{profile}/deposit"),
            json!({ "asset": "PYUSD", "amount": "0.0000001" }),
        ),
    ];
    for (path, body) in cases {
        let (status, problem) = post(&client, path, &body).await;
        assert_eq!(status, 400, "{path}: {problem}");
        assert_eq!(
            (problem["type"].as_str(), problem["title"].as_str()),
            (
                Some("https://developer.paxos.com/docs/v2/problems/exceed-precision"),
                Some("Exceeds Maximum Precision Allowed")
            ),
            "{path}: {problem}"
        );
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("decimal places"),
            "{problem}"
        );
    }
    // Other amount errors stay plain 400s.
    let (_, _, zero) = client
        .raw(Method::POST, "/v2/conversion/stablecoins", Some(("application/json",
            json!({ "profile_id": profile, "amount": "0", "source_asset": "USD", "target_asset": "USDP" })
                .to_string().into_bytes())))
        .await
        .unwrap();
    assert_eq!(zero["type"], "about:blank");
    assert_eq!(available(&client, &profile, "USD").await, "100");
}

async fn grants_every_paxos_scope(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let spec = stableport_contract::read_yaml(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../spec/paxos-v2-openapi-full.yaml"
        )
        .as_ref(),
    );
    let mut scopes: Vec<String> = spec
        .pointer("/components/securitySchemes/OAuth2/flows/clientCredentials/scopes")
        .unwrap()
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    for item in spec["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            for requirement in op["security"].as_array().into_iter().flatten() {
                for scope in requirement["OAuth2"].as_array().into_iter().flatten() {
                    scopes.push(scope.as_str().unwrap().to_string());
                }
            }
        }
    }
    scopes.sort();
    scopes.dedup();
    assert!(scopes.len() > 40, "{scopes:?}");
    // The bootstrap credential holds every one, so a token may name any.
    let token = server
        .anonymous()
        .token(
            &server.client_id,
            &server.client_secret,
            Some(&scopes.join(" ")),
        )
        .await
        .unwrap();
    assert_eq!(token.scope.split(' ').count(), scopes.len());
    // A scope Paxos does not define is refused.
    let refused = server
        .anonymous()
        .token(
            &server.client_id,
            &server.client_secret,
            Some("exchange:write_everything"),
        )
        .await;
    assert!(
        matches!(&refused, Err(Error::OAuth { error, .. }) if error == "invalid_scope"),
        "{refused:?}"
    );
    // `credentials create` grants a Paxos scope Stableport serves no route for.
    let created =
        new_customer_credential(&db, "exchange:write_order api_creds:read_credentials").await;
    let narrow = server
        .anonymous()
        .token(
            created["client_id"].as_str().unwrap(),
            created["client_secret"].as_str().unwrap(),
            Some("exchange:write_order"),
        )
        .await
        .unwrap();
    assert_eq!(narrow.scope, "exchange:write_order");
}
