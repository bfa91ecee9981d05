//! How a server is configured: flags, environment and an optional config
//! file, or, in tests, in code; one struct and one set of defaults.

pub use stableport_core::Settlement;
use std::io::IsTerminal;
use std::time::Duration;

/// Where the master key that seals secrets at rest comes from: the
/// environment (or the flag, which `ps` would show), or a file.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct KeySource {
    /// The master key, 64 hex digits (`openssl rand -hex 32`); prefer the
    /// environment variable or --master-key-file.
    #[arg(
        id = "master_key",
        long = "master-key",
        env = "STABLEPORT_MASTER_KEY",
        hide_env_values = true
    )]
    pub key: Option<String>,
    /// A file holding the master key.
    #[arg(
        id = "master_key_file",
        long = "master-key-file",
        env = "STABLEPORT_MASTER_KEY_FILE",
        conflicts_with = "master_key"
    )]
    pub file: Option<std::path::PathBuf>,
}

impl KeySource {
    /// The key given, if any; an unreadable file or a malformed key is an error.
    pub fn load(&self) -> anyhow::Result<Option<stableport_store::MasterKey>> {
        let text = match (&self.key, &self.file) {
            (Some(key), _) => key.clone(),
            (None, Some(path)) => std::fs::read_to_string(path).map_err(|e| {
                anyhow::anyhow!("cannot read the master key file {}: {e}", path.display())
            })?,
            (None, None) => return Ok(None),
        };
        stableport_store::MasterKey::parse(&text)
            .map(Some)
            .map_err(|e| anyhow::anyhow!(e))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    /// One JSON object per line (request lines carry request_id, method,
    /// route, status, latency_ms and customer_id).
    Json,
}

/// Logs to stderr in `format`, filtered by RUST_LOG (default: info, with
/// sqlx's statements left out), colored only on a terminal. Once per process.
///
/// Each line is written before its request is answered, so an answered
/// request is logged even if the process is killed right after. A logging
/// thread would save a read about a twentieth of its cost, and lose the
/// lines still queued at a crash.
pub fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => logs.try_init(),
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
    };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Environment {
    /// /v2/sandbox routes exist; generated credentials are printed.
    Sandbox,
    /// No /v2/sandbox routes; generated secrets are never printed.
    Production,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SettlementMode {
    /// The settler settles after `--settlement-delay`.
    Auto,
    /// Only POST /v2/sandbox/.../settle (or .../release) does.
    Manual,
}

/// Everything a server is configured by, with its one set of defaults: the
/// `stableport serve` flags, each also an environment variable and a key of
/// the optional `--config` file (flags win over the environment, the
/// environment over the file, the file over the defaults). Tests start from
/// [`Config::new`], the same defaults, and change fields.
#[derive(Clone, Debug, clap::Args)]
pub struct Config {
    /// sqlite://PATH (the default, created if missing) or postgres://USER@HOST/DB.
    #[arg(
        long,
        env = "STABLEPORT_DATABASE_URL",
        default_value = "sqlite://stableport.db"
    )]
    pub database_url: String,
    #[arg(long, env = "STABLEPORT_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    #[arg(
        long,
        env = "STABLEPORT_ENVIRONMENT",
        value_enum,
        default_value = "sandbox"
    )]
    pub environment: Environment,
    /// auto: the settler settles after --settlement-delay; manual: only POST /v2/sandbox/.../settle does.
    #[arg(
        long = "settlement",
        env = "STABLEPORT_SETTLEMENT",
        value_enum,
        default_value = "auto"
    )]
    pub settlement_mode: SettlementMode,
    /// How long a conversion stays CREATED before the settler settles it (0s, 250ms, 1s, 2m).
    #[arg(long, env = "STABLEPORT_SETTLEMENT_DELAY", default_value = "1s", value_parser = parse_duration)]
    pub settlement_delay: Duration,
    /// The flat fee of a crypto withdrawal, in the asset sent (e.g. 0.50); 0 is free.
    #[arg(long, env = "STABLEPORT_CRYPTO_WITHDRAWAL_FEE", default_value = "0", value_parser = parse_fee)]
    pub crypto_withdrawal_fee: FeeAmount,
    /// How long a guaranteed crypto withdrawal fee (its fee_id) holds.
    #[arg(long, env = "STABLEPORT_FEE_QUOTE_TTL", default_value = "60s", value_parser = parse_duration)]
    pub fee_quote_ttl: Duration,
    /// Fix the bootstrap credential's client id instead of generating one.
    #[arg(long, env = "STABLEPORT_CLIENT_ID")]
    pub client_id: Option<String>,
    #[arg(long, env = "STABLEPORT_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "STABLEPORT_MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,
    /// How long a new fiat account stays PENDING before it is APPROVED (sandbox).
    #[arg(long, env = "STABLEPORT_FIAT_ACCOUNT_APPROVAL_DELAY", default_value = "0s", value_parser = parse_duration)]
    pub fiat_account_approval_delay: Duration,
    /// Webhooks: the first retry after about this long; each later one waits twice as long (at most 1h).
    #[arg(long, env = "STABLEPORT_WEBHOOK_RETRY_FIRST_DELAY", default_value = "5s", value_parser = parse_duration)]
    pub webhook_retry_first_delay: Duration,
    /// Webhooks: no retry this long after a delivery's first attempt.
    #[arg(long, env = "STABLEPORT_WEBHOOK_RETRY_MAX_AGE", default_value = "24h", value_parser = parse_duration)]
    pub webhook_retry_max_age: Duration,
    /// Webhooks: a consumer must answer within this long.
    #[arg(long, env = "STABLEPORT_WEBHOOK_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub webhook_timeout: Duration,
    /// Webhooks: how often an idle delivery worker looks for due deliveries.
    #[arg(long, env = "STABLEPORT_WEBHOOK_POLL_INTERVAL", default_value = "50ms", value_parser = parse_duration)]
    pub webhook_poll_interval: Duration,
    /// Webhooks: deliveries in flight at once, per replica (1 to 65536; a
    /// worker claims up to four times as many ahead of their send slots).
    #[arg(long, env = "STABLEPORT_WEBHOOK_MAX_IN_FLIGHT", default_value_t = 256,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=65536))]
    pub webhook_max_in_flight: usize,
    #[command(flatten)]
    pub master_key: KeySource,
    /// Serve Prometheus metrics at GET /metrics on this address (e.g.
    /// 127.0.0.1:9090), without a token: keep it off the public network.
    /// Off by default.
    #[arg(long, env = "STABLEPORT_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
    /// Logs on stderr as text, or as one JSON object per line.
    #[arg(
        long,
        env = "STABLEPORT_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,
    /// Events older than this are deleted (never one with a delivery still
    /// pending); 0s keeps them forever. Units: s, m, h, d.
    #[arg(long, env = "STABLEPORT_RETAIN_EVENTS", default_value = "90d", value_parser = parse_duration)]
    pub retain_events: Duration,
    /// Finished webhook deliveries older than this are deleted (at the
    /// latest with their event); 0s keeps them forever.
    #[arg(long, env = "STABLEPORT_RETAIN_DELIVERIES", default_value = "30d", value_parser = parse_duration)]
    pub retain_deliveries: Duration,
    /// Delivery attempts older than this are deleted (never those of a
    /// pending delivery); 0s keeps them forever.
    #[arg(long, env = "STABLEPORT_RETAIN_ATTEMPTS", default_value = "30d", value_parser = parse_duration)]
    pub retain_attempts: Duration,
    /// How often balance totals and volume are sampled for the dashboard's
    /// charts (which show them as of the last sample); 0s: never.
    #[arg(long, env = "STABLEPORT_SAMPLE_EVERY", default_value = "10m", value_parser = parse_duration)]
    pub sample_every: Duration,
    /// Requests per second allowed per credential and route (429 beyond,
    /// with Retry-After); 0: no limit. Default: off in sandbox mode, 50 in
    /// production (Paxos documents a few tens per endpoint).
    #[arg(long, env = "STABLEPORT_RATE_LIMIT")]
    pub rate_limit: Option<u32>,
}

