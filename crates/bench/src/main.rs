//! `stableport-bench`: a closed-loop load generator for a running Stableport
//! server. Every request goes through `stableport_client::Client`.
//!
//! Each of `--concurrency` workers owns its own fixture (for
//! `create-conversion`: its own funded profile, so workers never contend on
//! one balance row) and sends one request at a time for `--warmup` +
//! `--duration`. Only requests that complete inside the measurement window
//! (after the warmup) are counted.

mod bank;
mod plot;
mod report;

use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{ensure, Context};
use clap::{Parser, ValueEnum};
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};

use stableport_client::{
    Client, CreateConversion, CreateOrchestration, ListConversions, OrchestrationDestination,
};
use tokio::task::JoinSet;

/// How many distinct error messages are kept (and how many are reported).
const MAX_DISTINCT_ERRORS: usize = 5;

#[derive(Parser, Debug)]
#[command(
    name = "stableport-bench",
    version,
    about = "Load generator for a Stableport server"
)]
pub(crate) struct Cli {
    /// Server root, without /v2; several, comma-separated, spread the
    /// workers over replicas (worker i goes to the i-th modulo their count).
    #[arg(
        long,
        env = "STABLEPORT_URL",
        default_value = "http://127.0.0.1:8080",
        value_delimiter = ','
    )]
    url: Vec<String>,
    #[arg(long, env = "STABLEPORT_CLIENT_ID")]
    client_id: String,
    #[arg(long, env = "STABLEPORT_CLIENT_SECRET", hide_env_values = true)]
    client_secret: String,
    #[arg(long, value_enum, default_value = "create-conversion")]
    scenario: Scenario,
    /// Concurrent workers, each with one request in flight at a time.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    concurrency: u32,
    /// Measurement window (e.g. 500ms, 10s, 2m).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Load sent before the measurement window and not counted.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    warmup: Duration,
    /// Print one JSON object instead of a human-readable report.
    #[arg(long)]
    json: bool,
    /// PID of a server on this machine: also report the CPU it used in the
    /// measurement window (Linux /proc only).
    #[arg(long)]
    server_pid: Option<u32>,
}

/// What the workers do. To add one: a variant here, its fixture in
/// `Fixture`, and arms in `Scenario::setup` and `Fixture::request`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Scenario {
    /// GET /health: no authentication, no database; the baseline of the
    /// HTTP stack and this load generator.
    Health,
    /// POST /v2/conversion/stablecoins, USD -> USDP "1.00", one funded profile per worker.
    CreateConversion,
    /// POST /v2/orchestration/orchestrations, USD -> USDP "1.00" into the same
    /// profile (the migrated form of the legacy conversion), a fresh ref_id each.
    CreateOrchestration,
    /// GET /v2/profiles/{id}/balances of the worker's profile: an
    /// authenticated read.
    ReadBalances,
    /// GET /v2/conversion/stablecoins/{id} of a conversion the worker made.
    ReadConversion,
    /// GET /v2/conversion/stablecoins?limit=100: a page of the customer's
    /// newest 100 (setup makes at least 100).
    ListConversions,
    /// Per worker, in turn: four reads (balances, its conversion, balances,
    /// its conversion) then one create-conversion.
    Mixed,
    /// GET /dashboard/activity, signed in as a VIEWER user of the worker's
    /// own (the page's newest 50 of everything the customer did).
    DashboardActivity,
    /// GET /dashboard (every profile's balances, the balance samples and
    /// volume per day of the last 14 days), signed in likewise.
    DashboardOverview,
    /// GET /dashboard/activity/conversion/{id} of a conversion the worker
    /// made (its timeline, postings and deliveries), signed in likewise.
    DashboardDetail,
}

