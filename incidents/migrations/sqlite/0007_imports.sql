-- WZDx / DATEX II imports: per agency and external id, the standard's version last applied,
-- the source (subscription or push) and DATEX II situation it came from, and the incident it
-- maps to — so a re-import changes nothing, a newer version updates, and a record gone from
-- a subscribed feed (or from a situation sent again) is ended.
CREATE TABLE import_records (
    agency         TEXT NOT NULL,
    external_id    TEXT NOT NULL,
    standard       TEXT NOT NULL,
    source         TEXT NOT NULL,
    group_id       TEXT,
    source_version TEXT,
    version_time   TEXT,
    incident_id    TEXT NOT NULL,
    imported_at    TEXT NOT NULL,
    PRIMARY KEY (agency, external_id)
);
CREATE INDEX import_records_source ON import_records (agency, source);
CREATE INDEX import_records_group ON import_records (agency, group_id);
