//! The SQL implementation of [`Store`].

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::{Any, AnyPool, Row, Transaction};
use stableport_domain::{Asset, ConversionStatus};
use uuid::Uuid;

use crate::acting::Remembered;
use crate::coalesce::Reads;
use crate::conn::{Conn, Direct, Writer, WriterThread};
use crate::inline::Inline;
use crate::model::*;
use crate::sealed::{Sealer, SIGNING_KEY};
use crate::sql::{self, Sql, CONVERSION_COLUMNS, PROFILE_COLUMNS};
use crate::{credentials, migrations, Backend, Result, StartUp, StartedUp, Store, StoreError, Tx};

pub struct SqlStore {
    pub(crate) backend: Backend,
    pub(crate) write: AnyPool,
    pub(crate) read: AnyPool,
    /// Seals secrets at rest; keyless until [`SqlStore::unlock`].
    pub(crate) sealer: Sealer,
    /// Who each client acts for, between changes to credentials or users.
    pub(crate) remembered: Arc<Remembered>,
    /// Reads on the caller's thread (SQLite files).
    pub(crate) inline: Option<Inline>,
    /// The batches' own write connection, and their thread (SQLite files).
    writer: Option<(Arc<Writer>, WriterThread)>,
    /// Reads by id, many in one query (PostgreSQL).
    coalesced: Option<Arc<Reads>>,
}

impl SqlStore {
    /// Opens and migrates. A restart can meet the last process's
    /// connections still closing on a SQLite file (its final checkpoint
    /// holds the file for a moment): busy is retried there like any
    /// transient conflict. (Not on PostgreSQL: a server that cannot be
    /// reached should say so at once, not after six pool timeouts.)
    pub async fn open(url: &str) -> Result<SqlStore> {
        match Backend::from_url(url) {
            Some(Backend::Sqlite) => crate::retry_transient(|| SqlStore::open_once(url)).await,
            _ => SqlStore::open_once(url).await,
        }
    }

    async fn open_once(url: &str) -> Result<SqlStore> {
        let backend = Backend::from_url(url).ok_or_else(|| {
            StoreError::Database(sqlx::Error::Configuration(
                format!("unsupported database URL {url:?}: use sqlite://PATH or postgres://...")
                    .into(),
            ))
        })?;
        let (write, read) = backend.connect(url).await?;
        migrations::run(&write, backend).await?;
        let inline = backend.inline(url)?;
        let writer = match &inline {
            Some(inline) => Some((
                Arc::new(Writer::open(inline.path())?),
                WriterThread::start()?,
            )),
            None => None,
        };
        let coalesced = (backend == Backend::Postgres).then(|| Arc::new(Reads::new(read.clone())));
        Ok(SqlStore {
            backend,
            write,
            read,
            coalesced,
            sealer: Sealer::default(),
            remembered: backend.remembered(url)?,
            inline,
            writer,
        })
    }

    /// Whether statements render for SQLite (`?` placeholders).
    pub(crate) fn sqlite(&self) -> bool {
        self.backend == Backend::Sqlite
    }

    /// How often [`SqlStore::upkeep`] is worth calling.
    pub fn upkeep_every(&self) -> Duration {
        match self.backend {
            Backend::Sqlite => Duration::from_millis(250),
            Backend::Postgres => Duration::from_secs(1),
        }
    }

