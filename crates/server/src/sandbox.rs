//! /v2/sandbox: funding that exists only in sandbox mode.

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use stableport_domain::address::{tx_hash, validate_address};
use stableport_domain::{Amount, Asset};
use stableport_store::{retry_transient, NewDeposit};

use crate::app::AppState;
use crate::auth::{scope, Auth};
use crate::deposit_addresses::parse_network;
use crate::deposits::chain_arrival;
use crate::extract::JsonBody;
use crate::problem::{ApiResult, Problem};
use crate::profiles::owned_profile;

#[derive(Deserialize)]
pub struct DepositRequest {
    asset: Option<String>,
    amount: Option<String>,
    crypto_network: Option<String>,
    /// One of our deposit addresses: the deposit arrives there as a chain
    /// transaction would (its rule converts it). Any other valid address:
    /// the profile is credited.
    crypto_address: Option<String>,
}

pub async fn deposit(
    State(app): State<AppState>,
    auth: Auth,
    Path(profile_id): Path<String>,
    JsonBody(body): JsonBody<DepositRequest>,
) -> ApiResult<Json<Value>> {
    auth.require(scope::READ_PROFILE)?;
    let asset_text = body
        .asset
        .ok_or_else(|| Problem::bad_request("asset is required"))?;
    let asset: Asset = asset_text.parse().map_err(|_| {
        Problem::bad_request(format!(
            "asset: unsupported asset {asset_text:?}; supported: {}",
            Asset::supported_list()
        ))
    })?;
    let amount_text = body
        .amount
        .ok_or_else(|| Problem::bad_request("amount is required"))?;
    let amount = Amount::parse(&amount_text, asset.decimals())
        .map_err(|e| Problem::amount(&e, format!("amount {amount_text:?} {e}")))?;
    let network = match (&body.crypto_network, asset.is_stablecoin()) {
        (Some(_), false) => {
            return Err(Problem::bad_request(
                "crypto_network must be omitted for a fiat deposit",
            ))
        }
        (Some(network), true) => Some(parse_network("crypto_network", network)?),
        (None, _) => None,
    };
    let address = match (network, &body.crypto_address) {
        (Some(network), Some(address)) => Some(
            validate_address(network, address)
                .map_err(|e| Problem::bad_request(format!("crypto_address: {e}")))?,
        ),
        (None, Some(_)) => return Err(Problem::bad_request("crypto_address needs crypto_network")),
        _ => None,
    };
    let profile = owned_profile(&app, &auth, "profile_id", &profile_id).await?;
    let activity_id = stableport_domain::new_id();
    if let (Some(network), Some(address)) = (network, address) {
        let ours = app
            .store
            .deposit_address_at(auth.customer, network, &address)
            .await?;
        if let Some(target) = ours {
            if target.profile_id != profile.id {
                return Err(Problem::bad_request(format!(
                    "crypto_address {address} is a deposit address of profile {}, not of {}",
                    target.profile_id, profile.id
                )));
            }
            let tx_hash = tx_hash(network, activity_id.as_bytes());
            let outcome =
                chain_arrival(&app, &auth, network, address, tx_hash, asset, amount).await?;
            return Ok(Json(json!({ "activity_id": outcome.transfer_id })));
        }
    }
    let deposit = NewDeposit {
        activity_id,
        crypto_network: network.map(|n| n.code().to_string()),
        customer_id: auth.customer,
        profile_id: profile.id,
        asset,
        units: amount.units(asset),
        now: crate::time::now(),
    };
    retry_transient(|| app.store.deposit(&deposit)).await?;
    Ok(Json(json!({ "activity_id": activity_id })))
}
