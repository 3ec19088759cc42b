-- Incidents, their append-only history and the counters for ids and change sequence numbers.
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('change_seq', 0), ('incident_id', 0);

CREATE TABLE incidents (
    id          TEXT PRIMARY KEY,
    num         INTEGER NOT NULL UNIQUE,
    agency      TEXT NOT NULL,
    external_id TEXT,
    type        TEXT NOT NULL,
    severity    TEXT NOT NULL,
    status      TEXT NOT NULL,
    start_at    TEXT NOT NULL,
    end_at      TEXT,
    min_lon     REAL NOT NULL,
    min_lat     REAL NOT NULL,
    max_lon     REAL NOT NULL,
    max_lat     REAL NOT NULL,
    version     INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    last_seq    INTEGER NOT NULL,
    doc         TEXT NOT NULL
);
CREATE UNIQUE INDEX incidents_agency_external_id
    ON incidents (agency, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX incidents_status ON incidents (status, num);
CREATE INDEX incidents_agency ON incidents (agency, num);

CREATE TABLE incident_history (
    seq         INTEGER PRIMARY KEY,
    incident_id TEXT NOT NULL,
    version     INTEGER,
    action      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    before_doc  TEXT,
    after_doc   TEXT
);
CREATE INDEX incident_history_incident ON incident_history (incident_id, seq);
CREATE INDEX incident_history_recorded ON incident_history (recorded_at, seq);

CREATE TRIGGER incident_history_no_update BEFORE UPDATE ON incident_history
BEGIN
    SELECT RAISE(ABORT, 'incident_history is append-only');
END;
CREATE TRIGGER incident_history_no_delete BEFORE DELETE ON incident_history
BEGIN
    SELECT RAISE(ABORT, 'incident_history is append-only');
END;
