//! Money arriving from outside (sandbox): credited once per wire reference
//! or transaction hash, and converted by the rule it reached.

use stableport_domain::address::tx_hash;
use stableport_domain::network::{CryptoNetwork, FiatNetwork};
use stableport_domain::{ledger, Account, Amount, Asset, RuleStatus, TransferKind};
use stableport_store::{
    DepositRecord, Destination, NewDeposit, NewOrchestration, Rule, Store, Transfer, Tx,
};
use std::collections::BTreeMap;
use uuid::Uuid;

use crate::orchestrations::{self, Started};
use crate::profiles::{self, ProfileRef};
use crate::{in_tx, transfers, Core, CoreError, Result};

/// A wire to the deposit instructions with `memo_id`.
pub async fn wire(
    core: &Core,
    customer: Uuid,
    memo_id: String,
    reference: Option<String>,
    amount: (Asset, Amount),
    now: i64,
) -> Result<DepositOutcome> {
    let missing = format!(
        "fiat deposit instructions with memo_id {memo_id:?} not found for customer with id {customer}"
    );
    let via = ArrivalVia::Wire { memo_id, reference };
    record(core, customer, via, amount, now, missing).await
}

/// A chain transaction reaching one of our deposit addresses.
pub async fn chain(
    core: &Core,
    customer: Uuid,
    (network, address, tx_hash): (CryptoNetwork, String, String),
    amount: (Asset, Amount),
    now: i64,
) -> Result<DepositOutcome> {
    let missing = format!(
        "deposit address {address:?} on {} not found for customer with id {customer}",
        network.code()
    );
    let via = ArrivalVia::Chain {
        network,
        address,
        tx_hash,
    };
    record(core, customer, via, amount, now, missing).await
}

async fn record(
    core: &Core,
    customer: Uuid,
    via: ArrivalVia,
    (asset, amount): (Asset, Amount),
    now: i64,
    missing: String,
) -> Result<DepositOutcome> {
    let arrival = Arrival {
        customer_id: customer,
        via,
        asset,
        amount,
        now,
        next_step_at: core.settlement.due_at(now),
    };
    let outcome = in_tx!(core.store, |tx| arrive(tx, &arrival).await);
    outcome.map_err(|e| match e {
        CoreError::NotFound(_) => CoreError::NotFound(missing.clone()),
        other => other,
    })
}

/// Money arriving (sandbox): on a chain to an address, or by wire to a memo.
#[derive(Clone, Debug)]
pub struct Arrival {
    pub customer_id: Uuid,
    pub via: ArrivalVia,
    pub asset: Asset,
    pub amount: Amount,
    pub now: i64,
    /// When an orchestration it starts may be delivered (None: held).
    pub next_step_at: Option<i64>,
}

