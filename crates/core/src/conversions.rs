//! The legacy Stablecoin Conversion API: create (through the group-commit
//! writer), settle, cancel.

use std::collections::HashMap;

use stableport_domain::conversion::{check_pair, pair_decimals};
use stableport_domain::{ledger, Amount, Asset, ConversionStatus, Posting, TransferKind};
use stableport_store::{Conversion, CreateOutcome, NewConversion, Store, Transfer, Tx};
use uuid::Uuid;

use crate::batcher::debit_fresh;
use crate::{identities, in_tx, profiles, transfers, Core, CoreError, Created, Result};

/// A conversion as a client asks for it, its fields parsed.
pub struct Convert {
    pub profile_id: Uuid,
    pub recipient_profile_id: Option<Uuid>,
    /// As sent: its precision is checked against the pair.
    pub amount: String,
    pub source: Asset,
    pub target: Asset,
    pub ref_id: Option<String>,
    pub identity_id: String,
    pub account_id: String,
    /// JSON, already checked.
    pub metadata: Option<String>,
}

pub async fn create(
    core: &Core,
    customer: Uuid,
    cmd: Convert,
    now: i64,
) -> Result<Created<Conversion>> {
    let (source, target) = (cmd.source, cmd.target);
    check_pair(source, target).map_err(|e| CoreError::invalid(e.to_string()))?;
    let amount = Amount::parse(&cmd.amount, pair_decimals(source, target)).map_err(|e| {
        let detail = format!("amount {:?} {e} for {source} -> {target}", cmd.amount);
        CoreError::amount(&e, detail)
    })?;
    profiles::check(core, customer, cmd.profile_id).await?;
    if let Some(recipient) = cmd.recipient_profile_id {
        profiles::check(core, customer, recipient).await?;
    }
    let identity = ("identity_id", Some(cmd.identity_id.as_str()));
    identities::check_actor(
        core,
        customer,
        identity,
        ("account_id", Some(&cmd.account_id)),
    )
    .await?;
    let request = NewConversion {
        id: stableport_domain::new_id(),
        customer_id: customer,
        profile_id: cmd.profile_id,
        recipient_profile_id: cmd.recipient_profile_id,
        amount: amount.to_string(),
        source_asset: source,
        target_asset: target,
        source_units: amount.units(source),
        target_units: amount.units(target),
        ref_id: cmd.ref_id,
        identity_id: cmd.identity_id,
        account_id: cmd.account_id,
        metadata: cmd.metadata,
        now,
        settle_after: core.settlement.due_at(now),
    };
    match core.conversions.submit(request.clone()).await? {
        CreateOutcome::Created(c) => Ok(Created::New(c)),
        CreateOutcome::RefIdExists(existing) => Ok(Created::Existing(*existing)),
        CreateOutcome::InsufficientFunds { available } => Err(CoreError::InsufficientFunds {
            asset: source,
            profile: request.profile_id,
            needed: request.amount,
            available,
        }),
    }
}

pub async fn get(core: &Core, customer: Uuid, id: Uuid) -> Result<Conversion> {
    core.store
        .conversion(customer, id)
        .await?
        .ok_or_else(|| not_found(id, customer))
}

/// Settles or cancels a CREATED conversion: its postings, transfer and
/// event commit with the status.
pub async fn finish(
    core: &Core,
    customer: Uuid,
    id: Uuid,
    to: ConversionStatus,
    now: i64,
) -> Result<Conversion> {
    in_tx!(core.store, |tx| finish_in(tx, customer, id, to, now).await)
}

async fn finish_in(
    tx: &mut Tx,
    customer: Uuid,
    id: Uuid,
    to: ConversionStatus,
    now: i64,
) -> Result<Conversion> {
    let current = (tx.conversion(customer, id).await?).ok_or_else(|| not_found(id, customer))?;
    let verb = match to {
        ConversionStatus::Settled => "settled",
        _ => "cancelled",
    };
    let refused = |status: &str| {
        CoreError::Conflict(format!(
            "conversion {id} is {status} and cannot be {verb}; only a CREATED conversion can"
        ))
    };
    if !current.status.is_pending() {
        return Err(refused(current.status.as_str()));
    }
    if !tx.move_conversions(&[id], to, now).await?.contains(&id) {
        return Err(refused("no longer CREATED"));
    }
    post_finished(tx, &current, to, now).await?;
    (tx.conversion(customer, id).await?).ok_or_else(|| not_found(id, customer))
}

/// Settles what is due, up to `limit`: in one statement per step when every
/// recipient can take its credit, else one by one, leaving those whose
/// recipient is at its balance limit CREATED. Safe on every replica at once.
pub async fn settle_due(store: &dyn Store, now: i64, limit: i64) -> Result<usize> {
    // Looked at before taking the write lock: most ticks find nothing.
    if !store.conversions_due(now).await? {
        return Ok(0);
    }
    match in_tx!(batch store, |tx| settle_all(tx, now, limit).await) {
        Err(CoreError::BalanceLimit) => {
            in_tx!(batch store, |tx| settle_one_by_one(tx, now, limit).await)
        }
        other => other,
    }
}

