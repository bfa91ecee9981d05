//! RFC 7807 problem+json, shaped like Paxos's: `type` is `about:blank` or a
//! Paxos problem URI, `title` the status text or the problem's name.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use stableport_core::CoreError;
use stableport_domain::amount::format_units;
use stableport_domain::Asset;
use uuid::Uuid;

const PROBLEM_BASE: &str = "https://developer.paxos.com/docs/v2/problems/";

#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<Value>,
    /// Seconds for a `Retry-After` header (503 and 429).
    #[serde(skip)]
    pub retry_after: Option<u32>,
}

pub type ApiResult<T> = Result<T, Problem>;

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Problem {
        Problem {
            kind: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail: detail.into(),
            meta: None,
            retry_after: None,
        }
    }

    /// A Paxos-specific problem such as `insufficient-funds`.
    pub fn typed(
        status: StatusCode,
        slug: &str,
        title: &str,
        detail: impl Into<String>,
        meta: Value,
    ) -> Problem {
        Problem {
            kind: format!("{PROBLEM_BASE}{slug}"),
            title: title.into(),
            status: status.as_u16(),
            detail: detail.into(),
            meta: Some(meta),
            retry_after: None,
        }
    }

    /// A refused amount: Paxos's `exceed-precision` when it is finer than
    /// the asset (or pair) allows, a plain 400 otherwise.
    pub fn amount(error: &stableport_domain::amount::AmountError, detail: String) -> Problem {
        CoreError::amount(error, detail).into()
    }

    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, detail)
    }

    pub fn conflict(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::CONFLICT, detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::UNAUTHORIZED, detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::FORBIDDEN, detail)
    }

    /// The database stayed too busy through every retry (deadlocks,
    /// serialization failures, a locked SQLite): try again shortly.
    pub fn unavailable(detail: impl Into<String>) -> Problem {
        Problem {
            retry_after: Some(1),
            ..Problem::new(StatusCode::SERVICE_UNAVAILABLE, detail)
        }
    }

    /// Over the credential's rate on a route: 429 with `Retry-After`.
    pub fn too_many_requests(rate: u32, route: &str, wait: std::time::Duration) -> Problem {
        let seconds = u32::try_from(wait.as_millis().div_ceil(1000)).unwrap_or(u32::MAX);
        Problem {
            retry_after: Some(seconds.max(1)),
            ..Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "rate limit exceeded: {rate} requests per second per credential on {route}"
                ),
            )
        }
    }

    /// The cause is logged; the client learns only that it was not its fault.
    pub fn internal(cause: impl std::fmt::Display) -> Problem {
        tracing::error!(%cause, "internal error");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "an internal error occurred; it has been logged",
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// A problem is `application/problem+json` (RFC 7807), except where Paxos's
/// spec lists that operation's error under `application/json`: there the
/// spec's media type is sent, so a generated client decodes it.
pub async fn spec_media_type(
    matched: Option<axum::extract::MatchedPath>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let method = request.method().clone();
    let mut response = next.run(request).await;
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/problem+json");
    if let (true, Some(path)) = (is_problem, matched) {
        let key = (
            method.as_str().to_string(),
            crate::api::common::spec::normalize(path.as_str()),
            response.status().as_u16(),
        );
        if crate::api::common::spec::json_problems().contains(&key) {
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/json"),
            );
        }
    }
    response
}

/// Every refusal of the operations layer, as the HTTP status and problem a
/// client sees.
impl From<CoreError> for Problem {
    fn from(e: CoreError) -> Problem {
        match e {
            CoreError::Invalid(detail) => Problem::bad_request(detail),
            CoreError::TooPrecise {
                detail,
                max_precision,
            } => Problem::typed(
                StatusCode::BAD_REQUEST,
                "exceed-precision",
                "Exceeds Maximum Precision Allowed",
                detail,
                serde_json::json!({ "max_precision": max_precision }),
            ),
            CoreError::Forbidden(detail) => Problem::forbidden(detail),
            CoreError::NotFound(detail) => Problem::not_found(detail),
            CoreError::Conflict(detail) => Problem::conflict(detail),
            CoreError::InsufficientFunds {
                asset,
                profile,
                needed,
                available,
            } => insufficient_funds(asset, profile, &needed, available),
            e @ CoreError::LimitExceeded {
                limit_cents,
                amount_cents,
                ..
            } => Problem::typed(
                StatusCode::BAD_REQUEST,
                "exceed-max-withdraw-limit",
                "Withdrawal Amount Too Large",
                e.to_string(),
                serde_json::json!({
                    "limit": format_units(limit_cents, Asset::Usd),
                    "amount": format_units(amount_cents, Asset::Usd),
                }),
            ),
            e @ CoreError::BalanceLimit => Problem::bad_request(e.to_string()),
            e @ CoreError::Busy => {
                tracing::warn!("database busy after retries");
                Problem::unavailable(e.to_string())
            }
            CoreError::Internal(cause) => Problem::internal(cause),
        }
    }
}

impl From<stableport_store::StoreError> for Problem {
    fn from(e: stableport_store::StoreError) -> Problem {
        Problem::from(CoreError::from(e))
    }
}

fn insufficient_funds(asset: Asset, profile: Uuid, needed: &str, available: i64) -> Problem {
    let available = format_units(available, asset);
    Problem::typed(
        StatusCode::FORBIDDEN,
        "insufficient-funds",
        "Insufficient Funds",
        format!("insufficient {asset} funds in profile {profile}: {needed} needed, {available} available"),
        serde_json::json!({
            "asset": asset.code(),
            "needed": needed,
            "available": available,
            "profile_id": profile,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transient_database_conflict_is_a_503_with_retry_after() {
        let busy = stableport_store::StoreError::Database(sqlx::Error::PoolTimedOut);
        let response = Problem::from(busy).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        let other = stableport_store::StoreError::Corrupt("x".into());
        assert_eq!(
            Problem::from(other).into_response().status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
