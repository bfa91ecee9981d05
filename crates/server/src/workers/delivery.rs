//! The webhook delivery worker. Runs on every replica.
//!
//! Each loop claims due deliveries from the database (see
//! `stableport_core::deliveries::claim`: a lease and a claim
//! token per row, rate-limit slots per webhook, `FOR UPDATE SKIP LOCKED` on
//! PostgreSQL), sends each one at its slot, and hands the outcome to a
//! recorder that writes many outcomes per transaction. A 2xx is delivered;
//! anything else, or no answer within the timeout, is retried with
//! exponential backoff and jitter (about `first_delay`, then twice as long
//! each time, capped at an hour) until `max_age` after the first attempt.
//!
//! Guarantees: when nothing fails, a delivery is claimed once and sent once.
//! When a worker dies after claiming (crash, restart, lost database
//! connection), its lease lapses and a worker on any replica sends it again:
//! at least once, never lost. Consumers deduplicate on the event `id`.

use stableport_core::deliveries;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use serde::Serialize;
use stableport_store::{AttemptResult, Claim, ClaimedDelivery, ConsumerAuth, NextStep, Store};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use uuid::Uuid;

use super::{Step, Worker};
use crate::config::Config;
use crate::outbound::{is_public, literal_ip};

pub const SIGNATURE_HEADER: &str = "Stableport-Signature";
pub const ATTEMPT_HEADER: &str = "Stableport-Delivery-Attempt";
/// Claims reach this far ahead into each webhook's rate-limit slots.
const HORIZON: Duration = Duration::from_secs(1);
/// A claim lapses this long after the last of its sends could have timed out.
const LEASE_MARGIN: Duration = Duration::from_secs(5);
/// Deliveries claimed and waiting for their slot, per send in flight. A
/// delivery waiting for its slot holds no send permit, so the claims can
/// reach a webhook's slots ahead of time without idling the senders.
const AHEAD: usize = 4;
/// No single retry waits longer than this.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(3600);
/// Outcomes written per transaction at most.
const RECORD_BATCH: usize = 500;

#[derive(Clone, Debug)]
pub struct Settings {
    pub first_delay: Duration,
    pub max_age: Duration,
    pub timeout: Duration,
    pub poll: Duration,
    pub max_in_flight: usize,
    /// Sandbox mode: loopback and private targets are allowed.
    pub allow_private: bool,
}

impl Settings {
    pub fn from_config(config: &Config) -> Settings {
        Settings {
            first_delay: config.webhook_retry_first_delay,
            max_age: config.webhook_retry_max_age,
            timeout: config.webhook_timeout,
            poll: config.webhook_poll_interval,
            max_in_flight: config.webhook_max_in_flight.max(1),
            allow_private: config.is_sandbox(),
        }
    }
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// The body of every delivery, as Paxos's webhook spec has it.
#[derive(Serialize)]
struct Payload<'a> {
    id: Uuid,
    #[serde(rename = "type")]
    kind: &'a str,
    source: &'static str,
    time: String,
    object: &'static str,
    is_test: bool,
}

pub fn payload(c: &ClaimedDelivery) -> Vec<u8> {
    serde_json::to_vec(&Payload {
        id: c.event_id,
        kind: &c.event_type,
        source: "com.paxos",
        time: crate::time::format(c.event_created_at),
        object: "event",
        is_test: c.is_test,
    })
    .unwrap_or_default()
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    stableport_client::signature::sign(secret, timestamp, body)
}

/// When to try again after `attempt` failed at `now`, or give up: about
/// first_delay · 2^(attempt-1) (±20 % jitter, at most an hour), and never
/// past `retry_from + max_age`.
pub fn next_step(s: &Settings, attempt: i64, retry_from: i64, now: i64) -> NextStep {
    let exponent = u32::try_from(attempt.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let base = micros(s.first_delay)
        .saturating_mul(1i64 << exponent)
        .min(micros(MAX_RETRY_DELAY));
    let jitter_permille = rand::thread_rng().gen_range(800..=1200);
    let delay = base / 1000 * jitter_permille;
    let at = now.saturating_add(delay.max(1));
    if at > retry_from.saturating_add(micros(s.max_age)) {
        NextStep::GiveUp
    } else {
        NextStep::RetryAt(at)
    }
}

/// In production, every address a webhook host resolves to must be public,
/// checked when it is connected to (not only when it was registered).
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
                return Err(format!(
                    "{host} resolves to {}, which is not a public address",
                    bad.ip()
                )
                .into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

pub fn http_client(s: &Settings) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .timeout(s.timeout)
        .connect_timeout(s.timeout.min(Duration::from_secs(10)))
        // A redirect could lead anywhere, including inward.
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("Stableport-Webhooks/", env!("CARGO_PKG_VERSION")));
    if !s.allow_private {
        builder = builder.dns_resolver(Arc::new(PublicOnly));
    }
    builder.build()
}

