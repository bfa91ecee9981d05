//! `stableport`: serve the API, manage credentials, audit the ledger.

use std::process::ExitCode;

use clap::{Args, FromArgMatches, Parser, Subcommand};
use stableport_server::bootstrap::{parse_scopes, save};
use stableport_server::cli::{backup, keys, limits, listen, money, users, Database};
use stableport_server::config::{init_logs, with_file_values, Config, LogFormat};
use stableport_store::{Store, UserStore};
use uuid::Uuid;

/// mimalloc: a request allocates and frees many small objects across
/// threads, where glibc's malloc spent about a fifth of the server's CPU.
/// Without transparent huge pages: they cost 20 MB of idle memory here.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

#[derive(Subcommand)]
enum Command {
    /// Start the HTTP server.
    Serve(Serve),
    /// Manage OAuth2 client credentials.
    Credentials {
        #[command(subcommand)]
        command: CredentialsCommand,
    },
    /// Set, list and delete a customer's transfer limits.
    Limits(limits::LimitsArgs),
    /// Create and list a customer's users (who submit and who approve).
    Users(users::UsersArgs),
    /// Check that the ledger conserves every asset; exits 1 on any discrepancy.
    Audit(Database),
    /// Copy a SQLite database consistently while the server runs.
    Backup(backup::BackupArgs),
    /// Re-encrypt the secrets at rest under a new master key (servers stopped).
    RotateKey(keys::RotateKeyArgs),
    /// Convert on a running server: `stableport convert 100 USD PYUSD [--wait]`.
    Convert(money::ConvertArgs),
    /// Start an orchestration on a running server (to the profile itself unless --to-*).
    Orchestrate(money::OrchestrateArgs),
    /// A profile's balances on a running server.
    Balances(money::Common),
    /// Sandbox: credit a profile on a running server.
    Deposit(money::DepositArgs),
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
    config: Config,
    /// A TOML file of settings named as these flags (database_url = "...",
    /// settlement_delay = "2s", ...); flags and the environment win over it.
    #[arg(long = "config", env = "STABLEPORT_CONFIG")]
    config_file: Option<std::path::PathBuf>,
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
        /// The user of --customer it acts for (who submits, who approves);
        /// without it, it acts for the customer itself.
        #[arg(long, requires = "customer")]
        user: Option<Uuid>,
        /// Space-delimited scopes, or "all".
        #[arg(long)]
        scopes: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // `serve` logs as its settings (a file among them) say; the rest as text.
    if !matches!(cli.command, Command::Serve(_)) {
        init_logs(LogFormat::Text);
    }
    let result = match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Credentials {
            command:
                CredentialsCommand::Create {
                    db,
                    customer,
                    new_customer,
                    user,
                    scopes,
                },
        } => create_credential(&db.database_url, customer, new_customer, user, &scopes).await,
        Command::Limits(args) => limits::run(args).await,
        Command::Users(args) => users::run(args).await,
        Command::Audit(db) => audit(&db.database_url).await,
        Command::Backup(args) => backup::run(args).await,
        Command::RotateKey(args) => keys::rotate(args).await,
        Command::Convert(args) => money::convert(args).await,
        Command::Orchestrate(args) => money::orchestrate(args).await,
        Command::Balances(args) => money::balances(args).await,
        Command::Deposit(args) => money::deposit(args).await,
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

/// The configuration with the `--config` file's values under the flags and
/// the environment: the serve flags are parsed again with the file's values
/// added for those nothing else set.
fn with_config_file(args: Serve) -> anyhow::Result<Config> {
    let Some(path) = args.config_file else {
        return Ok(args.config);
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", path.display()))?;
    let command = Serve::augment_args(clap::Command::new("stableport serve"));
    let argv: Vec<String> = std::env::args().collect();
    let after_serve = argv
        .iter()
        .position(|a| a == "serve")
        .map_or(argv.len(), |i| i + 1);
    let args = std::iter::once("serve".to_string())
        .chain(argv[after_serve..].iter().cloned())
        .collect();
    let args = with_file_values(&command, args, &text, &path.display().to_string())
        .map_err(anyhow::Error::msg)?;
    let matches = command.try_get_matches_from(args)?;
    Ok(Serve::from_arg_matches(&matches)?.config)
}

async fn serve(args: Serve) -> anyhow::Result<ExitCode> {
    let config = with_config_file(args)?;
    init_logs(config.log_format);
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
    user: Option<Uuid>,
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
    if let Some(user) = user {
        let found = store.user(customer, user).await?;
        anyhow::ensure!(
            found.is_some_and(|u| !u.disabled),
            "customer {customer} has no active user {user}"
        );
    }
    let (client_id, client_secret) = save(&store, customer, user, &scopes, None, None).await?;
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
