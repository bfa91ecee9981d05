//! The sampler: once per `--sample-every`, records every customer's total
//! per asset and the volume created since the sample before, for the
//! dashboard's charts (which then never scan the activity itself). A
//! sample's time is its interval's start, so replicas sampling together
//! write it once.

use std::sync::Arc;
use std::time::Duration;

use stableport_store::Store;

use super::{Step, Worker};

/// A sample waits this long past its time, so conversions stamped just
/// before it and still committing are counted in it, not lost between two.
const GRACE: i64 = 5_000_000;

pub struct Sampler {
    store: Arc<dyn Store>,
    /// The interval, in the store's clock (microseconds).
    every: i64,
    /// The newest sample known to exist.
    taken: Option<i64>,
}

impl Sampler {
    /// None when sampling is off (an interval of zero).
    pub fn new(store: Arc<dyn Store>, every: Duration) -> Option<Sampler> {
        let every = i64::try_from(every.as_micros()).ok().filter(|m| *m > 0)?;
        Some(Sampler {
            store,
            every,
            taken: None,
        })
    }
}

#[async_trait::async_trait]
impl Worker for Sampler {
    fn name(&self) -> &'static str {
        "sampler"
    }

    async fn step(&mut self) -> Step {
        let ready = crate::time::now() - GRACE;
        let due = ready - ready.rem_euclid(self.every);
        if self.taken.is_some_and(|t| t >= due) {
            return Step::Idle;
        }
        let taken = match self.store.latest_sample().await {
            Ok(Some(latest)) if latest >= due => Ok(latest),
            Ok(_) => self.store.take_sample(due).await.map(|_| due),
            Err(e) => Err(e),
        };
        match taken {
            Ok(at) => self.taken = Some(at),
            Err(e) => tracing::error!(%e, "taking a sample failed; will retry"),
        }
        Step::Idle
    }

    fn idle(&self) -> Duration {
        let every = Duration::from_micros(self.every.unsigned_abs());
        (every / 10).clamp(Duration::from_millis(100), Duration::from_secs(60))
    }
}
