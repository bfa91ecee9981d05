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
use crate::{
    approver, conversions, crypto_addresses, delivery, deposit_addresses, deposit_instructions,
    deposits, events, fiat_accounts, oauth, orchestrations, profiles, rules, settler, transfers,
    webhooks,
};

pub struct App {
    pub store: Arc<dyn Store>,
    pub keys: Keys,
    pub config: Config,
    pub conversions: Batcher<NewConversion>,
    pub orchestrations: Batcher<NewOrchestration>,
    /// (customer, profile) pairs already seen to exist; see `profiles::check_profile`.
    pub known_profiles: std::sync::RwLock<std::collections::HashSet<(uuid::Uuid, uuid::Uuid)>>,
}

pub type AppState = Arc<App>;

/// Every resource module contributes its routes; `/v2/sandbox` ones only in sandbox mode.
pub fn router(state: AppState) -> Router {
    let sandbox = state.config.is_sandbox();
    let v2 = Router::new()
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
        .merge(webhooks::routes(sandbox));
    Router::new()
        .route("/health", get(health))
        .route("/oauth2/token", post(oauth::token))
        .nest("/v2", v2)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
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

/// A started server. Dropping it does not stop it; call [`Running::stop`].
pub struct Running {
    pub addr: SocketAddr,
    pub bootstrap: Bootstrap,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops serving and every background worker at once, as a crash would.
    pub fn stop(self) {
        for task in self.tasks {
            task.abort();
        }
    }
}

/// Opens the database, prepares the bootstrap customer and credential,
/// starts the background workers and begins serving.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    let opened = stableport_store::open(&config.database_url).await?;
    let checkpointer = opened.spawn_checkpointer();
    let store: Arc<dyn Store> = Arc::new(opened);
    let keys = Keys::new(&store.signing_key(&random_hex(32)).await?);
    let bootstrap = bootstrap::prepare(store.as_ref(), &config).await?;
    let (conversions, mut tasks) = Batcher::spawn(store.clone());
    let (orchestrations, more) = Batcher::spawn(store.clone());
    tasks.extend(more);
    tasks.extend(checkpointer);
    tasks.push(settler::spawn(store.clone(), config.settlement));
    tasks.push(approver::spawn(
        store.clone(),
        config.fiat_account_approval_delay,
    ));
    tasks.push(delivery::spawn(store.clone(), &config));
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr()?;
    let app = router(Arc::new(App {
        store,
        keys,
        config,
        conversions,
        orchestrations,
        known_profiles: Default::default(),
    }));
    tasks.push(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(%e, "server stopped");
        }
    }));
    Ok(Running {
        addr,
        bootstrap,
        tasks,
    })
}
