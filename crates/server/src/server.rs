//! Start-up: the service assembled on a store, its workers, and serving.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use stableport_core::Core;
use stableport_store::Store;
use tokio::task::JoinHandle;

use crate::api::common::keys::{random_hex, Keys};
use crate::api::common::limiter::Limiter;
use crate::bootstrap::{self, Bootstrap};
use crate::config::Config;
use crate::state::{App, AppState};
use crate::workers::approver::Approver;
use crate::workers::delivery::Delivery;
use crate::workers::pruner::Pruner;
use crate::workers::sampler::Sampler;
use crate::workers::settler::Settler;
use crate::workers::upkeep::Upkeep;
use crate::workers::Workers;

/// A started server. Dropping it does not stop it; call [`Running::stop`]
/// or [`Running::shutdown`].
pub struct Running {
    pub addr: SocketAddr,
    /// Where `GET /metrics` is served, with `--metrics-listen`.
    pub metrics_addr: Option<SocketAddr>,
    metrics: Option<JoinHandle<()>>,
    pub bootstrap: Bootstrap,
    /// Background workers (settler, approver, deliveries, checkpoints, chart samples).
    workers: Workers,
    /// The group-commit writers: they finish their queue, then end.
    writers: Vec<JoinHandle<()>>,
    server: JoinHandle<()>,
    draining: Arc<tokio::sync::Notify>,
}

impl Running {
    /// Stops serving and every background worker at once, as a crash would.
    pub fn stop(self) {
        self.server.abort();
        if let Some(metrics) = self.metrics {
            metrics.abort();
        }
        for writer in self.writers {
            writer.abort();
        }
        self.workers.abort();
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
        self.workers.stop().await;
        if let Some(metrics) = self.metrics {
            metrics.abort();
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
    let (bootstrap, signing_key) =
        bootstrap::prepare(store.as_ref(), &config, &random_hex(32)).await?;
    let keys = Keys::new(&signing_key);
    let (mut core, writers) = Core::start(store, config.settlement());
    core.fees = stableport_core::fees::Fees {
        crypto_withdrawal: config.crypto_withdrawal_fee.0,
        quote_for: config.fee_quote_ttl,
    };
    let routes = crate::api::route_table(config.is_sandbox());
    let state = Arc::new(App {
        limiter: config.rate_limit().map(Limiter::new),
        core,
        keys,
        config,
        routes,
    });
    Ok(Service {
        router: crate::api::router(state.clone()),
        state,
        bootstrap,
        writers,
    })
}

/// Opens the database, prepares the bootstrap customer and credential,
/// starts the background workers and begins serving.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    let mut opened = stableport_store::open(&config.database_url).await?;
    let key = config.master_key.load()?;
    let sealed = opened.unlock(key.as_ref()).await?;
    match &key {
        Some(k) if sealed > 0 => tracing::info!(sealed, key = %k.id(), "sealed plain secrets under the master key"),
        Some(_) => {}
        None if config.is_sandbox() => {}
        None => tracing::warn!("no master key: webhook secrets and consumer credentials are stored in plain text (set STABLEPORT_MASTER_KEY)"),
    }
    let opened = Arc::new(opened);
    let store: Arc<dyn Store> = opened.clone();
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr()?;
    let metrics = match &config.metrics_listen {
        Some(at) => Some(listen_for_metrics(at, store.clone()).await?),
        None => None,
    };
    let Service {
        router: app,
        state,
        bootstrap,
        writers,
    } = service(config, store.clone()).await?;
    let config = &state.config;
    let mut workers = Workers::default();
    workers.spawn(Settler::new(store.clone(), config.settlement()));
    workers.spawn(Approver::new(
        store.clone(),
        config.fiat_account_approval_delay,
    ));
    if let Some(sampler) = Sampler::new(store.clone(), config.sample_every) {
        workers.spawn(sampler);
    }
    if let Some(pruner) = Pruner::new(store.clone(), config.retention()) {
        workers.spawn(pruner);
    }
    match Delivery::new(store, config) {
        Ok(delivery) => workers.spawn(delivery),
        Err(e) => tracing::error!(%e, "cannot build the webhook HTTP client; no deliveries"),
    }
    workers.spawn(Upkeep::new(opened));
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
        metrics_addr: metrics.as_ref().map(|(at, _)| *at),
        metrics: metrics.map(|(_, task)| task),
        bootstrap,
        workers,
        writers,
        server,
        draining,
    })
}

/// Serves `GET /metrics` on its own address, apart from the API.
async fn listen_for_metrics(
    at: &str,
    store: Arc<dyn Store>,
) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    crate::telemetry::recorder();
    let listener = tokio::net::TcpListener::bind(at)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen for metrics on {at}: {e}"))?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, crate::telemetry::router(store)).await {
            tracing::error!(%e, "the metrics listener stopped");
        }
    });
    Ok((addr, task))
}
