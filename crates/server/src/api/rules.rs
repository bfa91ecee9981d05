//! /v2/orchestration/rules: deposits to a rule's address or memo are
//! converted and delivered automatically (mint, redeem, convert).

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use stableport_core::rules::{self, NewRule, Source};
use stableport_core::Created;
use stableport_domain::Asset;
use stableport_store::{Destination, Order, Rule, RuleFilter, RuleSource};

use crate::api::common::auth::{scope, Auth};
use crate::api::common::destinations::Chosen;
use crate::api::common::extract::{parse_uuid, JsonBody, Params};
use crate::api::common::fields::without_nulls;
use crate::api::common::fields::{already_exists, asset_field, checked_ref_id, many, required};
use crate::api::common::fields::{optional_uuid, parse_network};
use crate::api::common::fields::{parse_fiat_network, routing_type};
use crate::api::common::owned::profile_ref;
use crate::api::common::pagination::{self, Defaults};
use crate::api::common::problem::{ApiResult, Problem};
use crate::api::common::routes::Routes;
use crate::state::AppState;
use crate::time;

pub fn routes(_sandbox: bool) -> Routes {
    Routes::new()
        .get("/orchestration/rules", list)
        .post("/orchestration/rules", create)
        .delete("/orchestration/rules/{id}", delete)
}

const PAGING: Defaults = Defaults {
    list: "rules",
    limit: 100,
    max_limit: 1000,
    order: Order::Desc,
};
const STATUSES: &[&str] = &["ACTIVE", "DELETED", "PENDING", "REJECTED", "CANCELLED"];

pub fn rule_json(r: Rule) -> Value {
    let source = match &r.source {
        RuleSource::Crypto(a) => {
            json!({ "crypto": { "address": a.address, "address_id": a.id, "network": a.network.code() } })
        }
        RuleSource::Fiat(i) => json!({ "fiat": {
            "deposit_instructions_id": i.id,
            "network": i.network.code(),
            "account_type": i.routing_number_type,
            "memo_id": i.memo_id,
        }}),
    };
    let destination = match &r.destination {
        Destination::Profile(p) => json!({ "profile": { "profile_id": p } }),
        Destination::Fiat {
            bank_account_id,
            memo,
            ..
        } => {
            json!({ "fiat": { "fiat_account_id": bank_account_id, "memo": memo } })
        }
        Destination::Crypto {
            address, network, ..
        } => {
            json!({ "crypto": { "address": address, "network": network.code() } })
        }
    };
    let mut rule = json!({
        "id": r.id,
        "ref_id": r.ref_id,
        "profile_id": r.profile_id,
        "status": r.status.as_str(),
        "source_asset": r.source_asset.code(),
        "destination_asset": r.destination_asset.code(),
        "source": source,
        "destination": destination,
        "created_at": time::format(r.created_at),
    });
    for (key, value) in [
        ("nickname", r.nickname),
        ("identity_id", r.identity_id),
        ("account_id", r.account_id),
    ] {
        if let Some(value) = value {
            rule[key] = json!(value);
        }
    }
    // An optional field without a value (a memo, an account type) is left out:
    // the spec's fields are strings, never null.
    without_nulls(rule)
}

#[derive(Serialize)]
pub struct RuleEnvelope {
    rule: Value,
}

#[derive(Deserialize)]
pub struct NetworkRef {
    network: Option<String>,
    account_type: Option<String>,
}

#[derive(Deserialize)]
pub struct SourceRequest {
    crypto: Option<NetworkRef>,
    fiat: Option<NetworkRef>,
}

#[derive(Deserialize)]
pub struct ProfileRef {
    profile_id: Option<String>,
}

#[derive(Deserialize)]
pub struct FiatRef {
    fiat_account_id: Option<String>,
    memo: Option<String>,
}

#[derive(Deserialize)]
pub struct CryptoRef {
    crypto_address_id: Option<String>,
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
    nickname: Option<String>,
    profile_id: Option<String>,
    identity_id: Option<String>,
    account_id: Option<String>,
    source_asset: Option<String>,
    destination_asset: Option<String>,
    source: Option<SourceRequest>,
    destination: Option<DestinationRequest>,
}

