//! Persistence for Stableport: one [`Store`] trait, served by one SQL
//! implementation over `sqlx::Any` that runs on SQLite (the embedded default)
//! and PostgreSQL. The SQL is written once in the dialect both share; what
//! differs (connection set-up, transaction start, row claiming, which reads
//! run on the caller's thread) lives in `dialect.rs`.

// Defined before the modules, so that every one of them can use it.
/// Every row of `$q` on the read side, decoded by `$decode` (generic over
/// the row type): on the caller's thread for a SQLite file, else through
/// sqlx's read pool. The one place the two read paths part.
macro_rules! read_rows {
    ($store:expr, $q:expr, $decode:expr) => {
        match &$store.inline {
            Some(inline) => inline.rows(&$q, |row| $decode(row)),
            None => ($q.query_on($store.sqlite()))
                .fetch_all(&$store.read)
                .await?
                .iter()
                .map(|row| $decode(row))
                .collect(),
        }
    };
}

/// The first row of `$q` on the read side, as `read_rows!` reads it.
macro_rules! read_row {
    ($store:expr, $q:expr, $decode:expr) => {
        read_rows!($store, $q, $decode).map(|rows: Vec<_>| rows.into_iter().next())
    };
}

mod acting;
mod approvals;
mod batch;
mod coalesce;
mod conn;
mod credentials;
mod destinations;
mod dialect;
mod events;
mod history;
mod identities;
mod inline;
mod limits;
mod migrations;
pub mod model;
mod ops;
mod orchestrations;
mod rules;
/// Scratch PostgreSQL databases, for tests (this crate's and its users'):
/// the `testing` feature, which only their dev-dependencies turn on.
#[cfg(any(test, feature = "testing"))]
pub mod scratch;
mod sealed;
mod sessions;
mod sql;
mod sqlite_alloc;
mod store;
mod transfers;
mod tx;
mod users;

use async_trait::async_trait;
use uuid::Uuid;

pub use approvals::{Act, ApprovalFilter, ApprovalRequest, ApprovalStore, Policy, Proposal, Tier};
pub use batch::Refused;
pub use credentials::{Acting, CredentialFilter, CredentialStore};
pub use destinations::{
    CryptoAddress, CryptoAddressFields, CryptoAddressFilter, DestinationStore, FiatAccount,
    FiatAccountChange, FiatAccountCreated, FiatAccountFilter, NewCryptoAddress, NewFiatAccount,
    Review,
};
pub use dialect::Backend;
pub use events::{
    object_type, AttemptFilter, AttemptResult, Claim, ClaimedDelivery, ConsumerAuth, Delivery,
    DeliveryAttempt, DeliveryFilter, DueDelivery, Event, EventFilter, EventStore, NextStep,
    Webhook, WebhookFilter, EVENT_TYPES, MAX_ACTIVE_WEBHOOKS,
};
pub use history::{HistoryStore, LedgerEntry, LedgerLine, Series, Trail, DAY};
pub use identities::{Account, AccountFilter, Checks, Identity, IdentityFilter, IdentityStore};
pub use limits::{Limit, LimitStore};
pub use model::*;
pub use ops::{Backlog, Cutoffs, Gauges, OpsStore, Pruned};
pub use orchestrations::{Legs, OrchestrationStore};
pub use rules::{
    DepositAddress, DepositInstructions, DepositRecord, DepositTargetFilter, Inserted, Rule,
    RuleFilter, RuleSource, RuleStore,
};
pub use sealed::{MasterKey, Sealer};
pub use sessions::{Session, SessionStore, SignIns};
pub use store::SqlStore;
pub use transfers::{Fee, TransferStore};
pub use tx::Tx;
pub use users::{User, UserFilter, UserStore};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Conflict(String),
    #[error("not found")]
    NotFound,
    #[error("the balance would exceed the maximum a profile may hold")]
    BalanceLimit,
    #[error("conversion is {0}, not CREATED")]
    NotPending(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// From the SQLite reads made on the caller's thread.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// The store used against its own rules: a bug, not bad data.
    #[error("internal store error: {0}")]
    Internal(String),
    /// A sealed secret and no master key, or another one.
    #[error("{0}")]
    Locked(String),
}

