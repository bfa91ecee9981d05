//! The fiat account approver: moves PENDING accounts to APPROVED once
//! `--fiat-account-approval-delay` has passed since they were created or
//! changed. Runs on every replica; the store's guarded, claimed UPDATE makes
//! each approval happen once. Accounts left PENDING by a restart are simply
//! due when the server is back.

use std::sync::Arc;
use std::time::Duration;

use stableport_store::Store;

use super::{tick_for, Step, Worker};

const BATCH: i64 = 500;

pub struct Approver {
    store: Arc<dyn Store>,
    tick: Duration,
}

impl Approver {
    pub fn new(store: Arc<dyn Store>, delay: Duration) -> Approver {
        let tick = if delay.is_zero() {
            // Accounts are approved as they are created; look rarely, for any
            // left PENDING by an earlier run with a longer delay.
            Duration::from_secs(1)
        } else {
            tick_for(delay)
        };
        Approver { store, tick }
    }
}

#[async_trait::async_trait]
impl Worker for Approver {
    fn name(&self) -> &'static str {
        "approver"
    }

    async fn step(&mut self) -> Step {
        let now = crate::time::now();
        match self.store.approve_due_fiat_accounts(now, BATCH).await {
            // A full batch: more may be waiting.
            Ok(n) if i64::try_from(n) == Ok(BATCH) => Step::Busy,
            Ok(_) => Step::Idle,
            Err(e) => {
                tracing::error!(%e, "fiat account approval failed; will retry");
                Step::Idle
            }
        }
    }

    fn idle(&self) -> Duration {
        self.tick
    }
}
