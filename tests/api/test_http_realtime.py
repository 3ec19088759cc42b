"""GTFS-Realtime in over HTTP, on BART's real feeds replayed at their own time: pushes by
scoped keys, refusals that keep the last good state (and are counted), polling a URL with
conditional requests and a watched file, other processes following the log, and replay on
restart."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from google.transit import gtfs_realtime_pb2 as pb

from api.app import create_app
from api.service import load_service
from incidents.keys import create_key
from incidents.realtime_sources import RealtimeConfigError, RealtimeSettings, SourceConfig
from routing.clock import ReplayClock
from tests.api.live_server import serve_feed
from tests.conftest import SHARED_GTFS_RT

TU = SHARED_GTFS_RT / "bart" / "bart_trip_updates_20190807.pb"
ALERTS = SHARED_GTFS_RT / "bart" / "bart_alerts_20190807.pb"
PROTO = {"Content-Type": "application/x-protobuf"}


def _header_s(data: bytes) -> int:
    m = pb.FeedMessage()
    m.ParseFromString(data)
    return int(m.header.timestamp)


def _with_header(data: bytes, ts: int, full: bool = True, drop_entities: bool = False) -> bytes:
    m = pb.FeedMessage()
    m.ParseFromString(data)
    m.header.timestamp = ts
    m.header.incrementality = pb.FeedHeader.FULL_DATASET if full else pb.FeedHeader.DIFFERENTIAL
    if drop_entities:
        del m.entity[:]
    return m.SerializeToString()


@pytest.fixture(scope="module")
def tu_bytes() -> bytes:
    if not TU.is_file():
        pytest.skip(f"shared GTFS-RT sample not available: {TU}")
    return TU.read_bytes()


@pytest.fixture
def bart(bart_transit_snapshot_dir: Path, tmp_path: Path, tu_bytes: bytes):
    """A BART server replayed at the trip-updates sample's time, with its own store."""
    clock = ReplayClock(datetime.fromtimestamp(_header_s(tu_bytes) + 5, UTC), frozen=True)
    svc = load_service(bart_transit_snapshot_dir, db_url=f"sqlite:///{tmp_path / 'rt.db'}",
                       clock=clock)
    keys = {"agency": create_key(svc.store, "transit_agency", "bart"),
            "other": create_key(svc.store, "transit_agency", "caltrain"),
            "admin": create_key(svc.store, "admin"),
            "reader": create_key(svc.store, "reader")}
    with TestClient(create_app(service=svc), raise_server_exceptions=False) as c:
        yield c, svc, {k: {"Authorization": f"Bearer {v}"} for k, v in keys.items()}
    svc.close()


def _status(c: TestClient, kind: str = "trip_updates") -> dict:
    r = c.get("/v1/realtime/status")
    assert r.status_code == 200
    return next(f for f in r.json()["feeds"] if f["feed_id"] == "bart" and f["kind"] == kind)


def test_push_applies_and_reports(bart, tu_bytes) -> None:
    c, svc, keys = bart
    v0 = c.get("/v1/health").json()["live_version"]
    r = c.post("/v1/realtime/bart", content=tu_bytes, headers=keys["agency"] | PROTO)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["kind"] == "trip_updates" and out["full_dataset"] and out["entities"] == 91
    assert out["applied"]["applied"] == 54 and out["applied"]["trip_updates"] == 91
    assert out["applied"]["ignored"] == {"unknown_trip": 18, "unsupported_relationship": 8,
                                         "no_realtime_data": 11}
    assert out["live_version"] > v0
    # the state the answer names carries the delays
    live = svc.state().live.transit_realtime
    assert live is not None and (live.day(datetime(2019, 8, 7).date())
                                 .departure_delay_s != 0).sum() > 100
    st = _status(c)
    assert st["messages_applied"] == 1 and st["source"].startswith("push:")
    assert st["age_s"] == 5.0 and st["last_error"] is None
    health = c.get("/v1/health").json()["realtime"]
    assert {"feed_id": "bart", "kind": "trip_updates", "age_s": 5.0,
            "last_good_at": st["last_good_at"], "last_error": None} in health


