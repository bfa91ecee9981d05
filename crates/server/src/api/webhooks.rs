//! /v2/webhooks (ours): where a customer's events are POSTed. Paxos
//! configures webhooks in its dashboard; Stableport gives the same settings
//! an API: a unique name, an http(s) endpoint, the event types, consumer
//! authentication (an API-key header, or OAuth2 client credentials) and a
//! rate of 1 to 100 requests per second. At most 10 are active per customer.
//!
//! Reads need `events:read_event`; creating, deleting, testing and
//! redelivering need `events:write_webhook` (ours: Paxos has no such scope).
//!
//! In production mode an endpoint (and an OAuth token URL) must resolve to
//! public addresses only: loopback, private, link-local, CGNAT, multicast and
//! reserved ranges are refused here and checked again on every delivery
//! (see `delivery.rs`), so a DNS change cannot turn a webhook inward.

use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use stableport_store::{
    AttemptFilter, ConsumerAuth, Delivery, DeliveryAttempt, DeliveryFilter, Order, StoreError,
    Webhook, WebhookFilter, EVENT_TYPES,
};
use uuid::Uuid;

use crate::api::common::auth::{scope, Auth};
use crate::api::common::event_json::{event_body, event_type, EventBody};
use crate::api::common::extract::{parse_uuid, JsonBody, Params};
use crate::api::common::fields::many;
use crate::api::common::keys::random_hex;
use crate::api::common::pagination::ListBody;
use crate::api::common::pagination::{self, Defaults};
use crate::api::common::problem::{ApiResult, Problem};
use crate::api::common::routes::Routes;
use crate::outbound::{is_public, literal_ip};
use crate::state::{App, AppState};
use crate::time;

pub fn routes(_sandbox: bool) -> Routes {
    Routes::new()
        .get("/webhooks", list)
        .post("/webhooks", create)
        .get("/webhooks/{id}", get)
        .delete("/webhooks/{id}", delete)
        .post("/webhooks/{id}/test", test)
        .get("/webhooks/{id}/deliveries", deliveries)
        .post("/webhooks/{id}/deliveries", redeliver)
        .get("/webhooks/{id}/attempts", attempts)
}

/// The test route's answer: the event as `/v2/events` shows it, plus `is_test`.
#[derive(Serialize)]
pub struct TestEventBody {
    #[serde(flatten)]
    event: EventBody,
    is_test: bool,
}

const WEBHOOK_PAGING: Defaults = Defaults {
    list: "webhooks",
    limit: 100,
    max_limit: 1000,
    order: Order::Desc,
};
const DELIVERY_PAGING: Defaults = Defaults {
    list: "webhook_deliveries",
    limit: 100,
    max_limit: 1000,
    order: Order::Desc,
};
const ATTEMPT_PAGING: Defaults = Defaults {
    list: "webhook_attempts",
    limit: 100,
    max_limit: 1000,
    order: Order::Desc,
};
const MAX_NAME: usize = 100;
const MAX_URL: usize = 2048;
const MAX_SECRET_FIELD: usize = 1024;
pub const DEFAULT_RATE_LIMIT: i64 = 10;
const DELIVERY_STATUSES: &[&str] = &["PENDING", "DELIVERED", "FAILED", "CANCELLED"];
/// Headers Stableport sets itself on every delivery.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-type",
    "content-length",
    "transfer-encoding",
    "connection",
    "user-agent",
    "stableport-signature",
    "stableport-delivery-attempt",
];

#[derive(Serialize)]
pub struct WebhookBody {
    id: Uuid,
    name: String,
    url: String,
    event_types: Vec<String>,
    rate_limit: i64,
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    consumer_auth: Option<Value>,
    /// Only in the response that creates it: it is never shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
    created_at: String,
    updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    deleted_at: Option<String>,
}

/// Consumer credentials are write-only: the API-key value and the OAuth
/// client secret are never returned.
fn webhook_body(w: Webhook) -> WebhookBody {
    let consumer_auth = match &w.auth {
        ConsumerAuth::None => None,
        ConsumerAuth::ApiKey { header_name, .. } => {
            Some(json!({ "api_key": { "header_name": header_name } }))
        }
        ConsumerAuth::OAuth {
            token_url,
            client_id,
            scope,
            ..
        } => Some(
            json!({ "oauth": { "token_url": token_url, "client_id": client_id, "scope": scope } }),
        ),
    };
    WebhookBody {
        id: w.id,
        name: w.name,
        url: w.url,
        event_types: w.event_types,
        rate_limit: w.rate_limit,
        status: w.status,
        consumer_auth,
        secret: None,
        created_at: time::format(w.created_at),
        updated_at: time::format(w.updated_at),
        deleted_at: w.deleted_at.map(time::format),
    }
}

