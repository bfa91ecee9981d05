//! The one error every operation returns. The server maps each variant to
//! its HTTP status in one place (`From<CoreError> for Problem`).

use stableport_domain::amount::{format_units, AmountError};
use stableport_domain::Asset;
use stableport_store::StoreError;
use uuid::Uuid;

pub type Result<T, E = CoreError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The request breaks a rule (400).
    #[error("{0}")]
    Invalid(String),
    /// An amount finer than its asset or pair allows (400 exceed-precision).
    #[error("{detail}")]
    TooPrecise { detail: String, max_precision: u32 },
    /// The caller may not do this (403): a role it lacks, its own request.
    #[error("{0}")]
    Forbidden(String),
    /// What the request names is not the caller's, or does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The state does not allow it (409).
    #[error("{0}")]
    Conflict(String),
    /// The debit would take the balance below zero (403 insufficient-funds).
    #[error("insufficient {asset} funds in profile {profile}")]
    InsufficientFunds {
        asset: Asset,
        profile: Uuid,
        needed: String,
        available: i64,
    },
    /// A transfer limit would be exceeded (400 exceed-max-withdraw-limit).
    #[error(
        "a transfer worth {} USD exceeds the limit of {} USD ({} USD remaining)",
        format_units(*.amount_cents, Asset::Usd),
        format_units(*.limit_cents, Asset::Usd),
        format_units(*.remaining_cents, Asset::Usd)
    )]
    LimitExceeded {
        limit_cents: i64,
        remaining_cents: i64,
        amount_cents: i64,
    },
    /// A credit would take a balance over what a profile may hold (400).
    #[error("the balance would exceed the maximum a profile may hold")]
    BalanceLimit,
    /// The database stayed busy through every retry (503 with Retry-After).
    #[error("the database is busy; retry shortly")]
    Busy,
    /// Our fault: logged, never shown (500).
    #[error("{0}")]
    Internal(String),
}

impl CoreError {
    pub fn invalid(detail: impl Into<String>) -> CoreError {
        CoreError::Invalid(detail.into())
    }

    /// A refused amount, with `detail` saying which and why.
    pub fn amount(error: &AmountError, detail: String) -> CoreError {
        match error {
            AmountError::TooPrecise(max_precision) => CoreError::TooPrecise {
                detail,
                max_precision: *max_precision,
            },
            _ => CoreError::Invalid(detail),
        }
    }

    /// A store's NotFound as the caller should read it.
    pub fn or_not_found(e: StoreError, detail: impl FnOnce() -> String) -> CoreError {
        match e {
            StoreError::NotFound => CoreError::NotFound(detail()),
            other => other.into(),
        }
    }
}

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> CoreError {
        match e {
            StoreError::Conflict(detail) => CoreError::Conflict(detail),
            StoreError::NotFound => CoreError::NotFound("not found".into()),
            StoreError::BalanceLimit => CoreError::BalanceLimit,
            StoreError::NotPending(status) => CoreError::Conflict(format!(
                "conversion is {status}; only a CREATED conversion can change"
            )),
            transient if transient.is_transient() => CoreError::Busy,
            other => CoreError::Internal(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_refusals_keep_their_meaning() {
        let busy = StoreError::Database(sqlx::Error::PoolTimedOut);
        assert!(matches!(CoreError::from(busy), CoreError::Busy));
        let pending = CoreError::from(StoreError::NotPending("SETTLED".into()));
        assert!(matches!(pending, CoreError::Conflict(d) if d.contains("SETTLED")));
        let corrupt = CoreError::from(StoreError::Corrupt("bad row".into()));
        assert!(matches!(corrupt, CoreError::Internal(_)));
        let missing = CoreError::or_not_found(StoreError::NotFound, || "rule 1".into());
        assert!(matches!(missing, CoreError::NotFound(d) if d == "rule 1"));
    }

    #[test]
    fn only_a_too_precise_amount_is_exceed_precision() {
        let fine = CoreError::amount(&AmountError::TooPrecise(2), "1.001".into());
        assert!(matches!(
            fine,
            CoreError::TooPrecise {
                max_precision: 2,
                ..
            }
        ));
        let negative = CoreError::amount(&AmountError::NotPositive, "-1".into());
        assert!(matches!(negative, CoreError::Invalid(_)));
    }
}
