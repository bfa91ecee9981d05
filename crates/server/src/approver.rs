//! Placeholder for the fiat account approver.

use std::sync::Arc;
use std::time::Duration;

use stableport_store::Store;
use tokio::task::JoinHandle;

pub fn spawn(_store: Arc<dyn Store>, _delay: Duration) -> JoinHandle<()> {
    tokio::spawn(async {})
}
