//! Overview: every profile's balances, the customer's totals per asset with
//! a bar chart of them, the total's history and volume per day (both from
//! the sampler's samples, never the activity itself). Charts are SVG drawn with integer arithmetic, each
//! with its figures in a table for those who do not see it.

use std::collections::{BTreeMap, HashMap};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use stableport_domain::amount::{format_units, usd_cents};
use stableport_domain::Asset;
use stableport_store::{Order, Page, Profile, ProfileFilter, Series, SortKey, DAY};
use uuid::Uuid;

use super::{failure, layout, Viewer};
use crate::state::AppState;

/// More profiles than this are listed by the API, not here.
const MAX_PROFILES: i64 = 200;

/// How far back the charts look, and about how many balance points they draw.
const CHART_DAYS: i64 = 14;
const CHART_POINTS: i64 = 200;

pub async fn page(State(app): State<AppState>, viewer: Viewer) -> Response {
    match load(&app, &viewer).await {
        Ok((rows, history, volume)) => {
            let body = html! { (render(&rows)) (over_time(&history, &volume)) };
            layout::page(StatusCode::OK, "Overview", Some(&viewer), body)
        }
        Err(e) => failure(e),
    }
}

type Rows = Vec<(Profile, Vec<(Asset, i64)>)>;

/// Balances, total-in-cents samples (with now as the last), sampled cents
/// per day (quiet days as zero), all from a few hundred rows at most.
async fn load(
    app: &AppState,
    viewer: &Viewer,
) -> stableport_core::Result<(Rows, Vec<(i64, i64)>, Vec<(i64, i64)>)> {
    let (store, customer) = (&app.core.store, viewer.session.customer_id);
    let rows = balances(app, viewer).await?;
    let now = crate::time::now();
    let since = now - CHART_DAYS * DAY;
    let every = CHART_DAYS * DAY / CHART_POINTS;
    let mut history = in_cents(store.balance_history(customer, since, every).await?);
    let current = rows.iter().flat_map(|(_, held)| held);
    history.push((now, current.map(|(a, u)| usd_cents(*u, *a)).sum()));
    let today = now - now.rem_euclid(DAY);
    let first = today - (CHART_DAYS - 1) * DAY;
    let sampled = in_cents(store.daily_volume(customer, first).await?);
    let days = (0..CHART_DAYS).map(|i| first + i * DAY);
    let volume = days
        .map(|d| {
            (
                d,
                sampled
                    .iter()
                    .find(|(at, _)| *at == d)
                    .map_or(0, |(_, c)| *c),
            )
        })
        .collect();
    Ok((rows, history, volume))
}

/// A series summed across assets, each at a dollar, in cents.
fn in_cents(series: Series) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = Vec::new();
    for (at, asset, units) in series {
        let cents = usd_cents(units, asset);
        match out.last_mut() {
            Some((last, sum)) if *last == at => *sum = sum.saturating_add(cents),
            _ => out.push((at, cents)),
        }
    }
    out
}

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

/// The total's history as a line, and volume per day as bars.
fn over_time(history: &[(i64, i64)], volume: &[(i64, i64)]) -> Markup {
    let cents = |c: i64| format!("{} USD", format_units(c, Asset::Usd));
    html! {
        div data-live {
            h2 { "Total balance over time" }
            (line(history))
            details {
                summary { "Figures" }
                table {
                    thead { tr { th scope="col" { "Sampled" } th.num scope="col" { "Total" } } }
                    tbody { @for (at, c) in history.iter().rev().take(48) { tr { td { (layout::when(*at)) } td.num { (cents(*c)) } } } }
                }
            }
            h2 { "Volume per day" }
            p.muted { "Conversions and orchestrations created, by their source amount, as of the last sample (every --sample-every)." }
            (bars(volume))
            details {
                summary { "Figures" }
                table {
                    thead { tr { th scope="col" { "Day (UTC)" } th.num scope="col" { "Volume" } } }
                    tbody { @for (day, c) in volume { tr { td { (day_of(*day)) } td.num { (cents(*c)) } } } }
                }
            }
        }
    }
}

