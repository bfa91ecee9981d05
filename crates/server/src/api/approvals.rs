//! /v2/approvals (ours: Paxos has approvals only in its dashboard): the
//! policies that guard actions, and the requests approvers decide.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use stableport_core::approvals::{self, Decision, PolicyChange};
use stableport_domain::amount::format_units;
use stableport_domain::{Amount, ApprovalAction, ApprovalStatus, Asset, Role};
use stableport_store::{Act, ApprovalFilter, ApprovalRequest, Order, Policy, Proposal, Tier};
use uuid::Uuid;

use crate::api::common::auth::{scope, Auth};
use crate::api::common::extract::{parse_uuid, JsonBody, Params};
use crate::api::common::fields::{many, required};
use crate::api::common::pagination::{self, Defaults, ListBody};
use crate::api::common::problem::{ApiResult, Problem};
use crate::api::common::routes::Routes;
use crate::state::{App, AppState};
use crate::time;

pub fn routes(_sandbox: bool) -> Routes {
    Routes::new()
        .get("/approvals/policies/{action}", get_policy)
        .put("/approvals/policies/{action}", put_policy)
        .get("/approvals", list)
        .get("/approvals/{id}", get)
        .post("/approvals/{id}/approve", approve)
        .post("/approvals/{id}/reject", reject)
        .post("/approvals/{id}/cancel", cancel)
}

const PAGING: Defaults = Defaults {
    list: "approvals",
    limit: 100,
    max_limit: 1000,
    order: Order::Desc,
};

/// An action a policy guards (every action but EDIT_APPROVAL_POLICY).
fn policy_action(text: &str) -> ApiResult<ApprovalAction> {
    let names: Vec<_> = ApprovalAction::names()
        .into_iter()
        .filter(|n| ApprovalAction::parse(n).is_some_and(|a| a.has_policy()))
        .collect();
    ApprovalAction::parse(text)
        .filter(|a| a.has_policy())
        .ok_or_else(|| {
            Problem::not_found(format!(
                "no approval policy {text:?}; policies: {}",
                names.join(", ")
            ))
        })
}

/// StableportApprovalPolicy.
#[derive(Serialize)]
pub struct PolicyBody {
    action: &'static str,
    enabled: bool,
    approvals_required: i64,
    tiers: Vec<TierBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    updated_by: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    updated_at: Option<String>,
}

/// StableportApprovalTier.
#[derive(Serialize)]
pub struct TierBody {
    threshold_usd: String,
    approvals_required: i64,
    roles: Vec<&'static str>,
}

fn usd(cents: i64) -> String {
    format_units(cents, Asset::Usd)
}

fn role_names(roles: &[Role]) -> Vec<&'static str> {
    roles.iter().map(|r| r.as_str()).collect()
}

fn policy_body(p: Policy) -> PolicyBody {
    PolicyBody {
        action: p.action.as_str(),
        enabled: p.enabled,
        approvals_required: p.approvals_required,
        tiers: p
            .tiers
            .iter()
            .map(|t| TierBody {
                threshold_usd: usd(t.threshold_cents),
                approvals_required: t.approvals_required,
                roles: role_names(&t.roles),
            })
            .collect(),
        updated_by: p.updated_by,
        updated_at: (p.updated_at > 0).then(|| time::format(p.updated_at)),
    }
}

