//! What differs between the two backends.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyPool, Executor};

use crate::acting::Remembered;
use crate::inline::Inline;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// SQLite takes the write lock up front, so a transaction never has to
    /// give up half-way because another writer got there first.
    pub fn begin_write(self) -> &'static str {
        match self {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        }
    }

    /// Rows claimed by a background worker: other replicas skip them.
    /// SQLite has a single writer, so it needs no row locks.
    pub fn claim_suffix(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }

    /// Two pools: one for writes, one for reads. SQLite allows one writer, so
    /// its write pool has a single connection and writes queue in-process
    /// instead of spinning on the database lock.
    pub async fn connect(self, url: &str) -> Result<(AnyPool, AnyPool), sqlx::Error> {
        sqlx::any::install_default_drivers();
        match self {
            Backend::Sqlite => {
                crate::sqlite_alloc::configure();
                let url = sqlite_url(url);
                let write = sqlite_pool(1).connect(&url).await?;
                let read = sqlite_pool(8).connect(&url).await?;
                Ok((write, read))
            }
            Backend::Postgres => {
                let options: AnyConnectOptions = url.parse()?;
                let pool = AnyPoolOptions::new()
                    .max_connections(24)
                    .acquire_timeout(Duration::from_secs(30))
                    // sqlx's ping on every acquire, except for a
                    // transaction's: its BEGIN answers for the connection
                    // (`SqlStore::begin`).
                    .test_before_acquire(false)
                    .before_acquire(|conn, _meta| {
                        Box::pin(async move {
                            if !unpinged() {
                                sqlx::Connection::ping(conn).await?;
                            }
                            Ok(true)
                        })
                    })
                    // Statements are prepared once per connection, and
                    // planned on every run with their arguments and the
                    // tables as they are now. A plan kept from a generic
                    // planning goes stale as tables grow (see
                    // `Sql::recordset`); unprepared statements, the old
                    // way to avoid that, cost a round trip more each.
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            conn.execute("SET plan_cache_mode = force_custom_plan")
                                .await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await?;
                Ok((pool.clone(), pool))
            }
        }
    }
}

impl Backend {
    /// How a store learns that another server changed credentials: a
    /// NOTIFY on PostgreSQL, a token file beside a SQLite file, nothing for
    /// an in-memory database (no one else can reach it).
    pub(crate) fn remembered(self, url: &str) -> Result<Arc<Remembered>, sqlx::Error> {
        Ok(match (self, sqlite_file(url)?) {
            (Backend::Postgres, _) => Remembered::notified(url),
            (Backend::Sqlite, Some(file)) => Arc::new(Remembered::file(&file)),
            (Backend::Sqlite, None) => Arc::new(Remembered::local()),
        })
    }

    /// The reads made on the caller's thread: a SQLite file's only (an
    /// in-memory database lives in sqlx's connections alone).
    pub(crate) fn inline(self, url: &str) -> Result<Option<Inline>, sqlx::Error> {
        Ok(match self {
            Backend::Sqlite => sqlite_file(url)?.map(|file| Inline::new(&file)),
            Backend::Postgres => None,
        })
    }
}

/// The file of a SQLite URL; None for an in-memory database or another backend.
fn sqlite_file(url: &str) -> Result<Option<PathBuf>, sqlx::Error> {
    if Backend::from_url(url) != Some(Backend::Sqlite) {
        return Ok(None);
    }
    let options = SqliteConnectOptions::from_str(url)?;
    let file = options.get_filename();
    if url.contains("mode=memory") || file.as_os_str() == ":memory:" {
        return Ok(None);
    }
    Ok(Some(file.to_path_buf()))
}

/// Creates the file when it does not exist yet.
fn sqlite_url(url: &str) -> String {
    if url.contains("mode=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

tokio::task_local! {
    /// Set while a transaction takes its connection: sqlx hands it out
    /// without a ping (see `SqlStore::begin`).
    pub(crate) static UNPINGED: ()
}

fn unpinged() -> bool {
    UNPINGED.try_with(|_| ()).is_ok()
}

/// How every read-write SQLite connection is set up (sqlx's, and the
/// batches' own in `conn.rs`). WAL with synchronous=FULL: a commit is on
/// disk before it is acknowledged.
pub(crate) const SQLITE_PRAGMAS: &[&str] = &[
    "PRAGMA busy_timeout = 10000",
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA foreign_keys = ON",
    // Statement journals and sorts stay in memory; 64 MiB of page cache.
    "PRAGMA temp_store = MEMORY",
    "PRAGMA cache_size = -65536",
    // The background checkpointer keeps the WAL short; this is only the
    // writer's fallback.
    "PRAGMA wal_autocheckpoint = 20000",
    "PRAGMA journal_size_limit = 67108864",
    "PRAGMA mmap_size = 268435456",
];

fn sqlite_pool(size: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(size)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        // A local file's connection cannot drop: a ping before each
        // acquire would only be one more round trip to sqlx's thread.
        .test_before_acquire(false)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                for pragma in SQLITE_PRAGMAS {
                    conn.execute(*pragma).await?;
                }
                Ok(())
            })
        })
}
