-- API keys: only a SHA-256 of the token is stored; key_id is the non-secret lookup prefix.
CREATE TABLE api_keys (
    key_id        text PRIMARY KEY,
    secret_sha256 text NOT NULL,
    role          text NOT NULL CHECK (role IN ('reader', 'traffic_centre', 'admin')),
    agency        text,
    label         text,
    created_at    timestamptz NOT NULL,
    revoked_at    timestamptz
);