#[derive(Clone, Debug)]
pub enum ArrivalVia {
    Chain {
        network: CryptoNetwork,
        address: String,
        tx_hash: String,
    },
    Wire {
        memo_id: String,
        reference: Option<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DepositOutcome {
    pub transfer_id: Uuid,
    pub orchestration_id: Option<Uuid>,
    /// True when this deposit had been reported before and nothing changed.
    pub duplicate: bool,
}

/// Where a deposit landed: whose it is, how its transfer reads, what it
/// may start, and the key it is credited once under.
struct Landing {
    profile: Uuid,
    rule: Option<Uuid>,
    /// A deposit address that converts stablecoins to USD in its profile.
    to_usd: Option<Uuid>,
    from: Account,
    transfer: Transfer,
    dedupe_key: String,
}

/// Credits a deposit once per chain transaction or wire reference and, when
/// it reached an ACTIVE rule with a matching asset, starts the rule's
/// orchestration in the same transaction: money is never credited without
/// its conversion starting, nor the other way round.
async fn arrive(tx: &mut Tx, arrival: &Arrival) -> Result<DepositOutcome> {
    let mut landing = land(tx, arrival).await?;
    let deposit_id = stableport_domain::new_id();
    let rule = match landing.rule {
        Some(id) => tx.rule(arrival.customer_id, id).await?,
        None => None,
    };
    let follow_up = follow_up(arrival, rule.as_ref(), landing.to_usd, deposit_id);
    let record = DepositRecord {
        id: deposit_id,
        customer_id: arrival.customer_id,
        dedupe_key: landing.dedupe_key.clone(),
        transfer_id: landing.transfer.id,
        orchestration_id: follow_up.as_ref().map(|o| o.id),
        now: arrival.now,
    };
    if !tx.insert_deposit(&record).await? {
        return seen_before(tx, &landing.dedupe_key).await;
    }
    let units = arrival.amount.units(arrival.asset);
    let postings = ledger::arrival(landing.from, landing.profile, arrival.asset, units);
    tx.apply(&postings)
        .await?
        .map_err(|_| CoreError::BalanceLimit)?;
    landing.transfer.group_id = Some(deposit_id.to_string());
    let transfer_id = landing.transfer.id;
    transfers::record(tx, landing.transfer);
    tx.entry(
        arrival.customer_id,
        "deposit",
        deposit_id,
        postings,
        arrival.now,
    );
    let orchestration_id = match follow_up {
        None => None,
        Some(o) => match orchestrations::start_in(tx, &o).await? {
            Started::Created(created) => Some(created.id),
            _ => {
                return Err(CoreError::Internal(format!(
                    "deposit {deposit_id} could not start its orchestration"
                )))
            }
        },
    };
    Ok(DepositOutcome {
        transfer_id,
        orchestration_id,
        duplicate: false,
    })
}

/// A repeated report: what the first one recorded; nothing is written.
async fn seen_before(tx: &mut Tx, key: &str) -> Result<DepositOutcome> {
    let (transfer_id, orchestration_id) = (tx.deposit_by_key(key).await?)
        .ok_or_else(|| CoreError::Internal(format!("deposit {key:?} vanished")))?;
    Ok(DepositOutcome {
        transfer_id,
        orchestration_id,
        duplicate: true,
    })
}

/// The address or memo it reached; NotFound when it is not the customer's.
async fn land(tx: &mut Tx, arrival: &Arrival) -> Result<Landing> {
    match &arrival.via {
        ArrivalVia::Chain {
            network,
            address,
            tx_hash,
        } => on_chain(tx, arrival, *network, address, tx_hash).await,
        ArrivalVia::Wire { memo_id, reference } => by_wire(tx, arrival, memo_id, reference).await,
    }
}

fn target_not_found() -> CoreError {
    CoreError::NotFound("deposit target not found".into())
}

/// At one of our deposit addresses: once per transaction hash and address.
async fn on_chain(
    tx: &mut Tx,
    arrival: &Arrival,
    network: CryptoNetwork,
    address: &str,
    tx_hash: &str,
) -> Result<Landing> {
    let customer = arrival.customer_id;
    let a =
        (tx.deposit_address_at(customer, network, address).await?).ok_or_else(target_not_found)?;
    let units = arrival.amount.units(arrival.asset);
    let mut t = Transfer::completed(
        customer,
        a.profile_id,
        TransferKind::CryptoDeposit,
        arrival.asset,
        units,
        Uuid::nil(),
        arrival.now,
    );
    t.crypto_network = Some(network.code().to_string());
    t.crypto_tx_hash = Some(tx_hash.to_string());
    t.destination_address = Some(a.address.clone());
    t.identity_id = a.identity_id.clone();
    t.account_id = a.account_id.clone();
    t.metadata = a.metadata.clone();
    Ok(Landing {
        profile: a.profile_id,
        rule: a.rule_id,
        to_usd: (a.conversion_target_asset == "USD").then_some(a.profile_id),
        from: Account::Chain(network),
        dedupe_key: format!("chain:{}:{tx_hash}:{}", network.code(), a.address),
        transfer: t,
    })
}

/// To one of our memos: once per wire reference (without one, every report
/// is a new wire).
async fn by_wire(
    tx: &mut Tx,
    arrival: &Arrival,
    memo_id: &str,
    reference: &Option<String>,
) -> Result<Landing> {
    let customer = arrival.customer_id;
    let i = (tx.instructions_by_memo(customer, memo_id).await?).ok_or_else(target_not_found)?;
    let kind = match i.network {
        FiatNetwork::Cubix => TransferKind::CubixDeposit,
        _ => TransferKind::WireDeposit,
    };
    let units = arrival.amount.units(arrival.asset);
    let mut t = Transfer::completed(
        customer,
        i.profile_id,
        kind,
        arrival.asset,
        units,
        Uuid::nil(),
        arrival.now,
    );
    t.memo = Some(i.memo_id.clone());
    t.identity_id = i.identity_id.clone();
    t.account_id = i.account_id.clone();
    t.metadata = i.metadata.clone();
    let dedupe_key = match reference {
        Some(r) => format!("wire:{customer}:{r}"),
        None => format!("wire:{}", t.id),
    };
    Ok(Landing {
        profile: i.profile_id,
        rule: i.rule_id,
        to_usd: None,
        from: Account::Bank(i.network.code()),
        dedupe_key,
        transfer: t,
    })
}

/// The orchestration a deposit starts, if any: an ACTIVE rule whose asset
/// matches, or an address that converts stablecoins to USD. Deposits that
/// match neither (a DELETED rule, another asset, an amount finer than the
/// pair's precision) are credited unconverted.
fn follow_up(
    arrival: &Arrival,
    rule: Option<&Rule>,
    to_usd: Option<Uuid>,
    deposit_id: Uuid,
) -> Option<NewOrchestration> {
    let (profile, identity, account, destination, destination_asset, rule_id) = match (rule, to_usd)
    {
        (Some(r), _) if r.status == RuleStatus::Active && r.source_asset == arrival.asset => (
            r.profile_id,
            r.identity_id.clone(),
            r.account_id.clone(),
            r.destination.clone(),
            r.destination_asset,
            Some(r.id),
        ),
        (None, Some(profile)) if arrival.asset.is_stablecoin() => (
            profile,
            None,
            None,
            Destination::Profile(profile),
            Asset::Usd,
            None,
        ),
        _ => return None,
    };
    let decimals = arrival.asset.decimals().min(destination_asset.decimals());
    let amount = Amount::parse(&arrival.amount.to_string(), decimals).ok()?;
    let zero = || stableport_domain::ZERO_UUID.to_string();
    Some(NewOrchestration {
        id: stableport_domain::new_id(),
        customer_id: arrival.customer_id,
        profile_id: profile,
        identity_id: identity.unwrap_or_else(zero),
        account_id: account.unwrap_or_else(zero),
        ref_id: format!("deposit-{deposit_id}"),
        source_asset: arrival.asset,
        destination_asset,
        source_amount: amount.to_string(),
        source_units: amount.units(arrival.asset),
        destination_units: amount.units(destination_asset),
        destination,
        rule_id,
        metadata: None,
        now: arrival.now,
        next_step_at: arrival.next_step_at,
    })
}

/// Paxos's sandbox deposit to a profile. To one of our deposit addresses it
/// arrives as a chain transaction would (its rule converts it); otherwise the
/// profile is credited. Returns the activity id.
pub async fn to_profile(
    core: &Core,
    customer: Uuid,
    profile: ProfileRef,
    on_chain: Option<(CryptoNetwork, Option<String>)>,
    amount: (Asset, Amount),
    now: i64,
) -> Result<Uuid> {
    let profile = profiles::owned(core, customer, profile).await?;
    let activity_id = stableport_domain::new_id();
    if let Some((network, Some(address))) = &on_chain {
        let ours = core
            .store
            .deposit_address_at(customer, *network, address)
            .await?;
        if let Some(target) = ours {
            if target.profile_id != profile.id {
                return Err(CoreError::invalid(format!(
                    "crypto_address {address} is a deposit address of profile {}, not of {}",
                    target.profile_id, profile.id
                )));
            }
            let hash = tx_hash(*network, activity_id.as_bytes());
            let chained = (*network, address.clone(), hash);
            let outcome = chain(core, customer, chained, amount, now).await?;
            return Ok(outcome.transfer_id);
        }
    }
    let (asset, amount) = amount;
    let deposit = NewDeposit {
        activity_id,
        crypto_network: on_chain.map(|(n, _)| n.code().to_string()),
        customer_id: customer,
        profile_id: profile.id,
        asset,
        units: amount.units(asset),
        now,
    };
    core.deposits.submit(deposit).await?;
    Ok(activity_id)
}

/// Credits deposits in one transaction (group commit), their credits summed
/// per balance. One that would pass a balance's maximum fails the batch,
/// which the batcher then commits one by one: only that one is refused.
pub async fn credit_batch(store: &dyn Store, batch: &[NewDeposit]) -> Result<Vec<()>> {
    in_tx!(store, |tx| credit_all(tx, batch).await)
}

async fn credit_all(tx: &mut Tx, batch: &[NewDeposit]) -> Result<Vec<()>> {
    let mut sums: BTreeMap<(Uuid, Asset), i64> = BTreeMap::new();
    for d in batch {
        let sum = sums.entry((d.profile_id, d.asset)).or_default();
        *sum = sum.checked_add(d.units).ok_or(CoreError::BalanceLimit)?;
    }
    let credits: Vec<(Uuid, Asset, i64)> = sums.into_iter().map(|((p, a), u)| (p, a, u)).collect();
    if tx.change_balances(&credits).await?.contains(&false) {
        return Err(CoreError::BalanceLimit);
    }
    for d in batch {
        record_credit(tx, d, ledger::deposit(d.profile_id, d.asset, d.units));
    }
    Ok(vec![(); batch.len()])
}

/// The deposit's transfer (announced as `transfer.{wire,crypto}_deposit.completed`)
/// and its journal entry, its postings already applied.
fn record_credit(tx: &mut Tx, d: &NewDeposit, postings: Vec<stableport_domain::Posting>) {
    let kind = match d.asset.is_stablecoin() {
        true => TransferKind::CryptoDeposit,
        false => TransferKind::WireDeposit,
    };
    let group = d.activity_id;
    let mut transfer = Transfer::completed(
        d.customer_id,
        d.profile_id,
        kind,
        d.asset,
        d.units,
        group,
        d.now,
    );
    transfer.id = d.activity_id;
    transfer.crypto_network = d.crypto_network.clone();
    transfers::record(tx, transfer);
    tx.entry(
        d.customer_id,
        "sandbox.deposit",
        d.activity_id,
        postings,
        d.now,
    );
}
