//! Approvals: N-of-M sign-off on sensitive actions. A policy per action says
//! whether it is guarded and how many approvers must agree; an action taken
//! under an enabled policy leaves its object pending with a request, which
//! approvers approve or reject and its submitter may cancel. The final
//! approval, rejection or cancellation takes effect in its own transaction,
//! with the request locked, so racing approvals reach APPROVED once.

use stableport_domain::{
    ApprovalAction, ApprovalStatus, DestinationStatus, Role, RuleStatus, WebhookStatus,
};
use stableport_store::{
    Act, ApprovalRequest, Policy, Proposal, StoreError, Tier, Tx, User, UserFilter,
};
use uuid::Uuid;

use crate::{in_tx, webhooks, withdrawals, Core, CoreError, Result};

const MAX_REASON: usize = 500;
const MAX_TIERS: usize = 10;

/// The policy for an action: as set, or disabled when never set.
pub async fn policy(core: &Core, customer: Uuid, action: ApprovalAction) -> Result<Policy> {
    let found = core.store.approval_policy(customer, action).await?;
    Ok(found.unwrap_or(Policy {
        customer_id: customer,
        action,
        enabled: false,
        approvals_required: 1,
        tiers: Vec::new(),
        updated_by: None,
        updated_at: 0,
    }))
}

/// The acting user, active and holding `role`: Forbidden otherwise.
async fn user_with(core: &Core, customer: Uuid, actor: Option<Uuid>, role: Role) -> Result<User> {
    let lacking = || {
        CoreError::Forbidden(format!(
            "this needs a user with the {role} role; use a credential made with --user"
        ))
    };
    let id = actor.ok_or_else(lacking)?;
    let user = core.store.user(customer, id).await?.filter(|u| !u.disabled);
    user.filter(|u| u.roles.contains(&role)).ok_or_else(lacking)
}

/// What a policy change did: set at once (the policy was not enabled), or
/// proposed, for approval under the policy in force.
#[derive(Debug)]
pub enum PolicyChange {
    Set(Policy),
    Proposed(ApprovalRequest),
}

/// Sets a policy (an entity manager's call), or proposes the change when
/// the policy is enabled: editing or turning off a guard needs its approval.
pub async fn put_policy(
    core: &Core,
    customer: Uuid,
    actor: Option<Uuid>,
    mut policy: Policy,
    now: i64,
) -> Result<PolicyChange> {
    let manager = user_with(core, customer, actor, Role::EntityManager).await?;
    check_policy(core, customer, &policy).await?;
    policy.customer_id = customer;
    policy.updated_by = Some(manager.id);
    policy.updated_at = now;
    in_tx!(core.store, |tx| async {
        let current = tx.approval_policy(customer, policy.action).await?;
        let Some(current) = current.filter(|p| p.enabled) else {
            tx.put_approval_policy(&policy).await?;
            return Ok(PolicyChange::Set(policy.clone()));
        };
        let edit = Subject {
            proposal: Some(Proposal::Policy(policy.clone())),
            ..Subject::new(
                ApprovalAction::EditApprovalPolicy,
                stableport_domain::new_id(),
            )
        };
        let request = open(tx, &current, actor, edit, now).await?;
        Ok(PolicyChange::Proposed(request))
    }
    .await)
}

