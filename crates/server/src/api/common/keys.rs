//! Secrets: access tokens and page cursors signed with keys derived from
//! the shared signing secret, and client secrets stored hashed.

use std::collections::HashMap;
use std::sync::RwLock;

use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::api::common::auth::ScopeSet;
use crate::api::common::problem::Problem;

pub const TOKEN_LIFETIME_SECS: i64 = 3599;
/// Verified tokens remembered at most; past that, the expired ones go, and
/// then all of them.
const VERIFIED_MAX: usize = 10_000;

/// Keys derived from the shared signing secret.
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    cursor: Vec<u8>,
    /// Tokens already verified, by their SHA-256: a client sends the same
    /// token for an hour, and decoding and checking one (base64, its JSON
    /// twice, the HMAC) was about a twelfth of a read's CPU. Keyed by the
    /// whole token's digest, so a token differing anywhere is verified
    /// afresh; its expiry is checked on every use.
    verified: RwLock<HashMap<[u8; 32], Claims>>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The client id.
    pub sub: String,
    /// The customer.
    pub cus: Uuid,
    /// The granted scopes as a `ScopeSet`'s bits.
    #[serde(default)]
    scp: u64,
    /// Names, as tokens issued before `scp` carried them; still accepted
    /// for the hour such a token lives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    iat: i64,
    exp: i64,
}

impl Claims {
    pub fn scopes(&self) -> ScopeSet {
        match &self.scope {
            Some(names) => ScopeSet::from_names(names),
            None => ScopeSet(self.scp),
        }
    }
}

impl Keys {
    pub fn new(secret_hex: &str) -> Keys {
        let secret = hex::decode(secret_hex).unwrap_or_else(|_| secret_hex.as_bytes().to_vec());
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Keys {
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
            validation,
            cursor: derive(&secret, b"page-cursor"),
            verified: RwLock::new(HashMap::new()),
        }
    }

    pub fn issue(&self, client_id: &str, customer: Uuid, scopes: &str, now_secs: i64) -> String {
        let claims = Claims {
            sub: client_id.into(),
            cus: customer,
            scp: ScopeSet::from_names(scopes).0,
            scope: None,
            iat: now_secs,
            exp: now_secs + TOKEN_LIFETIME_SECS,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 encoding of plain claims cannot fail")
    }

    pub fn verify(&self, token: &str) -> Result<Claims, Problem> {
        let now = i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap_or(i64::MAX);
        self.verify_at(token, now)
    }

    /// `verify` at `now` (seconds) for a token verified before; a new one is
    /// checked by jsonwebtoken against the clock.
    fn verify_at(&self, token: &str, now: i64) -> Result<Claims, Problem> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let known = self
            .verified
            .read()
            .ok()
            .and_then(|v| v.get(&digest).cloned());
        if let Some(claims) = known {
            return match claims.exp < now {
                true => Err(expired()),
                false => Ok(claims),
            };
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => expired(),
                _ => Problem::unauthorized("access token is invalid"),
            })?;
        self.remember(digest, &claims, now);
        Ok(claims)
    }

    fn remember(&self, digest: [u8; 32], claims: &Claims, now: i64) {
        let Ok(mut verified) = self.verified.write() else {
            return;
        };
        if verified.len() >= VERIFIED_MAX {
            verified.retain(|_, c| c.exp >= now);
        }
        if verified.len() >= VERIFIED_MAX {
            verified.clear();
        }
        verified.insert(digest, claims.clone());
    }

    /// A MAC over a page cursor, so that a forged cursor is refused.
    pub fn sign_cursor(&self, payload: &[u8]) -> Vec<u8> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.cursor).expect("HMAC takes any key length");
        mac.update(payload);
        mac.finalize().into_bytes()[..16].to_vec()
    }
}

fn expired() -> Problem {
    Problem::unauthorized("access token has expired")
}

fn derive(secret: &[u8], label: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(label);
    mac.finalize().into_bytes().to_vec()
}

pub use stableport_core::issued::random_hex;

