//! /v2/transfer/crypto-withdrawals, /v2/transfer/fiat-withdrawals and
//! /v2/transfer/fees/crypto-withdrawal: money leaving for a chain or a bank,
//! answered with the PENDING transfer; plus the sandbox calls that complete
//! or fail a PENDING one on demand.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use stableport_core::withdrawals::{self, CryptoWithdraw, Decision, FiatWithdraw, Requester, Size};
use stableport_core::{fees, Created};
use stableport_domain::amount::format_units;
use stableport_store::{Fee, Transfer};

use crate::api::common::auth::{scope, Auth};
use crate::api::common::extract::{parse_uuid, JsonBody};
use crate::api::common::fields::{
    asset_field, checked_ref_id, created, optional_uuid, parse_network, required, small_metadata,
};
use crate::api::common::problem::{ApiResult, Problem};
use crate::api::common::routes::Routes;
use crate::api::transfers::{transfer_body, TransferBody};
use crate::state::AppState;
use crate::time;

pub fn routes(sandbox: bool) -> Routes {
    let sandbox_routes = Routes::new()
        .post("/sandbox/transfer/transfers/{id}/complete", complete)
        .post("/sandbox/transfer/transfers/{id}/fail", fail);
    Routes::new()
        .post("/transfer/crypto-withdrawals", crypto)
        .post("/transfer/fiat-withdrawals", fiat)
        .post("/transfer/fees/crypto-withdrawal", quote_fee)
        .merge_if(sandbox, sandbox_routes)
}

/// Exactly one of `amount` and `total`.
pub fn size(amount: Option<String>, total: Option<String>) -> ApiResult<Size> {
    match (amount, total) {
        (Some(a), None) => Ok(Size::Amount(a)),
        (None, Some(t)) => Ok(Size::Total(t)),
        _ => Err(Problem::bad_request(
            "amount, total: specify exactly one of amount or total",
        )),
    }
}

fn requester(
    auth: &Auth,
    ref_id: Option<String>,
    identity_id: Option<String>,
    account_id: Option<String>,
    metadata: Option<BTreeMap<String, String>>,
) -> ApiResult<Requester> {
    Ok(Requester {
        ref_id: checked_ref_id(ref_id)?,
        identity_id: optional_uuid("identity_id", identity_id)?,
        account_id: optional_uuid("account_id", account_id)?,
        metadata: small_metadata(metadata)?,
        fields: ("identity_id", "account_id"),
        user: auth.user,
    })
}

/// The new transfer, or the 409 carrying the one a ref_id made before.
pub fn answer(outcome: Created<Transfer>) -> ApiResult<Json<TransferBody>> {
    let ref_id = |t: &Transfer| t.ref_id.clone().unwrap_or_default();
    created(outcome, "transfer", ref_id, transfer_body)
}

#[derive(Deserialize)]
pub struct CryptoRequest {
    ref_id: Option<String>,
    profile_id: Option<String>,
    identity_id: Option<String>,
    account_id: Option<String>,
    destination_address: Option<String>,
    asset: Option<String>,
    balance_asset: Option<String>,
    metadata: Option<BTreeMap<String, String>>,
    fee_id: Option<String>,
    crypto_network: Option<String>,
    amount: Option<String>,
    total: Option<String>,
    memo: Option<String>,
}

pub async fn crypto(
    State(app): State<AppState>,
    auth: Auth,
    JsonBody(body): JsonBody<CryptoRequest>,
) -> ApiResult<Json<TransferBody>> {
    auth.require(scope::WRITE_CRYPTO_WITHDRAWAL)?;
    let network = required("crypto_network", body.crypto_network)?;
    let cmd = CryptoWithdraw {
        by: requester(
            &auth,
            body.ref_id,
            body.identity_id,
            body.account_id,
            body.metadata,
        )?,
        profile: parse_uuid("profile_id", &required("profile_id", body.profile_id)?)?,
        asset: asset_field("asset", body.asset)?,
        balance_asset: body
            .balance_asset
            .map(|b| asset_field("balance_asset", Some(b)))
            .transpose()?,
        network: parse_network("crypto_network", &network)?,
        destination_address: required("destination_address", body.destination_address)?,
        size: size(body.amount, body.total)?,
        fee_id: body.fee_id.map(|f| parse_uuid("fee_id", &f)).transpose()?,
        memo: body.memo,
    };
    answer(withdrawals::crypto(&app.core, auth.customer, cmd, time::now()).await?)
}

