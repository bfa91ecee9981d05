//! Identities and accounts of third-party integrations: who a transfer is
//! for. A conversion, orchestration or transfer naming an `identity_id` or
//! `account_id` (other than the zero UUID, "first-party") needs it to be the
//! customer's and APPROVED; the sandbox sets the verification statuses.

use serde_json::{Map, Value};
use stableport_domain::status::identity_summary;
use stableport_domain::{IdentityStatus, ZERO_UUID};
use stableport_store::{Account, Checks, Identity, Profile, ProfileKind};
use uuid::Uuid;

use crate::{Core, CoreError, Created, Result};

/// The keys of a create request the identity keeps as its details.
const PERSON: &str = "person_details";
const INSTITUTION: &str = "institution_details";

pub struct NewIdentity {
    pub ref_id: Option<String>,
    /// The request's other fields, checked against the spec: exactly one
    /// of person_details and institution_details among them.
    pub details: Map<String, Value>,
    pub metadata: Option<String>,
}

pub async fn create(
    core: &Core,
    customer: Uuid,
    new: NewIdentity,
    now: i64,
) -> Result<Created<Identity>> {
    let kind = match (new.details.get(PERSON), new.details.get(INSTITUTION)) {
        (Some(_), None) => "PERSON",
        (None, Some(_)) => "INSTITUTION",
        _ => {
            return Err(CoreError::invalid(
                "person_details, institution_details: give exactly one",
            ))
        }
    };
    let pending = IdentityStatus::Pending;
    let checks = Checks {
        id_verification: pending,
        sanctions_verification: pending,
        document_verification: pending,
        additional_screening: pending,
    };
    let identity = Identity {
        id: stableport_domain::new_id(),
        customer_id: customer,
        ref_id: new.ref_id,
        kind: kind.to_string(),
        details: Value::Object(new.details).to_string(),
        metadata: new.metadata,
        checks,
        user_disabled: false,
        admin_disabled: false,
        summary: summary(kind, &checks, false),
        created_at: now,
        updated_at: now,
    };
    match core.store.insert_identity(&identity).await? {
        Some(existing) => Ok(Created::Existing(existing)),
        None => Ok(Created::New(identity)),
    }
}

/// A person needs its ID and sanctions checks APPROVED; an institution its
/// sanctions check.
fn summary(kind: &str, c: &Checks, disabled: bool) -> IdentityStatus {
    match kind {
        "PERSON" => identity_summary(&[c.id_verification, c.sanctions_verification], disabled),
        _ => identity_summary(&[c.sanctions_verification], disabled),
    }
}

pub async fn find(core: &Core, customer: Uuid, id: Uuid) -> Result<Identity> {
    core.store.identity(customer, id).await?.ok_or_else(|| {
        CoreError::NotFound(format!(
            "identity with id {id} not found for customer with id {customer}"
        ))
    })
}

/// An update: a delta of what the identity holds.
#[derive(Default)]
pub struct IdentityChange {
    /// Fields replacing the stored ones; person or institution details
    /// merge field by field.
    pub details: Map<String, Value>,
    pub metadata: Option<String>,
    pub ref_id: Option<String>,
    pub set_user_disabled: Option<bool>,
}

pub async fn update(
    core: &Core,
    customer: Uuid,
    id: Uuid,
    change: IdentityChange,
    now: i64,
) -> Result<Identity> {
    let mut identity = find(core, customer, id).await?;
    let mut details: Map<String, Value> = serde_json::from_str(&identity.details)
        .map_err(|e| CoreError::Internal(format!("identity {id} details: {e}")))?;
    let other = if identity.kind == "PERSON" {
        INSTITUTION
    } else {
        PERSON
    };
    if change.details.contains_key(other) {
        return Err(CoreError::invalid(format!(
            "{other}: a {} identity cannot become another kind",
            identity.kind
        )));
    }
    for (key, value) in change.details {
        match (details.get_mut(&key), value) {
            (Some(Value::Object(stored)), Value::Object(delta))
                if key == PERSON || key == INSTITUTION =>
            {
                stored.extend(delta)
            }
            (_, value) => {
                details.insert(key, value);
            }
        }
    }
    identity.details = Value::Object(details).to_string();
    identity.metadata = change.metadata.or(identity.metadata);
    identity.ref_id = change.ref_id.or(identity.ref_id);
    identity.user_disabled = change.set_user_disabled.unwrap_or(identity.user_disabled);
    save(core, identity, now).await
}

