//! Profiles a request names: they must be the caller's, and active to send
//! or receive. Deactivation, for a profile with nothing in it.

use std::collections::HashMap;
use std::fmt;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use stableport_store::{Balance, Profile, ProfileKind, Tx};
use uuid::Uuid;

use crate::{in_tx, Core, CoreError, Result};

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

/// (customer, profile) pairs seen active, and when. Profiles never move
/// between customers, so the hot path (creating conversions) skips the
/// database for a profile seen within [`KNOWN_FOR`]; a deactivation on
/// another replica is seen there that much later (the profile is empty by
/// then, so nothing can leave it).
#[derive(Default)]
pub(crate) struct Known(RwLock<HashMap<(Uuid, Uuid), Instant>>);

const MAX_KNOWN: usize = 100_000;
const KNOWN_FOR: Duration = Duration::from_secs(1);

/// The caller's profile in any state, or NotFound.
pub async fn find(core: &Core, customer: Uuid, profile: ProfileRef) -> Result<Profile> {
    let found = match profile {
        ProfileRef::Default => core.store.default_profile(customer).await?,
        ProfileRef::Id(id) => core.store.profile(customer, id).await?,
    };
    found.ok_or_else(|| not_found(profile, customer))
}

/// The balances of the caller's active profile, by asset, or NotFound (a
/// deactivated profile is hidden, as Paxos hides them).
pub async fn balances(core: &Core, customer: Uuid, profile: ProfileRef) -> Result<Vec<Balance>> {
    let id = match profile {
        ProfileRef::Id(id) => id,
        ProfileRef::Default => find(core, customer, profile).await?.id,
    };
    (core.store.active_profile_balances(customer, id).await?)
        .ok_or_else(|| not_found(profile, customer))
}

/// The caller's profile, which must be active: NotFound or Invalid.
pub async fn owned(core: &Core, customer: Uuid, profile: ProfileRef) -> Result<Profile> {
    let found = find(core, customer, profile).await?;
    usable(&found)?;
    Ok(found)
}

fn not_found(profile: impl fmt::Display, customer: Uuid) -> CoreError {
    CoreError::NotFound(format!(
        "profile with id {profile} not found for customer with id {customer}"
    ))
}

/// A deactivated profile can neither send nor receive.
pub fn usable(profile: &Profile) -> Result<()> {
    match profile.deactivated {
        false => Ok(()),
        true => Err(CoreError::invalid(format!(
            "profile {} is deactivated: it can neither send nor receive",
            profile.id
        ))),
    }
}

/// Checks that a profile is the caller's and active, from memory when it
/// was seen so lately.
pub async fn check(core: &Core, customer: Uuid, id: Uuid) -> Result<()> {
    let key = (customer, id);
    let known = &core.known_profiles.0;
    let fresh = |seen: &Instant| seen.elapsed() < KNOWN_FOR;
    if known.read().is_ok_and(|k| k.get(&key).is_some_and(fresh)) {
        return Ok(());
    }
    owned(core, customer, ProfileRef::Id(id)).await?;
    if let Ok(mut known) = known.write() {
        if known.len() >= MAX_KNOWN {
            known.clear();
        }
        known.insert(key, Instant::now());
    }
    Ok(())
}

/// Deactivates an empty, non-default profile. Deactivating one already
/// deactivated changes nothing.
pub async fn deactivate(core: &Core, customer: Uuid, id: Uuid, now: i64) -> Result<Profile> {
    let profile = in_tx!(core.store, |tx| deactivate_in(tx, customer, id, now).await)?;
    if let Ok(mut known) = core.known_profiles.0.write() {
        known.remove(&(customer, id));
    }
    Ok(profile)
}

async fn deactivate_in(tx: &mut Tx, customer: Uuid, id: Uuid, now: i64) -> Result<Profile> {
    let profile = tx
        .profile(customer, id)
        .await?
        .ok_or_else(|| not_found(id, customer))?;
    if profile.kind == ProfileKind::Default {
        return Err(CoreError::invalid(
            "profile_id: the default profile cannot be deactivated",
        ));
    }
    if !tx.deactivate_profile(id, now).await? {
        return Ok(profile);
    }
    // Locked, so no debit or credit is between reading and committing.
    let assets = stableport_domain::Asset::ALL.map(|a| (id, a));
    tx.lock_balances(assets).await?;
    let held: Vec<String> = tx
        .balance_units(id)
        .await?
        .into_iter()
        .filter(|(_, units)| *units != 0)
        .map(|(asset, units)| {
            let amount = stableport_domain::amount::format_units(units, asset);
            format!("{amount} {asset}")
        })
        .collect();
    if !held.is_empty() {
        return Err(CoreError::invalid(format!(
            "profile {id} holds {}; only a profile with zero balances can be deactivated",
            held.join(", ")
        )));
    }
    Ok(Profile {
        deactivated: true,
        updated_at: now,
        ..profile
    })
}
