//! Where funds may go: a destination named by id, resolved to something the
//! customer owns that can receive funds now. Orchestrations and rules share it.

use std::time::Duration;

use stableport_domain::orchestration::DestinationKind;
use stableport_domain::ApprovalAction;
use stableport_domain::DestinationStatus;
use stableport_store::{
    ApprovalRequest, CryptoAddress, CryptoAddressFields, Destination, FiatAccountCreated,
    NewCryptoAddress, NewFiatAccount, Review,
};
use uuid::Uuid;

use crate::approvals::{self, Subject};
use crate::profiles::{self, ProfileRef};
use crate::{in_tx, Core, CoreError, Result};

/// A bank memo: what a wire carries.
const MAX_MEMO: usize = 140;

/// The one destination a request names.
#[derive(Clone, Debug)]
pub enum Named {
    Profile(ProfileRef),
    Fiat { account: Uuid, memo: Option<String> },
    Crypto(Uuid),
}

/// The destination, checked: the caller's, not deleted, and for a bank
/// account, APPROVED.
pub async fn resolve(core: &Core, customer: Uuid, named: Named) -> Result<Destination> {
    match named {
        Named::Profile(profile) => {
            let profile = profiles::owned(core, customer, profile).await?;
            Ok(Destination::Profile(profile.id))
        }
        Named::Fiat { account, memo } => fiat(core, customer, account, memo).await,
        Named::Crypto(id) => {
            let address = core
                .store
                .crypto_address(customer, id)
                .await?
                .ok_or_else(|| {
                    CoreError::NotFound(format!(
                "crypto destination address with id {id} not found for customer with id {customer}"
            ))
                })?;
            if address.status != DestinationStatus::Approved {
                return Err(CoreError::invalid(format!(
                    "crypto destination address {id} is {}; only an APPROVED one receives funds",
                    address.status
                )));
            }
            Ok(Destination::Crypto {
                address_id: id,
                address: address.address,
                network: address.network,
            })
        }
    }
}

async fn fiat(core: &Core, customer: Uuid, id: Uuid, memo: Option<String>) -> Result<Destination> {
    if memo.as_ref().is_some_and(|m| m.chars().count() > MAX_MEMO) {
        return Err(CoreError::invalid(format!(
            "destination.fiat.memo must be at most {MAX_MEMO} characters"
        )));
    }
    let account = core
        .store
        .fiat_account(customer, id)
        .await?
        .filter(|a| !a.deleted)
        .ok_or_else(|| {
            CoreError::NotFound(format!(
                "fiat account with id {id} not found for customer with id {customer}"
            ))
        })?;
    if !account.is_usable() {
        return Err(CoreError::invalid(format!(
            "fiat account {id} is {}; withdrawals need an APPROVED fiat account",
            account.status
        )));
    }
    Ok(Destination::Fiat {
        bank_account_id: id,
        memo,
        network: account.network.code().to_string(),
    })
}

pub fn kind_of(d: &Destination) -> DestinationKind {
    match d {
        Destination::Profile(_) => DestinationKind::Profile,
        Destination::Fiat { .. } => DestinationKind::Fiat,
        Destination::Crypto { .. } => DestinationKind::Crypto,
    }
}

/// How a new or changed fiat account is reviewed: APPROVED at once without
/// a delay, else PENDING until the approver reaches it `delay` from now.
pub fn review(now: i64, delay: Duration) -> Review {
    let delay = i64::try_from(delay.as_micros()).unwrap_or(i64::MAX);
    match now.saturating_add(delay) {
        due if due <= now => Review {
            status: DestinationStatus::Approved,
            approve_after: None,
        },
        due => Review {
            status: DestinationStatus::Pending,
            approve_after: Some(due),
        },
    }
}

/// Adds a crypto destination address (or changes the one there). Under an
/// enabled ADD_CRYPTO_ADDRESS policy a new one is PENDING, with the approval
/// request that decides it, in one transaction.
pub async fn put_crypto_address(
    core: &Core,
    submitter: Option<Uuid>,
    new: &NewCryptoAddress,
    fields: &CryptoAddressFields,
) -> Result<(CryptoAddress, Option<ApprovalRequest>)> {
    let customer = new.customer_id;
    in_tx!(core.store, |tx| async {
        let action = ApprovalAction::AddCryptoAddress;
        let policy = approvals::guarded(tx, customer, action).await?;
        let status = match policy {
            Some(_) => DestinationStatus::Pending,
            None => DestinationStatus::Approved,
        };
        let (address, created) = tx.put_crypto_address(new, fields, status).await?;
        let request = match (&policy, created) {
            (Some(policy), true) => {
                let subject = Subject::new(action, address.id);
                Some(approvals::submit_under(tx, policy, submitter, subject, new.now).await?)
            }
            _ => None,
        };
        Ok((address, request))
    }
    .await)
}

/// Adds a fiat account. Under an enabled ADD_FIAT_ACCOUNT policy it is
/// PENDING, with no review of its own, until its approval request decides
/// it; both in one transaction.
pub async fn create_fiat_account(
    core: &Core,
    submitter: Option<Uuid>,
    mut new: NewFiatAccount,
) -> Result<(FiatAccountCreated, Option<ApprovalRequest>)> {
    let customer = new.customer_id;
    in_tx!(core.store, |tx| async {
        let action = ApprovalAction::AddFiatAccount;
        let policy = approvals::guarded(tx, customer, action).await?;
        if policy.is_some() {
            new.review = Review {
                status: DestinationStatus::Pending,
                approve_after: None,
            };
        }
        let created = tx.create_fiat_account(&new).await?;
        let request = match (&policy, &created) {
            (Some(policy), FiatAccountCreated::Created(account)) => {
                let subject = Subject::new(action, account.id);
                Some(approvals::submit_under(tx, policy, submitter, subject, new.now).await?)
            }
            _ => None,
        };
        Ok((created, request))
    }
    .await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_waits_for_review_only_with_a_delay() {
        let now = 1_000_000;
        assert_eq!(
            review(now, Duration::ZERO).status,
            DestinationStatus::Approved
        );
        let later = review(now, Duration::from_secs(2));
        assert_eq!(later.status, DestinationStatus::Pending);
        assert_eq!(later.approve_after, Some(3_000_000));
    }
}
