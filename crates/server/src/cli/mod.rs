//! Subcommands: those that talk to a running server over its API, and
//! those an operator runs against the database.

pub mod limits;
pub mod listen;
pub mod users;
