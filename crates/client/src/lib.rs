//! A typed client for the Paxos v2 API as Stableport serves it. Used by the
//! test suite, the load generator and anyone scripting against a server.
//! Amounts are strings, exactly as on the wire: no floats.

mod events;
mod orchestrations;
mod rules;

pub use events::*;
pub use orchestrations::*;
pub use rules::*;

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("HTTP error: {0}")]
    Http(#[from] reqwest::Error),
    #[error("{} {}: {}", .0.status, .0.title, .0.detail)]
    Api(Box<Problem>),
    #[error("OAuth2 {status}: {error}: {description}")]
    OAuth {
        status: u16,
        error: String,
        description: String,
    },
    #[error("unexpected response {status}: {body}")]
    Unexpected { status: u16, body: String },
}

impl Error {
    /// The problem+json body of an API error, if this is one.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Error::Api(p) => Some(p),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// RFC 7807 problem details.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Token {
    pub access_token: String,
    pub expires_in: i64,
    pub scope: String,
    pub token_type: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Profile {
    pub id: String,
    pub nickname: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Balance {
    pub asset: String,
    pub available: String,
    pub trading: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct List<T> {
    /// Paxos names most lists `items`; orchestrations come as `orchestrations`.
    #[serde(alias = "orchestrations")]
    pub items: Vec<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_cursor: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CreateConversion {
    pub profile_id: String,
    pub amount: String,
    pub source_asset: String,
    pub target_asset: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ref_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient_profile_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Conversion {
    pub id: String,
    pub profile_id: String,
    pub amount: String,
    pub source_asset: String,
    pub target_asset: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_id: Option<String>,
    pub identity_id: String,
    pub account_id: String,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_profile_id: Option<String>,
}

/// Query parameters of List Stablecoin Conversions.
#[derive(Debug, Clone, Default)]
pub struct ListConversions {
    pub profile_id: Option<String>,
    pub ref_id: Option<String>,
    pub created_at_begin: Option<String>,
    pub created_at_end: Option<String>,
    pub updated_at_begin: Option<String>,
    pub updated_at_end: Option<String>,
    pub order: Option<String>,
    pub limit: Option<u32>,
    pub page_cursor: Option<String>,
}

impl ListConversions {
    fn query(&self) -> Vec<(&'static str, String)> {
        let fields = [
            ("profile_id", &self.profile_id),
            ("ref_id", &self.ref_id),
            ("created_at.begin", &self.created_at_begin),
            ("created_at.end", &self.created_at_end),
            ("updated_at.begin", &self.updated_at_begin),
            ("updated_at.end", &self.updated_at_end),
            ("order", &self.order),
            ("page_cursor", &self.page_cursor),
        ];
        let mut query: Vec<_> = fields
            .into_iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
            .collect();
        if let Some(limit) = self.limit {
            query.push(("limit", limit.to_string()));
        }
        query
    }
}

/// One response as the client received it, before decoding: what a test
/// harness checks against the API's published contract.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
}

/// Called with every response the client receives.
pub type Observer = std::sync::Arc<dyn Fn(&Observed) + Send + Sync>;

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
    observer: Option<Observer>,
}

impl Client {
    /// `base` is the server's root, e.g. `http://127.0.0.1:8080` (no `/v2`).
    pub fn new(base: impl Into<String>) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: base.into().trim_end_matches('/').to_string(),
            token: None,
            observer: None,
        }
    }

    /// Calls `observer` with every response this client (and its clones) receives.
    pub fn observed(self, observer: Observer) -> Client {
        Client {
            observer: Some(observer),
            ..self
        }
    }

    /// Reads a response whole and shows it to the observer.
    async fn receive(
        &self,
        method: &Method,
        response: reqwest::Response,
    ) -> Result<(StatusCode, Option<String>, Vec<u8>)> {
        let status = response.status();
        let path = response.url().path().to_string();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response.bytes().await?.to_vec();
        if let Some(observer) = &self.observer {
            observer(&Observed {
                method: method.as_str(),
                path: &path,
                status: status.as_u16(),
                content_type: content_type.as_deref(),
                body: &body,
            });
        }
        Ok((status, content_type, body))
    }

    /// Shares the connection pool of `self` but uses another token.
    pub fn with_token(&self, token: impl Into<String>) -> Client {
        Client {
            token: Some(token.into()),
            ..self.clone()
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The HTTP client underneath, for calls outside /v2 (e.g. /health).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Client credentials grant; `scope` None asks for all the client holds.
    pub async fn token(
        &self,
        client_id: &str,
        client_secret: &str,
        scope: Option<&str>,
    ) -> Result<Token> {
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", client_secret),
        ];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        let response = self
            .http
            .post(format!("{}/oauth2/token", self.base))
            .form(&form)
            .send()
            .await?;
        let (status, _, bytes) = self.receive(&Method::POST, response).await?;
        let body: Value = serde_json::from_slice(&bytes).map_err(|_| Error::Unexpected {
            status: status.as_u16(),
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })?;
        if status.is_success() {
            return serde_json::from_value(body.clone()).map_err(|_| Error::Unexpected {
                status: status.as_u16(),
                body: body.to_string(),
            });
        }
        Err(Error::OAuth {
            status: status.as_u16(),
            error: body["error"].as_str().unwrap_or_default().to_string(),
            description: body["error_description"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        })
    }

    /// Fetches a token and returns a client that uses it.
    pub async fn login(
        &self,
        client_id: &str,
        client_secret: &str,
        scope: Option<&str>,
    ) -> Result<Client> {
        let token = self.token(client_id, client_secret, scope).await?;
        Ok(self.with_token(token.access_token))
    }

    /// Sends any request and returns the status and the JSON body (Null when
    /// the body is not JSON). For testing inputs the typed calls cannot express.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<(StatusCode, Option<String>, Value)> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some((content_type, bytes)) = body {
            if !content_type.is_empty() {
                request = request.header("content-type", content_type);
            }
            request = request.body(bytes);
        }
        let response = request.send().await?;
        let (status, content_type, bytes) = self.receive(&method, response).await?;
        Ok((
            status,
            content_type,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<T> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}/v2{path}", self.base))
            .query(query);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let (status, _, bytes) = self.receive(&method, response).await?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|_| Error::Unexpected {
                status: status.as_u16(),
                body: String::from_utf8_lossy(&bytes).into_owned(),
            });
        }
        match serde_json::from_slice::<Problem>(&bytes) {
            Ok(problem) => Err(Error::Api(Box::new(problem))),
            Err(_) => Err(Error::Unexpected {
                status: status.as_u16(),
                body: String::from_utf8_lossy(&bytes).into_owned(),
            }),
        }
    }

