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
    // A retry of one that exists gets it, whatever has changed since (a
    // destination deleted, a balance spent); the store checks again, in the
    // transaction, for retries that race.
    if let Some(existing) = core
        .store
        .orchestration_by_ref(customer, &cmd.ref_id)
        .await?
    {
        return Ok(Created::Existing(existing));
    }
    let profile = profiles::owned(core, customer, cmd.source).await?;
    let identity = ("identity_id", Some(cmd.identity_id.as_str()));
    identities::check_actor(
        core,
        customer,
        identity,
        ("account_id", Some(&cmd.account_id)),
    )
    .await?;
    let destination = destinations::resolve(core, customer, cmd.destination).await?;
    let same_profile = destination == Destination::Profile(profile.id);
    let kind = destinations::kind_of(&destination);
    check_route(source_asset, destination_asset, kind, same_profile)
        .map_err(|e| CoreError::invalid(e.to_string()))?;
    let request = NewOrchestration {
        id: stableport_domain::new_id(),
        customer_id: customer,
        profile_id: profile.id,
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
    };
    match core.orchestrations.submit(request.clone()).await? {
        OrchestrationOutcome::Created(o) => Ok(Created::New(o)),
        OrchestrationOutcome::RefIdExists(existing) => Ok(Created::Existing(existing)),
        OrchestrationOutcome::InsufficientFunds { available } => {
            Err(CoreError::InsufficientFunds {
                asset: source_asset,
                profile: profile.id,
                needed: request.source_amount,
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
