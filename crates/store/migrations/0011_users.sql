-- The people of a customer, with their roles (comma-separated, from a fixed
-- list) and an argon2id password hash (PHC string). A disabled user keeps
-- its row: what it did stays attributed to it.
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

-- A credential acts for a user (who submitted, who approved), or for the
-- customer itself (a machine credential) when NULL.
ALTER TABLE credentials ADD COLUMN user_id TEXT
