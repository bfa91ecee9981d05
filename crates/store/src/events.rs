//! Events (the outbox, as the Events API shows it) and webhooks.

use async_trait::async_trait;

use crate::SqlStore;

#[async_trait]
pub trait EventStore: Send + Sync {}

#[async_trait]
impl EventStore for SqlStore {}
