//! /v2/transfer/deposit-addresses: addresses on a chain that credit a profile.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use stableport_store::{DepositAddress, Inserted, Order};
use uuid::Uuid;

use crate::api::common::auth::{scope, Auth};
use crate::api::common::extract::{JsonBody, Params};
use crate::api::common::fields::{already_exists, checked_ref_id, required, small_metadata};
use crate::api::common::fields::{optional_uuid, parse_network, target_filter};
use crate::api::common::owned::owned_profile;
use crate::api::common::pagination::ListBody;
use crate::api::common::pagination::{self, Defaults};
use crate::api::common::problem::{ApiResult, Problem};
use crate::api::common::routes::Routes;
use crate::state::AppState;
use crate::time;
use stableport_core::issued::new_address;

pub fn routes(_sandbox: bool) -> Routes {
    Routes::new()
        .get("/transfer/deposit-addresses", list)
        .post("/transfer/deposit-addresses", create)
}

const PAGING: Defaults = Defaults {
    list: "deposit-addresses",
    limit: 100,
    max_limit: 1000,
    order: Order::Desc,
};

#[derive(Serialize)]
pub struct DepositAddressBody {
    id: Uuid,
    profile_id: Uuid,
    customer_id: Uuid,
    crypto_network: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    identity_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ref_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Value>,
    address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_id: Option<String>,
    conversion_target_asset: String,
    compatible_crypto_networks: Vec<&'static str>,
    created_at: String,
}

pub fn deposit_address_body(a: DepositAddress) -> DepositAddressBody {
    DepositAddressBody {
        id: a.id,
        profile_id: a.profile_id,
        customer_id: a.customer_id,
        crypto_network: a.network.code(),
        identity_id: a.identity_id,
        ref_id: a.ref_id,
        metadata: a.metadata.and_then(|m| serde_json::from_str(&m).ok()),
        address: a.address,
        account_id: a.account_id,
        conversion_target_asset: a.conversion_target_asset,
        compatible_crypto_networks: vec![a.network.code()],
        created_at: time::format(a.created_at),
    }
}

#[derive(Deserialize)]
pub struct CreateRequest {
    profile_id: Option<String>,
    crypto_network: Option<String>,
    identity_id: Option<String>,
    account_id: Option<String>,
    ref_id: Option<String>,
    metadata: Option<BTreeMap<String, String>>,
    conversion_target_asset: Option<String>,
}

pub async fn create(
    State(app): State<AppState>,
    auth: Auth,
    JsonBody(body): JsonBody<CreateRequest>,
) -> ApiResult<Json<DepositAddressBody>> {
    auth.require(scope::WRITE_DEPOSIT_ADDRESS)?;
    let profile_raw = required("profile_id", body.profile_id)?;
    let network = parse_network(
        "crypto_network",
        &required("crypto_network", body.crypto_network)?,
    )?;
    let conversion_target_asset = match body.conversion_target_asset.as_deref() {
        None | Some("NO_CONVERSION") => "NO_CONVERSION",
        Some("USD") => "USD",
        Some(other) => {
            return Err(Problem::bad_request(format!(
                "conversion_target_asset must be NO_CONVERSION or USD, got {other:?}"
            )))
        }
    };
    let address = DepositAddress {
        id: stableport_domain::new_id(),
        customer_id: auth.customer,
        profile_id: Uuid::nil(),
        identity_id: optional_uuid("identity_id", body.identity_id)?,
        account_id: optional_uuid("account_id", body.account_id)?,
        ref_id: checked_ref_id(body.ref_id)?,
        network,
        address: String::new(),
        conversion_target_asset: conversion_target_asset.into(),
        metadata: small_metadata(body.metadata)?,
        rule_id: None,
        created_at: time::now(),
    };
    let profile = owned_profile(&app, &auth, "profile_id", &profile_raw).await?;
    let address = DepositAddress {
        profile_id: profile.id,
        address: new_address(address.id, network),
        ..address
    };
    match app.core.store.create_deposit_address(&address).await? {
        Inserted::Created(a) => Ok(Json(deposit_address_body(a))),
        Inserted::RefIdExists(existing) => Err(already_exists(
            "deposit address",
            &existing.ref_id.clone().unwrap_or_default(),
            serde_json::to_value(deposit_address_body(existing)).map_err(Problem::internal)?,
        )),
    }
}

pub async fn list(
    State(app): State<AppState>,
    auth: Auth,
    params: Params,
) -> ApiResult<Json<ListBody<DepositAddressBody>>> {
    auth.require(scope::READ_DEPOSIT_ADDRESS)?;
    let filter = target_filter(&params, pagination::page(&params, &app.keys, &PAGING)?)?;
    let rows = app
        .core
        .store
        .list_deposit_addresses(auth.customer, &filter)
        .await?;
    let (rows, next_page_cursor) =
        pagination::finish(&app.keys, PAGING.list, &filter.page, rows, |a| {
            (a.created_at, a.id.to_string())
        });
    Ok(Json(ListBody {
        items: rows.into_iter().map(deposit_address_body).collect(),
        next_page_cursor,
    }))
}
