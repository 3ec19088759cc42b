-- API keys: only a SHA-256 of the token is stored; key_id is the non-secret lookup prefix.
CREATE TABLE api_keys (
    key_id        TEXT PRIMARY KEY,
    secret_sha256 TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('reader', 'traffic_centre', 'admin')),
    agency        TEXT,
    label         TEXT,
    created_at    TEXT NOT NULL,
    revoked_at    TEXT
);
