"""Conditional restrictions: parse OSM ``*:conditional`` values and say when they hold.

A conditional value is ``value @ (condition); value @ (condition); …``. A condition is a list
of terms joined by ``AND``: an opening_hours time spec (``Mo-Fr 07:00-09:00``, ``Jun-Aug``,
``22:00-06:00``, ``Sa,Su``…, evaluated with the maintained ``opening-hours-py`` parser in the
city's timezone), or a vehicle comparison (``weight>7.5``, ``length>12``, ``height>=3.5``,
``width<2``; tonnes and metres, units ``t``/``m`` allowed) checked against the mode's
standard vehicle. Anything else (user classes like ``delivery``, weather like ``wet``, stay
limits like ``stay<2h``, broken syntax) is *unparseable*: the part is ignored and counted.

Public holidays and sun events: given the city's coordinates (the router passes its
snapshot's centre) and its timezone's country (the tz database's ``zone.tab``), the parser
uses that country's public-holiday calendar for ``PH`` (``Mo-Fr 07:00-09:00; PH off`` is off
on Christmas in Kentucky) and computes ``sunrise`` / ``sunset`` / ``dawn`` / ``dusk`` for that
place — both from data compiled into the parser, nothing fetched. ``SH`` (school holidays)
has no calendar there and never matches. Without coordinates ``PH`` never matches and sun
events take the parser's fixed default times.

:class:`ConditionTable` holds a snapshot's distinct conditions and answers, per mode, which
are in force at an instant, when that next changes, and the windows in which each holds over
a horizon (for routes timed edge by edge).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import opening_hours

from routing.timezones import country_of_zone

#: The parser's syntax error class (``opening_hours.ParserError``; untyped in its stubs).
_OH_ERROR: type[Exception] = getattr(opening_hours, "ParserError", SyntaxError)

#: Vehicle attributes a condition may compare, and their index in a vehicle tuple.
VEHICLE_ATTRS = {"height": 0, "width": 1, "weight": 2, "length": 3}
_TERM = re.compile(
    r"^(height|width|weight|length)\s*(<=|>=|<|>|=)\s*(\d+(?:[.,]\d+)?)\s*"
    r"(t|m)?$",
    re.IGNORECASE,
)
#: Standard vehicle per mode (height m, width m, weight t, length m) for vehicle terms;
#: ``None``: the mode is no vehicle a weight or length condition can apply to.
MODE_VEHICLE: dict[str, tuple[float, float, float, float] | None] = {
    "car": (1.6, 1.8, 1.5, 4.5),
    "bus": (3.2, 2.55, 18.0, 12.0),
    "truck": (4.0, 2.55, 18.0, 12.0),
    "bike": None,
    "walk": None,
}


class ConditionError(ValueError):
    """A conditional value or condition cannot be parsed."""


@dataclass(frozen=True, slots=True)
class Condition:
    """One parsed condition: an opening_hours spec (or ``None``: any time) and vehicle
    comparisons ``(attribute index, operator, value)``, all of which must hold."""

    text: str
    hours: str | None
    vehicle: tuple[tuple[int, str, float], ...]


def split_conditional(value: str) -> list[tuple[str, str]]:
    """``"no @ (Mo-Fr 07:00-09:00); yes @ (Sa)"`` → ``[("no", "Mo-Fr 07:00-09:00"), ("yes",
    "Sa")]``. ``;`` inside parentheses belongs to the condition. Raises
    :class:`ConditionError` for a part without ``@``, an empty value, or unbalanced
    parentheses."""
    parts: list[str] = []
    depth = 0
    cur: list[str] = []
    for ch in value:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ConditionError(f"unbalanced ')' in {value!r}")
        if ch == ";" and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if depth != 0:
        raise ConditionError(f"unbalanced '(' in {value!r}")
    parts.append("".join(cur))
    out: list[tuple[str, str]] = []
    for part in parts:
        if not part.strip():
            continue
        if "@" not in part:
            raise ConditionError(f"no '@' in {part.strip()!r}")
        val, cond = part.split("@", 1)
        val, cond = val.strip(), cond.strip()
        if cond.startswith("(") and cond.endswith(")"):
            cond = cond[1:-1].strip()
        if not val or not cond:
            raise ConditionError(f"empty value or condition in {part.strip()!r}")
        out.append((val, cond))
    if not out:
        raise ConditionError(f"no condition in {value!r}")
    return out


def parse_condition(text: str) -> Condition:
    """Parse one condition (see the module docstring). Raises :class:`ConditionError`."""
    hours: list[str] = []
    vehicle: list[tuple[int, str, float]] = []
    for raw in re.split(r"\s+AND\s+", text.strip()):
        term = raw.strip()
        m = _TERM.match(term)
        if m:
            vehicle.append(
                (VEHICLE_ATTRS[m.group(1).lower()], m.group(2), float(m.group(3).replace(",", ".")))
            )
            continue
        if not term or not any(c.isdigit() for c in term) and not _is_named_time(term):
            raise ConditionError(f"not a time or vehicle condition: {term!r}")
        try:
            opening_hours.OpeningHours(term)
        except (SyntaxError, ValueError, _OH_ERROR) as exc:
            raise ConditionError(f"not an opening_hours spec: {term!r}") from exc
        hours.append(term)
    if len(hours) > 1:
        raise ConditionError(f"several time specs joined by AND: {text!r}")
    return Condition(text.strip(), hours[0] if hours else None, tuple(vehicle))


_NAMED_TIME = re.compile(
    r"^(?:(?:Mo|Tu|We|Th|Fr|Sa|Su|PH|SH|Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec|"
    r"sunrise|sunset|dawn|dusk|off|closed|open|24/7|week)[\s,\-:]*)+$"
)


def _is_named_time(term: str) -> bool:
    """Time specs without digits (``Sa,Su``, ``Jun-Aug``, ``sunset-sunrise``)."""
    return bool(_NAMED_TIME.match(term.strip()))


def vehicle_holds(cond: Condition, vehicle: Sequence[float] | None) -> bool:
    """True when every vehicle term of ``cond`` holds for ``vehicle`` (no terms: true; a
    mode without a vehicle fails any term)."""
    if not cond.vehicle:
        return True
    if vehicle is None:
        return False
    for attr, op, limit in cond.vehicle:
        v = float(vehicle[attr])
        ok = {"<": v < limit, "<=": v <= limit, ">": v > limit, ">=": v >= limit, "=": v == limit}[
            op
        ]
        if not ok:
            return False
    return True


class ConditionTable:
    """The distinct conditions of a snapshot, evaluated in its timezone."""

    def __init__(self, texts: Sequence[str], timezone: str = "UTC",
                 coords: tuple[float, float] | None = None) -> None:
        """``coords``: (lat, lon) of the city, for its public holidays and sun times."""
        self.texts = list(texts)
        self.zone = ZoneInfo(timezone)
        self.conditions = [parse_condition(t) for t in self.texts]
        self._oh = [
            _opening_hours(c.hours, self.zone, coords) if c.hours is not None else None
            for c in self.conditions
        ]
        self._lock = threading.Lock()
        self._windows: dict[tuple[int, int, int], list[tuple[int, int]]] = {}

    def __len__(self) -> int:
        return len(self.texts)

    def _naive_local(self, t: datetime) -> datetime:
        return t.astimezone(self.zone).replace(tzinfo=None)

    def _next_change(self, oh: opening_hours.OpeningHours, local: datetime) -> datetime | None:
        """The spec's next change after ``local`` as a naive local time (a parser built with
        the city's timezone answers aware times)."""
        n = oh.next_change(local)
        if n is not None and n.tzinfo is not None:
            n = self._naive_local(n)
        return n

    def _epoch_ms(self, naive_local: datetime) -> int:
        aware = naive_local.replace(tzinfo=self.zone)
        return int(aware.timestamp() * 1000)

    def active(self, t: datetime, vehicle: Sequence[float] | None) -> np.ndarray:
        """bool [n]: the conditions in force at ``t`` (aware) for that vehicle."""
        out = np.zeros(len(self.texts), dtype=bool)
        local = self._naive_local(t)
        for i, c in enumerate(self.conditions):
            if not vehicle_holds(c, vehicle):
                continue
            oh = self._oh[i]
            out[i] = True if oh is None else bool(oh.is_open(local))
        return out

    def windows(self, i: int, lo_ms: int, hi_ms: int) -> list[tuple[int, int]]:
        """Epoch-ms intervals ``[a, b)`` within ``[lo_ms, hi_ms)`` in which the time spec of
        condition ``i`` holds (vehicle terms not included)."""
        key = (i, lo_ms, hi_ms)
        with self._lock:
            hit = self._windows.get(key)
        if hit is not None:
            return hit
        oh = self._oh[i]
        if oh is None:
            return [(lo_ms, hi_ms)]
        out: list[tuple[int, int]] = []
        t = self._naive_local(datetime.fromtimestamp(lo_ms / 1000, UTC))
        t_ms = lo_ms
        guard = 0
        while t_ms < hi_ms and guard < 10_000:
            guard += 1
            is_open = bool(oh.is_open(t))
            nxt = self._next_change(oh, t)
            n_ms = hi_ms if nxt is None else min(self._epoch_ms(nxt), hi_ms)
            if n_ms <= t_ms:  # DST folds: step on by a minute
                nxt = t + timedelta(minutes=1)
                n_ms = min(self._epoch_ms(nxt), hi_ms)
            if is_open:
                if out and out[-1][1] == t_ms:
                    out[-1] = (out[-1][0], n_ms)
                else:
                    out.append((t_ms, n_ms))
            if nxt is None:
                break
            t, t_ms = nxt, n_ms
        with self._lock:
            if len(self._windows) > 4096:
                self._windows.clear()
            self._windows[key] = out
        return out

    def next_change(self, t: datetime) -> datetime | None:
        """The earliest instant after ``t`` at which some time spec changes, or ``None``."""
        local = self._naive_local(t)
        best: datetime | None = None
        for oh in self._oh:
            if oh is None:
                continue
            n = self._next_change(oh, local)
            if n is not None and (best is None or n < best):
                best = n
        return None if best is None else best.replace(tzinfo=self.zone).astimezone(UTC)


