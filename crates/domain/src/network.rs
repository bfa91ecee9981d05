//! The networks money moves over: blockchains for stablecoin transfers, and
//! fiat rails (and their account kinds) for USD deposits and withdrawals.
//! Codes are matched exactly, as Paxos does: "ethereum" is not a network.

use std::fmt;
use std::str::FromStr;

/// The blockchains Stableport can send stablecoins to and receive them from:
/// Paxos's `CryptoNetwork` enum minus the networks that carry none of our
/// stablecoins, plus STELLAR (which Paxos's rule docs name: PYUSD lives there).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CryptoNetwork {
    Ethereum,
    Solana,
    Stellar,
    Base,
    PolygonPos,
    ArbitrumOne,
    Ink,
    XLayer,
}

/// Networks in Paxos's `CryptoNetwork` enum that carry no stablecoin we
/// support: never accepted on a create, and matching nothing in a filter.
pub const NETWORKS_WITHOUT_STABLECOINS: [&str; 3] = ["BITCOIN", "BITCOIN_CASH", "LITECOIN"];

impl CryptoNetwork {
    pub const ALL: [CryptoNetwork; 8] = [
        CryptoNetwork::Ethereum,
        CryptoNetwork::Solana,
        CryptoNetwork::Stellar,
        CryptoNetwork::Base,
        CryptoNetwork::PolygonPos,
        CryptoNetwork::ArbitrumOne,
        CryptoNetwork::Ink,
        CryptoNetwork::XLayer,
    ];

    pub fn code(self) -> &'static str {
        match self {
            CryptoNetwork::Ethereum => "ETHEREUM",
            CryptoNetwork::Solana => "SOLANA",
            CryptoNetwork::Stellar => "STELLAR",
            CryptoNetwork::Base => "BASE",
            CryptoNetwork::PolygonPos => "POLYGON_POS",
            CryptoNetwork::ArbitrumOne => "ARBITRUM_ONE",
            CryptoNetwork::Ink => "INK",
            CryptoNetwork::XLayer => "XLAYER",
        }
    }

    /// Whether addresses and transaction hashes take the Ethereum form.
    pub fn is_evm(self) -> bool {
        !matches!(self, CryptoNetwork::Solana | CryptoNetwork::Stellar)
    }

    /// The list of supported codes, for error messages.
    pub fn supported_list() -> String {
        CryptoNetwork::ALL.map(CryptoNetwork::code).join(", ")
    }
}

impl fmt::Display for CryptoNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A code that names no supported crypto network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", unknown_network_message(.0))]
pub struct UnknownCryptoNetwork(pub String);

fn unknown_network_message(code: &str) -> String {
    if NETWORKS_WITHOUT_STABLECOINS.contains(&code) {
        return format!(
            "{code} carries no supported stablecoin; supported: {}",
            CryptoNetwork::supported_list()
        );
    }
    format!(
        "unsupported crypto network '{code}'; supported: {}",
        CryptoNetwork::supported_list()
    )
}

impl FromStr for CryptoNetwork {
    type Err = UnknownCryptoNetwork;

    /// `POLYGON` (the name Stableport once used) is read as `POLYGON_POS`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "POLYGON" {
            return Ok(CryptoNetwork::PolygonPos);
        }
        CryptoNetwork::ALL
            .into_iter()
            .find(|v| v.code() == s)
            .ok_or_else(|| UnknownCryptoNetwork(s.to_string()))
    }
}

/// The rails USD moves over to and from bank accounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FiatNetwork {
    Wire,
    Cubix,
}

impl FiatNetwork {
    pub const ALL: [FiatNetwork; 2] = [FiatNetwork::Wire, FiatNetwork::Cubix];

    pub fn code(self) -> &'static str {
        match self {
            FiatNetwork::Wire => "WIRE",
            FiatNetwork::Cubix => "CUBIX",
        }
    }

    /// The list of supported codes, for error messages.
    pub fn supported_list() -> String {
        FiatNetwork::ALL.map(FiatNetwork::code).join(", ")
    }
}

/// How a wire's bank is identified: by SWIFT/BIC code or by US ABA routing number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WireAccountType {
    Swift,
    Aba,
}

