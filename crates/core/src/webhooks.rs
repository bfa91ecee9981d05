//! Webhooks (ours): where a customer's events are POSTed, each with its
//! signing secret, event types and rate.

use stableport_domain::{ApprovalAction, WebhookStatus};
use stableport_store::{
    ConsumerAuth, Delivery, Event, StoreError, Tx, Webhook, EVENT_TYPES, MAX_ACTIVE_WEBHOOKS,
};
use uuid::Uuid;

use crate::approvals::{self, Subject};
use crate::issued::random_hex;
use crate::{in_tx, Core, CoreError, Result};

pub const DEFAULT_RATE_LIMIT: i64 = 10;

/// A webhook as a client asks for it: its URL and consumer authentication
/// already checked (the server's outbound guard does that).
pub struct NewWebhook {
    pub name: String,
    pub url: String,
    pub event_types: Vec<String>,
    pub rate_limit: Option<i64>,
    pub auth: ConsumerAuth,
}

/// Creates an ACTIVE webhook with a fresh signing secret, which only this
/// answer shows; PENDING, with its approval request, under an enabled
/// ADD_WEBHOOK policy.
pub async fn create(
    core: &Core,
    customer: Uuid,
    submitter: Option<Uuid>,
    new: NewWebhook,
    now: i64,
) -> Result<Webhook> {
    if new.event_types.is_empty() {
        return Err(CoreError::invalid(
            "event_types must name at least one event type",
        ));
    }
    let mut event_types: Vec<String> = Vec::new();
    for kind in new.event_types {
        check_event_type("event_types", &kind)?;
        if !event_types.contains(&kind) {
            event_types.push(kind);
        }
    }
    let rate_limit = new.rate_limit.unwrap_or(DEFAULT_RATE_LIMIT);
    if !(1..=100).contains(&rate_limit) {
        return Err(CoreError::invalid(format!(
            "rate_limit must be a whole number of requests per second from 1 to 100, got {rate_limit}"
        )));
    }
    let webhook = Webhook {
        id: Uuid::new_v4(),
        customer_id: customer,
        name: new.name,
        url: new.url,
        event_types,
        auth: new.auth,
        rate_limit,
        secret: format!("whsec_{}", random_hex(32)),
        status: WebhookStatus::Active,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    in_tx!(core.store, |tx| async {
        let mut webhook = webhook.clone();
        let action = ApprovalAction::AddWebhook;
        let policy = approvals::guarded(tx, customer, action).await?;
        if policy.is_some() {
            webhook.status = WebhookStatus::Pending;
        }
        room_for(tx, &webhook).await?;
        tx.insert_webhook(&webhook).await?;
        if let Some(policy) = &policy {
            let subject = Subject::new(action, webhook.id);
            approvals::submit_under(tx, policy, submitter, subject, now).await?;
        }
        Ok(webhook)
    }
    .await)
}

/// An approved webhook becomes ACTIVE, if there is room for it still.
pub(crate) async fn activate(tx: &mut Tx, customer: Uuid, id: Uuid, now: i64) -> Result<()> {
    let webhook = tx
        .webhook(customer, id)
        .await?
        .ok_or_else(|| not_found(id, customer))?;
    room_for(tx, &webhook).await?;
    tx.settle_webhook(customer, id, WebhookStatus::Active, now)
        .await?;
    Ok(())
}

/// At most MAX_ACTIVE_WEBHOOKS active per customer, each name once among them.
async fn room_for(tx: &mut Tx, w: &Webhook) -> Result<()> {
    // Serialises creations per customer, so two at once cannot both see
    // one fewer than the most.
    tx.lock_customer(w.customer_id).await?;
    if let Some(id) = tx.active_webhook_named(w.customer_id, &w.name).await? {
        return Err(CoreError::Conflict(format!(
            "an active webhook named '{}' already exists (id {id})",
            w.name
        )));
    }
    if tx.count_active_webhooks(w.customer_id).await? >= MAX_ACTIVE_WEBHOOKS {
        return Err(CoreError::Conflict(format!(
            "a customer may have at most {MAX_ACTIVE_WEBHOOKS} active webhooks; delete one first"
        )));
    }
    Ok(())
}

pub async fn get(core: &Core, customer: Uuid, id: Uuid) -> Result<Webhook> {
    (core.store.webhook(customer, id).await?).ok_or_else(|| not_found(id, customer))
}

/// Deletes an ACTIVE webhook. Under an enabled DELETE_WEBHOOK policy it
/// stays ACTIVE until the request this opens is approved.
pub async fn delete(
    core: &Core,
    customer: Uuid,
    submitter: Option<Uuid>,
    id: Uuid,
    now: i64,
) -> Result<Webhook> {
    in_tx!(core.store, |tx| async {
        let webhook = tx
            .webhook(customer, id)
            .await?
            .ok_or_else(|| not_found(id, customer))?;
        let action = ApprovalAction::DeleteWebhook;
        match webhook.status {
            WebhookStatus::Active => {}
            WebhookStatus::Pending => {
                return Err(CoreError::Conflict(format!(
                    "webhook {id} awaits approval; its submitter may cancel the request"
                )))
            }
            _ => return Err(not_found(id, customer)),
        }
        if let Some(policy) = approvals::guarded(tx, customer, action).await? {
            if tx.open_approval_request(customer, id).await?.is_none() {
                let subject = Subject::new(action, id);
                approvals::submit_under(tx, &policy, submitter, subject, now).await?;
            }
            return Ok(webhook);
        }
        let deleted = tx.delete_webhook(customer, id, now).await;
        deleted.map_err(|e| CoreError::or_not_found(e, || not_found(id, customer).to_string()))
    }
    .await)
}

/// Sends one of the customer's events to this ACTIVE webhook, again or for
/// the first time, with a fresh retry window.
pub async fn redeliver(
    core: &Core,
    customer: Uuid,
    id: Uuid,
    event: Uuid,
    now: i64,
) -> Result<Delivery> {
    let webhook = get(core, customer, id).await?;
    if webhook.status != WebhookStatus::Active {
        return Err(CoreError::Conflict(format!(
            "webhook {} is {}; only an ACTIVE webhook receives events",
            webhook.id, webhook.status
        )));
    }
    if core.store.event(customer, event).await?.is_none() {
        return Err(CoreError::NotFound(format!(
            "event with id {event} not found for customer with id {customer}"
        )));
    }
    let delivery = core.store.redeliver(customer, id, event, now).await;
    delivery.map_err(|e| match e {
        StoreError::NotFound => not_found(id, customer),
        StoreError::NotPending(detail) => CoreError::Conflict(detail),
        other => other.into(),
    })
}

/// A test event (`is_test`) of `kind` (by default the webhook's first
/// subscribed type), delivered to this webhook only.
pub async fn send_test(
    core: &Core,
    customer: Uuid,
    id: Uuid,
    kind: Option<String>,
    now: i64,
) -> Result<Event> {
    let webhook = get(core, customer, id).await?;
    if webhook.status != WebhookStatus::Active {
        return Err(CoreError::Conflict(format!(
            "webhook {} is {}; only an ACTIVE webhook receives events",
            webhook.id, webhook.status
        )));
    }
    let kind = match kind {
        Some(kind) => check_event_type("type", &kind).map(|()| kind)?,
        None => {
            (webhook.event_types.first().cloned()).unwrap_or_else(|| EVENT_TYPES[0].to_string())
        }
    };
    let object = sample_object(&kind);
    let created = core
        .store
        .create_test_event(customer, id, &kind, &object, now);
    created.await.map_err(|e| match e {
        StoreError::NotFound => not_found(id, customer),
        other => other.into(),
    })
}

/// Whether `kind` is an event type we send; `field` names it in the error.
pub fn check_event_type(field: &str, kind: &str) -> Result<()> {
    match EVENT_TYPES.contains(&kind) {
        true => Ok(()),
        false => Err(CoreError::invalid(format!(
            "{field}: unknown event type {kind:?}; known types: {}",
            EVENT_TYPES.join(", ")
        ))),
    }
}

/// A made-up object of the right shape for a test event of this type.
fn sample_object(kind: &str) -> String {
    let id = Uuid::new_v4();
    let mut parts = kind.split('.');
    let family = parts.next().unwrap_or_default();
    let status = kind.rsplit('.').next().unwrap_or_default().to_uppercase();
    match family {
        "orchestration" => {
            serde_json::json!({ "id": id, "ref_id": format!("test-{}", id.simple()), "status": status })
        }
        "transfer" => {
            let transfer_kind = parts.next().unwrap_or_default().to_uppercase();
            serde_json::json!({ "id": id, "type": transfer_kind, "status": status })
        }
        "approval" => {
            let status = if status == "REQUESTED" { "PENDING".into() } else { status };
            serde_json::json!({ "id": id, "status": status,
                                "action": "ADD_CRYPTO_ADDRESS", "object_id": Uuid::new_v4() })
        }
        _ => serde_json::json!({ "id": id, "status": status }),
    }
    .to_string()
}

fn not_found(id: Uuid, customer: Uuid) -> CoreError {
    CoreError::NotFound(format!(
        "webhook with id {id} not found for customer with id {customer}"
    ))
}
