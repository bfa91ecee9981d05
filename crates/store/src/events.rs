//! Events (the outbox, as the Events API shows it), webhooks, and the
//! deliveries that carry one to the other.
//!
//! Every event is written by [`crate::batch::LedgerRows`] in the transaction
//! of the change it reports, and that same transaction writes one PENDING
//! delivery per active webhook subscribed to the event's type (a single
//! `INSERT … SELECT` over `webhook_subscriptions`). Nothing is announced that
//! did not commit, and nothing that committed goes unannounced.
//!
//! Delivery workers on any number of replicas claim due deliveries
//! (`stableport_core::deliveries::claim`): the claim pushes `next_attempt_at`
//! past the send (a lease) and stamps a claim token, in one transaction that
//! skips rows other replicas hold (`FOR UPDATE SKIP LOCKED` on PostgreSQL;
//! SQLite has one writer). So when nothing fails each delivery is sent once;
//! when a worker dies mid-send, its lease lapses and another worker sends
//! again (at least once). The same transaction takes each webhook's next send
//! slots from `webhooks.rate_tat`, spaced 1/rate apart, which holds the rate
//! limit across replicas.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use serde_json::{json, Value};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};
use stableport_domain::{DeliveryStatus, WebhookStatus};
use uuid::Uuid;

use crate::model::{Order, Page, TimeRange};
use crate::sealed::Sealer;
use crate::sql::{self, Sql, Val};
use crate::{Backend, Result, SqlStore, StoreError, Tx};

/// At most this many ACTIVE webhooks per customer.
pub const MAX_ACTIVE_WEBHOOKS: i64 = 10;

/// Every event type Stableport emits. The orchestration and transfer types
/// are Paxos's; the conversion ones are ours (the legacy API has none).
pub const EVENT_TYPES: &[&str] = &[
    "orchestration.processing",
    "orchestration.completed",
    "orchestration.failed",
    "transfer.crypto_deposit.pending",
    "transfer.crypto_deposit.completed",
    "transfer.crypto_deposit.failed",
    "transfer.crypto_withdrawal.pending",
    "transfer.crypto_withdrawal.completed",
    "transfer.crypto_withdrawal.failed",
    "transfer.wire_deposit.pending",
    "transfer.wire_deposit.completed",
    "transfer.wire_deposit.failed",
    "transfer.wire_withdrawal.pending",
    "transfer.wire_withdrawal.completed",
    "transfer.wire_withdrawal.failed",
    "transfer.cubix_deposit.pending",
    "transfer.cubix_deposit.completed",
    "transfer.cubix_deposit.failed",
    "transfer.cubix_withdrawal.pending",
    "transfer.cubix_withdrawal.completed",
    "transfer.cubix_withdrawal.failed",
    "conversion.created",
    "conversion.settled",
    "conversion.cancelled",
    "approval.requested",
    "approval.approved",
    "approval.rejected",
    "approval.cancelled",
];

/// The `object_type` the Events API shows for an event type.
pub fn object_type(kind: &str) -> &'static str {
    match kind.split('.').next() {
        Some("orchestration") => "orchestration_status_change",
        Some("transfer") => "transfer_status_change",
        Some("conversion") => "conversion_status_change",
        Some("approval") => "approval_status_change",
        _ => "unknown",
    }
}

#[derive(Clone, Debug)]
pub struct Event {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub kind: String,
    pub object_id: Uuid,
    /// The event's object as JSON text.
    pub payload: String,
    pub created_at: i64,
    pub is_test: bool,
    /// Deliveries still PENDING or given up (FAILED).
    pub undelivered_webhooks: i64,
}

#[derive(Clone, Debug)]
pub struct EventFilter {
    pub types: Vec<String>,
    pub created_at: TimeRange,
    pub is_test: bool,
    pub page: Page,
}

/// How a webhook's consumer wants to be authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsumerAuth {
    None,
    /// A header sent with every delivery.
    ApiKey {
        header_name: String,
        value: String,
    },
    /// OAuth2 client credentials: a bearer token from `token_url`.
    OAuth {
        token_url: String,
        client_id: String,
        client_secret: String,
        scope: Option<String>,
    },
}

impl ConsumerAuth {
    fn to_stored(&self) -> Option<String> {
        match self {
            ConsumerAuth::None => None,
            ConsumerAuth::ApiKey { header_name, value } => Some(
                json!({ "api_key": { "header_name": header_name, "value": value } }).to_string(),
            ),
            ConsumerAuth::OAuth {
                token_url,
                client_id,
                client_secret,
                scope,
            } => Some(
                json!({ "oauth": { "token_url": token_url, "client_id": client_id,
                        "client_secret": client_secret, "scope": scope } })
                .to_string(),
            ),
        }
    }

