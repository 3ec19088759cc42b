"""The incident store, run identically against SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from incidents.auth import Principal, Role
from incidents.db import NOTIFY_CHANNEL
from incidents.errors import (
    Conflict,
    Forbidden,
    InvalidIncident,
    InvalidTransition,
    NotFound,
    StoreConfigError,
    VersionConflict,
)
from incidents.migrate import applied_versions, available_migrations, migrate
from incidents.model import EffectiveState, IncidentStatus, effective_state
from incidents.store import IncidentStore, open_store
from tests.incidents.incident_payloads import incident_data

T0 = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)
HSL = Principal(key_id="aaaaaaaaaaaa", role=Role.TRAFFIC_CENTRE, agency="HSL")
ESPOO = Principal(key_id="bbbbbbbbbbbb", role=Role.TRAFFIC_CENTRE, agency="ESPOO")
ADMIN = Principal(key_id="cccccccccccc", role=Role.ADMIN)
READER = Principal(key_id="dddddddddddd", role=Role.READER)


def count_rows(store: IncidentStore, table: str) -> int:
    with store.db.transaction() as tx:
        return tx.one(f"SELECT COUNT(*) FROM {table}")[0]


# -- create / get / patch / delete ---------------------------------------------------------------
def test_create_and_get(store: IncidentStore) -> None:
    inc = store.create(incident_data(external_id="HSL-1"), "alice", "HSL")
    assert inc.id == "INC-1"
    assert (inc.agency, inc.external_id, inc.version) == ("HSL", "HSL-1", 1)
    assert inc.status == IncidentStatus.ACTIVE  # start (07:50) is before the clock (08:00)
    assert (inc.created_by, inc.updated_by) == ("alice", "alice")
    assert inc.created_at == inc.updated_at == T0
    assert store.get("INC-1") == inc
    assert store.create(incident_data(), "alice", "HSL").id == "INC-2"


def test_future_start_defaults_to_scheduled(store: IncidentStore) -> None:
    inc = store.create(incident_data(start="2025-03-11T00:00:00Z"), "alice", "HSL")
    assert inc.status == IncidentStatus.SCHEDULED


def test_get_missing(store: IncidentStore) -> None:
    for bad in ["INC-99", "", "'; DROP TABLE incidents; --", 12]:
        with pytest.raises(NotFound):
            store.get(bad)  # type: ignore[arg-type]


def test_patch_and_noop(store: IncidentStore, clock: Any) -> None:
    inc = store.create(incident_data(), "alice", "HSL")
    clock.advance(minutes=5)
    new = store.patch(inc.id, {"severity": "severe", "lanes": None}, "bob", 1)
    assert (new.version, new.severity, new.lanes, new.updated_by) == (2, "severe", None, "bob")
    assert new.created_at == T0 and new.updated_at == T0 + timedelta(minutes=5)
    assert new.geometry == inc.geometry and new.created_by == "alice"
    assert store.get(inc.id) == new
    seq = store.last_seq()
    same = store.patch(inc.id, {"severity": "severe"}, "carol", 2)  # changes nothing
    assert same == new and store.last_seq() == seq


def test_patch_validation_against_merged_state(store: IncidentStore) -> None:
    inc = store.create(incident_data(end="2025-03-10T12:00:00Z"), "alice", "HSL")
    with pytest.raises(InvalidIncident) as info:
        store.patch(inc.id, {"start": "2025-03-10T13:00:00Z"}, "bob", 1)
    assert info.value.errors[0].loc == ("end",)
    with pytest.raises(InvalidIncident) as info:
        store.patch(inc.id, {"lanes": {"total": 1, "closed": 2}}, "bob", 1)
    assert info.value.errors[0].loc == ("lanes", "closed")
    assert store.get(inc.id) == inc and store.last_seq() == 1


def test_delete(store: IncidentStore) -> None:
    inc = store.create(incident_data(external_id="X"), "alice", "HSL")
    with pytest.raises(VersionConflict):
        store.delete(inc.id, "bob", 2)
    store.delete(inc.id, "bob", 1)
    with pytest.raises(NotFound):
        store.get(inc.id)
    with pytest.raises(NotFound):
        store.delete(inc.id, "bob", 1)
    with pytest.raises(NotFound):
        store.patch(inc.id, {"severity": "low"}, "bob", 1)
    # the external id is free again; ids are never reused
    assert store.create(incident_data(external_id="X"), "alice", "HSL").id == "INC-2"


# -- lifecycle -----------------------------------------------------------------------------------
def test_lifecycle_transitions(store: IncidentStore) -> None:
    inc = store.create(incident_data(start="2025-03-12T00:00:00Z"), "tc", "HSL")
    assert inc.status == "scheduled"
    with pytest.raises(InvalidTransition):
        store.resolve(inc.id, "tc", 1)  # scheduled -> resolved is not allowed
    inc = store.patch(inc.id, {"status": "active"}, "tc", 1)
    with pytest.raises(InvalidTransition):
        store.patch(inc.id, {"status": "scheduled"}, "tc", 2)
    inc = store.resolve(inc.id, "tc", 2)
    assert (inc.status, inc.version) == ("resolved", 3)
    for change in [{"status": "active"}, {"status": "cancelled"}, {"severity": "low"}]:
        with pytest.raises(Conflict):
            store.patch(inc.id, change, "tc", 3)
    other = store.create(incident_data(), "tc", "HSL")
    assert store.cancel(other.id, "tc", 1).status == "cancelled"
    actions = [c.action for c in store.changes_since(0)]
    assert actions == ["create", "activate", "resolve", "create", "cancel"]


# -- optimistic concurrency ----------------------------------------------------------------------
def test_version_conflict(store: IncidentStore) -> None:
    inc = store.create(incident_data(), "alice", "HSL")
    store.patch(inc.id, {"severity": "low"}, "alice", 1)
    with pytest.raises(VersionConflict) as info:
        store.patch(inc.id, {"severity": "severe"}, "bob", 1)
    assert (info.value.expected, info.value.actual, info.value.status) == (1, 2, 412)
    assert store.get(inc.id).severity == "low"
    with pytest.raises(InvalidIncident):
        store.patch(inc.id, {"severity": "severe"}, "bob", "2")  # type: ignore[arg-type]


def test_concurrent_writers_one_wins(store_url: str, clock: Any) -> None:
    """Several connections race to patch the same version: exactly one succeeds."""
    stores = [open_store(store_url, clock=clock) for _ in range(4)]
    try:
        inc = stores[0].create(incident_data(), "alice", "HSL")
        results: list[str] = []
        barrier = threading.Barrier(len(stores))

        def worker(i: int) -> None:
            barrier.wait()
            try:
                stores[i].patch(inc.id, {"description": {"en": f"writer {i}"}}, f"w{i}", 1)
                results.append("ok")
            except VersionConflict:
                results.append("conflict")

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(stores))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert sorted(results) == ["conflict"] * 3 + ["ok"]
        assert [c.seq for c in stores[0].changes_since(0)] == [1, 2]
        assert stores[1].get(inc.id).version == 2
    finally:
        for s in stores:
            s.close()


# -- uniqueness ------------------------------------------------------------------------------------
def test_duplicate_external_id(store: IncidentStore) -> None:
    store.create(incident_data(external_id="E1"), "a", "HSL")
    with pytest.raises(Conflict) as info:
        store.create(incident_data(external_id="E1"), "a", "HSL")
    assert info.value.status == 409
    store.create(incident_data(external_id="E1"), "a", "ESPOO")  # other agency: fine
    store.create(incident_data(), "a", "HSL")  # no external id: never conflicts
    store.create(incident_data(), "a", "HSL")
    third = store.create(incident_data(external_id="E2"), "a", "HSL")
    with pytest.raises(Conflict):
        store.patch(third.id, {"external_id": "E1"}, "a", 1)
    assert count_rows(store, "incidents") == 5
    assert store.last_seq() == 5


# -- authorization -----------------------------------------------------------------------------
def test_agency_permissions(store: IncidentStore) -> None:
    inc = store.create(incident_data(), HSL)
    assert (inc.agency, inc.created_by) == ("HSL", "key:aaaaaaaaaaaa")
    with pytest.raises(Forbidden):
        store.create(incident_data(), HSL, agency="ESPOO")
    with pytest.raises(Forbidden):
        store.create(incident_data(), READER, agency="HSL")
    with pytest.raises(Forbidden):
        store.create({"bogus": 1}, READER)
    with pytest.raises(Forbidden):
        store.patch(inc.id, {"severity": "low"}, ESPOO, 1)
    with pytest.raises(Forbidden):
        store.delete(inc.id, ESPOO, 1)
    with pytest.raises(Forbidden):
        store.cancel(inc.id, READER, 1)
    with pytest.raises(InvalidIncident):
        store.create(incident_data(), ADMIN)  # admin must name the agency
    inc = store.patch(inc.id, {"severity": "low"}, HSL, 1)
    inc = store.patch(inc.id, {"severity": "moderate"}, ADMIN, 2)
    assert inc.updated_by == "key:cccccccccccc"
    assert store.create(incident_data(), ADMIN, agency="ESPOO").agency == "ESPOO"
    assert [c.actor for c in store.history("INC-1")] == [HSL.actor, HSL.actor, ADMIN.actor]
    assert store.last_seq() == 4  # the forbidden attempts wrote nothing


def test_agency_and_actor_validated(store: IncidentStore) -> None:
    for agency in ["", "x" * 65, "HSL; DROP", "häme"]:
        with pytest.raises(InvalidIncident) as info:
            store.create(incident_data(), "alice", agency)
        assert info.value.errors[0].loc[0] == "agency"
    with pytest.raises(InvalidIncident) as info:
        store.create(incident_data(), "alice\x00", "HSL")
    assert info.value.errors[0].loc == ("actor",)


# -- history -----------------------------------------------------------------------------------
def test_history_before_after(store: IncidentStore, clock: Any) -> None:
    inc = store.create(incident_data(), "alice", "HSL")
    clock.advance(minutes=1)
    v2 = store.patch(inc.id, {"severity": "low"}, "bob", 1)
    clock.advance(minutes=1)
    store.delete(inc.id, "carol", 2)
    h = store.history(inc.id)
    assert [(c.action, c.actor, c.version) for c in h] == [
        ("create", "alice", 1),
        ("update", "bob", 2),
        ("delete", "carol", None),
    ]
    assert h[0].before is None and h[0].after == inc.to_doc()
    assert h[1].before == inc.to_doc() and h[1].after == v2.to_doc()
    assert h[2].before == v2.to_doc() and h[2].after is None
    assert [c.recorded_at for c in h] == [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)]
    assert h[1].incident() == v2
    with pytest.raises(NotFound):
        store.history("INC-42")


def test_history_is_append_only(store: IncidentStore) -> None:
    store.create(incident_data(), "alice", "HSL")
    for statement in [
        "UPDATE incident_history SET actor = 'mallory'",
        "DELETE FROM incident_history",
    ]:
        with pytest.raises(Exception, match="append-only"), store.db.transaction() as tx:
            tx.execute(statement)
    assert store.history("INC-1")[0].actor == "alice"


def test_active_at_uses_history_as_recorded(store: IncidentStore, clock: Any) -> None:
    # 08:00 crash reported (started 07:50); 08:30 edited; 09:00 resolved; 09:30 deleted.
    inc = store.create(incident_data(severity="high"), "tc", "HSL")
    clock.set(T0.replace(minute=30))
    store.patch(
        inc.id, {"severity": "low", "geometry": {"type": "Point", "coordinates": [1, 2]}}, "tc", 1
    )
    clock.set(T0.replace(hour=9))
    store.resolve(inc.id, "tc", 2)
    clock.set(T0.replace(hour=9, minute=30))
    store.delete(inc.id, "tc", 3)
    # a later-reported incident that started at 07:00
    late = store.create(incident_data(start="2025-03-10T07:00:00Z"), "tc", "HSL")

    at_0812 = store.active_at(T0.replace(minute=12))
    assert [(i.id, i.severity, i.version) for i in at_0812] == [(inc.id, "high", 1)]
    assert at_0812[0].geometry.type == "LineString"
    assert [i.version for i in store.active_at(T0.replace(minute=45))] == [2]
    assert store.active_at(T0.replace(hour=9, minute=5)) == []  # resolved at 09:00
    assert store.active_at(T0.replace(hour=7, minute=55)) == []  # nothing recorded yet
    known_now = store.active_at(T0.replace(hour=7, minute=55), as_recorded_at=clock.now)
    assert [i.id for i in known_now] == [late.id]
    with pytest.raises(InvalidIncident):
        store.active_at(datetime(2025, 3, 10, 8))


# -- change log ------------------------------------------------------------------------------
def test_changes_since_ordering(store: IncidentStore) -> None:
    a = store.create(incident_data(), "t", "HSL")
    b = store.create(incident_data(), "t", "HSL")
    store.patch(a.id, {"severity": "low"}, "t", 1)
    with pytest.raises(VersionConflict):
        store.patch(b.id, {"severity": "low"}, "t", 7)  # failed: consumes no seq
    store.delete(b.id, "t", 1)
    all_changes = store.changes_since(0)
    assert [c.seq for c in all_changes] == [1, 2, 3, 4]
    assert [(c.incident_id, c.action) for c in all_changes] == [
        (a.id, "create"),
        (b.id, "create"),
        (a.id, "update"),
        (b.id, "delete"),
    ]
    assert [c.seq for c in store.changes_since(2)] == [3, 4]
    assert [c.seq for c in store.changes_since(1, limit=2)] == [2, 3]
    assert store.changes_since(4) == [] and store.last_seq() == 4
    with pytest.raises(InvalidIncident):
        store.changes_since(0, limit=0)


def test_listen_catches_up_then_follows(store: IncidentStore) -> None:
    store.create(incident_data(), "t", "HSL")
    store.create(incident_data(), "t", "HSL")
    got: list[int] = []
    ready = threading.Event()

    def follow() -> None:
        for change in store.listen(1, poll_interval_s=0.05, idle_timeout_s=3.0):
            got.append(change.seq)
            ready.set()
            if change.seq == 4:
                return

    t = threading.Thread(target=follow)
    t.start()
    assert ready.wait(10)
    store.create(incident_data(), "t", "HSL")
    store.patch("INC-1", {"severity": "low"}, "t", 1)
    t.join(timeout=15)
    assert got == [2, 3, 4]


@pytest.mark.postgres
def test_postgres_notify_payload_is_seq(pg_store: IncidentStore) -> None:
    store = pg_store
    db: Any = store.db
    with psycopg.connect(db.conninfo, autocommit=True) as conn:
        conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
        inc = store.create(incident_data(), "t", "HSL")
        store.patch(inc.id, {"severity": "low"}, "t", 1)
        payloads = [n.payload for n in conn.notifies(timeout=5, stop_after=2)]
    assert payloads == ["1", "2"]


@pytest.mark.postgres
def test_postgres_listen_wakes_on_notify(pg_store: IncidentStore) -> None:
    """With a long poll interval, only NOTIFY can deliver the change quickly."""
    store = pg_store
    got: list[tuple[int, float]] = []
    started = threading.Event()

    def follow() -> None:
        gen = store.listen(0, poll_interval_s=30.0, idle_timeout_s=8.0)
        started.set()
        for change in gen:
            got.append((change.seq, datetime.now().timestamp()))
            return

    t = threading.Thread(target=follow)
    t.start()
    started.wait(5)
    time.sleep(0.5)  # let the listener reach LISTEN + wait
    created = datetime.now().timestamp()
    store.create(incident_data(), "t", "HSL")
    t.join(timeout=10)
    assert got and got[0][0] == 1
    assert got[0][1] - created < 3.0


# -- listing -----------------------------------------------------------------------------------
def test_list_filters(store: IncidentStore, clock: Any) -> None:
    crossing = {"type": "LineString", "coordinates": [[24.0, 60.5], [26.0, 60.5]]}
    diagonal_miss = {"type": "LineString", "coordinates": [[24.0, 61.2], [25.2, 60.0]]}
    a = store.create(incident_data(geometry=crossing), "t", "HSL")
    b = store.create(incident_data(geometry=diagonal_miss), "t", "ESPOO")
    c = store.create(
        incident_data(
            start="2025-03-11T00:00:00Z", geometry={"type": "Point", "coordinates": [0, 0]}
        ),
        "t",
        "HSL",
    )
    d = store.create(incident_data(end="2025-03-10T08:30:00Z"), "t", "HSL")
    store.resolve(d.id, "t", 1)
    ids = lambda incs: [i.id for i in incs]  # noqa: E731
    assert ids(store.list()) == [a.id, b.id, c.id, d.id]
    assert ids(store.list(limit=2, offset=1)) == [b.id, c.id]
    assert ids(store.list(status="scheduled")) == [c.id]
    assert ids(store.list(status=["active", "resolved"])) == [a.id, b.id, d.id]
    assert ids(store.list(agency="ESPOO")) == [b.id]
    # the box (24.9..25.1, 60.4..60.6) contains no vertex of a, but a crosses it;
    # b's envelope overlaps the box but the line passes outside it
    assert ids(store.list(bbox=(24.9, 60.4, 25.1, 60.6))) == [a.id]
    assert ids(store.list(bbox=(-1, -1, 1, 1))) == [c.id]
    assert ids(store.list(at=T0)) == [a.id, b.id]
    assert ids(store.list(at=datetime(2025, 3, 11, 1, tzinfo=UTC))) == [a.id, b.id, c.id]
    assert ids(store.list(at=T0, agency="HSL", bbox=(20, 50, 30, 70), limit=1)) == [a.id]
    for bad in [
        {"bbox": (1, 0, 0, 1)},
        {"bbox": (0, 0, float("nan"), 1)},
        {"bbox": (0, 0)},
        {"limit": 0},
        {"limit": 10_001},
        {"offset": -1},
        {"status": "bogus"},
        {"at": datetime(2025, 1, 1)},
    ]:
        with pytest.raises(InvalidIncident):
            store.list(**bad)


def test_expired_active_incident_not_in_effect(store: IncidentStore, clock: Any) -> None:
    inc = store.create(incident_data(end="2025-03-10T09:00:00Z"), "t", "HSL")
    assert [i.id for i in store.list(at=T0)] == [inc.id]
    later = datetime(2025, 3, 10, 9, 0, 1, tzinfo=UTC)
    assert store.get(inc.id).status == "active"
    assert effective_state(store.get(inc.id), later) == EffectiveState.EXPIRED
    assert store.list(at=later) == []
    assert store.active_at(later) == []


def test_recurring_incident_in_list_at(store: IncidentStore) -> None:
    rec = {"days": ["mon"], "start_time": "22:00", "end_time": "05:00", "timezone": "UTC"}
    inc = store.create(incident_data(start="2025-03-01T00:00:00Z", recurrence=rec), "t", "HSL")
    assert store.list(at=datetime(2025, 3, 10, 23, tzinfo=UTC)) == [inc]
    assert store.list(at=datetime(2025, 3, 11, 12, tzinfo=UTC)) == []


# -- migrations --------------------------------------------------------------------------------
def test_migrations_idempotent(store_url: str) -> None:
    s1 = open_store(store_url)
    inc = s1.create(incident_data(), "t", "HSL")
    versions = [m.version for m in available_migrations(s1.dialect)]
    assert applied_versions(s1.db) == versions == [1, 2, 3, 4, 5, 6, 8]
    assert migrate(s1.db) == []
    s1.close()
    s2 = open_store(store_url)  # re-open: nothing re-applied, data intact
    assert applied_versions(s2.db) == versions
    assert count_rows(s2, "schema_migrations") == len(versions)
    assert s2.get(inc.id) == inc and s2.schema_version() == 8
    with s2.db.transaction() as tx:
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'x', ?)",
            (s2.db.ts_in(T0),),
        )
    s2.close()
    with pytest.raises(StoreConfigError, match="unknown"):
        open_store(store_url)


def test_bad_urls() -> None:
    for url in [
        "mysql://x/y",
        "sqlite://host/x.db",
        "sqlite:///",
        "postgresql://postgres@127.0.0.1/test?schema=Bad-Name",
    ]:
        with pytest.raises(StoreConfigError):
            open_store(url)


def test_sqlite_pragmas(tmp_path: Any) -> None:
    s = open_store(f"sqlite:///{tmp_path}/p.db")
    conn = s.db._conn  # type: ignore[attr-defined]
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    s.close()


# -- hostile input -------------------------------------------------------------------------------
INJECTIONS = [
    "'; DROP TABLE incidents; --",
    '" OR 1=1 --',
    "Robert'); DELETE FROM incident_history;--",
    "$$; SELECT pg_sleep(10); $$",
    "%s %(x)s ? ?1 :name",
]


def test_sql_injection_strings_stored_verbatim(store: IncidentStore) -> None:
    for n, text in enumerate(INJECTIONS):
        inc = store.create(
            incident_data(
                external_id=text,
                description={"en": text},
                transit_effect={"stops_closed": [text], "routes_affected": [text]},
            ),
            text,
            "HSL",
        )
        got = store.get(inc.id)
        assert got.external_id == text and got.description["en"] == text
        assert got.transit_effect is not None and got.transit_effect.stops_closed == [text]
        assert got.created_by == text and store.history(inc.id)[0].actor == text
        assert int(inc.id[4:]) == n + 1
    assert store.list(agency="HSL' OR '1'='1") == []
    assert count_rows(store, "incidents") == len(INJECTIONS)
    assert count_rows(store, "incident_history") == len(INJECTIONS)
    with pytest.raises(NotFound):
        store.get("INC-1' OR '1'='1")


@pytest.mark.parametrize(
    "bad",
    [
        {"geometry": {"type": "Point", "coordinates": [float("nan"), 0]}},
        {"geometry": {"type": "Point", "coordinates": [0, 91]}},
        {"geometry": {"type": "LineString", "coordinates": [[0, 0]] * 6000}},
        {"description": {"en": "nul \x00 byte"}},
        {"external_id": "tab\tid"},
        {"lanes": {"total": "3", "closed": 1}},
        {"start": 1_700_000_000},
        {"unknown_field": True},
    ],
)
def test_rejected_payloads_store_nothing(store: IncidentStore, bad: dict) -> None:
    with pytest.raises(InvalidIncident):
        store.create(incident_data(**bad), "t", "HSL")
    inc = store.create(incident_data(), "t", "HSL")
    with pytest.raises(InvalidIncident):
        store.patch(inc.id, bad, "t", 1)
    assert store.get(inc.id) == inc
    assert count_rows(store, "incidents") == 1 and store.last_seq() == 1


def test_raw_json_and_unicode_round_trip(store: IncidentStore) -> None:
    import json

    data = incident_data(description={"fi": "Tie suljettu 🚧 — ÅÄÖ", "ja": "通行止め"})
    inc = store.create(json.dumps(data, ensure_ascii=False).encode(), "t", "HSL")
    assert store.get(inc.id).description == data["description"]


def test_concurrent_writers_commit_in_seq_order(store_url: str, clock: Any) -> None:
    """A replica polling changes_since(last) during concurrent writes never sees a gap.

    If sequence numbers could commit out of order, the reader would observe seq k+1 before k
    and skip k forever; the write lock makes every observed batch contiguous.
    """
    writers = [open_store(store_url, clock=clock) for _ in range(3)]
    reader = open_store(store_url, clock=clock)
    per_writer = 12
    total = len(writers) * per_writer
    seen: list[int] = []
    errors: list[BaseException] = []

    def write(s: IncidentStore, w: int) -> None:
        try:
            for n in range(per_writer):
                inc = s.create(incident_data(external_id=f"w{w}-{n}"), f"w{w}", "HSL")
                s.patch(inc.id, {"severity": "low"}, f"w{w}", 1)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(s, w)) for w, s in enumerate(writers)]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while len(seen) < 2 * total and time.monotonic() < deadline:
            batch = reader.changes_since(seen[-1] if seen else 0)
            assert [c.seq for c in batch] == list(range(len(seen) + 1, len(seen) + 1 + len(batch)))
            seen.extend(c.seq for c in batch)
        for t in threads:
            t.join(timeout=30)
        assert not errors
        assert seen == list(range(1, 2 * total + 1))
        assert len(reader.list(limit=1000)) == total
    finally:
        for s in [*writers, reader]:
            s.close()
