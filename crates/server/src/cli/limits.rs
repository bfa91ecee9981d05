//! `stableport limits`: an operator's transfer limits per customer, which
//! the API enforces and reports (GET /v2/transfer/limits/utilizations).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::json;
use stableport_domain::{Amount, Asset, TransferKind};
use stableport_store::{Limit, LimitStore, Store};
use uuid::Uuid;

use crate::config::parse_duration;

#[derive(Args)]
pub struct LimitsArgs {
    #[command(flatten)]
    pub db: super::Database,
    #[command(subcommand)]
    pub command: LimitsCommand,
}

#[derive(Subcommand)]
pub enum LimitsCommand {
    /// Add a limit; prints it as JSON.
    Set {
        #[arg(long)]
        customer: Uuid,
        /// Comma-separated transfer types it covers, e.g. CRYPTO_WITHDRAWAL,WIRE_WITHDRAWAL.
        #[arg(long, value_delimiter = ',', value_parser = parse_kind, required = true)]
        types: Vec<TransferKind>,
        /// In USD (stablecoins count 1:1), e.g. 10000 or 2500.50.
        #[arg(long, value_parser = parse_usd)]
        limit: i64,
        /// The trailing window it sums over (24h, 7d as 168h); 0s limits each transfer alone.
        #[arg(long, value_parser = parse_duration, default_value = "24h")]
        period: std::time::Duration,
    },
    /// The customer's limits, as JSON lines.
    List {
        #[arg(long)]
        customer: Uuid,
    },
    /// Remove one of the customer's limits.
    Delete {
        #[arg(long)]
        customer: Uuid,
        #[arg(long)]
        id: Uuid,
    },
}

fn parse_kind(text: &str) -> Result<TransferKind, String> {
    TransferKind::parse(text).ok_or_else(|| {
        format!(
            "{text:?} is not one of {}",
            TransferKind::names().join(", ")
        )
    })
}

fn parse_usd(text: &str) -> Result<i64, String> {
    Amount::parse(text, 2)
        .map(|a| a.units(Asset::Usd))
        .map_err(|e| format!("{text:?} {e}"))
}

fn show(l: &Limit) -> serde_json::Value {
    json!({
        "id": l.id,
        "customer_id": l.customer_id,
        "transfer_types": l.transfer_types.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
        "period_seconds": l.period_seconds,
        "limit": stableport_domain::amount::format_units(l.limit_cents, Asset::Usd),
    })
}

pub async fn run(args: LimitsArgs) -> anyhow::Result<ExitCode> {
    let store = stableport_store::open(&args.db.database_url).await?;
    match args.command {
        LimitsCommand::Set {
            customer,
            types,
            limit,
            period,
        } => {
            anyhow::ensure!(
                store.customer_exists(customer).await?,
                "customer {customer} does not exist"
            );
            let limit = Limit {
                id: stableport_domain::new_id(),
                customer_id: customer,
                transfer_types: types,
                period_seconds: i64::try_from(period.as_secs())?,
                limit_cents: limit,
                created_at: crate::time::now(),
            };
            store.insert_limit(&limit).await?;
            println!("{}", show(&limit));
        }
        LimitsCommand::List { customer } => {
            for l in store.limits(customer).await? {
                println!("{}", show(&l));
            }
        }
        LimitsCommand::Delete { customer, id } => {
            anyhow::ensure!(
                store.delete_limit(customer, id).await?,
                "customer {customer} has no limit {id}"
            );
            println!("deleted limit {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
