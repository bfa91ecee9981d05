//! What happened, for people to look at: one object's ledger entries,
//! events and deliveries (the dashboard's detail page), volume per day, and
//! sampled balance totals (its charts).

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::Row;
use stableport_domain::Asset;
use uuid::Uuid;

use crate::events::{decode_delivery, decode_event, event_columns, DELIVERY_COLUMNS};
use crate::sql::{self, Sql};
use crate::{Delivery, Event, Result, SqlStore};

/// A journal entry with its postings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerEntry {
    pub id: Uuid,
    pub kind: String,
    pub reference_id: Uuid,
    pub created_at: i64,
    pub postings: Vec<LedgerLine>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerLine {
    /// The account's key, e.g. `profile:<id>` or `system:issuance`.
    pub account: String,
    pub asset: Asset,
    /// Signed: negative leaves the account.
    pub units: i64,
}

/// Everything recorded about some objects, oldest first.
#[derive(Clone, Debug, Default)]
pub struct Trail {
    pub entries: Vec<LedgerEntry>,
    pub events: Vec<Event>,
    pub deliveries: Vec<Delivery>,
}

/// An amount at a time (a day's start, or a sample), per asset.
pub type Series = Vec<(i64, Asset, i64)>;

/// A day in the store's clock (microseconds).
pub const DAY: i64 = 86_400_000_000;

#[async_trait]
pub trait HistoryStore: Send + Sync {
    /// The journal entries, events and deliveries of the customer's objects
    /// `ids` (another customer's show nothing).
    async fn trail(&self, customer: Uuid, ids: &[Uuid]) -> Result<Trail>;
    /// Source units of the customer's conversions and orchestrations created
    /// since `since`, summed per UTC day (the day's start) and asset.
    async fn daily_volume(&self, customer: Uuid, since: i64) -> Result<Series>;
    /// Samples every customer's total available per asset at `at`; a replica
    /// sampling the same `at` adds nothing; a zero total is not written
    /// (the chart reads it as zero). The number of rows written.
    async fn snapshot_balances(&self, at: i64) -> Result<u64>;
    /// When the newest sample was taken.
    async fn latest_snapshot(&self) -> Result<Option<i64>>;
    /// The customer's samples since `since`, oldest first.
    async fn balance_history(&self, customer: Uuid, since: i64) -> Result<Series>;
}

#[async_trait]
impl HistoryStore for SqlStore {
    async fn trail(&self, customer: Uuid, ids: &[Uuid]) -> Result<Trail> {
        if ids.is_empty() {
            return Ok(Trail::default());
        }
        let entries = self.entries_of(customer, ids).await?;
        let mut q = Sql::new(&format!(
            "SELECT {} FROM events e WHERE e.customer_id = ",
            event_columns()
        ));
        q.bind(customer).any_of("e.object_id", ids);
        q.push(" ORDER BY e.created_at, e.id");
        let rows = q.query().fetch_all(&self.read).await?;
        let events = rows.iter().map(decode_event).collect::<Result<Vec<_>>>()?;
        let deliveries = self.deliveries_of(customer, &events).await?;
        Ok(Trail {
            entries,
            events,
            deliveries,
        })
    }

    async fn daily_volume(&self, customer: Uuid, since: i64) -> Result<Series> {
        // Integer division by a day: the same in both dialects for BIGINT.
        let per_day = |table: &str| {
            format!(
                "SELECT created_at / {DAY} AS day, source_asset AS asset, \
                 CAST(SUM(source_units) AS BIGINT) AS units FROM {table} \
                 WHERE customer_id = $1 AND created_at >= $2 GROUP BY 1, 2"
            )
        };
        let text = format!(
            "{} UNION ALL {}",
            per_day("conversions"),
            per_day("orchestrations")
        );
        let rows = sqlx::query(&text)
            .bind(customer.to_string())
            .bind(since)
            .fetch_all(&self.read)
            .await?;
        let mut sums: HashMap<(i64, Asset), i64> = HashMap::new();
        for row in &rows {
            let day: i64 = row.try_get("day")?;
            let units: i64 = row.try_get("units")?;
            let slot = sums
                .entry((day * DAY, sql::asset(row, "asset")?))
                .or_default();
            *slot = slot.saturating_add(units);
        }
        let mut series: Series = sums.into_iter().map(|((d, a), u)| (d, a, u)).collect();
        series.sort();
        Ok(series)
    }

    async fn snapshot_balances(&self, at: i64) -> Result<u64> {
        let done = sqlx::query(
            "INSERT INTO balance_history (customer_id, asset, taken_at, available) \
             SELECT p.customer_id, b.asset, $1, CAST(SUM(b.available) AS BIGINT) \
             FROM balances b JOIN profiles p ON p.id = b.profile_id \
             WHERE TRUE GROUP BY p.customer_id, b.asset HAVING SUM(b.available) <> 0 \
             ON CONFLICT (customer_id, taken_at, asset) DO NOTHING",
        )
        .bind(at)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected())
    }

    async fn latest_snapshot(&self) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT MAX(taken_at) AS at FROM balance_history")
            .fetch_one(&self.read)
            .await?;
        Ok(row.try_get("at")?)
    }

    async fn balance_history(&self, customer: Uuid, since: i64) -> Result<Series> {
        let rows = sqlx::query(
            "SELECT taken_at, asset, available FROM balance_history \
             WHERE customer_id = $1 AND taken_at >= $2 ORDER BY taken_at, asset",
        )
        .bind(customer.to_string())
        .bind(since)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                let at: i64 = r.try_get("taken_at")?;
                Ok((at, sql::asset(r, "asset")?, r.try_get("available")?))
            })
            .collect()
    }
}

impl SqlStore {
    async fn entries_of(&self, customer: Uuid, ids: &[Uuid]) -> Result<Vec<LedgerEntry>> {
        let mut q = Sql::new(
            "SELECT j.id, j.kind, j.reference_id, j.created_at, p.account, p.asset, p.amount \
             FROM journal_entries j JOIN postings p ON p.entry_id = j.id WHERE j.customer_id = ",
        );
        q.bind(customer).any_of("j.reference_id", ids);
        q.push(" ORDER BY j.created_at, j.id");
        let rows = q.query().fetch_all(&self.read).await?;
        let mut entries: Vec<LedgerEntry> = Vec::new();
        for row in &rows {
            let id = sql::uuid(row, "id")?;
            let line = LedgerLine {
                account: row.try_get("account")?,
                asset: sql::asset(row, "asset")?,
                units: row.try_get("amount")?,
            };
            match entries.last_mut() {
                Some(last) if last.id == id => last.postings.push(line),
                _ => entries.push(LedgerEntry {
                    id,
                    kind: row.try_get("kind")?,
                    reference_id: sql::uuid(row, "reference_id")?,
                    created_at: row.try_get("created_at")?,
                    postings: vec![line],
                }),
            }
        }
        Ok(entries)
    }

    async fn deliveries_of(&self, customer: Uuid, events: &[Event]) -> Result<Vec<Delivery>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
        let mut q = Sql::new(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries d JOIN events e ON e.id = d.event_id \
             WHERE d.customer_id = "
        ));
        q.bind(customer).any_of("d.event_id", &ids);
        q.push(" ORDER BY d.created_at, d.webhook_id");
        let rows = q.query().fetch_all(&self.read).await?;
        rows.iter().map(decode_delivery).collect()
    }
}
