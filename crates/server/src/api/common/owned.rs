//! Profiles a request names, parsed here and checked by the operations
//! layer to be the caller's.

use stableport_core::profiles::{self, ProfileRef};
use stableport_store::Profile;

use crate::api::common::auth::Auth;
use crate::api::common::extract::parse_uuid;
use crate::api::common::problem::ApiResult;
use crate::state::App;

/// A profile named in a path or field: a UUID, or "default".
pub fn profile_ref(field: &str, raw: &str) -> ApiResult<ProfileRef> {
    match raw {
        "default" => Ok(ProfileRef::Default),
        _ => Ok(ProfileRef::Id(parse_uuid(field, raw)?)),
    }
}

/// The caller's profile named in a path or field.
pub async fn owned_profile(app: &App, auth: &Auth, field: &str, raw: &str) -> ApiResult<Profile> {
    let profile = profile_ref(field, raw)?;
    Ok(profiles::owned(&app.core, auth.customer, profile).await?)
}
