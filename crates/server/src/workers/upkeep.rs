//! The database's own upkeep, off the request path: SQLite's WAL
//! checkpoints (the writer never stops to fold the log back, and the log
//! stays short); PostgreSQL's first statistics of a table that has grown.

use std::sync::Arc;
use std::time::Duration;

use stableport_store::SqlStore;

use super::{Step, Worker};

pub struct Upkeep {
    store: Arc<SqlStore>,
}

impl Upkeep {
    pub fn new(store: Arc<SqlStore>) -> Upkeep {
        Upkeep { store }
    }
}

#[async_trait::async_trait]
impl Worker for Upkeep {
    fn name(&self) -> &'static str {
        "upkeep"
    }

    async fn step(&mut self) -> Step {
        if let Err(e) = self.store.upkeep().await {
            tracing::warn!(%e, "database upkeep failed");
        }
        Step::Idle
    }

    fn idle(&self) -> Duration {
        self.store.upkeep_every()
    }
}
