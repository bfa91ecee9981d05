//! `stableport rotate-key`: seals every secret at rest again under a new
//! master key. Stop the servers first, then start them with the new key
//! (a server holding the old key cannot open what is sealed under the new).

use std::path::PathBuf;
use std::process::ExitCode;

use stableport_store::MasterKey;

use super::Database;
use crate::config::KeySource;

#[derive(clap::Args)]
pub struct RotateKeyArgs {
    #[command(flatten)]
    pub db: Database,
    /// The current key (leave it out while the secrets are still plain).
    #[command(flatten)]
    pub current: KeySource,
    /// A file holding the new key (64 hex digits: `openssl rand -hex 32`).
    #[arg(long)]
    pub new_key_file: PathBuf,
}

pub async fn rotate(args: RotateKeyArgs) -> anyhow::Result<ExitCode> {
    let current = args.current.load()?;
    let text = std::fs::read_to_string(&args.new_key_file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", args.new_key_file.display()))?;
    let new = MasterKey::parse(&text).map_err(|e| anyhow::anyhow!(e))?;
    let mut store = stableport_store::open(&args.db.database_url).await?;
    store.unlock(current.as_ref()).await?;
    let resealed = store.reseal(&new).await?;
    println!(
        "re-encrypted {resealed} secrets under master key {}; start every server with the new key",
        new.id()
    );
    Ok(ExitCode::SUCCESS)
}