    fn from_stored(text: Option<String>) -> Result<ConsumerAuth> {
        let Some(text) = text else {
            return Ok(ConsumerAuth::None);
        };
        let corrupt = || StoreError::Corrupt(format!("webhook auth {text:?}"));
        let value: Value = serde_json::from_str(&text).map_err(|_| corrupt())?;
        let field = |v: &Value, k: &str| v[k].as_str().map(str::to_string).ok_or_else(corrupt);
        if let Some(key) = value.get("api_key") {
            return Ok(ConsumerAuth::ApiKey {
                header_name: field(key, "header_name")?,
                value: field(key, "value")?,
            });
        }
        if let Some(o) = value.get("oauth") {
            return Ok(ConsumerAuth::OAuth {
                token_url: field(o, "token_url")?,
                client_id: field(o, "client_id")?,
                client_secret: field(o, "client_secret")?,
                scope: o["scope"].as_str().map(str::to_string),
            });
        }
        Err(corrupt())
    }
}

#[derive(Clone, Debug)]
pub struct Webhook {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub name: String,
    pub url: String,
    pub event_types: Vec<String>,
    pub auth: ConsumerAuth,
    /// Requests per second, 1..=100.
    pub rate_limit: i64,
    /// Signs every delivery (HMAC-SHA256).
    pub secret: String,
    pub status: WebhookStatus,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct WebhookFilter {
    /// Empty: ACTIVE and PENDING.
    pub statuses: Vec<String>,
    pub page: Page,
}

#[derive(Clone, Debug)]
pub struct Delivery {
    pub webhook_id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    /// FAILED: gave up; CANCELLED: the webhook was deleted.
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub delivered_at: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct DeliveryFilter {
    pub statuses: Vec<String>,
    pub event_id: Option<Uuid>,
    pub page: Page,
}

#[derive(Clone, Debug)]
pub struct DeliveryAttempt {
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub event_id: Uuid,
    /// 1 for the first attempt of this delivery.
    pub attempt: i64,
    pub status_code: Option<i64>,
    pub latency_micros: i64,
    pub error: Option<String>,
    pub created_at: i64,
}

#[derive(Clone, Debug)]
pub struct AttemptFilter {
    pub event_id: Option<Uuid>,
    pub page: Page,
}

/// What a delivery worker asks for. Times are microseconds.
#[derive(Clone, Debug)]
pub struct Claim {
    pub now: i64,
    pub limit: i64,
    /// Claim only sends that the rate limit lets start before now + horizon.
    pub horizon: i64,
    /// How long after its send slot a claim holds (the HTTP timeout and a
    /// margin); past that, another worker may send it again.
    pub lease: i64,
}

/// One delivery a worker now holds.
#[derive(Clone, Debug)]
pub struct ClaimedDelivery {
    pub webhook: Webhook,
    pub event_id: Uuid,
    pub event_type: String,
    pub event_created_at: i64,
    pub is_test: bool,
    /// The number of this attempt, from 1.
    pub attempt: i64,
    /// Start of the retry window (max age).
    pub retry_from: i64,
    /// Not before this time: the webhook's rate limit slot.
    pub send_at: i64,
    pub token: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextStep {
    Delivered,
    RetryAt(i64),
    GiveUp,
}

/// The outcome of one HTTP attempt.
#[derive(Clone, Debug)]
pub struct AttemptResult {
    pub webhook_id: Uuid,
    pub event_id: Uuid,
    pub customer_id: Uuid,
    pub token: String,
    pub attempt: i64,
    /// When the request started.
    pub at: i64,
    pub status_code: Option<i64>,
    pub latency_micros: i64,
    pub error: Option<String>,
    pub next: NextStep,
}

#[async_trait]
pub trait EventStore: Send + Sync {
    async fn event(&self, customer: Uuid, id: Uuid) -> Result<Option<Event>>;
    async fn list_events(&self, customer: Uuid, filter: &EventFilter) -> Result<Vec<Event>>;

    async fn webhook(&self, customer: Uuid, id: Uuid) -> Result<Option<Webhook>>;
    async fn list_webhooks(&self, customer: Uuid, filter: &WebhookFilter) -> Result<Vec<Webhook>>;
    /// Writes a test event (`is_test`) and a delivery of it to this webhook only.
    async fn create_test_event(
        &self,
        customer: Uuid,
        webhook: Uuid,
        kind: &str,
        object: &str,
        now: i64,
    ) -> Result<Event>;
    async fn list_deliveries(
        &self,
        customer: Uuid,
        webhook: Uuid,
        filter: &DeliveryFilter,
    ) -> Result<Vec<Delivery>>;
    async fn list_attempts(
        &self,
        customer: Uuid,
        webhook: Uuid,
        filter: &AttemptFilter,
    ) -> Result<Vec<DeliveryAttempt>>;
    /// Sends one of the customer's events (again) to this webhook, with a
    /// fresh retry window. Conflict while a delivery of it is PENDING.
    async fn redeliver(
        &self,
        customer: Uuid,
        webhook: Uuid,
        event: Uuid,
        now: i64,
    ) -> Result<Delivery>;

