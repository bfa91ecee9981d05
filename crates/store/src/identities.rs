//! Identities and accounts of third-party ("subledgered") integrations.

use async_trait::async_trait;
use sqlx::Row;
use stableport_domain::IdentityStatus;
use uuid::Uuid;

use crate::model::{Page, Profile, TimeRange};
use crate::sql::{self, Sql};
use crate::{Result, SqlStore, StoreError};

#[derive(Clone, Debug, PartialEq)]
pub struct Identity {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub ref_id: Option<String>,
    /// PERSON or INSTITUTION.
    pub kind: String,
    /// What the client sent, validated: person or institution details, tax
    /// details, members and the rest, as a JSON object.
    pub details: String,
    pub metadata: Option<String>,
    pub checks: Checks,
    pub user_disabled: bool,
    pub admin_disabled: bool,
    pub summary: IdentityStatus,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The verification statuses the sandbox sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checks {
    pub id_verification: IdentityStatus,
    pub sanctions_verification: IdentityStatus,
    pub document_verification: IdentityStatus,
    pub additional_screening: IdentityStatus,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Account {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub identity_id: Uuid,
    pub ref_id: Option<String>,
    pub description: Option<String>,
    pub metadata: Option<String>,
    /// AccountMember list, as JSON.
    pub members: Option<String>,
    pub kind: Option<String>,
    pub user_disabled: bool,
    pub profile_id: Option<Uuid>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug)]
pub struct IdentityFilter {
    pub summary_statuses: Vec<String>,
    pub kinds: Vec<String>,
    pub created_at: TimeRange,
    pub updated_at: TimeRange,
    pub page: Page,
}

#[derive(Clone, Debug)]
pub struct AccountFilter {
    pub identity_ids: Vec<String>,
    pub created_at: TimeRange,
    pub updated_at: TimeRange,
    pub page: Page,
}

#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// Inserts it, or returns the one that holds its ref_id already.
    async fn insert_identity(&self, identity: &Identity) -> Result<Option<Identity>>;
    async fn identity(&self, customer: Uuid, id: Uuid) -> Result<Option<Identity>>;
    async fn list_identities(&self, customer: Uuid, f: &IdentityFilter) -> Result<Vec<Identity>>;
    /// Writes every changeable field of `identity` (found by its id).
    async fn update_identity(&self, identity: &Identity) -> Result<()>;
    /// Inserts it (with its profile, if any, in the same transaction), or
    /// returns the one that holds its ref_id already.
    async fn insert_account(
        &self,
        account: &Account,
        profile: Option<&Profile>,
    ) -> Result<Option<Account>>;
    async fn account(&self, customer: Uuid, id: Uuid) -> Result<Option<Account>>;
    async fn list_accounts(&self, customer: Uuid, f: &AccountFilter) -> Result<Vec<Account>>;
    async fn update_account(&self, account: &Account) -> Result<()>;
}

const IDENTITY_COLUMNS: &str =
    "id, customer_id, ref_id, type, details, metadata, id_verification_status, \
     sanctions_verification_status, document_verification_status, additional_screening_status, \
     user_disabled, admin_disabled, summary_status, created_at, updated_at";

const ACCOUNT_COLUMNS: &str =
    "id, customer_id, identity_id, ref_id, description, metadata, members, type, \
     user_disabled, profile_id, created_at, updated_at";

fn status(row: &sqlx::any::AnyRow, column: &str) -> Result<IdentityStatus> {
    let text: String = row.try_get(column)?;
    IdentityStatus::parse(&text).ok_or_else(|| StoreError::Corrupt(format!("{column} {text:?}")))
}

fn flag(row: &sqlx::any::AnyRow, column: &str) -> Result<bool> {
    Ok(row.try_get::<i64, _>(column)? != 0)
}

