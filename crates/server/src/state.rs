//! What every request handler shares: the operations layer (with the store
//! and the group-commit writers), keys and configuration.

use stableport_core::Core;

use crate::api::common::keys::Keys;
use crate::api::common::limiter::Limiter;
use crate::config::Config;

pub struct App {
    pub core: Core,
    pub keys: Keys,
    pub config: Config,
    /// Per credential and route, when `--rate-limit` is on.
    pub limiter: Option<Limiter>,
    /// `(METHOD, full path)` of every route served, for the OpenAPI document.
    pub routes: Vec<(String, String)>,
}

pub type AppState = std::sync::Arc<App>;