    /// Whether any PENDING delivery is due, read without a lock.
    async fn deliveries_due(&self, now: i64) -> Result<bool>;
    /// Records attempts and moves their deliveries on (only where the claim
    /// is still the worker's own).
    async fn record_attempts(&self, results: &[AttemptResult]) -> Result<()>;
}

pub(crate) fn event_columns() -> String {
    format!(
        "e.id, e.customer_id, e.type, e.object_id, e.payload, e.created_at, e.is_test, \
         (SELECT COUNT(*) FROM deliveries d WHERE d.event_id = e.id AND d.status IN ('{PENDING}', '{FAILED}')) AS undelivered"
    )
}

const WEBHOOK_COLUMNS: &str =
    "id, customer_id, name, url, event_types, auth, rate_limit, secret, status, \
     created_at, updated_at, deleted_at";

pub(crate) const DELIVERY_COLUMNS: &str = "d.webhook_id, d.event_id, e.type AS event_type, d.status, d.attempts, \
     d.next_attempt_at, d.last_status_code, d.last_error, d.created_at, d.updated_at, d.delivered_at";

/// A status column read back into its enum.
fn known_status<T>(row: &AnyRow, parse: fn(&str) -> Option<T>) -> Result<T> {
    let value: String = row.try_get("status")?;
    parse(&value).ok_or_else(|| StoreError::Corrupt(format!("status {value:?} is not known")))
}

pub(crate) fn decode_event(row: &AnyRow) -> Result<Event> {
    Ok(Event {
        id: sql::uuid(row, "id")?,
        customer_id: sql::uuid(row, "customer_id")?,
        kind: row.try_get("type")?,
        object_id: sql::uuid(row, "object_id")?,
        payload: row.try_get("payload")?,
        created_at: row.try_get("created_at")?,
        is_test: row.try_get::<i64, _>("is_test")? != 0,
        undelivered_webhooks: row.try_get("undelivered")?,
    })
}

/// A webhook row, its secret and consumer credentials opened.
fn decode_webhook(row: &AnyRow, sealer: &Sealer) -> Result<Webhook> {
    let types: String = row.try_get("event_types")?;
    let id = sql::uuid(row, "id")?;
    let auth: Option<String> = row.try_get("auth")?;
    let auth = auth
        .map(|a| sealer.open(&a, &auth_context(id)))
        .transpose()?;
    let secret: String = row.try_get("secret")?;
    Ok(Webhook {
        id,
        customer_id: sql::uuid(row, "customer_id")?,
        name: row.try_get("name")?,
        url: row.try_get("url")?,
        event_types: types.split_whitespace().map(str::to_string).collect(),
        auth: ConsumerAuth::from_stored(auth)?,
        rate_limit: row.try_get("rate_limit")?,
        secret: sealer.open(&secret, &secret_context(id))?,
        status: known_status(row, WebhookStatus::parse)?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        deleted_at: row.try_get("deleted_at")?,
    })
}

/// What a webhook's sealed values are bound to.
pub(crate) fn secret_context(id: Uuid) -> String {
    format!("webhooks.secret/{id}")
}

pub(crate) fn auth_context(id: Uuid) -> String {
    format!("webhooks.auth/{id}")
}

pub(crate) fn decode_delivery(row: &AnyRow) -> Result<Delivery> {
    Ok(Delivery {
        webhook_id: sql::uuid(row, "webhook_id")?,
        event_id: sql::uuid(row, "event_id")?,
        event_type: row.try_get("event_type")?,
        status: known_status(row, DeliveryStatus::parse)?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        last_status_code: row.try_get("last_status_code")?,
        last_error: row.try_get("last_error")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        delivered_at: row.try_get("delivered_at")?,
    })
}

fn decode_attempt(row: &AnyRow) -> Result<DeliveryAttempt> {
    Ok(DeliveryAttempt {
        id: sql::uuid(row, "id")?,
        webhook_id: sql::uuid(row, "webhook_id")?,
        event_id: sql::uuid(row, "event_id")?,
        attempt: row.try_get("attempt")?,
        status_code: row.try_get("status_code")?,
        latency_micros: row.try_get("latency_micros")?,
        error: row.try_get("error")?,
        created_at: row.try_get("created_at")?,
    })
}

/// Keyset pagination on (time, id) for tables whose columns are named otherwise.
fn page_on(q: &mut Sql, page: &Page, time: &str, id: &str) {
    let (cmp, dir) = match page.order {
        Order::Asc => (">", "ASC"),
        Order::Desc => ("<", "DESC"),
    };
    if let Some((at, after)) = &page.after {
        q.push(&format!(" AND ({time}, {id}) {cmp} ("))
            .bind(*at)
            .push(", ")
            .bind(after.as_str())
            .push(")");
    }
    q.push(&format!(" ORDER BY {time} {dir}, {id} {dir} LIMIT "))
        .bind(page.limit);
}

/// ` IN ($a, $b, …)` over `values`, which must not be empty.
fn push_in(q: &mut Sql, values: impl IntoIterator<Item = Val>) {
    q.push(" IN (");
    for (i, v) in values.into_iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind(v);
    }
    q.push(")");
}

/// Row locks for read-modify-write on PostgreSQL; SQLite's write
/// transaction already excludes every other writer.
fn lock_suffix(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "",
        Backend::Postgres => " FOR UPDATE",
    }
}

impl SqlStore {
    async fn delivery_in(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        webhook: Uuid,
        event: Uuid,
    ) -> Result<Delivery> {
        let row = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries d JOIN events e ON e.id = d.event_id \
             WHERE d.webhook_id = $1 AND d.event_id = $2"
        ))
        .bind(webhook.to_string())
        .bind(event.to_string())
        .fetch_one(&mut **tx)
        .await?;
        decode_delivery(&row)
    }
}

