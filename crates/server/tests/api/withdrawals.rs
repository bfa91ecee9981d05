//! Withdrawals (crypto and fiat), guaranteed fees, internal and Paxos
//! transfers, and profile deactivation, end to end over HTTP.

use reqwest::Method;
use serde_json::{json, Value};
use stableport_client::{Client, CreateConversion};
use stableport_domain::Amount;
use stableport_server::config::{FeeAmount, SettlementMode};

use crate::common::*;
use crate::on_both_backends;

on_both_backends!(
    withdraws_crypto_and_the_settler_sends_it,
    converts_on_the_way_out_and_charges_a_guaranteed_fee,
    fails_withdrawals_on_demand_and_refunds_them,
    withdraws_to_an_approved_bank_account,
    refuses_bad_withdrawals_moving_nothing,
    moves_between_own_profiles_at_once,
    pays_another_customer_who_sees_only_the_credit,
    deactivates_only_empty_profiles_which_then_neither_send_nor_receive,
    enforces_and_reports_transfer_limits,
    racing_withdrawals_cannot_both_fit_under_a_limit,
);

const ETH_ADDRESS: &str = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";

async fn transfer(client: &Client, id: &str) -> Value {
    let (status, body) = get(client, &format!("/v2/transfer/transfers/{id}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn manual_server(db: &TestDb) -> TestServer {
    TestServer::start_with(db, |c| c.settlement_mode = SettlementMode::Manual).await
}

fn crypto_request(profile: &str, asset: &str, amount: &str) -> Value {
    json!({
        "profile_id": profile, "asset": asset, "amount": amount,
        "crypto_network": "ETHEREUM", "destination_address": ETH_ADDRESS,
    })
}

async fn withdraws_crypto_and_the_settler_sends_it(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let profile = funded_profile(&client, "USDC", "100").await;

    let mut request = crypto_request(&profile, "USDC", "40.5");
    request["ref_id"] = json!("w-1");
    request["metadata"] = json!({ "invoice": "7" });
    let (status, created) = post(&client, "/v2/transfer/crypto-withdrawals", &request).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["type"], "CRYPTO_WITHDRAWAL");
    assert_eq!(created["direction"], "DEBIT");
    assert_eq!(
        (&created["amount"], &created["fee"], &created["total"]),
        (&json!("40.5"), &json!("0"), &json!("40.5"))
    );
    assert_eq!(created["destination_address"], ETH_ADDRESS);
    assert_eq!(created["metadata"]["invoice"], "7");
    // Debited at once, whatever the status.
    assert_eq!(available(&client, &profile, "USDC").await, "59.5");

    let id = created["id"].as_str().unwrap().to_string();
    eventually("the withdrawal completes", || async {
        transfer(&client, &id).await["status"] == "COMPLETED"
    })
    .await;
    let done = transfer(&client, &id).await;
    let hash = done["crypto_tx_hash"].as_str().unwrap();
    assert!(hash.starts_with("0x") && hash.len() == 66, "{hash}");
    assert_eq!(done["crypto_tx_index"], "0");
    assert_eq!(available(&client, &profile, "USDC").await, "59.5");

    // A retry with its ref_id is a 409 carrying the stored one, as it is now.
    let (status, again) = post(&client, "/v2/transfer/crypto-withdrawals", &request).await;
    assert_eq!(status, 409, "{again}");
    assert_eq!(again["meta"]["existing"]["id"], id.as_str());
    assert_eq!(again["meta"]["existing"]["status"], "COMPLETED");
    assert_eq!(available(&client, &profile, "USDC").await, "59.5");

    let (_, listed) = get(&client, "/v2/transfer/transfers?type=CRYPTO_WITHDRAWAL").await;
    let ids: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert_eq!(ids, [id.as_str()]);
    let (_, events) = get(
        &client,
        "/v2/events?type=transfer.crypto_withdrawal.completed",
    )
    .await;
    assert_eq!(events["events"].as_array().unwrap().len(), 1, "{events}");
    db.assert_ledger_sound().await;
}

async fn converts_on_the_way_out_and_charges_a_guaranteed_fee(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start_with(&db, |c| {
        c.settlement_mode = SettlementMode::Manual;
        c.crypto_withdrawal_fee = FeeAmount(Some(Amount::parse("0.5", 6).unwrap()));
    })
    .await;
    let client = server.client().await;
    let profile = funded_profile(&client, "USD", "100").await;

    let quote = json!({
        "asset": "USDC", "crypto_network": "ETHEREUM",
        "destination_address": ETH_ADDRESS, "total": "20",
    });
    let (status, fee) = post(&client, "/v2/transfer/fees/crypto-withdrawal", &quote).await;
    assert_eq!(status, 200, "{fee}");
    assert_eq!((&fee["fee"], &fee["total"]), (&json!("0.5"), &json!("20")));

    let mut request = crypto_request(&profile, "USDC", "0");
    request.as_object_mut().unwrap().remove("amount");
    request["total"] = json!("20");
    request["balance_asset"] = json!("USD");
    request["fee_id"] = fee["id"].clone();
    let (status, created) = post(&client, "/v2/transfer/crypto-withdrawals", &request).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(
        (&created["amount"], &created["fee"], &created["total"]),
        (&json!("19.5"), &json!("0.5"), &json!("20"))
    );
    assert_eq!(
        (&created["asset"], &created["balance_asset"]),
        (&json!("USDC"), &json!("USD"))
    );
    assert_eq!(available(&client, &profile, "USD").await, "80");

    let id = created["id"].as_str().unwrap();
    let done = send(
        &client,
        Method::POST,
        &format!("/v2/sandbox/transfer/transfers/{id}/complete"),
        json!({}),
    )
    .await;
    assert_eq!(done["status"], "COMPLETED");
    assert_eq!(available(&client, &profile, "USD").await, "80");
    assert_eq!(available(&client, &profile, "USDC").await, "0");
    db.assert_ledger_sound().await;

    // A quote past its time guarantees nothing (a replica quoting for 0s).
    let hasty = TestServer::start_with(&db, |c| c.fee_quote_ttl = std::time::Duration::ZERO).await;
    let hasty_client = hasty.client().await;
    let (_, stale) = post(&hasty_client, "/v2/transfer/fees/crypto-withdrawal", &quote).await;
    let mut late = request.clone();
    late["fee_id"] = stale["id"].clone();
    let (status, refused) = post(&client, "/v2/transfer/crypto-withdrawals", &late).await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["detail"].as_str().unwrap().contains("expired"),
        "{refused}"
    );

    // A quote for another address, or another customer's, guarantees nothing.
    let mut elsewhere = request.clone();
    elsewhere["destination_address"] = json!("0x0000000000000000000000000000000000000001");
    let (status, refused) = post(&client, "/v2/transfer/crypto-withdrawals", &elsewhere).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused["detail"].as_str().unwrap().contains("fee_id"));
    let other = other_customer(&server, &db).await;
    let theirs = funded_profile(&other, "USD", "50").await;
    let mut foreign = request.clone();
    foreign["profile_id"] = json!(theirs);
    let (status, refused) = post(&other, "/v2/transfer/crypto-withdrawals", &foreign).await;
    assert_eq!(status, 404, "{refused}");
    assert_eq!(available(&other, &theirs, "USD").await, "50");
}

