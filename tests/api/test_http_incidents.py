"""Live incidents through HTTP on the bundled city: closures reroute and restore, slowdowns
change ETAs, time windows apply at the departure time, closed stops leave itineraries,
access control, optimistic concurrency, history and GeoJSON lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
            "other": create_key(svc.store, "traffic_centre", "OHIO"),
            "reader": create_key(svc.store, "reader"),
            "admin": create_key(svc.store, "admin")}
    with TestClient(create_app(service=svc), raise_server_exceptions=False) as c:
        yield c, svc, {k: {"Authorization": f"Bearer {v}"} for k, v in keys.items()}
    svc.close()


def _route(c, **params):
    r = c.get("/v1/route", params={"from": A, "to": B, **params})
    assert r.status_code == 200, r.text
    return r.json()["routes"][0]


def _stretch(route, frac=3, n=6):
    coords = route["geometry"]["coordinates"]
    k = len(coords) // frac
    return {"type": "LineString", "coordinates": coords[k:k + n]}


def _closure(geometry, **extra):
    return {"type": "closure", "severity": "high", "start": "2020-01-01T00:00:00Z",
            "geometry": geometry, "direction": "both", "road_effect": {"closed_to": ["car"]},
            "description": {"en": "test closure"}, **extra}


def _resolve(c, hdr, inc):
    r = c.patch(f"/v1/incidents/{inc['id']}", json={"status": "resolved"},
                headers={**hdr, "If-Match": f'"{inc["version"]}"'})
    assert r.status_code == 200, r.text
    return r.json()


def test_closure_reroutes_and_removal_restores(env) -> None:
    c, svc, h = env
    before = _route(c)
    r = c.post("/v1/incidents", json=_closure(_stretch(before)), headers=h["tc"])
    assert r.status_code == 201, r.text
    inc = r.json()
    assert r.headers["etag"] == '"1"' and r.headers["location"] == f"/v1/incidents/{inc['id']}"
    assert inc["match"]["edge_counts"]["car"] > 0 and inc["match"]["street_names"]
    during = _route(c)
    assert during["live_version"] > before["live_version"]
    assert during["duration_s"] > before["duration_s"]
    assert during["geometry"] != before["geometry"]
    ex = during["explanation"]
    assert inc["id"] in ex["avoided"] and ex["delay_s"] == pytest.approx(
        during["duration_s"] - before["duration_s"], abs=0.5)
    assert any(inc["id"] in m for m in ex["messages"])
    assert ex["messages"][0].startswith("Avoids closure")
    zh = _route(c, lang="zh-CN")["explanation"]["messages"]
    assert zh[0].startswith("已避开道路封闭") and inc["id"] in zh[0] and "分钟" in zh[0]
    walk_before = _route(c, mode="walk")  # closed to cars only
    _resolve(c, h["tc"], inc)
    after = _route(c)
    assert after["duration_s"] == before["duration_s"]
    assert after["geometry"] == before["geometry"]
    assert after["explanation"]["avoided"] == [] and after["explanation"]["delay_s"] == 0
    assert _route(c, mode="walk")["duration_s"] == walk_before["duration_s"]


def test_slowdown_changes_eta_and_is_explained(env) -> None:
    c, svc, h = env
    before = _route(c)
    body = {"type": "roadworks", "severity": "moderate", "start": "2020-01-01T00:00:00Z",
            "geometry": _stretch(before, frac=2, n=10), "direction": "both",
            "road_effect": {"delay_s": 240}}
    inc = c.post("/v1/incidents", json=body, headers=h["tc"]).json()
    during = _route(c)
    ex = during["explanation"]
    if inc["id"] in ex["incidents"]:  # kept the road: pays (part of) the delay
        assert during["duration_s"] > before["duration_s"]
        assert ex["messages"][0].startswith("+")
    else:  # went round it
        assert inc["id"] in ex["avoided"]
    assert before["duration_s"] < during["duration_s"] <= before["duration_s"] + 241
    _resolve(c, h["tc"], inc)


def test_time_window_applies_at_departure(env) -> None:
    c, svc, h = env
    base = _route(c)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    body = _closure(_stretch(base), start=start.isoformat(),
                    end=(start + timedelta(hours=2)).isoformat())
    r = c.post("/v1/incidents", json=body, headers=h["tc"])
    assert r.status_code == 201 and r.json()["status"] == "scheduled"
    assert r.json()["effective_state"] == "pending"
    now = _route(c)
    assert now["duration_s"] == base["duration_s"]
    inside = _route(c, depart_at=(start + timedelta(minutes=30)).isoformat())
    assert inside["duration_s"] > base["duration_s"]
    assert r.json()["id"] in inside["explanation"]["avoided"]
    before_w = _route(c, depart_at=(start - timedelta(minutes=60)).isoformat())
    after_w = _route(c, depart_at=(start + timedelta(hours=2, minutes=30)).isoformat())
    assert before_w["duration_s"] == after_w["duration_s"] == base["duration_s"]
    inc = r.json()
    r = c.patch(f"/v1/incidents/{inc['id']}", json={"status": "cancelled"},
                headers={**h["tc"], "If-Match": '"1"'})
    assert r.status_code == 200


def test_closed_stop_leaves_itineraries_and_alerts_routes(env) -> None:
    c, svc, h = env
    params = {"from": A, "to": "38.9836,-84.6451", "depart_at": "2020-01-15T08:00:00"}
    before = c.get("/v1/plan", params=params).json()["itineraries"][0]
    leg = next(x for x in before["legs"] if x["mode"] == "transit")
    stop = leg["from"]
    body = {"type": "transit_disruption", "severity": "high", "start": "2019-12-01T00:00:00Z",
            "geometry": {"type": "Point", "coordinates": [stop["lon"], stop["lat"]]},
            "transit_effect": {"stops_closed": [stop["stop_id"]]},
            "description": {"en": "stop closed for works"}}
    r = c.post("/v1/incidents", json=body, headers=h["tc"])
    assert r.status_code == 201, r.text
    inc = r.json()
    after = c.get("/v1/plan", params=params).json()
    assert after["itineraries"]
    for it in after["itineraries"]:
        for x in it["legs"]:
            if x["mode"] == "transit":
                assert stop["stop_id"] not in (x["from"]["stop_id"], x["to"]["stop_id"])
    # routes serving the closed stop carry the alert where they are used
    alerted = [x for it in after["itineraries"] for x in it["legs"]
               if x["mode"] == "transit"
               and inc["id"] in [a["id"] for a in x.get("alerts") or []]]
    used_routes = {x["route"]["id"] for it in after["itineraries"] for x in it["legs"]
                   if x["mode"] == "transit"}
    if leg["route"]["id"] in used_routes:
        assert alerted
    _resolve(c, h["tc"], inc)
    restored = c.get("/v1/plan", params=params).json()["itineraries"][0]
    assert restored["arrival"] == before["arrival"]


def test_access_control_and_concurrency(env) -> None:
    c, svc, h = env
    geom = _stretch(_route(c))
    assert c.post("/v1/incidents", json=_closure(geom)).status_code == 401
    bad = {"Authorization": "Bearer cnk_000000000000_nope"}
    assert c.post("/v1/incidents", json=_closure(geom), headers=bad).status_code == 401
    assert c.post("/v1/incidents", json=_closure(geom), headers=h["reader"]).status_code == 403
    r = c.post("/v1/incidents", json=_closure(geom, external_id="X-1"), headers=h["tc"])
    assert r.status_code == 201
    inc = r.json()
    dup = c.post("/v1/incidents", json=_closure(geom, external_id="X-1"), headers=h["tc"])
    assert dup.status_code == 409
    path = f"/v1/incidents/{inc['id']}"
    change = {"severity": "severe"}
    assert c.patch(path, json=change, headers=h["tc"]).status_code == 428
    assert c.patch(path, json=change, headers={**h["other"], "If-Match": '"1"'}
                   ).status_code == 403
    ok = c.patch(path, json=change, headers={**h["tc"], "If-Match": '"1"'})
    assert ok.status_code == 200 and ok.headers["etag"] == '"2"'
    stale = c.patch(path, json={"severity": "low"}, headers={**h["admin"], "If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.headers["content-type"].startswith("application/problem+json")
    assert c.get(path).json()["severity"] == "severe"  # nothing overwritten silently
    assert c.delete(path, headers={**h["tc"], "If-Match": '"2"'}).status_code == 204
    assert c.get(path).status_code == 404
    hist = c.get(f"{path}/history").json()["history"]
    assert [x["action"] for x in hist] == ["create", "update", "delete"]
    assert hist[1]["before"]["severity"] == "high" and hist[1]["after"]["severity"] == "severe"
    assert all(x["actor"].startswith("key:") for x in hist)


def test_lists_are_geojson_and_answer_what_was_active_when(env) -> None:
    c, svc, h = env
    geom = _stretch(_route(c), frac=4)
    inc = c.post("/v1/incidents", json=_closure(geom), headers=h["tc"]).json()
    t_active = datetime.now(UTC).isoformat()
    fc = c.get("/v1/incidents", params={"status": "active"}).json()
    assert fc["type"] == "FeatureCollection"
    assert inc["id"] in [f["id"] for f in fc["features"]]
    f = next(f for f in fc["features"] if f["id"] == inc["id"])
    assert f["geometry"]["type"] == "LineString" and f["properties"]["type"] == "closure"
    far = c.get("/v1/incidents", params={"bbox": "0,0,1,1"}).json()["features"]
    assert far == []
    _resolve(c, h["tc"], inc)
    then = c.get("/v1/incidents", params={"at": t_active}).json()["features"]
    assert inc["id"] in [x["id"] for x in then]  # active at that time, as recorded then
    now = c.get("/v1/incidents", params={"at": datetime.now(UTC).isoformat()}).json()
    assert inc["id"] not in [x["id"] for x in now["features"]]
    assert c.get("/v1/incidents", params={"bbox": "1,2,3"}).status_code == 422


def test_a_delay_counts_for_a_later_departure_and_on_the_map_then(env) -> None:
    """A fixed delay (roadworks, 600 s) acts on a car route departing 20 minutes later — the
    timed route reaches it while it is in force — and the congestion map at that time shows
    it on the same edges."""
    c, svc, h = env
    later = (datetime.now(UTC) + timedelta(minutes=20)).replace(microsecond=0)
    base = _route(c, depart_at=later.isoformat())
    body = {"type": "roadworks", "severity": "high", "start": "2020-01-01T00:00:00Z",
            "geometry": _stretch(base, frac=2, n=10), "direction": "both",
            "road_effect": {"delay_s": 600}}
    inc = c.post("/v1/incidents", json=body, headers=h["tc"]).json()
    try:
        timed = _route(c, depart_at=later.isoformat())
        ex = timed["explanation"]
        assert inc["id"] in ex["incidents"] + ex["avoided"], ex
        assert timed["duration_s"] > base["duration_s"] + 60
        assert timed["eta_sources"]["arrival"]
        if inc["id"] in ex["incidents"]:  # drove through it: the delay is live time
            assert timed["eta_sources"]["live_s"] > 60
        fc = c.get("/v1/congestion", params={"at": later.isoformat(), "min_level": "slow"})
        causes = {x for f in fc.json()["features"] for x in f["properties"]["causes"]}
        assert inc["id"] in causes
    finally:
        _resolve(c, h["tc"], inc)


def test_list_at_a_time_reports_the_state_at_that_time(env) -> None:
    """``?at=`` answers with each incident's effective state as of that time (a scheduled
    closure listed for a moment inside its window is in effect then, not pending)."""
    c, svc, h = env
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    body = _closure(_stretch(_route(c), frac=5), start=start.isoformat(),
                    end=(start + timedelta(hours=2)).isoformat())
    inc = c.post("/v1/incidents", json=body, headers=h["tc"]).json()
    assert inc["effective_state"] == "pending"
    try:
        inside = c.get("/v1/incidents", params={"at": (start + timedelta(hours=1)).isoformat()})
        f = next(x for x in inside.json()["features"] if x["id"] == inc["id"])
        assert f["properties"]["effective_state"] == "in_effect"
        later = c.get("/v1/incidents", params={"at": (start + timedelta(hours=3)).isoformat()})
        assert inc["id"] not in [x["id"] for x in later.json()["features"]]
        m = c.get(f"/v1/incidents/{inc['id']}").json()["match"]
        assert m["line_length_m"] > 0 and m["length_m_by_mode"]["car"]
        assert "whole street segments" in m["explanation"]
    finally:
        r = c.patch(f"/v1/incidents/{inc['id']}", json={"status": "cancelled"},
                    headers={**h["tc"], "If-Match": '"1"'})
        assert r.status_code == 200


def test_if_match_star_matches_the_current_version_on_patch_and_delete(env) -> None:
    c, svc, h = env
    inc = c.post("/v1/incidents", json=_closure(_stretch(_route(c), frac=6)),
                 headers=h["tc"]).json()
    r = c.patch(f"/v1/incidents/{inc['id']}", json={"severity": "low"},
                headers={**h["tc"], "If-Match": "*"})
    assert r.status_code == 200 and r.headers["etag"] == '"2"'
    r = c.delete(f"/v1/incidents/{inc['id']}", headers={**h["tc"], "If-Match": "*"})
    assert r.status_code == 204
