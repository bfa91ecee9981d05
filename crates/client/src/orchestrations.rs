//! Orchestrations and transfers.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Client, List, Result};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ProfileRef {
    pub profile_id: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct OrchestrationSource {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub profile: Option<ProfileRef>,
    /// A rule-triggered orchestration from a chain deposit.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub crypto: Option<CryptoSource>,
    /// A rule-triggered orchestration from a wire deposit.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fiat: Option<FiatSource>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CryptoSource {
    pub address_id: String,
    pub address: String,
    pub network: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FiatSource {
    pub deposit_instructions_id: String,
    pub memo: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FiatDestination {
    pub bank_account_id: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub memo: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CryptoDestination {
    pub address_id: String,
    /// Shown in responses only.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub network: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct OrchestrationDestination {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub profile: Option<ProfileRef>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fiat: Option<FiatDestination>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub crypto: Option<CryptoDestination>,
}

impl OrchestrationDestination {
    pub fn profile(id: &str) -> Self {
        Self {
            profile: Some(ProfileRef {
                profile_id: id.into(),
            }),
            ..Default::default()
        }
    }

    pub fn fiat(bank_account_id: &str, memo: Option<&str>) -> Self {
        let fiat = FiatDestination {
            bank_account_id: bank_account_id.into(),
            memo: memo.map(Into::into),
        };
        Self {
            fiat: Some(fiat),
            ..Default::default()
        }
    }

    pub fn crypto(address_id: &str) -> Self {
        let crypto = CryptoDestination {
            address_id: address_id.into(),
            ..Default::default()
        };
        Self {
            crypto: Some(crypto),
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CreateOrchestration {
    pub ref_id: String,
    pub source_asset: String,
    pub destination_asset: String,
    pub source_amount: String,
    pub source: OrchestrationSource,
    pub destination: OrchestrationDestination,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

impl CreateOrchestration {
    /// From a profile, `amount` of `from`, delivered as `to`.
    pub fn new(
        ref_id: &str,
        profile: &str,
        from: &str,
        to: &str,
        amount: &str,
        destination: OrchestrationDestination,
    ) -> Self {
        CreateOrchestration {
            ref_id: ref_id.into(),
            source_asset: from.into(),
            destination_asset: to.into(),
            source_amount: amount.into(),
            source: OrchestrationSource {
                profile: Some(ProfileRef {
                    profile_id: profile.into(),
                }),
                ..Default::default()
            },
            destination,
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct TransferDetails {
    pub transfer_id: String,
    pub status: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct FailReason {
    pub detail: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Orchestration {
    pub id: String,
    pub profile_id: String,
    pub identity_id: String,
    pub account_id: String,
    pub customer_id: String,
    pub ref_id: String,
    pub source_asset: String,
    pub destination_asset: String,
    pub source_amount: String,
    pub source_transfer: TransferDetails,
    pub destination_transfer: TransferDetails,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_reason: Option<FailReason>,
    pub source: OrchestrationSource,
    pub destination: OrchestrationDestination,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orchestration_rule_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Transfer {
    pub id: String,
    pub customer_id: String,
    pub profile_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_id: Option<String>,
    pub amount: String,
    pub total: String,
    pub fee: String,
    pub asset: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance_asset: Option<String>,
    pub direction: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crypto_network: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crypto_tx_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fiat_account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
}

impl Client {
    pub async fn create_orchestration(
        &self,
        request: &CreateOrchestration,
    ) -> Result<Orchestration> {
        self.call(
            Method::POST,
            "/orchestration/orchestrations",
            &[],
            Some(request),
        )
        .await
    }

    pub async fn orchestration(&self, id: &str) -> Result<Orchestration> {
        self.call(
            Method::GET,
            &format!("/orchestration/orchestrations/{id}"),
            &[],
            None::<&Value>,
        )
        .await
    }

    pub async fn list_orchestrations(
        &self,
        query: &[(&str, String)],
    ) -> Result<List<Orchestration>> {
        self.call(
            Method::GET,
            "/orchestration/orchestrations",
            query,
            None::<&Value>,
        )
        .await
    }

    /// Sandbox: lets an orchestration held by manual settlement proceed.
    pub async fn release_orchestration(&self, id: &str) -> Result<Orchestration> {
        let path = format!("/sandbox/orchestration/orchestrations/{id}/release");
        self.call(Method::POST, &path, &[], None::<&Value>).await
    }

    pub async fn transfer(&self, id: &str) -> Result<Transfer> {
        self.call(
            Method::GET,
            &format!("/transfer/transfers/{id}"),
            &[],
            None::<&Value>,
        )
        .await
    }

    pub async fn list_transfers(&self, query: &[(&str, String)]) -> Result<List<Transfer>> {
        self.call(Method::GET, "/transfer/transfers", query, None::<&Value>)
            .await
    }
}
