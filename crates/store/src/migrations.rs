//! The schema, in SQL both backends accept. Amounts are BIGINT counts of an
//! asset's smallest unit; times are BIGINT microseconds; ids are TEXT UUIDs.

use sqlx::AnyPool;

use crate::{Backend, Result};

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_core.sql")),
    (2, include_str!("../migrations/0002_destinations.sql")),
    (3, include_str!("../migrations/0003_orchestrations.sql")),
    (4, include_str!("../migrations/0004_webhooks.sql")),
    (5, include_str!("../migrations/0005_rules.sql")),
    (6, include_str!("../migrations/0006_lean_indexes.sql")),
    (7, include_str!("../migrations/0007_polygon_pos.sql")),
    (8, include_str!("../migrations/0008_transfers.sql")),
    (
        9,
        include_str!("../migrations/0009_credentials_and_limits.sql"),
    ),
    (10, include_str!("../migrations/0010_identities.sql")),
    (11, include_str!("../migrations/0011_users.sql")),
    (12, include_str!("../migrations/0012_approvals.sql")),
    (13, include_str!("../migrations/0013_approval_tiers.sql")),
    (14, include_str!("../migrations/0014_dashboard.sql")),
    (15, include_str!("../migrations/0015_history.sql")),
    (16, include_str!("../migrations/0016_room_to_update.sql")),
];

/// A script's first line marks a tuning only PostgreSQL has: elsewhere it
/// is recorded as applied without running.
const POSTGRES_ONLY: &str = "-- postgres only";

pub async fn run(pool: &AnyPool, backend: Backend) -> Result<()> {
    let mut tx = pool.begin_with(backend.begin_write()).await?;
    if backend == Backend::Postgres {
        // Replicas starting together must not migrate at the same time.
        sqlx::query("SELECT pg_advisory_xact_lock(746162)")
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("CREATE TABLE IF NOT EXISTS stableport_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
        .execute(&mut *tx)
        .await?;
    for (version, script) in MIGRATIONS {
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT version FROM stableport_migrations WHERE version = $1")
                .bind(*version)
                .fetch_optional(&mut *tx)
                .await?;
        if applied.is_some() {
            continue;
        }
        let skip = script.starts_with(POSTGRES_ONLY) && backend != Backend::Postgres;
        for statement in statements(script).into_iter().filter(|_| !skip) {
            sqlx::query(&statement).execute(&mut *tx).await?;
        }
        sqlx::query("INSERT INTO stableport_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(*version)
            .bind(crate::sql::now_micros())
            .execute(&mut *tx)
            .await?;
        tracing::info!(version, "applied migration");
    }
    tx.commit().await?;
    Ok(())
}

/// The statements of a script: comment lines dropped (so prose in them may
/// hold any punctuation), then split on `;`.
fn statements(script: &str) -> Vec<String> {
    let code: Vec<&str> = script
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect();
    code.join("\n")
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn comments_may_hold_semicolons() {
        let script = "-- one; two\nCREATE TABLE a (x BIGINT);\n-- three;\nCREATE INDEX b ON a (x)";
        assert_eq!(
            super::statements(script),
            ["CREATE TABLE a (x BIGINT)", "CREATE INDEX b ON a (x)"]
        );
    }
}
