"""Vehicle positions on Caltrain's real feeds of 2023-11-08, replayed at their own time:
GeoJSON features with the trips matched to the timetable and their realtime delays, the
bbox and route filters, malformed boxes, and the vehicle on the departures board."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from gtfs.realtime.decode import decode_feed
from gtfs.realtime.vehicles import parse_vehicle_positions
from tests.api.rt_support import header_s, push, replayed
from tests.conftest import SHARED_GTFS_RT

DIR = SHARED_GTFS_RT / "caltrain"
TU = DIR / "caltrain_trip_updates_20231108.pb"
VP = DIR / "caltrain_vehicle_positions_20231108.pb"


@pytest.fixture
def caltrain(caltrain_transit_snapshot_dir: Path, tmp_path: Path):
    if not TU.is_file() or not VP.is_file():
        pytest.skip(f"shared GTFS-RT samples not available: {DIR}")
    vp = VP.read_bytes()
    ts = header_s(vp)
    with replayed(caltrain_transit_snapshot_dir, tmp_path / "rt.db", ts + 5) as (c, svc, auth):
        push(c, "caltrain", TU.read_bytes(), auth)
        push(c, "caltrain", vp, auth)
        yield c, svc, ts


def test_vehicles_as_geojson_with_matched_trips(caltrain) -> None:
    c, svc, ts = caltrain
    tt = svc.planner.tt
    r = c.get("/v1/vehicles")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    body = r.json()
    assert body["type"] == "FeatureCollection"
    assert body["realtime_version"] == svc.state().live.realtime_version
    feats = body["features"]
    # the same positions read independently
    want, _ = parse_vehicle_positions(decode_feed(VP.read_bytes(), now=ts), tt, "caltrain")
    assert len(feats) == len(want) == 14
    live = svc.state().live.transit_realtime
    for f in feats:
        p = f["properties"]
        v = want[p["vehicle_id"]]
        assert f["id"] == f"caltrain:{v.vehicle_id}" and f["geometry"] == {
            "type": "Point", "coordinates": [round(v.lon, 7), round(v.lat, 7)]}
        assert p["trip_matched"] and p["trip_id"] == f"caltrain:{v.trip_id}"
        assert p["trip_id"] == tt.strings["trip_id"][v.trip]
        route = int(tt.arrays["trip_route"][v.trip])
        assert p["route_id"] == tt.strings["route_id"][route] == f"caltrain:{v.route_id}"
        assert p["route_short_name"] == tt.strings["route_short_name"][route]
        assert p["service_date"] == v.service_date.isoformat()
        assert p["age_s"] == ts + 5 - v.timestamp_s and p["timestamp"].endswith("Z")
        # the delay of its trip at its next stop (by time: the feed gives no stop)
        sdl = live.day(v.service_date)
        if not sdl.trip_realtime[v.trip]:
            assert p["delay_s"] is None
            continue
        a = tt.arrays
        pat = int(a["trip_pattern"][v.trip])
        n = tt.pattern_stop_list(pat).shape[0]
        base = int(a["pattern_st_offsets"][pat]) + (v.trip - int(a["pattern_trip_offsets"][
            pat])) * n
        mid = int(dt.datetime.combine(v.service_date, dt.time(12), tzinfo=_la()).timestamp()) \
            - 12 * 3600
        dep = mid + np.asarray(a["st_departure_s"][base: base + n], np.int64) + \
            sdl.departure_delay_s[base: base + n]
        nxt = int(np.flatnonzero(dep >= v.timestamp_s)[0]) if (dep >= v.timestamp_s).any() \
            else n - 1
        assert p["delay_s"] == int(sdl.arrival_delay_s[base + nxt]), p
    assert sum(f["properties"]["delay_s"] not in (None, 0) for f in feats) >= 8


def _la() -> dt.tzinfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo("America/Los_Angeles")


def test_bbox_and_route_filters(caltrain) -> None:
    c, _, _ = caltrain
    feats = c.get("/v1/vehicles").json()["features"]
    box = (-122.45, 37.55, -122.3, 37.8)
    inside = {f["id"] for f in feats if box[0] <= f["geometry"]["coordinates"][0] <= box[2]
              and box[1] <= f["geometry"]["coordinates"][1] <= box[3]}
    got = c.get("/v1/vehicles", params={"bbox": ",".join(map(str, box))}).json()["features"]
    assert {f["id"] for f in got} == inside and 0 < len(inside) < len(feats)
    for route in ("caltrain:L1", "L1"):
        got = c.get("/v1/vehicles", params={"route": route}).json()["features"]
        assert {f["id"] for f in got} == {f["id"] for f in feats
                                          if f["properties"]["route_id"] == "caltrain:L1"}
        assert got
    r = c.get("/v1/vehicles", params={"route": "caltrain:NOPE"})
    assert r.status_code == 404 and r.json()["type"].endswith("/unknown-route")
    for bad in ("1,2,3", "a,b,c,d", "-122,37,-123,38", "0,-100,1,1", "nan,1,2,3", ""):
        r = c.get("/v1/vehicles", params={"bbox": bad})
        if bad == "":
            assert r.status_code == 200  # an empty box is no box
            continue
        assert r.status_code == 422, bad
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["invalid_params"][0]["name"] == "query.bbox"


def test_the_departures_board_shows_the_vehicle(caltrain) -> None:
    c, svc, ts = caltrain
    tt = svc.planner.tt
    feats = c.get("/v1/vehicles").json()["features"]
    seen = 0
    for f in feats[:6]:
        trip = tt.trip_index(f["properties"]["trip_id"])
        stops = tt.pattern_stop_list(int(tt.arrays["trip_pattern"][trip]))
        stop_id = tt.strings["stop_id"][int(stops[-2])]  # still ahead of a running train
        r = c.get(f"/v1/stops/{stop_id}/departures", params={
            "at": dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(), "limit": 30})
        assert r.status_code == 200, r.text
        deps = {d["trip_id"]: d for d in r.json()["departures"]}
        d = deps.get(f["properties"]["trip_id"])
        if d is None:
            continue
        seen += 1
        v = d["vehicle"]
        assert v["id"] == f["properties"]["vehicle_id"]
        assert [v["lon"], v["lat"]] == f["geometry"]["coordinates"]
        assert v["age_s"] == f["properties"]["age_s"] and d["realtime"]
        assert all(x["vehicle"] is None for k, x in deps.items()
                   if k not in {g["properties"]["trip_id"] for g in feats})
    assert seen >= 3
