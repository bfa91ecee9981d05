//! Secrets at rest: webhook signing secrets, consumer credentials (API keys,
//! OAuth client secrets) and the token signing key are stored sealed with
//! XChaCha20-Poly1305 under the operator's master key. A sealed value reads
//! `sp-enc:v1:<key id>:<base64 of nonce and ciphertext>`; the key id (the
//! first bytes of the key's SHA-256) tells a wrong key from a corrupt value,
//! and each value is bound to its row, so none can be moved to another.

use std::collections::BTreeSet;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use sqlx::{Any, Row, Transaction};
use uuid::Uuid;

use crate::{Result, SqlStore, StoreError};

const PREFIX: &str = "sp-enc:v1:";
/// What the token signing key's sealed value is bound to.
pub(crate) const SIGNING_KEY: &str = "server_keys/signing";
const NONCE: usize = 24;

/// A 32-byte key, given as 64 hex digits.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl MasterKey {
    pub fn parse(text: &str) -> std::result::Result<MasterKey, String> {
        let bytes = hex::decode(text.trim()).map_err(|_| {
            "the master key must be 64 hex digits (openssl rand -hex 32)".to_string()
        })?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "the master key must be 32 bytes: 64 hex digits".to_string())?;
        Ok(MasterKey(key))
    }

    /// What sealed values name the key by: not secret, not reversible.
    pub fn id(&self) -> String {
        hex::encode(&Sha256::digest(self.0)[..4])
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({})", self.id())
    }
}

/// Seals and opens values; without a key it stores them as given (and
/// refuses to open a sealed one).
#[derive(Clone, Default)]
pub struct Sealer(Option<Arc<(XChaCha20Poly1305, String)>>);

impl Sealer {
    pub fn new(key: Option<&MasterKey>) -> Sealer {
        Sealer(key.map(|k| Arc::new((XChaCha20Poly1305::new(&k.0.into()), k.id()))))
    }

    pub fn is_keyed(&self) -> bool {
        self.0.is_some()
    }

    /// `plain`, sealed for the row `context` names (as given without a key).
    pub fn seal(&self, plain: &str, context: &str) -> String {
        let Some(keyed) = &self.0 else {
            return plain.to_string();
        };
        let (cipher, id) = (&keyed.0, &keyed.1);
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let payload = Payload {
            msg: plain.as_bytes(),
            aad: context.as_bytes(),
        };
        let sealed = cipher
            .encrypt(&nonce, payload)
            .expect("XChaCha20-Poly1305 seals any length we store");
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        format!("{PREFIX}{id}:{}", STANDARD.encode(bytes))
    }

    /// The plain value of `stored` (which may be plain already).
    pub fn open(&self, stored: &str, context: &str) -> Result<String> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_string());
        };
        let (id, data) = rest.split_once(':').ok_or_else(|| corrupt(context))?;
        let Some(keyed) = &self.0 else {
            return Err(StoreError::Locked(format!(
                "{context} is encrypted, and no master key was given"
            )));
        };
        if id != keyed.1 {
            return Err(StoreError::Locked(format!(
                "{context} is encrypted under master key {id}, not the given key {}",
                keyed.1
            )));
        }
        let bytes = STANDARD.decode(data).map_err(|_| corrupt(context))?;
        if bytes.len() < NONCE {
            return Err(corrupt(context));
        }
        let (nonce, sealed) = bytes.split_at(NONCE);
        let payload = Payload {
            msg: sealed,
            aad: context.as_bytes(),
        };
        let plain = keyed
            .0
            .decrypt(XNonce::from_slice(nonce), payload)
            .map_err(|_| corrupt(context))?;
        String::from_utf8(plain).map_err(|_| corrupt(context))
    }
}

/// Whether a stored value is sealed, and under which key id.
pub fn sealed_under(stored: &str) -> Option<&str> {
    stored
        .strip_prefix(PREFIX)?
        .split_once(':')
        .map(|(id, _)| id)
}

/// One stored secret: where it lives, what it is bound to, its stored form.
struct Stored {
    place: Place,
    context: String,
    value: String,
}

enum Place {
    WebhookSecret(Uuid),
    WebhookAuth(Uuid),
    SigningKey,
}

