-- Identities and accounts of third-party integrations. What the API
-- validated and nothing filters on (person or institution details, tax
-- details, members) is kept as JSON; the verification statuses, which the
-- sandbox sets and transfers check, have columns of their own, and so does
-- their summary, which lists filter on.
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

-- The account a profile was created for (CreateAccount with create_profile).
ALTER TABLE profiles ADD COLUMN account_id TEXT
