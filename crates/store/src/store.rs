//! The SQL implementation of [`Store`].

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use sqlx::{Any, AnyPool, Row, Transaction};
use stableport_domain::{ledger, Asset, ConversionStatus};
use uuid::Uuid;

use crate::batch::{apply_balances, change_balances, debit_each, lock_balances, LedgerRows};
use crate::model::*;
use crate::sql::{self, Sql, CONVERSION_COLUMNS, PROFILE_COLUMNS};
use crate::{migrations, Backend, Result, Store, StoreError};

pub struct SqlStore {
    pub(crate) backend: Backend,
    pub(crate) write: AnyPool,
    pub(crate) read: AnyPool,
}

impl SqlStore {
    pub async fn open(url: &str) -> Result<SqlStore> {
        let backend = Backend::from_url(url).ok_or_else(|| {
            StoreError::Database(sqlx::Error::Configuration(
                format!("unsupported database URL {url:?}: use sqlite://PATH or postgres://...")
                    .into(),
            ))
        })?;
        let (write, read) = backend.connect(url).await?;
        migrations::run(&write, backend).await?;
        Ok(SqlStore {
            backend,
            write,
            read,
        })
    }

    /// Whether this backend needs `checkpoint` called now and then (SQLite).
    pub fn needs_checkpoints(&self) -> bool {
        self.backend == Backend::Sqlite
    }

