//! SQLite's WAL checkpoints, off the write path: the writer never stops to
//! fold the log back into the database, and the log stays short.

use std::sync::Arc;
use std::time::Duration;

use stableport_store::SqlStore;

use super::{Step, Worker};

pub struct Checkpointer {
    store: Arc<SqlStore>,
}

impl Checkpointer {
    /// None where the backend has no use for one (PostgreSQL).
    pub fn new(store: Arc<SqlStore>) -> Option<Checkpointer> {
        store.needs_checkpoints().then_some(Checkpointer { store })
    }
}

#[async_trait::async_trait]
impl Worker for Checkpointer {
    fn name(&self) -> &'static str {
        "checkpointer"
    }

    async fn step(&mut self) -> Step {
        if let Err(e) = self.store.checkpoint().await {
            tracing::warn!(%e, "background WAL checkpoint failed");
        }
        Step::Idle
    }

    fn idle(&self) -> Duration {
        Duration::from_millis(250)
    }
}