/// Paxos's constraints: at least one approval, no more than there are
/// eligible approvers, tiers (withdrawals only) with strictly increasing
/// positive thresholds.
async fn check_policy(core: &Core, customer: Uuid, p: &Policy) -> Result<()> {
    if !p.action.has_policy() {
        return Err(CoreError::invalid(format!(
            "{} has no policy of its own: an edit is approved under the policy it changes",
            p.action
        )));
    }
    if !p.tiers.is_empty() && !p.action.has_tiers() {
        return Err(CoreError::invalid(format!(
            "tiers: only withdrawal policies have tiers, not {}",
            p.action
        )));
    }
    if p.tiers.len() > MAX_TIERS {
        return Err(CoreError::invalid(format!("tiers: at most {MAX_TIERS}")));
    }
    let users = active_users(core, customer).await?;
    let eligible = |roles: &[Role]| {
        users
            .iter()
            .filter(|u| u.roles.iter().any(|r| roles.contains(r)))
            .count() as i64
    };
    check_count(
        "approvals_required",
        p.approvals_required,
        p.enabled,
        eligible(&[Role::Approver]),
    )?;
    let mut floor = 0;
    for (i, tier) in p.tiers.iter().enumerate() {
        if tier.threshold_cents <= floor {
            return Err(CoreError::invalid(format!(
                "tiers[{i}].threshold_usd must be above zero and above the tier before it"
            )));
        }
        floor = tier.threshold_cents;
        if tier.roles.is_empty() || tier.roles.contains(&Role::Viewer) {
            return Err(CoreError::invalid(format!(
                "tiers[{i}].roles: name at least one role that may approve (a VIEWER cannot)"
            )));
        }
        let field = format!("tiers[{i}].approvals_required");
        check_count(
            &field,
            tier.approvals_required,
            p.enabled,
            eligible(&tier.roles),
        )?;
    }
    Ok(())
}

fn check_count(field: &str, count: i64, enabled: bool, eligible: i64) -> Result<()> {
    if count < 1 || (enabled && count > eligible) {
        return Err(CoreError::invalid(format!(
            "{field} must be 1 to the number of active users who may approve ({eligible})"
        )));
    }
    Ok(())
}

async fn active_users(core: &Core, customer: Uuid) -> Result<Vec<User>> {
    let filter = UserFilter {
        include_disabled: false,
        page: stableport_store::Page {
            order: stableport_store::Order::Asc,
            limit: i64::MAX,
            after: None,
            by: stableport_store::SortKey::CreatedAt,
        },
    };
    Ok(core.store.list_users(customer, &filter).await?)
}

/// What an action is taken on: its object, for a withdrawal its worth in
/// USD cents (which picks the tier), and what takes effect on approval
/// when the object cannot hold it meanwhile.
#[derive(Clone, Debug)]
pub(crate) struct Subject {
    pub action: ApprovalAction,
    pub object: Uuid,
    pub amount_cents: Option<i64>,
    pub proposal: Option<Proposal>,
}

impl Subject {
    pub fn new(action: ApprovalAction, object: Uuid) -> Subject {
        Subject {
            action,
            object,
            amount_cents: None,
            proposal: None,
        }
    }
}

/// How many approvals, and from which roles, `policy` asks for a subject of
/// this worth: the highest tier it reaches, else the default.
pub fn requirement(policy: &Policy, amount_cents: Option<i64>) -> (i64, Vec<Role>) {
    let tier =
        amount_cents.and_then(|a| policy.tiers.iter().rev().find(|t| a >= t.threshold_cents));
    match tier {
        Some(Tier {
            approvals_required,
            roles,
            ..
        }) => (*approvals_required, roles.clone()),
        None => (policy.approvals_required, vec![Role::Approver]),
    }
}

/// Inside the transaction that takes an action: a request for it when its
/// policy is enabled, else None (the action stands at once).
pub(crate) async fn submit(
    tx: &mut Tx,
    customer: Uuid,
    submitter: Option<Uuid>,
    subject: Subject,
    now: i64,
) -> Result<Option<ApprovalRequest>> {
    let Some(policy) = tx
        .approval_policy(customer, subject.action)
        .await?
        .filter(|p| p.enabled)
    else {
        return Ok(None);
    };
    Ok(Some(open(tx, &policy, submitter, subject, now).await?))
}

