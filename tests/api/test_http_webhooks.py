"""Webhooks end to end on SQLite and PostgreSQL: a receiver on 127.0.0.1 that fails the first
attempts (once after processing, once before) still gets every matching event exactly once
after deduplication, every request validly signed; pending deliveries survive a restart of the
service; a dead endpoint is paused after the configured attempts and resumes on request."""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.service import load_service
from incidents.keys import create_key
from incidents.store import open_store
from incidents.webhooks import verify_signature
from tests.api.live_server import free_port

A, B = "39.0837,-84.5086", "39.0912,-84.4960"
PG_URL = os.environ.get("CITYNAV_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


class Receiver:
    """An HTTP endpoint on 127.0.0.1. Mode ``down``: every request fails (503, nothing
    kept); ``ok``: every request succeeds. Mode ``flaky``: per event, attempt 1 is
    processed but answered 500 (a lost acknowledgement: the retry is a duplicate), attempt 2
    fails with 503, later ones succeed."""

    def __init__(self) -> None:
        self.mode = "down"
        self.requests: list[dict[str, Any]] = []
        self.processed: list[dict[str, Any]] = []
        self._tries: Counter[str] = Counter()
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                req = {"headers": dict(self.headers), "body": body}
                with outer._lock:
                    outer.requests.append(req)
                    eid = self.headers["Citynav-Event-Id"]
                    if outer.mode == "down":
                        code = 503
                    elif outer.mode == "ok":
                        code = 200
                        outer.processed.append(req)
                    else:
                        outer._tries[eid] += 1
                        n = outer._tries[eid]
                        code = 500 if n == 1 else 503 if n == 2 else 200
                        if n != 2:
                            outer.processed.append(req)
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'incidents.db'}"
        return
    schema = f"citynav_wh_{os.getpid()}_{secrets.token_hex(3)}"
    yield f"{PG_URL}?schema={schema}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def _wait(pred: Any, timeout_s: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _closure(coords: list[list[float]], n: int) -> dict[str, Any]:
    return {"type": "closure", "severity": "high", "start": "2020-01-01T00:00:00Z",
            "geometry": {"type": "LineString", "coordinates": coords}, "direction": "both",
            "road_effect": {"closed_to": ["car"]}, "description": {"en": f"closure {n}"}}


