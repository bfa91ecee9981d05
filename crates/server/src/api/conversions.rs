//! /v2/conversion/stablecoins: the legacy Stablecoin Conversion API.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use stableport_domain::conversion::{check_pair, pair_decimals};
use stableport_domain::{Amount, ConversionStatus};
use stableport_store::{
    retry_transient, Conversion, ConversionFilter, CreateOutcome, NewConversion, Order, StoreError,
    TimeRange,
};
use uuid::Uuid;

use crate::api::common::auth::{scope, Auth};
use crate::api::common::extract::{parse_uuid, JsonBody, Params};
use crate::api::common::fields::{
    already_exists, asset_field, checked_metadata, checked_ref_id, insufficient_funds, required,
    uuid_or_zero,
};
use crate::api::common::owned::check_profile;
use crate::api::common::pagination::ListBody;
use crate::api::common::pagination::{self, Defaults};
use crate::api::common::problem::{ApiResult, Problem};
use crate::api::common::routes::Routes;
use crate::config::Settlement;
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
    let profile_text = required("profile_id", body.profile_id)?;
    let profile_id = parse_uuid("profile_id", &profile_text)?;
    let source = asset_field("source_asset", body.source_asset)?;
    let target = asset_field("target_asset", body.target_asset)?;
    check_pair(source, target).map_err(|e| Problem::bad_request(e.to_string()))?;
    let amount_text = required("amount", body.amount)?;
    let amount = Amount::parse(&amount_text, pair_decimals(source, target)).map_err(|e| {
        Problem::amount(
            &e,
            format!("amount {amount_text:?} {e} for {source} -> {target}"),
        )
    })?;
    let identity_id = uuid_or_zero("identity_id", body.identity_id)?;
    let account_id = uuid_or_zero("account_id", body.account_id)?;
    let recipient = body
        .recipient_profile_id
        .map(|r| parse_uuid("recipient_profile_id", &r))
        .transpose()?;
    let ref_id = checked_ref_id(body.ref_id)?;
    let metadata = checked_metadata(body.metadata)?;
    check_profile(&app, &auth, "profile_id", profile_id).await?;
    if let Some(recipient) = recipient {
        check_profile(&app, &auth, "recipient_profile_id", recipient).await?;
    }

    let now = time::now();
    let settle_after = match app.config.settlement() {
        Settlement::After(delay) => {
            Some(now.saturating_add(i64::try_from(delay.as_micros()).unwrap_or(i64::MAX)))
        }
        Settlement::Manual => None,
    };
    let request = NewConversion {
        id: stableport_domain::new_id(),
        customer_id: auth.customer,
        profile_id,
        recipient_profile_id: recipient,
        amount: amount.to_string(),
        source_asset: source,
        target_asset: target,
        source_units: amount.units(source),
        target_units: amount.units(target),
        ref_id,
        identity_id,
        account_id,
        metadata,
        now,
        settle_after,
    };
    match app.conversions.submit(request.clone()).await? {
        CreateOutcome::Created(c) => Ok(Json(conversion_body(c))),
        CreateOutcome::InsufficientFunds { available } => Err(insufficient_funds(
            request.source_asset,
            request.profile_id,
            &request.amount,
            available,
        )),
        CreateOutcome::RefIdExists(existing) => Err(already_exists(
            "conversion",
            &existing.ref_id.clone().unwrap_or_default(),
            serde_json::to_value(conversion_body(*existing)).map_err(Problem::internal)?,
        )),
    }
}

fn not_found(id: Uuid, customer: Uuid) -> Problem {
    Problem::not_found(format!(
        "conversion with id {id} not found for customer with id {customer}"
    ))
}

/// Maps a refused settle or cancel to the problem a client sees.
fn transition_problem(e: StoreError, id: Uuid, customer: Uuid, verb: &str) -> Problem {
    match e {
        StoreError::NotFound => not_found(id, customer),
        StoreError::NotPending(status) => Problem::conflict(format!(
            "conversion {id} is {status} and cannot be {verb}; only a CREATED conversion can"
        )),
        other => other.into(),
    }
}

pub async fn get(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ConversionBody>> {
    auth.require(scope::READ_CONVERSION)?;
    let id = parse_uuid("id", &id)?;
    let found = app.store.conversion(auth.customer, id).await?;
    Ok(Json(conversion_body(
        found.ok_or_else(|| not_found(id, auth.customer))?,
    )))
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
    let now = time::now();
    let settle = to == ConversionStatus::Settled;
    let result = retry_transient(|| async {
        match settle {
            true => app.store.settle_conversion(auth.customer, id, now).await,
            false => app.store.cancel_conversion(auth.customer, id, now).await,
        }
    })
    .await;
    let verb = if settle { "settled" } else { "cancelled" };
    result
        .map(|c| Json(conversion_body(c)))
        .map_err(|e| transition_problem(e, id, auth.customer, verb))
}

pub async fn list(
    State(app): State<AppState>,
    auth: Auth,
    params: Params,
) -> ApiResult<Json<ListBody<ConversionBody>>> {
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
    let rows = app.store.list_conversions(auth.customer, &filter).await?;
    let (rows, next_page_cursor) =
        pagination::finish(&app.keys, PAGING.list, &filter.page, rows, |c| {
            (c.created_at, c.id.to_string())
        });
    Ok(Json(ListBody {
        items: rows.into_iter().map(conversion_body).collect(),
        next_page_cursor,
    }))
}
