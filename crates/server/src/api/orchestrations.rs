//! /v2/orchestration/orchestrations: move and convert funds from a profile
//! to a profile, a bank account or a crypto address.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use stableport_core::orchestrations::{self, Orchestrate};
use stableport_core::Created;
use stableport_domain::orchestration::OrchestrationStatus;
use stableport_domain::Asset;
use stableport_store::{Destination, Orchestration, OrchestrationFilter, Order, RuleSource};
use uuid::Uuid;

use crate::api::common::auth::{scope, Auth};
use crate::api::common::destinations::Chosen;
use crate::api::common::extract::{parse_uuid, JsonBody, Params};
use crate::api::common::fields::{
    already_exists, asset_field, checked_metadata, checked_ref_id, many, required, uuid_or_zero,
};
use crate::api::common::keys::Keys;
use crate::api::common::owned::profile_ref;
use crate::api::common::pagination::{self, Defaults};
use crate::api::common::problem::{ApiResult, Problem};
use crate::api::common::routes::Routes;
use crate::state::{App, AppState};
use crate::time;

pub fn routes(sandbox: bool) -> Routes {
    let sandbox_routes = Routes::new().post(
        "/sandbox/orchestration/orchestrations/{id}/release",
        release,
    );
    Routes::new()
        .get("/orchestration/orchestrations", list)
        .post("/orchestration/orchestrations", create)
        .get("/orchestration/orchestrations/{id}", get)
        .merge_if(sandbox, sandbox_routes)
}

const PAGING: Defaults = Defaults {
    list: "orchestrations",
    limit: 100,
    max_limit: 1000,
    order: Order::Desc,
};

#[derive(Serialize)]
pub struct OrchestrationBody {
    id: Uuid,
    profile_id: Uuid,
    identity_id: String,
    account_id: String,
    customer_id: Uuid,
    ref_id: String,
    source_asset: &'static str,
    destination_asset: &'static str,
    source_amount: String,
    source_transfer: Value,
    destination_transfer: Value,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    fail_reason: Option<Value>,
    source: Value,
    destination: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    orchestration_rule_id: Option<Uuid>,
    created_at: String,
    updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Value>,
}

/// Where rule-triggered orchestrations' money came from, by rule id: the
/// rule's deposit address (`source.crypto`) or instructions (`source.fiat`).
async fn rule_sources(
    app: &App,
    customer: Uuid,
    rows: &[Orchestration],
) -> ApiResult<HashMap<Uuid, Value>> {
    let mut sources = HashMap::new();
    for rule_id in rows.iter().filter_map(|o| o.rule_id) {
        if sources.contains_key(&rule_id) {
            continue;
        }
        if let Some(rule) = app.core.store.rule(customer, rule_id).await? {
            sources.insert(rule_id, source_json(&rule.source));
        }
    }
    Ok(sources)
}

fn source_json(source: &RuleSource) -> Value {
    match source {
        RuleSource::Crypto(a) => json!({ "crypto": {
            "address_id": a.id, "address": a.address, "network": a.network.code()
        } }),
        RuleSource::Fiat(i) => json!({ "fiat": {
            "deposit_instructions_id": i.id, "memo": i.memo_id
        } }),
    }
}

/// One orchestration, rendered with its rule's source when it has one.
async fn render_one(app: &App, customer: Uuid, o: Orchestration) -> ApiResult<OrchestrationBody> {
    let sources = rule_sources(app, customer, std::slice::from_ref(&o)).await?;
    Ok(orchestration_body(o, &sources))
}

