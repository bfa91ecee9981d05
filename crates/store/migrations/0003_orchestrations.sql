-- Every movement a customer can see, as the Transfers API shows it.
CREATE TABLE transfers (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    profile_id TEXT NOT NULL,
    identity_id TEXT,
    account_id TEXT,
    ref_id TEXT,
    type TEXT NOT NULL,
    direction TEXT NOT NULL,
    status TEXT NOT NULL,
    asset TEXT NOT NULL,
    units BIGINT NOT NULL,
    crypto_network TEXT,
    crypto_tx_hash TEXT,
    destination_address TEXT,
    fiat_account_id TEXT,
    memo TEXT,
    group_id TEXT,
    metadata TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX transfers_by_created ON transfers (customer_id, created_at, id);
CREATE INDEX transfers_by_group ON transfers (group_id);

CREATE TABLE orchestrations (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    profile_id TEXT NOT NULL,
    identity_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    ref_id TEXT NOT NULL,
    source_asset TEXT NOT NULL,
    destination_asset TEXT NOT NULL,
    source_amount TEXT NOT NULL,
    source_units BIGINT NOT NULL,
    destination_units BIGINT NOT NULL,
    destination_kind TEXT NOT NULL,
    destination_id TEXT NOT NULL,
    destination_memo TEXT,
    destination_address TEXT,
    destination_network TEXT,
    status TEXT NOT NULL,
    fail_reason TEXT,
    orchestration_rule_id TEXT,
    source_transfer_id TEXT NOT NULL,
    destination_transfer_id TEXT NOT NULL,
    metadata TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    next_step_at BIGINT
);
CREATE UNIQUE INDEX orchestrations_ref_id ON orchestrations (customer_id, ref_id);
CREATE INDEX orchestrations_by_created ON orchestrations (customer_id, created_at, id);
CREATE INDEX orchestrations_due ON orchestrations (next_step_at) WHERE status = 'PROCESSING'
