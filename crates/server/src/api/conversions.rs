//! /v2/conversion/stablecoins: the legacy Stablecoin Conversion API.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use stableport_core::conversions::{self, Convert};
use stableport_domain::ConversionStatus;
use stableport_store::{Conversion, ConversionFilter, Order, TimeRange};
use uuid::Uuid;

use crate::api::common::auth::{scope, Auth};
use crate::api::common::extract::{parse_uuid, JsonBody, Params};
use crate::api::common::fields::{
    asset_field, checked_metadata, checked_ref_id, created, required, uuid_or_zero,
};
use crate::api::common::pagination::ListBody;
use crate::api::common::pagination::{self, Defaults};
use crate::api::common::problem::ApiResult;
use crate::api::common::routes::Routes;
use crate::state::{App, AppState};
use crate::time;

pub fn routes(sandbox: bool) -> Routes {
    let sandbox_routes = Routes::new().post("/sandbox/conversion/stablecoins/{id}/settle", settle);
    Routes::new()
        .get("/conversion/stablecoins", list)
        .post("/conversion/stablecoins", create)
        .get("/conversion/stablecoins/{id}", get)
        .delete("/conversion/stablecoins/{id}", cancel)
        .merge_if(sandbox, sandbox_routes)
}

const PAGING: Defaults = Defaults {
    list: "conversions",
    limit: 100,
    max_limit: 1000,
    order: Order::Desc,
};

#[derive(Serialize)]
pub struct ConversionBody {
    id: Uuid,
    profile_id: Uuid,
    amount: String,
    source_asset: &'static str,
    target_asset: &'static str,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ref_id: Option<String>,
    identity_id: String,
    account_id: String,
    created_at: String,
    updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    settled_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cancelled_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recipient_profile_id: Option<Uuid>,
}

pub fn conversion_body(c: Conversion) -> ConversionBody {
    ConversionBody {
        id: c.id,
        profile_id: c.profile_id,
        amount: c.amount,
        source_asset: c.source_asset.code(),
        target_asset: c.target_asset.code(),
        status: c.status.as_str(),
        ref_id: c.ref_id,
        identity_id: c.identity_id,
        account_id: c.account_id,
        created_at: time::format(c.created_at),
        updated_at: time::format(c.updated_at),
        settled_at: c.settled_at.map(time::format),
        cancelled_at: c.cancelled_at.map(time::format),
        metadata: c.metadata.and_then(|m| serde_json::from_str(&m).ok()),
        recipient_profile_id: c.recipient_profile_id,
    }
}

/// Every field as an option, so a missing one gets our message, not serde's.
#[derive(Deserialize)]
pub struct CreateRequest {
    profile_id: Option<String>,
    amount: Option<String>,
    source_asset: Option<String>,
    target_asset: Option<String>,
    ref_id: Option<String>,
    identity_id: Option<String>,
    account_id: Option<String>,
    metadata: Option<BTreeMap<String, String>>,
    recipient_profile_id: Option<String>,
}

pub async fn create(
    State(app): State<AppState>,
    auth: Auth,
    JsonBody(body): JsonBody<CreateRequest>,
) -> ApiResult<Json<ConversionBody>> {
    auth.require(scope::WRITE_CONVERSION)?;
    let cmd = Convert {
        profile_id: parse_uuid("profile_id", &required("profile_id", body.profile_id)?)?,
        source: asset_field("source_asset", body.source_asset)?,
        target: asset_field("target_asset", body.target_asset)?,
        amount: required("amount", body.amount)?,
        identity_id: uuid_or_zero("identity_id", body.identity_id)?,
        account_id: uuid_or_zero("account_id", body.account_id)?,
        recipient_profile_id: (body.recipient_profile_id)
            .map(|r| parse_uuid("recipient_profile_id", &r))
            .transpose()?,
        ref_id: checked_ref_id(body.ref_id)?,
        metadata: checked_metadata(body.metadata)?,
    };
    let outcome = conversions::create(&app.core, auth.customer, cmd, time::now()).await?;
    let ref_id = |c: &Conversion| c.ref_id.clone().unwrap_or_default();
    created(outcome, "conversion", ref_id, conversion_body)
}

pub async fn get(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ConversionBody>> {
    auth.require(scope::READ_CONVERSION)?;
    let id = parse_uuid("id", &id)?;
    let found = conversions::get(&app.core, auth.customer, id).await?;
    Ok(Json(conversion_body(found)))
}

pub async fn cancel(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ConversionBody>> {
    finish(&app, &auth, &id, ConversionStatus::Cancelled).await
}

/// Sandbox: settles a CREATED conversion now, for `--settlement manual`.
pub async fn settle(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ConversionBody>> {
    finish(&app, &auth, &id, ConversionStatus::Settled).await
}

/// Settles or cancels a CREATED conversion.
async fn finish(
    app: &App,
    auth: &Auth,
    id: &str,
    to: ConversionStatus,
) -> ApiResult<Json<ConversionBody>> {
    auth.require(scope::WRITE_CONVERSION)?;
    let id = parse_uuid("id", id)?;
    let done = conversions::finish(&app.core, auth.customer, id, to, time::now()).await?;
    Ok(Json(conversion_body(done)))
}

pub async fn list(
    State(app): State<AppState>,
    auth: Auth,
    params: Params,
) -> ApiResult<ListBody<ConversionBody>> {
    auth.require(scope::READ_CONVERSION)?;
    let filter = ConversionFilter {
        profile_id: params.uuid("profile_id")?,
        ref_id: params.one("ref_id")?.map(str::to_string),
        created_at: TimeRange {
            gte: params.time("created_at.begin")?,
            lte: params.time("created_at.end")?,
            ..TimeRange::default()
        },
        updated_at: TimeRange {
            gte: params.time("updated_at.begin")?,
            lte: params.time("updated_at.end")?,
            ..TimeRange::default()
        },
        page: pagination::page(&params, &app.keys, &PAGING)?,
    };
    let rows = app
        .core
        .store
        .list_conversions(auth.customer, &filter)
        .await?;
    let (rows, next_page_cursor) =
        pagination::finish(&app.keys, PAGING.list, &filter.page, rows, |c| {
            (c.created_at, c.id.to_string())
        });
    Ok(ListBody {
        items: rows.into_iter().map(conversion_body).collect(),
        next_page_cursor,
    })
}
