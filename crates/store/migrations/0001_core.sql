CREATE TABLE server_keys (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE customers (
    id TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);

CREATE TABLE credentials (
    client_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    secret_salt TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE profiles (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    nickname TEXT NOT NULL,
    description TEXT,
    kind TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX profiles_nickname ON profiles (customer_id, nickname);
CREATE INDEX profiles_by_created ON profiles (customer_id, created_at, id);

-- Stored balances of profile accounts, checked on every debit. System
-- accounts have no row: their balance is the sum of their postings, which
-- keeps them from becoming a lock every write would queue on.
CREATE TABLE balances (
    profile_id TEXT NOT NULL REFERENCES profiles (id),
    asset TEXT NOT NULL,
    available BIGINT NOT NULL,
    PRIMARY KEY (profile_id, asset)
);

CREATE TABLE journal_entries (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    reference_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE postings (
    entry_id TEXT NOT NULL,
    account TEXT NOT NULL,
    asset TEXT NOT NULL,
    amount BIGINT NOT NULL
);
CREATE INDEX postings_by_account ON postings (account, asset);
CREATE INDEX postings_by_entry ON postings (entry_id);

CREATE TABLE conversions (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    profile_id TEXT NOT NULL,
    recipient_profile_id TEXT,
    amount TEXT NOT NULL,
    source_asset TEXT NOT NULL,
    target_asset TEXT NOT NULL,
    source_units BIGINT NOT NULL,
    target_units BIGINT NOT NULL,
    status TEXT NOT NULL,
    ref_id TEXT,
    identity_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    metadata TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    settled_at BIGINT,
    cancelled_at BIGINT,
    settle_after BIGINT
);
CREATE UNIQUE INDEX conversions_ref_id ON conversions (customer_id, ref_id);
CREATE INDEX conversions_by_created ON conversions (customer_id, created_at, id);
CREATE INDEX conversions_due ON conversions (settle_after) WHERE status = 'CREATED';

-- The outbox: every state change writes its event in the same transaction.
CREATE TABLE events (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX events_by_created ON events (customer_id, created_at, id);
