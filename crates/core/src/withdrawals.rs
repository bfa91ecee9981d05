//! Withdrawals: money leaving a profile for a crypto address or a bank
//! account. Created PENDING with the total (amount and fee, in the balance
//! asset) debited into an in-flight account; then sent by the settler (or a
//! sandbox call): COMPLETED with the amount gone to the chain or bank and
//! the fee kept, or FAILED with everything refunded. Each step is a guarded
//! status move committed with its postings and `transfer.*` event.

use std::str::FromStr;

use stableport_domain::address::{tx_hash, validate_address};
use stableport_domain::amount::usd_cents;
use stableport_domain::ledger::{self, Account, Withdrawal};
use stableport_domain::network::{CryptoNetwork, FiatNetwork};
use stableport_domain::{
    Amount, ApprovalAction, ApprovalStatus, Asset, TransferKind, TransferStatus,
};
use stableport_store::{CryptoAddressFilter, Destination, Refused, Store, Transfer, Tx};
use uuid::Uuid;

use crate::approvals::{self, Subject};
use crate::destinations::{self, Named};
use crate::profiles::{self, ProfileRef};
use crate::{fees, identities, in_tx, limits, transfers, Core, CoreError, Created, Result};

/// How a request sizes a withdrawal: exactly one of the two.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Size {
    /// What arrives; the fee comes on top.
    Amount(String),
    /// What leaves the balance; the fee comes out of it.
    Total(String),
}

/// Who asks, for the transfer's record.
#[derive(Clone, Debug)]
pub struct Requester {
    pub ref_id: Option<String>,
    pub identity_id: Option<String>,
    pub account_id: Option<String>,
    /// JSON, already checked.
    pub metadata: Option<String>,
    /// The request's names of the identity and account fields.
    pub fields: (&'static str, &'static str),
    /// The credential's user (None: a machine credential), who submits it
    /// for approval.
    pub user: Option<Uuid>,
}

pub struct CryptoWithdraw {
    pub by: Requester,
    pub profile: Uuid,
    pub asset: Asset,
    /// The balance debited, when not `asset`: USD, converted on the way out.
    pub balance_asset: Option<Asset>,
    pub network: CryptoNetwork,
    pub destination_address: String,
    pub size: Size,
    pub fee_id: Option<Uuid>,
    pub memo: Option<String>,
}

pub struct FiatWithdraw {
    pub by: Requester,
    pub profile: Uuid,
    pub asset: Asset,
    pub fiat_account: Uuid,
    pub size: Size,
    pub memo: Option<String>,
}

/// The longest memo a chain carries (Stellar's text memo is 28 bytes).
const MAX_STELLAR_MEMO: usize = 28;
const MAX_CHAIN_MEMO: usize = 100;
/// A wire's reference line.
const MAX_WIRE_MEMO: usize = 100;

pub async fn crypto(
    core: &Core,
    customer: Uuid,
    cmd: CryptoWithdraw,
    now: i64,
) -> Result<Created<Transfer>> {
    if let Some(existing) = earlier(core, customer, &cmd.by).await? {
        return Ok(Created::Existing(existing));
    }
    let balance = cmd.balance_asset.unwrap_or(cmd.asset);
    check_crypto_assets(cmd.asset, balance)?;
    let address = validate_address(cmd.network, &cmd.destination_address)
        .map_err(|e| CoreError::invalid(format!("destination_address: {e}")))?;
    check_chain_memo(cmd.network, cmd.memo.as_deref())?;
    let fee = match cmd.fee_id {
        Some(id) => fees::guaranteed(core, customer, id, &cmd, &address, now).await?,
        None => core.fees.crypto_withdrawal,
    };
    let sized = sized(&cmd.size, cmd.asset, balance, fee)?;
    let profile = profiles::owned(core, customer, ProfileRef::Id(cmd.profile)).await?;
    check_requester(core, customer, &cmd.by).await?;
    let mut t = pending(
        customer,
        profile.id,
        TransferKind::CryptoWithdrawal,
        &cmd.by,
    );
    t.destination_address = Some(address);
    t.crypto_network = Some(cmd.network.code().to_string());
    t.memo = cmd.memo;
    start(core, t, sized, &cmd.by, now).await
}

