//! Fiat accounts and crypto destination addresses: where withdrawals go.
//! Every query filters on the customer id, so no customer ever reaches
//! another's destinations, even with a guessed id.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;
use stableport_domain::network::{CryptoNetwork, FiatNetwork};
use stableport_domain::DestinationStatus;
use uuid::Uuid;

use crate::model::{Order, Page, SortKey, TimeRange};
use crate::sql::{self, Sql, Val};
use crate::{Result, SqlStore, StoreError};

#[derive(Clone, Debug, PartialEq)]
pub struct FiatAccount {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub ref_id: Option<String>,
    pub identity_id: Option<String>,
    pub account_id: Option<String>,
    /// `fiat_account_owner` as JSON, in the form the API validated.
    pub owner: String,
    pub network: FiatNetwork,
    /// `fiat_network_instructions` as JSON, in the form the API validated.
    pub instructions: String,
    pub status: DestinationStatus,
    /// JSON object of strings.
    pub metadata: Option<String>,
    /// Sandbox: withdrawals to this account fail on purpose.
    pub fail_withdrawals: bool,
    pub deleted: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl FiatAccount {
    /// Whether money may be sent to it now.
    pub fn is_usable(&self) -> bool {
        !self.deleted && self.status == DestinationStatus::Approved
    }
}

#[derive(Clone, Debug)]
pub struct NewFiatAccount {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub ref_id: Option<String>,
    pub identity_id: Option<String>,
    pub account_id: Option<String>,
    pub owner: String,
    pub network: FiatNetwork,
    pub instructions: String,
    pub metadata: Option<String>,
    pub now: i64,
    pub review: Review,
}

/// How a new or changed account is reviewed: its status now, and when the
/// approver approves it (None: not automatically).
#[derive(Clone, Copy, Debug)]
pub struct Review {
    pub status: DestinationStatus,
    pub approve_after: Option<i64>,
}

/// What a PUT leaves in place of the owner, instructions and metadata it read.
#[derive(Clone, Debug)]
pub struct FiatAccountChange {
    pub owner: String,
    pub instructions: String,
    pub metadata: Option<String>,
    pub now: i64,
    /// A change is reviewed again.
    pub review: Review,
}

#[derive(Clone, Debug)]
pub enum FiatAccountCreated {
    Created(FiatAccount),
    RefIdExists(FiatAccount),
}

#[derive(Clone, Debug)]
pub struct FiatAccountFilter {
    pub ids: Vec<Uuid>,
    pub ref_ids: Vec<String>,
    pub created_at: TimeRange,
    pub include_deleted: bool,
    pub page: Page,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CryptoAddress {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub network: CryptoNetwork,
    /// Canonical form: EIP-55 on EVM networks, as given elsewhere.
    pub address: String,
    pub nickname: String,
    pub bookmarked: bool,
    /// `travelrule_metadata` as JSON, in the form the API validated.
    pub travelrule_metadata: Option<String>,
    /// APPROVED, or PENDING (then APPROVED or REJECTED) under an
    /// ADD_CRYPTO_ADDRESS approval policy.
    pub status: DestinationStatus,
    /// Sandbox: withdrawals to this address fail on purpose.
    pub fail_withdrawals: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An address to create, unless the customer already has it on its network.
#[derive(Clone, Debug)]
pub struct NewCryptoAddress {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub network: CryptoNetwork,
    pub address: String,
    /// Used only when the address is new and no nickname is given.
    pub default_nickname: String,
    pub now: i64,
}

/// The fields a PUT may change; None leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct CryptoAddressFields {
    pub nickname: Option<String>,
    pub bookmarked: Option<bool>,
    pub travelrule_metadata: Option<String>,
}

#[derive(Clone, Debug)]
pub struct CryptoAddressFilter {
    pub ids: Vec<Uuid>,
    pub networks: Vec<CryptoNetwork>,
    pub addresses: Vec<String>,
    pub nicknames: Vec<String>,
    pub bookmarked: Option<bool>,
    pub created_at: TimeRange,
    pub page: Page,
}

impl CryptoAddressFilter {
    /// The customer's entry for this address on this network, if any.
    pub fn matching(network: &str, address: &str) -> CryptoAddressFilter {
        CryptoAddressFilter {
            ids: Vec::new(),
            networks: network.parse().into_iter().collect(),
            addresses: vec![address.to_string()],
            nicknames: Vec::new(),
            bookmarked: None,
            created_at: TimeRange::default(),
            page: Page {
                order: Order::Asc,
                limit: 1,
                after: None,
                by: SortKey::CreatedAt,
            },
        }
    }
}

#[async_trait]
pub trait DestinationStore: Send + Sync {
    /// Creates the account, or returns the one that already holds its ref_id.
    /// The customer's account, deleted or not.
    async fn fiat_account(&self, customer: Uuid, id: Uuid) -> Result<Option<FiatAccount>>;
    async fn list_fiat_accounts(
        &self,
        customer: Uuid,
        filter: &FiatAccountFilter,
    ) -> Result<Vec<FiatAccount>>;
    /// Replaces what `previous` held, provided nobody changed it meanwhile:
    /// NotFound once deleted, Conflict when another change got there first.
    async fn update_fiat_account(
        &self,
        previous: &FiatAccount,
        change: &FiatAccountChange,
    ) -> Result<FiatAccount>;
    /// Marks the account deleted; NotFound when it is already.
    async fn delete_fiat_account(&self, customer: Uuid, id: Uuid, now: i64) -> Result<()>;
    /// Sandbox: sets the status (which stops any pending automatic approval)
    /// and whether withdrawals fail. NotFound for a deleted account.
    async fn sandbox_fiat_account(
        &self,
        customer: Uuid,
        id: Uuid,
        status: Option<DestinationStatus>,
        fail_withdrawals: Option<bool>,
        now: i64,
    ) -> Result<FiatAccount>;
    /// Approves up to `limit` PENDING accounts whose review time has come;
    /// returns how many. Safe to run on every replica at once.
    async fn approve_due_fiat_accounts(&self, now: i64, limit: i64) -> Result<usize>;

