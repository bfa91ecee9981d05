//! Double-entry postings. Every movement is one journal entry whose postings
//! sum to zero per asset; a positive posting increases the account's balance.
//! System accounts stand for the outside world (issuance: assets entering or
//! leaving circulation) and for funds in flight between two states.

use std::fmt;

use uuid::Uuid;

use crate::network::CryptoNetwork;
use crate::Asset;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Account {
    Profile(Uuid),
    /// Where deposits come from and redeemed assets go back to.
    Issuance,
    /// Source funds of conversions that are CREATED but not yet settled.
    ConversionsInFlight,
    /// Source funds of orchestrations that are PROCESSING.
    OrchestrationsInFlight,
    /// Withdrawals that are PENDING: debited, not yet sent.
    WithdrawalsInFlight,
    /// Fees charged on withdrawals.
    Fees,
    /// Funds that left for a bank account over a fiat network (WIRE, CUBIX).
    Bank(&'static str),
    /// Funds that left for an address on a blockchain.
    Chain(CryptoNetwork),
}

impl Account {
    /// The account's key in the postings table.
    pub fn key(&self) -> String {
        self.to_string()
    }

    pub fn profile_id(&self) -> Option<Uuid> {
        match self {
            Account::Profile(id) => Some(*id),
            _ => None,
        }
    }
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Account::Profile(id) => write!(f, "profile:{id}"),
            Account::Issuance => f.write_str("system:issuance"),
            Account::ConversionsInFlight => f.write_str("system:conversions_in_flight"),
            Account::OrchestrationsInFlight => f.write_str("system:orchestrations_in_flight"),
            Account::WithdrawalsInFlight => f.write_str("system:withdrawals_in_flight"),
            Account::Fees => f.write_str("system:fees"),
            Account::Bank(network) => write!(f, "system:bank:{network}"),
            Account::Chain(network) => write!(f, "system:chain:{}", network.code()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Posting {
    pub account: Account,
    pub asset: Asset,
    pub units: i64,
}

/// Moves `units` of `asset` from one account to another: two postings.
pub fn transfer(from: Account, to: Account, asset: Asset, units: i64) -> [Posting; 2] {
    [
        Posting {
            account: from,
            asset,
            units: -units,
        },
        Posting {
            account: to,
            asset,
            units,
        },
    ]
}

/// A sandbox deposit: new money enters the profile from outside.
pub fn deposit(profile: Uuid, asset: Asset, units: i64) -> Vec<Posting> {
    transfer(Account::Issuance, Account::Profile(profile), asset, units).to_vec()
}

/// Money arrives from outside (a chain or a bank) into a profile.
pub fn arrival(from: Account, profile: Uuid, asset: Asset, units: i64) -> Vec<Posting> {
    transfer(from, Account::Profile(profile), asset, units).to_vec()
}

/// A conversion is requested: the source leaves the profile at once.
pub fn conversion_created(profile: Uuid, source: Asset, units: i64) -> Vec<Posting> {
    transfer(
        Account::Profile(profile),
        Account::ConversionsInFlight,
        source,
        units,
    )
    .to_vec()
}

/// A conversion settles: the source is redeemed, the target issued 1:1 to
/// the recipient.
pub fn conversion_settled(
    recipient: Uuid,
    source: Asset,
    source_units: i64,
    target: Asset,
    target_units: i64,
) -> Vec<Posting> {
    let mut postings = transfer(
        Account::ConversionsInFlight,
        Account::Issuance,
        source,
        source_units,
    )
    .to_vec();
    postings.extend(transfer(
        Account::Issuance,
        Account::Profile(recipient),
        target,
        target_units,
    ));
    postings
}

/// A conversion is cancelled: the source returns to the profile.
pub fn conversion_cancelled(profile: Uuid, source: Asset, units: i64) -> Vec<Posting> {
    transfer(
        Account::ConversionsInFlight,
        Account::Profile(profile),
        source,
        units,
    )
    .to_vec()
}

/// An orchestration starts: the source leaves the profile at once.
pub fn orchestration_started(profile: Uuid, source: Asset, units: i64) -> Vec<Posting> {
    transfer(
        Account::Profile(profile),
        Account::OrchestrationsInFlight,
        source,
        units,
    )
    .to_vec()
}

/// An orchestration completes: the source is converted 1:1 (redeemed and the
/// destination asset issued, unless they are the same asset) and delivered.
pub fn orchestration_completed(
    source: Asset,
    source_units: i64,
    destination: Asset,
    destination_units: i64,
    to: Account,
) -> Vec<Posting> {
    if source == destination {
        return transfer(Account::OrchestrationsInFlight, to, source, source_units).to_vec();
    }
    let mut postings = transfer(
        Account::OrchestrationsInFlight,
        Account::Issuance,
        source,
        source_units,
    )
    .to_vec();
    postings.extend(transfer(
        Account::Issuance,
        to,
        destination,
        destination_units,
    ));
    postings
}

/// An orchestration fails: the source returns to the profile unconverted.
pub fn orchestration_failed(profile: Uuid, source: Asset, units: i64) -> Vec<Posting> {
    transfer(
        Account::OrchestrationsInFlight,
        Account::Profile(profile),
        source,
        units,
    )
    .to_vec()
}

/// A withdrawal is requested: its total (amount and fee, in the balance
/// asset) leaves the profile at once.
pub fn withdrawal_started(profile: Uuid, balance: Asset, total_units: i64) -> Vec<Posting> {
    transfer(
        Account::Profile(profile),
        Account::WithdrawalsInFlight,
        balance,
        total_units,
    )
    .to_vec()
}

/// What a sent withdrawal is: how much of which balance it holds, and what
/// leaves (the asset and amount) and what is kept as its fee.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Withdrawal {
    pub balance: Asset,
    pub balance_units: i64,
    pub asset: Asset,
    pub units: i64,
    /// In the balance asset.
    pub fee_units: i64,
}

/// A withdrawal is sent: the fee is kept, the rest leaves for `to`,
/// converted 1:1 when the asset differs from the balance debited.
pub fn withdrawal_completed(w: Withdrawal, to: Account) -> Vec<Posting> {
    let sent = w.balance_units - w.fee_units;
    let mut postings = Vec::new();
    if w.fee_units > 0 {
        postings.extend(transfer(
            Account::WithdrawalsInFlight,
            Account::Fees,
            w.balance,
            w.fee_units,
        ));
    }
    if w.balance == w.asset {
        postings.extend(transfer(Account::WithdrawalsInFlight, to, w.asset, sent));
        return postings;
    }
    postings.extend(transfer(
        Account::WithdrawalsInFlight,
        Account::Issuance,
        w.balance,
        sent,
    ));
    postings.extend(transfer(Account::Issuance, to, w.asset, w.units));
    postings
}

/// A withdrawal fails: all of it, fee included, returns to the profile.
pub fn withdrawal_failed(profile: Uuid, balance: Asset, total_units: i64) -> Vec<Posting> {
    transfer(
        Account::WithdrawalsInFlight,
        Account::Profile(profile),
        balance,
        total_units,
    )
    .to_vec()
}

/// Between two profiles (of one customer or of two), at once.
pub fn profile_transfer(from: Uuid, to: Uuid, asset: Asset, units: i64) -> Vec<Posting> {
    transfer(Account::Profile(from), Account::Profile(to), asset, units).to_vec()
}

/// True when the postings sum to zero for every asset.
pub fn is_balanced(postings: &[Posting]) -> bool {
    Asset::ALL.iter().all(|asset| {
        postings
            .iter()
            .filter(|p| p.asset == *asset)
            .map(|p| i128::from(p.units))
            .sum::<i128>()
            == 0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_balances() {
        let p = Uuid::new_v4();
        let r = Uuid::new_v4();
        assert!(is_balanced(&deposit(p, Asset::Usd, 100)));
        assert!(is_balanced(&conversion_created(p, Asset::Usd, 100)));
        assert!(is_balanced(&conversion_settled(
            r,
            Asset::Usd,
            100,
            Asset::Usdp,
            1_000_000
        )));
        assert!(is_balanced(&conversion_cancelled(p, Asset::Usd, 100)));
        assert!(!is_balanced(&[Posting {
            account: Account::Issuance,
            asset: Asset::Usd,
            units: 1
        }]));
    }

    #[test]
    fn a_converting_withdrawal_keeps_its_fee_and_sends_the_rest_in_the_asset() {
        // 10.50 USD debited: 0.50 fee, 10 USD redeemed, 10 USDC on chain.
        let w = Withdrawal {
            balance: Asset::Usd,
            balance_units: 1050,
            asset: Asset::Usdc,
            units: 10_000_000,
            fee_units: 50,
        };
        let chain = Account::Chain(crate::network::CryptoNetwork::Ethereum);
        let postings = withdrawal_completed(w, chain);
        assert!(is_balanced(&postings));
        let into = |account: Account, asset: Asset| -> i64 {
            postings
                .iter()
                .filter(|p| p.account == account && p.asset == asset)
                .map(|p| p.units)
                .sum()
        };
        assert_eq!(into(Account::Fees, Asset::Usd), 50);
        assert_eq!(into(chain, Asset::Usdc), 10_000_000);
        assert_eq!(into(Account::WithdrawalsInFlight, Asset::Usd), -1050);
        let same = Withdrawal {
            balance: Asset::Usdc,
            asset: Asset::Usdc,
            balance_units: 10_000_000,
            units: 10_000_000,
            fee_units: 0,
        };
        assert_eq!(withdrawal_completed(same, chain).len(), 2);
    }

    #[test]
    fn settlement_credits_the_recipient() {
        let r = Uuid::new_v4();
        let postings = conversion_settled(r, Asset::Usd, 100, Asset::Usdp, 1_000_000);
        let credit = postings
            .iter()
            .find(|p| p.account == Account::Profile(r))
            .unwrap();
        assert_eq!((credit.asset, credit.units), (Asset::Usdp, 1_000_000));
    }
}
