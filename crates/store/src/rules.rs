//! Orchestration rules, deposit addresses, fiat deposit instructions, and
//! the record that each deposit (per chain transaction or wire reference)
//! is credited once.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};
use stableport_domain::network::{CryptoNetwork, FiatNetwork};
use stableport_domain::{Asset, RuleStatus};
use uuid::Uuid;

use crate::model::*;
use crate::orchestrations::{decode_destination, destination_values};
use crate::sql::{self, opt_uuid, parse_uuid, Sql, Val};
use crate::{Result, SqlStore, StoreError, Tx};

#[derive(Clone, Debug)]
pub struct DepositAddress {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub profile_id: Uuid,
    pub identity_id: Option<String>,
    pub account_id: Option<String>,
    pub ref_id: Option<String>,
    pub network: CryptoNetwork,
    pub address: String,
    /// NO_CONVERSION, or USD: stablecoin deposits are converted to USD.
    pub conversion_target_asset: String,
    pub metadata: Option<String>,
    pub rule_id: Option<Uuid>,
    pub created_at: i64,
}

#[derive(Clone, Debug)]
pub struct DepositInstructions {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub profile_id: Uuid,
    pub identity_id: Option<String>,
    pub account_id: Option<String>,
    pub ref_id: Option<String>,
    pub network: FiatNetwork,
    pub routing_number_type: Option<String>,
    pub memo_id: String,
    pub status: String,
    pub metadata: Option<String>,
    pub rule_id: Option<Uuid>,
    pub created_at: i64,
}

/// Where a rule's deposits arrive, with what was generated for it.
#[derive(Clone, Debug)]
pub enum RuleSource {
    Crypto(DepositAddress),
    Fiat(DepositInstructions),
}

#[derive(Clone, Debug)]
pub struct Rule {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub profile_id: Uuid,
    pub identity_id: Option<String>,
    pub account_id: Option<String>,
    pub ref_id: String,
    pub nickname: Option<String>,
    pub status: RuleStatus,
    pub source_asset: Asset,
    pub destination_asset: Asset,
    pub source: RuleSource,
    pub destination: Destination,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A create with a client ref_id: the new row, or the one stored before.
#[derive(Clone, Debug)]
pub enum Inserted<T> {
    Created(T),
    RefIdExists(T),
}

#[derive(Clone, Debug)]
pub struct RuleFilter {
    pub profile_id: Option<Uuid>,
    pub statuses: Vec<String>,
    pub source_asset: Option<String>,
    pub destination_asset: Option<String>,
    pub ids: Vec<Uuid>,
    pub page: Page,
}

/// Filters shared by the deposit address and instruction lists.
#[derive(Clone, Debug)]
pub struct DepositTargetFilter {
    pub ids: Vec<String>,
    pub profile_ids: Vec<String>,
    pub identity_ids: Vec<String>,
    pub account_ids: Vec<String>,
    pub ref_ids: Vec<String>,
    pub created_at: TimeRange,
    pub page: Page,
}

#[async_trait]
pub trait RuleStore: Send + Sync {
    /// Stores a rule with its generated deposit address or instructions.
    async fn rule(&self, customer: Uuid, id: Uuid) -> Result<Option<Rule>>;
    async fn list_rules(&self, customer: Uuid, filter: &RuleFilter) -> Result<Vec<Rule>>;
    async fn create_deposit_address(
        &self,
        address: &DepositAddress,
    ) -> Result<Inserted<DepositAddress>>;
    async fn list_deposit_addresses(
        &self,
        customer: Uuid,
        filter: &DepositTargetFilter,
    ) -> Result<Vec<DepositAddress>>;
    /// The customer's deposit address `address` on `network`, if it is one.
    async fn deposit_address_at(
        &self,
        customer: Uuid,
        network: CryptoNetwork,
        address: &str,
    ) -> Result<Option<DepositAddress>>;
    async fn create_deposit_instructions(
        &self,
        i: &DepositInstructions,
    ) -> Result<Inserted<DepositInstructions>>;
    async fn deposit_instructions(
        &self,
        customer: Uuid,
        id: Uuid,
    ) -> Result<Option<DepositInstructions>>;
    async fn list_deposit_instructions(
        &self,
        customer: Uuid,
        filter: &DepositTargetFilter,
    ) -> Result<Vec<DepositInstructions>>;
}

const ADDRESS_COLUMNS: &str =
    "id, customer_id, profile_id, identity_id, account_id, ref_id, crypto_network, \
     address, conversion_target_asset, metadata, rule_id, created_at";
const INSTRUCTION_COLUMNS: &str =
    "id, customer_id, profile_id, identity_id, account_id, ref_id, fiat_network, \
     routing_number_type, memo_id, status, metadata, rule_id, created_at";
const RULE_COLUMNS: &str = "id, customer_id, profile_id, identity_id, account_id, ref_id, nickname, status, \
     source_asset, destination_asset, source_kind, source_network, source_account_type, source_id, \
     destination_kind, destination_id, destination_memo, destination_address, destination_network, created_at, \
     updated_at";

fn address_row(row: &AnyRow) -> Result<DepositAddress> {
    let network: String = row.try_get("crypto_network")?;
    Ok(DepositAddress {
        id: parse_uuid(&row.try_get::<String, _>("id")?, "id")?,
        customer_id: parse_uuid(&row.try_get::<String, _>("customer_id")?, "customer_id")?,
        profile_id: parse_uuid(&row.try_get::<String, _>("profile_id")?, "profile_id")?,
        identity_id: row.try_get("identity_id")?,
        account_id: row.try_get("account_id")?,
        ref_id: row.try_get("ref_id")?,
        network: network
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("network {network:?}")))?,
        address: row.try_get("address")?,
        conversion_target_asset: row.try_get("conversion_target_asset")?,
        metadata: row.try_get("metadata")?,
        rule_id: opt_uuid(row, "rule_id")?,
        created_at: row.try_get("created_at")?,
    })
}

