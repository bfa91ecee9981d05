//! `stableport webhooks …` and `stableport listen`: webhooks managed over
//! the API of a running server, as any client would.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Router;
use clap::{Args, Subcommand};
use serde::Serialize;
use serde_json::Value;
use stableport_client::{
    signature, ApiKeyAuth, Client, ConsumerAuth, CreateWebhook, OAuthAuth, Webhook,
};
use stableport_store::EVENT_TYPES;

/// Where the server is and who we are to it.
#[derive(Args, Clone)]
pub struct Remote {
    /// The server's root URL.
    #[arg(
        long = "server",
        env = "STABLEPORT_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub server: String,
    /// OAuth2 client id of a credential with the scopes the command needs.
    #[arg(long, env = "STABLEPORT_CLIENT_ID", global = true)]
    pub client_id: Option<String>,
    #[arg(
        long,
        env = "STABLEPORT_CLIENT_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub client_secret: Option<String>,
}

impl Remote {
    pub(crate) async fn login(&self) -> anyhow::Result<Client> {
        let (Some(id), Some(secret)) = (&self.client_id, &self.client_secret) else {
            anyhow::bail!(
                "--client-id and --client-secret (or STABLEPORT_CLIENT_ID and STABLEPORT_CLIENT_SECRET) are required"
            );
        };
        Client::new(&self.server)
            .login(id, secret, None)
            .await
            .map_err(|e| anyhow::anyhow!("cannot log in to {}: {e}", self.server))
    }
}

#[derive(Subcommand)]
pub enum WebhooksCommand {
    /// Register a webhook; prints it with its signing secret (shown only now).
    Create {
        #[arg(long)]
        name: String,
        /// The http(s) endpoint events are POSTed to.
        #[arg(long)]
        url: String,
        /// Comma-separated event types, or "all".
        #[arg(long)]
        events: String,
        /// Requests per second, 1 to 100.
        #[arg(long, default_value_t = 10)]
        rate_limit: u32,
        /// Send this header with every delivery (API-key auth) …
        #[arg(long, requires = "api_key_value")]
        api_key_header: Option<String>,
        /// … with this value.
        #[arg(long, requires = "api_key_header")]
        api_key_value: Option<String>,
        /// OAuth2 client credentials auth: the consumer's token URL.
        #[arg(long, requires_all = ["oauth_client_id", "oauth_client_secret"], conflicts_with = "api_key_header")]
        oauth_token_url: Option<String>,
        #[arg(long, requires = "oauth_token_url")]
        oauth_client_id: Option<String>,
        #[arg(long, requires = "oauth_token_url")]
        oauth_client_secret: Option<String>,
        #[arg(long, requires = "oauth_token_url")]
        oauth_scope: Option<String>,
    },
    /// List webhooks (active ones unless --all).
    List {
        #[arg(long)]
        all: bool,
    },
    /// Show one webhook.
    Get { id: String },
    /// Delete a webhook: no more deliveries to it.
    Delete { id: String },
    /// Send a test event (is_test: true) to a webhook.
    Test {
        id: String,
        /// The event type; by default the webhook's first.
        #[arg(long = "type")]
        kind: Option<String>,
    },
    /// List a webhook's deliveries.
    Deliveries {
        id: String,
        /// PENDING, DELIVERED, FAILED or CANCELLED.
        #[arg(long)]
        status: Option<String>,
    },
    /// List a webhook's delivery attempts (status code, latency, error).
    Attempts {
        id: String,
        #[arg(long)]
        event_id: Option<String>,
    },
    /// Send an event to a webhook (again).
    Redeliver { id: String, event_id: String },
}

fn print_json(value: &impl Serialize) -> anyhow::Result<ExitCode> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(ExitCode::SUCCESS)
}

