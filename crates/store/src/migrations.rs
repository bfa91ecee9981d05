//! The schema, in SQL both backends accept. Amounts are BIGINT counts of an
//! asset's smallest unit; times are BIGINT microseconds; ids are TEXT UUIDs.

use std::collections::HashSet;
use std::ops::RangeInclusive;

use sqlx::{AnyPool, Row};

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
    (
        17,
        include_str!("../migrations/0017_deliveries_by_event_first.sql"),
    ),
];

/// What migrations 1 to 15 make, as one script (no ALTER or DROP), for a
/// fresh database: on SQLite each ALTER TABLE re-read the whole schema, and
/// the fifteen scripts were half of a cold start. Later migrations run
/// after it as usual.
const SNAPSHOT: (i64, &str) = (15, include_str!("../migrations/snapshot_0015.sql"));

/// A script's first line marks a tuning only PostgreSQL has: elsewhere it
/// is recorded as applied without running.
const POSTGRES_ONLY: &str = "-- postgres only";

/// Applies what is not applied yet, in one transaction: to a fresh
/// database the snapshot, then each later script. A script goes whole,
/// with its version rows, as one simple query: one hand-off (SQLite) or
/// round trip (PostgreSQL), not one per statement.
pub async fn run(pool: &AnyPool, backend: Backend) -> Result<()> {
    migrate(pool, backend, true).await
}

