//! Subcommands: those that talk to a running server over its API, and
//! those an operator runs against the database.

pub mod backup;
pub mod keys;
pub mod limits;
pub mod listen;
pub mod money;
pub mod users;

/// The database an operator's subcommand works on.
#[derive(clap::Args)]
pub struct Database {
    /// sqlite://PATH (the default, created if missing) or postgres://USER@HOST/DB.
    #[arg(
        long,
        env = "STABLEPORT_DATABASE_URL",
        default_value = "sqlite://stableport.db",
        global = true
    )]
    pub database_url: String,
}