pub async fn fiat(
    core: &Core,
    customer: Uuid,
    cmd: FiatWithdraw,
    now: i64,
) -> Result<Created<Transfer>> {
    if let Some(existing) = earlier(core, customer, &cmd.by).await? {
        return Ok(Created::Existing(existing));
    }
    if cmd.asset != Asset::Usd {
        return Err(CoreError::invalid(format!(
            "asset: fiat withdrawals are in USD, not {}",
            cmd.asset
        )));
    }
    if cmd
        .memo
        .as_ref()
        .is_some_and(|m| m.chars().count() > MAX_WIRE_MEMO)
    {
        return Err(CoreError::invalid(format!(
            "memo must be at most {MAX_WIRE_MEMO} characters"
        )));
    }
    let named = Named::Fiat {
        account: cmd.fiat_account,
        memo: None,
    };
    let Destination::Fiat { network, .. } = destinations::resolve(core, customer, named).await?
    else {
        return Err(CoreError::Internal(
            "a fiat account resolved to another kind".into(),
        ));
    };
    let kind = match network.as_str() {
        "CUBIX" => TransferKind::CubixWithdrawal,
        _ => TransferKind::WireWithdrawal,
    };
    let sized = sized(&cmd.size, Asset::Usd, Asset::Usd, None)?;
    let profile = profiles::owned(core, customer, ProfileRef::Id(cmd.profile)).await?;
    check_requester(core, customer, &cmd.by).await?;
    let mut t = pending(customer, profile.id, kind, &cmd.by);
    t.fiat_account_id = Some(cmd.fiat_account.to_string());
    t.memo = cmd.memo;
    start(core, t, sized, &cmd.by, now).await
}

/// The transfer an earlier request with this ref_id made, if any: a retry
/// gets it whatever has changed since.
pub(crate) async fn earlier(
    core: &Core,
    customer: Uuid,
    by: &Requester,
) -> Result<Option<Transfer>> {
    match &by.ref_id {
        Some(ref_id) => Ok(core.store.transfer_by_ref(customer, ref_id).await?),
        None => Ok(None),
    }
}

/// The identity and account a request names must be the customer's and APPROVED.
pub(crate) async fn check_requester(core: &Core, customer: Uuid, by: &Requester) -> Result<()> {
    identities::check_actor(
        core,
        customer,
        (by.fields.0, by.identity_id.as_deref()),
        (by.fields.1, by.account_id.as_deref()),
    )
    .await
}

fn check_crypto_assets(asset: Asset, balance: Asset) -> Result<()> {
    if !asset.is_stablecoin() {
        return Err(CoreError::invalid(format!(
            "asset: only stablecoins leave by chain; {asset} is not one"
        )));
    }
    if balance != asset && balance != Asset::Usd {
        return Err(CoreError::invalid(format!(
            "balance_asset: a withdrawal of {asset} debits {asset} or USD, not {balance}"
        )));
    }
    Ok(())
}

fn check_chain_memo(network: CryptoNetwork, memo: Option<&str>) -> Result<()> {
    let Some(memo) = memo else { return Ok(()) };
    let max = match network {
        CryptoNetwork::Stellar => MAX_STELLAR_MEMO,
        CryptoNetwork::Solana => MAX_CHAIN_MEMO,
        _ => {
            return Err(CoreError::invalid(format!(
                "memo: {network} transactions carry no memo; only STELLAR and SOLANA do"
            )))
        }
    };
    if memo.len() > max {
        return Err(CoreError::invalid(format!(
            "memo: at most {max} bytes on {network}"
        )));
    }
    Ok(())
}

