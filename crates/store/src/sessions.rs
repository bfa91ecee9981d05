//! Dashboard sessions and the failed sign-ins that lock an email.

use async_trait::async_trait;
use sqlx::Row;
use uuid::Uuid;

use crate::sql;
use crate::{Result, SqlStore};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// SHA-256 of the cookie's token, hex.
    pub token_hash: String,
    pub customer_id: Uuid,
    pub user_id: Uuid,
    pub csrf_token: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Failed sign-ins of an email since its last success or lock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SignIns {
    pub failures: i64,
    pub locked_until: Option<i64>,
}

#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn insert_session(&self, s: &Session) -> Result<()>;
    /// The session, while it has not expired.
    async fn session(&self, token_hash: &str, now: i64) -> Result<Option<Session>>;
    async fn delete_session(&self, token_hash: &str) -> Result<()>;
    async fn sign_ins(&self, email: &str) -> Result<SignIns>;
    /// Counts a failure in; locks the email until `lock_until` once it
    /// reaches `max` (and starts counting afresh).
    async fn record_failed_sign_in(
        &self,
        email: &str,
        max: i64,
        lock_until: i64,
    ) -> Result<SignIns>;
    async fn clear_sign_ins(&self, email: &str) -> Result<()>;
}

const COLUMNS: &str = "token_hash, customer_id, user_id, csrf_token, created_at, expires_at";

#[async_trait]
impl SessionStore for SqlStore {
    async fn insert_session(&self, s: &Session) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO dashboard_sessions ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(&s.token_hash)
        .bind(s.customer_id.to_string())
        .bind(s.user_id.to_string())
        .bind(&s.csrf_token)
        .bind(s.created_at)
        .bind(s.expires_at)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn session(&self, token_hash: &str, now: i64) -> Result<Option<Session>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM dashboard_sessions WHERE token_hash = $1 AND expires_at > $2"
        ))
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| {
            Ok(Session {
                token_hash: r.try_get("token_hash")?,
                customer_id: sql::uuid(&r, "customer_id")?,
                user_id: sql::uuid(&r, "user_id")?,
                csrf_token: r.try_get("csrf_token")?,
                created_at: r.try_get("created_at")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM dashboard_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn sign_ins(&self, email: &str) -> Result<SignIns> {
        let row =
            sqlx::query("SELECT failures, locked_until FROM dashboard_sign_ins WHERE email = $1")
                .bind(email)
                .fetch_optional(&self.read)
                .await?;
        row.map(|r| {
            Ok(SignIns {
                failures: r.try_get("failures")?,
                locked_until: r.try_get("locked_until")?,
            })
        })
        .transpose()
        .map(Option::unwrap_or_default)
    }

    async fn record_failed_sign_in(
        &self,
        email: &str,
        max: i64,
        lock_until: i64,
    ) -> Result<SignIns> {
        // One statement: racing failures each count.
        let row = sqlx::query(
            "INSERT INTO dashboard_sign_ins (email, failures, locked_until) VALUES ($1, 1, NULL) \
             ON CONFLICT (email) DO UPDATE SET \
               failures = CASE WHEN dashboard_sign_ins.failures + 1 >= $2 THEN 0 \
                               ELSE dashboard_sign_ins.failures + 1 END, \
               locked_until = CASE WHEN dashboard_sign_ins.failures + 1 >= $2 THEN $3 \
                                   ELSE dashboard_sign_ins.locked_until END \
             RETURNING failures, locked_until",
        )
        .bind(email)
        .bind(max)
        .bind(lock_until)
        .fetch_one(&self.write)
        .await?;
        Ok(SignIns {
            failures: row.try_get("failures")?,
            locked_until: row.try_get("locked_until")?,
        })
    }

    async fn clear_sign_ins(&self, email: &str) -> Result<()> {
        sqlx::query("DELETE FROM dashboard_sign_ins WHERE email = $1")
            .bind(email)
            .execute(&self.write)
            .await?;
        Ok(())
    }
}
