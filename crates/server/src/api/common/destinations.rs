//! The destination a request names (orchestrations and rules share its
//! shape), parsed into what the operations layer resolves.

use stableport_core::destinations::Named;

use crate::api::common::extract::parse_uuid;
use crate::api::common::fields::required;
use crate::api::common::owned::profile_ref;
use crate::api::common::problem::{ApiResult, Problem};

/// The one destination a request names, by its ids as sent.
pub enum Chosen {
    Profile(Option<String>),
    Fiat(Option<String>, Option<String>),
    Crypto(Option<String>),
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

    /// Its ids parsed; `fields` names the request's id fields (profile,
    /// fiat account, crypto address) for error details.
    pub fn parse(self, fields: [&str; 3]) -> ApiResult<Named> {
        let [profile_field, fiat_field, crypto_field] = fields;
        Ok(match self {
            Chosen::Profile(raw) => {
                Named::Profile(profile_ref(profile_field, &required(profile_field, raw)?)?)
            }
            Chosen::Fiat(raw, memo) => Named::Fiat {
                account: parse_uuid(fiat_field, &required(fiat_field, raw)?)?,
                memo,
            },
            Chosen::Crypto(raw) => {
                Named::Crypto(parse_uuid(crypto_field, &required(crypto_field, raw)?)?)
            }
        })
    }
}
