//! The legacy Stablecoin Conversion API: create (through the group-commit
//! writer), settle, cancel.

use stableport_domain::conversion::{check_pair, pair_decimals};
use stableport_domain::{Amount, Asset, ConversionStatus};
use stableport_store::{retry_transient, Conversion, CreateOutcome, NewConversion, StoreError};
use uuid::Uuid;

use crate::{profiles, Core, CoreError, Created, Result};

/// A conversion as a client asks for it, its fields parsed.
pub struct Convert {
    pub profile_id: Uuid,
    pub recipient_profile_id: Option<Uuid>,
    /// As sent: its precision is checked against the pair.
    pub amount: String,
    pub source: Asset,
    pub target: Asset,
    pub ref_id: Option<String>,
    pub identity_id: String,
    pub account_id: String,
    /// JSON, already checked.
    pub metadata: Option<String>,
}

pub async fn create(
    core: &Core,
    customer: Uuid,
    cmd: Convert,
    now: i64,
) -> Result<Created<Conversion>> {
    let (source, target) = (cmd.source, cmd.target);
    check_pair(source, target).map_err(|e| CoreError::invalid(e.to_string()))?;
    let amount = Amount::parse(&cmd.amount, pair_decimals(source, target)).map_err(|e| {
        let detail = format!("amount {:?} {e} for {source} -> {target}", cmd.amount);
        CoreError::amount(&e, detail)
    })?;
    profiles::check(core, customer, cmd.profile_id).await?;
    if let Some(recipient) = cmd.recipient_profile_id {
        profiles::check(core, customer, recipient).await?;
    }
    let request = NewConversion {
        id: stableport_domain::new_id(),
        customer_id: customer,
        profile_id: cmd.profile_id,
        recipient_profile_id: cmd.recipient_profile_id,
        amount: amount.to_string(),
        source_asset: source,
        target_asset: target,
        source_units: amount.units(source),
        target_units: amount.units(target),
        ref_id: cmd.ref_id,
        identity_id: cmd.identity_id,
        account_id: cmd.account_id,
        metadata: cmd.metadata,
        now,
        settle_after: core.settlement.due_at(now),
    };
    match core.conversions.submit(request.clone()).await? {
        CreateOutcome::Created(c) => Ok(Created::New(c)),
        CreateOutcome::RefIdExists(existing) => Ok(Created::Existing(*existing)),
        CreateOutcome::InsufficientFunds { available } => Err(CoreError::InsufficientFunds {
            asset: source,
            profile: request.profile_id,
            needed: request.amount,
            available,
        }),
    }
}

pub async fn get(core: &Core, customer: Uuid, id: Uuid) -> Result<Conversion> {
    core.store
        .conversion(customer, id)
        .await?
        .ok_or_else(|| not_found(id, customer))
}

/// Settles or cancels a CREATED conversion: its postings, transfer and
/// event commit with the status.
pub async fn finish(
    core: &Core,
    customer: Uuid,
    id: Uuid,
    to: ConversionStatus,
    now: i64,
) -> Result<Conversion> {
    let settle = to == ConversionStatus::Settled;
    let result = retry_transient(|| async {
        match settle {
            true => core.store.settle_conversion(customer, id, now).await,
            false => core.store.cancel_conversion(customer, id, now).await,
        }
    })
    .await;
    let verb = if settle { "settled" } else { "cancelled" };
    result.map_err(|e| match e {
        StoreError::NotFound => not_found(id, customer),
        StoreError::NotPending(status) => CoreError::Conflict(format!(
            "conversion {id} is {status} and cannot be {verb}; only a CREATED conversion can"
        )),
        other => other.into(),
    })
}

fn not_found(id: Uuid, customer: Uuid) -> CoreError {
    CoreError::NotFound(format!(
        "conversion with id {id} not found for customer with id {customer}"
    ))
}
