//! Rules of the Orchestrations API, which replaces legacy conversions:
//! any pair of supported assets, 1:1, to a profile, a bank or a chain.

use std::fmt;

use crate::Asset;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrchestrationStatus {
    Processing,
    Completed,
    Failed,
}

impl OrchestrationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrchestrationStatus::Processing => "PROCESSING",
            OrchestrationStatus::Completed => "COMPLETED",
            OrchestrationStatus::Failed => "FAILED",
        }
    }

    pub fn parse(text: &str) -> Option<OrchestrationStatus> {
        [
            OrchestrationStatus::Processing,
            OrchestrationStatus::Completed,
            OrchestrationStatus::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

impl fmt::Display for OrchestrationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an orchestration delivers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DestinationKind {
    Profile,
    Fiat,
    Crypto,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("a bank withdrawal delivers USD, not {0}; set destination_asset to USD")]
    FiatNeedsUsd(Asset),
    #[error(
        "a crypto withdrawal delivers a stablecoin, not USD; set destination_asset to a stablecoin"
    )]
    CryptoNeedsStablecoin,
    #[error("source and destination are the same profile and asset: nothing would move")]
    NoOp,
    #[error("a crypto deposit brings a stablecoin, not USD; set source_asset to a stablecoin")]
    CryptoSourceNeedsStablecoin,
    #[error("a fiat deposit brings USD, not {0}; set source_asset to USD")]
    FiatSourceNeedsUsd(Asset),
}

/// Where a rule's deposits arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    Crypto,
    Fiat,
}

/// Checks that the asset can arrive over the rule's source.
pub fn check_rule_source(kind: SourceKind, asset: Asset) -> Result<(), RouteError> {
    match kind {
        SourceKind::Crypto if !asset.is_stablecoin() => {
            Err(RouteError::CryptoSourceNeedsStablecoin)
        }
        SourceKind::Fiat if asset != Asset::Usd => Err(RouteError::FiatSourceNeedsUsd(asset)),
        _ => Ok(()),
    }
}

/// Checks that the assets suit the destination. `same_profile` is true when
/// the destination profile is the source profile.
pub fn check_route(
    source: Asset,
    destination: Asset,
    kind: DestinationKind,
    same_profile: bool,
) -> Result<(), RouteError> {
    match kind {
        DestinationKind::Fiat if destination != Asset::Usd => {
            Err(RouteError::FiatNeedsUsd(destination))
        }
        DestinationKind::Crypto if !destination.is_stablecoin() => {
            Err(RouteError::CryptoNeedsStablecoin)
        }
        DestinationKind::Profile if same_profile && source == destination => Err(RouteError::NoOp),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert!(check_route(Asset::Usdc, Asset::Usd, DestinationKind::Fiat, false).is_ok());
        assert_eq!(
            check_route(Asset::Usdc, Asset::Usdp, DestinationKind::Fiat, false),
            Err(RouteError::FiatNeedsUsd(Asset::Usdp))
        );
        assert!(check_route(Asset::Usd, Asset::Usdc, DestinationKind::Crypto, false).is_ok());
        assert!(check_route(Asset::Usdc, Asset::Usd, DestinationKind::Crypto, false).is_err());
        assert!(check_route(Asset::Usdc, Asset::Usdp, DestinationKind::Profile, true).is_ok());
        assert!(check_route(Asset::Usdc, Asset::Usdc, DestinationKind::Profile, false).is_ok());
        assert_eq!(
            check_route(Asset::Usdc, Asset::Usdc, DestinationKind::Profile, true),
            Err(RouteError::NoOp)
        );
        assert_eq!(
            OrchestrationStatus::parse("FAILED"),
            Some(OrchestrationStatus::Failed)
        );
        assert_eq!(OrchestrationStatus::parse("failed"), None);
    }
}