pub fn orchestration_body(o: Orchestration, sources: &HashMap<Uuid, Value>) -> OrchestrationBody {
    let source = o
        .rule_id
        .and_then(|r| sources.get(&r).cloned())
        .unwrap_or_else(|| json!({ "profile": { "profile_id": o.profile_id } }));
    let destination = match &o.destination {
        Destination::Profile(profile) => json!({ "profile": { "profile_id": profile } }),
        Destination::Fiat {
            bank_account_id,
            memo,
            ..
        } => {
            let mut fiat = json!({ "bank_account_id": bank_account_id });
            if let Some(memo) = memo {
                fiat["memo"] = json!(memo);
            }
            json!({ "fiat": fiat })
        }
        Destination::Crypto {
            address_id,
            address,
            network,
        } => {
            json!({ "crypto": { "address_id": address_id, "address": address, "network": network.code() } })
        }
    };
    OrchestrationBody {
        id: o.id,
        profile_id: o.profile_id,
        identity_id: o.identity_id,
        account_id: o.account_id,
        customer_id: o.customer_id,
        ref_id: o.ref_id,
        source_asset: o.source_asset.code(),
        destination_asset: o.destination_asset.code(),
        source_amount: o.source_amount,
        source_transfer: json!({ "transfer_id": o.source_transfer.id, "status": o.source_transfer.status }),
        destination_transfer: json!({ "transfer_id": o.destination_transfer.id, "status": o.destination_transfer.status }),
        status: o.status.as_str(),
        fail_reason: o.fail_reason.map(|detail| json!({ "detail": detail })),
        source,
        destination,
        orchestration_rule_id: o.rule_id,
        created_at: time::format(o.created_at),
        updated_at: time::format(o.updated_at),
        metadata: o.metadata.and_then(|m| serde_json::from_str(&m).ok()),
    }
}

#[derive(Deserialize)]
pub struct ProfileRef {
    profile_id: Option<String>,
}

#[derive(Deserialize)]
pub struct SourceRequest {
    profile: Option<ProfileRef>,
}

#[derive(Deserialize)]
pub struct FiatRef {
    bank_account_id: Option<String>,
    memo: Option<String>,
}

#[derive(Deserialize)]
pub struct CryptoRef {
    address_id: Option<String>,
}

#[derive(Deserialize)]
pub struct DestinationRequest {
    profile: Option<ProfileRef>,
    fiat: Option<FiatRef>,
    crypto: Option<CryptoRef>,
}

#[derive(Deserialize)]
pub struct CreateRequest {
    ref_id: Option<String>,
    source_asset: Option<String>,
    destination_asset: Option<String>,
    source_amount: Option<String>,
    source: Option<SourceRequest>,
    destination: Option<DestinationRequest>,
    identity_id: Option<String>,
    account_id: Option<String>,
    metadata: Option<BTreeMap<String, String>>,
}

pub async fn create(
    State(app): State<AppState>,
    auth: Auth,
    JsonBody(body): JsonBody<CreateRequest>,
) -> ApiResult<Json<OrchestrationBody>> {
    auth.require(scope::WRITE_ORCHESTRATION)?;
    let ref_id = checked_ref_id(Some(required("ref_id", body.ref_id)?))?.unwrap_or_default();
    let source_field = "source.profile.profile_id";
    let source = (body.source.and_then(|s| s.profile)).and_then(|p| p.profile_id);
    let destination = required("destination", body.destination)?;
    let destination = Chosen::exactly_one(
        destination.profile.map(|p| p.profile_id),
        destination.fiat.map(|f| (f.bank_account_id, f.memo)),
        destination.crypto.map(|c| c.address_id),
    )?;
    let cmd = Orchestrate {
        ref_id,
        source_asset: asset_field("source_asset", body.source_asset)?,
        destination_asset: asset_field("destination_asset", body.destination_asset)?,
        source_amount: required("source_amount", body.source_amount)?,
        identity_id: uuid_or_zero("identity_id", body.identity_id)?,
        account_id: uuid_or_zero("account_id", body.account_id)?,
        metadata: checked_metadata(body.metadata)?,
        source: profile_ref(source_field, &required(source_field, source)?)?,
        destination: destination.parse(DESTINATION_FIELDS)?,
    };
    let outcome = orchestrations::create(&app.core, auth.customer, cmd, time::now()).await?;
    match outcome {
        Created::New(o) => Ok(Json(orchestration_body(o, &HashMap::new()))),
        Created::Existing(existing) => Err(exists(&app, auth.customer, existing).await?),
    }
}

