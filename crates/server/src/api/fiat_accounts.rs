//! /v2/transfer/fiat-accounts: the bank accounts USD withdrawals go to.
//!
//! Review: a new or changed account is PENDING for
//! `--fiat-account-approval-delay`, after which the approver makes it
//! APPROVED. With the default delay of 0s it is APPROVED in the very response
//! that creates or changes it, so it can be used at once.
//!
//! Delete: the account is marked deleted. It no longer lists or reads (404)
//! unless `include_deleted=true` is passed, as the spec provides; its ref_id
//! stays taken, since a ref_id identifies one request forever.
//!
//! List Fiat Accounts abbreviates each account as Paxos does: no owner names,
//! no mailing addresses, and the account number reduced to its last 4 digits.
//!
//! Sandbox (ours): `PUT /v2/sandbox/fiat-accounts/{id}` sets the status
//! (REJECTED, or PENDING to hold it there) and `fail_withdrawals`.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use stableport_core::destinations;
use stableport_domain::bank::{
    validate_aba_routing, validate_account_number, validate_bic, validate_iban,
};
use stableport_domain::network::{FiatNetwork, WireAccountType};
use stableport_domain::DestinationStatus;
use stableport_store::{
    FiatAccount, FiatAccountChange, FiatAccountCreated, FiatAccountFilter, NewFiatAccount, Order,
    StoreError,
};
use uuid::Uuid;

use crate::api::common::auth::{scope, Auth};
use crate::api::common::extract::{parse_uuid, JsonBody, Params};
use crate::api::common::fields::{bool_param, capped, checked_ref_id, small_metadata};
use crate::api::common::fields::{nonempty, required, uuid_list};
use crate::api::common::owner::{checked_owner, name, updated_owner, Owner, OwnerIn};
use crate::api::common::pagination::ListBody;
use crate::api::common::pagination::{self, Defaults};
use crate::api::common::problem::{ApiResult, Problem};
use crate::api::common::routes::Routes;
use crate::state::{App, AppState};
use crate::time;

pub fn routes(sandbox: bool) -> Routes {
    let sandbox_routes = Routes::new().put("/sandbox/fiat-accounts/{id}", sandbox_update);
    Routes::new()
        .get("/transfer/fiat-accounts", list)
        .post("/transfer/fiat-accounts", create)
        .get("/transfer/fiat-accounts/{id}", get)
        .put("/transfer/fiat-accounts/{id}", update)
        .delete("/transfer/fiat-accounts/{id}", delete)
        .merge_if(sandbox, sandbox_routes)
}

const PAGING: Defaults = Defaults {
    list: "fiat_accounts",
    limit: 100,
    max_limit: 1000,
    order: Order::Desc,
};
/// MailingAddress in the spec: at most 35 of these characters per field,
/// which is what a wire message carries.
const MAX_ADDRESS_FIELD: usize = 35;
const ADDRESS_PUNCTUATION: &str = " /?:().,&'+-";

// ---------------------------------------------------------------------------
// The account as stored and returned. Validated on the way in, so reading it
// back needs no checks.

/// `fiat_network_instructions`: exactly one network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum Instructions {
    #[serde(rename = "wire")]
    Wire(Box<Wire>),
    #[serde(rename = "cubix")]
    Cubix { account_id: String },
}

impl Instructions {
    fn network(&self) -> FiatNetwork {
        match self {
            Instructions::Wire(_) => FiatNetwork::Wire,
            Instructions::Cubix { .. } => FiatNetwork::Cubix,
        }
    }

    /// The list view: account number masked, mailing addresses cut to their
    /// country. (Paxos's list example shows them null, but its schema
    /// requires them: a generated client refuses the null.)
    fn abbreviated(mut self) -> Instructions {
        if let Instructions::Wire(wire) = &mut self {
            let digits: Vec<char> = wire.account_number.chars().collect();
            let last4: String = digits[digits.len().saturating_sub(4)..].iter().collect();
            wire.account_number = format!("XXXX{last4}");
            country_only(&mut wire.fiat_account_owner_address);
            country_only(&mut wire.routing_details.bank_address);
            if let Some(intermediary) = &mut wire.intermediary_routing_details {
                country_only(&mut intermediary.bank_address);
            }
        }
        self
    }
}

fn country_only(address: &mut Option<Address>) {
    if let Some(a) = address {
        *a = Address {
            country: a.country.clone(),
            address1: None,
            address2: None,
            city: None,
            province: None,
            zip_code: None,
        };
    }
}

