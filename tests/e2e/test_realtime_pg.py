"""GTFS-Realtime across replicas on the real PostgreSQL: a push to replica A is in replica B's
answers (B's engine wakes on the NOTIFY), and of two replicas configured with the same source
only the lease holder polls it, so each fetch is logged once.

Uses the server on 127.0.0.1:5432 (``CITYNAV_TEST_PG``); each test gets its own schema."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from google.transit import gtfs_realtime_pb2 as pb

from api.app import create_app
from api.service import load_service
from incidents.keys import create_key
from incidents.realtime_sources import RealtimeSettings, SourceConfig
from routing.clock import ReplayClock
from tests.conftest import SHARED_GTFS_RT
from tests.e2e.test_incident_faults import PROPAGATION_WAIT_S, poll
from tests.e2e.test_incident_scenarios_pg import pg_url  # noqa: F401 - fixture

pytestmark = pytest.mark.postgres
TU = SHARED_GTFS_RT / "bart" / "bart_trip_updates_20190807.pb"


@pytest.fixture(scope="module")
def tu_bytes() -> bytes:
    if not TU.is_file():
        pytest.skip(f"shared GTFS-RT sample not available: {TU}")
    return TU.read_bytes()


def _clock(data: bytes) -> ReplayClock:
    m = pb.FeedMessage()
    m.ParseFromString(data)
    return ReplayClock(datetime.fromtimestamp(m.header.timestamp + 5, UTC), frozen=True)


def test_a_push_to_one_replica_reaches_the_other(bart_transit_snapshot_dir: Path,
                                                 pg_url: str,  # noqa: F811
                                                 tu_bytes: bytes) -> None:
    clock = _clock(tu_bytes)
    a = load_service(bart_transit_snapshot_dir, db_url=pg_url, clock=clock)
    b = load_service(bart_transit_snapshot_dir, db_url=pg_url, clock=clock)
    try:
        assert a.store is not None
        key = create_key(a.store, "transit_agency", "bart")
        with TestClient(create_app(service=a)) as ca, TestClient(create_app(service=b)) as cb:
            r = ca.post("/v1/realtime/bart", content=tu_bytes,
                        headers={"Authorization": f"Bearer {key}",
                                 "Content-Type": "application/x-protobuf"})
            assert r.status_code == 200, r.text

            def applied_on_b() -> bool:
                st = cb.get("/v1/realtime/status").json()["feeds"]
                return any(f["kind"] == "trip_updates" and f["messages_applied"] == 1
                           for f in st)

            took = poll(applied_on_b, timeout_s=PROPAGATION_WAIT_S)
            assert took is not None, "replica B never applied A's push"
            la = a.state().live.transit_realtime
            lb = b.state().live.transit_realtime
            assert la is not None and lb is not None
            d = datetime(2019, 8, 7).date()
            assert (la.day(d).departure_delay_s == lb.day(d).departure_delay_s).all()
    finally:
        a.close()
        b.close()


def test_only_the_lease_holder_polls(bart_transit_snapshot_dir: Path, pg_url: str,  # noqa: F811
                                     tu_bytes: bytes, tmp_path: Path) -> None:
    feed = tmp_path / "tu.pb"
    feed.write_bytes(tu_bytes)
    settings = RealtimeSettings(sources=[SourceConfig(feed_id="bart", kind="trip_updates",
                                                      file=feed, interval_s=0.2)])
    clock = _clock(tu_bytes)
    a = load_service(bart_transit_snapshot_dir, db_url=pg_url, clock=clock, realtime=settings)
    b = load_service(bart_transit_snapshot_dir, db_url=pg_url, clock=clock, realtime=settings)
    try:
        assert a.poller is not None and b.poller is not None
        with TestClient(create_app(service=a)), TestClient(create_app(service=b)):
            assert poll(lambda: a.state().live.transit_realtime is not None
                        and b.state().live.transit_realtime is not None,
                        timeout_s=PROPAGATION_WAIT_S) is not None
            time.sleep(1.0)  # several polling ticks of both
            assert a.poller.leader != b.poller.leader  # exactly one holds the lease
            log = a.engine.realtime_log
            assert [m.kind for m in log.since(0)] == ["trip_updates"]  # logged once
    finally:
        a.close()
        b.close()
