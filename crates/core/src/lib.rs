//! The operations layer: one module per use case. Each takes a command whose
//! fields the HTTP layer has already parsed, applies the business rules
//! (ownership, routes, precision, what may follow what), asks the store for
//! the change, and returns a typed outcome or one [`CoreError`]. Nothing
//! here knows HTTP or JSON; nothing here writes SQL.

pub mod approvals;
pub mod batcher;
pub mod conversions;
pub mod credentials;
pub mod deliveries;
pub mod deposit_targets;
pub mod deposits;
pub mod destinations;
mod error;
pub mod fees;
pub mod identities;
pub mod issued;
pub mod limits;
pub mod orchestrations;
pub mod profile_transfers;
pub mod profiles;
pub mod rules;
pub mod sessions;
pub mod transfers;
pub mod tx;
pub mod users;
pub mod webhooks;
pub mod withdrawals;

use std::sync::Arc;
use std::time::Duration;

use stableport_store::{NewConversion, NewDeposit, NewOrchestration, Store};
use tokio::task::JoinHandle;

pub use error::{CoreError, Result};

use batcher::Batcher;

/// What every operation works with: the store, the group-commit writers
/// and the settlement policy.
pub struct Core {
    pub store: Arc<dyn Store>,
    pub conversions: Batcher<NewConversion>,
    pub orchestrations: Batcher<NewOrchestration>,
    pub deposits: Batcher<NewDeposit>,
    pub settlement: Settlement,
    /// What withdrawals cost; free unless the server is told otherwise.
    pub fees: fees::Fees,
    known_profiles: profiles::Known,
}

impl Core {
    /// The core over `store`, with its group-commit writers running; the
    /// handles end when the last `Core` (and its writers' queues) is dropped.
    pub fn start(store: Arc<dyn Store>, settlement: Settlement) -> (Core, Vec<JoinHandle<()>>) {
        let (conversions, converting) = Batcher::spawn(store.clone());
        let (orchestrations, orchestrating) = Batcher::spawn(store.clone());
        let (deposits, depositing) = Batcher::spawn(store.clone());
        let writers = vec![converting, orchestrating, depositing];
        let core = Core {
            store,
            conversions,
            orchestrations,
            deposits,
            settlement,
            fees: Default::default(),
            known_profiles: Default::default(),
        };
        (core, writers)
    }
}

/// When conversions and orchestration steps complete on their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settlement {
    /// The settler completes each this long after its creation.
    After(Duration),
    /// They stay pending until a sandbox call completes them.
    Manual,
}

impl Settlement {
    /// When something created at `now` becomes due, in microseconds.
    pub fn due_at(self, now: i64) -> Option<i64> {
        match self {
            Settlement::After(delay) => {
                Some(now.saturating_add(i64::try_from(delay.as_micros()).unwrap_or(i64::MAX)))
            }
            Settlement::Manual => None,
        }
    }
}

/// A create with a client's ref_id: new, or the one stored before under it
/// (which the caller answers with a 409 carrying it, whatever has changed).
#[derive(Debug)]
pub enum Created<T> {
    New(T),
    Existing(T),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automatic_settlement_is_due_after_its_delay_and_manual_never() {
        let after = Settlement::After(Duration::from_millis(1500));
        assert_eq!(after.due_at(1_000_000), Some(2_500_000));
        assert_eq!(after.due_at(i64::MAX), Some(i64::MAX));
        assert_eq!(Settlement::Manual.due_at(1_000_000), None);
    }
}
