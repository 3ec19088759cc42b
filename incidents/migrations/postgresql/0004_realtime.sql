-- GTFS-Realtime: an append-only log of accepted feed messages every process follows, and the
-- transit_agency key role (a key scoped to one static feed may push that feed's realtime data).
INSERT INTO counters (name, value) VALUES ('realtime_seq', 0);

CREATE TABLE realtime_messages (
    seq         bigint PRIMARY KEY,
    feed_id     text NOT NULL,
    kind        text NOT NULL,
    source      text NOT NULL,
    received_at timestamptz NOT NULL,
    header_at   timestamptz,
    body        bytea NOT NULL
);
CREATE INDEX realtime_messages_feed ON realtime_messages (feed_id, kind, seq);

ALTER TABLE api_keys DROP CONSTRAINT IF EXISTS api_keys_role_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check
    CHECK (role IN ('reader', 'traffic_centre', 'transit_agency', 'admin'));
