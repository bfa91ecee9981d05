//! Activity: conversions, orchestrations and transfers in one list, newest
//! first, filtered by kind, status, asset, profile, ref_id and dates, a page
//! at a time ("Older" continues before the oldest row looked at). Each row
//! links to its detail page.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;
use stableport_domain::amount::format_units;
use stableport_domain::Asset;
use stableport_store::{ConversionFilter, OrchestrationFilter, Page, TimeRange, TransferFilter};
use uuid::Uuid;

use super::{failure, layout, Viewer};
use crate::state::AppState;

const SHOWN: usize = 50;

#[derive(Deserialize, Default)]
pub struct Filters {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    asset: String,
    #[serde(default)]
    profile: String,
    #[serde(default)]
    ref_id: String,
    /// Created on or after this day (YYYY-MM-DD, UTC).
    #[serde(default)]
    from: String,
    /// Created on or before this day.
    #[serde(default)]
    to: String,
    /// Only rows created before this (microseconds): the next page.
    before: Option<i64>,
}

/// One line of the list, whatever it is.
struct Row {
    kind: &'static str,
    id: Uuid,
    ref_id: String,
    status: String,
    what: String,
    assets: Vec<Asset>,
    profile: Uuid,
    created_at: i64,
}

pub async fn page(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(f): Query<Filters>,
) -> Response {
    let refuse = |problem: &str| {
        let body = html! { p.alert role="alert" { (problem) } (form(&f)) };
        layout::page(StatusCode::BAD_REQUEST, "Activity", Some(&viewer), body)
    };
    let profile = match f.profile.trim() {
        "" => None,
        text => match Uuid::parse_str(text) {
            Ok(id) => Some(id),
            Err(_) => return refuse("The profile must be a profile id (a UUID)."),
        },
    };
    let (Some(from), Some(to)) = (day(&f.from, 0), day(&f.to, 1)) else {
        return refuse("Dates must be days like 2026-12-31.");
    };
    let created = TimeRange {
        gte: from,
        lt: [to, f.before].into_iter().flatten().min(),
        ..Default::default()
    };
    match rows(&app, &viewer, &f, profile, &created).await {
        Ok((rows, older)) => {
            let body = html! { (form(&f)) (table(&f, &rows, older)) };
            layout::page(StatusCode::OK, "Activity", Some(&viewer), body)
        }
        Err(e) => failure(e),
    }
}

/// A day's start (plus `days`) in microseconds: Some(None) when blank,
/// None when it is not a day.
fn day(text: &str, days: i64) -> Option<Option<i64>> {
    let text = text.trim();
    if text.is_empty() {
        return Some(None);
    }
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let start = date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_micros();
    Some(Some(start + days * stableport_store::DAY))
}

fn newest() -> Page {
    Page::newest(SHOWN as i64 + 1)
}

/// The newest rows matching the filters, and where older ones continue
/// (the oldest row looked at, shown or filtered out), if any may.
async fn rows(
    app: &AppState,
    viewer: &Viewer,
    f: &Filters,
    profile: Option<Uuid>,
    created: &TimeRange,
) -> stableport_core::Result<(Vec<Row>, Option<i64>)> {
    let (store, customer) = (&app.core.store, viewer.session.customer_id);
    let ref_id = Some(f.ref_id.trim().to_string()).filter(|r| !r.is_empty());
    let wants = |kind: &str| f.kind.is_empty() || f.kind == kind;
    let mut all = Vec::new();
    let mut more = false;
    if wants("conversion") {
        let filter = ConversionFilter {
            profile_id: profile,
            ref_id: ref_id.clone(),
            created_at: created.clone(),
            updated_at: Default::default(),
            page: newest(),
        };
        let found = store.list_conversions(customer, &filter).await?;
        more |= found.len() > SHOWN;
        all.extend(found.into_iter().map(|c| Row {
            kind: "Conversion",
            id: c.id,
            ref_id: c.ref_id.clone().unwrap_or_default(),
            status: c.status.as_str().to_string(),
            what: format!(
                "{} {} → {}",
                format_units(c.source_units, c.source_asset),
                c.source_asset,
                c.target_asset
            ),
            assets: vec![c.source_asset, c.target_asset],
            profile: c.profile_id,
            created_at: c.created_at,
        }));
    }
    if wants("orchestration") {
        let filter = OrchestrationFilter {
            ids: Vec::new(),
            profile_ids: profile.into_iter().collect(),
            rule_ids: Vec::new(),
            source_assets: Vec::new(),
            destination_assets: Vec::new(),
            statuses: Vec::new(),
            created_at: created.clone(),
            page: newest(),
        };
        let found = store.list_orchestrations(customer, &filter).await?;
        more |= found.len() > SHOWN;
        let found = found
            .into_iter()
            .filter(|o| ref_id.as_ref().is_none_or(|r| *r == o.ref_id));
        all.extend(found.map(|o| Row {
            kind: "Orchestration",
            id: o.id,
            ref_id: o.ref_id.clone(),
            status: o.status.as_str().to_string(),
            what: format!(
                "{} {} → {}",
                format_units(o.source_units, o.source_asset),
                o.source_asset,
                o.destination_asset
            ),
            assets: vec![o.source_asset, o.destination_asset],
            profile: o.profile_id,
            created_at: o.created_at,
        }));
    }
    if wants("transfer") {
        let filter = TransferFilter {
            profile_ids: profile.iter().map(Uuid::to_string).collect(),
            ref_ids: ref_id.iter().cloned().collect(),
            created_at: created.clone(),
            ..empty_transfer_filter()
        };
        let found = store.list_transfers(customer, &filter).await?;
        more |= found.len() > SHOWN;
        all.extend(found.into_iter().map(|t| Row {
            kind: "Transfer",
            id: t.id,
            ref_id: t.ref_id.clone().unwrap_or_default(),
            status: t.status.as_str().to_string(),
            what: format!(
                "{} {} {}",
                t.kind.as_str().replace('_', " ").to_lowercase(),
                format_units(t.units, t.asset),
                t.asset
            ),
            assets: vec![t.asset],
            profile: t.profile_id,
            created_at: t.created_at,
        }));
    }
    all.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    more |= all.len() > SHOWN;
    all.truncate(SHOWN);
    let older = all.last().filter(|_| more).map(|r| r.created_at);
    // Status and asset are matched here, on the page looked at: a page may
    // show fewer rows, but "Older" still continues.
    let status = f.status.trim().to_uppercase();
    let asset = f.asset.trim().to_uppercase();
    all.retain(|r| {
        (status.is_empty() || r.status == status)
            && (asset.is_empty() || r.assets.iter().any(|a| a.code() == asset))
    });
    Ok((all, older))
}