/// The production rate limit when none is configured.
const PRODUCTION_RATE_LIMIT: u32 = 50;

impl Config {
    /// The defaults, as `stableport serve` with no flags has them (the
    /// environment is not read), on `database_url`.
    pub fn new(database_url: impl Into<String>) -> Config {
        let command = <Config as clap::Args>::augment_args(clap::Command::new("defaults"))
            .mut_args(|arg| arg.env(None::<&str>));
        let matches = command.get_matches_from(["defaults"]);
        let mut config = <Config as clap::FromArgMatches>::from_arg_matches(&matches)
            .expect("the defaults parse");
        config.database_url = database_url.into();
        config
    }

    pub fn is_sandbox(&self) -> bool {
        self.environment == Environment::Sandbox
    }

    pub fn settlement(&self) -> Settlement {
        match self.settlement_mode {
            SettlementMode::Auto => Settlement::After(self.settlement_delay),
            SettlementMode::Manual => Settlement::Manual,
        }
    }

    /// How long events, deliveries and attempts are kept (0s: forever).
    pub fn retention(&self) -> crate::workers::pruner::Retention {
        let keep = |d: Duration| Some(d).filter(|d| !d.is_zero());
        crate::workers::pruner::Retention {
            events: keep(self.retain_events),
            deliveries: keep(self.retain_deliveries),
            attempts: keep(self.retain_attempts),
        }
    }

