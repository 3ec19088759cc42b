"""WZDx and DATEX II adapters without a store: every real sample in
``../shared/data/incidents`` yields its per-record report, hostile and foreign documents are
refused whole, ALERT-C tables and OpenLR locate records, and citynav's DATEX II 3 output is
well-formed in the v3 namespaces and reads back."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import defusedxml.ElementTree as SafeET
import pytest

from incidents.adapters.alertc import LocationTableError, LocationTables
from incidents.adapters.common import DocumentRefused, Outcome
from incidents.adapters.datex2 import (
    NS2,
    NS3_COM,
    NS3_LOC,
    NS3_PAYLOAD,
    NS3_SIT,
    parse_datex2,
    situation_publication,
)
from incidents.adapters.openlr import OpenLRError, decode_line
from incidents.adapters.wzdx import parse_wzdx, wzdx_feed
from incidents.imports import detect_format, parse_document
from incidents.model import Incident
from tests.incidents.wzdx_schema import shared_incident_files, wzdx_errors

DATEX_FILES = shared_incident_files("fintraffic-datex2", "*.xml")
DIGITRAFFIC_JSON = shared_incident_files("fintraffic-datex2", "*.json")
WZDX_FILES = shared_incident_files("wzdx-spec-examples", "*.geojson")

#: records per file, as the data README describes them
DATEX_RECORDS = {
    "TrafficSituationAccidentAndRoadOrCarriagewayOrLaneManagement.xml": 5,
    "TrafficSituationGeneralNetworkManagement.xml": 9,
    "TrafficSituationAbnormalTraffic.xml": 3,
    "TrafficSituationPublicEvent.xml": 2,
    "TrafficSituationIceRoadClosed.xml": 1,
    "TrafficSituationVehicleObstructionAndRoadOrCarriagewayOrLaneManagement.xml": 2,
    "Roadwork.xml": 8,
    "Datex2_2017-08-10-15-59-34-896.xml": 3,
    "Datex2_2019-11-26-14-35-08-487.xml": 5,
    "datex2v35_GUID50456943.xml": 1,
    "datex2v35_GUID50459771.xml": 1,
}


def _need(files: list[Path]) -> None:
    if not files:
        pytest.skip("shared incident samples not available")


# ---------------------------------------------------------------------------------------------
# Real samples
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", DATEX_FILES, ids=lambda p: p.name)
def test_every_fintraffic_datex2_file_yields_a_report(path: Path) -> None:
    doc = parse_datex2(path.read_bytes())
    assert doc.standard == "datex2"
    assert doc.standard_version == ("3" if path.name.startswith("datex2v35") else "2")
    assert doc.publisher is not None and doc.publisher.upper() == "FI/FTA"
    assert len(doc.records) == DATEX_RECORDS[path.name]
    for rec in doc.records:
        assert rec.external_id.startswith("datex2:GUID")
        assert rec.version and rec.kind
        # every record is either mapped or refused with a reason, never both nor neither
        assert (rec.fields is None) != (rec.problem is None), rec
        # the Finnish messages are located by ALERT-C (table 17) or not at all
        assert rec.fields is None
        outcome, reason = rec.problem  # type: ignore[misc]
        assert outcome in (Outcome.UNLOCATABLE, Outcome.UNSUPPORTED, Outcome.INVALID)
        if outcome == Outcome.UNLOCATABLE and "ALERT-C" in reason:
            assert reason == "unlocatable: ALERT-C table 17 not loaded"


def test_fintraffic_samples_report_what_they_hold() -> None:
    _need(DATEX_FILES)
    by_name = {p.name: parse_datex2(p.read_bytes()) for p in DATEX_FILES}
    acc = by_name["TrafficSituationAccidentAndRoadOrCarriagewayOrLaneManagement.xml"].records
    assert [r.kind for r in acc] == ["Accident", "RoadOrCarriagewayOrLaneManagement",
                                     "AbnormalTraffic", "Accident", "GeneralObstruction"]
    assert acc[0].version == "6" and acc[0].group == "GUID50395125"
    # records without a location of their own (an empty groupOfLocations) say so
    assert acc[1].problem == (Outcome.UNLOCATABLE, "unlocatable: its groupOfLocations (Point) "
                              "is empty")
    # placeholder times in the test resource are invalid, with the field named
    assert acc[3].problem is not None and acc[3].problem[0] == Outcome.INVALID
    assert "overallStartTime" in acc[3].problem[1]
    gnm = by_name["TrafficSituationGeneralNetworkManagement.xml"].records
    assert (Outcome.UNSUPPORTED, "DATEX II record type 'GeneralNetworkManagement' is not "
            "imported") in [r.problem for r in gnm]
    # lifeCycleManagement end=true: the source ends the record
    assert any(r.ended for r in gnm)
    v35 = by_name["datex2v35_GUID50456943.xml"].records[0]
    assert v35.kind == "TransitInformation"
    assert v35.problem == (Outcome.UNLOCATABLE, "unlocatable: ALERT-C table 17 not loaded")


@pytest.mark.parametrize("path", DIGITRAFFIC_JSON, ids=lambda p: p.name)
def test_digitraffic_geojson_is_not_taken_for_wzdx(path: Path) -> None:
    with pytest.raises(DocumentRefused) as err:
        parse_document(path.read_bytes())
    assert err.value.status == 422
    assert "not a WZDx feed" in err.value.detail


@pytest.mark.parametrize("path", WZDX_FILES, ids=lambda p: p.name)
def test_every_wzdx_example_yields_a_report(path: Path) -> None:
    doc = parse_wzdx(path.read_bytes())
    assert doc.standard == "wzdx" and doc.standard_version == "4.2"
    assert doc.records
    for rec in doc.records:
        assert rec.external_id.startswith("wzdx:")
        assert (rec.fields is None) != (rec.problem is None), rec


def test_wzdx_examples_map_their_fields() -> None:
    _need(WZDX_FILES)
    docs = {p.name: parse_wzdx(p.read_bytes()) for p in WZDX_FILES}
    arrow = docs["arrow_board_ok_example.geojson"].records
    assert len(arrow) == 1 and arrow[0].problem is not None
    assert arrow[0].problem[0] == Outcome.UNSUPPORTED and "arrow-board" in arrow[0].problem[1]
    s1 = docs["scenario1_simple_linestring_example.geojson"].records
    assert len(s1) == 5 and all(r.fields and r.fields["type"] == "roadworks" for r in s1)
    s4 = docs["scenario4_detour_linestring_example.geojson"].records
    assert sorted(r.kind for r in s4) == ["detour", "detour", "detour", "work-zone"]
    assert all(r.fields is not None for r in s4)
    (s6,) = docs["scenario6_multi_lane_closure_linestring_example.geojson"].records
    f = s6.fields
    assert f is not None
    # 5 lanes: two shoulders (not driving lanes) and 3 general lanes, 2 of them closed
    assert f["lanes"] == {"total": 3, "closed": 2}
    assert f["road_effect"] == {"speed_limit_kmh": 88.5}
    assert f["severity"] == "moderate" and f["direction"] == "forward"
    assert f["start"] == "2010-01-02T08:00:00Z" and f["end"] == "2010-03-31T23:00:00Z"
    assert f["description"]["en"].startswith("Multi-lane closure example")
    assert "reduced-width 16 feet" in f["description"]["en"]
    assert s6.version == "2010-01-03T01:51:43Z"


def test_the_wzdx_schema_validator_can_fail() -> None:
    _need(WZDX_FILES)
    path = next(p for p in WZDX_FILES if p.name.startswith("scenario1"))
    doc = json.loads(path.read_text())
    assert wzdx_errors(doc) == []
    bad_time = json.loads(path.read_text())
    bad_time["features"][0]["properties"]["end_date"] = "2010-13-02 01:00"
    assert wzdx_errors(bad_time)  # date-time formats are checked
    del doc["features"][0]["properties"]["start_date"]
    assert wzdx_errors(doc)


# ---------------------------------------------------------------------------------------------
# Hostile and foreign documents
# ---------------------------------------------------------------------------------------------
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<d2LogicalModel xmlns="http://datex2.eu/schema/2/2_0">&lol9;</d2LogicalModel>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE d2LogicalModel [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<d2LogicalModel xmlns="http://datex2.eu/schema/2/2_0"><x>&xxe;</x></d2LogicalModel>"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE d2LogicalModel SYSTEM "http://127.0.0.1:9/evil.dtd">
<d2LogicalModel xmlns="http://datex2.eu/schema/2/2_0"/>"""
WRONG_NS = b"""<?xml version="1.0"?>
<d2LogicalModel xmlns="http://example.org/not-datex"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <payloadPublication xsi:type="SituationPublication"/></d2LogicalModel>"""
NO_NS = b"""<d2LogicalModel><payloadPublication/></d2LogicalModel>"""
MEASURED = (f'<d2LogicalModel xmlns="{NS2}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-'
            'instance"><payloadPublication xsi:type="MeasuredDataPublication"/>'
            '</d2LogicalModel>').encode()


