//! API credentials: deleting one disables it; the auth layer refuses its
//! tokens from the next request on, on every replica.

use stableport_store::Credential;
use uuid::Uuid;

use crate::{Core, CoreError, Result};

pub async fn revoke(core: &Core, customer: Uuid, client_id: &str, now: i64) -> Result<Credential> {
    let found = core
        .store
        .disable_credential(customer, client_id, now)
        .await?;
    found.ok_or_else(|| {
        CoreError::NotFound(format!(
            "api credentials with client_id {client_id:?} not found for customer with id {customer}"
        ))
    })
}