const WIDE: i64 = 600;
const HIGH: i64 = 160;
const LEFT: i64 = 90;

/// A polyline of (time, cents), scaled to the box; the axis is labelled
/// with the largest figure and zero.
fn line(points: &[(i64, i64)]) -> Markup {
    let (first, last) = match (points.first(), points.last()) {
        (Some(f), Some(l)) if points.len() > 1 => (f.0, l.0),
        _ => {
            return html! { p.muted { "No samples yet: balances are sampled every --sample-every (10 minutes by default)." } }
        }
    };
    let top = points.iter().map(|p| p.1).max().unwrap_or(0).max(1);
    let span = (last - first).max(1);
    let xy = |(at, c): (i64, i64)| {
        let x = LEFT + i128_scale(at - first, WIDE - LEFT - 10, span);
        let y = HIGH - 20 - i128_scale(c.max(0), HIGH - 40, top);
        format!("{x},{y}")
    };
    let path: Vec<String> = points.iter().map(|p| xy(*p)).collect();
    let label = format!(
        "Total balance from {} to {}",
        layout::when(first),
        layout::when(last)
    );
    html! {
        svg.chart role="img" aria-label=(label) width="100%" viewBox=(format!("0 0 {WIDE} {HIGH}")) {
            text x="0" y="24" { (format_units(top, Asset::Usd)) }
            text x="0" y=(HIGH - 20) { "0" }
            line x1=(LEFT) y1=(HIGH - 20) x2=(WIDE - 10) y2=(HIGH - 20) stroke="#4a4a4a" {}
            polyline points=(path.join(" ")) fill="none" stroke="#0b4f9c" stroke-width="2" {}
            text x=(LEFT) y=(HIGH - 4) { (day_of(first)) }
            text x=(WIDE - 10) y=(HIGH - 4) text-anchor="end" { (day_of(last)) }
        }
    }
}

/// One bar per day, scaled to the busiest.
fn bars(days: &[(i64, i64)]) -> Markup {
    let top = days.iter().map(|d| d.1).max().unwrap_or(0);
    if top <= 0 {
        return html! { p.muted { "Nothing converted in these days." } };
    }
    let n = i64::try_from(days.len()).unwrap_or(1).max(1);
    let slot = (WIDE - LEFT - 10) / n;
    html! {
        svg.chart role="img" aria-label="Volume per day, in USD" width="100%" viewBox=(format!("0 0 {WIDE} {HIGH}")) {
            text x="0" y="24" { (format_units(top, Asset::Usd)) }
            text x="0" y=(HIGH - 20) { "0" }
            @for (i, (day, c)) in days.iter().enumerate() {
                @let i = i64::try_from(i).unwrap_or(0);
                @let h = i128_scale((*c).max(0), HIGH - 40, top);
                rect x=(LEFT + i * slot + 2) y=(HIGH - 20 - h) width=(slot - 4) height=(h) fill="#0b4f9c" {
                    title { (day_of(*day)) ": " (format_units(*c, Asset::Usd)) " USD" }
                }
            }
            text x=(LEFT) y=(HIGH - 4) { (days.first().map(|d| day_of(d.0)).unwrap_or_default()) }
            text x=(WIDE - 10) y=(HIGH - 4) text-anchor="end" { (days.last().map(|d| day_of(d.0)).unwrap_or_default()) }
        }
    }
}

/// `value * room / whole` without overflow.
fn i128_scale(value: i64, room: i64, whole: i64) -> i64 {
    let scaled = i128::from(value) * i128::from(room) / i128::from(whole.max(1));
    i64::try_from(scaled).unwrap_or(room)
}

fn day_of(micros: i64) -> String {
    layout::when(micros).chars().take(10).collect()
}
