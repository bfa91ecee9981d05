//! `stableport`: serve the API, manage credentials, audit the ledger.

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use stableport_server::bootstrap::{parse_scopes, save};
use stableport_server::cli::listen;
use stableport_server::config::{parse_duration, Config, Environment, Settlement};
use stableport_store::Store;
use uuid::Uuid;

#[derive(Parser)]
#[command(
    name = "stableport",
    version,
    about = "A self-hostable Paxos v2 stablecoin conversion server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Database {
    /// sqlite://PATH (the default, created if missing) or postgres://USER@HOST/DB.
    #[arg(
        long,
        env = "STABLEPORT_DATABASE_URL",
        default_value = "sqlite://stableport.db",
        global = true
    )]
    database_url: String,
}

#[derive(Subcommand)]
enum Command {
    /// Start the HTTP server.
    Serve(Serve),
    /// Manage OAuth2 client credentials.
    Credentials {
        #[command(subcommand)]
        command: CredentialsCommand,
    },
    /// Check that the ledger conserves every asset; exits 1 on any discrepancy.
    Audit(Database),
    /// Manage the webhooks of a running server (create, list, get, delete, test, …).
    Webhooks {
        #[command(flatten)]
        remote: listen::Remote,
        #[command(subcommand)]
        command: listen::WebhooksCommand,
    },
    /// Register a temporary webhook on a running server, forward every
    /// delivery to --forward-to and print it (like `stripe listen`).
    Listen(listen::ListenArgs),
}

#[derive(Args)]
struct Serve {
    #[command(flatten)]
    db: Database,
    #[arg(long, env = "STABLEPORT_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    #[arg(
        long,
        env = "STABLEPORT_ENVIRONMENT",
        value_enum,
        default_value = "sandbox"
    )]
    environment: Environment,
    /// auto: the settler settles after --settlement-delay; manual: only POST /v2/sandbox/.../settle does.
    #[arg(long, default_value = "auto", value_parser = ["auto", "manual"])]
    settlement: String,
    /// How long a conversion stays CREATED before the settler settles it (0s, 250ms, 1s, 2m).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    settlement_delay: std::time::Duration,
    /// Fix the bootstrap credential's client id instead of generating one.
    #[arg(long, env = "STABLEPORT_CLIENT_ID")]
    client_id: Option<String>,
    #[arg(long, env = "STABLEPORT_CLIENT_SECRET", hide_env_values = true)]
    client_secret: Option<String>,
    /// Requests per second allowed per credential and route (429 beyond,
    /// with Retry-After); 0: no limit. Default: off in sandbox mode, 50 in
    /// production (Paxos documents a few tens per endpoint).
    #[arg(long, env = "STABLEPORT_RATE_LIMIT")]
    rate_limit: Option<u32>,
    /// Largest request body accepted, in bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    max_body_bytes: usize,
    /// How long a new fiat account stays PENDING before it is APPROVED (sandbox).
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    fiat_account_approval_delay: std::time::Duration,
    /// Webhooks: the first retry after about this long; each later one waits twice as long (at most 1h).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    webhook_retry_first_delay: std::time::Duration,
    /// Webhooks: no retry this long after a delivery's first attempt.
    #[arg(long, default_value = "24h", value_parser = parse_duration)]
    webhook_retry_max_age: std::time::Duration,
    /// Webhooks: a consumer must answer within this long.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    webhook_timeout: std::time::Duration,
    /// Webhooks: how often an idle delivery worker looks for due deliveries.
    #[arg(long, default_value = "50ms", value_parser = parse_duration)]
    webhook_poll_interval: std::time::Duration,
    /// Webhooks: deliveries in flight at once, per replica.
    #[arg(long, default_value_t = 256)]
    webhook_max_in_flight: usize,
}

