//! Orchestration rules, deposit addresses, fiat deposit instructions and deposits.

use async_trait::async_trait;

use crate::SqlStore;

#[async_trait]
pub trait RuleStore: Send + Sync {}

#[async_trait]
impl RuleStore for SqlStore {}
