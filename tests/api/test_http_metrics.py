"""/metrics (Prometheus), structured access logs and the audit of writes."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.metrics import access_log, audit_rows
from api.service import load_service
from incidents.keys import create_key

A, B = "39.0837,-84.5086", "39.0912,-84.4960"


@pytest.fixture(scope="module")
def env(nky_snapshot_dir, tmp_path_factory) -> Iterator[dict[str, Any]]:
    db = tmp_path_factory.mktemp("db") / "metrics.db"
    svc = load_service(nky_snapshot_dir, db_url=f"sqlite:///{db}")
    key = create_key(svc.store, "traffic_centre", "KYTC")
    with TestClient(create_app(service=svc, quotas="memory"),
                    raise_server_exceptions=False, client=("198.51.100.4", 40000)) as c:
        yield {"c": c, "svc": svc, "h": {"Authorization": f"Bearer {key}"},
               "kid": key.split("_")[1]}
    svc.close()


def _sample(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_count_requests_latency_versions_and_incidents(env) -> None:
    c, h = env["c"], env["h"]
    for _ in range(3):
        assert c.get("/v1/route", params={"from": A, "to": B}).status_code == 200
    assert c.get("/v1/incidents/INC-424242").status_code == 404
    r = c.post("/v1/incidents", headers=h, json={
        "type": "closure", "severity": "high", "start": datetime.now(UTC).isoformat(),
        "geometry": {"type": "LineString", "coordinates": [[-84.5086, 39.0837],
                                                           [-84.5080, 39.0840]]}})
    assert r.status_code == 201, r.text
    m = c.get("/metrics")
    assert m.status_code == 200 and m.headers["content-type"].startswith("text/plain")
    text = m.text
    assert (_sample(text, "citynav_http_requests_total", endpoint="/v1/route", method="GET",
                    status="200") or 0) >= 3
    assert (_sample(text, "citynav_http_requests_total",
                    endpoint="/v1/incidents/{incident_id}", status="404") or 0) >= 1
    assert (_sample(text, "citynav_http_request_duration_seconds_count",
                    endpoint="/v1/route") or 0) >= 3
    assert _sample(text, "citynav_live_version") == env["svc"].state().version
    assert (_sample(text, "citynav_incidents", status="active") or 0) >= 1
    assert _sample(text, "citynav_live_changes_behind") == 0


def test_quota_rejections_are_counted(env) -> None:
    c = TestClient(env["c"].app, raise_server_exceptions=False, client=("198.51.100.9", 1))
    codes = [c.get("/v1/incidents", params={"limit": 1}).status_code for _ in range(65)]
    assert 429 in codes
    text = env["c"].get("/metrics").text
    assert (_sample(text, "citynav_quota_rejections_total", plan="open") or 0) >= 1
    assert (_sample(text, "citynav_http_requests_total", endpoint="unrouted",
                    status="429") or 0) >= 1


def test_access_log_lines_are_json_with_key_and_client(env, caplog) -> None:
    c, h = env["c"], env["h"]
    with caplog.at_level(logging.INFO, logger=access_log.name):
        c.get("/v1/incidents", params={"limit": 1}, headers=h)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == access_log.name]
    assert lines, "no access log line"
    line = lines[-1]
    assert line["path"] == "/v1/incidents" and line["status"] == 200
    assert line["client"] == "198.51.100.4" and line["key_id"] == env["kid"]
    assert line["duration_ms"] >= 0 and isinstance(line["worker"], int)


def test_every_write_is_audited_with_key_and_client(env) -> None:
    c, h = env["c"], env["h"]
    r = c.post("/v1/incidents", headers=h, json={
        "type": "hazard", "severity": "low", "start": datetime.now(UTC).isoformat(),
        "geometry": {"type": "Point", "coordinates": [-84.5086, 39.0837]}})
    assert r.status_code == 201, r.text
    refused = c.post("/v1/incidents", json={})  # no key: audited too
    assert refused.status_code == 401
    c.app.state.audit.flush()
    rows = audit_rows(env["svc"].store)
    mine = [x for x in rows if x["status"] == 201 and x["key_id"] == env["kid"]]
    assert mine and mine[0]["client"] == "198.51.100.4" and mine[0]["method"] == "POST"
    assert any(x["status"] == 401 and x["key_id"] is None for x in rows)
    assert all(x["method"] != "GET" for x in rows)
