//! Transfers a customer asks for (withdrawals, internal and Paxos
//! transfers) and what they need: their ref_ids, the PENDING ones the
//! settler sends, guaranteed fees, and the profiles they name.

use async_trait::async_trait;
use sqlx::Row;
use stableport_domain::{Asset, TransferStatus};
use uuid::Uuid;

use crate::model::{Profile, Transfer};
use crate::sql::{self, PROFILE_COLUMNS, TRANSFER_COLUMNS};
use crate::{Backend, Result, SqlStore, StoreError, Tx};

/// A guaranteed crypto withdrawal fee, valid until `expires_at`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fee {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub asset: Asset,
    pub crypto_network: String,
    pub destination_address: String,
    /// As the quote request gave them.
    pub amount: Option<String>,
    pub total: Option<String>,
    pub fee_units: i64,
    pub expires_at: i64,
    pub created_at: i64,
}

const FEE_COLUMNS: &str =
    "id, customer_id, asset, crypto_network, destination_address, amount, total, \
     fee_units, expires_at, created_at";

#[async_trait]
pub trait TransferStore: Send + Sync {
    async fn insert_fee(&self, fee: &Fee) -> Result<()>;
    async fn fee(&self, customer: Uuid, id: Uuid) -> Result<Option<Fee>>;
    /// The transfer a request with this ref_id made.
    async fn transfer_by_ref(&self, customer: Uuid, ref_id: &str) -> Result<Option<Transfer>>;
    /// Whether any PENDING transfer is due, read without a lock.
    async fn transfers_due(&self, now: i64) -> Result<bool>;
}