#[async_trait]
impl EventStore for SqlStore {
    async fn event(&self, customer: Uuid, id: Uuid) -> Result<Option<Event>> {
        let row = sqlx::query(&format!(
            "SELECT {} FROM events e WHERE e.customer_id = $1 AND e.id = $2",
            event_columns()
        ))
        .bind(customer.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(decode_event).transpose()
    }

    async fn list_events(&self, customer: Uuid, f: &EventFilter) -> Result<Vec<Event>> {
        let mut q = Sql::new(&format!(
            "SELECT {} FROM events e WHERE e.customer_id = ",
            event_columns()
        ));
        q.bind(customer)
            .push(" AND e.is_test = ")
            .bind(i64::from(f.is_test))
            .any_of("e.type", &f.types)
            .time_range("e.created_at", &f.created_at);
        page_on(&mut q, &f.page, "e.created_at", "e.id");
        let rows = q.query_on(self.sqlite()).fetch_all(&self.read).await?;
        rows.iter().map(decode_event).collect()
    }

    async fn webhook(&self, customer: Uuid, id: Uuid) -> Result<Option<Webhook>> {
        let row = sqlx::query(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE customer_id = $1 AND id = $2"
        ))
        .bind(customer.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref()
            .map(|r| decode_webhook(r, &self.sealer))
            .transpose()
    }

    async fn list_webhooks(&self, customer: Uuid, f: &WebhookFilter) -> Result<Vec<Webhook>> {
        let mut q = Sql::new(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE customer_id = "
        ));
        q.bind(customer);
        if f.statuses.is_empty() {
            let pending = WebhookStatus::Pending.as_str();
            q.push(&format!(" AND status IN ('{ACTIVE}', '{pending}')"));
        } else {
            q.any_of("status", &f.statuses);
        }
        q.page(&f.page);
        let rows = q.query_on(self.sqlite()).fetch_all(&self.read).await?;
        rows.iter()
            .map(|r| decode_webhook(r, &self.sealer))
            .collect()
    }

    async fn create_test_event(
        &self,
        customer: Uuid,
        webhook: Uuid,
        kind: &str,
        object: &str,
        now: i64,
    ) -> Result<Event> {
        let mut tx = self.begin().await?;
        let active: Option<String> = sqlx::query_scalar(&format!(
            "SELECT id FROM webhooks WHERE customer_id = $1 AND id = $2 AND status = '{ACTIVE}'",
        ))
        .bind(customer.to_string())
        .bind(webhook.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        if active.is_none() {
            return Err(StoreError::NotFound);
        }
        let id = Uuid::new_v4();
        sqlx::query(
            "INSERT INTO events (id, customer_id, type, object_id, payload, created_at, is_test) \
             VALUES ($1, $2, $3, $4, $5, $6, 1)",
        )
        .bind(id.to_string())
        .bind(customer.to_string())
        .bind(kind)
        .bind(
            serde_json::from_str::<Value>(object)
                .ok()
                .and_then(|o| o["id"].as_str().map(str::to_string))
                .unwrap_or_else(|| Uuid::nil().to_string()),
        )
        .bind(object)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            &format!("INSERT INTO deliveries (webhook_id, event_id, customer_id, status, attempts, next_attempt_at, \
             retry_from, created_at, updated_at) VALUES ($1, $2, $3, '{PENDING}', 0, $4, $4, $4, $4)",
        ))
        .bind(webhook.to_string())
        .bind(id.to_string())
        .bind(customer.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(&format!(
            "SELECT {} FROM events e WHERE e.id = $1",
            event_columns()
        ))
        .bind(id.to_string())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        decode_event(&row)
    }

    async fn list_deliveries(
        &self,
        customer: Uuid,
        webhook: Uuid,
        f: &DeliveryFilter,
    ) -> Result<Vec<Delivery>> {
        let mut q = Sql::new(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries d JOIN events e ON e.id = d.event_id \
             WHERE d.customer_id = "
        ));
        q.bind(customer)
            .push(" AND d.webhook_id = ")
            .bind(webhook)
            .any_of("d.status", &f.statuses);
        if let Some(event) = f.event_id {
            q.push(" AND d.event_id = ").bind(event);
        }
        page_on(&mut q, &f.page, "d.created_at", "d.event_id");
        let rows = q.query_on(self.sqlite()).fetch_all(&self.read).await?;
        rows.iter().map(decode_delivery).collect()
    }

    async fn list_attempts(
        &self,
        customer: Uuid,
        webhook: Uuid,
        f: &AttemptFilter,
    ) -> Result<Vec<DeliveryAttempt>> {
        let mut q = Sql::new(
            "SELECT id, webhook_id, event_id, attempt, status_code, latency_micros, error, created_at \
             FROM delivery_attempts WHERE customer_id = ",
        );
        q.bind(customer).push(" AND webhook_id = ").bind(webhook);
        if let Some(event) = f.event_id {
            q.push(" AND event_id = ").bind(event);
        }
        q.page(&f.page);
        let rows = q.query_on(self.sqlite()).fetch_all(&self.read).await?;
        rows.iter().map(decode_attempt).collect()
    }

