//! What the resource handlers share: authentication, request extraction and
//! field checks, pagination, problems, and the lookups and request shapes
//! more than one resource uses. Nothing here imports a resource module.

pub mod auth;
pub mod destinations;
pub mod event_json;
pub mod extract;
pub mod fields;
pub mod keys;
pub mod limiter;
pub mod owned;
pub mod owner;
pub mod pagination;
pub mod problem;
pub mod routes;
pub mod spec;