    /// The backend's own upkeep, off the request path. SQLite: a passive
    /// WAL checkpoint, which keeps the WAL short without waiting for readers
    /// or blocking the writer. PostgreSQL: statistics for tables that have
    /// grown but were never analyzed (see `analyze_new_tables`).
    pub async fn upkeep(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => {
                sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&self.read)
                    .await?;
            }
            Backend::Postgres => self.analyze_new_tables().await?,
        }
        Ok(())
    }

    /// PostgreSQL plans a kept statement once per connection and keeps that
    /// plan until the table's statistics change. On a table never analyzed
    /// it cannot tell a unique index from another on the same leading
    /// column: a lookup by (customer_id, ref_id) was planned on the
    /// customer's creation-order index and read every row of the customer,
    /// until autovacuum's first analyze, up to a minute later. So a table's
    /// first analyze is taken here, as soon as it has a few hundred rows;
    /// autovacuum keeps the statistics from then on.
    async fn analyze_new_tables(&self) -> Result<()> {
        let fresh: Vec<String> = sqlx::query_scalar(
            "SELECT relname::text FROM pg_stat_user_tables \
             WHERE schemaname = current_schema() AND last_analyze IS NULL \
             AND last_autoanalyze IS NULL AND n_mod_since_analyze >= 200",
        )
        .fetch_all(&self.read)
        .await?;
        for table in fresh {
            // Another replica analyzing it already is enough.
            let quoted = table.replace('"', "\"\"");
            // Not a statement to keep prepared: one per table, once.
            sqlx::raw_sql(&format!("ANALYZE (SKIP_LOCKED) \"{quoted}\""))
                .execute(&self.read)
                .await?;
            tracing::debug!(table, "analyzed a new table");
        }
        Ok(())
    }

    /// The underlying pool, for tests that need to reach past the API.
    pub fn pool(&self) -> &AnyPool {
        &self.write
    }

    /// A write transaction. On PostgreSQL its connection comes unpinged:
    /// BEGIN is the first round trip either way, so it tells as well as a
    /// ping would whether the connection is still there. When it is not
    /// (the server ended the session), nothing was done on it, and the
    /// transaction begins again on a connection the pool pings first.
    pub(crate) async fn begin(&self) -> Result<Transaction<'static, Any>> {
        let begin = || self.write.begin_with(self.backend.begin_write());
        let unpinged = crate::dialect::UNPINGED.scope((), begin()).await;
        match unpinged.map_err(StoreError::from) {
            Err(e) if e.is_connection_lost() => Ok(begin().await?),
            began => began,
        }
    }
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> Backend {
        self.backend
    }

    async fn start_up(&self, start: StartUp<'_>) -> Result<StartedUp> {
        let mut tx = self.begin().await?;
        if self.backend == Backend::Postgres {
            // SQLite's BEGIN IMMEDIATE already keeps a second start out.
            sqlx::query("SELECT pg_advisory_xact_lock(746163)")
                .execute(&mut *tx)
                .await?;
        }
        let sealed = self.sealer.seal(start.key_candidate, SIGNING_KEY);
        let key = signing_key(&mut tx, &sealed).await?;
        let (customer_id, created_customer) =
            first_customer(&mut tx, start.customer_candidate, start.now).await?;
        if let Some(make) = start.credential {
            credentials::upsert(&mut tx, &make(customer_id)).await?;
            self.credentials_changed_in(&mut *tx).await?;
        }
        tx.commit().await?;
        if start.credential.is_some() {
            self.remembered.changed();
        }
        Ok(StartedUp {
            signing_key: self.sealer.open(&key, SIGNING_KEY)?,
            customer_id,
            created_customer,
        })
    }

    async fn customer_exists(&self, customer: Uuid) -> Result<bool> {
        let found: Option<String> = sqlx::query_scalar("SELECT id FROM customers WHERE id = $1")
            .bind(customer.to_string())
            .fetch_optional(&self.read)
            .await?;
        Ok(found.is_some())
    }

    async fn create_customer(&self, customer: Uuid, now: i64) -> Result<Uuid> {
        let mut tx = self.begin().await?;
        let profile = insert_customer(&mut tx, customer, now).await?;
        tx.commit().await?;
        Ok(profile)
    }

    async fn create_profile(&self, profile: &Profile) -> Result<()> {
        let mut tx = self.begin().await?;
        let taken: Option<String> =
            sqlx::query_scalar("SELECT id FROM profiles WHERE customer_id = $1 AND nickname = $2")
                .bind(profile.customer_id.to_string())
                .bind(&profile.nickname)
                .fetch_optional(&mut *tx)
                .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(format!(
                "a profile with nickname '{}' already exists",
                profile.nickname
            )));
        }
        insert_profile(&mut tx, profile).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn profile(&self, customer: Uuid, id: Uuid) -> Result<Option<Profile>> {
        let mut q = Sql::new(&format!(
            "SELECT {PROFILE_COLUMNS} FROM profiles WHERE customer_id = "
        ));
        q.bind(customer).push(" AND id = ").bind(id);
        read_row!(self, q, sql::profile)
    }

    async fn default_profile(&self, customer: Uuid) -> Result<Option<Profile>> {
        let row = sqlx::query(&format!(
            "SELECT {PROFILE_COLUMNS} FROM profiles WHERE customer_id = $1 AND kind = 'DEFAULT'"
        ))
        .bind(customer.to_string())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(sql::profile).transpose()
    }

    async fn list_profiles(&self, customer: Uuid, filter: &ProfileFilter) -> Result<Vec<Profile>> {
        let mut q = Sql::new(&format!(
            "SELECT {PROFILE_COLUMNS} FROM profiles WHERE customer_id = "
        ));
        q.bind(customer);
        if !filter.include_deactivated {
            q.push(" AND deactivated_at IS NULL");
        }
        q.time_range("created_at", &filter.created_at);
        if let Some(prefix) = &filter.nickname_prefix {
            let escaped = prefix
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            q.push(" AND lower(nickname) LIKE lower(")
                .bind(format!("{escaped}%"))
                .push(") ESCAPE '\\'");
        }
        if !filter.ids.is_empty() {
            q.push(" AND id IN (");
            for (i, id) in filter.ids.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.bind(*id);
            }
            q.push(")");
        }
        q.page(&filter.page);
        let rows = q.query_on(self.sqlite()).fetch_all(&self.read).await?;
        rows.iter().map(sql::profile).collect()
    }

    async fn rename_profile(
        &self,
        customer: Uuid,
        id: Uuid,
        nickname: &str,
        now: i64,
    ) -> Result<Profile> {
        let mut tx = self.begin().await?;
        let taken: Option<String> = sqlx::query_scalar(
            "SELECT id FROM profiles WHERE customer_id = $1 AND nickname = $2 AND id <> $3",
        )
        .bind(customer.to_string())
        .bind(nickname)
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(format!(
                "a profile with nickname '{nickname}' already exists"
            )));
        }
        let updated = sqlx::query(
            "UPDATE profiles SET nickname = $1, updated_at = $2 WHERE customer_id = $3 AND id = $4",
        )
        .bind(nickname)
        .bind(now)
        .bind(customer.to_string())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        let row = sqlx::query(&format!(
            "SELECT {PROFILE_COLUMNS} FROM profiles WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        sql::profile(&row)
    }

    async fn balances(&self, profile: Uuid) -> Result<Vec<Balance>> {
        let rows = sqlx::query("SELECT asset, available FROM balances WHERE profile_id = $1")
            .bind(profile.to_string())
            .fetch_all(&self.read)
            .await?;
        let mut balances = rows
            .iter()
            .map(|row| {
                Ok(Balance {
                    asset: sql::asset(row, "asset")?,
                    available: row.try_get("available")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        balances.sort_by_key(|b| b.asset);
        Ok(balances)
    }

    async fn active_profile_balances(
        &self,
        customer: Uuid,
        id: Uuid,
    ) -> Result<Option<Vec<Balance>>> {
        if let Some(reads) = &self.coalesced {
            return reads.balances.get((customer, id)).await;
        }
        let mut q = Sql::new(
            "SELECT b.asset, b.available FROM profiles p \
             LEFT JOIN balances b ON b.profile_id = p.id \
             WHERE p.customer_id = ",
        );
        q.bind(customer)
            .push(" AND p.id = ")
            .bind(id)
            .push(" AND p.deactivated_at IS NULL");
        let rows: Vec<Option<Balance>> = read_rows!(self, q, sql::balance_or_none)?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut balances: Vec<Balance> = rows.into_iter().flatten().collect();
        balances.sort_by_key(|b| b.asset);
        Ok(Some(balances))
    }

    async fn customer_balances(&self, customer: Uuid) -> Result<Vec<(Uuid, Balance)>> {
        let rows = sqlx::query(
            "SELECT b.profile_id, b.asset, b.available FROM balances b \
             JOIN profiles p ON p.id = b.profile_id \
             WHERE p.customer_id = $1 AND p.deactivated_at IS NULL AND b.available <> 0",
        )
        .bind(customer.to_string())
        .fetch_all(&self.read)
        .await?;
        let mut balances = rows
            .iter()
            .map(|row| {
                let balance = Balance {
                    asset: sql::asset(row, "asset")?,
                    available: row.try_get("available")?,
                };
                Ok((sql::uuid(row, "profile_id")?, balance))
            })
            .collect::<Result<Vec<_>>>()?;
        balances.sort_by_key(|(profile, b)| (*profile, b.asset));
        Ok(balances)
    }

    async fn transaction(&self) -> Result<Tx> {
        Ok(Tx::new(
            Conn::Pool(self.begin().await?),
            self.backend,
            self.sealer.clone(),
            self.remembered.clone(),
        ))
    }

    fn batch_runtime(&self) -> Option<tokio::runtime::Handle> {
        self.writer.as_ref().map(|(_, thread)| thread.handle())
    }

    async fn batch_transaction(&self) -> Result<Tx> {
        let Some((writer, _)) = &self.writer else {
            return self.transaction().await;
        };
        Ok(Tx::new(
            Conn::Direct(Direct::begin(&self.write, writer.clone()).await?),
            self.backend,
            self.sealer.clone(),
            self.remembered.clone(),
        ))
    }

    async fn conversion(&self, customer: Uuid, id: Uuid) -> Result<Option<Conversion>> {
        if let Some(reads) = &self.coalesced {
            return reads.conversions.get((customer, id)).await;
        }
        let mut q = Sql::new(&format!(
            "SELECT {CONVERSION_COLUMNS} FROM conversions WHERE customer_id = "
        ));
        q.bind(customer).push(" AND id = ").bind(id);
        read_row!(self, q, sql::conversion)
    }

    async fn list_conversions(
        &self,
        customer: Uuid,
        filter: &ConversionFilter,
    ) -> Result<Vec<Conversion>> {
        let mut q = Sql::new(&format!(
            "SELECT {CONVERSION_COLUMNS} FROM conversions WHERE customer_id = "
        ));
        q.bind(customer);
        if let Some(profile) = filter.profile_id {
            q.push(" AND profile_id = ").bind(profile);
        }
        if let Some(ref_id) = &filter.ref_id {
            q.push(" AND ref_id = ").bind(ref_id.as_str());
        }
        q.time_range("created_at", &filter.created_at);
        q.time_range("updated_at", &filter.updated_at);
        q.page(&filter.page);
        read_rows!(self, q, sql::conversion)
    }

    async fn conversions_due(&self, now: i64) -> Result<bool> {
        let found: Option<i64> = sqlx::query_scalar(&conversions_due_sql())
            .bind(now)
            .fetch_optional(&self.read)
            .await?;
        Ok(found.is_some())
    }

    async fn audit(&self) -> Result<AuditReport> {
        let pool = &self.read;
        let count = |table: &'static str| async move {
            let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(pool)
                .await?;
            Ok::<_, StoreError>(n)
        };
        let mut discrepancies = unbalanced_assets(pool).await?;
        discrepancies.extend(unbalanced_entries(pool).await?);
        discrepancies.extend(mismatched_balances(pool).await?);
        discrepancies.extend(orphan_accounts(pool).await?);
        Ok(AuditReport {
            entries: count("journal_entries").await?,
            postings: count("postings").await?,
            profile_balances: count("balances").await?,
            discrepancies,
        })
    }
}

/// Every asset's postings, over all accounts, sum to zero.
async fn unbalanced_assets(pool: &AnyPool) -> Result<Vec<String>> {
    let totals = sqlx::query(
        "SELECT asset, CAST(SUM(amount) AS BIGINT) AS total FROM postings GROUP BY asset",
    )
    .fetch_all(pool)
    .await?;
    let mut found = Vec::new();
    for row in &totals {
        let total: i64 = row.try_get("total")?;
        if total != 0 {
            let asset: String = row.try_get("asset")?;
            found.push(format!(
                "asset {asset}: all accounts sum to {total} units, not 0"
            ));
        }
    }
    Ok(found)
}

/// Every journal entry's postings sum to zero per asset.
async fn unbalanced_entries(pool: &AnyPool) -> Result<Vec<String>> {
    let rows = sqlx::query(
        "SELECT entry_id, asset, CAST(SUM(amount) AS BIGINT) AS total FROM postings \
         GROUP BY entry_id, asset HAVING SUM(amount) <> 0",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let (entry, asset, total): (String, String, i64) = (
                row.try_get("entry_id")?,
                row.try_get("asset")?,
                row.try_get("total")?,
            );
            Ok(format!(
                "journal entry {entry}: {asset} postings sum to {total} units, not 0"
            ))
        })
        .collect()
}

/// Every stored balance equals the sum of its account's postings.
async fn mismatched_balances(pool: &AnyPool) -> Result<Vec<String>> {
    let rows = sqlx::query(
        "SELECT b.profile_id, b.asset, b.available, CAST(COALESCE(p.total, 0) AS BIGINT) AS posted \
         FROM balances b LEFT JOIN (SELECT account, asset, SUM(amount) AS total FROM postings GROUP BY account, asset) p \
         ON p.account = 'profile:' || b.profile_id AND p.asset = b.asset \
         WHERE b.available <> COALESCE(p.total, 0)",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let (profile, asset, available, posted): (String, String, i64, i64) = (
                row.try_get("profile_id")?,
                row.try_get("asset")?,
                row.try_get("available")?,
                row.try_get("posted")?,
            );
            Ok(format!(
                "profile {profile} {asset}: balance is {available} units but its postings sum to {posted}"
            ))
        })
        .collect()
}

/// Every profile account with postings has a stored balance.
async fn orphan_accounts(pool: &AnyPool) -> Result<Vec<String>> {
    let rows = sqlx::query(
        "SELECT DISTINCT p.account FROM postings p WHERE p.account LIKE 'profile:%' AND NOT EXISTS \
         (SELECT 1 FROM balances b WHERE 'profile:' || b.profile_id = p.account)",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let account: String = row.try_get("account")?;
            Ok(format!("{account} has postings but no stored balance"))
        })
        .collect()
}

