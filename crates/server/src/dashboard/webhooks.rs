//! Webhooks: each one's recent deliveries and attempts (failures with their
//! status code or error), a test event, and redelivery of an event.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use stableport_core::webhooks;
use stableport_domain::{DeliveryStatus, Role};
use stableport_store::{
    AttemptFilter, Delivery, DeliveryAttempt, DeliveryFilter, Page, Webhook, WebhookFilter,
};
use uuid::Uuid;

use super::{csrf_refusal, failure, layout, status_of, Viewer};
use crate::state::AppState;
use crate::time;

const RECENT: i64 = 10;

fn recent() -> Page {
    Page::newest(RECENT)
}

/// Who may send test events and redeliver.
fn may_act(viewer: &Viewer) -> bool {
    viewer
        .user
        .roles
        .iter()
        .any(|r| matches!(r, Role::EntityManager | Role::Treasurer))
}

#[derive(Deserialize)]
pub struct Shown {
    done: Option<String>,
}

pub async fn page(State(app): State<AppState>, viewer: Viewer, q: Query<Shown>) -> Response {
    let notice = match q.done.as_deref() {
        Some("test") => Some(Ok("A test event is on its way.")),
        Some("redeliver") => Some(Ok("The event is queued for delivery again.")),
        _ => None,
    };
    render(&app, &viewer, StatusCode::OK, notice).await
}

type Shown3 = Vec<(Webhook, Vec<Delivery>, Vec<DeliveryAttempt>)>;

async fn load(app: &AppState, viewer: &Viewer) -> stableport_core::Result<Shown3> {
    let (store, customer) = (&app.core.store, viewer.session.customer_id);
    let filter = WebhookFilter {
        statuses: Vec::new(),
        page: Page {
            limit: 100,
            ..recent()
        },
    };
    let mut shown = Vec::new();
    for w in store.list_webhooks(customer, &filter).await? {
        let deliveries = DeliveryFilter {
            statuses: Vec::new(),
            event_id: None,
            page: recent(),
        };
        let deliveries = store.list_deliveries(customer, w.id, &deliveries).await?;
        let attempts = AttemptFilter {
            event_id: None,
            page: recent(),
        };
        let attempts = store.list_attempts(customer, w.id, &attempts).await?;
        shown.push((w, deliveries, attempts));
    }
    Ok(shown)
}

async fn render(
    app: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    said: Option<Result<&str, String>>,
) -> Response {
    let shown = match load(app, viewer).await {
        Ok(shown) => shown,
        Err(e) => return failure(e),
    };
    let body = html! {
        (layout::said(&said))
        div data-live {
            @if shown.is_empty() { p.muted { "No webhooks. Create one with POST /v2/webhooks." } }
            @for (w, deliveries, attempts) in &shown {
                section.card aria-labelledby=(format!("w-{}", w.id)) {
                    h2 id=(format!("w-{}", w.id)) { (w.name) " " span.muted { "(" (w.status.as_str()) ")" } }
                    p { code { (w.url) } " · " (w.event_types.join(", ")) }
                    @if may_act(viewer) && w.status.as_str() == "ACTIVE" {
                        form method="post" action=(format!("/dashboard/webhooks/{}/test", w.id)) {
                            input type="hidden" name="csrf" value=(viewer.session.csrf_token);
                            button.secondary type="submit" { "Send a test event" }
                        }
                    }
                    (delivery_table(viewer, w, deliveries))
                    (attempt_table(w, attempts))
                }
            }
        }
    };
    layout::page(status, "Webhooks", Some(viewer), body)
}

fn delivery_table(viewer: &Viewer, w: &Webhook, deliveries: &[Delivery]) -> Markup {
    html! {
        h3 { "Recent deliveries" }
        @if deliveries.is_empty() { p.muted { "None yet." } }
        @else {
            table.deliveries {
                thead { tr {
                    th scope="col" { "Event" } th scope="col" { "Type" } th scope="col" { "Status" }
                    th.num scope="col" { "Attempts" } th scope="col" { "Last answer" } th scope="col" { span.sr-only { "Action" } }
                } }
                tbody {
                    @for d in deliveries {
                        tr data-event=(d.event_id) {
                            td { code { (d.event_id) } }
                            td { (d.event_type) }
                            td.status { (d.status.as_str()) }
                            td.num { (d.attempts) }
                            td { (last_answer(d.last_status_code, d.last_error.as_deref())) }
                            td {
                                @if may_act(viewer) && d.status != DeliveryStatus::Pending && d.status != DeliveryStatus::Cancelled {
                                    form method="post" action=(format!("/dashboard/webhooks/{}/redeliver", w.id)) {
                                        input type="hidden" name="csrf" value=(viewer.session.csrf_token);
                                        input type="hidden" name="event_id" value=(d.event_id);
                                        button.secondary type="submit" aria-label=(format!("Redeliver event {}", d.event_id)) { "Redeliver" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn last_answer(code: Option<i64>, error: Option<&str>) -> String {
    match (code, error) {
        (Some(code), _) => format!("HTTP {code}"),
        (None, Some(error)) => error.to_string(),
        (None, None) => "—".into(),
    }
}

fn attempt_table(w: &Webhook, attempts: &[DeliveryAttempt]) -> Markup {
    html! {
        h3 { "Recent attempts" }
        @if attempts.is_empty() { p.muted { "None yet." } }
        @else {
            table.attempts aria-label=(format!("Attempts to {}", w.name)) {
                thead { tr {
                    th scope="col" { "When" } th scope="col" { "Event" } th.num scope="col" { "Attempt" }
                    th scope="col" { "Answer" } th.num scope="col" { "Took (ms)" }
                } }
                tbody {
                    @for a in attempts {
                        tr {
                            td { (layout::when(a.created_at)) }
                            td { code { (a.event_id) } }
                            td.num { (a.attempt) }
                            td { (last_answer(a.status_code, a.error.as_deref())) }
                            td.num { (a.latency_micros / 1000) }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    event_id: String,
}

pub async fn act(
    State(app): State<AppState>,
    viewer: Viewer,
    Path((id, what)): Path<(String, String)>,
    Form(f): Form<ActionForm>,
) -> Response {
    if let Some(refused) = csrf_refusal(&viewer, &f.csrf) {
        return refused;
    }
    if !may_act(&viewer) {
        let why =
            "Sending test events and redelivering needs the ENTITY_MANAGER or TREASURER role."
                .to_string();
        return render(&app, &viewer, StatusCode::FORBIDDEN, Some(Err(why))).await;
    }
    let Ok(id) = Uuid::parse_str(&id) else {
        return layout::message(StatusCode::NOT_FOUND, "Not found", "No such webhook.");
    };
    let (customer, now) = (viewer.session.customer_id, time::now());
    let done = match what.as_str() {
        "test" => webhooks::send_test(&app.core, customer, id, None, now)
            .await
            .map(|_| ()),
        "redeliver" => match Uuid::parse_str(&f.event_id) {
            Ok(event) => webhooks::redeliver(&app.core, customer, id, event, now)
                .await
                .map(|_| ()),
            Err(_) => Err(stableport_core::CoreError::invalid(
                "event_id must be an event's id",
            )),
        },
        _ => return layout::message(StatusCode::NOT_FOUND, "Not found", "No such action."),
    };
    match done {
        Ok(()) => Redirect::to(&format!("/dashboard/webhooks?done={what}")).into_response(),
        Err(e) if status_of(&e) == StatusCode::INTERNAL_SERVER_ERROR => failure(e),
        Err(e) => render(&app, &viewer, status_of(&e), Some(Err(e.to_string()))).await,
    }
}
