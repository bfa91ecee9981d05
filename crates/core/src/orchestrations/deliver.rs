//! Delivering orchestrations: COMPLETED with the destination credited, or
//! FAILED with the source refunded, each a guarded move from PROCESSING.

use stableport_domain::address::tx_hash;
use stableport_domain::orchestration::OrchestrationStatus;
use std::collections::{BTreeMap, HashSet};

use stableport_domain::{ledger, Account, Asset, Posting, TransferKind, TransferStatus};
use stableport_store::{Destination, Orchestration, Refused, Store, Transfer, Tx};
use uuid::Uuid;

use crate::{in_tx, transfers, Core, CoreError, Result};

/// Delivers up to `limit` orchestrations whose time has come; returns how
/// many finished. Safe on every replica at once.
pub async fn advance(store: &dyn Store, now: i64, limit: i64) -> Result<usize> {
    // Looked at before taking the write lock: most ticks find nothing.
    if !store.orchestrations_due(now).await? {
        return Ok(0);
    }
    in_tx!(batch store, |tx| advance_in(tx, store, now, limit).await)
}

async fn advance_in(tx: &mut Tx, store: &dyn Store, now: i64, limit: i64) -> Result<usize> {
    let due = tx.claim_due_orchestrations(now, limit).await?;
    // The balances these deliveries will change, locked in the global order
    // first: one delivery after another would take them in claim order, and
    // deadlock with a create taking them sorted. A delivery into a profile
    // credits it; the source is refunded only when it cannot, which is rare
    // and locks the source then (a deadlock there is retried). Locking every
    // source up front held the very balances new orchestrations debit.
    tx.lock_balances(due.iter().map(balance_key)).await?;
    let (to_profiles, others): (Vec<_>, Vec<_>) =
        (due.iter()).partition(|o| matches!(o.destination, Destination::Profile(_)));
    let (mut finished, refused) = deliver_to_profiles(tx, &to_profiles, now).await?;
    for o in refused.into_iter().chain(others) {
        let blocker = blocker(store, o).await?;
        if deliver(tx, o, blocker, now).await? {
            finished += 1;
        }
    }
    Ok(finished)
}

/// Orchestrations into profiles, in bulk: their credits summed per balance
/// in one statement, then moved, their legs completed, each with its entry
/// and event. Those whose balance would pass its maximum are handed back,
/// to go one by one (the ones that still fit complete, the rest fail).
async fn deliver_to_profiles<'a>(
    tx: &mut Tx,
    due: &[&'a Orchestration],
    now: i64,
) -> Result<(usize, Vec<&'a Orchestration>)> {
    let postings: Vec<Vec<Posting>> = due.iter().map(|o| completed_postings(o)).collect();
    let mut sums: BTreeMap<(Uuid, Asset), Option<i64>> = BTreeMap::new();
    for p in postings.iter().flatten() {
        if let Some(profile) = p.account.profile_id() {
            let sum = sums.entry((profile, p.asset)).or_insert(Some(0));
            *sum = sum.and_then(|s| s.checked_add(p.units));
        }
    }
    // A sum past i64 cannot fit a balance either: those go one by one.
    let changes: Vec<(Uuid, Asset, i64)> = (sums.iter())
        .filter_map(|(&(profile, asset), sum)| sum.map(|units| (profile, asset, units)))
        .collect();
    let applied = tx.change_balances(&changes).await?;
    let fits: HashSet<(Uuid, Asset)> = (changes.iter().zip(applied))
        .filter(|(_, ok)| *ok)
        .map(|(&(profile, asset, _), _)| (profile, asset))
        .collect();
    let fit = |ps: &Vec<Posting>| {
        (ps.iter()).all(|p| {
            p.account
                .profile_id()
                .is_none_or(|pr| fits.contains(&(pr, p.asset)))
        })
    };
    let (bulk, refused): (Vec<_>, Vec<_>) = (due.iter().zip(postings)).partition(|(_, ps)| fit(ps));
    let ids: Vec<Uuid> = bulk.iter().map(|(o, _)| o.id).collect();
    let moved = tx
        .move_orchestrations(&ids, OrchestrationStatus::Completed, now)
        .await?;
    if moved.len() != ids.len() {
        // Claimed rows cannot move under us; if they did, undo it all.
        return Err(CoreError::Internal(
            "a claimed orchestration moved during its delivery".into(),
        ));
    }
    let legs: Vec<Uuid> = bulk
        .iter()
        .map(|(o, _)| o.destination_transfer.id)
        .collect();
    for leg in tx
        .set_transfers_status(&legs, TransferStatus::Completed, now)
        .await?
    {
        transfers::announce(tx, &leg);
    }
    let done = bulk.len();
    for (o, postings) in bulk {
        record_end(tx, o, OrchestrationStatus::Completed, postings, now);
    }
    Ok((done, refused.into_iter().map(|(o, _)| *o).collect()))
}

/// The postings of a delivered orchestration.
fn completed_postings(o: &Orchestration) -> Vec<Posting> {
    let to = match &o.destination {
        Destination::Profile(p) => Account::Profile(*p),
        Destination::Fiat { .. } => Account::Bank("WIRE"),
        Destination::Crypto { network, .. } => Account::Chain(*network),
    };
    ledger::orchestration_completed(
        o.source_asset,
        o.source_units,
        o.destination_asset,
        o.destination_units,
        to,
    )
}