/// A PENDING request under `policy` as it stands now, its SUBMITTED act
/// and its `approval.requested` event.
async fn open(
    tx: &mut Tx,
    policy: &Policy,
    submitter: Option<Uuid>,
    subject: Subject,
    now: i64,
) -> Result<ApprovalRequest> {
    let (approvals_required, approver_roles) = requirement(policy, subject.amount_cents);
    let request = ApprovalRequest {
        id: stableport_domain::new_id(),
        customer_id: policy.customer_id,
        action: subject.action,
        object_id: subject.object,
        status: ApprovalStatus::Pending,
        submitted_by: submitter,
        approvals_required,
        approver_roles,
        amount_cents: subject.amount_cents,
        proposal: subject.proposal,
        created_at: now,
        updated_at: now,
    };
    tx.insert_approval_request(&request).await?;
    tx.record_act(request.id, &act("SUBMITTED", submitter, None, now))
        .await?;
    announce(tx, &request);
    Ok(request)
}

/// The request's `approval.*` event, for its status.
fn announce(tx: &mut Tx, r: &ApprovalRequest) {
    let kind = match r.status {
        ApprovalStatus::Pending => "approval.requested",
        ApprovalStatus::Approved => "approval.approved",
        ApprovalStatus::Rejected => "approval.rejected",
        ApprovalStatus::Cancelled => "approval.cancelled",
    };
    let object = serde_json::json!({
        "id": r.id, "status": r.status.as_str(),
        "action": r.action.as_str(), "object_id": r.object_id,
    });
    tx.event(r.customer_id, kind, r.id, object.to_string(), r.updated_at);
}

/// The enabled policy guarding an action of this customer now, if any: the
/// caller holds the object pending and submits under it (`submit_under`),
/// so the policy is read once per transaction.
pub(crate) async fn guarded(
    tx: &mut Tx,
    customer: Uuid,
    action: ApprovalAction,
) -> Result<Option<Policy>> {
    let policy = tx.approval_policy(customer, action).await?;
    Ok(policy.filter(|p| p.enabled))
}

/// A request for `subject` under `policy` (from `guarded`).
pub(crate) async fn submit_under(
    tx: &mut Tx,
    policy: &Policy,
    submitter: Option<Uuid>,
    subject: Subject,
    now: i64,
) -> Result<ApprovalRequest> {
    open(tx, policy, submitter, subject, now).await
}

fn act(what: &str, user: Option<Uuid>, reason: Option<String>, at: i64) -> Act {
    Act {
        act: what.to_string(),
        user_id: user,
        reason,
        at,
    }
}

/// What a user does to a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject { reason: String },
    Cancel,
}

/// Approves, rejects or cancels a PENDING request; the request as it now is.
pub async fn decide(
    core: &Core,
    customer: Uuid,
    actor: Option<Uuid>,
    id: Uuid,
    decision: Decision,
    now: i64,
) -> Result<ApprovalRequest> {
    if let Decision::Reject { reason } = &decision {
        if reason.trim().is_empty() || reason.chars().count() > MAX_REASON {
            return Err(CoreError::invalid(format!(
                "reason: say why, in 1 to {MAX_REASON} characters"
            )));
        }
    }
    let approver = match decision {
        Decision::Cancel => None,
        _ => Some(active_user(core, customer, actor).await?),
    };
    let who = Who {
        actor,
        approver,
        send_at: core.settlement.due_at(now),
    };
    in_tx!(core.store, |tx| decide_in(
        tx, customer, &who, id, &decision, now
    )
    .await)
}

/// The acting user, active: Forbidden for a machine credential.
async fn active_user(core: &Core, customer: Uuid, actor: Option<Uuid>) -> Result<User> {
    let id = actor.ok_or_else(|| {
        CoreError::Forbidden(
            "approving or rejecting needs a user; use a credential made with --user".into(),
        )
    })?;
    let user = core.store.user(customer, id).await?.filter(|u| !u.disabled);
    user.ok_or_else(|| CoreError::Forbidden(format!("user {id} is disabled")))
}

/// Who decides: the credential's user (None: a machine credential), that
/// user when an approver's role is needed, and when an approved withdrawal
/// is sent.
struct Who {
    actor: Option<Uuid>,
    approver: Option<User>,
    send_at: Option<i64>,
}

