//! Rows as the server sees them. Amounts are in the asset's smallest unit;
//! times are microseconds since the Unix epoch.

use stableport_domain::network::CryptoNetwork;
use stableport_domain::orchestration::OrchestrationStatus;
use stableport_domain::{Asset, ConversionStatus, Direction, TransferKind, TransferStatus};
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
    pub updated_at: i64,
    /// Deleted through the API: no token of it is honoured.
    pub disabled: bool,
    /// The user it acts for; None for a machine credential of the customer.
    pub user_id: Option<Uuid>,
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
    /// Hidden from lists; can neither send nor receive.
    pub deactivated: bool,
    /// The third-party account it was created for, if any.
    pub account_id: Option<Uuid>,
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
    /// The last row seen: its sort time and id.
    pub after: Option<(i64, String)>,
    pub by: SortKey,
}

impl Page {
    /// The first `limit` rows, newest first by creation.
    pub fn newest(limit: i64) -> Page {
        Page {
            order: Order::Desc,
            limit,
            after: None,
            by: SortKey::CreatedAt,
        }
    }
}

/// The time a list is ordered (and paged) by, ties broken by id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortKey {
    #[default]
    CreatedAt,
    UpdatedAt,
}

impl SortKey {
    pub fn column(self) -> &'static str {
        match self {
            SortKey::CreatedAt => "created_at",
            SortKey::UpdatedAt => "updated_at",
        }
    }

    /// The spec's `order_by` value.
    pub fn code(self) -> &'static str {
        match self {
            SortKey::CreatedAt => "CREATED_AT",
            SortKey::UpdatedAt => "UPDATED_AT",
        }
    }
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
    pub include_deactivated: bool,
    pub page: Page,
}

#[derive(Clone, Debug)]
pub struct Balance {
    pub asset: Asset,
    pub available: i64,
}

#[derive(Clone, Debug)]
pub struct NewDeposit {
    /// Also the id of the deposit's transfer.
    pub activity_id: Uuid,
    pub crypto_network: Option<String>,
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

/// A movement as the Transfers API shows it. `kind` is the spec's `type`.
#[derive(Clone, Debug)]
pub struct Transfer {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub profile_id: Uuid,
    pub identity_id: Option<String>,
    pub account_id: Option<String>,
    pub ref_id: Option<String>,
    pub kind: TransferKind,
    pub direction: Direction,
    pub status: TransferStatus,
    pub asset: Asset,
    pub units: i64,
    pub crypto_network: Option<String>,
    pub crypto_tx_hash: Option<String>,
    pub destination_address: Option<String>,
    pub fiat_account_id: Option<String>,
    pub memo: Option<String>,
    pub group_id: Option<String>,
    pub metadata: Option<String>,
    /// The fee, in `asset`.
    pub fee_units: i64,
    /// The balance debited when it is not `asset` (a converting withdrawal),
    /// and how much of it, fee included.
    pub balance: Option<(Asset, i64)>,
    /// When the settler sends or fails it (a PENDING withdrawal).
    pub next_step_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Transfer {
    /// A transfer that completes as it is recorded, such as a deposit or
    /// either leg of a conversion.
    pub fn completed(
        customer_id: Uuid,
        profile_id: Uuid,
        kind: TransferKind,
        asset: Asset,
        units: i64,
        group_id: Uuid,
        now: i64,
    ) -> Transfer {
        Transfer {
            id: stableport_domain::new_id(),
            customer_id,
            profile_id,
            identity_id: None,
            account_id: None,
            ref_id: None,
            kind,
            direction: kind.direction(),
            status: TransferStatus::Completed,
            asset,
            units,
            crypto_network: None,
            crypto_tx_hash: None,
            destination_address: None,
            fiat_account_id: None,
            memo: None,
            group_id: Some(group_id.to_string()),
            metadata: None,
            fee_units: 0,
            balance: None,
            next_step_at: None,
            created_at: now,
            updated_at: now,
        }
    }
}

#[derive(Clone, Debug)]
pub struct TransferFilter {
    pub ids: Vec<String>,
    pub profile_ids: Vec<String>,
    pub identity_ids: Vec<String>,
    pub account_ids: Vec<String>,
    pub ref_ids: Vec<String>,
    pub group_ids: Vec<String>,
    pub crypto_tx_hashes: Vec<String>,
    pub types: Vec<String>,
    pub statuses: Vec<String>,
    pub created_at: TimeRange,
    pub updated_at: TimeRange,
    pub page: Page,
}

/// Where an orchestration delivers, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    Profile(Uuid),
    Fiat {
        bank_account_id: Uuid,
        memo: Option<String>,
        network: String,
    },
    Crypto {
        address_id: Uuid,
        address: String,
        network: CryptoNetwork,
    },
}

#[derive(Clone, Debug)]
pub struct NewOrchestration {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub profile_id: Uuid,
    pub identity_id: String,
    pub account_id: String,
    pub ref_id: String,
    pub source_asset: Asset,
    pub destination_asset: Asset,
    pub source_amount: String,
    pub source_units: i64,
    pub destination_units: i64,
    pub destination: Destination,
    pub rule_id: Option<Uuid>,
    pub metadata: Option<String>,
    pub now: i64,
    /// When the worker may deliver it; None waits for a sandbox release.
    pub next_step_at: Option<i64>,
}

/// The id and status of one leg, as an orchestration shows it.
#[derive(Clone, Debug)]
pub struct TransferRef {
    pub id: Uuid,
    pub status: String,
}

#[derive(Clone, Debug)]
pub struct Orchestration {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub profile_id: Uuid,
    pub identity_id: String,
    pub account_id: String,
    pub ref_id: String,
    pub source_asset: Asset,
    pub destination_asset: Asset,
    pub source_amount: String,
    pub source_units: i64,
    pub destination_units: i64,
    pub destination: Destination,
    pub status: OrchestrationStatus,
    pub fail_reason: Option<String>,
    pub rule_id: Option<Uuid>,
    pub source_transfer: TransferRef,
    pub destination_transfer: TransferRef,
    pub metadata: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum OrchestrationOutcome {
    Created(Orchestration),
    InsufficientFunds { available: i64 },
    RefIdExists(Orchestration),
}

#[derive(Clone, Debug)]
pub struct OrchestrationFilter {
    pub ids: Vec<Uuid>,
    pub profile_ids: Vec<Uuid>,
    pub rule_ids: Vec<Uuid>,
    pub source_assets: Vec<String>,
    pub destination_assets: Vec<String>,
    pub statuses: Vec<String>,
    pub created_at: TimeRange,
    pub page: Page,
}
