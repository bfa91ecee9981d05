//! One write transaction as the operations layer sees it: lookups, guarded
//! status moves, checked balance changes in lock order, bulk inserts, and
//! the journal entries, transfers and outbox events it records, all written
//! at `commit`. No rule lives here: which postings and events a change
//! makes is the caller's decision.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use stableport_domain::{Asset, ConversionStatus, Posting};
use uuid::Uuid;

use crate::acting::Remembered;
use crate::batch::{self, LedgerRows, Refused};
use crate::conn::{tx_rows, Conn};
use crate::model::{Conversion, NewConversion, Transfer};
use crate::sealed::Sealer;
use crate::sql::{self, Sql, CONVERSION_COLUMNS};
use crate::{Backend, Result};

pub struct Tx {
    pub(crate) inner: Conn,
    pub(crate) backend: Backend,
    pub(crate) sealer: Sealer,
    rows: LedgerRows,
    remembered: Arc<Remembered>,
    /// Credentials or users changed: what is remembered of them is
    /// forgotten once this commits.
    pub(crate) credentials_changed: bool,
}

impl Tx {
    pub(crate) fn new(
        inner: Conn,
        backend: Backend,
        sealer: Sealer,
        remembered: Arc<Remembered>,
    ) -> Tx {
        Tx {
            inner,
            backend,
            sealer,
            rows: LedgerRows::default(),
            remembered,
            credentials_changed: false,
        }
    }

    /// Writes what was recorded, then commits.
    pub async fn commit(mut self) -> Result<()> {
        std::mem::take(&mut self.rows)
            .insert(&mut self.inner)
            .await?;
        self.inner.commit().await?;
        if self.credentials_changed {
            self.remembered.changed();
        }
        Ok(())
    }

    /// Records a journal entry with its postings (already applied to balances).
    pub fn entry(
        &mut self,
        customer: Uuid,
        kind: &'static str,
        of: Uuid,
        postings: Vec<Posting>,
        at: i64,
    ) {
        self.rows.entry(customer, kind, of, postings, at);
    }

    /// Records an outbox event; its deliveries fan out at commit.
    pub fn event(
        &mut self,
        customer: Uuid,
        kind: &'static str,
        of: Uuid,
        payload: String,
        at: i64,
    ) {
        self.rows.event(customer, kind, of, payload, at);
    }

    /// Records a new transfer (its event, if any, is the caller's to record).
    pub fn transfer(&mut self, transfer: Transfer) {
        self.rows.transfer(transfer);
    }

    /// Locks these balances in the one global order, before any changes:
    /// work that may touch them in another order cannot deadlock with it.
    pub async fn lock_balances(
        &mut self,
        keys: impl IntoIterator<Item = (Uuid, Asset)>,
    ) -> Result<()> {
        batch::lock_balances(&mut self.inner, keys).await
    }

    /// Applies postings to profile balances, all or nothing: a debit only
    /// where the balance covers it, a credit only below the limit.
    pub async fn apply(&mut self, postings: &[Posting]) -> Result<Result<(), Refused>> {
        batch::apply_balances(&mut self.inner, postings).await
    }

    /// Credits or debits distinct balances in one statement each run, locked
    /// in order first (within that statement); says which applied.
    pub async fn change_balances(&mut self, changes: &[(Uuid, Asset, i64)]) -> Result<Vec<bool>> {
        let locking = changes.iter().map(|(p, a, _)| (*p, *a));
        batch::change_balances(&mut self.inner, locking, changes).await
    }

    /// Debits each `(profile, asset, units)` in turn where it is covered;
    /// Err carries the balance found.
    pub async fn debit_each(
        &mut self,
        debits: &[(Uuid, Asset, i64)],
    ) -> Result<Vec<std::result::Result<(), i64>>> {
        batch::debit_each(&mut self.inner, debits).await
    }

    pub async fn conversion(&mut self, customer: Uuid, id: Uuid) -> Result<Option<Conversion>> {
        let mut q = Sql::new(&format!(
            "SELECT {CONVERSION_COLUMNS} FROM conversions WHERE customer_id = "
        ));
        q.bind(customer).push(" AND id = ").bind(id);
        Ok(tx_rows!(&mut self.inner, q, sql::conversion)?.pop())
    }