#: The parser's errors for a country or coordinates it does not know.
_OH_PLACE_ERRORS: tuple[type[Exception], ...] = (
    ValueError, _OH_ERROR, getattr(opening_hours, "UnknownCountryError", ValueError),
    getattr(opening_hours, "InvalidCoordinatesError", ValueError))


def _opening_hours(spec: str, zone: ZoneInfo, coords: tuple[float, float] | None
                   ) -> opening_hours.OpeningHours:
    """The parsed time spec; with the city's coordinates, the public holidays of its
    timezone's country and its sun times (the parser's compiled-in data) — without
    coordinates, or when no country is known there, the plain spec."""
    country = country_of_zone(zone.key) if coords is not None else None
    if coords is not None and country is not None:
        try:
            # (the explicit timezone is used; auto_timezone=False would also turn the sun
            # times back to the fixed defaults)
            return opening_hours.OpeningHours(spec, country=country, coords=coords,
                                              timezone=zone, auto_country=False)
        except _OH_PLACE_ERRORS:
            pass
    return opening_hours.OpeningHours(spec)


#: At most this many distinct conditions decide one way's access (2**K combinations).
MAX_WAY_CONDITIONS = 3


class ModeConditionals:
    """One mode's conditional rules over its graph: edges whose access depends on
    conditions, and kernel arcs (turns) banned while a condition holds.

    Edge ``edge[i]`` depends on conditions ``ids[i]`` (-1 = unused slot); with ``c`` the
    combination (bit ``k`` set when ``ids[i, k]`` is in force), the edge is open when bit
    ``c`` of ``open_mask[i]`` is set. Arc ``arc[j]`` is banned while ``arc_cond[j]`` holds.
    """

    def __init__(
        self,
        table: ConditionTable,
        vehicle: Sequence[float] | None,
        edge: np.ndarray,
        ids: np.ndarray,
        open_mask: np.ndarray,
        arc: np.ndarray,
        arc_cond: np.ndarray,
    ) -> None:
        self.table = table
        self.vehicle = None if vehicle is None else tuple(float(x) for x in vehicle)
        self.edge = np.asarray(edge, np.int64)
        self.ids = np.asarray(ids, np.int64).reshape(-1, MAX_WAY_CONDITIONS)
        self.open_mask = np.asarray(open_mask, np.int64)
        self.arc = np.asarray(arc, np.int64)
        self.arc_cond = np.asarray(arc_cond, np.int64)
        used = np.unique(np.concatenate([self.ids[self.ids >= 0], self.arc_cond]))
        self.used = used.astype(np.int64)
        #: True when some condition this mode uses compares vehicle dimensions
        self.vehicle_dependent = any(table.conditions[i].vehicle for i in self.used.tolist())
        self._lock = threading.Lock()
        self._memo: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    @property
    def is_empty(self) -> bool:
        """True when nothing of this mode depends on a condition."""
        return self.edge.shape[0] == 0 and self.arc.shape[0] == 0

    def active(self, t: datetime, vehicle: Sequence[float] | None = None) -> np.ndarray:
        """bool [conditions]: in force at ``t`` for this mode's standard vehicle (or
        ``vehicle``: height m, width m, weight t, length m); only the conditions this mode
        uses are evaluated."""
        veh = self.vehicle if vehicle is None else tuple(vehicle)
        out = np.zeros(len(self.table), dtype=bool)
        if self.used.shape[0]:
            local = self.table._naive_local(t)
            for i in self.used.tolist():
                c = self.table.conditions[i]
                if vehicle_holds(c, veh):
                    oh = self.table._oh[i]
                    out[i] = True if oh is None else bool(oh.is_open(local))
        return out

    def _combo(self, active: np.ndarray) -> np.ndarray:
        combo = np.zeros(self.edge.shape[0], np.int64)
        for k in range(MAX_WAY_CONDITIONS):
            col = self.ids[:, k]
            on = (col >= 0) & active[np.maximum(col, 0)]
            combo |= on.astype(np.int64) << k
        return combo

    def closed_edges(self, active: np.ndarray) -> np.ndarray:
        """Edge ids closed under these active conditions (int64)."""
        if self.edge.shape[0] == 0:
            return np.zeros(0, np.int64)
        open_ = (self.open_mask >> self._combo(active)) & 1
        return self.edge[open_ == 0]

    def banned_arcs(self, active: np.ndarray) -> np.ndarray:
        """Kernel arc ids banned under these active conditions (int64, sorted, unique)."""
        if self.arc.shape[0] == 0:
            return np.zeros(0, np.int64)
        return np.unique(self.arc[active[self.arc_cond]])

    def key(self, t: datetime) -> bytes:
        """Changes exactly when the closed edges or banned arcs at ``t`` may change."""
        if self.is_empty:
            return b""
        return np.packbits(self.active(t)[self.used]).tobytes()

    def closure_windows(self, lo_ms: int, hi_ms: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Closures of this mode's conditional edges over ``[lo_ms, hi_ms)`` (epoch ms) as
        ``(edge, start_ms, end_ms)`` arrays (int64), for costs looked up edge by edge."""
        key = (lo_ms, hi_ms)
        with self._lock:
            hit = self._memo.get(key)
        if hit is not None:
            return hit
        empty = np.zeros(0, np.int64)
        if self.edge.shape[0] == 0:
            return empty, empty, empty
        sig = np.concatenate([self.ids, self.open_mask[:, None]], axis=1)
        uniq, inv = np.unique(sig, axis=0, return_inverse=True)
        inv = np.asarray(inv).reshape(-1)
        per_sig: list[list[tuple[int, int]]] = []
        for row in uniq.tolist():
            ids, mask = row[:MAX_WAY_CONDITIONS], row[MAX_WAY_CONDITIONS]
            wins: list[list[tuple[int, int]]] = []
            bounds = {lo_ms, hi_ms}
            for c in ids:
                if c < 0 or not vehicle_holds(self.table.conditions[c], self.vehicle):
                    wins.append([])
                    continue
                w = self.table.windows(int(c), lo_ms, hi_ms)
                wins.append(w)
                for a, b in w:
                    bounds.update((a, b))
            pts = sorted(bounds)
            closed: list[tuple[int, int]] = []
            for a, b in zip(pts[:-1], pts[1:], strict=True):
                combo = 0
                for k, w in enumerate(wins):
                    if any(x <= a < y for x, y in w):
                        combo |= 1 << k
                if not (mask >> combo) & 1:
                    if closed and closed[-1][1] == a:
                        closed[-1] = (closed[-1][0], b)
                    else:
                        closed.append((a, b))
            per_sig.append(closed)
        counts = np.asarray([len(x) for x in per_sig], np.int64)
        flat_lo = np.asarray([a for x in per_sig for a, _ in x], np.int64)
        flat_hi = np.asarray([b for x in per_sig for _, b in x], np.int64)
        start = np.zeros(len(per_sig) + 1, np.int64)
        np.cumsum(counts, out=start[1:])
        n_per_edge = counts[inv]
        edges = np.repeat(self.edge, n_per_edge)
        first = np.repeat(start[inv], n_per_edge)
        within = np.arange(edges.shape[0]) - np.repeat(
            np.cumsum(n_per_edge) - n_per_edge, n_per_edge
        )
        pos = first + within
        out = (
            edges,
            flat_lo[pos] if pos.shape[0] else empty,
            flat_hi[pos] if pos.shape[0] else empty,
        )
        with self._lock:
            if len(self._memo) > 8:
                self._memo.clear()
            self._memo[key] = out
        return out


def merge_closures(
    effects: tuple[np.ndarray, ...],
    n_edges: int,
    edges: np.ndarray,
    lo_ms: np.ndarray,
    hi_ms: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """Incident effect arrays (``(offsets, closed, min_ms, factor, add_ms, lo_ms, hi_ms)``,
    CSR per edge; empty offsets = none) with closure entries added for ``edges`` in
    ``[lo_ms, hi_ms)``."""
    off, closed, min_ms, factor, add_ms, lo, hi = effects
    if off.shape[0]:
        old_edge = np.repeat(np.arange(n_edges, dtype=np.int64), np.diff(off))
    else:
        old_edge = np.zeros(0, np.int64)
        closed = np.zeros(0, bool)
        min_ms = add_ms = lo = hi = np.zeros(0, np.int64)
        factor = np.zeros(0, np.float64)
    k = edges.shape[0]
    all_edge = np.concatenate([old_edge, edges])
    order = np.argsort(all_edge, kind="stable")
    new_off = np.zeros(n_edges + 1, np.int64)
    np.cumsum(np.bincount(all_edge, minlength=n_edges), out=new_off[1:])
    return (
        new_off,
        np.concatenate([np.asarray(closed, bool), np.ones(k, bool)])[order],
        np.concatenate([np.asarray(min_ms, np.int64), np.zeros(k, np.int64)])[order],
        np.concatenate([np.asarray(factor, np.float64), np.ones(k)])[order],
        np.concatenate([np.asarray(add_ms, np.int64), np.zeros(k, np.int64)])[order],
        np.concatenate([np.asarray(lo, np.int64), lo_ms])[order],
        np.concatenate([np.asarray(hi, np.int64), hi_ms])[order],
    )
