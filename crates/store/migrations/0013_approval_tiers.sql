-- Approval tiers and what a request was submitted under. A policy's tiers
-- (JSON: threshold in USD cents, approvals required, roles that may
-- approve) apply to withdrawals by their USD worth. A request keeps the
-- worth it was judged at, the roles that may approve it, and, for a change
-- to an enabled policy, the policy proposed (JSON).
ALTER TABLE approval_policies ADD COLUMN tiers TEXT NOT NULL DEFAULT '[]';
ALTER TABLE approval_requests ADD COLUMN amount_cents BIGINT;
ALTER TABLE approval_requests ADD COLUMN approver_roles TEXT NOT NULL DEFAULT 'APPROVER';
ALTER TABLE approval_requests ADD COLUMN proposal TEXT;
-- A withdrawal's or an account's open request, found by its object.
CREATE INDEX approval_requests_by_object ON approval_requests (object_id);
