//! Identities and accounts for third-party integrations, and the rule that
//! money moves only for APPROVED ones, end to end over HTTP.

use reqwest::Method;
use serde_json::{json, Value};
use stableport_client::{Client, CreateConversion};

use crate::common::*;
use crate::on_both_backends;

on_both_backends!(
    creates_reads_lists_and_updates_identities,
    refuses_identities_the_spec_does_not_allow,
    opens_accounts_with_their_own_profile,
    moves_money_only_for_approved_identities_and_accounts,
);

fn person(ref_id: &str) -> Value {
    json!({
        "ref_id": ref_id,
        "metadata": { "crm": "42" },
        "person_details": {
            "first_name": "Ada", "last_name": "Lovelace", "date_of_birth": "1815-12-10",
            "email": "ada@example.com", "nationality": "GBR", "govt_id_type": "PASSPORT",
            "address": { "address1": "12 St James's Sq", "city": "London", "country": "GBR", "province": "LDN" }
        },
        "tax_details_not_required": true,
    })
}

/// A person identity; APPROVED when asked.
async fn identity(client: &Client, ref_id: &str, approve: bool) -> String {
    let (status, made) = post(client, "/v2/identity/identities", &person(ref_id)).await;
    assert_eq!(status, 200, "{made}");
    let id = made["id"].as_str().unwrap().to_string();
    if approve {
        let checks = json!({ "id_verification_status": "APPROVED", "sanctions_verification_status": "APPROVED" });
        let path = format!("/v2/identity/identities/{id}/sandbox-status");
        assert_eq!(put(client, &path, checks).await, (200, json!({})));
    }
    id
}

async fn creates_reads_lists_and_updates_identities(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let (status, made) = post(&client, "/v2/identity/identities", &person("id-1")).await;
    assert_eq!(status, 200, "{made}");
    assert_eq!(
        (&made["type"], &made["summary_status"]),
        (&json!("PERSON"), &json!("PENDING"))
    );
    assert_eq!(made["person_details"]["first_name"], "Ada");
    assert_eq!(made["person_details"]["id_verification_status"], "PENDING");
    let id = made["id"].as_str().unwrap();

    let (status, again) = post(&client, "/v2/identity/identities", &person("id-1")).await;
    assert_eq!(status, 409, "{again}");
    assert_eq!(again["meta"]["existing"]["id"], id);

    // Details only when asked for.
    let (_, plain) = get(&client, &format!("/v2/identity/identities/{id}")).await;
    assert!(plain.get("person_details").is_none(), "{plain}");
    let (_, full) = get(
        &client,
        &format!("/v2/identity/identities/{id}?include_details=true"),
    )
    .await;
    assert_eq!(full["person_details"]["address"]["city"], "London");

    let checks = json!({ "id_verification_status": "APPROVED", "sanctions_verification_status": "APPROVED" });
    put(
        &client,
        &format!("/v2/identity/identities/{id}/sandbox-status"),
        checks,
    )
    .await;
    let (_, approved) = get(&client, &format!("/v2/identity/identities/{id}")).await;
    assert_eq!(approved["summary_status"], "APPROVED");

    // An update is a delta: the other details stay.
    let change = json!({ "person_details": { "last_name": "King" }, "set_user_disabled": true });
    let (status, updated) = put(&client, &format!("/v2/identity/identities/{id}"), change).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["person_details"]["first_name"], "Ada");
    assert_eq!(updated["person_details"]["last_name"], "King");
    assert_eq!(updated["summary_status"], "DISABLED");
    // Another identity's ref_id is taken.
    let (_, second) = post(&client, "/v2/identity/identities", &person("id-2")).await;
    let path = format!("/v2/identity/identities/{}", second["id"].as_str().unwrap());
    let (status, taken) = put(&client, &path, json!({ "ref_id": "id-1" })).await;
    assert_eq!(status, 409, "{taken}");

    let institution = json!({ "institution_details": {
        "name": "Acme LLC", "institution_type": "LLC", "cip_id_type": "EIN", "cip_id": "12-3456789"
    } });
    let (status, acme) = post(&client, "/v2/identity/identities", &institution).await;
    assert_eq!(status, 200, "{acme}");
    assert_eq!(acme["type"], "INSTITUTION");
    let (_, people) = get(&client, "/v2/identity/identities?identity_type=PERSON").await;
    assert_eq!(people["items"].as_array().unwrap().len(), 2, "{people}");
    let (_, disabled) = get(&client, "/v2/identity/identities?summary_status=DISABLED").await;
    assert_eq!(disabled["items"][0]["id"], id);
    let (_, page) = get(&client, "/v2/identity/identities?limit=1").await;
    assert!(page["next_page_cursor"].is_string(), "{page}");

    // Another customer sees none of it.
    let other = other_customer(&server, &db).await;
    assert_eq!(
        get(&other, &format!("/v2/identity/identities/{id}"))
            .await
            .0,
        404
    );
    assert_eq!(
        get(&other, "/v2/identity/identities").await.1["items"],
        json!([])
    );
}

