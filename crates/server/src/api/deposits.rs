//! Sandbox: money arriving from outside. `POST /v2/sandbox/fiat-deposits`
//! as Paxos has it (matched by memo_id), and its crypto equivalent of ours,
//! `POST /v2/sandbox/crypto-deposits` (matched by network and address).
//! Either credits the profile once per wire reference or transaction hash,
//! and starts the orchestration of the rule it reached.

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use stableport_core::deposits::{self, DepositOutcome};
use stableport_domain::address::validate_address;
use stableport_domain::{Amount, Asset};

use crate::api::common::auth::{scope, Auth};
use crate::api::common::extract::JsonBody;
use crate::api::common::fields::{asset_field, parse_network, required};
use crate::api::common::owned::profile_ref;
use crate::api::common::problem::{ApiResult, Problem};
use crate::api::common::routes::Routes;
use crate::state::AppState;
use crate::time;

pub fn routes(sandbox: bool) -> Routes {
    let sandbox_routes = Routes::new()
        .post("/sandbox/fiat-deposits", fiat)
        .post("/sandbox/crypto-deposits", crypto)
        .post("/sandbox/profiles/{profile_id}/deposit", deposit);
    Routes::new().merge_if(sandbox, sandbox_routes)
}

const MAX_REFERENCE: usize = 128;

fn amount_field(text: Option<String>, asset: Asset) -> ApiResult<Amount> {
    let text = required("amount", text)?;
    Amount::parse(&text, asset.decimals())
        .map_err(|e| Problem::amount(&e, format!("amount {text:?} {e}")))
}

fn reference_field(field: &str, text: Option<String>) -> ApiResult<Option<String>> {
    match text {
        Some(t) if t.trim().is_empty() || t.chars().count() > MAX_REFERENCE => Err(
            Problem::bad_request(format!("{field} must be 1 to {MAX_REFERENCE} characters")),
        ),
        other => Ok(other),
    }
}

fn outcome_json(o: DepositOutcome) -> Value {
    json!({ "transfer_id": o.transfer_id, "orchestration_id": o.orchestration_id, "duplicate": o.duplicate })
}

#[derive(Deserialize)]
pub struct FiatRequest {
    amount: Option<String>,
    asset: Option<String>,
    memo_id: Option<String>,
    fiat_network_instructions: Option<Value>,
    /// Ours: the wire's reference; the same reference is credited once.
    wire_reference: Option<String>,
}

/// Responds `{}` as Paxos does; our additions stay out of the way of clients
/// that compare the body.
pub async fn fiat(
    State(app): State<AppState>,
    auth: Auth,
    JsonBody(body): JsonBody<FiatRequest>,
) -> ApiResult<Json<Value>> {
    auth.require(scope::WRITE_SANDBOX_FIAT_DEPOSIT)?;
    let asset = asset_field("asset", body.asset)?;
    if asset != Asset::Usd {
        return Err(Problem::bad_request(format!(
            "asset must be USD for a fiat deposit, got {asset}"
        )));
    }
    let amount = amount_field(body.amount, asset)?;
    let memo_id = required("memo_id", body.memo_id)?;
    match body.fiat_network_instructions {
        Some(Value::Object(map)) if map.keys().any(|k| k == "wire" || k == "cubix") => {}
        Some(_) => {
            return Err(Problem::bad_request(
                "fiat_network_instructions must hold the sender's wire or cubix details",
            ))
        }
        None => return Err(Problem::bad_request("fiat network instructions required")),
    }
    let reference = reference_field("wire_reference", body.wire_reference)?;
    let now = time::now();
    let outcome = deposits::wire(
        &app.core,
        auth.customer,
        memo_id,
        reference,
        (asset, amount),
        now,
    )
    .await?;
    tracing::debug!(?outcome, "sandbox fiat deposit");
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub struct CryptoRequest {
    crypto_network: Option<String>,
    address: Option<String>,
    asset: Option<String>,
    amount: Option<String>,
    crypto_tx_hash: Option<String>,
}

/// Returns `{transfer_id, orchestration_id, duplicate}`.
pub async fn crypto(
    State(app): State<AppState>,
    auth: Auth,
    JsonBody(body): JsonBody<CryptoRequest>,
) -> ApiResult<Json<Value>> {
    auth.require(scope::WRITE_SANDBOX_FIAT_DEPOSIT)?;
    let network = parse_network(
        "crypto_network",
        &required("crypto_network", body.crypto_network)?,
    )?;
    let address = required("address", body.address)?;
    // Addresses are stored in their canonical form (EIP-55 on EVM networks).
    let address = validate_address(network, &address)
        .map_err(|e| Problem::bad_request(format!("address: {e}")))?;
    let asset = asset_field("asset", body.asset)?;
    if !asset.is_stablecoin() {
        return Err(Problem::bad_request(
            "asset must be a stablecoin for a crypto deposit",
        ));
    }
    let amount = amount_field(body.amount, asset)?;
    let tx_hash = reference_field(
        "crypto_tx_hash",
        Some(required("crypto_tx_hash", body.crypto_tx_hash)?),
    )?
    .unwrap_or_default();
    let chained = (network, address, tx_hash);
    let now = time::now();
    let outcome = deposits::chain(&app.core, auth.customer, chained, (asset, amount), now).await?;
    Ok(Json(outcome_json(outcome)))
}

/// POST /v2/sandbox/profiles/{profile_id}/deposit: Paxos's sandbox deposit.
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
    let asset = asset_field("asset", body.asset)?;
    let amount = amount_field(body.amount, asset)?;
    let on_chain = match (body.crypto_network, asset.is_stablecoin()) {
        (Some(_), false) => {
            return Err(Problem::bad_request(
                "crypto_network must be omitted for a fiat deposit",
            ))
        }
        (Some(network), true) => {
            let network = parse_network("crypto_network", &network)?;
            let address = (body.crypto_address)
                .map(|a| validate_address(network, &a))
                .transpose()
                .map_err(|e| Problem::bad_request(format!("crypto_address: {e}")))?;
            Some((network, address))
        }
        (None, _) if body.crypto_address.is_some() => {
            return Err(Problem::bad_request("crypto_address needs crypto_network"))
        }
        (None, _) => None,
    };
    let profile = profile_ref("profile_id", &profile_id)?;
    let (customer, now) = (auth.customer, time::now());
    let activity_id =
        deposits::to_profile(&app.core, customer, profile, on_chain, (asset, amount), now).await?;
    Ok(Json(json!({ "activity_id": activity_id })))
}
