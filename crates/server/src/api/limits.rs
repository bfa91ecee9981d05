//! /v2/transfer/limits/utilizations: the customer's transfer limits and
//! what remains of each.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use stableport_core::limits::{self, Utilization};
use stableport_domain::amount::format_units;
use stableport_domain::{Asset, TransferKind};

use crate::api::common::auth::{scope, Auth};
use crate::api::common::extract::Params;
use crate::api::common::problem::{ApiResult, Problem};
use crate::api::common::routes::Routes;
use crate::api::transfers::TYPES;
use crate::state::AppState;
use crate::time;

pub fn routes(_sandbox: bool) -> Routes {
    Routes::new().get("/transfer/limits/utilizations", list)
}

/// TransferLimit.
#[derive(Serialize)]
pub struct LimitBody {
    /// Single-transaction limits have none, only a rule id.
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    rule_id: String,
    transfer_types: Vec<&'static str>,
    period_seconds: String,
    limit: String,
    remaining: String,
    limit_asset: &'static str,
}

#[derive(Serialize)]
pub struct LimitList {
    items: Vec<LimitBody>,
}

fn limit_body(u: Utilization) -> LimitBody {
    let l = u.limit;
    let mut transfer_types: Vec<&str> = l.transfer_types.iter().map(|t| t.as_str()).collect();
    transfer_types.sort_unstable();
    LimitBody {
        id: (l.period_seconds > 0).then(|| l.id.to_string()),
        rule_id: l.id.to_string(),
        transfer_types,
        period_seconds: l.period_seconds.to_string(),
        limit: format_units(l.limit_cents, Asset::Usd),
        remaining: format_units(u.remaining_cents, Asset::Usd),
        limit_asset: Asset::Usd.code(),
    }
}

pub async fn list(
    State(app): State<AppState>,
    auth: Auth,
    params: Params,
) -> ApiResult<Json<LimitList>> {
    auth.require(scope::READ_TRANSFER_LIMIT)?;
    let asked = params.one("transfer_type")?;
    if let Some(t) = asked.filter(|t| !TYPES.contains(t)) {
        return Err(Problem::bad_request(format!(
            "transfer_type {t:?} is not one of {}",
            TYPES.join(", ")
        )));
    }
    let items = match asked.map(TransferKind::parse) {
        // A type of the spec's that Stableport never makes has no limits.
        Some(None) => Vec::new(),
        Some(kind) => limits::utilizations(&app.core, auth.customer, kind, time::now()).await?,
        None => limits::utilizations(&app.core, auth.customer, None, time::now()).await?,
    };
    Ok(Json(LimitList {
        items: items.into_iter().map(limit_body).collect(),
    }))
}
