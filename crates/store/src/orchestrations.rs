//! Orchestrations and the transfers they (and every other movement) leave.
//!
//! An orchestration is created PROCESSING with its source already debited
//! into an in-flight account, then a worker delivers it in one durable step:
//! COMPLETED with the destination credited, or FAILED with the source
//! refunded. Every step is a guarded status transition committed with its
//! postings, transfers and event, so it happens exactly once across replicas.

use async_trait::async_trait;
use sqlx::{Any, Row, Transaction};
use stableport_domain::address::tx_hash;
use stableport_domain::orchestration::OrchestrationStatus;
use stableport_domain::{ledger, Account, Asset};
use uuid::Uuid;

use crate::batch::{apply_balances, debit_each, lock_balances, LedgerRows, Refused};
use crate::model::*;
use crate::sql::{self, parse_uuid, Sql, Val, TRANSFER_COLUMNS};
use crate::{DestinationStore, Result, SqlStore, StoreError};

#[async_trait]
pub trait OrchestrationStore: Send + Sync {
    /// Creates orchestrations in one transaction (group commit); each gets
    /// its own outcome.
    async fn create_orchestrations(
        &self,
        batch: &[NewOrchestration],
    ) -> Result<Vec<OrchestrationOutcome>>;
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
    /// Delivers up to `limit` orchestrations whose time has come; returns how many finished.
    async fn advance_orchestrations(&self, now: i64, limit: i64) -> Result<usize>;
    /// Sandbox: lets a PROCESSING orchestration held for manual release go now.
    async fn release_orchestration(
        &self,
        customer: Uuid,
        id: Uuid,
        now: i64,
    ) -> Result<Orchestration>;
    async fn transfer(&self, customer: Uuid, id: Uuid) -> Result<Option<Transfer>>;
    async fn list_transfers(
        &self,
        customer: Uuid,
        filter: &TransferFilter,
    ) -> Result<Vec<Transfer>>;
}

/// What starting an orchestration inside a transaction came to.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Started {
    Created(Orchestration),
    /// The source profile cannot cover it.
    Insufficient,
    RefIdTaken,
}

const COLUMNS: &str = "id, customer_id, profile_id, identity_id, account_id, ref_id, source_asset, \
     destination_asset, source_amount, source_units, destination_units, destination_kind, destination_id, \
     destination_memo, destination_address, destination_network, status, fail_reason, orchestration_rule_id, \
     source_transfer_id, destination_transfer_id, metadata, created_at, updated_at";

fn select() -> String {
    format!(
        "SELECT {COLUMNS}, \
         (SELECT t.status FROM transfers t WHERE t.id = o.source_transfer_id) AS source_transfer_status, \
         (SELECT t.status FROM transfers t WHERE t.id = o.destination_transfer_id) AS destination_transfer_status \
         FROM orchestrations o WHERE customer_id = "
    )
}

/// The profile balances a delivery may change: the destination's credit and
/// the source's refund.
fn balance_keys(o: &Orchestration) -> Vec<(Uuid, Asset)> {
    let mut keys = vec![(o.profile_id, o.source_asset)];
    if let Destination::Profile(p) = o.destination {
        keys.push((p, o.destination_asset));
    }
    keys
}

/// The customer's orchestration with this ref_id, as this transaction sees it.
async fn by_ref(
    tx: &mut Transaction<'static, Any>,
    customer: Uuid,
    ref_id: &str,
) -> Result<Option<Orchestration>> {
    let mut q = Sql::new(&select());
    q.bind(customer).push(" AND ref_id = ").bind(ref_id);
    let row = q.query().fetch_optional(&mut **tx).await?;
    row.as_ref().map(decode).transpose()
}

/// Stored orchestrations with these (customer, ref_id) keys, by key. (Two
/// requests of one batch with one key share an answer: the first is taken.)
async fn by_refs(
    tx: &mut Transaction<'static, Any>,
    keys: &[(Uuid, &str)],
) -> Result<std::collections::HashMap<(Uuid, String), Orchestration>> {
    let mut found = std::collections::HashMap::new();
    let sqlite = crate::sql::is_sqlite(tx);
    for run in crate::sql::runs(keys) {
        let mut q = Sql::new(select().trim_end_matches("customer_id = "));
        q.push("(customer_id, ref_id) IN (").pairs(run).push(")");
        for row in q.query_on(sqlite).fetch_all(&mut **tx).await? {
            let o = decode(&row)?;
            found.insert((o.customer_id, o.ref_id.clone()), o);
        }
    }
    Ok(found)
}