impl Scenario {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Scenario::Health => "health",
            Scenario::ReadConversion => "read-conversion",
            Scenario::ListConversions => "list-conversions",
            Scenario::Mixed => "mixed",
            Scenario::CreateConversion => "create-conversion",
            Scenario::CreateOrchestration => "create-orchestration",
            Scenario::ReadBalances => "read-balances",
            Scenario::DashboardActivity => "dashboard-activity",
            Scenario::DashboardOverview => "dashboard-overview",
            Scenario::DashboardDetail => "dashboard-detail",
        }
    }

    /// Prepares what worker `worker` of `workers` in run `run` needs.
    async fn setup(
        self,
        client: &Client,
        run: &str,
        worker: u32,
        workers: u32,
    ) -> anyhow::Result<Fixture> {
        if self == Scenario::Health {
            return Ok(Fixture::Health {
                url: format!("{}/health", client.base()),
            });
        }
        let nickname = format!("bench-{run}-{worker}");
        let profile = client
            .create_profile(&nickname, Some("stableport-bench"))
            .await
            .with_context(|| format!("creating profile {nickname}"))?;
        client
            .deposit(&profile.id, "USD", FUNDING_USD)
            .await
            .with_context(|| format!("funding profile {} with {FUNDING_USD} USD", profile.id))?;
        let conversion = CreateConversion {
            profile_id: profile.id.clone(),
            amount: CONVERSION_AMOUNT.to_string(),
            source_asset: "USD".to_string(),
            target_asset: "USDP".to_string(),
            ..Default::default()
        };
        let made = |count: u32| {
            let (client, conversion) = (client.clone(), conversion.clone());
            async move {
                let mut last = String::new();
                for _ in 0..count {
                    last = (client.create_conversion(&conversion).await)
                        .context("creating a conversion to read")?
                        .id;
                }
                anyhow::Ok(last)
            }
        };
        Ok(match self {
            Scenario::Health => unreachable!("answered above"),
            Scenario::CreateConversion => Fixture::CreateConversion {
                request: conversion,
            },
            Scenario::ReadConversion => Fixture::ReadConversion { id: made(1).await? },
            Scenario::ListConversions => {
                made(100u32.div_ceil(workers)).await?;
                Fixture::ListConversions
            }
            Scenario::Mixed => Fixture::Mixed {
                read: made(1).await?,
                profile: profile.id,
                create: conversion,
                turn: AtomicU64::new(0),
            },
            Scenario::CreateOrchestration => Fixture::CreateOrchestration {
                request: CreateOrchestration::new(
                    "",
                    &profile.id,
                    "USD",
                    "USDP",
                    CONVERSION_AMOUNT,
                    OrchestrationDestination::profile(&profile.id),
                ),
                ref_prefix: format!("bench-{run}-{worker}-"),
                sequence: AtomicU64::new(0),
            },
            Scenario::ReadBalances => Fixture::ReadBalances {
                profile: profile.id,
            },
            Scenario::DashboardActivity
            | Scenario::DashboardOverview
            | Scenario::DashboardDetail => {
                let path = match self {
                    Scenario::DashboardActivity => "/dashboard/activity".to_string(),
                    Scenario::DashboardOverview => "/dashboard".to_string(),
                    _ => {
                        let made = client
                            .create_conversion(&CreateConversion {
                                profile_id: profile.id.clone(),
                                amount: CONVERSION_AMOUNT.to_string(),
                                source_asset: "USD".to_string(),
                                target_asset: "USDP".to_string(),
                                ..Default::default()
                            })
                            .await
                            .context("creating the conversion to look at")?;
                        format!("/dashboard/activity/conversion/{}", made.id)
                    }
                };
                let email = format!("{nickname}@example.com");
                Fixture::Page(signed_in(client, &email, &path).await?)
            }
        })
    }
}

/// Each worker's deposit: at 10k conversions/s of 1.00 for a whole hour one
/// worker spends 36M, far below this.
const FUNDING_USD: &str = "100000000";
const CONVERSION_AMOUNT: &str = "1.00";

