//! Rules of the legacy Stablecoin Conversion API.

use std::fmt;
use std::str::FromStr;

use crate::Asset;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConversionStatus {
    Created,
    Settled,
    Cancelled,
}

impl ConversionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConversionStatus::Created => "CREATED",
            ConversionStatus::Settled => "SETTLED",
            ConversionStatus::Cancelled => "CANCELLED",
        }
    }

    /// Only a CREATED conversion may still settle or be cancelled.
    pub fn is_pending(self) -> bool {
        self == ConversionStatus::Created
    }
}

impl fmt::Display for ConversionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ConversionStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "CREATED" => Ok(ConversionStatus::Created),
            "SETTLED" => Ok(ConversionStatus::Settled),
            "CANCELLED" => Ok(ConversionStatus::Cancelled),
            other => Err(format!("unknown conversion status {other}")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PairError {
    #[error("source_asset and target_asset must differ")]
    SameAsset,
    #[error("cannot convert {0} to {1}: stablecoin conversions go between USD and a stablecoin")]
    StablecoinToStablecoin(Asset, Asset),
}

/// Legacy conversions go USD <-> stablecoin, never stablecoin <-> stablecoin.
pub fn check_pair(source: Asset, target: Asset) -> Result<(), PairError> {
    if source == target {
        return Err(PairError::SameAsset);
    }
    if source.is_stablecoin() && target.is_stablecoin() {
        return Err(PairError::StablecoinToStablecoin(source, target));
    }
    Ok(())
}

/// A conversion uses the lowest precision of its pair (USD -> USDP: 2 places).
pub fn pair_decimals(source: Asset, target: Asset) -> u32 {
    source.decimals().min(target.decimals())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs() {
        assert!(check_pair(Asset::Usd, Asset::Usdp).is_ok());
        assert!(check_pair(Asset::Pyusd, Asset::Usd).is_ok());
        assert_eq!(
            check_pair(Asset::Usd, Asset::Usd),
            Err(PairError::SameAsset)
        );
        assert!(check_pair(Asset::Usdc, Asset::Usdp).is_err());
        assert_eq!(pair_decimals(Asset::Usdp, Asset::Usd), 2);
        assert_eq!(pair_decimals(Asset::Usd, Asset::Usdc), 2);
    }
}
