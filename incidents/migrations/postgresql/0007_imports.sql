-- WZDx / DATEX II imports: per agency and external id, the standard's version last applied,
-- the source (subscription or push) and DATEX II situation it came from, and the incident it
-- maps to — so a re-import changes nothing, a newer version updates, and a record gone from
-- a subscribed feed (or from a situation sent again) is ended.
CREATE TABLE import_records (
    agency         text NOT NULL,
    external_id    text NOT NULL,
    standard       text NOT NULL,
    source         text NOT NULL,
    group_id       text,
    source_version text,
    version_time   timestamptz,
    incident_id    text NOT NULL,
    imported_at    timestamptz NOT NULL,
    PRIMARY KEY (agency, external_id)
);
CREATE INDEX import_records_source ON import_records (agency, source);
CREATE INDEX import_records_group ON import_records (agency, group_id);
