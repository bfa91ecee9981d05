//! Every bad input is a 4xx problem+json naming what is wrong, and changes nothing.

use reqwest::Method;
use serde_json::{json, Value};
use stableport_client::{Client, ListConversions};

use crate::common::*;
use crate::on_both_backends;

on_both_backends!(
    refuses_bad_conversion_requests,
    refuses_bad_list_queries,
    refuses_bad_paths_and_bodies,
    accepts_json_without_content_type,
    refuses_nul_characters_everywhere,
    answers_arrive_when_the_body_is_not_needed,
);

/// A NUL character (`\u0000` in JSON, `%00` in a query) is a 400 naming the
/// field on both backends (PostgreSQL cannot store it), and stores nothing.
async fn refuses_nul_characters_everywhere(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let profile = funded_profile(&client, "USD", "100").await;
    let nul = "a\u{0}b";
    let bodies: Vec<(&str, Value, &str)> = vec![
        ("/v2/profiles", json!({ "nickname": nul }), "nickname"),
        (
            "/v2/conversion/stablecoins",
            json!({ "profile_id": profile, "amount": "1", "source_asset": "USD",
                    "target_asset": "USDP", "ref_id": nul }),
            "ref_id",
        ),
        (
            "/v2/conversion/stablecoins",
            json!({ "profile_id": profile, "amount": "1", "source_asset": "USD",
                    "target_asset": "USDP", "metadata": { nul: "v" } }),
            "a key in metadata",
        ),
        (
            "/v2/orchestration/orchestrations",
            json!({ "ref_id": "o-1", "profile_id": profile, "source_asset": "USD",
                    "destination_asset": "USDC", "source_amount": "1",
                    "source": { "profile": { "profile_id": profile } },
                    "destination": { "profile": { "profile_id": profile } },
                    "metadata": { "k": nul } }),
            "metadata.k",
        ),
        (
            "/v2/transfer/deposit-addresses",
            json!({ "profile_id": profile, "crypto_network": "ETHEREUM", "ref_id": nul }),
            "ref_id",
        ),
    ];
    for (path, body, field) in bodies {
        let (status, content_type, answer) = post_json(&client, path, &body).await;
        raw_problem((status, content_type, answer.clone()), 400, field);
        assert!(
            answer["detail"].as_str().unwrap().contains("NUL"),
            "{path}: {answer}"
        );
    }
    let (status, ct, answer) = client
        .raw(
            Method::PUT,
            "/v2/transfer/crypto-destination-address",
            Some((
                "application/json",
                json!({ "crypto_network": "ETHEREUM", "nickname": nul,
                        "address": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed" })
                .to_string()
                .into_bytes(),
            )),
        )
        .await
        .unwrap();
    raw_problem((status, ct, answer), 400, "nickname must not contain a NUL");

    for query in [
        "/v2/conversion/stablecoins?ref_id=a%00b",
        "/v2/transfer/crypto-destination-addresses?nicknames=x%00",
        "/v2/transfer/crypto-destination-addresses?addresses=%00",
        "/v2/transfer/transfers?ref_ids=r%00",
        "/v2/orchestration/orchestrations?ref_id%00=1",
        "/v2/events?type=%00",
    ] {
        let response = client.raw(Method::GET, query, None).await.unwrap();
        raw_problem(response, 400, "must not contain a NUL character");
    }
    let token = reqwest::Client::new()
        .post(format!("{}/oauth2/token", server.url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "x\u{0}"),
            ("client_secret", "y"),
        ])
        .send()
        .await
        .unwrap();
    let (status, body) = judged_response("POST", token).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_request", "{body}");

    // Nothing was stored.
    let profiles = client.profiles().await.unwrap().items;
    assert!(profiles.iter().all(|p| !p.nickname.contains('\0')));
    let conversions = client
        .list_conversions(&ListConversions::default())
        .await
        .unwrap()
        .items;
    assert!(conversions.is_empty(), "{conversions:?}");
    assert_eq!(balances(&client, &profile).await[0].available, "100");
}

async fn post_json(
    client: &Client,
    path: &str,
    body: &Value,
) -> (reqwest::StatusCode, Option<String>, Value) {
    client
        .raw(
            Method::POST,
            path,
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await
        .unwrap()
}

async fn refuses_bad_conversion_requests(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let profile = funded_profile(&client, "USD", "100").await;
    let before = balances(&client, &profile).await;
    let valid = json!({ "profile_id": profile, "amount": "1", "source_asset": "USD", "target_asset": "USDP" });
    let with = |field: &str, value: Value| {
        let mut body = valid.clone();
        body[field] = value;
        body
    };
    let without = |field: &str| {
        let mut body = valid.clone();
        body.as_object_mut().unwrap().remove(field);
        body
    };
    let path = "/v2/conversion/stablecoins";
    let cases: Vec<(Value, u16, &str)> = vec![
        (with("amount", json!(100)), 400, "amount"),
        (with("amount", json!("0")), 400, "greater than zero"),
        (with("amount", json!("0.00")), 400, "greater than zero"),
        (with("amount", json!("-5")), 400, "amount \"-5\""),
        (with("amount", json!("1e3")), 400, "amount \"1e3\""),
        (
            with("amount", json!("1.005")),
            400,
            "more than 2 decimal places",
        ),
        (
            with("amount", json!("100000000000000000000")),
            400,
            "exceeds the maximum",
        ),
        (with("amount", json!("")), 400, "amount"),
        (with("amount", json!(" 1")), 400, "amount"),
        (
            with("source_asset", json!("BTC")),
            400,
            "source_asset: unsupported asset \"BTC\"",
        ),
        (
            with("target_asset", json!("usdp")),
            400,
            "target_asset: unsupported asset",
        ),
        (with("source_asset", json!(1)), 400, "source_asset"),
        (
            with("profile_id", json!("not-a-uuid")),
            400,
            "profile_id must be a UUID",
        ),
        (
            with("profile_id", json!(uuid::Uuid::new_v4())),
            404,
            "not found for customer",
        ),
        (
            with("recipient_profile_id", json!("nope")),
            400,
            "recipient_profile_id must be a UUID",
        ),
        (
            with("recipient_profile_id", json!(uuid::Uuid::new_v4())),
            404,
            "not found for customer",
        ),
        (
            with("identity_id", json!("abc")),
            400,
            "identity_id must be a UUID",
        ),
        (with("account_id", json!(42)), 400, "account_id"),
        (with("metadata", json!({ "k": 1 })), 400, "metadata"),
        (with("metadata", json!("flat")), 400, "metadata"),
        (with("ref_id", json!("")), 400, "ref_id"),
        (with("ref_id", json!("x".repeat(300))), 400, "ref_id"),
        (without("profile_id"), 400, "profile_id is required"),
        (without("amount"), 400, "amount is required"),
        (without("source_asset"), 400, "source_asset is required"),
        (json!([1, 2]), 400, "invalid JSON body"),
        (json!(null), 400, "invalid JSON body"),
    ];
    for (body, status, needle) in cases {
        raw_problem(post_json(&client, path, &body).await, status, needle);
    }
    let garbage = client
        .raw(
            Method::POST,
            path,
            Some(("application/json", b"{\"amount\": ".to_vec())),
        )
        .await
        .unwrap();
    raw_problem(garbage, 400, "invalid JSON body");
    let trailing = client
        .raw(
            Method::POST,
            path,
            Some(("application/json", b"{} {}".to_vec())),
        )
        .await
        .unwrap();
    raw_problem(trailing, 400, "invalid JSON body");
    let empty = client
        .raw(Method::POST, path, Some(("application/json", Vec::new())))
        .await
        .unwrap();
    raw_problem(empty, 400, "empty");
    let huge = json!({ "profile_id": profile, "amount": "1", "source_asset": "USD", "target_asset": "USDP", "ref_id": "x".repeat(100_000) });
    raw_problem(post_json(&client, path, &huge).await, 413, "too large");
    let not_utf8 = client
        .raw(
            Method::POST,
            path,
            Some(("application/json", vec![0xff, 0xfe, 0x00])),
        )
        .await
        .unwrap();
    raw_problem(not_utf8, 400, "invalid JSON body");

    // Deposits are checked the same way.
    let deposit = format!("/v2/sandbox/profiles/{profile}/deposit");
    raw_problem(
        post_json(
            &client,
            &deposit,
            &json!({ "asset": "USD", "amount": "1.001" }),
        )
        .await,
        400,
        "more than 2 decimal places",
    );
    raw_problem(
        post_json(&client, &deposit, &json!({ "asset": "XYZ", "amount": "1" })).await,
        400,
        "asset",
    );
    raw_problem(
        post_json(&client, &deposit, &json!({ "asset": "USD", "amount": 1 })).await,
        400,
        "amount",
    );
    raw_problem(
        post_json(&client, &deposit, &json!({ "asset": "USD" })).await,
        400,
        "amount is required",
    );
    raw_problem(
        post_json(
            &client,
            &deposit,
            &json!({ "asset": "USD", "amount": "1", "crypto_network": "ETHEREUM" }),
        )
        .await,
        400,
        "crypto_network",
    );
    raw_problem(
        post_json(
            &client,
            &deposit,
            &json!({ "asset": "USDC", "amount": "1", "crypto_network": "ETHEREUM", "crypto_address": "0xnothex" }),
        )
        .await,
        400,
        "crypto_address",
    );
    raw_problem(
        post_json(
            &client,
            &deposit,
            &json!({ "asset": "USDC", "amount": "1", "crypto_address": "x" }),
        )
        .await,
        400,
        "crypto_address needs crypto_network",
    );
    raw_problem(
        post_json(
            &client,
            "/v2/sandbox/profiles/xyz/deposit",
            &json!({ "asset": "USD", "amount": "1" }),
        )
        .await,
        400,
        "profile_id must be a UUID",
    );

    // Nothing moved and nothing was recorded.
    assert_eq!(balances(&client, &profile).await, before);
    assert!(client
        .list_conversions(&Default::default())
        .await
        .unwrap()
        .items
        .is_empty());
    db.assert_ledger_sound().await;
}

async fn refuses_bad_list_queries(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let profile = funded_profile(&client, "USD", "100").await;
    for _ in 0..3 {
        client
            .create_conversion(&stableport_client::CreateConversion {
                profile_id: profile.clone(),
                amount: "1".into(),
                source_asset: "USD".into(),
                target_asset: "USDC".into(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let get = |query: String| {
        let client = client.clone();
        async move {
            client
                .raw(
                    Method::GET,
                    &format!("/v2/conversion/stablecoins?{query}"),
                    None,
                )
                .await
                .unwrap()
        }
    };
    for (query, needle) in [
        ("limit=0", "limit must be a whole number from 1 to 1000"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("limit=-1", "limit"),
        ("order=UP", "order must be ASC or DESC"),
        ("order=asc", "order"),
        ("page_cursor=garbage", "page_cursor is invalid"),
        ("page_cursor=", "limit"),
        ("profile_id=123", "profile_id must be a UUID"),
        ("created_at.begin=yesterday", "created_at.begin"),
        ("updated_at.end=2024-13-01T00:00:00Z", "updated_at.end"),
        ("limit=1&limit=2", "only once"),
    ] {
        if query == "page_cursor=" {
            // An empty cursor is the first page.
            assert_eq!(get(query.to_string()).await.0, 200);
            continue;
        }
        raw_problem(get(query.to_string()).await, 400, needle);
    }
    let page = client
        .list_conversions(&ListConversions {
            limit: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    let cursor = page.next_page_cursor.unwrap();
    // A cursor changed by one character, or used with the other order, is refused.
    let mut forged = cursor.clone().into_bytes();
    let last = forged.len() - 1;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    raw_problem(
        get(format!("page_cursor={forged}")).await,
        400,
        "page_cursor is invalid",
    );
    raw_problem(
        get(format!("page_cursor={cursor}&order=ASC")).await,
        400,
        "order",
    );
    // A conversions cursor is no profiles cursor.
    raw_problem(
        client
            .raw(
                Method::GET,
                &format!("/v2/profiles?page_cursor={cursor}"),
                None,
            )
            .await
            .unwrap(),
        400,
        "page_cursor is invalid",
    );
    assert_eq!(get(format!("page_cursor={cursor}&limit=1")).await.0, 200);
}

async fn refuses_bad_paths_and_bodies(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    raw_problem(
        client
            .raw(Method::GET, "/v2/conversion/stablecoins/not-a-uuid", None)
            .await
            .unwrap(),
        400,
        "id must be a UUID",
    );
    raw_problem(
        client
            .raw(Method::DELETE, "/v2/conversion/stablecoins/123", None)
            .await
            .unwrap(),
        400,
        "id must be a UUID",
    );
    let unknown = uuid::Uuid::new_v4();
    raw_problem(
        client
            .raw(
                Method::GET,
                &format!("/v2/conversion/stablecoins/{unknown}"),
                None,
            )
            .await
            .unwrap(),
        404,
        &format!(
            "conversion with id {unknown} not found for customer with id {}",
            server.customer_id
        ),
    );
    raw_problem(
        client
            .raw(Method::GET, "/v2/profiles/xyz", None)
            .await
            .unwrap(),
        400,
        "profile_id must be a UUID",
    );
    raw_problem(
        client
            .raw(Method::GET, "/v2/nothing-here", None)
            .await
            .unwrap(),
        404,
        "no such route",
    );
    raw_problem(
        client
            .raw(Method::PATCH, "/v2/profiles", None)
            .await
            .unwrap(),
        405,
        "method not allowed",
    );
    raw_problem(
        post_json(&client, "/v2/profiles", &json!({ "nickname": 7 })).await,
        400,
        "nickname",
    );
    raw_problem(
        post_json(&client, "/v2/profiles", &json!({})).await,
        400,
        "nickname is required",
    );
    raw_problem(
        client
            .raw(Method::GET, "/v2/profiles?limit=5000", None)
            .await
            .unwrap(),
        400,
        "limit",
    );
    raw_problem(
        client
            .raw(Method::GET, "/v2/profiles?ids=bad", None)
            .await
            .unwrap(),
        400,
        "ids must be a UUID",
    );
    assert_eq!(client.profiles().await.unwrap().items.len(), 1);
}

async fn accepts_json_without_content_type(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let profile = default_profile(&client).await;
    // curl --data sends application/x-www-form-urlencoded, as in the Paxos guides.
    let body = br#"{"asset": "USD", "amount": "1000"}"#.to_vec();
    let (status, _, _) = client
        .raw(
            Method::POST,
            &format!("/v2/sandbox/profiles/{profile}/deposit"),
            Some(("application/x-www-form-urlencoded", body)),
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    let body = format!(
        r#"{{"profile_id": "{profile}", "amount": "100", "source_asset": "USD", "target_asset": "PYUSD"}}"#
    );
    let (status, _, created) = client
        .raw(
            Method::POST,
            "/v2/conversion/stablecoins",
            Some(("", body.into_bytes())),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["status"], "CREATED");
    assert_eq!(available(&client, &profile, "USD").await, "900");
}

/// An answer decided before the body is read (a 401 here, or a 413) still
/// reaches the client: a server that closes a socket with the body unread
/// makes the kernel reset the connection, and the client loses the answer.
async fn answers_arrive_when_the_body_is_not_needed(backend: Backend) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let addr = server.url.trim_start_matches("http://").to_string();
    for size in (60_000..80_000).step_by(250) {
        let body = format!("{{\"nickname\": \"{}\"}}", "x".repeat(size));
        let mut socket = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let request = format!(
            "POST /v2/profiles HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(request.as_bytes()).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        let mut answer = vec![0; 4096];
        let n = socket
            .read(&mut answer)
            .await
            .expect("the answer, not a reset");
        let head = String::from_utf8_lossy(&answer[..n]);
        let expected = if body.len() > 64 * 1024 {
            "HTTP/1.1 413"
        } else {
            "HTTP/1.1 401"
        };
        assert!(head.starts_with(expected), "{size}: {head}");
    }
}
