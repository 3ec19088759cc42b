"""Traffic endpoints end to end: speeds, congestion map and summary, alternatives,
diversions."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.service import load_service
from incidents.keys import create_key

A, B = "39.0837,-84.5086", "39.0912,-84.4960"


@pytest.fixture(scope="module")
def env(nky_snapshot_dir, tmp_path_factory):
    db = tmp_path_factory.mktemp("db") / "traffic.db"
    svc = load_service(nky_snapshot_dir, db_url=f"sqlite:///{db}")
    key = create_key(svc.store, "traffic_centre", "KYTC")
    reader = create_key(svc.store, "reader")
    with TestClient(create_app(service=svc), raise_server_exceptions=False) as c:
        yield c, svc, {"Authorization": f"Bearer {key}"}, {"Authorization": f"Bearer {reader}"}
    svc.close()


def test_posted_speeds_slow_routes_and_show_on_the_map(env) -> None:
    c, svc, h, reader = env
    before = c.get("/v1/route", params={"from": A, "to": B}).json()["routes"][0]
    car = svc.road.modes["car"]
    route_edges = svc.road.route(svc.state(), "car", 39.0837, -84.5086, 39.0912, -84.4960).edges
    ways = np.asarray(svc.snapshot.segments.way_id)[car.edge_seg[route_edges]]
    now = datetime.now(UTC).isoformat()
    obs = [{"ref": {"way_id": int(w), "direction": "both"}, "speed_kmh": 6, "observed_at": now,
            "confidence": 1.0} for w in dict.fromkeys(ways.tolist())]
    body = {"observations": obs + [{"ref": {"way_id": 5}, "speed_kmh": 6, "observed_at": now}]}
    assert c.post("/v1/traffic/speeds", json=body).status_code == 401
    assert c.post("/v1/traffic/speeds", json=body, headers=reader).status_code == 403
    r = c.post("/v1/traffic/speeds", json=body, headers=h)
    assert r.status_code == 200, r.text
    rep = r.json()
    assert rep["accepted"] == len(obs) and [x["index"] for x in rep["rejected"]] == [len(obs)]
    after = c.get("/v1/route", params={"from": A, "to": B}).json()["routes"][0]
    assert after["live_version"] > before["live_version"]
    assert after["duration_s"] > before["duration_s"]
    # the live part of the ETA — unless the route went round every slowed road
    assert after["eta_sources"]["live_s"] > 0 or after["geometry"] != before["geometry"]
    assert after["explanation"]["incidents"] == []  # speeds are not incidents
    fc = c.get("/v1/congestion", params={"min_level": "heavy"})
    assert fc.status_code == 200 and fc.headers["content-type"].startswith(
        "application/geo+json")
    feats = fc.json()["features"]
    assert feats and {f["properties"]["way_id"] for f in feats} & set(ways.tolist())
    summ = c.get("/v1/congestion/summary").json()
    assert summ["live_speed_edges"] > 0 and summ["total_delay_s"] > 0
    assert summ["km_by_level"]["standstill"] + summ["km_by_level"]["heavy"] > 0


def test_speed_batches_all_invalid_are_rejected(env) -> None:
    c, svc, h, _ = env
    future = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    for body in ({"observations": [{"ref": {"way_id": 1}, "speed_kmh": 10,
                                    "observed_at": future}]},
                 {"observations": []}, {"obs": []}, [1, 2]):
        r = c.post("/v1/traffic/speeds", json=body, headers=h)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    r = c.post("/v1/traffic/speeds", content=b"{not json", headers={
        **h, "Content-Type": "application/json"})
    assert r.status_code == 422


def car_ff(svc) -> np.ndarray:
    """Free-flow car weights."""
    return svc.road.modes["car"].free_flow_ms


def test_alternatives_and_diversions(env) -> None:
    c, svc, h, _ = env
    far = "38.9836,-84.6451"
    r = c.get("/v1/route", params={"from": A, "to": far, "alternatives": 2})
    assert r.status_code == 200
    routes = r.json()["routes"]
    assert 1 <= len(routes) <= 3
    assert all(x["duration_s"] >= routes[0]["duration_s"] for x in routes)
    assert c.get("/v1/route", params={"from": A, "to": far, "alternatives": 9}
                 ).status_code == 422
    # the stretch comes from the free-flow route, whatever speeds earlier tests posted
    free = svc.road.route(svc.publisher.custom({"car": car_ff(svc)}), "car", 39.0837,
                          -84.5086, 39.0912, -84.4960)
    coords = free.geometry()["coordinates"]
    k = len(coords) // 3
    body = {"type": "closure", "severity": "high", "start": "2020-01-01T00:00:00Z",
            "geometry": {"type": "LineString", "coordinates": coords[k:k + 6]},
            "direction": "both", "road_effect": {"closed_to": ["car"]}}
    inc = c.post("/v1/incidents", json=body, headers=h).json()
    d = c.get(f"/v1/incidents/{inc['id']}/diversions")
    assert d.status_code == 200, d.text
    divs = d.json()["diversions"]
    assert divs and all(x["closed_streets"] for x in divs)
    assert any(x["routes"] and x["routes"][0]["streets_to_sign"] for x in divs), divs
    assert all("CLOSED" in x["sign_text"] for x in divs)
    assert c.get("/v1/incidents/INC-99999/diversions").status_code == 404


def test_timed_routes_use_typical_speeds(env) -> None:
    """A later departure uses time-of-day speeds: a weekday 08:00 trip on the motorway is
    slower than at 03:00, and the answer says which source each part of the ETA came from."""
    c, svc, _, _ = env
    far = "38.9836,-84.6451"
    peak = c.get("/v1/route", params={"from": A, "to": far,
                                      "depart_at": "2030-01-16T08:00:00"}).json()["routes"][0]
    night = c.get("/v1/route", params={"from": A, "to": far,
                                       "depart_at": "2030-01-16T03:00:00"}).json()["routes"][0]
    assert peak["duration_s"] > night["duration_s"]
    src = peak["eta_sources"]
    assert src["day_type"] == "weekday" and src["typical_s"] > 0
    assert src["typical_s"] + src["free_flow_s"] + src["live_s"] == pytest.approx(
        peak["duration_s"], abs=1)
    assert src["arrival"].startswith("2030-01-16T08:")
    now = c.get("/v1/route", params={"from": A, "to": far}).json()["routes"][0]
    # routes now are on the live metric: typical speeds of this moment, no timed arrival
    assert now["eta_sources"]["day_type"] in ("weekday", "saturday", "sunday")
    assert now["eta_sources"]["arrival"] is None



def test_posted_speeds_are_learned_into_typical_speeds(env) -> None:
    c, svc, h, _ = env
    car = svc.road.modes["car"]
    e = int(np.flatnonzero(np.asarray(car.arrays.edge_snappable))[10])
    way = int(np.asarray(svc.snapshot.segments.way_id)[car.edge_seg[e]])
    direction = "backward" if car.edge_rev[e] else "forward"
    at = datetime.now(UTC)
    before = svc.typical
    r = c.post("/v1/traffic/speeds", headers=h, json={"observations": [
        {"ref": {"way_id": way, "direction": direction}, "speed_kmh": 4,
         "observed_at": at.isoformat()}]})
    assert r.status_code == 200
    deadline = time.monotonic() + 10
    while svc.typical is before and time.monotonic() < deadline:
        time.sleep(0.05)  # learning runs in the background, after the answer
    assert svc.typical is not before  # replaced by the learned profiles
    from routing.typical import day_type_of

    local = at.astimezone(__import__("zoneinfo").ZoneInfo(svc.tz))
    t_s = local.hour * 3600 + local.minute * 60 + 450
    old = int(before.travel_time_ms(day_type_of(local.date()), t_s, np.array([e]))[0])
    new = int(svc.typical.travel_time_ms(day_type_of(local.date()), t_s, np.array([e]))[0])
    assert new > old
