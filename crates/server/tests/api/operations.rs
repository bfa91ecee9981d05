//! What an operator relies on: metrics scraped from `--metrics-listen` and
//! parsed by a Prometheus text parser, and request ids on every answer.

use std::collections::HashMap;

use prometheus_parse::{Sample, Scrape, Value};
use stableport_client::CreateConversion;

use crate::common::*;
use crate::on_both_backends;

on_both_backends!(
    metrics_are_scraped_and_parsed,
    request_ids_are_echoed_or_made
);

async fn scrape(url: &str) -> Scrape {
    let answer = reqwest::get(url).await.expect("scrape");
    assert_eq!(answer.status(), 200);
    let kind = answer.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    let text = answer.text().await.unwrap();
    let lines = text.lines().map(|l| Ok(l.to_string()));
    Scrape::parse(lines).expect("Prometheus text format")
}

fn find<'a>(scrape: &'a Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<&'a Sample> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
}

fn gauge(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    match find(scrape, metric, labels).map(|s| &s.value) {
        Some(Value::Gauge(v)) => *v,
        other => panic!("{metric} {labels:?} is not a gauge: {other:?}"),
    }
}

async fn metrics_are_scraped_and_parsed(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start_with(&db, |c| {
        c.metrics_listen = Some("127.0.0.1:0".into());
    })
    .await;
    let metrics_at = server.running.as_ref().unwrap().metrics_addr.unwrap();
    let client = server.client().await;
    let profile = funded_profile(&client, "USD", "100").await;
    for _ in 0..3 {
        let request = CreateConversion {
            profile_id: profile.clone(),
            amount: "1.25".into(),
            source_asset: "USD".into(),
            target_asset: "USDC".into(),
            ..Default::default()
        };
        client.create_conversion(&request).await.unwrap();
    }

    let scraped = scrape(&format!("http://{metrics_at}/metrics")).await;
    // Counters and histograms are the process's (other tests' servers add
    // to them); gauges are this server's database's.
    let created = [
        ("method", "POST"),
        ("route", "/v2/conversion/stablecoins"),
        ("status", "200"),
    ];
    match find(&scraped, "stableport_http_requests_total", &created).map(|s| &s.value) {
        Some(Value::Counter(n)) => assert!(*n >= 3.0, "{n}"),
        other => panic!("no request counter: {other:?}"),
    }
    let latency = find(
        &scraped,
        "stableport_http_request_duration_seconds",
        &created,
    );
    assert!(matches!(
        latency.map(|s| &s.value),
        Some(Value::Histogram(_))
    ));
    let batches = [("kind", "NewConversion")];
    let sizes = find(&scraped, "stableport_group_commit_batch_size", &batches);
    assert!(matches!(sizes.map(|s| &s.value), Some(Value::Histogram(_))));
    let waits = find(&scraped, "stableport_group_commit_wait_seconds", &batches);
    assert!(matches!(waits.map(|s| &s.value), Some(Value::Histogram(_))));

    // 100 USD in, 3 x 1.25 converted out of USD (and into USDC once settled).
    let usd = gauge(
        &scraped,
        "stableport_ledger_customer_total",
        &[("asset", "USD")],
    );
    assert_eq!(usd, 96.25);
    for work in ["settlement", "orchestration_step", "webhook_delivery"] {
        gauge(&scraped, "stableport_backlog_due", &[("work", work)]);
        assert!(
            gauge(
                &scraped,
                "stableport_backlog_lag_seconds",
                &[("work", work)]
            ) >= 0.0
        );
    }
    let open = gauge(
        &scraped,
        "stableport_db_pool_connections",
        &[("pool", "write")],
    );
    assert!(open >= 1.0);
    let names: HashMap<&str, usize> = scraped.samples.iter().fold(HashMap::new(), |mut m, s| {
        *m.entry(s.metric.as_str()).or_default() += 1;
        m
    });
    assert!(names.contains_key("stableport_db_pool_idle"), "{names:?}");

    // Not on the API's own listener, where no token would guard it.
    let api = reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap();
    assert_eq!(api.status(), 404);
}

async fn request_ids_are_echoed_or_made(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db).await;
    let http = reqwest::Client::new();
    let health = format!("{}/health", server.url);
    let id_of = |r: &reqwest::Response| r.headers()["x-request-id"].to_str().unwrap().to_string();

    let given = http
        .get(&health)
        .header("X-Request-Id", "trace-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(id_of(&given), "trace-abc-123");

    let made = http.get(&health).send().await.unwrap();
    assert!(uuid::Uuid::parse_str(&id_of(&made)).is_ok());

    // An unreasonable one (too long) is replaced, never echoed.
    let long = "x".repeat(200);
    let replaced = http
        .get(&health)
        .header("X-Request-Id", &long)
        .send()
        .await
        .unwrap();
    assert!(uuid::Uuid::parse_str(&id_of(&replaced)).is_ok());

    // Errors carry one too.
    let missing = http
        .get(format!("{}/v2/nowhere", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert!(uuid::Uuid::parse_str(&id_of(&missing)).is_ok());
}
