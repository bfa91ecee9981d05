//! Orchestration rules and deposits.
