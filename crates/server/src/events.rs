//! /v2/events: every status change, as written in the transaction that made
//! it. Webhook payloads carry only an event's id; this is where a consumer
//! reads the rest, or catches up on what it missed (ascending order with a
//! `created_at.gt` bound or a `page_cursor`).

use axum::extract::{Path, State};
use axum::routing;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;
use stableport_store::{object_type, Event, EventFilter, Order, EVENT_TYPES};
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::{scope, Auth};
use crate::extract::{parse_uuid, Params};
use crate::fields::many;
use crate::pagination::{self, Defaults};
use crate::problem::{ApiResult, Problem};
use crate::time;

pub fn routes(_sandbox: bool) -> Router<AppState> {
    Router::new()
        .route("/events", routing::get(list))
        .route("/events/{id}", routing::get(get))
}

/// The spec: "Events returned will always be ordered in created_at
/// ascending order", limit 1..100 (default 100). `order=DESC` is ours.
const PAGING: Defaults = Defaults {
    list: "events",
    limit: 100,
    max_limit: 100,
    order: Order::Asc,
};

#[derive(Serialize)]
pub struct EventBody {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: String,
    pub object_type: &'static str,
    pub object: Value,
    pub created_at: String,
    pub undelivered_webhooks: i64,
    pub is_test: bool,
}

pub fn event_body(e: Event) -> EventBody {
    let mut object: Value = serde_json::from_str(&e.payload).unwrap_or(Value::Null);
    // Events written before the object shapes were settled carried an
    // "object" tag of their own.
    if let Some(map) = object.as_object_mut() {
        if map.get("object").is_some_and(Value::is_string) {
            map.remove("object");
        }
    }
    EventBody {
        id: e.id,
        object_type: object_type(&e.kind),
        kind: e.kind,
        object,
        created_at: time::format(e.created_at),
        undelivered_webhooks: e.undelivered_webhooks,
        is_test: e.is_test,
    }
}

#[derive(Serialize)]
pub struct ListEventsBody {
    pub events: Vec<EventBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_cursor: Option<String>,
}

pub fn event_type(name: &str) -> impl Fn(&str) -> ApiResult<String> + '_ {
    move |v| {
        if EVENT_TYPES.contains(&v) {
            Ok(v.to_string())
        } else {
            Err(Problem::bad_request(format!(
                "{name}: unknown event type {v:?}; known types: {}",
                EVENT_TYPES.join(", ")
            )))
        }
    }
}

fn is_test(params: &Params) -> ApiResult<bool> {
    match params.one("is_test")? {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(Problem::bad_request(format!(
            "is_test must be true or false, got {other:?}"
        ))),
    }
}

pub async fn list(
    State(app): State<AppState>,
    auth: Auth,
    params: Params,
) -> ApiResult<Json<ListEventsBody>> {
    auth.require(scope::READ_EVENT)?;
    let filter = EventFilter {
        types: many(&params, "type", event_type("type"))?,
        created_at: pagination::time_range(&params, "created_at")?,
        is_test: is_test(&params)?,
        page: pagination::page(&params, &app.keys, &PAGING)?,
    };
    let rows = app.store.list_events(auth.customer, &filter).await?;
    let (rows, next_page_cursor) =
        pagination::finish(&app.keys, PAGING.list, &filter.page, rows, |e| {
            (e.created_at, e.id.to_string())
        });
    Ok(Json(ListEventsBody {
        events: rows.into_iter().map(event_body).collect(),
        next_page_cursor,
    }))
}

pub async fn get(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<EventBody>> {
    auth.require(scope::READ_EVENT)?;
    let id = parse_uuid("id", &id)?;
    let want_test = is_test(&params)?;
    let not_found = || {
        Problem::not_found(format!(
            "event with id {id} not found for customer with id {}",
            auth.customer
        ))
    };
    let event = app
        .store
        .event(auth.customer, id)
        .await?
        .ok_or_else(not_found)?;
    if event.is_test != want_test {
        // As the spec has it, is_test selects test or real events.
        return Err(Problem::not_found(if event.is_test {
            format!("event {id} is a test event: pass is_test=true to read it")
        } else {
            format!("event {id} is not a test event: omit is_test or pass is_test=false")
        }));
    }
    Ok(Json(event_body(event)))
}