@pytest.mark.parametrize(("body", "code"), [
    (BILLION_LAUGHS, "xml-forbidden"),
    (XXE, "xml-forbidden"),
    (EXTERNAL_DTD, "xml-forbidden"),
    (WRONG_NS, "wrong-namespace"),
    (NO_NS, "wrong-namespace"),
    (MEASURED, "document-refused"),
    (b"<d2LogicalModel xmlns='http://datex2.eu/schema/2/2_0'><unclosed>", "invalid-xml"),
], ids=["billion-laughs", "xxe", "external-dtd", "wrong-namespace", "no-namespace",
        "measured-data", "malformed"])
def test_hostile_and_foreign_xml_is_refused_whole(body: bytes, code: str) -> None:
    with pytest.raises(DocumentRefused) as err:
        parse_datex2(body)
    assert err.value.status == 422
    assert err.value.code == code, err.value.detail


def test_huge_documents_are_refused_before_parsing() -> None:
    huge = b"<d2LogicalModel xmlns='http://datex2.eu/schema/2/2_0'>" + b" " * (17 << 20)
    with pytest.raises(DocumentRefused) as err:
        parse_datex2(huge + b"</d2LogicalModel>")
    assert err.value.status == 413
    with pytest.raises(DocumentRefused) as err:
        parse_wzdx(b'{"feed_info": {}, "x": "' + b"a" * (17 << 20) + b'"}')
    assert err.value.status == 413


