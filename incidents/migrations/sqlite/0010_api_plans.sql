-- API plans and fair use: a key's plan (quotas per minute and per day), expiry and the area
-- its writes are limited to; usage per key, day and operation; shared quota counters (the
-- store backend of api.quotas, when several workers share no Redis); the audit of writes
-- through the API (key id and client address).
ALTER TABLE api_keys ADD COLUMN plan TEXT NOT NULL DEFAULT 'standard'
    CHECK (plan IN ('open', 'standard', 'partner'));
ALTER TABLE api_keys ADD COLUMN expires_at TEXT;
-- W,S,E,N in degrees (NULL: anywhere)
ALTER TABLE api_keys ADD COLUMN area_bbox TEXT;

CREATE TABLE api_usage (
    key_id     TEXT NOT NULL,   -- a key id, or 'anonymous'
    day        TEXT NOT NULL,   -- UTC date, YYYY-MM-DD
    operation  TEXT NOT NULL,
    requests   INTEGER NOT NULL DEFAULT 0,
    cost       INTEGER NOT NULL DEFAULT 0,
    rejected   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, day, operation)
);

CREATE TABLE quota_counters (
    bucket     TEXT PRIMARY KEY,
    used       INTEGER NOT NULL,
    expires_s  INTEGER NOT NULL  -- Unix seconds after which the bucket is dropped
);
CREATE INDEX quota_counters_expiry ON quota_counters (expires_s);

CREATE TABLE api_audit (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      TEXT NOT NULL,
    key_id  TEXT,
    client  TEXT,
    method  TEXT NOT NULL,
    path    TEXT NOT NULL,
    status  INTEGER NOT NULL
);
CREATE INDEX api_audit_key ON api_audit (key_id, at);
