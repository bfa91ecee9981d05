//! The dashboard in a real browser: Debian's Chromium driven by
//! playwright-core (`dashboard-tests/flows.mjs`), against a server on each
//! backend with its users made through the API. The script signs in, is
//! locked out after five wrong passwords, reads balances, is refused its own
//! approval on screen, a second user approves, and a conversion made
//! through the API appears and settles on the activity page without a
//! reload; axe-core checks every page. Screenshots go to `target/dashboard-screenshots/{backend}`.

#![allow(dead_code)]

#[path = "../api/common.rs"]
mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;
use serde_json::json;

on_both_backends!(a_second_user_approves_in_the_browser);

const PASSWORD: &str = "correct horse battery staple";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

async fn user(admin: &stableport_client::Client, email: &str, roles: serde_json::Value) -> String {
    let body = json!({ "email": email, "roles": roles, "password": PASSWORD });
    let (status, made) = post(admin, "/v2/users", &body).await;
    assert_eq!(status, 200, "{made}");
    made["id"].as_str().unwrap().to_string()
}

async fn a_second_user_approves_in_the_browser(backend: Backend) {
    let tests = repo().join("dashboard-tests");
    assert!(
        tests.join("node_modules/playwright-core").is_dir(),
        "run `npm ci --prefix dashboard-tests` first (scripts/test does)"
    );
    let db = TestDb::new(backend).await;
    // Conversions settle after a few seconds, so the page shows them CREATED first.
    // Webhook deliveries are tried once, so a failure shows as FAILED at once.
    // Charts are sampled every second (each 5 s late), so they fill in.
    let server = TestServer::start_with(&db, |c| {
        c.settlement_delay = Duration::from_secs(6);
        c.sample_every = Duration::from_secs(1);
        c.webhook_retry_max_age = Duration::ZERO;
        c.webhook_poll_interval = Duration::from_millis(100);
    })
    .await;
    let admin = server.client().await;
    let tess = user(&admin, "tess@example.com", json!(["TREASURER", "APPROVER"])).await;
    user(&admin, "amir@example.com", json!(["APPROVER"])).await;
    user(&admin, "locked@example.com", json!(["VIEWER"])).await;
    let manager = user(&admin, "mona@example.com", json!(["ENTITY_MANAGER"])).await;
    let login = |id: String| {
        let (db, server) = (&db, &server);
        async move {
            let (client_id, secret) = cli_credential(db, &server.customer_id, Some(&id)).await;
            server
                .anonymous()
                .login(&client_id, &secret, None)
                .await
                .unwrap()
        }
    };
    let policy = json!({ "enabled": true, "approvals_required": 1 });
    let path = "/v2/approvals/policies/ADD_CRYPTO_ADDRESS";
    assert_eq!(put(&login(manager).await, path, policy).await.0, 200);
    let address = json!({ "crypto_network": "ETHEREUM",
                          "address": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed" });
    let (status, added) = put(
        &login(tess).await,
        "/v2/transfer/crypto-destination-address",
        address,
    )
    .await;
    assert_eq!(
        (status, &added["address"]["status"]),
        (200, &json!("PENDING"))
    );
    let profile = funded_profile(&admin, "USD", "1234.5").await;

    let shots = repo().join(format!("target/dashboard-screenshots/{backend:?}").to_lowercase());
    let out = tokio::process::Command::new("node")
        .arg(tests.join("flows.mjs"))
        .env("DASHBOARD_URL", &server.url)
        .env("SCREENSHOTS", &shots)
        .env("TESS_EMAIL", "tess@example.com")
        .env("AMIR_EMAIL", "amir@example.com")
        .env("LOCKED_EMAIL", "locked@example.com")
        .env("TESS_PASSWORD", PASSWORD)
        .env("AMIR_PASSWORD", PASSWORD)
        .env("MONA_EMAIL", "mona@example.com")
        .env("MONA_PASSWORD", PASSWORD)
        .env("FUNDED_PROFILE", &profile)
        .env("API_CLIENT_ID", &server.client_id)
        .env("API_CLIENT_SECRET", &server.client_secret)
        .output()
        .await
        .expect("node is required for the dashboard tests");
    assert!(
        out.status.success(),
        "the browser flows failed\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // What the browser did is what the API now says.
    let (_, listed) = get(&admin, "/v2/transfer/crypto-destination-addresses").await;
    let status = |address: &str| {
        let found = listed["addresses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["address"] == address);
        found.map(|a| a["status"].clone())
    };
    assert_eq!(
        status("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"),
        Some(json!("APPROVED"))
    );
    assert_eq!(
        status("0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"),
        Some(json!("PENDING"))
    );
}
