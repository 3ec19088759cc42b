"""POST /v1/incidents?dry_run=true on the bundled city: the match and the expected impact
(sampled routes that change, transit stops and routes, diversions) and nothing stored."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.service import load_service
from incidents.keys import create_key

A, B = "39.0837,-84.5086", "39.0912,-84.4960"


@pytest.fixture(scope="module")
def env(nky_snapshot_dir, tmp_path_factory):
    db = tmp_path_factory.mktemp("db") / "incidents.db"
    svc = load_service(nky_snapshot_dir, db_url=f"sqlite:///{db}")
    keys = {"tc": create_key(svc.store, "traffic_centre", "KYTC"),
            "reader": create_key(svc.store, "reader"),
            "admin": create_key(svc.store, "admin")}
    with TestClient(create_app(service=svc), raise_server_exceptions=False) as c:
        yield c, svc, {k: {"Authorization": f"Bearer {v}"} for k, v in keys.items()}
    svc.close()


def _closure_on_route(c) -> tuple[dict, dict]:
    route = c.get("/v1/route", params={"from": A, "to": B}).json()["routes"][0]
    coords = route["geometry"]["coordinates"]
    k = len(coords) // 3
    geom = {"type": "LineString", "coordinates": coords[k:k + 6]}
    return route, {"type": "closure", "severity": "high", "start": "2020-01-01T00:00:00Z",
                   "geometry": geom, "direction": "both",
                   "road_effect": {"closed_to": ["car", "bus"]},
                   "description": {"en": "preview closure"}}


def test_dry_run_previews_and_stores_nothing(env) -> None:
    c, svc, h = env
    before_list = c.get("/v1/incidents").json()["features"]
    version = c.get("/v1/health").json().get("live_version")
    route, body = _closure_on_route(c)
    r = c.post("/v1/incidents", params={"dry_run": "true"}, json=body, headers=h["tc"])
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["dry_run"] is True and out["stored"] is False
    m = out["match"]
    assert m["edge_counts"]["car"] > 0 and m["length_m"] > 0 and m["street_names"]
    imp = out["impact"]
    assert imp["sampled_routes"] >= 8
    changed = imp["changed_routes"]
    assert changed, "a closure on a through street changes some sampled routes"
    for ch in changed:
        assert ch["before"]["type"] == "LineString"
        if ch["after_s"] is not None:
            assert ch["avoids"] is True  # closed to cars: new routes leave it
            assert ch["added_s"] >= -1.0
    assert isinstance(imp["transit"]["routes_affected"], list)
    assert imp["diversions"], "a car closure gets suggested diversions"
    # nothing stored, nothing published
    assert c.get("/v1/incidents").json()["features"] == before_list
    assert c.get("/v1/health").json().get("live_version") == version
    again = c.get("/v1/route", params={"from": A, "to": B}).json()["routes"][0]
    assert again["duration_s"] == route["duration_s"]


def test_dry_run_needs_a_writer_key_and_a_valid_body(env) -> None:
    c, _, h = env
    _, body = _closure_on_route(c)
    assert c.post("/v1/incidents?dry_run=true", json=body).status_code == 401
    assert c.post("/v1/incidents?dry_run=true", json=body,
                  headers=h["reader"]).status_code == 403
    bad = c.post("/v1/incidents?dry_run=true", json={**body, "severity": "apocalyptic"},
                 headers=h["tc"])
    assert bad.status_code == 422
    # what the store would refuse is refused here too (an admin naming a malformed agency)
    admin = c.post("/v1/incidents", params={"dry_run": "true", "agency": "0" * 99}, json=body,
                   headers=h["admin"])
    assert admin.status_code == 422, admin.text
    far = {**body, "geometry": {"type": "Point", "coordinates": [0.0, 0.0]}}
    r = c.post("/v1/incidents?dry_run=true", json=far, headers=h["tc"])
    assert r.status_code == 422 and r.json()["title"] == "Geometry matches nothing"
