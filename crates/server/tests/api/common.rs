//! The test harness: a real server on a real database (a fresh SQLite file or
//! a fresh PostgreSQL database per test), reached over HTTP by our client.
//! Every response the client receives is judged against Paxos's OpenAPI
//! spec (our own document for our additions): a violation fails the test.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use stableport_client::{Balance, Client, Error, Observed, Observer, Problem};
use stableport_contract::{Contract, Exchange};
use stableport_server::{Config, Running};
use stableport_store::Store;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test body once on SQLite and once on PostgreSQL. Neither is ever
/// skipped: if PostgreSQL is unreachable, the postgres tests fail.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::common::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::common::Backend::Postgres).await
            }
        }
    )*};
}

/// A fresh, empty database. A PostgreSQL one is dropped with it, unless
/// its test failed: then it stays, to be looked at.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    _scratch: Option<stableport_store::scratch::ScratchDb>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("stableport.db").display());
                TestDb {
                    url,
                    _dir: Some(dir),
                    _scratch: None,
                }
            }
            Backend::Postgres => {
                let scratch = stableport_store::scratch::ScratchDb::create("sptest").await;
                TestDb {
                    url: scratch.url.clone(),
                    _dir: None,
                    _scratch: Some(scratch),
                }
            }
        }
    }

    pub async fn store(&self) -> stableport_store::SqlStore {
        stableport_store::open(&self.url).await.expect("open store")
    }

    /// Runs the ledger audit and fails the test on any discrepancy.
    pub async fn assert_ledger_sound(&self) {
        let report = self.store().await.audit().await.expect("audit");
        assert!(
            report.discrepancies.is_empty(),
            "ledger discrepancies: {:#?}",
            report.discrepancies
        );
    }
}

/// Paxos's spec and our document, loaded once per test binary.
pub fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(Contract::stableport)
}

/// Judges one response; a violation is recorded and fails the test at once.
pub fn judge(seen: &Observed, violations: &Mutex<Vec<String>>) {
    let exchange = Exchange {
        method: seen.method,
        path: seen.path,
        status: seen.status,
        content_type: seen.content_type,
        body: seen.body,
    };
    if let Err(violation) = contract().check(&exchange) {
        let message = format!("{} {}: {violation}", seen.method, seen.path);
        violations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(message.clone());
        panic!("contract violation: {message}");
    }
}

fn observer(violations: Arc<Mutex<Vec<String>>>) -> Observer {
    Arc::new(move |seen: &Observed| judge(seen, &violations))
}

/// Reads a response sent without our client (unusual requests built with
/// reqwest directly) and judges it like any other.
pub async fn judged_response(method: &str, response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let path = response.url().path().to_string();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = response.bytes().await.expect("response body");
    let seen = Observed {
        method,
        path: &path,
        status,
        content_type: content_type.as_deref(),
        body: &body,
    };
    judge(&seen, &Mutex::default());
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// A client whose every response is judged against the contract.
pub fn judged(url: &str) -> Client {
    Client::new(url).observed(observer(Arc::default()))
}

pub struct TestServer {
    pub running: Option<Running>,
    /// Contract violations seen by this server's clients (also raised at once).
    pub violations: Arc<Mutex<Vec<String>>>,
    pub url: String,
    pub client_id: String,
    pub client_secret: String,
    pub customer_id: String,
}

impl TestServer {
    pub async fn start(db: &TestDb) -> TestServer {
        TestServer::start_with(db, |_| {}).await
    }

    pub async fn start_with(db: &TestDb, tweak: impl FnOnce(&mut Config)) -> TestServer {
        let mut config = Config::new(db.url.clone());
        config.listen = "127.0.0.1:0".into();
        config.settlement_delay = Duration::ZERO;
        tweak(&mut config);
        let running = stableport_server::start(config)
            .await
            .expect("server starts");
        let b = running.bootstrap.clone();
        TestServer {
            url: format!("http://{}", running.addr),
            client_id: b.client_id.unwrap_or_default(),
            client_secret: b.client_secret.unwrap_or_default(),
            customer_id: b.customer_id.to_string(),
            running: Some(running),
            violations: Arc::default(),
        }
    }

    /// A client holding a token with every scope.
    pub async fn client(&self) -> Client {
        self.anonymous()
            .login(&self.client_id, &self.client_secret, None)
            .await
            .expect("login")
    }

    /// A client without a token; its responses are judged too.
    pub fn anonymous(&self) -> Client {
        Client::new(&self.url).observed(observer(self.violations.clone()))
    }

    pub fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
        let violations = self.violations.lock().unwrap_or_else(|e| e.into_inner());
        // A violation in a spawned task may have been swallowed there: fail here too.
        if !violations.is_empty() && !std::thread::panicking() {
            panic!("contract violations:\n{}", violations.join("\n"));
        }
    }
}

