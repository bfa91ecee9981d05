//! A transfer as the Transfers API shows it: its kind (the spec's `type`),
//! direction and status, one list each.

/// Defines a wire enum: its variants with their wire names, `ALL`,
/// `as_str` and `parse`.
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(text: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| v.as_str() == text)
            }

            /// Every wire name, for error messages and filters.
            pub fn names() -> Vec<&'static str> {
                Self::ALL.iter().map(|v| v.as_str()).collect()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use wire_enum;

wire_enum!(
    /// What moved: the legs of conversions, orchestrations and transfers
    /// between profiles (of one customer, or of two: Paxos transfers), and
    /// money arriving or leaving by chain, wire or CUBIX.
    TransferKind {
        InternalTransferDebit = "INTERNAL_TRANSFER_DEBIT",
        InternalTransferCredit = "INTERNAL_TRANSFER_CREDIT",
        CryptoDeposit = "CRYPTO_DEPOSIT",
        CryptoWithdrawal = "CRYPTO_WITHDRAWAL",
        WireDeposit = "WIRE_DEPOSIT",
        WireWithdrawal = "WIRE_WITHDRAWAL",
        CubixDeposit = "CUBIX_DEPOSIT",
        CubixWithdrawal = "CUBIX_WITHDRAWAL",
        PaxosTransferDebit = "PAXOS_TRANSFER_DEBIT",
        PaxosTransferCredit = "PAXOS_TRANSFER_CREDIT",
    }
);

wire_enum!(
    /// Into the profile, or out of it.
    Direction {
        Credit = "CREDIT",
        Debit = "DEBIT",
    }
);

wire_enum!(
    TransferStatus {
        Pending = "PENDING",
        Completed = "COMPLETED",
        Failed = "FAILED",
    }
);

impl TransferKind {
    pub fn direction(self) -> Direction {
        match self {
            TransferKind::InternalTransferCredit
            | TransferKind::PaxosTransferCredit
            | TransferKind::CryptoDeposit
            | TransferKind::WireDeposit
            | TransferKind::CubixDeposit => Direction::Credit,
            _ => Direction::Debit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip_and_unknown_ones_do_not_parse() {
        for kind in TransferKind::ALL {
            assert_eq!(TransferKind::parse(kind.as_str()), Some(*kind));
        }
        assert_eq!(
            TransferStatus::parse("COMPLETED"),
            Some(TransferStatus::Completed)
        );
        assert_eq!(TransferStatus::parse("completed"), None);
        assert_eq!(TransferKind::WireDeposit.direction(), Direction::Credit);
        assert_eq!(TransferKind::CryptoWithdrawal.direction(), Direction::Debit);
    }
}
