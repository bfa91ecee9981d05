//! How a server is configured: from the command line or, in tests, in code.

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Environment {
    /// /v2/sandbox routes exist; generated credentials are printed.
    Sandbox,
    /// No /v2/sandbox routes; generated secrets are never printed.
    Production,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settlement {
    /// The settler settles each conversion this long after its creation.
    After(Duration),
    /// Conversions stay CREATED until POST /v2/sandbox/conversion/stablecoins/{id}/settle.
    Manual,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub listen: String,
    pub database_url: String,
    pub environment: Environment,
    pub settlement: Settlement,
    /// A fixed bootstrap credential instead of a generated one.
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub max_body_bytes: usize,
    /// How long a new fiat account stays PENDING before it is APPROVED.
    pub fiat_account_approval_delay: Duration,
    /// Webhook delivery: the first retry waits about this long (with
    /// jitter), each later one twice as long as the one before.
    pub webhook_retry_first_delay: Duration,
    /// No retry is scheduled this long after a delivery's first attempt.
    pub webhook_retry_max_age: Duration,
    /// A consumer that has not answered by then has failed the attempt.
    pub webhook_timeout: Duration,
    /// How often an idle delivery worker looks for due deliveries.
    pub webhook_poll_interval: Duration,
    /// Deliveries one replica sends at once.
    pub webhook_max_in_flight: usize,
    /// Requests per second per credential and route; None: no limit.
    pub rate_limit: Option<u32>,
}

impl Config {
    pub fn new(database_url: impl Into<String>) -> Config {
        Config {
            listen: "127.0.0.1:8080".into(),
            database_url: database_url.into(),
            environment: Environment::Sandbox,
            settlement: Settlement::After(Duration::from_secs(1)),
            client_id: None,
            client_secret: None,
            max_body_bytes: 64 * 1024,
            fiat_account_approval_delay: Duration::ZERO,
            webhook_retry_first_delay: Duration::from_secs(5),
            webhook_retry_max_age: Duration::from_secs(24 * 3600),
            webhook_timeout: Duration::from_secs(10),
            webhook_poll_interval: Duration::from_millis(50),
            rate_limit: None,
            webhook_max_in_flight: 256,
        }
    }

    pub fn is_sandbox(&self) -> bool {
        self.environment == Environment::Sandbox
    }
}

/// Parses durations such as `0s`, `250ms`, `1s`, `2m`, `1h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?}: expected e.g. 0s, 250ms, 1s, 2m"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" | "" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n.saturating_mul(60))),
        "h" => Ok(Duration::from_secs(n.saturating_mul(3600))),
        _ => Err(format!(
            "invalid duration unit in {text:?}: use ms, s, m or h"
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
        assert!(parse_duration("3d").is_err());
    }
}