/// Moves a fiat account to `status` through the sandbox, as a bank's
/// review would.
pub async fn set_fiat_status(client: &Client, id: &str, status: &str) {
    let path = format!("/v2/sandbox/fiat-accounts/{id}");
    send(
        client,
        reqwest::Method::PUT,
        &path,
        serde_json::json!({ "status": status }),
    )
    .await;
}

pub async fn default_profile(client: &Client) -> String {
    client.profile("default").await.expect("default profile").id
}

pub async fn funded_profile(client: &Client, asset: &str, amount: &str) -> String {
    let nickname = format!("p-{}", uuid::Uuid::new_v4().simple());
    let profile = client
        .create_profile(&nickname, None)
        .await
        .expect("create profile")
        .id;
    client
        .deposit(&profile, asset, amount)
        .await
        .expect("deposit");
    profile
}

pub async fn available(client: &Client, profile: &str, asset: &str) -> String {
    client
        .balance(profile, asset)
        .await
        .expect("balance")
        .available
}

pub async fn balances(client: &Client, profile: &str) -> Vec<Balance> {
    client.balances(profile, &[]).await.expect("balances").items
}

/// Asserts an API error is a problem+json with this status whose detail
/// contains `needle`, and returns it.
pub fn problem(result: Result<impl std::fmt::Debug, Error>, status: u16, needle: &str) -> Problem {
    let err = result.expect_err("expected an error");
    let problem = err
        .problem()
        .unwrap_or_else(|| panic!("expected problem+json, got {err:?}"))
        .clone();
    assert_eq!(problem.status, status, "{problem:?}");
    assert!(
        problem.detail.contains(needle),
        "detail {:?} should contain {needle:?}",
        problem.detail
    );
    problem
}

/// Asserts a raw response is problem+json with this status and a detail
/// containing `needle`.
pub fn raw_problem(
    response: (reqwest::StatusCode, Option<String>, Value),
    status: u16,
    needle: &str,
) {
    let (code, content_type, body) = response;
    assert_eq!(code.as_u16(), status, "body: {body}");
    // problem+json, or application/json where Paxos's spec lists that
    // operation's error so (the contract judge checks which).
    assert!(
        matches!(
            content_type.as_deref(),
            Some("application/problem+json" | "application/json")
        ),
        "{content_type:?}: {body}"
    );
    assert_eq!(body["status"], status, "body: {body}");
    assert!(
        body["type"].is_string() && body["title"].is_string(),
        "body: {body}"
    );
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(needle),
        "detail {detail:?} should contain {needle:?}"
    );
}

/// Polls until `check` holds, failing after a generous timeout.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Runs `stableport credentials create --new-customer --scopes SCOPES`, as
/// an operator would, and returns its JSON output (client_id, client_secret).
pub async fn new_customer_credential(db: &TestDb, scopes: &str) -> Value {
    let args = [
        "credentials",
        "create",
        "--new-customer",
        "--scopes",
        scopes,
    ];
    stableport_cli(db, &args).await
}

/// Runs `stableport ARGS --database-url DB`, as an operator would; its JSON output.
pub async fn stableport_cli(db: &TestDb, args: &[&str]) -> Value {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_stableport"))
        .args(args)
        .args(["--database-url", &db.url])
        .output()
        .await
        .unwrap_or_else(|e| panic!("run stableport {args:?}: {e}"));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON output")
}

/// `stableport credentials create --customer C [--user U] --scopes all`:
/// its client id and secret.
pub async fn cli_credential(db: &TestDb, customer: &str, user: Option<&str>) -> (String, String) {
    let mut args = vec![
        "credentials",
        "create",
        "--customer",
        customer,
        "--scopes",
        "all",
    ];
    if let Some(user) = user {
        args.extend(["--user", user]);
    }
    let made = stableport_cli(db, &args).await;
    let text = |k: &str| made[k].as_str().unwrap().to_string();
    (text("client_id"), text("client_secret"))
}

