"""Incidents end to end against real ``citynav serve`` processes: SIGKILL durability, a batch
of hostile requests, write-to-route propagation, changes made by other processes and
scheduled closures.

Every test works on its own copy of the northern-Kentucky snapshot directory, so the
incident database (an SQLite file beside the snapshot, :func:`api.service.default_db_url`)
starts empty.
"""

from __future__ import annotations

import json
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.service import default_db_url
from incidents.keys import create_key
from incidents.store import open_store
from tests.api.live_server import live_server

FROM, TO = "39.0837,-84.5086", "39.0912,-84.4960"
"""A car route across the Ohio river (~163 s free flow) used by every scenario."""
PROBLEM_JSON = "application/problem+json"
AGENCY = "KYTC"


# ------------------------------------------------------------------------------- helpers
def copy_snapshot(src: Path, dest_dir: Path) -> Path:
    """Copy the snapshot directory into ``dest_dir`` (a fresh, empty incident DB beside it)."""
    dest = dest_dir / "nky"
    shutil.copytree(src, dest)
    assert not Path(default_db_url(dest).removeprefix("sqlite:///")).exists()
    return dest


def make_key(snapshot: Path, role: str, agency: str | None = AGENCY) -> str:
    """Create an API key in the snapshot's incident database (before or while serving)."""
    store = open_store(default_db_url(snapshot))
    try:
        return create_key(store, role, agency)
    finally:
        store.close()


def closure_body(coords: list[list[float]], **overrides: Any) -> dict[str, Any]:
    """A valid car closure on the LineString ``coords`` (``[lon, lat]`` pairs)."""
    body: dict[str, Any] = {
        "type": "closure", "severity": "high", "start": "2020-01-01T00:00:00Z",
        "geometry": {"type": "LineString", "coordinates": coords},
        "direction": "both", "road_effect": {"closed_to": ["car"]},
        "description": {"en": "e2e test closure"},
    }
    body.update(overrides)
    return body


def route_stretch(route: dict[str, Any], n: int = 6) -> list[list[float]]:
    """``n`` consecutive vertices a third of the way along the route's geometry."""
    coords = route["routes"][0]["geometry"]["coordinates"]
    i = len(coords) // 3
    return coords[i: i + n]


def get_route(client: httpx.Client, **params: str) -> dict[str, Any]:
    """``GET /v1/route`` from :data:`FROM` to :data:`TO` by car; asserts 200."""
    r = client.get("/v1/route", params={"from": FROM, "to": TO, "mode": "car", **params})
    assert r.status_code == 200, r.text
    return r.json()


def reflects(route: dict[str, Any], incident_id: str) -> bool:
    """True if the route's explanation names the incident (acting on it or avoided)."""
    expl = route["routes"][0]["explanation"] or {}
    return incident_id in expl.get("avoided", []) or incident_id in expl.get("incidents", [])


def duration(route: dict[str, Any]) -> float:
    """Travel time of the first route (seconds)."""
    return float(route["routes"][0]["duration_s"])


#: How long a test waits for a change to propagate before calling it lost. The propagation
#: *time* (target: under a second) is measured by bench/incidents.py, never asserted here.
PROPAGATION_WAIT_S = 30.0


def poll(fn: Callable[[], bool], timeout_s: float, pause_s: float = 0.02) -> float | None:
    """Call ``fn`` until it is true; seconds it took, or ``None`` after ``timeout_s``."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout_s:
        if fn():
            return time.perf_counter() - t0
        time.sleep(pause_s)
    return None


def resolve(client: httpx.Client, incident_id: str) -> None:
    """Resolve an incident through the API (the change is in effect when this returns)."""
    cur = client.get(f"/v1/incidents/{incident_id}")
    assert cur.status_code == 200, cur.text
    r = client.patch(f"/v1/incidents/{incident_id}", json={"status": "resolved"},
                     headers={"If-Match": cur.headers["ETag"]})
    assert r.status_code == 200, r.text


def iso(t: datetime) -> str:
    """ISO 8601 with a ``Z`` suffix, second precision."""
    return t.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# ------------------------------------------------------------------- shared server (module)
@dataclass
class Live:
    """A server on a private snapshot copy, a traffic-centre client and the free-flow route."""

    url: str
    snapshot: Path
    client: httpx.Client
    baseline: dict[str, Any]
    stretch: list[list[float]] = field(default_factory=list)

    @property
    def db_url(self) -> str:
        """The server's incident database."""
        return default_db_url(self.snapshot)


