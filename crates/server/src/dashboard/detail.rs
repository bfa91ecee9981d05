//! One conversion, orchestration or transfer: what it is, its status
//! timeline (from its events), its ledger postings, and the webhook
//! deliveries of its events.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use stableport_domain::amount::format_units;
use stableport_store::{Delivery, Event, LedgerEntry, Page, Trail, WebhookFilter};
use uuid::Uuid;

use super::{failure, layout, Viewer};
use crate::state::AppState;

/// What the page says about the item itself.
struct Item {
    kind: &'static str,
    status: String,
    facts: Vec<(&'static str, String)>,
    created_at: i64,
    /// Whose ledger entries and events belong here: the item, and for a
    /// deposit the deposit its entry is booked under.
    ids: Vec<Uuid>,
}

pub async fn page(
    State(app): State<AppState>,
    viewer: Viewer,
    Path((kind, id)): Path<(String, String)>,
) -> Response {
    let not_found = || {
        let body = html! { p.alert role="alert" { "There is no such item." } p { a href="/dashboard/activity" { "Back to activity" } } };
        layout::page(StatusCode::NOT_FOUND, "Not found", Some(&viewer), body)
    };
    let Ok(id) = Uuid::parse_str(&id) else {
        return not_found();
    };
    let item = match item(&app, &viewer, &kind, id).await {
        Ok(Some(item)) => item,
        Ok(None) => return not_found(),
        Err(e) => return failure(e),
    };
    let store = &app.core.store;
    let customer = viewer.session.customer_id;
    let trail = match store.trail(customer, &item.ids).await {
        Ok(trail) => trail,
        Err(e) => return failure(e.into()),
    };
    let names = match webhook_names(&app, customer).await {
        Ok(names) => names,
        Err(e) => return failure(e),
    };
    let title = format!("{} {}", item.kind, item.status.to_lowercase());
    let body = render(&item, &trail, &names);
    layout::page(StatusCode::OK, &title, Some(&viewer), body)
}

async fn item(
    app: &AppState,
    viewer: &Viewer,
    kind: &str,
    id: Uuid,
) -> stableport_core::Result<Option<Item>> {
    let (store, customer) = (&app.core.store, viewer.session.customer_id);
    let amount = |units: i64, asset: stableport_domain::Asset| {
        format!("{} {asset}", format_units(units, asset))
    };
    Ok(match kind {
        "conversion" => store.conversion(customer, id).await?.map(|c| Item {
            kind: "Conversion",
            status: c.status.as_str().into(),
            facts: vec![
                ("From", amount(c.source_units, c.source_asset)),
                ("To", amount(c.target_units, c.target_asset)),
                ("Profile", c.profile_id.to_string()),
                ("Ref id", c.ref_id.unwrap_or_default()),
            ],
            created_at: c.created_at,
            ids: vec![c.id],
        }),
        "orchestration" => store.orchestration(customer, id).await?.map(|o| Item {
            kind: "Orchestration",
            status: o.status.as_str().into(),
            facts: vec![
                ("From", amount(o.source_units, o.source_asset)),
                ("To", amount(o.destination_units, o.destination_asset)),
                ("Profile", o.profile_id.to_string()),
                ("Ref id", o.ref_id),
                ("Failure", o.fail_reason.unwrap_or_default()),
            ],
            created_at: o.created_at,
            ids: vec![o.id],
        }),
        "transfer" => store.transfer(customer, id).await?.map(|t| {
            let group = t.group_id.as_deref().and_then(|g| Uuid::parse_str(g).ok());
            Item {
                kind: "Transfer",
                status: t.status.as_str().into(),
                facts: vec![
                    ("Type", t.kind.as_str().replace('_', " ").to_lowercase()),
                    ("Amount", amount(t.units, t.asset)),
                    ("Profile", t.profile_id.to_string()),
                    ("Ref id", t.ref_id.unwrap_or_default()),
                    ("Network", t.crypto_network.unwrap_or_default()),
                    ("Address", t.destination_address.unwrap_or_default()),
                ],
                created_at: t.created_at,
                ids: std::iter::once(t.id).chain(group).collect(),
            }
        }),
        _ => None,
    })
}

async fn webhook_names(
    app: &AppState,
    customer: Uuid,
) -> stableport_core::Result<HashMap<Uuid, String>> {
    let filter = WebhookFilter {
        statuses: Vec::new(),
        page: Page::newest(100),
    };
    let hooks = app.core.store.list_webhooks(customer, &filter).await?;
    Ok(hooks.into_iter().map(|w| (w.id, w.name)).collect())
}

fn render(item: &Item, trail: &Trail, names: &HashMap<Uuid, String>) -> Markup {
    html! {
        p { a href="/dashboard/activity" { "Back to activity" } }
        div data-live {
            dl {
                dt { "Id" } dd { code { (item.ids[0]) } }
                dt { "Status" } dd.status { (item.status) }
                @for (name, value) in item.facts.iter().filter(|(_, v)| !v.is_empty()) {
                    dt { (name) } dd { (value) }
                }
            }
            h2 { "Timeline" }
            (timeline(item, &trail.events))
            h2 { "Ledger postings" }
            (postings(&trail.entries))
            h2 { "Webhook deliveries" }
            (deliveries(&trail.deliveries, names))
        }
    }
}

/// Created, then each event in turn: the status changes as they happened.
fn timeline(item: &Item, events: &[Event]) -> Markup {
    html! {
        ol.timeline {
            li { time { (layout::when(item.created_at)) } " · created" }
            @for e in events {
                li { time { (layout::when(e.created_at)) } " · " code { (e.kind) } }
            }
        }
    }
}

fn postings(entries: &[LedgerEntry]) -> Markup {
    html! {
        @if entries.is_empty() { p.muted { "No ledger entries." } }
        @else {
            table.postings {
                caption.muted { "Each entry's postings sum to zero per asset" }
                thead { tr {
                    th scope="col" { "When" } th scope="col" { "Entry" } th scope="col" { "Account" }
                    th scope="col" { "Asset" } th.num scope="col" { "Amount" }
                } }
                tbody {
                    @for e in entries {
                        @for p in &e.postings {
                            tr {
                                td { (layout::when(e.created_at)) }
                                td { (e.kind) }
                                td { code { (p.account) } }
                                td { (p.asset.code()) }
                                td.num { (format_units(p.units, p.asset)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn deliveries(deliveries: &[Delivery], names: &HashMap<Uuid, String>) -> Markup {
    html! {
        @if deliveries.is_empty() { p.muted { "No webhook subscribed to these events." } }
        @else {
            table {
                thead { tr {
                    th scope="col" { "Webhook" } th scope="col" { "Event" } th scope="col" { "Status" }
                    th.num scope="col" { "Attempts" } th scope="col" { "Last answer" }
                } }
                tbody {
                    @for d in deliveries {
                        tr {
                            td { a href="/dashboard/webhooks" { (names.get(&d.webhook_id).cloned().unwrap_or_else(|| d.webhook_id.to_string())) } }
                            td { code { (d.event_type) } }
                            td.status { (d.status.as_str()) }
                            td.num { (d.attempts) }
                            td { (last_answer(d)) }
                        }
                    }
                }
            }
        }
    }
}

fn last_answer(d: &Delivery) -> String {
    match (&d.last_status_code, &d.last_error) {
        (Some(code), _) => format!("HTTP {code}"),
        (None, Some(error)) => error.clone(),
        (None, None) => "—".into(),
    }
}