/// Sends deliveries; caches consumer OAuth tokens per webhook.
struct Sender {
    http: reqwest::Client,
    settings: Settings,
    tokens: Mutex<HashMap<Uuid, (String, Instant)>>,
}

/// The error of a failed request, with its causes.
fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("timed out after {} ms", timeout.as_millis());
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl Sender {
    fn check_literal(&self, url: &reqwest::Url) -> Result<(), String> {
        if self.settings.allow_private {
            return Ok(());
        }
        match url.host_str().and_then(literal_ip) {
            Some(ip) if !is_public(ip) => Err(format!(
                "refused: {ip} is not a public address (production mode)"
            )),
            _ => Ok(()),
        }
    }

    async fn oauth_token(&self, webhook: Uuid, auth: &ConsumerAuth) -> Result<String, String> {
        let ConsumerAuth::OAuth {
            token_url,
            client_id,
            client_secret,
            scope,
        } = auth
        else {
            return Err("not an OAuth webhook".into());
        };
        if let Ok(tokens) = self.tokens.lock() {
            if let Some((token, until)) = tokens.get(&webhook) {
                if *until > Instant::now() {
                    return Ok(token.clone());
                }
            }
        }
        let url = reqwest::Url::parse(token_url).map_err(|e| format!("OAuth token URL: {e}"))?;
        self.check_literal(&url)?;
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("client_secret", client_secret.as_str()),
        ];
        if let Some(scope) = scope {
            form.push(("scope", scope.as_str()));
        }
        let response = self.http.post(url).form(&form).send().await.map_err(|e| {
            format!(
                "OAuth token request: {}",
                describe(&e, self.settings.timeout)
            )
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("OAuth token request: token URL answered {status}"));
        }
        let body: serde_json::Value = response
            .json()
            .await
            .map_err(|e| format!("OAuth token response is not JSON: {e}"))?;
        let token = body["access_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or("OAuth token response has no access_token")?
            .to_string();
        let lifetime = body["expires_in"].as_u64().unwrap_or(3600);
        let until = Instant::now() + Duration::from_secs(lifetime.saturating_sub(30));
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.insert(webhook, (token.clone(), until));
        }
        Ok(token)
    }

    /// One attempt: the status code, or why there was none.
    async fn send(&self, c: &ClaimedDelivery) -> Result<(u16, Option<String>), String> {
        let url = reqwest::Url::parse(&c.webhook.url).map_err(|e| format!("bad URL: {e}"))?;
        self.check_literal(&url)?;
        let body = payload(c);
        let timestamp = chrono::Utc::now().timestamp();
        let mut request = self
            .http
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, sign(&c.webhook.secret, timestamp, &body))
            .header(ATTEMPT_HEADER, c.attempt.to_string());
        match &c.webhook.auth {
            ConsumerAuth::None => {}
            ConsumerAuth::ApiKey { header_name, value } => {
                let name = HeaderName::from_bytes(header_name.as_bytes())
                    .map_err(|e| format!("API key header name: {e}"))?;
                let value =
                    HeaderValue::from_str(value).map_err(|e| format!("API key value: {e}"))?;
                request = request.header(name, value);
            }
            auth @ ConsumerAuth::OAuth { .. } => {
                let token = self.oauth_token(c.webhook.id, auth).await?;
                request = request.header(AUTHORIZATION, format!("Bearer {token}"));
            }
        }
        let mut response = request
            .body(body)
            .send()
            .await
            .map_err(|e| describe(&e, self.settings.timeout))?;
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            // The token may have been revoked: fetch a new one next time.
            if let Ok(mut tokens) = self.tokens.lock() {
                tokens.remove(&c.webhook.id);
            }
        }
        if status.is_success() {
            return Ok((status.as_u16(), None));
        }
        let mut snippet = String::new();
        if let Ok(Some(chunk)) = response.chunk().await {
            snippet = String::from_utf8_lossy(&chunk).chars().take(200).collect();
        }
        Ok((
            status.as_u16(),
            Some(format!("consumer answered {status}: {}", snippet.trim())),
        ))
    }

    /// Waits for the delivery's slot, then for a send permit, and sends.
    async fn deliver(&self, c: ClaimedDelivery, sending: &Semaphore) -> AttemptResult {
        let wait = c.send_at - crate::time::now();
        if wait > 0 {
            tokio::time::sleep(Duration::from_micros(wait.unsigned_abs())).await;
        }
        let permit = sending.acquire().await;
        let at = crate::time::now();
        let started = Instant::now();
        let outcome = self.send(&c).await;
        drop(permit);
        let latency = micros(started.elapsed());
        let (status_code, error) = match outcome {
            Ok((code, error)) => (Some(i64::from(code)), error),
            Err(error) => (None, Some(error)),
        };
        let next = if error.is_none() {
            NextStep::Delivered
        } else {
            next_step(&self.settings, c.attempt, c.retry_from, at + latency)
        };
        if let Some(error) = &error {
            tracing::info!(webhook = %c.webhook.id, event = %c.event_id, attempt = c.attempt, %error, ?next, "webhook delivery failed");
        }
        let outcome = match next {
            NextStep::Delivered => "delivered",
            NextStep::RetryAt(_) => "retry",
            NextStep::GiveUp => "gave_up",
        };
        metrics::counter!("stableport_webhook_attempts_total", "outcome" => outcome).increment(1);
        metrics::histogram!("stableport_webhook_attempt_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        AttemptResult {
            webhook_id: c.webhook.id,
            event_id: c.event_id,
            customer_id: c.webhook.customer_id,
            token: c.token,
            attempt: c.attempt,
            at,
            status_code,
            latency_micros: latency,
            error,
            next,
        }
    }
}

