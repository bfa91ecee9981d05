//! Transfer limits set per customer, and what the transfers they cover
//! have used of them.

use async_trait::async_trait;
use sqlx::Row;
use stableport_domain::{Asset, TransferKind, TransferStatus};
use uuid::Uuid;

use crate::sql::{self, Sql};
use crate::{Backend, Result, SqlStore, StoreError, Tx};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limit {
    pub id: Uuid,
    pub customer_id: Uuid,
    /// Sorted by wire name, as the spec lists them.
    pub transfer_types: Vec<TransferKind>,
    /// 0: each transfer alone.
    pub period_seconds: i64,
    pub limit_cents: i64,
    pub created_at: i64,
}

#[async_trait]
pub trait LimitStore: Send + Sync {
    async fn insert_limit(&self, limit: &Limit) -> Result<()>;
    async fn limits(&self, customer: Uuid) -> Result<Vec<Limit>>;
    /// False when the customer has no such limit.
    async fn delete_limit(&self, customer: Uuid, id: Uuid) -> Result<bool>;
    /// What the customer's transfers of these types created since `since`
    /// (failed ones excepted) moved, per asset, fees included.
    async fn spent(
        &self,
        customer: Uuid,
        types: &[TransferKind],
        since: i64,
    ) -> Result<Vec<(Asset, i64)>>;
}

const COLUMNS: &str = "id, customer_id, transfer_types, period_seconds, limit_cents, created_at";

fn decode(row: &sqlx::any::AnyRow) -> Result<Limit> {
    let types: String = row.try_get("transfer_types")?;
    let transfer_types = types
        .split(',')
        .map(|t| {
            TransferKind::parse(t)
                .ok_or_else(|| StoreError::Corrupt(format!("transfer type {t:?}")))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Limit {
        id: sql::uuid(row, "id")?,
        customer_id: sql::uuid(row, "customer_id")?,
        transfer_types,
        period_seconds: row.try_get("period_seconds")?,
        limit_cents: row.try_get("limit_cents")?,
        created_at: row.try_get("created_at")?,
    })
}

fn spent_sql(customer: Uuid, types: &[TransferKind], since: i64) -> Sql {
    let mut q = Sql::new("SELECT asset, CAST(SUM(units + fee_units) AS BIGINT) AS used FROM transfers WHERE customer_id = ");
    let names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
    q.bind(customer)
        .push(" AND created_at >= ")
        .bind(since)
        .push(" AND status <> ")
        .bind(TransferStatus::Failed.as_str())
        .any_of("type", &names)
        .push(" GROUP BY asset");
    q
}

fn decode_spent(rows: &[sqlx::any::AnyRow]) -> Result<Vec<(Asset, i64)>> {
    rows.iter()
        .map(|r| Ok((sql::asset(r, "asset")?, r.try_get("used")?)))
        .collect()
}

#[async_trait]
impl LimitStore for SqlStore {
    async fn insert_limit(&self, l: &Limit) -> Result<()> {
        let types: Vec<&str> = l.transfer_types.iter().map(|t| t.as_str()).collect();
        sqlx::query(&format!(
            "INSERT INTO transfer_limits ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(l.id.to_string())
        .bind(l.customer_id.to_string())
        .bind(types.join(","))
        .bind(l.period_seconds)
        .bind(l.limit_cents)
        .bind(l.created_at)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn limits(&self, customer: Uuid) -> Result<Vec<Limit>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM transfer_limits WHERE customer_id = $1 ORDER BY created_at, id"
        ))
        .bind(customer.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(decode).collect()
    }

    async fn delete_limit(&self, customer: Uuid, id: Uuid) -> Result<bool> {
        let done = sqlx::query("DELETE FROM transfer_limits WHERE customer_id = $1 AND id = $2")
            .bind(customer.to_string())
            .bind(id.to_string())
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn spent(
        &self,
        customer: Uuid,
        types: &[TransferKind],
        since: i64,
    ) -> Result<Vec<(Asset, i64)>> {
        let q = spent_sql(customer, types, since);
        decode_spent(&q.query_on(self.sqlite()).fetch_all(&self.read).await?)
    }
}

impl Tx {
    /// The customer's limits, locked: transfers they cover queue here, so
    /// two cannot both fit under what only one fits under.
    pub async fn lock_limits(&mut self, customer: Uuid) -> Result<Vec<Limit>> {
        let lock = match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        };
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM transfer_limits WHERE customer_id = $1 ORDER BY id{lock}"
        ))
        .bind(customer.to_string())
        .fetch_all(&mut **self.inner.pool()?)
        .await?;
        rows.iter().map(decode).collect()
    }

    /// As [`LimitStore::spent`], inside this transaction.
    pub async fn spent(
        &mut self,
        customer: Uuid,
        types: &[TransferKind],
        since: i64,
    ) -> Result<Vec<(Asset, i64)>> {
        let q = spent_sql(customer, types, since);
        let rows = q
            .query_on(self.sqlite())
            .fetch_all(&mut **self.inner.pool()?)
            .await?;
        decode_spent(&rows)
    }
}