/// One worker's state for its scenario (one per worker: size does not matter).
#[allow(clippy::large_enum_variant)]
enum Fixture {
    Health {
        url: String,
    },
    ReadConversion {
        id: String,
    },
    ListConversions,
    Mixed {
        read: String,
        profile: String,
        create: CreateConversion,
        turn: AtomicU64,
    },
    CreateConversion {
        request: CreateConversion,
    },
    CreateOrchestration {
        request: CreateOrchestration,
        /// ref_id is required and unique: prefix + a per-worker sequence.
        ref_prefix: String,
        sequence: AtomicU64,
    },
    ReadBalances {
        profile: String,
    },
    Page(SignedIn),
}

/// A dashboard page and the session cookie that may read it.
struct SignedIn {
    http: reqwest::Client,
    url: String,
    cookie: String,
}

const BENCH_PASSWORD: &str = "stableport-bench-password";

/// A new VIEWER user, signed in through the dashboard's own form.
async fn signed_in(client: &Client, email: &str, path: &str) -> anyhow::Result<SignedIn> {
    let user =
        serde_json::json!({ "email": email, "roles": ["VIEWER"], "password": BENCH_PASSWORD });
    let body = Some(("application/json", user.to_string().into_bytes()));
    let (status, _, made) = client.raw(reqwest::Method::POST, "/v2/users", body).await?;
    ensure!(
        status.is_success(),
        "creating user {email}: {status} {made}"
    );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let base = client.base().trim_end_matches('/').to_string();
    let form = http.get(format!("{base}/dashboard/sign-in")).send().await?;
    let token = cookie(&form, "stableport_sign_in").context("no sign-in form cookie")?;
    let answer = http
        .post(format!("{base}/dashboard/sign-in"))
        .header("Cookie", format!("stableport_sign_in={token}"))
        .form(&[
            ("form_token", token.as_str()),
            ("email", email),
            ("password", BENCH_PASSWORD),
        ])
        .send()
        .await?;
    let session = cookie(&answer, "stableport_session")
        .with_context(|| format!("signing in as {email}: {}", answer.status()))?;
    Ok(SignedIn {
        http,
        url: format!("{base}{path}"),
        cookie: format!("stableport_session={session}"),
    })
}

fn cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next()?.split_once('='))
        .find(|(k, v)| *k == name && !v.is_empty())
        .map(|(_, v)| v.to_string())
}

impl Fixture {
    /// One request; `Err` carries the message to report.
    async fn request(&self, client: &Client) -> Result<(), String> {
        match self {
            Fixture::Health { url } => {
                let answer = client.http().get(url).send().await;
                let answer = answer.map_err(|e| e.to_string())?;
                match answer.status().as_u16() {
                    200 => answer.bytes().await.map(drop).map_err(|e| e.to_string()),
                    other => Err(format!("{url} answered {other}")),
                }
            }
            Fixture::ReadConversion { id } => done(client.conversion(id).await),
            Fixture::ListConversions => {
                let query = ListConversions {
                    limit: Some(100),
                    ..Default::default()
                };
                match client.list_conversions(&query).await {
                    Ok(page) if page.items.len() == 100 => Ok(()),
                    Ok(page) => Err(format!("a page of {} instead of 100", page.items.len())),
                    Err(e) => Err(e.to_string()),
                }
            }
            Fixture::Mixed {
                read,
                profile,
                create,
                turn,
            } => match turn.fetch_add(1, Ordering::Relaxed) % 5 {
                0 | 2 => done(client.balances(profile, &[]).await),
                1 | 3 => done(client.conversion(read).await),
                _ => done(client.create_conversion(create).await),
            },
            Fixture::CreateConversion { request } => client
                .create_conversion(request)
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            Fixture::CreateOrchestration {
                request,
                ref_prefix,
                sequence,
            } => {
                let n = sequence.fetch_add(1, Ordering::Relaxed);
                let request = CreateOrchestration {
                    ref_id: format!("{ref_prefix}{n}"),
                    ..request.clone()
                };
                client
                    .create_orchestration(&request)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
            Fixture::ReadBalances { profile } => client
                .balances(profile, &[])
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            Fixture::Page(page) => {
                let answer = page
                    .http
                    .get(&page.url)
                    .header("Cookie", &page.cookie)
                    .send()
                    .await;
                let answer = answer.map_err(|e| e.to_string())?;
                match answer.status().as_u16() {
                    200 => answer.bytes().await.map(drop).map_err(|e| e.to_string()),
                    other => Err(format!("{} answered {other}", page.url)),
                }
            }
        }
    }
}

fn done<T>(answer: Result<T, stableport_client::Error>) -> Result<(), String> {
    answer.map(drop).map_err(|e| e.to_string())
}

/// What one worker saw inside the measurement window.
#[derive(Default)]
struct Tally {
    /// Latencies of successful requests, in nanoseconds.
    latencies: Vec<u64>,
    errors: u64,
    /// Distinct error messages in order of first appearance, with counts.
    messages: Vec<(String, u64)>,
}

impl Tally {
    fn error(&mut self, message: String) {
        self.errors += 1;
        if let Some(entry) = self.messages.iter_mut().find(|(m, _)| *m == message) {
            entry.1 += 1;
        } else if self.messages.len() < MAX_DISTINCT_ERRORS {
            self.messages.push((message, 1));
        }
    }

    fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        for (message, count) in other.messages {
            if let Some(entry) = self.messages.iter_mut().find(|(m, _)| *m == message) {
                entry.1 += count;
            } else if self.messages.len() < MAX_DISTINCT_ERRORS {
                self.messages.push((message, count));
            }
        }
    }
}

async fn worker(client: Client, fixture: Fixture, measure_from: Instant, until: Instant) -> Tally {
    let mut tally = Tally::default();
    loop {
        let start = Instant::now();
        if start >= until {
            return tally;
        }
        let outcome = fixture.request(&client).await;
        let end = Instant::now();
        if end < measure_from || end > until {
            continue;
        }
        match outcome {
            Ok(()) => tally
                .latencies
                .push(end.duration_since(start).as_nanos() as u64),
            Err(message) => tally.error(message),
        }
    }
}

/// Nearest-rank percentile of sorted values (`per_mille` in 0..=1000).
fn percentile(sorted: &[u64], per_mille: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (per_mille * sorted.len()).div_ceil(1000).max(1);
    sorted[rank - 1]
}

pub(crate) struct Report {
    scenario: Scenario,
    concurrency: u32,
    warmup: Duration,
    /// The measurement window as it really elapsed.
    elapsed: Duration,
    setup: Duration,
    tally: Tally,
    /// CPU seconds (user, system) the bench process used in the window, if known.
    cpu: Option<(f64, f64)>,
    /// The same for the process given by --server-pid.
    server_cpu: Option<(f64, f64)>,
    /// (busy, all) CPUs of the whole machine in the window, if known.
    machine_cpu: Option<(f64, usize)>,
}

fn ms(nanos: u64) -> f64 {
    nanos as f64 / 1e6
}

impl Report {
    pub(crate) fn to_json(&self) -> serde_json::Value {
        let sorted = &self.tally.latencies;
        let completed = sorted.len() as u64;
        let seconds = self.elapsed.as_secs_f64();
        let mean = if sorted.is_empty() {
            0.0
        } else {
            ms(sorted.iter().sum::<u64>()) / sorted.len() as f64
        };
        json!({
            "scenario": self.scenario.name(),
            "concurrency": self.concurrency,
            "warmup_s": self.warmup.as_secs_f64(),
            "duration_s": seconds,
            "setup_s": self.setup.as_secs_f64(),
            "requests": completed,
            "errors": self.tally.errors,
            "error_messages": self.tally.messages.iter()
                .map(|(message, count)| json!({ "message": message, "count": count }))
                .collect::<Vec<_>>(),
            "throughput_rps": completed as f64 / seconds,
            "latency_ms": {
                "mean": mean,
                "p50": ms(percentile(sorted, 500)),
                "p90": ms(percentile(sorted, 900)),
                "p99": ms(percentile(sorted, 990)),
                "max": ms(sorted.last().copied().unwrap_or(0)),
            },
            "bench_cpu_s": self.cpu.map(|(user, system)| json!({ "user": user, "system": system })),
            "server_cpu_s": self.server_cpu.map(|(user, system)| json!({ "user": user, "system": system })),
            "machine_cpus_busy": self.machine_cpu.map(|(busy, cpus)| json!({ "busy": busy, "of": cpus })),
        })
    }

