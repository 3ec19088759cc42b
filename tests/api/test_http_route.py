"""End-to-end through HTTP on the bundled city: health, routes, and problem details."""

from __future__ import annotations

import pytest

COV = "39.0837,-84.5086"  # Covington, near Madison Ave & 7th
NEWPORT = "39.0912,-84.4960"


def test_health(client) -> None:
    svc = client.app.state.service
    before = svc.state().version
    r = client.get("/v1/health")
    after = svc.state().version
    assert r.status_code == 200
    body = r.json()
    # the version of the state in force (typical speeds move with the clock, so it is not
    # always the first one when this test runs)
    assert body["status"] == "ok" and before <= body["live_version"] <= after
    assert len(body["snapshot_id"]) == 16
    assert body["counts"]["car_edges"] > 10_000
    assert set(body["modes"]) == {"car", "bike", "walk", "bus", "truck"}
    assert body["timezone"] == "America/New_York"  # the TANK feed's agency zone


@pytest.mark.parametrize("mode", ["car", "bike", "walk", "bus", "truck"])
def test_route_answer_shape(client, mode: str) -> None:
    r = client.get("/v1/route", params={"from": COV, "to": NEWPORT, "mode": mode})
    assert r.status_code == 200, r.text
    route = r.json()["routes"][0]
    assert route["mode"] == mode
    # buses and 18 t trucks avoid the Veterans Memorial Bridge (maxweight 34000 lbs)
    assert route["duration_s"] > 0 and 1000 < route["distance_m"] < (
        5000 if mode in ("car", "bike", "walk") else 8000)
    coords = route["geometry"]["coordinates"]
    assert route["geometry"]["type"] == "LineString" and len(coords) >= 2
    assert all(a != b for a, b in zip(coords, coords[1:], strict=False))  # no repeated vertex
    w, s, e, n = route["bbox"]
    assert all(w <= x <= e and s <= y <= n for x, y in coords)
    steps = route["steps"]
    assert steps[0]["type"] == "depart" and steps[-1]["type"] == "arrive"
    assert sum(st["distance_m"] for st in steps) == pytest.approx(route["distance_m"], abs=1)
    assert sum(st["duration_s"] for st in steps) == pytest.approx(route["duration_s"], abs=1)
    assert any(st["name"] for st in steps)
    # origin snapped near the input, GeoJSON order [lon, lat]
    assert abs(route["origin"]["location"][0] - (-84.5086)) < 0.01
    # both ends on the main network here: plain nearest-road snaps, no note
    for end in (route["origin"], route["destination"]):
        assert end["snap"]["reason"] == "nearest" and end["snap"]["note"] is None
        assert end["snap"]["snapped_to"] == "nearest_road"
        assert end["snap"]["distance_m"] == end["distance_m"]


def test_walk_slower_than_car(client) -> None:
    car = client.get("/v1/route", params={"from": COV, "to": NEWPORT}).json()["routes"][0]
    walk = client.get("/v1/route", params={"from": COV, "to": NEWPORT, "mode": "walk"}).json()
    assert walk["routes"][0]["duration_s"] > 2 * car["duration_s"]


@pytest.mark.parametrize(
    ("params", "status", "needle"),
    [
        ({"from": "abc", "to": NEWPORT}, 422, "from"),
        ({"from": "95,10", "to": NEWPORT}, 422, "latitude"),
        ({"from": "39.08,-200", "to": NEWPORT}, 422, "longitude"),
        ({"from": "nan,1", "to": NEWPORT}, 422, "from"),
        ({"from": COV}, 422, "to"),
        ({"from": COV, "to": NEWPORT, "mode": "plane"}, 422, "mode"),
        ({"from": "48.85,2.35", "to": NEWPORT}, 422, "more than"),
    ],
)
def test_bad_requests_are_problem_details(client, params, status: int, needle: str) -> None:
    r = client.get("/v1/route", params=params)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status and body["type"].startswith("https://")
    assert needle in body["detail"]


def test_unknown_path_is_a_problem(client) -> None:
    r = client.get("/v1/nope")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")


def test_openapi_and_docs(client) -> None:
    spec = client.get("/openapi.json").json()
    assert "/v1/route" in spec["paths"] and "/v1/health" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_route_instructions_in_chinese(client) -> None:
    en = client.get("/v1/route", params={"from": COV, "to": NEWPORT}).json()["routes"][0]
    for lang in ("zh-CN", "zh", "zh-Hans"):
        r = client.get("/v1/route", params={"from": COV, "to": NEWPORT, "lang": lang})
        assert r.status_code == 200, r.text
        zh = r.json()["routes"][0]
        assert [s["type"] for s in zh["steps"]] == [s["type"] for s in en["steps"]]
        assert zh["steps"][0]["instruction"].startswith("向")
        assert zh["steps"][-1]["instruction"] == "到达目的地"
    assert en["steps"][0]["instruction"].startswith("Head ")


def test_route_ramp_steps_carry_signposts_and_exit_numbers(client) -> None:
    r = client.get("/v1/route", params={"from": "39.056,-84.540", "to": "39.096,-84.521"})
    steps = r.json()["routes"][0]["steps"]
    ramp = next(s for s in steps if s["type"] == "on ramp")
    assert "Cincinnati" in ramp["destination"] and ramp["destination"] in ramp["instruction"]
    off = next(s for s in steps if s["type"] == "off ramp" and s.get("exit_ref"))
    assert off["instruction"].startswith(f"Take exit {off['exit_ref']} toward ")
    assert any(s.get("ref") == "I 71 / I 75" for s in steps)
    assert not any(";" in s["name"] or ";" in s["instruction"] for s in steps)


def test_unknown_language_is_a_problem(client) -> None:
    r = client.get("/v1/route", params={"from": COV, "to": NEWPORT, "lang": "fr"})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert "en" in body["detail"] and "zh-CN" in body["detail"] and "'fr'" in body["detail"]
    assert body["invalid_params"][0]["name"] == "query.lang"


def test_truck_route_reports_and_checks_its_dimensions(client) -> None:
    r = client.get("/v1/route", params={"from": COV, "to": NEWPORT, "mode": "truck"})
    assert r.status_code == 200, r.text
    assert r.json()["vehicle"] == {"height_m": 4.0, "width_m": 2.55, "weight_t": 18.0,
                                   "length_m": 12.0}
    small = client.get("/v1/route", params={"from": COV, "to": NEWPORT, "mode": "truck",
                                            "vehicle_height_m": 2.5, "vehicle_weight_t": 3})
    assert small.status_code == 200, small.text
    assert small.json()["vehicle"]["height_m"] == 2.5
    assert small.json()["vehicle"]["width_m"] == 2.55  # default for what was not given
    # a 3 t van may take the Veterans Memorial Bridge (maxweight 34000 lbs = 15.4 t); the
    # default 18 t truck goes round
    assert small.json()["routes"][0]["distance_m"] < 0.5 * r.json()["routes"][0]["distance_m"]
    car = client.get("/v1/route", params={"from": COV, "to": NEWPORT}).json()
    assert "vehicle" not in car or car["vehicle"] is None


@pytest.mark.parametrize("params", [
    {"mode": "car", "vehicle_height_m": 3},
    {"mode": "truck", "vehicle_height_m": -1},
    {"mode": "truck", "vehicle_weight_t": 1000},
])
def test_bad_vehicle_dimensions_are_problems(client, params: dict) -> None:
    r = client.get("/v1/route", params={"from": COV, "to": NEWPORT, **params})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
