"""Transit live data: realtime stop times, skipped stops, cancellations and stop closures.

One immutable, versioned value (:class:`TransitLive`) that the timetable queries read and a
builder (:class:`TransitLiveBuilder`) that realtime inputs (a GTFS-RT decoder, incidents) fill.
numpy only.

Units and alignment. Delays are int32 seconds, relative to the *scheduled* times of that trip
on that service date (the compiled ``st_arrival_s`` / ``st_departure_s``); a positive delay is
late. The realtime time of stop position ``pos`` of ``trip`` on ``service_date`` is
``st_departure_s[x] + departure_delay_s[x]`` (arrival alike) with
``x = pattern_st_offsets[p] + (trip - pattern_trip_offsets[p]) * n_stops_of_pattern + pos`` and
``p = trip_pattern[trip]``: the per-stop-time arrays of :class:`ServiceDayLive` have exactly
the timetable's stop-time layout. A *skipped* stop is passed through by the vehicle (its times
still count for the order along the trip) but nobody boards or alights there. A cancelled trip
is not boarded at all. A closed stop (all days) is neither boarded nor alighted at. A trip
instance *has realtime data* (``trip_realtime``) when a realtime source reported on it -
delays (zero included: "on time per realtime") or a cancellation - as opposed to running on
its schedule for lack of data.

Versions. ``TransitLive.version`` names the content: queries cache arrays prepared from a
live value under ``(version, service date)``, so a new content must carry a new version.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from gtfs.timetable import Timetable


class LiveDataError(ValueError):
    """Live data that does not fit the timetable (bad index, shape or inconsistent times)."""


def _frozen(x: Any, dtype: type, name: str) -> np.ndarray:
    """``x`` as a 1-d read-only C-contiguous array of ``dtype`` (copied unless it already
    is one)."""
    a = np.asarray(x)
    if a.ndim != 1:
        raise LiveDataError(f"{name}: expected a 1-d array, got shape {a.shape}")
    if a.dtype == dtype and a.flags.c_contiguous and not a.flags.writeable:
        return a
    if dtype is np.int32 and a.dtype.kind not in "iu":
        raise LiveDataError(f"{name}: expected integer seconds, got dtype {a.dtype}")
    out: np.ndarray = np.array(a, dtype=dtype, copy=True, order="C")
    out.flags.writeable = False
    return out


@dataclass(frozen=True, eq=False)
class ServiceDayLive:
    """Realtime data of one service date (see the module docstring for units and layout).

    ``trip_cancelled``: bool ``[n_trips]``. ``arrival_delay_s`` / ``departure_delay_s``: int32
    ``[n_stop_times]`` seconds relative to the schedule of that date. ``skipped``: bool
    ``[n_stop_times]``. ``trip_realtime``: bool ``[n_trips]``, the trips with realtime data
    (default: the cancelled ones; the builder sets it). Arrays are stored read-only (copied
    when given writable ones). Compared by identity (``eq=False``): arrays have no single
    truth value.
    """

    service_date: dt.date
    trip_cancelled: np.ndarray
    arrival_delay_s: np.ndarray
    departure_delay_s: np.ndarray
    skipped: np.ndarray
    trip_realtime: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.trip_realtime is None:
            object.__setattr__(self, "trip_realtime", np.asarray(self.trip_cancelled))
        for name, dtype in (("trip_cancelled", np.bool_), ("arrival_delay_s", np.int32),
                            ("departure_delay_s", np.int32), ("skipped", np.bool_),
                            ("trip_realtime", np.bool_)):
            object.__setattr__(self, name, _frozen(getattr(self, name), dtype, name))
        n = self.arrival_delay_s.shape[0]
        if self.departure_delay_s.shape[0] != n or self.skipped.shape[0] != n:
            raise LiveDataError(
                f"service date {self.service_date}: stop-time arrays differ in length "
                f"({n}, {self.departure_delay_s.shape[0]}, {self.skipped.shape[0]})")
        assert self.trip_realtime is not None
        if self.trip_realtime.shape[0] != self.trip_cancelled.shape[0]:
            raise LiveDataError(
                f"service date {self.service_date}: trip_realtime has "
                f"{self.trip_realtime.shape[0]} trips, trip_cancelled "
                f"{self.trip_cancelled.shape[0]}")

    @property
    def n_stop_times(self) -> int:
        """Length of the stop-time arrays."""
        return int(self.arrival_delay_s.shape[0])

    @property
    def n_trips(self) -> int:
        """Length of ``trip_cancelled``."""
        return int(self.trip_cancelled.shape[0])


@dataclass(frozen=True, eq=False)
class TransitLive:
    """Transit live data for all service dates (see the module docstring).

    ``stop_closed``: bool ``[n_stops]`` or None (no closures), for every day. ``days``: only
    the service dates that have realtime data. ``version`` names the content (cache key).
    """

    version: int = 0
    stop_closed: np.ndarray | None = None
    days: Mapping[dt.date, ServiceDayLive] = field(
        default_factory=lambda: MappingProxyType({}))
    _any_closed: bool = field(default=False, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.stop_closed is not None:
            closed = _frozen(self.stop_closed, np.bool_, "stop_closed")
            object.__setattr__(self, "stop_closed", closed)
            object.__setattr__(self, "_any_closed", bool(closed.any()))
        days = dict(self.days)
        for d, day in days.items():
            if not isinstance(day, ServiceDayLive) or day.service_date != d:
                raise LiveDataError(f"days[{d}] must be the ServiceDayLive of {d}")
        object.__setattr__(self, "days", MappingProxyType(days))

    @classmethod
    def empty(cls, version: int = 0) -> TransitLive:
        """No closures and no realtime data."""
        return cls(version=version)

    def day(self, date: dt.date) -> ServiceDayLive | None:
        """Realtime data of service date ``date``, or None when it has none."""
        return self.days.get(date)

    @property
    def is_empty(self) -> bool:
        """True when nothing is closed and no service date has realtime data."""
        return not self._any_closed and not self.days

    @property
    def has_realtime(self) -> bool:
        """True when some service date has realtime data (stop times or cancellations)."""
        return bool(self.days)


#: No live data at all.
EMPTY = TransitLive()


def trip_stop_times(tt: Timetable, trip: int, service_date: dt.date,
                    live: TransitLive | None = None,
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(arrival_s, departure_s, skipped)`` of ``trip`` at each stop of its pattern on
    ``service_date``: realtime times (int64 service-day seconds) when ``live`` has data for
    that date, else the schedule (nothing skipped). For itineraries and boards."""
    arr, dep = (np.asarray(x, dtype=np.int64) for x in tt.trip_times(trip))
    sdl = None if live is None else live.day(service_date)
    if sdl is None:
        return arr, dep, np.zeros(arr.shape[0], dtype=np.bool_)
    a = tt.arrays
    p = int(a["trip_pattern"][trip])
    n = arr.shape[0]
    base = int(a["pattern_st_offsets"][p]) + (trip - int(a["pattern_trip_offsets"][p])) * n
    return (arr + sdl.arrival_delay_s[base: base + n], dep + sdl.departure_delay_s[base: base + n],
            sdl.skipped[base: base + n].copy())


