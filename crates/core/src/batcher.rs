//! Group commit for new conversions, orchestrations and sandbox deposits: requests that arrive
//! while a transaction is in progress wait and go together into the next
//! one, so throughput grows with load without weakening durability (a 200 is
//! only sent after its transaction's commit reached the disk).

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use stableport_domain::Asset;
use stableport_store::{
    CreateOutcome, NewConversion, NewDeposit, NewOrchestration, OrchestrationOutcome, Store,
};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::error::{CoreError, Result};

const MAX_BATCH: usize = 256;

/// A request that can be committed together with others of its kind.
#[async_trait]
pub trait Batched: Send + Sync + Sized + 'static {
    type Outcome: Send + 'static;
    /// The balance it debits: batches take them in this order, so two
    /// transactions (of different replicas) never deadlock on them.
    fn balance(&self) -> (Uuid, Asset);
    /// Commits the batch in one transaction, retrying transient conflicts.
    async fn commit(store: &dyn Store, batch: &[Self]) -> Result<Vec<Self::Outcome>>;
}

#[async_trait]
impl Batched for NewConversion {
    type Outcome = CreateOutcome;
    fn balance(&self) -> (Uuid, Asset) {
        (self.profile_id, self.source_asset)
    }
    async fn commit(store: &dyn Store, batch: &[Self]) -> Result<Vec<CreateOutcome>> {
        crate::conversions::create_batch(store, batch).await
    }
}

#[async_trait]
impl Batched for NewOrchestration {
    type Outcome = OrchestrationOutcome;
    fn balance(&self) -> (Uuid, Asset) {
        (self.profile_id, self.source_asset)
    }
    async fn commit(store: &dyn Store, batch: &[Self]) -> Result<Vec<OrchestrationOutcome>> {
        crate::orchestrations::create_batch(store, batch).await
    }
}

#[async_trait]
impl Batched for NewDeposit {
    type Outcome = ();
    fn balance(&self) -> (Uuid, Asset) {
        (self.profile_id, self.asset)
    }
    async fn commit(store: &dyn Store, batch: &[Self]) -> Result<Vec<()>> {
        crate::deposits::credit_batch(store, batch).await
    }
}

/// A request, where its outcome goes, and when it was queued.
type Job<R> = (R, oneshot::Sender<Result<<R as Batched>::Outcome>>, Instant);

pub struct Batcher<R: Batched> {
    queue: mpsc::Sender<Job<R>>,
}

impl<R: Batched> Clone for Batcher<R> {
    fn clone(&self) -> Self {
        Batcher {
            queue: self.queue.clone(),
        }
    }
}

impl<R: Batched> Batcher<R> {
    /// One commit loop, on every backend: one batch of a kind in flight per
    /// replica. SQLite has one writer anyway. On PostgreSQL, loops that
    /// overlapped their commits split the waiting requests into smaller
    /// batches, which then waited on each other's balance locks; with three
    /// replicas (twelve loops) on this machine, creates ran at 0.66 of one
    /// replica's rate, against about 0.9 with one loop each, for one
    /// replica alone within noise of four loops (BENCHMARKS.md). Replicas
    /// are what multiply commits in flight.
    pub fn spawn(store: Arc<dyn Store>) -> (Batcher<R>, JoinHandle<()>) {
        let (queue, receiver) = mpsc::channel(MAX_BATCH * 16);
        let writer = run(store.clone(), receiver);
        let task = match store.batch_runtime() {
            Some(runtime) => runtime.spawn(writer),
            None => tokio::spawn(writer),
        };
        (Batcher { queue }, task)
    }

    pub async fn submit(&self, request: R) -> Result<R::Outcome> {
        let (reply, outcome) = oneshot::channel();
        self.queue
            .send((request, reply, Instant::now()))
            .await
            .map_err(|_| CoreError::Internal("the batch writer has stopped".into()))?;
        outcome
            .await
            .map_err(|_| CoreError::Internal("the batch writer dropped a request".into()))?
    }
}

async fn run<R: Batched>(store: Arc<dyn Store>, mut receiver: mpsc::Receiver<Job<R>>) {
    loop {
        let mut batch = Vec::new();
        if receiver.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return;
        }
        observe(&batch);
        batch.sort_by_key(|(r, _, _)| r.balance());
        let (requests, replies): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|(r, s, _)| (r, s)).unzip();
        match R::commit(store.as_ref(), &requests).await {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            // A batch that failed (after its retries) goes again one by one,
            // so one bad request cannot fail its neighbours.
            Err(e) => {
                tracing::warn!(%e, size = requests.len(), "batch failed; retrying singly");
                for (request, reply) in requests.into_iter().zip(replies) {
                    let single = std::slice::from_ref(&request);
                    let outcome = R::commit(store.as_ref(), single).await.and_then(|mut o| {
                        o.pop()
                            .ok_or_else(|| CoreError::Internal("no outcome".into()))
                    });
                    let _ = reply.send(outcome);
                }
            }
        }
    }
}

/// Runs `work` (a batch that takes a `batch_transaction`) where the store
/// wants such batches run: on a thread of their own for a SQLite file.
pub async fn on_batch_runtime<T: Send + 'static>(
    store: &dyn Store,
    work: impl std::future::Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    match store.batch_runtime() {
        Some(runtime) => (runtime.spawn(work).await)
            .map_err(|e| CoreError::Internal(format!("the batch thread stopped: {e}")))?,
        None => work.await,
    }
}

/// Batch sizes, and how long each request waited for its batch to start.
fn observe<R: Batched>(batch: &[Job<R>]) {
    let kind = std::any::type_name::<R>().rsplit("::").next().unwrap_or("");
    metrics::histogram!("stableport_group_commit_batch_size", "kind" => kind)
        .record(batch.len() as f64);
    let waits = metrics::histogram!("stableport_group_commit_wait_seconds", "kind" => kind);
    let now = Instant::now();
    for (_, _, queued) in batch {
        waits.record(now.duration_since(*queued).as_secs_f64());
    }
}

/// Debits each request of a batch at `fresh` by its `debit`, checked in the
/// database: the indexes debited, and those short with the balance found.
pub(crate) async fn debit_fresh<R>(
    tx: &mut stableport_store::Tx,
    batch: &[R],
    fresh: &[usize],
    debit: impl Fn(&R) -> (Uuid, Asset, i64),
) -> Result<(Vec<usize>, Vec<(usize, i64)>)> {
    let debits: Vec<_> = fresh.iter().map(|&i| debit(&batch[i])).collect();
    let (mut debited, mut short) = (Vec::new(), Vec::new());
    for (&i, result) in fresh.iter().zip(tx.debit_each(&debits).await?) {
        match result {
            Ok(()) => debited.push(i),
            Err(available) => short.push((i, available)),
        }
    }
    Ok((debited, short))
}
