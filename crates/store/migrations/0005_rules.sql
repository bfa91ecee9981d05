-- Addresses on chains where deposits for a profile arrive. An address is
-- unique on its network, and a rule's address carries the rule's id.
CREATE TABLE deposit_addresses (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    profile_id TEXT NOT NULL,
    identity_id TEXT,
    account_id TEXT,
    ref_id TEXT,
    crypto_network TEXT NOT NULL,
    address TEXT NOT NULL,
    conversion_target_asset TEXT NOT NULL,
    metadata TEXT,
    rule_id TEXT,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX deposit_addresses_address ON deposit_addresses (crypto_network, address);
CREATE UNIQUE INDEX deposit_addresses_ref_id ON deposit_addresses (customer_id, ref_id);
CREATE INDEX deposit_addresses_by_created ON deposit_addresses (customer_id, created_at, id);

-- Bank details plus a memo_id that routes a wire to a profile.
CREATE TABLE fiat_deposit_instructions (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    profile_id TEXT NOT NULL,
    identity_id TEXT,
    account_id TEXT,
    ref_id TEXT,
    fiat_network TEXT NOT NULL,
    routing_number_type TEXT,
    memo_id TEXT NOT NULL,
    status TEXT NOT NULL,
    metadata TEXT,
    rule_id TEXT,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX fiat_deposit_instructions_memo ON fiat_deposit_instructions (memo_id);
CREATE UNIQUE INDEX fiat_deposit_instructions_ref_id ON fiat_deposit_instructions (customer_id, ref_id);
CREATE INDEX fiat_deposit_instructions_by_created ON fiat_deposit_instructions (customer_id, created_at, id);

CREATE TABLE orchestration_rules (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    profile_id TEXT NOT NULL,
    identity_id TEXT,
    account_id TEXT,
    ref_id TEXT NOT NULL,
    nickname TEXT,
    status TEXT NOT NULL,
    source_asset TEXT NOT NULL,
    destination_asset TEXT NOT NULL,
    source_kind TEXT NOT NULL,
    source_network TEXT NOT NULL,
    source_account_type TEXT,
    source_id TEXT NOT NULL,
    destination_kind TEXT NOT NULL,
    destination_id TEXT NOT NULL,
    destination_memo TEXT,
    destination_address TEXT,
    destination_network TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX orchestration_rules_ref_id ON orchestration_rules (customer_id, ref_id);
CREATE INDEX orchestration_rules_by_created ON orchestration_rules (customer_id, created_at, id);

-- Every deposit processed, keyed so that the same chain transaction or wire
-- reference is credited once however often it is reported.
CREATE TABLE deposits (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    dedupe_key TEXT NOT NULL,
    transfer_id TEXT NOT NULL,
    orchestration_id TEXT,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX deposits_dedupe ON deposits (dedupe_key)
