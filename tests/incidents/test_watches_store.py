"""The watch store on SQLite and PostgreSQL: watches per owner, answers, notifications logged
once per change key and read back as owner-only events; personal tokens."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from incidents.errors import NotFound
from incidents.events import Cursor, EventFilter, EventLog
from incidents.store import IncidentStore
from incidents.tokens import authenticate_token, create_token
from incidents.watches import WatchSpec, WatchStore

SPEC = {"from": "39.0837,-84.5086", "to": "39.0912,-84.4960", "mode": "car",
        "window": {"start": "07:30", "end": "09:00"}}


def test_watches_notices_and_tokens(store: IncidentStore) -> None:
    ws = WatchStore(store)
    token, owner = create_token(store)
    assert authenticate_token(store, token) == owner
    assert authenticate_token(store, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert authenticate_token(store, "cnp_nope") is None
    spec = WatchSpec.model_validate(SPEC)
    a = ws.create(owner, spec, {"duration_s": 400.0, "edges": [1, 2, 3]})
    b = ws.create("key:abc", spec, None)
    assert ws.generation() == (2, 2)
    assert [w.id for w in ws.list(owner)] == [a.id]
    assert ws.get(a.id, owner).answer == {"duration_s": 400.0, "edges": [1, 2, 3]}
    assert "edges" not in ws.get(a.id).to_doc()["answer"]
    with pytest.raises(NotFound):
        ws.get(a.id, "key:abc")
    ws.save_answers({b.id: {"duration_s": 12.5}})
    assert ws.get(b.id).answer == {"duration_s": 12.5}
    # one notification per watch and change key
    n = ws.notify([(a.id, owner, "k1", {"time_lost_s": 300}),
                   (b.id, "key:abc", "k1", {"time_lost_s": 60})])
    assert n == 2
    assert ws.notify([(a.id, owner, "k1", {"time_lost_s": 300})]) == 0
    assert [x["time_lost_s"] for x in ws.notices(a.id, owner)] == [300]
    # the event log reads them; a filter hands each owner only its own
    log = EventLog(store.db)
    evs = log.read(Cursor(), types=("watch",))
    assert [e.data["watch_id"] for e in evs] == [a.id, b.id]
    mine = EventFilter(frozenset({"watch"}), owner=owner)
    assert [e.data["watch_id"] for e in evs if mine.matches(e)] == [a.id]
    assert [e.data["watch_id"] for e in log.read(Cursor(), types=("watch",), owner=owner)] \
        == [a.id]
    assert log.heads().notice == 2
    ws.delete(a.id, owner)
    with pytest.raises(NotFound):
        ws.delete(a.id, owner)
    assert ws.generation() == (2, 1)


def test_watch_spec_checks() -> None:
    spec = WatchSpec.model_validate({**SPEC, "days": ["Friday", "mon", "mon"]})
    assert spec.days == ["mon", "fri"]
    assert spec.origin == (39.0837, -84.5086)
    for bad in ({"from": "39.08"}, {"to": "91,0"}, {"window": {"start": "09:00",
                                                               "end": "08:00"}},
                {"days": []}, {"mode": "plane"}, {"threshold_s": 99999}, {"extra": 1}):
        with pytest.raises(ValidationError):
            WatchSpec.model_validate({**SPEC, **bad})
