//! `stableport-bench report`: runs every scenario against fresh servers on
//! both backends, next to same-run baselines (`/health` of the same server,
//! pgbench tpcb-like, sqlite3 durable commits), and writes the generated
//! part of BENCHMARKS.md with its plots. One command regenerates it all:
//! `scripts/bench-report`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use crate::plot::{self, Series};
use crate::{parse_duration, Cli, Scenario};

#[derive(Parser, Debug)]
#[command(name = "stableport-bench report")]
pub struct ReportCli {
    /// The server binary (a release build).
    #[arg(long, default_value = "target/release/stableport")]
    server: PathBuf,
    /// Backends to measure.
    #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
    backends: Vec<String>,
    /// A PostgreSQL server where scratch databases may be created (and are dropped).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    pg_url: String,
    /// Client counts of the sweep (throughput and latency against concurrency).
    #[arg(long, value_delimiter = ',', default_value = "1,4,16,64,256")]
    sweep: Vec<u32>,
    /// Clients of the medians table.
    #[arg(long, default_value_t = 64)]
    clients: u32,
    /// Runs of each measurement in the medians table (interleaved).
    #[arg(long, default_value_t = 3)]
    runs: u32,
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    warmup: Duration,
    /// Window of each sweep point.
    #[arg(long, default_value = "4s", value_parser = parse_duration)]
    sweep_duration: Duration,
    /// The file whose generated part is replaced (created if missing).
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    /// Where the PNG plots go (linked from --out, relative to it).
    #[arg(long, default_value = "docs/bench")]
    plots: PathBuf,
    /// First of the ports used (API, metrics, and replicas' next ones).
    #[arg(long, default_value_t = 18600)]
    port: u16,
    /// A TrueType font for the plots' text.
    #[arg(
        long,
        default_value = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    )]
    font: PathBuf,
    /// The webhook delivery benchmark (`cargo build --release -p
    /// stableport-server --example webhook_bench`); its rows are left out
    /// when it is missing.
    #[arg(long, default_value = "target/release/examples/webhook_bench")]
    webhook_bench: PathBuf,
    /// The webhook benchmark of the build that first measured webhooks
    /// (`2d4e89b`; `scripts/bench-report` builds it), run beside today's in
    /// each run: the webhook target's ratio. Without it the target divides
    /// by the rates that build measured on another machine.
    #[arg(long)]
    webhook_baseline: Option<PathBuf>,
}

/// The scenarios of the medians table, in its order.
const SCENARIOS: [Scenario; 7] = [
    Scenario::Health,
    Scenario::CreateConversion,
    Scenario::CreateOrchestration,
    Scenario::ReadBalances,
    Scenario::ReadConversion,
    Scenario::ListConversions,
    Scenario::Mixed,
];

/// The scenarios of the sweep, and their plots.
const SWEPT: [Scenario; 4] = [
    Scenario::Health,
    Scenario::CreateConversion,
    Scenario::ReadBalances,
    Scenario::CreateOrchestration,
];

const CLIENT_ID: &str = "bench-report";

/// One measurement as the bench reported it, with what the server's
/// metrics said of its backlog afterwards.
#[derive(Clone, Debug)]
struct Point {
    rps: f64,
    p50: f64,
    p99: f64,
    errors: u64,
    /// Work due in the server when the window ended, and seconds to drain it.
    backlog: Option<(f64, f64)>,
}

impl Point {
    fn from_json(v: &Value) -> Point {
        let l = &v["latency_ms"];
        let f = |v: &Value| v.as_f64().unwrap_or(0.0);
        Point {
            rps: f(&v["throughput_rps"]),
            p50: f(&l["p50"]),
            p99: f(&l["p99"]),
            errors: v["errors"].as_u64().unwrap_or(0),
            backlog: None,
        }
    }
}

/// A server started on a fresh database, stopped (and its database
/// dropped) when dropped.
struct Server {
    child: Child,
    url: String,
    metrics: String,
    scratch: Scratch,
    /// Spawn to the first healthy answer, and resident memory when idle.
    started_in: Duration,
    /// Resident memory a second after start, and its anonymous part.
    idle_rss_kib: (u64, u64),
}

/// What a server's database is, for clean-up.
enum Scratch {
    File(PathBuf),
    Postgres { admin: String, name: String },
    Shared,
}

fn secret() -> String {
    format!("bench-report-{}", crate::run_id())
}

impl Server {
    async fn start(
        r: &ReportCli,
        backend: &str,
        port: u16,
        secret: &str,
    ) -> anyhow::Result<Server> {
        let tag = format!("sp_report_{}_{port}", std::process::id());
        let (url, scratch) = match backend {
            "sqlite" => {
                let file = std::env::temp_dir().join(format!("{tag}.db"));
                remove_sqlite(&file);
                (format!("sqlite://{}", file.display()), Scratch::File(file))
            }
            "postgres" => {
                let admin = format!("{}/postgres", r.pg_url.trim_end_matches('/'));
                psql(&admin, &format!("DROP DATABASE IF EXISTS {tag}"))?;
                psql(&admin, &format!("CREATE DATABASE {tag}"))?;
                let url = format!("{}/{tag}", r.pg_url.trim_end_matches('/'));
                (url, Scratch::Postgres { admin, name: tag })
            }
            other => bail!("unknown backend {other:?}: sqlite or postgres"),
        };
        Server::spawn(r, &url, port, secret, scratch).await
    }