fn event_types(text: &str) -> Vec<String> {
    if text.trim() == "all" {
        return EVENT_TYPES.iter().map(|t| t.to_string()).collect();
    }
    text.split([',', ' '])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

pub async fn webhooks(remote: &Remote, command: WebhooksCommand) -> anyhow::Result<ExitCode> {
    let client = remote.login().await?;
    match command {
        WebhooksCommand::Create {
            name,
            url,
            events,
            rate_limit,
            api_key_header,
            api_key_value,
            oauth_token_url,
            oauth_client_id,
            oauth_client_secret,
            oauth_scope,
        } => {
            let consumer_auth = match (api_key_header, oauth_token_url) {
                (Some(header_name), _) => Some(ConsumerAuth {
                    api_key: Some(ApiKeyAuth {
                        header_name,
                        value: api_key_value,
                    }),
                    oauth: None,
                }),
                (None, Some(token_url)) => Some(ConsumerAuth {
                    api_key: None,
                    oauth: Some(OAuthAuth {
                        token_url,
                        client_id: oauth_client_id.unwrap_or_default(),
                        client_secret: oauth_client_secret,
                        scope: oauth_scope,
                    }),
                }),
                (None, None) => None,
            };
            let created = client
                .create_webhook(&CreateWebhook {
                    name,
                    url,
                    event_types: event_types(&events),
                    rate_limit: Some(rate_limit),
                    consumer_auth,
                })
                .await?;
            print_json(&created)
        }
        WebhooksCommand::List { all } => {
            let mut query = Vec::new();
            if all {
                query.push(("status", "ACTIVE".to_string()));
                query.push(("status", "DELETED".to_string()));
            }
            print_json(&client.webhooks(&query).await?.items)
        }
        WebhooksCommand::Get { id } => print_json(&client.webhook(&id).await?),
        WebhooksCommand::Delete { id } => print_json(&client.delete_webhook(&id).await?),
        WebhooksCommand::Test { id, kind } => {
            print_json(&client.test_webhook(&id, kind.as_deref()).await?)
        }
        WebhooksCommand::Deliveries { id, status } => {
            let query: Vec<(&str, String)> = status.into_iter().map(|s| ("status", s)).collect();
            print_json(&client.webhook_deliveries(&id, &query).await?.items)
        }
        WebhooksCommand::Attempts { id, event_id } => {
            let query: Vec<(&str, String)> =
                event_id.into_iter().map(|e| ("event_id", e)).collect();
            print_json(&client.webhook_attempts(&id, &query).await?.items)
        }
        WebhooksCommand::Redeliver { id, event_id } => {
            print_json(&client.redeliver(&id, &event_id).await?)
        }
    }
}

#[derive(Args)]
pub struct ListenArgs {
    #[command(flatten)]
    pub remote: Remote,
    /// Where to forward each delivery, e.g. http://localhost:3000/webhooks.
    #[arg(long)]
    pub forward_to: String,
    /// Comma-separated event types to subscribe to, or "all".
    #[arg(long, default_value = "all")]
    pub events: String,
    /// Local address deliveries arrive at (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// The URL the server should POST to, when it cannot reach --listen
    /// directly (a tunnel, another host). Production servers only deliver
    /// to public addresses.
    #[arg(long)]
    pub public_url: Option<String>,
}

struct Forwarder {
    http: reqwest::Client,
    forward_to: String,
    secret: String,
}

/// Verifies, forwards and prints one delivery; answers with the forward
/// target's status, so its failures are retried like any consumer's.
async fn forward(
    State(f): State<Arc<Forwarder>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let signature_header = header(signature::HEADER).unwrap_or_default();
    let verified = signature::verify(
        &f.secret,
        &signature_header,
        &body,
        chrono::Utc::now().timestamp(),
        300,
    );
    let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut request = f
        .http
        .post(&f.forward_to)
        .header("content-type", "application/json")
        .header(signature::HEADER, &signature_header)
        .body(body.clone());
    if let Some(attempt) = header("stableport-delivery-attempt") {
        request = request.header("Stableport-Delivery-Attempt", attempt);
    }
    let started = std::time::Instant::now();
    let (status, outcome) = match request.send().await {
        Ok(response) => {
            let status =
                StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            (status, status.as_u16().to_string())
        }
        Err(e) => (StatusCode::BAD_GATEWAY, format!("forward failed: {e}")),
    };
    println!(
        "{}  {:<38} {}  -> {} ({} ms){}{}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M:%S"),
        event["type"].as_str().unwrap_or("?"),
        event["id"].as_str().unwrap_or("?"),
        outcome,
        started.elapsed().as_millis(),
        if event["is_test"] == Value::Bool(true) {
            "  [test]"
        } else {
            ""
        },
        match verified {
            Ok(()) => String::new(),
            Err(e) => format!("  [signature: {e}]"),
        }
    );
    (status, String::new())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    tokio::signal::ctrl_c().await.ok();
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await.ok();
}

pub async fn listen(args: ListenArgs) -> anyhow::Result<ExitCode> {
    let forward_to = reqwest::Url::parse(&args.forward_to)
        .map_err(|e| anyhow::anyhow!("--forward-to {:?} is not a URL: {e}", args.forward_to))?;
    anyhow::ensure!(
        matches!(forward_to.scheme(), "http" | "https"),
        "--forward-to must be an http:// or https:// URL"
    );
    let client = args.remote.login().await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.listen))?;
    let local = listener.local_addr()?;
    let url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{local}/"));
    let name = format!(
        "stableport-listen-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let webhook: Webhook = client
        .create_webhook(&CreateWebhook {
            name,
            url: url.clone(),
            event_types: event_types(&args.events),
            rate_limit: Some(100),
            consumer_auth: None,
        })
        .await
        .map_err(|e| anyhow::anyhow!("cannot register a webhook for {url}: {e}"))?;
    let forwarder = Arc::new(Forwarder {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?,
        forward_to: forward_to.to_string(),
        secret: webhook.secret.clone().unwrap_or_default(),
    });
    println!(
        "Ready! Forwarding {} event types to {} (webhook {} at {url})",
        webhook.event_types.len(),
        forward_to,
        webhook.id
    );
    println!(
        "Signing secret: {} (header {})",
        forwarder.secret,
        signature::HEADER
    );
    let app = Router::new()
        .fallback(axum::routing::post(forward))
        .with_state(forwarder);
    let served = axum::serve(listener, app).with_graceful_shutdown(shutdown_signal());
    let result = served.await;
    // Whatever ended it, the temporary webhook goes.
    let deleted = client.delete_webhook(&webhook.id).await;
    match (&result, &deleted) {
        (Ok(()), Ok(_)) => {
            println!("Stopped; webhook {} deleted", webhook.id);
            Ok(ExitCode::SUCCESS)
        }
        _ => {
            if let Err(e) = deleted {
                eprintln!("error: cannot delete webhook {}: {e}", webhook.id);
            }
            result?;
            Ok(ExitCode::FAILURE)
        }
    }
}
