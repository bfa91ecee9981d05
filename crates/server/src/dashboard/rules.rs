//! Orchestration rules: what each converts, where its deposits arrive, and
//! its status (PENDING ones wait for approval).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use stableport_store::{Order, Page, RuleFilter, RuleSource, SortKey};

use super::{failure, layout, Viewer};
use crate::state::AppState;

pub async fn page(State(app): State<AppState>, viewer: Viewer) -> Response {
    let filter = RuleFilter {
        profile_id: None,
        statuses: Vec::new(),
        source_asset: None,
        destination_asset: None,
        ids: Vec::new(),
        page: Page {
            order: Order::Desc,
            limit: 200,
            after: None,
            by: SortKey::CreatedAt,
        },
    };
    let rules = match app
        .core
        .store
        .list_rules(viewer.session.customer_id, &filter)
        .await
    {
        Ok(rules) => rules,
        Err(e) => return failure(e.into()),
    };
    let body = html! {
        div data-live {
            @if rules.is_empty() { p.muted { "No rules. Create one with POST /v2/orchestration/rules." } }
            @else {
                table.rules {
                    thead { tr {
                        th scope="col" { "Ref id" } th scope="col" { "Converts" }
                        th scope="col" { "Deposits arrive at" } th scope="col" { "Status" } th scope="col" { "Created" }
                    } }
                    tbody { @for r in &rules { tr {
                        td { (r.ref_id) @if let Some(n) = &r.nickname { br; span.muted { (n) } } }
                        td { (r.source_asset.code()) " → " (r.destination_asset.code()) }
                        td { @match &r.source {
                            RuleSource::Crypto(a) => { (a.network.code()) " " code { (a.address) } },
                            RuleSource::Fiat(i) => { (i.network.code()) " memo " code { (i.memo_id) } },
                        } }
                        td.status { (r.status.as_str()) }
                        td { (layout::when(r.created_at)) }
                    } } }
                }
            }
        }
    };
    layout::page(StatusCode::OK, "Rules", Some(&viewer), body)
}
