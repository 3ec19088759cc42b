-- Matrix jobs: travel-time matrices above the synchronous limit, accepted by
-- POST /v1/matrix/jobs and run in the background. A job survives a restart: an accepted
-- job stays queued, and a running job whose heartbeat stopped is queued again.
CREATE TABLE matrix_jobs (
    id            text PRIMARY KEY,
    status        text NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    key_id        text,            -- the submitting key, NULL for anonymous callers
    plan          text NOT NULL,
    body          text NOT NULL,   -- the request as JSON (same body as POST /v1/matrix)
    n_sources     integer NOT NULL,
    n_targets     integer NOT NULL,
    cost          integer NOT NULL,
    progress      double precision NOT NULL DEFAULT 0,
    attempts      integer NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL,
    started_at    timestamptz,
    heartbeat_at  timestamptz,
    finished_at   timestamptz,
    error         text,
    meta          text,            -- JSON: live_version, depart_at, statistic, ...
    result        bytea            -- NPZ: durations_s, distances_m, reason
);
CREATE INDEX matrix_jobs_status ON matrix_jobs (status, created_at);
