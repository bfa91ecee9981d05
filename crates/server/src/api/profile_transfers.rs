//! /v2/transfer/internal and /v2/transfer/paxos: between two of the
//! caller's profiles, or to another customer's profile, at once.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use stableport_core::profile_transfers::{self, Between, Move};
use stableport_core::withdrawals::Requester;

use crate::api::common::auth::{scope, Auth};
use crate::api::common::extract::{parse_uuid, JsonBody};
use crate::api::common::fields::{
    asset_field, checked_ref_id, optional_uuid, required, small_metadata,
};
use crate::api::common::problem::ApiResult;
use crate::api::common::routes::Routes;
use crate::api::transfers::TransferBody;
use crate::api::withdrawals::answer;
use crate::state::AppState;
use crate::time;

pub fn routes(_sandbox: bool) -> Routes {
    Routes::new()
        .post("/transfer/internal", internal)
        .post("/transfer/paxos", paxos)
}

/// CreateInternalTransferRequest and CreatePaxosTransferRequest: the same fields.
#[derive(Deserialize)]
pub struct MoveRequest {
    ref_id: Option<String>,
    from_profile_id: Option<String>,
    to_profile_id: Option<String>,
    amount: Option<String>,
    asset: Option<String>,
    metadata: Option<BTreeMap<String, String>>,
    recipient_metadata: Option<BTreeMap<String, String>>,
    from_identity_id: Option<String>,
    from_account_id: Option<String>,
    to_identity_id: Option<String>,
    to_account_id: Option<String>,
}

pub async fn internal(
    State(app): State<AppState>,
    auth: Auth,
    JsonBody(body): JsonBody<MoveRequest>,
) -> ApiResult<Json<TransferBody>> {
    auth.require(scope::WRITE_INTERNAL_TRANSFER)?;
    let cmd = parse(body, Between::OwnProfiles)?;
    answer(profile_transfers::create(&app.core, auth.customer, cmd, time::now()).await?)
}

pub async fn paxos(
    State(app): State<AppState>,
    auth: Auth,
    JsonBody(body): JsonBody<MoveRequest>,
) -> ApiResult<Json<TransferBody>> {
    auth.require(scope::WRITE_PAXOS_TRANSFER)?;
    let cmd = parse(body, Between::Customers)?;
    answer(profile_transfers::create(&app.core, auth.customer, cmd, time::now()).await?)
}

fn parse(body: MoveRequest, between: Between) -> ApiResult<Move> {
    let from = required("from_profile_id", body.from_profile_id)?;
    let to = required("to_profile_id", body.to_profile_id)?;
    Ok(Move {
        between,
        by: Requester {
            ref_id: checked_ref_id(body.ref_id)?,
            identity_id: optional_uuid("from_identity_id", body.from_identity_id)?,
            account_id: optional_uuid("from_account_id", body.from_account_id)?,
            metadata: small_metadata(body.metadata)?,
            fields: ("from_identity_id", "from_account_id"),
            user: None,
        },
        from: parse_uuid("from_profile_id", &from)?,
        to: parse_uuid("to_profile_id", &to)?,
        asset: asset_field("asset", body.asset)?,
        amount: required("amount", body.amount)?,
        to_identity_id: optional_uuid("to_identity_id", body.to_identity_id)?,
        to_account_id: optional_uuid("to_account_id", body.to_account_id)?,
        recipient_metadata: small_metadata(body.recipient_metadata)?,
    })
}
