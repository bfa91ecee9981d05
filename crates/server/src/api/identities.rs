//! /v2/identity/identities and /v2/identity/accounts: who third-party
//! integrations transact for. Bodies are checked field by field against
//! Paxos's schemas and kept as given; verification statuses are set by the
//! sandbox (PUT .../sandbox-status), never by a create or update.

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Map, Value};
use stableport_core::identities::{
    self, AccountChange, IdentityChange, NewAccount, NewIdentity, SetChecks,
};
use stableport_domain::IdentityStatus;
use stableport_store::{Account, AccountFilter, Identity, IdentityFilter, Order};
use uuid::Uuid;

use crate::api::common::auth::{scope, Auth};
use crate::api::common::extract::{parse_uuid, JsonBody, Params};
use crate::api::common::fields::{already_exists, bool_param, checked_ref_id, created, many};
use crate::api::common::pagination::{self, Defaults, ListBody};
use crate::api::common::problem::{ApiResult, Problem};
use crate::api::common::routes::Routes;
use crate::api::common::spec::check_request;
use crate::state::AppState;
use crate::time;
use stableport_core::Created;

pub fn routes(sandbox: bool) -> Routes {
    let sandbox_routes =
        Routes::new().put("/identity/identities/{id}/sandbox-status", sandbox_status);
    Routes::new()
        .get("/identity/identities", list)
        .post("/identity/identities", create)
        .get("/identity/identities/{id}", get)
        .put("/identity/identities/{id}", update)
        .get("/identity/accounts", list_accounts)
        .post("/identity/accounts", create_account)
        .put("/identity/accounts", update_account)
        .get("/identity/accounts/{id}", get_account)
        .merge_if(sandbox, sandbox_routes)
}

const PAGING: Defaults = Defaults {
    list: "identities",
    limit: 100,
    max_limit: 1000,
    order: Order::Desc,
};

const ACCOUNT_PAGING: Defaults = Defaults {
    list: "accounts",
    ..PAGING
};

/// Statuses inside person or institution details that only the sandbox sets.
const SET_BY_VERIFICATION: [&str; 4] = [
    "id_verification_status",
    "sanctions_verification_status",
    "document_verification_status",
    "additional_screening_status",
];

/// The body as an object checked against `schema`.
fn checked_body(schema: &str, body: Value) -> ApiResult<Map<String, Value>> {
    check_request(schema, &body, "").map_err(Problem::bad_request)?;
    let Value::Object(fields) = body else {
        return Err(Problem::bad_request("the body must be a JSON object"));
    };
    for details in ["person_details", "institution_details"] {
        let given = |s: &&&str| fields.get(details).and_then(|d| d.get(**s)).is_some();
        if let Some(set) = SET_BY_VERIFICATION.iter().find(given) {
            return Err(Problem::bad_request(format!(
                "{details}.{set} is set by verification: PUT /v2/identity/identities/{{id}}/sandbox-status"
            )));
        }
    }
    Ok(fields)
}

/// `metadata` and `ref_id`, taken out of a checked body.
fn take_common(fields: &mut Map<String, Value>) -> ApiResult<(Option<String>, Option<String>)> {
    let metadata = fields.remove("metadata").map(|m| m.to_string());
    let ref_id = fields
        .remove("ref_id")
        .and_then(|r| r.as_str().map(String::from));
    Ok((metadata, checked_ref_id(ref_id)?))
}

pub async fn create(
    State(app): State<AppState>,
    auth: Auth,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    auth.require(scope::WRITE_IDENTITY)?;
    let mut details = checked_body("CreateIdentityRequest", body)?;
    let (metadata, ref_id) = take_common(&mut details)?;
    let new = NewIdentity {
        ref_id,
        details,
        metadata,
    };
    let outcome = identities::create(&app.core, auth.customer, new, time::now()).await?;
    let ref_id = |i: &Identity| i.ref_id.clone().unwrap_or_default();
    created(outcome, "identity", ref_id, |i| {
        identity_body(i, true, true)
    })
}