impl WireAccountType {
    pub const ALL: [WireAccountType; 2] = [WireAccountType::Swift, WireAccountType::Aba];

    pub fn code(self) -> &'static str {
        match self {
            WireAccountType::Swift => "SWIFT",
            WireAccountType::Aba => "ABA",
        }
    }

    /// The list of supported codes, for error messages.
    pub fn supported_list() -> String {
        WireAccountType::ALL.map(WireAccountType::code).join(", ")
    }
}

macro_rules! code_enum_traits {
    ($ty:ident, $err:ident, $what:literal) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.code())
            }
        }

        #[doc = concat!("A code that names no supported ", $what, ".")]
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        #[error("unsupported {} '{}'; supported: {}", $what, .0, $ty::supported_list())]
        pub struct $err(pub String);

        impl FromStr for $ty {
            type Err = $err;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $ty::ALL
                    .into_iter()
                    .find(|v| v.code() == s)
                    .ok_or_else(|| $err(s.to_string()))
            }
        }
    };
}

code_enum_traits!(FiatNetwork, UnknownFiatNetwork, "fiat network");
code_enum_traits!(WireAccountType, UnknownWireAccountType, "wire account type");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crypto_codes_round_trip() {
        for n in CryptoNetwork::ALL {
            assert_eq!(n.code().parse::<CryptoNetwork>(), Ok(n));
            assert_eq!(n.to_string(), n.code());
        }
        assert_eq!("SOLANA".parse(), Ok(CryptoNetwork::Solana));
    }

    #[test]
    fn crypto_codes_match_exactly() {
        for bad in [
            "ethereum",
            "Ethereum",
            " ETHEREUM",
            "ETHEREUM ",
            "ETH",
            "",
            "BITCOIN",
        ] {
            assert!(bad.parse::<CryptoNetwork>().is_err(), "{bad:?}");
        }
        let err = "eth".parse::<CryptoNetwork>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported crypto network 'eth'; supported: ETHEREUM, SOLANA, STELLAR, BASE, \
             POLYGON_POS, ARBITRUM_ONE, INK, XLAYER"
        );
        // The spec's name; ours of old is read as an alias only.
        assert_eq!("POLYGON".parse(), Ok(CryptoNetwork::PolygonPos));
        assert_eq!(CryptoNetwork::PolygonPos.to_string(), "POLYGON_POS");
        let btc = "BITCOIN".parse::<CryptoNetwork>().unwrap_err().to_string();
        assert!(btc.contains("carries no supported stablecoin"), "{btc}");
    }

    #[test]
    fn evm_networks() {
        let evm: Vec<_> = CryptoNetwork::ALL
            .into_iter()
            .filter(|n| n.is_evm())
            .collect();
        assert_eq!(
            evm,
            [
                CryptoNetwork::Ethereum,
                CryptoNetwork::Base,
                CryptoNetwork::PolygonPos,
                CryptoNetwork::ArbitrumOne,
                CryptoNetwork::Ink,
                CryptoNetwork::XLayer,
            ]
        );
    }

    #[test]
    fn fiat_codes() {
        assert_eq!("WIRE".parse(), Ok(FiatNetwork::Wire));
        assert_eq!("CUBIX".parse(), Ok(FiatNetwork::Cubix));
        assert_eq!(FiatNetwork::Cubix.to_string(), "CUBIX");
        assert!("wire".parse::<FiatNetwork>().is_err());
        assert!("ACH".parse::<FiatNetwork>().is_err());
        assert_eq!(
            "SEPA".parse::<FiatNetwork>().unwrap_err().to_string(),
            "unsupported fiat network 'SEPA'; supported: WIRE, CUBIX"
        );
    }

    #[test]
    fn wire_account_type_codes() {
        assert_eq!("SWIFT".parse(), Ok(WireAccountType::Swift));
        assert_eq!("ABA".parse(), Ok(WireAccountType::Aba));
        assert_eq!(WireAccountType::Aba.to_string(), "ABA");
        assert!("aba".parse::<WireAccountType>().is_err());
        assert!("IBAN".parse::<WireAccountType>().is_err());
        assert_eq!(
            "BIC".parse::<WireAccountType>().unwrap_err().to_string(),
            "unsupported wire account type 'BIC'; supported: SWIFT, ABA"
        );
    }
}
