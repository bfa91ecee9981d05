//! Orchestration rules: what each converts, where its deposits arrive, and
//! its status (PENDING ones wait for approval); a form to create one on
//! the default profile, delivering to it or to an approved destination.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use stableport_core::destinations::Named;
use stableport_core::profiles::ProfileRef;
use stableport_core::rules::{self, NewRule, Source};
use stableport_core::Created;
use stableport_domain::network::{CryptoNetwork, FiatNetwork};
use stableport_domain::{Asset, DestinationStatus, Role};
use stableport_store::{
    CryptoAddress, CryptoAddressFilter, FiatAccount, FiatAccountFilter, Page, Rule, RuleFilter,
    RuleSource,
};
use uuid::Uuid;

use super::{csrf_refusal, failure, layout, status_of, Viewer};
use crate::state::AppState;
use crate::time;

/// Who may create rules: not a viewer only.
fn may_add(viewer: &Viewer) -> bool {
    viewer.user.roles.iter().any(|r| *r != Role::Viewer)
}

#[derive(Deserialize)]
pub struct Shown {
    done: Option<String>,
}

pub async fn page(State(app): State<AppState>, viewer: Viewer, q: Query<Shown>) -> Response {
    let notice = match q.done.as_deref() {
        Some("created") => Some(Ok("The rule is active.")),
        Some("pending") => Some(Ok("The rule awaits approval before it converts deposits.")),
        _ => None,
    };
    render(&app, &viewer, StatusCode::OK, notice).await
}

type Loaded = (Vec<Rule>, Vec<CryptoAddress>, Vec<FiatAccount>);

async fn load(app: &AppState, viewer: &Viewer) -> stableport_core::Result<Loaded> {
    let (store, customer) = (&app.core.store, viewer.session.customer_id);
    let filter = RuleFilter {
        profile_id: None,
        statuses: Vec::new(),
        source_asset: None,
        destination_asset: None,
        ids: Vec::new(),
        page: Page::newest(200),
    };
    let crypto = CryptoAddressFilter {
        ids: Vec::new(),
        networks: Vec::new(),
        addresses: Vec::new(),
        nicknames: Vec::new(),
        bookmarked: None,
        created_at: Default::default(),
        page: Page::newest(100),
    };
    let fiat = FiatAccountFilter {
        ids: Vec::new(),
        ref_ids: Vec::new(),
        created_at: Default::default(),
        include_deleted: false,
        page: Page::newest(100),
    };
    let approved = |s: DestinationStatus| s == DestinationStatus::Approved;
    let mut crypto = store.list_crypto_addresses(customer, &crypto).await?;
    crypto.retain(|a| approved(a.status));
    let mut fiat = store.list_fiat_accounts(customer, &fiat).await?;
    fiat.retain(|a| approved(a.status));
    Ok((store.list_rules(customer, &filter).await?, crypto, fiat))
}

async fn render(
    app: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    said: Option<Result<&str, String>>,
) -> Response {
    let (rules, crypto, fiat) = match load(app, viewer).await {
        Ok(loaded) => loaded,
        Err(e) => return failure(e),
    };
    let body = html! {
        (layout::said(&said))
        div data-live { (table(&rules)) }
        @if may_add(viewer) { (add_form(viewer, &crypto, &fiat)) }
    };
    layout::page(status, "Rules", Some(viewer), body)
}