    async fn spawn(
        r: &ReportCli,
        database: &str,
        port: u16,
        secret: &str,
        scratch: Scratch,
    ) -> anyhow::Result<Server> {
        let listen = format!("127.0.0.1:{port}");
        let metrics = format!("127.0.0.1:{}", port + 1);
        let begun = Instant::now();
        let child = Command::new(&r.server)
            .args(["serve", "--listen", &listen, "--metrics-listen", &metrics])
            .args(["--database-url", database, "--settlement-delay", "1s"])
            .args(["--client-id", CLIENT_ID, "--client-secret", secret])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", r.server.display()))?;
        let mut server = Server {
            child,
            url: format!("http://{listen}"),
            metrics: format!("http://{metrics}/metrics"),
            scratch,
            started_in: Duration::ZERO,
            idle_rss_kib: (0, 0),
        };
        let http = reqwest::Client::new();
        let health = format!("{}/health", server.url);
        loop {
            if let Ok(answer) = http.get(&health).send().await {
                if answer.status().is_success() {
                    break;
                }
            }
            if let Some(status) = server.child.try_wait()? {
                bail!("the server on {database} exited at start: {status}");
            }
            ensure!(
                begun.elapsed() < Duration::from_secs(60),
                "the server on {database} never answered /health"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        server.started_in = begun.elapsed();
        tokio::time::sleep(Duration::from_secs(1)).await;
        server.idle_rss_kib = resident_kib(server.child.id()).unwrap_or((0, 0));
        Ok(server)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Work due in the server now, by kind, from its metrics.
    async fn backlog(&self, work: &str) -> anyhow::Result<f64> {
        let text = reqwest::get(&self.metrics).await?.text().await?;
        let key = format!("stableport_backlog_due{{work=\"{work}\"}} ");
        let line = text.lines().find_map(|l| l.strip_prefix(&key));
        line.and_then(|v| v.trim().parse().ok())
            .with_context(|| format!("no {key} in the metrics"))
    }

    /// The backlog when called, and how long it took to drain (at most a minute).
    async fn drain(&self, work: &str) -> anyhow::Result<(f64, f64)> {
        let begun = Instant::now();
        let due = self.backlog(work).await?;
        while self.backlog(work).await? > 0.0 && begun.elapsed() < Duration::from_secs(60) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok((due, begun.elapsed().as_secs_f64()))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        match &self.scratch {
            Scratch::File(file) => remove_sqlite(file),
            Scratch::Postgres { admin, name } => {
                let _ = psql(admin, &format!("DROP DATABASE IF EXISTS {name}"));
            }
            Scratch::Shared => {}
        }
    }
}

fn remove_sqlite(file: &Path) {
    for suffix in ["", "-wal", "-shm", "-credentials"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
}

fn psql(url: &str, sql: &str) -> anyhow::Result<String> {
    let out = Command::new("psql")
        .args([url, "-XAtq", "-c", sql])
        .output()
        .context("running psql (PostgreSQL's client must be on PATH)")?;
    ensure!(
        out.status.success(),
        "psql {sql:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Resident memory and its anonymous part in KiB, from one read of
/// `/proc/<pid>/status`.
fn resident_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = |key: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    Some((kib("VmRSS:")?, kib("RssAnon:")?))
}

/// One load of `scenario` with `clients` workers against `urls`.
async fn measure(
    urls: &[String],
    secret: &str,
    scenario: Scenario,
    clients: u32,
    warmup: Duration,
    duration: Duration,
    pid: Option<u32>,
) -> anyhow::Result<Point> {
    let cli = Cli {
        url: urls.to_vec(),
        client_id: CLIENT_ID.to_string(),
        client_secret: secret.to_string(),
        scenario,
        concurrency: clients,
        duration,
        warmup,
        json: true,
        server_pid: pid,
    };
    let report = crate::run(cli).await?;
    Ok(Point::from_json(&report.to_json()))
}

/// One load on a single server, with the orchestrations' backlog drained
/// and timed after a create-orchestration.
async fn measure_on(
    server: &Server,
    secret: &str,
    scenario: Scenario,
    clients: u32,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<Point> {
    let urls = [server.url.clone()];
    let mut point = measure(
        &urls,
        secret,
        scenario,
        clients,
        warmup,
        duration,
        Some(server.pid()),
    )
    .await?;
    if scenario == Scenario::CreateOrchestration {
        point.backlog = Some(server.drain("orchestration_step").await?);
    }
    Ok(point)
}

/// pgbench tpcb-like on its own scratch database: transactions per second.
struct Pgbench {
    admin: String,
    url: String,
    name: String,
    /// PostgreSQL refuses connections past max_connections: pgbench's
    /// clients stop below it.
    max_clients: u32,
}

impl Pgbench {
    fn init(r: &ReportCli) -> anyhow::Result<Pgbench> {
        let name = format!("sp_report_pgbench_{}", std::process::id());
        let admin = format!("{}/postgres", r.pg_url.trim_end_matches('/'));
        psql(&admin, &format!("DROP DATABASE IF EXISTS {name}"))?;
        psql(&admin, &format!("CREATE DATABASE {name}"))?;
        let url = format!("{}/{name}", r.pg_url.trim_end_matches('/'));
        let out = Command::new(pgbench_bin())
            .args(["-i", "-s", "10", "-q", &url])
            .output()
            .context("running pgbench -i")?;
        ensure!(
            out.status.success(),
            "pgbench -i: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let max_connections: u32 = psql(&admin, "SHOW max_connections")?.parse().unwrap_or(100);
        let max_clients = max_connections.saturating_sub(10).max(1);
        Ok(Pgbench {
            admin,
            url,
            name,
            max_clients,
        })
    }

    fn run(&self, clients: u32, duration: Duration) -> anyhow::Result<f64> {
        let clients = clients.min(self.max_clients);
        let (c, t) = (clients.to_string(), duration.as_secs().max(1).to_string());
        let out = Command::new(pgbench_bin())
            .args([
                "-b",
                "tpcb-like",
                "-n",
                "-c",
                &c,
                "-j",
                "2",
                "-T",
                &t,
                &self.url,
            ])
            .output()
            .context("running pgbench")?;
        let text = String::from_utf8_lossy(&out.stdout);
        ensure!(
            out.status.success(),
            "pgbench: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        text.lines()
            .find_map(|l| l.strip_prefix("tps = "))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .context("pgbench printed no tps")
    }
}

impl Drop for Pgbench {
    fn drop(&mut self) {
        let _ = psql(
            &self.admin,
            &format!("DROP DATABASE IF EXISTS {}", self.name),
        );
    }
}

fn pgbench_bin() -> PathBuf {
    let on_path = Command::new("pgbench").arg("--version").output().is_ok();
    if on_path {
        return "pgbench".into();
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|d| d.path().join("bin/pgbench"))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found.pop().unwrap_or_else(|| "pgbench".into())
}

/// sqlite3's own CLI, WAL and synchronous=FULL as the server runs it: single-row
/// INSERTs, each its own durable commit, per second.
fn sqlite3_commits() -> anyhow::Result<f64> {
    const COMMITS: usize = 5000;
    let file = std::env::temp_dir().join(format!("sp_report_sqlite3_{}.db", std::process::id()));
    remove_sqlite(&file);
    let mut script = String::from(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);\n",
    );
    for i in 0..COMMITS {
        script.push_str(&format!("INSERT INTO t(v) VALUES('row {i}');\n"));
    }
    let begun = Instant::now();
    let mut child = Command::new("sqlite3")
        .arg(&file)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .context("running sqlite3 (Debian package sqlite3)")?;
    use std::io::Write;
    child
        .stdin
        .take()
        .context("sqlite3 stdin")?
        .write_all(script.as_bytes())?;
    let status = child.wait()?;
    let seconds = begun.elapsed().as_secs_f64();
    remove_sqlite(&file);
    ensure!(status.success(), "sqlite3 failed: {status}");
    Ok(COMMITS as f64 / seconds)
}

fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// Everything measured, for the Markdown and the plots.
#[derive(Default)]
struct Results {
    /// (backend, scenario) -> one point per run.
    runs: Vec<(String, Scenario, Vec<Point>)>,
    pgbench_runs: Vec<f64>,
    /// (backend, deliveries per second) per run.
    webhook_runs: Vec<(String, f64)>,
    /// The same from `--webhook-baseline`, each run just before today's.
    webhook_baseline_runs: Vec<(String, f64)>,
    sqlite3_runs: Vec<f64>,
    /// (backend, scenario, clients) -> point.
    sweep: Vec<(String, Scenario, u32, Point)>,
    pgbench_sweep: Vec<(u32, f64)>,
    /// The most clients pgbench could have (PostgreSQL's max_connections).
    pgbench_max: Option<u32>,
    /// Per run: one replica's create-conversion rate, then three's.
    replicas: Vec<(f64, f64)>,
    /// (backend, start, idle RSS KiB) per server started.
    starts: Vec<(String, Duration, (u64, u64))>,
}

impl Results {
    fn runs_of(&self, backend: &str, scenario: Scenario) -> Option<&Vec<Point>> {
        (self.runs.iter())
            .find(|(b, s, _)| b == backend && *s == scenario)
            .map(|(_, _, p)| p)
    }

    fn add_run(&mut self, backend: &str, scenario: Scenario, point: Point) {
        match self
            .runs
            .iter_mut()
            .find(|(b, s, _)| b == backend && *s == scenario)
        {
            Some((_, _, points)) => points.push(point),
            None => self.runs.push((backend.to_string(), scenario, vec![point])),
        }
    }

    /// Median over runs of (scenario / same run's /health).
    fn ratio(&self, backend: &str, scenario: Scenario) -> Option<f64> {
        let health = self.runs_of(backend, Scenario::Health)?;
        let points = self.runs_of(backend, scenario)?;
        let ratios = points
            .iter()
            .zip(health)
            .map(|(p, h)| p.rps / h.rps.max(1e-9));
        Some(median(ratios.collect()))
    }
}

pub async fn run(r: ReportCli) -> anyhow::Result<()> {
    ensure!(
        r.server.exists(),
        "no server binary at {} (cargo build --release first)",
        r.server.display()
    );
    let font =
        std::fs::read(&r.font).with_context(|| format!("reading the font {}", r.font.display()))?;
    plot::register_font(font);
    let with_pg = r.backends.iter().any(|b| b == "postgres");
    let steps = plan_size(&r, with_pg);
    let bar = ProgressBar::new(steps);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let mut results = Results::default();
    let pgbench = if with_pg {
        Some(Pgbench::init(&r)?)
    } else {
        None
    };
    results.pgbench_max = pgbench.as_ref().map(|p| p.max_clients);
    let secret = secret();

    for run in 1..=r.runs {
        for backend in &r.backends {
            let server = Server::start(&r, backend, r.port, &secret).await?;
            results
                .starts
                .push((backend.clone(), server.started_in, server.idle_rss_kib));
            for scenario in SCENARIOS {
                say(
                    &bar,
                    format!(
                        "run {run}/{}: {backend} {} x{}",
                        r.runs,
                        scenario.name(),
                        r.clients
                    ),
                );
                let point =
                    measure_on(&server, &secret, scenario, r.clients, r.warmup, r.duration).await?;
                results.add_run(backend, scenario, point);
                bar.inc(1);
            }
        }
        if let Some(pgbench) = &pgbench {
            say(
                &bar,
                format!("run {run}/{}: pgbench tpcb-like x{}", r.runs, r.clients),
            );
            results
                .pgbench_runs
                .push(pgbench.run(r.clients, r.duration)?);
            bar.inc(1);
            say(&bar, format!("run {run}/{}: 1 replica, then 3", r.runs));
            results.replicas.push(replicas(&r, &secret).await?);
            bar.inc(1);
        }
        say(
            &bar,
            format!("run {run}/{}: sqlite3 durable commits", r.runs),
        );
        results.sqlite3_runs.push(sqlite3_commits()?);
        bar.inc(1);
        if r.webhook_bench.exists() {
            for backend in &r.backends {
                if let Some(baseline) = &r.webhook_baseline {
                    let step = format!(
                        "run {run}/{}: {backend} webhook deliveries, 2d4e89b",
                        r.runs
                    );
                    say(&bar, step);
                    let rate = webhook_deliveries(&r, baseline, backend)?;
                    results.webhook_baseline_runs.push((backend.clone(), rate));
                    bar.inc(1);
                }
                say(
                    &bar,
                    format!("run {run}/{}: {backend} webhook deliveries", r.runs),
                );
                let rate = webhook_deliveries(&r, &r.webhook_bench, backend)?;
                results.webhook_runs.push((backend.clone(), rate));
                bar.inc(1);
            }
        }
    }

    for backend in &r.backends {
        let server = Server::start(&r, backend, r.port, &secret).await?;
        for &clients in &r.sweep {
            for scenario in SWEPT {
                say(
                    &bar,
                    format!("sweep: {backend} {} x{clients}", scenario.name()),
                );
                let warmup = Duration::from_secs(1);
                let point = measure_on(
                    &server,
                    &secret,
                    scenario,
                    clients,
                    warmup,
                    r.sweep_duration,
                )
                .await;
                // One point lost must not lose the run: it is left out.
                match point {
                    Ok(point) => (results.sweep).push((backend.clone(), scenario, clients, point)),
                    Err(e) => note(
                        &bar,
                        format!("left out: {backend} {} x{clients}: {e:#}", scenario.name()),
                    ),
                }
                bar.inc(1);
            }
        }
    }
    if let Some(pgbench) = &pgbench {
        for &clients in &r.sweep {
            say(&bar, format!("sweep: pgbench x{clients}"));
            match pgbench.run(clients, r.sweep_duration) {
                Ok(tps) => results.pgbench_sweep.push((clients, tps)),
                Err(e) => note(&bar, format!("left out: pgbench x{clients}: {e:#}")),
            }
            bar.inc(1);
        }
    }
    bar.finish_with_message("measured; writing the report");
    write(&r, &results)
}

/// The step now running: on the bar, or one line each when stderr is no
/// terminal (a CI log), where indicatif draws nothing.
fn say(bar: &ProgressBar, message: String) {
    if bar.is_hidden() {
        let at = bar.elapsed().as_secs();
        let (done, all) = (bar.position() + 1, bar.length().unwrap_or(0));
        eprintln!("{:02}:{:02} [{done}/{all}] {message}", at / 60, at % 60);
    }
    bar.set_message(message);
}

/// A burst of sandbox deposits, each delivered to its customer's 10
/// webhooks: deliveries per second from the first event to the last
/// receipt. "Webhooks" below first measured 3,000 deposits from 32 clients
/// to 10 customers. Each webhook takes at most 100/s, so 10 customers cap
/// the burst at 10,000/s: twice the first build's rate here. 40 customers
/// lift the cap to 40,000/s, and 6,000 deposits from 64 clients outrun the
/// deliveries, so the burst measures the deliveries, not the deposits.
fn webhook_deliveries(r: &ReportCli, bench: &Path, backend: &str) -> anyhow::Result<f64> {
    let database = match backend {
        "postgres" => format!("{}/postgres", r.pg_url.trim_end_matches('/')),
        _ => "sqlite".to_string(),
    };
    let out = Command::new(bench)
        .args([
            "--scenario",
            "throughput",
            "--events",
            "6000",
            "--customers",
            "40",
        ])
        .args([
            "--webhooks",
            "10",
            "--concurrency",
            "64",
            "--database-url",
            &database,
        ])
        .output()
        .with_context(|| format!("running {}", bench.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "webhook_bench: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .find_map(|l| l.strip_prefix("throughput: "))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .context("webhook_bench printed no throughput")
}

/// A line above the bar (indicatif prints nothing when it is hidden).
fn note(bar: &ProgressBar, line: String) {
    match bar.is_hidden() {
        true => eprintln!("{line}"),
        false => bar.println(line),
    }
}

fn plan_size(r: &ReportCli, with_pg: bool) -> u64 {
    let backends = r.backends.len() as u64;
    let webhooks = match (r.webhook_bench.exists(), &r.webhook_baseline) {
        (false, _) => 0,
        (true, None) => backends,
        (true, Some(_)) => 2 * backends,
    };
    let per_run = backends * SCENARIOS.len() as u64 + 1 + webhooks + if with_pg { 2 } else { 0 };
    let sweep = r.sweep.len() as u64 * (backends * SWEPT.len() as u64 + u64::from(with_pg));
    per_run * u64::from(r.runs) + sweep
}

/// create-conversion on one replica, then on three sharing one PostgreSQL
/// database (the workers spread over them), same clients and window.
async fn replicas(r: &ReportCli, secret: &str) -> anyhow::Result<(f64, f64)> {
    let scenario = Scenario::CreateConversion;
    let measure_on = |urls: Vec<String>| async move {
        measure(
            &urls, secret, scenario, r.clients, r.warmup, r.duration, None,
        )
        .await
    };
    let alone = Server::start(r, "postgres", r.port + 10, secret).await?;
    let one = measure_on(vec![alone.url.clone()]).await?;
    drop(alone);
    // Three on a fresh database of their own: neither side inherits the
    // other's rows or its settlement backlog.
    let first = Server::start(r, "postgres", r.port + 16, secret).await?;
    let Scratch::Postgres { name, .. } = &first.scratch else {
        bail!("replicas run on PostgreSQL");
    };
    let database = format!("{}/{name}", r.pg_url.trim_end_matches('/'));
    let second = Server::spawn(r, &database, r.port + 12, secret, Scratch::Shared).await?;
    let third = Server::spawn(r, &database, r.port + 14, secret, Scratch::Shared).await?;
    let urls = vec![first.url.clone(), second.url.clone(), third.url.clone()];
    let three = measure_on(urls).await?;
    drop((second, third, first));
    Ok((one.rps, three.rps))
}

const BEGIN: &str =
    "<!-- stableport-bench report: begin (generated; edit crates/bench/src/report.rs) -->";
const END: &str = "<!-- stableport-bench report: end -->";

fn write(r: &ReportCli, results: &Results) -> anyhow::Result<()> {
    std::fs::create_dir_all(&r.plots)?;
    let base = r
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let link = |file: &str| {
        let path = r.plots.join(file);
        let shown = path
            .strip_prefix(base)
            .unwrap_or(&path)
            .display()
            .to_string();
        (path, shown)
    };
    let mut plots = Vec::new();
    for backend in &r.backends {
        let (path, shown) = link(&format!("throughput-{backend}.png"));
        plot::throughput(
            &path,
            &format!("Throughput against clients, {backend}"),
            &throughput_series(results, backend),
        )?;
        let (lat_path, lat_shown) = link(&format!("latency-{backend}.png"));
        plot::latency(
            &lat_path,
            &format!("Latency percentiles, {backend}"),
            &latency_series(results, backend),
        )?;
        plots.push((backend.clone(), shown, lat_shown));
    }
    let text = markdown(r, results, &plots);
    let old = std::fs::read_to_string(&r.out).unwrap_or_else(|_| "# Benchmarks\n".to_string());
    let new = splice(&old, &text);
    std::fs::write(&r.out, new).with_context(|| format!("writing {}", r.out.display()))?;
    eprintln!(
        "wrote {} and {} plots in {}",
        r.out.display(),
        plots.len() * 2,
        r.plots.display()
    );
    Ok(())
}

/// Replaces the generated block, or puts it under the first heading.
fn splice(old: &str, block: &str) -> String {
    let block = format!("{BEGIN}\n{block}{END}\n");
    if let (Some(b), Some(e)) = (old.find(BEGIN), old.find(END)) {
        if b < e {
            return format!(
                "{}{block}\n{}",
                &old[..b],
                old[e + END.len()..].trim_start_matches('\n')
            );
        }
    }
    match old.find('\n') {
        Some(i) if old.starts_with("# ") => format!(
            "{}\n\n{block}\n{}",
            &old[..i],
            old[i + 1..].trim_start_matches('\n')
        ),
        _ => format!("{block}\n{old}"),
    }
}

fn throughput_series(results: &Results, backend: &str) -> Vec<Series> {
    let mut all: Vec<Series> = SWEPT
        .iter()
        .map(|&s| Series {
            name: s.name().to_string(),
            points: (results.sweep.iter())
                .filter(|(b, sc, _, _)| b == backend && *sc == s)
                .map(|(_, _, c, p)| (f64::from(*c), p.rps))
                .collect(),
        })
        .collect();
    if backend == "postgres" && !results.pgbench_sweep.is_empty() {
        all.push(Series {
            name: match results.pgbench_max {
                Some(max) if results.pgbench_sweep.iter().any(|(c, _)| *c > max) => {
                    format!("pgbench tpcb-like (at most {max} clients)")
                }
                _ => "pgbench tpcb-like".into(),
            },
            points: results
                .pgbench_sweep
                .iter()
                .map(|(c, t)| (f64::from(*c), *t))
                .collect(),
        });
    }
    if backend == "sqlite" && !results.sqlite3_runs.is_empty() {
        let commits = median(results.sqlite3_runs.clone());
        let mut xs: Vec<u32> = results.sweep.iter().map(|(_, _, c, _)| *c).collect();
        xs.sort_unstable();
        xs.dedup();
        all.push(Series {
            name: "sqlite3 durable commits (1 connection)".into(),
            points: xs.into_iter().map(|x| (f64::from(x), commits)).collect(),
        });
    }
    all
}

fn latency_series(results: &Results, backend: &str) -> Vec<Series> {
    let mut all = Vec::new();
    for scenario in [
        Scenario::CreateConversion,
        Scenario::ReadBalances,
        Scenario::Health,
    ] {
        for (label, pick) in [("p50", 0), ("p99", 1)] {
            all.push(Series {
                name: format!("{} {label}", scenario.name()),
                points: (results.sweep.iter())
                    .filter(|(b, s, _, _)| b == backend && *s == scenario)
                    .map(|(_, _, c, p)| (f64::from(*c), if pick == 0 { p.p50 } else { p.p99 }))
                    .collect(),
            });
        }
    }
    all
}

fn command_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".to_string())
}

/// What the numbers were measured on.
fn machine(r: &ReportCli) -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = (cpuinfo.lines())
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown".into());
    let cpus = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = (meminfo.lines())
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kib| format!("{:.0} GiB", kib as f64 / 1048576.0))
        .unwrap_or_else(|| "unknown".into());
    let admin = format!("{}/postgres", r.pg_url.trim_end_matches('/'));
    let postgres = psql(&admin, "SHOW server_version").unwrap_or_else(|_| "not used".into());
    // The report's own outputs, written before this, are not the build's.
    let out = format!(":(exclude){}", r.out.display());
    let plots = format!(":(exclude){}", r.plots.display());
    let status = [
        "status",
        "--porcelain",
        "--untracked-files=no",
        "--",
        ".",
        &out,
        &plots,
    ];
    let mut dirty = command_line("git", &status);
    dirty = if dirty.is_empty() {
        String::new()
    } else {
        " with uncommitted changes".into()
    };
    format!(
        "- Machine: {model}, {cpus} CPUs, {memory}, Linux {}; the load generator, the server and the database share them.\n\
         - PostgreSQL {postgres} (local, default settings); SQLite through sqlx's bundled library, sqlite3 CLI {}.\n\
         - Build: `{}`{dirty}, release profile; load: stableport-bench (reqwest, one request in flight per client).\n",
        command_line("uname", &["-r"]),
        command_line("sqlite3", &["--version"]).split_whitespace().next().unwrap_or("unknown"),
        command_line("git", &["rev-parse", "--short", "HEAD"]),
    )
}

fn runs_text(points: &[Point]) -> String {
    let each: Vec<String> = points.iter().map(|p| format!("{:.0}", p.rps)).collect();
    each.join(" / ")
}

fn markdown(r: &ReportCli, results: &Results, plots: &[(String, String, String)]) -> String {
    use std::fmt::Write;
    let mut md = String::new();
    let date = command_line("date", &["-u", "+%Y-%m-%d"]);
    let _ = writeln!(
        md,
        "## Every scenario on both backends ({date}, generated)\n"
    );
    let _ = writeln!(
        md,
        "Regenerated by one command, `scripts/bench-report` (it builds the release binaries and runs \
         `stableport-bench report`; about {} minutes). Each ratio is taken within one run, against the \
         same server's `/health` under the same load generator, then the median over {} runs; \
         absolute numbers move by half with the machine's other load, ratios much less.\n",
        estimate_minutes(r),
        r.runs
    );
    md.push_str(&machine(r));
    md.push('\n');
    targets(&mut md, r, results);
    let _ = writeln!(
        md,
        "### Medians at {} clients ({} runs of {} s after {} s warm-up, a fresh database per run)\n",
        r.clients,
        r.runs,
        r.duration.as_secs(),
        r.warmup.as_secs()
    );
    medians(&mut md, r, results);
    md.push_str(
        "\nScenarios: `health` is `GET /health` (no token, no database); `create-conversion` and \
         `create-orchestration` create USD to USDP 1.00, each client on its own funded profile; \
         `read-balances`, `read-conversion` and `list-conversions` (a page of 100) are authenticated \
         reads; `mixed` is four reads then one create per client, in turn.\n\n",
    );
    sweep(&mut md, r, results, plots);
    md
}

/// The medians table: each scenario on each backend, then the baselines.
fn medians(md: &mut String, r: &ReportCli, results: &Results) {
    use std::fmt::Write;
    md.push_str("| Scenario | Backend | each run, req/s | median req/s | x /health | p50 ms | p99 ms | errors |\n");
    md.push_str("|---|---|---|---|---|---|---|---|\n");
    for scenario in SCENARIOS {
        for backend in &r.backends {
            let Some(points) = results.runs_of(backend, scenario) else {
                continue;
            };
            let rps = median(points.iter().map(|p| p.rps).collect());
            let p50 = median(points.iter().map(|p| p.p50).collect());
            let p99 = median(points.iter().map(|p| p.p99).collect());
            let errors: u64 = points.iter().map(|p| p.errors).sum();
            let ratio = results.ratio(backend, scenario).unwrap_or(0.0);
            let _ = writeln!(
                md,
                "| {} | {backend} | {} | {rps:.0} | {ratio:.2} | {p50:.2} | {p99:.2} | {errors} |",
                scenario.name(),
                runs_text(points)
            );
        }
    }
    baseline_row(md, "pgbench tpcb-like", "postgres", &results.pgbench_runs);
    for backend in &r.backends {
        let name = "webhook deliveries (burst, 40 x 10 webhooks)";
        baseline_row(md, name, backend, &webhook_runs(results, backend));
        let name = "webhook deliveries, `2d4e89b` (the first build)";
        baseline_row(md, name, backend, &first_build_runs(results, backend));
    }
    let name = "sqlite3 durable commits (one connection)";
    baseline_row(md, name, "sqlite", &results.sqlite3_runs);
}

/// A row of per-second figures with no /health ratio; none when not run.
fn baseline_row(md: &mut String, name: &str, backend: &str, runs: &[f64]) {
    use std::fmt::Write;
    if runs.is_empty() {
        return;
    }
    let each: Vec<String> = runs.iter().map(|t| format!("{t:.0}")).collect();
    let _ = writeln!(
        md,
        "| {name} | {backend} | {} | {:.0} | | | | |",
        each.join(" / "),
        median(runs.to_vec())
    );
}

fn webhook_runs(results: &Results, backend: &str) -> Vec<f64> {
    of_backend(&results.webhook_runs, backend)
}

fn first_build_runs(results: &Results, backend: &str) -> Vec<f64> {
    of_backend(&results.webhook_baseline_runs, backend)
}

fn of_backend(runs: &[(String, f64)], backend: &str) -> Vec<f64> {
    (runs.iter())
        .filter(|(b, _)| b == backend)
        .map(|(_, deliveries)| *deliveries)
        .collect()
}

fn estimate_minutes(r: &ReportCli) -> u64 {
    let with_pg = r.backends.iter().any(|b| b == "postgres");
    let window = (r.duration + r.warmup).as_secs() + 2;
    let per_run = (r.backends.len() * SCENARIOS.len()) as u64 * window
        + if with_pg { window * 3 } else { 0 }
        + if r.webhook_bench.exists() {
            20 * r.backends.len() as u64 * (1 + u64::from(r.webhook_baseline.is_some()))
        } else {
            0
        }
        + 5;
    let sweep = r.sweep.len() as u64
        * ((r.backends.len() * SWEPT.len()) as u64 + u64::from(with_pg))
        * (r.sweep_duration.as_secs() + 3);
    (per_run * u64::from(r.runs) + sweep).div_ceil(60)
}

fn targets(md: &mut String, r: &ReportCli, results: &Results) {
    md.push_str("### The performance issue's targets, as measured here\n\n");
    md.push_str("| Target | Measured | |\n|---|---|---|\n");
    ratio_targets(md, r, results);
    postgres_targets(md, r, results);
    delivery_targets(md, r, results);
    start_targets(md, r, results);
    md.push('\n');
}

/// One line of the targets table.
fn target_row(md: &mut String, target: &str, measured: &str, met: bool) {
    use std::fmt::Write;
    let verdict = if met { "met" } else { "**not met**" };
    let _ = writeln!(md, "| {target} | {measured} | {verdict} |");
}

/// Creates and reads against /health.
fn ratio_targets(md: &mut String, r: &ReportCli, results: &Results) {
    if let Some(ratio) = results.ratio("sqlite", Scenario::CreateConversion) {
        let target = format!(
            "SQLite create-conversion >= 0.15 x /health at {} clients",
            r.clients
        );
        target_row(md, &target, &format!("{ratio:.3} x"), ratio >= 0.15);
    }
    for backend in &r.backends {
        for scenario in [
            Scenario::ReadBalances,
            Scenario::ReadConversion,
            Scenario::ListConversions,
        ] {
            if let Some(ratio) = results.ratio(backend, scenario) {
                let target = format!("{backend} {} >= 0.5 x /health", scenario.name());
                target_row(md, &target, &format!("{ratio:.2} x"), ratio >= 0.5);
            }
        }
    }
}

/// Creates against pgbench, and three replicas against one.
fn postgres_targets(md: &mut String, r: &ReportCli, results: &Results) {
    if let Some(creates) = results.runs_of("postgres", Scenario::CreateConversion) {
        let ratios: Vec<f64> = (creates.iter().zip(&results.pgbench_runs))
            .map(|(c, t)| c.rps / t.max(1e-9))
            .collect();
        if !ratios.is_empty() {
            let ratio = median(ratios);
            let target = format!(
                "PostgreSQL create-conversion >= 1.5 x pgbench tpcb-like, {} clients each",
                r.clients
            );
            target_row(md, &target, &format!("{ratio:.2} x"), ratio >= 1.5);
        }
    }
    if !results.replicas.is_empty() {
        let replicas = &results.replicas;
        let ratio = median(
            replicas
                .iter()
                .map(|(one, three)| three / one.max(1e-9))
                .collect(),
        );
        let each: Vec<String> = (replicas.iter())
            .map(|(one, three)| format!("{one:.0} -> {three:.0}"))
            .collect();
        let target = format!(
            "Three replicas on one PostgreSQL >= 1.0 x one (create-conversion, req/s per run: {})",
            each.join(", ")
        );
        target_row(md, &target, &format!("{ratio:.2} x"), ratio >= 1.0);
    }
}

/// Orchestrations against conversions, and webhook deliveries.
fn delivery_targets(md: &mut String, r: &ReportCli, results: &Results) {
    for backend in &r.backends {
        let (Some(orch), Some(conv)) = (
            results.runs_of(backend, Scenario::CreateOrchestration),
            results.runs_of(backend, Scenario::CreateConversion),
        ) else {
            continue;
        };
        let ratios = (orch.iter().zip(conv)).map(|(o, c)| o.rps / c.rps.max(1e-9));
        let ratio = median(ratios.collect());
        let drain = median(orch.iter().filter_map(|p| p.backlog.map(|b| b.1)).collect());
        let due = median(orch.iter().filter_map(|p| p.backlog.map(|b| b.0)).collect());
        let target = format!("{backend}: orchestrations created at the conversion rate, and delivered (backlog at the window's end, time to drain it)");
        let measured = format!("{ratio:.2} x; {due:.0} due, drained in {drain:.1} s");
        target_row(md, &target, &measured, ratio >= 0.9 && drain < 5.0);
    }
    for (backend, measured_then) in [("sqlite", 3592.0), ("postgres", 4109.0)] {
        let runs = webhook_runs(results, backend);
        if runs.is_empty() {
            continue;
        }
        let first = first_build_runs(results, backend);
        let (before, whose) = match first.is_empty() {
            false => (
                median(first),
                "of `2d4e89b`, the first build, run beside it",
            ),
            true => (measured_then, "first measured, on another machine"),
        };
        let ratio = median(runs) / before;
        let target =
            format!("{backend}: webhook deliveries at twice the rate {whose} ({before:.0}/s)");
        target_row(md, &target, &format!("{ratio:.2} x"), ratio >= 2.0);
    }
}

/// Cold start and idle memory.
fn start_targets(md: &mut String, r: &ReportCli, results: &Results) {
    for backend in &r.backends {
        let starts: Vec<_> = (results.starts.iter())
            .filter(|(b, _, _)| b == backend)
            .collect();
        if starts.is_empty() {
            continue;
        }
        let ms = median(
            starts
                .iter()
                .map(|(_, d, _)| d.as_secs_f64() * 1000.0)
                .collect(),
        );
        let mib = median(starts.iter().map(|(_, _, k)| k.0 as f64 / 1024.0).collect());
        let anon = median(starts.iter().map(|(_, _, k)| k.1 as f64 / 1024.0).collect());
        let target = format!("{backend}: cold start (spawn to first healthy answer, fresh database with migrations) and idle memory, as before (about 20 ms, 14 MB)");
        target_row(
            md,
            &target,
            &format!("{ms:.0} ms, {mib:.1} MiB ({anon:.1} MiB anonymous)"),
            ms < 30.0 && mib < 16.0,
        );
    }
}

fn sweep(md: &mut String, r: &ReportCli, results: &Results, plots: &[(String, String, String)]) {
    use std::fmt::Write;
    let _ = writeln!(
        md,
        "### Against concurrency ({} s windows after 1 s, one server per backend)\n",
        r.sweep_duration.as_secs()
    );
    for (backend, throughput, latency) in plots {
        let _ = writeln!(
            md,
            "![Throughput against clients, {backend}]({throughput})\n"
        );
        let _ = writeln!(
            md,
            "![Latency percentiles against clients, {backend}]({latency})\n"
        );
        md.push_str("| Clients |");
        for s in SWEPT {
            let _ = write!(md, " {} req/s |", s.name());
        }
        md.push_str(" create-conversion p50 / p99 ms |");
        let pgbench = backend == "postgres" && !results.pgbench_sweep.is_empty();
        if pgbench {
            md.push_str(" pgbench tps |");
        }
        let capped = results
            .pgbench_max
            .filter(|max| r.sweep.iter().any(|c| c > max));
        md.push_str("\n|---|");
        md.push_str(&"---|".repeat(SWEPT.len() + 1 + usize::from(pgbench)));
        md.push('\n');
        for &clients in &r.sweep {
            let at = |s: Scenario| {
                (results.sweep.iter())
                    .find(|(b, sc, c, _)| b == backend && *sc == s && *c == clients)
                    .map(|(_, _, _, p)| p.clone())
            };
            let _ = write!(md, "| {clients} |");
            for s in SWEPT {
                let _ = write!(
                    md,
                    " {} |",
                    at(s).map(|p| format!("{:.0}", p.rps)).unwrap_or_default()
                );
            }
            let create = at(Scenario::CreateConversion);
            let _ = write!(
                md,
                " {} |",
                create
                    .map(|p| format!("{:.1} / {:.1}", p.p50, p.p99))
                    .unwrap_or_default()
            );
            if pgbench {
                let tps = results.pgbench_sweep.iter().find(|(c, _)| *c == clients);
                let tps = tps.map(|(c, t)| (c, t, capped.filter(|max| c > max)));
                let _ = write!(
                    md,
                    " {} |",
                    tps.map(|(_, t, cap)| match cap {
                        Some(max) => format!("{t:.0} ({max} clients)"),
                        None => format!("{t:.0}"),
                    })
                    .unwrap_or_default()
                );
            }
            md.push('\n');
        }
        md.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regenerating_replaces_only_the_generated_part() {
        let first = splice("# Benchmarks\n\n## History\nkept\n", "one\n");
        assert!(first.starts_with(&format!("# Benchmarks\n\n{BEGIN}\none\n{END}\n")));
        assert!(first.ends_with("## History\nkept\n"), "{first}");
        let second = splice(&first, "two\n");
        assert_eq!(second, first.replace("one\n", "two\n"));
        assert_eq!(splice("", "x\n"), format!("{BEGIN}\nx\n{END}\n\n"));
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(vec![]), 0.0);
    }
}