async fn save(core: &Core, mut identity: Identity, now: i64) -> Result<Identity> {
    let disabled = identity.user_disabled || identity.admin_disabled;
    identity.summary = summary(&identity.kind, &identity.checks, disabled);
    identity.updated_at = now;
    core.store.update_identity(&identity).await?;
    Ok(identity)
}

/// Sandbox: what the verifications found. None leaves a status as it is.
#[derive(Default)]
pub struct SetChecks {
    pub id_verification: Option<IdentityStatus>,
    pub sanctions_verification: Option<IdentityStatus>,
    pub document_verification: Option<IdentityStatus>,
    pub additional_screening: Option<IdentityStatus>,
    pub user_disabled: Option<bool>,
    pub admin_disabled: Option<bool>,
}

pub async fn set_checks(
    core: &Core,
    customer: Uuid,
    id: Uuid,
    set: SetChecks,
    now: i64,
) -> Result<Identity> {
    let mut identity = find(core, customer, id).await?;
    let c = &mut identity.checks;
    c.id_verification = set.id_verification.unwrap_or(c.id_verification);
    c.sanctions_verification = set
        .sanctions_verification
        .unwrap_or(c.sanctions_verification);
    c.document_verification = set.document_verification.unwrap_or(c.document_verification);
    c.additional_screening = set.additional_screening.unwrap_or(c.additional_screening);
    identity.user_disabled = set.user_disabled.unwrap_or(identity.user_disabled);
    identity.admin_disabled = set.admin_disabled.unwrap_or(identity.admin_disabled);
    save(core, identity, now).await
}

pub struct NewAccount {
    pub ref_id: Option<String>,
    pub identity_id: Uuid,
    pub description: Option<String>,
    pub metadata: Option<String>,
    /// AccountMember list, checked against the spec; each names an identity.
    pub members: Vec<Value>,
    pub kind: Option<String>,
    pub create_profile: bool,
}

pub async fn create_account(
    core: &Core,
    customer: Uuid,
    new: NewAccount,
    now: i64,
) -> Result<Created<Account>> {
    find(core, customer, new.identity_id).await?;
    let mut new = new;
    check_members(core, customer, &mut new.members).await?;
    let id = stableport_domain::new_id();
    let profile = new.create_profile.then(|| Profile {
        id: stableport_domain::new_id(),
        customer_id: customer,
        nickname: format!("account {id}"),
        description: None,
        kind: ProfileKind::Normal,
        created_at: now,
        updated_at: now,
        deactivated: false,
        account_id: Some(id),
    });
    let account = Account {
        id,
        customer_id: customer,
        identity_id: new.identity_id,
        ref_id: new.ref_id,
        description: new.description,
        metadata: new.metadata,
        members: (!new.members.is_empty()).then(|| Value::Array(new.members).to_string()),
        kind: new.kind,
        user_disabled: false,
        profile_id: profile.as_ref().map(|p| p.id),
        created_at: now,
        updated_at: now,
    };
    match core
        .store
        .insert_account(&account, profile.as_ref())
        .await?
    {
        Some(existing) => Ok(Created::Existing(existing)),
        None => Ok(Created::New(account)),
    }
}

/// Checks that each member names one of the customer's identities, and
/// gives each its generated id.
async fn check_members(core: &Core, customer: Uuid, members: &mut [Value]) -> Result<()> {
    for (i, member) in members.iter_mut().enumerate() {
        let field = format!("account.members[{i}].identity_id");
        let text = member["identity_id"].as_str().unwrap_or_default();
        let id = Uuid::parse_str(text)
            .map_err(|_| CoreError::invalid(format!("{field} must be a UUID")))?;
        find(core, customer, id)
            .await
            .map_err(|_| CoreError::NotFound(format!("{field}: identity {id} not found")))?;
        if member.get("id").is_none() {
            member["id"] = Value::String(stableport_domain::new_id().to_string());
        }
    }
    Ok(())
}