    fn print_human(&self) {
        let v = self.to_json();
        let l = &v["latency_ms"];
        println!(
            "scenario {}  concurrency {}  window {:.2}s (after {:.2}s warmup; setup took {:.2}s)",
            self.scenario.name(),
            self.concurrency,
            self.elapsed.as_secs_f64(),
            self.warmup.as_secs_f64(),
            self.setup.as_secs_f64()
        );
        println!("requests    {}", v["requests"]);
        println!("errors      {}", v["errors"]);
        for (message, count) in &self.tally.messages {
            println!("  {count} x {message}");
        }
        println!(
            "throughput  {:.1} req/s",
            v["throughput_rps"].as_f64().unwrap_or(0.0)
        );
        println!(
            "latency ms  p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}  (mean {:.2})",
            l["p50"].as_f64().unwrap_or(0.0),
            l["p90"].as_f64().unwrap_or(0.0),
            l["p99"].as_f64().unwrap_or(0.0),
            l["max"].as_f64().unwrap_or(0.0),
            l["mean"].as_f64().unwrap_or(0.0),
        );
        let seconds = self.elapsed.as_secs_f64();
        for (who, cpu) in [("bench", self.cpu), ("server", self.server_cpu)] {
            if let Some((user, system)) = cpu {
                println!(
                    "{who:<6} cpu  {user:.2}s user + {system:.2}s system = {:.0}% of one core",
                    (user + system) / seconds * 100.0
                );
            }
        }
        if let Some((busy, cpus)) = self.machine_cpu {
            println!("machine     {busy:.2} of {cpus} CPUs busy");
        }
    }
}

/// Parses `500ms`, `10s`, `2m`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?}: expected e.g. 500ms, 10s, 2m"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" | "" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n.saturating_mul(60))),
        _ => Err(format!("invalid duration unit in {text:?}: use ms, s or m")),
    }
}

/// (user, system) CPU seconds of a process (`self` or a PID), from /proc (Linux only).
fn process_cpu(pid: &str) -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on every Linux platform Rust targets.
    Some((utime / 100.0, stime / 100.0))
}

/// (busy, total) jiffies over all CPUs and the number of CPUs, from /proc/stat.
fn machine_cpu() -> Option<(u64, u64, usize)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let mut lines = stat.lines();
    let all: Vec<u64> = lines
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let total: u64 = all.iter().take(8).sum();
    let idle = all.get(3)? + all.get(4).copied().unwrap_or(0);
    let cpus = lines.filter(|l| l.starts_with("cpu")).count();
    Some((total - idle, total, cpus))
}

/// A suffix that makes this run's nicknames unique.
fn run_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}{:x}", nanos & 0xffff_ffff_ffff, std::process::id())
}

