"""The event stream: every change the store logs, read in order from a resumable cursor.

Four durable logs of the store feed it, each with its own gap-free sequence number committed
in order: incident changes (``incident_history``), GTFS-Realtime feed messages accepted or
refused (``realtime_messages``: the feeds' status), live speed batches (``speed_batches``: the
congestion inputs) and commute-watch notifications (``watch_notices``). A :class:`Cursor` is
the position in all four at once; its text form ``I-R-S-N`` is the Server-Sent Events id, so
a client resuming with ``Last-Event-ID`` (even after a restart, or on another replica) gets
exactly the events committed after it, none twice. :class:`EventLog` reads them; filters
(:class:`EventFilter`) pick what a subscriber asked for.
"""

from __future__ import annotations

import heapq
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from incidents.db import Database

#: Kinds of event: incident changes, feed status, congestion (one per speed batch), live-state
#: versions (per process, not logged) and commute-watch notifications (their owner's only).
EVENT_TYPES = ("incident", "feed_status", "congestion", "state", "watch")
#: Kinds an anonymous subscriber gets by default (watch notifications need their owner's key).
PUBLIC_TYPES = ("incident", "feed_status", "congestion", "state")
_CURSOR = re.compile(r"^(\d{1,18})-(\d{1,18})-(\d{1,18})-(\d{1,18})$")
BBox = tuple[float, float, float, float]


class InvalidCursor(ValueError):  # noqa: N818 - named like the API's other errors
    """A ``Last-Event-ID`` (or ``since``) that is not a cursor of this stream."""


@dataclass(frozen=True, order=True)
class Cursor:
    """A position in the four logs: the last sequence number read of each."""

    incident: int = 0
    realtime: int = 0
    speed: int = 0
    notice: int = 0

    def __str__(self) -> str:
        return f"{self.incident}-{self.realtime}-{self.speed}-{self.notice}"

    @classmethod
    def parse(cls, text: str, name: str = "Last-Event-ID") -> Cursor:
        """Read ``I-R-S-N``; raises :class:`InvalidCursor`."""
        m = _CURSOR.match(text.strip())
        if m is None:
            raise InvalidCursor(f"{name}: expected an event id of this stream, four numbers "
                                "joined by '-' (e.g. 12-40-7-0)")
        return cls(*(int(g) for g in m.groups()))

    def covers(self, other: Cursor) -> bool:
        """True when every log position of ``other`` has been read here."""
        return (self.incident >= other.incident and self.realtime >= other.realtime
                and self.speed >= other.speed and self.notice >= other.notice)


@dataclass(frozen=True)
class Event:
    """One logged change. ``id`` is stable and unique (``incident-12``: log and sequence
    number), ``cursor`` the stream position just after it."""

    id: str
    type: str
    name: str
    cursor: Cursor
    at: datetime
    data: dict[str, Any]
    bbox: tuple[BBox, ...] = ()
    agencies: tuple[str, ...] = ()
    owner: str | None = None

    def payload(self) -> dict[str, Any]:
        """The JSON document sent for it (SSE ``data``, webhook body)."""
        return {"event_id": self.id, "type": self.type, "name": self.name,
                "at": self.at.isoformat(), "cursor": str(self.cursor), "data": self.data}


