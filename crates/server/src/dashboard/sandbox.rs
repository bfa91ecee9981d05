//! The sandbox panel (sandbox mode only): deposit into a profile, settle or
//! cancel a CREATED conversion, complete or fail a PENDING withdrawal.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use stableport_core::profiles::ProfileRef;
use stableport_core::withdrawals::{self, Decision};
use stableport_core::{conversions, deposits, CoreError};
use stableport_domain::amount::format_units;
use stableport_domain::network::CryptoNetwork;
use stableport_domain::{Amount, Asset, ConversionStatus, TransferStatus};
use stableport_store::{
    Conversion, ConversionFilter, Order, Page, Profile, ProfileFilter, Transfer, TransferFilter,
};
use uuid::Uuid;

use super::{csrf_refusal, failure, layout, status_of, Viewer};
use crate::state::AppState;
use crate::time;

fn not_sandbox(app: &AppState) -> Option<Response> {
    (!app.config.is_sandbox()).then(|| {
        layout::message(
            StatusCode::NOT_FOUND,
            "Not found",
            "The sandbox panel exists only in sandbox mode.",
        )
    })
}

struct Lists {
    profiles: Vec<Profile>,
    conversions: Vec<Conversion>,
    withdrawals: Vec<Transfer>,
}

async fn load(app: &AppState, viewer: &Viewer) -> stableport_core::Result<Lists> {
    let (store, customer) = (&app.core.store, viewer.session.customer_id);
    let profiles = ProfileFilter {
        created_at: Default::default(),
        nickname_prefix: None,
        ids: Vec::new(),
        include_deactivated: false,
        page: Page {
            order: Order::Asc,
            ..Page::newest(200)
        },
    };
    let conversions = ConversionFilter {
        profile_id: None,
        ref_id: None,
        created_at: Default::default(),
        updated_at: Default::default(),
        page: Page::newest(200),
    };
    let conversions = store.list_conversions(customer, &conversions).await?;
    let withdrawals = TransferFilter {
        ids: Vec::new(),
        profile_ids: Vec::new(),
        identity_ids: Vec::new(),
        account_ids: Vec::new(),
        ref_ids: Vec::new(),
        group_ids: Vec::new(),
        crypto_tx_hashes: Vec::new(),
        types: ["CRYPTO_WITHDRAWAL", "WIRE_WITHDRAWAL", "CUBIX_WITHDRAWAL"]
            .map(String::from)
            .to_vec(),
        statuses: vec![TransferStatus::Pending.as_str().to_string()],
        created_at: Default::default(),
        updated_at: Default::default(),
        page: Page::newest(100),
    };
    Ok(Lists {
        profiles: store.list_profiles(customer, &profiles).await?,
        conversions: conversions
            .into_iter()
            .filter(|c| c.status.is_pending())
            .collect(),
        withdrawals: store.list_transfers(customer, &withdrawals).await?,
    })
}

#[derive(Deserialize)]
pub struct Shown {
    done: Option<String>,
}

pub async fn page(State(app): State<AppState>, viewer: Viewer, q: Query<Shown>) -> Response {
    if let Some(refused) = not_sandbox(&app) {
        return refused;
    }
    let notice = q.done.as_deref().map(|d| match d {
        "deposit" => "The deposit is credited.",
        "settle" => "The conversion is settled.",
        "cancel" => "The conversion is cancelled.",
        "complete" => "The withdrawal is completed.",
        _ => "The withdrawal is failed, its funds returned.",
    });
    render(&app, &viewer, StatusCode::OK, notice.map(Ok)).await
}

async fn render(
    app: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    said: Option<Result<&str, String>>,
) -> Response {
    let lists = match load(app, viewer).await {
        Ok(lists) => lists,
        Err(e) => return failure(e),
    };
    let body = html! {
        (layout::said(&said))
        (deposit_form(viewer, &lists.profiles))
        div data-live { (pending(viewer, &lists)) }
    };
    layout::page(status, "Sandbox", Some(viewer), body)
}

fn deposit_form(viewer: &Viewer, profiles: &[Profile]) -> Markup {
    html! {
        form.card.filters method="post" action="/dashboard/sandbox/deposit" {
            h2 { "Deposit" }
            input type="hidden" name="csrf" value=(viewer.session.csrf_token);
            div {
                label for="profile" { "Profile" }
                select #profile name="profile" {
                    @for p in profiles { option value=(p.id) { (p.nickname) } }
                }
            }
            div {
                label for="asset" { "Asset" }
                select #asset name="asset" { @for a in Asset::ALL { option value=(a.code()) { (a.code()) } } }
            }
            div { label for="amount" { "Amount" } input #amount name="amount" inputmode="decimal" required; }
            div { button type="submit" { "Deposit" } }
        }
    }
}

fn button(viewer: &Viewer, action: String, text: &str, label: String) -> Markup {
    html! {
        form method="post" action=(action) {
            input type="hidden" name="csrf" value=(viewer.session.csrf_token);
            button.secondary type="submit" aria-label=(label) { (text) }
        }
    }
}

