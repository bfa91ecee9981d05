//! Group commit for new conversions: requests that arrive while a
//! transaction is in progress wait and go together into the next one, so
//! throughput grows with load without weakening durability (a 200 is only
//! sent after its transaction's commit reached the disk).

use std::sync::Arc;

use stableport_store::{Backend, CreateOutcome, NewConversion, Store};
use tokio::sync::{mpsc, oneshot, Mutex};
use tokio::task::JoinHandle;

use crate::problem::Problem;

const MAX_BATCH: usize = 256;

type Reply = oneshot::Sender<Result<CreateOutcome, String>>;

#[derive(Clone)]
pub struct Batcher {
    queue: mpsc::Sender<(NewConversion, Reply)>,
}

impl Batcher {
    /// SQLite has one writer, so one loop; PostgreSQL overlaps a few commits.
    pub fn spawn(store: Arc<dyn Store>) -> (Batcher, Vec<JoinHandle<()>>) {
        let workers = match store.backend() {
            Backend::Sqlite => 1,
            Backend::Postgres => 4,
        };
        let (queue, receiver) = mpsc::channel(MAX_BATCH * 16);
        let receiver = Arc::new(Mutex::new(receiver));
        let tasks = (0..workers)
            .map(|_| tokio::spawn(run(store.clone(), receiver.clone())))
            .collect();
        (Batcher { queue }, tasks)
    }

    pub async fn create(&self, request: NewConversion) -> Result<CreateOutcome, Problem> {
        let (reply, outcome) = oneshot::channel();
        self.queue
            .send((request, reply))
            .await
            .map_err(|_| Problem::internal("conversion writer has stopped"))?;
        outcome
            .await
            .map_err(|_| Problem::internal("conversion writer dropped a request"))?
            .map_err(Problem::internal)
    }
}

async fn run(store: Arc<dyn Store>, receiver: Arc<Mutex<mpsc::Receiver<(NewConversion, Reply)>>>) {
    loop {
        let mut batch = Vec::new();
        {
            let mut receiver = receiver.lock().await;
            if receiver.recv_many(&mut batch, MAX_BATCH).await == 0 {
                return;
            }
        }
        // One lock order for every transaction: no deadlocks between replicas or workers.
        batch.sort_by_key(|(c, _)| (c.profile_id, c.source_asset));
        let (requests, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        match store.create_conversions(&requests).await {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            // A failed batch is retried one by one, so one bad request cannot fail its neighbours.
            Err(e) => {
                tracing::warn!(%e, size = requests.len(), "conversion batch failed; retrying singly");
                for (request, reply) in requests.into_iter().zip(replies) {
                    let outcome = store
                        .create_conversions(std::slice::from_ref(&request))
                        .await
                        .map_err(|e| e.to_string())
                        .and_then(|mut o| o.pop().ok_or_else(|| "no outcome".to_string()));
                    let _ = reply.send(outcome);
                }
            }
        }
    }
}