    async fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, String)]) -> Result<T> {
        self.call(Method::GET, path, query, None::<&Value>).await
    }

    pub async fn profiles(&self) -> Result<List<Profile>> {
        self.get("/profiles", &[]).await
    }

    pub async fn list_profiles(&self, query: &[(&str, String)]) -> Result<List<Profile>> {
        self.get("/profiles", query).await
    }

    pub async fn create_profile(
        &self,
        nickname: &str,
        description: Option<&str>,
    ) -> Result<Profile> {
        let body = serde_json::json!({ "nickname": nickname, "description": description });
        self.call(Method::POST, "/profiles", &[], Some(&body)).await
    }

    pub async fn profile(&self, id: &str) -> Result<Profile> {
        self.get(&format!("/profiles/{id}"), &[]).await
    }

    pub async fn update_profile(&self, id: &str, nickname: &str) -> Result<Profile> {
        let body = serde_json::json!({ "nickname": nickname });
        self.call(Method::PUT, &format!("/profiles/{id}"), &[], Some(&body))
            .await
    }

    pub async fn balances(&self, profile: &str, assets: &[&str]) -> Result<List<Balance>> {
        let query: Vec<_> = assets.iter().map(|a| ("assets", a.to_string())).collect();
        self.get(&format!("/profiles/{profile}/balances"), &query)
            .await
    }

    pub async fn balance(&self, profile: &str, asset: &str) -> Result<Balance> {
        self.get(&format!("/profiles/{profile}/balances/{asset}"), &[])
            .await
    }

    /// Sandbox: credits the profile from outside. Returns the activity id.
    pub async fn deposit(&self, profile: &str, asset: &str, amount: &str) -> Result<String> {
        let body = serde_json::json!({ "asset": asset, "amount": amount });
        let response: Value = self
            .call(
                Method::POST,
                &format!("/sandbox/profiles/{profile}/deposit"),
                &[],
                Some(&body),
            )
            .await?;
        Ok(response["activity_id"]
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    pub async fn create_conversion(&self, request: &CreateConversion) -> Result<Conversion> {
        self.call(Method::POST, "/conversion/stablecoins", &[], Some(request))
            .await
    }

    pub async fn conversion(&self, id: &str) -> Result<Conversion> {
        self.get(&format!("/conversion/stablecoins/{id}"), &[])
            .await
    }

    pub async fn list_conversions(&self, query: &ListConversions) -> Result<List<Conversion>> {
        self.get("/conversion/stablecoins", &query.query()).await
    }

    pub async fn cancel_conversion(&self, id: &str) -> Result<Conversion> {
        self.call(
            Method::DELETE,
            &format!("/conversion/stablecoins/{id}"),
            &[],
            None::<&Value>,
        )
        .await
    }

    /// Sandbox: settles a CREATED conversion now.
    pub async fn settle_conversion(&self, id: &str) -> Result<Conversion> {
        self.call(
            Method::POST,
            &format!("/sandbox/conversion/stablecoins/{id}/settle"),
            &[],
            None::<&Value>,
        )
        .await
    }

    pub async fn create_fiat_account(&self, request: &CreateFiatAccount) -> Result<FiatAccount> {
        self.call(Method::POST, "/transfer/fiat-accounts", &[], Some(request))
            .await
    }

    pub async fn fiat_account(&self, id: &str) -> Result<FiatAccount> {
        self.get(&format!("/transfer/fiat-accounts/{id}"), &[])
            .await
    }

    /// Get Fiat Account with `include_deleted=true`.
    pub async fn fiat_account_including_deleted(&self, id: &str) -> Result<FiatAccount> {
        let query = [("include_deleted", "true".to_string())];
        self.get(&format!("/transfer/fiat-accounts/{id}"), &query)
            .await
    }

    /// List Fiat Accounts: the items are abbreviated (see [`FiatAccount`]).
    pub async fn list_fiat_accounts(&self, query: &ListFiatAccounts) -> Result<List<FiatAccount>> {
        self.get("/transfer/fiat-accounts", &query.query()).await
    }

    pub async fn update_fiat_account(
        &self,
        id: &str,
        request: &UpdateFiatAccount,
    ) -> Result<FiatAccount> {
        self.call(
            Method::PUT,
            &format!("/transfer/fiat-accounts/{id}"),
            &[],
            Some(request),
        )
        .await
    }

    pub async fn delete_fiat_account(&self, id: &str) -> Result<()> {
        let _: Value = self
            .call(
                Method::DELETE,
                &format!("/transfer/fiat-accounts/{id}"),
                &[],
                None::<&Value>,
            )
            .await?;
        Ok(())
    }

    /// Sandbox: sets the account's status and whether withdrawals to it fail.
    pub async fn sandbox_fiat_account(
        &self,
        id: &str,
        request: &SandboxFiatAccount,
    ) -> Result<FiatAccount> {
        self.call(
            Method::PUT,
            &format!("/sandbox/fiat-accounts/{id}"),
            &[],
            Some(request),
        )
        .await
    }

    /// Creates or updates a crypto destination address; returns it unwrapped.
    pub async fn put_crypto_address(
        &self,
        request: &PutCryptoAddress,
    ) -> Result<CryptoDestinationAddress> {
        let response: CryptoAddressResponse = self
            .call(
                Method::PUT,
                "/transfer/crypto-destination-address",
                &[],
                Some(request),
            )
            .await?;
        Ok(response.address)
    }

    pub async fn list_crypto_addresses(
        &self,
        query: &ListCryptoAddresses,
    ) -> Result<CryptoAddressList> {
        self.get("/transfer/crypto-destination-addresses", &query.query())
            .await
    }

    /// Sandbox: makes withdrawals to the address fail, or succeed again.
    pub async fn sandbox_crypto_address(
        &self,
        id: &str,
        fail_withdrawals: bool,
    ) -> Result<CryptoDestinationAddress> {
        let body = serde_json::json!({ "fail_withdrawals": fail_withdrawals });
        let response: CryptoAddressResponse = self
            .call(
                Method::PUT,
                &format!("/sandbox/crypto-destination-addresses/{id}"),
                &[],
                Some(&body),
            )
            .await?;
        Ok(response.address)
    }
}

/// `fiat_account_owner`, and a travel-rule beneficiary: one of the two.
/// In List Fiat Accounts both read None (the names are left out).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct FiatAccountOwner {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person_details: Option<PersonDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub institution_details: Option<InstitutionDetails>,
}