fn pending(viewer: &Viewer, l: &Lists) -> Markup {
    html! {
        h2 { "Conversions waiting to settle" }
        @if l.conversions.is_empty() { p.muted { "None." } } @else {
            table { tbody { @for c in &l.conversions { tr {
                td { (c.ref_id.clone().unwrap_or_default()) }
                td { (format_units(c.source_units, c.source_asset)) " " (c.source_asset) " → " (c.target_asset) }
                td.actions {
                    (button(viewer, format!("/dashboard/sandbox/conversions/{}/settle", c.id), "Settle", format!("Settle conversion {}", c.id)))
                    (button(viewer, format!("/dashboard/sandbox/conversions/{}/cancel", c.id), "Cancel", format!("Cancel conversion {}", c.id)))
                }
            } } } }
        }
        h2 { "Withdrawals waiting" }
        @if l.withdrawals.is_empty() { p.muted { "None." } } @else {
            table { tbody { @for t in &l.withdrawals { tr {
                td { (t.kind.as_str()) }
                td { (format_units(t.units, t.asset)) " " (t.asset) }
                td.actions {
                    (button(viewer, format!("/dashboard/sandbox/withdrawals/{}/complete", t.id), "Complete", format!("Complete withdrawal {}", t.id)))
                    (button(viewer, format!("/dashboard/sandbox/withdrawals/{}/fail", t.id), "Fail", format!("Fail withdrawal {}", t.id)))
                }
            } } } }
        }
    }
}

#[derive(Deserialize)]
pub struct DepositForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    profile: String,
    #[serde(default)]
    asset: String,
    #[serde(default)]
    amount: String,
}

pub async fn deposit(
    State(app): State<AppState>,
    viewer: Viewer,
    Form(f): Form<DepositForm>,
) -> Response {
    if let Some(refused) = not_sandbox(&app).or_else(|| csrf_refusal(&viewer, &f.csrf)) {
        return refused;
    }
    let parsed = (|| {
        let profile = Uuid::parse_str(&f.profile).map_err(|_| "Choose a profile.".to_string())?;
        let asset: Asset = f
            .asset
            .parse()
            .map_err(|_| format!("Unknown asset {:?}.", f.asset))?;
        let amount = Amount::parse(f.amount.trim(), asset.decimals())
            .map_err(|e| format!("Amount {:?}: {e}.", f.amount))?;
        Ok::<_, String>((profile, asset, amount))
    })();
    let (profile, asset, amount) = match parsed {
        Ok(ok) => ok,
        Err(why) => return render(&app, &viewer, StatusCode::BAD_REQUEST, Some(Err(why))).await,
    };
    let on_chain = asset
        .is_stablecoin()
        .then_some((CryptoNetwork::Ethereum, None));
    let customer = viewer.session.customer_id;
    let done = deposits::to_profile(
        &app.core,
        customer,
        ProfileRef::Id(profile),
        on_chain,
        (asset, amount),
        time::now(),
    )
    .await;
    finish(&app, &viewer, done.map(|_| ()), "deposit").await
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

pub async fn conversion(
    State(app): State<AppState>,
    viewer: Viewer,
    Path((id, what)): Path<(String, String)>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    if let Some(refused) = not_sandbox(&app).or_else(|| csrf_refusal(&viewer, &f.csrf)) {
        return refused;
    }
    let to = match what.as_str() {
        "settle" => ConversionStatus::Settled,
        "cancel" => ConversionStatus::Cancelled,
        _ => return layout::message(StatusCode::NOT_FOUND, "Not found", "No such action."),
    };
    let Ok(id) = Uuid::parse_str(&id) else {
        return layout::message(StatusCode::NOT_FOUND, "Not found", "No such conversion.");
    };
    let done =
        conversions::finish(&app.core, viewer.session.customer_id, id, to, time::now()).await;
    finish(&app, &viewer, done.map(|_| ()), &what).await
}

pub async fn withdrawal(
    State(app): State<AppState>,
    viewer: Viewer,
    Path((id, what)): Path<(String, String)>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    if let Some(refused) = not_sandbox(&app).or_else(|| csrf_refusal(&viewer, &f.csrf)) {
        return refused;
    }
    let decision = match what.as_str() {
        "complete" => Decision::Complete,
        "fail" => Decision::Fail,
        _ => return layout::message(StatusCode::NOT_FOUND, "Not found", "No such action."),
    };
    let Ok(id) = Uuid::parse_str(&id) else {
        return layout::message(StatusCode::NOT_FOUND, "Not found", "No such withdrawal.");
    };
    let done = withdrawals::decide(
        &app.core,
        viewer.session.customer_id,
        id,
        decision,
        time::now(),
    )
    .await;
    finish(&app, &viewer, done.map(|_| ()), &what).await
}

async fn finish(
    app: &AppState,
    viewer: &Viewer,
    done: Result<(), CoreError>,
    what: &str,
) -> Response {
    match done {
        Ok(()) => Redirect::to(&format!("/dashboard/sandbox?done={what}")).into_response(),
        Err(e) if status_of(&e) == StatusCode::INTERNAL_SERVER_ERROR => failure(e),
        Err(e) => render(app, viewer, status_of(&e), Some(Err(e.to_string()))).await,
    }
}