    async fn redeliver(
        &self,
        customer: Uuid,
        webhook: Uuid,
        event: Uuid,
        now: i64,
    ) -> Result<Delivery> {
        let mut tx = self.begin().await?;
        let active: Option<String> = sqlx::query_scalar(&format!(
            "SELECT id FROM webhooks WHERE customer_id = $1 AND id = $2 AND status = '{ACTIVE}'",
        ))
        .bind(customer.to_string())
        .bind(webhook.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        if active.is_none() {
            return Err(StoreError::NotFound);
        }
        let found: Option<String> =
            sqlx::query_scalar("SELECT id FROM events WHERE customer_id = $1 AND id = $2")
                .bind(customer.to_string())
                .bind(event.to_string())
                .fetch_optional(&mut *tx)
                .await?;
        if found.is_none() {
            return Err(StoreError::Conflict(format!("no event with id {event}")));
        }
        let changed = sqlx::query(
            &format!("INSERT INTO deliveries (webhook_id, event_id, customer_id, status, attempts, next_attempt_at, \
             retry_from, created_at, updated_at) VALUES ($1, $2, $3, '{PENDING}', 0, $4, $4, $4, $4) \
             ON CONFLICT (webhook_id, event_id) DO UPDATE SET status = '{PENDING}', next_attempt_at = excluded.next_attempt_at, \
             retry_from = excluded.retry_from, updated_at = excluded.updated_at, claim_token = NULL \
             WHERE deliveries.status <> '{PENDING}'",
        ))
        .bind(webhook.to_string())
        .bind(event.to_string())
        .bind(customer.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotPending(format!(
                "the delivery of event {event} to this webhook is still PENDING"
            )));
        }
        let delivery = Self::delivery_in(&mut tx, webhook, event).await?;
        tx.commit().await?;
        Ok(delivery)
    }

    async fn deliveries_due(&self, now: i64) -> Result<bool> {
        let any: Option<String> = sqlx::query_scalar(&format!(
            "SELECT event_id FROM deliveries WHERE status = '{PENDING}' AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at LIMIT 1"
        ))
        .bind(now)
        .fetch_optional(&self.read)
        .await?;
        Ok(any.is_some())
    }

