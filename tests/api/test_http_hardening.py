"""Nothing a client sends stalls or crashes the server: body limits (media type, size, depth,
number range), strict timestamps, refused invisible characters, deadlines, readiness."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.bodies import MAX_JSON_DEPTH, json_depth
from api.service import load_service
from incidents.keys import create_key

A, B = "39.0837,-84.5086", "39.0912,-84.4960"
STRETCH = [[-84.5086, 39.0837], [-84.5080, 39.0840]]
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def env(nky_snapshot_dir, tmp_path_factory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    db = tmp_path_factory.mktemp("db") / "hardening.db"
    svc = load_service(nky_snapshot_dir, db_url=f"sqlite:///{db}")
    key = create_key(svc.store, "traffic_centre", "KYTC")
    with TestClient(create_app(service=svc), raise_server_exceptions=False) as c:
        yield c, {"Authorization": f"Bearer {key}"}
    svc.close()


def _nested(depth: int, inner: bytes = b"1") -> bytes:
    return b"[" * depth + inner + b"]" * depth


def _nested_objects(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def _incident(**over: object) -> dict:
    body: dict = {"type": "closure", "severity": "high",
                  "start": datetime.now(UTC).isoformat(),
                  "geometry": {"type": "LineString", "coordinates": STRETCH}}
    body.update(over)
    return body


HOSTILE_BODIES: list[tuple[str, bytes]] = [
    ("arrays 1,000 deep", _nested(1000)),
    ("arrays 100,000 deep", _nested(100_000)),
    ("objects 1,000 deep", _nested_objects(1000)),
    ("observations 500 deep", b'{"observations":' + _nested(500) + b"}"),
    ("depth just over the limit", _nested(MAX_JSON_DEPTH + 1)),
    ("unclosed 50,000 deep", b"[" * 50_000),
    ("brackets inside a string do not count but the rest does",
     b'{"s":"' + b"[" * 5000 + b'",' + b'"x":' + _nested(1000) + b"}"),
    ("invalid UTF-8", b'{"observations":["\xff\xfe"]}'),
    ("NaN", b'{"observations":[NaN]}'),
    ("overflowing number", b'{"observations":[{"speed_kmh":1e999}]}'),
    ("underflowing coordinate", json.dumps(_incident(geometry={
        "type": "LineString", "coordinates": [[-84.5, 39.08], [-84.5, 0.0]]})).encode()
     .replace(b"0.0]", b"1e-400]")),
    ("truncated", b'{"observations":[{"ref":'),
    ("not JSON", b"<xml/>"),
    ("empty", b""),
    ("whitespace", b"   \n"),
]


@pytest.mark.parametrize("path", ["/v1/traffic/speeds", "/v1/incidents"])
@pytest.mark.parametrize(("name", "body"), HOSTILE_BODIES, ids=[n for n, _ in HOSTILE_BODIES])
def test_hostile_bodies_are_4xx_problems_never_5xx(env, path: str, name: str,
                                                   body: bytes) -> None:
    c, h = env
    r = c.post(path, content=body, headers={**h, **JSON})
    assert 400 <= r.status_code < 500, (name, r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("application/problem+json")
    assert c.get("/v1/health").status_code == 200


def test_deep_and_underflowing_bodies_say_why(env) -> None:
    c, h = env
    r = c.post("/v1/traffic/speeds", content=_nested(1000), headers={**h, **JSON})
    assert r.status_code == 422 and r.json()["type"].endswith("/json-too-deep")
    assert "1000 deep" in r.json()["detail"]
    body = json.dumps(_incident()).encode().replace(b"39.084", b"39.084e-400", 1)
    r = c.post("/v1/incidents", content=body, headers={**h, **JSON})
    assert r.status_code == 422 and "too small" in r.json()["detail"]


def test_oversized_bodies_are_413(env) -> None:
    c, h = env
    big = b'{"observations":[' + b'{"ref":{"way_id":1},"speed_kmh":5},' * 300_000 + b"1]}"
    assert len(big) > 8 * 1_048_576
    r = c.post("/v1/traffic/speeds", content=big, headers={**h, **JSON})
    assert r.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: cut off while streaming
        yield b'{"type":"closure","geometry":{"type":"LineString","coordinates":['
        for _ in range(300):
            yield b"[-84.5,39.08]," * 500

    r = c.post("/v1/incidents", content=chunks(), headers={**h, **JSON})
    assert r.status_code == 413


@pytest.mark.parametrize("ctype", [None, "text/plain", "application/x-www-form-urlencoded",
                                   "multipart/form-data"])
def test_a_body_without_a_json_media_type_is_415(env, ctype: str | None) -> None:
    c, h = env
    headers = dict(h) if ctype is None else {**h, "Content-Type": ctype}
    for path in ("/v1/traffic/speeds", "/v1/incidents"):
        r = c.post(path, content=json.dumps(_incident()).encode(), headers=headers)
        assert r.status_code == 415, (path, ctype, r.text)
        assert r.json()["type"].endswith("/unsupported-media-type")


def test_numeric_strings_are_not_read_as_timestamps(env) -> None:
    c, h = env
    r = c.post("/v1/incidents", json=_incident(start="1700000000"), headers=h)
    assert r.status_code == 422, r.text
    assert "start" in r.text
    r = c.post("/v1/traffic/speeds", headers=h, json={"observations": [
        {"ref": {"way_id": 1}, "speed_kmh": 10, "observed_at": "1700000000"}]})
    assert r.status_code == 422 and "ISO 8601" in r.text
    for param in ("1700000000", "20261124T080000", "1700000000.5"):
        r = c.get("/v1/route", params={"from": A, "to": B, "depart_at": param})
        assert r.status_code == 422, (param, r.text)
        assert r.json()["invalid_params"][0]["name"] == "query.depart_at"
    ok = c.get("/v1/route", params={"from": A, "to": B,
                                    "depart_at": datetime.now(UTC).isoformat()})
    assert ok.status_code == 200


@pytest.mark.parametrize("char", ["\u202e", "\u2066", "\u200b", "\ufeff", "\u2060"])
def test_invisible_and_bidi_controls_in_text_are_refused(env, char: str) -> None:
    c, h = env
    r = c.post("/v1/incidents", headers=h,
               json=_incident(description={"en": f"Bridge {char}closed"}))
    assert r.status_code == 422, r.text
    assert f"U+{ord(char):04X}" in r.text


def test_text_in_chinese_and_with_joiners_is_kept(env) -> None:
    c, h = env
    text = {"en": "Lane closed", "zh-CN": "车道封闭"}
    r = c.post("/v1/incidents", headers=h, json=_incident(description=text))
    assert r.status_code == 201, r.text
    assert r.json()["description"] == text


def test_a_speed_line_with_too_many_vertices_is_rejected_alone(env) -> None:
    c, h = env
    line = [[-84.5 + i * 1e-6, 39.08] for i in range(100_000)]
    now = datetime.now(UTC).isoformat()
    r = c.post("/v1/traffic/speeds", headers=h, json={"observations": [
        {"ref": {"geometry": {"type": "LineString", "coordinates": line}}, "speed_kmh": 10,
         "observed_at": now}]})
    assert r.status_code == 422
    assert "at most 1000" in r.json()["invalid_params"][0]["reason"]


def test_json_depth_counts_brackets_outside_strings() -> None:
    assert json_depth(b"1") == 0
    assert json_depth(b"[[1],[2,[3]]]") == 3
    assert json_depth(b'{"a":"[[[[","b":{"c":[]}}') == 3
    assert json_depth(b'["\\"[[["]') == 1


def test_ready_is_apart_from_health(env) -> None:
    c, _ = env
    r = c.get("/v1/ready")
    assert r.status_code == 200 and r.json()["status"] == "ready"
    assert isinstance(r.json()["live_version"], int)


def test_a_read_past_its_deadline_is_503_with_retry_after(env) -> None:
    app = create_app(service=env[0].app.state.service, deadline_s=0.001)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/v1/plan", params={"from": A, "to": "39.0412,-84.4960",
                                      "depart_at": "2020-01-15T07:00:00-05:00",
                                      "window_min": 120})
        assert r.status_code == 503, r.text[:200]
        assert r.headers["retry-after"] == "1"
        assert r.json()["type"].endswith("/overloaded")
        assert c.get("/v1/health").status_code == 200  # probes have no deadline
