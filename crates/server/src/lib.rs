//! The Stableport server: the Paxos v2 API over HTTP, its background
//! workers, and the `stableport` command line.

pub mod app;
pub mod approver;
pub mod auth;
pub mod batcher;
pub mod bootstrap;
pub mod config;
pub mod conversions;
pub mod crypto_addresses;
pub mod delivery;
pub mod deposit_addresses;
pub mod deposit_instructions;
pub mod deposits;
pub mod events;
pub mod extract;
pub mod fiat_accounts;
pub mod fields;
pub mod limiter;
pub mod oauth;
pub mod openapi;
pub mod orchestrations;
pub mod pagination;
pub mod problem;
pub mod profiles;
pub mod routes;
pub mod rules;
pub mod sandbox;
pub mod settler;
pub mod time;
pub mod transfers;
pub mod webhooks;

pub use app::{start, Running};
pub use config::{Config, Environment, Settlement};
