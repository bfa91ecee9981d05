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

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use stableport_core::webhooks::{self, NewWebhook};
use stableport_domain::{DeliveryStatus, WebhookStatus};
use stableport_store::{
    AttemptFilter, ConsumerAuth, Delivery, DeliveryAttempt, DeliveryFilter, Order, Webhook,
    WebhookFilter,
};
use uuid::Uuid;

use crate::api::common::auth::{scope, Auth};
use crate::api::common::event_json::{event_body, EventBody};
use crate::api::common::extract::{parse_uuid, JsonBody, Params};
use crate::api::common::fields::many;
use crate::api::common::pagination::ListBody;
use crate::api::common::pagination::{self, Defaults};
use crate::api::common::problem::{ApiResult, Problem};
use crate::api::common::routes::Routes;
use crate::outbound;
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
const MAX_SECRET_FIELD: usize = 1024;
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
    status: &'static str,
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
        status: w.status.as_str(),
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
    status: &'static str,
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
            .filter(|_| d.status == DeliveryStatus::Pending)
            .map(time::format),
        status: d.status.as_str(),
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

/// A status filter value: one of the enum's wire names.
fn one_of<T>(
    parse: fn(&str) -> Option<T>,
    names: fn() -> Vec<&'static str>,
) -> impl Fn(&str) -> ApiResult<String> {
    move |v| match (parse(v), names().as_slice()) {
        (Some(_), _) => Ok(v.to_string()),
        (None, [a, b]) => Err(Problem::bad_request(format!(
            "status must be {a} or {b}, got {v:?}"
        ))),
        (None, all) => Err(Problem::bad_request(format!(
            "status must be one of {}, got {v:?}",
            all.join(", ")
        ))),
    }
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

/// An http(s) URL a delivery may go to (see `outbound`).
async fn target(field: &str, text: Option<String>, allow_private: bool) -> ApiResult<String> {
    let text = required(field, text)?;
    let checked = outbound::check_target(field, &text, allow_private).await;
    checked.map_err(Problem::bad_request)
}

async fn consumer_auth(
    request: Option<AuthRequest>,
    allow_private: bool,
) -> ApiResult<ConsumerAuth> {
    let Some(request) = request else {
        return Ok(ConsumerAuth::None);
    };
    match (request.api_key, request.oauth) {
        (Some(key), None) => api_key(key),
        (None, Some(o)) => Ok(ConsumerAuth::OAuth {
            token_url: target("consumer_auth.oauth.token_url", o.token_url, allow_private).await?,
            client_id: bounded(
                "consumer_auth.oauth.client_id",
                o.client_id,
                MAX_SECRET_FIELD,
            )?,
            client_secret: bounded(
                "consumer_auth.oauth.client_secret",
                o.client_secret,
                MAX_SECRET_FIELD,
            )?,
            scope: match o.scope.filter(|s| !s.trim().is_empty()) {
                None => None,
                Some(s) => Some(bounded(
                    "consumer_auth.oauth.scope",
                    Some(s),
                    MAX_SECRET_FIELD,
                )?),
            },
        }),
        _ => Err(Problem::bad_request(
            "consumer_auth must name exactly one of api_key or oauth",
        )),
    }
}

/// A header we can send, not one we set ourselves, with a visible value.
fn api_key(key: ApiKeyRequest) -> ApiResult<ConsumerAuth> {
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

pub async fn create(
    State(app): State<AppState>,
    auth: Auth,
    JsonBody(body): JsonBody<CreateRequest>,
) -> ApiResult<Json<WebhookBody>> {
    auth.require(scope::WRITE_WEBHOOK)?;
    let allow_private = app.config.is_sandbox();
    let new = NewWebhook {
        name: bounded("name", body.name, MAX_NAME)?.trim().to_string(),
        url: target("url", body.url, allow_private).await?,
        event_types: body
            .event_types
            .ok_or_else(|| Problem::bad_request("event_types is required"))?,
        rate_limit: body.rate_limit,
        auth: consumer_auth(body.consumer_auth, allow_private).await?,
    };
    let webhook = webhooks::create(&app.core, auth.customer, auth.user, new, time::now()).await?;
    let secret = webhook.secret.clone();
    let mut body = webhook_body(webhook);
    body.secret = Some(secret);
    Ok(Json(body))
}

async fn owned(app: &App, auth: &Auth, raw: &str) -> ApiResult<Webhook> {
    let id = parse_uuid("id", raw)?;
    Ok(webhooks::get(&app.core, auth.customer, id).await?)
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
) -> ApiResult<ListBody<WebhookBody>> {
    auth.require(scope::READ_EVENT)?;
    let filter = WebhookFilter {
        statuses: many(
            &params,
            "status",
            one_of(WebhookStatus::parse, WebhookStatus::names),
        )?,
        page: pagination::page(&params, &app.keys, &WEBHOOK_PAGING)?,
    };
    let rows = app.core.store.list_webhooks(auth.customer, &filter).await?;
    let (rows, next_page_cursor) =
        pagination::finish(&app.keys, WEBHOOK_PAGING.list, &filter.page, rows, |w| {
            (w.created_at, w.id.to_string())
        });
    Ok(ListBody {
        items: rows.into_iter().map(webhook_body).collect(),
        next_page_cursor,
    })
}

pub async fn delete(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookBody>> {
    auth.require(scope::WRITE_WEBHOOK)?;
    let id = parse_uuid("id", &id)?;
    let deleted = webhooks::delete(&app.core, auth.customer, auth.user, id, time::now()).await?;
    Ok(Json(webhook_body(deleted)))
}

#[derive(Deserialize, Default)]
pub struct TestRequest {
    #[serde(rename = "type")]
    kind: Option<String>,
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
    let id = parse_uuid("id", &id)?;
    let now = time::now();
    let event = webhooks::send_test(&app.core, auth.customer, id, request.kind, now).await?;
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
) -> ApiResult<ListBody<DeliveryBody>> {
    auth.require(scope::READ_EVENT)?;
    let webhook = owned(&app, &auth, &id).await?;
    let filter = DeliveryFilter {
        statuses: many(
            &params,
            "status",
            one_of(DeliveryStatus::parse, DeliveryStatus::names),
        )?,
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
    Ok(ListBody {
        items: rows.into_iter().map(delivery_body).collect(),
        next_page_cursor,
    })
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
    let id = parse_uuid("id", &id)?;
    let delivery = webhooks::redeliver(&app.core, auth.customer, id, event, time::now()).await?;
    Ok((StatusCode::OK, Json(delivery_body(delivery))))
}

pub async fn attempts(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<ListBody<AttemptBody>> {
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
    Ok(ListBody {
        items: rows.into_iter().map(attempt_body).collect(),
        next_page_cursor,
    })
}
