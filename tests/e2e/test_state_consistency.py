"""One state per answer, under load: routes, plans and congestion summaries are asked from
several threads while incidents are posted and removed continuously; every answer must be
internally consistent — its route, explanation and ``live_version`` from one state, and the
causes it names in force in that version.

The server runs on a frozen replay clock, so only the writes change the state: each write's
answer (or ``/v1/health`` right after a delete) tells which version holds which incidents,
and every answer is checked against the incidents of its own version afterwards.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.live_server import live_server
from tests.e2e.test_incident_faults import (
    closure_body,
    copy_snapshot,
    duration,
    make_key,
    route_stretch,
)

FROM, TO = "39.0837,-84.5086", "39.0912,-84.4960"
FAR = "38.9836,-84.6451"
CLOCK = "2020-01-15T08:00:00-05:00"
ROUNDS = 12


def _delete(client: httpx.Client, inc_id: str) -> None:
    cur = client.get(f"/v1/incidents/{inc_id}")
    assert cur.status_code == 200, cur.text
    r = client.delete(f"/v1/incidents/{inc_id}", headers={"If-Match": cur.headers["ETag"]})
    assert r.status_code == 204, r.text


@pytest.mark.slow
def test_answers_come_from_one_state_while_incidents_change(nky_snapshot_dir: Path,
                                                             tmp_path: Path) -> None:
    snap = copy_snapshot(nky_snapshot_dir, tmp_path)
    key = make_key(snap, "traffic_centre")
    with live_server(snap, ["--clock", CLOCK, "--freeze-clock"]) as (url, _proc):
        auth = {"Authorization": f"Bearer {key}"}
        c = httpx.Client(base_url=url, timeout=60, headers=auth)
        base = c.get("/v1/route", params={"from": FROM, "to": TO}).json()
        d0 = duration(base)
        stretch = route_stretch(base)
        plan0 = c.get("/v1/plan", params={"from": FROM, "to": FAR}).json()
        board = next(leg["from"] for it in plan0["itineraries"] for leg in it["legs"]
                     if leg["mode"] == "transit")
        stop_body = {"type": "transit_disruption", "severity": "low",
                     "start": "2020-01-01T00:00:00Z",
                     "geometry": {"type": "Point", "coordinates": [board["lon"], board["lat"]]},
                     "transit_effect": {"stops_closed": [board["stop_id"]]}}
        v0 = c.get("/v1/health").json()["live_version"]
        # version → (road closure ids, stop closure ids) in force from that version on
        history: list[tuple[int, frozenset[str], frozenset[str]]] = [(v0, frozenset(),
                                                                       frozenset())]
        answers: list[tuple[str, dict[str, Any]]] = []
        done = threading.Event()
        errors: list[BaseException] = []

        def writer() -> None:
            try:
                roads: set[str] = set()
                stops: set[str] = set()
                for i in range(ROUNDS):
                    r = c.post("/v1/incidents", json=closure_body(stretch))
                    assert r.status_code == 201, r.text
                    roads.add(r.json()["id"])
                    history.append((r.json()["live_version"], frozenset(roads),
                                    frozenset(stops)))
                    if i % 2 == 0:
                        r = c.post("/v1/incidents", json=stop_body)
                        assert r.status_code == 201, r.text
                        stops.add(r.json()["id"])
                        history.append((r.json()["live_version"], frozenset(roads),
                                        frozenset(stops)))
                    for group in (roads, stops) if i % 3 else (roads,):
                        for inc_id in sorted(group):
                            _delete(c, inc_id)
                            group.discard(inc_id)
                            v = c.get("/v1/health").json()["live_version"]
                            history.append((v, frozenset(roads), frozenset(stops)))
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)
            finally:
                done.set()

        def reader(kind: str) -> None:
            with httpx.Client(base_url=url, timeout=60) as rc:
                try:
                    while not done.is_set():
                        if kind == "route":
                            r = rc.get("/v1/route", params={"from": FROM, "to": TO,
                                                            "alternatives": 1})
                        elif kind == "plan":
                            r = rc.get("/v1/plan", params={"from": FROM, "to": FAR})
                        else:
                            r = rc.get("/v1/congestion/summary")
                        assert r.status_code == 200, r.text
                        answers.append((kind, r.json()))
                except BaseException as exc:  # noqa: BLE001
                    errors.append(exc)

        threads = [threading.Thread(target=writer)] + [
            threading.Thread(target=reader, args=(k,)) for k in ("route", "route", "plan",
                                                                   "congestion")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
        assert not errors, errors
        c.close()

    history.sort(key=lambda h: h[0])

    def in_force(v: int) -> tuple[frozenset[str], frozenset[str]]:
        found = [h for h in history if h[0] <= v]
        assert found, f"answer version {v} older than the baseline"
        return found[-1][1], found[-1][2]

    kinds = {k for k, _ in answers}
    assert kinds == {"route", "plan", "congestion"} and len(answers) >= 40
    versions = {a["live_version"] for _, a in answers}
    assert len(versions) >= 5, "readers should have seen many states"
    for kind, a in answers:
        v = a["live_version"]
        roads, stops = in_force(v)
        if kind == "route":
            assert all(r["live_version"] == v for r in a["routes"])
            expl = a["routes"][0]["explanation"]
            named = set(expl["incidents"]) | set(expl["avoided"])
            assert named <= roads, (v, named, roads)
            if roads:
                assert named and duration(a) > d0 + 30, (v, expl, duration(a))
                assert expl["delay_s"] == pytest.approx(
                    duration(a) - expl["no_incident_duration_s"], abs=0.2)
            else:
                assert duration(a) == pytest.approx(d0, abs=0.5) and not named
        elif kind == "plan":
            for it in a["itineraries"]:
                assert set(it["alerts"]) <= roads | stops
                for leg in it["legs"]:
                    if leg["mode"] == "transit" and stops:
                        assert board["stop_id"] not in (leg["from"]["stop_id"],
                                                        leg["to"]["stop_id"]), (v, stops)
        else:
            causes = {c["id"] for c in a["active_causes"]}
            assert causes == set(roads), (v, causes, roads)
            assert (a["closed_edges"] > 0) == bool(roads)