async fn decide_in(
    tx: &mut Tx,
    customer: Uuid,
    who: &Who,
    id: Uuid,
    decision: &Decision,
    now: i64,
) -> Result<ApprovalRequest> {
    let mut request = tx
        .approval_request_for_update(customer, id)
        .await?
        .ok_or_else(|| {
            CoreError::NotFound(format!(
                "approval request with id {id} not found for customer with id {customer}"
            ))
        })?;
    if request.status != ApprovalStatus::Pending {
        return Err(CoreError::Conflict(format!(
            "approval request {id} is {}; only a PENDING one can be decided",
            request.status
        )));
    }
    let own = request.submitted_by == who.actor;
    let outcome = match decision {
        Decision::Cancel if !own => {
            return Err(CoreError::Forbidden(
                "only the submitter can cancel a request".into(),
            ))
        }
        _ if own && *decision != Decision::Cancel => {
            return Err(CoreError::Forbidden(
                "you submitted this request: an approver other than you must decide it (you may cancel it)"
                    .into(),
            ))
        }
        Decision::Cancel => cancel(tx, &request, who.actor, now).await?,
        Decision::Reject { reason } => reject(tx, &request, who, reason, now).await?,
        Decision::Approve => approve(tx, &request, who, now).await?,
    };
    if let Some(status) = outcome {
        take_effect(tx, &request, status, who.send_at, now).await?;
        request.status = status;
        request.updated_at = now;
        announce(tx, &request);
    }
    Ok(request)
}

/// The approver, holding one of the roles the request asks for.
fn approver_id(who: &Who, request: &ApprovalRequest) -> Result<Uuid> {
    let user = who
        .approver
        .as_ref()
        .ok_or_else(|| CoreError::Internal("a decision without its approver".into()))?;
    if !user
        .roles
        .iter()
        .any(|r| request.approver_roles.contains(r))
    {
        let roles: Vec<_> = request.approver_roles.iter().map(|r| r.as_str()).collect();
        return Err(CoreError::Forbidden(format!(
            "request {} is decided by users with the role {}; you have none of them",
            request.id,
            roles.join(" or ")
        )));
    }
    if request.action == ApprovalAction::AssignUserRoles && request.object_id == user.id {
        return Err(CoreError::Forbidden(format!(
            "request {} changes your own roles: another approver must decide it",
            request.id
        )));
    }
    Ok(user.id)
}

async fn cancel(
    tx: &mut Tx,
    request: &ApprovalRequest,
    actor: Option<Uuid>,
    now: i64,
) -> Result<Option<ApprovalStatus>> {
    tx.record_act(request.id, &act("CANCELLED", actor, None, now))
        .await?;
    Ok(Some(ApprovalStatus::Cancelled))
}

async fn reject(
    tx: &mut Tx,
    request: &ApprovalRequest,
    who: &Who,
    reason: &str,
    now: i64,
) -> Result<Option<ApprovalStatus>> {
    let user = Some(approver_id(who, request)?);
    let reason = Some(reason.trim().to_string());
    tx.record_act(request.id, &act("REJECTED", user, reason, now))
        .await?;
    Ok(Some(ApprovalStatus::Rejected))
}

/// Counts the approval in; APPROVED once enough agree.
async fn approve(
    tx: &mut Tx,
    request: &ApprovalRequest,
    who: &Who,
    now: i64,
) -> Result<Option<ApprovalStatus>> {
    let user = approver_id(who, request)?;
    if !tx
        .record_act(request.id, &act("APPROVED", Some(user), None, now))
        .await?
    {
        return Err(CoreError::Conflict(format!(
            "you have already approved request {}",
            request.id
        )));
    }
    let approvals = tx.count_approvals(request.id).await?;
    Ok((approvals >= request.approvals_required).then_some(ApprovalStatus::Approved))
}

