//! A retried create with the same `ref_id` gets 409 `already-exists` with the
//! stored resource in `meta.existing`, whatever changed since (the balance
//! spent, the destination deleted), and racing identical requests give one
//! 200 and 409s, never a 403 or a second resource.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;
use crate::on_both_backends;

on_both_backends!(
    conversion_retry_after_the_balance_is_spent,
    orchestration_retry_after_the_destination_is_gone,
    racing_retries_create_once,
    every_ref_id_create_answers_409,
);

fn assert_exists(answer: &Value, created: &Value) {
    assert_eq!(answer["status"], 409, "{answer}");
    assert!(
        answer["type"]
            .as_str()
            .unwrap()
            .ends_with("/already-exists"),
        "{answer}"
    );
    assert_eq!(answer["meta"]["existing"]["id"], created["id"], "{answer}");
}

async fn conversion_retry_after_the_balance_is_spent(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let profile = funded_profile(&client, "USD", "100").await;
    let body = json!({ "ref_id": "c-60", "profile_id": profile, "amount": "60",
                       "source_asset": "USD", "target_asset": "USDP" });
    let (status, created) = post(&client, "/v2/conversion/stablecoins", &body).await;
    assert_eq!(status, 200, "{created}");
    // 40 USD left: the retry would not be covered, yet it is a 409, not a 403.
    let (status, again) = post(&client, "/v2/conversion/stablecoins", &body).await;
    assert_eq!(status, 409, "{again}");
    assert_exists(&again, &created);
    assert_eq!(available(&client, &profile, "USD").await, "40");
    db.assert_ledger_sound().await;
}

async fn orchestration_retry_after_the_destination_is_gone(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let profile = funded_profile(&client, "USD", "100").await;
    let bank = bank_account(&client).await;
    let body = json!({ "ref_id": "o-80", "profile_id": profile, "source_asset": "USD",
                       "destination_asset": "USD", "source_amount": "80",
                       "source": { "profile": { "profile_id": profile } },
                       "destination": { "fiat": { "bank_account_id": bank } } });
    let (status, created) = post(&client, "/v2/orchestration/orchestrations", &body).await;
    assert_eq!(status, 200, "{created}");
    let (status, _, _) = client
        .raw(
            Method::DELETE,
            &format!("/v2/transfer/fiat-accounts/{bank}"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    // The bank account is deleted and 20 USD are left: still a 409.
    let (status, again) = post(&client, "/v2/orchestration/orchestrations", &body).await;
    assert_eq!(status, 409, "{again}");
    assert_exists(&again, &created);
    db.assert_ledger_sound().await;
}

/// Eight identical requests at once, with money for one: one 200, seven
/// 409s naming it, on conversions, orchestrations, withdrawals and transfers.
async fn racing_retries_create_once(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let profile = funded_profile(&client, "USD", "200").await;
    let other = funded_profile(&client, "USDC", "0.000001").await;
    let bank = bank_account(&client).await;
    let cases = [
        (
            "/v2/conversion/stablecoins",
            json!({ "ref_id": "race-c", "profile_id": profile, "amount": "70",
                    "source_asset": "USD", "target_asset": "USDC" }),
        ),
        (
            "/v2/orchestration/orchestrations",
            json!({ "ref_id": "race-o", "profile_id": profile, "source_asset": "USD",
                    "destination_asset": "USDG", "source_amount": "30",
                    "source": { "profile": { "profile_id": profile } },
                    "destination": { "profile": { "profile_id": profile } } }),
        ),
        (
            "/v2/transfer/internal",
            json!({ "ref_id": "race-i", "from_profile_id": other, "to_profile_id": profile,
                    "asset": "USDC", "amount": "0.000001" }),
        ),
        (
            "/v2/transfer/fiat-withdrawals",
            json!({ "ref_id": "race-fw", "profile_id": profile, "asset": "USD",
                    "total": "100", "fiat_account_id": bank }),
        ),
    ];
    for (path, body) in cases {
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (client, body) = (client.clone(), body.clone());
                tokio::spawn(async move { post(&client, path, &body).await })
            })
            .collect();
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.unwrap());
        }
        let created: Vec<&Value> = answers
            .iter()
            .filter(|(s, _)| *s == 200)
            .map(|(_, a)| a)
            .collect();
        assert_eq!(created.len(), 1, "{path}: {answers:?}");
        for (status, answer) in &answers {
            if *status != 200 {
                assert_eq!(*status, 409, "{path}: {answer}");
                assert_exists(answer, created[0]);
            }
        }
    }
    assert_eq!(available(&client, &profile, "USD").await, "0");
    assert_eq!(available(&client, &other, "USDC").await, "0");
    db.assert_ledger_sound().await;
}

/// Every create that takes a `ref_id` answers a repeat with 409 and the stored one.
async fn every_ref_id_create_answers_409(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let profile = default_profile(&client).await;
    let owner = json!({ "person_details": { "first_name": "Jane", "last_name": "Doe" } });
    let wire = json!({ "wire": {
        "account_number": "12345678",
        "fiat_account_owner_address": { "country": "USA", "city": "NY", "address1": "1 Main St" },
        "routing_details": { "routing_number_type": "ABA", "routing_number": "021000021",
            "bank_name": "JPMorgan Chase", "bank_address": { "country": "USA" } } } });
    let identity = json!({ "ref_id": "id-1", "person_details": { "first_name": "Ada" } });
    let (_, made) = post(&client, "/v2/identity/identities", &identity).await;
    let cases = [
        ("/v2/identity/identities", identity.clone()),
        (
            "/v2/identity/accounts",
            json!({ "account": { "ref_id": "acct-1", "identity_id": made["id"] } }),
        ),
        (
            "/v2/transfer/fiat-accounts",
            json!({ "ref_id": "fa-1", "fiat_account_owner": owner, "fiat_network_instructions": wire }),
        ),
        (
            "/v2/transfer/deposit-addresses",
            json!({ "ref_id": "da-1", "profile_id": profile, "crypto_network": "SOLANA" }),
        ),
        (
            "/v2/transfer/fiat-deposit-instructions",
            json!({ "ref_id": "fdi-1", "profile_id": profile, "fiat_network": "WIRE",
                    "routing_number_type": "ABA" }),
        ),
        (
            "/v2/orchestration/rules",
            json!({ "ref_id": "rule-1", "profile_id": profile, "source_asset": "USDC",
                    "destination_asset": "USD", "source": { "crypto": { "network": "ETHEREUM" } },
                    "destination": { "profile": { "profile_id": profile } } }),
        ),
    ];
    for (path, body) in cases {
        let (status, created) = post(&client, path, &body).await;
        let created = match path {
            // Made above, to name it: this is already the repeat.
            "/v2/identity/identities" => {
                assert_exists(&created, &made);
                made.clone()
            }
            _ => {
                assert_eq!(status, 200, "{path}: {created}");
                created
            }
        };
        let created = created.get("rule").cloned().unwrap_or(created);
        let (status, again) = post(&client, path, &body).await;
        assert_eq!(status, 409, "{path}: {again}");
        assert_exists(&again, &created);
    }
}
