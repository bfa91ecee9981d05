//! Access tokens, scopes and client secrets.
//!
//! Tokens are HS256 JWTs signed with a key kept in the database, so every
//! replica accepts every token and no session lives in memory. Client secrets
//! are stored as salted SHA-256: generated secrets carry 256 bits of entropy,
//! which makes a slow password hash pointless here.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use uuid::Uuid;

use crate::api::common::problem::Problem;
use crate::state::AppState;

/// Every scope Paxos's v2 spec names (its securitySchemes list and every
/// scope an operation requires), plus ours (`events:write_webhook`,
/// `users:*`, `approvals:*`: Paxos configures webhooks, users and approvals
/// in its dashboard). A credential may hold any of them,
/// including scopes of operations Stableport does not serve; the bootstrap
/// credential and `--scopes all` hold them all.
pub const ALL_SCOPES: &[&str] = &[
    "api_creds:delete_credentials",
    "api_creds:read_credentials",
    "approvals:read_approval",
    "approvals:write_approval",
    "conversion:read_conversion_stablecoin",
    "conversion:write_conversion_stablecoin",
    "events:read_event",
    "events:write_webhook",
    "exchange:historical_prices",
    "exchange:read_issuer_quote_execution",
    "exchange:read_order",
    "exchange:read_quote",
    "exchange:read_quote_execution",
    "exchange:write_issuer_quote",
    "exchange:write_issuer_quote_execution",
    "exchange:write_order",
    "exchange:write_quote_execution",
    "fee:write_crypto_withdrawal_fee",
    "funding:read_profile",
    "funding:write_profile",
    "identity:read_account",
    "identity:read_identity",
    "identity:write_account",
    "identity:write_identity",
    "orchestration:read_orchestration",
    "orchestration:read_orchestration_rule",
    "orchestration:write_orchestration",
    "orchestration:write_orchestration_rule",
    "rewards:read_monitoring_address",
    "rewards:write_monitoring_address",
    "settlement:read_transaction",
    "settlement:write_transaction",
    "statements:read_payment",
    "statements:read_statement",
    "tax:read_tax_form",
    "tax:read_tax_lot",
    "tax:write_tax_lot",
    "transfer:read_crypto_destination_address",
    "transfer:read_deposit_address",
    "transfer:read_fiat_account",
    "transfer:read_fiat_deposit_instructions",
    "transfer:read_transfer",
    "transfer:read_transfer_limit",
    "transfer:reject_crypto_deposit",
    "transfer:update_crypto_deposit",
    "transfer:write_crypto_destination_address",
    "transfer:write_crypto_withdrawal",
    "transfer:write_deposit_address",
    "transfer:write_fiat_account",
    "transfer:write_fiat_deposit_instructions",
    "transfer:write_fiat_withdrawal",
    "transfer:write_internal_transfer",
    "transfer:write_paxos_transfer",
    "transfer:write_sandbox_fiat_deposit",
    "users:read_user",
    "users:write_user",
];

pub mod scope {
    pub const READ_CONVERSION: &str = "conversion:read_conversion_stablecoin";
    pub const WRITE_CONVERSION: &str = "conversion:write_conversion_stablecoin";
    pub const READ_PROFILE: &str = "funding:read_profile";
    pub const WRITE_PROFILE: &str = "funding:write_profile";
    pub const READ_ORCHESTRATION: &str = "orchestration:read_orchestration";
    pub const WRITE_ORCHESTRATION: &str = "orchestration:write_orchestration";
    pub const READ_TRANSFER: &str = "transfer:read_transfer";
    /// Ours: approval policies and requests.
    pub const READ_APPROVAL: &str = "approvals:read_approval";
    pub const WRITE_APPROVAL: &str = "approvals:write_approval";
    /// Ours: the customer's users.
    pub const READ_USER: &str = "users:read_user";
    pub const WRITE_USER: &str = "users:write_user";
    pub const READ_IDENTITY: &str = "identity:read_identity";
    pub const WRITE_IDENTITY: &str = "identity:write_identity";
    pub const READ_ACCOUNT: &str = "identity:read_account";
    pub const WRITE_ACCOUNT: &str = "identity:write_account";
    pub const READ_TRANSFER_LIMIT: &str = "transfer:read_transfer_limit";
    pub const READ_CREDENTIALS: &str = "api_creds:read_credentials";
    pub const DELETE_CREDENTIALS: &str = "api_creds:delete_credentials";
    pub const WRITE_CRYPTO_WITHDRAWAL: &str = "transfer:write_crypto_withdrawal";
    pub const WRITE_CRYPTO_WITHDRAWAL_FEE: &str = "fee:write_crypto_withdrawal_fee";
    pub const WRITE_FIAT_WITHDRAWAL: &str = "transfer:write_fiat_withdrawal";
    pub const WRITE_INTERNAL_TRANSFER: &str = "transfer:write_internal_transfer";
    pub const WRITE_PAXOS_TRANSFER: &str = "transfer:write_paxos_transfer";
    pub const READ_DEPOSIT_ADDRESS: &str = "transfer:read_deposit_address";
    pub const WRITE_DEPOSIT_ADDRESS: &str = "transfer:write_deposit_address";
    pub const READ_FIAT_DEPOSIT_INSTRUCTIONS: &str = "transfer:read_fiat_deposit_instructions";
    pub const WRITE_FIAT_DEPOSIT_INSTRUCTIONS: &str = "transfer:write_fiat_deposit_instructions";
    pub const WRITE_SANDBOX_FIAT_DEPOSIT: &str = "transfer:write_sandbox_fiat_deposit";
    pub const READ_RULE: &str = "orchestration:read_orchestration_rule";
    pub const WRITE_RULE: &str = "orchestration:write_orchestration_rule";
    pub const READ_FIAT_ACCOUNT: &str = "transfer:read_fiat_account";
    pub const WRITE_FIAT_ACCOUNT: &str = "transfer:write_fiat_account";
    pub const READ_CRYPTO_ADDRESS: &str = "transfer:read_crypto_destination_address";
    pub const WRITE_CRYPTO_ADDRESS: &str = "transfer:write_crypto_destination_address";
    /// Events, and reading webhooks, their deliveries and attempts.
    pub const READ_EVENT: &str = "events:read_event";
    /// Ours: creating, deleting and testing webhooks.
    pub const WRITE_WEBHOOK: &str = "events:write_webhook";
}

