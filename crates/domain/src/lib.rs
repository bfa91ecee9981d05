//! Stableport's domain: assets, exact amounts, conversion rules and ledger
//! postings. Nothing here does I/O, so every rule can be tested in isolation.

pub mod address;
pub mod amount;
pub mod asset;
pub mod bank;
pub mod conversion;
pub mod ledger;
pub mod network;
pub mod orchestration;
pub mod status;
pub mod transfer;

pub use amount::{Amount, AmountError};
pub use asset::Asset;
pub use conversion::{ConversionStatus, PairError};
pub use ledger::{Account, Posting};
pub use status::{
    ApprovalAction, ApprovalStatus, DeliveryStatus, DestinationStatus, IdentityStatus, Role,
    RuleStatus, WebhookStatus,
};
pub use transfer::{Direction, TransferKind, TransferStatus};

/// A new record id. Version 7 UUIDs grow with time, so each table's primary
/// key and id indexes take inserts at their end instead of at random pages:
/// far fewer pages to write per commit. Clients treat ids as opaque strings.
pub fn new_id() -> uuid::Uuid {
    uuid::Uuid::now_v7()
}

/// The identity and account ids a conversion carries when the request names none.
pub const ZERO_UUID: &str = "00000000-0000-0000-0000-000000000000";
