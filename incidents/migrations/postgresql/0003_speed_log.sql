-- Live speed observations: an append-only log of validated batches that every process follows.
INSERT INTO counters (name, value) VALUES ('speed_seq', 0);

CREATE TABLE speed_batches (
    seq            bigint PRIMARY KEY,
    snapshot_id    text NOT NULL,
    actor          text NOT NULL,
    recorded_at    timestamptz NOT NULL,
    observed_until timestamptz NOT NULL,
    n_obs          integer NOT NULL,
    body           text NOT NULL
);
CREATE INDEX speed_batches_observed ON speed_batches (observed_until, seq);