#[derive(Deserialize)]
pub struct FiatRequest {
    ref_id: Option<String>,
    amount: Option<String>,
    total: Option<String>,
    asset: Option<String>,
    fiat_account_id: Option<String>,
    profile_id: Option<String>,
    identity_id: Option<String>,
    account_id: Option<String>,
    metadata: Option<BTreeMap<String, String>>,
    memo: Option<String>,
}

pub async fn fiat(
    State(app): State<AppState>,
    auth: Auth,
    JsonBody(body): JsonBody<FiatRequest>,
) -> ApiResult<Json<TransferBody>> {
    auth.require(scope::WRITE_FIAT_WITHDRAWAL)?;
    let account = required("fiat_account_id", body.fiat_account_id)?;
    let cmd = FiatWithdraw {
        by: requester(
            &auth,
            body.ref_id,
            body.identity_id,
            body.account_id,
            body.metadata,
        )?,
        profile: parse_uuid("profile_id", &required("profile_id", body.profile_id)?)?,
        asset: asset_field("asset", body.asset)?,
        fiat_account: parse_uuid("fiat_account_id", &account)?,
        size: size(body.amount, body.total)?,
        memo: body.memo,
    };
    answer(withdrawals::fiat(&app.core, auth.customer, cmd, time::now()).await?)
}

#[derive(Deserialize)]
pub struct FeeRequest {
    asset: Option<String>,
    destination_address: Option<String>,
    crypto_network: Option<String>,
    amount: Option<String>,
    total: Option<String>,
}

/// CryptoWithdrawalFee.
#[derive(Serialize)]
pub struct FeeBody {
    id: uuid::Uuid,
    fee: String,
    asset: &'static str,
    expires_at: String,
    destination_address: String,
    crypto_network: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    amount: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<String>,
}

fn fee_body(f: Fee) -> FeeBody {
    FeeBody {
        id: f.id,
        fee: format_units(f.fee_units, f.asset),
        asset: f.asset.code(),
        expires_at: time::format(f.expires_at),
        destination_address: f.destination_address,
        crypto_network: f.crypto_network,
        amount: f.amount,
        total: f.total,
    }
}

pub async fn quote_fee(
    State(app): State<AppState>,
    auth: Auth,
    JsonBody(body): JsonBody<FeeRequest>,
) -> ApiResult<Json<FeeBody>> {
    auth.require(scope::WRITE_CRYPTO_WITHDRAWAL_FEE)?;
    let network = required("crypto_network", body.crypto_network)?;
    let q = fees::Quote {
        asset: asset_field("asset", body.asset)?,
        network: parse_network("crypto_network", &network)?,
        destination_address: required("destination_address", body.destination_address)?,
        size: size(body.amount, body.total)?,
    };
    let fee = fees::quote(&app.core, auth.customer, q, time::now()).await?;
    Ok(Json(fee_body(fee)))
}

/// Sandbox: sends a PENDING withdrawal now.
pub async fn complete(
    state: State<AppState>,
    auth: Auth,
    id: Path<String>,
) -> ApiResult<Json<TransferBody>> {
    decide(state, auth, id, Decision::Complete).await
}

/// Sandbox: fails a PENDING withdrawal now, refunding it.
pub async fn fail(
    state: State<AppState>,
    auth: Auth,
    id: Path<String>,
) -> ApiResult<Json<TransferBody>> {
    decide(state, auth, id, Decision::Fail).await
}

async fn decide(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    decision: Decision,
) -> ApiResult<Json<TransferBody>> {
    auth.require(scope::READ_TRANSFER)?;
    let id = parse_uuid("id", &id)?;
    let done = withdrawals::decide(&app.core, auth.customer, id, decision, time::now()).await?;
    Ok(Json(transfer_body(done)))
}