impl StoreError {
    /// A conflict that another attempt may not meet: a deadlock or
    /// serialization failure (PostgreSQL), a busy or locked database
    /// (SQLite), no free connection in time, a PostgreSQL session ended by
    /// the server (57P01, 57P02: a restart, `pg_terminate_backend`; its
    /// transaction did not commit, and another connection may be sound).
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(e)) => matches!(
                e.code().as_deref(),
                Some(
                    "40P01"
                        | "40001"
                        | "55P03"
                        | "57P01"
                        | "57P02"
                        | "5"
                        | "6"
                        | "261"
                        | "262"
                        | "517"
                        | "773"
                )
            ),
            StoreError::Database(sqlx::Error::PoolTimedOut) => true,
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ),
            _ => false,
        }
    }

    /// The connection is gone: the server ended its session (57P01,
    /// 57P02, 57P03) or the socket failed. What was sent on it after its
    /// last answer took effect only if that included a COMMIT.
    pub(crate) fn is_connection_lost(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Io(_)) => true,
            StoreError::Database(sqlx::Error::Database(e)) => {
                matches!(e.code().as_deref(), Some("57P01" | "57P02" | "57P03"))
            }
            _ => false,
        }
    }
}

/// Runs `attempt` again while it fails transiently, up to 6 tries with
/// [`Backoff`]: a client never sees a transient conflict unless it outlasts
/// them all. (Transactions of the operations layer retry with the same
/// `Backoff` in `stableport_core::in_tx!`.)
pub async fn retry_transient<T, F, Fut>(mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut backoff = Backoff::default();
    loop {
        match attempt().await {
            Err(e) if e.is_transient() && backoff.wait().await => {
                tracing::debug!(error = %e, "transient database conflict; retrying");
            }
            other => return other,
        }
    }
}

/// Waits between tries after a transient conflict: exponential with jitter
/// (about 10, 20, 40, 80, 160 ms), for 6 tries in all.
pub struct Backoff {
    tried: u32,
    delay_ms: u64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            tried: 1,
            delay_ms: 10,
        }
    }
}

impl Backoff {
    const TRIES: u32 = 6;

    /// Waits before the next try; false (at once) when none is left.
    pub async fn wait(&mut self) -> bool {
        if self.tried >= Self::TRIES {
            return false;
        }
        let jitter = rand_jitter(self.delay_ms);
        tokio::time::sleep(std::time::Duration::from_millis(self.delay_ms + jitter)).await;
        self.tried += 1;
        self.delay_ms *= 2;
        true
    }
}

/// Up to half of `ms`, from the clock's low bits (no RNG needed for spread).
fn rand_jitter(ms: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::from(d.subsec_nanos()))
        .unwrap_or(0);
    nanos % (ms / 2 + 1)
}

/// What [`Store::start_up`] is given.
pub struct StartUp<'a> {
    /// The HMAC key that signs access tokens and cursors, shared by every
    /// replica, to store where none is yet: the first start's wins.
    pub key_candidate: &'a str,
    /// The first customer's id, where there is none yet.
    pub customer_candidate: Uuid,
    pub now: i64,
    /// Makes the credential to store for the first customer, given its id.
    pub credential: Option<&'a (dyn Fn(Uuid) -> Credential + Send + Sync)>,
}

/// What a start found or made.
#[derive(Clone, Debug)]
pub struct StartedUp {
    pub signing_key: String,
    pub customer_id: Uuid,
    pub created_customer: bool,
}

