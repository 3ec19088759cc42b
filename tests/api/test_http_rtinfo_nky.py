"""Realtime information on the bundled city (northern Kentucky, with streets): generated
TripUpdates make itineraries show expected times that differ from the schedule, and an
incident closing a stop is published in the ServiceAlerts feed and attached to the
departures and legs it concerns."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from google.protobuf import json_format
from google.transit import gtfs_realtime_pb2 as pb

from gtfs.live import trip_stop_times
from gtfs.realtime.alerts import parse_alerts
from gtfs.realtime.decode import decode_feed
from tests.api.rt_support import push, replayed
from tests.gtfs.realtime.feed_gen import generated_trip_updates

NY = ZoneInfo("America/New_York")
NOON = dt.datetime(2020, 1, 15, 12, 0, tzinfo=NY)
COV, FLORENCE, NEWPORT = "39.0837,-84.5086", "38.9836,-84.6451", "39.0912,-84.4960"
STOP = "nky_tank:10094"  # Scott at 7th - Out


@pytest.fixture(scope="module")
def nky(nky_snapshot_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """NKY at noon on Wed 2020-01-15 with generated TripUpdates pushed."""
    db = tmp_path_factory.mktemp("rt") / "rt.db"
    ts = int(NOON.timestamp())
    with replayed(nky_snapshot_dir, db, ts + 5) as (c, svc, auth):
        p = svc.planner
        gen = generated_trip_updates(p.tt, "nky_tank", p.day(NOON.date()),
                                     np.random.default_rng(7), header_s=ts, noise=0)
        assert push(c, "nky_tank", gen.message.SerializeToString(), auth)["applied"]["applied"]
        yield c, svc, auth


def test_itineraries_show_expected_and_scheduled_times(nky) -> None:
    c, svc, _ = nky
    tt = svc.planner.tt
    live = svc.state().transit_live()
    delayed = reported = 0
    for frm, to in ((COV, FLORENCE), (NEWPORT, FLORENCE), (FLORENCE, COV), (COV, NEWPORT)):
        for hour in (12, 13, 14):
            r = c.get("/v1/plan", params={"from": frm, "to": to, "num_itineraries": 3,
                                          "depart_at": NOON.replace(hour=hour).isoformat()})
            assert r.status_code == 200, r.text
            for it in r.json()["itineraries"]:
                for leg in it["legs"]:
                    if leg["mode"] != "transit":
                        assert leg.get("realtime") is None
                        continue
                    dep, sdep = (dt.datetime.fromisoformat(leg[k]) for k in
                                 ("departure", "scheduled_departure"))
                    arr, sarr = (dt.datetime.fromisoformat(leg[k]) for k in
                                 ("arrival", "scheduled_arrival"))
                    assert (dep - sdep).total_seconds() == leg["departure_delay_s"]
                    assert (arr - sarr).total_seconds() == leg["arrival_delay_s"]
                    # the expected times are the live data's, the scheduled ones the
                    # timetable's
                    trip = tt.trip_index(leg["trip_id"])
                    date = dt.date.fromisoformat(leg["service_date"])
                    stops = [tt.strings["stop_id"][int(s)] for s in tt.pattern_stop_list(
                        int(tt.arrays["trip_pattern"][trip]))]
                    b = stops.index(leg["from"]["stop_id"])
                    a_rt, d_rt, _ = trip_stop_times(tt, trip, date, live)
                    a_s, d_s = tt.trip_times(trip)
                    assert leg["departure_delay_s"] == int(d_rt[b]) - int(d_s[b])
                    sdl = live.day(date)
                    assert leg["realtime"] == bool(sdl is not None and sdl.trip_realtime[trip])
                    reported += leg["realtime"]
                    delayed += leg["departure_delay_s"] != 0 and dep != sdep
    assert reported >= 3 and delayed >= 1, (reported, delayed)


def test_an_incident_closing_a_stop_is_published_and_attached(nky) -> None:
    c, svc, auth = nky
    tt = svc.planner.tt
    stop = c.get(f"/v1/stops/{STOP}/departures", params={"at": NOON.isoformat()}).json()
    body = {"type": "transit_disruption", "severity": "high",
            "start": "2020-01-15T11:00:00-05:00", "end": "2020-01-15T18:00:00-05:00",
            "geometry": {"type": "Point", "coordinates": [stop["stop"]["lon"],
                                                          stop["stop"]["lat"]]},
            "transit_effect": {"stops_closed": [STOP]},
            "description": {"en": "Stop closed for sidewalk works",
                            "zh-CN": "人行道施工，本站关闭"}}
    r = c.post("/v1/incidents", params={"agency": "TANK"}, json=body, headers=auth)
    assert r.status_code == 201, r.text
    inc = r.json()["id"]
    try:
        # the ServiceAlerts feed: the incident, with the plain stop id and its agency
        js = c.get("/v1/feeds/gtfs-rt/alerts", params={"format": "json"})
        assert js.status_code == 200 and js.headers["content-type"] == "application/json"
        msg = json_format.Parse(js.text, pb.FeedMessage())
        ent = next(e for e in msg.entity if e.id == f"nky_tank:{inc}")
        a = ent.alert
        assert pb.Alert.Effect.Name(a.effect) == "NO_SERVICE"
        assert pb.Alert.SeverityLevel.Name(a.severity_level) == "SEVERE"
        ents = list(a.informed_entity)
        assert any(e.stop_id == "10094" and not e.route_id and e.agency_id for e in ents)
        routes = {e.route_id for e in ents if e.route_id}
        assert routes and all(e.stop_id == "10094" for e in ents if e.route_id)
        assert not any(e.stop_id.startswith("nky_tank:") or e.route_id.startswith("nky_tank:")
                       for e in ents)
        assert [(p.start, p.end) for p in a.active_period] == [(
            int(dt.datetime(2020, 1, 15, 11, tzinfo=NY).timestamp()),
            int(dt.datetime(2020, 1, 15, 18, tzinfo=NY).timestamp()))]
        texts = {t.language: t.text for t in a.description_text.translation}
        assert texts == body["description"]
        assert {t.language for t in a.header_text.translation} == {"en", "zh-CN"}
        # the protobuf form decodes and resolves against the timetable
        pbody = c.get("/v1/feeds/gtfs-rt/alerts").content
        back = decode_feed(pbody, now=svc.clock.now())
        assert not back.rejected
        alerts, rep = parse_alerts(back, tt, "nky_tank")
        mine = next(x for x in alerts if x.id == f"nky_tank:{inc}")
        assert not rep.unknown_entities
        assert tt.strings["stop_id"][mine.informed[0].stops[0]] == STOP
        # departures at the stop and legs on its routes carry it, in the language asked
        for lang, word in (("en", "sidewalk works"), ("zh-CN", "人行道施工")):
            deps = c.get(f"/v1/stops/{STOP}/departures", params={
                "at": NOON.isoformat(), "lang": lang}).json()["departures"]
            assert deps
            for d in deps:
                al = next(x for x in d["alerts"] if x["id"] == inc)
                assert al["source"] == "incident" and al["effect"] == "NO_SERVICE"
                assert word in al["description"] and al["header"]
                assert al["active_periods"] == [{"start": "2020-01-15T11:00:00-05:00",
                                                 "end": "2020-01-15T18:00:00-05:00"}]
        plan = c.get("/v1/plan", params={"from": COV, "to": FLORENCE,
                                         "depart_at": NOON.isoformat()}).json()
        for it in plan["itineraries"]:
            for leg in it["legs"]:
                if leg["mode"] != "transit":
                    continue
                assert STOP not in (leg["from"]["stop_id"], leg["to"]["stop_id"])
                carries = inc in [x["id"] for x in leg["alerts"]]
                assert carries == (leg["route"]["id"].split(":", 1)[1] in routes), leg
        # after its end it is no longer attached
        late = c.get(f"/v1/stops/{STOP}/departures", params={
            "at": "2020-01-15T18:30:00-05:00"}).json()["departures"]
        assert late and all(inc not in [x["id"] for x in d["alerts"]] for d in late)
    finally:
        cur = c.get(f"/v1/incidents/{inc}")
        c.delete(f"/v1/incidents/{inc}", headers=auth | {"If-Match": cur.headers["ETag"]})
    gone = json_format.Parse(c.get("/v1/feeds/gtfs-rt/alerts", params={"format": "json"}).text,
                             pb.FeedMessage())
    assert not any(e.id == f"nky_tank:{inc}" for e in gone.entity)
