//! The frame every page shares, its headers, and the static assets.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

use super::Viewer;

/// No inline script or style, no framing, nothing cached.
const CSP: &str = "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

pub fn page(status: StatusCode, title: &str, viewer: Option<&Viewer>, body: Markup) -> Response {
    let html = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Stableport" }
                link rel="stylesheet" href="/dashboard/assets/app.css";
                script src="/dashboard/assets/app.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                @if let Some(v) = viewer { (header(v)) }
                main #main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    };
    let headers = [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, "no-store"),
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ];
    (status, headers, html.into_string()).into_response()
}

fn header(v: &Viewer) -> Markup {
    html! {
        header.top {
            span.brand { "Stableport" }
            nav aria-label="Main" {
                a href="/dashboard" { "Overview" }
                a href="/dashboard/activity" { "Activity" }
                a href="/dashboard/approvals" { "Approvals" }
                a href="/dashboard/destinations" { "Destinations" }
                a href="/dashboard/rules" { "Rules" }
                a href="/dashboard/webhooks" { "Webhooks" }
                a href="/dashboard/team" { "Team" }
                @if v.user.roles.contains(&stableport_domain::Role::EntityManager) {
                    a href="/dashboard/credentials" { "API credentials" }
                }
                @if v.sandbox { a href="/dashboard/sandbox" { "Sandbox" } }
            }
            form.signout method="post" action="/dashboard/sign-out" {
                input type="hidden" name="csrf" value=(v.session.csrf_token);
                span { (v.user.email) " (" (roles(v)) ")" }
                button type="submit" { "Sign out" }
            }
        }
    }
}

fn roles(v: &Viewer) -> String {
    let names: Vec<_> = v.user.roles.iter().map(|r| r.as_str()).collect();
    names.join(", ")
}

/// What the last action said: a notice (Ok) or why it was refused (Err).
pub type Said<'a> = Option<Result<&'a str, String>>;

pub fn said(said: &Said) -> Markup {
    html! {
        @match said {
            Some(Ok(notice)) => p.notice role="status" { (notice) },
            Some(Err(problem)) => p.alert role="alert" { (problem) },
            None => {},
        }
    }
}

/// A page with only a message (an error, most often).
pub fn message(status: StatusCode, title: &str, text: &str) -> Response {
    page(status, title, None, html! { p role="alert" { (text) } })
}

pub async fn css() -> Response {
    asset("text/css; charset=utf-8", include_str!("assets/app.css"))
}

pub async fn js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("assets/app.js"),
    )
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    let headers = [
        (header::CONTENT_TYPE, kind),
        (header::CACHE_CONTROL, "public, max-age=3600"),
    ];
    (headers, body).into_response()
}

/// A time as people read it (UTC, to the second).
pub fn when(micros: i64) -> String {
    let text = crate::time::format(micros);
    let trimmed = text
        .split('.')
        .next()
        .unwrap_or(&text)
        .trim_end_matches('Z');
    format!("{} UTC", trimmed.replace('T', " "))
}
