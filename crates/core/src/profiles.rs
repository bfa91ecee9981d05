//! Profiles a request names: they must be the caller's.

use std::collections::HashSet;
use std::fmt;
use std::sync::RwLock;

use stableport_store::Profile;
use uuid::Uuid;

use crate::{Core, CoreError, Result};

/// A profile as a request names it: its id, or the customer's default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProfileRef {
    Default,
    Id(Uuid),
}

impl fmt::Display for ProfileRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProfileRef::Default => f.write_str("default"),
            ProfileRef::Id(id) => write!(f, "{id}"),
        }
    }
}

/// (customer, profile) pairs already seen to exist. Profiles are never
/// deleted nor moved between customers, so one seen stays known: the hot
/// paths (creating conversions) skip the database after the first time.
#[derive(Default)]
pub(crate) struct Known(RwLock<HashSet<(Uuid, Uuid)>>);

const MAX_KNOWN: usize = 100_000;

/// The caller's profile, or NotFound.
pub async fn owned(core: &Core, customer: Uuid, profile: ProfileRef) -> Result<Profile> {
    let found = match profile {
        ProfileRef::Default => core.store.default_profile(customer).await?,
        ProfileRef::Id(id) => core.store.profile(customer, id).await?,
    };
    found.ok_or_else(|| {
        CoreError::NotFound(format!(
            "profile with id {profile} not found for customer with id {customer}"
        ))
    })
}

/// Checks that a profile is the caller's, from memory when it was seen before.
pub async fn check(core: &Core, customer: Uuid, id: Uuid) -> Result<()> {
    let key = (customer, id);
    let known = &core.known_profiles.0;
    if known.read().map(|k| k.contains(&key)).unwrap_or(false) {
        return Ok(());
    }
    owned(core, customer, ProfileRef::Id(id)).await?;
    if let Ok(mut known) = known.write() {
        if known.len() >= MAX_KNOWN {
            known.clear();
        }
        known.insert(key);
    }
    Ok(())
}
