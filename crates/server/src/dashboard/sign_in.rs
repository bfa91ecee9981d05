//! Signing in and out. The sign-in form is protected by a double-submit
//! token (a cookie and a field that must match), since no session exists
//! yet; the session cookie is HttpOnly, SameSite=Strict, and Secure outside
//! the sandbox.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;
use stableport_core::issued::random_hex;
use stableport_core::sessions::{self, Refused, SESSION_TTL};
use subtle::ConstantTimeEq;

use super::{cookie, csrf_refusal, failure, layout, Viewer, COOKIE};
use crate::state::AppState;
use crate::time;

const FORM_COOKIE: &str = "stableport_sign_in";

fn cookie_attributes(app: &AppState, max_age: u64) -> String {
    let secure = if app.config.is_sandbox() {
        ""
    } else {
        "; Secure"
    };
    format!("Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

pub async fn page(State(app): State<AppState>) -> Response {
    form(&app, StatusCode::OK, None, "")
}

/// The form, with a fresh double-submit token (and why the last try failed).
fn form(app: &AppState, status: StatusCode, problem: Option<&str>, email: &str) -> Response {
    let token = random_hex(16);
    let body = html! {
        @if let Some(problem) = problem { p.alert role="alert" { (problem) } }
        form method="post" action="/dashboard/sign-in" {
            input type="hidden" name="form_token" value=(token);
            label for="email" { "Email" }
            input #email type="email" name="email" value=(email) autocomplete="username" required;
            label for="password" { "Password" }
            input #password type="password" name="password" autocomplete="current-password" required;
            p { button type="submit" { "Sign in" } }
        }
    };
    let mut response = layout::page(status, "Sign in", None, body);
    let set = format!("{FORM_COOKIE}={token}; {}", cookie_attributes(app, 3600));
    if let Ok(value) = set.parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    form_token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

pub async fn submit(
    State(app): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<SignInForm>,
) -> Response {
    let expected = cookie(&headers, FORM_COOKIE).unwrap_or_default();
    if expected.is_empty() || !bool::from(expected.as_bytes().ct_eq(f.form_token.as_bytes())) {
        let problem = "This form expired. Please sign in again.";
        return form(&app, StatusCode::FORBIDDEN, Some(problem), &f.email);
    }
    let now = time::now();
    let signed = match sessions::sign_in(&app.core, &f.email, f.password, now).await {
        Ok(outcome) => outcome,
        Err(e) => return failure(e),
    };
    let signed = match signed {
        Ok(signed) => signed,
        Err(Refused::Wrong) => {
            let problem = "The email or the password is wrong.";
            return form(&app, StatusCode::UNAUTHORIZED, Some(problem), &f.email);
        }
        Err(Refused::Locked { until }) => {
            let problem = format!(
                "Too many failed sign-ins for this email. Try again after {}.",
                layout::when(until)
            );
            return form(
                &app,
                StatusCode::TOO_MANY_REQUESTS,
                Some(&problem),
                &f.email,
            );
        }
    };
    let attributes = cookie_attributes(&app, SESSION_TTL.as_secs());
    let session = format!("{COOKIE}={}; {attributes}", signed.token);
    let clear_form = format!("{FORM_COOKIE}=; {}", cookie_attributes(&app, 0));
    let mut response = Redirect::to("/dashboard").into_response();
    for value in [session, clear_form] {
        if let Ok(value) = value.parse() {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

pub async fn sign_out(
    State(app): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(refused) = csrf_refusal(&viewer, &f.csrf) {
        return refused;
    }
    if let Some(token) = cookie(&headers, COOKIE) {
        if let Err(e) = sessions::sign_out(&app.core, &token).await {
            return failure(e);
        }
    }
    let mut response = Redirect::to("/dashboard/sign-in").into_response();
    let clear = format!("{COOKIE}=; {}", cookie_attributes(&app, 0));
    if let Ok(value) = clear.parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}