pub async fn update(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    auth.require(scope::WRITE_IDENTITY)?;
    let id = parse_uuid("id", &id)?;
    let mut details = checked_body("IdentityPublicUpdateIdentityBody", body)?;
    let (metadata, ref_id) = take_common(&mut details)?;
    let set_user_disabled = details
        .remove("set_user_disabled")
        .and_then(|v| v.as_bool());
    if let Some(v) = details.remove("set_tax_details_not_required") {
        details.insert("tax_details_not_required".into(), v);
    }
    let change = IdentityChange {
        details,
        metadata,
        ref_id,
        set_user_disabled,
    };
    let updated = identities::update(&app.core, auth.customer, id, change, time::now()).await?;
    Ok(Json(identity_body(updated, true, true)))
}

pub async fn get(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    auth.require(scope::READ_IDENTITY)?;
    let id = parse_uuid("id", &id)?;
    let details = bool_param(&params, "include_details")?.unwrap_or(false);
    let members = bool_param(&params, "include_institution_members")?.unwrap_or(false);
    let found = identities::find(&app.core, auth.customer, id).await?;
    Ok(Json(identity_body(found, details, members)))
}

pub async fn list(
    State(app): State<AppState>,
    auth: Auth,
    params: Params,
) -> ApiResult<ListBody<Value>> {
    auth.require(scope::READ_IDENTITY)?;
    pagination::check_order_by(&params)?;
    let filter = IdentityFilter {
        summary_statuses: many(&params, "summary_status", status_name)?,
        kinds: many(&params, "identity_type", identity_type)?,
        created_at: pagination::time_range(&params, "created_at")?,
        updated_at: pagination::time_range(&params, "updated_at")?,
        page: pagination::page(&params, &app.keys, &PAGING)?,
    };
    let rows = app
        .core
        .store
        .list_identities(auth.customer, &filter)
        .await?;
    let (rows, next_page_cursor) =
        pagination::finish(&app.keys, PAGING.list, &filter.page, rows, |i| {
            (i.created_at, i.id.to_string())
        });
    Ok(ListBody {
        items: rows
            .into_iter()
            .map(|i| identity_body(i, false, false))
            .collect(),
        next_page_cursor,
    })
}

fn status_name(v: &str) -> ApiResult<String> {
    parse_status("summary_status", v).map(|s| s.as_str().to_string())
}

fn parse_status(field: &str, v: &str) -> ApiResult<IdentityStatus> {
    IdentityStatus::parse(v).ok_or_else(|| {
        Problem::bad_request(format!(
            "{field} {v:?} is not one of {}",
            IdentityStatus::names().join(", ")
        ))
    })
}

fn identity_type(v: &str) -> ApiResult<String> {
    match v {
        "PERSON" | "INSTITUTION" => Ok(v.to_string()),
        _ => Err(Problem::bad_request(format!(
            "identity_type {v:?} is not one of PERSON, INSTITUTION"
        ))),
    }
}

