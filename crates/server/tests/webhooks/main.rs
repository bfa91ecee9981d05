//! Webhook delivery end to end, against a real HTTP consumer (an axum
//! server on loopback that records every request and answers as scripted):
//! signed deliveries, retries after failures and timeouts, giving up, the
//! rate limit, restarts and crashes in the middle of retries, replicas
//! sharing the work, consumer authentication, test events, redelivery, bad
//! input, and `stableport listen`. Every test runs on SQLite and PostgreSQL.

#[path = "../api/common.rs"]
#[allow(dead_code)]
mod common;

use std::collections::{HashMap, HashSet, VecDeque};
use std::process::Stdio;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::post;
use axum::{Json, Router};
use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use stableport_client::{
    signature, ApiKeyAuth, Client, ConsumerAuth, CreateConversion, CreateWebhook, Delivery,
    DeliveryAttempt, ListEvents, OAuthAuth, Webhook,
};
use stableport_server::{Config, Environment};
use tokio::io::{AsyncBufReadExt, BufReader};

on_both_backends!(
    delivers_signed_events_once,
    retries_failures_with_backoff,
    gives_up_after_max_age,
    holds_the_rate_limit,
    survives_a_restart_mid_retries,
    resends_after_a_crash_mid_send,
    shares_deliveries_across_replicas,
    authenticates_to_the_consumer,
    sends_test_events_and_redelivers,
    stops_after_delete,
    refuses_bad_webhooks,
    refuses_private_targets_in_production,
    listen_forwards_deliveries,
    prunes_what_is_old_and_keeps_what_is_pending,
);

// ---------------------------------------------------------------------------
// The consumer.

#[derive(Clone, Debug)]
struct Received {
    at: Instant,
    path: String,
    headers: HeaderMap,
    body: Bytes,
    json: Value,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn event_id(&self) -> String {
        self.json["id"].as_str().unwrap_or_default().to_string()
    }
}

#[derive(Clone, Copy, Debug)]
enum Reply {
    Status(u16),
    /// Answer 200, but only after this long (past the server's timeout).
    Hang(Duration),
}

struct ConsumerState {
    received: Mutex<Vec<Received>>,
    /// Replies to the next requests in order; then `default`.
    script: Mutex<VecDeque<Reply>>,
    default: AtomicU16,
    /// When set, a request to /oauth without `Authorization: Bearer <this>` gets 401.
    bearer: Mutex<Option<String>>,
    token_requests: Mutex<Vec<String>>,
}

