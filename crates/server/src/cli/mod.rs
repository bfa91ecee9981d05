//! Subcommands that talk to a running server over its API.

pub mod listen;
