//! What happened, for people to look at: one object's ledger entries,
//! events and deliveries (the dashboard's detail page), volume per day, and
//! sampled balance totals (its charts).

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
    /// Takes the sample at `at`, in one transaction: every customer's total
    /// available per asset, and the source units of conversions and
    /// orchestrations created since the sample before. False when it was
    /// taken already (by another replica).
    async fn take_sample(&self, at: i64) -> Result<bool>;
    /// When the newest sample was taken.
    async fn latest_sample(&self) -> Result<Option<i64>>;
    /// The customer's balance samples since `since`, oldest first, at most
    /// one per `every` (the newest in each), so a chart reads a few hundred.
    async fn balance_history(&self, customer: Uuid, since: i64, every: i64) -> Result<Series>;
    /// Sampled volume per UTC day (the day's start) and asset, from the
    /// samples taken after `since`.
    async fn daily_volume(&self, customer: Uuid, since: i64) -> Result<Series>;
}

#[async_trait]
impl HistoryStore for SqlStore {
    async fn trail(&self, customer: Uuid, ids: &[Uuid]) -> Result<Trail> {
        if ids.is_empty() {
            return Ok(Trail::default());
        }
        let entries = self.entries_of(customer, ids).await?;
        // The customer is compared as an expression, and there is no ORDER
        // BY, so no planner walks (or ANDs in) the customer's index of
        // every event instead of looking up these objects'.
        let mut q = Sql::new(&format!(
            "SELECT {} FROM events e WHERE e.customer_id || '' = ",
            event_columns()
        ));
        q.bind(customer).any_of("e.object_id", ids);
        let rows = q.query_on(self.sqlite()).fetch_all(&self.read).await?;
        let mut events = rows.iter().map(decode_event).collect::<Result<Vec<_>>>()?;
        events.sort_by_key(|e| (e.created_at, e.id));
        let deliveries = self.deliveries_of(customer, &events).await?;
        Ok(Trail {
            entries,
            events,
            deliveries,
        })
    }

    async fn take_sample(&self, at: i64) -> Result<bool> {
        let mut tx = self.begin().await?;
        let fresh = sqlx::query(
            "INSERT INTO samples (taken_at) VALUES ($1) ON CONFLICT (taken_at) DO NOTHING",
        )
        .bind(at)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !fresh {
            tx.commit().await?;
            return Ok(false);
        }
        let before: Option<i64> =
            sqlx::query_scalar("SELECT MAX(taken_at) FROM samples WHERE taken_at < $1")
                .bind(at)
                .fetch_one(&mut *tx)
                .await?;
        sqlx::query(
            "INSERT INTO balance_history (customer_id, asset, taken_at, available) \
             SELECT p.customer_id, b.asset, $1, CAST(SUM(b.available) AS BIGINT) \
             FROM balances b JOIN profiles p ON p.id = b.profile_id \
             GROUP BY p.customer_id, b.asset HAVING SUM(b.available) <> 0",
        )
        .bind(at)
        .execute(&mut *tx)
        .await?;
        let customers: Vec<String> = sqlx::query_scalar("SELECT id FROM customers")
            .fetch_all(&mut *tx)
            .await?;
        // Per customer, so each reads its own (customer_id, created_at) range.
        let created = |table: &str| {
            format!(
                "SELECT source_asset AS asset, source_units AS units FROM {table} \
                 WHERE customer_id = $1 AND created_at >= $2 AND created_at < $3"
            )
        };
        let volume = format!(
            "INSERT INTO volume_history (customer_id, asset, taken_at, units) \
             SELECT $1, v.asset, $3, CAST(SUM(v.units) AS BIGINT) FROM ({} UNION ALL {}) v \
             GROUP BY v.asset",
            created("conversions"),
            created("orchestrations")
        );
        for customer in customers {
            sqlx::query(&volume)
                .bind(customer)
                .bind(before.unwrap_or(0))
                .bind(at)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn latest_sample(&self) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT MAX(taken_at) FROM samples")
            .fetch_one(&self.read)
            .await?)
    }

    async fn balance_history(&self, customer: Uuid, since: i64, every: i64) -> Result<Series> {
        let rows = sqlx::query(
            "SELECT taken_at, asset, available FROM balance_history \
             WHERE customer_id = $1 AND taken_at IN (SELECT MAX(taken_at) FROM samples \
             WHERE taken_at >= $2 GROUP BY taken_at / $3) ORDER BY taken_at, asset",
        )
        .bind(customer.to_string())
        .bind(since)
        .bind(every.max(1))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                let at: i64 = r.try_get("taken_at")?;
                Ok((at, sql::asset(r, "asset")?, r.try_get("available")?))
            })
            .collect()
    }

    async fn daily_volume(&self, customer: Uuid, since: i64) -> Result<Series> {
        // A sample holds what was created before it: the day of its last
        // microsecond. Integer division is the same in both dialects.
        let rows = sqlx::query(&format!(
            "SELECT (taken_at - 1) / {DAY} AS day, asset, CAST(SUM(units) AS BIGINT) AS units \
             FROM volume_history WHERE customer_id = $1 AND taken_at > $2 GROUP BY 1, 2"
        ))
        .bind(customer.to_string())
        .bind(since)
        .fetch_all(&self.read)
        .await?;
        let mut series = rows
            .iter()
            .map(|r| {
                let day: i64 = r.try_get("day")?;
                Ok((day * DAY, sql::asset(r, "asset")?, r.try_get("units")?))
            })
            .collect::<Result<Series>>()?;
        series.sort();
        Ok(series)
    }
}

impl SqlStore {
    /// Entries, then their postings: two lookups by index, never a join a
    /// planner without statistics could turn into a scan of every posting.
    async fn entries_of(&self, customer: Uuid, ids: &[Uuid]) -> Result<Vec<LedgerEntry>> {
        let mut q = Sql::new(
            "SELECT id, kind, reference_id, created_at FROM journal_entries WHERE customer_id = ",
        );
        q.bind(customer).any_of("reference_id", ids);
        let rows = q.query_on(self.sqlite()).fetch_all(&self.read).await?;
        let mut entries = rows
            .iter()
            .map(|row| {
                Ok(LedgerEntry {
                    id: sql::uuid(row, "id")?,
                    kind: row.try_get("kind")?,
                    reference_id: sql::uuid(row, "reference_id")?,
                    created_at: row.try_get("created_at")?,
                    postings: Vec::new(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if entries.is_empty() {
            return Ok(entries);
        }
        entries.sort_by_key(|e| (e.created_at, e.id));
        // The entries are the customer's: so are their postings.
        let entry_ids: Vec<Uuid> = entries.iter().map(|e| e.id).collect();
        let mut q = Sql::new("SELECT entry_id, account, asset, amount FROM postings WHERE TRUE");
        q.any_of("entry_id", &entry_ids);
        for row in q.query_on(self.sqlite()).fetch_all(&self.read).await? {
            let entry = sql::uuid(&row, "entry_id")?;
            let line = LedgerLine {
                account: row.try_get("account")?,
                asset: sql::asset(&row, "asset")?,
                units: row.try_get("amount")?,
            };
            if let Some(e) = entries.iter_mut().find(|e| e.id == entry) {
                e.postings.push(line);
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
        let rows = q.query_on(self.sqlite()).fetch_all(&self.read).await?;
        rows.iter().map(decode_delivery).collect()
    }
}