    /// The customer's conversion with this ref_id, as this transaction sees it.
    pub async fn conversion_by_ref(
        &mut self,
        customer: Uuid,
        ref_id: &str,
    ) -> Result<Option<Conversion>> {
        let mut q = Sql::new(&format!(
            "SELECT {CONVERSION_COLUMNS} FROM conversions WHERE customer_id = "
        ));
        q.bind(customer).push(" AND ref_id = ").bind(ref_id);
        Ok(tx_rows!(&mut self.inner, q, sql::conversion)?.pop())
    }

    /// Stored conversions with these (customer, ref_id) keys, by key.
    pub async fn conversions_by_refs(
        &mut self,
        keys: &[(Uuid, &str)],
    ) -> Result<HashMap<(Uuid, String), Conversion>> {
        let mut found = HashMap::new();
        let select = format!("SELECT {CONVERSION_COLUMNS} FROM conversions WHERE ");
        for condition in sql::refs_in(self.sqlite(), keys) {
            let mut q = Sql::new(&select);
            q.append(condition);
            for c in tx_rows!(&mut self.inner, q, sql::conversion)? {
                found.insert((c.customer_id, c.ref_id.clone().unwrap_or_default()), c);
            }
        }
        Ok(found)
    }

    /// Inserts new conversions; one whose ref_id is taken is skipped.
    /// Returns the ids inserted.
    pub async fn insert_conversions(&mut self, new: &[&NewConversion]) -> Result<HashSet<Uuid>> {
        let mut inserted = HashSet::new();
        let rows = new.iter().map(|c| sql::conversion_values(c)).collect();
        let statements = sql::inserts(self.sqlite(), "conversions", sql::CONVERSION_RECORD, rows);
        for mut q in statements {
            q.push(" ON CONFLICT (customer_id, ref_id) WHERE ref_id IS NOT NULL DO NOTHING RETURNING id");
            inserted.extend(tx_rows!(&mut self.inner, q, sql::id)?);
        }
        Ok(inserted)
    }

    /// Claims up to `limit` CREATED conversions due by `now`; other
    /// replicas skip the rows claimed.
    pub async fn claim_due_conversions(&mut self, now: i64, limit: i64) -> Result<Vec<Conversion>> {
        let q = claim_due_conversions_sql(self.backend, now, limit);
        tx_rows!(&mut self.inner, q, sql::conversion)
    }

    /// Moves the conversions still CREATED to `to`; returns those moved.
    pub async fn move_conversions(
        &mut self,
        ids: &[Uuid],
        to: ConversionStatus,
        now: i64,
    ) -> Result<HashSet<Uuid>> {
        let time_column = match to {
            ConversionStatus::Settled => "settled_at",
            ConversionStatus::Cancelled => "cancelled_at",
            ConversionStatus::Created => "updated_at",
        };
        let statement = || {
            let mut q = Sql::new("UPDATE conversions SET status = ");
            q.bind(to.as_str())
                .push(", settle_after = NULL, updated_at = ")
                .bind(now);
            q.push(&format!(", {time_column} = ")).bind(now);
            q.push(" WHERE status = ")
                .bind(ConversionStatus::Created.as_str());
            q
        };
        let mut moved = HashSet::with_capacity(ids.len());
        for q in sql::for_ids(self.sqlite(), ids, "id", statement, " RETURNING id") {
            moved.extend(tx_rows!(&mut self.inner, q, sql::id)?);
        }
        Ok(moved)
    }

    /// Leaves a conversion CREATED but out of the settler's way (its
    /// recipient is at its balance limit).
    pub async fn hold_conversion(&mut self, id: Uuid) -> Result<()> {
        let mut q = Sql::new("UPDATE conversions SET status = ");
        q.bind(ConversionStatus::Created.as_str())
            .push(", settle_after = NULL, settled_at = NULL WHERE id = ")
            .bind(id);
        self.inner.execute(q, true).await?;
        Ok(())
    }

    pub(crate) fn sqlite(&self) -> bool {
        self.backend == Backend::Sqlite
    }
}

