-- Dashboard sign-in: sessions (the cookie's token kept only as its SHA-256,
-- with the session's CSRF token), and failed sign-ins per email, which lock
-- the email for a while after too many.
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
