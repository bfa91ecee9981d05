//! Request fields every resource checks the same way, and the problems
//! shared by the resources that move money.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde_json::{json, Value};
use stableport_core::Created;
use stableport_domain::network::{CryptoNetwork, FiatNetwork, WireAccountType};
use stableport_domain::{Asset, ZERO_UUID};
use stableport_store::DepositTargetFilter;
use uuid::Uuid;

use crate::api::common::extract::{parse_uuid, Params};
use crate::api::common::pagination;
use crate::api::common::problem::{ApiResult, Problem};

const MAX_METADATA_ENTRIES: usize = 50;
const MAX_METADATA_TEXT: usize = 512;

pub fn required<T>(field: &str, value: Option<T>) -> ApiResult<T> {
    value.ok_or_else(|| Problem::bad_request(format!("{field} is required")))
}

pub fn asset_field(field: &str, value: Option<String>) -> ApiResult<Asset> {
    let text = required(field, value)?;
    text.parse().map_err(|_| {
        Problem::bad_request(format!(
            "{field}: unsupported asset {text:?}; supported: {}",
            Asset::supported_list()
        ))
    })
}

pub fn uuid_or_zero(field: &str, value: Option<String>) -> ApiResult<String> {
    match value {
        None => Ok(ZERO_UUID.to_string()),
        Some(text) => Ok(parse_uuid(field, &text)?.to_string()),
    }
}

pub fn checked_metadata(metadata: Option<BTreeMap<String, String>>) -> ApiResult<Option<String>> {
    let Some(map) = metadata else { return Ok(None) };
    if map.len() > MAX_METADATA_ENTRIES {
        return Err(Problem::bad_request(format!(
            "metadata holds at most {MAX_METADATA_ENTRIES} entries"
        )));
    }
    if map
        .iter()
        .any(|(k, v)| k.is_empty() || k.len() > MAX_METADATA_TEXT || v.len() > MAX_METADATA_TEXT)
    {
        return Err(Problem::bad_request(format!(
            "metadata keys must be 1 to {MAX_METADATA_TEXT} bytes and values at most {MAX_METADATA_TEXT} bytes"
        )));
    }
    Ok(Some(
        serde_json::to_string(&map).map_err(Problem::internal)?,
    ))
}

/// The answer to a create with a ref_id: the new resource, or Paxos's 409
/// carrying the one stored before under that ref_id.
pub fn created<T, B: serde::Serialize>(
    outcome: Created<T>,
    resource: &str,
    ref_id: impl FnOnce(&T) -> String,
    render: impl FnOnce(T) -> B,
) -> ApiResult<axum::Json<B>> {
    match outcome {
        Created::New(t) => Ok(axum::Json(render(t))),
        Created::Existing(t) => {
            let ref_id = ref_id(&t);
            let body = serde_json::to_value(render(t)).map_err(Problem::internal)?;
            Err(already_exists(resource, &ref_id, body))
        }
    }
}

/// Paxos's 409 for a repeated ref_id, carrying the stored resource.
pub fn already_exists(resource: &str, ref_id: &str, existing: Value) -> Problem {
    Problem::typed(
        StatusCode::CONFLICT,
        "already-exists",
        "Already Exists",
        format!("{resource} already exists with ref_id '{ref_id}'"),
        json!({ "existing": existing }),
    )
}

pub const MAX_REF_ID: usize = 255;

/// A client's optional ref_id: 1 to 255 characters.
pub fn checked_ref_id(ref_id: Option<String>) -> ApiResult<Option<String>> {
    match ref_id {
        Some(r) if r.is_empty() || r.chars().count() > MAX_REF_ID => Err(Problem::bad_request(
            format!("ref_id must be 1 to {MAX_REF_ID} characters"),
        )),
        other => Ok(other),
    }
}

/// The spec's metadata for fiat accounts, deposit addresses and deposit
/// instructions: at most 6 pairs, keys and values at most 100 characters.
pub fn small_metadata(metadata: Option<BTreeMap<String, String>>) -> ApiResult<Option<String>> {
    const ENTRIES: usize = 6;
    const TEXT: usize = 100;
    let Some(map) = metadata else { return Ok(None) };
    if map.len() > ENTRIES {
        return Err(Problem::bad_request(format!(
            "metadata holds at most {ENTRIES} key/value pairs, not {}",
            map.len()
        )));
    }
    for (key, value) in &map {
        if key.is_empty() || key.chars().count() > TEXT {
            return Err(Problem::bad_request(format!(
                "metadata keys must be 1 to {TEXT} characters"
            )));
        }
        if value.chars().count() > TEXT {
            return Err(Problem::bad_request(format!(
                "metadata.{key} must be at most {TEXT} characters"
            )));
        }
    }
    Ok(Some(
        serde_json::to_string(&map).map_err(Problem::internal)?,
    ))
}