/// The addresses are always present when stored (the spec requires them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Wire {
    account_number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fiat_account_owner_address: Option<Address>,
    routing_details: Routing,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    intermediary_routing_details: Option<Routing>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Routing {
    routing_number_type: String,
    routing_number: String,
    bank_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bank_address: Option<Address>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Address {
    country: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    address1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    address2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    province: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    zip_code: Option<String>,
}

#[derive(Serialize)]
pub struct FiatAccountBody {
    id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    ref_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    identity_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_id: Option<String>,
    fiat_account_owner: Value,
    fiat_network_instructions: Instructions,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<BTreeMap<String, String>>,
    created_at: String,
    updated_at: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum View {
    Full,
    Abbreviated,
}

fn stored<T: DeserializeOwned>(json: &str) -> ApiResult<T> {
    serde_json::from_str(json).map_err(Problem::internal)
}

fn to_json(value: &impl Serialize) -> ApiResult<String> {
    serde_json::to_string(value).map_err(Problem::internal)
}

fn account_body(a: FiatAccount, view: View) -> ApiResult<FiatAccountBody> {
    let owner: Owner = stored(&a.owner)?;
    let instructions: Instructions = stored(&a.instructions)?;
    let (owner, instructions) = match view {
        View::Full => (
            serde_json::to_value(&owner).map_err(Problem::internal)?,
            instructions,
        ),
        // The list view names no owner: `{}` (the spec's example has a null,
        // which its schema does not allow).
        View::Abbreviated => (json!({}), instructions.abbreviated()),
    };
    Ok(FiatAccountBody {
        id: a.id,
        ref_id: a.ref_id,
        identity_id: a.identity_id,
        account_id: a.account_id,
        fiat_account_owner: owner,
        fiat_network_instructions: instructions,
        status: a.status.as_str(),
        metadata: a.metadata.as_deref().map(stored).transpose()?,
        created_at: time::format(a.created_at),
        updated_at: time::format(a.updated_at),
    })
}

// ---------------------------------------------------------------------------
// Requests. Every field is optional, so that a missing one gets a message
// naming it rather than serde's.

#[derive(Deserialize)]
pub struct CreateRequest {
    ref_id: Option<String>,
    identity_id: Option<String>,
    account_id: Option<String>,
    fiat_account_owner: Option<OwnerIn>,
    fiat_network_instructions: Option<InstructionsIn>,
    metadata: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
pub struct InstructionsIn {
    wire: Option<WireIn>,
    cubix: Option<CubixIn>,
    cbit: Option<Value>,
    dbs_act: Option<Value>,
    scb: Option<Value>,
}

#[derive(Default, Deserialize)]
pub struct WireIn {
    account_number: Option<String>,
    fiat_account_owner_address: Option<AddressIn>,
    routing_details: Option<RoutingIn>,
    intermediary_routing_details: Option<RoutingIn>,
}

#[derive(Default, Deserialize)]
pub struct RoutingIn {
    routing_number_type: Option<String>,
    routing_number: Option<String>,
    bank_name: Option<String>,
    bank_address: Option<AddressIn>,
}

#[derive(Default, Deserialize)]
pub struct AddressIn {
    country: Option<String>,
    address1: Option<String>,
    address2: Option<String>,
    city: Option<String>,
    province: Option<String>,
    zip_code: Option<String>,
}

#[derive(Deserialize)]
pub struct CubixIn {
    account_id: Option<String>,
}

fn bad(detail: impl Into<String>) -> Problem {
    Problem::bad_request(detail)
}

fn checked_instructions(instructions: Option<InstructionsIn>) -> ApiResult<Instructions> {
    const FIELD: &str = "fiat_network_instructions";
    let i = instructions.ok_or_else(|| bad(format!("{FIELD} is required: set wire or cubix")))?;
    for (kind, given) in [
        ("cbit", i.cbit.is_some()),
        ("dbs_act", i.dbs_act.is_some()),
        ("scb", i.scb.is_some()),
    ] {
        if given {
            return Err(bad(format!(
                "{FIELD}.{kind} is not supported; supported: wire, cubix"
            )));
        }
    }
    match (i.wire, i.cubix) {
        (Some(wire), None) => checked_wire(wire).map(|w| Instructions::Wire(Box::new(w))),
        (None, Some(cubix)) => {
            let field = format!("{FIELD}.cubix.account_id");
            let id = required(&field, cubix.account_id)?;
            Ok(Instructions::Cubix {
                account_id: parse_uuid(&field, &id)?.to_string(),
            })
        }
        (Some(_), Some(_)) => Err(bad(format!(
            "{FIELD} must set exactly one of wire and cubix, not both"
        ))),
        (None, None) => Err(bad(format!("{FIELD} must set one of wire or cubix"))),
    }
}

fn checked_wire(wire: WireIn) -> ApiResult<Wire> {
    const FIELD: &str = "fiat_network_instructions.wire";
    let (routing, kind) =
        checked_routing(&format!("{FIELD}.routing_details"), wire.routing_details)?;
    let intermediary = wire
        .intermediary_routing_details
        .map(|r| checked_routing(&format!("{FIELD}.intermediary_routing_details"), Some(r)))
        .transpose()?
        .map(|(routing, _)| routing);
    let account_number = checked_account_number(
        &format!("{FIELD}.account_number"),
        wire.account_number,
        kind,
    )?;
    let owner_address = checked_address(
        &format!("{FIELD}.fiat_account_owner_address"),
        wire.fiat_account_owner_address,
    )?;
    Ok(Wire {
        account_number,
        fiat_account_owner_address: Some(owner_address),
        routing_details: routing,
        intermediary_routing_details: intermediary,
    })
}

/// The bank: an ABA routing number (checksummed) or a SWIFT/BIC code.
fn checked_routing(
    field: &str,
    routing: Option<RoutingIn>,
) -> ApiResult<(Routing, WireAccountType)> {
    let r = required(field, routing)?;
    let kind_field = format!("{field}.routing_number_type");
    let kind_text = required(&kind_field, r.routing_number_type)?;
    let kind: WireAccountType = kind_text
        .parse()
        .map_err(|e| bad(format!("{kind_field}: {e}")))?;
    let number_field = format!("{field}.routing_number");
    let number = required(&number_field, r.routing_number)?;
    match kind {
        WireAccountType::Aba => validate_aba_routing(&number),
        WireAccountType::Swift => validate_bic(&number),
    }
    .map_err(|e| bad(format!("{number_field}: {e}")))?;
    let routing = Routing {
        routing_number_type: kind.code().to_string(),
        routing_number: number,
        bank_name: name(&format!("{field}.bank_name"), r.bank_name)?,
        bank_address: Some(checked_address(
            &format!("{field}.bank_address"),
            r.bank_address,
        )?),
    };
    Ok((routing, kind))
}

/// US (ABA) accounts have plain account numbers. Abroad, an account number
/// that starts with two letters is an IBAN (no other scheme does); it is
/// checked and kept in its compact form.
fn checked_account_number(
    field: &str,
    number: Option<String>,
    kind: WireAccountType,
) -> ApiResult<String> {
    let number = required(field, number)?;
    let looks_like_iban = number
        .as_bytes()
        .get(..2)
        .is_some_and(|b| b.iter().all(u8::is_ascii_alphabetic));
    match kind {
        WireAccountType::Swift if looks_like_iban => validate_iban(&number),
        WireAccountType::Aba if looks_like_iban => {
            return Err(bad(format!(
                "{field} looks like an IBAN, which US (ABA) wires do not use; \
                 send it with routing_number_type SWIFT and the bank's BIC"
            )))
        }
        _ => validate_account_number(&number).map(|()| number),
    }
    .map_err(|e| bad(format!("{field}: {e}")))
}

/// A MailingAddress; empty optional parts are dropped, as in the spec's
/// examples (`address2: ''`).
fn checked_address(field: &str, address: Option<AddressIn>) -> ApiResult<Address> {
    let a = required(field, address)?;
    let part = |name: &str, value: Option<String>| -> ApiResult<Option<String>> {
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        if value.chars().count() > MAX_ADDRESS_FIELD {
            return Err(bad(format!(
                "{field}.{name} must be at most {MAX_ADDRESS_FIELD} characters"
            )));
        }
        if !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ADDRESS_PUNCTUATION.contains(c))
        {
            return Err(bad(format!(
                "{field}.{name} may contain only A-Z, a-z, 0-9, spaces and {}",
                ADDRESS_PUNCTUATION.trim()
            )));
        }
        Ok(Some(value))
    };
    Ok(Address {
        country: part("country", a.country)?
            .ok_or_else(|| bad(format!("{field}.country is required")))?,
        address1: part("address1", a.address1)?,
        address2: part("address2", a.address2)?,
        city: part("city", a.city)?,
        province: part("province", a.province)?,
        zip_code: part("zip_code", a.zip_code)?,
    })
}

fn optional_uuid(field: &str, value: Option<String>) -> ApiResult<Option<String>> {
    value
        .map(|v| parse_uuid(field, &v).map(|id| id.to_string()))
        .transpose()
}

fn not_found(id: Uuid, customer: Uuid) -> Problem {
    Problem::not_found(format!(
        "fiat account with id {id} not found for customer with id {customer}"
    ))
}

fn store_problem(e: StoreError, id: Uuid, customer: Uuid) -> Problem {
    match e {
        StoreError::NotFound => not_found(id, customer),
        other => other.into(),
    }
}

/// The caller's account; a deleted one only when asked for.
async fn owned(app: &App, auth: &Auth, id: Uuid, include_deleted: bool) -> ApiResult<FiatAccount> {
    app.core
        .store
        .fiat_account(auth.customer, id)
        .await?
        .filter(|a| include_deleted || !a.deleted)
        .ok_or_else(|| not_found(id, auth.customer))
}

// ---------------------------------------------------------------------------
// Handlers.

pub async fn create(
    State(app): State<AppState>,
    auth: Auth,
    JsonBody(body): JsonBody<CreateRequest>,
) -> ApiResult<Json<FiatAccountBody>> {
    auth.require(scope::WRITE_FIAT_ACCOUNT)?;
    let owner = checked_owner("fiat_account_owner", body.fiat_account_owner)?;
    let instructions = checked_instructions(body.fiat_network_instructions)?;
    let ref_id = checked_ref_id(body.ref_id)?;
    let identity_id = optional_uuid("identity_id", body.identity_id)?;
    let account_id = optional_uuid("account_id", body.account_id)?;
    let metadata = small_metadata(body.metadata)?;

    let now = time::now();
    let new = NewFiatAccount {
        id: stableport_domain::new_id(),
        customer_id: auth.customer,
        ref_id,
        identity_id,
        account_id,
        owner: to_json(&owner)?,
        network: instructions.network(),
        instructions: to_json(&instructions)?,
        metadata,
        now,
        review: destinations::review(now, app.config.fiat_account_approval_delay),
    };
    let (created, _request) = destinations::create_fiat_account(&app.core, auth.user, new).await?;
    match created {
        FiatAccountCreated::Created(account) => Ok(Json(account_body(account, View::Full)?)),
        FiatAccountCreated::RefIdExists(existing) => Err(Problem::typed(
            StatusCode::CONFLICT,
            "already-exists",
            "Already Exists",
            format!(
                "fiat account already exists with ref_id '{}'",
                existing.ref_id.clone().unwrap_or_default()
            ),
            json!({ "existing": account_body(existing, View::Full)? }),
        )),
    }
}

pub async fn get(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<FiatAccountBody>> {
    auth.require(scope::READ_FIAT_ACCOUNT)?;
    let id = parse_uuid("id", &id)?;
    let include_deleted = bool_param(&params, "include_deleted")?.unwrap_or(false);
    let account = owned(&app, &auth, id, include_deleted).await?;
    Ok(Json(account_body(account, View::Full)?))
}

pub async fn list(
    State(app): State<AppState>,
    auth: Auth,
    params: Params,
) -> ApiResult<ListBody<FiatAccountBody>> {
    auth.require(scope::READ_FIAT_ACCOUNT)?;
    let filter = FiatAccountFilter {
        ids: uuid_list(&params, "ids")?,
        ref_ids: capped(&params, "ref_ids")?
            .into_iter()
            .map(str::to_string)
            .collect(),
        created_at: pagination::time_range(&params, "created_at")?,
        include_deleted: bool_param(&params, "include_deleted")?.unwrap_or(false),
        page: pagination::page(&params, &app.keys, &PAGING)?,
    };
    pagination::check_order_by(&params)?;
    let rows = app
        .core
        .store
        .list_fiat_accounts(auth.customer, &filter)
        .await?;
    let (rows, next_page_cursor) =
        pagination::finish(&app.keys, PAGING.list, &filter.page, rows, |a| {
            (a.created_at, a.id.to_string())
        });
    Ok(ListBody {
        items: rows
            .into_iter()
            .map(|a| account_body(a, View::Abbreviated))
            .collect::<ApiResult<_>>()?,
        next_page_cursor,
    })
}

/// TransferPublicUpdateFiatAccountBody: only what may change. Empty strings
/// and nulls are ignored, as the spec says.
#[derive(Deserialize)]
pub struct UpdateRequest {
    fiat_account_owner: Option<OwnerIn>,
    fiat_network_instructions: Option<UpdateInstructionsIn>,
    metadata: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
pub struct UpdateInstructionsIn {
    wire: Option<WireIn>,
    cubix: Option<Value>,
    cbit: Option<Value>,
    dbs_act: Option<Value>,
    scb: Option<Value>,
}

pub async fn update(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateRequest>,
) -> ApiResult<Json<FiatAccountBody>> {
    auth.require(scope::WRITE_FIAT_ACCOUNT)?;
    let id = parse_uuid("id", &id)?;
    if body.fiat_account_owner.is_none()
        && body.fiat_network_instructions.is_none()
        && body.metadata.is_none()
    {
        return Err(bad(
            "nothing to update: set fiat_account_owner, fiat_network_instructions or metadata",
        ));
    }
    let current = owned(&app, &auth, id, false).await?;
    let mut owner: Owner = stored(&current.owner)?;
    let mut instructions: Instructions = stored(&current.instructions)?;
    if let Some(patch) = body.fiat_account_owner {
        owner = updated_owner(owner, patch)?;
    }
    if let Some(patch) = body.fiat_network_instructions {
        instructions = updated_instructions(instructions, patch)?;
    }
    let metadata = updated_metadata(current.metadata.as_deref(), body.metadata)?;

    let now = time::now();
    let change = FiatAccountChange {
        owner: to_json(&owner)?,
        instructions: to_json(&instructions)?,
        metadata,
        now,
        review: destinations::review(now, app.config.fiat_account_approval_delay),
    };
    let updated = app
        .core
        .store
        .update_fiat_account(&current, &change)
        .await
        .map_err(|e| store_problem(e, id, auth.customer))?;
    Ok(Json(account_body(updated, View::Full)?))
}

/// Changes a wire's mailing addresses and bank names. Account and routing
/// numbers identify the account: a different one needs a new account.
fn updated_instructions(
    current: Instructions,
    patch: UpdateInstructionsIn,
) -> ApiResult<Instructions> {
    const FIELD: &str = "fiat_network_instructions";
    refuse_unpatchable(&patch)?;
    let Some(patch) = patch.wire else {
        return Ok(current);
    };
    let Instructions::Wire(wire) = current else {
        return Err(bad(format!(
            "{FIELD}.wire cannot be updated on a CUBIX account"
        )));
    };
    let wire = *wire;
    let account_number = unchanged(
        &format!("{FIELD}.wire.account_number"),
        patch.account_number,
        &wire.account_number,
    )?;
    let routing_details = Some(updated_routing(
        &format!("{FIELD}.wire.routing_details"),
        &wire.routing_details,
        patch.routing_details,
    )?);
    let intermediary_routing_details = match (wire.intermediary_routing_details, patch.intermediary_routing_details) {
        (current, None) => current.as_ref().map(routing_in),
        (Some(current), Some(patch)) => Some(updated_routing(
            &format!("{FIELD}.wire.intermediary_routing_details"),
            &current,
            Some(patch),
        )?),
        (None, Some(_)) => {
            return Err(bad(format!(
                "{FIELD}.wire.intermediary_routing_details cannot be updated: this account has no intermediary bank"
            )))
        }
    };
    let owner_address = wire
        .fiat_account_owner_address
        .as_ref()
        .map(address_in)
        .unwrap_or_default()
        .overlaid(patch.fiat_account_owner_address);
    checked_wire(WireIn {
        account_number: Some(account_number),
        fiat_account_owner_address: Some(owner_address),
        routing_details,
        intermediary_routing_details,
    })
    .map(|w| Instructions::Wire(Box::new(w)))
}

/// Only a wire's addresses and bank names change; other networks' details
/// identify the account.
fn refuse_unpatchable(patch: &UpdateInstructionsIn) -> ApiResult<()> {
    for (kind, given) in [
        ("cubix", patch.cubix.is_some()),
        ("cbit", patch.cbit.is_some()),
        ("dbs_act", patch.dbs_act.is_some()),
        ("scb", patch.scb.is_some()),
    ] {
        if given {
            return Err(bad(format!(
                "fiat_network_instructions.{kind} cannot be updated; only a wire's addresses and bank names can, so create a new fiat account instead"
            )));
        }
    }
    Ok(())
}

/// A field that may be repeated in an update but not changed.
fn unchanged(field: &str, given: Option<String>, current: &str) -> ApiResult<String> {
    match nonempty(given) {
        Some(given) if given != current => Err(bad(format!(
            "{field} cannot be changed; create a new fiat account instead"
        ))),
        _ => Ok(current.to_string()),
    }
}

fn updated_routing(
    field: &str,
    current: &Routing,
    patch: Option<RoutingIn>,
) -> ApiResult<RoutingIn> {
    let mut merged = routing_in(current);
    let Some(patch) = patch else {
        return Ok(merged);
    };
    unchanged(
        &format!("{field}.routing_number_type"),
        patch.routing_number_type,
        &current.routing_number_type,
    )?;
    unchanged(
        &format!("{field}.routing_number"),
        patch.routing_number,
        &current.routing_number,
    )?;
    if let Some(bank_name) = nonempty(patch.bank_name) {
        merged.bank_name = Some(bank_name);
    }
    merged.bank_address = Some(
        merged
            .bank_address
            .unwrap_or_default()
            .overlaid(patch.bank_address),
    );
    Ok(merged)
}

fn routing_in(r: &Routing) -> RoutingIn {
    RoutingIn {
        routing_number_type: Some(r.routing_number_type.clone()),
        routing_number: Some(r.routing_number.clone()),
        bank_name: Some(r.bank_name.clone()),
        bank_address: r.bank_address.as_ref().map(address_in),
    }
}

fn address_in(a: &Address) -> AddressIn {
    AddressIn {
        country: Some(a.country.clone()),
        address1: a.address1.clone(),
        address2: a.address2.clone(),
        city: a.city.clone(),
        province: a.province.clone(),
        zip_code: a.zip_code.clone(),
    }
}

impl AddressIn {
    /// This address with the patch's non-empty parts in place of its own.
    fn overlaid(self, patch: Option<AddressIn>) -> AddressIn {
        let Some(p) = patch else { return self };
        AddressIn {
            country: nonempty(p.country).or(self.country),
            address1: nonempty(p.address1).or(self.address1),
            address2: nonempty(p.address2).or(self.address2),
            city: nonempty(p.city).or(self.city),
            province: nonempty(p.province).or(self.province),
            zip_code: nonempty(p.zip_code).or(self.zip_code),
        }
    }
}

/// New keys are added and existing ones changed; empty values are ignored.
fn updated_metadata(
    current: Option<&str>,
    patch: Option<BTreeMap<String, String>>,
) -> ApiResult<Option<String>> {
    let Some(patch) = patch else {
        return Ok(current.map(str::to_string));
    };
    let mut merged: BTreeMap<String, String> = current.map(stored).transpose()?.unwrap_or_default();
    merged.extend(patch.into_iter().filter(|(_, v)| !v.is_empty()));
    small_metadata(Some(merged))
}

pub async fn delete(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    auth.require(scope::WRITE_FIAT_ACCOUNT)?;
    let id = parse_uuid("id", &id)?;
    app.core
        .store
        .delete_fiat_account(auth.customer, id, time::now())
        .await
        .map_err(|e| store_problem(e, id, auth.customer))?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub struct SandboxRequest {
    status: Option<String>,
    fail_withdrawals: Option<bool>,
}

/// Sandbox: decides the review (REJECTED, APPROVED, or PENDING to hold it
/// there) and makes withdrawals to the account fail or succeed.
pub async fn sandbox_update(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<SandboxRequest>,
) -> ApiResult<Json<FiatAccountBody>> {
    auth.require(scope::WRITE_FIAT_ACCOUNT)?;
    let id = parse_uuid("id", &id)?;
    if body.status.is_none() && body.fail_withdrawals.is_none() {
        return Err(bad("nothing to change: set status or fail_withdrawals"));
    }
    let status = body
        .status
        .map(|s| {
            DestinationStatus::parse(&s).ok_or_else(|| {
                bad(format!(
                    "status must be one of {}, got {s:?}",
                    DestinationStatus::names().join(", ")
                ))
            })
        })
        .transpose()?;
    let account = app
        .core
        .store
        .sandbox_fiat_account(
            auth.customer,
            id,
            status,
            body.fail_withdrawals,
            time::now(),
        )
        .await
        .map_err(|e| store_problem(e, id, auth.customer))?;
    Ok(Json(account_body(account, View::Full)?))
}

// ---------------------------------------------------------------------------
// Query parameters shared with the crypto address list.
