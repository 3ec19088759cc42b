"""The OpenAPI document is enough to use the API without reading the code: every operation,
parameter, response field and error status is described, with examples that are valid
against their own schemas; and malformed coordinates are answered in words, never with a
regular expression."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest

METHODS = ("get", "put", "post", "patch", "delete")
#: Characters of a regular expression that have no business in an error message.
REGEX_BITS = re.compile(r"\^|\\d|\\s|\$'|\{1,|\(\?|\[\^")
COV, NEWPORT = "39.0837,-84.5086", "39.0912,-84.4960"


@pytest.fixture(scope="module")
def spec(client) -> dict[str, Any]:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    return r.json()


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", op


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = {**spec["components"]["schemas"][name],
                  **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _undescribed(spec: dict[str, Any], schema: dict[str, Any], where: str,
                 seen: set[str]) -> Iterator[str]:
    """Paths of properties without a description, following $refs, arrays, maps and
    unions (each component once)."""
    ref = schema.get("$ref")
    if ref is not None:
        if ref in seen:
            return
        seen.add(ref)
    schema = _resolve(spec, schema)
    for name, prop in schema.get("properties", {}).items():
        if not prop.get("description") and not _resolve(spec, prop).get("description"):
            yield f"{where}.{name}"
        yield from _undescribed(spec, prop, f"{where}.{name}", seen)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from _undescribed(spec, schema[key], f"{where}[]", seen)
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            yield from _undescribed(spec, sub, where, seen)


def _has_example(obj: dict[str, Any]) -> bool:
    return bool(obj.get("example") is not None or obj.get("examples"))


def test_every_operation_has_a_summary_and_a_description(spec) -> None:
    missing = []
    for name, op in _operations(spec):
        # FastAPI's default summary is the function's name ("Stop Departures"): say more.
        default = op["operationId"].split("_v1_")[0].replace("_", " ").title()
        if not op.get("summary") or op["summary"] == default:
            missing.append(f"{name}: summary")
        if len(op.get("description", "")) < 40:
            missing.append(f"{name}: description")
    assert not missing, missing


def test_every_parameter_has_a_description_and_an_example(spec) -> None:
    missing = []
    for name, op in _operations(spec):
        for p in op.get("parameters", []):
            if not p.get("description"):
                missing.append(f"{name} {p['in']} {p['name']}: description")
            if not (_has_example(p) or _has_example(p.get("schema", {}))):
                missing.append(f"{name} {p['in']} {p['name']}: example")
    assert not missing, missing


def test_every_response_field_is_described(spec) -> None:
    missing = []
    for name, op in _operations(spec):
        for status, resp in op["responses"].items():
            for media, content in resp.get("content", {}).items():
                if "schema" in content:
                    missing += _undescribed(spec, content["schema"],
                                            f"{name} {status} {media}", set())
    assert not missing, missing


def test_every_request_body_field_is_described(spec) -> None:
    missing = []
    for name, op in _operations(spec):
        for media, content in op.get("requestBody", {}).get("content", {}).items():
            missing += _undescribed(spec, content["schema"], f"{name} body {media}", set())
    assert not missing, missing


def test_every_success_answer_and_request_body_has_an_example(spec) -> None:
    missing = []
    for name, op in _operations(spec):
        for status in ("200", "201", "202"):
            resp = op["responses"].get(status)
            if resp is None:
                continue
            if not resp.get("content"):
                missing.append(f"{name} {status}: no content documented")
            for media, content in resp.get("content", {}).items():
                if not _has_example(content):
                    missing.append(f"{name} {status} {media}")
        for media, content in op.get("requestBody", {}).get("content", {}).items():
            if not _has_example(content):
                missing.append(f"{name} request body {media}")
        if not any(s in op["responses"] for s in ("200", "201", "202", "204")):
            missing.append(f"{name}: no success status")
    assert not missing, missing


def test_every_error_status_is_described_as_problem_details(spec) -> None:
    bad = []
    for name, op in _operations(spec):
        assert "500" in op["responses"], name
        for status, resp in op["responses"].items():
            if int(status) < 400:
                continue
            if not resp.get("description") or resp["description"] == "Error":
                bad.append(f"{name} {status}: description")
            content = resp.get("content", {})
            if set(content) != {"application/problem+json"} or \
                    content["application/problem+json"].get("schema") != {
                        "$ref": "#/components/schemas/Problem"}:
                bad.append(f"{name} {status}: not a Problem under application/problem+json")
    assert not bad, bad


def test_operations_document_their_own_error_meanings(spec) -> None:
    """A 422 or 404 says what goes wrong in that operation, not a generic phrase."""
    texts: dict[str, set[str]] = {}
    for _, op in _operations(spec):
        for status in ("404", "422"):
            if status in op["responses"]:
                texts.setdefault(status, set()).add(op["responses"][status]["description"])
    assert len(texts["404"]) >= 5 and len(texts["422"]) >= 8, texts


def _validator(spec: dict[str, Any], schema: dict[str, Any]):
    # Validate within the whole document so that "#/components/schemas/..." refs resolve.
    root = {"components": spec["components"], **schema}
    return jsonschema_rs.Draft202012Validator(root)


def _examples(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], Any]]:
    for name, op in _operations(spec):
        for status, resp in op["responses"].items():
            for media, content in resp.get("content", {}).items():
                if "example" in content and "schema" in content:
                    yield f"{name} {status} {media}", content["schema"], content["example"]
        for media, content in op.get("requestBody", {}).get("content", {}).items():
            if "example" in content and "schema" in content:
                yield f"{name} body {media}", content["schema"], content["example"]
        for p in op.get("parameters", []):
            for ex in p.get("schema", {}).get("examples", []):
                yield f"{name} {p['in']} {p['name']}", p["schema"], ex


def test_examples_are_valid_against_their_schemas(spec) -> None:
    bad = []
    n = 0
    for where, schema, example in _examples(spec):
        n += 1
        errors = [e.message for e in _validator(spec, schema).iter_errors(example)]
        if errors:
            bad.append(f"{where}: {errors[:3]}")
    assert n > 60 and not bad, bad


def test_formats_are_explained_where_they_appear(spec) -> None:
    """Coordinates, boxes, times and If-Match say how they are written."""
    for name, op in _operations(spec):
        for p in op.get("parameters", []):
            text = p["description"]
            # the isochrone's origin is `at=LAT,LON` (as the issue names it); elsewhere `at`
            # is a time
            coordinate_at = p["name"] == "at" and name == "GET /v1/isochrone"
            if p["name"] in ("from", "to", "near") or coordinate_at:
                assert "LAT,LON" in text and "decimal degrees" in text, (name, p["name"])
                continue
            if p["name"] == "bbox":
                assert "W,S,E,N" in text and "degrees" in text, name
            if name == "GET /v1/reverse" and p["name"] == "at":
                # reverse geocoding: `at` is a place here, not a time
                assert "LAT,LON" in text and "decimal degrees" in text, (name, p["name"])
            elif p["name"] in ("at", "depart_at"):
                assert "ISO 8601" in text and "timezone" in text, (name, p["name"])
            if p["name"] == "If-Match":
                assert "ETag" in text and "`*`" in text, name


def test_congestion_geojson_is_typed(spec) -> None:
    resp = spec["paths"]["/v1/congestion"]["get"]["responses"]["200"]
    assert set(resp["content"]) == {"application/geo+json"}
    schema = _resolve(spec, resp["content"]["application/geo+json"]["schema"])
    feature = _resolve(spec, schema["properties"]["features"]["items"])
    props = _resolve(spec, feature["properties"]["properties"])
    assert set(props["properties"]) == {"edge", "level", "speed_kmh", "free_flow_kmh",
                                        "delay_s", "name", "way_id", "direction", "causes",
                                        "source"}
    level = _resolve(spec, props["properties"]["level"])
    assert level["enum"] == ["free", "slow", "heavy", "standstill", "closed"]
    summary = spec["paths"]["/v1/congestion/summary"]["get"]["responses"]["200"]
    js = json.dumps(_resolve(spec, summary["content"]["application/json"]["schema"]))
    assert '"additionalProperties": {}' not in js and "WorstSegment" in js


def test_congestion_answers_match_their_schemas(client, spec) -> None:
    """The byte-built GeoJSON and the summary conform to the documented models."""
    for path, media in (("/v1/congestion", "application/geo+json"),
                        ("/v1/congestion/summary", "application/json")):
        r = client.get(path, params={"bbox": "-84.52,39.07,-84.49,39.10"})
        assert r.status_code == 200 and r.headers["content-type"].startswith(media)
        schema = spec["paths"][path]["get"]["responses"]["200"]["content"][media]["schema"]
        body = r.json()
        assert not list(_validator(spec, schema).iter_errors(body))
        if path.endswith("summary"):
            svc = client.app.state.service
            raw = svc.congestion_map().summary(svc.state(), (-84.52, 39.07, -84.49, 39.10), 10)
            assert set(body) == set(raw) | {"at"}  # the model keeps every field
            for got, want in zip(body["worst_segments"], raw["worst_segments"], strict=True):
                assert got == want


# --- malformed values are answered in words ---------------------------------------------

def _assert_plain_422(r, param: str) -> dict[str, Any]:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    texts = [body["detail"], *(p["reason"] for p in body.get("invalid_params", []))]
    for text in texts:
        assert not REGEX_BITS.search(text), text
        assert "pattern" not in text, text
    assert body["invalid_params"][0]["name"].endswith(param), body
    return body


@pytest.mark.parametrize("value", ["abc", "39.08", "39.08;-84.5", "39.08,-84.5,1", "1e1,2",
                                   "39.08 -84.5", ",", "nan,nan", "stop:x", "+39.1,-84.5",
                                   "39,08,-84,5", "0x10,1"])
@pytest.mark.parametrize(("path", "param"), [("/v1/route", "from"), ("/v1/route", "to"),
                                             ("/v1/stops", "near")])
def test_malformed_coordinates_are_explained_in_words(client, path: str, param: str,
                                                      value: str) -> None:
    params = {"from": COV, "to": NEWPORT} if path == "/v1/route" else {}
    params[param] = value
    body = _assert_plain_422(client.get(path, params=params), param)
    assert body["detail"].startswith(f"{param}: ")
    assert "LAT,LON" in body["detail"] or "finite" in body["detail"]


def test_the_message_for_a_word_instead_of_coordinates(client) -> None:
    r = client.get("/v1/route", params={"from": "abc", "to": NEWPORT})
    body = _assert_plain_422(r, "from")
    assert "from: expected 'LAT,LON' as decimal degrees, got 'abc'" in body["detail"]
    assert body["invalid_params"] == [{"name": "query.from", "reason": body["detail"][6:]}]


@pytest.mark.parametrize("value", ["abc", "stop:", "stop:a b", "stop:" + "x" * 201,
                                   "39.08", "Covington, KY"])
@pytest.mark.parametrize("param", ["from", "to"])
def test_malformed_plan_places_are_explained_in_words(client, param: str, value: str) -> None:
    params = {"from": COV, "to": NEWPORT, param: value}
    body = _assert_plain_422(client.get("/v1/plan", params=params), param)
    assert body["detail"].startswith(f"{param}: expected ")


def test_well_formed_places_still_work(client) -> None:
    for value in (" 39.0837 , -84.5086 ", "39,-84.5", "stop:nky_tank:10094"):
        r = client.get("/v1/plan", params={"from": value, "to": NEWPORT,
                                           "depart_at": "2020-01-15T08:00:00-05:00"})
        assert r.status_code == 200, (value, r.text)
    assert client.get("/v1/plan", params={"from": "stop:nope", "to": NEWPORT}
                      ).status_code == 404


@pytest.mark.parametrize("value", ["12", "INC-", "INC-x1", "inc-12", "INC-1234567890123"])
def test_malformed_incident_ids_are_explained_in_words(client, value: str) -> None:
    for path in (f"/v1/incidents/{value}", f"/v1/incidents/{value}/history",
                 f"/v1/incidents/{value}/diversions"):
        body = _assert_plain_422(client.get(path), "incident_id")
        assert "incident id must look like INC-12" in body["detail"], body


def test_an_unknown_congestion_level_names_the_levels(client) -> None:
    body = _assert_plain_422(client.get("/v1/congestion", params={"min_level": "jammed"}),
                             "min_level")
    assert all(level in body["detail"] for level in ("free", "standstill", "closed"))
