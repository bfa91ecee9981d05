//! The approvals inbox: requests waiting for the viewer (approve, or reject
//! with a reason), the viewer's own (cancel), and the history of decided
//! ones with every act.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use stableport_core::approvals::{self, Decision};
use stableport_domain::amount::format_units;
use stableport_domain::{ApprovalStatus, Asset};
use stableport_store::{
    Act, ApprovalFilter, ApprovalRequest, Order, Page, Proposal, SortKey, UserFilter,
};
use uuid::Uuid;

use super::{csrf_refusal, failure, layout, status_of, Viewer};
use crate::state::AppState;
use crate::time;

const PENDING_SHOWN: i64 = 100;
const HISTORY_SHOWN: i64 = 50;

#[derive(Deserialize)]
pub struct Shown {
    done: Option<String>,
}

pub async fn page(State(app): State<AppState>, viewer: Viewer, q: Query<Shown>) -> Response {
    let notice = match q.done.as_deref() {
        Some("approve") => Some("Your approval is recorded."),
        Some("reject") => Some("The request is rejected."),
        Some("cancel") => Some("The request is cancelled."),
        _ => None,
    };
    inbox(&app, &viewer, StatusCode::OK, notice.map(Ok)).await
}

/// The inbox, with a notice (Ok) or the reason a decision was refused (Err).
async fn inbox(
    app: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    said: Option<Result<&str, String>>,
) -> Response {
    match load(app, viewer).await {
        Ok(inbox) => {
            let body = html! {
                (layout::said(&said))
                (render(viewer, &inbox))
            };
            layout::page(status, "Approvals", Some(viewer), body)
        }
        Err(e) => failure(e),
    }
}

struct Inbox {
    pending: Vec<(ApprovalRequest, Vec<Act>)>,
    decided: Vec<(ApprovalRequest, Vec<Act>)>,
    emails: HashMap<Uuid, String>,
}

fn page_of(limit: i64) -> Page {
    Page {
        order: Order::Desc,
        limit,
        after: None,
        by: SortKey::CreatedAt,
    }
}

async fn load(app: &AppState, viewer: &Viewer) -> stableport_core::Result<Inbox> {
    let (store, customer) = (&app.core.store, viewer.session.customer_id);
    let filter = |statuses: &[ApprovalStatus], limit| ApprovalFilter {
        statuses: statuses.iter().map(|s| s.as_str().to_string()).collect(),
        actions: Vec::new(),
        submitted_by: Vec::new(),
        page: page_of(limit),
    };
    let pending = filter(&[ApprovalStatus::Pending], PENDING_SHOWN);
    let decided = [
        ApprovalStatus::Approved,
        ApprovalStatus::Rejected,
        ApprovalStatus::Cancelled,
    ];
    let decided = filter(&decided, HISTORY_SHOWN);
    let mut lists = Vec::new();
    for f in [pending, decided] {
        let mut with_acts = Vec::new();
        for r in store.list_approval_requests(customer, &f).await? {
            let acts = store.approval_acts(r.id).await?;
            with_acts.push((r, acts));
        }
        lists.push(with_acts);
    }
    let users = UserFilter {
        include_disabled: true,
        page: page_of(1000),
    };
    let emails = store.list_users(customer, &users).await?;
    let emails = emails.into_iter().map(|u| (u.id, u.email)).collect();
    let decided = lists.pop().unwrap_or_default();
    let pending = lists.pop().unwrap_or_default();
    Ok(Inbox {
        pending,
        decided,
        emails,
    })
}

fn who(inbox: &Inbox, user: Option<Uuid>) -> String {
    match user {
        Some(id) => inbox
            .emails
            .get(&id)
            .cloned()
            .unwrap_or_else(|| id.to_string()),
        None => "a machine credential".into(),
    }
}

