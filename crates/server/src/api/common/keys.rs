//! Secrets: access tokens and page cursors signed with keys derived from
//! the shared signing secret, and client secrets stored hashed.

use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::api::common::problem::Problem;

pub const TOKEN_LIFETIME_SECS: i64 = 3599;

/// Keys derived from the shared signing secret.
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    cursor: Vec<u8>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The client id.
    pub sub: String,
    /// The customer.
    pub cus: Uuid,
    pub scope: String,
    iat: i64,
    exp: i64,
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
        }
    }

    pub fn issue(&self, client_id: &str, customer: Uuid, scopes: &str, now_secs: i64) -> String {
        let claims = Claims {
            sub: client_id.into(),
            cus: customer,
            scope: scopes.into(),
            iat: now_secs,
            exp: now_secs + TOKEN_LIFETIME_SECS,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 encoding of plain claims cannot fail")
    }

    pub fn verify(&self, token: &str) -> Result<Claims, Problem> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    Problem::unauthorized("access token has expired")
                }
                _ => Problem::unauthorized("access token is invalid"),
            })
    }

    /// A MAC over a page cursor, so that a forged cursor is refused.
    pub fn sign_cursor(&self, payload: &[u8]) -> Vec<u8> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.cursor).expect("HMAC takes any key length");
        mac.update(payload);
        mac.finalize().into_bytes()[..16].to_vec()
    }
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

    #[test]
    fn tokens_round_trip_and_expire() {
        let keys = Keys::new(&random_hex(32));
        let customer = Uuid::new_v4();
        let now = chrono::Utc::now().timestamp();
        let token = keys.issue("client", customer, "a b", now);
        assert_eq!(keys.verify(&token).unwrap().cus, customer);
        let old = keys.issue("client", customer, "a", now - TOKEN_LIFETIME_SECS - 10);
        assert_eq!(
            keys.verify(&old).unwrap_err().detail,
            "access token has expired"
        );
        let other = Keys::new(&random_hex(32));
        assert!(other.verify(&token).is_err());
    }

    #[test]
    fn secrets_compare_by_hash() {
        let hash = hash_secret("salt", "secret");
        assert!(secret_matches("salt", "secret", &hash));
        assert!(!secret_matches("salt", "Secret", &hash));
        assert!(!secret_matches("other", "secret", &hash));
    }
}