async fn refuses_identities_the_spec_does_not_allow(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let cases = [
        (json!({}), "exactly one"),
        (
            json!({ "person_details": {}, "institution_details": {} }),
            "exactly one",
        ),
        (
            json!({ "person_details": { "nick": "x" } }),
            "person_details.nick: unknown field",
        ),
        (
            json!({ "person_details": { "govt_id_type": "BADGE" } }),
            "person_details.govt_id_type",
        ),
        (
            json!({ "person_details": { "address": { "city": "x" } } }),
            "person_details.address.address1 is required",
        ),
        (
            json!({ "person_details": { "id_verification_status": "APPROVED" } }),
            "sandbox-status",
        ),
        (
            json!({ "person_details": {}, "is_merchant": "no" }),
            "is_merchant must be of type boolean",
        ),
    ];
    for (body, needle) in cases {
        let answer = client
            .raw(
                Method::POST,
                "/v2/identity/identities",
                Some(("application/json", body.to_string().into_bytes())),
            )
            .await
            .unwrap();
        raw_problem(answer, 400, needle);
    }
    assert_eq!(
        get(&client, "/v2/identity/identities").await.1["items"],
        json!([])
    );
    let id = identity(&client, "p", false).await;
    let (status, refused) = put(
        &client,
        &format!("/v2/identity/identities/{id}"),
        json!({
            "institution_details": { "name": "x" }
        }),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    let bad = json!({ "id_verification_status": "MAYBE" });
    let (status, _) = put(
        &client,
        &format!("/v2/identity/identities/{id}/sandbox-status"),
        bad,
    )
    .await;
    assert_eq!(status, 400);
}

async fn opens_accounts_with_their_own_profile(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let owner = identity(&client, "owner", true).await;
    let partner = identity(&client, "partner", true).await;
    let request = json!({
        "account": {
            "identity_id": owner, "ref_id": "acct-1", "description": "joint",
            "members": [{ "identity_id": partner, "roles": ["BENEFICIAL_OWNER"] }]
        },
        "create_profile": true,
    });
    let (status, account) = post(&client, "/v2/identity/accounts", &request).await;
    assert_eq!(status, 200, "{account}");
    assert_eq!(account["summary_status"], "APPROVED");
    assert!(account["members"][0]["id"].is_string(), "{account}");
    let profile = account["profile_id"].as_str().unwrap();
    let (_, shown) = get(&client, &format!("/v2/profiles/{profile}")).await;
    assert_eq!(shown["account_id"], account["id"]);

    let (status, again) = post(&client, "/v2/identity/accounts", &request).await;
    assert_eq!(status, 409, "{again}");
    assert_eq!(again["meta"]["existing"]["id"], account["id"]);
    let id = account["id"].as_str().unwrap();
    let (_, listed) = get(
        &client,
        &format!("/v2/identity/accounts?identity_id={owner}"),
    )
    .await;
    assert_eq!(listed["items"][0]["id"], id);

    let change =
        json!({ "account": { "id": id, "description": "solo" }, "set_user_disabled": true });
    let (status, updated) = put(&client, "/v2/identity/accounts", change).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        (&updated["description"], &updated["summary_status"]),
        (&json!("solo"), &json!("DISABLED"))
    );
    assert_eq!(
        get(&client, &format!("/v2/identity/accounts/{id}")).await.1["user_disabled"],
        true
    );

    let unknown = json!({ "account": { "identity_id": uuid::Uuid::new_v4().to_string() } });
    assert_eq!(
        post(&client, "/v2/identity/accounts", &unknown).await.0,
        404
    );
    let forbidden =
        json!({ "account": { "identity_id": owner, "id": uuid::Uuid::new_v4().to_string() } });
    assert_eq!(
        post(&client, "/v2/identity/accounts", &forbidden).await.0,
        400
    );
}

async fn moves_money_only_for_approved_identities_and_accounts(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let profile = funded_profile(&client, "USD", "100").await;
    let approved = identity(&client, "ok", true).await;
    let pending = identity(&client, "wait", false).await;
    let (_, account) = post(
        &client,
        "/v2/identity/accounts",
        &json!({ "account": { "identity_id": approved } }),
    )
    .await;
    let account = account["id"].as_str().unwrap().to_string();

    let convert = |identity: &str, account: &str| CreateConversion {
        profile_id: profile.clone(),
        amount: "1".into(),
        source_asset: "USD".into(),
        target_asset: "USDC".into(),
        identity_id: Some(identity.into()),
        account_id: Some(account.into()),
        ..Default::default()
    };
    client
        .create_conversion(&convert(&approved, &account))
        .await
        .unwrap();
    let zero = "00000000-0000-0000-0000-000000000000";
    client
        .create_conversion(&convert(zero, zero))
        .await
        .unwrap();
    problem(
        client.create_conversion(&convert(&pending, zero)).await,
        400,
        "PENDING",
    );
    let nobody = uuid::Uuid::new_v4().to_string();
    problem(
        client.create_conversion(&convert(&nobody, zero)).await,
        404,
        "identity_id",
    );
    problem(
        client.create_conversion(&convert(&pending, &account)).await,
        400,
        "identity_id",
    );

    let withdrawal = |identity: &str| {
        json!({
            "profile_id": profile, "asset": "USDC", "amount": "1", "identity_id": identity,
            "account_id": account, "crypto_network": "ETHEREUM",
            "destination_address": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "balance_asset": "USD",
        })
    };
    let (status, refused) = post(
        &client,
        "/v2/transfer/crypto-withdrawals",
        &withdrawal(&pending),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["detail"].as_str().unwrap().contains("identity_id"),
        "{refused}"
    );
    // A disabled account moves nothing either.
    put(
        &client,
        "/v2/identity/accounts",
        json!({ "account": { "id": account }, "set_user_disabled": true }),
    )
    .await;
    problem(
        client
            .create_conversion(&convert(&approved, &account))
            .await,
        400,
        "DISABLED",
    );
    assert_eq!(available(&client, &profile, "USD").await, "98");
}
