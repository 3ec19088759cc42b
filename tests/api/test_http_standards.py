"""WZDx and DATEX II through HTTP on the bundled city: POST /v1/incidents/import (keys,
media types, per-record reports, idempotency, hostile documents refused with nothing
stored), the open feeds GET /v1/feeds/wzdx (validated against the official WZDx 4.2 schema)
and /v1/feeds/datex2 (v3 namespaces, read back), /v1/congestion as open data, with ETag,
Last-Modified and 304; and ``citynav incident import``."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import defusedxml.ElementTree as SafeET
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli_app
from api.service import load_service
from incidents.adapters.alertc import LocationTableError, load_tables
from incidents.adapters.datex2 import NS3_PAYLOAD, parse_datex2
from incidents.keys import create_key
from incidents.realtime_sources import RealtimeConfigError, RealtimeSettings
from routing.clock import ReplayClock
from tests.api.live_server import serve_feed
from tests.incidents.standards_docs import wzdx_doc, wzdx_feature
from tests.incidents.test_standards_parse import BILLION_LAUGHS, WRONG_NS, XXE
from tests.incidents.wzdx_schema import wzdx_errors

A, B = "39.0837,-84.5086", "39.0912,-84.4960"
GEOJSON = {"Content-Type": "application/geo+json"}
XML = {"Content-Type": "application/xml"}


@pytest.fixture(scope="module")
def env(nky_snapshot_dir, tmp_path_factory):
    db = tmp_path_factory.mktemp("db") / "incidents.db"
    svc = load_service(nky_snapshot_dir, db_url=f"sqlite:///{db}")
    keys = {"tc": create_key(svc.store, "traffic_centre", "KYTC"),
            "other": create_key(svc.store, "traffic_centre", "OHIO"),
            "reader": create_key(svc.store, "reader"),
            "admin": create_key(svc.store, "admin")}
    with TestClient(create_app(service=svc), raise_server_exceptions=False) as c:
        yield c, svc, {k: {"Authorization": f"Bearer {v}"} for k, v in keys.items()}
    svc.close()


def _route(c: TestClient) -> dict[str, Any]:
    r = c.get("/v1/route", params={"from": A, "to": B})
    assert r.status_code == 200, r.text
    return r.json()["routes"][0]


def _stretch(route: dict[str, Any], frac: int = 3, n: int = 6) -> list[list[float]]:
    coords = route["geometry"]["coordinates"]
    k = len(coords) // frac
    return coords[k:k + n]


def _post(c: TestClient, body: Any, headers: dict[str, str], **params: Any) -> Any:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return c.post("/v1/incidents/import", content=content, headers=headers, params=params)


def test_import_wzdx_closes_the_road_and_reimport_changes_nothing(env) -> None:
    c, svc, h = env
    before = _route(c)
    doc = wzdx_doc(wzdx_feature("http-1", _stretch(before), version="2026-01-01T09:00:00Z",
                                vehicle_impact="all-lanes-closed",
                                core_details={"data_source_id": "1",
                                              "event_type": "work-zone",
                                              "road_names": ["x"], "direction": "eastbound",
                                              "description": "Bridge works",
                                              "update_date": "2026-01-01T09:00:00Z"}))
    r = _post(c, doc, {**h["tc"], **GEOJSON})
    assert r.status_code == 200, r.text
    rep = r.json()
    assert rep["standard"] == "wzdx" and rep["agency"] == "KYTC"
    assert rep["counts"]["created"] == 1
    (rec,) = rep["records"]
    inc = c.get(f"/v1/incidents/{rec['incident_id']}").json()
    assert inc["external_id"] == "wzdx:http-1" and inc["type"] == "roadworks"
    assert inc["road_effect"]["closed_to"] == ["car", "truck", "bus"]
    assert inc["description"] == {"en": "Bridge works"}
    after = _route(c)
    assert after["geometry"] != before["geometry"]  # the import is in effect for routes
    hist = len(c.get(f"/v1/incidents/{rec['incident_id']}/history").json()["history"])
    r = _post(c, doc, {**h["tc"], "Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["records"][0]["outcome"] == "unchanged"
    assert len(c.get(f"/v1/incidents/{rec['incident_id']}/history").json()["history"]) == hist
    # the feed publishes it and validates against the official schema
    feed = c.get("/v1/feeds/wzdx")
    assert feed.status_code == 200 and feed.headers["content-type"] == "application/geo+json"
    body = feed.json()
    assert wzdx_errors(body) == []
    ours = [f for f in body["features"] if f["id"] == rec["incident_id"]]
    assert ours and ours[0]["properties"]["vehicle_impact"] == "all-lanes-closed"
    assert ours[0]["properties"]["core_details"]["road_names"]  # matched street names
    # resolve: a new ETag and the incident leaves the feed
    etag = feed.headers["etag"]
    r = c.patch(f"/v1/incidents/{rec['incident_id']}", json={"status": "resolved"},
                headers={**h["tc"], "If-Match": "*"})
    assert r.status_code == 200
    feed2 = c.get("/v1/feeds/wzdx", headers={"If-None-Match": etag})
    assert feed2.status_code == 200 and feed2.headers["etag"] != etag
    assert rec["incident_id"] not in [f["id"] for f in feed2.json()["features"]]
    assert _route(c)["geometry"] == before["geometry"]


def test_import_keys_and_agencies(env) -> None:
    c, svc, h = env
    doc = wzdx_doc(wzdx_feature("auth-1", _stretch(_route(c), 2, 4),
                                version="2026-01-01T09:00:00Z"))
    seq = svc.store.last_seq()
    assert _post(c, doc, GEOJSON).status_code == 401
    assert _post(c, doc, {**h["reader"], **GEOJSON}).status_code == 403
    r = _post(c, doc, {**h["other"], **GEOJSON}, agency="KYTC")
    assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
    r = _post(c, doc, {**h["admin"], **GEOJSON})
    assert r.status_code == 422 and "agency" in r.json()["detail"]
    assert svc.store.last_seq() == seq  # nothing stored
    r = _post(c, doc, {**h["admin"], **GEOJSON}, agency="CITY")
    assert r.status_code == 200 and r.json()["counts"]["created"] == 1
    assert svc.store.find_external("CITY", "wzdx:auth-1") is not None


@pytest.mark.parametrize(("body", "headers", "status", "kind"), [
    (BILLION_LAUGHS, XML, 422, "xml-forbidden"),
    (XXE, XML, 422, "xml-forbidden"),
    (WRONG_NS, XML, 422, "wrong-namespace"),
    (b"<d2:payload xmlns:d2='http://datex2.eu/schema/3/d2Payload'>", XML, 422, "invalid-xml"),
    (b'{"type": "FeatureCollection", "features": []}', GEOJSON, 422, "document-refused"),
    (b"hello", {"Content-Type": "text/plain"}, 415, "unsupported-media-type"),
    (b"", GEOJSON, 422, "document-refused"),
], ids=["billion-laughs", "xxe", "wrong-namespace", "malformed", "not-wzdx", "text",
        "empty"])
def test_hostile_and_foreign_documents_are_refused_with_nothing_stored(
        env, body: bytes, headers: dict[str, str], status: int, kind: str) -> None:
    c, svc, h = env
    seq = svc.store.last_seq()
    r = _post(c, body, {**h["tc"], **headers})
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/" + kind)
    assert svc.store.last_seq() == seq


def test_huge_documents_are_refused(env) -> None:
    c, svc, h = env
    seq = svc.store.last_seq()
    big = b'{"feed_info": {}, "pad": "' + b"x" * (17 << 20) + b'"}'
    r = _post(c, big, {**h["tc"], **GEOJSON})
    assert r.status_code == 413
    assert svc.store.last_seq() == seq


def test_datex2_feed_is_v3_reads_back_and_answers_304(env) -> None:
    c, svc, h = env
    stretch = _stretch(_route(c), 4, 5)
    inc = c.post("/v1/incidents", headers=h["tc"], json={
        "type": "accident", "severity": "high", "start": "2026-01-01T00:00:00Z",
        "geometry": {"type": "LineString", "coordinates": stretch}, "direction": "forward",
        "description": {"en": "Crash", "zh-CN": "事故"}}).json()
    r = c.get("/v1/feeds/datex2")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    root = SafeET.fromstring(r.content)
    assert root.tag == f"{{{NS3_PAYLOAD}}}payload"
    assert 'rel="license"' in r.headers["link"]
    recs = {x.external_id: x for x in parse_datex2(r.content).records}
    mine = recs[f"datex2:{inc['id']}"]
    assert mine.fields is not None and mine.fields["type"] == "accident"
    assert mine.fields["description"] == {"en": "Crash", "zh-CN": "事故"}
    assert c.get("/v1/feeds/datex2", headers={"If-None-Match": r.headers["etag"]}
                 ).status_code == 304
    assert c.get("/v1/feeds/datex2", headers={"If-Modified-Since": r.headers["last-modified"]}
                 ).status_code == 304
    assert c.get("/v1/feeds/datex2", headers={"If-Modified-Since":
                                              "Mon, 01 Jan 2001 00:00:00 GMT"}
                 ).status_code == 200
    # importing our own DATEX II as another agency gives incidents matched on the network
    back = _post(c, r.content, {**h["admin"], **XML}, agency="MIRROR")
    assert back.status_code == 200, back.text
    outcome = {x["external_id"]: x["outcome"] for x in back.json()["records"]}
    assert outcome[f"datex2:{inc['id']}"] == "created"


def test_wzdx_feed_metadata_and_conditional_requests(env) -> None:
    c, _, _ = env
    r = c.get("/v1/feeds/wzdx")
    info = r.json()["feed_info"]
    assert info["publisher"] == "citynav" and info["version"] == "4.2"
    assert info["license"] == "https://creativecommons.org/publicdomain/zero/1.0/"
    assert r.headers["cache-control"] == "no-cache" and r.headers["last-modified"]
    r304 = c.get("/v1/feeds/wzdx", headers={"If-None-Match": r.headers["etag"]})
    assert r304.status_code == 304 and r304.content == b""
    assert r304.headers["etag"] == r.headers["etag"]
    assert c.get("/v1/feeds/wzdx", headers={"If-None-Match": '"other"'}).status_code == 200


def test_congestion_is_open_data_with_etag(nky_snapshot_dir, tmp_path) -> None:
    clock = ReplayClock(datetime(2020, 1, 15, 13, 0, tzinfo=UTC), frozen=True)
    svc = load_service(nky_snapshot_dir, db_url=f"sqlite:///{tmp_path / 'c.db'}",
                       clock=clock)
    params = {"bbox": "-84.52,39.07,-84.49,39.10"}
    try:
        with TestClient(create_app(service=svc), raise_server_exceptions=False) as c:
            r = c.get("/v1/congestion", params=params)
            assert r.status_code == 200
            info = r.json()["feed_info"]
            assert info["publisher"] == "citynav" and "OpenStreetMap" in info["attribution"]
            assert info["license"].startswith("https://")
            assert info["update_date"] == "2020-01-15T13:00:00+00:00"
            assert r.headers["last-modified"] == "Wed, 15 Jan 2020 13:00:00 GMT"
            assert 'rel="license"' in r.headers["link"]
            etag = r.headers["etag"]
            same = c.get("/v1/congestion", params=params, headers={"If-None-Match": etag})
            assert same.status_code == 304 and same.content == b""
            since = c.get("/v1/congestion", params=params,
                          headers={"If-Modified-Since": r.headers["last-modified"]})
            assert since.status_code == 304
            # another area is another content: another ETag, no 304
            other = c.get("/v1/congestion", params={"bbox": "-84.52,39.07,-84.50,39.08"},
                          headers={"If-None-Match": etag})
            assert other.status_code == 200 and other.headers["etag"] != etag
    finally:
        svc.close()


def test_cli_import(env, nky_snapshot_dir: Path, tmp_path: Path) -> None:
    c, _, _ = env
    stretch = _stretch(_route(c), 5, 5)
    doc = tmp_path / "feed.geojson"
    doc.write_text(json.dumps(wzdx_doc(wzdx_feature("cli-1", stretch,
                                                    version="2026-01-01T09:00:00Z"))))
    db = f"sqlite:///{tmp_path}/cli.db"
    runner = CliRunner()
    args = ["incident", "import", str(doc), "--agency", "KYTC", "--db", db,
            "--snapshot", str(nky_snapshot_dir), "--json"]
    r = runner.invoke(cli_app, args)
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["counts"]["created"] == 1 and rep["source"] == "cli"
    r = runner.invoke(cli_app, args)
    assert json.loads(r.stdout)["counts"]["unchanged"] == 1
    bad = tmp_path / "bomb.xml"
    bad.write_bytes(BILLION_LAUGHS)
    r = runner.invoke(cli_app, ["incident", "import", str(bad), "--agency", "KYTC", "--db",
                                db, "--snapshot", str(nky_snapshot_dir)])
    assert r.exit_code == 2 and "refused" in r.output


def _wait(cond: Any, timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_subscription_polls_with_etag_and_ends_what_disappears(env, nky_snapshot_dir,
                                                               tmp_path) -> None:
    c, _, _ = env
    route = _route(c)
    feats = [wzdx_feature("sub-1", _stretch(route, 3, 5), version="2026-01-01T09:00:00Z"),
             wzdx_feature("sub-2", _stretch(route, 2, 5), version="2026-01-01T09:00:00Z")]
    server, handler = serve_feed(json.dumps(wzdx_doc(*feats)).encode(),
                                 "application/geo+json")
    settings_file = tmp_path / "settings.toml"
    table = tmp_path / "tables" / "t.csv"
    table.parent.mkdir()
    table.write_text("table,code,lat,lon\n99,1,39.08,-84.5\n")
    settings_file.write_text(
        'alert_c_tables = ["tables/t.csv"]\n\n[[imports]]\nname = "kytc"\n'
        f'url = "http://127.0.0.1:{server.server_port}/wzdx.geojson"\n'
        'format = "wzdx"\nagency = "KYTC"\ninterval_s = 0.2\n')
    settings = RealtimeSettings.from_file(settings_file)
    assert settings.alert_c_tables == [table.resolve()]
    svc = load_service(nky_snapshot_dir, db_url=f"sqlite:///{tmp_path / 's.db'}",
                       realtime=settings)
    try:
        assert svc.import_poller is not None and svc.location_tables.has_table("99")
        with TestClient(create_app(service=svc), raise_server_exceptions=False) as c2:
            assert _wait(lambda: svc.store.find_external("KYTC", "wzdx:sub-2") is not None)
            assert _wait(lambda: handler.not_modified >= 2)  # conditional, not re-imported
            seq = svc.store.last_seq()
            assert seq == 2  # two creates, nothing since
            (status,) = svc.import_poller.status()
            assert status["source"] == "subscription:kytc" and status["etag"] == '"v1"'
            over_http = c2.get("/v1/incidents/import/subscriptions").json()
            assert over_http["polling"] is True
            assert over_http["subscriptions"][0]["last_counts"]["created"] == 2
            first_report = svc.import_poller.reports["subscription:kytc"]
            # the feed drops sub-1: it is ended
            handler.body = json.dumps(wzdx_doc(feats[1])).encode()
            handler.etag = '"v2"'

            def ended() -> bool:
                inc = svc.store.find_external("KYTC", "wzdx:sub-1")
                return inc is not None and inc.status.value == "resolved"

            assert _wait(ended)
            # the poller stores its report after the import is committed: wait for the new
            # report (a deadline, not a sleep) before reading it
            assert _wait(lambda: svc.import_poller.reports["subscription:kytc"]
                         is not first_report)
            report = svc.import_poller.reports["subscription:kytc"]
            assert report.counts["ended"] == 1 and report.counts["unchanged"] == 1
            server.shutdown()
            server.server_close()
            assert _wait(lambda: svc.import_poller.status()[0]["consecutive_failures"] >= 1)
    finally:
        svc.close()


def test_subscription_settings_errors(tmp_path) -> None:
    p = tmp_path / "s.toml"
    p.write_text('[[imports]]\nformat = "wzdx"\nagency = "KYTC"\n')
    with pytest.raises(RealtimeConfigError, match="exactly one of url and file"):
        RealtimeSettings.from_file(p)
    p.write_text('[[imports]]\nformat = "tpeg"\nagency = "KYTC"\nfile = "a.xml"\n')
    with pytest.raises(RealtimeConfigError, match="imports.0.format"):
        RealtimeSettings.from_file(p)
    p.write_text('alert_c_tables = ["missing.csv"]\n')
    s = RealtimeSettings.from_file(p)
    with pytest.raises(LocationTableError):
        load_tables(s.alert_c_tables)


def test_subscriptions_status_without_subscriptions(env) -> None:
    c, _, _ = env
    r = c.get("/v1/incidents/import/subscriptions")
    assert r.status_code == 200 and r.json() == {"polling": False, "subscriptions": []}
