//! For operators: what the metrics endpoint reads at each scrape, and the
//! SQLite backup.

use async_trait::async_trait;
use sqlx::Row;
use stableport_domain::orchestration::OrchestrationStatus;
use stableport_domain::{Asset, ConversionStatus, DeliveryStatus};

use crate::sql;
use crate::{Backend, Result, SqlStore, StoreError};

/// Work that is due and not yet done: how much, and how late the oldest is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backlog {
    pub due: i64,
    /// Microseconds since the oldest due item was due (0 when none is).
    pub lag: i64,
}

/// What a scrape reports beside the counters the process keeps itself.
#[derive(Clone, Debug, Default)]
pub struct Gauges {
    pub settlements: Backlog,
    pub orchestration_steps: Backlog,
    pub deliveries: Backlog,
    /// Every customer's total available per asset, in the asset's units.
    pub totals: Vec<(Asset, i64)>,
    /// (pool, connections open, of them idle).
    pub pools: Vec<(&'static str, u32, usize)>,
}

#[async_trait]
pub trait OpsStore: Send + Sync {
    /// Backlogs at `now` (read through the partial "due" indexes), totals and pools.
    async fn gauges(&self, now: i64) -> Result<Gauges>;
    /// A consistent copy of the SQLite database at `path` (which must not
    /// exist), taken while the server runs; PostgreSQL has pg_dump.
    async fn backup_to(&self, path: &str) -> Result<()>;
}

#[async_trait]
impl OpsStore for SqlStore {
    async fn gauges(&self, now: i64) -> Result<Gauges> {
        let settlements = self
            .backlog(
                "conversions",
                "settle_after",
                ConversionStatus::Created.as_str(),
                now,
            )
            .await?;
        let orchestration_steps = self
            .backlog(
                "orchestrations",
                "next_step_at",
                OrchestrationStatus::Processing.as_str(),
                now,
            )
            .await?;
        let deliveries = self
            .backlog(
                "deliveries",
                "next_attempt_at",
                DeliveryStatus::Pending.as_str(),
                now,
            )
            .await?;
        let rows = sqlx::query(
            "SELECT asset, CAST(SUM(available) AS BIGINT) AS total FROM balances GROUP BY asset",
        )
        .fetch_all(&self.read)
        .await?;
        let totals = rows
            .iter()
            .map(|r| Ok((sql::asset(r, "asset")?, r.try_get("total")?)))
            .collect::<Result<Vec<_>>>()?;
        let pools = vec![
            ("write", self.write.size(), self.write.num_idle()),
            ("read", self.read.size(), self.read.num_idle()),
        ];
        Ok(Gauges {
            settlements,
            orchestration_steps,
            deliveries,
            totals,
            pools,
        })
    }

    async fn backup_to(&self, path: &str) -> Result<()> {
        if self.backend != Backend::Sqlite {
            return Err(StoreError::Conflict(
                "backup copies SQLite databases; use pg_dump for PostgreSQL".into(),
            ));
        }
        // VACUUM INTO writes a consistent snapshot (one read transaction)
        // while writers go on, compacted, to a file that must not exist.
        sqlx::query("VACUUM INTO $1")
            .bind(path)
            .execute(&self.read)
            .await?;
        Ok(())
    }
}

impl SqlStore {
    async fn backlog(&self, table: &str, due_at: &str, status: &str, now: i64) -> Result<Backlog> {
        let row = sqlx::query(&format!(
            "SELECT COUNT(*) AS due, MIN({due_at}) AS oldest FROM {table} \
             WHERE status = '{status}' AND {due_at} <= $1"
        ))
        .bind(now)
        .fetch_one(&self.read)
        .await?;
        let oldest: Option<i64> = row.try_get("oldest")?;
        Ok(Backlog {
            due: row.try_get("due")?,
            lag: oldest.map_or(0, |at| (now - at).max(0)),
        })
    }
}
