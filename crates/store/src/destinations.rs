//! Fiat accounts and crypto destination addresses: where withdrawals go.

use async_trait::async_trait;

use crate::SqlStore;

#[async_trait]
pub trait DestinationStore: Send + Sync {}

#[async_trait]
impl DestinationStore for SqlStore {}
