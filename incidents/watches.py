"""Commute watches in the store: what a commuter saves, its current best answer, and the log
of notifications sent for it.

A watch (``W-<n>``) is a trip — from, to, mode, week days and a time window in the city's
timezone, a threshold — owned by an API key or a personal token. Its *answer* (duration, the
edges or the stops and routes it uses, the incidents on it) is kept with it, so a restarted
server indexes every watch again without re-planning. A notification is appended to
``watch_notices`` (gap-free ``notice_seq``, the event stream's fourth log) at most once per
watch and change key: two processes evaluating the same change write it once.
"""

from __future__ import annotations

import builtins
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from incidents.db import Database
from incidents.errors import Conflict, NotFound
from incidents.store import IncidentStore

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Watches per owner: a personal token (one commuter) and an API key (an app for its users).
MAX_PER_TOKEN = 50
MAX_PER_KEY = 20_000
_LATLON = re.compile(r"^\s*(-?\d{1,3}(?:\.\d+)?)\s*,\s*(-?\d{1,3}(?:\.\d+)?)\s*$")


def _latlon(value: str) -> tuple[float, float]:
    m = _LATLON.match(value) if isinstance(value, str) else None
    if m is None:
        raise ValueError(f"expected 'LAT,LON' in decimal degrees, got {value!r}")
    lat, lon = float(m.group(1)), float(m.group(2))
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"coordinates out of range: {value!r}")
    return lat, lon


class TimeWindow(BaseModel):
    """Local times (the city's timezone) between which the commuter travels."""

    model_config = ConfigDict(extra="forbid")
    start: time = Field(description="Earliest departure, HH:MM", examples=["07:30"])
    end: time = Field(description="Latest departure, HH:MM (after start, same day)",
                      examples=["09:00"])

    @model_validator(mode="after")
    def _order(self) -> TimeWindow:
        if self.end <= self.start:
            raise ValueError("window end must be after its start (same day)")
        return self