    /// A passive WAL checkpoint on SQLite: keeps the WAL short without
    /// waiting for readers or blocking the writer. Nothing on PostgreSQL.
    pub async fn checkpoint(&self) -> Result<()> {
        if self.backend == Backend::Sqlite {
            sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&self.read)
                .await?;
        }
        Ok(())
    }

    /// The underlying pool, for tests that need to reach past the API.
    pub fn pool(&self) -> &AnyPool {
        &self.write
    }

    /// Whether any row of `table` has `condition <= now`, read without a lock.
    pub(crate) async fn any_due(&self, table: &str, condition: &str, now: i64) -> Result<bool> {
        let found: Option<i64> = sqlx::query_scalar(&format!(
            "SELECT 1 FROM {table} WHERE {condition} <= $1 LIMIT 1"
        ))
        .bind(now)
        .fetch_optional(&self.read)
        .await?;
        Ok(found.is_some())
    }

    pub(crate) async fn begin(&self) -> Result<Transaction<'static, Any>> {
        Ok(self.write.begin_with(self.backend.begin_write()).await?)
    }

    async fn conversion_in(
        tx: &mut Transaction<'static, Any>,
        customer: Uuid,
        id: Uuid,
    ) -> Result<Option<Conversion>> {
        let row = sqlx::query(&format!(
            "SELECT {CONVERSION_COLUMNS} FROM conversions WHERE customer_id = $1 AND id = $2"
        ))
        .bind(customer.to_string())
        .bind(id.to_string())
        .fetch_optional(&mut **tx)
        .await?;
        row.as_ref().map(sql::conversion).transpose()
    }

    /// Moves a CREATED conversion to SETTLED or CANCELLED with its postings
    /// and event. Returns false when it was no longer CREATED (another
    /// worker got there first) or the recipient's balance is at its limit.
    async fn finish(
        tx: &mut Transaction<'static, Any>,
        rows: &mut LedgerRows,
        c: &Conversion,
        to: ConversionStatus,
        now: i64,
    ) -> Result<bool> {
        let (postings, kind, time_column) = match to {
            ConversionStatus::Settled => (
                ledger::conversion_settled(
                    c.recipient(),
                    c.source_asset,
                    c.source_units,
                    c.target_asset,
                    c.target_units,
                ),
                "conversion.settled",
                "settled_at",
            ),
            _ => (
                ledger::conversion_cancelled(c.profile_id, c.source_asset, c.source_units),
                "conversion.cancelled",
                "cancelled_at",
            ),
        };
        let moved = sqlx::query(&format!(
            "UPDATE conversions SET status = $1, updated_at = $2, {time_column} = $2, settle_after = NULL \
             WHERE id = $3 AND status = 'CREATED'"
        ))
        .bind(to.as_str())
        .bind(now)
        .bind(c.id.to_string())
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if moved == 0 {
            return Ok(false);
        }
        if let Err(refused) = apply_balances(tx, &postings).await? {
            tracing::error!(conversion = %c.id, ?refused, "cannot credit the recipient; conversion left CREATED");
            return Err(StoreError::BalanceLimit);
        }
        let (profile, asset, units) = match to {
            ConversionStatus::Settled => (c.recipient(), c.target_asset, c.target_units),
            _ => (c.profile_id, c.source_asset, c.source_units),
        };
        rows.transfer(Transfer::completed(
            c.customer_id,
            profile,
            "INTERNAL_TRANSFER_CREDIT",
            asset,
            units,
            c.id,
            now,
        ));
        rows.entry(c.customer_id, kind, c.id, postings, now);
        rows.event(
            c.customer_id,
            kind,
            c.id,
            event_payload(c.id, c.ref_id.as_deref(), to),
            now,
        );
        Ok(true)
    }

    async fn transition(
        &self,
        customer: Uuid,
        id: Uuid,
        to: ConversionStatus,
        now: i64,
    ) -> Result<Conversion> {
        let mut tx = self.begin().await?;
        let current = Self::conversion_in(&mut tx, customer, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        if !current.status.is_pending() {
            return Err(StoreError::NotPending(current.status.to_string()));
        }
        let mut rows = LedgerRows::default();
        if !Self::finish(&mut tx, &mut rows, &current, to, now).await? {
            return Err(StoreError::NotPending("no longer CREATED".into()));
        }
        rows.insert(&mut tx).await?;
        let updated = Self::conversion_in(&mut tx, customer, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(updated)
    }
}

impl SqlStore {
    /// Settles every claimed conversion still CREATED: one status UPDATE and
    /// one balance UPDATE for the lot. None when a credit would exceed a
    /// balance limit (the caller then rolls back and goes one by one).
    async fn settle_all(
        tx: &mut Transaction<'static, Any>,
        due: &[Conversion],
        now: i64,
    ) -> Result<Option<(LedgerRows, usize)>> {
        let sqlite = crate::sql::is_sqlite(tx);
        let mut moved = HashSet::new();
        for run in crate::sql::runs(due) {
            let mut q = Sql::new(
                "UPDATE conversions SET status = 'SETTLED', settle_after = NULL, updated_at = ",
            );
            q.bind(now)
                .push(", settled_at = ")
                .bind(now)
                .push(" WHERE status = 'CREATED' AND id IN (");
            for (i, c) in run.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.bind(c.id);
            }
            q.push(") RETURNING id");
            for row in q.query_on(sqlite).fetch_all(&mut **tx).await? {
                moved.insert(row.try_get::<String, _>("id")?);
            }
        }
        let settled: Vec<&Conversion> = due
            .iter()
            .filter(|c| moved.contains(&c.id.to_string()))
            .collect();
        let mut credits: HashMap<(Uuid, Asset), i64> = HashMap::new();
        for c in &settled {
            *credits.entry((c.recipient(), c.target_asset)).or_default() += c.target_units;
        }
        // Sorted, and locked in that order first: no two settlers deadlock.
        let mut credits: Vec<(Uuid, Asset, i64)> =
            credits.into_iter().map(|((p, a), u)| (p, a, u)).collect();
        credits.sort_unstable();
        lock_balances(tx, credits.iter().map(|(p, a, _)| (*p, *a))).await?;
        if change_balances(tx, &credits).await?.contains(&false) {
            return Ok(None);
        }
        let mut rows = LedgerRows::default();
        for c in &settled {
            let postings = ledger::conversion_settled(
                c.recipient(),
                c.source_asset,
                c.source_units,
                c.target_asset,
                c.target_units,
            );
            let credit = Transfer::completed(
                c.customer_id,
                c.recipient(),
                "INTERNAL_TRANSFER_CREDIT",
                c.target_asset,
                c.target_units,
                c.id,
                now,
            );
            rows.transfer(credit);
            rows.entry(c.customer_id, "conversion.settled", c.id, postings, now);
            rows.event(
                c.customer_id,
                "conversion.settled",
                c.id,
                event_payload(c.id, c.ref_id.as_deref(), ConversionStatus::Settled),
                now,
            );
        }
        Ok(Some((rows, settled.len())))
    }

    /// The careful path: each conversion in turn, leaving CREATED (and out of
    /// the settler's way) any whose recipient is at its balance limit.
    async fn settle_one_by_one(&self, due: &[Conversion], now: i64) -> Result<usize> {
        let mut tx = self.begin().await?;
        let mut rows = LedgerRows::default();
        let mut settled = 0;
        for c in due {
            match Self::finish(&mut tx, &mut rows, c, ConversionStatus::Settled, now).await {
                Ok(true) => settled += 1,
                Ok(false) => {}
                Err(StoreError::BalanceLimit) => {
                    sqlx::query("UPDATE conversions SET status = 'CREATED', settle_after = NULL, settled_at = NULL WHERE id = $1")
                        .bind(c.id.to_string())
                        .execute(&mut *tx)
                        .await?;
                }
                Err(e) => return Err(e),
            }
        }
        rows.insert(&mut tx).await?;
        tx.commit().await?;
        Ok(settled)
    }
}