/// Writes outcomes, many per transaction. A failed write is retried; if the
/// process dies first, the leases lapse and the deliveries are sent again.
async fn record(store: Arc<dyn Store>, mut results: mpsc::UnboundedReceiver<AttemptResult>) {
    while let Some(first) = results.recv().await {
        let mut batch = vec![first];
        while batch.len() < RECORD_BATCH {
            match results.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let mut wait = Duration::from_millis(100);
        while let Err(e) = store.record_attempts(&batch).await {
            tracing::error!(%e, "cannot record webhook attempts; will retry");
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }
}

/// Claims due deliveries in batches (at most `AHEAD` x `max_in_flight`
/// unfinished) and sends each on its own task at its slot, at most
/// `max_in_flight` sends at once; outcomes are written back in batches by one
/// recording task. Every task lives in one JoinSet, so dropping the worker
/// stops all of them at once; a claim cut short lapses with its lease and
/// the delivery is sent again.
pub struct Delivery {
    store: Arc<dyn Store>,
    sender: Arc<Sender>,
    results: mpsc::UnboundedSender<AttemptResult>,
    tasks: JoinSet<()>,
    /// Claimed and not yet finished: what a claim may take is what is free here.
    claimed: Arc<Semaphore>,
    /// Sends in flight (`max_in_flight`).
    sending: Arc<Semaphore>,
    lease: i64,
    /// Claims come in batches: each is a write transaction (an fsync), so a
    /// worker with nearly every slot busy waits a little for more to free up
    /// rather than claiming one delivery at a time.
    batch: u32,
    poll: Duration,
}

impl Delivery {
    pub fn new(store: Arc<dyn Store>, config: &Config) -> Result<Delivery, String> {
        let settings = Settings::from_config(config);
        let http = http_client(&settings).map_err(|e| e.to_string())?;
        let (results, receiver) = mpsc::unbounded_channel();
        let mut tasks = JoinSet::new();
        tasks.spawn(record(store.clone(), receiver));
        let ahead = settings.max_in_flight.saturating_mul(AHEAD);
        Ok(Delivery {
            store,
            claimed: Arc::new(Semaphore::new(ahead)),
            sending: Arc::new(Semaphore::new(settings.max_in_flight)),
            // The last of a claim may wait for AHEAD - 1 rounds of sends
            // that each run into the timeout before its own.
            lease: micros(
                (settings.timeout.saturating_mul(AHEAD as u32)).saturating_add(LEASE_MARGIN),
            ),
            batch: u32::try_from((ahead / 4).max(1)).unwrap_or(1),
            poll: settings.poll,
            sender: Arc::new(Sender {
                http,
                settings,
                tokens: Mutex::new(HashMap::new()),
            }),
            results,
            tasks,
        })
    }

    /// Waits (at most one poll interval) until a batch's worth of
    /// deliveries may be claimed; how many may be.
    async fn claimable(&mut self) -> usize {
        if self.claimed.available_permits() < self.batch as usize {
            if let Ok(Ok(permits)) =
                tokio::time::timeout(self.poll, self.claimed.acquire_many(self.batch)).await
            {
                drop(permits);
            }
        }
        self.claimed.available_permits()
    }
}

#[async_trait::async_trait]
impl Worker for Delivery {
    fn name(&self) -> &'static str {
        "webhook delivery"
    }

    async fn step(&mut self) -> Step {
        while self.tasks.try_join_next().is_some() {}
        let free = self.claimable().await;
        if free == 0 {
            return Step::Busy;
        }
        let claim = Claim {
            now: crate::time::now(),
            limit: i64::try_from(free).unwrap_or(i64::MAX),
            horizon: micros(HORIZON),
            lease: self.lease,
        };
        let claimed = match deliveries::claim(self.store.as_ref(), &claim).await {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::error!(%e, "cannot claim webhook deliveries; will retry");
                return Step::Idle;
            }
        };
        let full = claimed.len() >= free;
        for delivery in claimed {
            let Ok(permit) = self.claimed.clone().acquire_owned().await else {
                return Step::Idle;
            };
            let sender = self.sender.clone();
            let sending = self.sending.clone();
            let results = self.results.clone();
            self.tasks.spawn(async move {
                let outcome = sender.deliver(delivery, &sending).await;
                drop(permit);
                results.send(outcome).ok();
            });
        }
        if full {
            Step::Busy
        } else {
            Step::Idle
        }
    }

    fn idle(&self) -> Duration {
        self.poll
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            first_delay: Duration::from_secs(5),
            max_age: Duration::from_secs(24 * 3600),
            timeout: Duration::from_secs(10),
            poll: Duration::from_millis(50),
            max_in_flight: 8,
            allow_private: false,
        }
    }

    #[test]
    fn backs_off_exponentially_with_jitter_until_max_age() {
        let s = settings();
        let second = 1_000_000;
        for (attempt, base) in [(1, 5), (2, 10), (3, 20), (4, 40), (12, 3600)] {
            let NextStep::RetryAt(at) = next_step(&s, attempt, 0, 0) else {
                panic!("attempt {attempt} should be retried");
            };
            assert!(
                at >= base * second * 8 / 10 && at <= base * second * 12 / 10,
                "attempt {attempt}: {at}"
            );
        }
        let day = 24 * 3600 * second;
        assert_eq!(next_step(&s, 30, 0, day - second), NextStep::GiveUp);
        assert!(matches!(
            next_step(&s, 1, 0, day - 10 * second),
            NextStep::RetryAt(_)
        ));
    }

    #[tokio::test]
    async fn production_resolver_refuses_inward_names() {
        use reqwest::dns::Resolve;
        use std::str::FromStr;
        let name = reqwest::dns::Name::from_str("localhost").unwrap();
        let refused = match PublicOnly.resolve(name).await {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        };
        assert!(refused.contains("not a public address"), "{refused}");
    }

    #[test]
    fn signatures_verify() {
        let header = sign("whsec_x", 1_700_000_000, b"{}");
        assert_eq!(
            stableport_client::signature::verify("whsec_x", &header, b"{}", 1_700_000_001, 300),
            Ok(())
        );
    }
}