/// The stored signing key (sealed), `candidate` where none was.
async fn signing_key(tx: &mut Transaction<'static, Any>, candidate: &str) -> Result<String> {
    sqlx::query("INSERT INTO server_keys (name, value) VALUES ('signing', $1) ON CONFLICT (name) DO NOTHING")
        .bind(candidate)
        .execute(&mut **tx)
        .await?;
    Ok(
        sqlx::query_scalar("SELECT value FROM server_keys WHERE name = 'signing'")
            .fetch_one(&mut **tx)
            .await?,
    )
}

/// The first customer, created as `candidate` where there is none; true
/// when created.
async fn first_customer(
    tx: &mut Transaction<'static, Any>,
    candidate: Uuid,
    now: i64,
) -> Result<(Uuid, bool)> {
    let first: Option<String> =
        sqlx::query_scalar("SELECT id FROM customers ORDER BY created_at, id LIMIT 1")
            .fetch_optional(&mut **tx)
            .await?;
    match first {
        Some(id) => Ok((sql::parse_uuid(&id, "customers.id")?, false)),
        None => {
            insert_customer(tx, candidate, now).await?;
            Ok((candidate, true))
        }
    }
}

/// A customer and its DEFAULT profile; returns the profile's id.
async fn insert_customer(
    tx: &mut Transaction<'static, Any>,
    customer: Uuid,
    now: i64,
) -> Result<Uuid> {
    sqlx::query("INSERT INTO customers (id, created_at) VALUES ($1, $2)")
        .bind(customer.to_string())
        .bind(now)
        .execute(&mut **tx)
        .await?;
    let profile = Profile {
        id: stableport_domain::new_id(),
        customer_id: customer,
        nickname: "default".into(),
        description: None,
        kind: ProfileKind::Default,
        created_at: now,
        updated_at: now,
        deactivated: false,
        account_id: None,
    };
    insert_profile(tx, &profile).await?;
    Ok(profile.id)
}

pub(crate) async fn insert_profile(tx: &mut Transaction<'static, Any>, p: &Profile) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO profiles ({PROFILE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8)"
    ))
    .bind(p.id.to_string())
    .bind(p.customer_id.to_string())
    .bind(&p.nickname)
    .bind(p.description.clone())
    .bind(p.kind.as_str())
    .bind(p.created_at)
    .bind(p.updated_at)
    .bind(p.account_id.map(|a| a.to_string()))
    .execute(&mut **tx)
    .await?;
    for asset in Asset::ALL {
        sqlx::query("INSERT INTO balances (profile_id, asset, available) VALUES ($1, $2, 0)")
            .bind(p.id.to_string())
            .bind(asset.code())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// The status is inlined so the partial index on due rows serves it, and
/// the order so it does on any statistics (see `transfers::due_sql`).
pub(crate) fn conversions_due_sql() -> String {
    format!(
        "SELECT 1 FROM conversions WHERE status = '{}' AND settle_after <= $1 \
         ORDER BY settle_after LIMIT 1",
        ConversionStatus::Created.as_str()
    )
}
