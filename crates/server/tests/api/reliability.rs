//! Money under contention: two replicas on one database, many clients moving
//! money between the same profiles in both directions (the pattern that
//! deadlocks when balances are locked in no fixed order). No answer is a
//! 5xx, the ledger stays sound, and PostgreSQL records no deadlock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use stableport_client::Client;

use crate::common::*;
use crate::on_both_backends;

on_both_backends!(
    crossing_transfers_never_deadlock,
    limits_each_credential_and_route
);

/// `--rate-limit 5`: the sixth request within a second on one route is a 429
/// problem with Retry-After; other routes and other credentials are not
/// held back, and the allowance comes back with time.
async fn limits_each_credential_and_route(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start_with(&db, |c| c.rate_limit = Some(5)).await;
    let token = server
        .anonymous()
        .token(&server.client_id, &server.client_secret, None)
        .await
        .unwrap()
        .access_token;
    let http = reqwest::Client::new();
    let get = |path: &str| {
        http.get(format!("{}{path}", server.url))
            .bearer_auth(&token)
            .send()
    };
    let mut limited = None;
    for _ in 0..12 {
        let response = get("/v2/profiles").await.unwrap();
        if response.status() == 429 {
            let retry_after = response.headers()["retry-after"]
                .to_str()
                .unwrap()
                .to_string();
            let (_, body) = judged_response("GET", response).await;
            limited = Some((retry_after, body));
            break;
        }
        judged_response("GET", response).await;
    }
    let (retry_after, body) = limited.expect("a 429 within 12 quick requests");
    assert!(
        retry_after.parse::<u32>().is_ok_and(|s| s >= 1),
        "{retry_after}"
    );
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("5 requests per second"),
        "{body}"
    );
    // Another route is not held back, nor is another credential.
    let (status, _) = judged_response("GET", get("/v2/events").await.unwrap()).await;
    assert_eq!(status, 200);
    let other = other_customer(&server, &db).await;
    assert!(other.profiles().await.is_ok());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, _) = judged_response("GET", get("/v2/profiles").await.unwrap()).await;
    assert_eq!(status, 200);
}

const PROFILES: usize = 4;
const CLIENTS: usize = 16;
const RUN_FOR: Duration = Duration::from_secs(3);

async fn deadlocks(db: &TestDb) -> Option<i64> {
    use sqlx::Connection;
    if !db.url.starts_with("postgres") {
        return None;
    }
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let count: i64 = sqlx::query_scalar(
        "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    Some(count)
}

async fn crossing_transfers_never_deadlock(backend: Backend) {
    let db = TestDb::new(backend).await;
    let a = TestServer::start(&db).await;
    let b = TestServer::start(&db).await;
    let on_a = a.client().await;
    let on_b = judged(&b.url)
        .login(&a.client_id, &a.client_secret, None)
        .await
        .unwrap();
    let mut profiles = Vec::new();
    for _ in 0..PROFILES {
        let p = funded_profile(&on_a, "USD", "1000000").await;
        on_a.deposit(&p, "USDC", "1000000").await.unwrap();
        profiles.push(p);
    }
    let profiles = Arc::new(profiles);
    let before = deadlocks(&db).await;
    let deadline = Instant::now() + RUN_FOR;
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|n| {
            let client: Client = if n % 2 == 0 {
                on_a.clone()
            } else {
                on_b.clone()
            };
            let profiles = profiles.clone();
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                let mut i = n;
                while Instant::now() < deadline {
                    i += 1;
                    let from = &profiles[i % PROFILES];
                    let to = &profiles[(i + 1 + n) % PROFILES];
                    let (path, body) = match i % 3 {
                        // Profile to profile, both directions across clients.
                        0 => (
                            "/v2/orchestration/orchestrations",
                            json!({ "ref_id": format!("x-{n}-{i}"), "profile_id": from,
                                    "source_asset": "USD", "destination_asset": "USDC",
                                    "source_amount": "1",
                                    "source": { "profile": { "profile_id": from } },
                                    "destination": { "profile": { "profile_id": to } } }),
                        ),
                        1 => (
                            "/v2/conversion/stablecoins",
                            json!({ "profile_id": from, "amount": "1", "source_asset": "USDC",
                                    "target_asset": "USD", "recipient_profile_id": to }),
                        ),
                        _ => (
                            "/v2/orchestration/orchestrations",
                            json!({ "ref_id": format!("y-{n}-{i}"), "profile_id": to,
                                    "source_asset": "USDC", "destination_asset": "USD",
                                    "source_amount": "1",
                                    "source": { "profile": { "profile_id": to } },
                                    "destination": { "profile": { "profile_id": from } } }),
                        ),
                    };
                    statuses.push(post(&client, path, &body).await);
                }
                statuses
            })
        })
        .collect();
    let mut answered = 0;
    for task in tasks {
        for (status, answer) in task.await.unwrap() {
            assert_eq!(status, 200, "{answer}");
            answered += 1;
        }
    }
    assert!(answered > CLIENTS * 5, "only {answered} requests answered");
    // Let delivery and settlement finish, then check the books.
    eventually("everything settled", || async {
        let (_, _, list) = on_a
            .raw(
                Method::GET,
                "/v2/orchestration/orchestrations?status=PROCESSING",
                None,
            )
            .await
            .unwrap();
        list["orchestrations"]
            .as_array()
            .is_some_and(|o| o.is_empty())
    })
    .await;
    db.assert_ledger_sound().await;
    if let (Some(before), Some(_)) = (before, deadlocks(&db).await) {
        // PostgreSQL publishes its counters within a second or so.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let after = deadlocks(&db).await.unwrap();
        assert_eq!(after - before, 0, "PostgreSQL detected deadlocks");
    }
}
