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
use stableport_store::Credential;

use crate::api::common::keys::{hash_secret, secret_matches, TOKEN_LIFETIME_SECS};
use crate::api::common::problem::Problem;
use crate::state::{App, AppState};

/// Why no token: an RFC 6749 §5.2 error (status, code, description), or
/// our own fault.
enum Refused {
    OAuth(StatusCode, &'static str, String),
    Internal(Box<Problem>),
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::OAuth(status, error, description) => {
                let body = json!({ "error": error, "error_description": description });
                (status, Json(body)).into_response()
            }
            Refused::Internal(problem) => problem.into_response(),
        }
    }
}

fn invalid_request(description: &str) -> Refused {
    Refused::OAuth(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        description.into(),
    )
}

/// What a token request asks for, parsed.
struct TokenRequest {
    client_id: String,
    client_secret: String,
    scope: Option<String>,
}

pub async fn token(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let issued = async {
        let request = parse(&body, &headers)?;
        let credential = authenticate(&app, &request).await?;
        let scope = granted_scope(&credential.scopes, request.scope.as_deref())?;
        let now = chrono::Utc::now().timestamp();
        let token = (app.keys).issue(&credential.client_id, credential.customer_id, &scope, now);
        Ok::<_, Refused>((token, scope))
    };
    match issued.await {
        Ok((access_token, scope)) => {
            let body = json!({
                "access_token": access_token,
                "expires_in": TOKEN_LIFETIME_SECS,
                "scope": scope,
                "token_type": "bearer",
            });
            ([(CACHE_CONTROL, "no-store")], Json(body)).into_response()
        }
        Err(refused) => refused.into_response(),
    }
}

/// The form's grant type and credentials (in the form, or HTTP Basic).
fn parse(body: &[u8], headers: &HeaderMap) -> Result<TokenRequest, Refused> {
    let form: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    match field("grant_type").as_deref() {
        Some("client_credentials") => {}
        Some(other) => {
            let description =
                format!("grant_type {other:?} is not supported; use client_credentials");
            return Err(Refused::OAuth(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                description,
            ));
        }
        None => return Err(invalid_request("grant_type is required")),
    }
    let (client_id, client_secret) = match (
        field("client_id"),
        field("client_secret"),
        basic_auth(headers),
    ) {
        (Some(id), Some(secret), _) => (id, secret),
        (_, _, Some(pair)) => pair,
        _ => return Err(invalid_request("client_id and client_secret are required")),
    };
    let scope = field("scope");
    if [Some(&client_id), Some(&client_secret), scope.as_ref()]
        .iter()
        .flatten()
        .any(|v| v.contains('\0'))
    {
        let description = "client_id, client_secret and scope must not contain a NUL character";
        return Err(invalid_request(description));
    }
    Ok(TokenRequest {
        client_id,
        client_secret,
        scope,
    })
}

/// The credential whose secret matches, in constant time per candidate, and
/// which may still act (it, and its user if it has one, enabled).
async fn authenticate(app: &App, request: &TokenRequest) -> Result<Credential, Refused> {
    let internal = |e| Refused::Internal(Box::new(Problem::internal(e)));
    let found = (app.core.store.credential(&request.client_id).await).map_err(internal)?;
    let acting = (app.core.store.credential_acting(&request.client_id).await).map_err(internal)?;
    let found = found.filter(|_| acting.is_some());
    let secret = &request.client_secret;
    let usable =
        |c: &Credential| !c.disabled && secret_matches(&c.secret_salt, secret, &c.secret_hash);
    match found.filter(usable) {
        Some(credential) => Ok(credential),
        None => {
            // Hash anyway, so an unknown client id takes as long as a wrong secret.
            let _ = hash_secret("", secret);
            let refused = Refused::OAuth(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication failed".into(),
            );
            Err(refused)
        }
    }
}

/// The scopes asked for, all of which the credential must hold; all it
/// holds when none are asked for.
fn granted_scope(held: &str, requested: Option<&str>) -> Result<String, Refused> {
    let held: Vec<&str> = held.split(' ').filter(|s| !s.is_empty()).collect();
    let requested: Vec<&str> = requested
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect();
    if requested.is_empty() {
        return Ok(held.join(" "));
    }
    let missing: Vec<&str> = requested
        .iter()
        .copied()
        .filter(|s| !held.contains(s))
        .collect();
    if !missing.is_empty() {
        let description = format!(
            "the client does not hold the scope(s): {}",
            missing.join(" ")
        );
        return Err(Refused::OAuth(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            description,
        ));
    }
    Ok(requested.join(" "))
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
