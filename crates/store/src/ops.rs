//! For operators: what the metrics endpoint reads at each scrape, retention
//! of events, deliveries and attempts, and the SQLite backup.

use std::sync::LazyLock;

use async_trait::async_trait;
use sqlx::Row;
use stableport_domain::orchestration::OrchestrationStatus;
use stableport_domain::{Asset, ConversionStatus, DeliveryStatus};

use crate::sql;
use crate::{Backend, Result, SqlStore, StoreError};

const PENDING: &str = DeliveryStatus::Pending.as_str();

static PRUNE_ATTEMPTS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "DELETE FROM delivery_attempts WHERE id IN (SELECT a.id FROM delivery_attempts a \
         WHERE a.webhook_id = $1 AND a.created_at < $2 AND NOT EXISTS (SELECT 1 FROM deliveries d \
         WHERE d.webhook_id = a.webhook_id AND d.event_id = a.event_id AND d.status = '{PENDING}') \
         LIMIT $3)"
    )
});

static PRUNE_DELIVERIES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "DELETE FROM deliveries WHERE webhook_id = $1 AND event_id IN (SELECT event_id \
         FROM deliveries WHERE webhook_id = $1 AND created_at < $2 AND status <> '{PENDING}' LIMIT $3)"
    )
});

static PRUNE_EVENTS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "DELETE FROM events WHERE id IN (SELECT e.id FROM events e WHERE e.customer_id = $1 \
         AND e.created_at < $2 AND NOT EXISTS (SELECT 1 FROM deliveries d \
         WHERE d.event_id = e.id AND d.status = '{PENDING}') LIMIT $3)"
    )
});

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

/// Rows created before these times may go (None: kept forever).
#[derive(Clone, Copy, Debug, Default)]
pub struct Cutoffs {
    pub events: Option<i64>,
    pub deliveries: Option<i64>,
    pub attempts: Option<i64>,
}

/// Rows deleted by one pass of [`OpsStore::prune`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub events: u64,
    pub deliveries: u64,
    pub attempts: u64,
}

#[async_trait]
pub trait OpsStore: Send + Sync {
    /// Deletes rows older than their cutoff, at most `batch` per webhook or
    /// customer and kind, each batch its own short statement, and never
    /// what is pending: a PENDING delivery, its attempts, its event.
    async fn prune(&self, cutoffs: &Cutoffs, batch: i64) -> Result<Pruned>;
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

    async fn prune(&self, cut: &Cutoffs, batch: i64) -> Result<Pruned> {
        let mut pruned = Pruned::default();
        // Per webhook: (webhook_id, created_at) leads both tables' indexes.
        for webhook in self.ids_of("webhooks").await? {
            if let Some(cutoff) = cut.attempts {
                pruned.attempts += self
                    .delete(&PRUNE_ATTEMPTS, &webhook, cutoff, batch)
                    .await?;
            }
            if let Some(cutoff) = cut.deliveries {
                pruned.deliveries += self
                    .delete(&PRUNE_DELIVERIES, &webhook, cutoff, batch)
                    .await?;
            }
        }
        // Per customer: (customer_id, created_at) leads the events' index.
        if let Some(cutoff) = cut.events {
            for customer in self.ids_of("customers").await? {
                pruned.events += self.delete(&PRUNE_EVENTS, &customer, cutoff, batch).await?;
            }
        }
        Ok(pruned)
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
    /// Ids of a table, to prune it one owner at a time through its indexes.
    async fn ids_of(&self, table: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(&format!("SELECT id FROM {table}"))
            .fetch_all(&self.read)
            .await?)
    }

    async fn delete(&self, statement: &str, owner: &str, cutoff: i64, batch: i64) -> Result<u64> {
        let done = sqlx::query(statement)
            .bind(owner)
            .bind(cutoff)
            .bind(batch)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected())
    }

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