#[derive(Subcommand)]
enum CredentialsCommand {
    /// Create a credential and print {customer_id, client_id, client_secret} as JSON.
    Create {
        #[command(flatten)]
        db: Database,
        /// An existing customer.
        #[arg(
            long,
            conflicts_with = "new_customer",
            required_unless_present = "new_customer"
        )]
        customer: Option<Uuid>,
        /// Create a new customer (with its DEFAULT profile) for this credential.
        #[arg(long)]
        new_customer: bool,
        /// Space-delimited scopes, or "all".
        #[arg(long)]
        scopes: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match Cli::parse().command {
        Command::Serve(args) => serve(args).await,
        Command::Credentials {
            command:
                CredentialsCommand::Create {
                    db,
                    customer,
                    new_customer,
                    scopes,
                },
        } => create_credential(&db.database_url, customer, new_customer, &scopes).await,
        Command::Audit(db) => audit(&db.database_url).await,
        Command::Webhooks { remote, command } => listen::webhooks(&remote, command).await,
        Command::Listen(args) => listen::listen(args).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: Serve) -> anyhow::Result<ExitCode> {
    let mut config = Config::new(args.db.database_url);
    config.listen = args.listen;
    config.environment = args.environment;
    config.settlement = match args.settlement.as_str() {
        "manual" => Settlement::Manual,
        _ => Settlement::After(args.settlement_delay),
    };
    config.client_id = args.client_id;
    config.client_secret = args.client_secret;
    config.max_body_bytes = args.max_body_bytes;
    config.rate_limit = match (args.rate_limit, args.environment) {
        (Some(0), _) | (None, Environment::Sandbox) => None,
        (Some(rate), _) => Some(rate),
        (None, Environment::Production) => Some(50),
    };
    config.fiat_account_approval_delay = args.fiat_account_approval_delay;
    config.webhook_retry_first_delay = args.webhook_retry_first_delay;
    config.webhook_retry_max_age = args.webhook_retry_max_age;
    config.webhook_timeout = args.webhook_timeout;
    config.webhook_poll_interval = args.webhook_poll_interval;
    config.webhook_max_in_flight = args.webhook_max_in_flight;
    let running = stableport_server::start(config.clone()).await?;
    let b = &running.bootstrap;
    println!(
        "Stableport listening on http://{} ({:?}, {})",
        running.addr, config.environment, config.database_url
    );
    println!(
        "  customer_id:   {}{}",
        b.customer_id,
        if b.created_customer { " (created)" } else { "" }
    );
    match (&b.client_id, &b.client_secret) {
        (Some(id), Some(secret)) => {
            println!("  client_id:     {id}");
            println!("  client_secret: {secret}");
        }
        (Some(id), None) => println!("  client_id:     {id} (secret as configured)"),
        _ => println!("  no credential printed: run `stableport credentials create --customer {} --scopes all`", b.customer_id),
    }
    stop_signal().await?;
    eprintln!("stopping: answering requests in flight, writing queued work");
    running.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// SIGTERM (what service managers send) or Ctrl-C.
async fn stop_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => {}
        result = tokio::signal::ctrl_c() => result?,
    }
    Ok(())
}

async fn create_credential(
    url: &str,
    customer: Option<Uuid>,
    new_customer: bool,
    scopes: &str,
) -> anyhow::Result<ExitCode> {
    let scopes = parse_scopes(scopes)?;
    let store = stableport_store::open(url).await?;
    let customer = match (customer, new_customer) {
        (Some(id), _) => {
            anyhow::ensure!(
                store.customer_exists(id).await?,
                "customer {id} does not exist"
            );
            id
        }
        _ => {
            let id = Uuid::new_v4();
            store
                .create_customer(id, stableport_server::time::now())
                .await?;
            id
        }
    };
    let (client_id, client_secret) = save(&store, customer, &scopes, None, None).await?;
    println!(
        "{}",
        serde_json::json!({ "customer_id": customer, "client_id": client_id, "client_secret": client_secret })
    );
    Ok(ExitCode::SUCCESS)
}

async fn audit(url: &str) -> anyhow::Result<ExitCode> {
    let store = stableport_store::open(url).await?;
    let report = store.audit().await?;
    println!(
        "audited {} journal entries, {} postings, {} profile balances",
        report.entries, report.postings, report.profile_balances
    );
    if report.discrepancies.is_empty() {
        println!("ledger is sound: every asset sums to zero and every balance equals its postings");
        return Ok(ExitCode::SUCCESS);
    }
    for d in &report.discrepancies {
        println!("DISCREPANCY: {d}");
    }
    println!("{} discrepancies found", report.discrepancies.len());
    Ok(ExitCode::FAILURE)
}
