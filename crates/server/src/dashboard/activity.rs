//! Activity: conversions, orchestrations and transfers in one list, newest
//! first, filtered by kind, status, asset, profile and ref_id, a page at a
//! time ("Older" continues before the last row shown).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;
use stableport_domain::amount::format_units;
use stableport_domain::Asset;
use stableport_store::{
    ConversionFilter, OrchestrationFilter, Order, Page, SortKey, TimeRange, TransferFilter,
};
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
    let profile = match f.profile.trim() {
        "" => None,
        text => match Uuid::parse_str(text) {
            Ok(id) => Some(id),
            Err(_) => {
                let body = html! { p.alert role="alert" { "The profile must be a profile id (a UUID)." } (form(&f)) };
                return layout::page(StatusCode::BAD_REQUEST, "Activity", Some(&viewer), body);
            }
        },
    };
    match rows(&app, &viewer, &f, profile).await {
        Ok((rows, more)) => {
            let body = html! { (form(&f)) (table(&f, &rows, more)) };
            layout::page(StatusCode::OK, "Activity", Some(&viewer), body)
        }
        Err(e) => failure(e),
    }
}

fn window(before: Option<i64>) -> (TimeRange, Page) {
    let created = TimeRange {
        lt: before,
        ..Default::default()
    };
    let page = Page {
        order: Order::Desc,
        limit: SHOWN as i64 + 1,
        after: None,
        by: SortKey::CreatedAt,
    };
    (created, page)
}

/// The newest rows matching the filters, and whether older ones may follow.
async fn rows(
    app: &AppState,
    viewer: &Viewer,
    f: &Filters,
    profile: Option<Uuid>,
) -> stableport_core::Result<(Vec<Row>, bool)> {
    let (store, customer) = (&app.core.store, viewer.session.customer_id);
    let ref_id = Some(f.ref_id.trim().to_string()).filter(|r| !r.is_empty());
    let wants = |kind: &str| f.kind.is_empty() || f.kind == kind;
    let mut all = Vec::new();
    let mut more = false;
    if wants("conversion") {
        let (created_at, page) = window(f.before);
        let filter = ConversionFilter {
            profile_id: profile,
            ref_id: ref_id.clone(),
            created_at,
            updated_at: Default::default(),
            page,
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
        let (created_at, page) = window(f.before);
        let filter = OrchestrationFilter {
            ids: Vec::new(),
            profile_ids: profile.into_iter().collect(),
            rule_ids: Vec::new(),
            source_assets: Vec::new(),
            destination_assets: Vec::new(),
            statuses: Vec::new(),
            created_at,
            page,
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
        let (created_at, page) = window(f.before);
        let filter = TransferFilter {
            profile_ids: profile.iter().map(Uuid::to_string).collect(),
            ref_ids: ref_id.iter().cloned().collect(),
            created_at,
            page,
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
    let status = f.status.trim().to_uppercase();
    let asset = f.asset.trim().to_uppercase();
    all.retain(|r| {
        (status.is_empty() || r.status == status)
            && (asset.is_empty() || r.assets.iter().any(|a| a.code() == asset))
    });
    all.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    more |= all.len() > SHOWN;
    all.truncate(SHOWN);
    Ok((all, more))
}

fn empty_transfer_filter() -> TransferFilter {
    let (created_at, page) = window(None);
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
        created_at,
        updated_at: Default::default(),
        page,
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
            div { button type="submit" { "Filter" } }
        }
    }
}

fn table(f: &Filters, rows: &[Row], more: bool) -> Markup {
    let older = rows.last().filter(|_| more).map(|last| {
        let q = [
            ("kind", &f.kind),
            ("status", &f.status),
            ("asset", &f.asset),
            ("profile", &f.profile),
            ("ref_id", &f.ref_id),
        ];
        let mut link = format!("/dashboard/activity?before={}", last.created_at);
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
                                td { (r.kind) }
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
