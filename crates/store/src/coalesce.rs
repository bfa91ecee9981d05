//! PostgreSQL reads by id that arrive together are answered by one query.
//! A read was one round trip, and PostgreSQL's share of it (parse, plan,
//! executor start, a wake-up on each side) was most of its cost on a busy
//! machine. With many clients reading, one query now serves every read
//! waiting. A read waits only while an earlier batch's query runs, and its
//! own query starts after it arrived: after any write its client saw
//! committed, so it sees that write.
//!
//! Each loop holds its own connection. Taken from the pool for each query,
//! a connection cost two more round trips: sqlx pings it when it hands it
//! out and again when it takes it back. A held connection the server ended
//! (a restart, `pg_terminate_backend`) fails one query; that query is read
//! again on a fresh connection from the pool, which pings it first.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Row};
use tokio::sync::{mpsc, oneshot, Mutex};
use uuid::Uuid;

use crate::model::{Balance, Conversion};
use crate::sql::{self, Sql, Val, CONVERSION_COLUMNS};
use crate::{Result, StoreError};

/// Queries in flight at once, per kind of read. Four read 0.90-0.95 times
/// as fast as two on this 2-core machine (smaller batches).
const LOOPS: usize = 2;
const MAX_BATCH: usize = 256;

type Conn = PoolConnection<Any>;
type Answers<V> = Pin<Box<dyn Future<Output = (Conn, Result<Vec<V>>)> + Send>>;
/// Reads every key on the connection, answering in their order, and gives
/// the connection back.
type Read<K, V> = Arc<dyn Fn(Conn, Vec<K>) -> Answers<V> + Send + Sync>;
type Waiting<K, V> = (K, oneshot::Sender<Result<V>>);

pub(crate) struct Coalesced<K, V> {
    pool: AnyPool,
    read: Read<K, V>,
    /// Started with the first read, on its runtime.
    queue: OnceLock<mpsc::Sender<Waiting<K, V>>>,
}

impl<K: Clone + Send + 'static, V: Send + 'static> Coalesced<K, V> {
    fn new(pool: AnyPool, read: Read<K, V>) -> Self {
        Coalesced {
            pool,
            read,
            queue: OnceLock::new(),
        }
    }

    pub(crate) async fn get(&self, key: K) -> Result<V> {
        let (reply, answer) = oneshot::channel();
        let queue = self.queue.get_or_init(|| self.start());
        let alone = || async { self.link().one(key.clone()).await };
        if queue.send((key.clone(), reply)).await.is_err() {
            // The loops' runtime has ended (a store outliving the runtime
            // of its first read): read alone.
            return alone().await;
        }
        match answer.await {
            Ok(value) => value,
            Err(_) => alone().await,
        }
    }

    fn link(&self) -> Link<K, V> {
        Link {
            pool: self.pool.clone(),
            read: self.read.clone(),
            held: None,
        }
    }

    fn start(&self) -> mpsc::Sender<Waiting<K, V>> {
        let (queue, receiver) = mpsc::channel(MAX_BATCH * 4);
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..LOOPS {
            tokio::spawn(serve(self.link(), receiver.clone()));
        }
        queue
    }
}

async fn serve<K: Clone, V>(
    mut link: Link<K, V>,
    waiting: Arc<Mutex<mpsc::Receiver<Waiting<K, V>>>>,
) {
    loop {
        let mut batch = Vec::new();
        if waiting.lock().await.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return;
        }
        let (keys, replies): (Vec<K>, Vec<_>) = batch.into_iter().unzip();
        match link.read(keys.clone()).await {
            Ok(values) if values.len() == replies.len() => {
                for (reply, value) in replies.into_iter().zip(values) {
                    let _ = reply.send(Ok(value));
                }
            }
            // Read again one by one: each read gets its own answer or error.
            _ => {
                for (key, reply) in keys.into_iter().zip(replies) {
                    let _ = reply.send(link.one(key).await);
                }
            }
        }
    }
}

/// A loop's connection, held between its queries.
struct Link<K, V> {
    pool: AnyPool,
    read: Read<K, V>,
    held: Option<Conn>,
}

impl<K: Clone, V> Link<K, V> {
    /// Reads on the held connection; once more on a fresh one when the
    /// held one turns out to be gone (reads change nothing, so a second
    /// try is safe).
    async fn read(&mut self, keys: Vec<K>) -> Result<Vec<V>> {
        let fresh = self.held.is_none();
        let conn = match self.held.take() {
            Some(conn) => conn,
            None => self.pool.acquire().await?,
        };
        match self.on(conn, keys.clone()).await {
            Err(e) if !fresh && e.is_connection_lost() => {
                let conn = self.pool.acquire().await?;
                self.on(conn, keys).await
            }
            answered => answered,
        }
    }