fn instructions_row(row: &AnyRow) -> Result<DepositInstructions> {
    let network: String = row.try_get("fiat_network")?;
    Ok(DepositInstructions {
        id: parse_uuid(&row.try_get::<String, _>("id")?, "id")?,
        customer_id: parse_uuid(&row.try_get::<String, _>("customer_id")?, "customer_id")?,
        profile_id: parse_uuid(&row.try_get::<String, _>("profile_id")?, "profile_id")?,
        identity_id: row.try_get("identity_id")?,
        account_id: row.try_get("account_id")?,
        ref_id: row.try_get("ref_id")?,
        network: network
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("fiat network {network:?}")))?,
        routing_number_type: row.try_get("routing_number_type")?,
        memo_id: row.try_get("memo_id")?,
        status: row.try_get("status")?,
        metadata: row.try_get("metadata")?,
        rule_id: opt_uuid(row, "rule_id")?,
        created_at: row.try_get("created_at")?,
    })
}

fn address_values(a: &DepositAddress) -> Vec<Val> {
    vec![
        a.id.into(),
        a.customer_id.into(),
        a.profile_id.into(),
        a.identity_id.clone().into(),
        a.account_id.clone().into(),
        a.ref_id.clone().into(),
        a.network.code().into(),
        a.address.clone().into(),
        a.conversion_target_asset.clone().into(),
        a.metadata.clone().into(),
        a.rule_id.map(|r| r.to_string()).into(),
        a.created_at.into(),
    ]
}

fn instruction_values(i: &DepositInstructions) -> Vec<Val> {
    vec![
        i.id.into(),
        i.customer_id.into(),
        i.profile_id.into(),
        i.identity_id.clone().into(),
        i.account_id.clone().into(),
        i.ref_id.clone().into(),
        i.network.code().into(),
        i.routing_number_type.clone().into(),
        i.memo_id.clone().into(),
        i.status.clone().into(),
        i.metadata.clone().into(),
        i.rule_id.map(|r| r.to_string()).into(),
        i.created_at.into(),
    ]
}

/// Inserts unless the customer's ref_id is taken; true when inserted.
async fn insert_once(
    tx: &mut Transaction<'static, Any>,
    table: &str,
    columns: &str,
    values: Vec<Val>,
) -> Result<bool> {
    let mut q = Sql::new(&format!("INSERT INTO {table} ({columns}) VALUES "));
    q.row(values)
        .push(" ON CONFLICT (customer_id, ref_id) DO NOTHING RETURNING id");
    Ok(q.query_on(sql::is_sqlite(tx))
        .fetch_optional(&mut **tx)
        .await?
        .is_some())
}

async fn address_where(
    tx: &mut Transaction<'static, Any>,
    customer: Uuid,
    conditions: &[(&str, Val)],
) -> Result<Option<DepositAddress>> {
    let mut q = Sql::new(&format!(
        "SELECT {ADDRESS_COLUMNS} FROM deposit_addresses WHERE customer_id = "
    ));
    q.bind(customer);
    for (column, value) in conditions {
        q.push(&format!(" AND {column} = ")).bind(value.clone());
    }
    q.query_on(sql::is_sqlite(tx))
        .fetch_optional(&mut **tx)
        .await?
        .as_ref()
        .map(address_row)
        .transpose()
}

