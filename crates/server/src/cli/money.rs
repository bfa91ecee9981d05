//! The money calls from the command line, for operators and demos, through
//! the typed client: `convert`, `orchestrate`, `balances` and (sandbox)
//! `deposit`. Text by default, `--json` for scripts; `--wait` follows a
//! conversion or orchestration until it ends, with progress on stderr.

use std::future::Future;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;
use stableport_client::{
    Conversion, CreateConversion, CreateOrchestration, Orchestration, OrchestrationDestination,
};

use super::listen::Remote;
use crate::config::parse_duration;

#[derive(Args)]
pub struct Common {
    #[command(flatten)]
    pub remote: Remote,
    /// The profile: an id, or "default".
    #[arg(long, default_value = "default")]
    pub profile: String,
    /// Print the result as JSON (the API's own objects).
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct Following {
    /// Wait until it has settled (or ended otherwise), showing progress;
    /// exits 1 unless it ended as asked.
    #[arg(long)]
    pub wait: bool,
    /// Give up waiting after this long (exit 1).
    #[arg(long, default_value = "2m", value_parser = parse_duration)]
    pub timeout: Duration,
}

#[derive(Args)]
pub struct ConvertArgs {
    /// The amount of the source asset, e.g. 100 or 12.50.
    pub amount: String,
    /// USD, USDP, PYUSD, USDG or USDC.
    pub source: String,
    pub target: String,
    /// Makes a retry safe: the same ref_id answers 409 with the stored conversion.
    #[arg(long)]
    pub ref_id: Option<String>,
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub following: Following,
}

#[derive(Args)]
pub struct OrchestrateArgs {
    /// The amount of the source asset.
    pub amount: String,
    pub source: String,
    /// The asset delivered.
    pub destination: String,
    /// Deliver to this profile (an id or "default"); without any --to-*, to --profile.
    #[arg(long, conflicts_with_all = ["to_crypto_address", "to_fiat_account"])]
    pub to_profile: Option<String>,
    /// Deliver to this crypto destination address id.
    #[arg(long, conflicts_with = "to_fiat_account")]
    pub to_crypto_address: Option<String>,
    /// Deliver to this fiat account id.
    #[arg(long)]
    pub to_fiat_account: Option<String>,
    /// Generated when not given.
    #[arg(long)]
    pub ref_id: Option<String>,
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub following: Following,
}

#[derive(Args)]
pub struct DepositArgs {
    pub amount: String,
    pub asset: String,
    #[command(flatten)]
    pub common: Common,
}

pub async fn convert(args: ConvertArgs) -> anyhow::Result<ExitCode> {
    let c = &args.common;
    let client = c.remote.login().await?;
    let profile = client.profile(&c.profile).await?.id;
    let request = CreateConversion {
        profile_id: profile,
        amount: args.amount.clone(),
        source_asset: args.source.to_uppercase(),
        target_asset: args.target.to_uppercase(),
        ref_id: args.ref_id.clone(),
        ..Default::default()
    };
    let made = client.create_conversion(&request).await?;
    let client = &client;
    show(made, c, &args.following, move |id| async move {
        client.conversion(&id).await
    })
    .await
}

pub async fn orchestrate(args: OrchestrateArgs) -> anyhow::Result<ExitCode> {
    let c = &args.common;
    let client = c.remote.login().await?;
    let profile = client.profile(&c.profile).await?.id;
    let destination = match (
        &args.to_crypto_address,
        &args.to_fiat_account,
        &args.to_profile,
    ) {
        (Some(address), _, _) => OrchestrationDestination::crypto(address),
        (_, Some(account), _) => OrchestrationDestination::fiat(account, None),
        (_, _, Some(to)) => OrchestrationDestination::profile(&client.profile(to).await?.id),
        _ => OrchestrationDestination::profile(&profile),
    };
    let ref_id = args
        .ref_id
        .clone()
        .unwrap_or_else(|| format!("cli-{}", uuid::Uuid::new_v4()));
    let request = CreateOrchestration::new(
        &ref_id,
        &profile,
        &args.source.to_uppercase(),
        &args.destination.to_uppercase(),
        &args.amount,
        destination,
    );
    let made = client.create_orchestration(&request).await?;
    let client = &client;
    show(made, c, &args.following, move |id| async move {
        client.orchestration(&id).await
    })
    .await
}

pub async fn balances(args: Common) -> anyhow::Result<ExitCode> {
    let client = args.remote.login().await?;
    let profile = client.profile(&args.profile).await?.id;
    let listed = client.balances(&profile, &[]).await?.items;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "items": listed }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("profile {profile}");
    println!("{:<6} {:>24} {:>24}", "ASSET", "AVAILABLE", "TRADING");
    for b in &listed {
        println!("{:<6} {:>24} {:>24}", b.asset, b.available, b.trading);
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn deposit(args: DepositArgs) -> anyhow::Result<ExitCode> {
    let c = &args.common;
    let client = c.remote.login().await?;
    let profile = client.profile(&c.profile).await?.id;
    let asset = args.asset.to_uppercase();
    let activity = client.deposit(&profile, &asset, &args.amount).await?;
    let shown = serde_json::json!({
        "activity_id": activity, "profile_id": profile, "asset": asset, "amount": args.amount,
    });
    let line = format!(
        "deposited {} {asset} into profile {profile} (activity {activity})",
        args.amount
    );
    print(c.json, &shown, &line)?;
    Ok(ExitCode::SUCCESS)
}

/// A conversion or orchestration, as `--wait` follows it and the command
/// shows it.
trait Followed: Serialize {
    const KIND: &'static str;
    /// The status it should end in.
    const DONE: &'static str;
    /// Its id and status.
    fn state(&self) -> (&str, &str);
    fn line(&self) -> String;

    fn id(&self) -> String {
        self.state().0.to_string()
    }

    fn status(&self) -> String {
        self.state().1.to_string()
    }
}

impl Followed for Conversion {
    const KIND: &'static str = "conversion";
    const DONE: &'static str = "SETTLED";
    fn state(&self) -> (&str, &str) {
        (&self.id, &self.status)
    }
    fn line(&self) -> String {
        let c = self;
        format!(
            "conversion {}: {} {} -> {}, {}",
            c.id, c.amount, c.source_asset, c.target_asset, c.status
        )
    }
}

impl Followed for Orchestration {
    const KIND: &'static str = "orchestration";
    const DONE: &'static str = "COMPLETED";
    fn state(&self) -> (&str, &str) {
        (&self.id, &self.status)
    }
    fn line(&self) -> String {
        let o = self;
        format!(
            "orchestration {} ({}): {} {} -> {}, {}",
            o.id, o.ref_id, o.source_amount, o.source_asset, o.destination_asset, o.status
        )
    }
}

/// Follows `made` with `--wait`, prints it, and exits 1 if we waited and it
/// did not end as it should.
async fn show<T, F, Fut>(
    made: T,
    common: &Common,
    following: &Following,
    fetch: F,
) -> anyhow::Result<ExitCode>
where
    T: Followed,
    F: FnMut(String) -> Fut,
    Fut: Future<Output = stableport_client::Result<T>>,
{
    let ended = follow(made, following, fetch).await?;
    print(common.json, &ended, &ended.line())?;
    Ok(match !following.wait || ended.status() == T::DONE {
        true => ExitCode::SUCCESS,
        false => ExitCode::FAILURE,
    })
}

/// With `--wait`, fetches `made` again until its status changes or time is
/// up, showing progress on stderr: it as it ended (or as last seen).
async fn follow<T, F, Fut>(made: T, following: &Following, mut fetch: F) -> anyhow::Result<T>
where
    T: Followed,
    F: FnMut(String) -> Fut,
    Fut: Future<Output = stableport_client::Result<T>>,
{
    if !following.wait {
        return Ok(made);
    }
    let what = format!("{} {}", T::KIND, made.id());
    let (first, started) = (made.status(), Instant::now());
    let tty = std::io::stderr().is_terminal();
    let mut last = made;
    let mut said = None;
    while started.elapsed() < following.timeout {
        let secs = started.elapsed().as_secs_f64();
        if last.status() != first {
            if tty {
                eprintln!();
            }
            eprintln!("{what}: {} after {secs:.1} s", last.status());
            return Ok(last);
        }
        // A line that rewrites itself on a terminal; a line a second in a log.
        if tty {
            eprint!("\r{what}: {first}, waiting {secs:.0} s");
            let _ = std::io::stderr().flush();
        } else if said.is_none_or(|s: u64| secs as u64 > s) {
            eprintln!("{what}: {first}, waiting {secs:.0} s");
            said = Some(secs as u64);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        last = fetch(last.id()).await?;
    }
    if tty {
        eprintln!();
    }
    eprintln!(
        "{what}: still {first} after {:?}; giving up",
        following.timeout
    );
    Ok(last)
}

fn print(json: bool, value: &impl Serialize, line: &str) -> anyhow::Result<()> {
    match json {
        true => println!("{}", serde_json::to_string_pretty(value)?),
        false => println!("{line}"),
    }
    Ok(())
}
