//! Dashboard sign-in: a user's email and password open a session, a random
//! token in a cookie that the store keeps only as its SHA-256, with the
//! session's CSRF token. Too many failures lock the email for a while,
//! whatever password comes next.

use std::sync::OnceLock;
use std::time::Duration;

use sha2::{Digest, Sha256};
use stableport_store::{Session, User};

use crate::issued::random_hex;
use crate::{users, Core, Result};

/// Failures in a row that lock an email.
pub const MAX_FAILURES: i64 = 5;
pub const LOCKOUT: Duration = Duration::from_secs(15 * 60);
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// A session just opened: the token goes in the cookie, and nowhere else.
pub struct SignedIn {
    pub token: String,
    pub session: Session,
    pub user: User,
}

/// Why a sign-in was refused; the page says no more than this.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Unknown email or wrong password (not told apart).
    Wrong,
    /// Until this time (microseconds).
    Locked { until: i64 },
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub async fn sign_in(
    core: &Core,
    email: &str,
    password: String,
    now: i64,
) -> Result<std::result::Result<SignedIn, Refused>> {
    let email = email.trim();
    let tries = core.store.sign_ins(email).await?;
    if let Some(until) = tries.locked_until.filter(|&t| t > now) {
        return Ok(Err(Refused::Locked { until }));
    }
    let Some(user) = matching_user(core, email, password).await? else {
        let lock_until = now.saturating_add(micros(LOCKOUT));
        let after = (core.store)
            .record_failed_sign_in(email, MAX_FAILURES, lock_until)
            .await?;
        return Ok(Err(match after.locked_until.filter(|&t| t > now) {
            Some(until) => Refused::Locked { until },
            None => Refused::Wrong,
        }));
    };
    core.store.clear_sign_ins(email).await?;
    let token = random_hex(32);
    let session = Session {
        token_hash: token_hash(&token),
        customer_id: user.customer_id,
        user_id: user.id,
        csrf_token: random_hex(32),
        created_at: now,
        expires_at: now.saturating_add(micros(SESSION_TTL)),
    };
    core.store.insert_session(&session).await?;
    Ok(Ok(SignedIn {
        token,
        session,
        user,
    }))
}

/// The active user with this email and password. An unknown email costs a
/// hash all the same, so timing does not tell which emails exist.
async fn matching_user(core: &Core, email: &str, password: String) -> Result<Option<User>> {
    let candidates = core.store.users_by_email(email).await?;
    if candidates.is_empty() {
        users::password_matches(dummy_user().await?, password).await;
        return Ok(None);
    }
    for user in candidates {
        if users::password_matches(&user, password.clone()).await {
            return Ok(Some(user));
        }
    }
    Ok(None)
}

async fn dummy_user() -> Result<&'static User> {
    static DUMMY: OnceLock<User> = OnceLock::new();
    if let Some(user) = DUMMY.get() {
        return Ok(user);
    }
    let hash = users::hash(random_hex(16)).await?;
    Ok(DUMMY.get_or_init(|| User {
        id: uuid::Uuid::nil(),
        customer_id: uuid::Uuid::nil(),
        email: String::new(),
        roles: Vec::new(),
        password_hash: hash,
        disabled: true,
        created_at: 0,
        updated_at: 0,
    }))
}

/// The session of a cookie's token and its user, while both are valid.
pub async fn find(core: &Core, token: &str, now: i64) -> Result<Option<(Session, User)>> {
    let Some(session) = core.store.session(&token_hash(token), now).await? else {
        return Ok(None);
    };
    let user = core
        .store
        .user(session.customer_id, session.user_id)
        .await?;
    Ok(user.filter(|u| !u.disabled).map(|u| (session, u)))
}

pub async fn sign_out(core: &Core, token: &str) -> Result<()> {
    Ok(core.store.delete_session(&token_hash(token)).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_kept_as_their_sha256() {
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