impl FiatAccountOwner {
    pub fn person(first_name: &str, last_name: &str) -> FiatAccountOwner {
        FiatAccountOwner {
            person_details: Some(PersonDetails {
                first_name: first_name.into(),
                last_name: last_name.into(),
            }),
            institution_details: None,
        }
    }

    pub fn institution(name: &str) -> FiatAccountOwner {
        FiatAccountOwner {
            person_details: None,
            institution_details: Some(InstitutionDetails { name: name.into() }),
        }
    }
}

/// In an update, an empty name leaves the stored one as it is.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct PersonDetails {
    pub first_name: String,
    pub last_name: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct InstitutionDetails {
    pub name: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct MailingAddress {
    pub country: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub province: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zip_code: Option<String>,
}

/// Exactly one network is set. Stableport serves `wire` and `cubix`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct FiatNetworkInstructions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wire: Option<WireInstructions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cubix: Option<CubixInstructions>,
}

/// In List Fiat Accounts, `account_number` is masked to its last 4 digits
/// and the mailing addresses are None.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct WireInstructions {
    pub account_number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fiat_account_owner_address: Option<MailingAddress>,
    pub routing_details: WireRoutingDetails,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intermediary_routing_details: Option<WireRoutingDetails>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct WireRoutingDetails {
    /// ABA or SWIFT.
    pub routing_number_type: String,
    pub routing_number: String,
    pub bank_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_address: Option<MailingAddress>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct CubixInstructions {
    pub account_id: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CreateFiatAccount {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ref_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    pub fiat_account_owner: FiatAccountOwner,
    pub fiat_network_instructions: FiatNetworkInstructions,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct FiatAccount {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    pub fiat_account_owner: FiatAccountOwner,
    pub fiat_network_instructions: FiatNetworkInstructions,
    /// PENDING, APPROVED or REJECTED.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    pub created_at: String,
    pub updated_at: String,
}

/// TransferPublicUpdateFiatAccountBody. Empty strings and None leave a
/// field as it is; metadata keys are added or changed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UpdateFiatAccount {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fiat_account_owner: Option<FiatAccountOwner>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fiat_network_instructions: Option<UpdateFiatNetworkInstructions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct UpdateFiatNetworkInstructions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wire: Option<UpdateWire>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct UpdateWire {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fiat_account_owner_address: Option<MailingAddress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing_details: Option<UpdateRoutingDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intermediary_routing_details: Option<UpdateRoutingDetails>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct UpdateRoutingDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bank_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bank_address: Option<MailingAddress>,
}

/// Query parameters of List Fiat Accounts.
#[derive(Debug, Clone, Default)]
pub struct ListFiatAccounts {
    pub ids: Vec<String>,
    pub ref_ids: Vec<String>,
    pub created_at_lt: Option<String>,
    pub created_at_lte: Option<String>,
    pub created_at_eq: Option<String>,
    pub created_at_gte: Option<String>,
    pub created_at_gt: Option<String>,
    pub include_deleted: Option<bool>,
    pub order: Option<String>,
    pub limit: Option<u32>,
    pub page_cursor: Option<String>,
}

impl ListFiatAccounts {
    fn query(&self) -> Vec<(&'static str, String)> {
        let mut query = created_at_query([
            &self.created_at_lt,
            &self.created_at_lte,
            &self.created_at_eq,
            &self.created_at_gte,
            &self.created_at_gt,
        ]);
        query.extend(self.ids.iter().map(|v| ("ids", v.clone())));
        query.extend(self.ref_ids.iter().map(|v| ("ref_ids", v.clone())));
        if let Some(include) = self.include_deleted {
            query.push(("include_deleted", include.to_string()));
        }
        query.extend(page_query(&self.order, self.limit, &self.page_cursor));
        query
    }
}

/// Sandbox controls of a fiat account; None leaves a field as it is.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SandboxFiatAccount {
    /// PENDING, APPROVED or REJECTED.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_withdrawals: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct TravelruleMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beneficiary: Option<FiatAccountOwner>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vasp: Option<Vasp>,
    /// VASP or PRIVATE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custodian_type: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct Vasp {
    pub id: String,
}

/// PutCryptoDestinationAddressRequest: `id`, or `crypto_network` and `address`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PutCryptoAddress {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crypto_network: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bookmarked_status: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub travelrule_metadata: Option<TravelruleMetadata>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct CryptoDestinationAddress {
    pub id: String,
    pub crypto_network: String,
    pub address: String,
    pub nickname: String,
    pub status: String,
    pub created_at: String,
    pub bookmarked: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub travelrule_metadata: Option<TravelruleMetadata>,
}

