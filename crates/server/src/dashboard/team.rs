//! Users and approval policies. Everyone signed in sees them; an entity
//! manager adds users, changes roles and policies here (each through
//! approval when its policy is enabled).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use stableport_core::approvals::{self, PolicyChange};
use stableport_core::users::{self, NewUser, RolesChange};
use stableport_domain::amount::format_units;
use stableport_domain::{ApprovalAction, Asset, Role};
use stableport_store::{Order, Page, Policy, SortKey, User, UserFilter};
use uuid::Uuid;

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
        Some("roles") => Some(Ok("The roles are set.")),
        Some("roles-proposed") => Some(Ok(
            "Role changes need approval: the request is in the approvals inbox.",
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
    render_with(app, viewer, status, said, html! {}).await
}

/// The page, with `shown` above it (a new user's password, once).
async fn render_with(
    app: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    said: Option<Result<&str, String>>,
    shown: Markup,
) -> Response {
    let (users, policies) = match load(app, viewer).await {
        Ok(loaded) => loaded,
        Err(e) => return failure(e),
    };
    let body = html! {
        (layout::said(&said))
        (shown)
        h2 { "Approval policies" }
        table.policies {
            thead { tr {
                th scope="col" { "Action" } th scope="col" { "Enabled" } th.num scope="col" { "Approvals" }
                th scope="col" { "Tiers" } @if manager(viewer) { th scope="col" { "Change" } }
            } }
            tbody { @for p in &policies { (policy_row(viewer, p)) } }
        }
        h2 { "Users" }
        table.users {
            thead { tr {
                th scope="col" { "Email" } th scope="col" { "Roles" } th scope="col" { "Status" }
                @if manager(viewer) { th scope="col" { "Change roles" } }
            } }
            tbody { @for u in &users { tr data-email=(u.email) {
                td { (u.email) }
                td.roles { (u.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")) }
                td { @if u.disabled { "DISABLED" } @else { "ACTIVE" } }
                @if manager(viewer) { td { (roles_form(viewer, u)) } }
            } } }
        }
        @if manager(viewer) { (add_user_form(viewer)) }
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

/// Role checkboxes, one group per form; `id` keeps each label's target unique.
fn role_boxes(id: &str, checked: &[Role]) -> Markup {
    html! {
        @for role in Role::ALL {
            @let box_id = format!("{id}-{}", role.as_str());
            label for=(box_id) {
                input id=(box_id) type="checkbox" name="roles" value=(role.as_str()) checked[checked.contains(role)];
                " " (role.as_str())
            }
        }
    }
}

fn roles_form(viewer: &Viewer, u: &User) -> Markup {
    html! {
        form method="post" action=(format!("/dashboard/team/users/{}/roles", u.id)) {
            input type="hidden" name="csrf" value=(viewer.session.csrf_token);
            fieldset {
                legend.sr-only { "Roles of " (u.email) }
                (role_boxes(&u.id.to_string(), &u.roles))
            }
            button type="submit" aria-label=(format!("Save roles of {}", u.email)) { "Save" }
        }
    }
}

fn add_user_form(viewer: &Viewer) -> Markup {
    html! {
        h2 { "Add a user" }
        form.card method="post" action="/dashboard/team/users" {
            input type="hidden" name="csrf" value=(viewer.session.csrf_token);
            label for="new-email" { "Email" }
            input #new-email type="email" name="email" required autocomplete="off";
            fieldset {
                legend { "Roles" }
                (role_boxes("new", &[Role::Viewer]))
            }
            p.muted { "A password is generated and shown once." }
            button type="submit" { "Add user" }
        }
    }
}

/// Form fields, with `roles` repeated once per box ticked.
fn fields(body: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

fn roles_in(fields: &[(String, String)]) -> Result<Vec<Role>, String> {
    fields
        .iter()
        .filter(|(k, _)| k == "roles")
        .map(|(_, v)| Role::parse(v).ok_or_else(|| format!("{v} is not a role.")))
        .collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

pub async fn add_user(State(app): State<AppState>, viewer: Viewer, body: String) -> Response {
    let fields = fields(&body);
    if let Some(refused) = csrf_refusal(&viewer, field(&fields, "csrf")) {
        return refused;
    }
    if !manager(&viewer) {
        let why = "Only an entity manager adds users.".to_string();
        return render(&app, &viewer, StatusCode::FORBIDDEN, Some(Err(why))).await;
    }
    let roles = match roles_in(&fields) {
        Ok(roles) => roles,
        Err(why) => return render(&app, &viewer, StatusCode::BAD_REQUEST, Some(Err(why))).await,
    };
    let new = NewUser {
        email: field(&fields, "email").trim().to_string(),
        roles,
        password: None,
    };
    let customer = viewer.session.customer_id;
    match users::create(&app.core, customer, Some(viewer.user.id), new, time::now()).await {
        Ok(made) => {
            let shown = html! {
                div.card.secret role="status" {
                    p { "Added " strong { (made.user.email) } ". Give them this password; it is not shown again:" }
                    p { code #new-password { (made.generated_password.unwrap_or_default()) } }
                    @if made.request.is_some() { p { "Their roles await approval; they are a VIEWER meanwhile." } }
                }
            };
            render_with(&app, &viewer, StatusCode::OK, None, shown).await
        }
        Err(e) if status_of(&e) == StatusCode::INTERNAL_SERVER_ERROR => failure(e),
        Err(e) => render(&app, &viewer, status_of(&e), Some(Err(e.to_string()))).await,
    }
}

pub async fn set_roles(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    body: String,
) -> Response {
    let fields = fields(&body);
    if let Some(refused) = csrf_refusal(&viewer, field(&fields, "csrf")) {
        return refused;
    }
    let Ok(id) = Uuid::parse_str(&id) else {
        return layout::message(StatusCode::NOT_FOUND, "Not found", "No such user.");
    };
    if !manager(&viewer) {
        let why = "Only an entity manager changes roles.".to_string();
        return render(&app, &viewer, StatusCode::FORBIDDEN, Some(Err(why))).await;
    }
    let roles = match roles_in(&fields) {
        Ok(roles) => roles,
        Err(why) => return render(&app, &viewer, StatusCode::BAD_REQUEST, Some(Err(why))).await,
    };
    let customer = viewer.session.customer_id;
    let submitter = Some(viewer.user.id);
    match users::assign_roles(&app.core, customer, submitter, id, roles, time::now()).await {
        Ok(RolesChange::Set(_)) => Redirect::to("/dashboard/team?done=roles").into_response(),
        Ok(RolesChange::Proposed(_)) => {
            Redirect::to("/dashboard/team?done=roles-proposed").into_response()
        }
        Err(e) if status_of(&e) == StatusCode::INTERNAL_SERVER_ERROR => failure(e),
        Err(e) => render(&app, &viewer, status_of(&e), Some(Err(e.to_string()))).await,
    }
}
