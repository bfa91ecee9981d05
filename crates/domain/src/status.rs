//! The statuses of rules, webhooks, webhook deliveries and destinations,
//! one list each.

use crate::transfer::wire_enum;

wire_enum!(
    /// An orchestration rule: ACTIVE converts its deposits; DELETED credits
    /// them unconverted. (The spec's PENDING, REJECTED and CANCELLED belong
    /// to approvals, which Stableport does not have yet.)
    RuleStatus {
        Active = "ACTIVE",
        Deleted = "DELETED",
    }
);

wire_enum!(
    WebhookStatus {
        Active = "ACTIVE",
        Deleted = "DELETED",
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
