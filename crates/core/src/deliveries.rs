//! Which webhook deliveries a worker sends now: due ones, each in a send
//! slot of its webhook's rate (1/rate apart, from the webhook's next free
//! slot), the rest deferred to when the rate has room. One lease covers the
//! whole claim; a worker that dies leaves them to be claimed again after it.

use std::collections::BTreeMap;

use stableport_domain::WebhookStatus;
use stableport_store::{Claim, ClaimedDelivery, DueDelivery, Store, Tx, Webhook};
use uuid::Uuid;

use crate::{in_tx, Result};

/// Takes up to `claim.limit` due deliveries for this worker. Safe on every
/// replica at once.
pub async fn claim(store: &dyn Store, claim: &Claim) -> Result<Vec<ClaimedDelivery>> {
    // A cheap look first, so an idle worker never takes the write lock.
    if !store.deliveries_due(claim.now).await? {
        return Ok(Vec::new());
    }
    in_tx!(store, |tx| claim_in(tx, claim).await)
}

/// Deliveries chosen to send now: (webhook, due delivery, send slot).
type Chosen = Vec<(Webhook, DueDelivery, i64)>;

async fn claim_in(tx: &mut Tx, c: &Claim) -> Result<Vec<ClaimedDelivery>> {
    let mut by_webhook: BTreeMap<Uuid, Vec<DueDelivery>> = BTreeMap::new();
    for due in tx.claim_due_deliveries(c.now, c.limit).await? {
        by_webhook.entry(due.webhook_id).or_default().push(due);
    }
    if by_webhook.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = by_webhook.keys().copied().collect();
    let (mut chosen, mut slots, mut deferred) = (Chosen::new(), Vec::new(), Vec::new());
    for (webhook, next_free) in tx.lock_webhooks(&ids).await? {
        let Some(due) = by_webhook.remove(&webhook.id) else {
            continue;
        };
        if webhook.status != WebhookStatus::Active {
            let events: Vec<Uuid> = due.iter().map(|d| d.event_id).collect();
            tx.cancel_deliveries(webhook.id, &events, c.now).await?;
            continue;
        }
        let slot = schedule(c, &webhook, next_free, due, &mut chosen, &mut deferred);
        slots.push((webhook.id, slot));
    }
    // Deliveries to a webhook that is gone cannot be sent.
    for (webhook, due) in by_webhook {
        let events: Vec<Uuid> = due.iter().map(|d| d.event_id).collect();
        tx.cancel_deliveries(webhook, &events, c.now).await?;
    }
    tx.set_send_slots(&slots).await?;
    let token = Uuid::new_v4().to_string();
    // One lease for the whole claim: past the last slot, plus the lease.
    let lease_end = chosen.iter().map(|(.., slot)| *slot).max().unwrap_or(c.now) + c.lease;
    let keys: Vec<(Uuid, Uuid)> = chosen.iter().map(|(w, d, _)| (w.id, d.event_id)).collect();
    tx.lease_deliveries(&keys, &token, lease_end, c.now).await?;
    // Deferred ones are not attempts: due again when the rate has room.
    tx.defer_deliveries(&deferred).await?;
    let mut events: Vec<Uuid> = chosen.iter().map(|(_, d, _)| d.event_id).collect();
    events.sort();
    events.dedup();
    let headers = tx.event_headers(&events).await?;
    Ok(chosen
        .into_iter()
        .filter_map(|(webhook, due, send_at)| {
            let (kind, created_at, is_test) = headers.get(&due.event_id)?.clone();
            Some(ClaimedDelivery {
                webhook,
                event_id: due.event_id,
                event_type: kind,
                event_created_at: created_at,
                is_test,
                attempt: due.attempts + 1,
                retry_from: due.retry_from,
                send_at,
                token: token.clone(),
            })
        })
        .collect())
}

/// Gives a webhook's due deliveries send slots 1/rate apart from its next
/// free slot: those that start within the horizon are chosen, the rest
/// deferred to the slot after. Returns the webhook's next free slot.
fn schedule(
    c: &Claim,
    webhook: &Webhook,
    next_free: i64,
    due: Vec<DueDelivery>,
    chosen: &mut Chosen,
    deferred: &mut Vec<(Uuid, Uuid, i64)>,
) -> i64 {
    let interval = 1_000_000 / webhook.rate_limit.clamp(1, 1_000_000);
    let mut slot = c.now.max(next_free);
    let mut later = Vec::new();
    for d in due {
        if slot <= c.now + c.horizon {
            chosen.push((webhook.clone(), d, slot));
            slot += interval;
        } else {
            later.push(d.event_id);
        }
    }
    deferred.extend(later.into_iter().map(|e| (webhook.id, e, slot)));
    slot
}
