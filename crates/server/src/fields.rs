//! Request fields every resource checks the same way, and the problems
//! shared by the resources that move money.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde_json::{json, Value};
use stableport_domain::amount::format_units;
use stableport_domain::{Asset, ZERO_UUID};
use uuid::Uuid;

use crate::extract::parse_uuid;
use crate::problem::{ApiResult, Problem};

const MAX_METADATA_ENTRIES: usize = 50;
const MAX_METADATA_TEXT: usize = 512;

pub fn required(field: &str, value: Option<String>) -> ApiResult<String> {
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

/// Paxos's 403 for a debit the profile cannot cover.
pub fn insufficient_funds(asset: Asset, profile: Uuid, needed: &str, available: i64) -> Problem {
    let available = format_units(available, asset);
    Problem::typed(
        StatusCode::FORBIDDEN,
        "insufficient-funds",
        "Insufficient Funds",
        format!("insufficient {asset} funds in profile {profile}: {needed} needed, {available} available"),
        json!({
            "asset": asset.code(),
            "needed": needed,
            "available": available,
            "profile_id": profile,
        }),
    )
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