@pytest.mark.parametrize(("body", "fragment"), [
    (b"[1, 2]", "JSON object"),
    (b"{not json", "not JSON"),
    (b"[" * 200_000 + b"]" * 200_000, "JSON"),
    (b'{"type": "FeatureCollection", "features": []}', "no feed_info"),
    (b'{"road_event_feed_info": {"version": "3.1"}, "type": "FeatureCollection", '
     b'"features": []}', "version '3.1'"),
    (b'{"feed_info": {"version": "4.2"}, "type": "Feature"}', "FeatureCollection"),
], ids=["array", "malformed", "deep-nesting", "geojson-without-feed-info", "wzdx-3",
        "not-collection"])
def test_json_that_is_not_a_wzdx_4_feed_is_refused(body: bytes, fragment: str) -> None:
    with pytest.raises(DocumentRefused) as err:
        parse_document(body, "wzdx")
    assert err.value.status == 422 and fragment in err.value.detail


def test_format_detection() -> None:
    assert detect_format(b"  \n<?xml version='1.0'?><x/>") == "datex2"
    assert detect_format("\ufeff{}") == "wzdx"
    with pytest.raises(DocumentRefused) as err:
        detect_format(b"GIF89a")
    assert err.value.status == 415


def test_bad_wzdx_features_are_reported_one_by_one() -> None:
    feed = {"feed_info": {"version": "4.1"}, "type": "FeatureCollection", "features": [
        "not an object",
        {"type": "Feature", "properties": {}},
        {"id": "a", "type": "Feature", "properties": {"core_details": {
            "event_type": "restriction"}}},
        {"id": "b", "type": "Feature", "properties": {"core_details": {
            "event_type": "work-zone"}}, "geometry": {"type": "Polygon", "coordinates": []}},
        {"id": "c", "type": "Feature", "properties": {"core_details": {
            "event_type": "work-zone"}, "start_date": "yesterday"},
         "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}},
        {"id": "d", "type": "Feature", "properties": {"core_details": {
            "event_type": "work-zone"}, "start_date": "2026-01-01T00:00:00Z",
            "event_status": "completed"},
         "geometry": {"type": "MultiPoint", "coordinates": [[-84.5, 39.1]]}},
    ]}
    recs = parse_wzdx(feed).records
    assert [r.problem[0] if r.problem else None for r in recs] == [
        Outcome.INVALID, Outcome.INVALID, Outcome.UNSUPPORTED, Outcome.INVALID,
        Outcome.INVALID, None]
    assert recs[5].ended and recs[5].fields is not None
    assert recs[5].fields["geometry"] == {"type": "Point", "coordinates": [-84.5, 39.1]}
    assert "start_date" in recs[4].problem[1]  # type: ignore[index]


# ---------------------------------------------------------------------------------------------
# Locations: ALERT-C tables, OpenLR
# ---------------------------------------------------------------------------------------------
def test_openlr_binary_line_matches_the_reference_decoder() -> None:
    # The white paper's example, as the TomTom reference decoder reads it.
    pts = decode_line("CwRbWyNG9RpsCQCb/jsbtAT/6/+jK1lE")
    assert len(pts) == 3
    assert pts[0] == pytest.approx((6.126819848985067, 49.608517884971576), abs=1e-6)
    assert pts[1] == pytest.approx((6.128369849029585, 49.603987884936856), abs=1e-6)
    # openlr-js's example: a two-point line encoded from these coordinates
    two = decode_line("CwNhbCU+jzjgAQD0/344AA==")
    assert two[0] == pytest.approx((4.7538936137926395, 52.374883889902236), abs=2e-5)
    assert two[1] == pytest.approx((4.7563336137926395, 52.373583889902235), abs=2e-5)
    for bad in ("not base64!", "CwRb", "KwRbWyNG9RpsCQCb/jsbtAT/6/+jK1lE"):
        with pytest.raises(OpenLRError):
            decode_line(bad)


def test_location_tables_in_both_forms(tmp_path: Path) -> None:
    plain = tmp_path / "t.csv"
    plain.write_text("table,code,lat,lon,name\n17,5127,60.2356,24.8790,Konala\n")
    iso = tmp_path / "POINTS.DAT"
    iso.write_text("CID;TABCD;LCD;CLASS;XCOORD;YCOORD\n6;17;3578;P;+02490123;+06022345\n"
                   "6;17;9;A;;\n")
    t = LocationTables()
    assert t.load(plain) == 1 and t.load(iso) == 1
    assert t.lookup("17", "5127") == (24.879, 60.2356)
    assert t.lookup("17", "3578") == pytest.approx((24.90123, 60.22345))
    assert t.lookup("17", "1") is None and not t.has_table("18")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(LocationTableError, match="header"):
        t.load(bad)
    bad.write_text("table,code,lat,lon\n17,1,95,24\n")
    with pytest.raises(LocationTableError, match="row 2"):
        t.load(bad)


def test_a_loaded_table_locates_the_real_alert_c_records(tmp_path: Path) -> None:
    _need(DATEX_FILES)
    path = next(p for p in DATEX_FILES if p.name.startswith("TrafficSituationAccident"))
    t = LocationTables()
    # a stand-in table 17 with the two codes this record names (coordinates invented for
    # the test: the real Finnish table is not bundled)
    t.load_text("table,code,lat,lon\n17,5127,60.2360,24.8800\n17,3578,60.2330,24.8500\n")
    rec = parse_datex2(path.read_bytes(), t).records[0]
    assert rec.fields is not None, rec.problem
    # method 2: from the secondary location (3578) to the primary one (5127)
    assert rec.fields["geometry"] == {"type": "LineString",
                                      "coordinates": [[24.85, 60.233], [24.88, 60.236]]}
    assert rec.fields["direction"] == "forward"
    assert rec.fields["type"] == "accident" and rec.fields["severity"] == "low"
    assert rec.fields["description"]["fi"].startswith("Tie 101, eli Kehä I, Helsinki.")
    t2 = LocationTables()
    t2.load_text("table,code,lat,lon\n17,5127,60.2360,24.8800\n")
    assert parse_datex2(path.read_bytes(), t2).records[0].problem == (
        Outcome.UNLOCATABLE, "unlocatable: ALERT-C location 3578 is not in table 17")


# ---------------------------------------------------------------------------------------------
# Out: DATEX II 3 and WZDx 4.2 of hand-made incidents
# ---------------------------------------------------------------------------------------------
def _incident(n: int, **over: object) -> Incident:
    base: dict[str, object] = {
        "id": f"INC-{n}", "agency": "KYTC", "type": "closure", "severity": "high",
        "status": "active", "start": "2026-11-24T07:00:00Z", "end": "2026-11-25T07:00:00Z",
        "geometry": {"type": "LineString",
                     "coordinates": [[-84.5035, 39.0882], [-84.5024, 39.0885]]},
        "direction": "forward", "road_effect": {"closed_to": ["car"]},
        "description": {"en": "Bridge closed", "zh-CN": "桥梁封闭"},
        "created_by": "t", "updated_by": "t", "created_at": "2026-11-24T06:00:00Z",
        "updated_at": "2026-11-24T06:30:00Z", "version": 3}
    base.update(over)
    return Incident.model_validate(base)


def test_datex2_out_is_well_formed_v3_and_reads_back() -> None:
    incs = [_incident(1), _incident(2, type="accident", severity="severe", end=None,
                                     geometry={"type": "Point",
                                               "coordinates": [-84.51, 39.08]},
                                     direction="both", road_effect=None),
            _incident(3, type="roadworks", severity="low", direction="backward",
                      geometry={"type": "MultiLineString", "coordinates": [
                          [[-84.50, 39.08], [-84.49, 39.081]],
                          [[-84.48, 39.08], [-84.47, 39.082]]]},
                      road_effect={"speed_limit_kmh": 40.0})]
    now = datetime(2026, 11, 24, 8, tzinfo=UTC)
    body = situation_publication(incs, now, publisher="citynav")
    root = SafeET.fromstring(body)
    assert root.tag == f"{{{NS3_PAYLOAD}}}payload"
    assert root.get("{http://www.w3.org/2001/XMLSchema-instance}type") == \
        "sit:SituationPublication"
    used = {el.tag[1:].split("}")[0] for el in root.iter()}
    assert used == {NS3_PAYLOAD, NS3_SIT, NS3_COM, NS3_LOC}
    assert root.find(f"{{{NS3_COM}}}publicationTime").text == "2026-11-24T08:00:00Z"
    doc = parse_datex2(body)
    assert doc.standard_version == "3" and doc.publisher == "US/citynav"
    r1, r2, r3 = doc.records
    assert r1.external_id == "datex2:INC-1" and r1.version == "3" and r1.group == "INC-1"
    assert r1.fields is not None and r1.fields["type"] == "closure"
    assert r1.fields["road_effect"] == {"closed_to": ["car", "truck", "bus"]}
    assert r1.fields["geometry"]["coordinates"] == [[-84.5035, 39.0882], [-84.5024, 39.0885]]
    assert r1.fields["description"] == {"en": "Bridge closed", "zh-CN": "桥梁封闭"}
    assert r1.fields["end"] == "2026-11-25T07:00:00Z"
    assert r2.fields is not None and r2.fields["severity"] == "severe"
    assert r2.fields["geometry"] == {"type": "Point", "coordinates": [-84.51, 39.08]}
    assert r2.fields["end"] is None
    assert r3.fields is not None and r3.fields["type"] == "roadworks"
    assert r3.fields["geometry"]["type"] == "MultiLineString"
    # backward: written in travel order (reversed)
    assert r3.fields["geometry"]["coordinates"][0] == [[-84.49, 39.081], [-84.5, 39.08]]
    assert r3.fields["road_effect"] == {"speed_limit_kmh": 40.0}


def test_wzdx_out_validates_for_every_geometry_and_direction() -> None:
    incs = [_incident(1), _incident(2, end=None, direction="both"),
            _incident(3, direction=123.0, lanes={"total": 3, "closed": 1},
                      road_effect={"speed_limit_kmh": 50.0, "delay_s": 60.0}),
            _incident(4, geometry={"type": "Point", "coordinates": [-84.51, 39.08]},
                      direction="both", road_effect=None, type="hazard"),
            _incident(5, geometry={"type": "MultiLineString", "coordinates": [
                [[-84.50, 39.08], [-84.49, 39.081]], [[-84.48, 39.08], [-84.47, 39.082]]]}),
            _incident(6, geometry={"type": "Polygon", "coordinates": [[
                [-84.5, 39.08], [-84.49, 39.08], [-84.49, 39.09], [-84.5, 39.08]]]}),
            _incident(7, type="transit_disruption", road_effect=None,
                      transit_effect={"stops_closed": ["nky_tank:1"]})]
    now = datetime(2026, 11, 24, 8, tzinfo=UTC)
    feed = wzdx_feed(incs, now, publisher="citynav", contact_email="ops@example.org",
                     road_names=lambda i: ["Main Street"])
    assert wzdx_errors(feed) == []
    ids = [f["id"] for f in feed["features"]]
    assert ids == ["INC-1", "INC-2", "INC-3", "INC-4", "INC-5/1", "INC-5/2"]
    by_id = {f["id"]: f["properties"] for f in feed["features"]}
    assert by_id["INC-1"]["vehicle_impact"] == "all-lanes-closed"
    assert by_id["INC-1"]["core_details"]["direction"] == "eastbound"
    assert by_id["INC-2"]["core_details"]["direction"] == "undefined"
    assert by_id["INC-2"]["end_date"] == "2026-11-25T08:00:00Z"  # open-ended: estimated
    assert by_id["INC-2"]["is_end_date_verified"] is False
    assert by_id["INC-3"]["vehicle_impact"] == "some-lanes-closed"
    assert [ln["status"] for ln in by_id["INC-3"]["lanes"]] == ["closed", "open", "open"]
    assert by_id["INC-3"]["reduced_speed_limit_kph"] == 50.0
    assert by_id["INC-3"]["core_details"]["direction"] == "eastbound"  # bearing 123°
    assert by_id["INC-4"]["vehicle_impact"] == "unknown"
    assert feed["feature_info" if False else "feed_info"]["license"] == \
        "https://creativecommons.org/publicdomain/zero/1.0/"
    # read back: the same incident fields
    back = {r.external_id: r.fields for r in parse_wzdx(feed).records}
    f3 = back["wzdx:INC-3"]
    assert f3 is not None and f3["direction"] == 123.0
    assert f3["road_effect"] == {"speed_limit_kmh": 50.0, "delay_s": 60.0}
    assert f3["lanes"] == {"total": 3, "closed": 1} and f3["type"] == "closure"


def test_datex2_recurring_valid_period_round_trip() -> None:
    rec = {"days": ["mon", "tue", "wed", "thu", "fri"], "start_time": "22:00:00",
           "end_time": "05:00:00", "timezone": "America/New_York"}
    inc = _incident(8, recurrence=rec)
    body = situation_publication([inc], datetime(2026, 11, 24, 8, tzinfo=UTC),
                                 publisher="citynav")
    (back,) = parse_datex2(body, timezone="America/New_York").records
    assert back.fields is not None and back.fields["recurrence"] == rec
    # without the timezone of the times of day the record is not imported (not all day)
    (blind,) = parse_datex2(body).records
    assert blind.problem is not None and blind.problem[0] == Outcome.UNSUPPORTED
    assert "timezone" in blind.problem[1]
    # exception periods are not mapped
    text = body.decode().replace("</com:validPeriod>", "</com:validPeriod><com:exceptionPeriod>"
                                 "<com:startOfPeriod>2026-11-26T00:00:00Z</com:startOfPeriod>"
                                 "</com:exceptionPeriod>")
    (exc,) = parse_datex2(text.encode(), timezone="America/New_York").records
    assert exc.problem is not None and exc.problem[0] == Outcome.UNSUPPORTED


def test_datex2_v3_inside_a_message_container() -> None:
    body = situation_publication([_incident(9)], datetime(2026, 11, 24, 8, tzinfo=UTC),
                                 publisher="citynav").decode()
    body = body.split("?>", 1)[1]
    inner = body.replace("<d2:payload ", "<mc:payload ").replace("</d2:payload>",
                                                                  "</mc:payload>")
    wrapped = ('<mc:messageContainer xmlns:mc="http://datex2.eu/schema/3/messageContainer">'
               + inner.replace("<mc:payload ", '<mc:payload xmlns:mc="http://datex2.eu/'
                               'schema/3/messageContainer" ', 1)
               + "</mc:messageContainer>")
    (rec,) = parse_datex2(wrapped).records
    assert rec.external_id == "datex2:INC-9" and rec.fields is not None