const DESTINATION_FIELDS: [&str; 3] = [
    "destination.profile.profile_id",
    "destination.fiat.bank_account_id",
    "destination.crypto.address_id",
];

/// The 409 `already-exists` problem carrying the stored orchestration.
async fn exists(app: &App, customer: Uuid, existing: Orchestration) -> ApiResult<Problem> {
    let ref_id = existing.ref_id.clone();
    let body = serde_json::to_value(render_one(app, customer, existing).await?)
        .map_err(Problem::internal)?;
    Ok(already_exists("orchestration", &ref_id, body))
}

fn not_found(id: Uuid, customer: Uuid) -> Problem {
    Problem::not_found(format!(
        "orchestration with id {id} not found for customer with id {customer}"
    ))
}

pub async fn get(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<OrchestrationBody>> {
    auth.require(scope::READ_ORCHESTRATION)?;
    let id = parse_uuid("id", &id)?;
    let found = app.core.store.orchestration(auth.customer, id).await?;
    let found = found.ok_or_else(|| not_found(id, auth.customer))?;
    Ok(Json(render_one(&app, auth.customer, found).await?))
}

/// Sandbox: lets an orchestration held by `--settlement manual` proceed.
pub async fn release(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<OrchestrationBody>> {
    auth.require(scope::WRITE_ORCHESTRATION)?;
    let id = parse_uuid("id", &id)?;
    let now = time::now();
    let released = orchestrations::release(&app.core, auth.customer, id, now).await?;
    Ok(Json(render_one(&app, auth.customer, released).await?))
}

fn asset_code(name: &str) -> impl Fn(&str) -> ApiResult<String> + '_ {
    move |v| {
        v.parse::<Asset>()
            .map(|a| a.code().to_string())
            .map_err(|_| {
                Problem::bad_request(format!(
                    "{name}: unsupported asset {v:?}; supported: {}",
                    Asset::supported_list()
                ))
            })
    }
}

/// ListOrchestrationsResponse: `orchestrations`, not `items`.
#[derive(Serialize)]
pub struct OrchestrationList {
    orchestrations: Vec<OrchestrationBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_cursor: Option<String>,
}

pub async fn list(
    State(app): State<AppState>,
    auth: Auth,
    params: Params,
) -> ApiResult<Json<OrchestrationList>> {
    auth.require(scope::READ_ORCHESTRATION)?;
    let filter = list_filter(&params, &app.keys)?;
    let rows = app
        .core
        .store
        .list_orchestrations(auth.customer, &filter)
        .await?;
    let (rows, next_page_cursor) =
        pagination::finish(&app.keys, PAGING.list, &filter.page, rows, |o| {
            (o.created_at, o.id.to_string())
        });
    let sources = rule_sources(&app, auth.customer, &rows).await?;
    Ok(Json(OrchestrationList {
        orchestrations: rows
            .into_iter()
            .map(|o| orchestration_body(o, &sources))
            .collect(),
        next_page_cursor,
    }))
}

/// The list's filters: each may repeat (any of the values matches).
fn list_filter(params: &Params, keys: &Keys) -> ApiResult<OrchestrationFilter> {
    Ok(OrchestrationFilter {
        ids: many(params, "orchestration_id", |v| {
            parse_uuid("orchestration_id", v)
        })?,
        profile_ids: many(params, "profile_id", |v| parse_uuid("profile_id", v))?,
        rule_ids: many(params, "orchestration_rule_id", |v| {
            parse_uuid("orchestration_rule_id", v)
        })?,
        source_assets: many(params, "source_asset", asset_code("source_asset"))?,
        destination_assets: many(params, "destination_asset", asset_code("destination_asset"))?,
        statuses: many(params, "status", |v| {
            OrchestrationStatus::parse(v)
                .map(|s| s.as_str().to_string())
                .ok_or_else(|| {
                    Problem::bad_request(format!(
                        "status must be PROCESSING, COMPLETED or FAILED, got {v:?}"
                    ))
                })
        })?,
        created_at: pagination::time_range(params, "created_at")?,
        page: pagination::page(params, keys, &PAGING)?,
    })
}
