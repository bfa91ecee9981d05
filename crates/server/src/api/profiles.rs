//! /v2/profiles: profiles and their balances.

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use stableport_domain::amount::format_units;
use stableport_domain::Asset;
use stableport_store::{Order, Profile, ProfileFilter, ProfileKind};
use uuid::Uuid;

use crate::api::common::auth::{scope, Auth};
use crate::api::common::extract::{parse_uuid, JsonBody, Params};
use crate::api::common::fields::bool_param;
use crate::api::common::fields::many;
use crate::api::common::owned::{owned_profile, profile_ref, visible_profile};
use crate::api::common::pagination::ListBody;
use crate::api::common::pagination::{self, Defaults};
use crate::api::common::problem::{ApiResult, Problem};
use crate::api::common::routes::Routes;
use crate::state::AppState;
use stableport_core::profiles;

pub fn routes(_sandbox: bool) -> Routes {
    Routes::new()
        .get("/profiles", list)
        .post("/profiles", create)
        .get("/profiles/{profile_id}", get)
        .put("/profiles/{profile_id}", update)
        .get("/profiles/{profile_id}/balances", balances)
        .get("/profiles/{profile_id}/balances/{asset}", balance)
        .put("/profiles/{profile_id}/deactivate", deactivate)
}

const PAGING: Defaults = Defaults {
    list: "profiles",
    limit: 1000,
    max_limit: 1000,
    order: Order::Asc,
};
const MAX_NICKNAME: usize = 100;
const MAX_DESCRIPTION: usize = 1000;

#[derive(Serialize)]
pub struct ProfileBody {
    id: Uuid,
    nickname: String,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    /// The third-party account it was made for (CreateAccount's create_profile).
    #[serde(skip_serializing_if = "Option::is_none")]
    account_id: Option<Uuid>,
}

impl From<Profile> for ProfileBody {
    fn from(p: Profile) -> Self {
        ProfileBody {
            id: p.id,
            nickname: p.nickname,
            kind: p.kind.as_str(),
            description: p.description,
            account_id: p.account_id,
        }
    }
}

#[derive(Clone, Serialize)]
pub struct BalanceBody {
    asset: &'static str,
    available: String,
    trading: &'static str,
}

pub async fn list(
    State(app): State<AppState>,
    auth: Auth,
    params: Params,
) -> ApiResult<ListBody<ProfileBody>> {
    auth.require(scope::READ_PROFILE)?;
    let filter = ProfileFilter {
        created_at: pagination::time_range(&params, "created_at")?,
        nickname_prefix: params.one("nickname")?.map(str::to_string),
        ids: many(&params, "ids", |id| parse_uuid("ids", id))?,
        include_deactivated: bool_param(&params, "include_deactivated")?.unwrap_or(false),
        page: pagination::page(&params, &app.keys, &PAGING)?,
    };
    pagination::check_order_by(&params)?;
    let rows = app.core.store.list_profiles(auth.customer, &filter).await?;
    let (rows, next_page_cursor) =
        pagination::finish(&app.keys, PAGING.list, &filter.page, rows, |p| {
            (p.created_at, p.id.to_string())
        });
    Ok(ListBody {
        items: rows.into_iter().map(Into::into).collect(),
        next_page_cursor,
    })
}

#[derive(Deserialize)]
pub struct CreateRequest {
    nickname: Option<String>,
    description: Option<String>,
}

fn checked_nickname(nickname: Option<String>) -> ApiResult<String> {
    let nickname = nickname.ok_or_else(|| Problem::bad_request("nickname is required"))?;
    let trimmed = nickname.trim();
    if trimmed.is_empty() || trimmed.chars().count() > MAX_NICKNAME {
        return Err(Problem::bad_request(format!(
            "nickname must be 1 to {MAX_NICKNAME} characters"
        )));
    }
    Ok(trimmed.to_string())
}