@pytest.fixture(scope="module")
def live(nky_snapshot_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """One server for the propagation scenarios; each test leaves no incident in effect."""
    snap = copy_snapshot(nky_snapshot_dir, tmp_path_factory.mktemp("e2e-live"))
    key = make_key(snap, "traffic_centre")
    with live_server(snap) as (url, _proc), httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        base = get_route(client)
        assert base["live_version"] == 0 and base["routes"][0]["explanation"]["avoided"] == []
        yield Live(url, snap, client, base, route_stretch(base))


def assert_baseline(lv: Live, route: dict[str, Any]) -> None:
    """The route is the free-flow one (nothing in effect on it)."""
    assert duration(route) == pytest.approx(duration(lv.baseline), abs=0.5)
    expl = route["routes"][0]["explanation"]
    assert expl["avoided"] == [] and expl["incidents"] == []


# ------------------------------------------------------------------------------- tests
def test_post_is_in_effect_for_the_very_next_route(live: Live) -> None:
    """After a POST returns, the very next route already avoids the closure (how fast is
    measured by bench/incidents.py, not asserted here)."""
    r = live.client.post("/v1/incidents", json=closure_body(live.stretch))
    assert r.status_code == 201, r.text
    route = get_route(live.client)
    inc_id = r.json()["id"]
    try:
        assert reflects(route, inc_id), route["routes"][0]["explanation"]
        assert duration(route) > duration(live.baseline) + 60
        assert route["live_version"] > live.baseline["live_version"]
        assert route["live_version"] >= r.json()["live_version"]
    finally:
        resolve(live.client, inc_id)
    assert_baseline(live, get_route(live.client))


def test_change_by_another_process_is_picked_up(live: Live) -> None:
    """A write committed directly into the store by another process (not through this
    server's API) reaches the server's routes through its background engine within ~2 s."""
    store = open_store(live.db_url)
    try:
        inc = store.create(closure_body(live.stretch, external_id="other-process-1"),
                           "e2e-importer", agency=AGENCY)
    finally:
        store.close()
    try:
        took = poll(lambda: reflects(get_route(live.client), inc.id), timeout_s=PROPAGATION_WAIT_S)
        assert took is not None, "the server never picked up the change made by another process"
        route = get_route(live.client)
        assert duration(route) > duration(live.baseline) + 60 and route["live_version"] > 0
        got = live.client.get(f"/v1/incidents/{inc.id}")
        assert got.status_code == 200 and got.json()["created_by"] == "e2e-importer"
    finally:
        resolve(live.client, inc.id)
    assert_baseline(live, get_route(live.client))


def test_scheduled_closure_applies_only_inside_its_window(live: Live) -> None:
    """start = now + 2 h, end = now + 4 h: no effect now, in effect for a departure at
    now + 3 h, none at now + 5 h."""
    now = datetime.now(UTC)
    body = closure_body(live.stretch, start=iso(now + timedelta(hours=2)),
                        end=iso(now + timedelta(hours=4)))
    r = live.client.post("/v1/incidents", json=body)
    assert r.status_code == 201, r.text
    inc = r.json()
    assert inc["status"] == "scheduled" and inc["effective_state"] == "pending"
    try:
        assert_baseline(live, get_route(live.client))
        inside = get_route(live.client, depart_at=iso(now + timedelta(hours=3)))
        assert reflects(inside, inc["id"]), inside["routes"][0]["explanation"]
        assert duration(inside) > duration(live.baseline) + 60
        after = get_route(live.client, depart_at=iso(now + timedelta(hours=5)))
        assert_baseline(live, after)
        before = get_route(live.client, depart_at=iso(now + timedelta(hours=1)))
        assert_baseline(live, before)
    finally:
        cur = live.client.get(f"/v1/incidents/{inc['id']}")
        c = live.client.patch(f"/v1/incidents/{inc['id']}", json={"status": "cancelled"},
                              headers={"If-Match": cur.headers["ETag"]})
        assert c.status_code == 200, c.text
    assert not reflects(get_route(live.client, depart_at=iso(now + timedelta(hours=3))),
                        inc["id"])


@pytest.mark.parametrize("ctype", ["text/plain", "application/xml"])
def test_valid_json_under_a_wrong_content_type_is_refused(live: Live, ctype: str) -> None:
    """Only ``application/json`` bodies are documented; anything else should be a 4xx
    problem (415), not silently parsed."""
    r = live.client.post("/v1/incidents", headers={"Content-Type": ctype},
                         content=json.dumps(closure_body(live.stretch)).encode())
    try:
        assert 400 <= r.status_code < 500, f"{ctype}: {r.status_code}"
        assert r.headers["content-type"].startswith(PROBLEM_JSON)
    finally:
        if r.status_code == 201:
            resolve(live.client, r.json()["id"])


def test_incident_survives_sigkill_and_is_in_effect_after_restart(
        nky_snapshot_dir: Path, tmp_path: Path) -> None:
    """SIGKILL right after the 201: a restarted server has the incident, same version, and
    routes around it."""
    snap = copy_snapshot(nky_snapshot_dir, tmp_path)
    key = make_key(snap, "traffic_centre")
    auth = {"Authorization": f"Bearer {key}"}
    with live_server(snap) as (url, proc), httpx.Client(base_url=url, headers=auth,
                                                         timeout=30) as client:
        base = get_route(client)
        r = client.post("/v1/incidents", json=closure_body(route_stretch(base)))
        assert r.status_code == 201, r.text
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
    inc_id, etag = r.json()["id"], r.headers["ETag"]

    with live_server(snap) as (url, _proc), httpx.Client(base_url=url, headers=auth,
                                                         timeout=30) as client:
        got = client.get(f"/v1/incidents/{inc_id}")
        assert got.status_code == 200, got.text
        assert got.headers["ETag"] == etag == '"1"'
        assert got.json()["version"] == 1 and got.json()["effective_state"] == "in_effect"
        route = get_route(client)
        assert route["live_version"] > 0
        assert reflects(route, inc_id), route["routes"][0]["explanation"]
        assert duration(route) > duration(base) + 60
        # and it can still be changed with its old ETag
        p = client.patch(f"/v1/incidents/{inc_id}", json={"status": "resolved"},
                         headers={"If-Match": etag})
        assert p.status_code == 200, p.text
        assert duration(get_route(client)) == pytest.approx(duration(base), abs=0.5)


# --------------------------------------------------------------------- hostile requests
@dataclass
class Case:
    """One hostile request and the 4xx statuses acceptable for it."""

    name: str
    method: str
    path: str
    expect: tuple[int, ...]
    json_body: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    auth: str = "writer"  # writer | reader | other | none | raw (headers carry it)


FAR = [[2.3522, 48.8566], [2.3530, 48.8570]]  # Paris: valid GeoJSON, matches nothing here
INJECTION = "'); DROP TABLE incidents; --"
SCRIPT = "<script>alert(document.cookie)</script>"


def _json(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def _hostile_cases(stretch: list[list[float]], a_id: str, b_id: str) -> list[Case]:
    """The batch. ``a_id`` is an active incident of the writer's agency, ``b_id`` a resolved
    one; ``stretch`` is a valid LineString on the network."""
    ok = closure_body(stretch)

    def post(name: str, body: Any, expect: tuple[int, ...] = (422,), **kw: Any) -> Case:
        if isinstance(body, bytes):
            return Case(name, "POST", "/v1/incidents", expect, content=body, **kw)
        return Case(name, "POST", "/v1/incidents", expect, json_body=body, **kw)

    def without(key: str) -> dict[str, Any]:
        return {k: v for k, v in ok.items() if k != key}

    def geom(coords: Any, gtype: str = "LineString") -> dict[str, Any]:
        return closure_body(stretch, geometry={"type": gtype, "coordinates": coords})

    ok_text = json.dumps(ok)
    p1 = stretch[0]
    huge = [[-84.5 + i * 1e-7, 39.08 + i * 1e-7] for i in range(200_000)]
    nested = b'{"type":"closure","description":' + b'{"en":' * 5_000 + b'"x"' + b"}" * 5_001
    cases = [
        # --- not JSON / wrong envelope
        post("empty body", b""),
        post("whitespace body", b"   \n "),
        post("non-JSON body", b"closure on the bridge, please"),
        post("truncated JSON", ok_text[:-10].encode()),
        post("JSON array", b"[]"),
        post("JSON null", b"null"),
        post("JSON string", b'"closure"'),
        post("JSON number", b"42"),
        post("deeply nested arrays", b"[" * 100_000 + b"]" * 100_000, (413, 422)),
        post("deeply nested objects", nested, (413, 422)),
        post("non-UTF-8 bytes", ok_text.replace("e2e test closure", "X").encode()
             .replace(b'"X"', b'"\xff\xfe\xfd"')),
        post("form-encoded body", b"type=closure&severity=high",
             (415, 422), headers={"Content-Type": "application/x-www-form-urlencoded"}),
        # --- wrong types
        post("severity is a number", {**ok, "severity": 5}),
        post("type is a list", {**ok, "type": ["closure"]}),
        post("unknown type", {**ok, "type": "alien_invasion"}),
        post("start as Unix time", {**ok, "start": 1577836800}),
        post("geometry is a string", {**ok, "geometry": "LINESTRING(0 0, 1 1)"}),
        post("coordinates as strings", geom([[str(x) for x in p] for p in stretch])),
        post("closed_to is a string", {**ok, "road_effect": {"closed_to": "car"}}),
        post("lanes total is a string", {**ok, "lanes": {"total": "2", "closed": 1}}),
        post("bearing out of range", {**ok, "direction": 400}),
        post("description is a string", {**ok, "description": "closed"}),
        # --- missing / unknown fields
        post("missing type", without("type")),
        post("missing geometry", without("geometry")),
        post("missing start", without("start")),
        post("missing severity", without("severity")),
        post("unknown top-level field", {**ok, "priority": "urgent"}),
        post("server-owned id", {**ok, "id": "INC-999"}),
        post("server-owned version", {**ok, "version": 7}),
        post("unknown geometry member", closure_body(stretch, geometry={
            "type": "LineString", "coordinates": stretch, "crs": "EPSG:4326"})),
        post("unknown road_effect member", {**ok, "road_effect": {"closed_to": ["car"],
                                                                   "detour": "left"}}),
        # --- numbers and coordinates
        post("NaN coordinate", ok_text.replace(json.dumps(p1[0]), "NaN", 1).encode()),
        post("Infinity coordinate", ok_text.replace(json.dumps(p1[1]), "Infinity", 1).encode()),
        post("-Infinity coordinate", ok_text.replace(json.dumps(p1[0]), "-Infinity", 1).encode()),
        post("NaN speed limit", ok_text.replace('"road_effect": {', '"road_effect": '
                                                '{"speed_limit_kmh": NaN, ', 1).encode()),
        post("longitude out of range", geom([[200.0, 39.08], [200.1, 39.09]])),
        post("latitude out of range", geom([[-84.5, 95.0], [-84.5, 96.0]])),
        post("altitude in position", geom([[*p, 10.0] for p in stretch])),
        post("one-vertex LineString", geom([p1])),
        post("identical vertices", geom([p1, p1, p1])),
        post("6,000 vertices (< 1 MB)", geom([[-84.5 + i * 1e-6, 39.08] for i in range(6_000)])),
        post("200,000 vertices (~5 MB)", geom(huge), (413, 422)),
        post("open polygon ring", geom([[[-84.5, 39.08], [-84.49, 39.08], [-84.49, 39.09],
                                         [-84.5, 39.09]]], "Polygon")),
        post("self-intersecting polygon", geom([[[-84.5, 39.08], [-84.49, 39.09],
                                                 [-84.49, 39.08], [-84.5, 39.09],
                                                 [-84.5, 39.08]]], "Polygon")),
        post("unknown geometry type", geom(stretch, "GeometryCollection")),
        post("geometry far from the network", geom(FAR)),
        post("lon/lat swapped", geom([[lat, lon] for lon, lat in stretch])),
        post("zero speed limit", {**ok, "road_effect": {"speed_limit_kmh": 0}}),
        post("negative delay", {**ok, "road_effect": {"delay_s": -60}}),
        post("more closed lanes than lanes", {**ok, "lanes": {"total": 2, "closed": 3}}),
        # --- strings, ids and languages
        post("injection in description, far geometry", closure_body(FAR, description={
            "en": INJECTION, "fr": SCRIPT})),
        post("injection in external_id, far geometry", closure_body(FAR, external_id=INJECTION)),
        post("NUL in external_id", {**ok, "external_id": "abc\u0000def"}),
        post("BEL in external_id", {**ok, "external_id": "abc\u0007"}),
        post("RTL override in external_id", {**ok, "external_id": "abc\u202edef"}),
        post("newline-padded external_id", {**ok, "external_id": "\nabc\n"}),
        post("control char in description", {**ok, "description": {"en": "closed\u0001"}}),
        post("blank description", {**ok, "description": {"en": "   "}}),
        post("bad language tag", {**ok, "description": {"EN_us": "closed"}}),
        post("too many languages", {**ok, "description": {
            f"x{chr(97 + i // 26)}{chr(97 + i % 26)}": "closed" for i in range(21)}}),
        post("description too long", {**ok, "description": {"en": "x" * 4_001}}),
        post("unknown timezone", {**ok, "recurrence": {"days": ["mon"], "start_time": "07:00",
                                                       "end_time": "09:00",
                                                       "timezone": "Mars/Olympus"}}),
        # --- time
        post("end before start", {**ok, "end": "2019-12-31T00:00:00Z"}),
        post("end equals start", {**ok, "end": ok["start"]}),
        post("naive start", {**ok, "start": "2020-01-01T00:00:00"}),
        post("naive end", {**ok, "end": "2030-01-01T00:00:00"}),
        post("date only", {**ok, "start": "2020-01-01"}),
        post("year 9999", {**ok, "start": "9999-01-01T00:00:00Z"}),
        post("create as resolved", {**ok, "status": "resolved"}),
        # --- auth and roles
        post("no API key", ok, (401,), auth="none"),
        post("unknown API key", ok, (401,), auth="raw", headers={
            "Authorization": "Bearer cnk_000000000000_" + "A" * 43}),
        post("malformed API key", ok, (401,), auth="raw", headers={
            "Authorization": f"Bearer {INJECTION}"}),
        post("Basic auth", ok, (401,), auth="raw", headers={
            "Authorization": "Basic dXNlcjpwYXNz"}),
        post("reader key", ok, (403,), auth="reader"),
        Case("PATCH by another agency", "PATCH", f"/v1/incidents/{a_id}", (403,),
             json_body={"severity": "low"}, headers={"If-Match": '"1"'}, auth="other"),
        Case("DELETE by another agency", "DELETE", f"/v1/incidents/{a_id}", (403,),
             headers={"If-Match": '"1"'}, auth="other"),
        Case("PATCH by a reader", "PATCH", f"/v1/incidents/{a_id}", (403,),
             json_body={"severity": "low"}, headers={"If-Match": '"1"'}, auth="reader"),
        Case("DELETE by a reader", "DELETE", f"/v1/incidents/{a_id}", (403,),
             headers={"If-Match": '"1"'}, auth="reader"),
        # --- changes: preconditions, lifecycle, unknown ids
        Case("PATCH without If-Match", "PATCH", f"/v1/incidents/{a_id}", (428,),
             json_body={"severity": "low"}),
        Case("PATCH with a stale If-Match", "PATCH", f"/v1/incidents/{a_id}", (412,),
             json_body={"severity": "low"}, headers={"If-Match": '"99"'}),
        Case("PATCH with a bogus If-Match", "PATCH", f"/v1/incidents/{a_id}", (412,),
             json_body={"severity": "low"}, headers={"If-Match": '"v1"; DROP'}),
        Case("PATCH with an overlong If-Match", "PATCH", f"/v1/incidents/{a_id}", (412, 422),
             json_body={"severity": "low"}, headers={"If-Match": '"' + "1" * 60 + '"'}),
        Case("DELETE without If-Match", "DELETE", f"/v1/incidents/{a_id}", (428,)),
        Case("DELETE with a bogus If-Match", "DELETE", f"/v1/incidents/{a_id}", (412,),
             headers={"If-Match": "yesterday"}),
        Case("active → scheduled", "PATCH", f"/v1/incidents/{a_id}", (409, 422),
             json_body={"status": "scheduled"}, headers={"If-Match": '"1"'}),
        Case("PATCH status to an unknown value", "PATCH", f"/v1/incidents/{a_id}", (422,),
             json_body={"status": "fixed"}, headers={"If-Match": '"1"'}),
        Case("PATCH severity null", "PATCH", f"/v1/incidents/{a_id}", (422,),
             json_body={"severity": None}, headers={"If-Match": '"1"'}),
        Case("PATCH end before start", "PATCH", f"/v1/incidents/{a_id}", (422,),
             json_body={"end": "2019-01-01T00:00:00Z"}, headers={"If-Match": '"1"'}),
        Case("PATCH geometry far away", "PATCH", f"/v1/incidents/{a_id}", (422,),
             json_body={"geometry": {"type": "LineString", "coordinates": FAR}},
             headers={"If-Match": '"1"'}),
        Case("PATCH unknown field", "PATCH", f"/v1/incidents/{a_id}", (422,),
             json_body={"agency": "OTHER"}, headers={"If-Match": '"1"'}),
        Case("PATCH empty body", "PATCH", f"/v1/incidents/{a_id}", (422,), content=b"",
             headers={"If-Match": '"1"'}),
        Case("PATCH a resolved incident", "PATCH", f"/v1/incidents/{b_id}", (409,),
             json_body={"status": "active"}, headers={"If-Match": '"2"'}),
        Case("PATCH an unknown id", "PATCH", "/v1/incidents/INC-999999", (404,),
             json_body={"severity": "low"}, headers={"If-Match": '"1"'}),
        Case("DELETE an unknown id", "DELETE", "/v1/incidents/INC-999999", (404,),
             headers={"If-Match": '"1"'}),
        Case("GET an unknown id", "GET", "/v1/incidents/INC-999999", (404,)),
        Case("GET a malformed id", "GET", "/v1/incidents/INC-1'%20OR%20'1'='1", (404, 422)),
        Case("GET an id with a NUL", "GET", "/v1/incidents/INC-1%00", (404, 422)),
        Case("DELETE an id with a newline", "DELETE", "/v1/incidents/INC-1%0A", (404, 422),
             headers={"If-Match": '"1"'}),
        Case("PUT is not supported", "PUT", f"/v1/incidents/{a_id}", (405,), json_body=ok,
             headers={"If-Match": '"1"'}),
    ]
    return cases


def _check_problem(case: Case, r: httpx.Response) -> str | None:
    """A description of what is wrong with the answer to ``case``, or ``None``."""
    ctype = r.headers.get("content-type", "")
    where = f"{case.name}: {case.method} {case.path} → {r.status_code} {ctype}"
    if not 400 <= r.status_code < 500:
        return f"{where}: not a 4xx ({r.text[:200]!r})"
    if not ctype.startswith(PROBLEM_JSON):
        return f"{where}: not problem+json"
    try:
        body = r.json()
    except ValueError:
        return f"{where}: body is not JSON"
    if not isinstance(body.get("detail"), str) or not body["detail"]:
        return f"{where}: no detail ({body!r:.200})"
    if body.get("status") != r.status_code:
        return f"{where}: problem status {body.get('status')!r} differs"
    if r.status_code not in case.expect:
        return f"{where}: expected {case.expect} ({body['detail'][:160]!r})"
    return None


def test_hostile_requests_get_problem_answers_and_store_nothing(
        nky_snapshot_dir: Path, tmp_path: Path) -> None:
    """≥ 40 hostile requests: each gets a 4xx problem+json with a detail (never a 5xx), the
    server stays up, and the store then holds exactly the incidents meant to be created."""
    snap = copy_snapshot(nky_snapshot_dir, tmp_path)
    keys = {"writer": make_key(snap, "traffic_centre"),
            "reader": make_key(snap, "reader", None),
            "other": make_key(snap, "traffic_centre", "OTHER-DOT")}
    with live_server(snap) as (url, proc), httpx.Client(base_url=url, timeout=60) as http:
        w = {"Authorization": f"Bearer {keys['writer']}"}
        base = http.get("/v1/route", params={"from": FROM, "to": TO}).json()
        stretch = route_stretch(base)

        # What is meant to be stored: A active, B resolved, C with hostile strings verbatim.
        a = http.post("/v1/incidents", json=closure_body(stretch), headers=w)
        b = http.post("/v1/incidents", json=closure_body(stretch, severity="low"), headers=w)
        assert a.status_code == b.status_code == 201, (a.text, b.text)
        a_id, b_id = a.json()["id"], b.json()["id"]
        rb = http.patch(f"/v1/incidents/{b_id}", json={"status": "resolved"},
                        headers={**w, "If-Match": '"1"'})
        assert rb.status_code == 200, rb.text
        verbatim = {"en": INJECTION, "fr": SCRIPT, "de": "\"; SELECT pg_sleep(10); --",
                    "es": "Robert'); DELETE FROM api_keys;--\n\ttab"}
        c = http.post("/v1/incidents", headers=w, json=closure_body(
            stretch, severity="low", external_id="x' OR '1'='1", description=verbatim,
            road_effect={"delay_s": 30}))
        assert c.status_code == 201, c.text
        c_id = c.json()["id"]

        cases = _hostile_cases(stretch, a_id, b_id)
        cases.append(Case("duplicate external_id", "POST", "/v1/incidents", (409,),
                          json_body=closure_body(stretch, external_id="x' OR '1'='1")))
        assert len(cases) >= 40
        failures: list[str] = []
        for case in cases:
            headers = dict(case.headers)
            if case.auth in keys:
                headers.setdefault("Authorization", f"Bearer {keys[case.auth]}")
            if case.json_body is not None:
                content = json.dumps(case.json_body).encode()
                headers.setdefault("Content-Type", "application/json")
            else:
                content = case.content if case.content is not None else b""
                headers.setdefault("Content-Type", "application/json")
            r = http.request(case.method, case.path, content=content, headers=headers)
            if (problem := _check_problem(case, r)) is not None:
                failures.append(problem)
        assert proc.poll() is None, "the server died"

        # A body streamed without Content-Length (chunked) larger than the limit.
        def chunks() -> Iterator[bytes]:
            yield b'{"type":"closure","severity":"high","start":"2020-01-01T00:00:00Z",'
            yield b'"geometry":{"type":"LineString","coordinates":['
            for _ in range(400):
                yield b"[-84.5,39.08]," * 500
            yield b"[-84.5,39.09]]}}"

        chunked = Case("chunked 2.8 MB body", "POST", "/v1/incidents", (413,))
        r = http.post("/v1/incidents", content=chunks(),
                      headers={**w, "Content-Type": "application/json"})
        if (problem := _check_problem(chunked, r)) is not None:
            failures.append(problem)
        assert not failures, f"{len(failures)} of {len(cases) + 1} answers wrong:\n" + \
            "\n".join(failures)

        # Reads with hostile query strings are harmless.
        inj = http.get("/v1/incidents", params={"agency": INJECTION})
        assert inj.status_code == 200 and inj.json()["features"] == []
        assert http.get("/v1/health").status_code == 200

        # Exactly A, B, C are stored; C's strings verbatim; A and B unchanged.
        listed = http.get("/v1/incidents").json()["features"]
        assert sorted(f["id"] for f in listed) == sorted([a_id, b_id, c_id])
        got_c = http.get(f"/v1/incidents/{c_id}").json()
        assert got_c["description"] == verbatim and got_c["external_id"] == "x' OR '1'='1"
        got_a = http.get(f"/v1/incidents/{a_id}")
        assert got_a.headers["ETag"] == '"1"' and got_a.json()["severity"] == "high"
        assert http.get(f"/v1/incidents/{b_id}").json()["status"] == "resolved"

    store = open_store(default_db_url(snap))
    try:
        changes = [(ch.incident_id, ch.action.value) for ch in store.changes_since(0)]
        assert changes == [(a_id, "create"), (b_id, "create"), (b_id, "resolve"),
                           (c_id, "create")]
        assert {i.id for i in store.list_incidents()} == {a_id, b_id, c_id}
        assert store.get(c_id).description == verbatim
    finally:
        store.close()


def test_problem_check_catches_a_5xx() -> None:
    """The batch's checker flags a 5xx and a non-problem content type (self-test)."""
    case = Case("x", "GET", "/", (422,))
    bad = httpx.Response(500, json={"detail": "boom", "status": 500},
                         headers={"content-type": PROBLEM_JSON})
    assert _check_problem(case, bad) is not None
    plain = httpx.Response(422, text="nope", headers={"content-type": "text/plain"})
    assert _check_problem(case, plain) is not None
    good = httpx.Response(422, content=json.dumps({"detail": "d", "status": 422}).encode(),
                          headers={"content-type": PROBLEM_JSON})
    assert _check_problem(case, good) is None


__all__ = ["closure_body", "duration", "poll", "reflects", "route_stretch"]
