use std::fmt;
use std::str::FromStr;

/// The assets Stableport holds. USD is fiat; the rest are stablecoins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Asset {
    Usd,
    Usdp,
    Pyusd,
    Usdg,
    Usdc,
}

impl Asset {
    pub const ALL: [Asset; 5] = [
        Asset::Usd,
        Asset::Usdp,
        Asset::Pyusd,
        Asset::Usdg,
        Asset::Usdc,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Asset::Usd => "USD",
            Asset::Usdp => "USDP",
            Asset::Pyusd => "PYUSD",
            Asset::Usdg => "USDG",
            Asset::Usdc => "USDC",
        }
    }

    /// Maximum number of decimal places, as published by Paxos.
    pub fn decimals(self) -> u32 {
        match self {
            Asset::Usd => 2,
            Asset::Usdp => 8,
            Asset::Pyusd | Asset::Usdg | Asset::Usdc => 6,
        }
    }

    pub fn is_stablecoin(self) -> bool {
        self != Asset::Usd
    }

    /// The list of supported codes, for error messages.
    pub fn supported_list() -> String {
        Asset::ALL.map(Asset::code).join(", ")
    }
}

impl fmt::Display for Asset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported asset '{0}'")]
pub struct UnknownAsset(pub String);

impl FromStr for Asset {
    type Err = UnknownAsset;

    /// Asset codes are matched exactly, as Paxos does: "usd" is not an asset.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Asset::ALL
            .into_iter()
            .find(|a| a.code() == s)
            .ok_or_else(|| UnknownAsset(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_codes_exactly() {
        assert_eq!("USDP".parse::<Asset>(), Ok(Asset::Usdp));
        assert!("usd".parse::<Asset>().is_err());
        assert!("BTC".parse::<Asset>().is_err());
    }
}
