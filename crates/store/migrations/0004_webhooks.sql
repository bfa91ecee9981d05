-- Webhooks: where a customer wants its events POSTed. A deleted webhook
-- keeps its row (and its delivery history) with status DELETED. The secret
-- signs every delivery, so it is kept as is. The auth column holds the
-- consumer credentials as JSON. rate_tat is the earliest time the next
-- delivery to this webhook may start (the rate limit, shared by replicas).
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    event_types TEXT NOT NULL,
    auth TEXT,
    rate_limit BIGINT NOT NULL,
    secret TEXT NOT NULL,
    status TEXT NOT NULL,
    rate_tat BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE UNIQUE INDEX webhooks_active_name ON webhooks (customer_id, name) WHERE status = 'ACTIVE';
CREATE INDEX webhooks_by_created ON webhooks (customer_id, created_at, id);

-- Which active webhook wants which event type. Rows exist only while the
-- webhook is ACTIVE, so the fan-out that runs in every transaction writing
-- events is a single indexed join.
CREATE TABLE webhook_subscriptions (
    customer_id TEXT NOT NULL,
    type TEXT NOT NULL,
    webhook_id TEXT NOT NULL,
    PRIMARY KEY (customer_id, type, webhook_id)
);

-- One row per (webhook, event), written in the transaction that writes the
-- event. PENDING rows with next_attempt_at in the past are due. A claim
-- moves next_attempt_at past the send and sets claim_token, so no other
-- worker takes the row while it is in flight, and a crashed worker's claim
-- lapses by itself. retry_from starts the retry window (max age).
CREATE TABLE deliveries (
    webhook_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    claim_token TEXT,
    last_status_code BIGINT,
    last_error TEXT,
    retry_from BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    delivered_at BIGINT,
    PRIMARY KEY (webhook_id, event_id)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'PENDING';
CREATE INDEX deliveries_by_event ON deliveries (event_id);
CREATE INDEX deliveries_by_created ON deliveries (webhook_id, created_at, event_id);

-- Every HTTP attempt, successful or not.
CREATE TABLE delivery_attempts (
    id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    status_code BIGINT,
    latency_micros BIGINT NOT NULL,
    error TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX delivery_attempts_by_webhook ON delivery_attempts (webhook_id, created_at, id);

-- Test events (POST /v2/webhooks/{id}/test) are events too, filtered apart.
ALTER TABLE events ADD COLUMN is_test BIGINT NOT NULL DEFAULT 0;
CREATE INDEX events_by_type ON events (customer_id, type, created_at, id);

-- Sandbox deposits were announced as sandbox.deposit. They are transfers,
-- announced as such from now on (the transfer id is the event's object id).
UPDATE events SET
    type = CASE WHEN payload LIKE '%"asset":"USD"%' THEN 'transfer.wire_deposit.completed' ELSE 'transfer.crypto_deposit.completed' END,
    payload = '{"id":"' || object_id || '","type":"' || CASE WHEN payload LIKE '%"asset":"USD"%' THEN 'WIRE_DEPOSIT' ELSE 'CRYPTO_DEPOSIT' END || '","status":"COMPLETED"}'
WHERE type = 'sandbox.deposit'
