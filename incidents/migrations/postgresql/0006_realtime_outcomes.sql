-- GTFS-Realtime log: whether a message is a full dataset (replay starts at the last one per feed
-- and kind), and refused messages too (outcome 'rejected', reason and detail, empty body), so
-- every process reports the same feed status. A lease table elects the one process that polls.
ALTER TABLE realtime_messages ADD COLUMN full_dataset boolean NOT NULL DEFAULT true;
ALTER TABLE realtime_messages ADD COLUMN outcome text NOT NULL DEFAULT 'accepted';
ALTER TABLE realtime_messages ADD COLUMN reason text;
ALTER TABLE realtime_messages ADD COLUMN detail text;

CREATE TABLE leases (
    name       text PRIMARY KEY,
    holder     text NOT NULL,
    expires_at timestamptz NOT NULL
);
