"""The event log over the store's logs (SQLite and PostgreSQL): cursors resume exactly after
the last event read, events keep each log's order, and filters pick by type, box and agency."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from incidents.events import Cursor, EventFilter, EventLog, InvalidCursor, parse_types
from incidents.realtimelog import RealtimeLog
from incidents.store import IncidentStore
from tests.incidents.incident_payloads import incident_data

HEL = {"type": "LineString", "coordinates": [[24.94, 60.17], [24.95, 60.171]]}
TKU = {"type": "LineString", "coordinates": [[22.26, 60.45], [22.27, 60.451]]}


def test_cursor_text_round_trip_and_errors() -> None:
    c = Cursor(12, 40, 7, 3)
    assert Cursor.parse(str(c)) == c and str(c) == "12-40-7-3"
    for bad in ("", "12-40-7", "a-b-c-d", "1-2-3-4-5", "-1-2-3-4"):
        with pytest.raises(InvalidCursor):
            Cursor.parse(bad)
    assert Cursor(2, 2, 2, 2).covers(Cursor(1, 2, 0, 2))
    assert not Cursor(2, 2, 2, 2).covers(Cursor(3, 0, 0, 0))


def test_types_parse() -> None:
    assert parse_types(None, False) == {"incident", "feed_status", "congestion", "state"}
    assert "watch" in parse_types([], True)
    assert parse_types(["incident,state", "watch"], True) == {"incident", "state", "watch"}
    with pytest.raises(ValueError, match="unknown event type 'x'"):
        parse_types(["incident,x"], False)


def test_log_resumes_exactly_and_filters(store: IncidentStore) -> None:
    log = EventLog(store.db)
    assert log.heads() == Cursor()
    a = store.create(incident_data(geometry=HEL), "t", "HSL")
    b = store.create(incident_data(geometry=TKU), "t", "TKU")
    RealtimeLog(store.db).append_rejection("tank", "trip_updates", "push", "stale",
                                           "header 2 h old", datetime(2025, 3, 10, 8, tzinfo=UTC))
    assert a.status.value == "active"
    store.resolve(a.id, "t", a.version)
    evs = log.read(Cursor())
    kinds = [(e.type, e.name) for e in evs]
    assert ("feed_status", "feed.rejected") in kinds
    incs = [e for e in evs if e.type == "incident"]
    assert [e.data["incident_id"] for e in incs][:2] == [a.id, b.id]
    assert incs[-1].name == "incident.resolve"
    # cursors grow per log; resuming after any event gives exactly the rest
    for i, ev in enumerate(evs):
        rest = log.read(ev.cursor)
        assert [e.id for e in rest] == [e.id for e in evs[i + 1:]]
    assert evs[-1].cursor == log.heads()
    # filters
    hel = EventFilter(bbox=(24.9, 60.1, 25.0, 60.2))
    assert {e.data["incident_id"] for e in evs if e.type == "incident" and hel.matches(e)} \
        == {a.id}
    only_tku = EventFilter(frozenset({"incident"}), agencies=frozenset({"TKU"}))
    assert [e.data["incident_id"] for e in evs if only_tku.matches(e)] == [b.id]
    feeds = EventFilter(frozenset({"feed_status"}), agencies=frozenset({"tank"}))
    assert [e.data["reason"] for e in evs if feeds.matches(e)] == ["stale"]
    # a deletion is still seen inside the box it left
    store.delete(b.id, "t", store.get(b.id).version)
    last = log.read(evs[-1].cursor)
    assert [e.name for e in last] == ["incident.delete"]
    assert EventFilter(bbox=(22.0, 60.4, 22.5, 60.5)).matches(last[0])
    # reading only some logs keeps the others' positions
    only = log.read(Cursor(), types=("feed_status",))
    assert len(only) == 1 and only[0].cursor == Cursor(0, 1, 0, 0)
