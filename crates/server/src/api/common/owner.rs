//! The holder of a fiat account or a crypto address's travel-rule
//! beneficiary: exactly one of a person or an institution.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::api::common::fields::{nonempty, required};
use crate::api::common::problem::{ApiResult, Problem};

const MAX_NAME: usize = 100;

/// `fiat_account_owner`; also a crypto address's travel-rule beneficiary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Owner {
    #[serde(rename = "person_details")]
    Person {
        first_name: String,
        last_name: String,
    },
    #[serde(rename = "institution_details")]
    Institution { name: String },
}

#[derive(Deserialize)]
pub struct OwnerIn {
    pub person_details: Option<PersonIn>,
    pub institution_details: Option<InstitutionIn>,
    /// Where the spec's update examples misplace the instructions.
    pub fiat_network_instructions: Option<Value>,
}

#[derive(Deserialize)]
pub struct PersonIn {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

#[derive(Deserialize)]
pub struct InstitutionIn {
    pub name: Option<String>,
}

/// A name as a bank prints it: not blank, no control characters.
pub fn name(field: &str, value: Option<String>) -> ApiResult<String> {
    let value = required(field, value)?;
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed.chars().count() > MAX_NAME {
        return Err(Problem::bad_request(format!(
            "{field} must be 1 to {MAX_NAME} characters"
        )));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(Problem::bad_request(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(trimmed.to_string())
}

/// Exactly one of a person (first and last name) or an institution (name).
pub fn checked_owner(field: &str, owner: Option<OwnerIn>) -> ApiResult<Owner> {
    let owner = owner.ok_or_else(|| {
        Problem::bad_request(format!(
            "{field} is required: set person_details or institution_details"
        ))
    })?;
    if owner.fiat_network_instructions.is_some() {
        return Err(Problem::bad_request(format!(
            "{field}.fiat_network_instructions: fiat_network_instructions belongs at the top level of the body"
        )));
    }
    match (owner.person_details, owner.institution_details) {
        (Some(person), None) => Ok(Owner::Person {
            first_name: name(
                &format!("{field}.person_details.first_name"),
                person.first_name,
            )?,
            last_name: name(
                &format!("{field}.person_details.last_name"),
                person.last_name,
            )?,
        }),
        (None, Some(institution)) => Ok(Owner::Institution {
            name: name(
                &format!("{field}.institution_details.name"),
                institution.name,
            )?,
        }),
        (Some(_), Some(_)) => Err(Problem::bad_request(format!(
            "{field} must set only one of person_details and institution_details"
        ))),
        (None, None) => Err(Problem::bad_request(format!(
            "{field} must set person_details or institution_details"
        ))),
    }
}

/// Changes names within the owner's kind; the kind itself cannot change.
pub fn updated_owner(current: Owner, patch: OwnerIn) -> ApiResult<Owner> {
    const FIELD: &str = "fiat_account_owner";
    let merged = match (current, patch.person_details, patch.institution_details) {
        (current, None, None) if patch.fiat_network_instructions.is_none() => return Ok(current),
        (
            Owner::Person {
                first_name,
                last_name,
            },
            Some(person),
            None,
        ) => OwnerIn {
            person_details: Some(PersonIn {
                first_name: nonempty(person.first_name).or(Some(first_name)),
                last_name: nonempty(person.last_name).or(Some(last_name)),
            }),
            institution_details: None,
            fiat_network_instructions: patch.fiat_network_instructions,
        },
        (Owner::Institution { name }, None, Some(institution)) => OwnerIn {
            person_details: None,
            institution_details: Some(InstitutionIn {
                name: nonempty(institution.name).or(Some(name)),
            }),
            fiat_network_instructions: patch.fiat_network_instructions,
        },
        (Owner::Person { .. }, None, Some(_)) => {
            return Err(Problem::bad_request(format!(
                "{FIELD} cannot be changed from person to institution"
            )))
        }
        (Owner::Institution { .. }, Some(_), None) => {
            return Err(Problem::bad_request(format!(
                "{FIELD} cannot be changed from institution to person"
            )))
        }
        // Both kinds, or the misplaced instructions: the shared checks say which.
        (_, person, institution) => OwnerIn {
            person_details: person,
            institution_details: institution,
            fiat_network_instructions: patch.fiat_network_instructions,
        },
    };
    checked_owner(FIELD, Some(merged))
}
