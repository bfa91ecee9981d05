//! Where funds may go: a destination named by id, resolved to something the
//! customer owns that can receive funds now. Orchestrations and rules share it.

use stableport_domain::orchestration::DestinationKind;
use stableport_store::Destination;

use crate::api::common::auth::Auth;
use crate::api::common::extract::parse_uuid;
use crate::api::common::fields::required;
use crate::api::common::owned::owned_profile;
use crate::api::common::problem::{ApiResult, Problem};
use crate::state::App;

/// A bank memo: what a wire carries.
const MAX_MEMO: usize = 140;

/// The one destination a request names, by its ids as sent.
pub enum Chosen {
    Profile(Option<String>),
    Fiat(Option<String>, Option<String>),
    Crypto(Option<String>),
}

/// Resolves a destination to something the customer owns and that can
/// receive funds now. `fields` names the request's id fields (profile,
/// fiat account, crypto address) for error details; the memo's field is
/// the fiat one's sibling.
pub async fn resolve_destination(
    app: &App,
    auth: &Auth,
    chosen: Chosen,
    fields: [&str; 3],
) -> ApiResult<Destination> {
    let [profile_field, fiat_field, crypto_field] = fields;
    match chosen {
        Chosen::Profile(raw) => {
            let raw = required(profile_field, raw)?;
            let profile = owned_profile(app, auth, profile_field, &raw).await?;
            Ok(Destination::Profile(profile.id))
        }
        Chosen::Fiat(raw, memo) => {
            let id = parse_uuid(fiat_field, &required(fiat_field, raw)?)?;
            if memo.as_ref().is_some_and(|m| m.chars().count() > MAX_MEMO) {
                return Err(Problem::bad_request(format!(
                    "destination.fiat.memo must be at most {MAX_MEMO} characters"
                )));
            }
            let account = app
                .store
                .fiat_account(auth.customer, id)
                .await?
                .filter(|a| !a.deleted)
                .ok_or_else(|| {
                    Problem::not_found(format!(
                        "fiat account with id {id} not found for customer with id {}",
                        auth.customer
                    ))
                })?;
            if account.status != "APPROVED" {
                return Err(Problem::bad_request(format!(
                    "fiat account {id} is {}; withdrawals need an APPROVED fiat account",
                    account.status
                )));
            }
            Ok(Destination::Fiat {
                bank_account_id: id,
                memo,
                network: account.network.code().to_string(),
            })
        }
        Chosen::Crypto(raw) => {
            let id = parse_uuid(crypto_field, &required(crypto_field, raw)?)?;
            let address = app
                .store
                .crypto_address(auth.customer, id)
                .await?
                .ok_or_else(|| {
                    Problem::not_found(format!(
                        "crypto destination address with id {id} not found for customer with id {}",
                        auth.customer
                    ))
                })?;
            Ok(Destination::Crypto {
                address_id: id,
                address: address.address,
                network: address.network,
            })
        }
    }
}

impl Chosen {
    /// Exactly one of the three destination kinds, by its ids as sent.
    pub fn exactly_one(
        profile: Option<Option<String>>,
        fiat: Option<(Option<String>, Option<String>)>,
        crypto: Option<Option<String>>,
    ) -> ApiResult<Chosen> {
        match (profile, fiat, crypto) {
            (Some(p), None, None) => Ok(Chosen::Profile(p)),
            (None, Some((id, memo)), None) => Ok(Chosen::Fiat(id, memo)),
            (None, None, Some(c)) => Ok(Chosen::Crypto(c)),
            _ => Err(Problem::bad_request(
                "destination must name exactly one of profile, fiat or crypto",
            )),
        }
    }
}

pub fn kind_of(d: &Destination) -> DestinationKind {
    match d {
        Destination::Profile(_) => DestinationKind::Profile,
        Destination::Fiat { .. } => DestinationKind::Fiat,
        Destination::Crypto { .. } => DestinationKind::Crypto,
    }
}