fn render(viewer: &Viewer, inbox: &Inbox) -> Markup {
    html! {
        div data-live {
            h2 { "Waiting (" (inbox.pending.len()) ")" }
            @if inbox.pending.is_empty() { p.muted { "Nothing is waiting for approval." } }
            @for (r, acts) in &inbox.pending {
                section.card aria-labelledby=(format!("r-{}", r.id)) {
                    (summary(inbox, r, acts))
                    (choices(viewer, r, acts))
                }
            }
            h2 { "History" }
            @if inbox.decided.is_empty() { p.muted { "No decided requests yet." } }
            @else {
                table {
                    thead { tr {
                        th scope="col" { "Request" } th scope="col" { "Status" }
                        th scope="col" { "Acts" }
                    } }
                    tbody {
                        @for (r, acts) in &inbox.decided {
                            tr {
                                td { (label(r)) br; span.muted { (r.object_id) } }
                                td { (r.status.as_str()) }
                                td { (trail(inbox, acts)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn label(r: &ApprovalRequest) -> String {
    let words = r.action.as_str().replace('_', " ").to_lowercase();
    let mut chars = words.chars();
    chars
        .next()
        .map_or(String::new(), |c| c.to_uppercase().chain(chars).collect())
}

fn summary(inbox: &Inbox, r: &ApprovalRequest, acts: &[Act]) -> Markup {
    let approved = acts.iter().filter(|a| a.act == "APPROVED").count();
    let approvals = r.approvals_required;
    let roles: Vec<_> = r.approver_roles.iter().map(|x| x.as_str()).collect();
    html! {
        h3 id=(format!("r-{}", r.id)) { (label(r)) }
        dl {
            dt { "Progress" } dd.progress { (approved) "/" (approvals) }
            dt { "Object" } dd { code { (r.object_id) } }
            @if let Some(cents) = r.amount_cents {
                dt { "Worth" } dd { (format_units(cents, Asset::Usd)) " USD" }
            }
            @match &r.proposal {
                Some(Proposal::Roles(roles)) => {
                    dt { "Roles asked" }
                    dd { (roles.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(", ")) }
                },
                Some(Proposal::Policy(p)) => {
                    dt { "Proposed policy" }
                    dd { @if p.enabled { "enabled, " (p.approvals_required) " approval(s)" } @else { "turned off" } }
                },
                Some(Proposal::Credential(client_id)) => { dt { "Credential" } dd { code { (client_id) } } },
                None => {},
            }
            dt { "Approved by" } dd { (roles.join(" or ")) }
            dt { "Submitted" } dd { (who(inbox, r.submitted_by)) ", " (layout::when(r.created_at)) }
        }
    }
}

fn trail(inbox: &Inbox, acts: &[Act]) -> Markup {
    html! {
        ol {
            @for a in acts {
                li {
                    (a.act) " by " (who(inbox, a.user_id)) ", " (layout::when(a.at))
                    @if let Some(reason) = &a.reason { ": “" (reason) "”" }
                }
            }
        }
    }
}

/// What the viewer may do with a pending request, said plainly when nothing.
fn choices(viewer: &Viewer, r: &ApprovalRequest, acts: &[Act]) -> Markup {
    let me = viewer.user.id;
    let csrf = &viewer.session.csrf_token;
    let action = |what: &str| format!("/dashboard/approvals/{}/{what}", r.id);
    let eligible = viewer
        .user
        .roles
        .iter()
        .any(|x| r.approver_roles.contains(x));
    let approved = acts
        .iter()
        .any(|a| a.act == "APPROVED" && a.user_id == Some(me));
    html! {
        @if r.submitted_by == Some(me) {
            p.muted { "You submitted this request: another approver must decide it." }
            form method="post" action=(action("cancel")) {
                input type="hidden" name="csrf" value=(csrf);
                button.secondary type="submit" { "Cancel request" }
            }
        } @else if !eligible {
            p.muted { "Waiting for a user with the role " (r.approver_roles.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(" or ")) "." }
        } @else if approved {
            p.muted { "You approved this request; it needs other approvers." }
        } @else {
            div.actions {
                form method="post" action=(action("approve")) {
                    input type="hidden" name="csrf" value=(csrf);
                    button type="submit" { "Approve" }
                }
                form method="post" action=(action("reject")) {
                    input type="hidden" name="csrf" value=(csrf);
                    label for=(format!("reason-{}", r.id)) { "Reason for rejecting" }
                    textarea id=(format!("reason-{}", r.id)) name="reason" rows="2" required {}
                    button.danger type="submit" { "Reject" }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

pub async fn decide(
    State(app): State<AppState>,
    viewer: Viewer,
    Path((id, decision)): Path<(String, String)>,
    Form(f): Form<DecisionForm>,
) -> Response {
    if let Some(refused) = csrf_refusal(&viewer, &f.csrf) {
        return refused;
    }
    let decision_of = match decision.as_str() {
        "approve" => Decision::Approve,
        "reject" => Decision::Reject { reason: f.reason },
        "cancel" => Decision::Cancel,
        _ => return layout::message(StatusCode::NOT_FOUND, "Not found", "No such decision."),
    };
    let Ok(id) = Uuid::parse_str(&id) else {
        return layout::message(StatusCode::NOT_FOUND, "Not found", "No such request.");
    };
    let (customer, user) = (viewer.session.customer_id, Some(viewer.user.id));
    match approvals::decide(&app.core, customer, user, id, decision_of, time::now()).await {
        Ok(_) => Redirect::to(&format!("/dashboard/approvals?done={decision}")).into_response(),
        Err(e) => {
            let status = status_of(&e);
            if status == StatusCode::INTERNAL_SERVER_ERROR {
                return failure(e);
            }
            inbox(&app, &viewer, status, Some(Err(e.to_string()))).await
        }
    }
}
