//! Orchestrations and the transfers they (and every other movement) leave.
//!
//! An orchestration is created PROCESSING with its source already debited
//! into an in-flight account, then a worker delivers it in one durable step:
//! COMPLETED with the destination credited, or FAILED with the source
//! refunded. Every step is a guarded status transition committed with its
//! postings, transfers and event, so it happens exactly once across replicas.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use stableport_domain::orchestration::OrchestrationStatus;
use stableport_domain::TransferStatus;
use uuid::Uuid;

use crate::conn::tx_rows;
use crate::model::*;
use crate::sql::{self, parse_uuid, Columns, Sql, Val, TRANSFER_COLUMNS};
use crate::{Result, SqlStore, StoreError, Tx};

#[async_trait]
pub trait OrchestrationStore: Send + Sync {
    async fn orchestration(&self, customer: Uuid, id: Uuid) -> Result<Option<Orchestration>>;
    async fn orchestration_by_ref(
        &self,
        customer: Uuid,
        ref_id: &str,
    ) -> Result<Option<Orchestration>>;
    async fn list_orchestrations(
        &self,
        customer: Uuid,
        filter: &OrchestrationFilter,
    ) -> Result<Vec<Orchestration>>;
    /// Whether any PROCESSING orchestration is due, read without a lock.
    async fn orchestrations_due(&self, now: i64) -> Result<bool>;
    async fn transfer(&self, customer: Uuid, id: Uuid) -> Result<Option<Transfer>>;
    async fn list_transfers(
        &self,
        customer: Uuid,
        filter: &TransferFilter,
    ) -> Result<Vec<Transfer>>;
}

const COLUMNS: &str = "id, customer_id, profile_id, identity_id, account_id, ref_id, source_asset, \
     destination_asset, source_amount, source_units, destination_units, destination_kind, destination_id, \
     destination_memo, destination_address, destination_network, status, fail_reason, orchestration_rule_id, \
     source_transfer_id, destination_transfer_id, metadata, created_at, updated_at";

/// COLUMNS and next_step_at with their types, for a recordset.
const RECORD: &str = "id text, customer_id text, profile_id text, identity_id text, account_id text, \
     ref_id text, source_asset text, destination_asset text, source_amount text, source_units bigint, \
     destination_units bigint, destination_kind text, destination_id text, destination_memo text, \
     destination_address text, destination_network text, status text, fail_reason text, \
     orchestration_rule_id text, source_transfer_id text, destination_transfer_id text, metadata text, \
     created_at bigint, updated_at bigint, next_step_at bigint";

fn select() -> String {
    format!("{} WHERE customer_id = ", select_from())
}

/// Orchestrations with their legs' statuses, before any condition.
fn select_from() -> String {
    format!(
        "SELECT {COLUMNS}, \
         (SELECT t.status FROM transfers t WHERE t.id = o.source_transfer_id) AS source_transfer_status, \
         (SELECT t.status FROM transfers t WHERE t.id = o.destination_transfer_id) AS destination_transfer_status \
         FROM orchestrations o"
    )
}

/// The customer's orchestration with this ref_id.
fn by_ref_sql(customer: Uuid, ref_id: &str) -> Sql {
    let mut q = Sql::new(&select());
    q.bind(customer).push(" AND ref_id = ").bind(ref_id);
    q
}

/// The destination columns shared by orchestrations and rules.
pub(crate) fn decode_destination<R: Columns>(row: &R) -> Result<Destination> {
    let text = |c: &str| row.value::<String>(c);
    let opt = |c: &str| row.value::<Option<String>>(c);
    let destination_id = parse_uuid(&text("destination_id")?, "destination_id")?;
    let destination = match text("destination_kind")?.as_str() {
        "PROFILE" => Destination::Profile(destination_id),
        "FIAT" => Destination::Fiat {
            bank_account_id: destination_id,
            memo: opt("destination_memo")?,
            network: opt("destination_network")?.unwrap_or_default(),
        },
        _ => Destination::Crypto {
            address_id: destination_id,
            address: opt("destination_address")?.unwrap_or_default(),
            network: opt("destination_network")?
                .unwrap_or_default()
                .parse()
                .map_err(|_| StoreError::Corrupt("destination_network".into()))?,
        },
    };
    Ok(destination)
}

