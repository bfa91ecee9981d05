//! Events and webhooks.
//!
//! The Events API is Paxos's (`GET /v2/events`, `GET /v2/events/{id}`); the
//! webhook management routes are Stableport's own (Paxos configures
//! webhooks in its dashboard). [`signature`] checks the HMAC-SHA256 signature
//! Stableport puts on every delivery.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::{Client, List, Result};

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub object_type: String,
    pub object: Value,
    pub created_at: String,
    pub undelivered_webhooks: i64,
    #[serde(default)]
    pub is_test: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EventList {
    pub events: Vec<Event>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_cursor: Option<String>,
}

/// Query parameters of List Events.
#[derive(Debug, Clone, Default)]
pub struct ListEvents {
    /// Any of these types; empty means every type.
    pub types: Vec<String>,
    pub created_at_lt: Option<String>,
    pub created_at_lte: Option<String>,
    pub created_at_eq: Option<String>,
    pub created_at_gte: Option<String>,
    pub created_at_gt: Option<String>,
    pub is_test: Option<bool>,
    /// ASC (the default) or DESC.
    pub order: Option<String>,
    pub limit: Option<u32>,
    pub page_cursor: Option<String>,
}

impl ListEvents {
    fn query(&self) -> Vec<(&'static str, String)> {
        let mut query: Vec<(&'static str, String)> =
            self.types.iter().map(|t| ("type", t.clone())).collect();
        for (key, value) in [
            ("created_at.lt", &self.created_at_lt),
            ("created_at.lte", &self.created_at_lte),
            ("created_at.eq", &self.created_at_eq),
            ("created_at.gte", &self.created_at_gte),
            ("created_at.gt", &self.created_at_gt),
            ("order", &self.order),
            ("page_cursor", &self.page_cursor),
        ] {
            if let Some(v) = value {
                query.push((key, v.clone()));
            }
        }
        if let Some(is_test) = self.is_test {
            query.push(("is_test", is_test.to_string()));
        }
        if let Some(limit) = self.limit {
            query.push(("limit", limit.to_string()));
        }
        query
    }
}

/// How the consumer authenticates Stableport's requests: exactly one of the two.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct ConsumerAuth {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<ApiKeyAuth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth: Option<OAuthAuth>,
}

/// A header sent with every delivery. The value is never shown back.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct ApiKeyAuth {
    pub header_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// OAuth2 client credentials at the consumer's token URL. The secret is never shown back.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct OAuthAuth {
    pub token_url: String,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CreateWebhook {
    pub name: String,
    pub url: String,
    pub event_types: Vec<String>,
    /// Requests per second, 1 to 100; 10 when omitted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer_auth: Option<ConsumerAuth>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Webhook {
    pub id: String,
    pub name: String,
    pub url: String,
    pub event_types: Vec<String>,
    pub rate_limit: u32,
    /// ACTIVE or DELETED.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer_auth: Option<ConsumerAuth>,
    /// The signing secret: only in the response that creates the webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
}

/// One event on its way to one webhook.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Delivery {
    pub webhook_id: String,
    pub event_id: String,
    pub event_type: String,
    /// PENDING, DELIVERED, FAILED (retries exhausted) or CANCELLED (webhook deleted).
    pub status: String,
    pub attempts: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status_code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<String>,
}

/// One HTTP request to a webhook.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct DeliveryAttempt {
    pub id: String,
    pub webhook_id: String,
    pub event_id: String,
    pub attempt: i64,
    /// None when no response came (timeout, refused connection, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    pub latency_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub created_at: String,
}

impl Client {
    pub async fn events(&self, query: &ListEvents) -> Result<EventList> {
        self.call(Method::GET, "/events", &query.query(), None::<&Value>)
            .await
    }

    pub async fn event(&self, id: &str) -> Result<Event> {
        self.call(Method::GET, &format!("/events/{id}"), &[], None::<&Value>)
            .await
    }

    /// A test event (sent by [`Client::test_webhook`]).
    pub async fn test_event(&self, id: &str) -> Result<Event> {
        let query = [("is_test", "true".to_string())];
        self.call(
            Method::GET,
            &format!("/events/{id}"),
            &query,
            None::<&Value>,
        )
        .await
    }

    pub async fn create_webhook(&self, request: &CreateWebhook) -> Result<Webhook> {
        self.call(Method::POST, "/webhooks", &[], Some(request))
            .await
    }

    /// `status=ACTIVE|DELETED` (repeatable), `limit`, `order`, `page_cursor`.
    pub async fn webhooks(&self, query: &[(&str, String)]) -> Result<List<Webhook>> {
        self.call(Method::GET, "/webhooks", query, None::<&Value>)
            .await
    }

    pub async fn webhook(&self, id: &str) -> Result<Webhook> {
        self.call(Method::GET, &format!("/webhooks/{id}"), &[], None::<&Value>)
            .await
    }

