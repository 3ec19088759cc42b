-- GTFS-Realtime: an append-only log of accepted feed messages every process follows, and the
-- transit_agency key role (a key scoped to one static feed may push that feed's realtime data).
INSERT INTO counters (name, value) VALUES ('realtime_seq', 0);

CREATE TABLE realtime_messages (
    seq         INTEGER PRIMARY KEY,
    feed_id     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    source      TEXT NOT NULL,
    received_at TEXT NOT NULL,
    header_at   TEXT,
    body        BLOB NOT NULL
);
CREATE INDEX realtime_messages_feed ON realtime_messages (feed_id, kind, seq);

CREATE TABLE api_keys_new (
    key_id        TEXT PRIMARY KEY,
    secret_sha256 TEXT NOT NULL,
    role          TEXT NOT NULL
                  CHECK (role IN ('reader', 'traffic_centre', 'transit_agency', 'admin')),
    agency        TEXT,
    label         TEXT,
    created_at    TEXT NOT NULL,
    revoked_at    TEXT
);
INSERT INTO api_keys_new SELECT key_id, secret_sha256, role, agency, label, created_at,
    revoked_at FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_new RENAME TO api_keys;