#[derive(Serialize)]
pub struct DeliveryBody {
    webhook_id: Uuid,
    event_id: Uuid,
    event_type: String,
    status: String,
    attempts: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_attempt_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_status_code: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
    created_at: String,
    updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    delivered_at: Option<String>,
}

fn delivery_body(d: Delivery) -> DeliveryBody {
    DeliveryBody {
        webhook_id: d.webhook_id,
        event_id: d.event_id,
        event_type: d.event_type,
        // A claimed delivery's next_attempt_at is its lease, not a plan.
        next_attempt_at: d
            .next_attempt_at
            .filter(|_| d.status == "PENDING")
            .map(time::format),
        status: d.status,
        attempts: d.attempts,
        last_status_code: d.last_status_code,
        last_error: d.last_error,
        created_at: time::format(d.created_at),
        updated_at: time::format(d.updated_at),
        delivered_at: d.delivered_at.map(time::format),
    }
}

#[derive(Serialize)]
pub struct AttemptBody {
    id: Uuid,
    webhook_id: Uuid,
    event_id: Uuid,
    attempt: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_code: Option<i64>,
    latency_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    created_at: String,
}

fn attempt_body(a: DeliveryAttempt) -> AttemptBody {
    AttemptBody {
        id: a.id,
        webhook_id: a.webhook_id,
        event_id: a.event_id,
        attempt: a.attempt,
        status_code: a.status_code,
        latency_ms: a.latency_micros / 1000,
        error: a.error,
        created_at: time::format(a.created_at),
    }
}

#[derive(Deserialize)]
pub struct ApiKeyRequest {
    header_name: Option<String>,
    value: Option<String>,
}

#[derive(Deserialize)]
pub struct OAuthRequest {
    token_url: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

#[derive(Deserialize)]
pub struct AuthRequest {
    api_key: Option<ApiKeyRequest>,
    oauth: Option<OAuthRequest>,
}

#[derive(Deserialize)]
pub struct CreateRequest {
    name: Option<String>,
    url: Option<String>,
    event_types: Option<Vec<String>>,
    rate_limit: Option<i64>,
    consumer_auth: Option<AuthRequest>,
}

fn required(field: &str, value: Option<String>) -> ApiResult<String> {
    value
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| Problem::bad_request(format!("{field} is required")))
}

fn bounded(field: &str, value: Option<String>, max: usize) -> ApiResult<String> {
    let value = required(field, value)?;
    if value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(Problem::bad_request(format!(
            "{field} must be at most {max} characters, without control characters"
        )));
    }
    Ok(value)
}

