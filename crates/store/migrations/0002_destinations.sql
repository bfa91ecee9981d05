-- Fiat accounts: where USD withdrawals go. The owner and the network
-- instructions are kept as the JSON the API validated, since nothing filters
-- on their inner fields. A PENDING account with approve_after set is approved
-- by the approver once that time has come. With approve_after NULL it waits
-- for a sandbox decision. A deleted account keeps its row (and its ref_id)
-- with deleted_at set.
CREATE TABLE fiat_accounts (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    ref_id TEXT,
    identity_id TEXT,
    account_id TEXT,
    owner TEXT NOT NULL,
    network TEXT NOT NULL,
    instructions TEXT NOT NULL,
    status TEXT NOT NULL,
    metadata TEXT,
    fail_withdrawals BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    approve_after BIGINT,
    deleted_at BIGINT
);
CREATE UNIQUE INDEX fiat_accounts_ref_id ON fiat_accounts (customer_id, ref_id);
CREATE INDEX fiat_accounts_by_created ON fiat_accounts (customer_id, created_at, id);
CREATE INDEX fiat_accounts_due ON fiat_accounts (approve_after) WHERE status = 'PENDING';

-- Crypto destination addresses, one row per address and network, with the
-- address in its canonical form (EIP-55 on EVM networks).
CREATE TABLE crypto_addresses (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    network TEXT NOT NULL,
    address TEXT NOT NULL,
    nickname TEXT NOT NULL,
    bookmarked BIGINT NOT NULL DEFAULT 0,
    travelrule_metadata TEXT,
    status TEXT NOT NULL,
    fail_withdrawals BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX crypto_addresses_by_address ON crypto_addresses (customer_id, network, address);
CREATE INDEX crypto_addresses_by_created ON crypto_addresses (customer_id, created_at, id)