fn decode<R: Columns>(row: &R) -> Result<Orchestration> {
    let text = |c: &str| row.value::<String>(c);
    let opt = |c: &str| row.value::<Option<String>>(c);
    let destination = decode_destination(row)?;
    let status = text("status")?;
    Ok(Orchestration {
        id: parse_uuid(&text("id")?, "id")?,
        customer_id: parse_uuid(&text("customer_id")?, "customer_id")?,
        profile_id: parse_uuid(&text("profile_id")?, "profile_id")?,
        identity_id: text("identity_id")?,
        account_id: text("account_id")?,
        ref_id: text("ref_id")?,
        source_asset: sql::asset(row, "source_asset")?,
        destination_asset: sql::asset(row, "destination_asset")?,
        source_amount: text("source_amount")?,
        source_units: row.value("source_units")?,
        destination_units: row.value("destination_units")?,
        destination,
        status: OrchestrationStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(status.clone()))?,
        fail_reason: opt("fail_reason")?,
        rule_id: opt("orchestration_rule_id")?
            .map(|r| parse_uuid(&r, "orchestration_rule_id"))
            .transpose()?,
        source_transfer: TransferRef {
            id: parse_uuid(&text("source_transfer_id")?, "source_transfer_id")?,
            status: opt("source_transfer_status")?.unwrap_or_default(),
        },
        destination_transfer: TransferRef {
            id: parse_uuid(&text("destination_transfer_id")?, "destination_transfer_id")?,
            status: opt("destination_transfer_status")?.unwrap_or_default(),
        },
        metadata: opt("metadata")?,
        created_at: row.value("created_at")?,
        updated_at: row.value("updated_at")?,
    })
}

/// The stored form of a destination: kind, id, memo, address, network.
pub(crate) fn destination_values(d: &Destination) -> [Val; 5] {
    match d {
        Destination::Profile(id) => [
            "PROFILE".into(),
            (*id).into(),
            None::<String>.into(),
            None::<String>.into(),
            None::<String>.into(),
        ],
        Destination::Fiat {
            bank_account_id,
            memo,
            network,
        } => [
            "FIAT".into(),
            (*bank_account_id).into(),
            memo.clone().into(),
            None::<String>.into(),
            Some(network.clone()).into(),
        ],
        Destination::Crypto {
            address_id,
            address,
            network,
        } => [
            "CRYPTO".into(),
            (*address_id).into(),
            None::<String>.into(),
            Some(address.clone()).into(),
            Some(network.code().to_string()).into(),
        ],
    }
}

/// The ids of an orchestration's two legs: source, then destination.
pub type Legs = (Uuid, Uuid);

/// Due work's statements inline the status: only then may the partial
/// index on due rows (`WHERE status = 'PROCESSING'`) serve them.
pub(crate) fn claim_due(backend: crate::Backend, now: i64, limit: i64) -> Sql {
    let mut q = Sql::new(&format!(
        "SELECT customer_id, id FROM orchestrations WHERE status = '{}' AND next_step_at <= ",
        OrchestrationStatus::Processing.as_str(),
    ));
    q.bind(now)
        .push(" ORDER BY next_step_at LIMIT ")
        .bind(limit);
    q.push(backend.claim_suffix());
    q
}

/// Ordered, like every due check, so the partial index serves it on any
/// statistics (see `transfers::due_sql`).
pub(crate) fn due_sql() -> String {
    format!(
        "SELECT 1 FROM orchestrations WHERE status = '{}' AND next_step_at <= $1 \
         ORDER BY next_step_at LIMIT 1",
        OrchestrationStatus::Processing.as_str()
    )
}

/// A new orchestration's row, in COLUMNS order plus next_step_at.
fn new_values(o: &NewOrchestration, (source, destination): Legs) -> Vec<Val> {
    let mut values: Vec<Val> = vec![
        o.id.into(),
        o.customer_id.into(),
        o.profile_id.into(),
        o.identity_id.clone().into(),
        o.account_id.clone().into(),
        o.ref_id.clone().into(),
        o.source_asset.code().into(),
        o.destination_asset.code().into(),
        o.source_amount.clone().into(),
        o.source_units.into(),
        o.destination_units.into(),
    ];
    values.extend(destination_values(&o.destination));
    values.extend([
        OrchestrationStatus::Processing.as_str().into(),
        None::<String>.into(),
        o.rule_id.map(|r| r.to_string()).into(),
        source.into(),
        destination.into(),
        o.metadata.clone().into(),
        o.now.into(),
        o.now.into(),
        o.next_step_at.into(),
    ]);
    values
}

impl Tx {
    pub async fn orchestration(
        &mut self,
        customer: Uuid,
        id: Uuid,
    ) -> Result<Option<Orchestration>> {
        let mut q = Sql::new(&select());
        q.bind(customer).push(" AND id = ").bind(id);
        let row = q
            .query_on(self.sqlite())
            .fetch_optional(&mut **self.inner.pool()?)
            .await?;
        row.as_ref().map(decode).transpose()
    }