async fn instructions_where(
    tx: &mut Transaction<'static, Any>,
    customer: Uuid,
    conditions: &[(&str, Val)],
) -> Result<Option<DepositInstructions>> {
    let mut q = Sql::new(&format!(
        "SELECT {INSTRUCTION_COLUMNS} FROM fiat_deposit_instructions WHERE customer_id = "
    ));
    q.bind(customer);
    for (column, value) in conditions {
        q.push(&format!(" AND {column} = ")).bind(value.clone());
    }
    q.query_on(sql::is_sqlite(tx))
        .fetch_optional(&mut **tx)
        .await?
        .as_ref()
        .map(instructions_row)
        .transpose()
}

/// The list query deposit addresses and fiat deposit instructions share.
fn target_query(columns: &str, table: &str, customer: Uuid, f: &DepositTargetFilter) -> Sql {
    let mut q = Sql::new(&format!(
        "SELECT {columns} FROM {table} WHERE customer_id = "
    ));
    q.bind(customer)
        .any_of("id", &f.ids)
        .any_of("profile_id", &f.profile_ids)
        .any_of("identity_id", &f.identity_ids)
        .any_of("account_id", &f.account_ids)
        .any_of("ref_id", &f.ref_ids)
        .time_range("created_at", &f.created_at)
        .page(&f.page);
    q
}

impl SqlStore {
    async fn rule_in(
        tx: &mut Transaction<'static, Any>,
        customer: Uuid,
        id: Uuid,
    ) -> Result<Option<Rule>> {
        let row = sqlx::query(&format!(
            "SELECT {RULE_COLUMNS} FROM orchestration_rules WHERE customer_id = $1 AND id = $2"
        ))
        .bind(customer.to_string())
        .bind(id.to_string())
        .fetch_optional(&mut **tx)
        .await?;
        match row {
            Some(row) => Ok(Some(Self::rule_row(tx, &row).await?)),
            None => Ok(None),
        }
    }

