-- Withdrawals are transfers that wait: PENDING until the settler (or a
-- sandbox call) sends or fails them. They debit a balance asset that may
-- differ from the asset sent (USD out as USDC), and may carry a fee, in the
-- asset sent. next_step_at is set only while one waits for the settler.
ALTER TABLE transfers ADD COLUMN fee_units BIGINT NOT NULL DEFAULT 0;
ALTER TABLE transfers ADD COLUMN balance_asset TEXT;
ALTER TABLE transfers ADD COLUMN balance_units BIGINT;
ALTER TABLE transfers ADD COLUMN next_step_at BIGINT;
CREATE INDEX transfers_due ON transfers (next_step_at) WHERE next_step_at IS NOT NULL;

-- The ref_ids of transfer requests (withdrawals, internal and Paxos
-- transfers), one namespace per customer: claimed in the request's
-- transaction, so a racing retry finds the first one's transfer.
CREATE TABLE transfer_requests (
    customer_id TEXT NOT NULL,
    ref_id TEXT NOT NULL,
    transfer_id TEXT NOT NULL,
    PRIMARY KEY (customer_id, ref_id)
);

-- Guaranteed crypto withdrawal fees: a quote a withdrawal may name by id
-- until it expires.
CREATE TABLE crypto_withdrawal_fees (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    asset TEXT NOT NULL,
    crypto_network TEXT NOT NULL,
    destination_address TEXT NOT NULL,
    amount TEXT,
    total TEXT,
    fee_units BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- A deactivated profile keeps its rows; it is hidden from lists and can
-- neither send nor receive.
ALTER TABLE profiles ADD COLUMN deactivated_at BIGINT
