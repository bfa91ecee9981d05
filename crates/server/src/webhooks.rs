//! Placeholder: routes are filled in by the resource's implementation.

use axum::Router;

use crate::app::AppState;

pub fn routes(_sandbox: bool) -> Router<AppState> {
    Router::new()
}