/// A set of `ALL_SCOPES`, one bit each: a token carries this number, not
/// the names (all of them spelled out made every request 2.5 KB longer and
/// its signature check 8 times the work).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScopeSet(pub u64);

const _: () = assert!(ALL_SCOPES.len() <= 64);

impl ScopeSet {
    /// The known scopes among space-separated names; an unknown one guards
    /// no route, so it is left out.
    pub fn from_names(names: &str) -> ScopeSet {
        let bits = names
            .split(' ')
            .filter_map(scope_bit)
            .fold(0, |set, bit| set | bit);
        ScopeSet(bits)
    }

    pub fn contains(self, scope: &str) -> bool {
        scope_bit(scope).is_some_and(|bit| self.0 & bit != 0)
    }

    pub fn names(self) -> String {
        let held = ALL_SCOPES.iter().enumerate();
        let held = held.filter(|(i, _)| self.0 & (1 << i) != 0);
        held.map(|(_, name)| *name).collect::<Vec<_>>().join(" ")
    }
}

/// ALL_SCOPES is sorted, so a name is found by bisection.
fn scope_bit(name: &str) -> Option<u64> {
    ALL_SCOPES.binary_search(&name).ok().map(|i| 1 << i)
}

/// The caller of a /v2 route, from its bearer token.
pub struct Auth {
    pub customer: Uuid,
    /// The user the credential acts for; None for a machine credential.
    pub user: Option<Uuid>,
    scopes: ScopeSet,
}

impl Auth {
    /// Paxos's 403 for a token without the route's scope.
    pub fn require(&self, scope: &str) -> Result<(), Problem> {
        if self.scopes.contains(scope) {
            return Ok(());
        }
        Err(Problem::forbidden(format!(
            "insufficient scopes: found '{}', required one of '[{scope}]'",
            self.scopes.names()
        )))
    }
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            Problem::unauthorized("missing Authorization header with a bearer token")
        })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Problem::unauthorized("Authorization header must be 'Bearer <access_token>'")
            })?;
        let claims = state.keys.verify(token)?;
        // Signed tokens outlive a deletion; the database says at once.
        let Some(acting) = state.core.store.credential_acting(&claims.sub).await? else {
            return Err(Problem::unauthorized(
                "the API credential of this token (or its user) was deleted or disabled",
            ));
        };
        if let Some(limiter) = &state.limiter {
            let route = parts
                .extensions
                .get::<axum::extract::MatchedPath>()
                .map_or("", |p| p.as_str());
            let route = format!("{} {route}", parts.method);
            if let Err(wait) = limiter.check(&claims.sub, &route, std::time::Instant::now()) {
                return Err(Problem::too_many_requests(limiter.rate(), &route, wait));
            }
        }
        if let Some(caller) = parts.extensions.get::<crate::telemetry::Caller>() {
            caller.set(claims.cus);
        }
        Ok(Auth {
            customer: claims.cus,
            user: acting.user_id,
            scopes: claims.scopes(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_sets_hold_exactly_the_known_names_they_were_made_of() {
        assert!(ALL_SCOPES.windows(2).all(|w| w[0] < w[1]), "sorted, unique");
        let set = ScopeSet::from_names("funding:read_profile  users:read_user nonsense:x");
        assert!(set.contains(scope::READ_PROFILE) && set.contains(scope::READ_USER));
        assert!(!set.contains(scope::WRITE_PROFILE) && !set.contains("nonsense:x"));
        assert_eq!(set.names(), "funding:read_profile users:read_user");
        let all = ScopeSet::from_names(&ALL_SCOPES.join(" "));
        assert_eq!(all.names(), ALL_SCOPES.join(" "));
        assert_eq!(ScopeSet::from_names("").names(), "");
    }
}