pub async fn create(
    State(app): State<AppState>,
    auth: Auth,
    JsonBody(body): JsonBody<CreateRequest>,
) -> ApiResult<Json<ProfileBody>> {
    auth.require(scope::WRITE_PROFILE)?;
    let nickname = checked_nickname(body.nickname)?;
    if body
        .description
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION)
    {
        return Err(Problem::bad_request(format!(
            "description must be at most {MAX_DESCRIPTION} characters"
        )));
    }
    let now = crate::time::now();
    let profile = Profile {
        id: stableport_domain::new_id(),
        customer_id: auth.customer,
        nickname,
        description: body.description,
        kind: ProfileKind::Normal,
        created_at: now,
        updated_at: now,
        deactivated: false,
        account_id: None,
    };
    app.core.store.create_profile(&profile).await?;
    Ok(Json(profile.into()))
}

pub async fn get(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<ProfileBody>> {
    auth.require(scope::READ_PROFILE)?;
    let include = bool_param(&params, "include_deactivated")?.unwrap_or(false);
    let profile = visible_profile(&app, &auth, "profile_id", &id, include).await?;
    Ok(Json(profile.into()))
}

/// DeactivateProfileResponse: an empty object.
pub async fn deactivate(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    auth.require(scope::WRITE_PROFILE)?;
    let id = parse_uuid("profile_id", &id)?;
    profiles::deactivate(&app.core, auth.customer, id, crate::time::now()).await?;
    Ok(Json(serde_json::json!({})))
}

#[derive(Deserialize)]
pub struct UpdateRequest {
    nickname: Option<String>,
}

pub async fn update(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateRequest>,
) -> ApiResult<Json<ProfileBody>> {
    auth.require(scope::WRITE_PROFILE)?;
    let nickname = checked_nickname(body.nickname)?;
    let profile = owned_profile(&app, &auth, "profile_id", &id).await?;
    let updated = app
        .core
        .store
        .rename_profile(auth.customer, profile.id, &nickname, crate::time::now())
        .await?;
    Ok(Json(updated.into()))
}

fn parse_asset(text: &str) -> ApiResult<Asset> {
    text.parse().map_err(|_| {
        Problem::bad_request(format!(
            "unsupported asset {text:?}; supported: {}",
            Asset::supported_list()
        ))
    })
}

pub async fn balances(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<BalanceList>> {
    auth.require(scope::READ_PROFILE)?;
    let wanted = params
        .all("assets")
        .into_iter()
        .map(parse_asset)
        .collect::<ApiResult<Vec<_>>>()?;
    let profile = profile_ref("profile_id", &id)?;
    let items: Vec<BalanceBody> = profiles::balances(&app.core, auth.customer, profile)
        .await?
        .into_iter()
        .filter(|b| wanted.is_empty() || wanted.contains(&b.asset))
        .map(|b| BalanceBody {
            asset: b.asset.code(),
            available: format_units(b.available, b.asset),
            trading: "0",
        })
        .collect();
    Ok(Json(BalanceList {
        balances: items.clone(),
        items,
    }))
}

/// ListProfileBalancesResponse names its array `items` but requires
/// `balances`: both are sent, so a client generated either way finds it.
#[derive(Serialize)]
pub struct BalanceList {
    items: Vec<BalanceBody>,
    balances: Vec<BalanceBody>,
}

pub async fn balance(
    State(app): State<AppState>,
    auth: Auth,
    Path((id, asset)): Path<(String, String)>,
) -> ApiResult<Json<BalanceBody>> {
    auth.require(scope::READ_PROFILE)?;
    let asset = parse_asset(&asset)?;
    let profile = owned_profile(&app, &auth, "profile_id", &id).await?;
    let available = app
        .core
        .store
        .balances(profile.id)
        .await?
        .into_iter()
        .find(|b| b.asset == asset)
        .map_or(0, |b| b.available);
    Ok(Json(BalanceBody {
        asset: asset.code(),
        available: format_units(available, asset),
        trading: "0",
    }))
}
