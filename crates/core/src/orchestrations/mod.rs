//! Orchestrations: move an amount from a profile to a destination,
//! converting on the way. Created PROCESSING with the source debited into
//! an in-flight account (`start`), through the group-commit writer; then
//! delivered in one step (`deliver`): COMPLETED with the destination
//! credited, or FAILED with the source refunded. Each step is a guarded
//! status move committed with its postings, transfers and event, so it
//! happens exactly once across replicas.

mod deliver;
mod start;

pub use deliver::{advance, release};
pub use start::{create_batch, start_in, Started};

use stableport_domain::orchestration::{check_route, OrchestrationStatus};
use stableport_domain::{Amount, Asset};
use stableport_store::{Destination, NewOrchestration, Orchestration, OrchestrationOutcome};
use uuid::Uuid;

use crate::destinations::{self, Named};
use crate::profiles::{self, ProfileRef};
use crate::{identities, Core, CoreError, Created, Result};

/// An orchestration as a client asks for it, its fields parsed.
pub struct Orchestrate {
    pub ref_id: String,
    pub source_asset: Asset,
    pub destination_asset: Asset,
    /// As sent: its precision is checked against both assets.
    pub source_amount: String,
    pub identity_id: String,
    pub account_id: String,
    /// JSON, already checked.
    pub metadata: Option<String>,
    pub source: ProfileRef,
    pub destination: Named,
}

/// Creates an orchestration, or answers a retry of a stored one with it.
pub async fn create(
    core: &Core,
    customer: Uuid,
    cmd: Orchestrate,
    now: i64,
) -> Result<Created<Orchestration>> {
    let (source_asset, destination_asset) = (cmd.source_asset, cmd.destination_asset);
    let decimals = source_asset.decimals().min(destination_asset.decimals());
    let amount = Amount::parse(&cmd.source_amount, decimals).map_err(|e| {
        let detail = format!(
            "source_amount {:?} {e} for {source_asset} -> {destination_asset}",
            cmd.source_amount
        );
        CoreError::amount(&e, detail)
    })?;
    let ref_id = cmd.ref_id.clone();
    match new(core, customer, cmd, amount, now).await {
        Ok(request) => submit(core, request).await,
        // A retry of one that exists gets it, whatever has changed since (a
        // destination deleted, a profile deactivated). Looked up only when
        // the request no longer passes: the batch answers every other retry
        // itself, so a new orchestration costs no round trip for it.
        Err(refused) => match core.store.orchestration_by_ref(customer, &ref_id).await {
            Ok(Some(existing)) => Ok(Created::Existing(existing)),
            _ => Err(refused),
        },
    }
}

/// The request checked against the stored profiles, identities and
/// destinations.
async fn new(
    core: &Core,
    customer: Uuid,
    cmd: Orchestrate,
    amount: Amount,
    now: i64,
) -> Result<NewOrchestration> {
    let (source_asset, destination_asset) = (cmd.source_asset, cmd.destination_asset);
    // By id, as a new conversion's: from memory when seen within a second.
    let source = match cmd.source {
        ProfileRef::Id(id) => profiles::check(core, customer, id).await.map(|()| id)?,
        default => profiles::owned(core, customer, default).await?.id,
    };
    let identity = ("identity_id", Some(cmd.identity_id.as_str()));
    identities::check_actor(
        core,
        customer,
        identity,
        ("account_id", Some(&cmd.account_id)),
    )
    .await?;
    // Into the source profile itself (another asset): it was just checked.
    let destination = match cmd.destination {
        Named::Profile(ProfileRef::Id(id)) if id == source => Destination::Profile(id),
        named => destinations::resolve(core, customer, named).await?,
    };
    let same_profile = destination == Destination::Profile(source);
    let kind = destinations::kind_of(&destination);
    check_route(source_asset, destination_asset, kind, same_profile)
        .map_err(|e| CoreError::invalid(e.to_string()))?;
    Ok(NewOrchestration {
        id: stableport_domain::new_id(),
        customer_id: customer,
        profile_id: source,
        identity_id: cmd.identity_id,
        account_id: cmd.account_id,
        ref_id: cmd.ref_id,
        source_asset,
        destination_asset,
        source_amount: amount.to_string(),
        source_units: amount.units(source_asset),
        destination_units: amount.units(destination_asset),
        destination,
        rule_id: None,
        metadata: cmd.metadata,
        now,
        next_step_at: core.settlement.due_at(now),
    })
}

async fn submit(core: &Core, request: NewOrchestration) -> Result<Created<Orchestration>> {
    let (asset, profile) = (request.source_asset, request.profile_id);
    let needed = request.source_amount.clone();
    match core.orchestrations.submit(request).await? {
        OrchestrationOutcome::Created(o) => Ok(Created::New(o)),
        OrchestrationOutcome::RefIdExists(existing) => Ok(Created::Existing(existing)),
        OrchestrationOutcome::InsufficientFunds { available } => {
            Err(CoreError::InsufficientFunds {
                asset,
                profile,
                needed,
                available,
            })
        }
    }
}

/// OrchestrationStatusChangeObject, as its event carries it.
fn event(id: Uuid, ref_id: &str, rule: Option<Uuid>, status: OrchestrationStatus) -> String {
    let mut object = serde_json::json!({ "id": id, "ref_id": ref_id, "status": status.as_str() });
    if let Some(rule) = rule {
        object["orchestration_rule_id"] = serde_json::json!(rule);
    }
    object.to_string()
}
