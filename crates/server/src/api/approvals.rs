//! /v2/approvals (ours: Paxos has approvals only in its dashboard): the
//! policies that guard actions, and the requests approvers decide.

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use stableport_core::approvals::{self, Decision};
use stableport_domain::{ApprovalAction, ApprovalStatus};
use stableport_store::{Act, ApprovalFilter, ApprovalRequest, Order, Policy};
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

fn action(text: &str) -> ApiResult<ApprovalAction> {
    ApprovalAction::parse(text).ok_or_else(|| {
        Problem::not_found(format!(
            "no approval policy {text:?}; policies: {}",
            ApprovalAction::names().join(", ")
        ))
    })
}

/// StableportApprovalPolicy.
#[derive(Serialize)]
pub struct PolicyBody {
    action: &'static str,
    enabled: bool,
    approvals_required: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    updated_by: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    updated_at: Option<String>,
}

fn policy_body(p: Policy) -> PolicyBody {
    PolicyBody {
        action: p.action.as_str(),
        enabled: p.enabled,
        approvals_required: p.approvals_required,
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
    let policy = approvals::policy(&app.core, auth.customer, action(&name)?).await?;
    Ok(Json(policy_body(policy)))
}

#[derive(Deserialize)]
pub struct PolicyRequest {
    enabled: Option<bool>,
    approvals_required: Option<i64>,
}

pub async fn put_policy(
    State(app): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<PolicyRequest>,
) -> ApiResult<Json<PolicyBody>> {
    auth.require(scope::WRITE_APPROVAL)?;
    let policy = Policy {
        customer_id: auth.customer,
        action: action(&name)?,
        enabled: required("enabled", body.enabled)?,
        approvals_required: body.approvals_required.unwrap_or(1),
        updated_by: None,
        updated_at: 0,
    };
    let set = approvals::put_policy(&app.core, auth.customer, auth.user, policy, time::now());
    Ok(Json(policy_body(set.await?)))
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

async fn render(app: &App, r: ApprovalRequest) -> ApiResult<RequestBody> {
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
) -> ApiResult<Json<ListBody<RequestBody>>> {
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
            action(v).map(|a| a.as_str().to_string())
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
    Ok(Json(ListBody {
        items,
        next_page_cursor,
    }))
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
