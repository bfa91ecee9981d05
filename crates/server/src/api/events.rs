//! /v2/events: every status change, as written in the transaction that made
//! it. Webhook payloads carry only an event's id; this is where a consumer
//! reads the rest, or catches up on what it missed (ascending order with a
//! `created_at.gt` bound or a `page_cursor`).

use axum::extract::{Path, State};
use axum::Json;
use serde::Serialize;
use stableport_store::{EventFilter, Order, EVENT_TYPES};

use crate::api::common::auth::{scope, Auth};
use crate::api::common::event_json::{event_body, event_type, EventBody};
use crate::api::common::extract::{parse_uuid, Params};
use crate::api::common::pagination::{self, Defaults};
use crate::api::common::problem::{ApiResult, Problem};
use crate::api::common::routes::Routes;
use crate::state::AppState;

pub fn routes(_sandbox: bool) -> Routes {
    Routes::new().get("/events", list).get("/events/{id}", get)
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
pub struct ListEventsBody {
    pub events: Vec<EventBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_cursor: Option<String>,
}

/// Every event type of Paxos's webhook spec. A list filtered by one that
/// Stableport never emits is empty, not an error.
pub const PAXOS_EVENT_TYPES: &[&str] = &[
    "identity.documents_required",
    "identity.approved",
    "identity.denied",
    "identity.disabled",
    "identity.kyc_refresh.started",
    "identity.kyc_refresh.completed",
    "identity.kyc_refresh.expired",
    "orchestration.processing",
    "orchestration.completed",
    "orchestration.failed",
    "transfer.crypto_deposit.pending",
    "transfer.crypto_deposit.completed",
    "transfer.crypto_deposit.failed",
    "transfer.crypto_withdrawal.pending",
    "transfer.crypto_withdrawal.completed",
    "transfer.crypto_withdrawal.failed",
    "transfer.act_deposit.pending",
    "transfer.act_deposit.completed",
    "transfer.act_deposit.failed",
    "transfer.act_withdrawal.pending",
    "transfer.act_withdrawal.completed",
    "transfer.act_withdrawal.failed",
    "transfer.wire_deposit.pending",
    "transfer.wire_deposit.completed",
    "transfer.wire_deposit.failed",
    "transfer.wire_withdrawal.pending",
    "transfer.wire_withdrawal.completed",
    "transfer.wire_withdrawal.failed",
    "transfer.cubix_deposit.pending",
    "transfer.cubix_deposit.completed",
    "transfer.cubix_deposit.failed",
    "transfer.cubix_withdrawal.pending",
    "transfer.cubix_withdrawal.completed",
    "transfer.cubix_withdrawal.failed",
    "transfer.scb_intrabank_deposit.pending",
    "transfer.scb_intrabank_deposit.completed",
    "transfer.scb_intrabank_deposit.failed",
    "transfer.scb_intrabank_withdrawal.pending",
    "transfer.scb_intrabank_withdrawal.completed",
    "transfer.scb_intrabank_withdrawal.failed",
    "transfer.banking_circle_intrabank_deposit.pending",
    "transfer.banking_circle_intrabank_deposit.completed",
    "transfer.banking_circle_intrabank_deposit.failed",
    "transfer.banking_circle_intrabank_withdrawal.pending",
    "transfer.banking_circle_intrabank_withdrawal.completed",
    "transfer.banking_circle_intrabank_withdrawal.failed",
    "transfer.bny_intrabank_deposit.pending",
    "transfer.bny_intrabank_deposit.completed",
    "transfer.bny_intrabank_deposit.failed",
    "transfer.bny_intrabank_withdrawal.pending",
    "transfer.bny_intrabank_withdrawal.completed",
    "transfer.bny_intrabank_withdrawal.failed",
    "transfer.rtp_deposit.pending",
    "transfer.rtp_deposit.completed",
    "transfer.rtp_deposit.failed",
];

/// The `type` filter of `/v2/events`: known types, and whether the filter
/// names only types that are never emitted (so matches nothing).
fn type_filter(params: &Params) -> ApiResult<(Vec<String>, bool)> {
    let asked = crate::api::common::fields::capped(params, "type")?;
    let mut emitted = Vec::new();
    for kind in &asked {
        if EVENT_TYPES.contains(kind) {
            emitted.push(kind.to_string());
        } else if !PAXOS_EVENT_TYPES.contains(kind) {
            event_type("type")(kind)?;
        }
    }
    let matches_nothing = !asked.is_empty() && emitted.is_empty();
    Ok((emitted, matches_nothing))
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
    let (types, matches_nothing) = type_filter(&params)?;
    if matches_nothing {
        return Ok(Json(ListEventsBody {
            events: Vec::new(),
            next_page_cursor: None,
        }));
    }
    let filter = EventFilter {
        types,
        created_at: pagination::time_range(&params, "created_at")?,
        is_test: is_test(&params)?,
        page: pagination::page(&params, &app.keys, &PAGING)?,
    };
    let rows = app.core.store.list_events(auth.customer, &filter).await?;
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
        .core
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
