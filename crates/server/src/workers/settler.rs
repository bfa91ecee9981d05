//! The background settler: moves CREATED conversions to SETTLED, and delivers
//! PROCESSING orchestrations, once their time has come. Runs on every replica; the store's claim makes
//! each settlement happen exactly once. Conversions left CREATED by a crash
//! are simply due when the server is back.

use std::sync::Arc;
use std::time::Duration;

use stableport_store::Store;
use tokio::task::JoinHandle;

use crate::config::Settlement;

/// Large enough that settling costs few commits, small enough that one
/// settlement transaction never holds the write lock for long. Measured on
/// SQLite at 64 clients: 64 gave ~3,900 conversions/s, 256 ~4,900/s with p99
/// under 50 ms, 512 no faster but p99 65 ms.
const BATCH: i64 = 256;

/// Orchestrations are delivered one statement set each, so fewer per
/// transaction keep the write lock short.
const DELIVERIES: i64 = 32;

pub fn spawn(store: Arc<dyn Store>, settlement: Settlement) -> JoinHandle<()> {
    let tick = match settlement {
        Settlement::After(delay) => {
            (delay / 4).clamp(Duration::from_millis(10), Duration::from_millis(250))
        }
        // Nothing new becomes due; look rarely for conversions left from an earlier run.
        Settlement::Manual => Duration::from_secs(1),
    };
    tokio::spawn(async move {
        loop {
            let now = crate::time::now();
            let settled = store.settle_due(now, BATCH).await.unwrap_or_else(|e| {
                tracing::error!(%e, "settlement failed; will retry");
                0
            });
            let delivered = store
                .advance_orchestrations(now, DELIVERIES)
                .await
                .unwrap_or_else(|e| {
                    tracing::error!(%e, "orchestration step failed; will retry");
                    0
                });
            if settled as i64 == BATCH || delivered as i64 == DELIVERIES {
                continue;
            }
            tokio::time::sleep(tick).await;
        }
    })
}