async fn settle_all(tx: &mut Tx, now: i64, limit: i64) -> Result<usize> {
    let due = tx.claim_due_conversions(now, limit).await?;
    let ids: Vec<Uuid> = due.iter().map(|c| c.id).collect();
    let moved = tx
        .move_conversions(&ids, ConversionStatus::Settled, now)
        .await?;
    let settled: Vec<&Conversion> = due.iter().filter(|c| moved.contains(&c.id)).collect();
    let mut credits: HashMap<(Uuid, Asset), i64> = HashMap::new();
    for c in &settled {
        *credits.entry((c.recipient(), c.target_asset)).or_default() += c.target_units;
    }
    // Sorted: every settler takes the balances in the same order.
    let mut credits: Vec<(Uuid, Asset, i64)> =
        credits.into_iter().map(|((p, a), u)| (p, a, u)).collect();
    credits.sort_unstable();
    if tx.change_balances(&credits).await?.contains(&false) {
        return Err(CoreError::BalanceLimit);
    }
    for c in &settled {
        let (postings, _) = finished_postings(c, ConversionStatus::Settled);
        record_finished(tx, c, ConversionStatus::Settled, postings, now);
    }
    Ok(settled.len())
}

async fn settle_one_by_one(tx: &mut Tx, now: i64, limit: i64) -> Result<usize> {
    let mut settled = 0;
    for c in tx.claim_due_conversions(now, limit).await? {
        if !(tx
            .move_conversions(&[c.id], ConversionStatus::Settled, now)
            .await?)
            .contains(&c.id)
        {
            continue;
        }
        match post_finished(tx, &c, ConversionStatus::Settled, now).await {
            Ok(()) => settled += 1,
            Err(CoreError::BalanceLimit) => tx.hold_conversion(c.id).await?,
            Err(e) => return Err(e),
        }
    }
    Ok(settled)
}

/// A settlement credits the recipient in the target asset; a cancellation
/// returns the source to the profile. Postings, and the credited leg.
fn finished_postings(c: &Conversion, to: ConversionStatus) -> (Vec<Posting>, (Uuid, Asset, i64)) {
    match to {
        ConversionStatus::Settled => (
            ledger::conversion_settled(
                c.recipient(),
                c.source_asset,
                c.source_units,
                c.target_asset,
                c.target_units,
            ),
            (c.recipient(), c.target_asset, c.target_units),
        ),
        _ => (
            ledger::conversion_cancelled(c.profile_id, c.source_asset, c.source_units),
            (c.profile_id, c.source_asset, c.source_units),
        ),
    }
}

async fn post_finished(tx: &mut Tx, c: &Conversion, to: ConversionStatus, now: i64) -> Result<()> {
    let (postings, _) = finished_postings(c, to);
    if let Err(refused) = tx.apply(&postings).await? {
        tracing::error!(conversion = %c.id, ?refused, "cannot credit the recipient; conversion left CREATED");
        return Err(CoreError::BalanceLimit);
    }
    record_finished(tx, c, to, postings, now);
    Ok(())
}

/// The credit transfer, journal entry and event of a settled or cancelled
/// conversion, whose postings are already applied.
fn record_finished(
    tx: &mut Tx,
    c: &Conversion,
    to: ConversionStatus,
    postings: Vec<Posting>,
    now: i64,
) {
    let kind = match to {
        ConversionStatus::Settled => "conversion.settled",
        _ => "conversion.cancelled",
    };
    let (_, (profile, asset, units)) = finished_postings(c, to);
    let credit = Transfer::completed(
        c.customer_id,
        profile,
        TransferKind::InternalTransferCredit,
        asset,
        units,
        c.id,
        now,
    );
    transfers::record(tx, credit);
    tx.entry(c.customer_id, kind, c.id, postings, now);
    tx.event(
        c.customer_id,
        kind,
        c.id,
        event(c.id, c.ref_id.as_deref(), to),
        now,
    );
}

/// Creates conversions in one transaction (group commit): each request
/// gets its own outcome; one refused does not affect the others.
pub async fn create_batch(
    store: &dyn Store,
    batch: &[NewConversion],
) -> Result<Vec<CreateOutcome>> {
    in_tx!(batch store, |tx| create_in(tx, batch).await)
}

