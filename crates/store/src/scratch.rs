//! Scratch PostgreSQL databases for tests: a fresh database each, dropped
//! with it, or kept (and named on stderr) when its test failed, to be
//! looked at. PostgreSQL must be reachable at `STABLEPORT_TEST_POSTGRES_URL`
//! (default: the local server); a test fails rather than skip without it.

use sqlx::{Connection, PgConnection};

pub fn admin_url() -> String {
    std::env::var("STABLEPORT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub struct ScratchDb {
    pub url: String,
    admin: String,
    name: String,
}

impl ScratchDb {
    /// A new empty database named `<prefix>_<random>`, without the schema.
    pub async fn create(prefix: &str) -> ScratchDb {
        let admin = admin_url();
        let mut conn = PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {admin} is required for this test: {e}"));
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("creating {name}: {e}"));
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        ScratchDb {
            url: format!("{base}/{name}"),
            admin,
            name,
        }
    }
}

impl ScratchDb {
    /// Ends every session on this database but the caller's own, as a
    /// restart or `pg_terminate_backend` would; how many it ended.
    pub async fn end_sessions(&self) -> i64 {
        let mut conn = PgConnection::connect(&self.url).await.unwrap();
        sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()) ended",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap()
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept the failed test's database {}", self.name);
            return;
        }
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // A thread of its own: this may run inside the test's runtime.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime
                .block_on(async {
                    let mut conn = PgConnection::connect(&admin).await?;
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    sqlx::query(&sql).execute(&mut conn).await.map(|_| ())
                })
                .map_err(|e| e.to_string())
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop the test database {}: {e}", self.name);
        }
    }
}
