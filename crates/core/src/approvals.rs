//! Approvals: N-of-M sign-off on sensitive actions. A policy per action says
//! whether it is guarded and how many approvers must agree; an action taken
//! under an enabled policy leaves its object pending with a request, which
//! approvers approve or reject and its submitter may cancel. The final
//! approval, rejection or cancellation takes effect in its own transaction,
//! with the request locked, so racing approvals reach APPROVED once.

use stableport_domain::{ApprovalAction, ApprovalStatus, DestinationStatus, Role};
use stableport_store::{Act, ApprovalRequest, Policy, Tx, User, UserFilter};
use uuid::Uuid;

use crate::{in_tx, Core, CoreError, Result};

const MAX_REASON: usize = 500;

/// The policy for an action: as set, or disabled when never set.
pub async fn policy(core: &Core, customer: Uuid, action: ApprovalAction) -> Result<Policy> {
    let found = core.store.approval_policy(customer, action).await?;
    Ok(found.unwrap_or(Policy {
        customer_id: customer,
        action,
        enabled: false,
        approvals_required: 1,
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

/// Sets a policy (an entity manager's call). An enabled one needs at least
/// one approval and no more than there are active approvers.
pub async fn put_policy(
    core: &Core,
    customer: Uuid,
    actor: Option<Uuid>,
    mut policy: Policy,
    now: i64,
) -> Result<Policy> {
    let manager = user_with(core, customer, actor, Role::EntityManager).await?;
    if policy.enabled {
        let approvers = count_approvers(core, customer).await?;
        if policy.approvals_required < 1 || policy.approvals_required > approvers {
            return Err(CoreError::invalid(format!(
                "approvals_required must be 1 to the number of active approvers ({approvers})"
            )));
        }
    }
    policy.customer_id = customer;
    policy.updated_by = Some(manager.id);
    policy.updated_at = now;
    in_tx!(core.store, |tx| async {
        tx.put_approval_policy(&policy).await?;
        Ok(())
    }
    .await)?;
    Ok(policy)
}

async fn count_approvers(core: &Core, customer: Uuid) -> Result<i64> {
    let filter = UserFilter {
        include_disabled: false,
        page: stableport_store::Page {
            order: stableport_store::Order::Asc,
            limit: i64::MAX,
            after: None,
            by: stableport_store::SortKey::CreatedAt,
        },
    };
    let users = core.store.list_users(customer, &filter).await?;
    Ok(users
        .iter()
        .filter(|u| u.roles.contains(&Role::Approver))
        .count() as i64)
}

/// Inside the transaction that takes `action` on `object`: a request for it
/// when the policy is enabled, else None (the action stands at once).
pub(crate) async fn submit(
    tx: &mut Tx,
    customer: Uuid,
    submitter: Option<Uuid>,
    (action, object): (ApprovalAction, Uuid),
    now: i64,
) -> Result<Option<ApprovalRequest>> {
    let Some(policy) = tx
        .approval_policy(customer, action)
        .await?
        .filter(|p| p.enabled)
    else {
        return Ok(None);
    };
    let request = ApprovalRequest {
        id: stableport_domain::new_id(),
        customer_id: customer,
        action,
        object_id: object,
        status: ApprovalStatus::Pending,
        submitted_by: submitter,
        approvals_required: policy.approvals_required,
        created_at: now,
        updated_at: now,
    };
    tx.insert_approval_request(&request).await?;
    tx.record_act(request.id, &act("SUBMITTED", submitter, None, now))
        .await?;
    Ok(Some(request))
}

/// Whether an action of this customer is guarded now.
pub(crate) async fn guarded(tx: &mut Tx, customer: Uuid, action: ApprovalAction) -> Result<bool> {
    Ok(tx
        .approval_policy(customer, action)
        .await?
        .is_some_and(|p| p.enabled))
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
        _ => Some(user_with(core, customer, actor, Role::Approver).await?),
    };
    let who = Who { actor, approver };
    in_tx!(core.store, |tx| decide_in(
        tx, customer, &who, id, &decision, now
    )
    .await)
}

/// Who decides: the credential's user (None: a machine credential), and
/// that user when an approver's role is needed.
struct Who {
    actor: Option<Uuid>,
    approver: Option<User>,
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
        take_effect(tx, &request, status, now).await?;
        request.status = status;
        request.updated_at = now;
    }
    Ok(request)
}

fn approver_id(who: &Who) -> Result<Uuid> {
    who.approver
        .as_ref()
        .map(|u| u.id)
        .ok_or_else(|| CoreError::Internal("a decision without its approver".into()))
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
    let user = Some(approver_id(who)?);
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
    let user = approver_id(who)?;
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
    now: i64,
) -> Result<()> {
    if !tx.move_approval_request(request.id, status, now).await? {
        return Err(CoreError::Conflict(format!(
            "approval request {} was decided meanwhile",
            request.id
        )));
    }
    match request.action {
        ApprovalAction::AddCryptoAddress => {
            let to = match status {
                ApprovalStatus::Approved => DestinationStatus::Approved,
                _ => DestinationStatus::Rejected,
            };
            let customer = request.customer_id;
            tx.set_crypto_address_status(customer, request.object_id, to, now)
                .await?;
        }
    }
    Ok(())
}
