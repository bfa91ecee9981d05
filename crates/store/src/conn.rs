//! What a write transaction runs its statements on. Usually a transaction
//! on sqlx's write pool. For the batches that carry the write load on a
//! SQLite file (new conversions and orchestrations, settlement, delivery),
//! a connection of our own
//! that the batch drives from its own thread, statement after statement
//! with no hand-off: through sqlx every statement was a round trip to its
//! connection thread, two context switches each way, and the writer sat
//! idle for half of every batch waiting on them.
//!
//! The two never write at once: a direct transaction holds the write
//! pool's only connection, idle, for as long as it is open.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Transaction};

use crate::inline::{self, NamedRow};
use crate::sql::Sql;
use crate::{Result, StoreError};

pub(crate) enum Conn {
    /// A transaction on sqlx's write pool.
    Pool(Transaction<'static, Any>),
    /// A transaction on the store's own SQLite connection.
    Direct(Direct),
}

impl Conn {
    /// The sqlx transaction, for the statements written for sqlx alone; a
    /// direct batch that reached one would be a bug, so it fails rather than
    /// write beside the direct connection.
    pub(crate) fn pool(&mut self) -> Result<&mut Transaction<'static, Any>> {
        match self {
            Conn::Pool(tx) => Ok(tx),
            Conn::Direct(_) => Err(StoreError::Internal(
                "a statement of this step has no direct form".into(),
            )),
        }
    }

    pub(crate) fn sqlite(&self) -> bool {
        match self {
            Conn::Pool(tx) => crate::sql::is_sqlite(tx),
            Conn::Direct(_) => true,
        }
    }

    /// Runs `q`; the rows it changed. `keep`: its shape recurs, so its
    /// prepared statement is worth keeping.
    pub(crate) async fn execute(&mut self, q: Sql, keep: bool) -> Result<u64> {
        match self {
            Conn::Pool(tx) => {
                let sqlite = crate::sql::is_sqlite(tx);
                let query = q.query_on(sqlite);
                let done = if keep { query } else { query.persistent(false) };
                let done = done.execute(&mut **tx);
                Ok(done.await?.rows_affected())
            }
            Conn::Direct(direct) => direct.writer.with(|c| inline::execute(c, &q, keep)),
        }
    }

    pub(crate) async fn commit(self) -> Result<()> {
        match self {
            Conn::Pool(tx) => Ok(tx.commit().await?),
            Conn::Direct(direct) => direct.commit(),
        }
    }
}

/// Every row `$q` selects in transaction `$conn`, decoded by `$decode`
/// (generic over the row type), as a `Result<Vec<_>>`.
macro_rules! tx_rows {
    ($conn:expr, $q:expr, $decode:expr) => {
        match $conn {
            $crate::conn::Conn::Pool(tx) => {
                let sqlite = $crate::sql::is_sqlite(tx);
                ($q.query_on(sqlite))
                    .fetch_all(&mut **tx)
                    .await?
                    .iter()
                    .map(|row| $decode(row))
                    .collect::<$crate::Result<Vec<_>>>()
            }
            $crate::conn::Conn::Direct(direct) => direct.rows(&$q, |row| $decode(row)),
        }
    };
}
pub(crate) use tx_rows;

/// A SQLite file's own write connection.
pub(crate) struct Writer(Mutex<Connection>);

impl Writer {
    pub(crate) fn open(path: &Path) -> Result<Writer> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(path, flags)?;
        for pragma in crate::dialect::SQLITE_PRAGMAS {
            connection.execute_batch(pragma)?;
        }
        // The writer touches the tails of its tables and a few balances:
        // 8 MiB holds them.
        connection.execute_batch("PRAGMA cache_size = -8192")?;
        connection.set_prepared_statement_cache_capacity(128);
        Ok(Writer(Mutex::new(connection)))
    }

    /// Never contended: only the holder of the write pool's connection
    /// gets here.
    fn with<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let connection = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&connection)
    }
}

/// An open transaction on a [`Writer`].
pub(crate) struct Direct {
    writer: Arc<Writer>,
    /// The write pool's connection: while this holds it, nothing else in
    /// the process writes. Dropped after the transaction has ended.
    _lock: PoolConnection<Any>,
    open: bool,
}

impl Direct {
    pub(crate) async fn begin(pool: &AnyPool, writer: Arc<Writer>) -> Result<Direct> {
        let lock = pool.acquire().await?;
        writer.with(|c| {
            // A rollback that failed left its transaction open.
            if !c.is_autocommit() {
                c.execute_batch("ROLLBACK")?;
            }
            Ok(c.execute_batch("BEGIN IMMEDIATE")?)
        })?;
        Ok(Direct {
            writer,
            _lock: lock,
            open: true,
        })
    }