pub fn hash_secret(salt: &str, secret: &str) -> String {
    hex::encode(
        Sha256::new()
            .chain_update(salt.as_bytes())
            .chain_update(secret.as_bytes())
            .finalize(),
    )
}

pub fn secret_matches(salt: &str, secret: &str, stored_hash: &str) -> bool {
    hash_secret(salt, secret)
        .as_bytes()
        .ct_eq(stored_hash.as_bytes())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fresh keys, a customer, the time, and a token issued to them now.
    fn issued() -> (Keys, Uuid, i64, String) {
        let keys = Keys::new(&random_hex(32));
        let customer = Uuid::new_v4();
        let now = chrono::Utc::now().timestamp();
        let token = keys.issue("client", customer, "funding:read_profile", now);
        (keys, customer, now, token)
    }

    #[test]
    fn tokens_round_trip_and_expire() {
        let (keys, customer, now, token) = issued();
        let claims = keys.verify(&token).unwrap();
        assert_eq!(claims.cus, customer);
        assert_eq!(claims.scopes().names(), "funding:read_profile");
        assert!(token.len() < 300, "{} bytes", token.len());
        let old = keys.issue("client", customer, "a", now - TOKEN_LIFETIME_SECS - 10);
        assert_eq!(
            keys.verify(&old).unwrap_err().detail,
            "access token has expired"
        );
        let other = Keys::new(&random_hex(32));
        assert!(other.verify(&token).is_err());
    }

    #[test]
    fn a_remembered_token_still_expires_and_only_its_exact_text_is_remembered() {
        let (keys, customer, now, token) = issued();
        assert_eq!(keys.verify_at(&token, now).unwrap().cus, customer);
        assert_eq!(keys.verified.read().unwrap().len(), 1);
        assert_eq!(keys.verify_at(&token, now + 60).unwrap().cus, customer);
        // Answered from memory: jsonwebtoken, on the real clock, would
        // still take it.
        let later = now + TOKEN_LIFETIME_SECS + 1;
        assert_eq!(
            keys.verify_at(&token, later).unwrap_err().detail,
            "access token has expired"
        );
        // Another payload under the remembered token's signature is refused.
        let (head, signature) = token.rsplit_once('.').unwrap();
        let other = keys.issue("intruder", Uuid::new_v4(), "funding:write_profile", now);
        let (forged_head, _) = other.rsplit_once('.').unwrap();
        assert_ne!(head, forged_head);
        let forged = format!("{forged_head}.{signature}");
        assert_eq!(
            keys.verify_at(&forged, now).unwrap_err().detail,
            "access token is invalid"
        );
        assert!(keys.verify_at(&format!("{token}x"), now).is_err());
        assert_eq!(
            keys.verified.read().unwrap().len(),
            1,
            "refusals are not kept"
        );
    }

    #[test]
    fn remembered_tokens_are_bounded() {
        let keys = Keys::new(&random_hex(32));
        let now = chrono::Utc::now().timestamp();
        for i in 0..VERIFIED_MAX + 5 {
            let token = keys.issue(&format!("c{i}"), Uuid::new_v4(), "", now - (i % 2) as i64);
            keys.verify_at(&token, now).unwrap();
        }
        assert!(keys.verified.read().unwrap().len() <= VERIFIED_MAX);
    }

    #[test]
    fn tokens_that_name_their_scopes_are_still_read() {
        let keys = Keys::new(&random_hex(32));
        let now = chrono::Utc::now().timestamp();
        let claims = serde_json::json!({
            "sub": "client", "cus": Uuid::new_v4(), "scope": "users:read_user",
            "iat": now, "exp": now + 60,
        });
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding).unwrap();
        let scopes = keys.verify(&token).unwrap().scopes();
        assert_eq!(scopes.names(), "users:read_user");
    }

    #[test]
    fn secrets_compare_by_hash() {
        let hash = hash_secret("salt", "secret");
        assert!(secret_matches("salt", "secret", &hash));
        assert!(!secret_matches("salt", "Secret", &hash));
        assert!(!secret_matches("other", "secret", &hash));
    }
}
