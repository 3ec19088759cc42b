-- GTFS-Realtime log: whether a message is a full dataset (replay starts at the last one per feed
-- and kind), and refused messages too (outcome 'rejected', reason and detail, empty body), so
-- every process reports the same feed status. A lease table elects the one process that polls.
ALTER TABLE realtime_messages ADD COLUMN full_dataset INTEGER NOT NULL DEFAULT 1;
ALTER TABLE realtime_messages ADD COLUMN outcome TEXT NOT NULL DEFAULT 'accepted';
ALTER TABLE realtime_messages ADD COLUMN reason TEXT;
ALTER TABLE realtime_messages ADD COLUMN detail TEXT;

CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
