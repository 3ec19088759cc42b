"""Matrix jobs through the API: above the synchronous limit, persisted in the store (SQLite
and PostgreSQL), surviving a restart, with plan limits and quota cost."""

from __future__ import annotations

import io
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.service import load_service
from incidents.matrix_jobs import MatrixJobs
from incidents.store import open_store

PG_URL = os.environ.get("CITYNAV_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'incidents.db'}"
        return
    schema = f"citynav_mj_{os.getpid()}_{secrets.token_hex(3)}"
    yield f"{PG_URL}?schema={schema}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def _points(svc: Any, k: int, seed: int) -> list[str]:
    """Points near random junctions of the car network (a few metres off), and one far
    outside the city."""
    rng = np.random.default_rng(seed)
    mr = svc.road.modes["car"]
    tails = np.unique(np.asarray(mr.arrays.edge_tail)[np.asarray(mr.arrays.edge_snappable)])
    idx = rng.choice(tails, k - 1)
    lat = np.asarray(svc.road.snapshot.node_lat)[idx] + rng.normal(0, 1e-4, k - 1)
    lon = np.asarray(svc.road.snapshot.node_lon)[idx] + rng.normal(0, 1e-4, k - 1)
    return [f"{a:.6f},{b:.6f}" for a, b in zip(lat, lon, strict=True)] + ["45.0,-80.0"]


def _wait_done(c: TestClient, loc: str, timeout_s: float = 180.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        st = c.get(loc).json()
        if st["status"] in ("done", "failed"):
            return st
        time.sleep(0.1)
    raise AssertionError(f"job {loc} did not finish: {st}")


def _nan(rows: list[list[float | None]]) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in r] for r in rows], dtype=float)


def test_job_equals_synchronous_blocks_and_downloads(nky_snapshot_dir: Path,
                                                     db_url: str) -> None:
    svc = load_service(nky_snapshot_dir, db_url=db_url)
    try:
        with TestClient(create_app(service=svc), raise_server_exceptions=False) as c:
            src, dst = _points(svc, 120, 1), _points(svc, 100, 2)
            # a fixed instant: the typical speeds of "now" change every quarter hour, which
            # would make the job and the synchronous answers read different states
            body = {"sources": src, "targets": dst, "mode": "car",
                    "depart_at": "2030-01-16T10:00:00-05:00"}
            # too large to answer synchronously: the 413 names the jobs endpoint
            r = c.post("/v1/matrix", json=body)
            assert r.status_code == 413 and "POST /v1/matrix/jobs" in r.json()["detail"]
            r = c.post("/v1/matrix/jobs", json=body)
            assert r.status_code == 202, r.text
            loc = r.headers["location"]
            assert loc == f"/v1/matrix/jobs/{r.json()['id']}"
            assert r.json()["status"] in ("queued", "running") and r.json()["cost"] == 2
            st = _wait_done(c, loc)
            assert st["status"] == "done" and st["progress"] == 1.0 and st["attempts"] == 1
            res = c.get(st["links"]["result"]).json()
            # the same cells as synchronous matrices over two blocks of sources
            want_d, want_m, want_u = [], [], []
            for a in (0, 60):
                part = c.post("/v1/matrix", json={**body, "sources": src[a:a + 60]}).json()
                want_d += part["durations_s"]
                want_m += part["distances_m"]
                want_u += [{**u, "source": u["source"] + a} for u in part["unreachable"]]
            assert res["durations_s"] == want_d
            assert res["distances_m"] == want_m
            assert sorted(res["unreachable"], key=lambda u: (u["source"], u["target"])) == \
                sorted(want_u, key=lambda u: (u["source"], u["target"]))
            # the last source lies far outside: its row is null with the reason
            assert all(v is None for v in res["durations_s"][-1])
            assert res["live_version"] == st["live_version"]
            npz = c.get(st["links"]["npz"])
            assert npz.status_code == 200
            with np.load(io.BytesIO(npz.content), allow_pickle=False) as z:
                assert np.array_equal(z["durations_s"], _nan(want_d), equal_nan=True)
                assert np.array_equal(z["distances_m"], _nan(want_m), equal_nan=True)
                names = z["reason_names"].tolist()
                assert {names[k] for k in np.unique(z["reason"][-1])} == \
                    {"source_not_on_network"}
            # bad input is a problem, never a job
            r = c.post("/v1/matrix/jobs", json={**body, "sources": ["abc"]})
            assert r.status_code == 422
            assert r.headers["content-type"].startswith("application/problem+json")
            r = c.post("/v1/matrix/jobs", json={**body, "sources": ["39.08,-84.5"] * 1001})
            assert r.status_code == 413 and r.json()["type"].endswith("job-too-large")
            assert c.get("/v1/matrix/jobs/nope").status_code == 404
            assert c.get("/v1/matrix/jobs/nope/result").status_code == 404
    finally:
        svc.close()