/// Everything the server asks of its storage. Every method that touches a
/// customer's data takes the customer id and filters on it.
#[async_trait]
pub trait Store:
    DestinationStore
    + OrchestrationStore
    + RuleStore
    + EventStore
    + TransferStore
    + CredentialStore
    + LimitStore
    + IdentityStore
    + UserStore
    + ApprovalStore
    + SessionStore
    + HistoryStore
    + OpsStore
    + Send
    + Sync
    + 'static
{
    fn backend(&self) -> Backend;

    /// What a start writes, in one transaction: the signing key, the first
    /// customer (created with its DEFAULT profile where there is none) and
    /// the credential made for it. One commit instead of three, and
    /// replicas starting together on an empty database agree on one first
    /// customer.
    async fn start_up(&self, start: StartUp<'_>) -> Result<StartedUp>;

    async fn customer_exists(&self, customer: Uuid) -> Result<bool>;
    /// Creates a customer with its DEFAULT profile; returns that profile's id.
    async fn create_customer(&self, customer: Uuid, now: i64) -> Result<Uuid>;

    async fn create_profile(&self, profile: &Profile) -> Result<()>;
    async fn profile(&self, customer: Uuid, id: Uuid) -> Result<Option<Profile>>;
    async fn default_profile(&self, customer: Uuid) -> Result<Option<Profile>>;
    async fn list_profiles(&self, customer: Uuid, filter: &ProfileFilter) -> Result<Vec<Profile>>;
    async fn rename_profile(
        &self,
        customer: Uuid,
        id: Uuid,
        nickname: &str,
        now: i64,
    ) -> Result<Profile>;
    async fn balances(&self, profile: Uuid) -> Result<Vec<Balance>>;
    /// The balances of the customer's active profile `id`, by asset; None
    /// when the customer has no such active profile. One query: a read's
    /// ownership check and its answer together.
    async fn active_profile_balances(
        &self,
        customer: Uuid,
        id: Uuid,
    ) -> Result<Option<Vec<Balance>>>;
    /// Every non-zero balance of the customer's active profiles, in one
    /// query: (profile, balance), ordered by profile and asset.
    async fn customer_balances(&self, customer: Uuid) -> Result<Vec<(Uuid, Balance)>>;

    /// A write transaction for the operations layer's primitives.
    async fn transaction(&self) -> Result<Tx>;
    /// A write transaction for the batches that carry the write load (new
    /// conversions and their settlement). On a SQLite file it runs on the
    /// store's own connection, on the caller's thread, with no hand-off per
    /// statement; only the primitives those batches use run on it.
    async fn batch_transaction(&self) -> Result<Tx>;
    /// Where the batches that take a `batch_transaction` should run: a
    /// thread of their own when it blocks its thread (a SQLite file), else
    /// None (anywhere).
    fn batch_runtime(&self) -> Option<tokio::runtime::Handle>;

    async fn conversion(&self, customer: Uuid, id: Uuid) -> Result<Option<Conversion>>;
    async fn list_conversions(
        &self,
        customer: Uuid,
        filter: &ConversionFilter,
    ) -> Result<Vec<Conversion>>;
    /// Whether any CREATED conversion is due, read without a lock.
    async fn conversions_due(&self, now: i64) -> Result<bool>;

    async fn audit(&self) -> Result<AuditReport>;
}

/// Opens the store a URL names (`sqlite://PATH` or `postgres://...`) and
/// brings its schema up to date.
pub async fn open(url: &str) -> Result<SqlStore> {
    SqlStore::open(url).await
}

#[cfg(test)]
mod retry_tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn busy() -> StoreError {
        StoreError::Database(sqlx::Error::PoolTimedOut)
    }

    #[tokio::test]
    async fn retries_transient_failures_until_one_commits() {
        let calls = AtomicU32::new(0);
        let result = retry_transient(|| async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(busy()),
                _ => Ok(7),
            }
        })
        .await;
        assert_eq!(result.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn gives_up_after_six_tries_and_never_retries_real_errors() {
        let calls = AtomicU32::new(0);
        let result: Result<()> = retry_transient(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(busy())
        })
        .await;
        assert!(result.unwrap_err().is_transient());
        assert_eq!(calls.load(Ordering::SeqCst), 6);

        let calls = AtomicU32::new(0);
        let result: Result<()> = retry_transient(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(StoreError::NotFound)
        })
        .await;
        assert!(matches!(result, Err(StoreError::NotFound)));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
