//! /v2/transfer/crypto-destination-address(es): the blockchain addresses
//! stablecoin withdrawals go to.
//!
//! An address is checked for its network (EIP-55 on ETHEREUM, BASE and
//! POLYGON, a 32-byte base58 key on SOLANA, a StrKey account id on STELLAR)
//! and kept in canonical form, so "0xabc…" and "0xAbC…" are one address.
//! There is no review: an address is APPROVED as soon as it is stored.
//!
//! Sandbox (ours): `PUT /v2/sandbox/crypto-destination-addresses/{id}` with
//! `fail_withdrawals` makes withdrawals to the address fail on purpose.

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use stableport_core::destinations;
use stableport_domain::address::validate_address;
use stableport_domain::network::{CryptoNetwork, NETWORKS_WITHOUT_STABLECOINS};
use stableport_store::{
    CryptoAddress, CryptoAddressFields, CryptoAddressFilter, NewCryptoAddress, Order, StoreError,
};
use uuid::Uuid;

use crate::api::common::auth::{scope, Auth};
use crate::api::common::extract::{parse_uuid, JsonBody, Params};
use crate::api::common::fields::uuid_list;
use crate::api::common::fields::{bool_param, capped};
use crate::api::common::keys::Keys;
use crate::api::common::owner::{checked_owner, Owner, OwnerIn};
use crate::api::common::pagination::{self, Defaults};
use crate::api::common::problem::{ApiResult, Problem};
use crate::api::common::routes::Routes;
use crate::state::AppState;
use crate::time;

pub fn routes(sandbox: bool) -> Routes {
    let sandbox_routes =
        Routes::new().put("/sandbox/crypto-destination-addresses/{id}", sandbox_update);
    Routes::new()
        .put("/transfer/crypto-destination-address", put_address)
        .get("/transfer/crypto-destination-addresses", list)
        .merge_if(sandbox, sandbox_routes)
}

const PAGING: Defaults = Defaults {
    list: "crypto_destination_addresses",
    limit: 100,
    max_limit: 1000,
    order: Order::Desc,
};
const MAX_NICKNAME: usize = 100;
const MAX_VASP_ID: usize = 100;
const CUSTODIAN_TYPES: [&str; 2] = ["VASP", "PRIVATE"];

/// `travelrule_metadata`, as stored and returned.
#[derive(Serialize, Deserialize)]
struct TravelRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    beneficiary: Option<Owner>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    vasp: Option<Vasp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    custodian_type: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Vasp {
    id: String,
}

#[derive(Serialize)]
pub struct AddressBody {
    id: Uuid,
    crypto_network: &'static str,
    address: String,
    nickname: String,
    status: &'static str,
    created_at: String,
    bookmarked: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    travelrule_metadata: Option<serde_json::Value>,
}

/// Paxos's `BeneficiaryPerson` describes `first_name`/`last_name` but
/// requires `firstName`/`lastName`: both spellings are sent, so a client
/// generated either way finds its fields.
fn travelrule_json(rule: &TravelRule) -> ApiResult<serde_json::Value> {
    let mut value = serde_json::to_value(rule).map_err(Problem::internal)?;
    if let Some(person) = value.pointer_mut("/beneficiary/person_details") {
        for (snake, camel) in [("first_name", "firstName"), ("last_name", "lastName")] {
            if let Some(name) = person.get(snake).cloned() {
                person[camel] = name;
            }
        }
    }
    Ok(value)
}

/// PutCryptoDestinationAddressResponse.
#[derive(Serialize)]
pub struct PutResponse {
    address: AddressBody,
}

/// ListCryptoDestinationAddressesResponse: `addresses`, not `items`.
#[derive(Serialize)]
pub struct ListResponse {
    addresses: Vec<AddressBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_cursor: Option<String>,
}

fn address_body(a: CryptoAddress) -> ApiResult<AddressBody> {
    let travelrule_metadata = a
        .travelrule_metadata
        .as_deref()
        .map(serde_json::from_str::<TravelRule>)
        .transpose()
        .map_err(Problem::internal)?
        .as_ref()
        .map(travelrule_json)
        .transpose()?;
    Ok(AddressBody {
        id: a.id,
        crypto_network: a.network.code(),
        address: a.address,
        nickname: a.nickname,
        status: a.status.as_str(),
        created_at: time::format(a.created_at),
        bookmarked: a.bookmarked,
        travelrule_metadata,
    })
}

#[derive(Deserialize)]
pub struct PutRequest {
    id: Option<String>,
    crypto_network: Option<String>,
    address: Option<String>,
    nickname: Option<String>,
    bookmarked_status: Option<bool>,
    travelrule_metadata: Option<TravelRuleIn>,
}

