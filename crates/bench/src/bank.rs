//! `stableport-bench bank`: money is never wrong under retries, replicas and
//! crashes. Starts `--replicas` copies of the real `stableport serve` on one
//! database, runs `--clients` that move money between shared profiles
//! (conversions and cancels, orchestrations to profiles, banks and chains,
//! crypto and fiat withdrawals, internal transfers, some of them failing on
//! purpose, rule-triggered chain deposits), loses
//! some answers on purpose and retries them with the same `ref_id` (or
//! transaction hash), and SIGKILLs a replica every `--kill-every` and starts
//! it again. Then it checks from the outside, against the clients' own
//! records: every acknowledged create exists once as asked, every
//! acknowledged cancel is CANCELLED, nothing is left CREATED or PROCESSING,
//! no balance is negative, every balance equals its deposits plus the
//! effects of the acknowledged operations, no answer was a 5xx, and
//! `stableport audit` is clean. Exit status 1 on any violation.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use clap::Parser;
use reqwest::Method;
use serde_json::{json, Value};
use stableport_client::Client;
use tokio::process::{Child, Command};
use tokio::sync::Mutex;

#[derive(Parser, Debug)]
#[command(
    name = "stableport-bench bank",
    about = "Bank test: replicas, crashes, lost answers"
)]
pub struct BankCli {
    /// A fresh, empty database (postgres://… for several replicas).
    #[arg(long)]
    database_url: String,
    #[arg(long, default_value_t = 3)]
    replicas: usize,
    #[arg(long, default_value_t = 32)]
    clients: usize,
    #[arg(long, default_value = "60s", value_parser = crate::parse_duration)]
    duration: Duration,
    /// SIGKILL one replica this often (0s: never).
    #[arg(long, default_value = "10s", value_parser = crate::parse_duration)]
    kill_every: Duration,
    /// The `stableport` binary; by default the one beside this program.
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Percent of answers the clients pretend to lose and send again.
    #[arg(long, default_value_t = 10)]
    lose_percent: u64,
}

const PROFILES: usize = 6;
const FUNDING: i64 = 1_000_000;
const SECRET: &str = "bank-test-secret-0123456789abcdef";
/// Withdrawals and orchestrations to the second fail on purpose.
const CHAIN_ADDRESSES: [&str; 2] = [
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
];

/// What a client asked for and was told, in whole units.
#[derive(Clone, Debug)]
enum Op {
    Conversion {
        id: String,
        profile: usize,
        amount: i64,
    },
    Orchestration {
        id: String,
        from: usize,
        to: Target,
        asset: &'static str,
        amount: i64,
    },
    Deposit {
        orchestration: String,
        profile: usize,
        amount: i64,
    },
    /// A crypto or fiat withdrawal: COMPLETED takes it, FAILED refunds it.
    Withdrawal {
        id: String,
        from: usize,
        asset: &'static str,
        amount: i64,
    },
    /// Between two profiles, at once.
    Internal { from: usize, to: usize, amount: i64 },
}

#[derive(Clone, Copy, Debug)]
enum Target {
    Profile(usize),
    Outside,
}

#[derive(Default)]
struct Records {
    ops: Vec<Op>,
    cancelled: Vec<String>,
    server_errors: Vec<String>,
    requests: u64,
}

struct Replica {
    port: u16,
    child: Option<Child>,
}

struct Cluster {
    bin: PathBuf,
    database_url: String,
    replicas: Vec<Mutex<Replica>>,
}