/// Identity: what the client gave, with what verification found.
pub fn identity_body(i: Identity, include_details: bool, include_members: bool) -> Value {
    let mut body: Map<String, Value> = serde_json::from_str(&i.details).unwrap_or_default();
    let details_key = match i.kind.as_str() {
        "PERSON" => "person_details",
        _ => "institution_details",
    };
    if !include_details {
        body.remove(details_key);
    } else if let Some(Value::Object(details)) = body.get_mut(details_key) {
        let c = i.checks;
        details.insert(
            "sanctions_verification_status".into(),
            json!(c.sanctions_verification.as_str()),
        );
        details.insert(
            "additional_screening_status".into(),
            json!(c.additional_screening.as_str()),
        );
        let own = match details_key {
            "person_details" => ("id_verification_status", c.id_verification),
            _ => ("document_verification_status", c.document_verification),
        };
        details.insert(own.0.into(), json!(own.1.as_str()));
    }
    if !include_members {
        body.remove("institution_members");
    }
    body.insert("id".into(), json!(i.id));
    body.insert("type".into(), json!(i.kind));
    body.insert("summary_status".into(), json!(i.summary.as_str()));
    body.insert("user_disabled".into(), json!(i.user_disabled));
    body.insert("admin_disabled".into(), json!(i.admin_disabled));
    body.insert("created_at".into(), json!(time::format(i.created_at)));
    body.insert("updated_at".into(), json!(time::format(i.updated_at)));
    if let Some(ref_id) = i.ref_id {
        body.insert("ref_id".into(), json!(ref_id));
    }
    if let Some(metadata) = i
        .metadata
        .and_then(|m| serde_json::from_str::<Value>(&m).ok())
    {
        body.insert("metadata".into(), metadata);
    }
    Value::Object(body)
}

/// Sandbox: sets verification statuses and disabled flags; `{}` back.
pub async fn sandbox_status(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    auth.require(scope::WRITE_IDENTITY)?;
    let id = parse_uuid("id", &id)?;
    check_request("IdentitySandboxSandboxSetIdentityStatusBody", &body, "")
        .map_err(Problem::bad_request)?;
    let status = |k: &str| body[k].as_str().map(|v| parse_status(k, v)).transpose();
    let set = SetChecks {
        id_verification: status("id_verification_status")?,
        sanctions_verification: status("sanctions_verification_status")?,
        document_verification: status("document_verification_status")?,
        additional_screening: status("additional_screening_status")?,
        user_disabled: body["user_disabled"]["disabled"].as_bool(),
        admin_disabled: body["admin_disabled"]["disabled"].as_bool(),
    };
    identities::set_checks(&app.core, auth.customer, id, set, time::now()).await?;
    Ok(Json(json!({})))
}

/// The fields a client may set on an account.
const ACCOUNT_FIELDS: [&str; 6] = [
    "identity_id",
    "description",
    "metadata",
    "ref_id",
    "members",
    "type",
];

/// The `account` object of a checked body, with only settable fields.
fn account_fields(body: &Map<String, Value>, also: &[&str]) -> ApiResult<Map<String, Value>> {
    let account = body
        .get("account")
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| Problem::bad_request("account is required"))?;
    if let Some(k) = account
        .keys()
        .find(|k| !ACCOUNT_FIELDS.contains(&k.as_str()) && !also.contains(&k.as_str()))
    {
        return Err(Problem::bad_request(format!("account.{k} cannot be set")));
    }
    for (i, m) in account
        .get("members")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if m.get("id").is_some() {
            return Err(Problem::bad_request(format!(
                "account.members[{i}].id is generated; do not send it"
            )));
        }
    }
    Ok(account)
}

fn text(account: &Map<String, Value>, key: &str) -> Option<String> {
    account.get(key).and_then(Value::as_str).map(String::from)
}

pub async fn create_account(
    State(app): State<AppState>,
    auth: Auth,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    auth.require(scope::WRITE_ACCOUNT)?;
    let body = checked_body("CreateAccountRequest", body)?;
    let account = account_fields(&body, &[])?;
    let identity_id = text(&account, "identity_id")
        .ok_or_else(|| Problem::bad_request("account.identity_id is required"))?;
    let new = NewAccount {
        ref_id: checked_ref_id(text(&account, "ref_id"))?,
        identity_id: parse_uuid("account.identity_id", &identity_id)?,
        description: text(&account, "description"),
        metadata: account.get("metadata").map(Value::to_string),
        members: account
            .get("members")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        kind: text(&account, "type"),
        create_profile: body
            .get("create_profile")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    };
    let (fresh, account) =
        match identities::create_account(&app.core, auth.customer, new, time::now()).await? {
            Created::New(a) => (true, a),
            Created::Existing(a) => (false, a),
        };
    let ref_id = account.ref_id.clone().unwrap_or_default();
    let body = render_account(&app, auth.customer, account).await?;
    match fresh {
        true => Ok(Json(body)),
        false => Err(already_exists("account", &ref_id, body)),
    }
}