/// GETs a path; the status and the answer.
pub async fn get(client: &Client, path: &str) -> (u16, Value) {
    let (status, _, body) = client.raw(Method::GET, path, None).await.unwrap();
    (status.as_u16(), body)
}

/// PUTs a JSON body; the status and the answer.
pub async fn put(client: &Client, path: &str, body: Value) -> (u16, Value) {
    let bytes = body.to_string().into_bytes();
    let (status, _, answer) = client
        .raw(Method::PUT, path, Some(("application/json", bytes)))
        .await
        .unwrap();
    (status.as_u16(), answer)
}

/// Creates a second customer through the CLI and returns a client logged in as it.
pub async fn other_customer(server: &TestServer, db: &TestDb) -> Client {
    let created = new_customer_credential(db, "all").await;
    server
        .anonymous()
        .login(
            created["client_id"].as_str().unwrap(),
            created["client_secret"].as_str().unwrap(),
            None,
        )
        .await
        .expect("login as the other customer")
}

/// Sends a JSON body; returns the status and the answer.
pub async fn post(client: &Client, path: &str, body: &Value) -> (u16, Value) {
    let bytes = body.to_string().into_bytes();
    let (status, _, answer) = client
        .raw(Method::POST, path, Some(("application/json", bytes)))
        .await
        .unwrap();
    (status.as_u16(), answer)
}

/// Sends a JSON body and expects a 200; returns the response body.
pub async fn send(client: &Client, method: Method, path: &str, body: Value) -> Value {
    let (status, _, response) = client
        .raw(
            method,
            path,
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{path}: {response}");
    response
}

/// An APPROVED wire account (approval is immediate by default).
pub async fn bank_account(client: &Client) -> String {
    let id = new_bank_account(client).await;
    eventually("fiat account approval", || async {
        let (_, _, a) = client
            .raw(
                Method::GET,
                &format!("/v2/transfer/fiat-accounts/{id}"),
                None,
            )
            .await
            .unwrap();
        a["status"] == "APPROVED"
    })
    .await;
    id
}

pub async fn new_bank_account(client: &Client) -> String {
    let body = json!({
        "fiat_account_owner": { "person_details": { "first_name": "Jane", "last_name": "Doe" } },
        "fiat_network_instructions": { "wire": {
            "account_number": "12345678",
            "routing_details": {
                "routing_number_type": "ABA", "routing_number": "021000021", "bank_name": "JPMorgan Chase",
                "bank_address": { "address1": "383 Madison Ave", "city": "New York", "country": "USA" }
            },
            "fiat_account_owner_address": { "address1": "456 Main Street", "city": "NY", "country": "USA" }
        }}
    });
    let account = send(client, Method::POST, "/v2/transfer/fiat-accounts", body).await;
    account["id"].as_str().unwrap().to_string()
}

pub async fn crypto_address(client: &Client, network: &str, address: &str) -> String {
    let body = json!({ "crypto_network": network, "address": address });
    let put = send(
        client,
        Method::PUT,
        "/v2/transfer/crypto-destination-address",
        body,
    )
    .await;
    put["address"]["id"].as_str().unwrap().to_string()
}

/// A third-party identity, APPROVED by the sandbox, and an account of it.
pub async fn approved_account(client: &Client) -> (String, String) {
    let person = json!({ "person_details": { "first_name": "Ada", "last_name": "Lovelace" } });
    let (status, made) = post(client, "/v2/identity/identities", &person).await;
    assert_eq!(status, 200, "{made}");
    let identity = made["id"].as_str().unwrap().to_string();
    let checks = json!({ "id_verification_status": "APPROVED", "sanctions_verification_status": "APPROVED" });
    let path = format!("/v2/identity/identities/{identity}/sandbox-status");
    send(client, Method::PUT, &path, checks).await;
    let (status, account) = post(
        client,
        "/v2/identity/accounts",
        &json!({ "account": { "identity_id": identity } }),
    )
    .await;
    assert_eq!(status, 200, "{account}");
    (identity, account["id"].as_str().unwrap().to_string())
}
