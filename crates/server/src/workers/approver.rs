//! The fiat account approver: moves PENDING accounts to APPROVED once
//! `--fiat-account-approval-delay` has passed since they were created or
//! changed. Runs on every replica; the store's guarded, claimed UPDATE makes
//! each approval happen once. Accounts left PENDING by a restart are simply
//! due when the server is back.

use std::sync::Arc;
use std::time::Duration;

use stableport_store::Store;
use tokio::task::JoinHandle;

const BATCH: i64 = 500;

pub fn spawn(store: Arc<dyn Store>, delay: Duration) -> JoinHandle<()> {
    let tick = if delay.is_zero() {
        // Accounts are approved as they are created; look rarely, for any
        // left PENDING by an earlier run with a longer delay.
        Duration::from_secs(1)
    } else {
        (delay / 4).clamp(Duration::from_millis(10), Duration::from_millis(250))
    };
    tokio::spawn(async move {
        loop {
            match store
                .approve_due_fiat_accounts(crate::time::now(), BATCH)
                .await
            {
                // A full batch: more may be waiting.
                Ok(n) if i64::try_from(n) == Ok(BATCH) => continue,
                Ok(_) => {}
                Err(e) => tracing::error!(%e, "fiat account approval failed; will retry"),
            }
            tokio::time::sleep(tick).await;
        }
    })
}
