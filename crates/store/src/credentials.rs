//! API credentials: a customer's OAuth2 clients, their hashed secrets and
//! scopes, and whether they were deleted (DISABLED).

use async_trait::async_trait;
use sqlx::Row;
use uuid::Uuid;

use crate::acting::CHANNEL;
use crate::model::{Credential, Page};
use crate::sql::{self, Sql};
use crate::{Backend, Result, SqlStore};

/// Who a credential acts for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Acting {
    /// None: the customer itself (a machine credential).
    pub user_id: Option<Uuid>,
}

#[derive(Clone, Debug)]
pub struct CredentialFilter {
    /// APPROVED ones, DISABLED ones, or both.
    pub approved: bool,
    pub disabled: bool,
    pub client_ids: Vec<String>,
    pub page: Page,
}

#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// Creates the credential, or replaces the secret and scopes of an
    /// existing one (enabling it again).
    async fn upsert_credential(&self, credential: &Credential) -> Result<()>;
    async fn credential(&self, client_id: &str) -> Result<Option<Credential>>;
    async fn list_credentials(
        &self,
        customer: Uuid,
        filter: &CredentialFilter,
    ) -> Result<Vec<Credential>>;
    /// Who a token of this client acts for, while it may still be honoured
    /// (the credential enabled, its user too): asked on every request, so a
    /// deletion holds at once on every replica. None when refused.
    async fn credential_acting(&self, client_id: &str) -> Result<Option<Acting>>;
}

const COLUMNS: &str =
    "client_id, customer_id, secret_salt, secret_hash, scopes, created_at, updated_at, \
     disabled_at, user_id";

fn decode(row: &sqlx::any::AnyRow) -> Result<Credential> {
    let created_at: i64 = row.try_get("created_at")?;
    Ok(Credential {
        client_id: row.try_get("client_id")?,
        customer_id: sql::uuid(row, "customer_id")?,
        secret_salt: row.try_get("secret_salt")?,
        secret_hash: row.try_get("secret_hash")?,
        scopes: row.try_get("scopes")?,
        created_at,
        updated_at: row
            .try_get::<Option<i64>, _>("updated_at")?
            .unwrap_or(created_at),
        disabled: row.try_get::<Option<i64>, _>("disabled_at")?.is_some(),
        user_id: sql::opt_uuid(row, "user_id")?,
    })
}

/// Stores `c`, replacing (and re-enabling) one with its client_id.
pub(crate) async fn upsert(conn: &mut sqlx::AnyConnection, c: &Credential) -> Result<()> {
    sqlx::query(
        "INSERT INTO credentials (client_id, customer_id, secret_salt, secret_hash, scopes, created_at, updated_at, user_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $6, $7) ON CONFLICT (client_id) DO UPDATE SET \
         customer_id = excluded.customer_id, secret_salt = excluded.secret_salt, \
         secret_hash = excluded.secret_hash, scopes = excluded.scopes, \
         updated_at = excluded.updated_at, disabled_at = NULL, user_id = excluded.user_id",
    )
    .bind(&c.client_id)
    .bind(c.customer_id.to_string())
    .bind(&c.secret_salt)
    .bind(&c.secret_hash)
    .bind(&c.scopes)
    .bind(c.created_at)
    .bind(c.user_id.map(|u| u.to_string()))
    .execute(conn)
    .await?;
    Ok(())
}

#[async_trait]
impl CredentialStore for SqlStore {
    async fn upsert_credential(&self, c: &Credential) -> Result<()> {
        upsert(&mut *self.write.acquire().await?, c).await?;
        self.credentials_changed().await
    }

