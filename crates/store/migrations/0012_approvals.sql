-- Approval policies (per customer and action), the requests they make, and
-- every act on a request (submitted, approved, rejected, cancelled): the
-- audit trail. Nothing here is ever deleted. A request keeps the policy in
-- force when it was submitted.
CREATE TABLE approval_policies (
    customer_id TEXT NOT NULL REFERENCES customers (id),
    action TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    approvals_required BIGINT NOT NULL,
    updated_by TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (customer_id, action)
);

CREATE TABLE approval_requests (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    action TEXT NOT NULL,
    object_id TEXT NOT NULL,
    status TEXT NOT NULL,
    submitted_by TEXT,
    approvals_required BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX approval_requests_by_created ON approval_requests (customer_id, created_at, id);

CREATE TABLE approval_acts (
    request_id TEXT NOT NULL REFERENCES approval_requests (id),
    seq BIGINT NOT NULL,
    act TEXT NOT NULL,
    user_id TEXT,
    reason TEXT,
    at BIGINT NOT NULL,
    PRIMARY KEY (request_id, seq)
);
-- One approval per user and request, enforced where racing approvals meet.
CREATE UNIQUE INDEX approval_acts_one_approval ON approval_acts (request_id, user_id) WHERE act = 'APPROVED'