async fn fails_withdrawals_on_demand_and_refunds_them(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = manual_server(&db).await;
    let client = server.client().await;
    let profile = funded_profile(&client, "PYUSD", "10").await;

    let (_, created) = post(
        &client,
        "/v2/transfer/crypto-withdrawals",
        &crypto_request(&profile, "PYUSD", "7"),
    )
    .await;
    assert_eq!(created["status"], "PENDING");
    assert_eq!(available(&client, &profile, "PYUSD").await, "3");
    let id = created["id"].as_str().unwrap();
    let failed = send(
        &client,
        Method::POST,
        &format!("/v2/sandbox/transfer/transfers/{id}/fail"),
        json!({}),
    )
    .await;
    assert_eq!(failed["status"], "FAILED");
    assert!(failed.get("crypto_tx_hash").is_none(), "{failed}");
    assert_eq!(available(&client, &profile, "PYUSD").await, "10");
    // Finished is final.
    let (status, again) = post(
        &client,
        &format!("/v2/sandbox/transfer/transfers/{id}/complete"),
        &json!({}),
    )
    .await;
    assert_eq!(status, 409, "{again}");
    let (_, events) = get(&client, "/v2/events?type=transfer.crypto_withdrawal.failed").await;
    assert_eq!(events["events"].as_array().unwrap().len(), 1, "{events}");
    db.assert_ledger_sound().await;
}

