-- Push: webhook subscriptions with their pending deliveries and delivery log, commute watches,
-- their notifications (a log with its own gap-free sequence number) and personal tokens.
INSERT INTO counters (name, value) VALUES ('notice_seq', 0), ('webhook_id', 0), ('watch_id', 0);

CREATE TABLE webhooks (
    id            TEXT PRIMARY KEY,
    num           INTEGER NOT NULL UNIQUE,
    owner         TEXT NOT NULL,
    url           TEXT NOT NULL,
    secret        TEXT NOT NULL,
    filter        TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('active', 'paused')),
    paused_reason TEXT,
    failures      INTEGER NOT NULL DEFAULT 0,
    cursor        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX webhooks_owner ON webhooks (owner, num);

CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    webhook_id      TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    claimed_until   TEXT,
    created_at      TEXT NOT NULL,
    delivered_at    TEXT,
    last_status     INTEGER,
    last_error      TEXT,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);

CREATE TABLE webhook_attempts (
    delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    webhook_id  TEXT NOT NULL,
    at          TEXT NOT NULL,
    status_code INTEGER,
    error       TEXT,
    duration_ms REAL NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
CREATE INDEX webhook_attempts_hook ON webhook_attempts (webhook_id, at);

CREATE TABLE watches (
    id         TEXT PRIMARY KEY,
    num        INTEGER NOT NULL UNIQUE,
    owner      TEXT NOT NULL,
    doc        TEXT NOT NULL,
    answer     TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX watches_owner ON watches (owner, num);

CREATE TABLE watch_notices (
    seq         INTEGER PRIMARY KEY,
    watch_id    TEXT NOT NULL,
    owner       TEXT NOT NULL,
    change_key  TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    body        TEXT NOT NULL,
    UNIQUE (watch_id, change_key)
);

CREATE TABLE personal_tokens (
    token_id      TEXT PRIMARY KEY,
    secret_sha256 TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    revoked_at    TEXT
);
