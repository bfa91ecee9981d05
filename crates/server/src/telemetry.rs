//! What an operator watches: Prometheus metrics (served on
//! `--metrics-listen` only) and one log line per request, each carrying the
//! request's `X-Request-Id`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use stableport_domain::amount::format_units;
use stableport_store::{Gauges, Store};
use uuid::Uuid;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Seconds: 0.5 ms to 10 s.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const BATCH_BUCKETS: [f64; 10] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

/// Whether [`recorder`] was installed: until then every metric goes to
/// metrics' no-op recorder, and the request path skips building labels.
static RECORDING: AtomicBool = AtomicBool::new(false);

/// The process's recorder, installed on first use and shared by every
/// server in the process (the tests run several).
pub fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Suffix("_batch_size".into()), &BATCH_BUCKETS)
            })
            .expect("the buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics shows only gauges");
        }
        RECORDING.store(true, Ordering::Relaxed);
        handle
    })
}

/// The customer a request was authenticated for, filled in by
/// authentication and read by the request log.
#[derive(Clone, Default)]
pub struct Caller(Arc<OnceLock<Uuid>>);

impl Caller {
    pub fn set(&self, customer: Uuid) {
        let _ = self.0.set(customer);
    }
}

/// Around every request: its id (the client's `X-Request-Id` if it is
/// sane, else a new one, echoed either way), its count and latency by
/// route and status, and its log line.
pub async fn observe(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable_id(v))
        .map_or_else(|| Uuid::new_v4().to_string(), str::to_string);
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = request.method().clone();
    let caller = Caller::default();
    request.extensions_mut().insert(caller.clone());
    let mut response = next.run(request).await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    // Unmatched paths share one label: a scan must not grow the series.
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    // Label strings are built only when something records them.
    if RECORDING.load(Ordering::Relaxed) {
        let labels = [
            ("method", method.as_str().to_string()),
            ("route", route.to_string()),
            ("status", status.to_string()),
        ];
        metrics::counter!("stableport_http_requests_total", &labels).increment(1);
        metrics::histogram!("stableport_http_request_duration_seconds", &labels)
            .record(elapsed.as_secs_f64());
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    let customer = caller.0.get().map(Uuid::to_string).unwrap_or_default();
    tracing::info!(
        target: "stableport::request",
        request_id = %id,
        method = %method,
        route = %route,
        status,
        latency_ms = elapsed.as_secs_f64() * 1e3,
        customer_id = %customer,
        "request"
    );
    response
}

/// A client's request id is kept when it is short printable ASCII.
fn acceptable_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

/// The metrics listener's router: `GET /metrics`, nothing else.
pub fn router(store: Arc<dyn Store>) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(store)
}

async fn scrape(State(store): State<Arc<dyn Store>>) -> Response {
    let gauges = match store.gauges(crate::time::now()).await {
        Ok(gauges) => gauges,
        Err(e) => {
            tracing::error!(%e, "reading the metrics' gauges failed");
            let body = "the database did not answer\n";
            return (StatusCode::SERVICE_UNAVAILABLE, body).into_response();
        }
    };
    // Gauges read from this server's database go through a recorder of
    // their own, so two servers in one process never mix their values.
    let local = PrometheusBuilder::new().build_recorder();
    metrics::with_local_recorder(&local, || set(gauges));
    let mut text = recorder().render();
    text.push_str(&local.handle().render());
    let headers = [(header::CONTENT_TYPE, "text/plain; version=0.0.4")];
    (headers, text).into_response()
}

fn set(g: Gauges) {
    let backlogs = [
        ("settlement", g.settlements),
        ("orchestration_step", g.orchestration_steps),
        ("webhook_delivery", g.deliveries),
    ];
    for (work, b) in backlogs {
        metrics::gauge!("stableport_backlog_due", "work" => work).set(b.due as f64);
        metrics::gauge!("stableport_backlog_lag_seconds", "work" => work).set(b.lag as f64 / 1e6);
    }
    // For watching, not accounting (a float): `stableport audit` is exact.
    for (asset, units) in g.totals {
        let amount = format_units(units, asset).parse().unwrap_or(f64::NAN);
        metrics::gauge!("stableport_ledger_customer_total", "asset" => asset.code()).set(amount);
    }
    for (pool, open, idle) in g.pools {
        metrics::gauge!("stableport_db_pool_connections", "pool" => pool).set(f64::from(open));
        metrics::gauge!("stableport_db_pool_idle", "pool" => pool).set(idle as f64);
    }
}
