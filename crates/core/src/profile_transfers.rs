//! Transfers between profiles, at once and atomically: internal ones
//! between two of a customer's profiles, and Paxos transfers to a profile of
//! another customer on this server. Each leaves a debit and a credit
//! transfer sharing a `group_id`; the recipient of a Paxos transfer sees only
//! its credit (with the recipient metadata), never the sender's request.

use stableport_domain::amount::usd_cents;
use stableport_domain::{ledger, Amount, Asset, Posting, TransferKind, TransferStatus};
use stableport_store::{Profile, Refused, Transfer, Tx};
use uuid::Uuid;

use crate::withdrawals::{check_requester, claim_ref, earlier, Requester};
use crate::{identities, in_tx, limits, profiles, Core, CoreError, Created, Result};

/// Which kind of transfer between profiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Between {
    /// Two profiles of the caller.
    OwnProfiles,
    /// To a profile of another customer.
    Customers,
}

pub struct Move {
    pub between: Between,
    pub by: Requester,
    pub from: Uuid,
    pub to: Uuid,
    pub asset: Asset,
    pub amount: String,
    pub to_identity_id: Option<String>,
    pub to_account_id: Option<String>,
    /// JSON, already checked: what the recipient's transfer carries.
    pub recipient_metadata: Option<String>,
}

/// Moves the amount; the sender's (debit) transfer.
pub async fn create(core: &Core, customer: Uuid, cmd: Move, now: i64) -> Result<Created<Transfer>> {
    if let Some(existing) = earlier(core, customer, &cmd.by).await? {
        return Ok(Created::Existing(existing));
    }
    let amount = Amount::parse(&cmd.amount, cmd.asset.decimals()).map_err(|e| {
        let detail = format!("amount {:?} {e} for {}", cmd.amount, cmd.asset);
        CoreError::amount(&e, detail)
    })?;
    check_requester(core, customer, &cmd.by).await?;
    if cmd.between == Between::OwnProfiles {
        let to = (cmd.to_identity_id.as_deref(), cmd.to_account_id.as_deref());
        identities::check_actor(
            core,
            customer,
            ("to_identity_id", to.0),
            ("to_account_id", to.1),
        )
        .await?;
    }
    if cmd.from == cmd.to {
        return Err(CoreError::invalid(
            "to_profile_id: a transfer needs two different profiles",
        ));
    }
    let (debit, credit) = legs(customer, &cmd, amount.units(cmd.asset), now);
    in_tx!(core.store, |tx| move_in(
        tx,
        cmd.between,
        &debit,
        &credit,
        now
    )
    .await)
}

/// The debit and credit transfers, sharing one group.
fn legs(customer: Uuid, cmd: &Move, units: i64, now: i64) -> (Transfer, Transfer) {
    let group = stableport_domain::new_id();
    let (out, into) = match cmd.between {
        Between::OwnProfiles => (
            TransferKind::InternalTransferDebit,
            TransferKind::InternalTransferCredit,
        ),
        Between::Customers => (
            TransferKind::PaxosTransferDebit,
            TransferKind::PaxosTransferCredit,
        ),
    };
    let mut debit = Transfer::completed(customer, cmd.from, out, cmd.asset, units, group, now);
    debit.ref_id = cmd.by.ref_id.clone();
    debit.identity_id = cmd.by.identity_id.clone();
    debit.account_id = cmd.by.account_id.clone();
    debit.metadata = cmd.by.metadata.clone();
    // The recipient's customer is known once its profile is read.
    let mut credit = Transfer::completed(customer, cmd.to, into, cmd.asset, units, group, now);
    credit.identity_id = cmd.to_identity_id.clone();
    credit.account_id = cmd.to_account_id.clone();
    credit.metadata = cmd.recipient_metadata.clone();
    if cmd.between == Between::OwnProfiles {
        credit.ref_id = cmd.by.ref_id.clone();
    }
    (debit, credit)
}

async fn move_in(
    tx: &mut Tx,
    between: Between,
    debit: &Transfer,
    credit: &Transfer,
    now: i64,
) -> Result<Created<Transfer>> {
    if let Some(existing) = claim_ref(tx, debit).await? {
        return Ok(Created::Existing(existing));
    }
    let customer = debit.customer_id;
    let sender = tx.profile(customer, debit.profile_id).await?;
    profiles::usable(
        &sender.ok_or_else(|| missing("from_profile_id", debit.profile_id, customer))?,
    )?;
    let recipient = recipient(tx, between, customer, credit.profile_id).await?;
    let credit = Transfer {
        customer_id: recipient.customer_id,
        ..credit.clone()
    };
    let worth = usd_cents(debit.units, debit.asset);
    limits::check(tx, customer, debit.kind, worth, now).await?;
    let postings = apply(tx, debit, credit.profile_id).await?;
    let kind = match between {
        Between::OwnProfiles => "internal_transfer",
        Between::Customers => "paxos_transfer",
    };
    tx.entry(customer, kind, debit.id, postings, now);
    debug_assert_eq!(debit.status, TransferStatus::Completed);
    tx.transfer(debit.clone());
    tx.transfer(credit);
    Ok(Created::New(debit.clone()))
}

/// Moves the amount from the debit's profile to `to`, in lock order; the
/// postings made.
async fn apply(tx: &mut Tx, debit: &Transfer, to: Uuid) -> Result<Vec<Posting>> {
    let (from, asset, units) = (debit.profile_id, debit.asset, debit.units);
    let postings = ledger::profile_transfer(from, to, asset, units);
    tx.lock_balances([(from, asset), (to, asset)]).await?;
    match tx.apply(&postings).await? {
        Ok(()) => Ok(postings),
        Err(Refused::Insufficient { available, .. }) => Err(CoreError::InsufficientFunds {
            asset,
            profile: from,
            needed: Amount::from_units(units, asset).to_string(),
            available,
        }),
        Err(Refused::Limit) => Err(CoreError::BalanceLimit),
    }
}

/// The receiving profile: the caller's own for an internal transfer;
/// another customer's for a Paxos transfer. Active either way.
async fn recipient(tx: &mut Tx, between: Between, customer: Uuid, id: Uuid) -> Result<Profile> {
    let found = match between {
        Between::OwnProfiles => tx.profile(customer, id).await?,
        Between::Customers => tx.profile_of_any_customer(id).await?,
    };
    // Another customer's deactivated profile is as good as absent.
    let hidden = |p: &Profile| between == Between::Customers && p.deactivated;
    let found = found.filter(|p| !hidden(p));
    let profile = found.ok_or_else(|| missing("to_profile_id", id, customer))?;
    if between == Between::Customers && profile.customer_id == customer {
        return Err(CoreError::invalid(format!(
            "to_profile_id: profile {id} is one of yours; use POST /v2/transfer/internal"
        )));
    }
    profiles::usable(&profile)?;
    Ok(profile)
}

fn missing(field: &str, id: Uuid, customer: Uuid) -> CoreError {
    CoreError::NotFound(format!(
        "{field}: profile with id {id} not found for customer with id {customer}"
    ))
}
