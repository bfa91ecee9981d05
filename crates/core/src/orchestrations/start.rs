//! Starting orchestrations: the debit, the row, both legs, the entry and
//! the `orchestration.processing` event, in one transaction.

use stableport_domain::orchestration::OrchestrationStatus;
use stableport_domain::{ledger, TransferKind, TransferStatus};
use stableport_store::{
    Destination, Legs, NewOrchestration, Orchestration, OrchestrationOutcome, Refused, Store,
    Transfer, TransferRef, Tx,
};

use crate::batcher::debit_fresh;
use crate::{in_tx, transfers, CoreError, Result};

/// Starts orchestrations in one transaction (group commit): each request
/// gets its own outcome; one refused does not affect the others.
pub async fn create_batch(
    store: &dyn Store,
    batch: &[NewOrchestration],
) -> Result<Vec<OrchestrationOutcome>> {
    in_tx!(batch store, |tx| create_in(tx, batch).await)
}

async fn create_in(tx: &mut Tx, batch: &[NewOrchestration]) -> Result<Vec<OrchestrationOutcome>> {
    let mut outcomes: Vec<Option<OrchestrationOutcome>> = vec![None; batch.len()];
    // Retries of stored ones are answered before any lock is taken: a
    // retry never debits, nor waits on a row a delivery holds.
    let keys: Vec<_> = batch
        .iter()
        .map(|o| (o.customer_id, o.ref_id.as_str()))
        .collect();
    let mut stored = tx.orchestrations_by_refs(&keys).await?;
    let mut fresh = Vec::with_capacity(batch.len());
    for (i, o) in batch.iter().enumerate() {
        match stored.remove(&(o.customer_id, o.ref_id.clone())) {
            Some(existing) => outcomes[i] = Some(OrchestrationOutcome::RefIdExists(existing)),
            None => fresh.push(i),
        }
    }
    let source = |o: &NewOrchestration| (o.profile_id, o.source_asset, o.source_units);
    let (debited, short) = debit_fresh(tx, batch, &fresh, source).await?;
    let rows: Vec<_> = debited.iter().map(|&i| (&batch[i], new_legs())).collect();
    let inserted = tx.insert_orchestrations(&rows).await?;
    // A short one that repeats a stored ref_id (committed by a racing
    // transaction this debit waited for, or above in this batch) is a 409
    // with it, whatever the balance.
    for (i, available) in short {
        let o = &batch[i];
        outcomes[i] = Some(
            match tx.orchestration_by_ref(o.customer_id, &o.ref_id).await? {
                Some(existing) => OrchestrationOutcome::RefIdExists(existing),
                None => OrchestrationOutcome::InsufficientFunds { available },
            },
        );
    }
    for (&i, (o, legs)) in debited.iter().zip(rows) {
        outcomes[i] = Some(match inserted.contains(&o.id) {
            true => OrchestrationOutcome::Created(record_started(tx, o, legs)),
            false => refund_repeat(tx, o).await?,
        });
    }
    outcomes
        .into_iter()
        .map(|o| o.ok_or_else(|| CoreError::Internal("a request got no outcome".into())))
        .collect()
}

/// What starting one orchestration inside a transaction came to.
#[allow(clippy::large_enum_variant)]
pub enum Started {
    Created(Orchestration),
    /// The source profile cannot cover it.
    Insufficient,
    RefIdTaken,
}

/// Starts one orchestration inside `tx` (a deposit's follow-up).
pub async fn start_in(tx: &mut Tx, o: &NewOrchestration) -> Result<Started> {
    let postings = ledger::orchestration_started(o.profile_id, o.source_asset, o.source_units);
    if let Err(Refused::Insufficient { .. }) = tx.apply(&postings).await? {
        return Ok(Started::Insufficient);
    }
    let legs = new_legs();
    if !tx
        .insert_orchestrations(&[(o, legs)])
        .await?
        .contains(&o.id)
    {
        return Ok(Started::RefIdTaken);
    }
    Ok(Started::Created(record_started(tx, o, legs)))
}