/// The destination columns shared by orchestrations and rules.
pub(crate) fn decode_destination(row: &sqlx::any::AnyRow) -> Result<Destination> {
    let text = |c: &str| -> Result<String> { Ok(row.try_get::<String, _>(c)?) };
    let opt = |c: &str| -> Result<Option<String>> { Ok(row.try_get::<Option<String>, _>(c)?) };
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

fn decode(row: &sqlx::any::AnyRow) -> Result<Orchestration> {
    let text = |c: &str| -> Result<String> { Ok(row.try_get::<String, _>(c)?) };
    let opt = |c: &str| -> Result<Option<String>> { Ok(row.try_get::<Option<String>, _>(c)?) };
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
        source_units: row.try_get("source_units")?,
        destination_units: row.try_get("destination_units")?,
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
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
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

/// The transfer that delivers an orchestration, PENDING until it completes.
fn destination_transfer(o: &NewOrchestration, id: Uuid) -> Transfer {
    let mut t = Transfer::completed(
        o.customer_id,
        o.profile_id,
        "INTERNAL_TRANSFER_CREDIT",
        o.destination_asset,
        o.destination_units,
        o.id,
        o.now,
    );
    t.id = id;
    t.status = "PENDING";
    t.identity_id = Some(o.identity_id.clone());
    t.account_id = Some(o.account_id.clone());
    match &o.destination {
        Destination::Profile(profile) => t.profile_id = *profile,
        Destination::Fiat {
            bank_account_id,
            memo,
            network,
        } => {
            t.kind = if network == "CUBIX" {
                "CUBIX_WITHDRAWAL"
            } else {
                "WIRE_WITHDRAWAL"
            };
            t.direction = "DEBIT";
            t.fiat_account_id = Some(bank_account_id.to_string());
            t.memo = memo.clone();
        }
        Destination::Crypto {
            address, network, ..
        } => {
            t.kind = "CRYPTO_WITHDRAWAL";
            t.direction = "DEBIT";
            t.destination_address = Some(address.clone());
            t.crypto_network = Some(network.code().to_string());
        }
    }
    t
}

fn event_payload(o: &Orchestration, status: OrchestrationStatus) -> String {
    crate::events::orchestration_object(o.id, &o.ref_id, o.rule_id, status.as_str())
}

/// The ids of an orchestration's two legs: source, then destination.
type Legs = (Uuid, Uuid);

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
        "PROCESSING".into(),
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

/// What starting writes besides the row: both legs, the entry, the event.
fn starting_rows(rows: &mut LedgerRows, o: &NewOrchestration, (source_id, destination_id): Legs) {
    let postings = ledger::orchestration_started(o.profile_id, o.source_asset, o.source_units);
    let mut source = Transfer::completed(
        o.customer_id,
        o.profile_id,
        "INTERNAL_TRANSFER_DEBIT",
        o.source_asset,
        o.source_units,
        o.id,
        o.now,
    );
    source.id = source_id;
    source.identity_id = Some(o.identity_id.clone());
    source.account_id = Some(o.account_id.clone());
    source.ref_id = Some(o.ref_id.clone());
    rows.transfer(source);
    rows.transfer(destination_transfer(o, destination_id));
    rows.entry(
        o.customer_id,
        "orchestration.processing",
        o.id,
        postings,
        o.now,
    );
    let payload = crate::events::orchestration_object(o.id, &o.ref_id, o.rule_id, "PROCESSING");
    rows.event(
        o.customer_id,
        "orchestration.processing",
        o.id,
        payload,
        o.now,
    );
}

/// An orchestration as it reads right after it started.
fn processing(o: &NewOrchestration, (source, destination): Legs) -> Orchestration {
    Orchestration {
        id: o.id,
        customer_id: o.customer_id,
        profile_id: o.profile_id,
        identity_id: o.identity_id.clone(),
        account_id: o.account_id.clone(),
        ref_id: o.ref_id.clone(),
        source_asset: o.source_asset,
        destination_asset: o.destination_asset,
        source_amount: o.source_amount.clone(),
        source_units: o.source_units,
        destination_units: o.destination_units,
        destination: o.destination.clone(),
        status: OrchestrationStatus::Processing,
        fail_reason: None,
        rule_id: o.rule_id,
        source_transfer: TransferRef {
            id: source,
            status: "COMPLETED".into(),
        },
        destination_transfer: TransferRef {
            id: destination,
            status: "PENDING".into(),
        },
        metadata: o.metadata.clone(),
        created_at: o.now,
        updated_at: o.now,
    }
}

impl SqlStore {
    async fn orchestration_in(
        tx: &mut Transaction<'static, Any>,
        customer: Uuid,
        id: Uuid,
    ) -> Result<Option<Orchestration>> {
        let mut q = Sql::new(&select());
        q.bind(customer).push(" AND id = ").bind(id);
        let row = q.query().fetch_optional(&mut **tx).await?;
        row.as_ref().map(decode).transpose()
    }

    /// Starts an orchestration inside `tx`: the debit, its row, both legs,
    /// the journal entry and the event. Nothing is committed here.
    pub(crate) async fn start_orchestration(
        tx: &mut Transaction<'static, Any>,
        o: &NewOrchestration,
    ) -> Result<Started> {
        let postings = ledger::orchestration_started(o.profile_id, o.source_asset, o.source_units);
        if let Err(Refused::Insufficient { .. }) = apply_balances(tx, &postings).await? {
            return Ok(Started::Insufficient);
        }
        let legs = (stableport_domain::new_id(), stableport_domain::new_id());
        let mut q = Sql::new(&format!(
            "INSERT INTO orchestrations ({COLUMNS}, next_step_at) VALUES "
        ));
        q.row(new_values(o, legs))
            .push(" ON CONFLICT (customer_id, ref_id) DO NOTHING RETURNING id");
        if q.query().fetch_optional(&mut **tx).await?.is_none() {
            return Ok(Started::RefIdTaken);
        }
        let mut rows = LedgerRows::default();
        starting_rows(&mut rows, o, legs);
        rows.insert(tx).await?;
        Ok(Started::Created(processing(o, legs)))
    }

    /// Why delivery must fail, if it must: the destination's state decides.
    async fn delivery_blocker(&self, o: &Orchestration) -> Result<Option<String>> {
        Ok(match &o.destination {
            Destination::Profile(_) => None,
            Destination::Fiat {
                bank_account_id, ..
            } => match self.fiat_account(o.customer_id, *bank_account_id).await? {
                None => Some(format!("fiat account {bank_account_id} no longer exists")),
                Some(a) if a.deleted => Some(format!("fiat account {bank_account_id} was deleted")),
                Some(a) if a.status != "APPROVED" => {
                    Some(format!("fiat account {bank_account_id} is {}", a.status))
                }
                Some(a) if a.fail_withdrawals => Some(format!(
                    "the bank returned the withdrawal to fiat account {bank_account_id}"
                )),
                Some(_) => None,
            },
            Destination::Crypto {
                address_id,
                address,
                network,
            } => match self.crypto_address(o.customer_id, *address_id).await? {
                None => Some(format!(
                    "crypto destination address {address_id} no longer exists"
                )),
                Some(a) if a.fail_withdrawals => {
                    Some(format!("the {network} transaction to {address} failed"))
                }
                Some(_) => None,
            },
        })
    }

    /// One delivery: COMPLETED, or FAILED with the source refunded.
    async fn deliver(
        tx: &mut Transaction<'static, Any>,
        rows: &mut LedgerRows,
        o: &Orchestration,
        blocker: Option<String>,
        now: i64,
    ) -> Result<bool> {
        let to = match &o.destination {
            Destination::Profile(p) => Account::Profile(*p),
            Destination::Fiat { .. } => Account::Bank("WIRE"),
            Destination::Crypto { network, .. } => Account::Chain(*network),
        };
        let mut outcome = blocker;
        let mut postings = Vec::new();
        if outcome.is_none() {
            postings = ledger::orchestration_completed(
                o.source_asset,
                o.source_units,
                o.destination_asset,
                o.destination_units,
                to,
            );
            if let Err(Refused::Limit) | Err(Refused::Insufficient { .. }) =
                apply_balances(tx, &postings).await?
            {
                outcome = Some("the destination profile's balance would exceed its maximum".into());
            }
        }
        let (status, transfer_status, kind) = match &outcome {
            None => (
                OrchestrationStatus::Completed,
                "COMPLETED",
                "orchestration.completed",
            ),
            Some(_) => (
                OrchestrationStatus::Failed,
                "FAILED",
                "orchestration.failed",
            ),
        };
        let moved = sqlx::query(
            "UPDATE orchestrations SET status = $1, fail_reason = $2, updated_at = $3, next_step_at = NULL \
             WHERE id = $4 AND status = 'PROCESSING'",
        )
        .bind(status.as_str())
        .bind(outcome.clone())
        .bind(now)
        .bind(o.id.to_string())
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if moved == 0 {
            return Ok(false);
        }
        if outcome.is_some() {
            postings = ledger::orchestration_failed(o.profile_id, o.source_asset, o.source_units);
            apply_balances(tx, &postings)
                .await?
                .map_err(|_| StoreError::BalanceLimit)?;
            let mut refund = Transfer::completed(
                o.customer_id,
                o.profile_id,
                "INTERNAL_TRANSFER_CREDIT",
                o.source_asset,
                o.source_units,
                o.id,
                now,
            );
            refund.identity_id = Some(o.identity_id.clone());
            refund.account_id = Some(o.account_id.clone());
            rows.transfer(refund);
        }
        let hash = match &o.destination {
            Destination::Crypto { network, .. } if outcome.is_none() => {
                Some(tx_hash(*network, o.id.as_bytes()))
            }
            _ => None,
        };
        let changed = sqlx::query(&format!(
            "UPDATE transfers SET status = $1, updated_at = $2, crypto_tx_hash = $3 WHERE id = $4 \
             RETURNING {TRANSFER_COLUMNS}"
        ))
        .bind(transfer_status)
        .bind(now)
        .bind(hash)
        .bind(o.destination_transfer.id.to_string())
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(row) = changed {
            rows.transfer_changed(&sql::transfer(&row)?);
        }
        rows.entry(o.customer_id, kind, o.id, postings, now);
        rows.event(o.customer_id, kind, o.id, event_payload(o, status), now);
        Ok(true)
    }
}

#[async_trait]
impl OrchestrationStore for SqlStore {
    async fn create_orchestrations(
        &self,
        batch: &[NewOrchestration],
    ) -> Result<Vec<OrchestrationOutcome>> {
        let mut tx = self.begin().await?;
        let sqlite = crate::sql::is_sqlite(&tx);
        let mut outcomes: Vec<Option<OrchestrationOutcome>> = vec![None; batch.len()];

        // 0. Retries of stored ones are answered first, before any lock is
        // taken: a retry never debits, nor waits on a row a delivery holds.
        let keys: Vec<(Uuid, &str)> = batch
            .iter()
            .map(|o| (o.customer_id, o.ref_id.as_str()))
            .collect();
        let mut stored = by_refs(&mut tx, &keys).await?;
        let mut fresh = Vec::with_capacity(batch.len());
        for (i, o) in batch.iter().enumerate() {
            match stored.remove(&(o.customer_id, o.ref_id.clone())) {
                Some(existing) => outcomes[i] = Some(OrchestrationOutcome::RefIdExists(existing)),
                None => fresh.push(i),
            }
        }

        // 1. Debit each source, checked in the database.
        let debits: Vec<_> = fresh
            .iter()
            .map(|&i| {
                (
                    batch[i].profile_id,
                    batch[i].source_asset,
                    batch[i].source_units,
                )
            })
            .collect();
        let mut debited = Vec::with_capacity(batch.len());
        let mut short = Vec::new();
        let results = debit_each(&mut tx, &debits).await?;
        for (&i, result) in fresh.iter().zip(results) {
            match result {
                Ok(()) => debited.push(i),
                Err(available) => short.push((i, available)),
            }
        }

        // 2. Insert the debited ones; a ref_id already taken is skipped.
        let legs: Vec<Legs> = batch
            .iter()
            .map(|_| (stableport_domain::new_id(), stableport_domain::new_id()))
            .collect();
        let mut inserted = std::collections::HashSet::new();
        for run in crate::sql::runs(&debited) {
            let mut q = Sql::new(&format!(
                "INSERT INTO orchestrations ({COLUMNS}, next_step_at) VALUES "
            ));
            for (n, &i) in run.iter().enumerate() {
                if n > 0 {
                    q.push(", ");
                }
                q.row(new_values(&batch[i], legs[i]));
            }
            q.push(" ON CONFLICT (customer_id, ref_id) DO NOTHING RETURNING id");
            for row in q.query_on(sqlite).fetch_all(&mut *tx).await? {
                inserted.insert(row.try_get::<String, _>("id")?);
            }
        }

        // A short one that repeats a stored ref_id (committed before, by a
        // racing transaction this debit waited for, or above in this batch)
        // is a 409 with it, whatever the balance.
        for (i, available) in short {
            let o = &batch[i];
            outcomes[i] = Some(match by_ref(&mut tx, o.customer_id, &o.ref_id).await? {
                Some(existing) => OrchestrationOutcome::RefIdExists(existing),
                None => OrchestrationOutcome::InsufficientFunds { available },
            });
        }

        // 3. Legs, entries and events of the started ones; refund the repeats.
        let mut rows = LedgerRows::default();
        let mut taken = Vec::new();
        for i in debited {
            let o = &batch[i];
            if inserted.contains(&o.id.to_string()) {
                starting_rows(&mut rows, o, legs[i]);
                outcomes[i] = Some(OrchestrationOutcome::Created(processing(o, legs[i])));
                continue;
            }
            let refund = ledger::orchestration_failed(o.profile_id, o.source_asset, o.source_units);
            apply_balances(&mut tx, &refund)
                .await?
                .map_err(|_| StoreError::BalanceLimit)?;
            taken.push(i);
        }
        rows.insert(&mut tx).await?;
        for i in taken {
            let (customer, ref_id) = (batch[i].customer_id, batch[i].ref_id.as_str());
            let existing = by_ref(&mut tx, customer, ref_id)
                .await?
                .ok_or_else(|| StoreError::Corrupt(format!("orchestration {ref_id:?} vanished")))?;
            outcomes[i] = Some(OrchestrationOutcome::RefIdExists(existing));
        }
        tx.commit().await?;
        Ok(outcomes
            .into_iter()
            .map(|o| o.expect("every request has an outcome"))
            .collect())
    }

    async fn orchestration_by_ref(
        &self,
        customer: Uuid,
        ref_id: &str,
    ) -> Result<Option<Orchestration>> {
        let mut tx = self.read.begin().await?;
        by_ref(&mut tx, customer, ref_id).await
    }

    async fn orchestration(&self, customer: Uuid, id: Uuid) -> Result<Option<Orchestration>> {
        let mut q = Sql::new(&select());
        q.bind(customer).push(" AND id = ").bind(id);
        let row = q.query().fetch_optional(&self.read).await?;
        row.as_ref().map(decode).transpose()
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
        let rows = q.query().fetch_all(&self.read).await?;
        rows.iter().map(decode).collect()
    }

    async fn advance_orchestrations(&self, now: i64, limit: i64) -> Result<usize> {
        if !self
            .any_due(
                "orchestrations",
                "status = 'PROCESSING' AND next_step_at",
                now,
            )
            .await?
        {
            return Ok(0);
        }
        let mut tx = self.begin().await?;
        let due: Vec<(String, String)> = sqlx::query_as(&format!(
            "SELECT customer_id, id FROM orchestrations WHERE status = 'PROCESSING' AND next_step_at <= $1 \
             ORDER BY next_step_at LIMIT $2{}",
            self.backend.claim_suffix()
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let mut batch = Vec::with_capacity(due.len());
        for (customer, id) in due {
            let (customer, id) = (
                parse_uuid(&customer, "customer_id")?,
                parse_uuid(&id, "id")?,
            );
            if let Some(o) = Self::orchestration_in(&mut tx, customer, id).await? {
                batch.push(o);
            }
        }
        // Every balance these deliveries may touch (credits, refunds), locked
        // in the global order first: one delivery after another would take
        // them in claim order, and deadlock with a create taking them sorted.
        lock_balances(&mut tx, batch.iter().flat_map(balance_keys)).await?;
        let mut rows = LedgerRows::default();
        let mut finished = 0;
        for o in batch {
            let blocker = self.delivery_blocker(&o).await?;
            if Self::deliver(&mut tx, &mut rows, &o, blocker, now).await? {
                finished += 1;
            }
        }
        rows.insert(&mut tx).await?;
        tx.commit().await?;
        Ok(finished)
    }

    async fn release_orchestration(
        &self,
        customer: Uuid,
        id: Uuid,
        now: i64,
    ) -> Result<Orchestration> {
        let mut tx = self.begin().await?;
        let current = Self::orchestration_in(&mut tx, customer, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        if current.status != OrchestrationStatus::Processing {
            return Err(StoreError::NotPending(current.status.to_string()));
        }
        sqlx::query(
            "UPDATE orchestrations SET next_step_at = $1 WHERE id = $2 AND status = 'PROCESSING'",
        )
        .bind(now)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(current)
    }

    async fn transfer(&self, customer: Uuid, id: Uuid) -> Result<Option<Transfer>> {
        let row = sqlx::query(&format!(
            "SELECT {TRANSFER_COLUMNS} FROM transfers WHERE customer_id = $1 AND id = $2"
        ))
        .bind(customer.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(sql::transfer).transpose()
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
        let rows = q.query().fetch_all(&self.read).await?;
        rows.iter().map(sql::transfer).collect()
    }
}