def test_jobs_survive_a_restart(nky_snapshot_dir: Path, db_url: str) -> None:
    body = {"sources": ["39.0837,-84.5086", "39.0912,-84.4960"] * 60,
            "targets": ["39.0912,-84.4960", "39.0500,-84.5500"] * 50, "mode": "car",
            "annotations": ["duration"], "depart_at": "2030-01-16T10:00:00-05:00"}
    # a server that accepts jobs but runs none, then goes away
    svc = load_service(nky_snapshot_dir, db_url=db_url)
    try:
        with TestClient(create_app(service=svc, matrix_workers=0),
                        raise_server_exceptions=False) as c:
            r = c.post("/v1/matrix/jobs", json=body)
            assert r.status_code == 202
            queued = r.headers["location"]
            time.sleep(0.3)
            assert c.get(queued).json()["status"] == "queued"
            r = c.get(queued + "/result")
            assert r.status_code == 409 and r.json()["type"].endswith("job-not-done")
    finally:
        svc.close()
    # a job a process had claimed and was running when it died
    with open_store(db_url) as store:
        jobs = MatrixJobs(store)
        dead = jobs.create(body, 120, 100, 2, "open", None)
        while (claimed := jobs.claim_next()) is not None and claimed.id != dead.id:
            pass
        assert jobs.get(dead.id).status == "running"
    # a new server on the same store runs both
    svc = load_service(nky_snapshot_dir, db_url=db_url)
    try:
        with TestClient(create_app(service=svc, matrix_job_stale_s=1.0),
                        raise_server_exceptions=False) as c:
            st1 = _wait_done(c, queued)
            st2 = _wait_done(c, f"/v1/matrix/jobs/{dead.id}")
            assert st1["status"] == st2["status"] == "done"
            assert st2["attempts"] == 2  # re-run from the start
            r1 = c.get(queued + "/result").json()
            r2 = c.get(f"/v1/matrix/jobs/{dead.id}/result").json()
            assert r1["durations_s"] == r2["durations_s"]
            assert r1["distances_m"] is None
            d = _nan(r1["durations_s"])
            assert d.shape == (120, 100) and np.isfinite(d).all()
            # rows repeat with the repeated sources
            assert np.array_equal(d[0], d[2]) and np.array_equal(d[1], d[3])
    finally:
        svc.close()


def test_job_cost_counts_against_the_plan_quota(nky_snapshot_dir: Path,
                                                tmp_path: Path) -> None:
    svc = load_service(nky_snapshot_dir, db_url=f"sqlite:///{tmp_path / 'q.db'}")
    try:
        with TestClient(create_app(service=svc, quotas="memory", matrix_workers=0),
                        raise_server_exceptions=False) as c:
            big = {"sources": ["39.0837,-84.5086"] * 500, "targets": ["39.0912,-84.4960"] * 500}
            # open plan: 60 units a minute; a 500 × 500 job costs 25 (+1 for the request)
            for _ in range(2):
                r = c.post("/v1/matrix/jobs", json=big)
                assert r.status_code == 202 and r.json()["cost"] == 25
            r = c.post("/v1/matrix/jobs", json=big)
            assert r.status_code == 429, r.text
            assert r.json()["type"].endswith("quota-exceeded") and "retry-after" in r.headers
            with open_store(svc.store.url) as store:
                assert MatrixJobs(store).counts()["queued"] == 2
    finally:
        svc.close()