fn decode_identity(row: &sqlx::any::AnyRow) -> Result<Identity> {
    Ok(Identity {
        id: sql::uuid(row, "id")?,
        customer_id: sql::uuid(row, "customer_id")?,
        ref_id: row.try_get("ref_id")?,
        kind: row.try_get("type")?,
        details: row.try_get("details")?,
        metadata: row.try_get("metadata")?,
        checks: Checks {
            id_verification: status(row, "id_verification_status")?,
            sanctions_verification: status(row, "sanctions_verification_status")?,
            document_verification: status(row, "document_verification_status")?,
            additional_screening: status(row, "additional_screening_status")?,
        },
        user_disabled: flag(row, "user_disabled")?,
        admin_disabled: flag(row, "admin_disabled")?,
        summary: status(row, "summary_status")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn decode_account(row: &sqlx::any::AnyRow) -> Result<Account> {
    Ok(Account {
        id: sql::uuid(row, "id")?,
        customer_id: sql::uuid(row, "customer_id")?,
        identity_id: sql::uuid(row, "identity_id")?,
        ref_id: row.try_get("ref_id")?,
        description: row.try_get("description")?,
        metadata: row.try_get("metadata")?,
        members: row.try_get("members")?,
        kind: row.try_get("type")?,
        user_disabled: flag(row, "user_disabled")?,
        profile_id: sql::opt_uuid(row, "profile_id")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn identity_values(i: &Identity) -> Vec<sql::Val> {
    vec![
        i.id.into(),
        i.customer_id.into(),
        i.ref_id.clone().into(),
        i.kind.clone().into(),
        i.details.clone().into(),
        i.metadata.clone().into(),
        i.checks.id_verification.as_str().into(),
        i.checks.sanctions_verification.as_str().into(),
        i.checks.document_verification.as_str().into(),
        i.checks.additional_screening.as_str().into(),
        i64::from(i.user_disabled).into(),
        i64::from(i.admin_disabled).into(),
        i.summary.as_str().into(),
        i.created_at.into(),
        i.updated_at.into(),
    ]
}

fn account_values(a: &Account) -> Vec<sql::Val> {
    vec![
        a.id.into(),
        a.customer_id.into(),
        a.identity_id.into(),
        a.ref_id.clone().into(),
        a.description.clone().into(),
        a.metadata.clone().into(),
        a.members.clone().into(),
        a.kind.clone().into(),
        i64::from(a.user_disabled).into(),
        a.profile_id.map(|p| p.to_string()).into(),
        a.created_at.into(),
        a.updated_at.into(),
    ]
}

/// `INSERT ... ON CONFLICT (customer_id, ref_id) DO NOTHING RETURNING id`.
fn insert(table: &str, columns: &str, values: Vec<sql::Val>) -> Sql {
    let mut q = Sql::new(&format!("INSERT INTO {table} ({columns}) VALUES "));
    q.row(values).push(
        " ON CONFLICT (customer_id, ref_id) WHERE ref_id IS NOT NULL DO NOTHING RETURNING id",
    );
    q
}

#[async_trait]
impl IdentityStore for SqlStore {
    async fn insert_identity(&self, i: &Identity) -> Result<Option<Identity>> {
        let q = insert("identities", IDENTITY_COLUMNS, identity_values(i));
        if q.query_on(self.sqlite())
            .fetch_optional(&self.write)
            .await?
            .is_some()
        {
            return Ok(None);
        }
        let ref_id = i.ref_id.as_deref().unwrap_or_default();
        let row = sqlx::query(&format!(
            "SELECT {IDENTITY_COLUMNS} FROM identities WHERE customer_id = $1 AND ref_id = $2"
        ))
        .bind(i.customer_id.to_string())
        .bind(ref_id)
        .fetch_one(&self.write)
        .await?;
        decode_identity(&row).map(Some)
    }

    async fn identity(&self, customer: Uuid, id: Uuid) -> Result<Option<Identity>> {
        let row = sqlx::query(&format!(
            "SELECT {IDENTITY_COLUMNS} FROM identities WHERE customer_id = $1 AND id = $2"
        ))
        .bind(customer.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(decode_identity).transpose()
    }

    async fn list_identities(&self, customer: Uuid, f: &IdentityFilter) -> Result<Vec<Identity>> {
        let mut q = Sql::new(&format!(
            "SELECT {IDENTITY_COLUMNS} FROM identities WHERE customer_id = "
        ));
        q.bind(customer)
            .any_of("summary_status", &f.summary_statuses)
            .any_of("type", &f.kinds)
            .time_range("created_at", &f.created_at)
            .time_range("updated_at", &f.updated_at)
            .page(&f.page);
        let rows = q.query_on(self.sqlite()).fetch_all(&self.read).await?;
        rows.iter().map(decode_identity).collect()
    }

    async fn update_identity(&self, i: &Identity) -> Result<()> {
        sqlx::query(
            "UPDATE identities SET ref_id = $1, details = $2, metadata = $3, id_verification_status = $4, \
             sanctions_verification_status = $5, document_verification_status = $6, \
             additional_screening_status = $7, user_disabled = $8, admin_disabled = $9, \
             summary_status = $10, updated_at = $11 WHERE customer_id = $12 AND id = $13",
        )
        .bind(i.ref_id.clone())
        .bind(&i.details)
        .bind(i.metadata.clone())
        .bind(i.checks.id_verification.as_str())
        .bind(i.checks.sanctions_verification.as_str())
        .bind(i.checks.document_verification.as_str())
        .bind(i.checks.additional_screening.as_str())
        .bind(i64::from(i.user_disabled))
        .bind(i64::from(i.admin_disabled))
        .bind(i.summary.as_str())
        .bind(i.updated_at)
        .bind(i.customer_id.to_string())
        .bind(i.id.to_string())
        .execute(&self.write)
        .await
        .map_err(|e| match e.as_database_error().is_some_and(|d| d.is_unique_violation()) {
            true => StoreError::Conflict(format!(
                "an identity with ref_id {:?} already exists",
                i.ref_id.as_deref().unwrap_or_default()
            )),
            false => e.into(),
        })?;
        Ok(())
    }

    async fn insert_account(
        &self,
        a: &Account,
        profile: Option<&Profile>,
    ) -> Result<Option<Account>> {
        let mut tx = self.begin().await?;
        let q = insert("accounts", ACCOUNT_COLUMNS, account_values(a));
        if q.query_on(self.sqlite())
            .fetch_optional(&mut *tx)
            .await?
            .is_none()
        {
            let ref_id = a.ref_id.as_deref().unwrap_or_default();
            let row = sqlx::query(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE customer_id = $1 AND ref_id = $2"
            ))
            .bind(a.customer_id.to_string())
            .bind(ref_id)
            .fetch_one(&mut *tx)
            .await?;
            return decode_account(&row).map(Some);
        }
        if let Some(profile) = profile {
            crate::store::insert_profile(&mut tx, profile).await?;
        }
        tx.commit().await?;
        Ok(None)
    }

    async fn account(&self, customer: Uuid, id: Uuid) -> Result<Option<Account>> {
        let row = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE customer_id = $1 AND id = $2"
        ))
        .bind(customer.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(decode_account).transpose()
    }

    async fn list_accounts(&self, customer: Uuid, f: &AccountFilter) -> Result<Vec<Account>> {
        let mut q = Sql::new(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE customer_id = "
        ));
        q.bind(customer)
            .any_of("identity_id", &f.identity_ids)
            .time_range("created_at", &f.created_at)
            .time_range("updated_at", &f.updated_at)
            .page(&f.page);
        let rows = q.query_on(self.sqlite()).fetch_all(&self.read).await?;
        rows.iter().map(decode_account).collect()
    }

    async fn update_account(&self, a: &Account) -> Result<()> {
        sqlx::query(
            "UPDATE accounts SET description = $1, metadata = $2, members = $3, type = $4, \
             user_disabled = $5, updated_at = $6 WHERE customer_id = $7 AND id = $8",
        )
        .bind(a.description.clone())
        .bind(a.metadata.clone())
        .bind(a.members.clone())
        .bind(a.kind.clone())
        .bind(i64::from(a.user_disabled))
        .bind(a.updated_at)
        .bind(a.customer_id.to_string())
        .bind(a.id.to_string())
        .execute(&self.write)
        .await?;
        Ok(())
    }
}