/// The request's end, and what it does to the object that waited for it.
async fn take_effect(
    tx: &mut Tx,
    request: &ApprovalRequest,
    status: ApprovalStatus,
    send_at: Option<i64>,
    now: i64,
) -> Result<()> {
    if !tx.move_approval_request(request.id, status, now).await? {
        return Err(CoreError::Conflict(format!(
            "approval request {} was decided meanwhile",
            request.id
        )));
    }
    let approved = status == ApprovalStatus::Approved;
    let reviewed = match approved {
        true => DestinationStatus::Approved,
        false => DestinationStatus::Rejected,
    };
    let (customer, object) = (request.customer_id, request.object_id);
    match request.action {
        ApprovalAction::AddCryptoAddress => {
            tx.set_crypto_address_status(customer, object, reviewed, now)
                .await?
        }
        ApprovalAction::AddFiatAccount => {
            tx.set_fiat_account_status(customer, object, reviewed, now)
                .await?
        }
        ApprovalAction::CreateCryptoWithdrawal | ApprovalAction::CreateFiatWithdrawal => {
            match approved {
                true => tx.schedule_transfer(object, send_at).await?,
                false => withdrawals::release(tx, customer, object, status, now).await?,
            }
        }
        ApprovalAction::AddOrchestrationRule => {
            let to = match status {
                ApprovalStatus::Approved => RuleStatus::Active,
                ApprovalStatus::Cancelled => RuleStatus::Cancelled,
                _ => RuleStatus::Rejected,
            };
            tx.move_rule(customer, object, (RuleStatus::Pending, to), now)
                .await?;
        }
        ApprovalAction::DeleteOrchestrationRule => {
            if approved {
                let active_to_deleted = (RuleStatus::Active, RuleStatus::Deleted);
                tx.move_rule(customer, object, active_to_deleted, now)
                    .await?;
            }
        }
        ApprovalAction::EditApprovalPolicy => {
            if let (true, Some(Proposal::Policy(policy))) = (approved, &request.proposal) {
                let policy = Policy {
                    updated_at: now,
                    ..policy.clone()
                };
                tx.put_approval_policy(&policy).await?;
            }
        }
        ApprovalAction::AddWebhook => match status {
            ApprovalStatus::Approved => webhooks::activate(tx, customer, object, now).await?,
            ApprovalStatus::Cancelled => {
                let to = WebhookStatus::Cancelled;
                tx.settle_webhook(customer, object, to, now).await?;
            }
            _ => {
                let to = WebhookStatus::Rejected;
                tx.settle_webhook(customer, object, to, now).await?;
            }
        },
        ApprovalAction::DeleteWebhook => {
            // One that is no longer ACTIVE (NotFound) is gone already.
            if approved {
                match tx.delete_webhook(customer, object, now).await {
                    Ok(_) | Err(StoreError::NotFound) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        ApprovalAction::DeleteApiCredential => {
            if let (true, Some(Proposal::Credential(client_id))) = (approved, &request.proposal) {
                tx.disable_credential(customer, client_id, now).await?;
            }
        }
        ApprovalAction::AssignUserRoles => {
            if let (true, Some(Proposal::Roles(roles))) = (approved, &request.proposal) {
                tx.set_user_roles(customer, object, roles, now).await?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_withdrawal_at_a_threshold_is_in_that_tier() {
        let tier = |cents, count, role| Tier {
            threshold_cents: cents,
            approvals_required: count,
            roles: vec![role],
        };
        let policy = Policy {
            customer_id: Uuid::nil(),
            action: ApprovalAction::CreateCryptoWithdrawal,
            enabled: true,
            approvals_required: 1,
            tiers: vec![
                tier(100_000, 2, Role::Approver),
                tier(500_000, 3, Role::EntityManager),
            ],
            updated_by: None,
            updated_at: 0,
        };
        let needs = |cents| requirement(&policy, cents);
        assert_eq!(needs(Some(99_999)), (1, vec![Role::Approver]));
        assert_eq!(needs(Some(100_000)), (2, vec![Role::Approver]));
        assert_eq!(needs(Some(499_999)), (2, vec![Role::Approver]));
        assert_eq!(needs(Some(500_000)), (3, vec![Role::EntityManager]));
        // Not a withdrawal: the default.
        assert_eq!(needs(None), (1, vec![Role::Approver]));
    }
}
