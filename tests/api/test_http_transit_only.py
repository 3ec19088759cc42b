"""The HTTP API on a transit-only snapshot (BART, GTFS without a street network): health,
road endpoints answering 422, journeys with straight-line walking, incidents on stops, and
an end-to-end run of `citynav serve`."""

from __future__ import annotations

import math
import os

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.service import load_service
from gtfs.geo import haversine_m
from incidents.keys import create_key
from tests.api.live_server import live_server

POWELL = "37.7850,-122.4070"  # by Powell St.
BERKELEY = "37.8700,-122.2680"  # by Downtown Berkeley
DEPART = "2019-08-07T08:00:00"  # a Wednesday of BART's calendar, read in Pacific time
NO_STREETS = "this snapshot has no street network; it was built from GTFS only"


@pytest.fixture(scope="module")
def env(bart_transit_snapshot_dir, tmp_path_factory):
    db = tmp_path_factory.mktemp("db") / "incidents.db"
    svc = load_service(bart_transit_snapshot_dir, db_url=f"sqlite:///{db}")
    keys = {"tc": create_key(svc.store, "traffic_centre", "BART")}
    with TestClient(create_app(service=svc), raise_server_exceptions=False) as c:
        yield c, svc, {k: {"Authorization": f"Bearer {v}"} for k, v in keys.items()}
    svc.close()


