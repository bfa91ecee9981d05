//! Crypto withdrawal fees: what the server charges (a flat amount in the
//! asset sent, zero unless configured), and guaranteed quotes of it that a
//! withdrawal names by `fee_id` until they expire.

use std::time::Duration;

use stableport_domain::address::validate_address;
use stableport_domain::network::CryptoNetwork;
use stableport_domain::{Amount, Asset};
use stableport_store::Fee;
use uuid::Uuid;

use crate::withdrawals::{sized, CryptoWithdraw, Size};
use crate::{Core, CoreError, Result};

/// The fee schedule.
#[derive(Clone, Copy, Debug)]
pub struct Fees {
    /// Charged on every crypto withdrawal; None is free.
    pub crypto_withdrawal: Option<Amount>,
    /// How long a guaranteed fee holds.
    pub quote_for: Duration,
}

impl Default for Fees {
    fn default() -> Fees {
        Fees {
            crypto_withdrawal: None,
            quote_for: Duration::from_secs(60),
        }
    }
}

pub struct Quote {
    pub asset: Asset,
    pub network: CryptoNetwork,
    pub destination_address: String,
    pub size: Size,
}

/// Guarantees today's fee for a withdrawal like this one.
pub async fn quote(core: &Core, customer: Uuid, q: Quote, now: i64) -> Result<Fee> {
    let address = validate_address(q.network, &q.destination_address)
        .map_err(|e| CoreError::invalid(format!("destination_address: {e}")))?;
    if !q.asset.is_stablecoin() {
        return Err(CoreError::invalid(format!(
            "asset: only stablecoins leave by chain; {} is not one",
            q.asset
        )));
    }
    let fee = core.fees.crypto_withdrawal;
    sized(&q.size, q.asset, q.asset, fee)?;
    let (amount, total) = match q.size {
        Size::Amount(a) => (Some(a), None),
        Size::Total(t) => (None, Some(t)),
    };
    let quoted_for = i64::try_from(core.fees.quote_for.as_micros()).unwrap_or(i64::MAX);
    let fee = Fee {
        id: stableport_domain::new_id(),
        customer_id: customer,
        asset: q.asset,
        crypto_network: q.network.code().to_string(),
        destination_address: address,
        amount,
        total,
        fee_units: fee.map_or(0, |f| f.units(q.asset)),
        expires_at: now.saturating_add(quoted_for),
        created_at: now,
    };
    core.store.insert_fee(&fee).await?;
    Ok(fee)
}

/// The fee a withdrawal's `fee_id` guarantees: the caller's, unexpired, and
/// quoted for this asset, network and address.
pub(crate) async fn guaranteed(
    core: &Core,
    customer: Uuid,
    id: Uuid,
    w: &CryptoWithdraw,
    address: &str,
    now: i64,
) -> Result<Option<Amount>> {
    let fee = core.store.fee(customer, id).await?.ok_or_else(|| {
        CoreError::NotFound(format!(
            "fee_id: fee with id {id} not found for customer with id {customer}"
        ))
    })?;
    if fee.expires_at <= now {
        return Err(CoreError::invalid(format!(
            "fee_id: fee {id} has expired; request a new one"
        )));
    }
    let network = w.network.code();
    if fee.asset != w.asset || fee.crypto_network != network || fee.destination_address != address {
        return Err(CoreError::invalid(format!(
            "fee_id: fee {id} was quoted for {} on {} to {}, not {} on {network} to {address}",
            fee.asset, fee.crypto_network, fee.destination_address, w.asset
        )));
    }
    Ok((fee.fee_units > 0).then(|| Amount::from_units(fee.fee_units, fee.asset)))
}
