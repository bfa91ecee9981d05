//! Lookups of what a request names that must belong to its customer.

use stableport_store::Profile;
use uuid::Uuid;

use crate::api::common::auth::Auth;
use crate::api::common::extract::parse_uuid;
use crate::api::common::problem::{ApiResult, Problem};
use crate::state::App;

/// The caller's profile named in a path or field: a UUID, or "default".
/// Checks that a profile is the caller's. Profiles are never deleted nor
/// moved between customers, so a profile seen once stays known: the hot
/// paths (creating conversions) skip the database after the first time.
pub async fn check_profile(app: &App, auth: &Auth, field: &str, id: Uuid) -> ApiResult<()> {
    let key = (auth.customer, id);
    if app
        .known_profiles
        .read()
        .map(|known| known.contains(&key))
        .unwrap_or(false)
    {
        return Ok(());
    }
    owned_profile(app, auth, field, &id.to_string()).await?;
    if let Ok(mut known) = app.known_profiles.write() {
        if known.len() >= 100_000 {
            known.clear();
        }
        known.insert(key);
    }
    Ok(())
}

pub async fn owned_profile(app: &App, auth: &Auth, field: &str, raw: &str) -> ApiResult<Profile> {
    let found = if raw == "default" {
        app.store.default_profile(auth.customer).await?
    } else {
        let id = parse_uuid(field, raw)?;
        app.store.profile(auth.customer, id).await?
    };
    found.ok_or_else(|| {
        Problem::not_found(format!(
            "profile with id {raw} not found for customer with id {}",
            auth.customer
        ))
    })
}
