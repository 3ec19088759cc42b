-- API plans and fair use: a key's plan (quotas per minute and per day), expiry and the area
-- its writes are limited to; usage per key, day and operation; shared quota counters (the
-- store backend of api.quotas, when several workers share no Redis); the audit of writes
-- through the API (key id and client address).
ALTER TABLE api_keys ADD COLUMN plan text NOT NULL DEFAULT 'standard'
    CHECK (plan IN ('open', 'standard', 'partner'));
ALTER TABLE api_keys ADD COLUMN expires_at timestamptz;
-- W,S,E,N in degrees (NULL: anywhere)
ALTER TABLE api_keys ADD COLUMN area_bbox text;

CREATE TABLE api_usage (
    key_id     text NOT NULL,   -- a key id, or 'anonymous'
    day        text NOT NULL,   -- UTC date, YYYY-MM-DD
    operation  text NOT NULL,
    requests   bigint NOT NULL DEFAULT 0,
    cost       bigint NOT NULL DEFAULT 0,
    rejected   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, day, operation)
);

CREATE UNLOGGED TABLE quota_counters (
    bucket     text PRIMARY KEY,
    used       bigint NOT NULL,
    expires_s  bigint NOT NULL  -- Unix seconds after which the bucket is dropped
);
CREATE INDEX quota_counters_expiry ON quota_counters (expires_s);

CREATE TABLE api_audit (
    id      bigserial PRIMARY KEY,
    at      timestamptz NOT NULL,
    key_id  text,
    client  text,
    method  text NOT NULL,
    path    text NOT NULL,
    status  integer NOT NULL
);
CREATE INDEX api_audit_key ON api_audit (key_id, at);
