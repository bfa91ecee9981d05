//! /v2/api-creds/credentials: the customer's API credentials (never their
//! secrets), and deleting one, which refuses its tokens at once.

use axum::extract::{Path, State};
use axum::Json;
use serde::Serialize;
use stableport_core::credentials;
use stableport_store::{Credential, CredentialFilter, Order};
use uuid::Uuid;

use crate::api::common::auth::{scope, Auth};
use crate::api::common::extract::{parse_uuid, Params};
use crate::api::common::fields::many;
use crate::api::common::pagination::{self, Defaults, ListBody};
use crate::api::common::problem::{ApiResult, Problem};
use crate::api::common::routes::Routes;
use crate::state::AppState;
use crate::time;

pub fn routes(_sandbox: bool) -> Routes {
    Routes::new()
        .get("/api-creds/credentials", list)
        .delete("/api-creds/credentials/{client_id}", delete)
}

/// The spec's default is "all records"; at most 1000 a page.
const PAGING: Defaults = Defaults {
    list: "api_credentials",
    limit: 1000,
    max_limit: 1000,
    order: Order::Desc,
};

/// Ids are derived from client ids: stable, and nothing more to store.
const ID_NAMESPACE: Uuid = Uuid::from_u128(0x5ab1_e907_7c3e_4f0a_9d2c_8a41_c0de_cafe);

/// FirstPartyClient.
#[derive(Serialize)]
pub struct CredentialBody {
    id: Uuid,
    customer_id: Uuid,
    client_id: String,
    status: &'static str,
    created_at: String,
    updated_at: String,
    client_scopes: Vec<String>,
}

fn credential_body(c: Credential) -> CredentialBody {
    CredentialBody {
        id: credential_id(&c.client_id),
        customer_id: c.customer_id,
        status: if c.disabled { "DISABLED" } else { "APPROVED" },
        created_at: time::format(c.created_at),
        updated_at: time::format(c.updated_at),
        client_scopes: c
            .scopes
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        client_id: c.client_id,
    }
}

fn credential_id(client_id: &str) -> Uuid {
    Uuid::new_v5(&ID_NAMESPACE, client_id.as_bytes())
}

pub async fn list(
    State(app): State<AppState>,
    auth: Auth,
    params: Params,
) -> ApiResult<ListBody<CredentialBody>> {
    auth.require(scope::READ_CREDENTIALS)?;
    // "0 returns all": as many as a page holds.
    let mut params = params;
    params.drop_if("limit", "0");
    pagination::check_order_by(&params)?;
    let statuses = many(&params, "statuses", status)?;
    let ids = many(&params, "ids", |v| parse_uuid("ids", v))?;
    let filter = CredentialFilter {
        approved: statuses.is_empty() || statuses.contains(&"APPROVED"),
        disabled: statuses.contains(&"DISABLED"),
        client_ids: many(&params, "client_ids", |v| Ok(v.to_string()))?,
        page: pagination::page(&params, &app.keys, &PAGING)?,
    };
    let rows = app
        .core
        .store
        .list_credentials(auth.customer, &filter)
        .await?;
    let (rows, next_page_cursor) =
        pagination::finish(&app.keys, PAGING.list, &filter.page, rows, |c| {
            (c.created_at, c.client_id.clone())
        });
    let wanted = |c: &Credential| ids.is_empty() || ids.contains(&credential_id(&c.client_id));
    Ok(ListBody {
        items: rows
            .into_iter()
            .filter(wanted)
            .map(credential_body)
            .collect(),
        next_page_cursor,
    })
}

fn status(v: &str) -> ApiResult<&'static str> {
    match v {
        "APPROVED" => Ok("APPROVED"),
        "DISABLED" => Ok("DISABLED"),
        _ => Err(Problem::bad_request(format!(
            "statuses {v:?} is not one of APPROVED, DISABLED"
        ))),
    }
}

/// DeleteApiCredentialsResponse.
#[derive(Serialize)]
pub struct DeletedBody {
    credentials: CredentialBody,
}

pub async fn delete(
    State(app): State<AppState>,
    auth: Auth,
    Path(client_id): Path<String>,
) -> ApiResult<Json<DeletedBody>> {
    auth.require(scope::DELETE_CREDENTIALS)?;
    let revoke = credentials::revoke(&app.core, auth.customer, auth.user, &client_id, time::now());
    let revoked = revoke.await?;
    Ok(Json(DeletedBody {
        credentials: credential_body(revoked),
    }))
}
