//! The application: shared state, routes, and start-up.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use stableport_store::{NewConversion, NewOrchestration, Store};
use tokio::task::JoinHandle;
use tower_http::catch_panic::CatchPanicLayer;

use crate::auth::{random_hex, Keys};
use crate::batcher::Batcher;
use crate::bootstrap::{self, Bootstrap};
use crate::config::Config;
use crate::problem::Problem;
use crate::routes::Routes;
use crate::{
    approver, conversions, crypto_addresses, delivery, deposit_addresses, deposit_instructions,
    deposits, events, fiat_accounts, oauth, openapi, orchestrations, profiles, rules, settler,
    transfers, webhooks,
};

pub struct App {
    pub store: Arc<dyn Store>,
    pub keys: Keys,
    pub config: Config,
    pub conversions: Batcher<NewConversion>,
    pub orchestrations: Batcher<NewOrchestration>,
    /// Per credential and route, when `--rate-limit` is on.
    pub limiter: Option<crate::limiter::Limiter>,
    /// (customer, profile) pairs already seen to exist; see `profiles::check_profile`.
    pub known_profiles: std::sync::RwLock<std::collections::HashSet<(uuid::Uuid, uuid::Uuid)>>,
}

pub type AppState = Arc<App>;

/// Every resource module contributes its `/v2` routes; `/v2/sandbox` ones
/// only in sandbox mode.
fn v2_routes(sandbox: bool) -> Routes {
    Routes::new()
        .merge(profiles::routes(sandbox))
        .merge(conversions::routes(sandbox))
        .merge(fiat_accounts::routes(sandbox))
        .merge(crypto_addresses::routes(sandbox))
        .merge(orchestrations::routes(sandbox))
        .merge(transfers::routes(sandbox))
        .merge(rules::routes(sandbox))
        .merge(deposit_addresses::routes(sandbox))
        .merge(deposit_instructions::routes(sandbox))
        .merge(deposits::routes(sandbox))
        .merge(events::routes(sandbox))
        .merge(webhooks::routes(sandbox))
        .get("/openapi.json", openapi::openapi_json)
}

/// Routes outside `/v2`.
const TOP_LEVEL: [(&str, &str); 4] = [
    ("GET", "/health"),
    ("POST", "/oauth2/token"),
    ("GET", "/docs"),
    ("GET", "/docs/redoc.standalone.js"),
];

/// `(METHOD, full path)` of every route served; the OpenAPI document lists exactly these.
pub fn route_table(sandbox: bool) -> Vec<(String, String)> {
    let v2 = v2_routes(sandbox);
    let nested = v2.table().iter().map(|(m, p)| (*m, format!("/v2{p}")));
    TOP_LEVEL
        .iter()
        .map(|(m, p)| (*m, p.to_string()))
        .chain(nested)
        .map(|(m, p)| (m.to_string(), p))
        .collect()
}

pub fn router(state: AppState) -> Router {
    let sandbox = state.config.is_sandbox();
    Router::new()
        .route("/health", get(health))
        .route("/oauth2/token", post(oauth::token))
        .route("/docs", get(openapi::docs_page))
        .route("/docs/redoc.standalone.js", get(openapi::redoc_js))
        .nest("/v2", v2_routes(sandbox).into_router())
        .layer(axum::middleware::from_fn(crate::problem::spec_media_type))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            state.config.max_body_bytes,
            crate::extract::read_body_first,
        ))
        .layer(CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(Problem::internal(
                "a request handler panicked",
            ))
        }))
        .with_state(state)
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn not_found() -> Problem {
    Problem::not_found("no such route")
}

async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed on this route",
    )
}

/// A started server. Dropping it does not stop it; call [`Running::stop`]
/// or [`Running::shutdown`].
pub struct Running {
    pub addr: SocketAddr,
    pub bootstrap: Bootstrap,
    /// Background workers (settler, deliveries, checkpoints).
    tasks: Vec<JoinHandle<()>>,
    /// The group-commit writers: they finish their queue, then end.
    writers: Vec<JoinHandle<()>>,
    server: JoinHandle<()>,
    draining: Arc<tokio::sync::Notify>,
}

impl Running {
    /// Stops serving and every background worker at once, as a crash would.
    pub fn stop(self) {
        self.server.abort();
        for task in self.tasks.into_iter().chain(self.writers) {
            task.abort();
        }
    }

    /// A clean stop (SIGTERM): no new connections, every request in flight
    /// answered, the group-commit queue written, then the workers stopped
    /// (their work is transactional, so nothing half-done is left).
    pub async fn shutdown(self) {
        self.draining.notify_one();
        let _ = self.server.await;
        // The router (and with it every queue sender) is gone: the writers
        // commit what is queued and return.
        for writer in self.writers {
            let _ = writer.await;
        }
        for task in self.tasks {
            task.abort();
        }
    }
}

/// The service without a listener or background workers: the router,
/// its state, and the group-commit writers behind it. `start` serves it;
/// the request fuzz target drives it in process.
pub struct Service {
    pub router: Router,
    pub state: AppState,
    pub bootstrap: Bootstrap,
    pub writers: Vec<JoinHandle<()>>,
}

/// Prepares the bootstrap customer and credential and builds the router on
/// `store`. Spawns only the group-commit writers.
pub async fn service(config: Config, store: Arc<dyn Store>) -> anyhow::Result<Service> {
    let keys = Keys::new(&store.signing_key(&random_hex(32)).await?);
    // Parse Paxos's spec once, now, rather than on the first error answered.
    tokio::task::spawn_blocking(crate::openapi::json_problems).await?;
    let bootstrap = bootstrap::prepare(store.as_ref(), &config).await?;
    let (conversions, mut writers) = Batcher::spawn(store.clone());
    let (orchestrations, more) = Batcher::spawn(store.clone());
    writers.extend(more);
    let state = Arc::new(App {
        limiter: config.rate_limit.map(crate::limiter::Limiter::new),
        store,
        keys,
        config,
        conversions,
        orchestrations,
        known_profiles: Default::default(),
    });
    Ok(Service {
        router: router(state.clone()),
        state,
        bootstrap,
        writers,
    })
}

/// Opens the database, prepares the bootstrap customer and credential,
/// starts the background workers and begins serving.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    let opened = stableport_store::open(&config.database_url).await?;
    let checkpointer = opened.spawn_checkpointer();
    let store: Arc<dyn Store> = Arc::new(opened);
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr()?;
    let Service {
        router: app,
        state,
        bootstrap,
        writers,
    } = service(config, store.clone()).await?;
    let config = &state.config;
    let mut tasks: Vec<JoinHandle<()>> = checkpointer.into_iter().collect();
    tasks.push(settler::spawn(store.clone(), config.settlement));
    tasks.push(approver::spawn(
        store.clone(),
        config.fiat_account_approval_delay,
    ));
    tasks.push(delivery::spawn(store, config));
    let draining = Arc::new(tokio::sync::Notify::new());
    let drained = draining.clone();
    let server = tokio::spawn(async move {
        let stop = async move { drained.notified().await };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::error!(%e, "server stopped");
        }
    });
    Ok(Running {
        addr,
        bootstrap,
        tasks,
        writers,
        server,
        draining,
    })
}
