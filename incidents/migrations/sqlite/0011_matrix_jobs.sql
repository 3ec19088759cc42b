-- Matrix jobs: travel-time matrices above the synchronous limit, accepted by
-- POST /v1/matrix/jobs and run in the background. A job survives a restart: an accepted
-- job stays queued, and a running job whose heartbeat stopped is queued again.
CREATE TABLE matrix_jobs (
    id            TEXT PRIMARY KEY,
    status        TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    key_id        TEXT,            -- the submitting key, NULL for anonymous callers
    plan          TEXT NOT NULL,
    body          TEXT NOT NULL,   -- the request as JSON (same body as POST /v1/matrix)
    n_sources     INTEGER NOT NULL,
    n_targets     INTEGER NOT NULL,
    cost          INTEGER NOT NULL,
    progress      REAL NOT NULL DEFAULT 0,
    attempts      INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    started_at    TEXT,
    heartbeat_at  TEXT,
    finished_at   TEXT,
    error         TEXT,
    meta          TEXT,            -- JSON: live_version, depart_at, statistic, ...
    result        BLOB             -- NPZ: durations_s, distances_m, reason
);
CREATE INDEX matrix_jobs_status ON matrix_jobs (status, created_at);
