"""Importing WZDx and DATEX II into the store (SQLite and PostgreSQL), with geometry matched
on the real northern Kentucky network: documents of each standard authored over the city
create, update, end and leave unchanged exactly as documented; re-imports change nothing;
citynav → WZDx → import gives the same incidents; the real samples store nothing."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from incidents.adapters.alertc import LocationTables
from incidents.adapters.common import Outcome
from incidents.adapters.datex2 import parse_datex2, situation_publication
from incidents.adapters.wzdx import parse_wzdx, wzdx_feed
from incidents.auth import Principal, Role
from incidents.errors import Forbidden
from incidents.imports import ImportReport, apply_document, parse_document
from incidents.matching import NetworkMatcher
from incidents.model import Incident
from incidents.store import IncidentStore, open_store
from routing.snapshot import Snapshot, load_snapshot
from tests.incidents.standards_docs import (
    END,
    NOW,
    START,
    v2_alertc,
    v2_doc,
    v2_openlr_binary,
    v2_point,
    v2_record,
    v2_tpeg,
    v3_doc,
    v3_gml,
    v3_openlr_xml,
    v3_record,
    wzdx_doc,
    wzdx_feature,
    z,
)
from tests.incidents.test_matching import chain_coords, load_stops, street_chain
from tests.incidents.test_standards_parse import DATEX_FILES, WZDX_FILES

IOWA = [[-93.537, 41.657], [-93.544, 41.656]]


@pytest.fixture(scope="module")
def snap(nky_snapshot_dir) -> Snapshot:
    return load_snapshot(nky_snapshot_dir)


@pytest.fixture(scope="module")
def matcher(snap: Snapshot) -> NetworkMatcher:
    return NetworkMatcher(snap, stops=load_stops())


@pytest.fixture(scope="module")
def madison(snap: Snapshot) -> list[list[float]]:
    return chain_coords(snap, street_chain(snap, "Madison Avenue", 8)).tolist()


@pytest.fixture(scope="module")
def main_street(snap: Snapshot) -> list[list[float]]:
    return chain_coords(snap, street_chain(snap, "Main Street", 6)).tolist()


@pytest.fixture
def store(store_url: str) -> Iterator[IncidentStore]:
    s = open_store(store_url)
    yield s
    s.close()


def _apply(store: IncidentStore, matcher: NetworkMatcher, body: Any, **kw: Any
           ) -> ImportReport:
    doc = parse_document(body, kw.pop("fmt", None), kw.pop("tables", None))
    return apply_document(store, doc, agency=kw.pop("agency", "KYTC"),
                          actor=kw.pop("actor", "import:KYTC"), match=matcher.match, **kw)


def _outcomes(report: ImportReport) -> dict[str, str]:
    return {r.external_id: r.outcome.value for r in report.records}


def _wzdx_a_b(madison: list[list[float]], main_street: list[list[float]], *,
              b_version: str = "2026-01-01T10:00:00Z", b_speed: float = 40) -> dict[str, Any]:
    return wzdx_doc(
        wzdx_feature("A", madison[:5], version="2026-01-01T09:00:00Z",
                     vehicle_impact="all-lanes-closed"),
        wzdx_feature("B", main_street[:5], version=b_version,
                     vehicle_impact="some-lanes-closed", reduced_speed_limit_kph=b_speed,
                     lanes=[{"order": 1, "status": "closed", "type": "general"},
                            {"order": 2, "status": "open", "type": "general"},
                            {"order": 3, "status": "open", "type": "shoulder"}]),
        wzdx_feature("IOWA", IOWA, version="2026-01-01T09:00:00Z"),
        wzdx_feature("R", madison[:3], version="2026-01-01T09:00:00Z",
                     event_type="restriction"),
        wzdx_feature("BAD", madison[:3], version="2026-01-01T09:00:00Z",
                     start_date="not a date"))


# ---------------------------------------------------------------------------------------------
# WZDx
# ---------------------------------------------------------------------------------------------
def test_wzdx_over_the_city_creates_then_reimport_changes_nothing(store, matcher, madison,
                                                                   main_street) -> None:
    doc = _wzdx_a_b(madison, main_street)
    rep = _apply(store, matcher, doc)
    assert _outcomes(rep) == {"wzdx:A": "created", "wzdx:B": "created",
                              "wzdx:IOWA": "unmatched_geometry", "wzdx:R": "unsupported",
                              "wzdx:BAD": "invalid"}
    assert rep.counts["created"] == 2 and sum(rep.counts.values()) == 5
    assert all(r.reason for r in rep.records if r.outcome != Outcome.CREATED)
    a = store.find_external("KYTC", "wzdx:A")
    b = store.find_external("KYTC", "wzdx:B")
    assert a is not None and b is not None
    assert a.type.value == "roadworks" and a.severity.value == "high"
    assert a.road_effect is not None
    assert [c.value for c in a.road_effect.closed_to] == ["car", "truck", "bus"]
    assert a.direction == "forward" and a.status.value == "active"
    assert z(a.start) == START and a.end is not None and z(a.end) == END
    assert matcher.match(a.geometry, a.direction).edge_count > 0
    assert b.lanes is not None and (b.lanes.total, b.lanes.closed) == (2, 1)
    assert b.road_effect is not None and b.road_effect.speed_limit_kmh == 40
    assert b.description == {"en": "Work zone B"}
    seq = store.last_seq()
    again = _apply(store, matcher, copy.deepcopy(doc))
    assert again.counts["created"] == again.counts["updated"] == 0
    assert _outcomes(again)["wzdx:A"] == "unchanged"
    assert store.last_seq() == seq  # nothing written: no history row


def test_a_newer_version_updates_with_a_history_row(store, matcher, madison,
                                                    main_street) -> None:
    _apply(store, matcher, _wzdx_a_b(madison, main_street))
    b0 = store.find_external("KYTC", "wzdx:B")
    assert b0 is not None
    newer = _wzdx_a_b(madison, main_street, b_version="2026-01-02T10:00:00Z", b_speed=30)
    rep = _apply(store, matcher, newer)
    out = _outcomes(rep)
    assert out["wzdx:B"] == "updated" and out["wzdx:A"] == "unchanged"
    b1 = store.find_external("KYTC", "wzdx:B")
    assert b1 is not None and b1.id == b0.id and b1.version == b0.version + 1
    assert b1.road_effect is not None and b1.road_effect.speed_limit_kmh == 30
    last = store.history(b1.id)[-1]
    assert last.action.value == "update" and last.actor == "import:KYTC"
    assert last.before is not None and last.before["road_effect"]["speed_limit_kmh"] == 40
    # an older version than the applied one changes nothing
    older = _wzdx_a_b(madison, main_street, b_version="2026-01-01T10:00:00Z", b_speed=50)
    rec = {r.external_id: r for r in _apply(store, matcher, older).records}["wzdx:B"]
    assert rec.outcome == Outcome.UNCHANGED and "older" in (rec.reason or "")
    # a newer version with the same content: unchanged, no history row
    seq = store.last_seq()
    same = _wzdx_a_b(madison, main_street, b_version="2026-01-03T10:00:00Z", b_speed=30)
    rec = {r.external_id: r for r in _apply(store, matcher, same).records}["wzdx:B"]
    assert rec.outcome == Outcome.UNCHANGED and "same content" in (rec.reason or "")
    assert store.last_seq() == seq


def test_ended_by_the_source_or_by_disappearing_from_the_feed(store, matcher, madison,
                                                              main_street) -> None:
    doc = _wzdx_a_b(madison, main_street)
    rep = _apply(store, matcher, doc, source="subscription:kytc", complete=True)
    assert rep.counts["created"] == 2
    # B completed in the source: resolved
    done = copy.deepcopy(doc)
    done["features"][1]["properties"]["event_status"] = "completed"
    rep = _apply(store, matcher, done, source="subscription:kytc", complete=True)
    assert _outcomes(rep)["wzdx:B"] == "ended"
    b = store.find_external("KYTC", "wzdx:B")
    assert b is not None and b.status.value == "resolved"
    # A disappears from the subscribed feed: ended as well
    gone = copy.deepcopy(done)
    gone["features"] = [f for f in gone["features"] if f["id"] != "A"]
    rep = _apply(store, matcher, gone, source="subscription:kytc", complete=True)
    ended = [r for r in rep.records if r.outcome == Outcome.ENDED]
    assert [r.external_id for r in ended] == ["wzdx:A"]
    assert "no longer in the subscribed feed" in (ended[0].reason or "")
    a = store.find_external("KYTC", "wzdx:A")
    assert a is not None and a.status.value == "resolved"
    # a one-off push is not complete: nothing else ends; a finished incident does not reopen
    rep = _apply(store, matcher, doc, source="push")
    assert rep.counts["ended"] == 0 and rep.counts["created"] == 0
    newer = copy.deepcopy(doc)
    newer["features"][0]["properties"]["core_details"]["update_date"] = "2026-02-01T00:00:00Z"
    rep = _apply(store, matcher, newer, source="push")
    assert "does not reopen" in (
        {r.external_id: r for r in rep.records}["wzdx:A"].reason or "")
    a = store.find_external("KYTC", "wzdx:A")
    assert a is not None and a.status.value == "resolved"


def test_a_traffic_centre_may_import_only_its_own_agency(store, matcher, madison,
                                                         main_street) -> None:
    other = Principal("k1", Role.TRAFFIC_CENTRE, "OHIO")
    doc = parse_wzdx(_wzdx_a_b(madison, main_street))
    with pytest.raises(Forbidden):
        apply_document(store, doc, agency="KYTC", actor=other, match=matcher.match)
    assert store.last_seq() == 0
    reader = Principal("k2", Role.READER)
    with pytest.raises(Forbidden):
        apply_document(store, doc, agency="KYTC", actor=reader, match=matcher.match)
    own = Principal("k3", Role.TRAFFIC_CENTRE, "KYTC")
    rep = apply_document(store, doc, agency="KYTC", actor=own, match=matcher.match)
    assert rep.counts["created"] == 2
    inc = store.find_external("KYTC", "wzdx:A")
    assert inc is not None and inc.created_by == "key:k3"


# ---------------------------------------------------------------------------------------------
# DATEX II
# ---------------------------------------------------------------------------------------------
def _coords(inc: Incident) -> list[list[float]]:
    return [list(p) for p in inc.geometry.model_dump()["coordinates"]]


def _table(madison: list[list[float]]) -> LocationTables:
    # a stand-in ALERT-C table 99 naming two points of Madison Avenue
    t = LocationTables()
    a, b = madison[2], madison[5]
    t.load_text(f"table,code,lat,lon\n99,1001,{b[1]},{b[0]}\n99,1002,{a[1]},{a[0]}\n")
    return t


def _v2(madison: list[list[float]], main_street: list[list[float]], *, with_r2: bool = True,
        r1_version: int = 1, r1_management: str = "") -> bytes:
    recs = [v2_record("R1", "Accident", v2_tpeg(madison[1], madison[3]), version=r1_version,
                      comment="Crash on Madison", extra="<accidentType>accident</accidentType>",
                      management=r1_management)]
    if with_r2:
        recs.append(v2_record(
            "R2", "RoadOrCarriagewayOrLaneManagement", v2_alertc("99", "1001", "1002"),
            extra="<roadOrCarriagewayOrLaneManagementType>laneClosures"
                  "</roadOrCarriagewayOrLaneManagementType>"
                  "<impact><impactDetails><numberOfLanesRestricted>1</numberOfLanesRestricted>"
                  "<numberOfOperationalLanes>1</numberOfOperationalLanes></impactDetails>"
                  "<delays><delayTimeValue>120</delayTimeValue></delays></impact>"))
    recs.append(v2_record("R3", "SpeedManagement", v2_openlr_binary(main_street[:4]),
                          severity="low",
                          extra="<temporarySpeedLimit>30</temporarySpeedLimit>"))
    recs.append(v2_record("R4", "RoadOrCarriagewayOrLaneManagement", v2_point(main_street[4]),
                          severity="highest",
                          extra="<roadOrCarriagewayOrLaneManagementType>roadClosed"
                                "</roadOrCarriagewayOrLaneManagementType>"))
    recs.append(v2_record("R5", "GeneralNetworkManagement", v2_point(main_street[4])))
    recs.append(v2_record("R6", "Accident", v2_alertc("17", "5127", "3578")))
    return v2_doc(("S1", recs))


def test_datex2_v2_over_the_city(store, matcher, madison, main_street) -> None:
    tables = _table(madison)
    rep = _apply(store, matcher, _v2(madison, main_street), tables=tables)
    assert _outcomes(rep) == {
        "datex2:R1": "created", "datex2:R2": "created", "datex2:R3": "created",
        "datex2:R4": "created", "datex2:R5": "unsupported", "datex2:R6": "unlocatable"}
    reasons = {r.external_id: r.reason for r in rep.records}
    assert reasons["datex2:R6"] == "unlocatable: ALERT-C table 17 not loaded"
    r1 = store.find_external("KYTC", "datex2:R1")
    assert r1 is not None and r1.type.value == "accident" and r1.severity.value == "high"
    assert r1.description == {"en": "Crash on Madison", "es": "Crash on Madison (es)"}
    assert _coords(r1) == [madison[1], madison[3]]
    r2 = store.find_external("KYTC", "datex2:R2")
    assert r2 is not None and r2.type.value == "closure"
    assert r2.lanes is not None and (r2.lanes.total, r2.lanes.closed) == (2, 1)
    assert r2.road_effect is not None and r2.road_effect.closed_to == []
    assert r2.road_effect.delay_s == 120
    # ALERT-C method 2: from the secondary location to the primary one
    assert _coords(r2) == [madison[2], madison[5]]
    r3 = store.find_external("KYTC", "datex2:R3")
    assert r3 is not None and r3.road_effect is not None
    assert r3.road_effect.speed_limit_kmh == 30 and r3.severity.value == "low"
    got = np.asarray(r3.geometry.model_dump()["coordinates"])
    assert got.shape == (4, 2) and np.abs(got - np.asarray(main_street[:4])).max() < 2e-5
    assert matcher.match(r3.geometry, r3.direction).edge_count > 0
    r4 = store.find_external("KYTC", "datex2:R4")
    assert r4 is not None and r4.severity.value == "severe"
    assert r4.road_effect is not None
    assert [c.value for c in r4.road_effect.closed_to] == ["car", "truck", "bus"]
    # without the table R2 is unlocatable, with its table number
    rep = _apply(store, matcher, _v2(madison, main_street))
    assert {r.external_id: r.reason for r in rep.records}["datex2:R2"] == \
        "unlocatable: ALERT-C table 99 not loaded"
    # the same document again changes nothing
    seq = store.last_seq()
    rep = _apply(store, matcher, _v2(madison, main_street), tables=tables)
    assert rep.counts["created"] == rep.counts["updated"] == rep.counts["ended"] == 0
    assert store.last_seq() == seq


def test_datex2_situation_sent_again_without_a_record_ends_it(store, matcher, madison,
                                                              main_street) -> None:
    tables = _table(madison)
    _apply(store, matcher, _v2(madison, main_street), tables=tables)
    rep = _apply(store, matcher, _v2(madison, main_street, with_r2=False), tables=tables)
    ended = {r.external_id: r.reason for r in rep.records if r.outcome == Outcome.ENDED}
    assert list(ended) == ["datex2:R2"]
    assert "no longer in its DATEX II situation" in (ended["datex2:R2"] or "")
    r2 = store.find_external("KYTC", "datex2:R2")
    assert r2 is not None and r2.status.value == "resolved"
    # the source cancels R1 (lifeCycleManagement): ended
    cancel = ("<management><lifeCycleManagement><cancel>true</cancel></lifeCycleManagement>"
              "</management>")
    rep = _apply(store, matcher, _v2(madison, main_street, with_r2=False, r1_version=2,
                                     r1_management=cancel), tables=tables)
    assert _outcomes(rep)["datex2:R1"] == "ended"
    r1 = store.find_external("KYTC", "datex2:R1")
    assert r1 is not None and r1.status.value == "resolved"


def test_datex2_v3_gml_and_openlr_xml(store, matcher, madison, main_street) -> None:
    doc = v3_doc(("S9", [
        v3_record("V1", "MaintenanceWorks", v3_gml(madison[:6]),
                  extra="<sit:roadMaintenanceType>roadworks</sit:roadMaintenanceType>"),
        v3_record("V2", "AbnormalTraffic", v3_openlr_xml(main_street[:5]), severity="high",
                  extra="<sit:abnormalTrafficType>queuingTraffic</sit:abnormalTrafficType>"),
        v3_record("V3", "PublicEvent", v3_gml(IOWA))]))
    rep = _apply(store, matcher, doc)
    assert rep.standard_version == "3"
    assert _outcomes(rep) == {"datex2:V1": "created", "datex2:V2": "created",
                              "datex2:V3": "unmatched_geometry"}
    v1 = store.find_external("KYTC", "datex2:V1")
    v2 = store.find_external("KYTC", "datex2:V2")
    assert v1 is not None and v1.type.value == "roadworks"
    assert _coords(v1) == [[round(x, 7) for x in p] for p in madison[:6]]
    assert v2 is not None and v2.type.value == "congestion" and v2.severity.value == "high"
    assert v1.description == {"en": "Authored over northern Kentucky"}


# ---------------------------------------------------------------------------------------------
# Round trips and real samples
# ---------------------------------------------------------------------------------------------
_KEYS = ("type", "severity", "start", "end", "geometry", "direction", "lanes", "road_effect",
         "description")


def _seed(store: IncidentStore, madison: list[list[float]], main_street: list[list[float]]
          ) -> list[Incident]:
    end = NOW + timedelta(days=3)
    bodies: list[dict[str, Any]] = [
        {"type": "closure", "severity": "high", "start": START, "end": z(end),
         "geometry": {"type": "LineString", "coordinates": madison[:5]},
         "direction": "forward", "road_effect": {"closed_to": ["car", "bike"]},
         "description": {"en": "Madison closed"}},
        {"type": "roadworks", "severity": "moderate", "start": START, "end": z(end),
         "geometry": {"type": "LineString", "coordinates": main_street[:5]},
         "direction": "both", "lanes": {"total": 2, "closed": 1},
         "road_effect": {"speed_limit_kmh": 25.0, "delay_s": 45.0},
         "description": {"en": "Resurfacing"}},
        {"type": "accident", "severity": "severe", "start": START, "end": z(end),
         "geometry": {"type": "LineString", "coordinates": madison[3:7]},
         "direction": 200.0, "description": {"en": "Crash"}},
        {"type": "hazard", "severity": "low", "start": START, "end": z(end),
         "geometry": {"type": "Point", "coordinates": main_street[2]},
         "direction": "both", "description": {"en": "Debris"}},
    ]
    return [store.create(b, "test", "CITY") for b in bodies]


def test_round_trip_citynav_wzdx_import_gives_the_same_incidents(store, matcher, madison,
                                                                  main_street) -> None:
    made = _seed(store, madison, main_street)
    feed = wzdx_feed(made, NOW, publisher="citynav",
                     road_names=lambda i: list(matcher.match(i.geometry).street_names)[:3])
    rep = _apply(store, matcher, feed, agency="MIRROR")
    assert rep.counts["created"] == len(made), [r.to_dict() for r in rep.records]
    for inc in made:
        back = store.find_external("MIRROR", f"wzdx:{inc.id}")
        assert back is not None, inc.id
        for key in _KEYS:
            assert getattr(back, key) == getattr(inc, key), (inc.id, key)
    # and again: nothing changes
    seq = store.last_seq()
    rep = _apply(store, matcher, feed, agency="MIRROR")
    assert rep.counts["unchanged"] == len(made) and store.last_seq() == seq


def test_round_trip_citynav_datex2_import(store, matcher, madison, main_street) -> None:
    made = _seed(store, madison, main_street)
    body = situation_publication(made, NOW, publisher="citynav")
    rep = _apply(store, matcher, body, agency="MIRROR")
    assert rep.counts["created"] == len(made), [r.to_dict() for r in rep.records]
    for inc in made:
        back = store.find_external("MIRROR", f"datex2:{inc.id}")
        assert back is not None
        for key in ("type", "severity", "start", "end", "description"):
            assert getattr(back, key) == getattr(inc, key), (inc.id, key)
        assert matcher.match(back.geometry, back.direction).edge_count > 0
    works = store.find_external("MIRROR", f"datex2:{made[1].id}")
    assert works is not None and works.lanes == made[1].lanes
    assert works.road_effect is not None and works.road_effect.delay_s == 45.0
    assert works.road_effect.speed_limit_kmh == 25.0
    closure = store.find_external("MIRROR", f"datex2:{made[0].id}")
    assert closure is not None and closure.road_effect is not None
    assert "car" in [c.value for c in closure.road_effect.closed_to]


def test_real_samples_store_nothing_and_report_every_record(store, matcher) -> None:
    if not DATEX_FILES or not WZDX_FILES:
        pytest.skip("shared incident samples not available")
    for path in DATEX_FILES + WZDX_FILES:
        body = path.read_bytes()
        parsed = parse_datex2(body) if path.suffix == ".xml" else parse_wzdx(body)
        rep = _apply(store, matcher, body, agency="FTA")
        assert len(rep.records) == len(parsed.records), path.name
        assert rep.counts["created"] == rep.counts["updated"] == 0, path.name
        for r in rep.records:
            assert r.outcome != Outcome.UNCHANGED or r.reason
        if path.suffix == ".geojson" and not path.name.startswith("arrow"):
            # Iowa lies outside the bundled city
            assert rep.counts["unmatched_geometry"] == len(parsed.records), path.name
    assert store.last_seq() == 0


def test_wzdx_verified_start_activates_and_verified_end_ends(store, matcher, madison) -> None:
    later = z(NOW + timedelta(days=2))
    doc = wzdx_doc(wzdx_feature("V", madison[:4], version="2026-01-01T09:00:00Z",
                                start_date=later, is_start_date_verified=False))
    assert _outcomes(_apply(store, matcher, doc))["wzdx:V"] == "created"
    v = store.find_external("KYTC", "wzdx:V")
    assert v is not None and v.status.value == "scheduled"
    started = wzdx_doc(wzdx_feature("V", madison[:4], version="2026-01-02T09:00:00Z",
                                    start_date=START, is_start_date_verified=True))
    rep = _apply(store, matcher, started)
    assert _outcomes(rep)["wzdx:V"] == "updated"
    v = store.find_external("KYTC", "wzdx:V")
    assert v is not None and v.status.value == "active" and z(v.start) == START
    assert store.history(v.id)[-1].action.value == "activate"
    finished = wzdx_doc(wzdx_feature("V", madison[:4], version="2026-01-03T09:00:00Z",
                                     start_date=START, end_date=z(NOW - timedelta(hours=1)),
                                     is_start_date_verified=True, is_end_date_verified=True))
    assert _outcomes(_apply(store, matcher, finished))["wzdx:V"] == "ended"
    v = store.find_external("KYTC", "wzdx:V")
    assert v is not None and v.status.value == "resolved"


def test_a_record_created_meanwhile_by_another_import_is_not_duplicated(store, matcher,
                                                                        madison) -> None:
    doc = wzdx_doc(wzdx_feature("RACE", madison[:4], version="2026-01-01T09:00:00Z"))

    def racing_match(geometry: Any, direction: Any) -> Any:
        # another replica imports the same record between our check and our create
        if store.find_external("KYTC", "wzdx:RACE") is None:
            store.create({"type": "roadworks", "severity": "low", "start": START,
                          "geometry": {"type": "LineString", "coordinates": madison[:4]},
                          "external_id": "wzdx:RACE"}, "replica-b", "KYTC")
        return matcher.match(geometry, direction)

    rep = apply_document(store, parse_wzdx(doc), agency="KYTC", actor="import:KYTC",
                         match=racing_match)
    (rec,) = rep.records
    assert rec.outcome == Outcome.UNCHANGED and "meanwhile" in (rec.reason or "")
    assert len(store.list_incidents(agency="KYTC")) == 1
