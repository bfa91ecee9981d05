//! Money arriving from outside (sandbox): credited once per wire reference
//! or transaction hash, and converted by the rule it reached.

use stableport_domain::address::tx_hash;
use stableport_domain::network::CryptoNetwork;
use stableport_domain::{ledger, Amount, Asset};
use stableport_store::{
    retry_transient, Arrival, ArrivalVia, DepositOutcome, NewDeposit, Transfer, Tx,
};
use uuid::Uuid;

use crate::profiles::{self, ProfileRef};
use crate::{in_tx, Core, CoreError, Result};

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
    retry_transient(|| core.store.record_arrival(&arrival))
        .await
        .map_err(|e| CoreError::or_not_found(e, || missing))
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
    in_tx!(core.store, |tx| credit(tx, &deposit).await)?;
    Ok(activity_id)
}

/// Credits the profile: the deposit's transfer (announced as
/// `transfer.{wire,crypto}_deposit.completed`) and its journal entry.
async fn credit(tx: &mut Tx, d: &NewDeposit) -> Result<()> {
    let postings = ledger::deposit(d.profile_id, d.asset, d.units);
    tx.apply(&postings)
        .await?
        .map_err(|_| CoreError::BalanceLimit)?;
    let kind = match d.asset.is_stablecoin() {
        true => "CRYPTO_DEPOSIT",
        false => "WIRE_DEPOSIT",
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
    tx.transfer(transfer);
    tx.entry(
        d.customer_id,
        "sandbox.deposit",
        d.activity_id,
        postings,
        d.now,
    );
    Ok(())
}
