//! End-to-end tests of the HTTP API, each on SQLite and on PostgreSQL.

mod common;

mod approval_tiers;
mod approvals;
mod auth;
mod bad_input;
mod compat;
mod conversions;
mod destinations;
mod events;
mod idempotency;
mod identities;
mod openapi;
mod operations;
mod orchestrations;
mod profiles;
mod reliability;
mod rules;
mod users;
mod withdrawals;
