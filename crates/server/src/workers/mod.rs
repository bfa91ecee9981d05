//! Work done off the request path: group commit of creates, settlement,
//! fiat account approval, webhook delivery.

pub mod approver;
pub mod batcher;
pub mod delivery;
pub mod settler;