/// `snapshot`: a fresh database starts from [`SNAPSHOT`] (false: the test
/// that checks it against the scripts).
async fn migrate(pool: &AnyPool, backend: Backend, snapshot: bool) -> Result<()> {
    let mut tx = pool.begin_with(backend.begin_write()).await?;
    if backend == Backend::Postgres {
        // Replicas starting together must not migrate at the same time.
        sqlx::raw_sql("SELECT pg_advisory_xact_lock(746162)")
            .execute(&mut *tx)
            .await?;
    }
    sqlx::raw_sql("CREATE TABLE IF NOT EXISTS stableport_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
        .execute(&mut *tx)
        .await?;
    let mut applied: HashSet<i64> = sqlx::raw_sql("SELECT version FROM stableport_migrations")
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<std::result::Result<_, _>>()?;
    let now = crate::sql::now_micros();
    if applied.is_empty() && snapshot {
        let (last, script) = SNAPSHOT;
        sqlx::raw_sql(&pending(1..=last, script, now))
            .execute(&mut *tx)
            .await?;
        applied.extend(1..=last);
        tracing::info!(version = last, "created the schema");
    }
    for (version, script) in MIGRATIONS.iter().filter(|(v, _)| !applied.contains(v)) {
        let skip = script.starts_with(POSTGRES_ONLY) && backend != Backend::Postgres;
        let script = pending(*version..=*version, if skip { "" } else { script }, now);
        sqlx::raw_sql(&script).execute(&mut *tx).await?;
        tracing::info!(version, "applied migration");
    }
    tx.commit().await?;
    Ok(())
}

/// A script's statements and the rows of the versions it applies, as one
/// script. The numbers are ours, so they are written in, not bound: a
/// simple query takes no parameters.
fn pending(versions: RangeInclusive<i64>, script: &str, now: i64) -> String {
    let mut sql: String = statements(script)
        .iter()
        .map(|s| format!("{s};\n"))
        .collect();
    let rows: Vec<String> = versions.map(|v| format!("({v}, {now})")).collect();
    sql.push_str("INSERT INTO stableport_migrations (version, applied_at) VALUES ");
    sql.push_str(&rows.join(", "));
    sql
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
    use sqlx::{AnyPool, Row};

    use crate::Backend;

    #[test]
    fn comments_may_hold_semicolons() {
        let script = "-- one; two\nCREATE TABLE a (x BIGINT);\n-- three;\nCREATE INDEX b ON a (x)";
        assert_eq!(
            super::statements(script),
            ["CREATE TABLE a (x BIGINT)", "CREATE INDEX b ON a (x)"]
        );
    }

    #[test]
    fn a_script_goes_whole_with_its_version_row() {
        let script = "-- a table\nCREATE TABLE a (x BIGINT);\nCREATE INDEX b ON a (x);\n";
        assert_eq!(
            super::pending(7..=7, script, 42),
            "CREATE TABLE a (x BIGINT);\nCREATE INDEX b ON a (x);\n\
             INSERT INTO stableport_migrations (version, applied_at) VALUES (7, 42)"
        );
        assert_eq!(
            super::pending(1..=2, "", 1),
            "INSERT INTO stableport_migrations (version, applied_at) VALUES (1, 1), (2, 1)"
        );
    }

    /// The snapshot a fresh database starts from makes what the scripts
    /// make, column for column, index for index, on both backends.
    #[tokio::test]
    async fn the_snapshot_is_what_the_migrations_make() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str| format!("sqlite://{}", dir.path().join(name).display());
        let (snapshot, scripts) = (file("snapshot.db"), file("scripts.db"));
        assert_same_schema(Backend::Sqlite, &snapshot, &scripts).await;
        let snapshot = crate::scratch::ScratchDb::create("sptest_snapshot").await;
        let scripts = crate::scratch::ScratchDb::create("sptest_scripts").await;
        assert_same_schema(Backend::Postgres, &snapshot.url, &scripts.url).await;
    }

    async fn assert_same_schema(backend: Backend, snapshot: &str, scripts: &str) {
        let (from_snapshot, _) = backend.connect(snapshot).await.unwrap();
        super::migrate(&from_snapshot, backend, true).await.unwrap();
        let (from_scripts, _) = backend.connect(scripts).await.unwrap();
        super::migrate(&from_scripts, backend, false).await.unwrap();
        let made = schema(&from_snapshot, backend).await;
        assert!(
            made.iter().any(|l| l.starts_with("transfers.fee_units ")),
            "{backend:?}: a column an ALTER added is in the snapshot: {made:#?}"
        );
        let expected = schema(&from_scripts, backend).await;
        for line in &expected {
            assert!(
                made.contains(line),
                "{backend:?}: the snapshot lacks {line}"
            );
        }
        assert_eq!(made, expected, "{backend:?}: the snapshot has more");
    }

    /// Columns, indexes, constraints, table options and applied versions, one line each.
    async fn schema(pool: &AnyPool, backend: Backend) -> Vec<String> {
        let queries: &[&str] = match backend {
            Backend::Sqlite => &[
                "SELECT m.name || '.' || p.name || ' ' || p.cid || ' ' || p.type || ' ' || p.\"notnull\" \
                 || ' ' || coalesce(p.dflt_value, '-') || ' ' || p.pk \
                 FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table'",
                "SELECT m.name || ' -> ' || f.\"table\" || '.' || f.\"to\" || ' from ' || f.\"from\" \
                 FROM sqlite_master m, pragma_foreign_key_list(m.name) f WHERE m.type = 'table'",
                "SELECT type || ' ' || name || ' on ' || tbl_name || ': ' || coalesce(sql, '-') \
                 FROM sqlite_master WHERE type = 'index'",
            ],
            Backend::Postgres => &[
                "SELECT (table_name || '.' || column_name || ' ' || ordinal_position || ' ' || data_type \
                 || ' ' || is_nullable || ' ' || coalesce(column_default, '-'))::text \
                 FROM information_schema.columns WHERE table_schema = current_schema()",
                "SELECT indexdef::text FROM pg_indexes WHERE schemaname = current_schema()",
                "SELECT (conrelid::regclass || ' ' || conname || ': ' || pg_get_constraintdef(oid))::text \
                 FROM pg_constraint WHERE connamespace = current_schema()::regnamespace",
                "SELECT (relname || ' ' || coalesce(array_to_string(reloptions, ','), '-'))::text \
                 FROM pg_class WHERE relnamespace = current_schema()::regnamespace",
            ],
        };
        let mut lines = Vec::new();
        for query in queries
            .iter()
            .chain(&["SELECT 'version ' || version FROM stableport_migrations"])
        {
            for row in sqlx::raw_sql(query).fetch_all(pool).await.unwrap() {
                lines.push(row.try_get::<String, _>(0).unwrap());
            }
        }
        lines.sort();
        lines
    }
}