/// The status is written into the statement, not bound: only then may the
/// partial index on due rows (`WHERE status = 'CREATED'`) serve it.
pub(crate) fn claim_due_conversions_sql(backend: Backend, now: i64, limit: i64) -> Sql {
    let mut q = Sql::new(&format!(
        "SELECT {CONVERSION_COLUMNS} FROM conversions WHERE status = '{}' AND settle_after <= ",
        ConversionStatus::Created.as_str(),
    ));
    q.bind(now)
        .push(" ORDER BY settle_after LIMIT ")
        .bind(limit);
    q.push(backend.claim_suffix());
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every tick of every replica runs these: a full scan of a table that
    /// only grows would slow the settler (and the writes it locks out) as
    /// history piles up. The partial indexes must serve them.
    #[tokio::test]
    async fn due_work_is_found_through_the_partial_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("plan.db").display());
        let store = crate::open(&url).await.unwrap();
        for (sql, index) in [
            (
                claim_due_conversions_sql(Backend::Sqlite, 0, 1)
                    .for_sqlite()
                    .0
                    .to_string(),
                "conversions_due",
            ),
            (crate::store::conversions_due_sql(), "conversions_due"),
            (
                crate::orchestrations::claim_due(Backend::Sqlite, 0, 1)
                    .for_sqlite()
                    .0
                    .to_string(),
                "orchestrations_due",
            ),
            (crate::orchestrations::due_sql(), "orchestrations_due"),
            (
                crate::transfers::claim_due_sql(Backend::Sqlite),
                "transfers_due",
            ),
            (crate::transfers::due_sql(), "transfers_due"),
        ] {
            let rows = sqlx::query(&format!("EXPLAIN QUERY PLAN {sql}"))
                .fetch_all(store.pool())
                .await
                .unwrap();
            let details: Vec<String> = rows
                .iter()
                .map(|r| sqlx::Row::try_get::<String, _>(r, "detail").unwrap())
                .collect();
            assert!(
                details
                    .iter()
                    .any(|d| d.contains(&format!("INDEX {index} "))),
                "{sql}: {details:?}"
            );
        }
    }
}

#[cfg(test)]
mod postgres_plans {
    use sqlx::{Connection, PgConnection, Row};

    /// A fresh PostgreSQL database with the schema, and a connection to it.
    async fn scratch() -> (crate::scratch::ScratchDb, crate::SqlStore, PgConnection) {
        let db = crate::scratch::ScratchDb::create("sptest_plans").await;
        let store = crate::open(&db.url).await.unwrap();
        let conn = PgConnection::connect(&db.url).await.unwrap();
        (db, store, conn)
    }

    /// The plan PostgreSQL keeps for `sql` once it stops planning each
    /// execution afresh (its generic plan), given `args`.
    async fn kept_plan(conn: &mut PgConnection, sql: &str, args: &str) -> String {
        sqlx::query("SET plan_cache_mode = force_generic_plan")
            .execute(&mut *conn)
            .await
            .unwrap();
        static PREPARED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let name = format!(
            "p{}",
            PREPARED.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        sqlx::raw_sql(&format!("PREPARE {name} AS {sql}"))
            .execute(&mut *conn)
            .await
            .unwrap();
        let rows = sqlx::raw_sql(&format!("EXPLAIN EXECUTE {name}({args})"))
            .fetch_all(&mut *conn)
            .await
            .unwrap();
        let lines: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        lines.join("\n")
    }

    /// A session the server ended (a restart, `pg_terminate_backend`) did
    /// not commit: its error is transient, retried on another connection.
    #[tokio::test]
    async fn a_session_the_server_ended_is_transient() {
        use crate::Store;
        let (_db, store, mut conn) = scratch().await;
        let mut tx = store.transaction().await.unwrap();
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut **tx.inner.pool().unwrap())
            .await
            .unwrap();
        let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
            .bind(pid)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert!(ended);
        let customer = uuid::Uuid::new_v4();
        let error = tx
            .conversions_by_refs(&[(customer, "a")])
            .await
            .unwrap_err();
        assert!(error.is_transient(), "{error:?}");
    }

