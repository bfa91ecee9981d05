//! The users of a customer, with their roles and passwords (argon2id, the
//! memory-hard hash: a stolen table costs an attacker memory per guess).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use stableport_domain::{ApprovalAction, Role};
use stableport_store::{ApprovalRequest, Proposal, User};
use uuid::Uuid;

use crate::approvals::{self, Subject};
use crate::issued::random_hex;
use crate::{in_tx, Core, CoreError, Result};

const MIN_PASSWORD: usize = 12;
const MAX_PASSWORD: usize = 128;
const MAX_EMAIL: usize = 254;

pub struct NewUser {
    pub email: String,
    pub roles: Vec<Role>,
    /// None: one is generated and shown once.
    pub password: Option<String>,
}

/// A new user, the password generated for it, if one was, and the request
/// for the roles asked, when they need approval (the user is a VIEWER
/// meanwhile).
pub struct Made {
    pub user: User,
    pub generated_password: Option<String>,
    pub request: Option<ApprovalRequest>,
}

/// Creates a user. Under an enabled ASSIGN_USER_ROLES policy it starts as a
/// VIEWER, with a request for the roles asked, in one transaction.
pub async fn create(
    core: &Core,
    customer: Uuid,
    submitter: Option<Uuid>,
    new: NewUser,
    now: i64,
) -> Result<Made> {
    let email = checked_email(&new.email)?;
    let roles = checked_roles(new.roles)?;
    let generated = new.password.is_none().then(|| random_hex(16));
    let password = new
        .password
        .or_else(|| generated.clone())
        .unwrap_or_default();
    let length = password.chars().count();
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&length) {
        return Err(CoreError::invalid(format!(
            "password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters"
        )));
    }
    let user = User {
        id: stableport_domain::new_id(),
        customer_id: customer,
        email,
        roles,
        password_hash: hash(password).await?,
        disabled: false,
        created_at: now,
        updated_at: now,
    };
    let (user, request) = in_tx!(core.store, |tx| async {
        let mut user = user.clone();
        let asked = user.roles.clone();
        let action = ApprovalAction::AssignUserRoles;
        let policy = match asked == [Role::Viewer] {
            true => None,
            false => approvals::guarded(tx, customer, action).await?,
        };
        if policy.is_some() {
            user.roles = vec![Role::Viewer];
        }
        tx.insert_user(&user).await?;
        let request = match &policy {
            Some(policy) => {
                let subject = roles_for(user.id, asked);
                Some(approvals::submit_under(tx, policy, submitter, subject, now).await?)
            }
            None => None,
        };
        Ok((user, request))
    }
    .await)?;
    Ok(Made {
        user,
        generated_password: generated,
        request,
    })
}

fn checked_roles(mut roles: Vec<Role>) -> Result<Vec<Role>> {
    roles.sort();
    roles.dedup();
    if roles.is_empty() {
        return Err(CoreError::invalid(format!(
            "roles: give at least one of {}",
            Role::names().join(", ")
        )));
    }
    Ok(roles)
}

fn roles_for(user: Uuid, roles: Vec<Role>) -> Subject {
    Subject {
        proposal: Some(Proposal::Roles(roles)),
        ..Subject::new(ApprovalAction::AssignUserRoles, user)
    }
}

/// What a change of roles did: set at once, or proposed for approval.
#[derive(Debug)]
pub enum RolesChange {
    Set(User),
    Proposed(ApprovalRequest),
}

/// Gives a user these roles, or proposes it under an enabled
/// ASSIGN_USER_ROLES policy.
pub async fn assign_roles(
    core: &Core,
    customer: Uuid,
    submitter: Option<Uuid>,
    id: Uuid,
    roles: Vec<Role>,
    now: i64,
) -> Result<RolesChange> {
    let roles = checked_roles(roles)?;
    in_tx!(core.store, |tx| async {
        tx.user(customer, id)
            .await?
            .ok_or_else(|| not_found(customer, id))?;
        let subject = roles_for(id, roles.clone());
        if let Some(request) = approvals::submit(tx, customer, submitter, subject, now).await? {
            return Ok(RolesChange::Proposed(request));
        }
        tx.set_user_roles(customer, id, &roles, now).await?;
        let user = tx.user(customer, id).await?;
        Ok(RolesChange::Set(
            user.ok_or_else(|| not_found(customer, id))?,
        ))
    }
    .await)
}

fn checked_email(email: &str) -> Result<String> {
    let email = email.trim();
    let well_formed = email.len() <= MAX_EMAIL
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        });
    match well_formed {
        true => Ok(email.to_string()),
        false => Err(CoreError::invalid(format!(
            "email must be an address like name@example.com, at most {MAX_EMAIL} characters"
        ))),
    }
}

/// argon2id with its default (OWASP) parameters, off the async threads: it
/// takes tens of milliseconds on purpose.
pub(crate) async fn hash(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| CoreError::Internal(format!("hashing a password: {e}")))
    })
    .await
    .map_err(|e| CoreError::Internal(e.to_string()))?
}

/// Whether `password` is the user's (the comparison is the hash's own,
/// constant-time).
pub async fn password_matches(user: &User, password: String) -> bool {
    let stored = user.password_hash.clone();
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

pub async fn find(core: &Core, customer: Uuid, id: Uuid) -> Result<User> {
    core.store
        .user(customer, id)
        .await?
        .ok_or_else(|| not_found(customer, id))
}

fn not_found(customer: Uuid, id: Uuid) -> CoreError {
    CoreError::NotFound(format!(
        "user with id {id} not found for customer with id {customer}"
    ))
}

/// Disables a user: its credentials stop working at once; what it did stays
/// attributed to it.
pub async fn disable(core: &Core, customer: Uuid, id: Uuid, now: i64) -> Result<User> {
    let found = core.store.disable_user(customer, id, now).await?;
    found.ok_or_else(|| not_found(customer, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_loosely_but_surely() {
        assert_eq!(
            checked_email(" ada@example.com ").unwrap(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@example",
            "a da@example.com",
            "a@b@c.com",
        ] {
            assert!(checked_email(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn passwords_are_argon2id_and_verify() {
        let stored = hash("correct horse battery".into()).await.unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        let user = User {
            id: Uuid::nil(),
            customer_id: Uuid::nil(),
            email: "a@b.co".into(),
            roles: vec![Role::Viewer],
            password_hash: stored,
            disabled: false,
            created_at: 0,
            updated_at: 0,
        };
        assert!(password_matches(&user, "correct horse battery".into()).await);
        assert!(!password_matches(&user, "correct horse battery!".into()).await);
    }
}
