//! Destinations and deposit targets: crypto destination addresses (with a
//! form to add one, subject to approval policies), fiat accounts, deposit
//! addresses and fiat deposit instructions.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use stableport_core::destinations;
use stableport_domain::address::validate_address;
use stableport_domain::network::CryptoNetwork;
use stableport_domain::Role;
use stableport_store::{
    CryptoAddress, CryptoAddressFields, CryptoAddressFilter, DepositAddress, DepositInstructions,
    DepositTargetFilter, FiatAccount, FiatAccountFilter, NewCryptoAddress, Page,
};

use super::{csrf_refusal, failure, layout, status_of, Viewer};
use crate::api::crypto_addresses::default_nickname;
use crate::state::AppState;
use crate::time;

const SHOWN: i64 = 100;

fn newest() -> Page {
    Page::newest(SHOWN)
}

/// Who may add destinations: not a viewer only.
fn may_add(viewer: &Viewer) -> bool {
    viewer.user.roles.iter().any(|r| *r != Role::Viewer)
}

struct Lists {
    crypto: Vec<CryptoAddress>,
    fiat: Vec<FiatAccount>,
    deposit_addresses: Vec<DepositAddress>,
    instructions: Vec<DepositInstructions>,
}

async fn load(app: &AppState, viewer: &Viewer) -> stableport_core::Result<Lists> {
    let (store, customer) = (&app.core.store, viewer.session.customer_id);
    let crypto = CryptoAddressFilter {
        ids: Vec::new(),
        networks: Vec::new(),
        addresses: Vec::new(),
        nicknames: Vec::new(),
        bookmarked: None,
        created_at: Default::default(),
        page: newest(),
    };
    let fiat = FiatAccountFilter {
        ids: Vec::new(),
        ref_ids: Vec::new(),
        created_at: Default::default(),
        include_deleted: false,
        page: newest(),
    };
    let targets = DepositTargetFilter {
        ids: Vec::new(),
        profile_ids: Vec::new(),
        identity_ids: Vec::new(),
        account_ids: Vec::new(),
        ref_ids: Vec::new(),
        created_at: Default::default(),
        page: newest(),
    };
    Ok(Lists {
        crypto: store.list_crypto_addresses(customer, &crypto).await?,
        fiat: store.list_fiat_accounts(customer, &fiat).await?,
        deposit_addresses: store.list_deposit_addresses(customer, &targets).await?,
        instructions: store.list_deposit_instructions(customer, &targets).await?,
    })
}

#[derive(Deserialize)]
pub struct Shown {
    done: Option<String>,
}

pub async fn page(State(app): State<AppState>, viewer: Viewer, q: Query<Shown>) -> Response {
    let notice = match q.done.as_deref() {
        Some("added") => Some(Ok("The address is added.")),
        Some("pending") => Some(Ok(
            "The address is added and awaits approval before it receives funds.",
        )),
        _ => None,
    };
    render(&app, &viewer, StatusCode::OK, notice).await
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
        @if may_add(viewer) { (add_form(viewer)) }
        div data-live { (tables(&lists)) }
    };
    layout::page(status, "Destinations", Some(viewer), body)
}

fn add_form(viewer: &Viewer) -> Markup {
    html! {
        form.card.filters method="post" action="/dashboard/destinations" {
            h2 { "Add a crypto destination address" }
            input type="hidden" name="csrf" value=(viewer.session.csrf_token);
            div {
                label for="network" { "Network" }
                select #network name="network" {
                    @for n in CryptoNetwork::ALL { option value=(n.code()) { (n.code()) } }
                }
            }
            div { label for="address" { "Address" } input #address name="address" required; }
            div { button type="submit" { "Add address" } }
        }
    }
}

fn tables(l: &Lists) -> Markup {
    html! {
        h2 { "Crypto destination addresses" }
        @if l.crypto.is_empty() { p.muted { "None yet." } } @else {
            table.crypto {
                thead { tr { th scope="col" { "Network" } th scope="col" { "Address" } th scope="col" { "Nickname" } th scope="col" { "Status" } } }
                tbody { @for a in &l.crypto { tr { td { (a.network.code()) } td { code { (a.address) } } td { (a.nickname) } td.status { (a.status.as_str()) } } } }
            }
        }
        h2 { "Fiat accounts" }
        @if l.fiat.is_empty() { p.muted { "None yet." } } @else {
            table {
                thead { tr { th scope="col" { "Network" } th scope="col" { "Id" } th scope="col" { "Ref id" } th scope="col" { "Status" } } }
                tbody { @for a in &l.fiat { tr { td { (a.network.code()) } td { code { (a.id) } } td { (a.ref_id.clone().unwrap_or_default()) } td.status { (a.status.as_str()) } } } }
            }
        }
        h2 { "Deposit addresses" }
        @if l.deposit_addresses.is_empty() { p.muted { "None yet." } } @else {
            table {
                thead { tr { th scope="col" { "Network" } th scope="col" { "Address" } th scope="col" { "Profile" } th scope="col" { "Rule" } } }
                tbody { @for a in &l.deposit_addresses { tr {
                    td { (a.network.code()) } td { code { (a.address) } } td { code { (a.profile_id) } }
                    td { @if let Some(rule) = a.rule_id { code { (rule) } } @else { "—" } }
                } } }
            }
        }
        h2 { "Fiat deposit instructions" }
        @if l.instructions.is_empty() { p.muted { "None yet." } } @else {
            table {
                thead { tr { th scope="col" { "Network" } th scope="col" { "Memo" } th scope="col" { "Profile" } th scope="col" { "Status" } } }
                tbody { @for i in &l.instructions { tr {
                    td { (i.network.code()) } td { code { (i.memo_id) } } td { code { (i.profile_id) } } td { (i.status) }
                } } }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct AddForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    network: String,
    #[serde(default)]
    address: String,
}

pub async fn add(State(app): State<AppState>, viewer: Viewer, Form(f): Form<AddForm>) -> Response {
    if let Some(refused) = csrf_refusal(&viewer, &f.csrf) {
        return refused;
    }
    if !may_add(&viewer) {
        let why = "A VIEWER cannot add destinations.".to_string();
        return render(&app, &viewer, StatusCode::FORBIDDEN, Some(Err(why))).await;
    }
    let checked = f
        .network
        .parse::<CryptoNetwork>()
        .map_err(|e| e.to_string())
        .and_then(|n| {
            validate_address(n, f.address.trim())
                .map(|a| (n, a))
                .map_err(|e| format!("Address: {e}"))
        });
    let (network, address) = match checked {
        Ok(ok) => ok,
        Err(why) => return render(&app, &viewer, StatusCode::BAD_REQUEST, Some(Err(why))).await,
    };
    let new = NewCryptoAddress {
        id: stableport_domain::new_id(),
        customer_id: viewer.session.customer_id,
        network,
        default_nickname: default_nickname(network, &address),
        address,
        now: time::now(),
    };
    let fields = CryptoAddressFields {
        nickname: None,
        bookmarked: None,
        travelrule_metadata: None,
    };
    match destinations::put_crypto_address(&app.core, Some(viewer.user.id), &new, &fields).await {
        Ok((_, Some(_))) => Redirect::to("/dashboard/destinations?done=pending").into_response(),
        Ok((_, None)) => Redirect::to("/dashboard/destinations?done=added").into_response(),
        Err(e) if status_of(&e) == StatusCode::INTERNAL_SERVER_ERROR => failure(e),
        Err(e) => render(&app, &viewer, status_of(&e), Some(Err(e.to_string()))).await,
    }
}