    async fn credential(&self, client_id: &str) -> Result<Option<Credential>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM credentials WHERE client_id = $1"
        ))
        .bind(client_id)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(decode).transpose()
    }

    async fn list_credentials(
        &self,
        customer: Uuid,
        f: &CredentialFilter,
    ) -> Result<Vec<Credential>> {
        let mut q = Sql::new(&format!(
            "SELECT {COLUMNS} FROM credentials WHERE customer_id = "
        ));
        q.bind(customer);
        match (f.approved, f.disabled) {
            (true, false) => q.push(" AND disabled_at IS NULL"),
            (false, true) => q.push(" AND disabled_at IS NOT NULL"),
            _ => &mut q,
        };
        q.any_of("client_id", &f.client_ids)
            .page_on(&f.page, "client_id");
        let rows = q.query_on(self.sqlite()).fetch_all(&self.read).await?;
        rows.iter().map(decode).collect()
    }

    async fn credential_acting(&self, client_id: &str) -> Result<Option<Acting>> {
        let (remembered, epoch) = self.remembered.get(client_id);
        if let Some(acting) = remembered {
            return Ok(acting);
        }
        let acting = self.acting_now(client_id).await?;
        if let Some(epoch) = epoch {
            self.remembered.remember(client_id, acting, epoch);
        }
        Ok(acting)
    }
}

impl SqlStore {
    /// Who the client acts for, asked of the database.
    async fn acting_now(&self, client_id: &str) -> Result<Option<Acting>> {
        let row = sqlx::query(
            "SELECT c.user_id FROM credentials c LEFT JOIN users u ON u.id = c.user_id \
             WHERE c.client_id = $1 AND c.disabled_at IS NULL AND u.disabled_at IS NULL",
        )
        .bind(client_id)
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| {
            Ok(Acting {
                user_id: sql::opt_uuid(&r, "user_id")?,
            })
        })
        .transpose()
    }

    /// After a committed change to credentials or users: forgets who
    /// clients act for, here and on every server (PostgreSQL: NOTIFY).
    pub(crate) async fn credentials_changed(&self) -> Result<()> {
        self.credentials_changed_in(&self.write).await?;
        self.remembered.changed();
        Ok(())
    }

    /// The NOTIFY of [`Self::credentials_changed`], on `on`: a transaction
    /// sends it when it commits.
    pub(crate) async fn credentials_changed_in<'e>(
        &self,
        on: impl sqlx::Executor<'e, Database = sqlx::Any>,
    ) -> Result<()> {
        if self.backend == Backend::Postgres {
            sqlx::query(&format!("NOTIFY {CHANNEL}"))
                .execute(on)
                .await?;
        }
        Ok(())
    }
}

impl crate::Tx {
    /// Disables the customer's credential; None when it has none such.
    pub async fn disable_credential(
        &mut self,
        customer: Uuid,
        client_id: &str,
        now: i64,
    ) -> Result<Option<Credential>> {
        let row = sqlx::query(&format!(
            "UPDATE credentials SET disabled_at = COALESCE(disabled_at, $1), updated_at = $1 \
             WHERE customer_id = $2 AND client_id = $3 RETURNING {COLUMNS}"
        ))
        .bind(now)
        .bind(customer.to_string())
        .bind(client_id)
        .fetch_optional(&mut **self.inner.pool()?)
        .await?;
        self.credentials_change().await?;
        row.as_ref().map(decode).transpose()
    }

    /// Marks this transaction as changing credentials or users: on
    /// PostgreSQL every server is told with its commit, and this one
    /// forgets after it.
    pub(crate) async fn credentials_change(&mut self) -> Result<()> {
        if self.backend == Backend::Postgres && !self.credentials_changed {
            sqlx::query(&format!("NOTIFY {CHANNEL}"))
                .execute(&mut **self.inner.pool()?)
                .await?;
        }
        self.credentials_changed = true;
        Ok(())
    }

    pub async fn credential_of(
        &mut self,
        customer: Uuid,
        client_id: &str,
    ) -> Result<Option<Credential>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM credentials WHERE customer_id = $1 AND client_id = $2"
        ))
        .bind(customer.to_string())
        .bind(client_id)
        .fetch_optional(&mut **self.inner.pool()?)
        .await?;
        row.as_ref().map(decode).transpose()
    }
}
