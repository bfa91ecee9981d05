//! The dashboard (`/dashboard`): server-rendered pages (maud) with plain
//! HTML forms, for a signed-in user of a customer. Every page works without
//! JavaScript; a few lines of it only refresh lists. Each handler extracts,
//! calls the operations layer and renders, like the API's.

mod activity;
mod approvals;
mod credentials;
mod destinations;
mod detail;
mod layout;
mod overview;
mod rules;
mod sandbox;
mod sign_in;
mod team;
mod webhooks;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use stableport_core::{sessions, CoreError};
use stableport_store::{Session, User};
use subtle::ConstantTimeEq;

use crate::state::AppState;
use crate::time;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(overview::page))
        .route(
            "/dashboard/sign-in",
            get(sign_in::page).post(sign_in::submit),
        )
        .route("/dashboard/sign-out", post(sign_in::sign_out))
        .route("/dashboard/activity", get(activity::page))
        .route("/dashboard/activity/{kind}/{id}", get(detail::page))
        .route("/dashboard/approvals", get(approvals::page))
        .route(
            "/dashboard/approvals/{id}/{decision}",
            post(approvals::decide),
        )
        .route(
            "/dashboard/credentials",
            get(credentials::page).post(credentials::create),
        )
        .route(
            "/dashboard/credentials/{client_id}/revoke",
            post(credentials::revoke),
        )
        .route(
            "/dashboard/destinations",
            get(destinations::page).post(destinations::add),
        )
        .route("/dashboard/sandbox", get(sandbox::page))
        .route("/dashboard/sandbox/deposit", post(sandbox::deposit))
        .route(
            "/dashboard/sandbox/conversions/{id}/{action}",
            post(sandbox::conversion),
        )
        .route(
            "/dashboard/sandbox/withdrawals/{id}/{action}",
            post(sandbox::withdrawal),
        )
        .route("/dashboard/rules", get(rules::page).post(rules::create))
        .route("/dashboard/team", get(team::page))
        .route("/dashboard/team/policies/{action}", post(team::set_policy))
        .route("/dashboard/team/users", post(team::add_user))
        .route("/dashboard/team/users/{id}/roles", post(team::set_roles))
        .route("/dashboard/webhooks", get(webhooks::page))
        .route("/dashboard/webhooks/{id}/{action}", post(webhooks::act))
        .route("/dashboard/assets/app.css", get(layout::css))
        .route("/dashboard/assets/app.js", get(layout::js))
}

pub const COOKIE: &str = "stableport_session";

/// The signed-in user of a request; anyone else is sent to sign in.
pub struct Viewer {
    pub session: Session,
    pub user: User,
    /// The server runs in sandbox mode (the sandbox panel is offered).
    pub sandbox: bool,
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Response> {
        let to_sign_in = || Redirect::to("/dashboard/sign-in").into_response();
        let token = cookie(&parts.headers, COOKIE).ok_or_else(to_sign_in)?;
        match sessions::find(&app.core, &token, time::now()).await {
            Ok(Some((session, user))) => {
                if let Some(caller) = parts.extensions.get::<crate::telemetry::Caller>() {
                    caller.set(session.customer_id);
                }
                Ok(Viewer {
                    session,
                    user,
                    sandbox: app.config.is_sandbox(),
                })
            }
            Ok(None) => Err(to_sign_in()),
            Err(e) => Err(failure(e)),
        }
    }
}

/// A cookie's value from the request's Cookie headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Every form that changes something carries the session's CSRF token:
/// the refusal when this one does not.
pub fn csrf_refusal(viewer: &Viewer, given: &str) -> Option<Response> {
    let expected = viewer.session.csrf_token.as_bytes();
    match bool::from(given.as_bytes().ct_eq(expected)) {
        true => None,
        false => Some(layout::message(
            StatusCode::FORBIDDEN,
            "Form expired",
            "This form is no longer valid. Reload the page and try again.",
        )),
    }
}

/// The status a refusal of the operations layer is shown with.
pub fn status_of(e: &CoreError) -> StatusCode {
    match e {
        CoreError::Invalid(_) | CoreError::TooPrecise { .. } => StatusCode::BAD_REQUEST,
        CoreError::Forbidden(_) => StatusCode::FORBIDDEN,
        CoreError::NotFound(_) => StatusCode::NOT_FOUND,
        CoreError::Conflict(_) => StatusCode::CONFLICT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A failure no form can fix: logged, and a page that says so.
pub fn failure(e: CoreError) -> Response {
    tracing::error!(error = %e, "dashboard request failed");
    layout::message(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "The server could not complete this request. Try again in a moment.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_its_cookie_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "a=1; stableport_session=tok; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&headers, COOKIE).as_deref(), Some("tok"));
        assert_eq!(cookie(&headers, "missing"), None);
    }
}
