//! /v2/transfer/transfers: every movement a customer can see.

use axum::extract::{Path, State};
use axum::Json;
use serde::Serialize;
use serde_json::Value;
use stableport_domain::address::TX_INDEX;
use stableport_domain::amount::format_units;
use stableport_domain::{Direction, TransferStatus};
use stableport_store::{Order, Page, SortKey, Transfer, TransferFilter};
use uuid::Uuid;

use crate::api::common::auth::{scope, Auth};
use crate::api::common::extract::{parse_uuid, Params};
use crate::api::common::fields::many;
use crate::api::common::keys::Keys;
use crate::api::common::pagination::ListBody;
use crate::api::common::pagination::{self, Defaults};
use crate::api::common::problem::{ApiResult, Problem};
use crate::api::common::routes::Routes;
use crate::state::AppState;
use crate::time;

pub fn routes(_sandbox: bool) -> Routes {
    Routes::new()
        .get("/transfer/transfers", list)
        .get("/transfer/transfers/{id}", get)
}

const PAGING: Defaults = Defaults {
    list: "transfers",
    limit: 100,
    max_limit: 1000,
    order: Order::Desc,
};
/// A cursor of the list by update time belongs to that list only.
const PAGING_BY_UPDATE: Defaults = Defaults {
    list: "transfers_by_updated_at",
    ..PAGING
};
/// The spec's `type` enum, all of which a filter may name (we make only
/// the kinds in `TransferKind`; the others match nothing).
pub const TYPES: &[&str] = &[
    "INTERNAL_TRANSFER_DEBIT",
    "INTERNAL_TRANSFER_CREDIT",
    "CRYPTO_DEPOSIT",
    "CRYPTO_WITHDRAWAL",
    "WIRE_DEPOSIT",
    "WIRE_WITHDRAWAL",
    "SEN_DEPOSIT",
    "SEN_WITHDRAWAL",
    "BANK_DEPOSIT",
    "BANK_WITHDRAWAL",
    "PAXOS_TRANSFER_DEBIT",
    "PAXOS_TRANSFER_CREDIT",
    "SIGNET_DEPOSIT",
    "SIGNET_WITHDRAWAL",
    "CBIT_WITHDRAWAL",
    "CBIT_DEPOSIT",
    "CUBIX_DEPOSIT",
    "CUBIX_WITHDRAWAL",
];

#[derive(Serialize)]
pub struct TransferBody {
    id: Uuid,
    customer_id: Uuid,
    profile_id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    identity_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ref_id: Option<String>,
    amount: String,
    total: String,
    fee: String,
    asset: &'static str,
    balance_asset: &'static str,
    direction: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    status: &'static str,
    created_at: String,
    updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    destination_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    crypto_network: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    crypto_tx_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    crypto_tx_index: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fiat_account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memo: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group_id: Option<String>,
}

pub fn transfer_body(t: Transfer) -> TransferBody {
    let amount = format_units(t.units, t.asset);
    // Unsigned: amount - fee for deposits, amount + fee for withdrawals.
    let total = match t.direction {
        Direction::Debit => t.units.saturating_add(t.fee_units),
        Direction::Credit => t.units.saturating_sub(t.fee_units),
    };
    TransferBody {
        id: t.id,
        customer_id: t.customer_id,
        profile_id: t.profile_id,
        identity_id: t.identity_id,
        account_id: t.account_id,
        ref_id: t.ref_id,
        total: format_units(total, t.asset),
        amount,
        fee: format_units(t.fee_units, t.asset),
        asset: t.asset.code(),
        balance_asset: t.balance.map_or(t.asset, |(b, _)| b).code(),
        direction: t.direction.as_str(),
        kind: t.kind.as_str(),
        status: t.status.as_str(),
        created_at: time::format(t.created_at),
        updated_at: time::format(t.updated_at),
        metadata: t.metadata.and_then(|m| serde_json::from_str(&m).ok()),
        destination_address: t.destination_address,
        crypto_network: t.crypto_network,
        crypto_tx_index: t.crypto_tx_hash.as_ref().map(|_| TX_INDEX),
        crypto_tx_hash: t.crypto_tx_hash,
        fiat_account_id: t.fiat_account_id,
        memo: t.memo,
        group_id: t.group_id,
    }
}