pub async fn update_account(
    State(app): State<AppState>,
    auth: Auth,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    auth.require(scope::WRITE_ACCOUNT)?;
    let body = checked_body("UpdateAccountRequest", body)?;
    let account = account_fields(&body, &["id"])?;
    let id = text(&account, "id").ok_or_else(|| Problem::bad_request("account.id is required"))?;
    let id = parse_uuid("account.id", &id)?;
    if account.contains_key("identity_id") || account.contains_key("ref_id") {
        return Err(Problem::bad_request(
            "account.identity_id and account.ref_id cannot change",
        ));
    }
    let change = AccountChange {
        description: text(&account, "description"),
        metadata: account.get("metadata").map(Value::to_string),
        members: account.get("members").and_then(Value::as_array).cloned(),
        kind: text(&account, "type"),
        set_user_disabled: body.get("set_user_disabled").and_then(Value::as_bool),
    };
    let updated =
        identities::update_account(&app.core, auth.customer, id, change, time::now()).await?;
    Ok(Json(render_account(&app, auth.customer, updated).await?))
}

pub async fn get_account(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    auth.require(scope::READ_ACCOUNT)?;
    let id = parse_uuid("id", &id)?;
    let found = identities::find_account(&app.core, auth.customer, id).await?;
    Ok(Json(render_account(&app, auth.customer, found).await?))
}

pub async fn list_accounts(
    State(app): State<AppState>,
    auth: Auth,
    params: Params,
) -> ApiResult<ListBody<Value>> {
    auth.require(scope::READ_ACCOUNT)?;
    pagination::check_order_by(&params)?;
    let identity_ids = many(&params, "identity_id", |v| {
        Ok(parse_uuid("identity_id", v)?.to_string())
    })?;
    let filter = AccountFilter {
        identity_ids,
        created_at: pagination::time_range(&params, "created_at")?,
        updated_at: pagination::time_range(&params, "updated_at")?,
        page: pagination::page(&params, &app.keys, &ACCOUNT_PAGING)?,
    };
    let rows = app.core.store.list_accounts(auth.customer, &filter).await?;
    let (rows, next_page_cursor) =
        pagination::finish(&app.keys, ACCOUNT_PAGING.list, &filter.page, rows, |a| {
            (a.created_at, a.id.to_string())
        });
    let mut items = Vec::with_capacity(rows.len());
    for a in rows {
        items.push(render_account(&app, auth.customer, a).await?);
    }
    Ok(ListBody {
        items,
        next_page_cursor,
    })
}

/// Account, with the status of its identity.
async fn render_account(app: &AppState, customer: Uuid, a: Account) -> ApiResult<Value> {
    let owner = identities::find(&app.core, customer, a.identity_id).await?;
    let mut body = json!({
        "id": a.id,
        "identity_id": a.identity_id,
        "admin_disabled": false,
        "user_disabled": a.user_disabled,
        "summary_status": identities::account_summary(&a, &owner).as_str(),
        "created_at": time::format(a.created_at),
        "updated_at": time::format(a.updated_at),
    });
    let optional = [
        ("description", a.description.map(Value::String)),
        ("ref_id", a.ref_id.map(Value::String)),
        ("type", a.kind.map(Value::String)),
        ("profile_id", a.profile_id.map(|p| json!(p))),
        (
            "metadata",
            a.metadata.and_then(|m| serde_json::from_str(&m).ok()),
        ),
        (
            "members",
            a.members.and_then(|m| serde_json::from_str(&m).ok()),
        ),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            body[key] = value;
        }
    }
    Ok(body)
}
