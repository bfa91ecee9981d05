//! `limit`, `order` and signed `page_cursor`s for list endpoints.
//!
//! A cursor names the last row returned, as (created_at, id); the next page
//! is the rows strictly after it. Rows created meanwhile land at the end of
//! an ascending walk or before the start of a descending one, so a walk sees
//! every row exactly once. Cursors carry a MAC and the list and order they
//! belong to; anything else is refused.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;
use stableport_store::{Order, Page, SortKey, TimeRange};

use crate::api::common::extract::Params;
use crate::api::common::keys::Keys;
use crate::api::common::problem::Problem;

pub struct Defaults {
    /// Which list the cursor belongs to.
    pub list: &'static str,
    pub limit: i64,
    pub max_limit: i64,
    pub order: Order,
}

pub fn page(params: &Params, keys: &Keys, defaults: &Defaults) -> Result<Page, Problem> {
    let limit = match params.one("limit")? {
        None => defaults.limit,
        Some(text) => match text.parse::<i64>() {
            Ok(n) if (1..=defaults.max_limit).contains(&n) => n,
            _ => {
                return Err(Problem::bad_request(format!(
                    "limit must be a whole number from 1 to {}, got {text:?}",
                    defaults.max_limit
                )))
            }
        },
    };
    let order = match params.one("order")? {
        None => defaults.order,
        Some("ASC") => Order::Asc,
        Some("DESC") => Order::Desc,
        Some(other) => {
            return Err(Problem::bad_request(format!(
                "order must be ASC or DESC, got {other:?}"
            )))
        }
    };
    let after = params
        .one("page_cursor")?
        .filter(|c| !c.is_empty())
        .map(|c| decode(keys, defaults.list, order, c))
        .transpose()?;
    // One row more than asked tells whether another page follows.
    Ok(Page {
        order,
        limit: limit + 1,
        after,
        by: SortKey::CreatedAt,
    })
}

/// Trims the extra row and returns the cursor for the next page, if any.
pub fn finish<T>(
    keys: &Keys,
    list: &'static str,
    page: &Page,
    mut items: Vec<T>,
    key: impl Fn(&T) -> (i64, String),
) -> (Vec<T>, Option<String>) {
    let wanted = usize::try_from(page.limit - 1).unwrap_or(0);
    if items.len() <= wanted {
        return (items, None);
    }
    items.truncate(wanted);
    let cursor = items
        .last()
        .map(|last| encode(keys, list, page.order, key(last)));
    (items, cursor)
}

fn order_name(order: Order) -> &'static str {
    match order {
        Order::Asc => "ASC",
        Order::Desc => "DESC",
    }
}

pub fn encode(keys: &Keys, list: &str, order: Order, (created_at, id): (i64, String)) -> String {
    let payload = format!("{list}|{}|{created_at}|{id}", order_name(order));
    let mut bytes = payload.into_bytes();
    let mac = keys.sign_cursor(&bytes);
    bytes.extend_from_slice(&mac);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn decode(
    keys: &Keys,
    list: &str,
    order: Order,
    cursor: &str,
) -> Result<(i64, String), Problem> {
    let invalid = || {
        Problem::bad_request(
            "page_cursor is invalid: pass the next_page_cursor of a previous response unchanged",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    if bytes.len() <= 16 {
        return Err(invalid());
    }
    let (payload, mac) = bytes.split_at(bytes.len() - 16);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        keys.sign_cursor(payload).as_slice(),
        mac,
    )) {
        return Err(invalid());
    }
    let text = std::str::from_utf8(payload).map_err(|_| invalid())?;
    let parts: Vec<&str> = text.split('|').collect();
    let [cursor_list, cursor_order, created_at, id] = parts[..] else {
        return Err(invalid());
    };
    if cursor_list != list {
        return Err(invalid());
    }
    if cursor_order != order_name(order) {
        return Err(Problem::bad_request(format!(
            "page_cursor was issued for order {cursor_order}; pass the same order to continue"
        )));
    }
    Ok((created_at.parse().map_err(|_| invalid())?, id.to_string()))
}

/// The `FIELD.lt`, `.lte`, `.eq`, `.gte` and `.gt` bounds of a list query.
pub fn time_range(params: &Params, field: &str) -> Result<TimeRange, Problem> {
    Ok(TimeRange {
        lt: params.time(&format!("{field}.lt"))?,
        lte: params.time(&format!("{field}.lte"))?,
        eq: params.time(&format!("{field}.eq"))?,
        gte: params.time(&format!("{field}.gte"))?,
        gt: params.time(&format!("{field}.gt"))?,
    })
}

/// `order_by`, on the lists that take it: CREATED_AT is the only order.
pub fn check_order_by(params: &Params) -> Result<(), Problem> {
    order_by(params, &[SortKey::CreatedAt]).map(|_| ())
}

/// `order_by` among the keys a list allows; CREATED_AT by default.
pub fn order_by(params: &Params, allowed: &[SortKey]) -> Result<SortKey, Problem> {
    let Some(text) = params.one("order_by")? else {
        return Ok(SortKey::CreatedAt);
    };
    allowed
        .iter()
        .copied()
        .find(|k| k.code() == text)
        .ok_or_else(|| {
            let names: Vec<&str> = allowed.iter().map(|k| k.code()).collect();
            Problem::bad_request(format!(
                "order_by must be {}, got {text:?}",
                names.join(" or ")
            ))
        })
}

#[derive(Serialize)]
pub struct ListBody<T> {
    pub items: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_cursor: Option<String>,
}

/// About what one item of a page takes as JSON (a settled conversion is
/// about 410 bytes, more with a ref_id or metadata), to size the page's
/// buffer once.
const ITEM_BYTES: usize = 512;

/// A page is written into one buffer sized for its items. axum's `Json`
/// starts at 128 bytes, and a page of 100 (about 40 KB) grew and copied
/// it nine times.
impl<T: Serialize> IntoResponse for ListBody<T> {
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity(64 + self.items.len() * ITEM_BYTES);
        match serde_json::to_writer(&mut body, &self) {
            Ok(()) => {
                let json = HeaderValue::from_static("application/json");
                ([(header::CONTENT_TYPE, json)], body).into_response()
            }
            Err(e) => Problem::internal(e).into_response(),
        }
    }
}