def _problem(r: httpx.Response, status: int, kind: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"].endswith("/" + kind)
    return body


def test_health_says_transit_only(env) -> None:
    c, _, _ = env
    h = c.get("/v1/health").json()
    assert h["modes"] == [] and h["transit"] is True
    assert h["transit_only"] is True and h["walking"] == "straight_line"
    assert h["walk_detour_factor"] == 1.3
    assert h["timezone"] == "America/Los_Angeles"
    w, s, e, n = h["bbox"]
    assert w < -122.2 < e and s < 37.8 < n


def test_road_health_is_not_transit_only(client) -> None:
    h = client.get("/v1/health").json()
    assert h["transit_only"] is False and h["walking"] == "street"
    assert h["walk_detour_factor"] is None and h["modes"] == ["car", "bike", "walk", "bus",
                                                              "truck"]


@pytest.mark.parametrize("mode", ["car", "bike", "walk"])
def test_route_is_a_clear_422(env, mode: str) -> None:
    c, _, _ = env
    r = c.get("/v1/route", params={"from": POWELL, "to": BERKELEY, "mode": mode})
    assert _problem(r, 422, "no-street-network")["detail"] == NO_STREETS


def test_congestion_and_speeds_are_a_clear_422(env) -> None:
    c, _, h = env
    _problem(c.get("/v1/congestion"), 422, "no-street-network")
    _problem(c.get("/v1/congestion/summary"), 422, "no-street-network")
    body = {"observations": [{"ref": {"way_id": 1}, "speed_kmh": 30}]}
    _problem(c.post("/v1/traffic/speeds", json=body, headers=h["tc"]), 422,
             "no-street-network")


def test_plan_stop_to_stop(env) -> None:
    c, _, _ = env
    r = c.get("/v1/plan", params={"from": "stop:EMBR", "to": "stop:bart:DBRK",
                                  "depart_at": DEPART})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["service_date"] == "2019-08-07"
    it = out["itineraries"][0]
    assert [leg["mode"] for leg in it["legs"]] == ["transit"]
    assert it["departure"].endswith("-07:00")
    assert any("straight-line walking" in m for m in out["messages"])


def test_plan_coordinates_walk_in_straight_lines(env) -> None:
    c, _, _ = env
    r = c.get("/v1/plan", params={"from": POWELL, "to": BERKELEY, "depart_at": DEPART,
                                  "walk_speed_mps": 1.2})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["access_stops"] >= 1 and out["egress_stops"] >= 1
    it = out["itineraries"][0]
    modes = [leg["mode"] for leg in it["legs"]]
    assert modes[0] == modes[-1] == "walk" and "transit" in modes
    for leg in it["legs"]:
        if leg["mode"] != "walk":
            assert leg["straight_line"] is None
            continue
        a, b = leg["from"], leg["to"]
        straight = float(haversine_m(a["lat"], a["lon"], b["lat"], b["lon"]))
        assert leg["steps"] == [] and leg["straight_line"] is True
        assert leg["geometry"]["coordinates"] == [[a["lon"], a["lat"]], [b["lon"], b["lat"]]]
        assert leg["distance_m"] == pytest.approx(straight * 1.3, abs=0.15)
        assert leg["duration_s"] == math.ceil(straight * 1.3 / 1.2)
    assert any("straight-line walking: no street network" in m for m in out["messages"])


@pytest.mark.parametrize("mode", ["bike", "car"])
def test_plan_with_bike_or_car_access_is_a_clear_422(env, mode: str) -> None:
    c, _, _ = env
    r = c.get("/v1/plan", params={"from": POWELL, "to": BERKELEY, "depart_at": DEPART,
                                  "access_mode": mode})
    body = _problem(r, 422, "access-mode-unavailable")
    assert "needs a street network" in body["detail"] and "access_mode=walk" in body["detail"]
    assert body["invalid_params"][0]["name"] == "query.access_mode"


def test_plan_outside_the_service_period(env) -> None:
    c, _, _ = env
    r = c.get("/v1/plan", params={"from": "stop:EMBR", "to": "stop:DBRK",
                                  "depart_at": "2021-01-01T08:00:00"})
    _problem(r, 422, "outside-service-period")


def test_stops_and_departures(env) -> None:
    c, _, _ = env
    near = c.get("/v1/stops", params={"near": POWELL, "radius_m": 300}).json()["stops"]
    assert near[0]["stop_id"] == "bart:POWL"
    r = c.get("/v1/stops/POWL/departures", params={"at": DEPART, "limit": 3})
    assert r.status_code == 200 and len(r.json()["departures"]) == 3


def test_closed_stop_is_avoided_and_road_geometry_matches_nothing(env) -> None:
    c, _, h = env
    params = {"from": POWELL, "to": "stop:DBRK", "depart_at": DEPART}
    before = c.get("/v1/plan", params=params).json()["itineraries"][0]
    ride = next(x for x in before["legs"] if x["mode"] == "transit")
    stop = ride["from"]
    assert stop["stop_id"] == "bart:POWL"
    body = {"type": "transit_disruption", "severity": "high", "start": "2019-01-01T00:00:00Z",
            "geometry": {"type": "Point", "coordinates": [stop["lon"], stop["lat"]]},
            "transit_effect": {"stops_closed": [stop["stop_id"]]},
            "description": {"en": "station closed"}}
    r = c.post("/v1/incidents", json=body, headers=h["tc"])
    assert r.status_code == 201, r.text
    inc = r.json()
    assert inc["match"]["stops"] == [stop["stop_id"]] and inc["match"]["edge_count"] == 0
    _problem(c.get(f"/v1/incidents/{inc['id']}/diversions"), 422, "no-road-stretch")
    after = c.get("/v1/plan", params=params).json()
    assert after["itineraries"]  # boarding at another station within walking distance
    for it in after["itineraries"]:
        for x in it["legs"]:
            if x["mode"] == "transit":
                assert stop["stop_id"] not in (x["from"]["stop_id"], x["to"]["stop_id"])
    alerted = [x for it in after["itineraries"] for x in it["legs"]
               if x["mode"] == "transit"
               and inc["id"] in [a["id"] for a in x.get("alerts") or []]]
    used = {x["route"]["id"] for it in after["itineraries"] for x in it["legs"]
            if x["mode"] == "transit"}
    if ride["route"]["id"] in used:  # routes serving the closed stop carry the alert
        assert alerted
    # a road closure away from every stop matches nothing: no street network
    road = {"type": "closure", "severity": "high", "start": "2019-01-01T00:00:00Z",
            "geometry": {"type": "LineString",
                         "coordinates": [[-122.300, 37.900], [-122.301, 37.901]]},
            "road_effect": {"closed_to": ["car"]}}
    _problem(c.post("/v1/incidents", json=road, headers=h["tc"]), 422,
             "geometry-matches-nothing")
    r = c.patch(f"/v1/incidents/{inc['id']}", json={"status": "resolved"},
                headers={**h["tc"], "If-Match": f'"{inc["version"]}"'})
    assert r.status_code == 200, r.text
    restored = c.get("/v1/plan", params=params).json()["itineraries"][0]
    assert restored["arrival"] == before["arrival"]


def test_end_to_end_plan_on_bart(bart_transit_snapshot_dir, tmp_path) -> None:
    """`citynav serve` on the transit-only snapshot: health and a journey over HTTP."""
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(_repo()),
                                                       os.environ.get("PYTHONPATH")]))}
    with live_server(bart_transit_snapshot_dir,
                     ["--db", f"sqlite:///{tmp_path / 'inc.db'}"], env=env) as (url, _):
        h = httpx.get(f"{url}/v1/health", timeout=10).json()
        assert h["transit_only"] is True and h["modes"] == []
        r = httpx.get(f"{url}/v1/plan", params={"from": POWELL, "to": "stop:DBRK",
                                                "depart_at": DEPART}, timeout=60)
        assert r.status_code == 200, r.text
        it = r.json()["itineraries"][0]
        assert it["legs"][0]["mode"] == "walk" and it["legs"][0]["straight_line"] is True
        assert it["legs"][-1]["to"]["stop_id"] == "bart:DBRK"
        r = httpx.get(f"{url}/v1/route", params={"from": POWELL, "to": BERKELEY},
                      timeout=10)
        assert r.status_code == 422 and r.json()["detail"] == NO_STREETS


def _repo():
    from pathlib import Path

    return Path(__file__).resolve().parents[2]