    /// Creates the address, or changes the given fields of the customer's
    /// existing one on the same network.
    async fn put_crypto_address(
        &self,
        new: &NewCryptoAddress,
        fields: &CryptoAddressFields,
    ) -> Result<CryptoAddress>;
    /// Changes the given fields of an existing address; NotFound otherwise.
    async fn update_crypto_address(
        &self,
        customer: Uuid,
        id: Uuid,
        fields: &CryptoAddressFields,
        now: i64,
    ) -> Result<CryptoAddress>;
    async fn crypto_address(&self, customer: Uuid, id: Uuid) -> Result<Option<CryptoAddress>>;
    async fn list_crypto_addresses(
        &self,
        customer: Uuid,
        filter: &CryptoAddressFilter,
    ) -> Result<Vec<CryptoAddress>>;
    /// Sandbox: whether withdrawals to the address fail.
    async fn sandbox_crypto_address(
        &self,
        customer: Uuid,
        id: Uuid,
        fail_withdrawals: bool,
        now: i64,
    ) -> Result<CryptoAddress>;
}

const FIAT_COLUMNS: &str = "id, customer_id, ref_id, identity_id, account_id, owner, network, \
     instructions, status, metadata, fail_withdrawals, created_at, updated_at, approve_after, deleted_at";

const CRYPTO_COLUMNS: &str = "id, customer_id, network, address, nickname, bookmarked, \
     travelrule_metadata, status, fail_withdrawals, created_at, updated_at";

const PENDING: &str = DestinationStatus::Pending.as_str();
const APPROVED: &str = DestinationStatus::Approved.as_str();

#[async_trait]
impl DestinationStore for SqlStore {
    async fn fiat_account(&self, customer: Uuid, id: Uuid) -> Result<Option<FiatAccount>> {
        let row = sqlx::query(&format!(
            "SELECT {FIAT_COLUMNS} FROM fiat_accounts WHERE customer_id = $1 AND id = $2"
        ))
        .bind(customer.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(fiat_account).transpose()
    }

    async fn list_fiat_accounts(
        &self,
        customer: Uuid,
        filter: &FiatAccountFilter,
    ) -> Result<Vec<FiatAccount>> {
        let mut q = Sql::new(&format!(
            "SELECT {FIAT_COLUMNS} FROM fiat_accounts WHERE customer_id = "
        ));
        q.bind(customer);
        if !filter.include_deleted {
            q.push(" AND deleted_at IS NULL");
        }
        q.any_of("id", &filter.ids);
        q.any_of("ref_id", &filter.ref_ids);
        q.time_range("created_at", &filter.created_at);
        q.page(&filter.page);
        let rows = q.query_on(self.sqlite()).fetch_all(&self.read).await?;
        rows.iter().map(fiat_account).collect()
    }

    async fn update_fiat_account(
        &self,
        previous: &FiatAccount,
        change: &FiatAccountChange,
    ) -> Result<FiatAccount> {
        let review = change.review;
        let (status, approve_after) = (review.status.as_str(), review.approve_after);
        // Compare-and-set on what the change was computed from, so that two
        // concurrent PUTs cannot silently undo each other's fields.
        let row = sqlx::query(&format!(
            "UPDATE fiat_accounts SET owner = $1, instructions = $2, metadata = $3, status = $4, \
             approve_after = $5, updated_at = $6 \
             WHERE customer_id = $7 AND id = $8 AND deleted_at IS NULL \
             AND owner = $9 AND instructions = $10 AND COALESCE(metadata, '') = $11 \
             RETURNING {FIAT_COLUMNS}"
        ))
        .bind(&change.owner)
        .bind(&change.instructions)
        .bind(change.metadata.clone())
        .bind(status)
        .bind(approve_after)
        .bind(change.now)
        .bind(previous.customer_id.to_string())
        .bind(previous.id.to_string())
        .bind(&previous.owner)
        .bind(&previous.instructions)
        .bind(previous.metadata.clone().unwrap_or_default())
        .fetch_optional(&self.write)
        .await?;
        if let Some(row) = row {
            return fiat_account(&row);
        }
        match self.fiat_account(previous.customer_id, previous.id).await? {
            Some(current) if !current.deleted => Err(StoreError::Conflict(format!(
                "fiat account {} was changed by another request meanwhile; read it again and retry",
                previous.id
            ))),
            _ => Err(StoreError::NotFound),
        }
    }

    async fn delete_fiat_account(&self, customer: Uuid, id: Uuid, now: i64) -> Result<()> {
        let deleted = sqlx::query(
            "UPDATE fiat_accounts SET deleted_at = $1, updated_at = $1, approve_after = NULL \
             WHERE customer_id = $2 AND id = $3 AND deleted_at IS NULL",
        )
        .bind(now)
        .bind(customer.to_string())
        .bind(id.to_string())
        .execute(&self.write)
        .await?
        .rows_affected();
        if deleted == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn sandbox_fiat_account(
        &self,
        customer: Uuid,
        id: Uuid,
        status: Option<DestinationStatus>,
        fail_withdrawals: Option<bool>,
        now: i64,
    ) -> Result<FiatAccount> {
        let mut q = Sql::new("UPDATE fiat_accounts SET updated_at = ");
        q.bind(now);
        if let Some(status) = status {
            q.push(", approve_after = NULL, status = ")
                .bind(status.as_str());
        }
        if let Some(fail) = fail_withdrawals {
            q.push(", fail_withdrawals = ").bind(i64::from(fail));
        }
        q.push(" WHERE customer_id = ")
            .bind(customer)
            .push(" AND id = ")
            .bind(id)
            .push(&format!(" AND deleted_at IS NULL RETURNING {FIAT_COLUMNS}"));
        let row = q
            .query_on(self.sqlite())
            .fetch_optional(&self.write)
            .await?;
        row.as_ref()
            .map(fiat_account)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    async fn approve_due_fiat_accounts(&self, now: i64, limit: i64) -> Result<usize> {
        // The status is inlined so the partial index on due rows serves it.
        let due_rows = format!(
            "FROM fiat_accounts WHERE status = '{PENDING}' AND approve_after <= $1 \
             AND deleted_at IS NULL"
        );
        // A cheap look on the read pool first: most ticks find nothing, and
        // must not queue for SQLite's single writer to learn that.
        let any_due: Option<String> = sqlx::query_scalar(&format!(
            "SELECT id {due_rows} ORDER BY approve_after LIMIT 1"
        ))
        .bind(now)
        .fetch_optional(&self.read)
        .await?;
        if any_due.is_none() {
            return Ok(0);
        }
        let mut tx = self.begin().await?;
        let due: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT id {due_rows} ORDER BY approve_after LIMIT $2{}",
            self.backend.claim_suffix()
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        if due.is_empty() {
            return Ok(0);
        }
        let mut q = Sql::new(&format!(
            "UPDATE fiat_accounts SET status = '{APPROVED}', approve_after = NULL, updated_at = "
        ));
        q.bind(now)
            .push(&format!(
                " WHERE status = '{PENDING}' AND approve_after <= "
            ))
            .bind(now);
        q.any_of("id", &due);
        let approved = q
            .query_on(self.sqlite())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(usize::try_from(approved).unwrap_or(usize::MAX))
    }

    async fn put_crypto_address(
        &self,
        new: &NewCryptoAddress,
        fields: &CryptoAddressFields,
    ) -> Result<CryptoAddress> {
        let mut tx = crate::Store::transaction(self).await?;
        let (address, _) = tx
            .put_crypto_address(new, fields, DestinationStatus::Approved)
            .await?;
        tx.commit().await?;
        Ok(address)
    }

    async fn update_crypto_address(
        &self,
        customer: Uuid,
        id: Uuid,
        fields: &CryptoAddressFields,
        now: i64,
    ) -> Result<CryptoAddress> {
        let mut q = Sql::new("UPDATE crypto_addresses SET ");
        set_fields(&mut q, fields, now);
        q.push(" WHERE customer_id = ")
            .bind(customer)
            .push(" AND id = ")
            .bind(id)
            .push(&format!(" RETURNING {CRYPTO_COLUMNS}"));
        let row = q
            .query_on(self.sqlite())
            .fetch_optional(&self.write)
            .await?;
        row.as_ref()
            .map(crypto_address)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    async fn crypto_address(&self, customer: Uuid, id: Uuid) -> Result<Option<CryptoAddress>> {
        let row = sqlx::query(&format!(
            "SELECT {CRYPTO_COLUMNS} FROM crypto_addresses WHERE customer_id = $1 AND id = $2"
        ))
        .bind(customer.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(crypto_address).transpose()
    }

    async fn list_crypto_addresses(
        &self,
        customer: Uuid,
        filter: &CryptoAddressFilter,
    ) -> Result<Vec<CryptoAddress>> {
        let mut q = Sql::new(&format!(
            "SELECT {CRYPTO_COLUMNS} FROM crypto_addresses WHERE customer_id = "
        ));
        q.bind(customer);
        q.any_of("id", &filter.ids);
        q.any_of(
            "network",
            &filter.networks.iter().map(|n| n.code()).collect::<Vec<_>>(),
        );
        q.any_of("address", &filter.addresses);
        q.any_of("nickname", &filter.nicknames);
        if let Some(bookmarked) = filter.bookmarked {
            q.push(" AND bookmarked = ").bind(i64::from(bookmarked));
        }
        q.time_range("created_at", &filter.created_at);
        q.page(&filter.page);
        let rows = q.query_on(self.sqlite()).fetch_all(&self.read).await?;
        rows.iter().map(crypto_address).collect()
    }

    async fn sandbox_crypto_address(
        &self,
        customer: Uuid,
        id: Uuid,
        fail_withdrawals: bool,
        now: i64,
    ) -> Result<CryptoAddress> {
        let row = sqlx::query(&format!(
            "UPDATE crypto_addresses SET fail_withdrawals = $1, updated_at = $2 \
             WHERE customer_id = $3 AND id = $4 RETURNING {CRYPTO_COLUMNS}"
        ))
        .bind(i64::from(fail_withdrawals))
        .bind(now)
        .bind(customer.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.write)
        .await?;
        row.as_ref()
            .map(crypto_address)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }
}

/// `updated_at` and whichever fields are given, for an UPDATE's SET.
fn set_fields(q: &mut Sql, fields: &CryptoAddressFields, now: i64) {
    q.push("updated_at = ").bind(now);
    if let Some(nickname) = &fields.nickname {
        q.push(", nickname = ").bind(nickname.as_str());
    }
    if let Some(bookmarked) = fields.bookmarked {
        q.push(", bookmarked = ").bind(i64::from(bookmarked));
    }
    if let Some(travelrule) = &fields.travelrule_metadata {
        q.push(", travelrule_metadata = ").bind(travelrule.as_str());
    }
}

fn flag(row: &AnyRow, column: &str) -> Result<bool> {
    Ok(row.try_get::<i64, _>(column)? != 0)
}

fn fiat_account(row: &AnyRow) -> Result<FiatAccount> {
    let network: String = row.try_get("network")?;
    let deleted_at: Option<i64> = row.try_get("deleted_at")?;
    Ok(FiatAccount {
        id: sql::uuid(row, "id")?,
        customer_id: sql::uuid(row, "customer_id")?,
        ref_id: row.try_get("ref_id")?,
        identity_id: row.try_get("identity_id")?,
        account_id: row.try_get("account_id")?,
        owner: row.try_get("owner")?,
        network: network
            .parse()
            .map_err(|e: stableport_domain::network::UnknownFiatNetwork| {
                StoreError::Corrupt(e.to_string())
            })?,
        instructions: row.try_get("instructions")?,
        status: destination_status(row)?,
        metadata: row.try_get("metadata")?,
        fail_withdrawals: flag(row, "fail_withdrawals")?,
        deleted: deleted_at.is_some(),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn crypto_address(row: &AnyRow) -> Result<CryptoAddress> {
    let network: String = row.try_get("network")?;
    Ok(CryptoAddress {
        id: sql::uuid(row, "id")?,
        customer_id: sql::uuid(row, "customer_id")?,
        network: network.parse().map_err(
            |e: stableport_domain::network::UnknownCryptoNetwork| {
                StoreError::Corrupt(e.to_string())
            },
        )?,
        address: row.try_get("address")?,
        nickname: row.try_get("nickname")?,
        bookmarked: flag(row, "bookmarked")?,
        travelrule_metadata: row.try_get("travelrule_metadata")?,
        status: destination_status(row)?,
        fail_withdrawals: flag(row, "fail_withdrawals")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn destination_status(row: &AnyRow) -> Result<DestinationStatus> {
    let status: String = row.try_get("status")?;
    DestinationStatus::parse(&status)
        .ok_or_else(|| StoreError::Corrupt(format!("destination status {status:?}")))
}

impl crate::Tx {
    /// Creates the account; the one holding the ref_id instead when it is
    /// taken, even by a concurrent request.
    pub async fn create_fiat_account(
        &mut self,
        new: &NewFiatAccount,
    ) -> Result<FiatAccountCreated> {
        let (status, approve_after) = (new.review.status.as_str(), new.review.approve_after);
        let mut q = Sql::new(&format!(
            "INSERT INTO fiat_accounts ({FIAT_COLUMNS}) VALUES "
        ));
        q.row(vec![
            new.id.into(),
            new.customer_id.into(),
            new.ref_id.clone().into(),
            new.identity_id.clone().into(),
            new.account_id.clone().into(),
            new.owner.as_str().into(),
            new.network.code().into(),
            new.instructions.as_str().into(),
            status.into(),
            new.metadata.clone().into(),
            Val::Int(0),
            new.now.into(),
            new.now.into(),
            approve_after.into(),
            Val::OptInt(None),
        ]);
        // A ref_id taken, even by a concurrent request, inserts nothing.
        q.push(&format!(
            " ON CONFLICT (customer_id, ref_id) DO NOTHING RETURNING {FIAT_COLUMNS}"
        ));
        if let Some(row) = q
            .query_on(self.sqlite())
            .fetch_optional(&mut **self.inner.pool()?)
            .await?
        {
            return Ok(FiatAccountCreated::Created(fiat_account(&row)?));
        }
        let existing = sqlx::query(&format!(
            "SELECT {FIAT_COLUMNS} FROM fiat_accounts WHERE customer_id = $1 AND ref_id = $2"
        ))
        .bind(new.customer_id.to_string())
        .bind(new.ref_id.clone())
        .fetch_one(&mut **self.inner.pool()?)
        .await?;
        Ok(FiatAccountCreated::RefIdExists(fiat_account(&existing)?))
    }

    /// Creates the address with `status`, or changes the given fields of
    /// the one the customer has there; the address, and whether it is new.
    pub async fn put_crypto_address(
        &mut self,
        new: &NewCryptoAddress,
        fields: &CryptoAddressFields,
        status: DestinationStatus,
    ) -> Result<(CryptoAddress, bool)> {
        let tx = self.inner.pool()?;
        let mut q = Sql::new(&format!(
            "INSERT INTO crypto_addresses ({CRYPTO_COLUMNS}) VALUES "
        ));
        q.row(vec![
            new.id.into(),
            new.customer_id.into(),
            new.network.code().into(),
            new.address.as_str().into(),
            fields
                .nickname
                .clone()
                .unwrap_or_else(|| new.default_nickname.clone())
                .into(),
            i64::from(fields.bookmarked.unwrap_or(false)).into(),
            fields.travelrule_metadata.clone().into(),
            status.as_str().into(),
            Val::Int(0),
            new.now.into(),
            new.now.into(),
        ]);
        q.push(" ON CONFLICT (customer_id, network, address) DO NOTHING");
        let created = q
            .query_on(sql::is_sqlite(tx))
            .execute(&mut **tx)
            .await?
            .rows_affected()
            == 1;
        if !created {
            let mut q = Sql::new("UPDATE crypto_addresses SET ");
            set_fields(&mut q, fields, new.now);
            q.push(" WHERE customer_id = ")
                .bind(new.customer_id)
                .push(" AND network = ")
                .bind(new.network.code())
                .push(" AND address = ")
                .bind(new.address.as_str());
            q.query_on(sql::is_sqlite(tx)).execute(&mut **tx).await?;
        }
        let row = sqlx::query(&format!(
            "SELECT {CRYPTO_COLUMNS} FROM crypto_addresses \
             WHERE customer_id = $1 AND network = $2 AND address = $3"
        ))
        .bind(new.customer_id.to_string())
        .bind(new.network.code())
        .bind(new.address.as_str())
        .fetch_one(&mut **tx)
        .await?;
        Ok((crypto_address(&row)?, created))
    }
}