/// Sizes a withdrawal of `asset` from a `balance` balance with `fee`: what
/// is sent, the fee, and what the balance gives, exact in both assets (the
/// amounts in the coarser precision of the two).
pub fn sized(size: &Size, asset: Asset, balance: Asset, fee: Option<Amount>) -> Result<Withdrawal> {
    let decimals = asset.decimals().min(balance.decimals());
    let (field, text) = match size {
        Size::Amount(text) => ("amount", text),
        Size::Total(text) => ("total", text),
    };
    let given = Amount::parse(text, decimals).map_err(|e| {
        let pair = match asset == balance {
            true => asset.to_string(),
            false => format!("{balance} -> {asset}"),
        };
        CoreError::amount(&e, format!("{field} {text:?} {e} for {pair}"))
    })?;
    if let Some(fee) = fee {
        if Amount::parse(&fee.to_string(), decimals).is_err() {
            return Err(CoreError::invalid(format!(
                "the fee of {fee} {asset} is finer than a {balance} balance can pay"
            )));
        }
    }
    let fee_units = fee.map_or(0, |f| f.units(balance));
    let given_units = given.units(balance);
    let (sent_units, total_units) = match size {
        Size::Amount(_) => (given_units, given_units + fee_units),
        Size::Total(_) => (given_units - fee_units, given_units),
    };
    if sent_units <= 0 {
        let fee = fee.map_or("0".into(), |f| f.to_string());
        return Err(CoreError::invalid(format!(
            "total {text:?} does not cover the fee of {fee} {asset}"
        )));
    }
    Ok(Withdrawal {
        balance,
        balance_units: total_units,
        asset,
        units: Amount::from_units(sent_units, balance).units(asset),
        fee_units,
    })
}

fn pending(customer: Uuid, profile: Uuid, kind: TransferKind, by: &Requester) -> Transfer {
    let mut t = Transfer::completed(customer, profile, kind, Asset::Usd, 0, Uuid::nil(), 0);
    t.status = TransferStatus::Pending;
    t.group_id = None;
    t.ref_id = by.ref_id.clone();
    t.identity_id = by.identity_id.clone();
    t.account_id = by.account_id.clone();
    t.metadata = by.metadata.clone();
    t
}

/// Debits and records a PENDING withdrawal, or answers a racing retry.
async fn start(
    core: &Core,
    mut t: Transfer,
    w: Withdrawal,
    by: &Requester,
    now: i64,
) -> Result<Created<Transfer>> {
    t.asset = w.asset;
    t.units = w.units;
    t.fee_units = Amount::from_units(w.fee_units, w.balance).units(w.asset);
    t.balance = Some((w.balance, w.balance_units));
    t.created_at = now;
    t.updated_at = now;
    t.next_step_at = core.settlement.due_at(now);
    in_tx!(core.store, |tx| start_in(tx, &t, w, by.user, now).await)
}

/// Under an enabled policy the funds are held all the same, but nothing is
/// sent until the request is approved (`next_step_at` unset).
async fn start_in(
    tx: &mut Tx,
    t: &Transfer,
    w: Withdrawal,
    submitter: Option<Uuid>,
    now: i64,
) -> Result<Created<Transfer>> {
    if let Some(existing) = claim_ref(tx, t).await? {
        return Ok(Created::Existing(existing));
    }
    let profile = tx.profile(t.customer_id, t.profile_id).await?;
    let profile = profile.ok_or_else(|| CoreError::Internal("profile vanished".into()))?;
    profiles::usable(&profile)?;
    let worth = usd_cents(w.balance_units, w.balance);
    limits::check(tx, t.customer_id, t.kind, worth, now).await?;
    let postings = ledger::withdrawal_started(t.profile_id, w.balance, w.balance_units);
    if let Err(Refused::Insufficient { available, .. }) = tx.apply(&postings).await? {
        return Err(CoreError::InsufficientFunds {
            asset: w.balance,
            profile: t.profile_id,
            needed: Amount::from_units(w.balance_units, w.balance).to_string(),
            available,
        });
    }
    tx.entry(t.customer_id, kind_of_entry(t.kind), t.id, postings, now);
    let action = match t.kind {
        TransferKind::CryptoWithdrawal => ApprovalAction::CreateCryptoWithdrawal,
        _ => ApprovalAction::CreateFiatWithdrawal,
    };
    let subject = Subject {
        amount_cents: Some(worth),
        ..Subject::new(action, t.id)
    };
    let mut t = t.clone();
    if approvals::submit(tx, t.customer_id, submitter, subject, now)
        .await?
        .is_some()
    {
        t.next_step_at = None;
    }
    transfers::record(tx, t.clone());
    Ok(Created::New(t))
}