    /// The customer's orchestration with this ref_id, as this transaction sees it.
    pub async fn orchestration_by_ref(
        &mut self,
        customer: Uuid,
        ref_id: &str,
    ) -> Result<Option<Orchestration>> {
        let q = by_ref_sql(customer, ref_id);
        Ok(tx_rows!(&mut self.inner, q, decode)?.pop())
    }

    /// Stored orchestrations with these (customer, ref_id) keys, by key.
    pub async fn orchestrations_by_refs(
        &mut self,
        keys: &[(Uuid, &str)],
    ) -> Result<HashMap<(Uuid, String), Orchestration>> {
        let mut found = HashMap::new();
        for condition in sql::refs_in(self.sqlite(), keys) {
            let mut q = Sql::new(select().trim_end_matches("customer_id = "));
            q.append(condition);
            for o in tx_rows!(&mut self.inner, q, decode)? {
                found.insert((o.customer_id, o.ref_id.clone()), o);
            }
        }
        Ok(found)
    }

    /// Inserts new PROCESSING orchestrations with their legs' transfer ids;
    /// one whose ref_id is taken is skipped. Returns the ids inserted.
    pub async fn insert_orchestrations(
        &mut self,
        new: &[(&NewOrchestration, Legs)],
    ) -> Result<HashSet<Uuid>> {
        let mut inserted = HashSet::new();
        let rows = new.iter().map(|(o, legs)| new_values(o, *legs)).collect();
        let statements = sql::inserts(self.sqlite(), "orchestrations", RECORD, rows);
        for mut q in statements {
            q.push(" ON CONFLICT (customer_id, ref_id) DO NOTHING RETURNING id");
            inserted.extend(tx_rows!(&mut self.inner, q, sql::id)?);
        }
        Ok(inserted)
    }

    /// Claims up to `limit` PROCESSING orchestrations due by `now`; other
    /// replicas skip the rows claimed.
    pub async fn claim_due_orchestrations(
        &mut self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<Orchestration>> {
        let due = claim_due(self.backend, now, limit);
        let ids = tx_rows!(&mut self.inner, due, sql::id)?;
        // The claimed rows in one read, then back in claim (due) order.
        let mut claimed = Vec::with_capacity(ids.len());
        let select = || Sql::new(&format!("{} WHERE 1 = 1", select_from()));
        for q in sql::for_ids(self.sqlite(), &ids, "id", select, "") {
            claimed.extend(tx_rows!(&mut self.inner, q, decode)?);
        }
        let order: HashMap<Uuid, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        claimed.sort_by_key(|o: &Orchestration| order.get(&o.id).copied());
        Ok(claimed)
    }

    /// Moves PROCESSING orchestrations to `to` in one statement per run;
    /// the ids that were PROCESSING (and so moved).
    pub async fn move_orchestrations(
        &mut self,
        ids: &[Uuid],
        to: OrchestrationStatus,
        now: i64,
    ) -> Result<Vec<Uuid>> {
        let statement = || {
            let mut q = Sql::new("UPDATE orchestrations SET status = ");
            q.bind(to.as_str())
                .push(", fail_reason = NULL, next_step_at = NULL, updated_at = ")
                .bind(now)
                .push(" WHERE status = ")
                .bind(OrchestrationStatus::Processing.as_str());
            q
        };
        let mut moved = Vec::with_capacity(ids.len());
        for q in sql::for_ids(self.sqlite(), ids, "id", statement, " RETURNING id") {
            moved.extend(tx_rows!(&mut self.inner, q, sql::id)?);
        }
        Ok(moved)
    }

    /// Moves a PROCESSING orchestration to `to`; false when it was not.
    pub async fn move_orchestration(
        &mut self,
        id: Uuid,
        to: OrchestrationStatus,
        fail_reason: Option<&str>,
        now: i64,
    ) -> Result<bool> {
        let mut q = Sql::new("UPDATE orchestrations SET status = ");
        q.bind(to.as_str())
            .push(", fail_reason = ")
            .bind(fail_reason.map(str::to_string))
            .push(", updated_at = ")
            .bind(now)
            .push(", next_step_at = NULL WHERE id = ")
            .bind(id)
            .push(" AND status = ")
            .bind(OrchestrationStatus::Processing.as_str());
        Ok(self.inner.execute(q, true).await? == 1)
    }

    /// Makes a PROCESSING orchestration due at `at`.
    pub async fn schedule_orchestration(&mut self, id: Uuid, at: i64) -> Result<()> {
        let mut q = Sql::new("UPDATE orchestrations SET next_step_at = ");
        q.bind(at).push(" WHERE id = ").bind(id);
        q.push(" AND status = ")
            .bind(OrchestrationStatus::Processing.as_str());
        self.inner.execute(q, true).await?;
        Ok(())
    }

    /// Sets a transfer's status (and chain hash); the transfer as it now reads.
    pub async fn set_transfer_status(
        &mut self,
        id: Uuid,
        status: TransferStatus,
        crypto_tx_hash: Option<String>,
        now: i64,
    ) -> Result<Option<Transfer>> {
        let mut q = Sql::new("UPDATE transfers SET status = ");
        q.bind(status.as_str()).push(", updated_at = ").bind(now);
        q.push(", crypto_tx_hash = ").bind(crypto_tx_hash);
        q.push(" WHERE id = ").bind(id);
        q.push(&format!(" RETURNING {TRANSFER_COLUMNS}"));
        Ok(tx_rows!(&mut self.inner, q, sql::transfer)?.pop())
    }

    /// Sets the status of these transfers, one statement per run; the
    /// transfers as changed.
    pub async fn set_transfers_status(
        &mut self,
        ids: &[Uuid],
        status: TransferStatus,
        now: i64,
    ) -> Result<Vec<Transfer>> {
        let statement = || {
            let mut q = Sql::new("UPDATE transfers SET status = ");
            q.bind(status.as_str())
                .push(", updated_at = ")
                .bind(now)
                .push(" WHERE 1 = 1");
            q
        };
        let returning = format!(" RETURNING {TRANSFER_COLUMNS}");
        let mut changed = Vec::with_capacity(ids.len());
        for q in sql::for_ids(self.sqlite(), ids, "id", statement, &returning) {
            changed.extend(tx_rows!(&mut self.inner, q, sql::transfer)?);
        }
        Ok(changed)
    }
}

#[async_trait]
impl OrchestrationStore for SqlStore {
    async fn orchestration_by_ref(
        &self,
        customer: Uuid,
        ref_id: &str,
    ) -> Result<Option<Orchestration>> {
        read_row!(self, by_ref_sql(customer, ref_id), decode)
    }

