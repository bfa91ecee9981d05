//! Webhook delivery benchmark: throughput, and end-to-end latency from the
//! status change (the event's `created_at`, committed with it) to the
//! consumer's receipt, p50 and p99.
//!
//! Starts a Stableport server in this process on a fresh database, a
//! consumer (axum, on loopback) that answers 200 at once, registers
//! webhooks, and creates sandbox deposits through the HTTP API (each
//! deposit is one `transfer.wire_deposit.completed` event).
//!
//! ```sh
//! cargo run --release -p stableport-server --example webhook_bench -- --scenario latency
//! cargo run --release -p stableport-server --example webhook_bench -- --scenario throughput \
//!     --database-url postgres://postgres@127.0.0.1:5432/postgres
//! ```
//!
//! For PostgreSQL, the URL names an admin connection: a scratch database
//! `spbench_<random>` is created on that server, used, and dropped.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use clap::{Parser, ValueEnum};
use serde_json::Value;
use stableport_client::{Client, CreateWebhook};
use stableport_server::Config;
use stableport_store::Store;
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// Events paced at --rate per second (default: one customer, one
    /// webhook): latency below capacity.
    Latency,
    /// --customers × 10 webhooks at 100 req/s each (the most a webhook
    /// takes, and a customer has at most 10: at most 10,000/s by default;
    /// raise --customers to find the server's own limit); events as fast as the API takes them:
    /// deliveries per second, and latency under that load.
    Throughput,
}

#[derive(Parser, Debug)]
struct Args {
    #[arg(long, value_enum, default_value = "latency")]
    scenario: Scenario,
    /// sqlite (a temporary file) or a postgres:// admin URL.
    #[arg(long, default_value = "sqlite")]
    database_url: String,
    /// Events to create.
    #[arg(long, default_value_t = 500)]
    events: usize,
    /// Latency scenario: events per second.
    #[arg(long, default_value_t = 20)]
    rate: u64,
    /// Customers (default: 1 for latency, 10 for throughput).
    #[arg(long)]
    customers: Option<usize>,
    /// Webhooks per customer, each subscribed to every event (default: 1
    /// for latency, 10 for throughput).
    #[arg(long)]
    webhooks: Option<usize>,
    /// Throughput scenario: deposits in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// The server's webhook poll interval, in milliseconds.
    #[arg(long, default_value_t = 50)]
    poll_ms: u64,
}

#[derive(Default)]
struct Received {
    /// (receipt, event created_at), microseconds since the epoch.
    times: Vec<(i64, i64)>,
}

async fn hook(State(r): State<Arc<Mutex<Received>>>, body: Bytes) -> StatusCode {
    let now = chrono::Utc::now().timestamp_micros();
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let created = json["time"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp_micros())
        .unwrap_or(now);
    r.lock().unwrap().times.push((now, created));
    StatusCode::OK
}

