"""Hypothesis properties against the real store (both backends)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidents.errors import Conflict, InvalidIncident, InvalidTransition, VersionConflict
from incidents.model import Incident, is_in_effect
from incidents.store import IncidentStore
from tests.incidents.incident_payloads import incident_data

DB_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

lon = st.floats(-180, 180, allow_nan=False)
lat = st.floats(-90, 90, allow_nan=False)
position = st.tuples(lon, lat).map(list)


@st.composite
def geometries(draw: st.DrawFn) -> dict:
    kind = draw(st.sampled_from(["Point", "LineString", "MultiLineString", "Polygon"]))
    if kind == "Point":
        return {"type": kind, "coordinates": draw(position)}
    line = st.lists(position, min_size=2, max_size=30).filter(
        lambda ps: any(p != ps[0] for p in ps)
    )
    if kind == "LineString":
        return {"type": kind, "coordinates": draw(line)}
    if kind == "MultiLineString":
        return {"type": kind, "coordinates": draw(st.lists(line, min_size=1, max_size=3))}
    x, y = draw(st.floats(-170, 170)), draw(st.floats(-80, 80))
    w, h = draw(st.floats(1e-3, 9)), draw(st.floats(1e-3, 9))
    return {"type": kind, "coordinates": [[[x, y], [x + w, y], [x + w, y + h], [x, y + h], [x, y]]]}


@DB_SETTINGS
@given(geometry=geometries())
def test_geometry_round_trips_through_store(store: IncidentStore, geometry: dict) -> None:
    inc = store.create(incident_data(geometry=geometry), "prop", "HSL")
    got = store.get(inc.id)
    assert got == inc
    assert got.geometry.model_dump(mode="json") == geometry
    assert store.history(inc.id)[0].incident() == inc


patches = st.one_of(
    st.fixed_dictionaries({"severity": st.sampled_from(["low", "moderate", "high", "severe"])}),
    st.fixed_dictionaries(
        {"status": st.sampled_from(["scheduled", "active", "resolved", "cancelled"])}
    ),
    st.fixed_dictionaries(
        {"end": st.sampled_from([None, "2025-03-10T07:00:00Z", "2025-03-10T12:00:00Z"])}
    ),
    st.fixed_dictionaries(
        {
            "lanes": st.one_of(
                st.none(),
                st.builds(
                    lambda t, c: {"total": t, "closed": c}, st.integers(1, 4), st.integers(0, 5)
                ),
            )
        }
    ),
    st.fixed_dictionaries(
        {
            "description": st.dictionaries(
                st.sampled_from(["en", "fi", "sv"]), st.text(min_size=1, max_size=20), max_size=2
            )
        }
    ),
    st.fixed_dictionaries({"geometry": geometries()}),
)
ops = st.lists(st.tuples(patches, st.booleans()), min_size=1, max_size=12)


@DB_SETTINGS
@given(steps=ops)
def test_random_patches_keep_history_consistent(
    store: IncidentStore, steps: list[tuple[dict[str, Any], bool]]
) -> None:
    inc = store.create(incident_data(), "prop", "HSL")
    seq_before = store.last_seq()
    for change, stale in steps:
        current = store.get(inc.id)
        version = current.version - 1 if stale else current.version
        try:
            store.patch(inc.id, change, "prop", version)
        except (InvalidIncident, InvalidTransition, Conflict):
            assert store.get(inc.id) == current  # rejected: nothing changed
        except VersionConflict:
            assert stale
            assert store.get(inc.id) == current
    final = store.get(inc.id)
    history = store.history(inc.id)
    # the history replays to the current state, versions are consecutive, links are exact
    assert history[-1].after == final.to_doc()
    assert [c.version for c in history] == list(range(1, final.version + 1))
    for prev, nxt in zip(history, history[1:], strict=False):
        assert nxt.before == prev.after and nxt.seq > prev.seq
    assert [c.seq for c in store.changes_since(seq_before - 1)] == [h.seq for h in history]
    assert store.last_seq() == history[-1].seq
    # active_at "now" agrees with the current state
    now = store.now()
    assert (final in store.active_at(now)) == is_in_effect(final, now)
    assert Incident.model_validate(history[-1].after) == final


@pytest.mark.parametrize("n", [3])
def test_ids_are_sequential(store: IncidentStore, n: int) -> None:
    assert [store.create(incident_data(), "p", "HSL").id for _ in range(n)] == [
        "INC-1",
        "INC-2",
        "INC-3",
    ]
