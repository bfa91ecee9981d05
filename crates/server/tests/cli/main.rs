//! The `stableport` binary as an operator runs it: first start, credentials,
//! production mode, audit, and a crash in the middle of settlement.

#[path = "../api/common.rs"]
#[allow(dead_code)]
mod common;

use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{judged, judged_response, Backend, TestDb};
use reqwest::Method;
use serde_json::Value;
use stableport_client::{Client, CreateConversion};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_stableport");

on_both_backends!(
    prints_working_credentials_on_start,
    creates_credentials_while_running,
    production_hides_sandbox_and_secrets,
    audit_finds_discrepancies,
    settles_after_a_crash,
    walkthroughs_run_with_curl,
    sigterm_loses_nothing_answered,
    reads_a_config_file_below_the_flags,
    logs_one_json_object_per_line,
    backs_up_while_serving_and_the_copy_audits,
    money_calls_from_the_command_line,
    seals_secrets_under_the_master_key,
);

/// SIGTERM under load: the server stops accepting, answers what is in
/// flight, writes its queue and exits 0; every conversion it answered 200
/// for is stored, and nothing it answered is lost.
async fn sigterm_loses_nothing_answered(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Server::spawn(&db, &["--settlement", "manual"]).await;
    let client = server.login().await;
    let profile = client.create_profile("sigterm", None).await.unwrap().id;
    client.deposit(&profile, "USD", "1000000").await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..16)
        .map(|w| {
            let (client, profile, stop) = (client.clone(), profile.clone(), stop.clone());
            tokio::spawn(async move {
                let mut answered = Vec::new();
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    i += 1;
                    let request = CreateConversion {
                        profile_id: profile.clone(),
                        amount: "1".into(),
                        source_asset: "USD".into(),
                        target_asset: "USDC".into(),
                        ref_id: Some(format!("t-{w}-{i}")),
                        ..Default::default()
                    };
                    match client.create_conversion(&request).await {
                        Ok(c) => answered.push(c.id),
                        // Refused or cut off after the signal: not answered.
                        Err(_) => break,
                    }
                }
                answered
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let pid = server.child.id().expect("running");
    let killed = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let mut child = server.child;
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("exits after SIGTERM")
        .unwrap();
    stop.store(true, Ordering::SeqCst);
    let mut answered = Vec::new();
    for worker in workers {
        answered.extend(worker.await.unwrap());
    }
    assert!(status.success(), "exit status {status:?}");
    assert!(answered.len() > 16, "only {} answered", answered.len());

    let again = Server::spawn(&db, &["--settlement", "manual"]).await;
    let client = again.login().await;
    for id in &answered {
        let stored = client
            .conversion(id)
            .await
            .expect("an answered conversion is stored");
        assert_eq!(stored.status, "CREATED");
    }
    let left = client.balance(&profile, "USD").await.unwrap().available;
    assert_eq!(
        left.parse::<u64>().unwrap(),
        1_000_000 - answered.len() as u64,
        "every debit is an answered conversion"
    );
    again.crash().await;
}

struct Server {
    child: Child,
    url: String,
    printed: Vec<String>,
}

impl Server {
    async fn spawn(db: &TestDb, args: &[&str]) -> Server {
        Server::spawn_logging(db, args, Stdio::null()).await
    }

    /// The same, its logs (stderr) going to `logs`.
    async fn spawn_logging(db: &TestDb, args: &[&str], logs: Stdio) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let listen = format!("127.0.0.1:{port}");
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", &listen, "--database-url", &db.url])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(logs)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn stableport serve");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut printed = Vec::new();
        let read = async {
            while let Some(line) = lines.next_line().await.unwrap() {
                let last = line.contains("client_secret:")
                    || line.contains("secret as configured")
                    || line.contains("no credential");
                printed.push(line);
                if last {
                    break;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(60), read)
            .await
            .expect("server printed its banner");
        let url = format!("http://{listen}");
        let health = reqwest::get(format!("{url}/health")).await.expect("health");
        assert_eq!(health.status(), 200);
        Server {
            child,
            url,
            printed,
        }
    }

    fn printed(&self, label: &str) -> Option<String> {
        self.printed.iter().find_map(|l| {
            l.trim()
                .strip_prefix(label)
                .map(|v| v.split_whitespace().next().unwrap_or("").to_string())
        })
    }

    async fn login(&self) -> Client {
        let id = self.printed("client_id:").expect("client_id printed");
        let secret = self
            .printed("client_secret:")
            .expect("client_secret printed");
        judged(&self.url)
            .login(&id, &secret, None)
            .await
            .expect("printed credentials work")
    }

    /// SIGKILL: no shutdown code runs.
    async fn crash(mut self) {
        self.child.kill().await.unwrap();
    }
}

async fn cli(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .await
        .expect("run stableport");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

async fn prints_working_credentials_on_start(backend: Backend) {
    let db = TestDb::new(backend).await;
    let first = Server::spawn(&db, &[]).await;
    let client = first.login().await;
    let profiles = client.profiles().await.unwrap().items;
    assert_eq!(profiles.len(), 1);
    assert_eq!(profiles[0].kind, "DEFAULT");
    first.crash().await;

    // A restart prints a fresh working credential for the same customer.
    let again = Server::spawn(&db, &[]).await;
    assert_eq!(
        again.login().await.profiles().await.unwrap().items,
        profiles
    );
    again.crash().await;

    // A fixed credential, from flags or environment.
    let fixed = Server::spawn(
        &db,
        &[
            "--client-id",
            "ci-client",
            "--client-secret",
            "ci-secret-value",
        ],
    )
    .await;
    assert!(
        fixed.printed("client_secret:").is_none(),
        "a configured secret is not echoed"
    );
    let client = judged(&fixed.url)
        .login("ci-client", "ci-secret-value", None)
        .await
        .unwrap();
    assert_eq!(client.profiles().await.unwrap().items, profiles);
}

async fn creates_credentials_while_running(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Server::spawn(&db, &[]).await;
    let customer = server.printed("customer_id:").unwrap();

    let (ok, out, err) = cli(&[
        "credentials",
        "create",
        "--customer",
        &customer,
        "--scopes",
        "funding:read_profile",
        "--database-url",
        &db.url,
    ])
    .await;
    assert!(ok, "{err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(created["customer_id"], customer.as_str());
    let token = judged(&server.url)
        .token(
            created["client_id"].as_str().unwrap(),
            created["client_secret"].as_str().unwrap(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(token.scope, "funding:read_profile");

    let (ok, out, err) = cli(&[
        "credentials",
        "create",
        "--new-customer",
        "--scopes",
        "all",
        "--database-url",
        &db.url,
    ])
    .await;
    assert!(ok, "{err}");
    let other: Value = serde_json::from_str(&out).unwrap();
    assert_ne!(other["customer_id"], customer.as_str());
    let client = judged(&server.url)
        .login(
            other["client_id"].as_str().unwrap(),
            other["client_secret"].as_str().unwrap(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(client.profiles().await.unwrap().items[0].kind, "DEFAULT");

    let (ok, _, err) = cli(&[
        "credentials",
        "create",
        "--customer",
        &uuid::Uuid::new_v4().to_string(),
        "--scopes",
        "all",
        "--database-url",
        &db.url,
    ])
    .await;
    assert!(!ok && err.contains("does not exist"), "{err}");
    let (ok, _, err) = cli(&[
        "credentials",
        "create",
        "--customer",
        &customer,
        "--scopes",
        "funding:steal",
        "--database-url",
        &db.url,
    ])
    .await;
    assert!(!ok && err.contains("unknown scope"), "{err}");
}

async fn production_hides_sandbox_and_secrets(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Server::spawn(&db, &["--environment", "production"]).await;
    assert!(server.printed("client_secret:").is_none());
    assert!(
        server
            .printed
            .iter()
            .any(|l| l.contains("credentials create")),
        "{:?}",
        server.printed
    );
    let customer = server.printed("customer_id:").unwrap();
    let (ok, out, err) = cli(&[
        "credentials",
        "create",
        "--customer",
        &customer,
        "--scopes",
        "all",
        "--database-url",
        &db.url,
    ])
    .await;
    assert!(ok, "{err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    let client = judged(&server.url)
        .login(
            created["client_id"].as_str().unwrap(),
            created["client_secret"].as_str().unwrap(),
            None,
        )
        .await
        .unwrap();
    let profile = client.profile("default").await.unwrap().id;
    let body = br#"{"asset":"USD","amount":"1"}"#.to_vec();
    let (status, _, _) = client
        .raw(
            Method::POST,
            &format!("/v2/sandbox/profiles/{profile}/deposit"),
            Some(("application/json", body)),
        )
        .await
        .unwrap();
    assert_eq!(status, 404, "no sandbox routes in production");
    assert_eq!(
        client.balance(&profile, "USD").await.unwrap().available,
        "0"
    );
}

async fn audit_finds_discrepancies(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Server::spawn(&db, &["--settlement-delay", "0s"]).await;
    let client = server.login().await;
    let profile = client.profile("default").await.unwrap().id;
    client.deposit(&profile, "USD", "100").await.unwrap();
    for target in ["USDP", "PYUSD"] {
        let request = CreateConversion {
            profile_id: profile.clone(),
            amount: "10".into(),
            source_asset: "USD".into(),
            target_asset: target.into(),
            ..Default::default()
        };
        client.create_conversion(&request).await.unwrap();
    }
    let (ok, out, err) = cli(&["audit", "--database-url", &db.url]).await;
    assert!(ok, "{out}{err}");
    assert!(out.contains("ledger is sound"), "{out}");

    // Someone edits a balance behind the ledger's back.
    sqlx::query(
        "UPDATE balances SET available = available + 1 WHERE profile_id = $1 AND asset = 'USD'",
    )
    .bind(&profile)
    .execute(db.store().await.pool())
    .await
    .unwrap();
    let (ok, out, _) = cli(&["audit", "--database-url", &db.url]).await;
    assert!(!ok, "audit must fail: {out}");
    assert!(
        out.contains(&format!(
            "profile {profile} USD: balance is 8001 units but its postings sum to 8000"
        )),
        "{out}"
    );
}

async fn settles_after_a_crash(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Server::spawn(&db, &["--settlement-delay", "2s"]).await;
    let client = server.login().await;
    let profile = client.profile("default").await.unwrap().id;
    client.deposit(&profile, "USD", "5").await.unwrap();
    let request = CreateConversion {
        profile_id: profile.clone(),
        amount: "5".into(),
        source_asset: "USD".into(),
        target_asset: "USDC".into(),
        ..Default::default()
    };
    let conversion = client.create_conversion(&request).await.unwrap();
    server.crash().await;

    let back = Server::spawn(&db, &["--settlement-delay", "2s"]).await;
    let client = back.login().await;
    common::eventually("settlement after restart", || async {
        client.conversion(&conversion.id).await.unwrap().status == "SETTLED"
    })
    .await;
    assert_eq!(
        client.balance(&profile, "USDC").await.unwrap().available,
        "5"
    );
    assert_eq!(
        client.balance(&profile, "USD").await.unwrap().available,
        "0"
    );
    db.assert_ledger_sound().await;
}

/// The documents' own curl walkthroughs (examples/), against a fresh server.
async fn walkthroughs_run_with_curl(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Server::spawn(&db, &["--settlement-delay", "0s"]).await;
    let id = server.printed("client_id:").unwrap();
    let secret = server.printed("client_secret:").unwrap();
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    for script in [
        "seed-001-convert.sh",
        "seed-000-migration.sh",
        "seed-004-redemption.sh",
        "approvals.sh",
    ] {
        let out = Command::new("bash")
            .arg(format!("{examples}/{script}"))
            .env("STABLEPORT_URL", &server.url)
            .env("STABLEPORT", BIN)
            .env("STABLEPORT_DATABASE_URL", &db.url)
            .env("CLIENT_ID", &id)
            .env("CLIENT_SECRET", &secret)
            .output()
            .await
            .expect("run bash");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(out.status.success(), "{script} failed\n{stdout}\n{stderr}");
    }
    let (ok, out, _) = cli(&["audit", "--database-url", &db.url]).await;
    assert!(ok, "{out}");
}

/// `--config FILE`: the file's settings apply where no flag (or environment
/// variable) sets them; a flag wins over the file; a key that names no
/// setting stops the server with a message naming it.
async fn reads_a_config_file_below_the_flags(backend: Backend) {
    let db = TestDb::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stableport.toml");
    let secret = "a-secret-of-at-least-16-characters";
    std::fs::write(
        &file,
        format!(
            "listen = \"127.0.0.1:9\"\nenvironment = \"production\"\n\
             client_id = \"from-file\"\nclient_secret = \"{secret}\"\nmax_body_bytes = 2048\n"
        ),
    )
    .unwrap();
    let path = file.to_str().unwrap();
    // Server::spawn passes --listen: it wins over the file's port 9.
    let server = Server::spawn(&db, &["--config", path]).await;
    let client = judged(&server.url)
        .login("from-file", secret, None)
        .await
        .expect("the file's credential works");
    assert!(!client.profiles().await.unwrap().items.is_empty());
    let anonymous = reqwest::Client::new();
    let sandbox = anonymous
        .post(format!("{}/v2/sandbox/fiat-deposits", server.url))
        .send()
        .await
        .unwrap();
    let (status, _) = judged_response("POST", sandbox).await;
    assert_eq!(status, 404, "production, from the file");
    let big = anonymous
        .post(format!("{}/v2/profiles", server.url))
        .body(vec![b' '; 4096])
        .send()
        .await
        .unwrap();
    let (status, _) = judged_response("POST", big).await;
    assert_eq!(status, 413, "max_body_bytes from the file");
    server.crash().await;

    std::fs::write(&file, "settlement_dealy = \"2s\"\n").unwrap();
    let (ok, _, stderr) = cli(&["serve", "--database-url", &db.url, "--config", path]).await;
    assert!(!ok);
    assert!(
        stderr.contains("unknown key \"settlement_dealy\""),
        "{stderr}"
    );
}

/// `--log-format json`: every line a JSON object; each request's line has
/// its id (the client's X-Request-Id), route, status, latency and customer;
/// no secret or token appears anywhere.
async fn logs_one_json_object_per_line(backend: Backend) {
    let db = TestDb::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stderr.log");
    let file = std::fs::File::create(&path).unwrap();
    let server = Server::spawn_logging(&db, &["--log-format", "json"], file.into()).await;
    let secret = server.printed("client_secret:").unwrap();
    let id = server.printed("client_id:").unwrap();
    let customer = server.printed("customer_id:").unwrap();
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{}/oauth2/token", server.url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_string();
    let listed = http
        .get(format!("{}/v2/profiles", server.url))
        .bearer_auth(&token)
        .header("X-Request-Id", "op-trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let refused = http
        .get(format!("{}/v2/profiles", server.url))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    server.crash().await;

    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let request = |id: &str| lines.iter().find(|l| l["request_id"] == id).cloned();
    let listed = request("op-trace-42").expect("the request's line");
    assert_eq!(listed["route"], "/v2/profiles");
    assert_eq!(listed["method"], "GET");
    assert_eq!(listed["status"], 200);
    assert_eq!(listed["customer_id"], customer.as_str());
    assert!(listed["latency_ms"].as_f64().unwrap() >= 0.0);
    let denied = lines
        .iter()
        .find(|l| l["status"] == 401)
        .expect("the refused request's line");
    assert_eq!(denied["customer_id"], "");
    for needle in [secret.as_str(), token.as_str(), "not-a-token"] {
        assert!(!text.contains(needle), "the log holds a secret: {needle}");
    }
}

/// A backup taken while conversions are being made is consistent: the
/// restored copy passes the audit and holds what was answered before it.
/// SQLite: `stableport backup`. PostgreSQL: the README's pg_dump recipe
/// (and `stableport backup` says to use it).
async fn backs_up_while_serving_and_the_copy_audits(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Server::spawn(&db, &["--settlement-delay", "0s"]).await;
    let client = server.login().await;
    let profile = client.profile("default").await.unwrap().id;
    client.deposit(&profile, "USD", "1000").await.unwrap();
    let before = CreateConversion {
        profile_id: profile.clone(),
        amount: "1".into(),
        source_asset: "USD".into(),
        target_asset: "USDC".into(),
        ref_id: Some("before-backup".into()),
        ..Default::default()
    };
    client.create_conversion(&before).await.unwrap();
    let busy = Arc::new(AtomicBool::new(true));
    let load = {
        let (client, profile, busy) = (client.clone(), profile.clone(), busy.clone());
        tokio::spawn(async move {
            while busy.load(Ordering::Relaxed) {
                let request = CreateConversion {
                    profile_id: profile.clone(),
                    amount: "0.01".into(),
                    source_asset: "USD".into(),
                    target_asset: "PYUSD".into(),
                    ..Default::default()
                };
                client.create_conversion(&request).await.unwrap();
            }
        })
    };
    let dir = tempfile::tempdir().unwrap();
    let mut copy_db = None;
    let restored = match backend {
        Backend::Sqlite => {
            let copy = dir.path().join("copy.db");
            let copy_text = copy.to_str().unwrap();
            let (ok, out, err) =
                cli(&["backup", "--database-url", &db.url, "--to", copy_text]).await;
            assert!(ok, "{out}{err}");
            assert!(out.contains("stableport audit"), "{out}");
            let (again, _, err) =
                cli(&["backup", "--database-url", &db.url, "--to", copy_text]).await;
            assert!(!again && err.contains("exists"), "never overwrites: {err}");
            format!("sqlite://{copy_text}")
        }
        Backend::Postgres => {
            let (ok, _, err) = cli(&["backup", "--database-url", &db.url, "--to", "x.db"]).await;
            assert!(!ok && err.contains("pg_dump"), "{err}");
            let copy = pg_dump_and_restore(&db.url, &dir.path().join("stableport.dump")).await;
            copy_db.insert(copy).url.clone()
        }
    };
    busy.store(false, Ordering::Relaxed);
    load.await.unwrap();
    let (ok, out, err) = cli(&["audit", "--database-url", &restored]).await;
    assert!(ok, "the restored copy audits: {out}{err}");
    assert!(out.contains("ledger is sound"), "{out}");
    let copy = stableport_store::open(&restored).await.unwrap();
    let answered: Option<String> =
        sqlx::query_scalar("SELECT id FROM conversions WHERE ref_id = 'before-backup'")
            .fetch_optional(copy.pool())
            .await
            .unwrap();
    assert!(
        answered.is_some(),
        "what was answered before the backup is in it"
    );
}

/// The README's recipe: pg_dump in its custom format, pg_restore into a new
/// database. The new database's URL.
/// The restored copy: a database dropped with the returned TestDb.
async fn pg_dump_and_restore(url: &str, dump: &std::path::Path) -> TestDb {
    let dumped = Command::new("pg_dump")
        .args(["--format=custom", "--file", dump.to_str().unwrap(), url])
        .output()
        .await
        .expect("pg_dump is installed (.ci/run installs PostgreSQL)");
    assert!(
        dumped.status.success(),
        "{}",
        String::from_utf8_lossy(&dumped.stderr)
    );
    let target = TestDb::new(Backend::Postgres).await;
    let restored = Command::new("pg_restore")
        .args([
            "--no-owner",
            "--dbname",
            &target.url,
            dump.to_str().unwrap(),
        ])
        .output()
        .await
        .expect("pg_restore is installed");
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    target
}

/// `stableport deposit`, `convert --wait`, `orchestrate --wait` and
/// `balances` against a live server, as an operator types them; their JSON
/// is the API's objects, judged against the spec like any response.
async fn money_calls_from_the_command_line(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Server::spawn(&db, &["--settlement-delay", "1s"]).await;
    let id = server.printed("client_id:").unwrap();
    let secret = server.printed("client_secret:").unwrap();
    let remote = [
        "--server",
        &server.url,
        "--client-id",
        &id,
        "--client-secret",
        &secret,
    ];
    let run = |args: Vec<&str>| {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        all.extend(remote.iter().map(|a| a.to_string()));
        async move {
            let refs: Vec<&str> = all.iter().map(String::as_str).collect();
            cli(&refs).await
        }
    };

    let (ok, out, err) = run(vec!["deposit", "100", "usd", "--json"]).await;
    assert!(ok, "{out}{err}");
    let deposited: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(deposited["asset"], "USD");

    let (ok, out, err) = run(vec!["convert", "25", "USD", "PYUSD", "--wait", "--json"]).await;
    assert!(ok, "{out}{err}");
    let conversion: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(conversion["status"], "SETTLED");
    assert!(
        err.contains("waiting") && err.contains("SETTLED after"),
        "progress: {err}"
    );
    let id = conversion["id"].as_str().unwrap();
    judged_body(&format!("/v2/conversion/stablecoins/{id}"), &out);

    let (ok, out, err) = run(vec!["orchestrate", "5", "USD", "USDC", "--wait", "--json"]).await;
    assert!(ok, "{out}{err}");
    let orchestration: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(orchestration["status"], "COMPLETED", "{orchestration}");
    let id = orchestration["id"].as_str().unwrap();
    judged_body(&format!("/v2/orchestration/orchestrations/{id}"), &out);

    let (ok, out, err) = run(vec!["balances", "--json"]).await;
    assert!(ok, "{out}{err}");
    let listed: Value = serde_json::from_str(&out).unwrap();
    let held = |asset: &str| {
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["asset"] == asset)
            .unwrap()["available"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        (
            held("USD").as_str(),
            held("PYUSD").as_str(),
            held("USDC").as_str()
        ),
        ("70", "25", "5")
    );
    let (ok, out, _) = run(vec!["balances"]).await;
    assert!(
        ok && out.contains("PYUSD") && out.contains("AVAILABLE"),
        "{out}"
    );

    // A refusal is the API's problem, said plainly, and a failing exit.
    let (ok, out, err) = run(vec!["convert", "1000", "USD", "USDC"]).await;
    assert!(!ok, "{out}");
    assert!(err.contains("422") || err.contains("insufficient"), "{err}");
}

/// The CLI's JSON judged as the API's answer to `GET path` would be.
fn judged_body(path: &str, body: &str) {
    let seen = stableport_client::Observed {
        method: "GET",
        path,
        status: 200,
        content_type: Some("application/json"),
        body: body.as_bytes(),
    };
    common::judge(&seen, &std::sync::Mutex::default());
}

const OPS_SECRET: &str = "ops-secret-0123456789abcdef";
const KEY_ONE: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const KEY_TWO: &str = "2222222222222222222222222222222222222222222222222222222222222222";

/// A consumer that keeps the headers and body of every request.
async fn recording_consumer() -> (
    String,
    Arc<std::sync::Mutex<Vec<(axum::http::HeaderMap, axum::body::Bytes)>>>,
) {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = seen.clone();
    let app = axum::Router::new().fallback(
        move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push((headers, body));
                "ok"
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    (url, seen)
}

/// `stableport serve` that must refuse to start: its stderr.
async fn refused_start(db: &TestDb, args: &[&str]) -> String {
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        Command::new(BIN)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--database-url",
                &db.url,
            ])
            .args(args)
            .output(),
    )
    .await
    .expect("it stops at once")
    .unwrap();
    assert!(!out.status.success(), "it must not start");
    String::from_utf8_lossy(&out.stderr).into()
}

/// Secrets at rest: plain rows are sealed when a key is first given; a
/// missing or wrong key is refused at start; `rotate-key` re-seals under a
/// new key; through all of it deliveries carry the consumer's API key and a
/// signature made with the secret shown at creation.
async fn seals_secrets_under_the_master_key(backend: Backend) {
    let db = TestDb::new(backend).await;
    let fixed = ["--client-id", "ops", "--client-secret", OPS_SECRET];
    let (url, seen) = recording_consumer().await;
    let server = Server::spawn(&db, &fixed).await;
    let client = judged(&server.url)
        .login("ops", OPS_SECRET, None)
        .await
        .unwrap();
    let hook = client
        .create_webhook(&stableport_client::CreateWebhook {
            name: "sealed".into(),
            url: url.clone(),
            event_types: vec!["conversion.created".into()],
            rate_limit: None,
            consumer_auth: Some(stableport_client::ConsumerAuth {
                api_key: Some(stableport_client::ApiKeyAuth {
                    header_name: "X-Consumer-Key".into(),
                    value: Some("consumer-key-value-42".into()),
                }),
                oauth: None,
            }),
        })
        .await
        .unwrap();
    let secret = hook.secret.clone().unwrap();
    server.crash().await;
    let stored = || async {
        let store = db.store().await;
        let (secret, auth): (String, String) = sqlx::query_as("SELECT secret, auth FROM webhooks")
            .fetch_one(store.pool())
            .await
            .unwrap();
        let signing: String =
            sqlx::query_scalar("SELECT value FROM server_keys WHERE name = 'signing'")
                .fetch_one(store.pool())
                .await
                .unwrap();
        (secret, auth, signing)
    };
    assert_eq!(stored().await.0, secret, "plain before any key");

    // A key given: sealed at start, and deliveries still work.
    let one = [&fixed[..], &["--master-key", KEY_ONE]].concat();
    let server = Server::spawn(&db, &one).await;
    let (s, a, k) = stored().await;
    for value in [&s, &a, &k] {
        assert!(value.starts_with("sp-enc:v1:"), "{value}");
    }
    assert!(!s.contains(&secret) && !a.contains("consumer-key-value-42"));
    let delivered = |n: usize| {
        let seen = seen.clone();
        async move {
            for _ in 0..200 {
                if seen.lock().unwrap().len() >= n {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("delivery {n} never came");
        }
    };
    let send_test = |url: String| {
        let hook = hook.id.clone();
        async move {
            let client = judged(&url).login("ops", OPS_SECRET, None).await.unwrap();
            let kind = Some("conversion.created");
            client.test_webhook(&hook, kind).await.unwrap();
        }
    };
    send_test(server.url.clone()).await;
    delivered(1).await;
    server.crash().await;

    // No key, or another key: refused at start, saying why.
    let err = refused_start(&db, &fixed).await;
    assert!(
        err.contains("encrypted") && err.contains("STABLEPORT_MASTER_KEY"),
        "{err}"
    );
    let wrong = [&fixed[..], &["--master-key", KEY_TWO]].concat();
    let err = refused_start(&db, &wrong).await;
    assert!(err.contains("not the given key"), "{err}");

    // Rotation to a new key in a file; the server then starts with that file.
    let dir = tempfile::tempdir().unwrap();
    let two = dir.path().join("master.key");
    std::fs::write(&two, format!("{KEY_TWO}\n")).unwrap();
    let two_text = two.to_str().unwrap();
    let (ok, out, err) = cli(&[
        "rotate-key",
        "--database-url",
        &db.url,
        "--master-key",
        KEY_ONE,
        "--new-key-file",
        two_text,
    ])
    .await;
    assert!(ok && out.contains("re-encrypted 3 secrets"), "{out}{err}");
    let err = refused_start(&db, &one).await;
    assert!(
        err.contains("not the given key"),
        "the old key no longer opens them: {err}"
    );
    let rotated = [&fixed[..], &["--master-key-file", two_text]].concat();
    let server = Server::spawn(&db, &rotated).await;
    send_test(server.url.clone()).await;
    delivered(2).await;
    server.crash().await;

    let now = chrono::Utc::now().timestamp();
    for (headers, body) in seen.lock().unwrap().iter() {
        assert_eq!(headers["x-consumer-key"], "consumer-key-value-42");
        let signed = headers["stableport-signature"].to_str().unwrap();
        assert_eq!(
            stableport_client::signature::verify(&secret, signed, body, now, 300),
            Ok(())
        );
    }
}

/// A worker claims four times `--webhook-max-in-flight` ahead: the flag is
/// bounded, so no value can overflow what it sizes.
#[tokio::test]
async fn refuses_a_webhook_max_in_flight_out_of_range() {
    for value in ["0", "65537", "18446744073709551615"] {
        let (ok, _, err) = cli(&["serve", "--webhook-max-in-flight", value]).await;
        assert!(
            !ok && err.contains("--webhook-max-in-flight"),
            "{value}: {err}"
        );
        assert!(!err.contains("panicked"), "{value}: {err}");
    }
}