    pub async fn delete_webhook(&self, id: &str) -> Result<Webhook> {
        self.call(
            Method::DELETE,
            &format!("/webhooks/{id}"),
            &[],
            None::<&Value>,
        )
        .await
    }

    /// Sends a test event (`is_test: true`) to this webhook only. `kind`
    /// defaults to the first type the webhook subscribes to.
    pub async fn test_webhook(&self, id: &str, kind: Option<&str>) -> Result<Event> {
        let body = match kind {
            Some(k) => json!({ "type": k }),
            None => json!({}),
        };
        self.call(
            Method::POST,
            &format!("/webhooks/{id}/test"),
            &[],
            Some(&body),
        )
        .await
    }

    /// `status` (repeatable), `event_id`, `limit`, `order`, `page_cursor`.
    pub async fn webhook_deliveries(
        &self,
        id: &str,
        query: &[(&str, String)],
    ) -> Result<List<Delivery>> {
        self.call(
            Method::GET,
            &format!("/webhooks/{id}/deliveries"),
            query,
            None::<&Value>,
        )
        .await
    }

    /// Sends one of the customer's events to this webhook (again).
    pub async fn redeliver(&self, id: &str, event_id: &str) -> Result<Delivery> {
        self.call(
            Method::POST,
            &format!("/webhooks/{id}/deliveries"),
            &[],
            Some(&json!({ "event_id": event_id })),
        )
        .await
    }

    /// `event_id`, `limit`, `order`, `page_cursor`.
    pub async fn webhook_attempts(
        &self,
        id: &str,
        query: &[(&str, String)],
    ) -> Result<List<DeliveryAttempt>> {
        self.call(
            Method::GET,
            &format!("/webhooks/{id}/attempts"),
            query,
            None::<&Value>,
        )
        .await
    }
}

/// The `Stableport-Signature` header: `t=<unix seconds>,v1=<hex>`, where
/// the hex is HMAC-SHA256, keyed with the webhook's secret (the whole
/// `whsec_…` string, as UTF-8), of `"<t>.<raw request body>"`.
pub mod signature {
    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    pub const HEADER: &str = "Stableport-Signature";

    #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
    pub enum SignatureError {
        #[error("the signature header is malformed")]
        Malformed,
        #[error("the signature does not match the body")]
        Mismatch,
        #[error("the signature is {0} s away from now, beyond the tolerance")]
        Stale(i64),
    }

    /// The header value for `body` signed at `timestamp` (unix seconds).
    pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!(
            "t={timestamp},v1={}",
            hex::encode(mac.finalize().into_bytes())
        )
    }

    /// Checks a header against the raw body, in constant time, and that its
    /// timestamp is within `tolerance_secs` of `now_secs` (replay protection).
    pub fn verify(
        secret: &str,
        header: &str,
        body: &[u8],
        now_secs: i64,
        tolerance_secs: i64,
    ) -> Result<(), SignatureError> {
        let mut timestamp = None;
        let mut signatures = Vec::new();
        for part in header.split(',') {
            match part.trim().split_once('=') {
                Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
                Some(("v1", v)) => {
                    signatures.push(hex::decode(v).map_err(|_| SignatureError::Malformed)?)
                }
                _ => {}
            }
        }
        let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
        if signatures.is_empty() {
            return Err(SignatureError::Malformed);
        }
        let matches = signatures.iter().any(|expected| {
            let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
                .expect("HMAC takes any key length");
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            mac.verify_slice(expected).is_ok()
        });
        if !matches {
            return Err(SignatureError::Mismatch);
        }
        let skew = now_secs - timestamp;
        if skew.abs() > tolerance_secs {
            return Err(SignatureError::Stale(skew));
        }
        Ok(())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn signs_and_verifies() {
            let header = sign("whsec_test", 1_700_000_000, b"{\"id\":\"1\"}");
            assert!(header.starts_with("t=1700000000,v1="));
            assert_eq!(
                verify("whsec_test", &header, b"{\"id\":\"1\"}", 1_700_000_010, 300),
                Ok(())
            );
            assert_eq!(
                verify("whsec_test", &header, b"{\"id\":\"2\"}", 1_700_000_010, 300),
                Err(SignatureError::Mismatch)
            );
            assert_eq!(
                verify(
                    "whsec_other",
                    &header,
                    b"{\"id\":\"1\"}",
                    1_700_000_010,
                    300
                ),
                Err(SignatureError::Mismatch)
            );
            assert_eq!(
                verify("whsec_test", &header, b"{\"id\":\"1\"}", 1_700_001_000, 300),
                Err(SignatureError::Stale(1000))
            );
            assert_eq!(
                verify("whsec_test", "v1=zz", b"", 0, 300),
                Err(SignatureError::Malformed)
            );
        }
    }
}
