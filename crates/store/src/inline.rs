//! SQLite reads run on the calling thread, each thread with a read-only
//! connection of its own to the file. A read takes microseconds; handing
//! it to sqlx's connection thread and back cost more than the read itself
//! (two context switches each way, a third of the server's CPU on the read
//! scenarios). Writes stay with sqlx's single writer; in WAL mode readers
//! never wait for it.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, Row, Statement};

use crate::sql::Sql;
use crate::Result;

/// Connections a thread keeps at most; past it, they are all closed (a
/// test process opens many databases, a server one).
const MAX_PER_THREAD: usize = 8;

thread_local! {
    static CONNECTIONS: RefCell<HashMap<PathBuf, Connection>> = RefCell::new(HashMap::new());
}

/// Reads of one SQLite file.
pub(crate) struct Inline {
    path: PathBuf,
}

impl Inline {
    pub(crate) fn new(path: &Path) -> Inline {
        Inline {
            path: path.to_path_buf(),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Every row `q` selects, decoded.
    pub(crate) fn rows<T>(
        &self,
        q: &Sql,
        decode: impl Fn(&NamedRow) -> Result<T>,
    ) -> Result<Vec<T>> {
        CONNECTIONS.with(|connections| {
            let mut connections = connections.borrow_mut();
            let connection = match connections.get(&self.path) {
                Some(connection) => connection,
                None => {
                    if connections.len() >= MAX_PER_THREAD {
                        connections.clear();
                    }
                    let opened = open(&self.path)?;
                    connections.entry(self.path.clone()).or_insert(opened)
                }
            };
            query(connection, q, true, decode)
        })
    }
}

/// Every row `q` selects on `connection`, decoded. `keep`: its shape
/// recurs, so its prepared statement is worth caching.
pub(crate) fn query<T>(
    connection: &Connection,
    q: &Sql,
    keep: bool,
    decode: impl Fn(&NamedRow) -> Result<T>,
) -> Result<Vec<T>> {
    let (text, args) = q.for_sqlite();
    let (mut cached, mut fresh);
    let statement: &mut Statement = if keep {
        cached = connection.prepare_cached(text)?;
        &mut cached
    } else {
        fresh = connection.prepare(text)?;
        &mut fresh
    };
    let names = Names::of(statement);
    let mut rows = statement.query(rusqlite::params_from_iter(args))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(decode(&NamedRow {
            row,
            names: &names,
            next: Cell::new(0),
        })?);
    }
    Ok(out)
}

/// Runs `q`, which returns no rows, on `connection`; the rows it changed.
pub(crate) fn execute(connection: &Connection, q: &Sql, keep: bool) -> Result<u64> {
    let (text, args) = q.for_sqlite();
    let params = rusqlite::params_from_iter(args);
    let changed = match keep {
        true => connection.prepare_cached(text)?.execute(params)?,
        false => connection.prepare(text)?.execute(params)?,
    };
    Ok(changed as u64)
}

/// A query's column names, in one buffer: two allocations a query rather
/// than one a column (a read of one conversion made twenty).
struct Names {
    text: String,
    ends: Vec<usize>,
}

impl Names {
    fn of(statement: &Statement) -> Names {
        let mut names = Names {
            text: String::with_capacity(256),
            ends: Vec::with_capacity(statement.column_count()),
        };
        for i in 0..statement.column_count() {
            names
                .text
                .push_str(statement.column_name(i).unwrap_or_default());
            names.ends.push(names.text.len());
        }
        names
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn get(&self, i: usize) -> &str {
        let start = match i {
            0 => 0,
            _ => self.ends[i - 1],
        };
        &self.text[start..self.ends[i]]
    }
}

/// A row whose columns are found by name in a list read once per query:
/// rusqlite asks SQLite for every column's name on every lookup, which
/// made a twenty-column decode quadratic in FFI calls (6% of a read).
pub(crate) struct NamedRow<'r> {
    row: &'r Row<'r>,
    names: &'r Names,
    /// Where the next lookup starts: decoders read the columns in the
    /// order they are selected, so each name is found at its first try
    /// (a search from the start compared ten names a column on a page of
    /// conversions, 6% of the list's CPU).
    next: Cell<usize>,
}

impl NamedRow<'_> {
    pub(crate) fn get<T: rusqlite::types::FromSql>(&self, column: &str) -> rusqlite::Result<T> {
        self.row.get(self.index(column)?)
    }

    /// The column's text without a copy; None for NULL.
    pub(crate) fn text(&self, column: &str) -> rusqlite::Result<Option<&str>> {
        let index = self.index(column)?;
        match self.row.get_ref(index)? {
            ValueRef::Null => Ok(None),
            value => value.as_str().map(Some).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(index, value.data_type(), e.into())
            }),
        }
    }

    fn index(&self, column: &str) -> rusqlite::Result<usize> {
        let start = self.next.get().min(self.names.len());
        let mut order = (start..self.names.len()).chain(0..start);
        match order.find(|&i| self.names.get(i) == column) {
            Some(index) => {
                self.next.set(index + 1);
                Ok(index)
            }
            None => Err(rusqlite::Error::InvalidColumnName(column.into())),
        }
    }
}

fn open(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = Connection::open_with_flags(path, flags)?;
    connection.execute_batch(
        "PRAGMA busy_timeout = 10000; PRAGMA cache_size = -16384; \
             PRAGMA mmap_size = 268435456;",
    )?;
    connection.set_prepared_statement_cache_capacity(64);
    Ok(connection)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each read is its own transaction: a commit by sqlx's writer is seen
    /// by the next read on the same thread's connection, never an older
    /// snapshot.
    #[tokio::test]
    async fn every_read_sees_the_latest_commit() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("inline.db").display());
        let store = crate::open(&url).await.unwrap();
        let inline = Inline::new(&dir.path().join("inline.db"));
        let count = || {
            let q = Sql::new("SELECT COUNT(*) AS n FROM customers");
            inline.rows(&q, |row| Ok(row.get::<i64>("n")?))
        };
        assert_eq!(count().unwrap(), [0]);
        for n in 1..=3 {
            sqlx::query("INSERT INTO customers (id, created_at) VALUES ($1, 0)")
                .bind(uuid::Uuid::new_v4().to_string())
                .execute(store.pool())
                .await
                .unwrap();
            assert_eq!(count().unwrap(), [n]);
        }
    }
}
