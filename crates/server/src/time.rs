//! RFC 3339 timestamps on the wire, microseconds since the epoch inside.

use chrono::{DateTime, SecondsFormat, Utc};

pub fn now() -> i64 {
    Utc::now().timestamp_micros()
}

pub fn format(micros: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub fn parse(text: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_micros())
}