async fn withdraws_to_an_approved_bank_account(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = manual_server(&db).await;
    let client = server.client().await;
    let profile = funded_profile(&client, "USD", "1000").await;
    let account = bank_account(&client).await;

    let request = json!({
        "profile_id": profile, "asset": "USD", "amount": "250.25",
        "fiat_account_id": account, "memo": "invoice 7", "ref_id": "fw-1",
    });
    let (status, created) = post(&client, "/v2/transfer/fiat-withdrawals", &request).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["type"], "WIRE_WITHDRAWAL");
    assert_eq!(created["status"], "PENDING");
    assert_eq!(created["fiat_account_id"], account.as_str());
    assert_eq!(created["memo"], "invoice 7");
    assert_eq!(available(&client, &profile, "USD").await, "749.75");
    let id = created["id"].as_str().unwrap();
    let done = send(
        &client,
        Method::POST,
        &format!("/v2/sandbox/transfer/transfers/{id}/complete"),
        json!({}),
    )
    .await;
    assert_eq!(done["status"], "COMPLETED");
    let (_, events) = get(
        &client,
        "/v2/events?type=transfer.wire_withdrawal.completed",
    )
    .await;
    assert_eq!(events["events"].as_array().unwrap().len(), 1, "{events}");

    // A pending account is no destination yet; an unknown one is a 404.
    let pending = new_bank_account_pending(&server, &db).await;
    let mut to_pending = request.clone();
    to_pending["ref_id"] = json!("fw-2");
    to_pending["fiat_account_id"] = json!(pending.1);
    let (status, refused) = post(&pending.0, "/v2/transfer/fiat-withdrawals", &to_pending).await;
    assert_eq!(status, 400, "{refused}");
    let mut unknown = request.clone();
    unknown["ref_id"] = json!("fw-3");
    unknown["fiat_account_id"] = json!(uuid::Uuid::new_v4().to_string());
    let (status, _) = post(&client, "/v2/transfer/fiat-withdrawals", &unknown).await;
    assert_eq!(status, 404);
    assert_eq!(available(&client, &profile, "USD").await, "749.75");
    db.assert_ledger_sound().await;
}

/// A client of a server whose fiat accounts wait for review, and one such account.
async fn new_bank_account_pending(server: &TestServer, _db: &TestDb) -> (Client, String) {
    let client = server.client().await;
    let id = new_bank_account(&client).await;
    set_fiat_status(&client, &id, "PENDING").await;
    (client, id)
}