/// A debited request whose ref_id a racing one took: its debit is undone
/// and the stored orchestration is its answer.
async fn refund_repeat(tx: &mut Tx, o: &NewOrchestration) -> Result<OrchestrationOutcome> {
    let refund = ledger::orchestration_failed(o.profile_id, o.source_asset, o.source_units);
    tx.apply(&refund)
        .await?
        .map_err(|_| CoreError::BalanceLimit)?;
    let existing = tx.orchestration_by_ref(o.customer_id, &o.ref_id).await?;
    let vanished = || CoreError::Internal(format!("orchestration {:?} vanished", o.ref_id));
    Ok(OrchestrationOutcome::RefIdExists(
        existing.ok_or_else(vanished)?,
    ))
}

fn new_legs() -> Legs {
    (stableport_domain::new_id(), stableport_domain::new_id())
}

/// Both legs, the entry and the event of a started orchestration, whose
/// source is already debited; the orchestration as it now reads.
fn record_started(tx: &mut Tx, o: &NewOrchestration, legs: Legs) -> Orchestration {
    let (source_id, destination_id) = legs;
    let postings = ledger::orchestration_started(o.profile_id, o.source_asset, o.source_units);
    let mut source = Transfer::completed(
        o.customer_id,
        o.profile_id,
        TransferKind::InternalTransferDebit,
        o.source_asset,
        o.source_units,
        o.id,
        o.now,
    );
    source.id = source_id;
    source.identity_id = Some(o.identity_id.clone());
    source.account_id = Some(o.account_id.clone());
    source.ref_id = Some(o.ref_id.clone());
    transfers::record(tx, source);
    transfers::record(tx, destination_transfer(o, destination_id));
    let kind = "orchestration.processing";
    tx.entry(o.customer_id, kind, o.id, postings, o.now);
    let processing = OrchestrationStatus::Processing;
    let payload = super::event(o.id, &o.ref_id, o.rule_id, processing);
    tx.event(o.customer_id, kind, o.id, payload, o.now);
    as_processing(o, legs)
}

/// The transfer that delivers an orchestration, PENDING until it completes.
fn destination_transfer(o: &NewOrchestration, id: uuid::Uuid) -> Transfer {
    let mut t = Transfer::completed(
        o.customer_id,
        o.profile_id,
        TransferKind::InternalTransferCredit,
        o.destination_asset,
        o.destination_units,
        o.id,
        o.now,
    );
    t.id = id;
    t.status = TransferStatus::Pending;
    t.identity_id = Some(o.identity_id.clone());
    t.account_id = Some(o.account_id.clone());
    match &o.destination {
        Destination::Profile(profile) => t.profile_id = *profile,
        Destination::Fiat {
            bank_account_id,
            memo,
            network,
        } => {
            t.kind = match network.as_str() {
                "CUBIX" => TransferKind::CubixWithdrawal,
                _ => TransferKind::WireWithdrawal,
            };
            t.direction = t.kind.direction();
            t.fiat_account_id = Some(bank_account_id.to_string());
            t.memo = memo.clone();
        }
        Destination::Crypto {
            address, network, ..
        } => {
            t.kind = TransferKind::CryptoWithdrawal;
            t.direction = t.kind.direction();
            t.destination_address = Some(address.clone());
            t.crypto_network = Some(network.code().to_string());
        }
    }
    t
}

/// An orchestration as it reads right after it started.
fn as_processing(o: &NewOrchestration, (source, destination): Legs) -> Orchestration {
    Orchestration {
        id: o.id,
        customer_id: o.customer_id,
        profile_id: o.profile_id,
        identity_id: o.identity_id.clone(),
        account_id: o.account_id.clone(),
        ref_id: o.ref_id.clone(),
        source_asset: o.source_asset,
        destination_asset: o.destination_asset,
        source_amount: o.source_amount.clone(),
        source_units: o.source_units,
        destination_units: o.destination_units,
        destination: o.destination.clone(),
        status: OrchestrationStatus::Processing,
        fail_reason: None,
        rule_id: o.rule_id,
        source_transfer: TransferRef {
            id: source,
            status: TransferStatus::Completed.as_str().into(),
        },
        destination_transfer: TransferRef {
            id: destination,
            status: TransferStatus::Pending.as_str().into(),
        },
        metadata: o.metadata.clone(),
        created_at: o.now,
        updated_at: o.now,
    }
}
