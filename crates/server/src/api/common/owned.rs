//! Profiles a request names, parsed here and checked by the operations
//! layer to be the caller's.

use stableport_core::profiles::{self, ProfileRef};
use stableport_store::Profile;

use crate::api::common::auth::Auth;
use crate::api::common::extract::parse_uuid;
use crate::api::common::problem::{ApiResult, Problem};
use crate::state::App;

/// A profile named in a path or field: a UUID, or "default".
pub fn profile_ref(field: &str, raw: &str) -> ApiResult<ProfileRef> {
    match raw {
        "default" => Ok(ProfileRef::Default),
        _ => Ok(ProfileRef::Id(parse_uuid(field, raw)?)),
    }
}

/// The caller's profile named in a path or field; a deactivated one is
/// not found (Paxos hides them) unless asked for.
pub async fn owned_profile(app: &App, auth: &Auth, field: &str, raw: &str) -> ApiResult<Profile> {
    visible_profile(app, auth, field, raw, false).await
}

pub async fn visible_profile(
    app: &App,
    auth: &Auth,
    field: &str,
    raw: &str,
    include_deactivated: bool,
) -> ApiResult<Profile> {
    let named = profile_ref(field, raw)?;
    let profile = profiles::find(&app.core, auth.customer, named).await?;
    if profile.deactivated && !include_deactivated {
        return Err(Problem::not_found(format!(
            "profile with id {named} not found for customer with id {}",
            auth.customer
        )));
    }
    Ok(profile)
}
