-- Live speed observations: an append-only log of validated batches that every process follows.
INSERT INTO counters (name, value) VALUES ('speed_seq', 0);

CREATE TABLE speed_batches (
    seq            INTEGER PRIMARY KEY,
    snapshot_id    TEXT NOT NULL,
    actor          TEXT NOT NULL,
    recorded_at    TEXT NOT NULL,
    observed_until TEXT NOT NULL,
    n_obs          INTEGER NOT NULL,
    body           TEXT NOT NULL
);
CREATE INDEX speed_batches_observed ON speed_batches (observed_until, seq);