impl SqlStore {
    /// Opens the stored secrets with `key`. Refused when some are sealed and
    /// the key is missing or another. With a key, plain ones (written before
    /// there was a key) are sealed now; how many is returned.
    pub async fn unlock(&mut self, key: Option<&MasterKey>) -> Result<u64> {
        let stored = self.stored_secrets().await?;
        let ids: BTreeSet<&str> = stored
            .iter()
            .filter_map(|s| sealed_under(&s.value))
            .collect();
        let found = ids.iter().copied().collect::<Vec<_>>().join(", ");
        match key {
            None if !ids.is_empty() => {
                return Err(StoreError::Locked(format!(
                    "this database's secrets are encrypted (master key {found}): give the key \
                     with STABLEPORT_MASTER_KEY or --master-key-file"
                )))
            }
            Some(k) if ids.iter().any(|id| *id != k.id()) => {
                return Err(StoreError::Locked(format!(
                    "this database's secrets are encrypted under master key {found}, \
                     not the given key {}",
                    k.id()
                )))
            }
            _ => {}
        }
        self.sealer = Sealer::new(key);
        if key.is_none() {
            return Ok(0);
        }
        let plain: Vec<&Stored> = stored
            .iter()
            .filter(|s| sealed_under(&s.value).is_none())
            .collect();
        let mut tx = self.begin().await?;
        let mut sealed = 0;
        for s in plain {
            let value = self.sealer.seal(&s.value, &s.context);
            sealed += replace(&mut tx, s, &value).await?;
        }
        tx.commit().await?;
        Ok(sealed)
    }

    /// Seals every secret again under `new` (opening each with the current
    /// key), in one transaction; the store then uses `new`. How many.
    pub async fn reseal(&mut self, new: &MasterKey) -> Result<u64> {
        let stored = self.stored_secrets().await?;
        let next = Sealer::new(Some(new));
        let mut tx = self.begin().await?;
        let mut resealed = 0;
        for s in &stored {
            let plain = self.sealer.open(&s.value, &s.context)?;
            resealed += replace(&mut tx, s, &next.seal(&plain, &s.context)).await?;
        }
        tx.commit().await?;
        self.sealer = next;
        Ok(resealed)
    }

    async fn stored_secrets(&self) -> Result<Vec<Stored>> {
        let mut stored = Vec::new();
        for row in sqlx::query("SELECT id, secret, auth FROM webhooks")
            .fetch_all(&self.write)
            .await?
        {
            let id = crate::sql::uuid(&row, "id")?;
            stored.push(Stored {
                place: Place::WebhookSecret(id),
                context: crate::events::secret_context(id),
                value: row.try_get("secret")?,
            });
            let auth: Option<String> = row.try_get("auth")?;
            stored.extend(auth.map(|value| Stored {
                place: Place::WebhookAuth(id),
                context: crate::events::auth_context(id),
                value,
            }));
        }
        let signing: Option<String> =
            sqlx::query_scalar("SELECT value FROM server_keys WHERE name = 'signing'")
                .fetch_optional(&self.write)
                .await?;
        stored.extend(signing.map(|value| Stored {
            place: Place::SigningKey,
            context: SIGNING_KEY.into(),
            value,
        }));
        Ok(stored)
    }
}

/// Writes `value` where `s` was read, only if it is still as read (another
/// replica may have sealed it meanwhile): rows changed.
async fn replace(tx: &mut Transaction<'static, Any>, s: &Stored, value: &str) -> Result<u64> {
    let (statement, id) = match &s.place {
        Place::WebhookSecret(id) => (
            "UPDATE webhooks SET secret = $1 WHERE secret = $2 AND id = $3",
            id.to_string(),
        ),
        Place::WebhookAuth(id) => (
            "UPDATE webhooks SET auth = $1 WHERE auth = $2 AND id = $3",
            id.to_string(),
        ),
        Place::SigningKey => (
            "UPDATE server_keys SET value = $1 WHERE value = $2 AND name = $3",
            "signing".into(),
        ),
    };
    let done = sqlx::query(statement)
        .bind(value)
        .bind(&s.value)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected())
}

fn corrupt(context: &str) -> StoreError {
    StoreError::Corrupt(format!("{context}: the sealed value does not open"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> MasterKey {
        MasterKey::parse(&hex::encode([byte; 32])).unwrap()
    }

    #[test]
    fn seals_opens_and_refuses() {
        let sealer = Sealer::new(Some(&key(1)));
        let sealed = sealer.seal("whsec_abc", "webhooks.secret/1");
        assert!(sealed.starts_with("sp-enc:v1:") && !sealed.contains("whsec_abc"));
        assert_ne!(
            sealed,
            sealer.seal("whsec_abc", "webhooks.secret/1"),
            "fresh nonces"
        );
        assert_eq!(
            sealer.open(&sealed, "webhooks.secret/1").unwrap(),
            "whsec_abc"
        );
        // Moved to another row, or opened without or with another key: refused.
        assert!(matches!(
            sealer.open(&sealed, "webhooks.secret/2"),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            Sealer::default().open(&sealed, "webhooks.secret/1"),
            Err(StoreError::Locked(_))
        ));
        let other = Sealer::new(Some(&key(2)));
        assert!(matches!(
            other.open(&sealed, "webhooks.secret/1"),
            Err(StoreError::Locked(_))
        ));
        // Plain values read as they are; without a key nothing is sealed.
        assert_eq!(sealer.open("plain", "x").unwrap(), "plain");
        assert_eq!(Sealer::default().seal("plain", "x"), "plain");
        assert_eq!(sealed_under(&sealed), Some(key(1).id().as_str()));
        assert!(MasterKey::parse("short").is_err());
    }
}
