//! First start and credentials: the customer a fresh server creates, and
//! the client credentials that let someone in.

use stableport_store::{Credential, Store};
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

pub async fn prepare(store: &dyn Store, config: &Config) -> anyhow::Result<Bootstrap> {
    let (customer_id, created_customer) = match store.first_customer().await? {
        Some(id) => (id, false),
        None => {
            let id = Uuid::new_v4();
            store.create_customer(id, crate::time::now()).await?;
            (id, true)
        }
    };
    let scopes = ALL_SCOPES.join(" ");
    match (&config.client_id, &config.client_secret) {
        (Some(id), Some(secret)) => {
            check_fixed(id, secret, config)?;
            let client_id = save(
                store,
                customer_id,
                None,
                &scopes,
                Some(id.clone()),
                Some(secret.clone()),
            )
            .await?
            .0;
            Ok(Bootstrap {
                customer_id,
                created_customer,
                client_id: Some(client_id),
                client_secret: None,
            })
        }
        (None, None) if config.is_sandbox() => {
            // A sandbox prints a working credential on every start; secrets are
            // stored hashed, so an earlier one cannot be shown again.
            let (client_id, secret) = save(store, customer_id, None, &scopes, None, None).await?;
            Ok(Bootstrap {
                customer_id,
                created_customer,
                client_id: Some(client_id),
                client_secret: Some(secret),
            })
        }
        (None, None) => Ok(Bootstrap {
            customer_id,
            created_customer,
            client_id: None,
            client_secret: None,
        }),
        _ => anyhow::bail!("--client-id and --client-secret go together: give both or neither"),
    }
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
    let salt = random_hex(16);
    store
        .upsert_credential(&Credential {
            client_id: client_id.clone(),
            customer_id: customer,
            secret_hash: hash_secret(&salt, &secret),
            secret_salt: salt,
            scopes: scopes.to_string(),
            created_at: crate::time::now(),
            updated_at: crate::time::now(),
            disabled: false,
            user_id: user,
        })
        .await?;
    Ok((client_id, secret))
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
