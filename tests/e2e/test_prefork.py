"""`citynav serve --workers 2` on the bundled city, pre-forked (api.prefork), through HTTP
with real processes: both workers answer on the live version of an incident posted to one
of them, a killed worker is replaced by one that answers on the current live version, and
SIGTERM lets every request in flight finish."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

from incidents.keys import create_key
from incidents.store import open_store
from tests.api.live_server import close_route_stretch, live_server, sigterm_in_flight

FROM, TO = "39.0837,-84.5086", "39.0412,-84.4960"


def _key(db_url: str) -> str:
    store = open_store(db_url)
    try:
        return create_key(store, "traffic_centre", "KYTC")
    finally:
        store.close()


def _ready(url: str, tries: int) -> dict[int, int]:
    """Live version per worker pid, from /v1/ready over fresh connections."""
    seen: dict[int, int] = {}
    for _ in range(tries):
        try:
            r = httpx.get(f"{url}/v1/ready", timeout=30)
        except httpx.HTTPError:
            continue
        if r.status_code == 200:
            doc = r.json()
            seen[doc["worker"]] = max(seen.get(doc["worker"], -1), doc["live_version"])
    return seen


def _children(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                         text=True, check=False).stdout.split()
    return {int(p) for p in out}


def _until(what: str, check, timeout_s: float = 120.0):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout_s  # generous: a bound, not a speed check
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_workers_share_live_versions_and_a_killed_worker_is_replaced(
        nky_snapshot_dir: Path, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'prefork.db'}"
    auth = {"Authorization": f"Bearer {_key(db)}"}
    with live_server(nky_snapshot_dir, ["--db", db, "--workers", "2"],
                     timeout_s=300) as (url, proc):
        workers = _until("both workers answer", lambda: len(s := _ready(url, 20)) == 2 and s)
        assert set(workers) == _children(proc.pid)  # forked by the server's process
        with httpx.Client(base_url=url, timeout=60) as c:
            base, version = close_route_stretch(c, auth, FROM, TO)
        assert version > base["live_version"]
        # both workers answer on that version (each follows the store's change log)
        _until("both workers on the incident's version", lambda: (
            len(s := _ready(url, 12)) == 2 and min(s.values()) >= version))
        answers = {}
        for _ in range(20):  # fresh connections: both workers answer some
            with httpx.Client(base_url=url, timeout=60) as c:
                ready = c.get("/v1/ready").json()
                route = c.get("/v1/route", params={"from": FROM, "to": TO}).json()
            answers[ready["worker"]] = route
        for route in answers.values():
            assert route["live_version"] >= version
            assert route["routes"][0]["geometry"] != base["routes"][0]["geometry"]  # detour
        # a killed worker: the server forks another, which catches up with the store first
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        after = _until("a new worker in its place", lambda: (
            len(s := _ready(url, 12)) == 2 and victim not in s and s))
        assert proc.poll() is None
        assert set(after) == _children(proc.pid) and victim not in after
        assert min(after.values()) >= version
        # /metrics: the live workers' versions, not the killed one's
        time.sleep(2.5)  # the gauges refresh every 2 s
        text = httpx.get(f"{url}/metrics", timeout=30).text
        pids = {line.split('pid="')[1].split('"')[0] for line in text.splitlines()
                if line.startswith("citynav_live_version{")}
        assert pids == {str(p) for p in after}, text[:2000]


def test_sigterm_drains_every_worker(nky_snapshot_dir: Path, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'term.db'}"
    n = 24
    plan = {"from": FROM, "to": TO, "depart_at": "2020-01-15T07:00:00-05:00",
            "window_min": 60, "num_itineraries": 3, "max_walk_m": 5000}
    with live_server(nky_snapshot_dir, ["--db", db, "--workers", "2", "--deadline-s",
                                        "120"], timeout_s=300) as (url, proc):
        _until("both workers answer", lambda: len(_ready(url, 20)) == 2)
        clients = [httpx.Client(base_url=url, timeout=120) for _ in range(n)]
        for c in clients:  # connections open before the load starts (both workers')
            assert c.get("/v1/ready").status_code == 200
        results = sigterm_in_flight(proc, clients, "/v1/plan", plan, 300)
        assert proc.wait(timeout=120) == 0
        for c in clients:
            c.close()
        assert not _children(proc.pid)
    assert results == [200] * n, results
