//! Approval policies, requests and their acts (the audit trail).

use async_trait::async_trait;
use serde_json::{json, Value};
use sqlx::Row;
use stableport_domain::{ApprovalAction, ApprovalStatus, DestinationStatus, Role};
use uuid::Uuid;

use crate::model::Page;
use crate::sql::{self, Sql};
use crate::{Backend, Result, SqlStore, StoreError, Tx};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub customer_id: Uuid,
    pub action: ApprovalAction,
    pub enabled: bool,
    /// Below the first tier's threshold (or with no tiers).
    pub approvals_required: i64,
    /// Strictly increasing thresholds; withdrawals only.
    pub tiers: Vec<Tier>,
    pub updated_by: Option<Uuid>,
    pub updated_at: i64,
}

/// From `threshold_cents` of USD worth up: this many approvals, by users
/// holding one of `roles`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tier {
    pub threshold_cents: i64,
    pub approvals_required: i64,
    pub roles: Vec<Role>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalRequest {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub action: ApprovalAction,
    /// What waits for it (the crypto address, ...).
    pub object_id: Uuid,
    pub status: ApprovalStatus,
    /// None: a machine credential of the customer.
    pub submitted_by: Option<Uuid>,
    /// As the policy said when it was submitted.
    pub approvals_required: i64,
    /// Who may approve: holders of one of these roles.
    pub approver_roles: Vec<Role>,
    /// The USD worth a withdrawal's tier was chosen by.
    pub amount_cents: Option<i64>,
    /// What takes effect when approved, for actions whose object cannot
    /// hold it meanwhile.
    pub proposal: Option<Proposal>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Proposal {
    /// EDIT_APPROVAL_POLICY: the policy as it would be.
    Policy(Policy),
    /// ASSIGN_USER_ROLES: the user's roles as they would be.
    Roles(Vec<Role>),
    /// DELETE_API_CREDENTIAL: the credential's client_id (not a UUID).
    Credential(String),
}

/// One act on a request, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Act {
    /// SUBMITTED, APPROVED, REJECTED or CANCELLED.
    pub act: String,
    pub user_id: Option<Uuid>,
    pub reason: Option<String>,
    pub at: i64,
}

#[derive(Clone, Debug)]
pub struct ApprovalFilter {
    pub statuses: Vec<String>,
    pub actions: Vec<String>,
    pub submitted_by: Vec<String>,
    pub page: Page,
}

#[async_trait]
pub trait ApprovalStore: Send + Sync {
    async fn approval_policy(
        &self,
        customer: Uuid,
        action: ApprovalAction,
    ) -> Result<Option<Policy>>;
    async fn approval_request(&self, customer: Uuid, id: Uuid) -> Result<Option<ApprovalRequest>>;
    async fn list_approval_requests(
        &self,
        customer: Uuid,
        f: &ApprovalFilter,
    ) -> Result<Vec<ApprovalRequest>>;
    /// The acts on a request, in order.
    async fn approval_acts(&self, request: Uuid) -> Result<Vec<Act>>;
}

const POLICY_COLUMNS: &str =
    "customer_id, action, enabled, approvals_required, tiers, updated_by, updated_at";
const REQUEST_COLUMNS: &str = "id, customer_id, action, object_id, status, submitted_by, \
     approvals_required, approver_roles, amount_cents, proposal, created_at, updated_at";

fn known<T>(row: &sqlx::any::AnyRow, column: &str, parse: fn(&str) -> Option<T>) -> Result<T> {
    let text: String = row.try_get(column)?;
    parse(&text).ok_or_else(|| StoreError::Corrupt(format!("{column} {text:?}")))
}

