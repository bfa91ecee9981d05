//! Rows as the server sees them. Amounts are in the asset's smallest unit;
//! times are microseconds since the Unix epoch.

use stableport_domain::{Asset, ConversionStatus};
use uuid::Uuid;

#[derive(Clone, Debug)]
pub struct Credential {
    pub client_id: String,
    pub customer_id: Uuid,
    pub secret_salt: String,
    pub secret_hash: String,
    /// Space-delimited, as in OAuth2.
    pub scopes: String,
    pub created_at: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProfileKind {
    Default,
    Normal,
}

impl ProfileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileKind::Default => "DEFAULT",
            ProfileKind::Normal => "NORMAL",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Profile {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub nickname: String,
    pub description: Option<String>,
    pub kind: ProfileKind,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

/// Keyset pagination: rows strictly after `after` in `order`.
#[derive(Clone, Debug)]
pub struct Page {
    pub order: Order,
    pub limit: i64,
    pub after: Option<(i64, String)>,
}

/// Inclusive or exclusive bounds on a timestamp column.
#[derive(Clone, Debug, Default)]
pub struct TimeRange {
    pub gt: Option<i64>,
    pub gte: Option<i64>,
    pub lt: Option<i64>,
    pub lte: Option<i64>,
    pub eq: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct ProfileFilter {
    pub created_at: TimeRange,
    pub nickname_prefix: Option<String>,
    pub ids: Vec<Uuid>,
    pub page: Page,
}

#[derive(Clone, Debug)]
pub struct Balance {
    pub asset: Asset,
    pub available: i64,
}

#[derive(Clone, Debug)]
pub struct NewDeposit {
    pub activity_id: Uuid,
    pub customer_id: Uuid,
    pub profile_id: Uuid,
    pub asset: Asset,
    pub units: i64,
    pub now: i64,
}

#[derive(Clone, Debug)]
pub struct NewConversion {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub profile_id: Uuid,
    pub recipient_profile_id: Option<Uuid>,
    /// The canonical decimal string shown on the wire.
    pub amount: String,
    pub source_asset: Asset,
    pub target_asset: Asset,
    pub source_units: i64,
    pub target_units: i64,
    pub ref_id: Option<String>,
    pub identity_id: String,
    pub account_id: String,
    /// JSON object of strings, as received.
    pub metadata: Option<String>,
    pub now: i64,
    /// When the settler may settle it; None leaves it for a manual settle.
    pub settle_after: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct Conversion {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub profile_id: Uuid,
    pub recipient_profile_id: Option<Uuid>,
    pub amount: String,
    pub source_asset: Asset,
    pub target_asset: Asset,
    pub source_units: i64,
    pub target_units: i64,
    pub status: ConversionStatus,
    pub ref_id: Option<String>,
    pub identity_id: String,
    pub account_id: String,
    pub metadata: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub settled_at: Option<i64>,
    pub cancelled_at: Option<i64>,
}

impl Conversion {
    /// Where the target asset goes when the conversion settles.
    pub fn recipient(&self) -> Uuid {
        self.recipient_profile_id.unwrap_or(self.profile_id)
    }
}

/// The common case, Created, is the large one: boxing it would cost an
/// allocation per request for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum CreateOutcome {
    Created(Conversion),
    InsufficientFunds { available: i64 },
    RefIdExists(Box<Conversion>),
}

#[derive(Clone, Debug)]
pub struct ConversionFilter {
    pub profile_id: Option<Uuid>,
    pub ref_id: Option<String>,
    pub created_at: TimeRange,
    pub updated_at: TimeRange,
    pub page: Page,
}

#[derive(Clone, Debug, Default)]
pub struct AuditReport {
    pub entries: i64,
    pub postings: i64,
    pub profile_balances: i64,
    /// Human-readable discrepancies; empty means the ledger is sound.
    pub discrepancies: Vec<String>,
}