    async fn record_attempts(&self, results: &[AttemptResult]) -> Result<()> {
        if results.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        insert_attempts(&mut tx, results).await?;
        mark_delivered(&mut tx, results).await?;
        for r in results.iter().filter(|r| r.next != NextStep::Delivered) {
            mark_attempted(&mut tx, r).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// One delivery_attempts row per attempt: on PostgreSQL one statement.
async fn insert_attempts(
    tx: &mut Transaction<'static, Any>,
    results: &[AttemptResult],
) -> Result<()> {
    let rows = results.iter().map(|r| {
        vec![
            // Time-ordered: each id goes at the end of the key's index.
            stableport_domain::new_id().into(),
            r.webhook_id.into(),
            r.event_id.into(),
            r.customer_id.into(),
            r.attempt.into(),
            r.status_code.into(),
            r.latency_micros.into(),
            r.error.clone().into(),
            r.at.into(),
        ]
    });
    let sqlite = sql::is_sqlite(tx);
    for q in sql::inserts(sqlite, "delivery_attempts", ATTEMPT_RECORD, rows.collect()) {
        q.query_on(sqlite).execute(&mut **tx).await?;
    }
    Ok(())
}

const ATTEMPT_RECORD: &str = "id text, webhook_id text, event_id text, customer_id text, \
    attempt bigint, status_code bigint, latency_micros bigint, error text, created_at bigint";

/// Successes, the common case, in one UPDATE per claim and status code;
/// delivered_at is when the success was recorded (the attempt row keeps the
/// exact time and latency).
async fn mark_delivered(
    tx: &mut Transaction<'static, Any>,
    results: &[AttemptResult],
) -> Result<()> {
    let now = crate::sql::now_micros();
    let mut delivered: BTreeMap<(&str, Option<i64>), Vec<&AttemptResult>> = BTreeMap::new();
    for r in results.iter().filter(|r| r.next == NextStep::Delivered) {
        delivered
            .entry((r.token.as_str(), r.status_code))
            .or_default()
            .push(r);
    }
    let sqlite = sql::is_sqlite(tx);
    for ((token, code), rows) in &delivered {
        for chunk in rows.chunks(keys_per_statement(sqlite, 200)) {
            let mut q = Sql::new(
                &format!("UPDATE deliveries SET status = '{DELIVERED}', attempts = attempts + 1, next_attempt_at = NULL, \
                 claim_token = NULL, last_error = NULL, last_status_code = ",
            ));
            q.bind(*code).push(", updated_at = ").bind(now);
            q.push(", delivered_at = ").bind(now);
            q.push(" WHERE claim_token = ").bind(*token).push(" AND");
            let keys = chunk
                .iter()
                .map(|r| vec![r.webhook_id.into(), r.event_id.into()]);
            q.keys_in(sqlite, DELIVERY_KEY, keys);
            q.query_on(sqlite).execute(&mut **tx).await?;
        }
    }
    Ok(())
}

/// A failed attempt: due again, or given up.
async fn mark_attempted(tx: &mut Transaction<'static, Any>, r: &AttemptResult) -> Result<()> {
    let finished_at = r.at + r.latency_micros;
    let (status, next, delivered_at) = match r.next {
        NextStep::Delivered => (DELIVERED, None, Some(finished_at)),
        NextStep::RetryAt(t) => (PENDING, Some(t), None),
        NextStep::GiveUp => (FAILED, None, None),
    };
    sqlx::query(
        "UPDATE deliveries SET status = $1, attempts = attempts + 1, next_attempt_at = $2, \
         claim_token = NULL, last_status_code = $3, last_error = $4, updated_at = $5, \
         delivered_at = COALESCE($6, delivered_at) \
         WHERE webhook_id = $7 AND event_id = $8 AND claim_token = $9",
    )
    .bind(status)
    .bind(next)
    .bind(r.status_code)
    .bind(r.error.clone())
    .bind(finished_at)
    .bind(delivered_at)
    .bind(r.webhook_id.to_string())
    .bind(r.event_id.to_string())
    .bind(r.token.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A delivery's key, for [`Sql::keys_in`].
const DELIVERY_KEY: &str = "webhook_id text, event_id text";

/// Keys per statement: SQLite's as before (each value is a parameter);
/// PostgreSQL's are one parameter, so a whole claim goes in one.
fn keys_per_statement(sqlite: bool, on_sqlite: usize) -> usize {
    if sqlite {
        on_sqlite
    } else {
        10_000
    }
}

// Statuses written into SQL text (the partial indexes on due rows and on
// active names need the literal), from their enums.
const PENDING: &str = DeliveryStatus::Pending.as_str();
const FAILED: &str = DeliveryStatus::Failed.as_str();
const CANCELLED: &str = DeliveryStatus::Cancelled.as_str();
const DELIVERED: &str = DeliveryStatus::Delivered.as_str();
const ACTIVE: &str = WebhookStatus::Active.as_str();
const DELETED: &str = WebhookStatus::Deleted.as_str();

/// A delivery due now, as claimed.
#[derive(Clone, Debug)]
pub struct DueDelivery {
    pub webhook_id: Uuid,
    pub event_id: Uuid,
    pub attempts: i64,
    pub retry_from: i64,
}

impl Tx {
    /// Claims up to `limit` due PENDING deliveries, in due order; other
    /// replicas skip the rows claimed.
    pub async fn claim_due_deliveries(&mut self, now: i64, limit: i64) -> Result<Vec<DueDelivery>> {
        let rows = sqlx::query(&format!(
            "SELECT webhook_id, event_id, attempts, retry_from FROM deliveries \
             WHERE status = '{PENDING}' AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2{}",
            self.backend.claim_suffix()
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(&mut **self.inner.pool()?)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(DueDelivery {
                    webhook_id: sql::uuid(row, "webhook_id")?,
                    event_id: sql::uuid(row, "event_id")?,
                    attempts: row.try_get("attempts")?,
                    retry_from: row.try_get("retry_from")?,
                })
            })
            .collect()
    }

    /// These webhooks, locked in id order (two claimers lock shared ones in
    /// the same order), each with its next free send slot.
    pub async fn lock_webhooks(&mut self, ids: &[Uuid]) -> Result<Vec<(Webhook, i64)>> {
        let mut q = Sql::new(&format!(
            "SELECT {WEBHOOK_COLUMNS}, rate_tat FROM webhooks WHERE id"
        ));
        push_in(&mut q, ids.iter().map(|id| Val::from(*id)));
        q.push(" ORDER BY id").push(lock_suffix(self.backend));
        let rows = q
            .query_on(self.sqlite())
            .fetch_all(&mut **self.inner.pool()?)
            .await?;
        rows.iter()
            .map(|row| Ok((decode_webhook(row, &self.sealer)?, row.try_get("rate_tat")?)))
            .collect()
    }

    /// Cancels a webhook's deliveries of these events: it cannot receive them.
    pub async fn cancel_deliveries(
        &mut self,
        webhook: Uuid,
        events: &[Uuid],
        now: i64,
    ) -> Result<()> {
        let mut q = Sql::new(&format!(
            "UPDATE deliveries SET status = '{CANCELLED}', next_attempt_at = NULL, updated_at = ",
        ));
        q.bind(now)
            .push(" WHERE webhook_id = ")
            .bind(webhook)
            .push(" AND event_id");
        push_in(&mut q, events.iter().map(|e| Val::from(*e)));
        q.query_on(self.sqlite())
            .execute(&mut **self.inner.pool()?)
            .await?;
        Ok(())
    }

    /// Each webhook's next free send slot: on PostgreSQL one join with a
    /// recordset (a CASE of 400 webhooks cost 8 ms, each row testing every
    /// WHEN); on SQLite a CASE per 500.
    pub async fn set_send_slots(&mut self, slots: &[(Uuid, i64)]) -> Result<()> {
        if !self.sqlite() && !slots.is_empty() {
            let mut q = Sql::new("UPDATE webhooks SET rate_tat = r.rate_tat FROM ");
            let rows = slots
                .iter()
                .map(|(w, slot)| vec![(*w).into(), (*slot).into()]);
            q.recordset("id text, rate_tat bigint", rows);
            q.push(" WHERE webhooks.id = r.id");
            q.query_on(false).execute(&mut **self.inner.pool()?).await?;
            return Ok(());
        }
        for chunk in slots.chunks(500) {
            let mut q = Sql::new("UPDATE webhooks SET rate_tat = CASE id");
            for (webhook, slot) in chunk {
                q.push(" WHEN ").bind(*webhook).push(" THEN ").bind(*slot);
            }
            q.push(" ELSE rate_tat END WHERE id");
            push_in(&mut q, chunk.iter().map(|(w, _)| Val::from(*w)));
            q.query_on(self.sqlite())
                .execute(&mut **self.inner.pool()?)
                .await?;
        }
        Ok(())
    }

    /// Holds these (webhook, event) deliveries for `token` until `until`:
    /// past that, another worker may send them again.
    pub async fn lease_deliveries(
        &mut self,
        keys: &[(Uuid, Uuid)],
        token: &str,
        until: i64,
        now: i64,
    ) -> Result<()> {
        let sqlite = self.sqlite();
        for chunk in keys.chunks(keys_per_statement(sqlite, 500)) {
            let mut q = Sql::new("UPDATE deliveries SET next_attempt_at = ");
            q.bind(until).push(", claim_token = ").bind(token);
            q.push(", updated_at = ").bind(now).push(" WHERE");
            let keys = chunk.iter().map(|(w, e)| vec![(*w).into(), (*e).into()]);
            q.keys_in(sqlite, DELIVERY_KEY, keys);
            q.query_on(sqlite)
                .execute(&mut **self.inner.pool()?)
                .await?;
        }
        Ok(())
    }

    /// Makes these (webhook, event) deliveries due again at their webhook's
    /// time; not an attempt.
    pub async fn defer_deliveries(&mut self, deferred: &[(Uuid, Uuid, i64)]) -> Result<()> {
        let sqlite = self.sqlite();
        for chunk in deferred.chunks(500) {
            let mut q = Sql::new("UPDATE deliveries SET next_attempt_at = CASE webhook_id");
            let mut slots: Vec<(Uuid, i64)> = chunk.iter().map(|(w, _, s)| (*w, *s)).collect();
            slots.dedup();
            for (webhook, slot) in slots {
                q.push(" WHEN ").bind(webhook).push(" THEN ").bind(slot);
            }
            q.push(" ELSE next_attempt_at END WHERE");
            let keys = chunk.iter().map(|(w, e, _)| vec![(*w).into(), (*e).into()]);
            q.keys_in(sqlite, DELIVERY_KEY, keys);
            q.query_on(sqlite)
                .execute(&mut **self.inner.pool()?)
                .await?;
        }
        Ok(())
    }

    /// Type, creation time and test flag of these events.
    pub async fn event_headers(
        &mut self,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, (String, i64, bool)>> {
        let mut found = HashMap::new();
        if ids.is_empty() {
            return Ok(found);
        }
        let mut q = Sql::new("SELECT id, type, created_at, is_test FROM events WHERE id");
        push_in(&mut q, ids.iter().map(|id| Val::from(*id)));
        for row in q
            .query_on(self.sqlite())
            .fetch_all(&mut **self.inner.pool()?)
            .await?
        {
            let test = row.try_get::<i64, _>("is_test")? != 0;
            found.insert(
                sql::uuid(&row, "id")?,
                (row.try_get("type")?, row.try_get("created_at")?, test),
            );
        }
        Ok(found)
    }
}

impl Tx {
    /// Locks the customer's row (PostgreSQL): work that checks a count per
    /// customer and then inserts runs one at a time.
    pub async fn lock_customer(&mut self, customer: Uuid) -> Result<()> {
        sqlx::query(&format!(
            "SELECT id FROM customers WHERE id = $1{}",
            lock_suffix(self.backend)
        ))
        .bind(customer.to_string())
        .fetch_optional(&mut **self.inner.pool()?)
        .await?;
        Ok(())
    }

    /// The customer's ACTIVE webhook with this name, if any.
    pub async fn active_webhook_named(
        &mut self,
        customer: Uuid,
        name: &str,
    ) -> Result<Option<Uuid>> {
        let id: Option<String> = sqlx::query_scalar(&format!(
            "SELECT id FROM webhooks WHERE customer_id = $1 AND name = $2 AND status = '{}'",
            WebhookStatus::Active.as_str()
        ))
        .bind(customer.to_string())
        .bind(name)
        .fetch_optional(&mut **self.inner.pool()?)
        .await?;
        id.map(|id| sql::parse_uuid(&id, "id")).transpose()
    }

    pub async fn count_active_webhooks(&mut self, customer: Uuid) -> Result<i64> {
        Ok(sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM webhooks WHERE customer_id = $1 AND status = '{}'",
            WebhookStatus::Active.as_str()
        ))
        .bind(customer.to_string())
        .fetch_one(&mut **self.inner.pool()?)
        .await?)
    }

    /// Inserts a webhook and its subscriptions (one per event type).
    pub async fn insert_webhook(&mut self, w: &Webhook) -> Result<()> {
        let mut q = Sql::new(&format!(
            "INSERT INTO webhooks ({WEBHOOK_COLUMNS}, rate_tat) VALUES "
        ));
        q.row(vec![
            w.id.into(),
            w.customer_id.into(),
            w.name.clone().into(),
            w.url.clone().into(),
            w.event_types.join(" ").into(),
            w.auth
                .to_stored()
                .map(|a| self.sealer.seal(&a, &auth_context(w.id)))
                .into(),
            w.rate_limit.into(),
            self.sealer.seal(&w.secret, &secret_context(w.id)).into(),
            w.status.as_str().into(),
            w.created_at.into(),
            w.updated_at.into(),
            None::<i64>.into(),
            0i64.into(),
        ]);
        q.query_on(self.sqlite())
            .execute(&mut **self.inner.pool()?)
            .await?;
        if w.status == WebhookStatus::Active {
            self.subscribe(w).await?;
        }
        Ok(())
    }

    /// Its rows in the fan-out's index: only an ACTIVE webhook has them.
    async fn subscribe(&mut self, w: &Webhook) -> Result<()> {
        let mut q =
            Sql::new("INSERT INTO webhook_subscriptions (customer_id, type, webhook_id) VALUES ");
        for (i, kind) in w.event_types.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.row(vec![w.customer_id.into(), kind.clone().into(), w.id.into()]);
        }
        if !w.event_types.is_empty() {
            q.query_on(self.sqlite())
                .execute(&mut **self.inner.pool()?)
                .await?;
        }
        Ok(())
    }
}

/// Deletes an ACTIVE webhook, cancelling its waiting deliveries; NotFound
/// when it is not ACTIVE.
async fn delete_webhook_in(
    tx: &mut Transaction<'static, Any>,
    sealer: &Sealer,
    customer: Uuid,
    id: Uuid,
    now: i64,
) -> Result<Webhook> {
    // Deliveries first: a claiming worker holds delivery rows and then
    // waits for the webhook row, so taking them in the other order could
    // deadlock on PostgreSQL. Claimed (in-flight) ones finish by themselves.
    sqlx::query(
        &format!("UPDATE deliveries SET status = '{CANCELLED}', next_attempt_at = NULL, updated_at = $1 \
         WHERE webhook_id = $2 AND customer_id = $3 AND status = '{PENDING}' AND claim_token IS NULL",
    ))
    .bind(now)
    .bind(id.to_string())
    .bind(customer.to_string())
    .execute(&mut **tx)
    .await?;
    let updated = sqlx::query(&format!(
        "UPDATE webhooks SET status = '{DELETED}', updated_at = $1, deleted_at = $1 \
         WHERE customer_id = $2 AND id = $3 AND status = '{ACTIVE}'",
    ))
    .bind(now)
    .bind(customer.to_string())
    .bind(id.to_string())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Err(StoreError::NotFound);
    }
    sqlx::query("DELETE FROM webhook_subscriptions WHERE webhook_id = $1")
        .bind(id.to_string())
        .execute(&mut **tx)
        .await?;
    let row = sqlx::query(&format!(
        "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1"
    ))
    .bind(id.to_string())
    .fetch_one(&mut **tx)
    .await?;
    decode_webhook(&row, sealer)
}

impl Tx {
    pub async fn delete_webhook(&mut self, customer: Uuid, id: Uuid, now: i64) -> Result<Webhook> {
        delete_webhook_in(self.inner.pool()?, &self.sealer, customer, id, now).await
    }

    /// Moves a PENDING webhook to `to` (subscribed when ACTIVE); false when
    /// it was not PENDING.
    pub async fn settle_webhook(
        &mut self,
        customer: Uuid,
        id: Uuid,
        to: WebhookStatus,
        now: i64,
    ) -> Result<bool> {
        let row = sqlx::query(&format!(
            "UPDATE webhooks SET status = $1, updated_at = $2 \
             WHERE customer_id = $3 AND id = $4 AND status = $5 RETURNING {WEBHOOK_COLUMNS}"
        ))
        .bind(to.as_str())
        .bind(now)
        .bind(customer.to_string())
        .bind(id.to_string())
        .bind(WebhookStatus::Pending.as_str())
        .fetch_optional(&mut **self.inner.pool()?)
        .await?;
        let Some(row) = row else { return Ok(false) };
        let webhook = decode_webhook(&row, &self.sealer)?;
        if to == WebhookStatus::Active {
            self.subscribe(&webhook).await?;
        }
        Ok(true)
    }

    pub async fn webhook(&mut self, customer: Uuid, id: Uuid) -> Result<Option<Webhook>> {
        let row = sqlx::query(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE customer_id = $1 AND id = $2"
        ))
        .bind(customer.to_string())
        .bind(id.to_string())
        .fetch_optional(&mut **self.inner.pool()?)
        .await?;
        row.as_ref()
            .map(|r| decode_webhook(r, &self.sealer))
            .transpose()
    }
}
