//! API credentials: deleting one disables it; the auth layer refuses its
//! tokens from the next request on, on every replica.

use stableport_domain::ApprovalAction;
use stableport_store::{Credential, Proposal};
use uuid::Uuid;

use crate::approvals::{self, Subject};
use crate::{in_tx, Core, CoreError, Result};

/// Disables a credential (at once on every replica). Under an enabled
/// DELETE_API_CREDENTIAL policy it stays enabled until the request this
/// opens is approved.
pub async fn revoke(
    core: &Core,
    customer: Uuid,
    submitter: Option<Uuid>,
    client_id: &str,
    now: i64,
) -> Result<Credential> {
    let not_found = || {
        CoreError::NotFound(format!(
            "api credentials with client_id {client_id:?} not found for customer with id {customer}"
        ))
    };
    in_tx!(core.store, |tx| async {
        let found = tx
            .credential_of(customer, client_id)
            .await?
            .ok_or_else(not_found)?;
        let action = ApprovalAction::DeleteApiCredential;
        let policy = match found.disabled {
            true => None,
            false => approvals::guarded(tx, customer, action).await?,
        };
        let Some(policy) = policy else {
            return tx
                .disable_credential(customer, client_id, now)
                .await?
                .ok_or_else(not_found);
        };
        let object = object_id(customer, client_id);
        if tx.open_approval_request(customer, object).await?.is_none() {
            let subject = Subject {
                proposal: Some(Proposal::Credential(client_id.to_string())),
                ..Subject::new(action, object)
            };
            approvals::submit_under(tx, &policy, submitter, subject, now).await?;
        }
        Ok(found)
    }
    .await)
}

/// A credential's id in approval requests: its client_id is no UUID.
pub fn object_id(customer: Uuid, client_id: &str) -> Uuid {
    Uuid::new_v5(&customer, client_id.as_bytes())
}