#[derive(Deserialize)]
pub struct TravelRuleIn {
    beneficiary: Option<OwnerIn>,
    vasp: Option<VaspIn>,
    custodian_type: Option<String>,
}

#[derive(Deserialize)]
pub struct VaspIn {
    id: Option<String>,
}

fn bad(detail: impl Into<String>) -> Problem {
    Problem::bad_request(detail)
}

fn checked_network(field: &str, code: &str) -> ApiResult<CryptoNetwork> {
    code.parse().map_err(|e| bad(format!("{field}: {e}")))
}

/// Paxos networks that carry none of our stablecoins match nothing: a filter
/// naming only those is an empty list, not a 400. Returns the networks to
/// filter on and whether the filter can match nothing.
fn network_filter(params: &Params) -> ApiResult<(Vec<CryptoNetwork>, bool)> {
    let codes = capped(params, "crypto_networks")?;
    let supported: Vec<&str> = codes
        .iter()
        .copied()
        .filter(|c| !NETWORKS_WITHOUT_STABLECOINS.contains(c))
        .collect();
    let networks = supported
        .into_iter()
        .map(|code| checked_network("crypto_networks", code))
        .collect::<ApiResult<Vec<_>>>()?;
    let matches_nothing = !codes.is_empty() && networks.is_empty();
    Ok((networks, matches_nothing))
}

fn checked_nickname(nickname: Option<String>) -> ApiResult<Option<String>> {
    let Some(nickname) = nickname else {
        return Ok(None);
    };
    let trimmed = nickname.trim();
    if trimmed.is_empty() || trimmed.chars().count() > MAX_NICKNAME {
        return Err(bad(format!(
            "nickname must be 1 to {MAX_NICKNAME} characters"
        )));
    }
    Ok(Some(trimmed.to_string()))
}

fn checked_travelrule(travelrule: Option<TravelRuleIn>) -> ApiResult<Option<String>> {
    const FIELD: &str = "travelrule_metadata";
    let Some(t) = travelrule else {
        return Ok(None);
    };
    let beneficiary = t
        .beneficiary
        .map(|b| checked_owner(&format!("{FIELD}.beneficiary"), Some(b)))
        .transpose()?;
    let vasp = t
        .vasp
        .map(|v| match v.id.as_deref().map(str::trim) {
            Some(id) if !id.is_empty() && id.chars().count() <= MAX_VASP_ID => {
                Ok(Vasp { id: id.to_string() })
            }
            _ => Err(bad(format!(
                "{FIELD}.vasp.id must be 1 to {MAX_VASP_ID} characters"
            ))),
        })
        .transpose()?;
    if let Some(kind) = &t.custodian_type {
        if !CUSTODIAN_TYPES.contains(&kind.as_str()) {
            return Err(bad(format!(
                "{FIELD}.custodian_type must be one of {}, got {kind:?}",
                CUSTODIAN_TYPES.join(", ")
            )));
        }
    }
    let travelrule = TravelRule {
        beneficiary,
        vasp,
        custodian_type: t.custodian_type,
    };
    serde_json::to_string(&travelrule)
        .map(Some)
        .map_err(Problem::internal)
}