async fn refuses_bad_withdrawals_moving_nothing(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = manual_server(&db).await;
    let client = server.client().await;
    let profile = funded_profile(&client, "USDC", "10").await;
    let path = "/v2/transfer/crypto-withdrawals";
    let base = crypto_request(&profile, "USDC", "1");
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            json!({ "total": "1" }),
            400,
            "exactly one of amount or total",
        ),
        (
            json!({ "amount": null }),
            400,
            "exactly one of amount or total",
        ),
        (json!({ "amount": "1.0000001" }), 400, "decimal places"),
        (json!({ "amount": "11" }), 403, "insufficient"),
        (
            json!({ "destination_address": "0x123" }),
            400,
            "destination_address",
        ),
        (
            json!({ "crypto_network": "BITCOIN" }),
            400,
            "crypto_network",
        ),
        (json!({ "memo": "hello" }), 400, "memo"),
        (json!({ "asset": "USD" }), 400, "asset"),
        (json!({ "balance_asset": "PYUSD" }), 400, "balance_asset"),
        (
            json!({ "fee_id": uuid::Uuid::new_v4().to_string() }),
            404,
            "fee_id",
        ),
        (
            json!({ "profile_id": uuid::Uuid::new_v4().to_string() }),
            404,
            "profile",
        ),
        (json!({ "identity_id": "not-a-uuid" }), 400, "identity_id"),
    ];
    for (change, status, needle) in cases {
        let mut body = base.clone();
        for (k, v) in change.as_object().unwrap() {
            match v {
                Value::Null => body.as_object_mut().unwrap().remove(k),
                v => body.as_object_mut().unwrap().insert(k.clone(), v.clone()),
            };
        }
        let answer = client
            .raw(
                Method::POST,
                path,
                Some(("application/json", body.to_string().into_bytes())),
            )
            .await
            .unwrap();
        raw_problem(answer, status, needle);
    }
    assert_eq!(available(&client, &profile, "USDC").await, "10");
    let (_, listed) = get(&client, "/v2/transfer/transfers?type=CRYPTO_WITHDRAWAL").await;
    assert_eq!(listed["items"], json!([]));
}

async fn moves_between_own_profiles_at_once(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = manual_server(&db).await;
    let client = server.client().await;
    let from = funded_profile(&client, "USDP", "5").await;
    let to = client.create_profile("savings", None).await.unwrap().id;
    let request = json!({
        "ref_id": "it-1", "from_profile_id": from, "to_profile_id": to,
        "asset": "USDP", "amount": "1.23456789", "metadata": { "why": "rent" },
    });
    let (status, debit) = post(&client, "/v2/transfer/internal", &request).await;
    assert_eq!(status, 200, "{debit}");
    assert_eq!(
        (&debit["type"], &debit["status"], &debit["direction"]),
        (
            &json!("INTERNAL_TRANSFER_DEBIT"),
            &json!("COMPLETED"),
            &json!("DEBIT")
        )
    );
    assert_eq!(available(&client, &from, "USDP").await, "3.76543211");
    assert_eq!(available(&client, &to, "USDP").await, "1.23456789");
    let group = debit["group_id"].as_str().unwrap();
    let (_, legs) = get(
        &client,
        &format!("/v2/transfer/transfers?group_ids={group}"),
    )
    .await;
    let mut kinds: Vec<&str> = legs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["type"].as_str().unwrap())
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        ["INTERNAL_TRANSFER_CREDIT", "INTERNAL_TRANSFER_DEBIT"]
    );

    let (status, again) = post(&client, "/v2/transfer/internal", &request).await;
    assert_eq!(status, 409, "{again}");
    assert_eq!(again["meta"]["existing"]["id"], debit["id"]);
    let mut too_much = request.clone();
    too_much["ref_id"] = json!("it-2");
    too_much["amount"] = json!("4");
    let (status, _) = post(&client, "/v2/transfer/internal", &too_much).await;
    assert_eq!(status, 403);
    let mut to_self = too_much.clone();
    to_self["to_profile_id"] = json!(from);
    to_self["amount"] = json!("1");
    let (status, _) = post(&client, "/v2/transfer/internal", &to_self).await;
    assert_eq!(status, 400);
    assert_eq!(available(&client, &from, "USDP").await, "3.76543211");
    db.assert_ledger_sound().await;
}