pub async fn create(
    State(app): State<AppState>,
    auth: Auth,
    JsonBody(body): JsonBody<CreateRequest>,
) -> ApiResult<Json<RuleEnvelope>> {
    auth.require(scope::WRITE_RULE)?;
    let ref_id = checked_ref_id(Some(required("ref_id", body.ref_id)?))?.unwrap_or_default();
    let profile = required("profile_id", body.profile_id)?;
    let destination = required("destination", body.destination)?;
    let destination = Chosen::exactly_one(
        destination.profile.map(|p| p.profile_id),
        destination.fiat.map(|f| (f.fiat_account_id, f.memo)),
        destination.crypto.map(|c| c.crypto_address_id),
    )?;
    let cmd = NewRule {
        ref_id,
        nickname: body.nickname,
        profile: profile_ref("profile_id", &profile)?,
        identity_id: optional_uuid("identity_id", body.identity_id)?,
        account_id: optional_uuid("account_id", body.account_id)?,
        source_asset: asset_field("source_asset", body.source_asset)?,
        destination_asset: asset_field("destination_asset", body.destination_asset)?,
        source: source(required("source", body.source)?)?,
        destination: destination.parse(DESTINATION_FIELDS)?,
    };
    let outcome = rules::create(&app.core, auth.customer, auth.user, cmd, time::now()).await?;
    match outcome {
        Created::New(rule) => Ok(Json(RuleEnvelope {
            rule: rule_json(rule),
        })),
        // The 409 carries the rule itself, as the list shows it.
        Created::Existing(rule) => {
            let ref_id = rule.ref_id.clone();
            Err(already_exists(
                "orchestration rule",
                &ref_id,
                rule_json(rule),
            ))
        }
    }
}

const DESTINATION_FIELDS: [&str; 3] = [
    "destination.profile.profile_id",
    "destination.fiat.fiat_account_id",
    "destination.crypto.crypto_address_id",
];

/// Exactly one of a new deposit address (crypto) or memo (fiat).
fn source(source: SourceRequest) -> ApiResult<Source> {
    match (source.crypto, source.fiat) {
        (Some(crypto), None) => {
            let field = "source.crypto.network";
            Ok(Source::Crypto(parse_network(
                field,
                &required(field, crypto.network)?,
            )?))
        }
        (None, Some(fiat)) => {
            let field = "source.fiat.network";
            let network = parse_fiat_network(field, &required(field, fiat.network)?)?;
            let kind = routing_type("source.fiat.account_type", network, fiat.account_type)?;
            Ok(Source::Fiat {
                network,
                routing_number_type: kind,
            })
        }
        _ => Err(Problem::bad_request(
            "source must name exactly one of crypto or fiat",
        )),
    }
}

/// Sets DELETED: later deposits are credited to the rule's profile unconverted.
pub async fn delete(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<RuleEnvelope>> {
    auth.require(scope::WRITE_RULE)?;
    let id = parse_uuid("id", &id)?;
    let rule = rules::delete(&app.core, auth.customer, auth.user, id, time::now()).await?;
    Ok(Json(RuleEnvelope {
        rule: rule_json(rule),
    }))
}

#[derive(Serialize)]
pub struct RuleList {
    rules: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_cursor: Option<String>,
}

fn asset_filter(params: &Params, name: &str) -> ApiResult<Option<String>> {
    params
        .one(name)?
        .map(|v| {
            v.parse::<Asset>()
                .map(|a| a.code().to_string())
                .map_err(|_| {
                    Problem::bad_request(format!(
                        "{name}: unsupported asset {v:?}; supported: {}",
                        Asset::supported_list()
                    ))
                })
        })
        .transpose()
}

pub async fn list(
    State(app): State<AppState>,
    auth: Auth,
    params: Params,
) -> ApiResult<Json<RuleList>> {
    auth.require(scope::READ_RULE)?;
    let filter = RuleFilter {
        profile_id: params.uuid("profile_id")?,
        statuses: many(&params, "status", |v| {
            STATUSES.contains(&v).then(|| v.to_string()).ok_or_else(|| {
                Problem::bad_request(format!(
                    "status {v:?} is not one of {}",
                    STATUSES.join(", ")
                ))
            })
        })?,
        source_asset: asset_filter(&params, "source_asset")?,
        destination_asset: asset_filter(&params, "destination_asset")?,
        ids: many(&params, "ids", |v| parse_uuid("ids", v))?,
        page: pagination::page(&params, &app.keys, &PAGING)?,
    };
    let rows = app.core.store.list_rules(auth.customer, &filter).await?;
    let (rows, next_page_cursor) =
        pagination::finish(&app.keys, PAGING.list, &filter.page, rows, |r| {
            (r.created_at, r.id.to_string())
        });
    Ok(Json(RuleList {
        rules: rows.into_iter().map(rule_json).collect(),
        next_page_cursor,
    }))
}
