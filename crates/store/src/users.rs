//! The users of a customer: who submits and who approves.

use async_trait::async_trait;
use sqlx::Row;
use stableport_domain::Role;
use uuid::Uuid;

use crate::model::Page;
use crate::sql::{self, Sql};
use crate::{Result, SqlStore, StoreError};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: Uuid,
    pub customer_id: Uuid,
    /// As given, trimmed; unique per customer, compared as given.
    pub email: String,
    pub roles: Vec<Role>,
    /// argon2id, as a PHC string.
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug)]
pub struct UserFilter {
    pub include_disabled: bool,
    pub page: Page,
}

#[async_trait]
pub trait UserStore: Send + Sync {
    async fn user(&self, customer: Uuid, id: Uuid) -> Result<Option<User>>;
    async fn list_users(&self, customer: Uuid, filter: &UserFilter) -> Result<Vec<User>>;
    /// The user as it now reads, or None when the customer has no such user.
    async fn disable_user(&self, customer: Uuid, id: Uuid, now: i64) -> Result<Option<User>>;
    /// Every active user with this email, of any customer (sign-in).
    async fn users_by_email(&self, email: &str) -> Result<Vec<User>>;
}

const COLUMNS: &str =
    "id, customer_id, email, roles, password_hash, disabled_at, created_at, updated_at";

fn decode(row: &sqlx::any::AnyRow) -> Result<User> {
    let roles: String = row.try_get("roles")?;
    let roles = roles
        .split(',')
        .map(|r| Role::parse(r).ok_or_else(|| StoreError::Corrupt(format!("role {r:?}"))))
        .collect::<Result<Vec<_>>>()?;
    Ok(User {
        id: sql::uuid(row, "id")?,
        customer_id: sql::uuid(row, "customer_id")?,
        email: row.try_get("email")?,
        roles,
        password_hash: row.try_get("password_hash")?,
        disabled: row.try_get::<Option<i64>, _>("disabled_at")?.is_some(),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

#[async_trait]
impl UserStore for SqlStore {
    async fn user(&self, customer: Uuid, id: Uuid) -> Result<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM users WHERE customer_id = $1 AND id = $2"
        ))
        .bind(customer.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(decode).transpose()
    }

    async fn list_users(&self, customer: Uuid, f: &UserFilter) -> Result<Vec<User>> {
        let mut q = Sql::new(&format!("SELECT {COLUMNS} FROM users WHERE customer_id = "));
        q.bind(customer);
        if !f.include_disabled {
            q.push(" AND disabled_at IS NULL");
        }
        q.page(&f.page);
        let rows = q.query_on(self.sqlite()).fetch_all(&self.read).await?;
        rows.iter().map(decode).collect()
    }

    async fn users_by_email(&self, email: &str) -> Result<Vec<User>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM users WHERE email = $1 AND disabled_at IS NULL LIMIT 10"
        ))
        .bind(email)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(decode).collect()
    }

    async fn disable_user(&self, customer: Uuid, id: Uuid, now: i64) -> Result<Option<User>> {
        let row = sqlx::query(&format!(
            "UPDATE users SET disabled_at = COALESCE(disabled_at, $1), updated_at = $1 \
             WHERE customer_id = $2 AND id = $3 RETURNING {COLUMNS}"
        ))
        .bind(now)
        .bind(customer.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.write)
        .await?;
        self.credentials_changed().await?;
        row.as_ref().map(decode).transpose()
    }
}

impl crate::Tx {
    /// Inserts the user; Conflict when its email is taken.
    pub async fn insert_user(&mut self, u: &User) -> Result<()> {
        let roles: Vec<&str> = u.roles.iter().map(|r| r.as_str()).collect();
        let inserted = sqlx::query(&format!(
            "INSERT INTO users ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, NULL, $6, $7) \
             ON CONFLICT (customer_id, email) DO NOTHING"
        ))
        .bind(u.id.to_string())
        .bind(u.customer_id.to_string())
        .bind(&u.email)
        .bind(roles.join(","))
        .bind(&u.password_hash)
        .bind(u.created_at)
        .bind(u.updated_at)
        .execute(&mut **self.inner.pool()?)
        .await?;
        match inserted.rows_affected() {
            1 => Ok(()),
            _ => Err(StoreError::Conflict(format!(
                "a user with email {:?} already exists",
                u.email
            ))),
        }
    }

    /// Sets a user's roles; false when the customer has no such user.
    pub async fn set_user_roles(
        &mut self,
        customer: Uuid,
        id: Uuid,
        roles: &[Role],
        now: i64,
    ) -> Result<bool> {
        let roles: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        let set = sqlx::query(
            "UPDATE users SET roles = $1, updated_at = $2 WHERE customer_id = $3 AND id = $4",
        )
        .bind(roles.join(","))
        .bind(now)
        .bind(customer.to_string())
        .bind(id.to_string())
        .execute(&mut **self.inner.pool()?)
        .await?;
        Ok(set.rows_affected() == 1)
    }

    pub async fn user(&mut self, customer: Uuid, id: Uuid) -> Result<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM users WHERE customer_id = $1 AND id = $2"
        ))
        .bind(customer.to_string())
        .bind(id.to_string())
        .fetch_optional(&mut **self.inner.pool()?)
        .await?;
        row.as_ref().map(decode).transpose()
    }
}