fn event_payload(id: Uuid, ref_id: Option<&str>, status: ConversionStatus) -> String {
    crate::events::conversion_object(id, ref_id, status.as_str())
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> Backend {
        self.backend
    }

    async fn signing_key(&self, candidate: &str) -> Result<String> {
        sqlx::query("INSERT INTO server_keys (name, value) VALUES ('signing', $1) ON CONFLICT (name) DO NOTHING")
            .bind(candidate)
            .execute(&self.write)
            .await?;
        Ok(
            sqlx::query_scalar("SELECT value FROM server_keys WHERE name = 'signing'")
                .fetch_one(&self.write)
                .await?,
        )
    }

    async fn first_customer(&self) -> Result<Option<Uuid>> {
        let id: Option<String> =
            sqlx::query_scalar("SELECT id FROM customers ORDER BY created_at, id LIMIT 1")
                .fetch_optional(&self.read)
                .await?;
        Ok(id.and_then(|s| Uuid::parse_str(&s).ok()))
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
        sqlx::query("INSERT INTO customers (id, created_at) VALUES ($1, $2)")
            .bind(customer.to_string())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let profile = Profile {
            id: stableport_domain::new_id(),
            customer_id: customer,
            nickname: "default".into(),
            description: None,
            kind: ProfileKind::Default,
            created_at: now,
            updated_at: now,
        };
        insert_profile(&mut tx, &profile).await?;
        tx.commit().await?;
        Ok(profile.id)
    }

    async fn upsert_credential(&self, c: &Credential) -> Result<()> {
        sqlx::query(
            "INSERT INTO credentials (client_id, customer_id, secret_salt, secret_hash, scopes, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (client_id) DO UPDATE SET \
             customer_id = excluded.customer_id, secret_salt = excluded.secret_salt, \
             secret_hash = excluded.secret_hash, scopes = excluded.scopes",
        )
        .bind(&c.client_id)
        .bind(c.customer_id.to_string())
        .bind(&c.secret_salt)
        .bind(&c.secret_hash)
        .bind(&c.scopes)
        .bind(c.created_at)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn credential(&self, client_id: &str) -> Result<Option<Credential>> {
        let row = sqlx::query(
            "SELECT client_id, customer_id, secret_salt, secret_hash, scopes, created_at FROM credentials WHERE client_id = $1",
        )
        .bind(client_id)
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let customer: String = row.try_get("customer_id")?;
        Ok(Some(Credential {
            client_id: row.try_get("client_id")?,
            customer_id: Uuid::parse_str(&customer)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            secret_salt: row.try_get("secret_salt")?,
            secret_hash: row.try_get("secret_hash")?,
            scopes: row.try_get("scopes")?,
            created_at: row.try_get("created_at")?,
        }))
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
        let row = sqlx::query(&format!(
            "SELECT {PROFILE_COLUMNS} FROM profiles WHERE customer_id = $1 AND id = $2"
        ))
        .bind(customer.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(sql::profile).transpose()
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
        let rows = q.query().fetch_all(&self.read).await?;
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

    async fn deposit(&self, d: &NewDeposit) -> Result<()> {
        let mut tx = self.begin().await?;
        let postings = ledger::deposit(d.profile_id, d.asset, d.units);
        if apply_balances(&mut tx, &postings).await?.is_err() {
            return Err(StoreError::BalanceLimit);
        }
        let mut rows = LedgerRows::default();
        let kind = if d.asset.is_stablecoin() {
            "CRYPTO_DEPOSIT"
        } else {
            "WIRE_DEPOSIT"
        };
        let mut transfer = Transfer::completed(
            d.customer_id,
            d.profile_id,
            kind,
            d.asset,
            d.units,
            d.activity_id,
            d.now,
        );
        transfer.id = d.activity_id;
        transfer.crypto_network = d.crypto_network.clone();
        rows.transfer(transfer);
        rows.entry(
            d.customer_id,
            "sandbox.deposit",
            d.activity_id,
            postings,
            d.now,
        );
        // Announced by its transfer: transfer.{wire,crypto}_deposit.completed.
        rows.insert(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_conversions(&self, batch: &[NewConversion]) -> Result<Vec<CreateOutcome>> {
        let mut tx = self.begin().await?;
        let mut outcomes: Vec<Option<CreateOutcome>> = vec![None; batch.len()];

        // 0. Retries of stored ones are answered first, before any lock is
        // taken: a retry never debits, nor waits on a row the settler holds.
        let keys: Vec<(Uuid, &str)> = batch
            .iter()
            .filter_map(|c| c.ref_id.as_deref().map(|r| (c.customer_id, r)))
            .collect();
        let stored = conversions_by_refs(&mut tx, &keys).await?;
        let mut fresh = Vec::with_capacity(batch.len());
        for (i, c) in batch.iter().enumerate() {
            let key = (c.customer_id, c.ref_id.clone().unwrap_or_default());
            match stored.get(&key) {
                Some(existing) if c.ref_id.is_some() => {
                    outcomes[i] = Some(CreateOutcome::RefIdExists(Box::new(existing.clone())))
                }
                _ => fresh.push(i),
            }
        }

        // 1. Debit each source, checked in the database.
        let debits: Vec<_> = fresh
            .iter()
            .map(|&i| {
                (
                    batch[i].profile_id,
                    batch[i].source_asset,
                    batch[i].source_units,
                )
            })
            .collect();
        let mut debited = Vec::with_capacity(batch.len());
        let mut short = Vec::new();
        let results = debit_each(&mut tx, &debits).await?;
        for (&i, result) in fresh.iter().zip(results) {
            match result {
                Ok(()) => debited.push(i),
                Err(available) => short.push((i, available)),
            }
        }

        // 2. Insert the debited ones; a ref_id already taken is skipped.
        let mut inserted = HashSet::new();
        let sqlite = crate::sql::is_sqlite(&tx);
        for chunk in crate::sql::runs(&debited) {
            let mut q = Sql::new(&format!(
                "INSERT INTO conversions ({CONVERSION_COLUMNS}, settle_after) VALUES "
            ));
            for (n, i) in chunk.iter().enumerate() {
                if n > 0 {
                    q.push(", ");
                }
                q.row(sql::conversion_values(&batch[*i]));
            }
            q.push(" ON CONFLICT (customer_id, ref_id) WHERE ref_id IS NOT NULL DO NOTHING RETURNING id");
            for row in q.query_on(sqlite).fetch_all(&mut *tx).await? {
                inserted.insert(row.try_get::<String, _>("id")?);
            }
        }

        // A short one that repeats a stored ref_id (committed before, by a
        // racing transaction this debit waited for, or above in this batch)
        // is a 409 with it, whatever the balance.
        for (i, available) in short {
            let existing = match &batch[i].ref_id {
                Some(ref_id) => conversion_by_ref(&mut tx, batch[i].customer_id, ref_id).await?,
                None => None,
            };
            outcomes[i] = Some(match existing {
                Some(c) => CreateOutcome::RefIdExists(Box::new(c)),
                None => CreateOutcome::InsufficientFunds { available },
            });
        }

        // 3. Post the created ones; refund and report the duplicates.
        let mut rows = LedgerRows::default();
        for i in debited {
            let c = &batch[i];
            let postings = ledger::conversion_created(c.profile_id, c.source_asset, c.source_units);
            if inserted.contains(&c.id.to_string()) {
                let mut debit = Transfer::completed(
                    c.customer_id,
                    c.profile_id,
                    "INTERNAL_TRANSFER_DEBIT",
                    c.source_asset,
                    c.source_units,
                    c.id,
                    c.now,
                );
                debit.ref_id = c.ref_id.clone();
                rows.transfer(debit);
                rows.entry(c.customer_id, "conversion.created", c.id, postings, c.now);
                rows.event(
                    c.customer_id,
                    "conversion.created",
                    c.id,
                    event_payload(c.id, c.ref_id.as_deref(), ConversionStatus::Created),
                    c.now,
                );
                outcomes[i] = Some(CreateOutcome::Created(created(c)));
                continue;
            }
            let refund: Vec<_> = postings
                .iter()
                .map(|p| ledger::Posting {
                    units: -p.units,
                    ..p.clone()
                })
                .collect();
            apply_balances(&mut tx, &refund)
                .await?
                .map_err(|_| StoreError::BalanceLimit)?;
            let ref_id = c.ref_id.as_deref().unwrap_or_default();
            let existing = conversion_by_ref(&mut tx, c.customer_id, ref_id)
                .await?
                .ok_or_else(|| StoreError::Corrupt(format!("conversion {ref_id:?} vanished")))?;
            outcomes[i] = Some(CreateOutcome::RefIdExists(Box::new(existing)));
        }
        rows.insert(&mut tx).await?;
        tx.commit().await?;
        Ok(outcomes
            .into_iter()
            .map(|o| o.expect("every request has an outcome"))
            .collect())
    }

    async fn conversion(&self, customer: Uuid, id: Uuid) -> Result<Option<Conversion>> {
        let row = sqlx::query(&format!(
            "SELECT {CONVERSION_COLUMNS} FROM conversions WHERE customer_id = $1 AND id = $2"
        ))
        .bind(customer.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(sql::conversion).transpose()
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
        let rows = q.query().fetch_all(&self.read).await?;
        rows.iter().map(sql::conversion).collect()
    }

    async fn settle_conversion(&self, customer: Uuid, id: Uuid, now: i64) -> Result<Conversion> {
        self.transition(customer, id, ConversionStatus::Settled, now)
            .await
    }

    async fn cancel_conversion(&self, customer: Uuid, id: Uuid, now: i64) -> Result<Conversion> {
        self.transition(customer, id, ConversionStatus::Cancelled, now)
            .await
    }

    async fn settle_due(&self, now: i64, limit: i64) -> Result<usize> {
        // Look before taking the write lock: most ticks find nothing to do.
        if !self
            .any_due("conversions", "status = 'CREATED' AND settle_after", now)
            .await?
        {
            return Ok(0);
        }
        let mut tx = self.begin().await?;
        let due = sqlx::query(&format!(
            "SELECT {CONVERSION_COLUMNS} FROM conversions WHERE status = 'CREATED' AND settle_after <= $1 \
             ORDER BY settle_after LIMIT $2{}",
            self.backend.claim_suffix()
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        if due.is_empty() {
            return Ok(0);
        }
        let due = due
            .iter()
            .map(sql::conversion)
            .collect::<Result<Vec<_>>>()?;
        match Self::settle_all(&mut tx, &due, now).await? {
            Some((rows, settled)) => {
                rows.insert(&mut tx).await?;
                tx.commit().await?;
                Ok(settled)
            }
            // A recipient at its balance limit: settle one by one instead.
            None => {
                tx.rollback().await?;
                self.settle_one_by_one(&due, now).await
            }
        }
    }

    async fn audit(&self) -> Result<AuditReport> {
        let mut report = AuditReport {
            entries: sqlx::query_scalar("SELECT COUNT(*) FROM journal_entries")
                .fetch_one(&self.read)
                .await?,
            postings: sqlx::query_scalar("SELECT COUNT(*) FROM postings")
                .fetch_one(&self.read)
                .await?,
            profile_balances: sqlx::query_scalar("SELECT COUNT(*) FROM balances")
                .fetch_one(&self.read)
                .await?,
            discrepancies: Vec::new(),
        };
        let totals = sqlx::query(
            "SELECT asset, CAST(SUM(amount) AS BIGINT) AS total FROM postings GROUP BY asset",
        )
        .fetch_all(&self.read)
        .await?;
        for row in &totals {
            let total: i64 = row.try_get("total")?;
            if total != 0 {
                let asset: String = row.try_get("asset")?;
                report.discrepancies.push(format!(
                    "asset {asset}: all accounts sum to {total} units, not 0"
                ));
            }
        }
        let unbalanced = sqlx::query(
            "SELECT entry_id, asset, CAST(SUM(amount) AS BIGINT) AS total FROM postings \
             GROUP BY entry_id, asset HAVING SUM(amount) <> 0",
        )
        .fetch_all(&self.read)
        .await?;
        for row in &unbalanced {
            let (entry, asset, total): (String, String, i64) = (
                row.try_get("entry_id")?,
                row.try_get("asset")?,
                row.try_get("total")?,
            );
            report.discrepancies.push(format!(
                "journal entry {entry}: {asset} postings sum to {total} units, not 0"
            ));
        }
        let mismatched = sqlx::query(
            "SELECT b.profile_id, b.asset, b.available, CAST(COALESCE(p.total, 0) AS BIGINT) AS posted \
             FROM balances b LEFT JOIN (SELECT account, asset, SUM(amount) AS total FROM postings GROUP BY account, asset) p \
             ON p.account = 'profile:' || b.profile_id AND p.asset = b.asset \
             WHERE b.available <> COALESCE(p.total, 0)",
        )
        .fetch_all(&self.read)
        .await?;
        for row in &mismatched {
            let (profile, asset, available, posted): (String, String, i64, i64) = (
                row.try_get("profile_id")?,
                row.try_get("asset")?,
                row.try_get("available")?,
                row.try_get("posted")?,
            );
            report.discrepancies.push(format!(
                "profile {profile} {asset}: balance is {available} units but its postings sum to {posted}"
            ));
        }
        let orphans = sqlx::query(
            "SELECT DISTINCT p.account FROM postings p WHERE p.account LIKE 'profile:%' AND NOT EXISTS \
             (SELECT 1 FROM balances b WHERE 'profile:' || b.profile_id = p.account)",
        )
        .fetch_all(&self.read)
        .await?;
        for row in &orphans {
            let account: String = row.try_get("account")?;
            report
                .discrepancies
                .push(format!("{account} has postings but no stored balance"));
        }
        Ok(report)
    }
}

async fn insert_profile(tx: &mut Transaction<'static, Any>, p: &Profile) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO profiles ({PROFILE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    ))
    .bind(p.id.to_string())
    .bind(p.customer_id.to_string())
    .bind(&p.nickname)
    .bind(p.description.clone())
    .bind(p.kind.as_str())
    .bind(p.created_at)
    .bind(p.updated_at)
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

fn created(c: &NewConversion) -> Conversion {
    Conversion {
        id: c.id,
        customer_id: c.customer_id,
        profile_id: c.profile_id,
        recipient_profile_id: c.recipient_profile_id,
        amount: c.amount.clone(),
        source_asset: c.source_asset,
        target_asset: c.target_asset,
        source_units: c.source_units,
        target_units: c.target_units,
        status: ConversionStatus::Created,
        ref_id: c.ref_id.clone(),
        identity_id: c.identity_id.clone(),
        account_id: c.account_id.clone(),
        metadata: c.metadata.clone(),
        created_at: c.now,
        updated_at: c.now,
        settled_at: None,
        cancelled_at: None,
    }
}

/// The customer's conversion with this ref_id, as this transaction sees it.
async fn conversion_by_ref(
    tx: &mut Transaction<'static, Any>,
    customer: Uuid,
    ref_id: &str,
) -> Result<Option<Conversion>> {
    let row = sqlx::query(&format!(
        "SELECT {CONVERSION_COLUMNS} FROM conversions WHERE customer_id = $1 AND ref_id = $2"
    ))
    .bind(customer.to_string())
    .bind(ref_id.to_string())
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(sql::conversion).transpose()
}

/// Stored conversions with these (customer, ref_id) keys, by key.
async fn conversions_by_refs(
    tx: &mut Transaction<'static, Any>,
    keys: &[(Uuid, &str)],
) -> Result<HashMap<(Uuid, String), Conversion>> {
    let mut found = HashMap::new();
    let sqlite = crate::sql::is_sqlite(tx);
    for run in crate::sql::runs(keys) {
        let mut q = Sql::new(&format!(
            "SELECT {CONVERSION_COLUMNS} FROM conversions WHERE (customer_id, ref_id) IN ("
        ));
        q.pairs(run).push(")");
        for row in q.query_on(sqlite).fetch_all(&mut **tx).await? {
            let c = sql::conversion(&row)?;
            found.insert((c.customer_id, c.ref_id.clone().unwrap_or_default()), c);
        }
    }
    Ok(found)
}
