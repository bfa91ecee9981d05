//! `stableport backup --to FILE`: a consistent copy of a SQLite database,
//! taken while the server runs. PostgreSQL has pg_dump (README, "Backups").

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use stableport_store::{Backend, OpsStore};

use super::Database;

#[derive(clap::Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub db: Database,
    /// The copy to write; it must not exist (a backup never overwrites).
    #[arg(long)]
    pub to: PathBuf,
}

pub async fn run(args: BackupArgs) -> anyhow::Result<ExitCode> {
    let url = &args.db.database_url;
    match Backend::from_url(url) {
        Some(Backend::Sqlite) => {}
        Some(Backend::Postgres) => anyhow::bail!(
            "`stableport backup` copies SQLite databases; for PostgreSQL use pg_dump \
             (README, \"Backups\"): pg_dump --format=custom --file=stableport.dump '{url}'"
        ),
        None => anyhow::bail!("unsupported database URL {url:?}"),
    }
    let source = sqlite_path(url);
    if !Path::new(source).exists() {
        anyhow::bail!("there is no database at {source}");
    }
    if args.to.exists() {
        anyhow::bail!("{} exists: choose a new file", args.to.display());
    }
    let to = args
        .to
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("the backup path must be UTF-8"))?;
    eprintln!("backing up {source} to {to} (the server may keep running)…");
    let started = Instant::now();
    let store = stableport_store::open(url).await?;
    store.backup_to(to).await?;
    let bytes = std::fs::metadata(to)?.len();
    println!(
        "wrote {to} ({:.1} MB) in {:.1} s; check it with: stableport audit --database-url sqlite://{to}",
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// The file of a `sqlite://PATH[?options]` URL.
fn sqlite_path(url: &str) -> &str {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    rest.split('?').next().unwrap_or(rest)
}