/// Sandbox: lets a PROCESSING orchestration held for manual release go now.
pub async fn release(core: &Core, customer: Uuid, id: Uuid, now: i64) -> Result<Orchestration> {
    in_tx!(core.store, |tx| release_in(tx, customer, id, now).await)
}

async fn release_in(tx: &mut Tx, customer: Uuid, id: Uuid, now: i64) -> Result<Orchestration> {
    let current = tx.orchestration(customer, id).await?.ok_or_else(|| {
        CoreError::NotFound(format!(
            "orchestration with id {id} not found for customer with id {customer}"
        ))
    })?;
    if current.status != OrchestrationStatus::Processing {
        return Err(CoreError::Conflict(format!(
            "orchestration {id} is {}; only a PROCESSING orchestration can be released",
            current.status
        )));
    }
    tx.schedule_orchestration(id, now).await?;
    Ok(current)
}

/// The profile balance a delivery changes as it should go: the destination
/// profile's credit, or (to a bank or a chain) none but the source's refund
/// should it fail.
fn balance_key(o: &Orchestration) -> (Uuid, Asset) {
    match o.destination {
        Destination::Profile(p) => (p, o.destination_asset),
        _ => (o.profile_id, o.source_asset),
    }
}

/// Why delivery must fail, if it must: the destination's state decides.
async fn blocker(store: &dyn Store, o: &Orchestration) -> Result<Option<String>> {
    Ok(match &o.destination {
        Destination::Profile(_) => None,
        Destination::Fiat {
            bank_account_id: id,
            ..
        } => match store.fiat_account(o.customer_id, *id).await? {
            None => Some(format!("fiat account {id} no longer exists")),
            Some(a) if a.deleted => Some(format!("fiat account {id} was deleted")),
            Some(a) if !a.is_usable() => Some(format!("fiat account {id} is {}", a.status)),
            Some(a) if a.fail_withdrawals => Some(format!(
                "the bank returned the withdrawal to fiat account {id}"
            )),
            Some(_) => None,
        },
        Destination::Crypto {
            address_id,
            address,
            network,
        } => match store.crypto_address(o.customer_id, *address_id).await? {
            None => Some(format!(
                "crypto destination address {address_id} no longer exists"
            )),
            Some(a) if a.fail_withdrawals => {
                Some(format!("the {network} transaction to {address} failed"))
            }
            Some(_) => None,
        },
    })
}

/// One delivery; false when another worker finished it first.
async fn deliver(
    tx: &mut Tx,
    o: &Orchestration,
    blocker: Option<String>,
    now: i64,
) -> Result<bool> {
    let mut failure = blocker;
    let mut postings = Vec::new();
    if failure.is_none() {
        postings = completed_postings(o);
        if let Err(Refused::Limit | Refused::Insufficient { .. }) = tx.apply(&postings).await? {
            failure = Some("the destination profile's balance would exceed its maximum".into());
        }
    }
    let status = match failure {
        None => OrchestrationStatus::Completed,
        Some(_) => OrchestrationStatus::Failed,
    };
    if !tx
        .move_orchestration(o.id, status, failure.as_deref(), now)
        .await?
    {
        return Ok(false);
    }
    if failure.is_some() {
        postings = refund(tx, o, now).await?;
    }
    finish_leg(tx, o, failure.is_none(), now).await?;
    record_end(tx, o, status, postings, now);
    Ok(true)
}

/// The journal entry and event of a delivery that ended in `status`.
fn record_end(
    tx: &mut Tx,
    o: &Orchestration,
    status: OrchestrationStatus,
    postings: Vec<Posting>,
    now: i64,
) {
    let kind = match status {
        OrchestrationStatus::Completed => "orchestration.completed",
        _ => "orchestration.failed",
    };
    tx.entry(o.customer_id, kind, o.id, postings, now);
    let payload = super::event(o.id, &o.ref_id, o.rule_id, status);
    tx.event(o.customer_id, kind, o.id, payload, now);
}

/// A failed delivery's source goes back to its profile; its postings.
async fn refund(
    tx: &mut Tx,
    o: &Orchestration,
    now: i64,
) -> Result<Vec<stableport_domain::Posting>> {
    let postings = ledger::orchestration_failed(o.profile_id, o.source_asset, o.source_units);
    tx.apply(&postings)
        .await?
        .map_err(|_| CoreError::BalanceLimit)?;
    let mut credit = Transfer::completed(
        o.customer_id,
        o.profile_id,
        TransferKind::InternalTransferCredit,
        o.source_asset,
        o.source_units,
        o.id,
        now,
    );
    credit.identity_id = Some(o.identity_id.clone());
    credit.account_id = Some(o.account_id.clone());
    transfers::record(tx, credit);
    Ok(postings)
}

/// The destination leg: COMPLETED (with a chain hash on a chain) or FAILED.
async fn finish_leg(tx: &mut Tx, o: &Orchestration, delivered: bool, now: i64) -> Result<()> {
    let hash = match &o.destination {
        Destination::Crypto { network, .. } if delivered => {
            Some(tx_hash(*network, o.id.as_bytes()))
        }
        _ => None,
    };
    let status = match delivered {
        true => TransferStatus::Completed,
        false => TransferStatus::Failed,
    };
    let leg = o.destination_transfer.id;
    if let Some(changed) = tx.set_transfer_status(leg, status, hash, now).await? {
        transfers::announce(tx, &changed);
    }
    Ok(())
}
