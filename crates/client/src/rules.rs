//! Orchestration rules, deposit addresses, fiat deposit instructions and sandbox deposits.