    /// A rule row with its deposit address or instructions.
    async fn rule_row(tx: &mut Transaction<'static, Any>, row: &AnyRow) -> Result<Rule> {
        let customer = parse_uuid(&row.try_get::<String, _>("customer_id")?, "customer_id")?;
        let source_id: String = row.try_get("source_id")?;
        let kind: String = row.try_get("source_kind")?;
        let source = if kind == "CRYPTO" {
            let a = address_where(tx, customer, &[("id", source_id.as_str().into())]).await?;
            RuleSource::Crypto(
                a.ok_or_else(|| StoreError::Corrupt(format!("rule source {source_id} missing")))?,
            )
        } else {
            let i = instructions_where(tx, customer, &[("id", source_id.as_str().into())]).await?;
            RuleSource::Fiat(
                i.ok_or_else(|| StoreError::Corrupt(format!("rule source {source_id} missing")))?,
            )
        };
        Ok(Rule {
            id: parse_uuid(&row.try_get::<String, _>("id")?, "id")?,
            customer_id: customer,
            profile_id: parse_uuid(&row.try_get::<String, _>("profile_id")?, "profile_id")?,
            identity_id: row.try_get("identity_id")?,
            account_id: row.try_get("account_id")?,
            ref_id: row.try_get("ref_id")?,
            nickname: row.try_get("nickname")?,
            status: {
                let status: String = row.try_get("status")?;
                RuleStatus::parse(&status)
                    .ok_or_else(|| StoreError::Corrupt(format!("rule status {status:?}")))?
            },
            source_asset: sql::asset(row, "source_asset")?,
            destination_asset: sql::asset(row, "destination_asset")?,
            source,
            destination: decode_destination(row)?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

#[async_trait]
impl RuleStore for SqlStore {
    async fn rule(&self, customer: Uuid, id: Uuid) -> Result<Option<Rule>> {
        let mut tx = self.read.begin().await?;
        Self::rule_in(&mut tx, customer, id).await
    }

    async fn list_rules(&self, customer: Uuid, f: &RuleFilter) -> Result<Vec<Rule>> {
        let mut q = Sql::new(&format!(
            "SELECT {RULE_COLUMNS} FROM orchestration_rules WHERE customer_id = "
        ));
        q.bind(customer)
            .any_of("id", &f.ids)
            .any_of("status", &f.statuses);
        if let Some(profile) = f.profile_id {
            q.push(" AND profile_id = ").bind(profile);
        }
        if let Some(asset) = &f.source_asset {
            q.push(" AND source_asset = ").bind(asset.as_str());
        }
        if let Some(asset) = &f.destination_asset {
            q.push(" AND destination_asset = ").bind(asset.as_str());
        }
        q.page(&f.page);
        let mut tx = self.read.begin().await?;
        let rows = q.query_on(self.sqlite()).fetch_all(&mut *tx).await?;
        let mut rules = Vec::with_capacity(rows.len());
        for row in &rows {
            rules.push(Self::rule_row(&mut tx, row).await?);
        }
        Ok(rules)
    }

    async fn create_deposit_address(&self, a: &DepositAddress) -> Result<Inserted<DepositAddress>> {
        let mut tx = self.begin().await?;
        if insert_once(
            &mut tx,
            "deposit_addresses",
            ADDRESS_COLUMNS,
            address_values(a),
        )
        .await?
        {
            tx.commit().await?;
            return Ok(Inserted::Created(a.clone()));
        }
        let existing = address_where(
            &mut tx,
            a.customer_id,
            &[("ref_id", a.ref_id.clone().into())],
        )
        .await?;
        tx.rollback().await?;
        Ok(Inserted::RefIdExists(existing.ok_or(StoreError::NotFound)?))
    }

    async fn list_deposit_addresses(
        &self,
        customer: Uuid,
        f: &DepositTargetFilter,
    ) -> Result<Vec<DepositAddress>> {
        target_query(ADDRESS_COLUMNS, "deposit_addresses", customer, f)
            .query_on(self.sqlite())
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(address_row)
            .collect()
    }

    async fn deposit_address_at(
        &self,
        customer: Uuid,
        network: CryptoNetwork,
        address: &str,
    ) -> Result<Option<DepositAddress>> {
        let mut tx = self.read.begin().await?;
        let conditions = [
            ("crypto_network", Val::from(network.code().to_string())),
            ("address", Val::from(address.to_string())),
        ];
        address_where(&mut tx, customer, &conditions).await
    }

    async fn create_deposit_instructions(
        &self,
        i: &DepositInstructions,
    ) -> Result<Inserted<DepositInstructions>> {
        let mut tx = self.begin().await?;
        if insert_once(
            &mut tx,
            "fiat_deposit_instructions",
            INSTRUCTION_COLUMNS,
            instruction_values(i),
        )
        .await?
        {
            tx.commit().await?;
            return Ok(Inserted::Created(i.clone()));
        }
        let existing = instructions_where(
            &mut tx,
            i.customer_id,
            &[("ref_id", i.ref_id.clone().into())],
        )
        .await?;
        tx.rollback().await?;
        Ok(Inserted::RefIdExists(existing.ok_or(StoreError::NotFound)?))
    }

    async fn deposit_instructions(
        &self,
        customer: Uuid,
        id: Uuid,
    ) -> Result<Option<DepositInstructions>> {
        let mut tx = self.read.begin().await?;
        instructions_where(&mut tx, customer, &[("id", id.into())]).await
    }

    async fn list_deposit_instructions(
        &self,
        customer: Uuid,
        f: &DepositTargetFilter,
    ) -> Result<Vec<DepositInstructions>> {
        target_query(
            INSTRUCTION_COLUMNS,
            "fiat_deposit_instructions",
            customer,
            f,
        )
        .query_on(self.sqlite())
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(instructions_row)
        .collect()
    }
}

/// A deposit's record: credited once per `dedupe_key`.
#[derive(Clone, Debug)]
pub struct DepositRecord {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub dedupe_key: String,
    pub transfer_id: Uuid,
    pub orchestration_id: Option<Uuid>,
    pub now: i64,
}

impl Tx {
    /// The customer's deposit address `address` on `network`.
    pub async fn deposit_address_at(
        &mut self,
        customer: Uuid,
        network: CryptoNetwork,
        address: &str,
    ) -> Result<Option<DepositAddress>> {
        let at = [
            ("crypto_network", network.code().into()),
            ("address", address.into()),
        ];
        address_where(self.inner.pool()?, customer, &at).await
    }

    /// The customer's fiat deposit instructions with this memo.
    pub async fn instructions_by_memo(
        &mut self,
        customer: Uuid,
        memo_id: &str,
    ) -> Result<Option<DepositInstructions>> {
        instructions_where(self.inner.pool()?, customer, &[("memo_id", memo_id.into())]).await
    }

    pub async fn rule(&mut self, customer: Uuid, id: Uuid) -> Result<Option<Rule>> {
        SqlStore::rule_in(self.inner.pool()?, customer, id).await
    }

    /// Records a deposit; false when its dedupe key was recorded before.
    pub async fn insert_deposit(&mut self, d: &DepositRecord) -> Result<bool> {
        let inserted = sqlx::query(
            "INSERT INTO deposits (id, customer_id, dedupe_key, transfer_id, orchestration_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
        )
        .bind(d.id.to_string())
        .bind(d.customer_id.to_string())
        .bind(d.dedupe_key.as_str())
        .bind(d.transfer_id.to_string())
        .bind(d.orchestration_id.map(|o| o.to_string()))
        .bind(d.now)
        .fetch_optional(&mut **self.inner.pool()?)
        .await?;
        Ok(inserted.is_some())
    }

    /// The transfer and orchestration recorded for this dedupe key.
    pub async fn deposit_by_key(&mut self, key: &str) -> Result<Option<(Uuid, Option<Uuid>)>> {
        let row: Option<(String, Option<String>)> = sqlx::query_as(
            "SELECT transfer_id, orchestration_id FROM deposits WHERE dedupe_key = $1",
        )
        .bind(key)
        .fetch_optional(&mut **self.inner.pool()?)
        .await?;
        let Some((transfer, orchestration)) = row else {
            return Ok(None);
        };
        let orchestration = orchestration.map(|o| parse_uuid(&o, "orchestration_id"));
        Ok(Some((
            parse_uuid(&transfer, "transfer_id")?,
            orchestration.transpose()?,
        )))
    }
}

/// Inserts the rule and its generated source; the rule holding the ref_id
/// instead when it is taken (read in the same transaction).
async fn insert_rule(tx: &mut Transaction<'static, Any>, rule: &Rule) -> Result<Inserted<Rule>> {
    let (kind, network, account_type, source_id) = match &rule.source {
        RuleSource::Crypto(a) => ("CRYPTO", a.network.code(), None, a.id),
        RuleSource::Fiat(i) => (
            "FIAT",
            i.network.code(),
            i.routing_number_type.clone(),
            i.id,
        ),
    };
    let mut values: Vec<Val> = vec![
        rule.id.into(),
        rule.customer_id.into(),
        rule.profile_id.into(),
        rule.identity_id.clone().into(),
        rule.account_id.clone().into(),
        rule.ref_id.clone().into(),
        rule.nickname.clone().into(),
        rule.status.as_str().into(),
        rule.source_asset.code().into(),
        rule.destination_asset.code().into(),
        kind.into(),
        network.into(),
        account_type.into(),
        source_id.into(),
    ];
    values.extend(destination_values(&rule.destination));
    values.extend([rule.created_at.into(), rule.updated_at.into()]);
    if !insert_once(tx, "orchestration_rules", RULE_COLUMNS, values).await? {
        let row = sqlx::query(&format!(
            "SELECT {RULE_COLUMNS} FROM orchestration_rules WHERE customer_id = $1 AND ref_id = $2"
        ))
        .bind(rule.customer_id.to_string())
        .bind(rule.ref_id.clone())
        .fetch_one(&mut **tx)
        .await?;
        return Ok(Inserted::RefIdExists(SqlStore::rule_row(tx, &row).await?));
    }
    // The generated source has no ref_id of its own: it is the rule's.
    match &rule.source {
        RuleSource::Crypto(a) => {
            let mut q = Sql::new(&format!(
                "INSERT INTO deposit_addresses ({ADDRESS_COLUMNS}) VALUES "
            ));
            q.row(address_values(a))
                .query_on(sql::is_sqlite(tx))
                .execute(&mut **tx)
                .await?;
        }
        RuleSource::Fiat(i) => {
            let mut q = Sql::new(&format!(
                "INSERT INTO fiat_deposit_instructions ({INSTRUCTION_COLUMNS}) VALUES "
            ));
            q.row(instruction_values(i))
                .query_on(sql::is_sqlite(tx))
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(Inserted::Created(rule.clone()))
}

impl crate::Tx {
    /// Creates the rule in this transaction.
    pub async fn create_rule(&mut self, rule: &Rule) -> Result<Inserted<Rule>> {
        insert_rule(self.inner.pool()?, rule).await
    }

    /// Moves a rule from one status to another; false when it was not in `from`.
    pub async fn move_rule(
        &mut self,
        customer: Uuid,
        id: Uuid,
        (from, to): (RuleStatus, RuleStatus),
        now: i64,
    ) -> Result<bool> {
        let moved = sqlx::query(
            "UPDATE orchestration_rules SET status = $1, updated_at = $2 \
             WHERE customer_id = $3 AND id = $4 AND status = $5",
        )
        .bind(to.as_str())
        .bind(now)
        .bind(customer.to_string())
        .bind(id.to_string())
        .bind(from.as_str())
        .execute(&mut **self.inner.pool()?)
        .await?;
        Ok(moved.rows_affected() == 1)
    }
}