    async fn on(&mut self, conn: Conn, keys: Vec<K>) -> Result<Vec<V>> {
        let (mut conn, answered) = (self.read)(conn, keys).await;
        match &answered {
            // Gone: closed, not given back to the pool.
            Err(e) if e.is_connection_lost() => conn.close_on_drop(),
            _ => self.held = Some(conn),
        }
        answered
    }

    async fn one(&mut self, key: K) -> Result<V> {
        let mut values = self.read(vec![key]).await?;
        (values.pop()).ok_or_else(|| StoreError::Internal("a read got no answer".into()))
    }
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
        Reads {
            balances: Coalesced::new(pool.clone(), Arc::new(|c, k| Box::pin(balances(c, k)))),
            conversions: Coalesced::new(pool, Arc::new(|c, k| Box::pin(conversions(c, k)))),
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

async fn balances(mut conn: Conn, keys: Vec<ById>) -> (Conn, Result<Vec<Option<Vec<Balance>>>>) {
    let answers = read_balances(&mut conn, keys).await;
    (conn, answers)
}

async fn read_balances(conn: &mut Conn, keys: Vec<ById>) -> Result<Vec<Option<Vec<Balance>>>> {
    let mut q = keyed("b.asset, b.available", &keys);
    q.push(
        " JOIN profiles p ON p.id = r.id AND p.customer_id = r.customer_id \
         AND p.deactivated_at IS NULL LEFT JOIN balances b ON b.profile_id = p.id",
    );
    let mut answers: Vec<Option<Vec<Balance>>> = vec![None; keys.len()];
    for row in q.query_on(false).fetch_all(&mut **conn).await? {
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

async fn conversions(mut conn: Conn, keys: Vec<ById>) -> (Conn, Result<Vec<Option<Conversion>>>) {
    let answers = read_conversions(&mut conn, keys).await;
    (conn, answers)
}

async fn read_conversions(conn: &mut Conn, keys: Vec<ById>) -> Result<Vec<Option<Conversion>>> {
    let mut q = keyed(&QUALIFIED_CONVERSION_COLUMNS, &keys);
    q.push(" JOIN conversions c ON c.id = r.id AND c.customer_id = r.customer_id");
    let mut answers: Vec<Option<Conversion>> = (0..keys.len()).map(|_| None).collect();
    for row in q.query_on(false).fetch_all(&mut **conn).await? {
        *slot(&mut answers, &row)? = Some(sql::conversion(&row)?);
    }
    Ok(answers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    /// A loop's held connection that the server ended fails one query, which
    /// is read again on a fresh connection: the reader sees an answer, not
    /// an error.
    #[tokio::test]
    async fn a_held_connection_the_server_ended_is_replaced_unseen() {
        let db = crate::scratch::ScratchDb::create("sptest_coalesce").await;
        let store = crate::open(&db.url).await.unwrap();
        let (customer, id) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        for round in 0..3 {
            let conversion = store.conversion(customer, id).await;
            assert!(conversion.unwrap().is_none(), "round {round}");
            let balances = store.active_profile_balances(customer, id).await;
            assert!(balances.unwrap().is_none(), "round {round}");
            assert!(db.end_sessions().await > 0);
        }
    }

    /// The query that meets the ended connection is read once more, on a
    /// fresh one, as one batch (not only by the loop's one-by-one fallback).
    #[tokio::test]
    async fn a_lost_connection_costs_one_more_query() {
        let db = crate::scratch::ScratchDb::create("sptest_coalesce").await;
        let _migrated = crate::open(&db.url).await.unwrap();
        let pool = sqlx::any::AnyPoolOptions::new().connect(&db.url).await;
        let pool = pool.unwrap();
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = calls.clone();
        let read: Read<ById, Option<Conversion>> = Arc::new(move |c, k| {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Box::pin(conversions(c, k))
        });
        let mut link = Link {
            pool,
            read,
            held: None,
        };
        let key = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        let none = |answers: Result<Vec<Option<Conversion>>>| {
            answers
                .unwrap()
                .iter()
                .map(Option::is_none)
                .collect::<Vec<_>>()
        };
        assert_eq!(none(link.read(vec![key, key]).await), [true, true]);
        assert!(db.end_sessions().await > 0);
        assert_eq!(none(link.read(vec![key, key]).await), [true, true]);
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3);
        assert_eq!(none(link.read(vec![key]).await), [true]);
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 4);
    }
}
