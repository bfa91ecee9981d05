//! Orchestration rules, deposit addresses, fiat deposit instructions and
//! sandbox deposits.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::{Client, List, Result};

/// A rule's source as the API shows it: what was generated for it.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct RuleSourceCrypto {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct RuleSourceFiat {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deposit_instructions_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memo_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct RuleSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crypto: Option<RuleSourceCrypto>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fiat: Option<RuleSourceFiat>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Rule {
    pub id: String,
    pub ref_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    pub profile_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    pub status: String,
    pub source_asset: String,
    pub destination_asset: String,
    pub source: RuleSource,
    pub destination: Value,
    pub created_at: String,
}

#[derive(Debug, Clone, Deserialize)]
struct RuleEnvelope {
    rule: Rule,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RuleList {
    pub rules: Vec<Rule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_cursor: Option<String>,
}

/// Where a rule delivers, as the create request names it.
#[derive(Debug, Clone)]
pub enum RuleDestination {
    Profile(String),
    Fiat {
        fiat_account_id: String,
        memo: Option<String>,
    },
    Crypto(String),
}

impl RuleDestination {
    fn json(&self) -> Value {
        match self {
            RuleDestination::Profile(id) => json!({ "profile": { "profile_id": id } }),
            RuleDestination::Fiat {
                fiat_account_id,
                memo,
            } => {
                json!({ "fiat": { "fiat_account_id": fiat_account_id, "memo": memo } })
            }
            RuleDestination::Crypto(id) => json!({ "crypto": { "crypto_address_id": id } }),
        }
    }
}

/// Where a rule's deposits arrive.
#[derive(Debug, Clone)]
pub enum RuleSourceRequest {
    Crypto {
        network: String,
    },
    Fiat {
        network: String,
        account_type: Option<String>,
    },
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct DepositAddress {
    pub id: String,
    pub profile_id: String,
    pub customer_id: String,
    pub crypto_network: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    pub conversion_target_asset: String,
    pub compatible_crypto_networks: Vec<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct FiatDepositInstructions {
    pub id: String,
    pub profile_id: String,
    pub identity_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_id: Option<String>,
    pub status: String,
    pub memo_id: String,
    pub fiat_network_instructions: Value,
    pub fiat_account_owner: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    pub created_at: String,
}

/// What a sandbox crypto deposit did.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct DepositOutcome {
    pub transfer_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orchestration_id: Option<String>,
    pub duplicate: bool,
}

impl Client {
    #[allow(clippy::too_many_arguments)]
    pub async fn create_rule(
        &self,
        ref_id: &str,
        profile_id: &str,
        source_asset: &str,
        destination_asset: &str,
        source: &RuleSourceRequest,
        destination: &RuleDestination,
    ) -> Result<Rule> {
        let source = match source {
            RuleSourceRequest::Crypto { network } => json!({ "crypto": { "network": network } }),
            RuleSourceRequest::Fiat {
                network,
                account_type,
            } => {
                json!({ "fiat": { "network": network, "account_type": account_type } })
            }
        };
        let body = json!({
            "ref_id": ref_id,
            "profile_id": profile_id,
            "source_asset": source_asset,
            "destination_asset": destination_asset,
            "source": source,
            "destination": destination.json(),
        });
        let envelope: RuleEnvelope = self
            .call(Method::POST, "/orchestration/rules", &[], Some(&body))
            .await?;
        Ok(envelope.rule)
    }

    pub async fn list_rules(&self, query: &[(&str, String)]) -> Result<RuleList> {
        self.call(Method::GET, "/orchestration/rules", query, None::<&Value>)
            .await
    }

    pub async fn delete_rule(&self, id: &str) -> Result<Rule> {
        let envelope: RuleEnvelope = self
            .call(
                Method::DELETE,
                &format!("/orchestration/rules/{id}"),
                &[],
                None::<&Value>,
            )
            .await?;
        Ok(envelope.rule)
    }

    /// `body` as the spec's CreateDepositAddressRequest.
    pub async fn create_deposit_address(&self, body: &Value) -> Result<DepositAddress> {
        self.call(Method::POST, "/transfer/deposit-addresses", &[], Some(body))
            .await
    }

    pub async fn list_deposit_addresses(
        &self,
        query: &[(&str, String)],
    ) -> Result<List<DepositAddress>> {
        self.call(
            Method::GET,
            "/transfer/deposit-addresses",
            query,
            None::<&Value>,
        )
        .await
    }

    /// `body` as the spec's CreateFiatDepositInstructionsRequest.
    pub async fn create_fiat_deposit_instructions(
        &self,
        body: &Value,
    ) -> Result<FiatDepositInstructions> {
        self.call(
            Method::POST,
            "/transfer/fiat-deposit-instructions",
            &[],
            Some(body),
        )
        .await
    }

    pub async fn fiat_deposit_instructions(&self, id: &str) -> Result<FiatDepositInstructions> {
        let path = format!("/transfer/fiat-deposit-instructions/{id}");
        self.call(Method::GET, &path, &[], None::<&Value>).await
    }

    pub async fn list_fiat_deposit_instructions(
        &self,
        query: &[(&str, String)],
    ) -> Result<List<FiatDepositInstructions>> {
        self.call(
            Method::GET,
            "/transfer/fiat-deposit-instructions",
            query,
            None::<&Value>,
        )
        .await
    }

    /// Sandbox: a wire of USD arriving with `memo_id`.
    pub async fn sandbox_fiat_deposit(
        &self,
        memo_id: &str,
        amount: &str,
        wire_reference: Option<&str>,
    ) -> Result<()> {
        let body = json!({
            "amount": amount,
            "asset": "USD",
            "memo_id": memo_id,
            "wire_reference": wire_reference,
            "fiat_network_instructions": { "wire": {
                "account_number": "12345678",
                "routing_details": { "routing_number_type": "ABA", "routing_number": "021000021", "bank_name": "JPMorgan Chase",
                    "bank_address": { "address1": "383 Madison Ave", "city": "New York", "country": "USA" } },
                "fiat_account_owner_address": { "address1": "456 Main Street", "city": "New York", "country": "USA" }
            }},
            "fiat_account_owner": { "institution_details": { "name": "SomeCorp, Inc." } },
        });
        let _: Value = self
            .call(Method::POST, "/sandbox/fiat-deposits", &[], Some(&body))
            .await?;
        Ok(())
    }

    /// Sandbox: a stablecoin transaction arriving at one of our deposit addresses.
    pub async fn sandbox_crypto_deposit(
        &self,
        network: &str,
        address: &str,
        asset: &str,
        amount: &str,
        tx_hash: &str,
    ) -> Result<DepositOutcome> {
        let body = json!({ "crypto_network": network, "address": address, "asset": asset, "amount": amount, "crypto_tx_hash": tx_hash });
        self.call(Method::POST, "/sandbox/crypto-deposits", &[], Some(&body))
            .await
    }
}