/// A withdrawal whose approval was rejected or cancelled: FAILED, with its
/// funds back.
pub(crate) async fn release(
    tx: &mut Tx,
    customer: Uuid,
    id: Uuid,
    outcome: ApprovalStatus,
    now: i64,
) -> Result<()> {
    let t = tx.transfer_for_update(customer, id).await?;
    let t = t.ok_or_else(|| CoreError::Internal(format!("withdrawal {id} vanished")))?;
    tx.lock_balances(refund_key(&t)).await?;
    let reason = format!("its approval was {}", outcome.as_str().to_ascii_lowercase());
    finish(tx, &t, Some(reason), now).await?;
    Ok(())
}

/// Takes the request's ref_id for `t`; the transfer of the request that
/// took it first, when one did.
pub(crate) async fn claim_ref(tx: &mut Tx, t: &Transfer) -> Result<Option<Transfer>> {
    let Some(ref_id) = &t.ref_id else {
        return Ok(None);
    };
    if tx.claim_transfer_ref(t.customer_id, ref_id, t.id).await? {
        return Ok(None);
    }
    let existing = tx.transfer_by_request_ref(t.customer_id, ref_id).await?;
    let vanished = || CoreError::Internal(format!("transfer with ref_id {ref_id:?} vanished"));
    Ok(Some(existing.ok_or_else(vanished)?))
}

fn kind_of_entry(kind: TransferKind) -> &'static str {
    match kind {
        TransferKind::CryptoWithdrawal => "crypto_withdrawal",
        _ => "fiat_withdrawal",
    }
}

/// Sends or fails up to `limit` withdrawals whose time has come; returns
/// how many finished. Safe on every replica at once.
pub async fn advance(store: &dyn Store, now: i64, limit: i64) -> Result<usize> {
    if !store.transfers_due(now).await? {
        return Ok(0);
    }
    in_tx!(store, |tx| advance_in(tx, store, now, limit).await)
}

async fn advance_in(tx: &mut Tx, store: &dyn Store, now: i64, limit: i64) -> Result<usize> {
    let due = tx.claim_due_transfers(now, limit).await?;
    tx.lock_balances(due.iter().filter_map(refund_key)).await?;
    let mut finished = 0;
    for t in &due {
        let failure = blocker(store, t).await?;
        if finish(tx, t, failure, now).await?.is_some() {
            finished += 1;
        }
    }
    Ok(finished)
}

fn refund_key(t: &Transfer) -> Option<(Uuid, Asset)> {
    t.balance.map(|(asset, _)| (t.profile_id, asset))
}

/// What a sandbox call decides for a PENDING withdrawal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Complete,
    Fail,
}

/// Sandbox: sends or fails a PENDING withdrawal now.
pub async fn decide(
    core: &Core,
    customer: Uuid,
    id: Uuid,
    decision: Decision,
    now: i64,
) -> Result<Transfer> {
    in_tx!(core.store, |tx| decide_in(tx, customer, id, decision, now)
        .await)
}

async fn decide_in(
    tx: &mut Tx,
    customer: Uuid,
    id: Uuid,
    decision: Decision,
    now: i64,
) -> Result<Transfer> {
    let t = tx.transfer_for_update(customer, id).await?.ok_or_else(|| {
        CoreError::NotFound(format!(
            "transfer with id {id} not found for customer with id {customer}"
        ))
    })?;
    if t.status != TransferStatus::Pending || t.balance.is_none() {
        return Err(CoreError::Conflict(format!(
            "transfer {id} is a {} {}; only a PENDING withdrawal can be completed or failed",
            t.status, t.kind
        )));
    }
    if let Some(request) = tx.open_approval_request(customer, id).await? {
        return Err(CoreError::Conflict(format!(
            "transfer {id} awaits approval request {}; it is sent once approved",
            request.id
        )));
    }
    let failure = match decision {
        Decision::Complete => None,
        Decision::Fail => Some("failed by a sandbox call".to_string()),
    };
    tx.lock_balances(refund_key(&t)).await?;
    let done = finish(tx, &t, failure, now).await?;
    done.ok_or_else(|| CoreError::Conflict(format!("transfer {id} finished meanwhile")))
}