pub async fn get(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<TransferBody>> {
    auth.require(scope::READ_TRANSFER)?;
    let id = parse_uuid("id", &id)?;
    let found = app
        .core
        .store
        .transfer(auth.customer, id)
        .await?
        .ok_or_else(|| {
            Problem::not_found(format!(
                "transfer with id {id} not found for customer with id {}",
                auth.customer
            ))
        })?;
    Ok(Json(transfer_body(found)))
}

fn one_of(
    name: &'static str,
    allowed: &'static [&'static str],
) -> impl Fn(&str) -> ApiResult<String> {
    move |v| {
        allowed.contains(&v).then(|| v.to_string()).ok_or_else(|| {
            Problem::bad_request(format!("{name} {v:?} is not one of {}", allowed.join(", ")))
        })
    }
}

fn status(v: &str) -> ApiResult<String> {
    match TransferStatus::parse(v) {
        Some(status) => Ok(status.as_str().to_string()),
        None => Err(Problem::bad_request(format!(
            "statuses {v:?} is not one of {}",
            TransferStatus::names().join(", ")
        ))),
    }
}

fn uuid_text(name: &'static str) -> impl Fn(&str) -> ApiResult<String> {
    move |v| Ok(parse_uuid(name, v)?.to_string())
}

fn text(v: &str) -> ApiResult<String> {
    Ok(v.to_string())
}

pub async fn list(
    State(app): State<AppState>,
    auth: Auth,
    params: Params,
) -> ApiResult<ListBody<TransferBody>> {
    auth.require(scope::READ_TRANSFER)?;
    let by = pagination::order_by(&params, &[SortKey::CreatedAt, SortKey::UpdatedAt])?;
    let paging = match by {
        SortKey::CreatedAt => &PAGING,
        SortKey::UpdatedAt => &PAGING_BY_UPDATE,
    };
    let filter = list_filter(&params, &app.keys, by, paging)?;
    let rows = app
        .core
        .store
        .list_transfers(auth.customer, &filter)
        .await?;
    let (rows, next_page_cursor) =
        pagination::finish(&app.keys, paging.list, &filter.page, rows, |t| match by {
            SortKey::CreatedAt => (t.created_at, t.id.to_string()),
            SortKey::UpdatedAt => (t.updated_at, t.id.to_string()),
        });
    Ok(ListBody {
        items: rows.into_iter().map(transfer_body).collect(),
        next_page_cursor,
    })
}

fn list_filter(
    params: &Params,
    keys: &Keys,
    by: SortKey,
    paging: &Defaults,
) -> ApiResult<TransferFilter> {
    Ok(TransferFilter {
        ids: many(params, "ids", uuid_text("ids"))?,
        profile_ids: many(params, "profile_ids", uuid_text("profile_ids"))?,
        identity_ids: many(params, "identity_ids", uuid_text("identity_ids"))?,
        account_ids: many(params, "account_ids", uuid_text("account_ids"))?,
        ref_ids: many(params, "ref_ids", text)?,
        group_ids: many(params, "group_ids", uuid_text("group_ids"))?,
        crypto_tx_hashes: many(params, "crypto_tx_hashes", text)?,
        types: many(params, "type", one_of("type", TYPES))?,
        statuses: many(params, "statuses", status)?,
        created_at: pagination::time_range(params, "created_at")?,
        updated_at: pagination::time_range(params, "updated_at")?,
        page: Page {
            by,
            ..pagination::page(params, keys, paging)?
        },
    })
}
