//! /v2/transfer/fiat-deposit-instructions: bank details and a memo_id that
//! route a wire to a profile.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use stableport_core::deposit_targets::{new_instructions, Owner};
use stableport_domain::network::FiatNetwork;
use stableport_store::{DepositInstructions, Order};
use uuid::Uuid;

use crate::api::common::auth::{scope, Auth};
use crate::api::common::extract::{parse_uuid, JsonBody, Params};
use crate::api::common::fields::{checked_ref_id, created, required, small_metadata};
use crate::api::common::fields::{optional_uuid, target_filter};
use crate::api::common::fields::{parse_fiat_network, routing_type};
use crate::api::common::owned::profile_ref;
use crate::api::common::pagination::ListBody;
use crate::api::common::pagination::{self, Defaults};
use crate::api::common::problem::{ApiResult, Problem};
use crate::api::common::routes::Routes;
use crate::state::AppState;
use crate::time;

pub fn routes(_sandbox: bool) -> Routes {
    Routes::new()
        .get("/transfer/fiat-deposit-instructions", list)
        .post("/transfer/fiat-deposit-instructions", create)
        .get("/transfer/fiat-deposit-instructions/{id}", get)
}

const PAGING: Defaults = Defaults {
    list: "fiat-deposit-instructions",
    limit: 1000,
    max_limit: 1000,
    order: Order::Desc,
};

/// Where the sandbox "bank" receives wires: a real bank's public routing
/// details, so client-side validation passes, and a fixed account.
const BANK_NAME: &str = "Customers Bank";
const ABA_ROUTING: &str = "031302971";
const SWIFT_BIC: &str = "CUSBUS33XXX";
const ACCOUNT_NUMBER: &str = "4040404040";
const HOLDER: &str = "Stableport Sandbox Trust";
const CUBIX_ACCOUNT: &str = "5ab1e500-0000-4000-8000-00000000c0b1";

#[derive(Serialize)]
pub struct InstructionsBody {
    id: Uuid,
    profile_id: Uuid,
    identity_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ref_id: Option<String>,
    status: String,
    memo_id: String,
    fiat_network_instructions: Value,
    fiat_account_owner: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Value>,
    created_at: String,
}

fn network_instructions(i: &DepositInstructions) -> Value {
    let bank_address = json!({ "address1": "40 General Warren Blvd", "city": "Malvern", "province": "PA", "country": "USA", "zip_code": "19355" });
    match i.network {
        FiatNetwork::Cubix => json!({ "cubix": { "account_id": CUBIX_ACCOUNT } }),
        FiatNetwork::Wire => {
            let (kind, number) = match i.routing_number_type.as_deref() {
                Some("SWIFT") => ("SWIFT", SWIFT_BIC),
                _ => ("ABA", ABA_ROUTING),
            };
            json!({ "wire": {
                "account_number": ACCOUNT_NUMBER,
                "routing_details": {
                    "routing_number_type": kind,
                    "routing_number": number,
                    "bank_name": BANK_NAME,
                    "bank_address": bank_address,
                },
                "fiat_account_owner_address": { "address1": "1 Sandbox Plaza", "city": "New York", "province": "NY", "country": "USA", "zip_code": "10001" },
            }})
        }
    }
}

pub fn instructions_body(i: DepositInstructions) -> InstructionsBody {
    InstructionsBody {
        fiat_network_instructions: network_instructions(&i),
        fiat_account_owner: json!({ "institution_details": { "name": HOLDER } }),
        id: i.id,
        profile_id: i.profile_id,
        identity_id: i
            .identity_id
            .unwrap_or_else(|| stableport_domain::ZERO_UUID.to_string()),
        account_id: i.account_id,
        ref_id: i.ref_id,
        status: i.status,
        memo_id: i.memo_id,
        metadata: i.metadata.and_then(|m| serde_json::from_str(&m).ok()),
        created_at: time::format(i.created_at),
    }
}

#[derive(Deserialize)]
pub struct CreateRequest {
    ref_id: Option<String>,
    profile_id: Option<String>,
    identity_id: Option<String>,
    account_id: Option<String>,
    fiat_network: Option<String>,
    routing_number_type: Option<String>,
    metadata: Option<BTreeMap<String, String>>,
}

pub async fn create(
    State(app): State<AppState>,
    auth: Auth,
    JsonBody(body): JsonBody<CreateRequest>,
) -> ApiResult<Json<InstructionsBody>> {
    auth.require(scope::WRITE_FIAT_DEPOSIT_INSTRUCTIONS)?;
    let profile = required("profile_id", body.profile_id)?;
    let network = required("fiat_network", body.fiat_network)?;
    let network = parse_fiat_network("fiat_network", &network)?;
    let routing = routing_type("routing_number_type", network, body.routing_number_type)?;
    let owner = Owner {
        profile: profile_ref("profile_id", &profile)?,
        identity_id: optional_uuid("identity_id", body.identity_id)?,
        account_id: optional_uuid("account_id", body.account_id)?,
        ref_id: checked_ref_id(body.ref_id)?,
        metadata: small_metadata(body.metadata)?,
    };
    let now = time::now();
    let outcome =
        new_instructions(&app.core, auth.customer, owner, (network, routing), now).await?;
    let ref_id = |i: &DepositInstructions| i.ref_id.clone().unwrap_or_default();
    created(
        outcome,
        "fiat deposit instructions",
        ref_id,
        instructions_body,
    )
}

pub async fn get(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<InstructionsBody>> {
    auth.require(scope::READ_FIAT_DEPOSIT_INSTRUCTIONS)?;
    let id = parse_uuid("id", &id)?;
    let found = app
        .core
        .store
        .deposit_instructions(auth.customer, id)
        .await?
        .ok_or_else(|| {
            Problem::not_found(format!(
                "fiat deposit instructions with id {id} not found for customer with id {}",
                auth.customer
            ))
        })?;
    Ok(Json(instructions_body(found)))
}

pub async fn list(
    State(app): State<AppState>,
    auth: Auth,
    params: Params,
) -> ApiResult<ListBody<InstructionsBody>> {
    auth.require(scope::READ_FIAT_DEPOSIT_INSTRUCTIONS)?;
    let filter = target_filter(&params, pagination::page(&params, &app.keys, &PAGING)?)?;
    let rows = app
        .core
        .store
        .list_deposit_instructions(auth.customer, &filter)
        .await?;
    let (rows, next_page_cursor) =
        pagination::finish(&app.keys, PAGING.list, &filter.page, rows, |i| {
            (i.created_at, i.id.to_string())
        });
    Ok(ListBody {
        items: rows.into_iter().map(instructions_body).collect(),
        next_page_cursor,
    })
}