fn table(rules: &[Rule]) -> Markup {
    html! {
        @if rules.is_empty() { p.muted { "No rules yet." } }
        @else {
            table.rules {
                thead { tr {
                    th scope="col" { "Ref id" } th scope="col" { "Converts" }
                    th scope="col" { "Deposits arrive at" } th scope="col" { "Status" } th scope="col" { "Created" }
                } }
                tbody { @for r in rules { tr data-ref-id=(r.ref_id) {
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
}

fn asset_select(id: &str, name: &str, label: &str, chosen: Asset) -> Markup {
    html! {
        div {
            label for=(id) { (label) }
            select id=(id) name=(name) {
                @for a in Asset::ALL { option value=(a.code()) selected[a == chosen] { (a.code()) } }
            }
        }
    }
}

fn add_form(viewer: &Viewer, crypto: &[CryptoAddress], fiat: &[FiatAccount]) -> Markup {
    html! {
        form.card.filters method="post" action="/dashboard/rules" {
            h2 { "Create a rule on the default profile" }
            input type="hidden" name="csrf" value=(viewer.session.csrf_token);
            div { label for="rule-ref" { "Ref id" } input #rule-ref name="ref_id" required; }
            div { label for="rule-nickname" { "Nickname" } input #rule-nickname name="nickname"; }
            div {
                label for="rule-source" { "Deposits arrive by" }
                select #rule-source name="source" {
                    @for n in CryptoNetwork::ALL { option value=(format!("crypto:{}", n.code())) { "a new " (n.code()) " address" } }
                    @for n in FiatNetwork::ALL { option value=(format!("fiat:{}", n.code())) { (n.code()) " with a new memo" } }
                }
            }
            (asset_select("rule-source-asset", "source_asset", "Deposited asset", Asset::Usdc))
            (asset_select("rule-destination-asset", "destination_asset", "Converted to", Asset::Usd))
            div {
                label for="rule-destination" { "Delivered to" }
                select #rule-destination name="destination" {
                    option value="profile:default" { "the default profile" }
                    @for a in crypto { option value=(format!("crypto:{}", a.id)) { (a.nickname) " (" (a.network.code()) ")" } }
                    @for a in fiat { option value=(format!("fiat:{}", a.id)) { "bank account " (a.ref_id.clone().unwrap_or_else(|| a.id.to_string())) } }
                }
            }
            div { button type="submit" { "Create rule" } }
        }
    }
}

#[derive(Deserialize)]
pub struct RuleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    ref_id: String,
    #[serde(default)]
    nickname: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    source_asset: String,
    #[serde(default)]
    destination_asset: String,
    #[serde(default)]
    destination: String,
}

/// The form's choices, parsed; why not, in words for the page.
fn parsed(f: &RuleForm) -> Result<NewRule, String> {
    let ref_id = f.ref_id.trim();
    if ref_id.is_empty() {
        return Err("A ref id is required.".into());
    }
    let source = match f.source.split_once(':') {
        Some(("crypto", n)) => n.parse::<CryptoNetwork>().ok().map(Source::Crypto),
        Some(("fiat", n)) => n.parse::<FiatNetwork>().ok().map(|network| Source::Fiat {
            network,
            routing_number_type: (network == FiatNetwork::Wire).then(|| "ABA".into()),
        }),
        _ => None,
    }
    .ok_or("Choose how deposits arrive.")?;
    let asset = |text: &str| text.parse::<Asset>().map_err(|_| "Choose the assets.");
    let uuid = |text: &str| Uuid::parse_str(text).map_err(|_| "Choose where it is delivered.");
    let destination = match f.destination.split_once(':') {
        Some(("profile", "default")) => Named::Profile(ProfileRef::Default),
        Some(("crypto", id)) => Named::Crypto(uuid(id)?),
        Some(("fiat", id)) => Named::Fiat {
            account: uuid(id)?,
            memo: None,
        },
        _ => return Err("Choose where it is delivered.".into()),
    };
    Ok(NewRule {
        ref_id: ref_id.to_string(),
        nickname: Some(f.nickname.trim().to_string()).filter(|n| !n.is_empty()),
        profile: ProfileRef::Default,
        identity_id: None,
        account_id: None,
        source_asset: asset(&f.source_asset)?,
        destination_asset: asset(&f.destination_asset)?,
        source,
        destination,
    })
}

pub async fn create(
    State(app): State<AppState>,
    viewer: Viewer,
    Form(f): Form<RuleForm>,
) -> Response {
    if let Some(refused) = csrf_refusal(&viewer, &f.csrf) {
        return refused;
    }
    if !may_add(&viewer) {
        let why = "A viewer cannot create rules.".to_string();
        return render(&app, &viewer, StatusCode::FORBIDDEN, Some(Err(why))).await;
    }
    let rule = match parsed(&f) {
        Ok(rule) => rule,
        Err(why) => return render(&app, &viewer, StatusCode::BAD_REQUEST, Some(Err(why))).await,
    };
    let (customer, submitter) = (viewer.session.customer_id, Some(viewer.user.id));
    match rules::create(&app.core, customer, submitter, rule, time::now()).await {
        Ok(Created::New(r)) if r.status == stableport_domain::RuleStatus::Pending => {
            Redirect::to("/dashboard/rules?done=pending").into_response()
        }
        Ok(Created::New(_)) => Redirect::to("/dashboard/rules?done=created").into_response(),
        Ok(Created::Existing(_)) => {
            let why = "A rule with this ref id exists.".to_string();
            render(&app, &viewer, StatusCode::CONFLICT, Some(Err(why))).await
        }
        Err(e) if status_of(&e) == StatusCode::INTERNAL_SERVER_ERROR => failure(e),
        Err(e) => render(&app, &viewer, status_of(&e), Some(Err(e.to_string()))).await,
    }
}