#[derive(Debug, Clone, Deserialize)]
struct CryptoAddressResponse {
    address: CryptoDestinationAddress,
}

/// ListCryptoDestinationAddressesResponse.
#[derive(Debug, Clone, Deserialize)]
pub struct CryptoAddressList {
    pub addresses: Vec<CryptoDestinationAddress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_cursor: Option<String>,
}

/// Query parameters of List Crypto Destination Addresses.
#[derive(Debug, Clone, Default)]
pub struct ListCryptoAddresses {
    pub ids: Vec<String>,
    pub crypto_networks: Vec<String>,
    pub addresses: Vec<String>,
    pub nicknames: Vec<String>,
    pub bookmarked_status: Option<bool>,
    pub created_at_lt: Option<String>,
    pub created_at_lte: Option<String>,
    pub created_at_eq: Option<String>,
    pub created_at_gte: Option<String>,
    pub created_at_gt: Option<String>,
    pub order: Option<String>,
    pub limit: Option<u32>,
    pub page_cursor: Option<String>,
}

impl ListCryptoAddresses {
    fn query(&self) -> Vec<(&'static str, String)> {
        let mut query = created_at_query([
            &self.created_at_lt,
            &self.created_at_lte,
            &self.created_at_eq,
            &self.created_at_gte,
            &self.created_at_gt,
        ]);
        query.extend(self.ids.iter().map(|v| ("ids", v.clone())));
        query.extend(
            self.crypto_networks
                .iter()
                .map(|v| ("crypto_networks", v.clone())),
        );
        query.extend(self.addresses.iter().map(|v| ("addresses", v.clone())));
        query.extend(self.nicknames.iter().map(|v| ("nicknames", v.clone())));
        if let Some(bookmarked) = self.bookmarked_status {
            query.push(("bookmarked_status", bookmarked.to_string()));
        }
        query.extend(page_query(&self.order, self.limit, &self.page_cursor));
        query
    }
}

/// `created_at.lt`, `.lte`, `.eq`, `.gte`, `.gt`, in that order.
fn created_at_query(bounds: [&Option<String>; 5]) -> Vec<(&'static str, String)> {
    [
        "created_at.lt",
        "created_at.lte",
        "created_at.eq",
        "created_at.gte",
        "created_at.gt",
    ]
    .into_iter()
    .zip(bounds)
    .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
    .collect()
}

fn page_query(
    order: &Option<String>,
    limit: Option<u32>,
    page_cursor: &Option<String>,
) -> Vec<(&'static str, String)> {
    let mut query = Vec::new();
    if let Some(order) = order {
        query.push(("order", order.clone()));
    }
    if let Some(limit) = limit {
        query.push(("limit", limit.to_string()));
    }
    if let Some(cursor) = page_cursor {
        query.push(("page_cursor", cursor.clone()));
    }
    query
}
