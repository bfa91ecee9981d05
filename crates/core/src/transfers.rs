//! Transfers as the operations record them: each new transfer, and each
//! change of one's status, is announced as `transfer.<kind>.<status>` where
//! the webhook spec has such an event (crypto, wire and CUBIX deposits and
//! withdrawals). Internal transfers have none: the conversion or
//! orchestration event they belong to covers them.

use stableport_domain::address::TX_INDEX;
use stableport_domain::{TransferKind, TransferStatus};
use stableport_store::{Transfer, Tx, EVENT_TYPES};

/// Records a new transfer with its event.
pub fn record(tx: &mut Tx, transfer: Transfer) {
    announce(tx, &transfer);
    tx.transfer(transfer);
}

/// Records the event of a transfer whose status changed.
pub fn announce(tx: &mut Tx, t: &Transfer) {
    if let Some(kind) = event_type(t.kind, t.status) {
        tx.event(t.customer_id, kind, t.id, object(t), t.updated_at);
    }
}

fn event_type(kind: TransferKind, status: TransferStatus) -> Option<&'static str> {
    let wanted = format!(
        "transfer.{}.{}",
        kind.as_str().to_ascii_lowercase(),
        status.as_str().to_ascii_lowercase()
    );
    EVENT_TYPES.iter().copied().find(|t| *t == wanted)
}

/// TransferStatusChangeObject.
fn object(t: &Transfer) -> String {
    let mut object =
        serde_json::json!({ "id": t.id, "type": t.kind.as_str(), "status": t.status.as_str() });
    for (key, value) in [
        ("ref_id", &t.ref_id),
        ("crypto_network", &t.crypto_network),
        ("crypto_tx_hash", &t.crypto_tx_hash),
        ("memo", &t.memo),
    ] {
        if let Some(v) = value {
            object[key] = serde_json::json!(v);
        }
    }
    if t.crypto_tx_hash.is_some() {
        object["crypto_tx_index"] = serde_json::json!(TX_INDEX);
    }
    object.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_external_transfers_have_events() {
        let deposit = event_type(TransferKind::WireDeposit, TransferStatus::Completed);
        assert_eq!(deposit, Some("transfer.wire_deposit.completed"));
        let pending = event_type(TransferKind::CryptoWithdrawal, TransferStatus::Pending);
        assert_eq!(pending, Some("transfer.crypto_withdrawal.pending"));
        let internal = event_type(
            TransferKind::InternalTransferCredit,
            TransferStatus::Completed,
        );
        assert_eq!(internal, None);
    }
}