impl Cluster {
    async fn start(&self, i: usize) -> anyhow::Result<()> {
        let mut replica = self.replicas[i].lock().await;
        let child = Command::new(&self.bin)
            .args(["serve", "--listen", &format!("127.0.0.1:{}", replica.port)])
            .args([
                "--database-url",
                &self.database_url,
                "--settlement-delay",
                "300ms",
            ])
            .args(["--client-id", "bank", "--client-secret", SECRET])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", self.bin.display()))?;
        replica.child = Some(child);
        let health = format!("http://127.0.0.1:{}/health", replica.port);
        for _ in 0..200 {
            if reqwest::get(&health)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("replica {i} did not come up")
    }

    async fn kill(&self, i: usize) {
        if let Some(mut child) = self.replicas[i].lock().await.child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }

    fn url(&self, i: usize, ports: &[u16]) -> String {
        format!("http://127.0.0.1:{}", ports[i % ports.len()])
    }
}

/// Sends one request until some replica gives a definitive answer: a
/// dropped connection (a killed replica) is retried on the next one.
async fn send(
    clients: &[Client],
    start: usize,
    method: Method,
    path: &str,
    body: &Value,
    records: &Mutex<Records>,
) -> (u16, Value) {
    let bytes = body.to_string().into_bytes();
    // About a minute of trying: a replica is down for a second at most.
    for attempt in 0..1200 {
        let client = &clients[(start + attempt) % clients.len()];
        let sent = client
            .raw(
                method.clone(),
                path,
                Some(("application/json", bytes.clone())),
            )
            .await;
        records.lock().await.requests += 1;
        match sent {
            Ok((status, _, _)) if status.as_u16() == 503 => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok((status, _, answer)) => {
                if status.is_server_error() {
                    records
                        .lock()
                        .await
                        .server_errors
                        .push(format!("{path}: {status} {answer}"));
                }
                return (status.as_u16(), answer);
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    let unanswered = format!("{path}: no replica answered for a minute");
    records.lock().await.server_errors.push(unanswered);
    (0, Value::Null)
}

/// A create: sent, maybe "lost" and sent again; returns the resource's id
/// when it exists (200, or 409 with `meta.existing`).
async fn create(
    clients: &[Client],
    n: usize,
    path: &str,
    body: &Value,
    lose: bool,
    records: &Mutex<Records>,
) -> anyhow::Result<Option<Value>> {
    let (status, answer) = send(clients, n, Method::POST, path, body, records).await;
    let stored = match status {
        200 => Some(answer),
        409 => Some(answer["meta"]["existing"].clone()),
        _ => None,
    };
    if !lose || stored.is_none() {
        return Ok(stored);
    }
    // The answer was "lost": the retry must name the same resource.
    let (status, again) = send(clients, n + 1, Method::POST, path, body, records).await;
    let first = stored.unwrap_or_default();
    ensure!(
        status == 409 && again["meta"]["existing"]["id"] == first["id"],
        "retry of {path} {body} answered {status} {again}, first {first}"
    );
    Ok(Some(first))
}

pub async fn run(cli: BankCli) -> anyhow::Result<()> {
    let bin = match cli.server_bin.clone() {
        Some(bin) => bin,
        None => std::env::current_exe()?.with_file_name("stableport"),
    };
    let ports: Vec<u16> = (0..cli.replicas)
        .map(|_| free_port())
        .collect::<anyhow::Result<_>>()?;
    let cluster = Arc::new(Cluster {
        bin,
        database_url: cli.database_url.clone(),
        replicas: ports
            .iter()
            .map(|&port| Mutex::new(Replica { port, child: None }))
            .collect(),
    });
    for i in 0..cli.replicas {
        cluster.start(i).await?;
    }
    let clients = login_all(&cluster, &ports).await?;
    let setup = Setup::prepare(&clients[0]).await?;
    let records = Arc::new(Mutex::new(Records::default()));
    let deadline = Instant::now() + cli.duration;
    let kills = Arc::new(AtomicU64::new(0));
    let nemesis = tokio::spawn(nemesis(
        cluster.clone(),
        cli.kill_every,
        deadline,
        kills.clone(),
    ));
    let mut workers = tokio::task::JoinSet::new();
    for n in 0..cli.clients {
        let (clients, setup, records) = (clients.clone(), setup.clone(), records.clone());
        workers.spawn(worker(
            n,
            clients,
            setup,
            records,
            deadline,
            cli.lose_percent,
        ));
    }
    while let Some(done) = workers.join_next().await {
        done??;
    }
    nemesis.await??;
    let records = Arc::try_unwrap(records)
        .ok()
        .context("records still shared")?
        .into_inner();
    println!(
        "bank: {} requests, {} operations acknowledged, {} cancels, {} replica kills",
        records.requests,
        records.ops.len(),
        records.cancelled.len(),
        kills.load(Ordering::SeqCst)
    );
    let violations = check(&clients[0], &setup, &records, &cluster).await?;
    for replica in &cluster.replicas {
        if let Some(mut child) = replica.lock().await.child.take() {
            let _ = child.start_kill();
        }
    }
    println!("bank: {} violations", violations.len());
    for v in &violations {
        println!("  violation: {v}");
    }
    ensure!(violations.is_empty(), "{} violations", violations.len());
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn login_all(cluster: &Cluster, ports: &[u16]) -> anyhow::Result<Vec<Client>> {
    let mut clients = Vec::new();
    for i in 0..ports.len() {
        let client = Client::new(cluster.url(i, ports))
            .login("bank", SECRET, None)
            .await
            .context("login")?;
        clients.push(client);
    }
    Ok(clients)
}

/// Profiles, destinations and a rule, funded before any crash.
#[derive(Clone)]
struct Setup {
    profiles: Vec<String>,
    banks: [String; 2],
    chains: [String; 2],
    /// The chain addresses, for withdrawals: to the second they fail.
    chain_addresses: [&'static str; 2],
    rule_address: String,
    rule_profile: usize,
}

impl Setup {
    async fn prepare(client: &Client) -> anyhow::Result<Setup> {
        let mut profiles = Vec::new();
        for i in 0..PROFILES {
            let p = client.create_profile(&format!("bank-{i}"), None).await?.id;
            client.deposit(&p, "USD", &FUNDING.to_string()).await?;
            client.deposit(&p, "USDC", &FUNDING.to_string()).await?;
            profiles.push(p);
        }
        let mut banks = Vec::new();
        for fail in [false, true] {
            let body = json!({
                "fiat_account_owner": { "person_details": { "first_name": "Bank", "last_name": "Test" } },
                "fiat_network_instructions": { "wire": {
                    "account_number": "12345678",
                    "fiat_account_owner_address": { "country": "USA", "city": "NY", "address1": "1 Main St" },
                    "routing_details": { "routing_number_type": "ABA", "routing_number": "021000021",
                        "bank_name": "Bank", "bank_address": { "country": "USA" } } } } });
            let id = expect_ok(client, Method::POST, "/v2/transfer/fiat-accounts", body).await?
                ["id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let body = json!({ "status": "APPROVED", "fail_withdrawals": fail });
            expect_ok(
                client,
                Method::PUT,
                &format!("/v2/sandbox/fiat-accounts/{id}"),
                body,
            )
            .await?;
            banks.push(id);
        }
        let mut chains = Vec::new();
        for (fail, address) in [(false, CHAIN_ADDRESSES[0]), (true, CHAIN_ADDRESSES[1])] {
            let body = json!({ "crypto_network": "BASE", "address": address });
            let put = expect_ok(
                client,
                Method::PUT,
                "/v2/transfer/crypto-destination-address",
                body,
            )
            .await?;
            let id = put["address"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let body = json!({ "fail_withdrawals": fail });
            expect_ok(
                client,
                Method::PUT,
                &format!("/v2/sandbox/crypto-destination-addresses/{id}"),
                body,
            )
            .await?;
            chains.push(id);
        }
        let rule_profile = 0;
        let body = json!({ "ref_id": "bank-rule", "profile_id": profiles[rule_profile],
            "source_asset": "USDG", "destination_asset": "USD",
            "source": { "crypto": { "network": "ETHEREUM" } },
            "destination": { "profile": { "profile_id": profiles[rule_profile] } } });
        let rule = expect_ok(client, Method::POST, "/v2/orchestration/rules", body).await?;
        let rule_address = rule["rule"]["source"]["crypto"]["address"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        Ok(Setup {
            profiles,
            banks: [banks[0].clone(), banks[1].clone()],
            chains: [chains[0].clone(), chains[1].clone()],
            chain_addresses: CHAIN_ADDRESSES,
            rule_address,
            rule_profile,
        })
    }
}

async fn expect_ok(
    client: &Client,
    method: Method,
    path: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let (status, _, answer) = client
        .raw(
            method,
            path,
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await?;
    ensure!(status == 200, "{path}: {status} {answer}");
    Ok(answer)
}

async fn nemesis(
    cluster: Arc<Cluster>,
    every: Duration,
    deadline: Instant,
    kills: Arc<AtomicU64>,
) -> anyhow::Result<()> {
    if every.is_zero() {
        return Ok(());
    }
    let mut victim = 0;
    while Instant::now() + every < deadline {
        tokio::time::sleep(every).await;
        cluster.kill(victim).await;
        kills.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(500)).await;
        cluster.start(victim).await?;
        victim = (victim + 1) % cluster.replicas.len();
    }
    Ok(())
}

async fn worker(
    n: usize,
    clients: Vec<Client>,
    setup: Setup,
    records: Arc<Mutex<Records>>,
    deadline: Instant,
    lose_percent: u64,
) -> anyhow::Result<()> {
    let mut i: u64 = 0;
    let mut mine: Vec<String> = Vec::new();
    while Instant::now() < deadline {
        i += 1;
        let roll = (i * 7919 + n as u64 * 104_729) % 100;
        let lose = roll < lose_percent;
        let from = (n + i as usize) % PROFILES;
        let to = (n + 2 * i as usize + 1) % PROFILES;
        let reference = format!("bank-{n}-{i}");
        let p = |k: usize| setup.profiles[k].clone();
        let op = match i % 8 {
            0 | 1 => {
                let body = json!({ "ref_id": reference, "profile_id": p(from), "amount": "2",
                    "source_asset": "USD", "target_asset": "USDC" });
                let made = create(
                    &clients,
                    n,
                    "/v2/conversion/stablecoins",
                    &body,
                    lose,
                    &records,
                )
                .await?;
                made.map(|c| {
                    let id = c["id"].as_str().unwrap_or_default().to_string();
                    mine.push(id.clone());
                    Op::Conversion {
                        id,
                        profile: from,
                        amount: 2,
                    }
                })
            }
            2 => {
                if let Some(id) = mine.pop() {
                    let path = format!("/v2/conversion/stablecoins/{id}");
                    let (status, _) =
                        send(&clients, n, Method::DELETE, &path, &json!({}), &records).await;
                    if status == 200 {
                        records.lock().await.cancelled.push(id);
                    }
                }
                None
            }
            3 => {
                let (dest, target, asset) = match i % 4 {
                    0 => (
                        json!({ "profile": { "profile_id": p(to) } }),
                        Target::Profile(to),
                        "USD",
                    ),
                    1 => (
                        json!({ "fiat": { "bank_account_id": setup.banks[(i / 4 % 2) as usize] } }),
                        Target::Outside,
                        "USD",
                    ),
                    _ => (
                        json!({ "crypto": { "address_id": setup.chains[(i / 4 % 2) as usize] } }),
                        Target::Outside,
                        "USDC",
                    ),
                };
                let body = json!({ "ref_id": reference, "profile_id": p(from), "source_asset": asset,
                    "destination_asset": asset, "source_amount": "3",
                    "source": { "profile": { "profile_id": p(from) } }, "destination": dest });
                let made = create(
                    &clients,
                    n,
                    "/v2/orchestration/orchestrations",
                    &body,
                    lose,
                    &records,
                )
                .await?;
                made.map(|o| Op::Orchestration {
                    id: o["id"].as_str().unwrap_or_default().to_string(),
                    from,
                    to: target,
                    asset,
                    amount: 3,
                })
            }
            4 => {
                // Unique per worker and step: fixed-width fields cannot collide.
                let tx = format!("0x{:048x}{n:08x}{i:08x}", 0xba4c);
                let body = json!({ "crypto_network": "ETHEREUM", "address": setup.rule_address,
                    "asset": "USDG", "amount": "5", "crypto_tx_hash": tx });
                let (status, answer) = send(
                    &clients,
                    n,
                    Method::POST,
                    "/v2/sandbox/crypto-deposits",
                    &body,
                    &records,
                )
                .await;
                ensure!(status == 200, "deposit: {status} {answer}");
                if lose {
                    let (_, again) = send(
                        &clients,
                        n + 1,
                        Method::POST,
                        "/v2/sandbox/crypto-deposits",
                        &body,
                        &records,
                    )
                    .await;
                    ensure!(
                        again["duplicate"] == true && again["transfer_id"] == answer["transfer_id"],
                        "a repeated deposit was credited again: {again}"
                    );
                }
                Some(Op::Deposit {
                    orchestration: answer["orchestration_id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    profile: setup.rule_profile,
                    amount: 5,
                })
            }
            5 => withdraw(&clients, n, i, &setup, from, &reference, lose, &records).await?,
            6 => {
                let to = if to == from { (to + 1) % PROFILES } else { to };
                let body = json!({ "ref_id": reference, "from_profile_id": p(from),
                    "to_profile_id": p(to), "asset": "USD", "amount": "4" });
                let made =
                    create(&clients, n, "/v2/transfer/internal", &body, lose, &records).await?;
                made.map(|_| Op::Internal {
                    from,
                    to,
                    amount: 4,
                })
            }
            _ => {
                let path = format!("/v2/profiles/{}/balances", p(from));
                let (status, answer) =
                    send(&clients, n, Method::GET, &path, &json!({}), &records).await;
                ensure!(status == 200, "balances: {status} {answer}");
                None
            }
        };
        if let Some(op) = op {
            records.lock().await.ops.push(op);
        }
    }
    Ok(())
}

/// A crypto withdrawal of USDC to a chain address, or a fiat one of USD to
/// a bank account; half of each kind go where they fail.
#[allow(clippy::too_many_arguments)]
async fn withdraw(
    clients: &[Client],
    n: usize,
    i: u64,
    setup: &Setup,
    from: usize,
    reference: &str,
    lose: bool,
    records: &Mutex<Records>,
) -> anyhow::Result<Option<Op>> {
    let failing = (i / 8 % 2) as usize;
    let profile = &setup.profiles[from];
    let (path, body, asset) = match i / 16 % 2 {
        0 => (
            "/v2/transfer/crypto-withdrawals",
            json!({ "ref_id": reference, "profile_id": profile, "asset": "USDC", "amount": "6",
                "crypto_network": "BASE", "destination_address": setup.chain_addresses[failing] }),
            "USDC",
        ),
        _ => (
            "/v2/transfer/fiat-withdrawals",
            json!({ "ref_id": reference, "profile_id": profile, "asset": "USD", "amount": "6",
                "fiat_account_id": setup.banks[failing] }),
            "USD",
        ),
    };
    let made = create(clients, n, path, &body, lose, records).await?;
    Ok(made.map(|t| Op::Withdrawal {
        id: t["id"].as_str().unwrap_or_default().to_string(),
        from,
        asset,
        amount: 6,
    }))
}

/// Whole units from a balance or amount string ("12", "12.000000").
fn units(text: &str) -> Option<i64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    fraction
        .chars()
        .all(|c| c == '0')
        .then(|| whole.parse().ok())
        .flatten()
}

async fn get(client: &Client, path: &str) -> anyhow::Result<Value> {
    let (status, _, body) = client.raw(Method::GET, path, None).await?;
    ensure!(status == 200, "GET {path}: {status} {body}");
    Ok(body)
}

async fn check(
    client: &Client,
    setup: &Setup,
    records: &Records,
    cluster: &Cluster,
) -> anyhow::Result<Vec<String>> {
    let mut violations: Vec<String> = records
        .server_errors
        .iter()
        .map(|e| format!("5xx: {e}"))
        .collect();
    // Everything finishes once the crashes stop.
    let settle_by = Instant::now() + Duration::from_secs(60);
    let mut statuses: HashMap<String, String> = HashMap::new();
    for op in &records.ops {
        let (path, id) = match op {
            Op::Internal { .. } => continue,
            Op::Withdrawal { id, .. } => ("/v2/transfer/transfers", id),
            Op::Conversion { id, .. } => ("/v2/conversion/stablecoins", id),
            Op::Orchestration { id, .. } => ("/v2/orchestration/orchestrations", id),
            Op::Deposit { orchestration, .. } => {
                ("/v2/orchestration/orchestrations", orchestration)
            }
        };
        loop {
            let body = get(client, &format!("{path}/{id}")).await?;
            let status = body["status"].as_str().unwrap_or_default().to_string();
            let unfinished = matches!(status.as_str(), "CREATED" | "PROCESSING" | "PENDING");
            if !unfinished || Instant::now() > settle_by {
                statuses.insert(id.clone(), status);
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let mut expected: HashMap<(usize, &str), i64> = HashMap::new();
    for k in 0..PROFILES {
        expected.insert((k, "USD"), FUNDING);
        expected.insert((k, "USDC"), FUNDING);
    }
    let mut add = |k: usize, asset: &'static str, units: i64| {
        *expected.entry((k, asset)).or_default() += units
    };
    for op in &records.ops {
        match op {
            Op::Conversion {
                id,
                profile,
                amount,
            } => match statuses[id].as_str() {
                "SETTLED" => {
                    add(*profile, "USD", -amount);
                    add(*profile, "USDC", *amount);
                }
                "CANCELLED" => {}
                other => violations.push(format!("conversion {id} left {other}")),
            },
            Op::Orchestration {
                id,
                from,
                to,
                asset,
                amount,
            } => match statuses[id].as_str() {
                "COMPLETED" => {
                    add(*from, asset, -amount);
                    if let Target::Profile(to) = to {
                        add(*to, asset, *amount);
                    }
                }
                "FAILED" => {}
                other => violations.push(format!("orchestration {id} left {other}")),
            },
            Op::Deposit {
                orchestration,
                profile,
                amount,
            } => match statuses[orchestration].as_str() {
                "COMPLETED" => add(*profile, "USD", *amount),
                other => violations.push(format!(
                    "deposit orchestration {orchestration} left {other}"
                )),
            },
            Op::Withdrawal {
                id,
                from,
                asset,
                amount,
            } => match statuses[id].as_str() {
                "COMPLETED" => add(*from, asset, -amount),
                "FAILED" => {}
                other => violations.push(format!("withdrawal {id} left {other}")),
            },
            Op::Internal { from, to, amount } => {
                add(*from, "USD", -amount);
                add(*to, "USD", *amount);
            }
        }
    }
    for id in &records.cancelled {
        let body = get(client, &format!("/v2/conversion/stablecoins/{id}")).await?;
        if body["status"] != "CANCELLED" {
            violations.push(format!("acknowledged cancel of {id} is {}", body["status"]));
        }
    }
    for (k, profile) in setup.profiles.iter().enumerate() {
        let body = get(client, &format!("/v2/profiles/{profile}/balances")).await?;
        for balance in body["items"].as_array().into_iter().flatten() {
            let asset = balance["asset"].as_str().unwrap_or_default();
            let available = balance["available"].as_str().and_then(units);
            let want = ["USD", "USDC", "USDG", "USDP", "PYUSD"]
                .iter()
                .find(|a| **a == asset)
                .map(|a| expected.get(&(k, *a)).copied().unwrap_or(0));
            if available.is_none_or(|a| a < 0) || available != want {
                violations.push(format!(
                    "profile {k} {asset}: {:?}, expected {want:?}",
                    balance["available"]
                ));
            }
        }
    }
    let audit = Command::new(&cluster.bin)
        .args(["audit", "--database-url", &cluster.database_url])
        .output()
        .await?;
    if !audit.status.success() {
        violations.push(format!("audit: {}", String::from_utf8_lossy(&audit.stdout)));
    }
    Ok(violations)
}
