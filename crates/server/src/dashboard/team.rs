//! Users and approval policies. Everyone signed in sees them; an entity
//! manager changes a policy here (an enabled one only through approval).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use stableport_core::approvals::{self, PolicyChange};
use stableport_domain::amount::format_units;
use stableport_domain::{ApprovalAction, Asset, Role};
use stableport_store::{Order, Page, Policy, SortKey, User, UserFilter};

use super::{csrf_refusal, failure, layout, status_of, Viewer};
use crate::state::AppState;
use crate::time;

fn manager(viewer: &Viewer) -> bool {
    viewer.user.roles.contains(&Role::EntityManager)
}

#[derive(Deserialize)]
pub struct Shown {
    done: Option<String>,
}

pub async fn page(State(app): State<AppState>, viewer: Viewer, q: Query<Shown>) -> Response {
    let notice = match q.done.as_deref() {
        Some("set") => Some(Ok("The policy is set.")),
        Some("proposed") => Some(Ok(
            "The policy is enabled, so your change awaits approval under it.",
        )),
        _ => None,
    };
    render(&app, &viewer, StatusCode::OK, notice).await
}

async fn load(
    app: &AppState,
    viewer: &Viewer,
) -> stableport_core::Result<(Vec<User>, Vec<Policy>)> {
    let customer = viewer.session.customer_id;
    let filter = UserFilter {
        include_disabled: true,
        page: Page {
            order: Order::Asc,
            limit: 1000,
            after: None,
            by: SortKey::CreatedAt,
        },
    };
    let users = app.core.store.list_users(customer, &filter).await?;
    let mut policies = Vec::new();
    for name in ApprovalAction::names() {
        let Some(action) = ApprovalAction::parse(name).filter(|a| a.has_policy()) else {
            continue;
        };
        policies.push(approvals::policy(&app.core, customer, action).await?);
    }
    Ok((users, policies))
}

async fn render(
    app: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    said: Option<Result<&str, String>>,
) -> Response {
    let (users, policies) = match load(app, viewer).await {
        Ok(loaded) => loaded,
        Err(e) => return failure(e),
    };
    let body = html! {
        (layout::said(&said))
        h2 { "Approval policies" }
        table.policies {
            thead { tr {
                th scope="col" { "Action" } th scope="col" { "Enabled" } th.num scope="col" { "Approvals" }
                th scope="col" { "Tiers" } @if manager(viewer) { th scope="col" { "Change" } }
            } }
            tbody { @for p in &policies { (policy_row(viewer, p)) } }
        }
        h2 { "Users" }
        table {
            thead { tr { th scope="col" { "Email" } th scope="col" { "Roles" } th scope="col" { "Status" } } }
            tbody { @for u in &users { tr {
                td { (u.email) }
                td { (u.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")) }
                td { @if u.disabled { "DISABLED" } @else { "ACTIVE" } }
            } } }
        }
    };
    layout::page(status, "Team and policies", Some(viewer), body)
}

fn policy_row(viewer: &Viewer, p: &Policy) -> Markup {
    let name = p.action.as_str();
    let tiers: Vec<String> = p
        .tiers
        .iter()
        .map(|t| {
            format!(
                "from {} USD: {}",
                format_units(t.threshold_cents, Asset::Usd),
                t.approvals_required
            )
        })
        .collect();
    html! {
        tr data-action=(name) {
            td { (name) }
            td.enabled { @if p.enabled { "yes" } @else { "no" } }
            td.num { (p.approvals_required) }
            td { @if tiers.is_empty() { "—" } @else { (tiers.join("; ")) } }
            @if manager(viewer) {
                td {
                    form.actions method="post" action=(format!("/dashboard/team/policies/{name}")) {
                        input type="hidden" name="csrf" value=(viewer.session.csrf_token);
                        label { input type="checkbox" name="enabled" value="true" checked[p.enabled] aria-label=(format!("Enable {name}")); " Enabled" }
                        label for=(format!("count-{name}")) { "Approvals" }
                        input id=(format!("count-{name}")) type="number" name="approvals_required" min="1" max="20" value=(p.approvals_required) size="3";
                        button type="submit" aria-label=(format!("Save {name}")) { "Save" }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct PolicyForm {
    #[serde(default)]
    csrf: String,
    enabled: Option<String>,
    #[serde(default)]
    approvals_required: String,
}

pub async fn set_policy(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(action): Path<String>,
    Form(f): Form<PolicyForm>,
) -> Response {
    if let Some(refused) = csrf_refusal(&viewer, &f.csrf) {
        return refused;
    }
    let Some(action) = ApprovalAction::parse(&action).filter(|a| a.has_policy()) else {
        return layout::message(StatusCode::NOT_FOUND, "Not found", "No such policy.");
    };
    let Ok(count) = f.approvals_required.trim().parse::<i64>() else {
        let why = "Approvals must be a whole number.".to_string();
        return render(&app, &viewer, StatusCode::BAD_REQUEST, Some(Err(why))).await;
    };
    // Tiers are kept as they are; the API sets them.
    let current = match approvals::policy(&app.core, viewer.session.customer_id, action).await {
        Ok(p) => p,
        Err(e) => return failure(e),
    };
    let policy = Policy {
        enabled: f.enabled.is_some(),
        approvals_required: count,
        ..current
    };
    let customer = viewer.session.customer_id;
    match approvals::put_policy(
        &app.core,
        customer,
        Some(viewer.user.id),
        policy,
        time::now(),
    )
    .await
    {
        Ok(PolicyChange::Set(_)) => Redirect::to("/dashboard/team?done=set").into_response(),
        Ok(PolicyChange::Proposed(_)) => {
            Redirect::to("/dashboard/team?done=proposed").into_response()
        }
        Err(e) if status_of(&e) == StatusCode::INTERNAL_SERVER_ERROR => failure(e),
        Err(e) => render(&app, &viewer, status_of(&e), Some(Err(e.to_string()))).await,
    }
}