fn decode_policy(row: &sqlx::any::AnyRow) -> Result<Policy> {
    let tiers: String = row.try_get("tiers")?;
    Ok(Policy {
        customer_id: sql::uuid(row, "customer_id")?,
        action: known(row, "action", ApprovalAction::parse)?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        approvals_required: row.try_get("approvals_required")?,
        tiers: decode_tiers(&tiers)?,
        updated_by: sql::opt_uuid(row, "updated_by")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn corrupt(what: &str, text: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} {text:?}"))
}

fn roles_text(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn decode_roles(text: &str) -> Result<Vec<Role>> {
    text.split(',')
        .filter(|r| !r.is_empty())
        .map(|r| Role::parse(r).ok_or_else(|| corrupt("role", r)))
        .collect()
}

fn tiers_json(tiers: &[Tier]) -> String {
    let tiers: Vec<Value> = tiers
        .iter()
        .map(|t| {
            json!({ "threshold_cents": t.threshold_cents,
                    "approvals_required": t.approvals_required,
                    "roles": roles_text(&t.roles) })
        })
        .collect();
    Value::Array(tiers).to_string()
}

fn decode_tiers(text: &str) -> Result<Vec<Tier>> {
    let parsed: Value = serde_json::from_str(text).map_err(|_| corrupt("tiers", text))?;
    let tiers = parsed.as_array().ok_or_else(|| corrupt("tiers", text))?;
    tiers
        .iter()
        .map(|t| {
            let int = |k: &str| t[k].as_i64().ok_or_else(|| corrupt("tiers", text));
            Ok(Tier {
                threshold_cents: int("threshold_cents")?,
                approvals_required: int("approvals_required")?,
                roles: decode_roles(t["roles"].as_str().unwrap_or_default())?,
            })
        })
        .collect()
}

/// A proposal, as a request keeps it.
fn proposal_json(p: &Proposal) -> String {
    match p {
        Proposal::Policy(p) => json!({ "action": p.action.as_str(), "enabled": p.enabled,
            "approvals_required": p.approvals_required, "tiers": tiers_json(&p.tiers),
            "updated_by": p.updated_by.map(|u| u.to_string()) }),
        Proposal::Roles(roles) => json!({ "roles": roles_text(roles) }),
        Proposal::Credential(client_id) => json!({ "client_id": client_id }),
    }
    .to_string()
}

fn decode_proposal(customer: Uuid, text: &str) -> Result<Proposal> {
    let v: Value = serde_json::from_str(text).map_err(|_| corrupt("proposal", text))?;
    let bad = || corrupt("proposal", text);
    if let Some(roles) = v["roles"].as_str() {
        return Ok(Proposal::Roles(decode_roles(roles)?));
    }
    if let Some(client_id) = v["client_id"].as_str() {
        return Ok(Proposal::Credential(client_id.to_string()));
    }
    Ok(Proposal::Policy(Policy {
        customer_id: customer,
        action: v["action"]
            .as_str()
            .and_then(ApprovalAction::parse)
            .ok_or_else(bad)?,
        enabled: v["enabled"].as_bool().ok_or_else(bad)?,
        approvals_required: v["approvals_required"].as_i64().ok_or_else(bad)?,
        tiers: decode_tiers(v["tiers"].as_str().ok_or_else(bad)?)?,
        updated_by: v["updated_by"]
            .as_str()
            .map(Uuid::parse_str)
            .transpose()
            .map_err(|_| bad())?,
        updated_at: 0,
    }))
}

fn decode_request(row: &sqlx::any::AnyRow) -> Result<ApprovalRequest> {
    let customer = sql::uuid(row, "customer_id")?;
    let roles: String = row.try_get("approver_roles")?;
    let proposal: Option<String> = row.try_get("proposal")?;
    Ok(ApprovalRequest {
        id: sql::uuid(row, "id")?,
        customer_id: customer,
        action: known(row, "action", ApprovalAction::parse)?,
        object_id: sql::uuid(row, "object_id")?,
        status: known(row, "status", ApprovalStatus::parse)?,
        submitted_by: sql::opt_uuid(row, "submitted_by")?,
        approvals_required: row.try_get("approvals_required")?,
        approver_roles: decode_roles(&roles)?,
        amount_cents: row.try_get("amount_cents")?,
        proposal: proposal
            .map(|p| decode_proposal(customer, &p))
            .transpose()?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

#[async_trait]
impl ApprovalStore for SqlStore {
    async fn approval_policy(
        &self,
        customer: Uuid,
        action: ApprovalAction,
    ) -> Result<Option<Policy>> {
        let row = sqlx::query(&format!(
            "SELECT {POLICY_COLUMNS} FROM approval_policies WHERE customer_id = $1 AND action = $2"
        ))
        .bind(customer.to_string())
        .bind(action.as_str())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(decode_policy).transpose()
    }

    async fn approval_request(&self, customer: Uuid, id: Uuid) -> Result<Option<ApprovalRequest>> {
        let row = sqlx::query(&format!(
            "SELECT {REQUEST_COLUMNS} FROM approval_requests WHERE customer_id = $1 AND id = $2"
        ))
        .bind(customer.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(decode_request).transpose()
    }

    async fn list_approval_requests(
        &self,
        customer: Uuid,
        f: &ApprovalFilter,
    ) -> Result<Vec<ApprovalRequest>> {
        let mut q = Sql::new(&format!(
            "SELECT {REQUEST_COLUMNS} FROM approval_requests WHERE customer_id = "
        ));
        q.bind(customer)
            .any_of("status", &f.statuses)
            .any_of("action", &f.actions)
            .any_of("submitted_by", &f.submitted_by)
            .page(&f.page);
        let rows = q.query_on(self.sqlite()).fetch_all(&self.read).await?;
        rows.iter().map(decode_request).collect()
    }

    async fn approval_acts(&self, request: Uuid) -> Result<Vec<Act>> {
        let rows = sqlx::query(
            "SELECT act, user_id, reason, at FROM approval_acts WHERE request_id = $1 ORDER BY seq",
        )
        .bind(request.to_string())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Act {
                    act: r.try_get("act")?,
                    user_id: sql::opt_uuid(r, "user_id")?,
                    reason: r.try_get("reason")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }
}

impl Tx {
    fn for_update(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        }
    }

    pub async fn approval_policy(
        &mut self,
        customer: Uuid,
        action: ApprovalAction,
    ) -> Result<Option<Policy>> {
        let row = sqlx::query(&format!(
            "SELECT {POLICY_COLUMNS} FROM approval_policies WHERE customer_id = $1 AND action = $2"
        ))
        .bind(customer.to_string())
        .bind(action.as_str())
        .fetch_optional(&mut **self.inner.pool()?)
        .await?;
        row.as_ref().map(decode_policy).transpose()
    }

    pub async fn put_approval_policy(&mut self, p: &Policy) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO approval_policies ({POLICY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (customer_id, action) DO UPDATE SET enabled = excluded.enabled, \
             approvals_required = excluded.approvals_required, tiers = excluded.tiers, \
             updated_by = excluded.updated_by, updated_at = excluded.updated_at"
        ))
        .bind(p.customer_id.to_string())
        .bind(p.action.as_str())
        .bind(i64::from(p.enabled))
        .bind(p.approvals_required)
        .bind(tiers_json(&p.tiers))
        .bind(p.updated_by.map(|u| u.to_string()))
        .bind(p.updated_at)
        .execute(&mut **self.inner.pool()?)
        .await?;
        Ok(())
    }

    pub async fn insert_approval_request(&mut self, r: &ApprovalRequest) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO approval_requests ({REQUEST_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(r.id.to_string())
        .bind(r.customer_id.to_string())
        .bind(r.action.as_str())
        .bind(r.object_id.to_string())
        .bind(r.status.as_str())
        .bind(r.submitted_by.map(|u| u.to_string()))
        .bind(r.approvals_required)
        .bind(roles_text(&r.approver_roles))
        .bind(r.amount_cents)
        .bind(r.proposal.as_ref().map(proposal_json))
        .bind(r.created_at)
        .bind(r.updated_at)
        .execute(&mut **self.inner.pool()?)
        .await?;
        Ok(())
    }

    /// The customer's request, locked until commit: racing approvals of
    /// one request queue here.
    pub async fn approval_request_for_update(
        &mut self,
        customer: Uuid,
        id: Uuid,
    ) -> Result<Option<ApprovalRequest>> {
        let row = sqlx::query(&format!(
            "SELECT {REQUEST_COLUMNS} FROM approval_requests WHERE customer_id = $1 AND id = $2{}",
            self.for_update()
        ))
        .bind(customer.to_string())
        .bind(id.to_string())
        .fetch_optional(&mut **self.inner.pool()?)
        .await?;
        row.as_ref().map(decode_request).transpose()
    }

    /// The PENDING request an object waits for, if any.
    pub async fn open_approval_request(
        &mut self,
        customer: Uuid,
        object: Uuid,
    ) -> Result<Option<ApprovalRequest>> {
        let row = sqlx::query(&format!(
            "SELECT {REQUEST_COLUMNS} FROM approval_requests \
             WHERE object_id = $1 AND customer_id = $2 AND status = $3"
        ))
        .bind(object.to_string())
        .bind(customer.to_string())
        .bind(ApprovalStatus::Pending.as_str())
        .fetch_optional(&mut **self.inner.pool()?)
        .await?;
        row.as_ref().map(decode_request).transpose()
    }

    /// Records an act on a request; false when it is an approval this user
    /// already gave.
    pub async fn record_act(&mut self, request: Uuid, act: &Act) -> Result<bool> {
        let recorded = sqlx::query(
            "INSERT INTO approval_acts (request_id, seq, act, user_id, reason, at) \
             SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5 FROM approval_acts WHERE request_id = $1 \
             ON CONFLICT DO NOTHING",
        )
        .bind(request.to_string())
        .bind(&act.act)
        .bind(act.user_id.map(|u| u.to_string()))
        .bind(act.reason.clone())
        .bind(act.at)
        .execute(&mut **self.inner.pool()?)
        .await?;
        Ok(recorded.rows_affected() == 1)
    }

    /// How many approvals a request has.
    pub async fn count_approvals(&mut self, request: Uuid) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM approval_acts WHERE request_id = $1 AND act = 'APPROVED'",
        )
        .bind(request.to_string())
        .fetch_one(&mut **self.inner.pool()?)
        .await?)
    }

    /// Moves a PENDING request to `to`; false when it was no longer PENDING.
    pub async fn move_approval_request(
        &mut self,
        id: Uuid,
        to: ApprovalStatus,
        now: i64,
    ) -> Result<bool> {
        let moved = sqlx::query(
            "UPDATE approval_requests SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4",
        )
        .bind(to.as_str())
        .bind(now)
        .bind(id.to_string())
        .bind(ApprovalStatus::Pending.as_str())
        .execute(&mut **self.inner.pool()?)
        .await?;
        Ok(moved.rows_affected() == 1)
    }

    /// Sets a fiat account's review status, with no automatic review after.
    pub async fn set_fiat_account_status(
        &mut self,
        customer: Uuid,
        id: Uuid,
        status: DestinationStatus,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE fiat_accounts SET status = $1, approve_after = NULL, updated_at = $2 \
             WHERE customer_id = $3 AND id = $4",
        )
        .bind(status.as_str())
        .bind(now)
        .bind(customer.to_string())
        .bind(id.to_string())
        .execute(&mut **self.inner.pool()?)
        .await?;
        Ok(())
    }

    /// Sets a crypto address's review status.
    pub async fn set_crypto_address_status(
        &mut self,
        customer: Uuid,
        id: Uuid,
        status: DestinationStatus,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE crypto_addresses SET status = $1, updated_at = $2 WHERE customer_id = $3 AND id = $4",
        )
        .bind(status.as_str())
        .bind(now)
        .bind(customer.to_string())
        .bind(id.to_string())
        .execute(&mut **self.inner.pool()?)
        .await?;
        Ok(())
    }
}