    pub(crate) fn rows<T>(
        &self,
        q: &Sql,
        decode: impl Fn(&NamedRow) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.writer.with(|c| inline::query(c, q, true, decode))
    }

    fn commit(mut self) -> Result<()> {
        self.writer.with(|c| Ok(c.execute_batch("COMMIT")?))?;
        self.open = false;
        Ok(())
    }
}

impl Drop for Direct {
    fn drop(&mut self) {
        if self.open {
            let rolled_back = self.writer.with(|c| Ok(c.execute_batch("ROLLBACK")?));
            if let Err(e) = rolled_back {
                tracing::error!(%e, "rolling back a direct transaction failed");
            }
        }
    }
}

/// The thread the batches that write through a [`Writer`] run on, with a
/// runtime of its own: a direct transaction blocks its thread for the whole
/// batch, its commit's fsync included, which on one of the server's few
/// runtime threads would stall the requests queued behind it.
pub(crate) struct WriterThread {
    handle: tokio::runtime::Handle,
    /// Dropped with the store: the thread's runtime then ends, and with it
    /// any batch loop still spawned on it.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl WriterThread {
    pub(crate) fn start() -> Result<WriterThread> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(sqlx::Error::Io)?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                let _ = runtime.block_on(stopped);
            })
            .map_err(sqlx::Error::Io)?;
        Ok(WriterThread {
            handle,
            _stop: stop,
        })
    }

    pub(crate) fn handle(&self) -> tokio::runtime::Handle {
        self.handle.clone()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::Store;

    async fn customers(store: &crate::SqlStore) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM customers")
            .fetch_one(store.pool())
            .await
            .unwrap()
    }

    /// A store on a fresh SQLite file, which lives as long as the dir.
    async fn scratch() -> (tempfile::TempDir, crate::SqlStore) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("direct.db").display());
        (dir, crate::open(&url).await.unwrap())
    }

    fn insert_customer() -> Sql {
        let mut q = Sql::new("INSERT INTO customers (id, created_at) VALUES (");
        q.bind(uuid::Uuid::new_v4()).push(", 0)");
        q
    }

    /// A batch that fails is dropped, not committed: none of its writes
    /// stay, and the next batch starts cleanly on the same connection.
    #[tokio::test]
    async fn a_dropped_batch_leaves_nothing_behind() {
        let (_dir, store) = scratch().await;
        let mut tx = store.batch_transaction().await.unwrap();
        assert!(matches!(tx.inner, Conn::Direct(_)));
        tx.inner.execute(insert_customer(), true).await.unwrap();
        drop(tx);
        assert_eq!(customers(&store).await, 0);
        let mut tx = store.batch_transaction().await.unwrap();
        tx.inner.execute(insert_customer(), true).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(customers(&store).await, 1);
    }

    /// A primitive written for sqlx alone, reached from a direct batch,
    /// fails as the store's own bug (not as bad data), and writes nothing.
    #[tokio::test]
    async fn a_sqlx_only_statement_refuses_a_direct_batch() {
        let (_dir, store) = scratch().await;
        let mut tx = store.batch_transaction().await.unwrap();
        let action = stableport_domain::ApprovalAction::AddWebhook;
        let refused = tx.approval_policy(uuid::Uuid::new_v4(), action).await;
        assert!(
            matches!(refused, Err(StoreError::Internal(_))),
            "{refused:?}"
        );
    }

    /// The direct connection and sqlx's never write at once: while a batch
    /// is open, sqlx's write connection is out (so a write through sqlx
    /// waits in the pool, not in SQLite's busy loop), and the write goes
    /// through once the batch commits.
    #[tokio::test]
    async fn writes_through_sqlx_wait_for_an_open_batch() {
        let (_dir, store) = scratch().await;
        let store = std::sync::Arc::new(store);
        let mut batch = store.batch_transaction().await.unwrap();
        batch.inner.execute(insert_customer(), true).await.unwrap();
        let other = tokio::spawn({
            let store = store.clone();
            async move {
                let mut tx = store.transaction().await?;
                tx.inner.execute(insert_customer(), true).await?;
                tx.commit().await
            }
        });
        let acquire = store.pool().acquire();
        let acquired = tokio::time::timeout(Duration::from_millis(300), acquire).await;
        assert!(
            acquired.is_err(),
            "sqlx's write connection was free during a batch"
        );
        assert!(!other.is_finished(), "a sqlx write ran inside the batch");
        batch.commit().await.unwrap();
        other.await.unwrap().unwrap();
        assert_eq!(customers(&store).await, 2);
    }
}
