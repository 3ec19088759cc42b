"""`citynav serve` under load, end to end: probes answer while the heaviest allowed requests
run, SIGTERM cuts no request in flight, and two workers follow the same store."""

from __future__ import annotations

import signal
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.quotas import KEY_CACHE_S
from incidents.keys import create_key, revoke_key
from incidents.store import open_store
from tests.api.live_server import close_route_stretch, live_server, sigterm_in_flight

FROM, TO = "39.0837,-84.5086", "39.0412,-84.4960"
#: The heaviest transit plan the parameter bounds allow.
HEAVY_PLAN = {"from": FROM, "to": TO, "depart_at": "2020-01-15T07:00:00-05:00",
              "window_min": 360, "num_itineraries": 10, "max_walk_m": 5000,
              "max_transfers": 8}


def _key(db_url: str, role: str = "traffic_centre", agency: str | None = "KYTC") -> str:
    store = open_store(db_url)
    try:
        return create_key(store, role, agency)
    finally:
        store.close()


def test_health_answers_while_the_heaviest_requests_run(nky_snapshot_dir: Path,
                                                        tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'load.db'}"
    with live_server(nky_snapshot_dir, ["--db", db, "--deadline-s", "120"]) as (url, _):
        heavy_s: list[float] = []
        statuses: list[int] = []
        stop = threading.Event()
        lock = threading.Lock()
        in_flight = [0]  # heavy requests under way
        during: list[bool] = []  # per health answer: heavy requests were still under way

        def hammer(path: str, params: dict[str, Any]) -> None:
            with httpx.Client(base_url=url, timeout=180) as c:
                while not stop.is_set():
                    t0 = time.perf_counter()
                    with lock:
                        in_flight[0] += 1
                    try:
                        r = c.get(path, params=params)
                    finally:
                        with lock:
                            in_flight[0] -= 1
                    heavy_s.append(time.perf_counter() - t0)
                    statuses.append(r.status_code)

        threads = [threading.Thread(target=hammer, args=a) for a in (
            ("/v1/plan", HEAVY_PLAN), ("/v1/plan", HEAVY_PLAN), ("/v1/congestion", {}),
            ("/v1/congestion", {}))]
        for t in threads:
            t.start()
        health_s: list[float] = []
        try:
            with httpx.Client(base_url=url, timeout=60) as probe:
                time.sleep(1.0)  # let the heavy requests get going
                t_end = time.monotonic() + 8.0
                while time.monotonic() < t_end or len(heavy_s) < 4:
                    t0 = time.perf_counter()
                    r = probe.get("/v1/health")
                    health_s.append(time.perf_counter() - t0)
                    with lock:
                        during.append(in_flight[0] > 0)
                    assert r.status_code == 200
                    time.sleep(0.05)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=300)
        assert set(statuses) == {200}, statuses
        heavy_median = statistics.median(heavy_s)
        health_median = statistics.median(health_s)
        # behaviour, not speed (timings belong in bench/http_load.py): health answers keep
        # coming back while the heavy requests are still under way, instead of queueing
        # behind them
        print(f"\nhealth median {health_median * 1000:.1f} ms while heavy requests took "
              f"{heavy_median * 1000:.0f} ms (median)")
        assert sum(during) >= 5, (sum(during), len(during))


def test_sigterm_under_load_cuts_nothing(nky_snapshot_dir: Path, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'term.db'}"
    n = 50
    with live_server(nky_snapshot_dir, ["--db", db, "--deadline-s", "120"]) as (url, proc):
        clients = [httpx.Client(base_url=url, timeout=120) for _ in range(n)]
        for c in clients:  # connections open before the load starts
            assert c.get("/v1/ready").status_code == 200
        plan = {**HEAVY_PLAN, "window_min": 60, "num_itineraries": 3}
        results = sigterm_in_flight(proc, clients, "/v1/plan", plan, 300)
        # uvicorn finishes, then re-raises the signal it caught: the exit says "terminated"
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
        for c in clients:
            c.close()
    assert results == [200] * n, results


def _workers_seen(url: str, tries: int = 60) -> dict[int, int]:
    """Live version per worker pid, from /v1/ready over fresh connections."""
    seen: dict[int, int] = {}
    for _ in range(tries):
        with httpx.Client(base_url=url, timeout=30) as c:
            doc = c.get("/v1/ready").json()
        seen[doc["worker"]] = max(seen.get(doc["worker"], -1), doc["live_version"])
    return seen


@pytest.mark.slow
def test_two_workers_follow_the_store_and_refuse_a_revoked_key(nky_snapshot_dir: Path,
                                                               tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'workers.db'}"
    key = _key(db)
    auth = {"Authorization": f"Bearer {key}"}
    with live_server(nky_snapshot_dir, ["--db", db, "--workers", "2", "--quotas", "store"],
                     timeout_s=300) as (url, _):
        deadline = time.monotonic() + 240
        while len(_workers_seen(url, 10)) < 2:  # the second worker may still be loading
            assert time.monotonic() < deadline, "the second worker never answered"
        _quota_is_shared_by_the_workers(url)
        with httpx.Client(base_url=url, timeout=60) as c:
            # with the key: the anonymous quota of this minute is used up above
            base, version = close_route_stretch(c, auth, FROM, TO, headers=auth)
        t0 = time.monotonic()
        while True:  # every worker uses the write within the propagation bound
            seen = _workers_seen(url, 12)
            if len(seen) == 2 and min(seen.values()) >= version:
                break
            # a generous timeout, not a speed check (the bound is measured in bench/http_load.py)
            assert time.monotonic() - t0 < 60.0, seen
            time.sleep(0.05)
        store = open_store(db)
        try:
            revoke_key(store, key.split("_")[1])
        finally:
            store.close()
        # a worker trusts a key lookup for KEY_CACHE_S (< 1 s): from then on, every worker
        # refuses the key
        assert KEY_CACHE_S < 1.0  # the documented bound
        time.sleep(KEY_CACHE_S + 0.05)
        codes = []
        for _ in range(20):  # fresh connections: both workers answer some of them
            with httpx.Client(base_url=url, timeout=30) as c:
                codes.append(c.post("/v1/incidents", headers=auth, json={}).status_code)
        assert codes == [401] * 20
        assert len(_workers_seen(url, 20)) == 2
        # /metrics of either worker shows both workers' live versions (multiprocess mode)
        time.sleep(2.5)
        with httpx.Client(base_url=url, timeout=30) as c:
            text = c.get("/metrics").text
        versions = [line for line in text.splitlines()
                    if line.startswith("citynav_live_version{") and "pid=" in line]
        assert len(versions) >= 2, text[:2000]
        assert all(float(line.rsplit(" ", 1)[1]) >= version for line in versions)


def _quota_is_shared_by_the_workers(url: str) -> None:
    """Anonymous reads from 8 concurrent clients over fresh connections (both workers take
    some): exactly the open plan's minute quota is allowed, the rest is 429."""
    from api.quotas import PLANS
    from incidents.auth import Plan

    if time.time() % 60 > 40:  # all in one minute window
        time.sleep(60 - time.time() % 60 + 0.5)
    codes: list[int] = []
    lock = threading.Lock()

    def client() -> None:
        for _ in range(10):
            with httpx.Client(base_url=url, timeout=30) as c:
                r = c.get("/v1/incidents", params={"limit": 1})
            with lock:
                codes.append(r.status_code)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(set(codes)) == [200, 429], codes
    assert codes.count(200) == PLANS[Plan.OPEN].per_minute, codes
