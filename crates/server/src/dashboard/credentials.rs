//! API credentials, for entity managers: the list, a new one (its secret
//! shown on this one answer, never again), and revoking one (which may
//! wait for approval under a DELETE_API_CREDENTIAL policy).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use stableport_core::credentials;
use stableport_domain::Role;
use stableport_store::{Credential, CredentialFilter, Order, Page, SortKey, UserFilter};
use uuid::Uuid;

use super::{csrf_refusal, failure, layout, status_of, Viewer};
use crate::api::common::auth::ALL_SCOPES;
use crate::state::AppState;
use crate::time;

/// Made, to show its secret this once.
struct Made {
    client_id: String,
    secret: String,
}

fn manager(viewer: &Viewer) -> Option<Response> {
    (!viewer.user.roles.contains(&Role::EntityManager)).then(|| {
        let text = "API credentials are managed by users with the ENTITY_MANAGER role.";
        layout::page(
            StatusCode::FORBIDDEN,
            "API credentials",
            Some(viewer),
            html! { p.alert role="alert" { (text) } },
        )
    })
}

#[derive(Deserialize)]
pub struct Shown {
    done: Option<String>,
}

pub async fn page(State(app): State<AppState>, viewer: Viewer, q: Query<Shown>) -> Response {
    if let Some(refused) = manager(&viewer) {
        return refused;
    }
    let notice = match q.done.as_deref() {
        Some("revoked") => Some(Ok(
            "The credential is revoked: its tokens stop working at once.",
        )),
        Some("awaiting") => Some(Ok(
            "Revoking it awaits approval; it keeps working until then.",
        )),
        _ => None,
    };
    render(&app, &viewer, StatusCode::OK, notice, None).await
}

async fn render(
    app: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    said: Option<Result<&str, String>>,
    made: Option<Made>,
) -> Response {
    let customer = viewer.session.customer_id;
    let filter = CredentialFilter {
        approved: true,
        disabled: true,
        client_ids: Vec::new(),
        page: Page::newest(200),
    };
    let users = UserFilter {
        include_disabled: true,
        page: Page {
            order: Order::Asc,
            limit: 1000,
            after: None,
            by: SortKey::CreatedAt,
        },
    };
    let store = &app.core.store;
    let (listed, users) = match (
        store.list_credentials(customer, &filter).await,
        store.list_users(customer, &users).await,
    ) {
        (Ok(l), Ok(u)) => (l, u),
        (Err(e), _) | (_, Err(e)) => return failure(e.into()),
    };
    let emails: HashMap<Uuid, String> = users.into_iter().map(|u| (u.id, u.email)).collect();
    let body = html! {
        (layout::said(&said))
        @if let Some(made) = &made {
            section.card.secret aria-labelledby="made" {
                h2 #made { "New credential" }
                p { strong { "Copy the secret now: it is shown only this once." } }
                dl {
                    dt { "client_id" } dd { code #client-id { (made.client_id) } }
                    dt { "client_secret" } dd { code #client-secret { (made.secret) } }
                }
            }
        }
        (create_form(viewer))
        h2 { "Credentials" }
        (table(viewer, &listed, &emails))
    };
    layout::page(status, "API credentials", Some(viewer), body)
}

fn create_form(viewer: &Viewer) -> Markup {
    html! {
        form.card method="post" action="/dashboard/credentials" {
            h2 { "Create a credential" }
            fieldset {
                legend { "Acts for" }
                label { input type="radio" name="acts_for" value="me" checked; " Me (" (viewer.user.email) ")" }
                label { input type="radio" name="acts_for" value="customer"; " The customer (a machine credential)" }
            }
            fieldset {
                legend { "Scopes" }
                label { input type="radio" name="scopes" value="read" checked; " Read only" }
                label { input type="radio" name="scopes" value="all"; " Every scope" }
            }
            input type="hidden" name="csrf" value=(viewer.session.csrf_token);
            p { button type="submit" { "Create credential" } }
        }
    }
}

fn table(viewer: &Viewer, listed: &[Credential], emails: &HashMap<Uuid, String>) -> Markup {
    html! {
        table.credentials {
            thead { tr {
                th scope="col" { "client_id" } th scope="col" { "Acts for" } th scope="col" { "Scopes" }
                th scope="col" { "Status" } th scope="col" { "Created" } th scope="col" { span.sr-only { "Action" } }
            } }
            tbody {
                @for c in listed {
                    tr data-client-id=(c.client_id) {
                        td { code { (c.client_id) } }
                        td { @match c.user_id { Some(u) => (emails.get(&u).cloned().unwrap_or_else(|| u.to_string())), None => "the customer" } }
                        td { (c.scopes.split(' ').filter(|s| !s.is_empty()).count()) " scopes" }
                        td.status { @if c.disabled { "DISABLED" } @else { "APPROVED" } }
                        td { (layout::when(c.created_at)) }
                        td {
                            @if !c.disabled {
                                form method="post" action=(format!("/dashboard/credentials/{}/revoke", c.client_id)) {
                                    input type="hidden" name="csrf" value=(viewer.session.csrf_token);
                                    button.danger type="submit" aria-label=(format!("Revoke {}", c.client_id)) { "Revoke" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    acts_for: String,
    #[serde(default)]
    scopes: String,
}

pub async fn create(
    State(app): State<AppState>,
    viewer: Viewer,
    Form(f): Form<CreateForm>,
) -> Response {
    if let Some(refused) = csrf_refusal(&viewer, &f.csrf).or_else(|| manager(&viewer)) {
        return refused;
    }
    let user = (f.acts_for != "customer").then_some(viewer.user.id);
    let scopes: Vec<&str> = match f.scopes.as_str() {
        "all" => ALL_SCOPES.to_vec(),
        _ => ALL_SCOPES
            .iter()
            .copied()
            .filter(|s| s.contains(":read"))
            .collect(),
    };
    let store = app.core.store.as_ref();
    let customer = viewer.session.customer_id;
    match crate::bootstrap::save(store, customer, user, &scopes.join(" "), None, None).await {
        Ok((client_id, secret)) => {
            let made = Made { client_id, secret };
            render(&app, &viewer, StatusCode::OK, None, Some(made)).await
        }
        Err(e) => failure(stableport_core::CoreError::Internal(e.to_string())),
    }
}

#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    csrf: String,
}

pub async fn revoke(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(client_id): Path<String>,
    Form(f): Form<RevokeForm>,
) -> Response {
    if let Some(refused) = csrf_refusal(&viewer, &f.csrf).or_else(|| manager(&viewer)) {
        return refused;
    }
    let (customer, user) = (viewer.session.customer_id, Some(viewer.user.id));
    match credentials::revoke(&app.core, customer, user, &client_id, time::now()).await {
        Ok(c) if c.disabled => Redirect::to("/dashboard/credentials?done=revoked").into_response(),
        Ok(_) => Redirect::to("/dashboard/credentials?done=awaiting").into_response(),
        Err(e) if status_of(&e) == StatusCode::INTERNAL_SERVER_ERROR => failure(e),
        Err(e) => render(&app, &viewer, status_of(&e), Some(Err(e.to_string())), None).await,
    }
}
