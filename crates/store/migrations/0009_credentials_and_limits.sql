-- A deleted API credential is DISABLED, not removed: its row says who it
-- was, and every request's token is checked against it.
ALTER TABLE credentials ADD COLUMN disabled_at BIGINT;
ALTER TABLE credentials ADD COLUMN updated_at BIGINT;
CREATE INDEX credentials_by_customer ON credentials (customer_id, created_at, client_id);

-- Transfer limits an operator sets per customer, in USD cents (stablecoins
-- count 1:1). A period of 0 limits each transfer alone; otherwise the sum
-- of the transfers of those types (failed ones excepted) in the trailing
-- period.
CREATE TABLE transfer_limits (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    transfer_types TEXT NOT NULL,
    period_seconds BIGINT NOT NULL,
    limit_cents BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX transfer_limits_by_customer ON transfer_limits (customer_id)
