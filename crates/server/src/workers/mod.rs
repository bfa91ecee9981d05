//! Work done off the request path, on every replica: settlement and
//! orchestration steps, fiat account approval, webhook delivery, the
//! database's upkeep, chart samples, retention, each a [`Worker`]. (The
//! group-commit writers belong to the operations layer,
//! `stableport_core::batcher`.)

pub mod approver;
pub mod delivery;
pub mod pruner;
pub mod sampler;
pub mod settler;
pub mod upkeep;

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What a step found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// More is waiting: step again at once.
    Busy,
    /// Nothing more for now: rest for [`Worker::idle`].
    Idle,
}

/// One kind of background work. Each step is its own transaction (or claim
/// with a lease), so stopping between steps, or a crash within one, loses
/// nothing: what was not committed is done again, here or on another replica.
#[async_trait::async_trait]
pub trait Worker: Send + 'static {
    fn name(&self) -> &'static str;
    /// One step; failures are logged and retried by the next step.
    async fn step(&mut self) -> Step;
    /// How long to rest after an idle step.
    fn idle(&self) -> Duration;
}

/// The running workers and their stop signal.
pub struct Workers {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Default for Workers {
    fn default() -> Workers {
        Workers {
            stop: watch::channel(false).0,
            tasks: Vec::new(),
        }
    }
}

impl Workers {
    pub fn spawn(&mut self, mut worker: impl Worker) {
        let mut stop = self.stop.subscribe();
        self.tasks.push(tokio::spawn(async move {
            tracing::debug!(worker = worker.name(), "started");
            while !*stop.borrow() {
                if worker.step().await == Step::Busy {
                    continue;
                }
                tokio::select! {
                    _ = tokio::time::sleep(worker.idle()) => {}
                    _ = stop.changed() => {}
                }
            }
            tracing::debug!(worker = worker.name(), "stopped");
        }));
    }

    /// A clean stop: each worker finishes the step it is in, then ends.
    pub async fn stop(self) {
        self.stop.send_replace(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }

    /// Stops every worker at once, mid-step, as a crash would.
    pub fn abort(self) {
        for task in self.tasks {
            task.abort();
        }
    }
}

/// The rest between idle steps of a worker whose work comes due `delay`
/// after it is created: often enough to be on time, rarely enough to be cheap.
pub fn tick_for(delay: Duration) -> Duration {
    (delay / 4).clamp(Duration::from_millis(10), Duration::from_millis(250))
}
