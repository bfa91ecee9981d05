//! Placeholder for the webhook delivery worker.

use std::sync::Arc;

use stableport_store::Store;
use tokio::task::JoinHandle;

use crate::config::Config;

pub fn spawn(_store: Arc<dyn Store>, _config: &Config) -> JoinHandle<()> {
    tokio::spawn(async {})
}
