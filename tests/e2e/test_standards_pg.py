"""WZDx / DATEX II imports and open feeds across replicas on the real PostgreSQL: an import
through replica A is in replica B's WZDx and DATEX II feeds and importing it again through
B changes nothing (the import ledger is shared); of two replicas subscribed to the same feed
only the lease holder imports it, so every record is created once.

Uses the server on 127.0.0.1:5432 (``CITYNAV_TEST_PG``); each test gets its own schema."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.service import load_service
from incidents.adapters.datex2 import parse_datex2
from incidents.keys import create_key
from incidents.realtime_sources import RealtimeSettings
from incidents.subscriptions import ImportSubscription
from tests.e2e.test_incident_faults import PROPAGATION_WAIT_S, poll
from tests.e2e.test_incident_scenarios_pg import pg_url  # noqa: F401 - fixture
from tests.incidents.standards_docs import wzdx_doc, wzdx_feature
from tests.incidents.wzdx_schema import wzdx_errors

pytestmark = pytest.mark.postgres
A, B = "39.0837,-84.5086", "39.0912,-84.4960"


def _stretch(c: TestClient, frac: int, n: int = 5) -> list[list[float]]:
    r = c.get("/v1/route", params={"from": A, "to": B})
    assert r.status_code == 200, r.text
    coords = r.json()["routes"][0]["geometry"]["coordinates"]
    k = len(coords) // frac
    return coords[k:k + n]


def test_import_on_one_replica_is_published_by_the_other(nky_snapshot_dir: Path,
                                                         pg_url: str) -> None:  # noqa: F811
    a = load_service(nky_snapshot_dir, db_url=pg_url)
    b = load_service(nky_snapshot_dir, db_url=pg_url)
    try:
        assert a.store is not None
        key = create_key(a.store, "traffic_centre", "KYTC")
        auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/geo+json"}
        with TestClient(create_app(service=a)) as ca, TestClient(create_app(service=b)) as cb:
            doc = wzdx_doc(wzdx_feature("pg-1", _stretch(ca, 3), version="2026-01-01T09:00:00Z",
                                        vehicle_impact="all-lanes-closed"))
            r = ca.post("/v1/incidents/import", content=json.dumps(doc), headers=auth)
            assert r.status_code == 200, r.text
            inc_id = r.json()["records"][0]["incident_id"]
            assert r.json()["records"][0]["outcome"] == "created"

            def in_b_feed() -> bool:
                feed = cb.get("/v1/feeds/wzdx").json()
                return inc_id in [f["id"] for f in feed["features"]]

            assert poll(in_b_feed, timeout_s=PROPAGATION_WAIT_S) is not None
            assert wzdx_errors(cb.get("/v1/feeds/wzdx").json()) == []
            recs = parse_datex2(cb.get("/v1/feeds/datex2").content).records
            assert f"datex2:{inc_id}" in [x.external_id for x in recs]
            r = cb.post("/v1/incidents/import", content=json.dumps(doc), headers=auth)
            assert r.status_code == 200 and r.json()["records"][0]["outcome"] == "unchanged"
            assert len(cb.get(f"/v1/incidents/{inc_id}/history").json()["history"]) == 1
    finally:
        a.close()
        b.close()


def test_only_the_lease_holder_imports_a_subscription(nky_snapshot_dir: Path,
                                                      pg_url: str,  # noqa: F811
                                                      tmp_path: Path) -> None:
    probe = load_service(nky_snapshot_dir, db_url=pg_url, incidents=False)
    with TestClient(create_app(service=probe)) as cp:
        feats = [wzdx_feature(f"lease-{i}", _stretch(cp, k), version="2026-01-01T09:00:00Z")
                 for i, k in enumerate((2, 3, 4))]
    feed = tmp_path / "feed.geojson"
    feed.write_text(json.dumps(wzdx_doc(*feats)))
    settings = RealtimeSettings(imports=[ImportSubscription(
        name="shared", file=feed, format="wzdx", agency="KYTC", interval_s=0.2)])
    a = load_service(nky_snapshot_dir, db_url=pg_url, realtime=settings)
    b = load_service(nky_snapshot_dir, db_url=pg_url, realtime=settings)
    try:
        assert a.import_poller is not None and b.import_poller is not None
        assert a.store is not None
        with TestClient(create_app(service=a)), TestClient(create_app(service=b)):
            assert poll(lambda: a.store.find_external("KYTC", "wzdx:lease-2") is not None,
                        timeout_s=PROPAGATION_WAIT_S) is not None
            time.sleep(1.0)  # several polling ticks of both
            assert a.import_poller.leader != b.import_poller.leader
            assert a.store.last_seq() == 3  # each record created once
            leader = a.import_poller if a.import_poller.leader else b.import_poller
            other = b.import_poller if leader is a.import_poller else a.import_poller
            assert leader.reports["subscription:shared"].counts["created"] == 3
            assert other.reports == {}
            # the file drops a record: ended once
            feed.write_text(json.dumps(wzdx_doc(*feats[1:])))

            def ended() -> bool:
                inc = a.store.find_external("KYTC", "wzdx:lease-0")
                return inc is not None and inc.status.value == "resolved"

            assert poll(ended, timeout_s=PROPAGATION_WAIT_S) is not None
            time.sleep(0.6)
            assert a.store.last_seq() == 4
    finally:
        a.close()
        b.close()
