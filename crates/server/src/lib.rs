//! The Stableport server: the Paxos v2 API over HTTP, its background
//! workers, and the `stableport` command line.
//!
//! - `api`: the HTTP handlers, one module per resource, and `api::common`;
//! - `dashboard`: the web pages at `/dashboard`, for signed-in users;
//! - `state`: what handlers share; `server`: start-up and shutdown;
//! - `workers`: settlement, approvals, webhook delivery, group commit;
//! - `outbound`: the guard on addresses customers make us call;
//! - `cli`: subcommands that use a running server; `bootstrap`: first start;
//! - `telemetry`: metrics and the request log.

pub mod api;
pub mod bootstrap;
pub mod cli;
pub mod config;
pub mod dashboard;
pub mod outbound;
pub mod server;
pub mod state;
pub mod telemetry;
pub mod time;
pub mod workers;

pub use config::{Config, Environment, Settlement};
pub use server::{start, Running};