/// Why a withdrawal must fail, if it must: its destination's state decides.
async fn blocker(store: &dyn Store, t: &Transfer) -> Result<Option<String>> {
    if let Some(account) = &t.fiat_account_id {
        let id = Uuid::parse_str(account).map_err(|e| CoreError::Internal(e.to_string()))?;
        return Ok(match store.fiat_account(t.customer_id, id).await? {
            None => Some(format!("fiat account {id} no longer exists")),
            Some(a) if !a.is_usable() => Some(format!("fiat account {id} is {}", a.status)),
            Some(a) if a.fail_withdrawals => {
                Some(format!("the bank returned the withdrawal to {id}"))
            }
            Some(_) => None,
        });
    }
    let (Some(network), Some(address)) = (&t.crypto_network, &t.destination_address) else {
        return Ok(None);
    };
    let filter = CryptoAddressFilter::matching(network, address);
    let known = store.list_crypto_addresses(t.customer_id, &filter).await?;
    Ok(known
        .iter()
        .any(|a| a.fail_withdrawals)
        .then(|| format!("the {network} transaction to {address} failed")))
}

/// Completes (failure None) or fails a PENDING withdrawal with its postings
/// and event; None when it was no longer PENDING.
async fn finish(
    tx: &mut Tx,
    t: &Transfer,
    failure: Option<String>,
    now: i64,
) -> Result<Option<Transfer>> {
    let (balance, balance_units) = t
        .balance
        .ok_or_else(|| CoreError::Internal(format!("withdrawal {} has no balance asset", t.id)))?;
    let (status, hash) = match (&failure, network_of(t)?) {
        (Some(_), _) => (TransferStatus::Failed, None),
        (None, Some(network)) => (
            TransferStatus::Completed,
            Some(tx_hash(network, t.id.as_bytes())),
        ),
        (None, None) => (TransferStatus::Completed, None),
    };
    let Some(done) = tx.finish_transfer(t.id, status, hash, now).await? else {
        return Ok(None);
    };
    let postings = match failure {
        Some(reason) => {
            tracing::info!(transfer = %t.id, %reason, "withdrawal failed");
            let refund = ledger::withdrawal_failed(t.profile_id, balance, balance_units);
            tx.apply(&refund)
                .await?
                .map_err(|_| CoreError::BalanceLimit)?;
            refund
        }
        None => {
            let fee_units = Amount::from_units(t.fee_units, t.asset).units(balance);
            let w = Withdrawal {
                balance,
                balance_units,
                asset: t.asset,
                units: t.units,
                fee_units,
            };
            ledger::withdrawal_completed(w, destination_account(t)?)
        }
    };
    let kind = match status {
        TransferStatus::Completed => "withdrawal_completed",
        _ => "withdrawal_failed",
    };
    tx.entry(t.customer_id, kind, t.id, postings, now);
    transfers::announce(tx, &done);
    Ok(Some(done))
}

fn network_of(t: &Transfer) -> Result<Option<CryptoNetwork>> {
    t.crypto_network
        .as_deref()
        .map(CryptoNetwork::from_str)
        .transpose()
        .map_err(|e| CoreError::Internal(e.to_string()))
}

fn destination_account(t: &Transfer) -> Result<Account> {
    if let Some(network) = network_of(t)? {
        return Ok(Account::Chain(network));
    }
    let network = match t.kind {
        TransferKind::CubixWithdrawal => FiatNetwork::Cubix,
        _ => FiatNetwork::Wire,
    };
    Ok(Account::Bank(network.code()))
}