pub async fn find_account(core: &Core, customer: Uuid, id: Uuid) -> Result<Account> {
    core.store.account(customer, id).await?.ok_or_else(|| {
        CoreError::NotFound(format!(
            "account with id {id} not found for customer with id {customer}"
        ))
    })
}

#[derive(Default)]
pub struct AccountChange {
    pub description: Option<String>,
    pub metadata: Option<String>,
    pub members: Option<Vec<Value>>,
    pub kind: Option<String>,
    pub set_user_disabled: Option<bool>,
}

pub async fn update_account(
    core: &Core,
    customer: Uuid,
    id: Uuid,
    change: AccountChange,
    now: i64,
) -> Result<Account> {
    let mut account = find_account(core, customer, id).await?;
    if let Some(mut members) = change.members {
        check_members(core, customer, &mut members).await?;
        account.members = (!members.is_empty()).then(|| Value::Array(members).to_string());
    }
    account.description = change.description.or(account.description);
    account.metadata = change.metadata.or(account.metadata);
    account.kind = change.kind.or(account.kind);
    account.user_disabled = change.set_user_disabled.unwrap_or(account.user_disabled);
    account.updated_at = now;
    core.store.update_account(&account).await?;
    Ok(account)
}

/// An account's status: its identity's, unless the account is disabled.
pub fn account_summary(account: &Account, identity: &Identity) -> IdentityStatus {
    match account.user_disabled {
        true => IdentityStatus::Disabled,
        false => identity.summary,
    }
}

/// Checks the identity and account a money movement names: the zero UUID
/// (or none) is the customer itself; any other must be the customer's and
/// APPROVED, and the account must belong to the identity.
pub async fn check_actor(
    core: &Core,
    customer: Uuid,
    (identity_field, identity_id): (&str, Option<&str>),
    (account_field, account_id): (&str, Option<&str>),
) -> Result<()> {
    let named = |v: Option<&str>| v.filter(|v| *v != ZERO_UUID).map(Uuid::parse_str);
    let identity = match named(identity_id) {
        Some(id) => {
            let id =
                id.map_err(|_| CoreError::invalid(format!("{identity_field} must be a UUID")))?;
            let found = core.store.identity(customer, id).await?;
            let found = found.ok_or_else(|| {
                CoreError::NotFound(format!(
                    "{identity_field}: identity {id} not found for customer with id {customer}"
                ))
            })?;
            approved(identity_field, found.id, found.summary)?;
            Some(found)
        }
        None => None,
    };
    let Some(account_id) = named(account_id) else {
        return Ok(());
    };
    let id =
        account_id.map_err(|_| CoreError::invalid(format!("{account_field} must be a UUID")))?;
    let account = core.store.account(customer, id).await?.ok_or_else(|| {
        CoreError::NotFound(format!(
            "{account_field}: account {id} not found for customer with id {customer}"
        ))
    })?;
    let owner = find(core, customer, account.identity_id).await?;
    if identity
        .as_ref()
        .is_some_and(|i| i.id != owner.id && !is_member(&account, i.id))
    {
        return Err(CoreError::invalid(format!(
            "{account_field}: account {id} does not belong to {identity_field}"
        )));
    }
    approved(account_field, id, account_summary(&account, &owner))
}

fn is_member(account: &Account, identity: Uuid) -> bool {
    let members: Vec<Value> = account
        .members
        .as_deref()
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or_default();
    let id = identity.to_string();
    members.iter().any(|m| m["identity_id"] == id.as_str())
}

fn approved(field: &str, id: Uuid, status: IdentityStatus) -> Result<()> {
    match status {
        IdentityStatus::Approved => Ok(()),
        other => Err(CoreError::invalid(format!(
            "{field}: {id} is {other}; only an APPROVED one may transact"
        ))),
    }
}