async fn create_in(tx: &mut Tx, batch: &[NewConversion]) -> Result<Vec<CreateOutcome>> {
    let mut outcomes: Vec<Option<CreateOutcome>> = vec![None; batch.len()];
    // Retries of stored ones are answered before any lock is taken: a
    // retry never debits, nor waits on a row the settler holds.
    let fresh = answer_retries(tx, batch, &mut outcomes).await?;
    let source = |c: &NewConversion| (c.profile_id, c.source_asset, c.source_units);
    let (debited, short) = debit_fresh(tx, batch, &fresh, source).await?;
    let rows: Vec<&NewConversion> = debited.iter().map(|&i| &batch[i]).collect();
    let inserted = tx.insert_conversions(&rows).await?;
    // A short one that repeats a stored ref_id (committed by a racing
    // transaction this debit waited for, or above in this batch) is a 409
    // with it, whatever the balance.
    for (i, available) in short {
        outcomes[i] = Some(match by_ref(tx, &batch[i]).await? {
            Some(c) => CreateOutcome::RefIdExists(Box::new(c)),
            None => CreateOutcome::InsufficientFunds { available },
        });
    }
    for i in debited {
        let c = &batch[i];
        outcomes[i] = Some(match inserted.contains(&c.id) {
            true => CreateOutcome::Created(record_created(tx, c)),
            false => refund_repeat(tx, c).await?,
        });
    }
    outcomes
        .into_iter()
        .map(|o| o.ok_or_else(|| CoreError::Internal("a request got no outcome".into())))
        .collect()
}

/// Fills in the outcome of each request whose ref_id is stored; returns
/// the indexes of the rest.
async fn answer_retries(
    tx: &mut Tx,
    batch: &[NewConversion],
    outcomes: &mut [Option<CreateOutcome>],
) -> Result<Vec<usize>> {
    let keys: Vec<(Uuid, &str)> = batch
        .iter()
        .filter_map(|c| c.ref_id.as_deref().map(|r| (c.customer_id, r)))
        .collect();
    let stored = tx.conversions_by_refs(&keys).await?;
    let mut fresh = Vec::with_capacity(batch.len());
    for (i, c) in batch.iter().enumerate() {
        let key = (c.customer_id, c.ref_id.clone().unwrap_or_default());
        match stored.get(&key) {
            Some(existing) if c.ref_id.is_some() => {
                outcomes[i] = Some(CreateOutcome::RefIdExists(Box::new(existing.clone())))
            }
            _ => fresh.push(i),
        }
    }
    Ok(fresh)
}

async fn by_ref(tx: &mut Tx, c: &NewConversion) -> Result<Option<Conversion>> {
    match &c.ref_id {
        Some(ref_id) => Ok(tx.conversion_by_ref(c.customer_id, ref_id).await?),
        None => Ok(None),
    }
}

/// The debit transfer, journal entry and event of a new conversion, whose
/// source is already debited.
fn record_created(tx: &mut Tx, c: &NewConversion) -> Conversion {
    let postings = ledger::conversion_created(c.profile_id, c.source_asset, c.source_units);
    let mut debit = Transfer::completed(
        c.customer_id,
        c.profile_id,
        TransferKind::InternalTransferDebit,
        c.source_asset,
        c.source_units,
        c.id,
        c.now,
    );
    debit.ref_id = c.ref_id.clone();
    transfers::record(tx, debit);
    tx.entry(c.customer_id, "conversion.created", c.id, postings, c.now);
    let payload = event(c.id, c.ref_id.as_deref(), ConversionStatus::Created);
    tx.event(c.customer_id, "conversion.created", c.id, payload, c.now);
    as_created(c)
}

/// A debited request whose ref_id a racing one took: its debit is undone
/// and the stored conversion is its answer.
async fn refund_repeat(tx: &mut Tx, c: &NewConversion) -> Result<CreateOutcome> {
    let refund = ledger::conversion_cancelled(c.profile_id, c.source_asset, c.source_units);
    tx.apply(&refund)
        .await?
        .map_err(|_| CoreError::BalanceLimit)?;
    let existing = by_ref(tx, c).await?;
    let existing = existing
        .ok_or_else(|| CoreError::Internal(format!("conversion {:?} vanished", c.ref_id)))?;
    Ok(CreateOutcome::RefIdExists(Box::new(existing)))
}

fn as_created(c: &NewConversion) -> Conversion {
    Conversion {
        id: c.id,
        customer_id: c.customer_id,
        profile_id: c.profile_id,
        recipient_profile_id: c.recipient_profile_id,
        amount: c.amount.clone(),
        source_asset: c.source_asset,
        target_asset: c.target_asset,
        source_units: c.source_units,
        target_units: c.target_units,
        status: ConversionStatus::Created,
        ref_id: c.ref_id.clone(),
        identity_id: c.identity_id.clone(),
        account_id: c.account_id.clone(),
        metadata: c.metadata.clone(),
        created_at: c.now,
        updated_at: c.now,
        settled_at: None,
        cancelled_at: None,
    }
}

/// Ours: the legacy conversion's status change, as its event carries it.
fn event(id: Uuid, ref_id: Option<&str>, status: ConversionStatus) -> String {
    let mut object = serde_json::json!({ "id": id, "status": status.as_str() });
    if let Some(r) = ref_id {
        object["ref_id"] = serde_json::json!(r);
    }
    object.to_string()
}

fn not_found(id: Uuid, customer: Uuid) -> CoreError {
    CoreError::NotFound(format!(
        "conversion with id {id} not found for customer with id {customer}"
    ))
}
