//! First start and credentials: the customer a fresh server creates, and
//! the client credentials that let someone in.

use stableport_store::{Credential, StartUp, Store};
use uuid::Uuid;

use crate::api::common::auth::ALL_SCOPES;
use crate::api::common::keys::{hash_secret, random_hex};
use crate::config::Config;

/// What start-up prepared, for printing.
#[derive(Clone, Debug)]
pub struct Bootstrap {
    pub customer_id: Uuid,
    pub created_customer: bool,
    pub client_id: Option<String>,
    /// Only when it may be shown: generated in sandbox mode.
    pub client_secret: Option<String>,
}

/// Prepares a start in one transaction: the signing key (returned beside
/// the bootstrap), the first customer, and the credential to print or the
/// one configured.
pub async fn prepare(
    store: &dyn Store,
    config: &Config,
    key_candidate: &str,
) -> anyhow::Result<(Bootstrap, String)> {
    // A sandbox prints a working credential on every start; secrets are
    // stored hashed, so an earlier one cannot be shown again.
    let (given, shown) = match (&config.client_id, &config.client_secret) {
        (Some(id), Some(secret)) => {
            check_fixed(id, secret, config)?;
            (Some((id.clone(), secret.clone())), false)
        }
        (None, None) if config.is_sandbox() => (Some((random_hex(16), random_hex(32))), true),
        (None, None) => (None, false),
        _ => anyhow::bail!("--client-id and --client-secret go together: give both or neither"),
    };
    let scopes = ALL_SCOPES.join(" ");
    let make = given.as_ref().map(|(id, secret)| {
        move |customer| credential(customer, None, &scopes, id.clone(), secret)
    });
    let started = store
        .start_up(StartUp {
            key_candidate,
            customer_candidate: Uuid::new_v4(),
            now: crate::time::now(),
            credential: make.as_ref().map(|m| m as _),
        })
        .await?;
    let (client_id, secret) = given.unzip();
    let bootstrap = Bootstrap {
        customer_id: started.customer_id,
        created_customer: started.created_customer,
        client_id,
        client_secret: secret.filter(|_| shown),
    };
    Ok((bootstrap, started.signing_key))
}

fn check_fixed(id: &str, secret: &str, config: &Config) -> anyhow::Result<()> {
    anyhow::ensure!(
        !id.trim().is_empty() && id.len() <= 200,
        "--client-id must be 1 to 200 characters"
    );
    let min = if config.is_sandbox() { 1 } else { 16 };
    anyhow::ensure!(
        secret.len() >= min,
        "--client-secret must be at least {min} characters"
    );
    Ok(())
}

/// Stores a credential (generating id and secret where not given) acting
/// for `user` (None: the customer itself) and returns the id and secret.
pub async fn save(
    store: &dyn Store,
    customer: Uuid,
    user: Option<Uuid>,
    scopes: &str,
    client_id: Option<String>,
    secret: Option<String>,
) -> anyhow::Result<(String, String)> {
    let client_id = client_id.unwrap_or_else(|| random_hex(16));
    let secret = secret.unwrap_or_else(|| random_hex(32));
    let made = credential(customer, user, scopes, client_id.clone(), &secret);
    store.upsert_credential(&made).await?;
    Ok((client_id, secret))
}

/// A credential with a fresh salt and the secret's hash.
fn credential(
    customer: Uuid,
    user: Option<Uuid>,
    scopes: &str,
    client_id: String,
    secret: &str,
) -> Credential {
    let salt = random_hex(16);
    let now = crate::time::now();
    Credential {
        client_id,
        customer_id: customer,
        secret_hash: hash_secret(&salt, secret),
        secret_salt: salt,
        scopes: scopes.to_string(),
        created_at: now,
        updated_at: now,
        disabled: false,
        user_id: user,
    }
}

/// Checks a space-delimited scope list against the known scopes.
pub fn parse_scopes(text: &str) -> anyhow::Result<String> {
    let scopes: Vec<&str> = text.split([' ', ',']).filter(|s| !s.is_empty()).collect();
    anyhow::ensure!(!scopes.is_empty(), "--scopes names no scope");
    if scopes == ["all"] {
        return Ok(ALL_SCOPES.join(" "));
    }
    for scope in &scopes {
        anyhow::ensure!(
            ALL_SCOPES.contains(scope),
            "unknown scope {scope:?}; known scopes: {}",
            ALL_SCOPES.join(" ")
        );
    }
    Ok(scopes.join(" "))
}
