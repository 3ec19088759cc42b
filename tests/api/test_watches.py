"""Commute watches on the bundled city: the HTTP API (keys, personal tokens, RFC 9457 errors),
and 1,000 saved watches where a closure notifies exactly the watches whose best answer it
changes — checked against re-planning every watch before and after — then its removal
notifies exactly those whose answer comes back, a slowdown notifies the watches it puts an
incident on, and nothing is notified twice."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.service import Service, load_service
from api.watching import WatchPlanError
from incidents.keys import create_key
from routing.clock import ReplayClock
from tests.api.watch_support import busiest_edge, edge_line, random_specs, replan_all

#: A Wednesday, 08:00 in the city: every test watch's window (07:00-10:00) is open.
NOW = datetime(2020, 1, 15, 8, 0, tzinfo=ZoneInfo("America/New_York"))
N_WATCHES = 1000
A, B = "39.0837,-84.5086", "39.0912,-84.4960"


@pytest.fixture(scope="module")
def env(nky_snapshot_dir: Path, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[tuple[TestClient, Service, dict[str, dict[str, str]]]]:
    db = tmp_path_factory.mktemp("watches") / "incidents.db"
    svc = load_service(nky_snapshot_dir, db_url=f"sqlite:///{db}",
                       clock=ReplayClock(NOW, frozen=True))
    keys = {"tc": create_key(svc.store, "traffic_centre", "KYTC"),
            "reader": create_key(svc.store, "reader")}
    with TestClient(create_app(service=svc), raise_server_exceptions=False) as c:
        yield c, svc, {k: {"Authorization": f"Bearer {v}"} for k, v in keys.items()}
    svc.close()


def _settled(svc: Service, version: int, timeout_s: float = 60) -> None:
    assert svc.watches is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        evs = svc.watches.evaluations
        if evs and evs[-1].version >= version:
            return
        time.sleep(0.02)
    raise AssertionError(f"watches not evaluated for version {version}")


def _notices(svc: Service, after_seq: int) -> list[tuple[int, str, dict[str, Any]]]:
    assert svc.store is not None
    with svc.store.db.transaction() as tx:
        rows = tx.execute("SELECT seq, watch_id, body FROM watch_notices WHERE seq > ?"
                          " ORDER BY seq", (after_seq,))
    return [(int(r[0]), r[1], svc.store.db.json_out(r[2])) for r in rows]


def _last_seq(svc: Service) -> int:
    n = _notices(svc, 0)
    return n[-1][0] if n else 0


def _expected(svc: Service, before: dict[str, Any], after: dict[str, Any],
              reference: dict[str, float | None]) -> set[str]:
    """The oracle: watches whose re-planned best answer moved by more than the threshold
    from the duration they were last told, or that carry an incident they did not."""
    assert svc.watches is not None
    out = set()
    for wid in svc.watches.ids():
        t = svc.watches.tracked(wid)
        x, y, ref = before[wid], after[wid], reference[wid]
        if x is None or y is None:
            if (x is None) != (y is None):
                out.add(wid)
            continue
        new_incident = bool(set(y["incidents"]) - set(x["incidents"]))
        if new_incident or (ref is not None and abs(y["duration_s"] - ref)
                            > t.spec.threshold_s):
            out.add(wid)
    return out


def test_watch_http_api(env: Any) -> None:
    c, svc, h = env
    body = {"from": A, "to": B, "mode": "car", "window": {"start": "07:30", "end": "09:00"},
            "threshold_s": 120, "label": "to work"}
    # without credentials: a personal token is minted for the new watch
    r = c.post("/v1/watches", json=body)
    assert r.status_code == 201, r.text
    w = r.json()
    token = w["token"]
    assert token.startswith("cnp_") and w["id"].startswith("W-")
    assert w["answer"]["duration_s"] > 0 and "edges" not in w["answer"]
    assert w["days"] == ["mon", "tue", "wed", "thu", "fri"] and w["window"]["start"] == "07:30"
    mine = {"Authorization": f"Bearer {token}"}
    assert [x["id"] for x in c.get("/v1/watches", headers=mine).json()] == [w["id"]]
    # the token adds more of its own; a reader key owns its own watches
    r2 = c.post("/v1/watches", json={**body, "mode": "bike"}, headers=mine)
    assert r2.status_code == 201 and "token" not in r2.json()
    rk = c.post("/v1/watches", json={**body, "mode": "walk"}, headers=h["reader"])
    assert rk.status_code == 201
    assert c.get(f"/v1/watches/{rk.json()['id']}", headers=mine).status_code == 404
    got = c.get(f"/v1/watches/{w['id']}", headers=mine).json()
    assert got["id"] == w["id"] and got["notifications"] == []
    # errors are problem details
    for bad, where in (({**body, "from": "x"}, "body.from"),
                       ({**body, "mode": "plane"}, "body.mode"),
                       ({**body, "window": {"start": "09:00", "end": "08:00"}}, "body.window"),
                       ({**body, "days": ["someday"]}, "body.days"),
                       ({**body, "threshold_s": -1}, "body.threshold_s")):
        r = c.post("/v1/watches", json=bad, headers=mine)
        assert r.status_code == 422, bad
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["invalid_params"][0]["name"].startswith(where)
    far = c.post("/v1/watches", json={**body, "to": "10.0,10.0"}, headers=mine)
    assert far.status_code == 422 and far.json()["type"].endswith("/no-answer")
    assert c.get("/v1/watches", headers={"Authorization": "Bearer cnp_nope"}
                 ).status_code == 401
    assert c.get("/v1/watches").status_code == 401
    assert c.delete(f"/v1/watches/{w['id']}", headers=h["reader"]).status_code == 404
    for x in (w, r2.json()):
        assert c.delete(f"/v1/watches/{x['id']}", headers=mine).status_code == 204
    assert c.delete(f"/v1/watches/{rk.json()['id']}", headers=h["reader"]).status_code == 204
    assert c.get("/v1/watches", headers=mine).json() == []
    # by default a webhook may not make the server call into its own network
    for url in ("http://127.0.0.1:9/x", "http://localhost/x", "http://[::1]/x",
                "http://10.1.2.3/x", "http://169.254.169.254/latest"):
        r = c.post("/v1/webhooks", json={"url": url}, headers=mine)
        assert r.status_code == 422, url
        assert "private network" in r.json()["detail"]
    ok = c.post("/v1/webhooks", json={"url": "https://example.org/h"}, headers=mine)
    assert ok.status_code == 201
    assert c.delete(f"/v1/webhooks/{ok.json()['id']}", headers=mine).status_code == 204


@pytest.mark.slow
def test_thousand_watches_notified_exactly(env: Any) -> None:
    c, svc, h = env
    worker = svc.watches
    made = 0
    for spec in random_specs(svc, int(N_WATCHES * 1.05), seed=11):
        if made == N_WATCHES:
            break
        try:
            worker.create("key:bulk", spec)
            made += 1
        except WatchPlanError:
            continue  # e.g. a transit trip without an itinerary in its window
    assert made == N_WATCHES
    ids = worker.ids()
    modes = {worker.tracked(w).spec.mode for w in ids}
    assert modes == {"car", "bike", "walk", "transit"}
    st0 = svc.state()
    before = replan_all(svc, st0)
    # the stored answers are the answers of the current state
    assert all(before[w] is not None and before[w]["duration_s"]
               == worker.tracked(w).answer["duration_s"] for w in ids)
    reference = {w: worker.tracked(w).answer["reference_s"] for w in ids}

    # 1. a closure on the busiest edge
    edge = busiest_edge(svc)
    # the watches whose answer uses the closed street segment, in their own mode's graph
    # (the closure is matched per mode; edge ids differ between the modes' graphs)
    seg = int(np.asarray(svc.snapshot.modes["car"].edge_seg)[edge])
    users = {w for w in ids if worker.tracked(w).spec.mode in ("car", "bike", "walk")
             and seg in np.asarray(svc.snapshot.modes[worker.tracked(w).spec.mode].edge_seg)[
                 worker.tracked(w).edges].tolist()}
    seq0 = _last_seq(svc)
    t0 = time.perf_counter()
    r = c.post("/v1/incidents", headers=h["tc"], json={
        "type": "closure", "severity": "high", "start": "2020-01-01T00:00:00Z",
        "geometry": edge_line(svc, edge), "direction": "both",
        "road_effect": {"closed_to": ["car", "bike", "walk"]},
        "description": {"en": "test closure"}})
    assert r.status_code == 201, r.text
    closure = r.json()
    st1 = svc.state()
    _settled(svc, st1.version)
    first = _notices(svc, seq0)
    elapsed = time.perf_counter() - t0
    print(f"\n{len(users)} watches use the closed edge; {len(first)} notified; "
          f"last notification {elapsed * 1000:.0f} ms after the POST began")
    after = replan_all(svc, st1)
    expected = _expected(svc, before, after, reference)
    assert expected, "the closure should change some answers"
    notified = {w for _, w, _ in first}
    assert notified == expected
    assert len(first) == len(notified)  # one notification per watch
    # a closure only slows the watches that used it
    assert notified <= users, {w: worker.tracked(w).spec.mode for w in notified - users}
    ev = worker.evaluations[-1]
    assert ev.first_notice is not None
    print(f"closure: {ev.candidates} candidates, {ev.replanned} re-planned; first "
          f"notification {(ev.first_notice - t0) * 1000:.0f} ms after the POST began")
    assert ev.replanned < len(ids) / 5  # incremental: not every watch was re-planned
    for _, wid, body in first:
        t = worker.tracked(wid)
        assert body["watch_id"] == wid and body["cause"] == "change"
        if after[wid] is None:  # the closure cut the trip off: said so
            assert body["duration_s"] is None and body["error"]
            continue
        assert body["duration_s"] == after[wid]["duration_s"]
        assert body["time_lost_s"] == pytest.approx(after[wid]["duration_s"] - reference[wid],
                                                    abs=0.11)
        assert abs(body["time_lost_s"]) > t.spec.threshold_s
        assert closure["id"] in body["explanation"]["avoided"]
        assert body["explanation"]["messages"] and body["explanation_zh"]
        assert body["route"]["geometry"]["type"] == "LineString"
    # the owner sees them on the watch
    # 2. the same state again, and a change no watch's answer depends on: nothing repeated
    worker.evaluate(svc.engine.sync())
    assert _notices(svc, seq0) == first
    reference = {w: worker.tracked(w).answer["reference_s"] for w in ids}
    before = after

    # 3. the closure ends: exactly the watches whose answer comes back are told
    seq1 = _last_seq(svc)
    r = c.delete(f"/v1/incidents/{closure['id']}", headers={**h["tc"], "If-Match": '"1"'})
    assert r.status_code == 204, r.text
    st2 = svc.state()
    _settled(svc, st2.version)
    after = replan_all(svc, st2)
    back = _notices(svc, seq1)
    ev = worker.evaluations[-1]
    print(f"reopened: {ev.candidates} candidates, {ev.replanned} re-planned, "
          f"{len(back)} notified")
    assert {w for _, w, _ in back} == _expected(svc, before, after, reference) == notified
    assert all(b["time_lost_s"] is None or b["time_lost_s"] < 0 for _, _, b in back)

    # 4. a small slowdown: it changes few durations by more than their threshold, but every
    # watch still driving through it is told it has an incident on its route
    reference = {w: worker.tracked(w).answer["reference_s"] for w in ids}
    before = after
    seq2 = _last_seq(svc)
    r = c.post("/v1/incidents", headers=h["tc"], json={
        "type": "congestion", "severity": "low", "start": "2020-01-01T00:00:00Z",
        "geometry": edge_line(svc, edge), "direction": "both",
        "road_effect": {"delay_s": 4}, "description": {"en": "slow"}})
    assert r.status_code == 201, r.text
    slow = r.json()
    st3 = svc.state()
    _settled(svc, st3.version)
    after = replan_all(svc, st3)
    third = _notices(svc, seq2)
    expected = _expected(svc, before, after, reference)
    assert {w for _, w, _ in third} == expected and expected
    assert all(slow["id"] in b["new_incidents_on_route"] for _, w, b in third
               if b["time_lost_s"] is not None
               and abs(b["time_lost_s"]) <= worker.tracked(w).spec.threshold_s)
    # the owner reads them on the watch too
    wid = third[0][1]
    assert worker.tracked(wid).owner == "key:bulk"