fn empty_transfer_filter() -> TransferFilter {
    TransferFilter {
        ids: Vec::new(),
        profile_ids: Vec::new(),
        identity_ids: Vec::new(),
        account_ids: Vec::new(),
        ref_ids: Vec::new(),
        group_ids: Vec::new(),
        crypto_tx_hashes: Vec::new(),
        types: Vec::new(),
        statuses: Vec::new(),
        created_at: Default::default(),
        updated_at: Default::default(),
        page: newest(),
    }
}

fn form(f: &Filters) -> Markup {
    let kinds = [
        ("", "Everything"),
        ("conversion", "Conversions"),
        ("orchestration", "Orchestrations"),
        ("transfer", "Transfers"),
    ];
    html! {
        form.filters method="get" action="/dashboard/activity" {
            div {
                label for="kind" { "Kind" }
                select #kind name="kind" {
                    @for (value, text) in kinds {
                        option value=(value) selected[f.kind == value] { (text) }
                    }
                }
            }
            div { label for="status" { "Status" } input #status name="status" value=(f.status) placeholder="SETTLED"; }
            div { label for="asset" { "Asset" } input #asset name="asset" value=(f.asset) placeholder="USD"; }
            div { label for="profile" { "Profile id" } input #profile name="profile" value=(f.profile); }
            div { label for="ref_id" { "Ref id" } input #ref_id name="ref_id" value=(f.ref_id); }
            div { label for="from" { "From" } input #from type="date" name="from" value=(f.from); }
            div { label for="to" { "To" } input #to type="date" name="to" value=(f.to); }
            div { button type="submit" { "Filter" } }
        }
    }
}

fn table(f: &Filters, rows: &[Row], older: Option<i64>) -> Markup {
    let older = older.map(|before| {
        let q = [
            ("kind", &f.kind),
            ("status", &f.status),
            ("asset", &f.asset),
            ("profile", &f.profile),
            ("ref_id", &f.ref_id),
            ("from", &f.from),
            ("to", &f.to),
        ];
        let mut link = format!("/dashboard/activity?before={before}");
        for (k, v) in q.iter().filter(|(_, v)| !v.is_empty()) {
            link.push_str(&format!("&{k}={}", urlencode(v)));
        }
        link
    });
    html! {
        div data-live {
            @if rows.is_empty() { p.muted { "Nothing matches." } }
            @else {
                table {
                    caption.muted { "Newest first" }
                    thead { tr {
                        th scope="col" { "Created" } th scope="col" { "Kind" } th scope="col" { "Ref id" }
                        th scope="col" { "What" } th scope="col" { "Status" } th scope="col" { "Profile" }
                    } }
                    tbody {
                        @for r in rows {
                            tr data-ref-id=(r.ref_id) {
                                td { (layout::when(r.created_at)) }
                                td { a href=(format!("/dashboard/activity/{}/{}", r.kind.to_lowercase(), r.id)) { (r.kind) } }
                                td { (r.ref_id) }
                                td { (r.what) }
                                td.status { (r.status) }
                                td { code { (r.profile) } }
                            }
                        }
                    }
                }
            }
            @if let Some(link) = older { p { a href=(link) { "Older" } } }
        }
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
