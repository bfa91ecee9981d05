//! Orchestration rules: a deposit address or memo whose deposits are
//! converted and delivered automatically.

use stableport_domain::network::{CryptoNetwork, FiatNetwork};
use stableport_domain::orchestration::{check_route, check_rule_source, SourceKind};
use stableport_domain::{ApprovalAction, Asset, RuleStatus};
use stableport_store::{DepositAddress, DepositInstructions, Inserted, Rule, RuleSource, Tx};
use uuid::Uuid;

use crate::approvals::{self, Subject};
use crate::destinations::{self, Named};
use crate::issued::{new_address, new_memo_id};
use crate::profiles::{self, ProfileRef};
use crate::{in_tx, Core, CoreError, Created, Result};

const MAX_NICKNAME: usize = 100;

/// Where a rule's deposits arrive: a new address on a network, or a new
/// memo for bank transfers.
#[derive(Clone, Debug)]
pub enum Source {
    Crypto(CryptoNetwork),
    Fiat {
        network: FiatNetwork,
        routing_number_type: Option<String>,
    },
}

/// A rule as a client asks for it, its fields parsed.
pub struct NewRule {
    pub ref_id: String,
    pub nickname: Option<String>,
    pub profile: ProfileRef,
    pub identity_id: Option<String>,
    pub account_id: Option<String>,
    pub source_asset: Asset,
    pub destination_asset: Asset,
    pub source: Source,
    pub destination: Named,
}

/// Creates a rule: ACTIVE, or PENDING with its approval request under an
/// enabled ADD_ORCHESTRATION_RULE policy, in one transaction.
pub async fn create(
    core: &Core,
    customer: Uuid,
    submitter: Option<Uuid>,
    cmd: NewRule,
    now: i64,
) -> Result<Created<Rule>> {
    if cmd
        .nickname
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_NICKNAME)
    {
        return Err(CoreError::invalid(format!(
            "nickname must be at most {MAX_NICKNAME} characters"
        )));
    }
    let kind = match cmd.source {
        Source::Crypto(_) => SourceKind::Crypto,
        Source::Fiat { .. } => SourceKind::Fiat,
    };
    check_rule_source(kind, cmd.source_asset).map_err(|e| CoreError::invalid(e.to_string()))?;
    let profile = profiles::owned(core, customer, cmd.profile).await?;
    let destination = destinations::resolve(core, customer, cmd.destination).await?;
    // The source is a deposit from outside, never the destination profile itself.
    let to = destinations::kind_of(&destination);
    check_route(cmd.source_asset, cmd.destination_asset, to, false)
        .map_err(|e| CoreError::invalid(e.to_string()))?;
    let id = stableport_domain::new_id();
    let owner = Owner {
        rule: id,
        customer,
        profile: profile.id,
        identity_id: cmd.identity_id.clone(),
        account_id: cmd.account_id.clone(),
        now,
    };
    let rule = Rule {
        id,
        customer_id: customer,
        profile_id: profile.id,
        identity_id: cmd.identity_id,
        account_id: cmd.account_id,
        ref_id: cmd.ref_id,
        nickname: cmd.nickname,
        status: RuleStatus::Active,
        source_asset: cmd.source_asset,
        destination_asset: cmd.destination_asset,
        source: issue_source(owner, cmd.source),
        destination,
        created_at: now,
        updated_at: now,
    };
    in_tx!(core.store, |tx| create_in(tx, submitter, rule.clone())
        .await)
}

async fn create_in(tx: &mut Tx, submitter: Option<Uuid>, mut rule: Rule) -> Result<Created<Rule>> {
    let action = ApprovalAction::AddOrchestrationRule;
    let policy = approvals::guarded(tx, rule.customer_id, action).await?;
    if policy.is_some() {
        rule.status = RuleStatus::Pending;
    }
    match tx.create_rule(&rule).await? {
        Inserted::Created(r) => {
            if let Some(policy) = &policy {
                let subject = Subject::new(action, r.id);
                approvals::submit_under(tx, policy, submitter, subject, r.created_at).await?;
            }
            Ok(Created::New(r))
        }
        Inserted::RefIdExists(existing) => Ok(Created::Existing(existing)),
    }
}

/// Whose a rule's deposit address or memo is.
struct Owner {
    rule: Uuid,
    customer: Uuid,
    profile: Uuid,
    identity_id: Option<String>,
    account_id: Option<String>,
    now: i64,
}

/// The rule's own deposit address or memo, issued now.
fn issue_source(owner: Owner, source: Source) -> RuleSource {
    let id = stableport_domain::new_id();
    match source {
        Source::Crypto(network) => RuleSource::Crypto(DepositAddress {
            id,
            customer_id: owner.customer,
            profile_id: owner.profile,
            identity_id: owner.identity_id,
            account_id: owner.account_id,
            ref_id: None,
            network,
            address: new_address(id, network),
            conversion_target_asset: "NO_CONVERSION".into(),
            metadata: None,
            rule_id: Some(owner.rule),
            created_at: owner.now,
        }),
        Source::Fiat {
            network,
            routing_number_type,
        } => RuleSource::Fiat(DepositInstructions {
            id,
            customer_id: owner.customer,
            profile_id: owner.profile,
            identity_id: owner.identity_id,
            account_id: owner.account_id,
            ref_id: None,
            network,
            routing_number_type,
            memo_id: new_memo_id(),
            status: "VALID".into(),
            metadata: None,
            rule_id: Some(owner.rule),
            created_at: owner.now,
        }),
    }
}

/// Sets DELETED: later deposits are credited to the rule's profile
/// unconverted. Under an enabled DELETE_ORCHESTRATION_RULE policy the rule
/// stays ACTIVE until the request this opens is approved.
pub async fn delete(
    core: &Core,
    customer: Uuid,
    submitter: Option<Uuid>,
    id: Uuid,
    now: i64,
) -> Result<Rule> {
    in_tx!(core.store, |tx| delete_in(tx, customer, submitter, id, now)
        .await)
}

async fn delete_in(
    tx: &mut Tx,
    customer: Uuid,
    submitter: Option<Uuid>,
    id: Uuid,
    now: i64,
) -> Result<Rule> {
    let not_found = || {
        CoreError::NotFound(format!(
            "orchestration rule with id {id} not found for customer with id {customer}"
        ))
    };
    let rule = tx.rule(customer, id).await?.ok_or_else(not_found)?;
    match rule.status {
        RuleStatus::Active => {}
        RuleStatus::Pending => {
            return Err(CoreError::Conflict(format!(
                "orchestration rule {id} awaits approval; its submitter may cancel the request"
            )))
        }
        _ => return Ok(rule),
    }
    let action = ApprovalAction::DeleteOrchestrationRule;
    if let Some(policy) = approvals::guarded(tx, customer, action).await? {
        if tx.open_approval_request(customer, id).await?.is_none() {
            let subject = Subject::new(action, id);
            approvals::submit_under(tx, &policy, submitter, subject, now).await?;
        }
        return Ok(rule);
    }
    tx.move_rule(customer, id, (RuleStatus::Active, RuleStatus::Deleted), now)
        .await?;
    tx.rule(customer, id).await?.ok_or_else(not_found)
}
