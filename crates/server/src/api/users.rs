//! /v2/users (ours: Paxos manages users in its dashboard): the people of a
//! customer and their roles, who submit and approve.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use stableport_core::users::{self, NewUser, RolesChange};
use stableport_domain::Role;
use stableport_store::{Order, User, UserFilter};
use uuid::Uuid;

use crate::api::common::auth::{scope, Auth};
use crate::api::common::extract::{parse_uuid, JsonBody, Params};
use crate::api::common::fields::{bool_param, required};
use crate::api::common::pagination::{self, Defaults, ListBody};
use crate::api::common::problem::{ApiResult, Problem};
use crate::api::common::routes::Routes;
use crate::state::AppState;
use crate::time;

pub fn routes(_sandbox: bool) -> Routes {
    Routes::new()
        .get("/users", list)
        .post("/users", create)
        .get("/users/{id}", get)
        .put("/users/{id}/disable", disable)
        .put("/users/{id}/roles", assign_roles)
}

const PAGING: Defaults = Defaults {
    list: "users",
    limit: 100,
    max_limit: 1000,
    order: Order::Desc,
};

/// StableportUser: never the password or its hash.
#[derive(Serialize)]
pub struct UserBody {
    id: Uuid,
    customer_id: Uuid,
    email: String,
    roles: Vec<&'static str>,
    status: &'static str,
    created_at: String,
    updated_at: String,
    /// Only in the answer to a create that generated it: shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<String>,
    /// Only in the answer to a create whose roles await approval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pending_roles: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    approval_request_id: Option<Uuid>,
}

fn user_body(u: User, password: Option<String>) -> UserBody {
    UserBody {
        id: u.id,
        customer_id: u.customer_id,
        email: u.email,
        roles: u.roles.iter().map(|r| r.as_str()).collect(),
        status: if u.disabled { "DISABLED" } else { "ACTIVE" },
        created_at: time::format(u.created_at),
        updated_at: time::format(u.updated_at),
        password,
        pending_roles: None,
        approval_request_id: None,
    }
}

#[derive(Deserialize)]
pub struct CreateRequest {
    email: Option<String>,
    roles: Option<Vec<String>>,
    password: Option<String>,
}

pub fn parse_role(text: &str) -> ApiResult<Role> {
    Role::parse(text).ok_or_else(|| {
        Problem::bad_request(format!(
            "roles: {text:?} is not one of {}",
            Role::names().join(", ")
        ))
    })
}

pub async fn create(
    State(app): State<AppState>,
    auth: Auth,
    JsonBody(body): JsonBody<CreateRequest>,
) -> ApiResult<Json<UserBody>> {
    auth.require(scope::WRITE_USER)?;
    let roles = required("roles", body.roles)?;
    let new = NewUser {
        email: required("email", body.email)?,
        roles: roles
            .iter()
            .map(|r| parse_role(r))
            .collect::<ApiResult<_>>()?,
        password: body.password,
    };
    let asked: Vec<&'static str> = new.roles.iter().map(|r| r.as_str()).collect();
    let made = users::create(&app.core, auth.customer, auth.user, new, time::now()).await?;
    let mut body = user_body(made.user, made.generated_password);
    if let Some(request) = made.request {
        body.pending_roles = Some(asked);
        body.approval_request_id = Some(request.id);
    }
    Ok(Json(body))
}

pub async fn get(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<UserBody>> {
    auth.require(scope::READ_USER)?;
    let id = parse_uuid("id", &id)?;
    let user = users::find(&app.core, auth.customer, id).await?;
    Ok(Json(user_body(user, None)))
}

pub async fn list(
    State(app): State<AppState>,
    auth: Auth,
    params: Params,
) -> ApiResult<ListBody<UserBody>> {
    auth.require(scope::READ_USER)?;
    pagination::check_order_by(&params)?;
    let filter = UserFilter {
        include_disabled: bool_param(&params, "include_disabled")?.unwrap_or(false),
        page: pagination::page(&params, &app.keys, &PAGING)?,
    };
    let rows = app.core.store.list_users(auth.customer, &filter).await?;
    let (rows, next_page_cursor) =
        pagination::finish(&app.keys, PAGING.list, &filter.page, rows, |u| {
            (u.created_at, u.id.to_string())
        });
    Ok(ListBody {
        items: rows.into_iter().map(|u| user_body(u, None)).collect(),
        next_page_cursor,
    })
}

/// Disables a user; its credentials stop working at once.
pub async fn disable(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<UserBody>> {
    auth.require(scope::WRITE_USER)?;
    let id = parse_uuid("id", &id)?;
    let user = users::disable(&app.core, auth.customer, id, time::now()).await?;
    Ok(Json(user_body(user, None)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolesRequest {
    roles: Option<Vec<String>>,
}

/// 200 with the user and its new roles, or 202 with the request that
/// proposes them under an enabled ASSIGN_USER_ROLES policy.
pub async fn assign_roles(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RolesRequest>,
) -> ApiResult<Response> {
    auth.require(scope::WRITE_USER)?;
    let id = parse_uuid("id", &id)?;
    let roles = required("roles", body.roles)?;
    let roles = roles
        .iter()
        .map(|r| parse_role(r))
        .collect::<ApiResult<_>>()?;
    let change = users::assign_roles(&app.core, auth.customer, auth.user, id, roles, time::now());
    Ok(match change.await? {
        RolesChange::Set(user) => Json(user_body(user, None)).into_response(),
        RolesChange::Proposed(request) => {
            let body = crate::api::approvals::render(&app, request).await?;
            (StatusCode::ACCEPTED, Json(body)).into_response()
        }
    })
}