@pytest.mark.slow
def test_webhooks_every_delivery_once_signed_and_durable(
        nky_snapshot_dir: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYNAV_WEBHOOK_ALLOW_PRIVATE", "1")  # the receiver is local
    monkeypatch.setenv("CITYNAV_WEBHOOK_BACKOFF_S", "0.05")
    monkeypatch.setenv("CITYNAV_WEBHOOK_MAX_BACKOFF_S", "0.3")
    monkeypatch.setenv("CITYNAV_WEBHOOK_MAX_ATTEMPTS", "10")
    with open_store(db_url) as store:
        tc = {"Authorization": f"Bearer {create_key(store, 'traffic_centre', 'KYTC')}"}
        ohio = {"Authorization": f"Bearer {create_key(store, 'traffic_centre', 'OHIO')}"}
        reader = {"Authorization": f"Bearer {create_key(store, 'reader')}"}
    rx = Receiver()
    svc = load_service(nky_snapshot_dir, db_url=db_url)
    try:
        with TestClient(create_app(service=svc), raise_server_exceptions=False) as c:
            # RFC 9457 errors for bad registrations
            assert c.post("/v1/webhooks", json={"url": rx.url}).status_code == 401
            bad = c.post("/v1/webhooks", json={"url": "ftp://x"}, headers=reader)
            assert bad.status_code == 422
            assert bad.headers["content-type"] == "application/problem+json"
            assert c.post("/v1/webhooks", json={"url": rx.url, "types": ["nope"]},
                          headers=reader).status_code == 422
            assert c.get("/v1/webhooks/WH-999", headers=reader).status_code == 404
            r = c.post("/v1/webhooks", json={"url": rx.url, "types": ["incident"],
                                             "agencies": ["KYTC"]}, headers=reader)
            assert r.status_code == 201, r.text
            hook = r.json()
            secret = hook["secret"]
            assert secret.startswith("whsec_") and hook["status"] == "active"
            assert "secret" not in c.get(f"/v1/webhooks/{hook['id']}", headers=reader).json() \
                or c.get(f"/v1/webhooks/{hook['id']}", headers=reader).json()["secret"] is None
            # another owner does not see it
            assert c.get(f"/v1/webhooks/{hook['id']}", headers=tc).status_code == 404
            coords = c.get("/v1/route", params={"from": A, "to": B}).json()[
                "routes"][0]["geometry"]["coordinates"]
            made = []
            for n in range(3):
                k = (n + 1) * len(coords) // 6
                r = c.post("/v1/incidents", json=_closure(coords[k:k + 3], n), headers=tc)
                assert r.status_code == 201, r.text
                made.append(r.json())
            r = c.post("/v1/incidents", json=_closure(coords[2:5], 9), headers=ohio)
            assert r.status_code == 201  # another agency: filtered out
            _wait(lambda: len(rx.requests) >= 3, what="first attempts")
        # the service stops with every delivery pending (the receiver is down)
    finally:
        svc.close()
    with open_store(db_url) as store, store.db.transaction() as tx:
        pending = tx.execute("SELECT event_id, attempts FROM webhook_deliveries"
                             " WHERE status = 'pending' ORDER BY id")
    assert len(pending) == 3 and all(1 <= a < 7 for _, a in pending)  # room for 3 more
    assert rx.processed == []
    rx.mode = "flaky"
    svc = load_service(nky_snapshot_dir, db_url=db_url)
    try:
        with TestClient(create_app(service=svc), raise_server_exceptions=False) as c:
            # a change made after the restart is delivered too
            inc = made[0]
            r = c.patch(f"/v1/incidents/{inc['id']}", json={"severity": "severe"},
                        headers={**tc, "If-Match": f'"{inc["version"]}"'})
            assert r.status_code == 200, r.text

            def delivered() -> int:
                log = c.get(f"/v1/webhooks/{hook['id']}/deliveries",
                            headers=reader).json()["deliveries"]
                return sum(d["status"] == "delivered" for d in log)

            _wait(lambda: delivered() == 4, what="every delivery")
            log = c.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=reader).json()
            assert all(len(d["attempt_log"]) == d["attempts"] for d in log["deliveries"])
            assert all(d["attempt_log"][-1]["status_code"] == 200 for d in log["deliveries"])

            # a dead endpoint: paused after 10 failed attempts, not retried forever
            dead = c.post("/v1/webhooks", json={"url": f"http://127.0.0.1:{free_port()}/x",
                                                "types": ["incident"]}, headers=reader).json()
            r = c.patch(f"/v1/incidents/{inc['id']}", json={"severity": "low"},
                        headers={**tc, "If-Match": '"2"'})
            assert r.status_code == 200, r.text
            _wait(lambda: c.get(f"/v1/webhooks/{dead['id']}", headers=reader).json()[
                "status"] == "paused", what="the dead endpoint paused")
            got = c.get(f"/v1/webhooks/{dead['id']}", headers=reader).json()
            assert "failed 10 times" in got["paused_reason"]
            time.sleep(1.0)
            dlog = c.get(f"/v1/webhooks/{dead['id']}/deliveries", headers=reader).json()
            [d] = dlog["deliveries"]
            assert d["status"] == "pending" and d["attempts"] == 10
            assert all(a["status_code"] is None and a["error"] for a in d["attempt_log"])
            # resumed: tried again at once
            r = c.patch(f"/v1/webhooks/{dead['id']}", json={"status": "active"},
                        headers=reader)
            assert r.status_code == 200 and r.json()["status"] == "active"
            _wait(lambda: c.get(f"/v1/webhooks/{dead['id']}/deliveries", headers=reader
                                ).json()["deliveries"][0]["attempts"] >= 1, what="retry")
            assert c.delete(f"/v1/webhooks/{dead['id']}", headers=reader).status_code == 204
            _wait(lambda: delivered() == 5, what="the second change delivered")
            assert c.get(f"/v1/webhooks/{dead['id']}", headers=reader).status_code == 404
    finally:
        svc.close()
        rx.close()
    # every request validly signed, fresh, for this hook; after dedup each event exactly once
    for req in rx.requests:
        h = {k.lower(): v for k, v in req["headers"].items()}
        assert h["citynav-webhook-id"] == hook["id"]
        assert verify_signature(secret, h["citynav-timestamp"], req["body"],
                                h["citynav-signature"])
        assert not verify_signature(secret, h["citynav-timestamp"], req["body"] + b" ",
                                    h["citynav-signature"])
        assert not verify_signature(secret, str(int(h["citynav-timestamp"]) - 3600),
                                    req["body"], h["citynav-signature"])
    seen: dict[str, dict[str, Any]] = {}
    for req in rx.processed:
        seen.setdefault(req["headers"]["Citynav-Event-Id"], json.loads(req["body"]))
    assert len(rx.processed) > len(seen)  # duplicates did arrive (at least once)
    names = sorted((d["data"]["incident_id"], d["name"]) for d in seen.values())
    assert names == sorted([(i["id"], "incident.create") for i in made]
                           + [(made[0]["id"], "incident.update")] * 2)
    assert all(d["data"]["incident"]["agency"] == "KYTC" for d in seen.values())