pub(crate) async fn run(cli: Cli) -> anyhow::Result<Report> {
    ensure!(!cli.duration.is_zero(), "--duration must be more than 0");
    let setup_start = Instant::now();
    let mut clients = Vec::with_capacity(cli.url.len());
    for url in &cli.url {
        let client = Client::new(url)
            .login(&cli.client_id, &cli.client_secret, None)
            .await
            .with_context(|| format!("logging in to {url}"))?;
        clients.push(client);
    }
    ensure!(!clients.is_empty(), "--url names no server");
    let client_of = |worker: u32| clients[worker as usize % clients.len()].clone();
    let run = run_id();
    let mut setups = JoinSet::new();
    for worker in 0..cli.concurrency {
        let (client, run, scenario, workers) = (
            client_of(worker),
            run.clone(),
            cli.scenario,
            cli.concurrency,
        );
        setups.spawn(async move {
            let fixture = scenario.setup(&client, &run, worker, workers).await;
            (worker, fixture)
        });
    }
    let mut fixtures = Vec::with_capacity(cli.concurrency as usize);
    while let Some(joined) = setups.join_next().await {
        let (worker, fixture) = joined.context("setup task panicked")?;
        fixtures.push((
            worker,
            fixture.with_context(|| format!("setting up worker {worker}"))?,
        ));
    }
    let setup = setup_start.elapsed();

    let start = Instant::now();
    let measure_from = start + cli.warmup;
    let until = measure_from + cli.duration;
    let mut workers = JoinSet::new();
    for (n, fixture) in fixtures {
        workers.spawn(worker(client_of(n), fixture, measure_from, until));
    }
    // CPU is sampled at the window's edges; the workers keep running meanwhile.
    tokio::time::sleep_until(measure_from.into()).await;
    let server = cli.server_pid.map(|pid| pid.to_string());
    let cpu_start = process_cpu("self");
    let server_start = server.as_deref().and_then(process_cpu);
    let machine_start = machine_cpu();
    tokio::time::sleep_until(until.into()).await;
    let cpu_end = process_cpu("self");
    let server_end = server.as_deref().and_then(process_cpu);
    let machine_end = machine_cpu();
    let mut tally = Tally::default();
    while let Some(joined) = workers.join_next().await {
        tally.merge(joined.context("worker panicked")?);
    }
    tally.latencies.sort_unstable();
    // Tick counts, so round away the float noise of the subtraction.
    let round = |x: f64| (x * 100.0).round() / 100.0;
    let used = |start: Option<(f64, f64)>, end: Option<(f64, f64)>| match (start, end) {
        (Some((u0, s0)), Some((u1, s1))) => Some((round(u1 - u0), round(s1 - s0))),
        _ => None,
    };
    Ok(Report {
        scenario: cli.scenario,
        concurrency: cli.concurrency,
        warmup: cli.warmup,
        elapsed: until - measure_from,
        setup,
        tally,
        cpu: used(cpu_start, cpu_end),
        server_cpu: used(server_start, server_end),
        machine_cpu: match (machine_start, machine_end) {
            (Some((b0, t0, cpus)), Some((b1, t1, _))) if t1 > t0 => Some((
                round((b1 - b0) as f64 / (t1 - t0) as f64 * cpus as f64),
                cpus,
            )),
            _ => None,
        },
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("report") {
        let cli = report::ReportCli::parse_from(std::env::args().skip(1));
        return match report::run(cli).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("stableport-bench report: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    if std::env::args().nth(1).as_deref() == Some("bank") {
        let cli = bank::BankCli::parse_from(std::env::args().skip(1));
        return match bank::run(cli).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("stableport-bench bank: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let cli = Cli::parse();
    let json = cli.json;
    match run(cli).await {
        Ok(report) => {
            if json {
                println!("{}", report.to_json());
            } else {
                report.print_human();
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&values, 500), 50);
        assert_eq!(percentile(&values, 990), 99);
        assert_eq!(percentile(&values, 1000), 100);
        assert_eq!(percentile(&[7], 990), 7);
        assert_eq!(percentile(&[], 500), 0);
        assert_eq!(percentile(&[1, 2, 3], 0), 1);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("15s"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("1.5s").is_err());
        assert!(parse_duration("s").is_err());
    }

    #[test]
    fn distinct_errors_are_capped_and_counted() {
        let mut a = Tally::default();
        a.error("x".into());
        a.error("x".into());
        let mut b = Tally::default();
        b.error("x".into());
        for i in 0..10 {
            b.error(format!("e{i}"));
        }
        a.merge(b);
        assert_eq!(a.errors, 13);
        assert_eq!(a.messages.len(), MAX_DISTINCT_ERRORS);
        assert_eq!(a.messages[0], ("x".to_string(), 3));
    }
}
