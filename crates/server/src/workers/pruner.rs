//! Retention: deletes events, webhook deliveries and delivery attempts
//! older than `--retain-events`, `--retain-deliveries` and
//! `--retain-attempts`, a small batch per statement so writers never wait
//! long, and never anything still pending. The ledger is never pruned.

use std::sync::Arc;
use std::time::Duration;

use stableport_store::{Cutoffs, Store};

use super::{Step, Worker};

const BATCH: i64 = 500;

/// How long each kind is kept (None: forever).
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    pub events: Option<Duration>,
    pub deliveries: Option<Duration>,
    pub attempts: Option<Duration>,
}

pub struct Pruner {
    store: Arc<dyn Store>,
    keep: Retention,
    idle: Duration,
}

impl Pruner {
    /// None when everything is kept forever.
    pub fn new(store: Arc<dyn Store>, keep: Retention) -> Option<Pruner> {
        let shortest = [keep.events, keep.deliveries, keep.attempts]
            .into_iter()
            .flatten()
            .min()?;
        // Look often enough for short retentions (tests), rarely otherwise.
        let idle = (shortest / 4).clamp(Duration::from_millis(100), Duration::from_secs(60));
        Some(Pruner { store, keep, idle })
    }

    fn cutoffs(&self, now: i64) -> Cutoffs {
        let before = |keep: Option<Duration>| {
            keep.map(|d| now - i64::try_from(d.as_micros()).unwrap_or(i64::MAX / 2))
        };
        let events = before(self.keep.events);
        // A delivery or attempt outlives neither its event nor its delivery.
        let deliveries = [before(self.keep.deliveries), events]
            .into_iter()
            .flatten()
            .max();
        let attempts = [before(self.keep.attempts), deliveries]
            .into_iter()
            .flatten()
            .max();
        Cutoffs {
            events,
            deliveries,
            attempts,
        }
    }
}

#[async_trait::async_trait]
impl Worker for Pruner {
    fn name(&self) -> &'static str {
        "pruner"
    }

    async fn step(&mut self) -> Step {
        let cutoffs = self.cutoffs(crate::time::now());
        match self.store.prune(&cutoffs, BATCH).await {
            Ok(p) => {
                for (kind, n) in [
                    ("event", p.events),
                    ("delivery", p.deliveries),
                    ("attempt", p.attempts),
                ] {
                    metrics::counter!("stableport_retention_pruned_total", "kind" => kind)
                        .increment(n);
                }
                // Anything deleted: more may be waiting.
                match p.events + p.deliveries + p.attempts {
                    0 => Step::Idle,
                    _ => Step::Busy,
                }
            }
            Err(e) => {
                tracing::error!(%e, "pruning failed; will retry");
                Step::Idle
            }
        }
    }

    fn idle(&self) -> Duration {
        self.idle
    }
}