class _DayDraft:
    """Mutable arrays of one service date inside a builder."""

    __slots__ = ("cancelled", "arr", "dep", "skipped", "reported", "touched")

    def __init__(self, n_trips: int, n_st: int, base: ServiceDayLive | None) -> None:
        if base is None:
            self.cancelled = np.zeros(n_trips, dtype=np.bool_)
            self.arr = np.zeros(n_st, dtype=np.int32)
            self.dep = np.zeros(n_st, dtype=np.int32)
            self.skipped = np.zeros(n_st, dtype=np.bool_)
            self.reported = np.zeros(n_trips, dtype=np.bool_)
        else:
            self.cancelled = base.trip_cancelled.copy()
            self.arr = base.arrival_delay_s.copy()
            self.dep = base.departure_delay_s.copy()
            self.skipped = base.skipped.copy()
            assert base.trip_realtime is not None
            self.reported = base.trip_realtime.copy()
        self.touched: set[int] = set()


class TransitLiveBuilder:
    """Collects live data for a timetable and builds a :class:`TransitLive`.

    Service dates are those of the trips (GTFS ``start_date``), trips and stops are timetable
    indices, ``pos`` is the stop position in the trip's pattern (0-based). Data for a trip that
    does not run on the given date is kept but has no effect. Methods return the builder, so
    calls chain. ``base`` starts from an existing live value (its data is copied).

    :meth:`build` normalises every trip touched by :meth:`delay_trip` or
    :meth:`set_stop_time` so the realtime times are consistent: along the trip, each
    departure is at least the arrival at the same stop and each arrival at least the
    departure at the previous stop. Violating values are *raised* to that bound (a running
    maximum over arrival, departure, arrival, ... in stop order); no value is ever lowered.
    Skipped positions take part (the vehicle passes through them).

    Every method that sets times or cancels marks the trip instance as having realtime data
    (``ServiceDayLive.trip_realtime``); :meth:`skip_stop` alone does not (the times stay
    those of the schedule).
    """

    def __init__(self, tt: Timetable, base: TransitLive | None = None) -> None:
        a = tt.arrays
        self._n_stops = tt.n_stops
        self._n_trips = tt.n_trips
        self._n_st = int(np.asarray(a["st_arrival_s"]).shape[0])
        self._trip_pattern = np.asarray(a["trip_pattern"])
        self._pso = np.asarray(a["pattern_stop_offsets"])
        self._pto = np.asarray(a["pattern_trip_offsets"])
        self._psto = np.asarray(a["pattern_st_offsets"])
        self._st_arr = np.asarray(a["st_arrival_s"])
        self._st_dep = np.asarray(a["st_departure_s"])
        self._closed = np.zeros(self._n_stops, dtype=np.bool_)
        self._base_days: dict[dt.date, ServiceDayLive] = {}
        self._days: dict[dt.date, _DayDraft] = {}
        if base is not None:
            if base.stop_closed is not None:
                if base.stop_closed.shape[0] != self._n_stops:
                    raise LiveDataError(f"stop_closed has {base.stop_closed.shape[0]} stops, "
                                        f"the timetable {self._n_stops}")
                self._closed |= base.stop_closed
            for d, day in base.days.items():
                self._check_day(day)
                self._base_days[d] = day

    # ------------------------------------------------------------------ helpers
    def _check_day(self, day: ServiceDayLive) -> None:
        if day.n_trips != self._n_trips or day.n_stop_times != self._n_st:
            raise LiveDataError(
                f"service date {day.service_date}: {day.n_trips} trips / {day.n_stop_times} "
                f"stop times, the timetable has {self._n_trips} / {self._n_st}")

    def _draft(self, date: dt.date) -> _DayDraft:
        d = self._days.get(date)
        if d is None:
            d = _DayDraft(self._n_trips, self._n_st, self._base_days.get(date))
            self._days[date] = d
        return d

    def _trip_span(self, trip: int) -> tuple[int, int]:
        """(first stop-time index, number of stops) of ``trip``."""
        if not 0 <= trip < self._n_trips:
            raise LiveDataError(f"trip index {trip} out of range (0..{self._n_trips - 1})")
        p = int(self._trip_pattern[trip])
        n = int(self._pso[p + 1] - self._pso[p])
        return int(self._psto[p]) + (trip - int(self._pto[p])) * n, n

    def _st_index(self, trip: int, pos: int) -> int:
        base, n = self._trip_span(trip)
        if not 0 <= pos < n:
            raise LiveDataError(f"trip {trip}: stop position {pos} out of range (0..{n - 1})")
        return base + pos

    # ------------------------------------------------------------------ inputs
    def close_stop(self, stop_idx: int) -> TransitLiveBuilder:
        """Close a stop on every day: no boarding or alighting there."""
        if not 0 <= stop_idx < self._n_stops:
            raise LiveDataError(f"stop index {stop_idx} out of range (0..{self._n_stops - 1})")
        self._closed[stop_idx] = True
        return self

    def cancel_trip(self, date: dt.date, trip: int) -> TransitLiveBuilder:
        """Cancel ``trip`` on service date ``date``."""
        self._trip_span(trip)
        d = self._draft(date)
        d.cancelled[trip] = True
        d.reported[trip] = True
        return self

    def delay_trip(self, date: dt.date, trip: int, seconds: int) -> TransitLiveBuilder:
        """Set the arrival and departure delay of every stop of ``trip`` on ``date`` to
        ``seconds`` (replacing earlier per-stop values)."""
        base, n = self._trip_span(trip)
        d = self._draft(date)
        d.arr[base: base + n] = int(seconds)
        d.dep[base: base + n] = int(seconds)
        d.touched.add(trip)
        d.reported[trip] = True
        return self

    def set_stop_time(self, date: dt.date, trip: int, pos: int,
                      arrival_delay_s: int | None = None,
                      departure_delay_s: int | None = None) -> TransitLiveBuilder:
        """Set the arrival and/or departure delay (seconds vs. the schedule) of stop position
        ``pos`` of ``trip`` on ``date``; None leaves that value unchanged."""
        x = self._st_index(trip, pos)
        d = self._draft(date)
        if arrival_delay_s is not None:
            d.arr[x] = int(arrival_delay_s)
        if departure_delay_s is not None:
            d.dep[x] = int(departure_delay_s)
        d.touched.add(trip)
        d.reported[trip] = True
        return self

    def set_trip_delays(self, date: dt.date, trip: int, arrival_delay_s: Any,
                        departure_delay_s: Any) -> TransitLiveBuilder:
        """Set the arrival and departure delays (seconds vs. the schedule) of every stop
        position of ``trip`` on ``date`` at once: two integer sequences as long as the trip's
        pattern (replacing earlier per-stop values)."""
        base, n = self._trip_span(trip)
        arr = np.asarray(arrival_delay_s)
        dep = np.asarray(departure_delay_s)
        if arr.shape != (n,) or dep.shape != (n,) or arr.dtype.kind not in "iu" \
                or dep.dtype.kind not in "iu":
            raise LiveDataError(f"trip {trip}: expected {n} integer delays each, got "
                                f"{arr.shape} {arr.dtype} / {dep.shape} {dep.dtype}")
        d = self._draft(date)
        d.arr[base: base + n] = arr
        d.dep[base: base + n] = dep
        d.touched.add(trip)
        d.reported[trip] = True
        return self

    def skip_stop(self, date: dt.date, trip: int, pos: int) -> TransitLiveBuilder:
        """Mark stop position ``pos`` of ``trip`` on ``date`` as skipped (passed through, no
        boarding or alighting)."""
        x = self._st_index(trip, pos)
        self._draft(date).skipped[x] = True
        return self

    # ------------------------------------------------------------------ output
    def _normalise(self, d: _DayDraft) -> None:
        if not d.touched:
            return
        trips = np.fromiter(sorted(d.touched), dtype=np.int64, count=len(d.touched))
        pat = self._trip_pattern[trips].astype(np.int64)
        n = (self._pso[pat + 1] - self._pso[pat]).astype(np.int64)
        base = self._psto[pat] + (trips - self._pto[pat]) * n
        seg = np.repeat(np.arange(len(trips), dtype=np.int64), n)
        pos = np.arange(int(n.sum()), dtype=np.int64) - np.repeat(np.cumsum(n) - n, n)
        x = np.repeat(base, n) + pos
        # interleave arrival, departure in stop order; a running maximum per trip raises
        # every value to at least the previous one (segments offset so they never mix)
        seq = np.empty(2 * x.shape[0], dtype=np.int64)
        seq[0::2] = self._st_arr[x].astype(np.int64) + d.arr[x]
        seq[1::2] = self._st_dep[x].astype(np.int64) + d.dep[x]
        big = np.int64(1) << np.int64(40)
        shift = np.repeat(seg, 2) * big
        seq = np.maximum.accumulate(seq + shift) - shift
        d.arr[x] = (seq[0::2] - self._st_arr[x]).astype(np.int32)
        d.dep[x] = (seq[1::2] - self._st_dep[x]).astype(np.int32)
        d.touched.clear()

    def build(self, version: int) -> TransitLive:
        """The live value with version ``version`` (the builder can go on afterwards)."""
        days = dict(self._base_days)
        for date, d in self._days.items():
            self._normalise(d)
            days[date] = ServiceDayLive(date, d.cancelled, d.arr, d.dep, d.skipped,
                                        d.reported)
        closed = self._closed if self._closed.any() else None
        return TransitLive(version=int(version), stop_closed=closed, days=days)
