//! The HTTP API: one module per resource (handlers that extract, call one
//! operation and render), `common` for what they share, and the router.

pub mod approvals;
pub mod common;
pub mod conversions;
pub mod credentials;
pub mod crypto_addresses;
pub mod deposit_addresses;
pub mod deposit_instructions;
pub mod deposits;
pub mod events;
pub mod fiat_accounts;
pub mod identities;
pub mod limits;
pub mod oauth;
pub mod openapi;
pub mod orchestrations;
pub mod profile_transfers;
pub mod profiles;
pub mod rules;
pub mod transfers;
pub mod users;
pub mod webhooks;
pub mod withdrawals;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use tower_http::catch_panic::CatchPanicLayer;

use crate::state::AppState;
use common::problem::Problem;
use common::routes::Routes;

/// Every resource module contributes its `/v2` routes; `/v2/sandbox` ones
/// only in sandbox mode.
fn v2_routes(sandbox: bool) -> Routes {
    Routes::new()
        .merge(profiles::routes(sandbox))
        .merge(conversions::routes(sandbox))
        .merge(fiat_accounts::routes(sandbox))
        .merge(crypto_addresses::routes(sandbox))
        .merge(orchestrations::routes(sandbox))
        .merge(transfers::routes(sandbox))
        .merge(withdrawals::routes(sandbox))
        .merge(credentials::routes(sandbox))
        .merge(limits::routes(sandbox))
        .merge(identities::routes(sandbox))
        .merge(users::routes(sandbox))
        .merge(approvals::routes(sandbox))
        .merge(profile_transfers::routes(sandbox))
        .merge(rules::routes(sandbox))
        .merge(deposit_addresses::routes(sandbox))
        .merge(deposit_instructions::routes(sandbox))
        .merge(deposits::routes(sandbox))
        .merge(events::routes(sandbox))
        .merge(webhooks::routes(sandbox))
        .get("/openapi.json", openapi::openapi_json)
}

/// Routes outside `/v2`.
const TOP_LEVEL: [(&str, &str); 4] = [
    ("GET", "/health"),
    ("POST", "/oauth2/token"),
    ("GET", "/docs"),
    ("GET", "/docs/redoc.standalone.js"),
];

/// `(METHOD, full path)` of every route served; the OpenAPI document lists exactly these.
pub fn route_table(sandbox: bool) -> Vec<(String, String)> {
    let v2 = v2_routes(sandbox);
    let nested = v2.table().iter().map(|(m, p)| (*m, format!("/v2{p}")));
    TOP_LEVEL
        .iter()
        .map(|(m, p)| (*m, p.to_string()))
        .chain(nested)
        .map(|(m, p)| (m.to_string(), p))
        .collect()
}

pub fn router(state: AppState) -> Router {
    let sandbox = state.config.is_sandbox();
    Router::new()
        .route("/health", get(health))
        .route("/oauth2/token", post(oauth::token))
        .route("/docs", get(openapi::docs_page))
        .route("/docs/redoc.standalone.js", get(openapi::redoc_js))
        .nest("/v2", v2_routes(sandbox).into_router())
        .merge(crate::dashboard::router())
        .layer(axum::middleware::from_fn(
            crate::api::common::problem::spec_media_type,
        ))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            state.config.max_body_bytes,
            crate::api::common::extract::read_body_first,
        ))
        .layer(CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(Problem::internal(
                "a request handler panicked",
            ))
        }))
        .layer(axum::middleware::from_fn(crate::telemetry::observe))
        .with_state(state)
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn not_found() -> Problem {
    Problem::not_found("no such route")
}

async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed on this route",
    )
}
