//! Where customers' money arrives: deposit addresses on chains and fiat
//! deposit instructions (a memo for wires), issued here and owned by one
//! of the customer's profiles.

use stableport_domain::network::{CryptoNetwork, FiatNetwork};
use stableport_store::{DepositAddress, DepositInstructions, Inserted};
use uuid::Uuid;

use crate::issued::{new_address, new_memo_id};
use crate::profiles::{self, ProfileRef};
use crate::{Core, CoreError, Created, Result};

/// What deposits to an address convert to.
pub const TARGET_ASSETS: [&str; 2] = ["NO_CONVERSION", "USD"];
/// Deposit instructions never expire: they are VALID as long as they exist.
const VALID: &str = "VALID";

/// Who a new deposit address or set of instructions is for.
pub struct Owner {
    pub profile: ProfileRef,
    pub identity_id: Option<String>,
    pub account_id: Option<String>,
    pub ref_id: Option<String>,
    /// JSON, already checked.
    pub metadata: Option<String>,
}

/// Issues a deposit address on `network` for the caller's profile.
pub async fn new_deposit_address(
    core: &Core,
    customer: Uuid,
    owner: Owner,
    (network, target): (CryptoNetwork, Option<String>),
    now: i64,
) -> Result<Created<DepositAddress>> {
    let target = target.unwrap_or_else(|| TARGET_ASSETS[0].to_string());
    if !TARGET_ASSETS.contains(&target.as_str()) {
        return Err(CoreError::invalid(format!(
            "conversion_target_asset must be NO_CONVERSION or USD, got {target:?}"
        )));
    }
    let profile = profiles::owned(core, customer, owner.profile).await?;
    let id = stableport_domain::new_id();
    let address = DepositAddress {
        id,
        customer_id: customer,
        profile_id: profile.id,
        identity_id: owner.identity_id,
        account_id: owner.account_id,
        ref_id: owner.ref_id,
        network,
        address: new_address(id, network),
        conversion_target_asset: target,
        metadata: owner.metadata,
        rule_id: None,
        created_at: now,
    };
    Ok(created(core.store.create_deposit_address(&address).await?))
}

/// Issues fiat deposit instructions (a fresh memo) for the caller's profile.
pub async fn new_instructions(
    core: &Core,
    customer: Uuid,
    owner: Owner,
    (network, routing_number_type): (FiatNetwork, Option<String>),
    now: i64,
) -> Result<Created<DepositInstructions>> {
    let profile = profiles::owned(core, customer, owner.profile).await?;
    let instructions = DepositInstructions {
        id: stableport_domain::new_id(),
        customer_id: customer,
        profile_id: profile.id,
        identity_id: owner.identity_id,
        account_id: owner.account_id,
        ref_id: owner.ref_id,
        network,
        routing_number_type,
        memo_id: new_memo_id(),
        status: VALID.into(),
        metadata: owner.metadata,
        rule_id: None,
        created_at: now,
    };
    Ok(created(
        core.store
            .create_deposit_instructions(&instructions)
            .await?,
    ))
}

fn created<T>(inserted: Inserted<T>) -> Created<T> {
    match inserted {
        Inserted::Created(t) => Created::New(t),
        Inserted::RefIdExists(t) => Created::Existing(t),
    }
}
