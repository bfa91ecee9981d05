//! /v2/transfer/deposit-addresses: addresses on a chain that credit a profile.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use stableport_core::deposit_targets::{new_deposit_address, Owner};
use stableport_store::{DepositAddress, Order};
use uuid::Uuid;

use crate::api::common::auth::{scope, Auth};
use crate::api::common::extract::{JsonBody, Params};
use crate::api::common::fields::{checked_ref_id, created, required, small_metadata};
use crate::api::common::fields::{optional_uuid, parse_network, target_filter};
use crate::api::common::owned::profile_ref;
use crate::api::common::pagination::ListBody;
use crate::api::common::pagination::{self, Defaults};
use crate::api::common::problem::ApiResult;
use crate::api::common::routes::Routes;
use crate::state::AppState;
use crate::time;

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
    let profile = required("profile_id", body.profile_id)?;
    let network = required("crypto_network", body.crypto_network)?;
    let owner = Owner {
        profile: profile_ref("profile_id", &profile)?,
        identity_id: optional_uuid("identity_id", body.identity_id)?,
        account_id: optional_uuid("account_id", body.account_id)?,
        ref_id: checked_ref_id(body.ref_id)?,
        metadata: small_metadata(body.metadata)?,
    };
    let address = (
        parse_network("crypto_network", &network)?,
        body.conversion_target_asset,
    );
    let outcome =
        new_deposit_address(&app.core, auth.customer, owner, address, time::now()).await?;
    let ref_id = |a: &DepositAddress| a.ref_id.clone().unwrap_or_default();
    created(outcome, "deposit address", ref_id, deposit_address_body)
}

pub async fn list(
    State(app): State<AppState>,
    auth: Auth,
    params: Params,
) -> ApiResult<ListBody<DepositAddressBody>> {
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
    Ok(ListBody {
        items: rows.into_iter().map(deposit_address_body).collect(),
        next_page_cursor,
    })
}