/// "ETHEREUM 0x5aAeb6…eAed": something to tell addresses apart by until
/// the customer names them.
pub(crate) fn default_nickname(network: CryptoNetwork, address: &str) -> String {
    let chars: Vec<char> = address.chars().collect();
    if chars.len() <= 12 {
        return format!("{network} {address}");
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{network} {head}...{tail}")
}

fn not_found(id: Uuid, customer: Uuid) -> Problem {
    Problem::not_found(format!(
        "crypto destination address with id {id} not found for customer with id {customer}"
    ))
}

fn store_problem(e: StoreError, id: Uuid, customer: Uuid) -> Problem {
    match e {
        StoreError::NotFound => not_found(id, customer),
        other => other.into(),
    }
}

/// Creates or updates an address: by `id`, or by `crypto_network` and
/// `address` (created when the customer does not have it yet).
pub async fn put_address(
    State(app): State<AppState>,
    auth: Auth,
    JsonBody(body): JsonBody<PutRequest>,
) -> ApiResult<Json<PutResponse>> {
    auth.require(scope::WRITE_CRYPTO_ADDRESS)?;
    let fields = CryptoAddressFields {
        nickname: checked_nickname(body.nickname)?,
        bookmarked: body.bookmarked_status,
        travelrule_metadata: checked_travelrule(body.travelrule_metadata)?,
    };
    let (now, store) = (time::now(), &app.core.store);
    let stored = match target(body.id, body.crypto_network, body.address)? {
        Target::Stored(id) => (store.update_crypto_address(auth.customer, id, &fields, now))
            .await
            .map_err(|e| store_problem(e, id, auth.customer))?,
        Target::At(network, address) => {
            let new = NewCryptoAddress {
                id: stableport_domain::new_id(),
                customer_id: auth.customer,
                network,
                default_nickname: default_nickname(network, &address),
                address,
                now,
            };
            let put = destinations::put_crypto_address(&app.core, auth.user, &new, &fields);
            put.await?.0
        }
    };
    Ok(Json(PutResponse {
        address: address_body(stored)?,
    }))
}

/// The address a PUT names: a stored one by id, or one at a network and
/// address (its canonical form).
enum Target {
    Stored(Uuid),
    At(CryptoNetwork, String),
}

fn target(
    id: Option<String>,
    network: Option<String>,
    address: Option<String>,
) -> ApiResult<Target> {
    match (id, network, address) {
        (Some(id), None, None) => Ok(Target::Stored(parse_uuid("id", &id)?)),
        (None, Some(network), Some(address)) => {
            let network = checked_network("crypto_network", &network)?;
            let address =
                validate_address(network, &address).map_err(|e| bad(format!("address: {e}")))?;
            Ok(Target::At(network, address))
        }
        (Some(_), _, _) => Err(bad(
            "give either id (to update an address) or crypto_network and address, not both",
        )),
        (None, None, _) => Err(bad(
            "crypto_network and address are required, unless id names an existing address",
        )),
        (None, Some(_), None) => Err(bad("address is required with crypto_network")),
    }
}

/// Stored addresses are canonical; an EVM address filtered on in another
/// letter case is made canonical too, so it still matches.
fn canonical_filter_address(address: &str) -> String {
    validate_address(CryptoNetwork::Ethereum, address).unwrap_or_else(|_| address.to_string())
}

pub async fn list(
    State(app): State<AppState>,
    auth: Auth,
    params: Params,
) -> ApiResult<Json<ListResponse>> {
    auth.require(scope::READ_CRYPTO_ADDRESS)?;
    let (networks, only_unsupported) = network_filter(&params)?;
    if only_unsupported {
        return Ok(Json(ListResponse {
            addresses: Vec::new(),
            next_page_cursor: None,
        }));
    }
    let filter = list_filter(&params, &app.keys, networks)?;
    pagination::check_order_by(&params)?;
    let rows = app
        .core
        .store
        .list_crypto_addresses(auth.customer, &filter)
        .await?;
    let (rows, next_page_cursor) =
        pagination::finish(&app.keys, PAGING.list, &filter.page, rows, |a| {
            (a.created_at, a.id.to_string())
        });
    Ok(Json(ListResponse {
        addresses: rows
            .into_iter()
            .map(address_body)
            .collect::<ApiResult<_>>()?,
        next_page_cursor,
    }))
}

fn list_filter(
    params: &Params,
    keys: &Keys,
    networks: Vec<CryptoNetwork>,
) -> ApiResult<CryptoAddressFilter> {
    Ok(CryptoAddressFilter {
        ids: uuid_list(params, "ids")?,
        networks,
        addresses: capped(params, "addresses")?
            .into_iter()
            .map(canonical_filter_address)
            .collect(),
        nicknames: capped(params, "nicknames")?
            .into_iter()
            .map(str::to_string)
            .collect(),
        bookmarked: bool_param(params, "bookmarked_status")?,
        created_at: pagination::time_range(params, "created_at")?,
        page: pagination::page(params, keys, &PAGING)?,
    })
}

#[derive(Deserialize)]
pub struct SandboxRequest {
    fail_withdrawals: Option<bool>,
}

/// Sandbox: makes withdrawals to the address fail, or succeed again.
pub async fn sandbox_update(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<SandboxRequest>,
) -> ApiResult<Json<PutResponse>> {
    auth.require(scope::WRITE_CRYPTO_ADDRESS)?;
    let id = parse_uuid("id", &id)?;
    let fail = body
        .fail_withdrawals
        .ok_or_else(|| bad("fail_withdrawals is required"))?;
    let stored = app
        .core
        .store
        .sandbox_crypto_address(auth.customer, id, fail, time::now())
        .await
        .map_err(|e| store_problem(e, id, auth.customer))?;
    Ok(Json(PutResponse {
        address: address_body(stored)?,
    }))
}