def test_json_form_and_alerts(bart, tu_bytes) -> None:
    if not ALERTS.is_file():
        pytest.skip("BART alerts sample not available")
    from google.protobuf import json_format

    c, _, keys = bart
    m = pb.FeedMessage()
    m.ParseFromString(tu_bytes)
    r = c.post("/v1/realtime/bart", content=json_format.MessageToJson(m),
               headers=keys["admin"] | {"Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["applied"]["applied"] == 54
    alerts = _with_header(ALERTS.read_bytes(), _header_s(tu_bytes))
    r = c.post("/v1/realtime/bart", content=alerts, headers=keys["agency"] | PROTO)
    assert r.status_code == 200, r.text
    assert r.json()["kind"] == "alerts" and r.json()["applied"]["alerts"] == 1


def test_who_may_push(bart, tu_bytes) -> None:
    c, _, keys = bart
    assert c.post("/v1/realtime/bart", content=tu_bytes, headers=PROTO).status_code == 401
    for who in ("reader", "other"):
        r = c.post("/v1/realtime/bart", content=tu_bytes, headers=keys[who] | PROTO)
        assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
    r = c.post("/v1/realtime/muni", content=tu_bytes, headers=keys["admin"] | PROTO)
    assert r.status_code == 404 and "bart" in r.json()["detail"]
    r = c.post("/v1/realtime/bart", content=tu_bytes,
               headers=keys["agency"] | {"Content-Type": "text/csv"})
    assert r.status_code == 415
    r = c.post("/v1/realtime/bart?kind=buses", content=tu_bytes, headers=keys["agency"] | PROTO)
    assert r.status_code == 422


def test_refusals_keep_the_last_good_state(bart, tu_bytes) -> None:
    c, svc, keys = bart
    h = keys["agency"] | PROTO
    assert c.post("/v1/realtime/bart", content=tu_bytes, headers=h).status_code == 200
    good = svc.state().live.transit_realtime
    ts = _header_s(tu_bytes)
    bad = {
        "malformed": b"\x08\x96\x01garbage" * 7,
        "empty": b"",
        "stale": _with_header(tu_bytes, ts - 3600),
        "future": _with_header(tu_bytes, ts + 3600),
        "empty_full_dataset": _with_header(tu_bytes, ts + 1, drop_entities=True),
        "wrong_kind": _with_header(ALERTS.read_bytes(), ts) if ALERTS.is_file() else None,
    }
    for reason, body in bad.items():
        if body is None:
            continue
        q = "?kind=trip_updates" if reason == "wrong_kind" else ""
        r = c.post(f"/v1/realtime/bart{q}", content=body, headers=h)
        assert r.status_code == 422, (reason, r.status_code, r.text)
        assert r.json()["invalid_params"] == [{"name": "body", "reason": reason}], reason
        assert svc.state().live.transit_realtime is good, reason
    st = _status(c)
    assert st["messages_applied"] == 1
    assert set(st["rejected"]) >= {"stale", "future"}  # told to be trip updates
    rows = [f for f in c.get("/v1/realtime/status").json()["feeds"] if f["feed_id"] == "bart"]
    unknown = next(f for f in rows if f["kind"] == "unknown")  # kind could not be told
    assert set(unknown["rejected"]) == {"malformed", "empty", "empty_full_dataset"}
    assert sum(sum(f["rejected"].values()) for f in rows) == sum(b is not None
                                                                 for b in bad.values())


def test_another_feeds_trips_are_refused(bart, tu_bytes) -> None:
    c, svc, keys = bart
    m = pb.FeedMessage()
    m.ParseFromString(tu_bytes)
    for e in m.entity:
        e.trip_update.trip.trip_id = "X" + e.trip_update.trip.trip_id
    r = c.post("/v1/realtime/bart", content=m.SerializeToString(), headers=keys["agency"] | PROTO)
    assert r.status_code == 422 and r.json()["invalid_params"][0]["reason"] == "wrong_feed"
    assert svc.state().live.transit_realtime is None


def test_other_processes_and_restarts_follow_the_log(bart, bart_transit_snapshot_dir,
                                                      tu_bytes) -> None:
    c, svc, keys = bart
    other = load_service(bart_transit_snapshot_dir, db_url=svc.store.url, clock=svc.clock)
    try:
        assert c.post("/v1/realtime/bart", content=tu_bytes,
                      headers=keys["agency"] | PROTO).status_code == 200
        other.engine.sync()
        a = svc.state().live.transit_realtime.day(datetime(2019, 8, 7).date())
        b = other.state().live.transit_realtime.day(datetime(2019, 8, 7).date())
        assert (a.departure_delay_s == b.departure_delay_s).all()
        assert (a.trip_cancelled == b.trip_cancelled).all()
        r = c.post("/v1/realtime/bart?kind=trip_updates", content=b"junk",
                   headers=keys["agency"] | PROTO)
        assert r.status_code == 422
        other.engine.sync()
        st = [f for f in other.engine.realtime.status(other.clock.now())
              if f["kind"] == "trip_updates"][0]
        assert st["rejected"] == {"malformed": 1} and st["messages_applied"] == 1
    finally:
        other.close()
    restarted = load_service(bart_transit_snapshot_dir, db_url=svc.store.url, clock=svc.clock)
    try:
        rt = restarted.state().live.transit_realtime
        assert rt is not None
        assert (rt.day(datetime(2019, 8, 7).date()).departure_delay_s != 0).sum() > 100
    finally:
        restarted.close()


def _wait(cond, timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_polls_a_url_with_etag_and_watches_a_file(bart_transit_snapshot_dir, tmp_path,
                                                  tu_bytes) -> None:
    server, handler = serve_feed(tu_bytes, "application/x-protobuf")
    feed_file = tmp_path / "alerts.pb"
    settings = RealtimeSettings(sources=[
        SourceConfig(feed_id="bart", kind="trip_updates",
                     url=f"http://127.0.0.1:{server.server_port}/tu.pb", interval_s=0.2),
        SourceConfig(feed_id="bart", kind="alerts", file=feed_file, interval_s=0.2)])
    clock = ReplayClock(datetime.fromtimestamp(_header_s(tu_bytes) + 5, UTC), frozen=True)
    svc = load_service(bart_transit_snapshot_dir, db_url=f"sqlite:///{tmp_path / 'p.db'}",
                       clock=clock, realtime=settings)
    try:
        with TestClient(create_app(service=svc), raise_server_exceptions=False) as c:
            assert _wait(lambda: svc.state().live.transit_realtime is not None)
            assert _wait(lambda: handler.not_modified >= 2)  # conditional requests, no re-apply
            st = _status(c)
            assert st["messages_applied"] == 1 and st["source"].startswith("url:http://127")
            assert st["polling"]["etag"] == '"v1"'
            if ALERTS.is_file():
                feed_file.write_bytes(_with_header(ALERTS.read_bytes(), _header_s(tu_bytes)))
                assert _wait(lambda: bool(svc.state().live.transit_alerts.get("bart")))
                assert _status(c, "alerts")["source"] == f"file:{feed_file}"
            # a new version on the server is fetched and applied
            handler.body = _with_header(tu_bytes, _header_s(tu_bytes) + 2)
            handler.etag = '"v2"'
            assert _wait(lambda: _status(c)["messages_applied"] == 2)
            # the server failing: counted, backoff, the last good state kept
            server.shutdown()
            server.server_close()
            assert _wait(lambda: _status(c)["rejected"].get("fetch_failed", 0) >= 1)
            assert svc.state().live.transit_realtime is not None
    finally:
        svc.close()


def test_settings_file_errors_are_readable(tmp_path) -> None:
    p = tmp_path / "rt.toml"
    p.write_text('[[sources]]\nfeed_id = "bart"\nkind = "trips"\nurl = "ftp://x"\n')
    with pytest.raises(RealtimeConfigError) as exc:
        RealtimeSettings.from_file(p)
    assert "sources.0.kind" in str(exc.value) and str(p) in str(exc.value)
    p.write_text('[[sources]]\nfeed_id = "bart"\nkind = "alerts"\nfile = "a.pb"\n'
                 'url = "http://x"\n')
    with pytest.raises(RealtimeConfigError, match="exactly one of url and file"):
        RealtimeSettings.from_file(p)
    p.write_text('[[sources]]\nfeed_id = "bart"\nkind = "alerts"\nfile = "a.pb"\n')
    s = RealtimeSettings.from_file(p)
    assert s.sources[0].file == (tmp_path / "a.pb").resolve()
    with pytest.raises(RealtimeConfigError, match="muni"):
        RealtimeSettings(sources=[SourceConfig(feed_id="muni", kind="alerts", file=p)]
                         ).check_feeds(("bart",))
    p.write_text("not = [toml")
    with pytest.raises(RealtimeConfigError, match="not valid TOML"):
        RealtimeSettings.from_file(p)


def test_prune_keeps_what_replay_needs(bart, tu_bytes) -> None:
    c, svc, keys = bart
    h = keys["agency"] | PROTO
    ts = _header_s(tu_bytes)
    for k in range(3):
        assert c.post("/v1/realtime/bart", content=_with_header(tu_bytes, ts + k),
                      headers=h).status_code == 200
    log = svc.engine.realtime_log
    n = log.prune(svc.clock.now() + timedelta(hours=2))
    assert n == 2  # the two older full datasets; the newest stays for replay
    assert [m.seq for m in log.since(0)] == [log.last_seq()]


def test_cli_transit_agency_keys_and_realtime_settings_errors(bart_transit_snapshot_dir,
                                                              tmp_path, tu_bytes) -> None:
    from tests.routing.test_build_meta import run_cli

    db = f"sqlite:///{tmp_path / 'k.db'}"
    p = run_cli("keys", "create", "--role", "transit_agency", "--snapshot",
                str(bart_transit_snapshot_dir), "--db", db)
    assert p.returncode == 2 and "needs --agency (the feed id it may push)" in p.stderr
    p = run_cli("keys", "create", "--role", "transit_agency", "--agency", "bart",
                "--snapshot", str(bart_transit_snapshot_dir), "--db", db)
    assert p.returncode == 0, p.stderr
    key = p.stdout.strip()
    clock = ReplayClock(datetime.fromtimestamp(_header_s(tu_bytes) + 5, UTC), frozen=True)
    svc = load_service(bart_transit_snapshot_dir, db_url=db, clock=clock)
    try:
        with TestClient(create_app(service=svc)) as c:
            r = c.post("/v1/realtime/bart", content=tu_bytes,
                       headers={"Authorization": f"Bearer {key}"} | PROTO)
            assert r.status_code == 200, r.text
    finally:
        svc.close()
    bad = tmp_path / "rt.toml"
    bad.write_text('[[sources]]\nfeed_id = "bart"\nkind = "alerts"\n')
    p = run_cli("serve", "--snapshot", str(bart_transit_snapshot_dir), "--realtime", str(bad),
                "--port", "1")
    assert p.returncode == 2 and "exactly one of url and file" in p.stderr