@dataclass(frozen=True)
class EventFilter:
    """What a subscriber wants: event ``types``; ``bbox`` and ``agencies`` restrict incident
    events (geometry before or after the change intersects the box; the owning agency) and
    feed events (``agencies`` = feed ids); ``owner`` receives its own watch notifications."""

    types: frozenset[str] = frozenset(PUBLIC_TYPES)
    bbox: BBox | None = None
    agencies: frozenset[str] | None = None
    owner: str | None = None

    def matches(self, ev: Event) -> bool:
        """True when ``ev`` is for this subscriber."""
        if ev.type not in self.types:
            return False
        if ev.type == "watch":
            return self.owner is not None and ev.owner == self.owner
        if ev.type not in ("incident", "feed_status"):
            return True
        if self.agencies is not None and not (set(ev.agencies) & self.agencies):
            return False
        if self.bbox is not None and ev.type == "incident":
            w, s, e, n = self.bbox
            return any(bw <= e and be >= w and bs <= n and bn >= s
                       for bw, bs, be, bn in ev.bbox)
        return True

    def to_doc(self) -> dict[str, Any]:
        """JSON form (stored with a webhook)."""
        return {"types": sorted(self.types), "bbox": list(self.bbox) if self.bbox else None,
                "agencies": sorted(self.agencies) if self.agencies is not None else None}

    @classmethod
    def from_doc(cls, doc: dict[str, Any], owner: str | None = None) -> EventFilter:
        """Inverse of :meth:`to_doc`."""
        bbox = doc.get("bbox")
        ag = doc.get("agencies")
        return cls(frozenset(doc.get("types") or PUBLIC_TYPES),
                   tuple(float(v) for v in bbox) if bbox else None,  # type: ignore[arg-type]
                   frozenset(ag) if ag is not None else None, owner)


def parse_types(values: Iterable[str] | None, allow_watch: bool) -> frozenset[str]:
    """Event types from a list (comma-separated items allowed); default: the public ones (and
    ``watch`` when ``allow_watch``). Raises ``ValueError`` for an unknown type."""
    items = [t.strip() for v in (values or ()) for t in v.split(",") if t.strip()]
    if not items:
        return frozenset((*PUBLIC_TYPES, "watch") if allow_watch else PUBLIC_TYPES)
    bad = [t for t in items if t not in EVENT_TYPES]
    if bad:
        raise ValueError(f"unknown event type {bad[0]!r}; expected some of "
                         f"{', '.join(EVENT_TYPES)}")
    return frozenset(items)


def _bounds(doc: dict[str, Any] | None) -> BBox | None:
    if not doc or "geometry" not in doc:
        return None
    from incidents.model import Incident, geometry_bounds

    try:
        return geometry_bounds(Incident.model_validate(doc).geometry)
    except ValueError:
        return None


