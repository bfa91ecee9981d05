//! Transfer limits: what an operator allows a customer to move out, per
//! transfer or per trailing period, in USD. Checked in the transaction that
//! debits, with the customer's limits locked, so racing transfers cannot
//! both slip under one.

use stableport_domain::amount::usd_cents;
use stableport_domain::TransferKind;
use stableport_store::{Limit, Tx};
use uuid::Uuid;

use crate::{Core, CoreError, Result};

/// A limit and what is left of it now.
#[derive(Clone, Debug)]
pub struct Utilization {
    pub limit: Limit,
    pub remaining_cents: i64,
}

fn since(limit: &Limit, now: i64) -> i64 {
    now.saturating_sub(limit.period_seconds.saturating_mul(1_000_000))
}

fn cents(spent: &[(stableport_domain::Asset, i64)]) -> i64 {
    spent
        .iter()
        .map(|(asset, units)| usd_cents(*units, *asset))
        .sum()
}

/// The customer's limits covering `kind` (all of them for None), with what
/// remains of each.
pub async fn utilizations(
    core: &Core,
    customer: Uuid,
    kind: Option<TransferKind>,
    now: i64,
) -> Result<Vec<Utilization>> {
    let mut found = Vec::new();
    for limit in core.store.limits(customer).await? {
        if kind.is_some_and(|k| !limit.transfer_types.contains(&k)) {
            continue;
        }
        let used = match limit.period_seconds {
            0 => 0,
            _ => {
                let spent = core
                    .store
                    .spent(customer, &limit.transfer_types, since(&limit, now));
                cents(&spent.await?)
            }
        };
        let remaining_cents = (limit.limit_cents - used).max(0);
        found.push(Utilization {
            limit,
            remaining_cents,
        });
    }
    Ok(found)
}

/// Refuses a transfer of `kind` worth `amount_cents` that would break one
/// of the customer's limits. Call before the transfer is recorded.
pub async fn check(
    tx: &mut Tx,
    customer: Uuid,
    kind: TransferKind,
    amount_cents: i64,
    now: i64,
) -> Result<()> {
    let mut covering = tx.lock_limits(customer).await?;
    // The per-transfer ones first: theirs is the plainer refusal.
    covering.sort_by_key(|l| l.period_seconds);
    for limit in covering {
        if !limit.transfer_types.contains(&kind) {
            continue;
        }
        let used = match limit.period_seconds {
            0 => 0,
            _ => cents(
                &tx.spent(customer, &limit.transfer_types, since(&limit, now))
                    .await?,
            ),
        };
        if used + amount_cents > limit.limit_cents {
            return Err(CoreError::LimitExceeded {
                limit_cents: limit.limit_cents,
                remaining_cents: (limit.limit_cents - used).max(0),
                amount_cents,
            });
        }
    }
    Ok(())
}