#[async_trait]
impl TransferStore for SqlStore {
    async fn insert_fee(&self, f: &Fee) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO crypto_withdrawal_fees ({FEE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(f.id.to_string())
        .bind(f.customer_id.to_string())
        .bind(f.asset.code())
        .bind(&f.crypto_network)
        .bind(&f.destination_address)
        .bind(f.amount.clone())
        .bind(f.total.clone())
        .bind(f.fee_units)
        .bind(f.expires_at)
        .bind(f.created_at)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn fee(&self, customer: Uuid, id: Uuid) -> Result<Option<Fee>> {
        let row = sqlx::query(&format!(
            "SELECT {FEE_COLUMNS} FROM crypto_withdrawal_fees WHERE customer_id = $1 AND id = $2"
        ))
        .bind(customer.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(fee).transpose()
    }

    async fn transfer_by_ref(&self, customer: Uuid, ref_id: &str) -> Result<Option<Transfer>> {
        let row = sqlx::query(&by_ref_sql())
            .bind(customer.to_string())
            .bind(ref_id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(sql::transfer).transpose()
    }

    async fn transfers_due(&self, now: i64) -> Result<bool> {
        let found: Option<i64> = sqlx::query_scalar(&due_sql())
            .bind(now)
            .fetch_optional(&self.read)
            .await?;
        Ok(found.is_some())
    }
}

fn fee(row: &sqlx::any::AnyRow) -> Result<Fee> {
    Ok(Fee {
        id: sql::uuid(row, "id")?,
        customer_id: sql::uuid(row, "customer_id")?,
        asset: sql::asset(row, "asset")?,
        crypto_network: row.try_get("crypto_network")?,
        destination_address: row.try_get("destination_address")?,
        amount: row.try_get("amount")?,
        total: row.try_get("total")?,
        fee_units: row.try_get("fee_units")?,
        expires_at: row.try_get("expires_at")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Tx {
    /// Takes `ref_id` for a transfer request; false when the customer used
    /// it before (or a racing request just did).
    pub async fn claim_transfer_ref(
        &mut self,
        customer: Uuid,
        ref_id: &str,
        transfer: Uuid,
    ) -> Result<bool> {
        let claimed = sqlx::query(
            "INSERT INTO transfer_requests (customer_id, ref_id, transfer_id) VALUES ($1, $2, $3) \
             ON CONFLICT (customer_id, ref_id) DO NOTHING",
        )
        .bind(customer.to_string())
        .bind(ref_id)
        .bind(transfer.to_string())
        .execute(&mut **self.inner.pool()?)
        .await?;
        Ok(claimed.rows_affected() == 1)
    }

    /// The transfer a request with this ref_id made.
    pub async fn transfer_by_request_ref(
        &mut self,
        customer: Uuid,
        ref_id: &str,
    ) -> Result<Option<Transfer>> {
        let row = sqlx::query(&by_ref_sql())
            .bind(customer.to_string())
            .bind(ref_id)
            .fetch_optional(&mut **self.inner.pool()?)
            .await?;
        row.as_ref().map(sql::transfer).transpose()
    }

    /// The customer's transfer, locked where the backend can.
    pub async fn transfer_for_update(
        &mut self,
        customer: Uuid,
        id: Uuid,
    ) -> Result<Option<Transfer>> {
        let row = sqlx::query(&format!(
            "SELECT {TRANSFER_COLUMNS} FROM transfers WHERE customer_id = $1 AND id = $2{}",
            lock_suffix(self.backend)
        ))
        .bind(customer.to_string())
        .bind(id.to_string())
        .fetch_optional(&mut **self.inner.pool()?)
        .await?;
        row.as_ref().map(sql::transfer).transpose()
    }

    /// Claims up to `limit` PENDING transfers due by `now`; other replicas
    /// skip the rows claimed.
    pub async fn claim_due_transfers(&mut self, now: i64, limit: i64) -> Result<Vec<Transfer>> {
        let rows = sqlx::query(&claim_due_sql(self.backend))
            .bind(now)
            .bind(limit)
            .fetch_all(&mut **self.inner.pool()?)
            .await?;
        rows.iter().map(sql::transfer).collect()
    }

    /// Sets when the settler sends a transfer (None: not by itself).
    pub async fn schedule_transfer(&mut self, id: Uuid, at: Option<i64>) -> Result<()> {
        sqlx::query("UPDATE transfers SET next_step_at = $1 WHERE id = $2")
            .bind(at)
            .bind(id.to_string())
            .execute(&mut **self.inner.pool()?)
            .await?;
        Ok(())
    }

    /// Moves a PENDING transfer to `to` (with its chain hash); the transfer
    /// as it now reads, or None when it was no longer PENDING.
    pub async fn finish_transfer(
        &mut self,
        id: Uuid,
        to: TransferStatus,
        crypto_tx_hash: Option<String>,
        now: i64,
    ) -> Result<Option<Transfer>> {
        let row = sqlx::query(&format!(
            "UPDATE transfers SET status = $1, updated_at = $2, crypto_tx_hash = $3, next_step_at = NULL \
             WHERE id = $4 AND status = $5 RETURNING {TRANSFER_COLUMNS}"
        ))
        .bind(to.as_str())
        .bind(now)
        .bind(crypto_tx_hash)
        .bind(id.to_string())
        .bind(TransferStatus::Pending.as_str())
        .fetch_optional(&mut **self.inner.pool()?)
        .await?;
        row.as_ref().map(sql::transfer).transpose()
    }

    /// The customer's profile, share-locked until commit where the backend
    /// can: a deactivation waits for the transfers that name it.
    pub async fn profile(&mut self, customer: Uuid, id: Uuid) -> Result<Option<Profile>> {
        self.profile_where("customer_id = $2 AND id = $1", id, Some(customer))
            .await
    }

    /// A profile of any customer, share-locked likewise: only for the
    /// recipient of a Paxos transfer, which the caller names by id.
    pub async fn profile_of_any_customer(&mut self, id: Uuid) -> Result<Option<Profile>> {
        self.profile_where("id = $1", id, None).await
    }

    async fn profile_where(
        &mut self,
        condition: &str,
        id: Uuid,
        customer: Option<Uuid>,
    ) -> Result<Option<Profile>> {
        let lock = match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR SHARE",
        };
        let sql = format!("SELECT {PROFILE_COLUMNS} FROM profiles WHERE {condition}{lock}");
        let mut q = sqlx::query(&sql).bind(id.to_string());
        if let Some(customer) = customer {
            q = q.bind(customer.to_string());
        }
        let row = q.fetch_optional(&mut **self.inner.pool()?).await?;
        row.as_ref().map(sql::profile).transpose()
    }

    /// The profile's balances, all assets, as this transaction sees them.
    pub async fn balance_units(&mut self, profile: Uuid) -> Result<Vec<(Asset, i64)>> {
        let rows = sqlx::query("SELECT asset, available FROM balances WHERE profile_id = $1")
            .bind(profile.to_string())
            .fetch_all(&mut **self.inner.pool()?)
            .await?;
        rows.iter()
            .map(|r| Ok((sql::asset(r, "asset")?, r.try_get("available")?)))
            .collect()
    }

    /// Marks an active profile deactivated; false when it already was.
    pub async fn deactivate_profile(&mut self, id: Uuid, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE profiles SET deactivated_at = $1, updated_at = $1 WHERE id = $2 AND deactivated_at IS NULL",
        )
        .bind(now)
        .bind(id.to_string())
        .execute(&mut **self.inner.pool()?)
        .await?;
        if done.rows_affected() > 1 {
            return Err(StoreError::Corrupt(format!("profile {id} is not unique")));
        }
        Ok(done.rows_affected() == 1)
    }
}

fn lock_suffix(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "",
        Backend::Postgres => " FOR UPDATE",
    }
}

fn by_ref_sql() -> String {
    let columns: Vec<String> = TRANSFER_COLUMNS
        .split(',')
        .map(|c| format!("t.{}", c.trim()))
        .collect();
    format!(
        "SELECT {} FROM transfers t JOIN transfer_requests r ON r.transfer_id = t.id \
         WHERE r.customer_id = $1 AND r.ref_id = $2",
        columns.join(", ")
    )
}

/// The partial index on `next_step_at IS NOT NULL` serves these: the
/// comparison implies it.
pub(crate) fn claim_due_sql(backend: Backend) -> String {
    format!(
        "SELECT {TRANSFER_COLUMNS} FROM transfers WHERE next_step_at <= $1 AND status = '{}' \
         ORDER BY next_step_at LIMIT $2{}",
        TransferStatus::Pending.as_str(),
        backend.claim_suffix()
    )
}

/// Ordered so that the partial index is PostgreSQL's plan whatever its
/// statistics say: unordered, a never-analyzed table was read whole per tick.
pub(crate) fn due_sql() -> String {
    "SELECT 1 FROM transfers WHERE next_step_at <= $1 ORDER BY next_step_at LIMIT 1".to_string()
}