async fn pays_another_customer_who_sees_only_the_credit(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = manual_server(&db).await;
    let client = server.client().await;
    let other = other_customer(&server, &db).await;
    let from = funded_profile(&client, "USDG", "30").await;
    let theirs = default_profile(&other).await;
    let request = json!({
        "ref_id": "px-1", "from_profile_id": from, "to_profile_id": theirs,
        "asset": "USDG", "amount": "12", "metadata": { "secret": "ours" },
        "recipient_metadata": { "note": "for you" },
    });
    let (status, debit) = post(&client, "/v2/transfer/paxos", &request).await;
    assert_eq!(status, 200, "{debit}");
    assert_eq!(debit["type"], "PAXOS_TRANSFER_DEBIT");
    assert_eq!(available(&other, &theirs, "USDG").await, "12");
    assert_eq!(available(&client, &from, "USDG").await, "18");

    let (_, seen) = get(&other, "/v2/transfer/transfers?type=PAXOS_TRANSFER_CREDIT").await;
    let credit = &seen["items"][0];
    assert_eq!(credit["profile_id"], theirs.as_str());
    assert_eq!(credit["metadata"], json!({ "note": "for you" }));
    assert!(credit.get("ref_id").is_none(), "{credit}");
    assert_eq!(seen["items"].as_array().unwrap().len(), 1);
    // The sender's debit stays the sender's.
    let (status, _) = get(
        &other,
        &format!("/v2/transfer/transfers/{}", debit["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, 404);
    let (_, mine) = get(&client, "/v2/transfer/transfers?type=PAXOS_TRANSFER_CREDIT").await;
    assert_eq!(mine["items"], json!([]));

    // To one's own profile is an internal transfer; to nobody, a 404.
    let mut own = request.clone();
    own["ref_id"] = json!("px-2");
    own["to_profile_id"] = json!(default_profile(&client).await);
    let (status, _) = post(&client, "/v2/transfer/paxos", &own).await;
    assert_eq!(status, 400);
    own["to_profile_id"] = json!(uuid::Uuid::new_v4().to_string());
    let (status, _) = post(&client, "/v2/transfer/paxos", &own).await;
    assert_eq!(status, 404);
    db.assert_ledger_sound().await;
}

async fn deactivates_only_empty_profiles_which_then_neither_send_nor_receive(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = manual_server(&db).await;
    let client = server.client().await;
    let full = funded_profile(&client, "USD", "5").await;
    let (status, refused) = put(
        &client,
        &format!("/v2/profiles/{full}/deactivate"),
        json!({}),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["detail"].as_str().unwrap().contains("5 USD"),
        "{refused}"
    );
    let default = default_profile(&client).await;
    let (status, _) = put(
        &client,
        &format!("/v2/profiles/{default}/deactivate"),
        json!({}),
    )
    .await;
    assert_eq!(status, 400);

    let empty = client.create_profile("spare", None).await.unwrap().id;
    let (status, answer) = put(
        &client,
        &format!("/v2/profiles/{empty}/deactivate"),
        json!({}),
    )
    .await;
    assert_eq!((status, answer), (200, json!({})));
    let (status, _) = get(&client, &format!("/v2/profiles/{empty}")).await;
    assert_eq!(status, 404);
    let (status, found) = get(
        &client,
        &format!("/v2/profiles/{empty}?include_deactivated=true"),
    )
    .await;
    assert_eq!((status, found["id"].as_str()), (200, Some(empty.as_str())));
    let (_, listed) = get(&client, "/v2/profiles").await;
    assert!(!listed.to_string().contains(&empty));
    let (_, all) = get(&client, "/v2/profiles?include_deactivated=true").await;
    assert!(all.to_string().contains(&empty));

    // Neither receives (an internal transfer, a conversion's settlement) nor sends.
    let into = json!({
        "from_profile_id": full, "to_profile_id": empty, "asset": "USD", "amount": "1",
    });
    let (status, refused) = post(&client, "/v2/transfer/internal", &into).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused["detail"].as_str().unwrap().contains("deactivated"));
    let convert = CreateConversion {
        profile_id: full.clone(),
        amount: "1".into(),
        source_asset: "USD".into(),
        target_asset: "USDC".into(),
        recipient_profile_id: Some(empty.clone()),
        ..Default::default()
    };
    problem(client.create_conversion(&convert).await, 400, "deactivated");
    let out = crypto_request(&empty, "USDC", "1");
    let (status, _) = post(&client, "/v2/transfer/crypto-withdrawals", &out).await;
    assert_eq!(status, 400);
    assert_eq!(available(&client, &full, "USD").await, "5");
}

/// Runs `stableport limits set` as an operator would; the limit's id.
async fn set_limit(db: &TestDb, customer: &str, types: &str, limit: &str, period: &str) -> String {
    let args = ["limits", "set", "--customer", customer, "--types", types];
    let args = [&args[..], &["--limit", limit, "--period", period]].concat();
    let made = stableport_cli(db, &args).await;
    made["id"].as_str().unwrap().to_string()
}

async fn enforces_and_reports_transfer_limits(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = manual_server(&db).await;
    let client = server.client().await;
    let path = "/v2/transfer/limits/utilizations";
    assert_eq!(get(&client, path).await.1, json!({ "items": [] }));
    let customer = server.customer_id.clone();
    let daily = set_limit(
        &db,
        &customer,
        "CRYPTO_WITHDRAWAL,WIRE_WITHDRAWAL",
        "100",
        "24h",
    )
    .await;
    set_limit(&db, &customer, "CRYPTO_WITHDRAWAL", "60", "0s").await;
    let profile = funded_profile(&client, "USDC", "500").await;

    let (status, first) = post(
        &client,
        "/v2/transfer/crypto-withdrawals",
        &crypto_request(&profile, "USDC", "50"),
    )
    .await;
    assert_eq!(status, 200, "{first}");
    let (status, refused) = post(
        &client,
        "/v2/transfer/crypto-withdrawals",
        &crypto_request(&profile, "USDC", "61"),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(
        refused["type"],
        "https://developer.paxos.com/docs/v2/problems/exceed-max-withdraw-limit"
    );
    assert_eq!(refused["meta"], json!({ "limit": "60", "amount": "61" }));
    let (status, refused) = post(
        &client,
        "/v2/transfer/crypto-withdrawals",
        &crypto_request(&profile, "USDC", "50.000001"),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["meta"]["limit"], "100");
    assert_eq!(available(&client, &profile, "USDC").await, "450");

    let (_, seen) = get(&client, &format!("{path}?transfer_type=WIRE_WITHDRAWAL")).await;
    let items = seen["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{seen}");
    assert_eq!(items[0]["id"], daily.as_str());
    assert_eq!(
        items[0]["transfer_types"],
        json!(["CRYPTO_WITHDRAWAL", "WIRE_WITHDRAWAL"])
    );
    assert_eq!(
        (&items[0]["limit"], &items[0]["remaining"]),
        (&json!("100"), &json!("50"))
    );
    assert_eq!(items[0]["period_seconds"], "86400");
    let (_, all) = get(&client, &format!("{path}?transfer_type=CRYPTO_WITHDRAWAL")).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);

    // A failed withdrawal gives its share back.
    let id = first["id"].as_str().unwrap();
    send(
        &client,
        Method::POST,
        &format!("/v2/sandbox/transfer/transfers/{id}/fail"),
        json!({}),
    )
    .await;
    let (_, after) = get(&client, &format!("{path}?transfer_type=WIRE_WITHDRAWAL")).await;
    assert_eq!(after["items"][0]["remaining"], "100");
    let (status, bad) = get(&client, &format!("{path}?transfer_type=NOPE")).await;
    assert_eq!(status, 400, "{bad}");
}

/// Eight withdrawals at once where the limit has room for one: one passes.
async fn racing_withdrawals_cannot_both_fit_under_a_limit(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = manual_server(&db).await;
    let client = server.client().await;
    set_limit(&db, &server.customer_id, "CRYPTO_WITHDRAWAL", "100", "24h").await;
    let profile = funded_profile(&client, "USDC", "1000").await;
    let tasks: Vec<_> = (0..8)
        .map(|k| {
            let client = client.clone();
            let mut body = crypto_request(&profile, "USDC", "60");
            body["ref_id"] = json!(format!("race-{k}"));
            tokio::spawn(
                async move { post(&client, "/v2/transfer/crypto-withdrawals", &body).await },
            )
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        let (status, answer) = task.await.unwrap();
        assert!(status == 200 || status == 400, "{status}: {answer}");
        statuses.push(status);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(available(&client, &profile, "USDC").await, "940");
    db.assert_ledger_sound().await;
}