class WatchSpec(BaseModel):
    """What a commuter saves (the body of ``POST /v1/watches``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: str = Field(alias="from", max_length=64, description="Origin 'LAT,LON'",
                       examples=["39.0837,-84.5086"])
    to: str = Field(max_length=64, description="Destination 'LAT,LON'",
                    examples=["39.0912,-84.4960"])
    mode: Literal["car", "transit", "bike", "walk"] = Field(
        default="car", description="How the commuter travels")
    days: list[str] = Field(default_factory=lambda: list(DAYS[:5]), min_length=1,
                            max_length=7, description="Week days of the trip (mon … sun)",
                            examples=[["mon", "tue", "wed", "thu", "fri"]])
    window: TimeWindow = Field(description="Departure window, local time")
    threshold_s: int = Field(default=300, ge=0, le=7200, description=(
        "Notify when the best answer's duration changes by more than this many seconds (an "
        "incident put on the route is always notified)"))
    label: str | None = Field(default=None, max_length=100, description="Your name for it",
                              examples=["to work"])

    @field_validator("from_", "to")
    @classmethod
    def _point(cls, v: str) -> str:
        _latlon(v)
        return v.strip()

    @field_validator("days")
    @classmethod
    def _days(cls, v: list[str]) -> list[str]:
        out = []
        for d in v:
            d = d.strip().lower()[:3]
            if d not in DAYS:
                raise ValueError(f"unknown day {d!r}; expected some of {', '.join(DAYS)}")
            if d not in out:
                out.append(d)
        return sorted(out, key=DAYS.index)

    @property
    def origin(self) -> tuple[float, float]:
        """(lat, lon) of the origin."""
        return _latlon(self.from_)

    @property
    def destination(self) -> tuple[float, float]:
        """(lat, lon) of the destination."""
        return _latlon(self.to)

    def armed(self, local: datetime, lead_min: int) -> bool:
        """True when ``local`` (city time) is on a watch day, from ``lead_min`` minutes before
        the window until its end."""
        if DAYS[local.weekday()] not in self.days:
            return False
        m = local.hour * 60 + local.minute
        lo = self.window.start.hour * 60 + self.window.start.minute - lead_min
        hi = self.window.end.hour * 60 + self.window.end.minute
        return lo <= m <= hi

    def to_doc(self) -> dict[str, Any]:
        """JSON form (stored; returned by the API)."""
        doc = self.model_dump(mode="json", by_alias=True)
        doc["window"] = {"start": self.window.start.strftime("%H:%M"),
                         "end": self.window.end.strftime("%H:%M")}
        return doc


@dataclass(frozen=True)
class Watch:
    """A stored watch: its spec, owner and last known answer (``None`` before the first)."""

    id: str
    owner: str
    spec: WatchSpec
    answer: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime

    def to_doc(self) -> dict[str, Any]:
        """JSON form for the API (the answer without its internal edge list)."""
        ans = None
        if self.answer is not None:
            ans = {k: v for k, v in self.answer.items() if k not in ("edges", "shares")}
        return {"id": self.id, **self.spec.to_doc(), "answer": ans,
                "created_at": self.created_at.isoformat(),
                "updated_at": self.updated_at.isoformat()}


class WatchStore:
    """Watches and their notifications in the incident store (both backends)."""

    def __init__(self, store: IncidentStore) -> None:
        self.store = store
        self.db: Database = store.db

    def _watch(self, r: Sequence[Any]) -> Watch:
        db = self.db
        return Watch(r[0], r[1], WatchSpec.model_validate(db.json_out(r[2])),
                     db.json_out(r[3]) if r[3] is not None else None, db.ts_out(r[4]),
                     db.ts_out(r[5]))

    def create(self, owner: str, spec: WatchSpec, answer: dict[str, Any] | None) -> Watch:
        """Store a new watch with its first answer. Raises :class:`Conflict` past the
        owner's limit."""
        db = self.db
        now = db.ts_in(self.store.now())
        cap = MAX_PER_TOKEN if owner.startswith("token:") else MAX_PER_KEY
        with db.transaction(write=True) as tx:
            row = tx.one("SELECT COUNT(*) FROM watches WHERE owner = ?", (owner,))
            if row and int(row[0]) >= cap:
                raise Conflict(f"this owner already has {cap} watches (the limit)")
            num = int(tx.one("UPDATE counters SET value = value + 1 WHERE name = 'watch_id'"
                             " RETURNING value")[0])
            wid = f"W-{num}"
            tx.execute("INSERT INTO watches (id, num, owner, doc, answer, created_at,"
                       " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (wid, num, owner, json.dumps(spec.to_doc()),
                        json.dumps(answer) if answer is not None else None, now, now))
        return self.get(wid, owner)

    def get(self, watch_id: str, owner: str | None = None) -> Watch:
        """One watch (of ``owner``, when given). Raises :class:`NotFound`."""
        with self.db.transaction() as tx:
            r = tx.one("SELECT id, owner, doc, answer, created_at, updated_at FROM watches"
                       " WHERE id = ?", (watch_id,))
        if r is None or (owner is not None and r[1] != owner):
            raise NotFound(watch_id, what="watch")
        return self._watch(r)

    def list(self, owner: str | None = None) -> builtins.list[Watch]:
        """Watches (of ``owner``), oldest first."""
        sql, params = ("SELECT id, owner, doc, answer, created_at, updated_at FROM watches",
                       [])
        if owner is not None:
            sql += " WHERE owner = ?"
            params.append(owner)
        with self.db.transaction() as tx:
            rows = tx.execute(sql + " ORDER BY num", params)
        return [self._watch(r) for r in rows]

    def delete(self, watch_id: str, owner: str) -> None:
        """Remove a watch (its notifications stay in the log). Raises :class:`NotFound`."""
        with self.db.transaction(write=True) as tx:
            r = tx.one("SELECT owner FROM watches WHERE id = ?", (watch_id,))
            if r is None or r[0] != owner:
                raise NotFound(watch_id, what="watch")
            tx.execute("DELETE FROM watches WHERE id = ?", (watch_id,))

    def generation(self) -> tuple[int, int]:
        """(last watch number, number of watches): changes when a watch is added or
        removed (by any process)."""
        with self.db.transaction() as tx:
            a = tx.one("SELECT value FROM counters WHERE name = 'watch_id'")
            b = tx.one("SELECT COUNT(*) FROM watches")
        return (int(a[0]) if a else 0, int(b[0]) if b else 0)

    def save_answers(self, answers: dict[str, dict[str, Any]]) -> None:
        """Replace the stored answers of these watches (one transaction)."""
        if not answers:
            return
        db = self.db
        now = db.ts_in(self.store.now())
        with db.transaction(write=True) as tx:
            for wid, ans in answers.items():
                tx.execute("UPDATE watches SET answer = ?, updated_at = ? WHERE id = ?",
                           (json.dumps(ans), now, wid))

    def notify(self, notices: builtins.list[tuple[str, str, str, dict[str, Any]]]) -> int:
        """Append notifications ``(watch_id, owner, change_key, body)``; one already logged
        for the same watch and change key is skipped. Returns the number appended."""
        if not notices:
            return 0
        db = self.db
        now = db.ts_in(self.store.now())
        n = 0
        with db.transaction(write=True) as tx:
            for wid, owner, key, body in notices:
                if tx.one("SELECT 1 FROM watch_notices WHERE watch_id = ? AND change_key = ?",
                          (wid, key)) is not None:
                    continue
                seq = int(tx.one("UPDATE counters SET value = value + 1 WHERE name ="
                                 " 'notice_seq' RETURNING value")[0])
                tx.execute("INSERT INTO watch_notices (seq, watch_id, owner, change_key,"
                           " recorded_at, body) VALUES (?, ?, ?, ?, ?, ?)",
                           (seq, wid, owner, key, now, json.dumps(body, default=str)))
                db.notify(tx, f"notice:{seq}")  # wakes other processes' event streams
                n += 1
        return n

    def notices(self, watch_id: str, owner: str, limit: int = 50
                ) -> builtins.list[dict[str, Any]]:
        """The latest notifications of one watch, newest first."""
        self.get(watch_id, owner)
        db = self.db
        with db.transaction() as tx:
            rows = tx.execute("SELECT seq, recorded_at, body FROM watch_notices WHERE"
                              " watch_id = ? ORDER BY seq DESC LIMIT ?", (watch_id, limit))
        return [{"seq": int(r[0]), "recorded_at": db.ts_out(r[1]).isoformat(),
                 **db.json_out(r[2])} for r in rows]
