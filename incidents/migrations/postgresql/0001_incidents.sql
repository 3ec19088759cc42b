-- Incidents, their append-only history and the counters for ids and change sequence numbers.
CREATE TABLE counters (
    name  text PRIMARY KEY,
    value bigint NOT NULL
);
INSERT INTO counters (name, value) VALUES ('change_seq', 0), ('incident_id', 0);

CREATE TABLE incidents (
    id          text PRIMARY KEY,
    num         bigint NOT NULL UNIQUE,
    agency      text NOT NULL,
    external_id text,
    type        text NOT NULL,
    severity    text NOT NULL,
    status      text NOT NULL,
    start_at    timestamptz NOT NULL,
    end_at      timestamptz,
    min_lon     double precision NOT NULL,
    min_lat     double precision NOT NULL,
    max_lon     double precision NOT NULL,
    max_lat     double precision NOT NULL,
    version     integer NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    last_seq    bigint NOT NULL,
    doc         jsonb NOT NULL
);
CREATE UNIQUE INDEX incidents_agency_external_id
    ON incidents (agency, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX incidents_status ON incidents (status, num);
CREATE INDEX incidents_agency ON incidents (agency, num);

CREATE TABLE incident_history (
    seq         bigint PRIMARY KEY,
    incident_id text NOT NULL,
    version     integer,
    action      text NOT NULL,
    actor       text NOT NULL,
    recorded_at timestamptz NOT NULL,
    before_doc  jsonb,
    after_doc   jsonb
);
CREATE INDEX incident_history_incident ON incident_history (incident_id, seq);
CREATE INDEX incident_history_recorded ON incident_history (recorded_at, seq);

CREATE FUNCTION incident_history_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'incident_history is append-only';
END
$$;
CREATE TRIGGER incident_history_no_change BEFORE UPDATE OR DELETE ON incident_history
    FOR EACH ROW EXECUTE FUNCTION incident_history_append_only();
CREATE TRIGGER incident_history_no_truncate BEFORE TRUNCATE ON incident_history
    FOR EACH STATEMENT EXECUTE FUNCTION incident_history_append_only();