/// List filters take at most 100 values each.
const MAX_FILTER_VALUES: usize = 100;

/// Every value of a repeated filter, at most 100.
pub fn capped<'a>(params: &'a Params, name: &str) -> ApiResult<Vec<&'a str>> {
    let values = params.all(name);
    if values.len() > MAX_FILTER_VALUES {
        return Err(Problem::bad_request(format!(
            "{name} accepts at most {MAX_FILTER_VALUES} values"
        )));
    }
    Ok(values)
}

/// Every value of a repeated filter, at most 100, each checked by `parse`.
pub fn many<T>(
    params: &Params,
    name: &str,
    parse: impl Fn(&str) -> ApiResult<T>,
) -> ApiResult<Vec<T>> {
    capped(params, name)?.into_iter().map(parse).collect()
}

pub fn bool_param(params: &Params, name: &str) -> ApiResult<Option<bool>> {
    match params.one(name)? {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(Problem::bad_request(format!(
            "query parameter {name} must be true or false, got {other:?}"
        ))),
    }
}

/// Drops every `null` member from objects, at any depth: Paxos's schemas
/// have no nullable fields, so an absent value is an absent field.
pub fn without_nulls(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

pub(crate) fn uuid_list(params: &Params, name: &str) -> ApiResult<Vec<Uuid>> {
    capped(params, name)?
        .into_iter()
        .map(|id| parse_uuid(name, id))
        .collect()
}

pub fn parse_network(field: &str, text: &str) -> ApiResult<CryptoNetwork> {
    text.parse().map_err(|_| {
        Problem::bad_request(format!(
            "{field}: unsupported network {text:?}; supported: {}",
            CryptoNetwork::supported_list()
        ))
    })
}

pub fn optional_uuid(field: &str, value: Option<String>) -> ApiResult<Option<String>> {
    value
        .map(|v| parse_uuid(field, &v).map(|u| u.to_string()))
        .transpose()
}

/// The filters deposit addresses and fiat deposit instructions share.
pub fn target_filter(
    params: &Params,
    page: stableport_store::Page,
) -> ApiResult<DepositTargetFilter> {
    pagination::check_order_by(params)?;
    let uuids =
        |name: &'static str| many(params, name, move |v| Ok(parse_uuid(name, v)?.to_string()));
    Ok(DepositTargetFilter {
        ids: uuids("ids")?,
        profile_ids: uuids("profile_ids")?,
        identity_ids: uuids("identity_ids")?,
        account_ids: uuids("account_ids")?,
        ref_ids: many(params, "ref_ids", |v| Ok(v.to_string()))?,
        created_at: pagination::time_range(params, "created_at")?,
        page,
    })
}

pub fn parse_fiat_network(field: &str, text: &str) -> ApiResult<FiatNetwork> {
    text.parse().map_err(|_| {
        Problem::bad_request(format!(
            "{field}: unsupported fiat network {text:?}; supported: {}",
            FiatNetwork::supported_list()
        ))
    })
}

/// The routing number type of a WIRE source (ABA when not given); none for CUBIX.
pub fn routing_type(
    field: &str,
    network: FiatNetwork,
    text: Option<String>,
) -> ApiResult<Option<String>> {
    match (network, text) {
        (FiatNetwork::Wire, None) => Ok(Some("ABA".into())),
        (FiatNetwork::Wire, Some(t)) => {
            let kind: WireAccountType = t.parse().map_err(|_| {
                Problem::bad_request(format!(
                    "{field} must be {}, got {t:?}",
                    WireAccountType::supported_list()
                ))
            })?;
            Ok(Some(kind.code().to_string()))
        }
        (FiatNetwork::Cubix, None) => Ok(None),
        (FiatNetwork::Cubix, Some(_)) => Err(Problem::bad_request(format!(
            "{field} applies to WIRE only"
        ))),
    }
}

/// An optional text where an empty string means "not given".
pub fn nonempty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}
