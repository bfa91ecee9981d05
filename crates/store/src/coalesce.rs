//! PostgreSQL reads by id that arrive together are answered by one query.
//! A read was one round trip, and PostgreSQL's share of it (parse, plan,
//! executor start, a wake-up on each side) was most of its cost on a busy
//! machine. With many clients reading, one query now serves every read
//! waiting. A read waits only while an earlier batch's query runs, and its
//! own query starts after it arrived: after any write its client saw
//! committed, so it sees that write.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use sqlx::{AnyPool, Row};
use tokio::sync::{mpsc, oneshot, Mutex};
use uuid::Uuid;

use crate::model::{Balance, Conversion};
use crate::sql::{self, Sql, Val, CONVERSION_COLUMNS};
use crate::{Result, StoreError};

/// Queries in flight at once, per kind of read. Four read 0.90-0.95 times
/// as fast as two on this 2-core machine (smaller batches).
const LOOPS: usize = 2;
const MAX_BATCH: usize = 256;

type Answers<V> = Pin<Box<dyn Future<Output = Result<Vec<V>>> + Send>>;
/// Reads every key, answering in their order.
type Read<K, V> = Arc<dyn Fn(Vec<K>) -> Answers<V> + Send + Sync>;
type Waiting<K, V> = (K, oneshot::Sender<Result<V>>);

pub(crate) struct Coalesced<K, V> {
    read: Read<K, V>,
    /// Started with the first read, on its runtime.
    queue: OnceLock<mpsc::Sender<Waiting<K, V>>>,
}

impl<K: Clone + Send + 'static, V: Send + 'static> Coalesced<K, V> {
    fn new(read: Read<K, V>) -> Self {
        Coalesced {
            read,
            queue: OnceLock::new(),
        }
    }

    pub(crate) async fn get(&self, key: K) -> Result<V> {
        let (reply, answer) = oneshot::channel();
        let queue = self.queue.get_or_init(|| self.start());
        if queue.send((key.clone(), reply)).await.is_err() {
            // The loops' runtime has ended (a store outliving the runtime
            // of its first read): read alone.
            return one(&self.read, key).await;
        }
        match answer.await {
            Ok(value) => value,
            Err(_) => one(&self.read, key).await,
        }
    }

    fn start(&self) -> mpsc::Sender<Waiting<K, V>> {
        let (queue, receiver) = mpsc::channel(MAX_BATCH * 4);
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..LOOPS {
            tokio::spawn(serve(self.read.clone(), receiver.clone()));
        }
        queue
    }
}

async fn serve<K: Clone, V>(read: Read<K, V>, waiting: Arc<Mutex<mpsc::Receiver<Waiting<K, V>>>>) {
    loop {
        let mut batch = Vec::new();
        if waiting.lock().await.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return;
        }
        let (keys, replies): (Vec<K>, Vec<_>) = batch.into_iter().unzip();
        match read(keys.clone()).await {
            Ok(values) if values.len() == replies.len() => {
                for (reply, value) in replies.into_iter().zip(values) {
                    let _ = reply.send(Ok(value));
                }
            }
            // Read again one by one: each read gets its own answer or error.
            _ => {
                for (key, reply) in keys.into_iter().zip(replies) {
                    let _ = reply.send(one(&read, key).await);
                }
            }
        }
    }
}

async fn one<K, V>(read: &Read<K, V>, key: K) -> Result<V> {
    let mut values = read(vec![key]).await?;
    (values.pop()).ok_or_else(|| StoreError::Internal("a read got no answer".into()))
}

/// A customer's record by id.
type ById = (Uuid, Uuid);

/// The coalesced reads of a PostgreSQL store.
pub(crate) struct Reads {
    /// An active profile's balances (None: no such active profile).
    pub(crate) balances: Coalesced<ById, Option<Vec<Balance>>>,
    pub(crate) conversions: Coalesced<ById, Option<Conversion>>,
}

impl Reads {
    pub(crate) fn new(pool: AnyPool) -> Reads {
        let on = pool.clone();
        Reads {
            balances: Coalesced::new(Arc::new(move |keys| Box::pin(balances(on.clone(), keys)))),
            conversions: Coalesced::new(Arc::new(move |keys| {
                Box::pin(conversions(pool.clone(), keys))
            })),
        }
    }
}

/// `SELECT <columns> FROM` the keys, each with its index `i`.
fn keyed(columns: &str, keys: &[ById]) -> Sql {
    let mut q = Sql::new(&format!("SELECT r.i, {columns} FROM "));
    let rows = keys.iter().enumerate().map(|(i, (customer, id))| {
        let i = i64::try_from(i).unwrap_or(i64::MAX);
        vec![Val::Int(i), (*customer).into(), (*id).into()]
    });
    q.recordset("i bigint, customer_id text, id text", rows);
    q
}

/// The answer slot of row `row`'s key.
fn slot<'a, T>(answers: &'a mut [T], row: &sqlx::any::AnyRow) -> Result<&'a mut T> {
    let i: i64 = row.try_get("i")?;
    usize::try_from(i)
        .ok()
        .and_then(|i| answers.get_mut(i))
        .ok_or_else(|| StoreError::Internal(format!("a read answered key {i}")))
}

async fn balances(pool: AnyPool, keys: Vec<ById>) -> Result<Vec<Option<Vec<Balance>>>> {
    let mut q = keyed("b.asset, b.available", &keys);
    q.push(
        " JOIN profiles p ON p.id = r.id AND p.customer_id = r.customer_id \
         AND p.deactivated_at IS NULL LEFT JOIN balances b ON b.profile_id = p.id",
    );
    let mut answers: Vec<Option<Vec<Balance>>> = vec![None; keys.len()];
    for row in q.query_on(false).fetch_all(&pool).await? {
        let found = slot(&mut answers, &row)?.get_or_insert_with(Vec::new);
        found.extend(sql::balance_or_none(&row)?);
    }
    for found in answers.iter_mut().flatten() {
        found.sort_by_key(|b| b.asset);
    }
    Ok(answers)
}

/// CONVERSION_COLUMNS, each `c.`: the keys have an id and customer_id too.
static QUALIFIED_CONVERSION_COLUMNS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let columns: Vec<String> = (CONVERSION_COLUMNS.split(','))
        .map(|c| format!("c.{}", c.trim()))
        .collect();
    columns.join(", ")
});

async fn conversions(pool: AnyPool, keys: Vec<ById>) -> Result<Vec<Option<Conversion>>> {
    let mut q = keyed(&QUALIFIED_CONVERSION_COLUMNS, &keys);
    q.push(" JOIN conversions c ON c.id = r.id AND c.customer_id = r.customer_id");
    let mut answers: Vec<Option<Conversion>> = (0..keys.len()).map(|_| None).collect();
    for row in q.query_on(false).fetch_all(&pool).await? {
        *slot(&mut answers, &row)? = Some(sql::conversion(&row)?);
    }
    Ok(answers)
}