class EventLog:
    """Reads the store's logs as events (see the module docstring). Thread-safe."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def heads(self) -> Cursor:
        """The position after everything committed so far."""
        with self.db.transaction() as tx:
            rows = tx.execute("SELECT name, value FROM counters WHERE name IN ('change_seq',"
                              " 'realtime_seq', 'speed_seq', 'notice_seq')")
        v = {str(n): int(x) for n, x in rows}
        return Cursor(v.get("change_seq", 0), v.get("realtime_seq", 0), v.get("speed_seq", 0),
                      v.get("notice_seq", 0))

    def read(self, after: Cursor, limit: int = 500,
             types: Iterable[str] = EVENT_TYPES, owner: str | None = None) -> list[Event]:
        """Events committed after ``after``, oldest first (merged by time), at most ``limit``
        per log. Logs of types not in ``types`` are not read (their position is kept);
        ``owner``: read only that owner's watch notifications."""
        types = set(types)
        db = self.db
        runs: list[list[Event]] = []
        with db.transaction() as tx:
            if "incident" in types:
                runs.append(self._incidents(tx.execute(
                    "SELECT seq, incident_id, version, action, actor, recorded_at, before_doc,"
                    " after_doc FROM incident_history WHERE seq > ? ORDER BY seq LIMIT ?",
                    (after.incident, limit)), after))
            if "feed_status" in types:
                runs.append(self._feeds(tx.execute(
                    "SELECT seq, feed_id, kind, source, received_at, header_at, full_dataset,"
                    " outcome, reason, detail FROM realtime_messages WHERE seq > ?"
                    " ORDER BY seq LIMIT ?", (after.realtime, limit)), after))
            if "congestion" in types:
                runs.append(self._speeds(tx.execute(
                    "SELECT seq, actor, recorded_at, observed_until, n_obs FROM speed_batches"
                    " WHERE seq > ? ORDER BY seq LIMIT ?", (after.speed, limit)), after))
            if "watch" in types:
                sql = ("SELECT seq, watch_id, owner, recorded_at, body FROM watch_notices"
                       " WHERE seq > ?")
                params: list[Any] = [after.notice]
                if owner is not None:
                    sql += " AND owner = ?"
                    params.append(owner)
                runs.append(self._notices(tx.execute(sql + " ORDER BY seq LIMIT ?",
                                                     (*params, limit)), after))
        merged = list(heapq.merge(*runs, key=lambda e: e.at))
        # each event's cursor: the positions of every log read up to and including it
        out: list[Event] = []
        pos = after
        for ev in merged:
            c = ev.cursor
            pos = Cursor(max(pos.incident, c.incident), max(pos.realtime, c.realtime),
                         max(pos.speed, c.speed), max(pos.notice, c.notice))
            out.append(_with_cursor(ev, pos))
        return out

    # ---------------------------------------------------------------- per log
    def _incidents(self, rows: Sequence[tuple[Any, ...]], after: Cursor) -> list[Event]:
        out = []
        for seq, inc_id, version, action, actor, at, before, after_doc in rows:
            b = self.db.json_out(before)
            a = self.db.json_out(after_doc)
            doc = a if a is not None else b
            boxes = tuple(x for x in (_bounds(b), _bounds(a)) if x is not None)
            out.append(Event(
                f"incident-{seq}", "incident", f"incident.{action}",
                Cursor(int(seq), after.realtime, after.speed, after.notice), self.db.ts_out(at),
                {"seq": int(seq), "incident_id": inc_id, "version": version, "action": action,
                 "actor": actor, "incident": doc},
                boxes, (str(doc.get("agency")),) if doc else ()))
        return out

    def _feeds(self, rows: Sequence[tuple[Any, ...]], after: Cursor) -> list[Event]:
        out = []
        for seq, feed, kind, source, at, header_at, full, outcome, reason, detail in rows:
            received = self.db.ts_out(at)
            out.append(Event(
                f"feed-{seq}", "feed_status", f"feed.{outcome}",
                Cursor(after.incident, int(seq), after.speed, after.notice), received,
                {"seq": int(seq), "feed_id": feed, "kind": kind, "source": source,
                 "outcome": outcome, "reason": reason, "detail": detail,
                 "full_dataset": bool(full), "received_at": received.isoformat(),
                 "header_at": self.db.ts_out(header_at).isoformat() if header_at else None},
                (), (feed,)))
        return out

    def _speeds(self, rows: Sequence[tuple[Any, ...]], after: Cursor) -> list[Event]:
        out = []
        for seq, actor, at, until, n_obs in rows:
            t = self.db.ts_out(at)
            out.append(Event(
                f"speeds-{seq}", "congestion", "congestion.speeds",
                Cursor(after.incident, after.realtime, int(seq), after.notice), t,
                {"speed_batch": {"seq": int(seq), "actor": actor, "observations": int(n_obs),
                                 "recorded_at": t.isoformat(),
                                 "observed_until": self.db.ts_out(until).isoformat()}}))
        return out

    def _notices(self, rows: Sequence[tuple[Any, ...]], after: Cursor) -> list[Event]:
        out = []
        for seq, watch_id, owner, at, body in rows:
            data = self.db.json_out(body)
            out.append(Event(
                f"watch-{seq}", "watch", "watch.changed",
                Cursor(after.incident, after.realtime, after.speed, int(seq)),
                self.db.ts_out(at), {"seq": int(seq), "watch_id": watch_id, **data},
                owner=owner))
        return out


def _with_cursor(ev: Event, cursor: Cursor) -> Event:
    return Event(ev.id, ev.type, ev.name, cursor, ev.at, ev.data, ev.bbox, ev.agencies,
                 ev.owner)


def encode_sse(ev_type: str, data: dict[str, Any] | None, event_id: str | None = None) -> str:
    """One Server-Sent Events message (``data`` as one line of JSON; ``None``: an id-only
    message, which moves the client's last event id without an event)."""
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    if data is not None:
        lines.append(f"event: {ev_type}")
        lines.append("data: " + json.dumps(data, separators=(",", ":"), default=str))
    return "\n".join(lines) + "\n\n"


__all__ = ["EVENT_TYPES", "PUBLIC_TYPES", "Cursor", "Event", "EventFilter", "EventLog",
           "InvalidCursor", "encode_sse", "parse_types"]