    /// A transaction's connection comes from the pool unpinged; when the
    /// server has ended its session, BEGIN finds out, and the transaction
    /// begins on a fresh connection instead of failing.
    #[tokio::test]
    async fn a_transaction_begins_on_a_live_connection_after_sessions_end() {
        use crate::Store;
        let (db, store, _conn) = scratch().await;
        let customer = uuid::Uuid::new_v4();
        // Two idle connections in the pool.
        let open = (store.transaction().await, store.transaction().await);
        drop(open);
        for round in 0..3 {
            let ended = db.end_sessions().await;
            assert!(ended > 0, "round {round}");
            let mut tx = store.transaction().await.unwrap();
            assert!(tx
                .conversions_by_refs(&[(customer, "a")])
                .await
                .unwrap()
                .is_empty());
            tx.commit().await.unwrap();
        }
    }

    /// A batch's balance changes lock their balances, sorted, before the
    /// UPDATE reads a row: the lock is the InitPlan of a one-time filter,
    /// which runs ahead of the scan it gates.
    #[tokio::test]
    async fn a_batch_locks_before_it_changes_balances() {
        let (_db, _store, mut conn) = scratch().await;
        let statement = crate::batch::locked_balance_changes(&Default::default(), &[]);
        let plan = kept_plan(&mut conn, statement.text(), "'[]', '[]'").await;
        let line = |needle: &str| {
            (plan.lines().position(|l| l.contains(needle)))
                .unwrap_or_else(|| panic!("no {needle:?} in\n{plan}"))
        };
        assert_eq!(line("LockRows") + 1, line("Sort"), "{plan}");
        assert!(
            plan.contains(r#"Sort Key: b.profile_id COLLATE "C""#),
            "{plan}"
        );
        assert!(line("InitPlan") < line("CTE Scan on locked"), "{plan}");
        assert!(
            line("CTE Scan on locked") < line("One-Time Filter"),
            "{plan}"
        );
        assert!(
            line("One-Time Filter") < line("Scan on balances  ("),
            "{plan}"
        );
    }

    /// Every replica's every tick runs the due checks. On tables never
    /// analyzed (a new database: the first minute, before autovacuum), the
    /// plan kept for an unordered `LIMIT 1` was a scan of the whole table.
    #[tokio::test]
    async fn due_checks_use_their_partial_indexes_before_any_statistics() {
        let (_db, _store, mut conn) = scratch().await;
        for (sql, index) in [
            (crate::store::conversions_due_sql(), "conversions_due"),
            (crate::orchestrations::due_sql(), "orchestrations_due"),
            (crate::transfers::due_sql(), "transfers_due"),
        ] {
            let plan = kept_plan(&mut conn, &sql, "0").await;
            assert!(plan.contains(index), "{sql}:\n{plan}");
        }
    }

    /// Two replicas' batches that share balances never deadlock: each
    /// statement locks its balances after sorting them, in one global order.
    #[tokio::test]
    async fn a_batch_locks_its_balances_in_one_order() {
        let (_db, _store, mut conn) = scratch().await;
        let statement = crate::batch::lock_balances_sql([]);
        let plan = kept_plan(&mut conn, statement.text(), "'[]'").await;
        let nodes: Vec<&str> = (plan.lines())
            .map(|l| l.trim_start().trim_start_matches("->").trim_start())
            .collect();
        assert!(nodes[0].starts_with("LockRows"), "{plan}");
        assert!(nodes[1].starts_with("Sort"), "{plan}");
        assert!(
            plan.contains(r#"Sort Key: b.profile_id COLLATE "C""#),
            "{plan}"
        );
    }

    /// A statement that reads a table through a recordset is planned on
    /// each run (a plan kept from when the table was small outlived its
    /// growth), yet prepared only once: no round trip to prepare it again.
    #[tokio::test]
    async fn recordset_statements_are_prepared_once_and_planned_each_run() {
        use crate::Store;
        let (_db, store, _conn) = scratch().await;
        let mut tx = store.transaction().await.unwrap();
        let customer = uuid::Uuid::new_v4();
        for _ in 0..6 {
            tx.conversions_by_refs(&[(customer, "a"), (customer, "b")])
                .await
                .unwrap();
            tx.move_conversions(&[customer], super::ConversionStatus::Settled, 1)
                .await
                .unwrap();
            let id = uuid::Uuid::new_v4();
            let row = vec![id.into(), id.into(), "k".into(), id.into(), 0.into()];
            let q = crate::sql::Sql::insert_recordset(
                "journal_entries",
                "id text, customer_id text, kind text, reference_id text, created_at bigint",
                [row],
            );
            tx.inner.execute(q, true).await.unwrap();
        }
        let kept: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements \
             WHERE statement LIKE '%json_%' AND statement NOT LIKE '%pg_prepared_statements%' \
             ORDER BY statement",
        )
        .fetch_all(&mut **tx.inner.pool().unwrap())
        .await
        .unwrap();
        let starts: Vec<&str> = kept.iter().map(|(s, ..)| &s[..6]).collect();
        assert_eq!(starts, ["INSERT", "SELECT", "UPDATE"], "{kept:#?}");
        for (statement, generic, custom) in &kept {
            assert_eq!((*generic, *custom), (0, 6), "{statement}");
        }
    }

    /// A lookup by (customer_id, ref_id) on a table never analyzed was kept
    /// planned on the customer's creation-order index, reading every row of
    /// the customer. The store's upkeep gives a table that has grown its
    /// first statistics, and the kept plan is then its unique index.
    #[tokio::test]
    async fn upkeep_gives_a_grown_table_its_first_statistics() {
        let (_db, store, mut conn) = scratch().await;
        let customer = uuid::Uuid::new_v4();
        sqlx::query(
            "INSERT INTO conversions (id, customer_id, profile_id, amount, source_asset, \
             target_asset, source_units, target_units, status, ref_id, identity_id, account_id, \
             created_at, updated_at) \
             SELECT md5(i::text), $1, 'p', '1', 'USD', 'USDP', 1, 1, 'SETTLED', 'r' || i, '', '', \
             i, i FROM generate_series(1, 300) AS i",
        )
        .bind(customer.to_string())
        .execute(&mut conn)
        .await
        .unwrap();
        // PostgreSQL publishes the row counts upkeep reads within a second
        // or so of the commit.
        let analyzed = "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables \
                        WHERE relname = 'conversions'";
        let mut waited = 0;
        while !sqlx::query_scalar::<_, bool>(analyzed)
            .fetch_one(&mut conn)
            .await
            .unwrap()
        {
            assert!(waited < 150, "conversions never analyzed");
            store.upkeep().await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            waited += 1;
        }
        let sql = "SELECT id FROM conversions WHERE customer_id = $1 AND ref_id = $2";
        let plan = kept_plan(&mut conn, sql, "'c', 'r'").await;
        assert!(plan.contains("conversions_ref_id"), "{plan}");
    }

    /// A transfer's status move touches no indexed column: with room left
    /// on its page (0016's fillfactor) the new version stays there and no
    /// index is written. On full pages every such move wrote all four.
    #[tokio::test]
    async fn a_transfers_status_move_stays_on_its_page() {
        let (_db, _store, mut conn) = scratch().await;
        let mut tx = conn.begin().await.unwrap();
        sqlx::query(
            "INSERT INTO transfers (id, customer_id, profile_id, type, direction, status, \
             asset, units, created_at, updated_at) \
             SELECT md5(i::text), 'c', 'p', 'CONVERSION', 'CREDIT', 'PENDING', 'USD', 1, i, i \
             FROM generate_series(1, 2000) AS i",
        )
        .execute(&mut *tx)
        .await
        .unwrap();
        // One in ten, spread over every page: what a batch of deliveries does.
        let moved = sqlx::query(
            "UPDATE transfers SET status = 'COMPLETED', updated_at = 0 WHERE created_at % 10 = 0",
        )
        .execute(&mut *tx)
        .await
        .unwrap()
        .rows_affected();
        let hot: i64 =
            sqlx::query_scalar("SELECT pg_stat_get_xact_tuples_hot_updated('transfers'::regclass)")
                .fetch_one(&mut *tx)
                .await
                .unwrap();
        assert_eq!((moved, hot), (200, 200));
    }
}
