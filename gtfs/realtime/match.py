"""Match GTFS-Realtime references to the compiled timetable of one static feed.

Static ids are namespaced ``FEED:ID`` (:mod:`gtfs.load`); a realtime feed speaks the plain ids
of its static feed, so ``trip_id`` ``T`` of feed ``F`` is the timetable's ``F:T``.

Trips (:meth:`FeedMatcher.match_trip`), in this order:

1. ``trip_id`` given: the trip ``F:trip_id``. A frequency-based trip (frequencies.txt, compiled
   into one instance per departure, ``F:trip_id@HH:MM:SS``) needs ``start_time`` to pick the
   instance: the instance starting exactly then; for ``exact_times=0`` trips also the nearest
   instance when it lies within its own headway. Frequency trips also need ``start_date``
   (the spec requires both).
2. no ``trip_id``: ``route_id`` + ``direction_id`` + ``start_time`` + ``start_date`` select the
   one trip of that route and direction whose first departure is ``start_time`` and which
   runs on ``start_date`` (none: ``unknown_trip``; several: ``ambiguous_trip``).

Service date: ``start_date`` (``YYYYMMDD``) when given, and the trip must run that day.
Otherwise it is inferred from a reference time (the update's or the header's timestamp):
among the service days from two days before to one day after the reference's local date,
the running instance whose ``[first departure, last arrival]`` lies nearest the reference,
if within :data:`MAX_INFERENCE_GAP_S` (else ``not_running_on_service_date`` when an instance
on a day the trip does not run would have fitted, or ``no_service_date``).

Match failures are reasons, not exceptions: see :data:`TRIP_MATCH_REASONS`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
from google.transit import gtfs_realtime_pb2 as pb

from gtfs.day import service_midnight_epoch_s
from gtfs.realtime.decode import text
from gtfs.timetable import FREQ_HEADWAY, Timetable

#: Largest gap (s) between the reference time and a trip instance for date inference.
MAX_INFERENCE_GAP_S = 12 * 3600

TRIP_MATCH_REASONS: tuple[str, ...] = (
    "invalid_text", "unknown_trip", "ambiguous_trip", "unidentifiable_trip",
    "bad_start_date", "bad_start_time", "frequency_trip_without_start_time",
    "frequency_trip_without_start_date", "unknown_frequency_instance",
    "not_running_on_service_date", "no_service_date",
)

_DATE = re.compile(r"^\d{8}$")
_TIME = re.compile(r"^(\d{1,3}):([0-5]\d):([0-5]\d)$")


def parse_start_date(value: str) -> dt.date | None:
    """``YYYYMMDD`` -> date, None when malformed."""
    if not _DATE.match(value):
        return None
    try:
        return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return None


def parse_start_time(value: str) -> int | None:
    """``H:MM:SS`` (hours may exceed 24) -> seconds after service-day midnight, None when
    malformed."""
    m = _TIME.match(value)
    if not m:
        return None
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3))


@dataclass(frozen=True)
class TripMatch:
    """A trip instance: timetable trip index and service date, plus the agency timezone."""

    trip: int
    service_date: dt.date
    tz: str


@dataclass(frozen=True)
class NoMatch:
    """Why a trip reference did not match (one of :data:`TRIP_MATCH_REASONS`)."""

    reason: str
    detail: str = ""


class FeedMatcher:
    """Look-ups from one static feed's plain ids into a timetable (see module docstring).

    Raises KeyError when ``feed`` is not one of the timetable's feeds.
    """

    def __init__(self, tt: Timetable, feed: str) -> None:
        names = list(tt.strings["feed_name"])
        if feed not in names:
            raise KeyError(f"feed {feed!r} is not in the timetable (feeds: {names})")
        self.tt = tt
        self.feed = feed
        self._positions: dict[int, tuple[list[int], dict[int, int] | None]] = {}
        self._midnights: dict[tuple[dt.date, str], int] = {}
        self.prefix = f"{feed}:"
        a = tt.arrays
        self.trip_pattern = np.asarray(a["trip_pattern"])
        self.pso = np.asarray(a["pattern_stop_offsets"])
        self.pto = np.asarray(a["pattern_trip_offsets"])
        self.psto = np.asarray(a["pattern_st_offsets"])
        self.pattern_stops = np.asarray(a["pattern_stops"])
        self.st_arr = np.asarray(a["st_arrival_s"])
        self.st_dep = np.asarray(a["st_departure_s"])
        seq = a.get("st_stop_sequence")
        self.st_seq = None if seq is None else np.asarray(seq)
        self.trip_service = np.asarray(a["trip_service"])
        self.trip_route = np.asarray(a["trip_route"])
        self.trip_direction = np.asarray(a["trip_direction"])
        self.trip_start = np.asarray(a["trip_start_s"])
        self.trip_frequency = np.asarray(a["trip_frequency"])
        route_agency = np.asarray(a["route_agency"])
        self.trip_tz = [tt.strings["agency_timezone"][int(route_agency[r])]
                        for r in range(route_agency.shape[0])]
        feed_idx = names.index(feed)
        ag = np.flatnonzero(np.asarray(a["agency_feed"]) == feed_idx)
        #: the feed's (first agency's) timezone
        self.timezone = tt.strings["agency_timezone"][int(ag[0]) if ag.size else 0]
        self.feed_index = feed_idx
        self._instances = self._index(tt.strings["trip_gtfs_id"])
        self._routes = {s: i for i, s in enumerate(tt.strings["route_id"])
                        if s.startswith(self.prefix)}
        self._stops = {s: i for i, s in enumerate(tt.strings["stop_id"])
                       if s.startswith(self.prefix)}
        station_of = np.asarray(a["stop_station"])
        self._stations: dict[str, tuple[int, ...]] = {}
        children: dict[int, list[int]] = {}
        for s, st in enumerate(station_of):
            if st >= 0:
                children.setdefault(int(st), []).append(s)
        for i, sid in enumerate(tt.strings["station_id"]):
            if sid.startswith(self.prefix) and i in children:
                self._stations[sid] = tuple(children[i])
        self._agencies = {s: i for i, s in enumerate(tt.strings["agency_id"])
                          if s.startswith(self.prefix)}
        self._route_trips: dict[int, np.ndarray] | None = None
        self._runs: dict[dt.date, np.ndarray] = {}

    def _index(self, gtfs_ids: list[str]) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for t, g in enumerate(gtfs_ids):
            if g.startswith(self.prefix):
                out.setdefault(g, []).append(t)
        for lst in out.values():
            lst.sort(key=lambda t: int(self.trip_start[t]))
        return out

    # ------------------------------------------------------------------ plain look-ups
    def has_trip_id(self, trip_id: str) -> bool:
        """True when ``trip_id`` (plain) is a trip of this feed."""
        return self.prefix + trip_id in self._instances

    def trips_of_id(self, trip_id: str) -> list[int]:
        """Trip indices of a plain ``trip_id`` (several for a frequency-based trip)."""
        return self._instances.get(self.prefix + trip_id, [])

    def route(self, route_id: str) -> int:
        """Route index of a plain ``route_id`` (-1 unknown)."""
        return self._routes.get(self.prefix + route_id, -1)

    def agency(self, agency_id: str) -> int:
        """Agency index of a plain ``agency_id`` (-1 unknown)."""
        return self._agencies.get(self.prefix + agency_id, -1)

    def stops(self, stop_id: str) -> tuple[int, ...]:
        """Stop indices of a plain ``stop_id``: the stop, or the routable stops of a station
        (empty when unknown)."""
        s = self._stops.get(self.prefix + stop_id)
        if s is not None:
            return (s,)
        return self._stations.get(self.prefix + stop_id, ())

    def trip_span(self, trip: int) -> tuple[int, int]:
        """(first stop-time index, number of stops) of ``trip``."""
        p = int(self.trip_pattern[trip])
        n = int(self.pso[p + 1] - self.pso[p])
        return int(self.psto[p]) + (trip - int(self.pto[p])) * n, n

    def trip_stops(self, trip: int) -> np.ndarray:
        """Stop indices of ``trip`` in pattern order."""
        p = int(self.trip_pattern[trip])
        return self.pattern_stops[int(self.pso[p]): int(self.pso[p + 1])]

    def trip_positions(self, trip: int) -> tuple[list[int], dict[int, int] | None]:
        """(stop indices of ``trip`` in pattern order, GTFS ``stop_sequence`` → first
        position, or None when the timetable kept no sequences) as plain Python values,
        cached per trip (the same trips come back in every message)."""
        hit = self._positions.get(trip)
        if hit is None:
            stops = self.trip_stops(trip).tolist()
            seq_pos: dict[int, int] | None = None
            if self.st_seq is not None:
                base, n = self.trip_span(trip)
                seq_pos = {}
                for i, q in enumerate(self.st_seq[base: base + n].tolist()):
                    seq_pos.setdefault(q, i)
            if len(self._positions) >= 50_000:
                self._positions.clear()
            hit = self._positions[trip] = (stops, seq_pos)
        return hit

    def runs_on(self, trip: int, date: dt.date) -> bool:
        """True when ``trip`` runs on service date ``date``."""
        mask = self._runs.get(date)
        if mask is None:
            mask = self.tt.active_service_mask(date)
            self._runs[date] = mask
        svc = int(self.trip_service[trip])
        return bool(mask.shape[0] > svc and mask[svc])

    def midnight_s(self, trip: int, date: dt.date) -> int:
        """Unix time of the service-day origin of ``date`` in ``trip``'s agency timezone."""
        tz = self.trip_tz[int(self.trip_route[trip])]
        hit = self._midnights.get((date, tz))
        if hit is None:
            if len(self._midnights) > 1000:
                self._midnights.clear()
            hit = self._midnights[(date, tz)] = service_midnight_epoch_s(date, tz)
        return hit

    def tz_of(self, trip: int) -> str:
        """Agency timezone of ``trip``."""
        return self.trip_tz[int(self.trip_route[trip])]

    def first_last_s(self, trip: int) -> tuple[int, int]:
        """Scheduled first departure and last arrival (service-day seconds)."""
        base, n = self.trip_span(trip)
        return int(self.st_dep[base]), int(self.st_arr[base + n - 1])

    # ------------------------------------------------------------------ trips
    def match_trip(self, desc: pb.TripDescriptor, reference_s: int) -> TripMatch | NoMatch:
        """The trip instance a TripDescriptor refers to (see the module docstring);
        ``reference_s``: Unix time used to infer a missing ``start_date``."""
        trip_id = text(desc.trip_id)
        start_date_s = text(desc.start_date)
        start_time_s = text(desc.start_time)
        route_id = text(desc.route_id)
        if None in (trip_id, start_date_s, start_time_s, route_id):
            return NoMatch("invalid_text", "a trip descriptor field is not UTF-8 text")
        assert trip_id is not None and start_date_s is not None
        assert start_time_s is not None and route_id is not None
        date: dt.date | None = None
        if start_date_s:
            date = parse_start_date(start_date_s)
            if date is None:
                return NoMatch("bad_start_date", repr(start_date_s))
        start_s: int | None = None
        if start_time_s:
            start_s = parse_start_time(start_time_s)
            if start_s is None:
                return NoMatch("bad_start_time", repr(start_time_s))
        if trip_id:
            cands = self.trips_of_id(trip_id)
            if not cands:
                return NoMatch("unknown_trip", trip_id)
            if int(self.trip_frequency[cands[0]]) != 0:
                if start_s is None:
                    return NoMatch("frequency_trip_without_start_time", trip_id)
                if date is None:
                    return NoMatch("frequency_trip_without_start_date", trip_id)
                trip = self._frequency_instance(cands, start_s)
                if trip < 0:
                    return NoMatch("unknown_frequency_instance", f"{trip_id} at {start_time_s}")
            else:
                trip = cands[0]
        else:
            if not route_id or start_s is None or date is None or \
                    not desc.HasField("direction_id"):
                return NoMatch("unidentifiable_trip",
                               "no trip_id and not all of route_id, direction_id, start_time, "
                               "start_date")
            r = self.route(route_id)
            if r < 0:
                return NoMatch("unknown_trip", f"route {route_id}")
            sel = [int(t) for t in self._trips_of_route(r)
                   if int(self.trip_direction[t]) == int(desc.direction_id)
                   and int(self.trip_start[t]) == start_s and self.runs_on(int(t), date)]
            if not sel:
                return NoMatch("unknown_trip", f"route {route_id} direction "
                                               f"{desc.direction_id} at {start_time_s}")
            if len(sel) > 1:
                return NoMatch("ambiguous_trip", f"{len(sel)} trips of route {route_id} at "
                                                 f"{start_time_s}")
            trip = sel[0]
        if date is not None:
            if not self.runs_on(trip, date):
                return NoMatch("not_running_on_service_date",
                               f"{self.tt.strings['trip_id'][trip]} on {date}")
            return TripMatch(trip, date, self.tz_of(trip))
        return self._infer_date(trip, reference_s)

    def _frequency_instance(self, cands: list[int], start_s: int) -> int:
        starts = np.array([int(self.trip_start[t]) for t in cands], dtype=np.int64)
        k = int(np.argmin(np.abs(starts - start_s)))
        if starts[k] == start_s:
            return cands[k]
        if int(self.trip_frequency[cands[k]]) != FREQ_HEADWAY:
            return -1
        gaps = np.diff(starts)
        near = [int(gaps[k - 1])] if k > 0 else []
        near += [int(gaps[k])] if k < len(gaps) else []
        return cands[k] if near and abs(int(starts[k]) - start_s) <= min(near) else -1

    def _trips_of_route(self, route: int) -> np.ndarray:
        if self._route_trips is None:
            order = np.argsort(self.trip_route, kind="stable")
            bounds = np.searchsorted(self.trip_route[order],
                                     np.arange(len(self.tt.strings["route_id"]) + 1))
            self._route_trips = {r: order[bounds[r]: bounds[r + 1]]
                                 for r in self._routes.values()}
        return self._route_trips.get(route, np.zeros(0, dtype=np.int64))

    def _infer_date(self, trip: int, reference_s: int) -> TripMatch | NoMatch:
        tz = self.tz_of(trip)
        try:
            local = dt.datetime.fromtimestamp(reference_s, ZoneInfo(tz)).date()
            if not dt.date(1900, 1, 1) <= local <= dt.date(9000, 1, 1):
                raise ValueError(local)
        except (OverflowError, OSError, ValueError):
            return NoMatch("no_service_date", f"reference time {reference_s} out of range")
        first, last = self.first_last_s(trip)
        best: tuple[int, dt.date] | None = None
        idle: dt.date | None = None
        for delta in (-2, -1, 0, 1):
            d = local + dt.timedelta(days=delta)
            mid = service_midnight_epoch_s(d, tz)
            gap = max(mid + first - reference_s, reference_s - (mid + last), 0)
            if gap > MAX_INFERENCE_GAP_S:
                continue
            if not self.runs_on(trip, d):
                if idle is None:
                    idle = d
                continue
            if best is None or gap < best[0]:
                best = (gap, d)
        if best is not None:
            return TripMatch(trip, best[1], tz)
        name = self.tt.strings["trip_id"][trip]
        if idle is not None:
            return NoMatch("not_running_on_service_date", f"{name} does not run on {idle} "
                                                          "(date inferred from the feed time)")
        return NoMatch("no_service_date", f"{name}: no instance within "
                                          f"{MAX_INFERENCE_GAP_S // 3600} h of the feed time")