/// An http(s) URL a delivery may go to. In production its host must
/// resolve to public addresses only (every address is checked).
pub async fn check_target(field: &str, text: &str, allow_private: bool) -> ApiResult<String> {
    if text.len() > MAX_URL {
        return Err(Problem::bad_request(format!(
            "{field} must be at most {MAX_URL} characters"
        )));
    }
    let url = reqwest::Url::parse(text.trim())
        .map_err(|e| Problem::bad_request(format!("{field} {text:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Problem::bad_request(format!(
            "{field} must be an http:// or https:// URL, got scheme {:?}",
            url.scheme()
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Problem::bad_request(format!(
            "{field} must not carry credentials; use consumer_auth"
        )));
    }
    if url.fragment().is_some() {
        return Err(Problem::bad_request(format!(
            "{field} must not have a #fragment"
        )));
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| Problem::bad_request(format!("{field} must name a host")))?;
    if !allow_private {
        let port = url.port_or_known_default().unwrap_or(443);
        let addresses: Vec<IpAddr> = match literal_ip(host) {
            Some(ip) => vec![ip],
            None => tokio::net::lookup_host((host, port))
                .await
                .map_err(|e| {
                    Problem::bad_request(format!("{field}: cannot resolve host {host:?}: {e}"))
                })?
                .map(|a| a.ip())
                .collect(),
        };
        if addresses.is_empty() {
            return Err(Problem::bad_request(format!(
                "{field}: host {host} resolves to no address"
            )));
        }
        if let Some(bad) = addresses.iter().find(|ip| !is_public(**ip)) {
            return Err(Problem::bad_request(format!(
                "{field}: {host} is {bad}, a loopback, private or reserved address; \
                 production mode delivers only to public addresses (sandbox mode allows any)"
            )));
        }
    }
    Ok(url.to_string())
}

async fn consumer_auth(
    request: Option<AuthRequest>,
    allow_private: bool,
) -> ApiResult<ConsumerAuth> {
    let Some(request) = request else {
        return Ok(ConsumerAuth::None);
    };
    match (request.api_key, request.oauth) {
        (Some(key), None) => {
            let header_name = bounded(
                "consumer_auth.api_key.header_name",
                key.header_name,
                MAX_NAME,
            )?;
            if HeaderName::from_bytes(header_name.as_bytes()).is_err()
                || RESERVED_HEADERS.contains(&header_name.to_ascii_lowercase().as_str())
            {
                return Err(Problem::bad_request(format!(
                    "consumer_auth.api_key.header_name {header_name:?} is not a header name Stableport can send; \
                     reserved: {}",
                    RESERVED_HEADERS.join(", ")
                )));
            }
            let value = required("consumer_auth.api_key.value", key.value)?;
            if value.len() > MAX_SECRET_FIELD || HeaderValue::from_str(&value).is_err() {
                return Err(Problem::bad_request(format!(
                    "consumer_auth.api_key.value must be at most {MAX_SECRET_FIELD} visible ASCII characters"
                )));
            }
            Ok(ConsumerAuth::ApiKey { header_name, value })
        }
        (None, Some(o)) => {
            let token_url = required("consumer_auth.oauth.token_url", o.token_url)?;
            let token_url =
                check_target("consumer_auth.oauth.token_url", &token_url, allow_private).await?;
            let client_id = bounded(
                "consumer_auth.oauth.client_id",
                o.client_id,
                MAX_SECRET_FIELD,
            )?;
            let client_secret = bounded(
                "consumer_auth.oauth.client_secret",
                o.client_secret,
                MAX_SECRET_FIELD,
            )?;
            let scope = match o.scope.filter(|s| !s.trim().is_empty()) {
                None => None,
                Some(s) => Some(bounded(
                    "consumer_auth.oauth.scope",
                    Some(s),
                    MAX_SECRET_FIELD,
                )?),
            };
            Ok(ConsumerAuth::OAuth {
                token_url,
                client_id,
                client_secret,
                scope,
            })
        }
        _ => Err(Problem::bad_request(
            "consumer_auth must name exactly one of api_key or oauth",
        )),
    }
}

pub async fn create(
    State(app): State<AppState>,
    auth: Auth,
    JsonBody(body): JsonBody<CreateRequest>,
) -> ApiResult<Json<WebhookBody>> {
    auth.require(scope::WRITE_WEBHOOK)?;
    let allow_private = app.config.is_sandbox();
    let name = bounded("name", body.name, MAX_NAME)?.trim().to_string();
    let url = required("url", body.url)?;
    let url = check_target("url", &url, allow_private).await?;
    let requested = body
        .event_types
        .ok_or_else(|| Problem::bad_request("event_types is required"))?;
    if requested.is_empty() {
        return Err(Problem::bad_request(
            "event_types must name at least one event type",
        ));
    }
    let check = event_type("event_types");
    let mut event_types: Vec<String> = Vec::new();
    for kind in &requested {
        let kind = check(kind)?;
        if !event_types.contains(&kind) {
            event_types.push(kind);
        }
    }
    let rate_limit = body.rate_limit.unwrap_or(DEFAULT_RATE_LIMIT);
    if !(1..=100).contains(&rate_limit) {
        return Err(Problem::bad_request(format!(
            "rate_limit must be a whole number of requests per second from 1 to 100, got {rate_limit}"
        )));
    }
    let auth_config = consumer_auth(body.consumer_auth, allow_private).await?;
    let now = time::now();
    let webhook = Webhook {
        id: Uuid::new_v4(),
        customer_id: auth.customer,
        name,
        url,
        event_types,
        auth: auth_config,
        rate_limit,
        secret: format!("whsec_{}", random_hex(32)),
        status: "ACTIVE".into(),
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    app.core.store.create_webhook(&webhook).await?;
    let secret = webhook.secret.clone();
    let mut body = webhook_body(webhook);
    body.secret = Some(secret);
    Ok(Json(body))
}

fn not_found(id: Uuid, customer: Uuid) -> Problem {
    Problem::not_found(format!(
        "webhook with id {id} not found for customer with id {customer}"
    ))
}

async fn owned(app: &App, auth: &Auth, raw: &str) -> ApiResult<Webhook> {
    let id = parse_uuid("id", raw)?;
    app.core
        .store
        .webhook(auth.customer, id)
        .await?
        .ok_or_else(|| not_found(id, auth.customer))
}

pub async fn get(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookBody>> {
    auth.require(scope::READ_EVENT)?;
    Ok(Json(webhook_body(owned(&app, &auth, &id).await?)))
}

pub async fn list(
    State(app): State<AppState>,
    auth: Auth,
    params: Params,
) -> ApiResult<Json<ListBody<WebhookBody>>> {
    auth.require(scope::READ_EVENT)?;
    let filter = WebhookFilter {
        statuses: many(&params, "status", |v| match v {
            "ACTIVE" | "DELETED" => Ok(v.to_string()),
            _ => Err(Problem::bad_request(format!(
                "status must be ACTIVE or DELETED, got {v:?}"
            ))),
        })?,
        page: pagination::page(&params, &app.keys, &WEBHOOK_PAGING)?,
    };
    let rows = app.core.store.list_webhooks(auth.customer, &filter).await?;
    let (rows, next_page_cursor) =
        pagination::finish(&app.keys, WEBHOOK_PAGING.list, &filter.page, rows, |w| {
            (w.created_at, w.id.to_string())
        });
    Ok(Json(ListBody {
        items: rows.into_iter().map(webhook_body).collect(),
        next_page_cursor,
    }))
}

pub async fn delete(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookBody>> {
    auth.require(scope::WRITE_WEBHOOK)?;
    let id = parse_uuid("id", &id)?;
    let deleted = app
        .core
        .store
        .delete_webhook(auth.customer, id, time::now())
        .await
        .map_err(|e| match e {
            StoreError::NotFound => not_found(id, auth.customer),
            other => other.into(),
        })?;
    Ok(Json(webhook_body(deleted)))
}

#[derive(Deserialize, Default)]
pub struct TestRequest {
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// A made-up object of the right shape for a test event of this type.
fn sample_object(kind: &str) -> String {
    let id = Uuid::new_v4();
    let mut parts = kind.split('.');
    let family = parts.next().unwrap_or_default();
    let status = kind.rsplit('.').next().unwrap_or_default().to_uppercase();
    match family {
        "orchestration" => {
            json!({ "id": id, "ref_id": format!("test-{}", id.simple()), "status": status })
        }
        "transfer" => {
            let transfer_kind = parts.next().unwrap_or_default().to_uppercase();
            json!({ "id": id, "type": transfer_kind, "status": status })
        }
        _ => json!({ "id": id, "status": status }),
    }
    .to_string()
}

/// POST /v2/webhooks/{id}/test: a test event (`is_test: true`) delivered to
/// this webhook only. The body may name the `type`; by default the
/// webhook's first subscribed type.
pub async fn test(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<TestEventBody>> {
    auth.require(scope::WRITE_WEBHOOK)?;
    crate::api::common::extract::refuse_nul(&body)?;
    let request: TestRequest = if body.iter().all(u8::is_ascii_whitespace) {
        TestRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| Problem::bad_request(format!("invalid JSON body: {e}")))?
    };
    let webhook = owned(&app, &auth, &id).await?;
    if webhook.status != "ACTIVE" {
        return Err(Problem::conflict(format!(
            "webhook {} is {}; only an ACTIVE webhook receives events",
            webhook.id, webhook.status
        )));
    }
    let kind = match request.kind {
        Some(kind) => event_type("type")(&kind)?,
        None => webhook
            .event_types
            .first()
            .cloned()
            .unwrap_or_else(|| EVENT_TYPES[0].to_string()),
    };
    let event = app
        .core
        .store
        .create_test_event(
            auth.customer,
            webhook.id,
            &kind,
            &sample_object(&kind),
            time::now(),
        )
        .await
        .map_err(|e| match e {
            StoreError::NotFound => not_found(webhook.id, auth.customer),
            other => other.into(),
        })?;
    let event = event_body(event);
    Ok(Json(TestEventBody {
        is_test: event.is_test,
        event,
    }))
}

pub async fn deliveries(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<ListBody<DeliveryBody>>> {
    auth.require(scope::READ_EVENT)?;
    let webhook = owned(&app, &auth, &id).await?;
    let filter = DeliveryFilter {
        statuses: many(&params, "status", |v| {
            if DELIVERY_STATUSES.contains(&v) {
                Ok(v.to_string())
            } else {
                Err(Problem::bad_request(format!(
                    "status must be one of {}, got {v:?}",
                    DELIVERY_STATUSES.join(", ")
                )))
            }
        })?,
        event_id: params.uuid("event_id")?,
        page: pagination::page(&params, &app.keys, &DELIVERY_PAGING)?,
    };
    let rows = app
        .core
        .store
        .list_deliveries(auth.customer, webhook.id, &filter)
        .await?;
    let (rows, next_page_cursor) =
        pagination::finish(&app.keys, DELIVERY_PAGING.list, &filter.page, rows, |d| {
            (d.created_at, d.event_id.to_string())
        });
    Ok(Json(ListBody {
        items: rows.into_iter().map(delivery_body).collect(),
        next_page_cursor,
    }))
}

#[derive(Deserialize)]
pub struct RedeliverRequest {
    event_id: Option<String>,
}

/// POST /v2/webhooks/{id}/deliveries {"event_id"}: sends one of the
/// customer's events to this webhook, again or for the first time, with a
/// fresh retry window.
pub async fn redeliver(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RedeliverRequest>,
) -> ApiResult<(StatusCode, Json<DeliveryBody>)> {
    auth.require(scope::WRITE_WEBHOOK)?;
    let raw = required("event_id", body.event_id)?;
    let event = parse_uuid("event_id", &raw)?;
    let webhook = owned(&app, &auth, &id).await?;
    if webhook.status != "ACTIVE" {
        return Err(Problem::conflict(format!(
            "webhook {} is {}; only an ACTIVE webhook receives events",
            webhook.id, webhook.status
        )));
    }
    if app.core.store.event(auth.customer, event).await?.is_none() {
        return Err(Problem::not_found(format!(
            "event with id {event} not found for customer with id {}",
            auth.customer
        )));
    }
    let delivery = app
        .core
        .store
        .redeliver(auth.customer, webhook.id, event, time::now())
        .await
        .map_err(|e| match e {
            StoreError::NotFound => not_found(webhook.id, auth.customer),
            StoreError::NotPending(detail) => Problem::conflict(detail),
            other => other.into(),
        })?;
    Ok((StatusCode::OK, Json(delivery_body(delivery))))
}

pub async fn attempts(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<ListBody<AttemptBody>>> {
    auth.require(scope::READ_EVENT)?;
    let webhook = owned(&app, &auth, &id).await?;
    let filter = AttemptFilter {
        event_id: params.uuid("event_id")?,
        page: pagination::page(&params, &app.keys, &ATTEMPT_PAGING)?,
    };
    let rows = app
        .core
        .store
        .list_attempts(auth.customer, webhook.id, &filter)
        .await?;
    let (rows, next_page_cursor) =
        pagination::finish(&app.keys, ATTEMPT_PAGING.list, &filter.page, rows, |a| {
            (a.created_at, a.id.to_string())
        });
    Ok(Json(ListBody {
        items: rows.into_iter().map(attempt_body).collect(),
        next_page_cursor,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_addresses() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn targets() {
        assert!(check_target("url", "ftp://example.com/x", true)
            .await
            .is_err());
        assert!(check_target("url", "not a url", true).await.is_err());
        assert!(check_target("url", "http://user:pw@example.com/", true)
            .await
            .is_err());
        assert!(check_target("url", "http://127.0.0.1:9/x", true)
            .await
            .is_ok());
        assert!(check_target("url", "http://127.0.0.1:9/x", false)
            .await
            .is_err());
        assert!(check_target("url", "http://[::1]:9/x", false)
            .await
            .is_err());
        assert!(check_target("url", "http://localhost:9/x", false)
            .await
            .is_err());
        assert!(check_target("url", "http://8.8.8.8/x", false).await.is_ok());
    }
}
