//! What every request handler shares: the store, keys, configuration and
//! the group-commit queues.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use stableport_store::{NewConversion, NewOrchestration, Store};
use uuid::Uuid;

use crate::api::common::keys::Keys;
use crate::api::common::limiter::Limiter;
use crate::config::Config;
use crate::workers::batcher::Batcher;

pub struct App {
    pub store: Arc<dyn Store>,
    pub keys: Keys,
    pub config: Config,
    pub conversions: Batcher<NewConversion>,
    pub orchestrations: Batcher<NewOrchestration>,
    /// Per credential and route, when `--rate-limit` is on.
    pub limiter: Option<Limiter>,
    /// (customer, profile) pairs already seen to exist; see `owned::check_profile`.
    pub known_profiles: RwLock<HashSet<(Uuid, Uuid)>>,
    /// `(METHOD, full path)` of every route served, for the OpenAPI document.
    pub routes: Vec<(String, String)>,
}

pub type AppState = Arc<App>;