    async fn orchestration(&self, customer: Uuid, id: Uuid) -> Result<Option<Orchestration>> {
        let mut q = Sql::new(&select());
        q.bind(customer).push(" AND id = ").bind(id);
        read_row!(self, q, decode)
    }

    async fn list_orchestrations(
        &self,
        customer: Uuid,
        f: &OrchestrationFilter,
    ) -> Result<Vec<Orchestration>> {
        let mut q = Sql::new(&select());
        q.bind(customer)
            .any_of("id", &f.ids)
            .any_of("profile_id", &f.profile_ids)
            .any_of("orchestration_rule_id", &f.rule_ids)
            .any_of("source_asset", &f.source_assets)
            .any_of("destination_asset", &f.destination_assets)
            .any_of("status", &f.statuses)
            .time_range("created_at", &f.created_at)
            .page(&f.page);
        read_rows!(self, q, decode)
    }

    async fn orchestrations_due(&self, now: i64) -> Result<bool> {
        let found: Option<i64> = sqlx::query_scalar(&due_sql())
            .bind(now)
            .fetch_optional(&self.read)
            .await?;
        Ok(found.is_some())
    }

    async fn transfer(&self, customer: Uuid, id: Uuid) -> Result<Option<Transfer>> {
        let mut q = Sql::new(&format!(
            "SELECT {TRANSFER_COLUMNS} FROM transfers WHERE customer_id = "
        ));
        q.bind(customer).push(" AND id = ").bind(id);
        read_row!(self, q, sql::transfer)
    }

    async fn list_transfers(&self, customer: Uuid, f: &TransferFilter) -> Result<Vec<Transfer>> {
        let mut q = Sql::new(&format!(
            "SELECT {TRANSFER_COLUMNS} FROM transfers WHERE customer_id = "
        ));
        q.bind(customer)
            .any_of("id", &f.ids)
            .any_of("profile_id", &f.profile_ids)
            .any_of("identity_id", &f.identity_ids)
            .any_of("account_id", &f.account_ids)
            .any_of("ref_id", &f.ref_ids)
            .any_of("group_id", &f.group_ids)
            .any_of("crypto_tx_hash", &f.crypto_tx_hashes)
            .any_of("type", &f.types)
            .any_of("status", &f.statuses)
            .time_range("created_at", &f.created_at)
            .time_range("updated_at", &f.updated_at)
            .page(&f.page);
        read_rows!(self, q, sql::transfer)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_record_names_the_columns_inserted() {
        let inserted = format!("{}, next_step_at", super::COLUMNS);
        assert_eq!(crate::sql::record_names(super::RECORD), inserted);
    }
}