    /// Requests per second per credential and route, or None for no limit.
    pub fn rate_limit(&self) -> Option<u32> {
        match (self.rate_limit, self.environment) {
            (Some(0), _) | (None, Environment::Sandbox) => None,
            (Some(rate), _) => Some(rate),
            (None, Environment::Production) => Some(PRODUCTION_RATE_LIMIT),
        }
    }
}

/// Adds the values of a TOML config file (`key = "value"`, keys named as
/// the flags, with `-` or `_`) to `args` for every flag neither `args` nor
/// the environment sets, so the file ranks below both.
pub fn with_file_values(
    command: &clap::Command,
    args: Vec<String>,
    file_text: &str,
    file_name: &str,
) -> Result<Vec<String>, String> {
    let table: toml::Table =
        toml::from_str(file_text).map_err(|e| format!("config file {file_name}: {e}"))?;
    let matches = command
        .clone()
        .ignore_errors(true)
        .get_matches_from(args.iter());
    let known: Vec<String> = command
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_string))
        .collect();
    let mut out = args;
    for (key, value) in table {
        let flag = key.replace('_', "-");
        let Some(arg) = command
            .get_arguments()
            .find(|a| a.get_long() == Some(&flag))
        else {
            return Err(format!(
                "config file {file_name}: unknown key {key:?}; known: {}",
                known.join(", ")
            ));
        };
        let from_default = matches!(
            matches.value_source(arg.get_id().as_str()),
            None | Some(clap::parser::ValueSource::DefaultValue)
        );
        if !from_default {
            continue;
        }
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => {
                return Err(format!(
                    "config file {file_name}: {key} must be a string or a number, got a {}",
                    other.type_str()
                ))
            }
        };
        out.push(format!("--{flag}={text}"));
    }
    Ok(out)
}

/// Parses durations such as `0s`, `250ms`, `1s`, `2m`, `1h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?}: expected e.g. 0s, 250ms, 1s, 2m, 90d"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" | "" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n.saturating_mul(60))),
        "h" => Ok(Duration::from_secs(n.saturating_mul(3600))),
        "d" => Ok(Duration::from_secs(n.saturating_mul(86_400))),
        _ => Err(format!(
            "invalid duration unit in {text:?}: use ms, s, m, h or d"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("1.5s").is_err());
        assert!(parse_duration("s").is_err());
        assert_eq!(parse_duration("90d"), Ok(Duration::from_secs(90 * 86_400)));
        assert!(parse_duration("3w").is_err());
    }
}

/// A fee; None is free.
#[derive(Clone, Copy, Debug)]
pub struct FeeAmount(pub Option<stableport_domain::Amount>);

/// "0" for none, else an amount of at most 6 decimals (the finest any
/// stablecoin sent takes).
fn parse_fee(text: &str) -> Result<FeeAmount, String> {
    let zero = !text.is_empty() && text.bytes().all(|b| b == b'0' || b == b'.');
    if zero {
        return Ok(FeeAmount(None));
    }
    stableport_domain::Amount::parse(text, 6)
        .map(|a| FeeAmount(Some(a)))
        .map_err(|e| format!("{text:?} {e}"))
}