struct Consumer {
    base: String,
    state: Arc<ConsumerState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Consumer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn hook(
    State(s): State<Arc<ConsumerState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let reply = s.script.lock().unwrap().pop_front();
    s.received.lock().unwrap().push(Received {
        at: Instant::now(),
        path: uri.path().to_string(),
        json: serde_json::from_slice(&body).unwrap_or(Value::Null),
        headers: headers.clone(),
        body,
    });
    let wanted = s.bearer.lock().unwrap().clone();
    if let Some(token) = wanted.filter(|_| uri.path() == "/oauth") {
        let sent = headers.get("authorization").and_then(|v| v.to_str().ok());
        if sent != Some(format!("Bearer {token}").as_str()) {
            return StatusCode::UNAUTHORIZED;
        }
    }
    match reply {
        Some(Reply::Status(code)) => StatusCode::from_u16(code).unwrap(),
        Some(Reply::Hang(d)) => {
            tokio::time::sleep(d).await;
            StatusCode::OK
        }
        None => StatusCode::from_u16(s.default.load(Ordering::SeqCst)).unwrap(),
    }
}

async fn token(State(s): State<Arc<ConsumerState>>, body: String) -> Json<Value> {
    s.token_requests.lock().unwrap().push(body);
    Json(json!({ "access_token": "tok-1", "token_type": "bearer", "expires_in": 3600 }))
}

impl Consumer {
    async fn start() -> Consumer {
        let state = Arc::new(ConsumerState {
            received: Mutex::new(Vec::new()),
            script: Mutex::new(VecDeque::new()),
            default: AtomicU16::new(200),
            bearer: Mutex::new(None),
            token_requests: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/token", post(token))
            .fallback(hook)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        Consumer { base, state, task }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn script(&self, replies: &[Reply]) {
        self.state.script.lock().unwrap().extend(replies);
    }

    fn answer(&self, status: u16) {
        self.state.default.store(status, Ordering::SeqCst);
    }

    fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    fn received_at(&self, path: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    async fn wait_for(&self, path: &str, n: usize) -> Vec<Received> {
        eventually(&format!("{n} requests at {path}"), || async {
            self.received_at(path).len() >= n
        })
        .await;
        self.received_at(path)
    }
}

// ---------------------------------------------------------------------------
// Helpers.

/// Retries and timeouts shrunk so that tests take seconds, not hours.
fn fast(c: &mut Config) {
    c.webhook_retry_first_delay = Duration::from_millis(300);
    c.webhook_timeout = Duration::from_secs(1);
    c.webhook_poll_interval = Duration::from_millis(20);
}

async fn webhook(client: &Client, name: &str, url: &str, types: &[&str], rate: u32) -> Webhook {
    client
        .create_webhook(&CreateWebhook {
            name: name.into(),
            url: url.into(),
            event_types: types.iter().map(|t| t.to_string()).collect(),
            rate_limit: Some(rate),
            consumer_auth: None,
        })
        .await
        .unwrap()
}

async fn deliveries(client: &Client, webhook: &str) -> Vec<Delivery> {
    client
        .webhook_deliveries(webhook, &[("limit", "1000".into())])
        .await
        .unwrap()
        .items
}

/// Oldest first.
async fn attempts(client: &Client, webhook: &str) -> Vec<DeliveryAttempt> {
    client
        .webhook_attempts(
            webhook,
            &[("order", "ASC".into()), ("limit", "1000".into())],
        )
        .await
        .unwrap()
        .items
}

async fn wait_delivery(client: &Client, webhook: &str, status: &str) -> Delivery {
    eventually(&format!("a {status} delivery"), || async {
        deliveries(client, webhook)
            .await
            .iter()
            .any(|d| d.status == status)
    })
    .await;
    deliveries(client, webhook)
        .await
        .into_iter()
        .find(|d| d.status == status)
        .unwrap()
}

async fn convert(client: &Client, profile: &str, ref_id: &str) -> String {
    client
        .create_conversion(&CreateConversion {
            profile_id: profile.into(),
            amount: "1".into(),
            source_asset: "USD".into(),
            target_asset: "USDC".into(),
            ref_id: Some(ref_id.into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .id
}

fn assert_signed(r: &Received, secret: &str) {
    let header = r
        .header("stableport-signature")
        .expect("a Stableport-Signature header");
    let now = chrono::Utc::now().timestamp();
    assert_eq!(
        signature::verify(secret, header, &r.body, now, 300),
        Ok(()),
        "{header}"
    );
    assert!(signature::verify("whsec_wrong", header, &r.body, now, 300).is_err());
}

async fn next_line(lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>) -> String {
    tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("listen printed a line")
        .unwrap()
        .expect("listen is still running")
}

async fn post_json(client: &Client, path: &str, body: &Value) -> (u16, Value) {
    let (status, _, response) = client
        .raw(
            Method::POST,
            path,
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await
        .unwrap();
    (status.as_u16(), response)
}

// ---------------------------------------------------------------------------
// Tests.

async fn delivers_signed_events_once(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start_with(&db, fast).await;
    let client = server.client().await;
    let consumer = Consumer::start().await;
    let hook = webhook(
        &client,
        "ledger",
        &consumer.url("/hook"),
        &[
            "conversion.created",
            "conversion.settled",
            "transfer.wire_deposit.completed",
        ],
        100,
    )
    .await;
    let secret = hook.secret.clone().expect("the secret, once");
    assert!(secret.starts_with("whsec_"));
    assert_eq!(client.webhook(&hook.id).await.unwrap().secret, None);
    let quiet = webhook(
        &client,
        "orchestrations-only",
        &consumer.url("/quiet"),
        &["orchestration.completed"],
        10,
    )
    .await;

    let profile = funded_profile(&client, "USD", "10").await;
    for i in 0..3 {
        convert(&client, &profile, &format!("c{i}")).await;
    }
    let got = consumer.wait_for("/hook", 7).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let got_after = consumer.received_at("/hook");
    assert_eq!(got_after.len(), 7, "no duplicates when nothing fails");
    let ids: HashSet<String> = got.iter().map(Received::event_id).collect();
    assert_eq!(ids.len(), 7);

    for r in &got {
        let keys: HashSet<&str> = r
            .json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            HashSet::from(["id", "type", "source", "time", "object", "is_test"]),
            "{}",
            r.json
        );
        assert_eq!(r.json["source"], "com.paxos");
        assert_eq!(r.json["object"], "event");
        assert_eq!(r.json["is_test"], false);
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("stableport-delivery-attempt"), Some("1"));
        assert_signed(r, &secret);
        // The consumer fetches the details with the id.
        let event = client.event(&r.event_id()).await.unwrap();
        assert_eq!(Some(event.kind.as_str()), r.json["type"].as_str());
        assert_eq!(Some(event.created_at.as_str()), r.json["time"].as_str());
    }
    let kinds: Vec<&str> = got.iter().filter_map(|r| r.json["type"].as_str()).collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == "transfer.wire_deposit.completed")
            .count(),
        1
    );

    eventually("every delivery recorded", || async {
        deliveries(&client, &hook.id)
            .await
            .iter()
            .filter(|d| d.status == "DELIVERED" && d.attempts == 1)
            .count()
            == 7
    })
    .await;
    let tried = attempts(&client, &hook.id).await;
    assert_eq!(tried.len(), 7);
    assert!(tried
        .iter()
        .all(|a| a.status_code == Some(200) && a.error.is_none() && a.attempt == 1));
    for e in client.events(&ListEvents::default()).await.unwrap().events {
        assert_eq!(e.undelivered_webhooks, 0, "{e:?}");
    }
    assert!(deliveries(&client, &quiet.id).await.is_empty());
    assert!(consumer.received_at("/quiet").is_empty());
}

async fn retries_failures_with_backoff(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start_with(&db, fast).await;
    let client = server.client().await;
    let consumer = Consumer::start().await;
    consumer.script(&[
        Reply::Status(500),
        Reply::Status(503),
        Reply::Hang(Duration::from_millis(2500)),
    ]);
    let hook = webhook(
        &client,
        "flaky",
        &consumer.url("/hook"),
        &["transfer.wire_deposit.completed"],
        10,
    )
    .await;
    let profile = default_profile(&client).await;
    let deposit = client.deposit(&profile, "USD", "1").await.unwrap();

    consumer.wait_for("/hook", 1).await;
    let pending = client
        .events(&ListEvents::default())
        .await
        .unwrap()
        .events
        .remove(0);
    assert_eq!(pending.object["id"], deposit);
    assert_eq!(pending.undelivered_webhooks, 1);

    let got = consumer.wait_for("/hook", 4).await;
    let done = wait_delivery(&client, &hook.id, "DELIVERED").await;
    assert_eq!(done.attempts, 4);
    assert_eq!(done.last_status_code, Some(200));
    assert_eq!(got.len(), 4);
    assert!(got.iter().all(|r| r.event_id() == pending.id));
    let numbers: Vec<Option<&str>> = got
        .iter()
        .map(|r| r.header("stableport-delivery-attempt"))
        .collect();
    assert_eq!(numbers, [Some("1"), Some("2"), Some("3"), Some("4")]);

    // Exponential backoff with ±20 % jitter: ~300 ms, ~600 ms, then ~1200 ms
    // after the 1 s timeout.
    let gap = |i: usize| got[i + 1].at.duration_since(got[i].at).as_millis();
    assert!(
        (230..=900).contains(&gap(0)),
        "first retry after {} ms",
        gap(0)
    );
    assert!(
        (470..=1300).contains(&gap(1)),
        "second retry after {} ms",
        gap(1)
    );
    assert!(
        (1000 + 940..=1000 + 2200).contains(&gap(2)),
        "third retry after {} ms",
        gap(2)
    );

    let tried = attempts(&client, &hook.id).await;
    let codes: Vec<Option<u16>> = tried.iter().map(|a| a.status_code).collect();
    assert_eq!(codes, [Some(500), Some(503), None, Some(200)]);
    assert!(tried[0].error.as_deref().unwrap().contains("500"));
    assert!(tried[1].error.as_deref().unwrap().contains("503"));
    assert!(
        tried[2].error.as_deref().unwrap().contains("timed out"),
        "{:?}",
        tried[2].error
    );
    assert!(tried[2].latency_ms >= 900, "{}", tried[2].latency_ms);
    assert!(tried[3].error.is_none());
    let event = client.event(&pending.id).await.unwrap();
    assert_eq!(event.undelivered_webhooks, 0);
}

async fn gives_up_after_max_age(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start_with(&db, |c| {
        fast(c);
        c.webhook_retry_first_delay = Duration::from_millis(200);
        c.webhook_retry_max_age = Duration::from_secs(1);
    })
    .await;
    let client = server.client().await;
    let consumer = Consumer::start().await;
    consumer.answer(500);
    let hook = webhook(
        &client,
        "down",
        &consumer.url("/hook"),
        &["transfer.wire_deposit.completed"],
        10,
    )
    .await;
    let profile = default_profile(&client).await;
    client.deposit(&profile, "USD", "1").await.unwrap();

    let failed = wait_delivery(&client, &hook.id, "FAILED").await;
    // 0, ~0.2 s, ~0.6 s; the next (~1.4 s) would be past the 1 s max age.
    assert!(
        (2..=4).contains(&failed.attempts),
        "{} attempts",
        failed.attempts
    );
    assert_eq!(failed.next_attempt_at, None);
    let sent = consumer.received_at("/hook").len();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        consumer.received_at("/hook").len(),
        sent,
        "no retry after giving up"
    );
    let event = client.event(&failed.event_id).await.unwrap();
    assert_eq!(event.undelivered_webhooks, 1);
    assert_eq!(
        attempts(&client, &hook.id).await.len() as i64,
        failed.attempts
    );

    // Fixed on the consumer's side: a redelivery gets a fresh window.
    consumer.answer(200);
    let again = client.redeliver(&hook.id, &failed.event_id).await.unwrap();
    assert_eq!(again.status, "PENDING");
    wait_delivery(&client, &hook.id, "DELIVERED").await;
    assert_eq!(
        client
            .event(&failed.event_id)
            .await
            .unwrap()
            .undelivered_webhooks,
        0
    );
}

async fn holds_the_rate_limit(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start_with(&db, fast).await;
    let client = server.client().await;
    let consumer = Consumer::start().await;
    let types = ["conversion.created", "conversion.settled"];
    webhook(&client, "slow", &consumer.url("/slow"), &types, 2).await;
    webhook(&client, "fast", &consumer.url("/fast"), &types, 100).await;
    let profile = funded_profile(&client, "USD", "10").await;
    for i in 0..4 {
        convert(&client, &profile, &format!("r{i}")).await;
    }
    // Eight events. The fast webhook has them all long before the slow one.
    let fast_done = consumer.wait_for("/fast", 8).await;
    let slow = consumer.wait_for("/slow", 8).await;
    let last_fast = fast_done.iter().map(|r| r.at).max().unwrap();
    assert!(slow[7].at > last_fast + Duration::from_secs(2));

    // 2 per second: any three consecutive sends span at least a second
    // (less a little for the network between our clocks).
    for w in slow.windows(3) {
        let span = w[2].at.duration_since(w[0].at);
        assert!(span >= Duration::from_millis(950), "{span:?}");
    }
    let total = slow[7].at.duration_since(slow[0].at);
    assert!(total >= Duration::from_millis(3450), "{total:?}");
    assert!(total <= Duration::from_millis(6000), "{total:?}");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(consumer.received_at("/slow").len(), 8);
    assert_eq!(consumer.received_at("/fast").len(), 8);
}

async fn survives_a_restart_mid_retries(backend: Backend) {
    let db = TestDb::new(backend).await;
    let tweak = |c: &mut Config| {
        fast(c);
        c.webhook_retry_first_delay = Duration::from_millis(500);
    };
    let mut first = TestServer::start_with(&db, tweak).await;
    let client = first.client().await;
    let consumer = Consumer::start().await;
    consumer.script(&[Reply::Status(500), Reply::Status(502)]);
    let hook = webhook(
        &client,
        "restart",
        &consumer.url("/hook"),
        &["transfer.wire_deposit.completed"],
        10,
    )
    .await;
    let profile = default_profile(&client).await;
    client.deposit(&profile, "USD", "1").await.unwrap();
    consumer.wait_for("/hook", 1).await;
    eventually("the failure recorded", || async {
        attempts(&client, &hook.id).await.len() == 1
    })
    .await;

    // Down in the middle of the retries: nothing is sent while it is down.
    first.stop();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(consumer.received_at("/hook").len(), 1);

    let second = TestServer::start_with(&db, tweak).await;
    let client = second.client().await;
    let got = consumer.wait_for("/hook", 3).await;
    let done = wait_delivery(&client, &hook.id, "DELIVERED").await;
    assert_eq!(done.attempts, 3);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(consumer.received_at("/hook").len(), 3);
    assert!(got.iter().all(|r| r.event_id() == done.event_id));
    let codes: Vec<Option<u16>> = attempts(&client, &hook.id)
        .await
        .iter()
        .map(|a| a.status_code)
        .collect();
    assert_eq!(codes, [Some(500), Some(502), Some(200)]);
}

async fn resends_after_a_crash_mid_send(backend: Backend) {
    let db = TestDb::new(backend).await;
    let mut first = TestServer::start_with(&db, fast).await;
    let client = first.client().await;
    let consumer = Consumer::start().await;
    // The first request hangs; the server dies while it waits.
    consumer.script(&[Reply::Hang(Duration::from_secs(30))]);
    let hook = webhook(
        &client,
        "crash",
        &consumer.url("/hook"),
        &["transfer.wire_deposit.completed"],
        10,
    )
    .await;
    let profile = default_profile(&client).await;
    client.deposit(&profile, "USD", "1").await.unwrap();
    consumer.wait_for("/hook", 1).await;
    first.stop();

    // Its claim lapses (timeout + margin) and the next server sends again.
    let started = Instant::now();
    let second = TestServer::start_with(&db, fast).await;
    let client = second.client().await;
    let got = consumer.wait_for("/hook", 2).await;
    assert_eq!(got[0].event_id(), got[1].event_id());
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let done = wait_delivery(&client, &hook.id, "DELIVERED").await;
    // The crashed attempt left no record; this one is attempt 1 again.
    assert_eq!(done.attempts, 1);
    assert_eq!(got[1].header("stableport-delivery-attempt"), Some("1"));
}

async fn shares_deliveries_across_replicas(backend: Backend) {
    let db = TestDb::new(backend).await;
    let a = TestServer::start_with(&db, fast).await;
    let b = TestServer::start_with(&db, fast).await;
    let client_a = a.client().await;
    let client_b = b.client().await;
    let consumer = Consumer::start().await;
    let hook = webhook(
        &client_a,
        "shared",
        &consumer.url("/hook"),
        &["conversion.created", "conversion.settled"],
        100,
    )
    .await;
    let profile = funded_profile(&client_a, "USD", "100").await;
    for i in 0..20 {
        let client = if i % 2 == 0 { &client_a } else { &client_b };
        convert(client, &profile, &format!("r{i}")).await;
    }
    consumer.wait_for("/hook", 40).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let got = consumer.received_at("/hook");
    let mut counts: HashMap<String, usize> = HashMap::new();
    for r in &got {
        *counts.entry(r.event_id()).or_default() += 1;
    }
    assert_eq!(counts.len(), 40);
    assert!(
        counts.values().all(|n| *n == 1),
        "each event exactly once: {counts:?}"
    );
    eventually("all recorded", || async {
        deliveries(&client_b, &hook.id)
            .await
            .iter()
            .filter(|d| d.status == "DELIVERED")
            .count()
            == 40
    })
    .await;
}

async fn authenticates_to_the_consumer(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start_with(&db, fast).await;
    let client = server.client().await;
    let consumer = Consumer::start().await;
    let types = vec!["transfer.wire_deposit.completed".to_string()];
    let keyed = client
        .create_webhook(&CreateWebhook {
            name: "api-key".into(),
            url: consumer.url("/keyed"),
            event_types: types.clone(),
            rate_limit: None,
            consumer_auth: Some(ConsumerAuth {
                api_key: Some(ApiKeyAuth {
                    header_name: "X-Api-Key".into(),
                    value: Some("k-123".into()),
                }),
                oauth: None,
            }),
        })
        .await
        .unwrap();
    assert_eq!(keyed.rate_limit, 10, "the default rate");
    let oauth = client
        .create_webhook(&CreateWebhook {
            name: "oauth".into(),
            url: consumer.url("/oauth"),
            event_types: types,
            rate_limit: None,
            consumer_auth: Some(ConsumerAuth {
                api_key: None,
                oauth: Some(OAuthAuth {
                    token_url: consumer.url("/token"),
                    client_id: "consumer-client".into(),
                    client_secret: Some("consumer-secret".into()),
                    scope: Some("webhooks:receive".into()),
                }),
            }),
        })
        .await
        .unwrap();
    *consumer.state.bearer.lock().unwrap() = Some("tok-1".into());

    // Credentials are write-only.
    let shown = client.webhook(&keyed.id).await.unwrap();
    let key = shown.consumer_auth.unwrap().api_key.unwrap();
    assert_eq!((key.header_name.as_str(), key.value), ("X-Api-Key", None));
    let shown = client.webhook(&oauth.id).await.unwrap();
    let o = shown.consumer_auth.unwrap().oauth.unwrap();
    assert_eq!(o.client_id, "consumer-client");
    assert_eq!(o.client_secret, None);

    let profile = default_profile(&client).await;
    for _ in 0..3 {
        client.deposit(&profile, "USD", "1").await.unwrap();
    }
    let got = consumer.wait_for("/keyed", 3).await;
    assert!(got.iter().all(|r| r.header("x-api-key") == Some("k-123")));
    let got = consumer.wait_for("/oauth", 3).await;
    assert!(got
        .iter()
        .all(|r| r.header("authorization") == Some("Bearer tok-1")));
    let tokens = consumer.state.token_requests.lock().unwrap().clone();
    assert_eq!(tokens.len(), 1, "the token is cached: {tokens:?}");
    let form: HashMap<String, String> = form_urlencoded::parse(tokens[0].as_bytes())
        .into_owned()
        .collect();
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["client_id"], "consumer-client");
    assert_eq!(form["client_secret"], "consumer-secret");
    assert_eq!(form["scope"], "webhooks:receive");
}

async fn sends_test_events_and_redelivers(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start_with(&db, fast).await;
    let client = server.client().await;
    let consumer = Consumer::start().await;
    let hook = webhook(
        &client,
        "tested",
        &consumer.url("/hook"),
        &["orchestration.completed", "transfer.wire_deposit.completed"],
        10,
    )
    .await;
    let secret = hook.secret.clone().unwrap();

    let test = client.test_webhook(&hook.id, None).await.unwrap();
    assert!(test.is_test);
    assert_eq!(test.kind, "orchestration.completed");
    assert_eq!(test.object_type, "orchestration_status_change");
    assert_eq!(test.object["status"], "COMPLETED");
    let got = consumer.wait_for("/hook", 1).await;
    assert_eq!(got[0].json["is_test"], true);
    assert_eq!(got[0].event_id(), test.id);
    assert_signed(&got[0], &secret);
    // Read back only as a test event.
    assert_eq!(client.test_event(&test.id).await.unwrap().id, test.id);
    problem(client.event(&test.id).await, 404, "is_test=true");
    assert!(client
        .events(&ListEvents::default())
        .await
        .unwrap()
        .events
        .is_empty());
    let tests = client
        .events(&ListEvents {
            is_test: Some(true),
            ..Default::default()
        })
        .await
        .unwrap()
        .events;
    assert_eq!(tests.len(), 1);

    let typed = client
        .test_webhook(&hook.id, Some("transfer.crypto_withdrawal.failed"))
        .await
        .unwrap();
    assert_eq!(typed.object["type"], "CRYPTO_WITHDRAWAL");
    assert_eq!(typed.object["status"], "FAILED");
    consumer.wait_for("/hook", 2).await;
    problem(
        client
            .test_webhook(&hook.id, Some("identity.approved"))
            .await,
        400,
        "unknown event type",
    );

    // Replay a delivered event: sent again, as attempt 2.
    let profile = default_profile(&client).await;
    client.deposit(&profile, "USD", "1").await.unwrap();
    consumer.wait_for("/hook", 3).await;
    let real = client.events(&ListEvents::default()).await.unwrap().events;
    let event = real[0].id.clone();
    eventually("delivered", || async {
        client
            .webhook_deliveries(&hook.id, &[("event_id", event.clone())])
            .await
            .unwrap()
            .items
            .first()
            .is_some_and(|d| d.status == "DELIVERED")
    })
    .await;
    consumer.script(&[Reply::Hang(Duration::from_millis(1500))]);
    let again = client.redeliver(&hook.id, &event).await.unwrap();
    assert_eq!(again.status, "PENDING");
    let got = consumer.wait_for("/hook", 4).await;
    assert_eq!(got[3].event_id(), event);
    assert_eq!(got[3].header("stableport-delivery-attempt"), Some("2"));
    // While it is in flight, another redelivery is refused.
    problem(client.redeliver(&hook.id, &event).await, 409, "PENDING");
    problem(
        client
            .redeliver(&hook.id, &uuid::Uuid::new_v4().to_string())
            .await,
        404,
        "event",
    );
    // An event the webhook never subscribed to can be sent too.
    let other = client
        .create_conversion(&CreateConversion {
            profile_id: profile.clone(),
            amount: "0.5".into(),
            source_asset: "USD".into(),
            target_asset: "USDC".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let created = client
        .events(&ListEvents {
            types: vec!["conversion.created".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .events;
    assert_eq!(created[0].object["id"], other.id);
    client.redeliver(&hook.id, &created[0].id).await.unwrap();
    let got = consumer.wait_for("/hook", 6).await;
    assert!(got.iter().any(|r| r.event_id() == created[0].id));
}

async fn stops_after_delete(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start_with(&db, |c| {
        fast(c);
        c.webhook_retry_first_delay = Duration::from_secs(2);
    })
    .await;
    let client = server.client().await;
    let consumer = Consumer::start().await;
    consumer.answer(500);
    let hook = webhook(
        &client,
        "doomed",
        &consumer.url("/hook"),
        &["transfer.wire_deposit.completed"],
        10,
    )
    .await;
    let profile = default_profile(&client).await;
    client.deposit(&profile, "USD", "1").await.unwrap();
    consumer.wait_for("/hook", 1).await;
    eventually("the failure recorded", || async {
        attempts(&client, &hook.id).await.len() == 1
    })
    .await;

    let deleted = client.delete_webhook(&hook.id).await.unwrap();
    assert_eq!(deleted.status, "DELETED");
    assert!(deleted.deleted_at.is_some());
    let pending = wait_delivery(&client, &hook.id, "CANCELLED").await;
    assert_eq!(pending.attempts, 1);
    client.deposit(&profile, "USD", "1").await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        consumer.received_at("/hook").len(),
        1,
        "nothing after delete"
    );
    assert_eq!(deliveries(&client, &hook.id).await.len(), 1);

    assert!(client.webhooks(&[]).await.unwrap().items.is_empty());
    let gone = client
        .webhooks(&[("status", "DELETED".into())])
        .await
        .unwrap()
        .items;
    assert_eq!(gone.len(), 1);
    assert_eq!(client.webhook(&hook.id).await.unwrap().status, "DELETED");
    problem(client.delete_webhook(&hook.id).await, 404, "not found");
    problem(client.test_webhook(&hook.id, None).await, 409, "DELETED");
    // Its name is free again.
    webhook(
        &client,
        "doomed",
        &consumer.url("/hook"),
        &["transfer.wire_deposit.completed"],
        10,
    )
    .await;
}

async fn refuses_bad_webhooks(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let client = server.client().await;
    let valid = json!({
        "name": "ok",
        "url": "http://127.0.0.1:9/hook",
        "event_types": ["orchestration.completed"],
    });
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
    let cases = [
        (
            with("url", json!("ftp://example.com/hook")),
            "http:// or https://",
        ),
        (
            with("url", json!("javascript:alert(1)")),
            "http:// or https://",
        ),
        (with("url", json!("not a url")), "is not a URL"),
        (
            with("url", json!("http://user:pw@example.com/")),
            "credentials",
        ),
        (without("url"), "url is required"),
        (without("name"), "name is required"),
        (with("name", json!("   ")), "name is required"),
        (with("name", json!("x".repeat(101))), "at most 100"),
        (without("event_types"), "event_types is required"),
        (with("event_types", json!([])), "at least one"),
        (
            with("event_types", json!(["identity.approved"])),
            "unknown event type",
        ),
        (
            with("event_types", json!(["orchestration.done"])),
            "unknown event type",
        ),
        (
            with("event_types", json!("orchestration.completed")),
            "event_types",
        ),
        (with("rate_limit", json!(0)), "from 1 to 100"),
        (with("rate_limit", json!(101)), "from 1 to 100"),
        (with("rate_limit", json!(1.5)), "rate_limit"),
        (
            with(
                "consumer_auth",
                json!({ "api_key": { "header_name": "X-K", "value": "v" },
                        "oauth": { "token_url": "http://127.0.0.1:9/t", "client_id": "c", "client_secret": "s" } }),
            ),
            "exactly one",
        ),
        (
            with(
                "consumer_auth",
                json!({ "api_key": { "header_name": "Content-Type", "value": "v" } }),
            ),
            "header name",
        ),
        (
            with(
                "consumer_auth",
                json!({ "api_key": { "header_name": "X-K" } }),
            ),
            "consumer_auth.api_key.value is required",
        ),
        (
            with(
                "consumer_auth",
                json!({ "oauth": { "token_url": "gopher://x", "client_id": "c", "client_secret": "s" } }),
            ),
            "consumer_auth.oauth.token_url",
        ),
        (
            with(
                "consumer_auth",
                json!({ "oauth": { "token_url": "http://127.0.0.1:9/t", "client_id": "c" } }),
            ),
            "consumer_auth.oauth.client_secret is required",
        ),
    ];
    for (body, needle) in cases {
        let (status, response) = post_json(&client, "/v2/webhooks", &body).await;
        assert_eq!(status, 400, "{body} -> {response}");
        let detail = response["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains(needle),
            "{body}: {detail:?} lacks {needle:?}"
        );
    }

    // Unique names, and at most 10 active.
    let (status, _) = post_json(&client, "/v2/webhooks", &valid).await;
    assert_eq!(status, 200);
    let (status, response) = post_json(&client, "/v2/webhooks", &valid).await;
    assert_eq!(status, 409, "{response}");
    assert!(response["detail"]
        .as_str()
        .unwrap()
        .contains("'ok' already exists"));
    let mut last = String::new();
    for i in 1..10 {
        let (status, response) = post_json(
            &client,
            "/v2/webhooks",
            &with("name", json!(format!("n{i}"))),
        )
        .await;
        assert_eq!(status, 200, "{response}");
        last = response["id"].as_str().unwrap().to_string();
    }
    let (status, response) =
        post_json(&client, "/v2/webhooks", &with("name", json!("eleventh"))).await;
    assert_eq!(status, 409, "{response}");
    assert!(response["detail"]
        .as_str()
        .unwrap()
        .contains("at most 10 active"));
    client.delete_webhook(&last).await.unwrap();
    let (status, _) = post_json(&client, "/v2/webhooks", &with("name", json!("eleventh"))).await;
    assert_eq!(status, 200);
    assert_eq!(client.webhooks(&[]).await.unwrap().items.len(), 10);

    // Paths, scopes, other customers.
    let get = |path: String| {
        let client = client.clone();
        async move { client.raw(Method::GET, &path, None).await.unwrap() }
    };
    raw_problem(
        get("/v2/webhooks/nope".into()).await,
        400,
        "id must be a UUID",
    );
    raw_problem(
        get(format!("/v2/webhooks/{}", uuid::Uuid::new_v4())).await,
        404,
        "not found",
    );
    raw_problem(
        get("/v2/webhooks?status=GONE".into()).await,
        400,
        "ACTIVE, DELETED, PENDING",
    );
    raw_problem(
        get(format!("/v2/webhooks/{last}/deliveries?status=LOST")).await,
        400,
        "status",
    );
    let other = other_customer(&server, &db).await;
    problem(other.webhook(&last).await, 404, "not found");
    assert!(other.webhooks(&[]).await.unwrap().items.is_empty());
    let reader = server
        .anonymous()
        .login(
            &server.client_id,
            &server.client_secret,
            Some("events:read_event"),
        )
        .await
        .unwrap();
    assert_eq!(reader.webhooks(&[]).await.unwrap().items.len(), 10);
    let denied = problem(
        reader
            .create_webhook(&CreateWebhook {
                name: "r".into(),
                url: "http://127.0.0.1:9/".into(),
                event_types: vec!["orchestration.completed".into()],
                ..Default::default()
            })
            .await,
        403,
        "events:write_webhook",
    );
    assert!(denied.detail.contains("insufficient scopes"));
    problem(
        reader.delete_webhook(&last).await,
        403,
        "events:write_webhook",
    );
}

async fn refuses_private_targets_in_production(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start_with(&db, |c| {
        c.environment = Environment::Production;
        c.client_id = Some("prod-client".into());
        c.client_secret = Some("a-long-production-secret".into());
    })
    .await;
    let client = judged(&server.url)
        .login("prod-client", "a-long-production-secret", None)
        .await
        .unwrap();
    let body =
        |url: &str| json!({ "name": url, "url": url, "event_types": ["orchestration.completed"] });
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.0.0.5/hook",
        "http://172.16.3.4/hook",
        "http://192.168.1.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[fd00::1]/hook",
        "http://0.0.0.0/hook",
        "http://100.64.1.1/hook",
    ] {
        let (status, response) = post_json(&client, "/v2/webhooks", &body(url)).await;
        assert_eq!(status, 400, "{url}: {response}");
        let detail = response["detail"].as_str().unwrap();
        assert!(
            detail.contains("production mode delivers only to public addresses"),
            "{url}: {detail}"
        );
    }
    let mut oauth = body("https://93.184.215.14/hook");
    oauth["consumer_auth"] = json!({ "oauth": { "token_url": "http://127.0.0.1/token", "client_id": "c", "client_secret": "s" } });
    let (status, response) = post_json(&client, "/v2/webhooks", &oauth).await;
    assert_eq!(status, 400, "{response}");
    assert!(response["detail"]
        .as_str()
        .unwrap()
        .contains("consumer_auth.oauth.token_url"));
    // A public address is fine.
    let (status, response) =
        post_json(&client, "/v2/webhooks", &body("https://93.184.215.14/hook")).await;
    assert_eq!(status, 200, "{response}");
}

async fn listen_forwards_deliveries(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start_with(&db, fast).await;
    let client = server.client().await;
    let consumer = Consumer::start().await;
    consumer.script(&[Reply::Status(500)]);
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_stableport"))
        .args([
            "listen",
            "--server",
            &server.url,
            "--client-id",
            &server.client_id,
            "--client-secret",
            &server.client_secret,
            "--forward-to",
            &consumer.url("/forwarded"),
            "--events",
            "conversion.created,conversion.settled",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn stableport listen");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = next_line(&mut lines).await;
    assert!(ready.starts_with("Ready!"), "{ready}");
    let secret_line = next_line(&mut lines).await;
    let secret = secret_line
        .strip_prefix("Signing secret: ")
        .and_then(|s| s.split_whitespace().next())
        .expect("the signing secret")
        .to_string();
    let registered = client.webhooks(&[]).await.unwrap().items;
    assert_eq!(registered.len(), 1);
    assert!(registered[0].name.starts_with("stableport-listen-"));
    assert_eq!(
        registered[0].event_types,
        ["conversion.created", "conversion.settled"]
    );

    let profile = funded_profile(&client, "USD", "5").await;
    let conversion = convert(&client, &profile, "listened").await;
    let mut printed = Vec::new();
    while printed.len() < 3 {
        printed.push(next_line(&mut lines).await);
    }
    let got = consumer.wait_for("/forwarded", 3).await;
    for r in &got {
        assert_signed(r, &secret);
        assert_eq!(r.json["source"], "com.paxos");
    }
    let text = printed.join("\n");
    assert!(text.contains("conversion.created"), "{text}");
    assert!(text.contains("conversion.settled"), "{text}");
    assert!(
        text.contains("-> 500"),
        "the forward target's failure: {text}"
    );
    assert!(text.contains("-> 200"), "{text}");
    assert!(!text.contains("[signature"), "{text}");
    // The 500 came back to the server as the consumer's answer, and was retried.
    let hook = &registered[0].id;
    eventually("both delivered", || async {
        deliveries(&client, hook)
            .await
            .iter()
            .filter(|d| d.status == "DELIVERED")
            .count()
            == 2
    })
    .await;
    let tried = attempts(&client, hook).await;
    assert_eq!(tried.len(), 3);
    assert!(tried.iter().any(|a| a.status_code == Some(500)));
    let events = client.events(&ListEvents::default()).await.unwrap().events;
    assert!(events.iter().any(|e| e.object["id"] == conversion.as_str()));

    // Ctrl-C: the temporary webhook goes with it.
    let pid = child.id().unwrap().to_string();
    let killed = tokio::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("listen exits")
        .unwrap();
    assert!(status.success(), "{status}");
    let mut rest = Vec::new();
    while let Ok(Some(line)) = lines.next_line().await {
        rest.push(line);
    }
    assert!(rest.iter().any(|l| l.contains("deleted")), "{rest:?}");
    assert!(client.webhooks(&[]).await.unwrap().items.is_empty());
}

/// Retention: with 2 s kept, old events, their finished deliveries and
/// attempts go; an event whose delivery is still PENDING (retrying), that
/// delivery and its attempts stay; so does anything young.
async fn prunes_what_is_old_and_keeps_what_is_pending(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start_with(&db, |c| {
        fast(c);
        // The unreachable consumer's delivery stays PENDING, retried in an hour.
        c.webhook_retry_first_delay = Duration::from_secs(3600);
        c.retain_events = Duration::from_secs(2);
        c.retain_deliveries = Duration::from_secs(2);
        c.retain_attempts = Duration::from_secs(2);
    })
    .await;
    let client = server.client().await;
    let consumer = Consumer::start().await;
    let ok = webhook(
        &client,
        "ok",
        &consumer.url("/ok"),
        &["conversion.created"],
        100,
    )
    .await;
    let down = webhook(
        &client,
        "down",
        "http://127.0.0.1:1/down",
        &["conversion.settled"],
        100,
    )
    .await;
    let profile = funded_profile(&client, "USD", "10").await;
    convert(&client, &profile, "old").await;
    wait_delivery(&client, &ok.id, "DELIVERED").await;
    eventually("the unreachable consumer tried once", || async {
        attempts(&client, &down.id).await.len() == 1
    })
    .await;
    let types = || async {
        let listed = client.events(&ListEvents::default()).await.unwrap();
        listed
            .events
            .into_iter()
            .map(|e| e.kind)
            .collect::<Vec<_>>()
    };
    assert!(types().await.contains(&"conversion.created".to_string()));

    eventually("the delivered event pruned", || async {
        !types().await.contains(&"conversion.created".to_string())
    })
    .await;
    // Attempts are a little younger than their event: a pass or two later.
    eventually("the finished delivery and its attempt pruned", || async {
        deliveries(&client, &ok.id).await.is_empty() && attempts(&client, &ok.id).await.is_empty()
    })
    .await;
    let pending = deliveries(&client, &down.id).await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].status, "PENDING");
    assert_eq!(attempts(&client, &down.id).await.len(), 1);
    assert!(types().await.contains(&"conversion.settled".to_string()));

    convert(&client, &profile, "young").await;
    let young = types().await;
    assert_eq!(
        young.iter().filter(|t| *t == "conversion.created").count(),
        1,
        "{young:?}"
    );
}
