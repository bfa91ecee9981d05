//! POST /oauth2/token: the OAuth2 client credentials grant (RFC 6749 §4.4).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::json;

use crate::api::common::keys::{hash_secret, secret_matches, TOKEN_LIFETIME_SECS};
use crate::state::AppState;

/// RFC 6749 §5.2 error bodies.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

pub async fn token(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };

    match field("grant_type") {
        Some("client_credentials") => {}
        Some(other) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("grant_type {other:?} is not supported; use client_credentials"),
            )
        }
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required",
            )
        }
    }
    let (client_id, client_secret) = match (
        field("client_id"),
        field("client_secret"),
        basic_auth(&headers),
    ) {
        (Some(id), Some(secret), _) => (id.to_string(), secret.to_string()),
        (_, _, Some(pair)) => pair,
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "client_id and client_secret are required",
            )
        }
    };
    let scope_field = field("scope").unwrap_or_default();
    if [&client_id, &client_secret, scope_field]
        .iter()
        .any(|v| v.contains('\0'))
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_id, client_secret and scope must not contain a NUL character",
        );
    }
    let credential = match app.core.store.credential(&client_id).await {
        Ok(found) => found,
        Err(e) => return crate::api::common::problem::Problem::internal(e).into_response(),
    };
    let Some(credential) =
        credential.filter(|c| secret_matches(&c.secret_salt, &client_secret, &c.secret_hash))
    else {
        // Hash anyway, so an unknown client id takes as long as a wrong secret.
        let _ = hash_secret("", &client_secret);
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    };
    let granted: Vec<&str> = credential
        .scopes
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect();
    let scope = match field("scope").map(str::trim).filter(|s| !s.is_empty()) {
        None => granted.join(" "),
        Some(requested) => {
            let missing: Vec<&str> = requested
                .split(' ')
                .filter(|s| !s.is_empty() && !granted.contains(s))
                .collect();
            if !missing.is_empty() {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    &format!(
                        "the client does not hold the scope(s): {}",
                        missing.join(" ")
                    ),
                );
            }
            requested
                .split(' ')
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        }
    };
    let now = chrono::Utc::now().timestamp();
    let access_token = app
        .keys
        .issue(&credential.client_id, credential.customer_id, &scope, now);
    let body = json!({
        "access_token": access_token,
        "expires_in": TOKEN_LIFETIME_SECS,
        "scope": scope,
        "token_type": "bearer",
    });
    ([(CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// Client credentials in an HTTP Basic header (RFC 6749 §2.3.1).
fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let encoded = headers
        .get(AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}
