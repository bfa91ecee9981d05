//! The balance snapshotter: once per `--balance-snapshot-every`, samples
//! every customer's total per asset for the dashboard's balance chart. The
//! sample's time is the interval's start, so replicas sampling together
//! write one sample (the store ignores the second).

use std::sync::Arc;
use std::time::Duration;

use stableport_store::Store;

use super::{Step, Worker};

pub struct Snapshotter {
    store: Arc<dyn Store>,
    /// The interval, in the store's clock (microseconds).
    every: i64,
    /// The newest sample known to exist.
    taken: Option<i64>,
}

impl Snapshotter {
    /// None when sampling is off (an interval of zero).
    pub fn new(store: Arc<dyn Store>, every: Duration) -> Option<Snapshotter> {
        let every = i64::try_from(every.as_micros()).ok().filter(|m| *m > 0)?;
        Some(Snapshotter {
            store,
            every,
            taken: None,
        })
    }
}

#[async_trait::async_trait]
impl Worker for Snapshotter {
    fn name(&self) -> &'static str {
        "snapshotter"
    }

    async fn step(&mut self) -> Step {
        let now = crate::time::now();
        let due = now - now.rem_euclid(self.every);
        if self.taken.is_some_and(|t| t >= due) {
            return Step::Idle;
        }
        let taken = match self.store.latest_snapshot().await {
            Ok(Some(latest)) if latest >= due => Ok(latest),
            Ok(_) => self.store.snapshot_balances(due).await.map(|_| due),
            Err(e) => Err(e),
        };
        match taken {
            Ok(at) => self.taken = Some(at),
            Err(e) => tracing::error!(%e, "balance snapshot failed; will retry"),
        }
        Step::Idle
    }

    fn idle(&self) -> Duration {
        let every = Duration::from_micros(self.every.unsigned_abs());
        (every / 10).clamp(Duration::from_millis(100), Duration::from_secs(60))
    }
}
