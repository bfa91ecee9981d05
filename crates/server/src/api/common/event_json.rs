//! An event as the API shows it: `/v2/events` and webhook test events.

use serde::Serialize;
use serde_json::Value;
use stableport_core::webhooks::check_event_type;
use stableport_store::{object_type, Event};
use uuid::Uuid;

use crate::api::common::problem::ApiResult;
use crate::time;

#[derive(Serialize)]
pub struct EventBody {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: String,
    pub object_type: &'static str,
    pub object: Value,
    pub created_at: String,
    pub undelivered_webhooks: i64,
    /// Not in Paxos's `Event`: a test event is fetched with `?is_test=true`,
    /// so the caller knows. Only our own test route shows it.
    #[serde(skip)]
    pub is_test: bool,
}

pub fn event_body(e: Event) -> EventBody {
    let mut object: Value = serde_json::from_str(&e.payload).unwrap_or(Value::Null);
    // Events written before the object shapes were settled carried an
    // "object" tag of their own.
    if let Some(map) = object.as_object_mut() {
        if map.get("object").is_some_and(Value::is_string) {
            map.remove("object");
        }
    }
    EventBody {
        id: e.id,
        object_type: object_type(&e.kind),
        kind: e.kind,
        object,
        created_at: time::format(e.created_at),
        undelivered_webhooks: e.undelivered_webhooks,
        is_test: e.is_test,
    }
}

pub fn event_type(name: &str) -> impl Fn(&str) -> ApiResult<String> + '_ {
    move |v| Ok(check_event_type(name, v).map(|()| v.to_string())?)
}
