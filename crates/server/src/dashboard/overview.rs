//! Overview: every profile's balances, and the customer's totals per asset
//! with a bar chart of them.

use std::collections::{BTreeMap, HashMap};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use stableport_domain::amount::{format_units, usd_cents};
use stableport_domain::Asset;
use stableport_store::{Order, Page, Profile, ProfileFilter, SortKey};
use uuid::Uuid;

use super::{failure, layout, Viewer};
use crate::state::AppState;

/// More profiles than this are listed by the API, not here.
const MAX_PROFILES: i64 = 200;

pub async fn page(State(app): State<AppState>, viewer: Viewer) -> Response {
    match balances(&app, &viewer).await {
        Ok(rows) => {
            let body = render(&rows);
            layout::page(StatusCode::OK, "Overview", Some(&viewer), body)
        }
        Err(e) => failure(e),
    }
}

type Rows = Vec<(Profile, Vec<(Asset, i64)>)>;

async fn balances(app: &AppState, viewer: &Viewer) -> stableport_core::Result<Rows> {
    let filter = ProfileFilter {
        created_at: Default::default(),
        nickname_prefix: None,
        ids: Vec::new(),
        include_deactivated: false,
        page: Page {
            order: Order::Asc,
            limit: MAX_PROFILES,
            after: None,
            by: SortKey::CreatedAt,
        },
    };
    let (store, customer) = (&app.core.store, viewer.session.customer_id);
    let profiles = store.list_profiles(customer, &filter).await?;
    // One query for every balance, not one per profile.
    let mut held: HashMap<Uuid, Vec<(Asset, i64)>> = HashMap::new();
    for (profile, b) in store.customer_balances(customer).await? {
        held.entry(profile)
            .or_default()
            .push((b.asset, b.available));
    }
    let rows = profiles.into_iter().map(|p| {
        let balances = held.remove(&p.id).unwrap_or_default();
        (p, balances)
    });
    Ok(rows.collect())
}

fn render(rows: &Rows) -> Markup {
    let mut totals: BTreeMap<&str, (Asset, i64)> = BTreeMap::new();
    for (_, held) in rows {
        for (asset, units) in held {
            totals.entry(asset.code()).or_insert((*asset, 0)).1 += units;
        }
    }
    html! {
        div data-live {
            h2 { "Totals" }
            @if totals.is_empty() { p.muted { "No balances yet." } }
            @else {
                (chart(&totals))
                table {
                    caption.muted { "Totals across profiles" }
                    thead { tr { th scope="col" { "Asset" } th.num scope="col" { "Available" } } }
                    tbody {
                        @for (code, (asset, units)) in &totals {
                            tr { td { (code) } td.num { (format_units(*units, *asset)) } }
                        }
                    }
                }
            }
            h2 { "Profiles" }
            table {
                thead { tr {
                    th scope="col" { "Profile" } th scope="col" { "Asset" }
                    th.num scope="col" { "Available" } th.num scope="col" { "Trading" }
                } }
                tbody {
                    @for (profile, held) in rows {
                        @if held.is_empty() {
                            tr { td { (profile.nickname) } td.muted colspan="3" { "Empty" } }
                        }
                        @for (asset, units) in held {
                            tr {
                                td { (profile.nickname) }
                                td { (asset.code()) }
                                td.num { (format_units(*units, *asset)) }
                                td.num { "0" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Horizontal bars, one per asset, scaled to the largest total (every
/// asset is worth a dollar, so the bars compare). Integer arithmetic only.
fn chart(totals: &BTreeMap<&str, (Asset, i64)>) -> Markup {
    let cents: Vec<(&str, i128)> = totals
        .iter()
        .map(|(code, (asset, units))| (*code, i128::from(usd_cents(*units, *asset).max(0))))
        .collect();
    let largest = cents.iter().map(|(_, c)| *c).max().unwrap_or(1).max(1);
    let height = 28 * cents.len() + 8;
    html! {
        svg role="img" aria-label="Total available per asset" width="100%" height=(height)
            viewBox=(format!("0 0 600 {height}")) preserveAspectRatio="xMinYMin meet" {
            @for (i, (code, c)) in cents.iter().enumerate() {
                @let y = 8 + 28 * i;
                text x="0" y=(y + 14) { (code) }
                @let width = 1 + 430 * c / largest;
                rect x="70" y=(y) height="18" width=(width) fill="#0b4f9c" {}
                text x=(78 + width) y=(y + 14) { (format_units(*c as i64, Asset::Usd)) " USD" }
            }
        }
    }
}
