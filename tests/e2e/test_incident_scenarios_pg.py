"""Incident scenarios through the in-process app on the real PostgreSQL: post → reroute →
resolve → restore, and two replicas (two services on one schema) following each other.

Uses the server on 127.0.0.1:5432, database ``test`` (override with ``CITYNAV_TEST_PG``); each
test gets a schema of its own, dropped at the end. An unreachable server FAILS these tests
unless ``CITYNAV_SKIP_PG=1``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from api.app import create_app
from api.service import Service, load_service
from incidents.keys import create_key
from tests.e2e.test_incident_faults import (
    AGENCY,
    PROPAGATION_WAIT_S,
    closure_body,
    duration,
    get_route,
    poll,
    reflects,
    route_stretch,
)

pytestmark = pytest.mark.postgres
PG_URL = os.environ.get("CITYNAV_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A store URL on a fresh, uniquely named schema (created by the store), dropped after."""
    if os.environ.get("CITYNAV_SKIP_PG") == "1":
        pytest.skip("CITYNAV_SKIP_PG=1: PostgreSQL tests skipped on request")
    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL not reachable at {PG_URL}: {exc}\n(set CITYNAV_SKIP_PG=1 to "
                    "skip on a machine without it)", pytrace=False)
    schema = f"citynav_e2e_{os.getpid()}_{secrets.token_hex(4)}"
    try:
        yield f"{PG_URL}?schema={schema}"
    finally:
        admin.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        left = admin.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,))
        assert left.fetchone() is None
        admin.close()


