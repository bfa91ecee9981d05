//! The statuses of rules, webhooks, webhook deliveries, destinations and
//! identities,
//! one list each.

use crate::transfer::wire_enum;

wire_enum!(
    /// An orchestration rule: ACTIVE converts its deposits; any other
    /// credits them unconverted. PENDING waits for approval, which ends it
    /// ACTIVE, REJECTED or CANCELLED.
    RuleStatus {
        Active = "ACTIVE",
        Deleted = "DELETED",
        Pending = "PENDING",
        Rejected = "REJECTED",
        Cancelled = "CANCELLED",
    }
);

wire_enum!(
    /// A webhook: only an ACTIVE one receives events. PENDING waits for
    /// approval, which ends it ACTIVE, REJECTED or CANCELLED.
    WebhookStatus {
        Active = "ACTIVE",
        Deleted = "DELETED",
        Pending = "PENDING",
        Rejected = "REJECTED",
        Cancelled = "CANCELLED",
    }
);

wire_enum!(
    /// One event's delivery to one webhook.
    DeliveryStatus {
        Pending = "PENDING",
        Delivered = "DELIVERED",
        Failed = "FAILED",
        Cancelled = "CANCELLED",
    }
);

wire_enum!(
    /// A fiat account or crypto address: only an APPROVED one receives funds.
    DestinationStatus {
        Pending = "PENDING",
        Approved = "APPROVED",
        Rejected = "REJECTED",
    }
);

wire_enum!(
    /// A verification of an identity, and an identity's summary of them.
    IdentityStatus {
        Pending = "PENDING",
        Error = "ERROR",
        Approved = "APPROVED",
        Denied = "DENIED",
        Disabled = "DISABLED",
    }
);

wire_enum!(
    /// What a user of a customer may do: an entity manager sets policies
    /// and users, a treasurer submits money movements, an approver approves
    /// or rejects them, a viewer reads.
    Role {
        EntityManager = "ENTITY_MANAGER",
        Treasurer = "TREASURER",
        Approver = "APPROVER",
        Viewer = "VIEWER",
    }
);

wire_enum!(
    /// The actions an approval policy may guard, and EDIT_APPROVAL_POLICY:
    /// a change to an enabled policy, approved under that policy.
    ApprovalAction {
        AddCryptoAddress = "ADD_CRYPTO_ADDRESS",
        AddFiatAccount = "ADD_FIAT_ACCOUNT",
        CreateCryptoWithdrawal = "CREATE_CRYPTO_WITHDRAWAL",
        CreateFiatWithdrawal = "CREATE_FIAT_WITHDRAWAL",
        AddOrchestrationRule = "ADD_ORCHESTRATION_RULE",
        DeleteOrchestrationRule = "DELETE_ORCHESTRATION_RULE",
        AddWebhook = "ADD_WEBHOOK",
        DeleteWebhook = "DELETE_WEBHOOK",
        DeleteApiCredential = "DELETE_API_CREDENTIAL",
        AssignUserRoles = "ASSIGN_USER_ROLES",
        EditApprovalPolicy = "EDIT_APPROVAL_POLICY",
    }
);

impl ApprovalAction {
    /// Whether a policy of its own may guard it.
    pub fn has_policy(self) -> bool {
        self != ApprovalAction::EditApprovalPolicy
    }

    /// Whether its policy may have tiers by USD value.
    pub fn has_tiers(self) -> bool {
        matches!(
            self,
            ApprovalAction::CreateCryptoWithdrawal | ApprovalAction::CreateFiatWithdrawal
        )
    }
}

wire_enum!(
    ApprovalStatus {
        Pending = "PENDING",
        Approved = "APPROVED",
        Rejected = "REJECTED",
        Cancelled = "CANCELLED",
    }
);

/// What an identity's checks add up to: a person needs its ID and its
/// sanctions screening APPROVED, an institution its screening. Disabled
/// wins over everything; a denial or an error over pending.
pub fn identity_summary(checks: &[IdentityStatus], disabled: bool) -> IdentityStatus {
    use IdentityStatus::*;
    if disabled {
        return Disabled;
    }
    for worst in [Denied, Error, Disabled, Pending] {
        if checks.contains(&worst) {
            return if worst == Disabled { Denied } else { worst };
        }
    }
    Approved
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identity_is_approved_only_when_every_check_is() {
        use IdentityStatus::*;
        assert_eq!(identity_summary(&[Approved, Approved], false), Approved);
        assert_eq!(identity_summary(&[Approved, Pending], false), Pending);
        assert_eq!(identity_summary(&[Error, Denied], false), Denied);
        assert_eq!(identity_summary(&[Approved, Error], false), Error);
        assert_eq!(identity_summary(&[Approved, Approved], true), Disabled);
    }
}
