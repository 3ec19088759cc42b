"""Model validation, lifecycle rules and time rules (no database)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incidents.errors import InvalidIncident, InvalidTransition
from incidents.model import (
    ALLOWED_TRANSITIONS,
    MAX_INCIDENT_JSON_BYTES,
    MAX_VERTICES,
    EffectiveState,
    Incident,
    IncidentCreate,
    IncidentPatch,
    IncidentStatus,
    check_transition,
    effective_state,
    is_in_effect,
    validate_model,
)
from tests.incidents.incident_payloads import incident_data


def errors_of(data: Any, model: type = IncidentCreate) -> list[tuple[tuple, str]]:
    with pytest.raises(InvalidIncident) as info:
        validate_model(model, data)
    return [(e.loc, e.msg) for e in info.value.errors]


def stored(**overrides: Any) -> Incident:
    base = IncidentCreate.model_validate(incident_data()).model_dump(exclude={"status"})
    base.update(
        id="INC-7",
        agency="HSL",
        status="active",
        created_by="t",
        updated_by="t",
        created_at="2025-03-10T08:00:00Z",
        updated_at="2025-03-10T08:00:00Z",
        version=1,
    )
    base.update(overrides)
    return Incident.model_validate(base)


def test_valid_payload_round_trips_through_json() -> None:
    inc = validate_model(IncidentCreate, incident_data())
    again = validate_model(IncidentCreate, inc.model_dump_json())
    assert again == inc
    assert inc.start.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "geometry",
    [
        {"type": "Point", "coordinates": [24.9, 60.1]},
        {"type": "LineString", "coordinates": [[-180, -90], [180, 90]]},
        {"type": "MultiLineString", "coordinates": [[[0, 0], [1, 1]], [[2, 2], [3, 3]]]},
        {
            "type": "Polygon",
            "coordinates": [
                [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]],
                [[2, 2], [2, 4], [4, 4], [4, 2], [2, 2]],
            ],
        },
    ],
)
def test_geometry_types_accepted(geometry: dict) -> None:
    inc = validate_model(IncidentCreate, incident_data(geometry=geometry))
    assert inc.geometry.model_dump(mode="json")["type"] == geometry["type"]


LINE = ("geometry", "LineString", "coordinates")


@pytest.mark.parametrize(
    ("coords", "where", "fragment"),
    [
        ([[24.9, 60.1], [181.0, 60.0]], LINE + (1, 0), "less than or equal to 180"),
        ([[24.9, 60.1], [24.0, -90.5]], LINE + (1, 1), "greater than or equal to -90"),
        ([[24.9, 60.1], [math.nan, 60.0]], LINE + (1, 0), "finite"),
        ([[24.9, 60.1], [math.inf, 60.0]], LINE + (1, 0), "finite"),
        ([[24.9, 60.1], [True, 60.0]], LINE + (1, 0), "valid number"),
        ([[24.9, 60.1], ["24.9", 60.0]], LINE + (1, 0), "valid number"),
        ([[24.9, 60.1], [24.9, 60.0, 12.0]], LINE + (1,), "at most 2"),
        ([[24.9, 60.1]], LINE, "at least 2"),
        ([[24.9, 60.1], [24.9, 60.1]], LINE, "identical"),
        ("LINESTRING(0 0, 1 1)", LINE, "valid list"),
    ],
)
def test_bad_coordinates_rejected_with_path(coords: Any, where: tuple, fragment: str) -> None:
    errs = errors_of(incident_data(geometry={"type": "LineString", "coordinates": coords}))
    assert any(loc == where and fragment in msg for loc, msg in errs), errs


def test_nan_in_raw_json_rejected() -> None:
    raw = json.dumps(incident_data()).replace("24.95", "NaN")
    errs = errors_of(raw)
    assert errs[0][0] == LINE + (1, 0)


def test_polygon_rules() -> None:
    open_ring = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}
    assert "not closed" in errors_of(incident_data(geometry=open_ring))[0][1]
    tiny = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]}
    assert "at least 4" in errors_of(incident_data(geometry=tiny))[0][1]
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    assert "Self-intersection" in errors_of(incident_data(geometry=bowtie))[0][1]
    unknown = {"type": "GeometryCollection", "geometries": []}
    assert errors_of(incident_data(geometry=unknown))[0][0] == ("geometry",)


def test_vertex_limit_is_cheap_and_precise() -> None:
    ok = [[i * 1e-4, 60.0] for i in range(MAX_VERTICES)]
    validate_model(
        IncidentCreate, incident_data(geometry={"type": "LineString", "coordinates": ok})
    )
    huge = [[0.0, 0.0]] * 1_000_000  # rejected before element validation
    t = datetime.now()
    errs = errors_of(incident_data(geometry={"type": "LineString", "coordinates": huge}))
    assert (datetime.now() - t).total_seconds() < 1.0
    assert errs == [
        (LINE, f"Value error, geometry has 1000000 positions; at most {MAX_VERTICES} allowed")
    ]
    parts = [[[0.0, 0.0], [1.0, 1.0]]] * 3000
    errs = errors_of(incident_data(geometry={"type": "MultiLineString", "coordinates": parts}))
    assert "6000 positions" in errs[0][1]


def test_payload_size_limit_on_raw_json() -> None:
    raw = json.dumps(incident_data()) + " " * MAX_INCIDENT_JSON_BYTES
    errs = errors_of(raw)
    assert "bytes" in errs[0][1]


@pytest.mark.parametrize(
    ("overrides", "where", "fragment"),
    [
        ({"bogus": 1}, ("bogus",), "Extra inputs"),
        ({"type": "meteor"}, ("type",), "Input should be"),
        ({"type": 5}, ("type",), "Input should be"),
        ({"severity": ["high"]}, ("severity",), "Input should be"),
        ({"start": "2025-03-10T07:50:00"}, ("start",), "timezone"),
        ({"start": 1741593000}, ("start",), "ISO 8601"),
        ({"start": "yesterday"}, ("start",), "datetime"),
        ({"start": "0001-01-01T00:00:00+01:00"}, ("start",), "between"),
        ({"end": "2025-03-10T07:50:00+00:00"}, ("end",), "after start"),
        ({"end": "2025-03-10T08:50:00+02:00"}, ("end",), "after start"),
        ({"lanes": {"total": 2, "closed": 3}}, ("lanes", "closed"), "exceed"),
        ({"lanes": {"total": "2", "closed": 1}}, ("lanes", "total"), "valid integer"),
        ({"lanes": {"total": 2, "closed": 1, "x": 1}}, ("lanes", "x"), "Extra"),
        ({"road_effect": {"closed_to": ["tank"]}}, ("road_effect", "closed_to", 0), "Input"),
        ({"road_effect": {"speed_limit_kmh": -5}}, ("road_effect", "speed_limit_kmh"), "greater"),
        ({"road_effect": {"delay_s": math.nan}}, ("road_effect", "delay_s"), "finite"),
        (
            {"transit_effect": {"closes_stops_on_geometry": "yes"}},
            ("transit_effect", "closes_stops_on_geometry"),
            "valid boolean",
        ),
        (
            {"transit_effect": {"stops_closed": ["ok", "bad\x00id"]}},
            ("transit_effect", "stops_closed", 1),
            "U+0000",
        ),
        ({"external_id": "abc\ndef"}, ("external_id",), "U+000A"),
        ({"external_id": "abc\u202edef"}, ("external_id",), "U+202E"),
        ({"external_id": " padded"}, ("external_id",), "whitespace"),
        ({"external_id": "x" * 257}, ("external_id",), "at most 256"),
        ({"description": {"en": "bad \ud800 surrogate"}}, ("description", "en"), "valid string"),
        ({"description": {"en": "bell \x07"}}, ("description", "en"), "U+0007"),
        ({"description": {"en": "x" * 4001}}, ("description", "en"), "at most 4000"),
        ({"description": {"EN": "x"}}, ("description", "EN", "[key]"), "pattern"),
        ({"description": {"en": "   "}}, ("description", "en"), "blank"),
        (
            {"description": {f"a{chr(97 + i)}": "t" for i in range(21)}},
            ("description",),
            "at most 20",
        ),
        ({"direction": "north"}, ("direction", "str-enum[Direction]"), "forward"),
        ({"direction": 360}, ("direction", "constrained-float"), "less than 360"),
        ({"status": "resolved"}, ("status",), "scheduled' or 'active"),
    ],
)
def test_hostile_fields_rejected_precisely(overrides: dict, where: tuple, fragment: str) -> None:
    errs = errors_of(incident_data(**overrides))
    assert any(loc == where and fragment in msg for loc, msg in errs), errs


def test_deeply_nested_payloads_rejected() -> None:
    raw = '{"geometry": ' + "[" * 100_000 + "]" * 100_000 + "}"
    assert "recursion limit" in errors_of(raw)[0][1]
    nested: list = []
    cur = nested
    for _ in range(50_000):
        cur.append([])
        cur = cur[0]
    errs = errors_of(incident_data(geometry={"type": "LineString", "coordinates": nested}))
    assert errs[0][0][:3] == LINE


def test_non_object_payloads_rejected() -> None:
    assert errors_of([1, 2]) == [((), "expected a JSON object")]
    assert errors_of("[1, 2]")[0][0] == ()
    assert errors_of(b"\xff\xfe")[0][0] == ()


def test_multilingual_text_allowed() -> None:
    inc = validate_model(
        IncidentCreate,
        incident_data(description={"fi": "Tie suljettu 🚧\nKiertotie", "sv-FI": "Vägen stängd"}),
    )
    assert inc.description["sv-FI"] == "Vägen stängd"


def test_patch_null_semantics() -> None:
    assert errors_of({"type": None}, IncidentPatch) == [(("type",), "Value error, may not be null")]
    assert errors_of({"geometry": None, "zzz": 1}, IncidentPatch) == [
        (("geometry",), "Value error, may not be null"),
        (("zzz",), "Extra inputs are not permitted"),
    ]
    patch = validate_model(IncidentPatch, {"end": None, "severity": "low"})
    assert patch.changes() == {"end": None, "severity": "low"}
    assert validate_model(IncidentPatch, {}).changes() == {}


@pytest.mark.parametrize("old", list(IncidentStatus))
@pytest.mark.parametrize("new", list(IncidentStatus))
def test_transition_table(old: IncidentStatus, new: IncidentStatus) -> None:
    legal = {
        ("scheduled", "active"),
        ("scheduled", "cancelled"),
        ("active", "resolved"),
        ("active", "cancelled"),
    }
    if old == new or (old.value, new.value) in legal:
        check_transition(old, new)
        assert old == new or new in ALLOWED_TRANSITIONS[old]
    else:
        with pytest.raises(InvalidTransition):
            check_transition(old, new, "INC-1")


def at(s: str) -> datetime:
    return datetime.fromisoformat(s)


def test_validity_window_and_expiry() -> None:
    inc = stored(start="2025-03-10T08:00:00Z", end="2025-03-10T10:00:00Z")
    assert not is_in_effect(inc, at("2025-03-10T07:59:59Z"))
    assert effective_state(inc, at("2025-03-10T07:59:59Z")) == EffectiveState.PENDING
    assert is_in_effect(inc, at("2025-03-10T08:00:00Z"))
    assert is_in_effect(inc, at("2025-03-10T11:59:59+02:00"))
    assert not is_in_effect(inc, at("2025-03-10T10:00:00Z"))  # end is exclusive
    assert effective_state(inc, at("2025-03-10T10:00:00Z")) == EffectiveState.EXPIRED
    open_ended = stored(start="2025-03-10T08:00:00Z", end=None)
    assert is_in_effect(open_ended, at("2099-01-01T00:00:00Z"))
    assert effective_state(stored(status="resolved"), T_MID) == EffectiveState.RESOLVED
    assert not is_in_effect(stored(status="cancelled"), T_MID)
    assert is_in_effect(stored(status="scheduled"), T_MID)
    with pytest.raises(ValueError, match="timezone-aware"):
        is_in_effect(inc, datetime(2025, 3, 10, 9))


T_MID = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)


def test_recurrence_weekly_window_in_local_time() -> None:
    rec = {
        "days": ["mon", "tue"],
        "start_time": "09:00",
        "end_time": "15:00",
        "timezone": "Europe/Helsinki",
    }
    inc = stored(start="2025-03-01T00:00:00Z", end="2025-06-01T00:00:00Z", recurrence=rec)
    assert is_in_effect(inc, at("2025-03-10T09:00:00+02:00"))  # Monday 09:00 Helsinki
    assert not is_in_effect(inc, at("2025-03-10T08:59:00+02:00"))
    assert is_in_effect(inc, at("2025-03-10T09:00:00Z"))  # = 11:00 Helsinki (UTC+2)
    assert not is_in_effect(inc, at("2025-03-10T13:00:00Z"))  # = 15:00 Helsinki
    assert not is_in_effect(inc, at("2025-03-12T10:00:00+02:00"))  # Wednesday
    assert effective_state(inc, at("2025-03-12T10:00:00+02:00")) == EffectiveState.OUTSIDE_WINDOW
    # after DST (UTC+3 from 30 March) the window follows local time
    assert is_in_effect(inc, at("2025-03-31T06:30:00Z"))  # Monday 09:30 local
    assert not is_in_effect(inc, at("2025-03-31T12:30:00Z"))  # Monday 15:30 local


def test_recurrence_overnight_window() -> None:
    rec = {"days": ["fri"], "start_time": "22:00", "end_time": "05:00", "timezone": "UTC"}
    inc = stored(start="2025-03-01T00:00:00Z", recurrence=rec)
    assert is_in_effect(inc, at("2025-03-14T22:30:00Z"))  # Friday night
    assert is_in_effect(inc, at("2025-03-15T04:59:00Z"))  # Saturday early, started Friday
    assert not is_in_effect(inc, at("2025-03-15T05:00:00Z"))
    assert not is_in_effect(inc, at("2025-03-15T22:30:00Z"))  # Saturday night
    assert not is_in_effect(inc, at("2025-03-14T04:00:00Z"))  # Friday early (Thursday night)


@pytest.mark.parametrize(
    ("rec", "where"),
    [
        ({"days": [], "start_time": "09:00", "end_time": "10:00", "timezone": "UTC"}, "days"),
        (
            {"days": ["mon", "mon"], "start_time": "09:00", "end_time": "10:00", "timezone": "UTC"},
            "days",
        ),
        (
            {"days": ["mon"], "start_time": "09:00", "end_time": "09:00", "timezone": "UTC"},
            "end_time",
        ),
        (
            {"days": ["mon"], "start_time": "09:00+02:00", "end_time": "10:00", "timezone": "UTC"},
            "start_time",
        ),
        (
            {"days": ["mon"], "start_time": "09:00", "end_time": "10:00", "timezone": "Mars/Base"},
            "timezone",
        ),
        (
            {"days": ["mon"], "start_time": "09:00", "end_time": "10:00", "timezone": "../etc/x"},
            "timezone",
        ),
    ],
)
def test_bad_recurrence_rejected(rec: dict, where: str) -> None:
    errs = errors_of(incident_data(recurrence=rec))
    assert any(loc == ("recurrence", where) for loc, _ in errs), errs


def test_problem_details_shape() -> None:
    with pytest.raises(InvalidIncident) as info:
        validate_model(IncidentCreate, incident_data(lanes={"total": 1, "closed": 2}))
    problem = info.value.to_problem(instance="/v1/incidents")
    assert problem["status"] == 422
    assert problem["errors"][0]["pointer"] == "/lanes/closed"
    assert problem["instance"] == "/v1/incidents"


# -- property tests ----------------------------------------------------------------------------
lon = st.floats(-180, 180, allow_nan=False)
lat = st.floats(-90, 90, allow_nan=False)
position = st.tuples(lon, lat)


@st.composite
def valid_geometries(draw: st.DrawFn) -> dict:
    kind = draw(st.sampled_from(["Point", "LineString", "MultiLineString", "Polygon"]))
    if kind == "Point":
        return {"type": kind, "coordinates": list(draw(position))}
    line = st.lists(position, min_size=2, max_size=20).filter(lambda ps: len(set(ps)) > 1)
    if kind == "LineString":
        return {"type": kind, "coordinates": [list(p) for p in draw(line)]}
    if kind == "MultiLineString":
        parts = draw(st.lists(line, min_size=1, max_size=4))
        return {"type": kind, "coordinates": [[list(p) for p in part] for part in parts]}
    x, y = draw(st.floats(-170, 170)), draw(st.floats(-80, 80))
    w, h = draw(st.floats(1e-4, 9)), draw(st.floats(1e-4, 9))
    ring = [[x, y], [x + w, y], [x + w, y + h], [x, y + h], [x, y]]
    return {"type": kind, "coordinates": [ring]}


@settings(max_examples=150, deadline=None)
@given(valid_geometries())
def test_valid_geometries_round_trip(geometry: dict) -> None:
    inc = validate_model(IncidentCreate, incident_data(geometry=geometry))
    assert inc.geometry.model_dump(mode="json") == geometry
    assert validate_model(IncidentCreate, inc.model_dump_json()) == inc


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True), st.floats(allow_nan=True))
def test_point_accepted_iff_finite_and_in_range(x: float, y: float) -> None:
    data = incident_data(geometry={"type": "Point", "coordinates": [x, y]})
    ok = math.isfinite(x) and math.isfinite(y) and -180 <= x <= 180 and -90 <= y <= 90
    if ok:
        validate_model(IncidentCreate, data)
    else:
        with pytest.raises(InvalidIncident):
            validate_model(IncidentCreate, data)