def _client(svc: Service, key: str) -> TestClient:
    client = TestClient(create_app(service=svc), raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {key}"
    return client


def test_post_reroute_resolve_restore_on_postgres(nky_snapshot_dir: Path, pg_url: str) -> None:
    """The whole life of a closure through the API with the store on PostgreSQL."""
    svc = load_service(nky_snapshot_dir, db_url=pg_url)
    try:
        assert svc.store is not None and svc.store.dialect == "postgresql"
        schema = pg_url.rsplit("=", 1)[1]
        key = create_key(svc.store, "traffic_centre", AGENCY)
        with _client(svc, key) as client:
            base = get_route(client)
            assert base["live_version"] == 0 and duration(base) == pytest.approx(163, abs=30)
            body = closure_body(route_stretch(base))

            assert client.post("/v1/incidents", json=body,
                               headers={"Authorization": ""}).status_code == 401
            far = closure_body([[2.35, 48.85], [2.36, 48.86]])
            assert client.post("/v1/incidents", json=far).status_code == 422

            r = client.post("/v1/incidents", json=body)
            assert r.status_code == 201, r.text
            assert r.headers["ETag"] == '"1"'
            inc_id = r.json()["id"]
            assert r.headers["Location"] == f"/v1/incidents/{inc_id}"

            closed = get_route(client)
            assert reflects(closed, inc_id)
            assert closed["routes"][0]["explanation"]["avoided"] == [inc_id]
            assert duration(closed) > duration(base) + 60
            assert closed["live_version"] > base["live_version"]
            listed = client.get("/v1/incidents").json()["features"]
            assert [f["id"] for f in listed] == [inc_id]

            path = f"/v1/incidents/{inc_id}"
            assert client.patch(path, json={"status": "resolved"}).status_code == 428
            assert client.patch(path, json={"status": "resolved"},
                                headers={"If-Match": '"7"'}).status_code == 412
            p = client.patch(path, json={"status": "resolved"}, headers={"If-Match": '"1"'})
            assert p.status_code == 200, p.text
            assert p.headers["ETag"] == '"2"' and p.json()["status"] == "resolved"

            restored = get_route(client)
            assert duration(restored) == pytest.approx(duration(base), abs=0.5)
            assert restored["routes"][0]["explanation"]["avoided"] == []
            assert restored["live_version"] > closed["live_version"]
            hist = client.get(f"{path}/history").json()["history"]
            assert [h["action"] for h in hist] == ["create", "resolve"]
        changes = svc.store.changes_since(0)
        assert [(c.incident_id, c.action.value) for c in changes] == [
            (inc_id, "create"), (inc_id, "resolve")]
        assert schema.startswith("citynav_e2e_")
    finally:
        svc.close()


def test_two_replicas_on_one_schema_follow_each_other(nky_snapshot_dir: Path,
                                                      pg_url: str) -> None:
    """A POST on replica A is in B's routes within ~2 s (B's background engine), and so is
    the resolution."""
    svc_a = load_service(nky_snapshot_dir, db_url=pg_url)
    svc_b = load_service(nky_snapshot_dir, db_url=pg_url)
    try:
        assert svc_a.store is not None
        key = create_key(svc_a.store, "traffic_centre", AGENCY)
        with _client(svc_a, key) as a, _client(svc_b, key) as b:
            base = get_route(b)
            r = a.post("/v1/incidents", json=closure_body(route_stretch(base)))
            assert r.status_code == 201, r.text
            inc_id = r.json()["id"]
            # B reads the store directly for incident documents...
            assert b.get(f"/v1/incidents/{inc_id}").status_code == 200
            # ...and its routes follow once its engine has caught up.
            took = poll(lambda: reflects(get_route(b), inc_id), timeout_s=PROPAGATION_WAIT_S)
            assert took is not None, "replica B never reflected A's incident"
            on_b = get_route(b)
            assert duration(on_b) > duration(base) + 60 and on_b["live_version"] > 0

            p = a.patch(f"/v1/incidents/{inc_id}", json={"status": "resolved"},
                        headers={"If-Match": r.headers["ETag"]})
            assert p.status_code == 200, p.text
            took = poll(lambda: not reflects(get_route(b), inc_id), timeout_s=PROPAGATION_WAIT_S)
            assert took is not None, "B kept the resolved closure"
            assert duration(get_route(b)) == pytest.approx(duration(base), abs=0.5)
            # A change on B reaches A the same way (both engines follow the store).
            r2 = b.post("/v1/incidents", json=closure_body(route_stretch(base)))
            assert r2.status_code == 201, r2.text
            took = poll(lambda: reflects(get_route(a), r2.json()["id"]),
                        timeout_s=PROPAGATION_WAIT_S)
            assert took is not None
    finally:
        svc_a.close()
        svc_b.close()



def test_two_servers_share_live_speeds_and_learn_every_batch(nky_snapshot_dir: Path,
                                                             pg_url: str) -> None:
    """Speeds posted to server A reach B's routes and congestion map through the store's
    speed log (B never saw the POST); both servers learn the same typical speeds from the
    log, every batch counted once, even when two batches arrive at A and B at once."""
    import threading
    from datetime import UTC, datetime

    import numpy as np

    svc_a = load_service(nky_snapshot_dir, db_url=pg_url)
    svc_b = load_service(nky_snapshot_dir, db_url=pg_url)
    try:
        assert svc_a.store is not None
        key = create_key(svc_a.store, "traffic_centre", AGENCY)
        with _client(svc_a, key) as a, _client(svc_b, key) as b:
            base = get_route(b)
            car = svc_a.road.modes["car"]
            state = svc_a.state()
            edges = svc_a.road.route(state, "car", 39.0837, -84.5086, 39.0912, -84.4960).edges
            ways = list(dict.fromkeys(
                np.asarray(svc_a.snapshot.segments.way_id)[car.edge_seg[edges]].tolist()))
            now = datetime.now(UTC).isoformat()

            def batch(ws: list[int]) -> dict:
                return {"observations": [{"ref": {"way_id": int(w), "direction": "both"},
                                          "speed_kmh": 5, "observed_at": now} for w in ws]}

            # two batches at once, one to each server
            half = len(ways) // 2
            results: list[int] = []
            ts = [threading.Thread(target=lambda cl, ws: results.append(
                cl.post("/v1/traffic/speeds", json=batch(ws)).status_code), args=(cl, ws))
                for cl, ws in ((a, ways[:half]), (b, ways[half:]))]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            assert results == [200, 200]

            def slowed(cl) -> bool:
                summ = cl.get("/v1/congestion/summary").json()
                return summ["live_speed_edges"] > 0 and duration(get_route(cl)) > \
                    duration(base) + 60

            for cl in (a, b):
                assert poll(lambda cl=cl: slowed(cl), timeout_s=PROPAGATION_WAIT_S) is not None
            # both servers apply both batches: the same live weights
            assert np.array_equal(svc_a.state().weights("car"), svc_b.state().weights("car"))
            # ...and learn both, in log order, on each server
            ea, eb = svc_a.engine, svc_b.engine
            assert ea is not None and eb is not None
            assert poll(lambda: ea.learned_batches == eb.learned_batches == 2
                        and ea.learning_backlog == eb.learning_backlog == 0,
                        timeout_s=PROPAGATION_WAIT_S) is not None
            ta, tb = svc_a.typical, svc_b.typical
            assert np.array_equal(np.asarray(ta.ttf_ms), np.asarray(tb.ttf_ms))
            assert np.array_equal(np.asarray(ta.row), np.asarray(tb.row))
    finally:
        svc_a.close()
        svc_b.close()
