-- The schema as migrations 1 to 15 leave it: a fresh database gets this one
-- script instead of the fifteen (see `migrations.rs`). It was made from
-- a migrated database's own schema; the store's test
-- `the_snapshot_is_what_the_migrations_make` checks it against them on both
-- backends. New migrations go in their own scripts, never in here.

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
    created_at BIGINT NOT NULL,
    disabled_at BIGINT,
    updated_at BIGINT,
    user_id TEXT
);

CREATE TABLE profiles (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    nickname TEXT NOT NULL,
    description TEXT,
    kind TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deactivated_at BIGINT,
    account_id TEXT
);
CREATE UNIQUE INDEX profiles_nickname ON profiles (customer_id, nickname);
CREATE INDEX profiles_by_created ON profiles (customer_id, created_at, id);

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
CREATE INDEX conversions_by_created ON conversions (customer_id, created_at, id);
CREATE INDEX conversions_due ON conversions (settle_after) WHERE status = 'CREATED';

CREATE TABLE events (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    is_test BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX events_by_created ON events (customer_id, created_at, id);

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
CREATE INDEX crypto_addresses_by_created ON crypto_addresses (customer_id, created_at, id);

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
    updated_at BIGINT NOT NULL,
    fee_units BIGINT NOT NULL DEFAULT 0,
    balance_asset TEXT,
    balance_units BIGINT,
    next_step_at BIGINT
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
CREATE INDEX orchestrations_due ON orchestrations (next_step_at) WHERE status = 'PROCESSING';

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

CREATE TABLE webhook_subscriptions (
    customer_id TEXT NOT NULL,
    type TEXT NOT NULL,
    webhook_id TEXT NOT NULL,
    PRIMARY KEY (customer_id, type, webhook_id)
);

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
CREATE INDEX events_by_type ON events (customer_id, type, created_at, id);

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

CREATE TABLE deposits (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    dedupe_key TEXT NOT NULL,
    transfer_id TEXT NOT NULL,
    orchestration_id TEXT,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX deposits_dedupe ON deposits (dedupe_key);
CREATE UNIQUE INDEX conversions_ref_id ON conversions (customer_id, ref_id) WHERE ref_id IS NOT NULL;
CREATE INDEX transfers_due ON transfers (next_step_at) WHERE next_step_at IS NOT NULL;

CREATE TABLE transfer_requests (
    customer_id TEXT NOT NULL,
    ref_id TEXT NOT NULL,
    transfer_id TEXT NOT NULL,
    PRIMARY KEY (customer_id, ref_id)
);

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
CREATE INDEX credentials_by_customer ON credentials (customer_id, created_at, client_id);

CREATE TABLE transfer_limits (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    transfer_types TEXT NOT NULL,
    period_seconds BIGINT NOT NULL,
    limit_cents BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX transfer_limits_by_customer ON transfer_limits (customer_id);

CREATE TABLE identities (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    ref_id TEXT,
    type TEXT NOT NULL,
    details TEXT NOT NULL,
    metadata TEXT,
    id_verification_status TEXT NOT NULL,
    sanctions_verification_status TEXT NOT NULL,
    document_verification_status TEXT NOT NULL,
    additional_screening_status TEXT NOT NULL,
    user_disabled BIGINT NOT NULL DEFAULT 0,
    admin_disabled BIGINT NOT NULL DEFAULT 0,
    summary_status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX identities_ref_id ON identities (customer_id, ref_id) WHERE ref_id IS NOT NULL;
CREATE INDEX identities_by_created ON identities (customer_id, created_at, id);

CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    identity_id TEXT NOT NULL REFERENCES identities (id),
    ref_id TEXT,
    description TEXT,
    metadata TEXT,
    members TEXT,
    type TEXT,
    user_disabled BIGINT NOT NULL DEFAULT 0,
    profile_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX accounts_ref_id ON accounts (customer_id, ref_id) WHERE ref_id IS NOT NULL;
CREATE INDEX accounts_by_created ON accounts (customer_id, created_at, id);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    email TEXT NOT NULL,
    roles TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (customer_id, email);
CREATE INDEX users_by_created ON users (customer_id, created_at, id);

CREATE TABLE approval_policies (
    customer_id TEXT NOT NULL REFERENCES customers (id),
    action TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    approvals_required BIGINT NOT NULL,
    updated_by TEXT,
    updated_at BIGINT NOT NULL,
    tiers TEXT NOT NULL DEFAULT '[]',
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
    updated_at BIGINT NOT NULL,
    amount_cents BIGINT,
    approver_roles TEXT NOT NULL DEFAULT 'APPROVER',
    proposal TEXT
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
CREATE UNIQUE INDEX approval_acts_one_approval ON approval_acts (request_id, user_id) WHERE act = 'APPROVED';
CREATE INDEX approval_requests_by_object ON approval_requests (object_id);

CREATE TABLE dashboard_sessions (
    token_hash TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE dashboard_sign_ins (
    email TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    locked_until BIGINT
);
CREATE INDEX users_by_email ON users (email);
CREATE INDEX journal_entries_by_reference ON journal_entries (reference_id);
CREATE INDEX postings_by_entry ON postings (entry_id);
CREATE INDEX events_by_object ON events (object_id);

CREATE TABLE samples (
    taken_at BIGINT PRIMARY KEY
);

CREATE TABLE balance_history (
    customer_id TEXT NOT NULL,
    asset TEXT NOT NULL,
    taken_at BIGINT NOT NULL,
    available BIGINT NOT NULL,
    PRIMARY KEY (customer_id, taken_at, asset)
);

CREATE TABLE volume_history (
    customer_id TEXT NOT NULL,
    asset TEXT NOT NULL,
    taken_at BIGINT NOT NULL,
    units BIGINT NOT NULL,
    PRIMARY KEY (customer_id, taken_at, asset)
);