async fn database(url: &str) -> anyhow::Result<(String, Option<tempfile::TempDir>)> {
    if url == "sqlite" {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        return Ok((url, Some(dir)));
    }
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let name = format!("spbench_{}", Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await?;
    let base = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(url);
    Ok((format!("{base}/{name}"), None))
}

fn percentile(sorted: &[i64], p: usize) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (url, _dir) = database(&args.database_url).await?;
    let mut config = Config::new(url.clone());
    config.listen = "127.0.0.1:0".into();
    config.settlement_delay = Duration::ZERO;
    config.client_id = Some("bench".into());
    config.client_secret = Some("bench-secret".into());
    config.webhook_poll_interval = Duration::from_millis(args.poll_ms);
    let running = stableport_server::start(config).await?;
    let base = format!("http://{}", running.addr);

    let received = Arc::new(Mutex::new(Received::default()));
    let app = axum::Router::new()
        .fallback(hook)
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let consumer = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });

    // Customers: the bootstrap one, and more for the throughput scenario.
    let mut clients = vec![
        Client::new(&base)
            .login("bench", "bench-secret", None)
            .await?,
    ];
    let (customers, webhooks_each) = match args.scenario {
        Scenario::Latency => (args.customers.unwrap_or(1), args.webhooks.unwrap_or(1)),
        Scenario::Throughput => (args.customers.unwrap_or(10), args.webhooks.unwrap_or(10)),
    };
    let customers = customers.max(1);
    let store = stableport_store::open(&url).await?;
    while clients.len() < customers {
        let id = Uuid::new_v4();
        store
            .create_customer(id, chrono::Utc::now().timestamp_micros())
            .await?;
        let scopes = stableport_server::api::common::auth::ALL_SCOPES.join(" ");
        let (client_id, secret) =
            stableport_server::bootstrap::save(&store, id, None, &scopes, None, None).await?;
        clients.push(Client::new(&base).login(&client_id, &secret, None).await?);
    }
    let mut profiles = Vec::new();
    for client in &clients {
        for w in 0..webhooks_each {
            client
                .create_webhook(&CreateWebhook {
                    name: format!("bench-{w}"),
                    url: consumer.clone(),
                    event_types: vec!["transfer.wire_deposit.completed".into()],
                    rate_limit: Some(100),
                    consumer_auth: None,
                })
                .await?;
        }
        profiles.push(client.profile("default").await?.id);
    }
    let expected = args.events * webhooks_each;
    println!(
        "scenario {:?}: {} events, {} customers × {} webhooks = {} deliveries, database {}",
        args.scenario,
        args.events,
        customers,
        webhooks_each,
        expected,
        if args.database_url == "sqlite" {
            "sqlite"
        } else {
            "postgres"
        }
    );

    let started = Instant::now();
    match args.scenario {
        Scenario::Latency => {
            let mut tick =
                tokio::time::interval(Duration::from_micros(1_000_000 / args.rate.max(1)));
            for i in 0..args.events {
                tick.tick().await;
                let (client, profile) = (&clients[i % customers], &profiles[i % customers]);
                client.deposit(profile, "USD", "1").await?;
            }
        }
        Scenario::Throughput => {
            // Event i goes to customer i mod customers, whichever task takes
            // it: every customer (and so every webhook) gets the same share.
            // Tasks that each kept one customer gave some customers more
            // events than others, and their webhooks' rate limits then bound
            // the whole burst.
            let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let targets = Arc::new(
                clients
                    .iter()
                    .cloned()
                    .zip(profiles.clone())
                    .collect::<Vec<_>>(),
            );
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..args.concurrency.max(1) {
                let (next, targets, events) = (next.clone(), targets.clone(), args.events);
                tasks.spawn(async move {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= events {
                            return anyhow::Ok(());
                        }
                        let (client, profile) = &targets[i % targets.len()];
                        client.deposit(profile, "USD", "1").await?;
                    }
                });
            }
            while let Some(done) = tasks.join_next().await {
                done??;
            }
        }
    }
    let created_in = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(600);
    while received.lock().unwrap().times.len() < expected {
        anyhow::ensure!(
            Instant::now() < deadline,
            "timed out waiting for deliveries"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let all_in = started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let times = received.lock().unwrap().times.clone();
    let mut latencies: Vec<i64> = times.iter().map(|(r, c)| r - c).collect();
    latencies.sort_unstable();
    let first_event = times.iter().map(|(_, c)| *c).min().unwrap_or(0);
    let last_receipt = times.iter().map(|(r, _)| *r).max().unwrap_or(0);
    let span = Duration::from_micros(u64::try_from(last_receipt - first_event).unwrap_or(0));
    println!(
        "events created in {:.2} s; all {} deliveries received {:.2} s after the first event ({} extra: duplicates)",
        created_in.as_secs_f64(),
        expected,
        span.as_secs_f64(),
        times.len() - expected
    );
    println!(
        "throughput: {:.0} deliveries/s (first event to last receipt); {:.0} deliveries/s over the whole run ({:.2} s)",
        expected as f64 / span.as_secs_f64().max(1e-9),
        expected as f64 / all_in.as_secs_f64().max(1e-9),
        all_in.as_secs_f64()
    );
    println!(
        "end-to-end latency (event committed -> consumer received): p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 50) as f64 / 1000.0,
        percentile(&latencies, 90) as f64 / 1000.0,
        percentile(&latencies, 99) as f64 / 1000.0,
        latencies.last().copied().unwrap_or(0) as f64 / 1000.0
    );
    running.stop();
    drop(store);
    if args.database_url != "sqlite" {
        use sqlx::Connection;
        let name = url.rsplit('/').next().unwrap_or_default();
        let mut conn = sqlx::PgConnection::connect(&args.database_url).await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await?;
    }
    Ok(())
}
