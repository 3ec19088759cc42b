"""Helpers of the realtime-information tests: servers replayed at a feed's time with their own
store, keys that may push, and GTFS-Realtime messages built by hand."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient
from google.transit import gtfs_realtime_pb2 as pb

from api.app import create_app
from api.service import Service, load_service
from incidents.keys import create_key
from routing.clock import ReplayClock

PROTO = {"Content-Type": "application/x-protobuf"}


def header_s(data: bytes) -> int:
    """Header timestamp of a FeedMessage."""
    m = pb.FeedMessage()
    m.ParseFromString(data)
    return int(m.header.timestamp)


def restamped(data: bytes, ts: int) -> bytes:
    """The message with header time ``ts``."""
    m = pb.FeedMessage()
    m.ParseFromString(data)
    m.header.timestamp = ts
    return m.SerializeToString()


def message(ts: int) -> pb.FeedMessage:
    """An empty FULL_DATASET message at ``ts``."""
    m = pb.FeedMessage()
    m.header.gtfs_realtime_version = "2.0"
    m.header.incrementality = pb.FeedHeader.FULL_DATASET
    m.header.timestamp = ts
    return m


@contextmanager
def replayed(snapshot: Path, db: Path, at_s: int
             ) -> Iterator[tuple[TestClient, Service, dict[str, str]]]:
    """A server on ``snapshot`` with its own SQLite store, its clock frozen at ``at_s``;
    yields the client, the service and the headers of an admin key."""
    clock = ReplayClock(datetime.fromtimestamp(at_s, UTC), frozen=True)
    svc = load_service(snapshot, db_url=f"sqlite:///{db}", clock=clock)
    key = create_key(svc.store, "admin")
    try:
        with TestClient(create_app(service=svc), raise_server_exceptions=False) as c:
            yield c, svc, {"Authorization": f"Bearer {key}"}
    finally:
        svc.close()


def push(c: TestClient, feed: str, body: bytes, auth: dict[str, str]) -> dict:
    """POST a protobuf message; assert it was applied and return the answer."""
    r = c.post(f"/v1/realtime/{feed}", content=body, headers=auth | PROTO)
    assert r.status_code == 200, r.text
    return r.json()