pub async fn get_policy(
    State(app): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
) -> ApiResult<Json<PolicyBody>> {
    auth.require(scope::READ_APPROVAL)?;
    let policy = approvals::policy(&app.core, auth.customer, policy_action(&name)?).await?;
    Ok(Json(policy_body(policy)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRequest {
    enabled: Option<bool>,
    approvals_required: Option<i64>,
    tiers: Option<Vec<TierRequest>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierRequest {
    threshold_usd: Option<String>,
    approvals_required: Option<i64>,
    roles: Option<Vec<String>>,
}

fn tier(i: usize, t: TierRequest) -> ApiResult<Tier> {
    let field = |f: &str| format!("tiers[{i}].{f}");
    let threshold = required(&field("threshold_usd"), t.threshold_usd)?;
    let threshold = Amount::parse(&threshold, Asset::Usd.decimals()).map_err(|e| {
        Problem::bad_request(format!(
            "{} {threshold:?}: {e} (a USD amount as a string, such as \"1000\")",
            field("threshold_usd")
        ))
    })?;
    let roles = t
        .roles
        .unwrap_or_else(|| vec![Role::Approver.as_str().into()]);
    let roles = roles
        .iter()
        .map(|r| {
            Role::parse(r).ok_or_else(|| {
                Problem::bad_request(format!(
                    "{} {r:?} is not one of {}",
                    field("roles"),
                    Role::names().join(", ")
                ))
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Tier {
        threshold_cents: threshold.units(Asset::Usd),
        approvals_required: required(&field("approvals_required"), t.approvals_required)?,
        roles,
    })
}

/// 200 with the policy set, or 202 with the request that proposes the
/// change when the policy is enabled.
pub async fn put_policy(
    State(app): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<PolicyRequest>,
) -> ApiResult<Response> {
    auth.require(scope::WRITE_APPROVAL)?;
    let tiers = body.tiers.unwrap_or_default().into_iter().enumerate();
    let policy = Policy {
        customer_id: auth.customer,
        action: policy_action(&name)?,
        enabled: required("enabled", body.enabled)?,
        approvals_required: body.approvals_required.unwrap_or(1),
        tiers: tiers.map(|(i, t)| tier(i, t)).collect::<ApiResult<_>>()?,
        updated_by: None,
        updated_at: 0,
    };
    let put = approvals::put_policy(&app.core, auth.customer, auth.user, policy, time::now());
    Ok(match put.await? {
        PolicyChange::Set(p) => Json(policy_body(p)).into_response(),
        PolicyChange::Proposed(r) => {
            (StatusCode::ACCEPTED, Json(render(&app, r).await?)).into_response()
        }
    })
}

/// StableportApprovalRequest: progress as "1/3", and every act so far.
#[derive(Serialize)]
pub struct RequestBody {
    id: Uuid,
    action: &'static str,
    object_id: Uuid,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    submitted_by: Option<Uuid>,
    approvals: i64,
    approvals_required: i64,
    progress: String,
    approver_roles: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    amount_usd: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    proposed_policy: Option<PolicyBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    proposed_roles: Option<Vec<&'static str>>,
    /// For DELETE_API_CREDENTIAL: the credential.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    acts: Vec<ActBody>,
    created_at: String,
    updated_at: String,
}

#[derive(Serialize)]
pub struct ActBody {
    act: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    at: String,
}

pub(crate) async fn render(app: &App, r: ApprovalRequest) -> ApiResult<RequestBody> {
    let acts = app.core.store.approval_acts(r.id).await?;
    let approvals = acts.iter().filter(|a| a.act == "APPROVED").count() as i64;
    Ok(RequestBody {
        id: r.id,
        action: r.action.as_str(),
        object_id: r.object_id,
        status: r.status.as_str(),
        submitted_by: r.submitted_by,
        approvals,
        approvals_required: r.approvals_required,
        progress: format!("{approvals}/{}", r.approvals_required),
        approver_roles: role_names(&r.approver_roles),
        amount_usd: r.amount_cents.map(usd),
        proposed_policy: match &r.proposal {
            Some(Proposal::Policy(p)) => Some(policy_body(p.clone())),
            _ => None,
        },
        client_id: match &r.proposal {
            Some(Proposal::Credential(client_id)) => Some(client_id.clone()),
            _ => None,
        },
        proposed_roles: match &r.proposal {
            Some(Proposal::Roles(roles)) => Some(role_names(roles)),
            _ => None,
        },
        acts: acts.into_iter().map(act_body).collect(),
        created_at: time::format(r.created_at),
        updated_at: time::format(r.updated_at),
    })
}

fn act_body(a: Act) -> ActBody {
    ActBody {
        act: a.act,
        user_id: a.user_id,
        reason: a.reason,
        at: time::format(a.at),
    }
}

pub async fn list(
    State(app): State<AppState>,
    auth: Auth,
    params: Params,
) -> ApiResult<ListBody<RequestBody>> {
    auth.require(scope::READ_APPROVAL)?;
    pagination::check_order_by(&params)?;
    let status = |v: &str| {
        ApprovalStatus::parse(v)
            .map(|s| s.as_str().to_string())
            .ok_or_else(|| {
                Problem::bad_request(format!(
                    "status {v:?} is not one of {}",
                    ApprovalStatus::names().join(", ")
                ))
            })
    };
    let filter = ApprovalFilter {
        statuses: many(&params, "status", status)?,
        actions: many(&params, "action", |v| {
            ApprovalAction::parse(v)
                .map(|a| a.as_str().to_string())
                .ok_or_else(|| {
                    Problem::bad_request(format!(
                        "action {v:?} is not one of {}",
                        ApprovalAction::names().join(", ")
                    ))
                })
        })?,
        submitted_by: many(&params, "submitted_by", |v| {
            Ok(parse_uuid("submitted_by", v)?.to_string())
        })?,
        page: pagination::page(&params, &app.keys, &PAGING)?,
    };
    let rows = app
        .core
        .store
        .list_approval_requests(auth.customer, &filter)
        .await?;
    let (rows, next_page_cursor) =
        pagination::finish(&app.keys, PAGING.list, &filter.page, rows, |r| {
            (r.created_at, r.id.to_string())
        });
    let mut items = Vec::with_capacity(rows.len());
    for r in rows {
        items.push(render(&app, r).await?);
    }
    Ok(ListBody {
        items,
        next_page_cursor,
    })
}

pub async fn get(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<RequestBody>> {
    auth.require(scope::READ_APPROVAL)?;
    let id = parse_uuid("id", &id)?;
    let found = app.core.store.approval_request(auth.customer, id).await?;
    let found = found.ok_or_else(|| {
        Problem::not_found(format!(
            "approval request with id {id} not found for customer with id {}",
            auth.customer
        ))
    })?;
    Ok(Json(render(&app, found).await?))
}

async fn decide(
    app: &App,
    auth: &Auth,
    id: &str,
    decision: Decision,
) -> ApiResult<Json<RequestBody>> {
    auth.require(scope::WRITE_APPROVAL)?;
    let id = parse_uuid("id", id)?;
    let decided = approvals::decide(
        &app.core,
        auth.customer,
        auth.user,
        id,
        decision,
        time::now(),
    );
    Ok(Json(render(app, decided.await?).await?))
}

pub async fn approve(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<RequestBody>> {
    decide(&app, &auth, &id, Decision::Approve).await
}

#[derive(Deserialize)]
pub struct RejectRequest {
    reason: Option<String>,
}

pub async fn reject(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RejectRequest>,
) -> ApiResult<Json<RequestBody>> {
    let reason = required("reason", body.reason)?;
    decide(&app, &auth, &id, Decision::Reject { reason }).await
}

pub async fn cancel(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<RequestBody>> {
    decide(&app, &auth, &id, Decision::Cancel).await
}
