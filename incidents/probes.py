"""Buses as traffic probes: GTFS-Realtime vehicle positions of road vehicles become live speed
observations of the car network.

Every vehicle-positions message the process ingests (pushed or polled; see
:meth:`incidents.engine.IncidentEngine.ingest_realtime`, which calls the hook in exactly one
process) goes through :meth:`BusProbes.ingest`. For each vehicle the last usable report is
kept in memory (the *anchor*); a new report of the same vehicle on the same trip instance
closes an **interval** anchor → report, whose speed becomes an observation of the car edges
the bus drove. The observations are appended to the store's speed log as one batch under the
actor ``bus_probe:<feed id>``, so every process applies them like a traffic centre's (with
their source, :data:`routing.live.SPEED_SOURCES`), and the congestion map and car routes use
them through the one cost model, with ``bus_probe`` as the source.

Rules (constants below):

* **Road vehicles only**: the trip's route type is bus (3, extended 700–716) or trolleybus
  (11, extended 800). Trams (0, extended 900–906) are left out by default: GTFS does not say
  whether a tram runs in the street with cars or on its own track, and a tram on reserved
  track says nothing about car traffic (``include_trams=True`` takes them in for cities
  whose trams share the lanes). Rail, ferries, cable cars … never. Reports without a matched
  trip are not used.
* **Consecutive reports of the same vehicle on the same trip instance** (trip and service
  date): 20 s ≤ Δt ≤ 5 min. A report less than 20 s after the anchor leaves the anchor in
  place (the next one closes a longer interval); a longer gap, another trip or an unusable
  report restarts from the new report.
* **Where**: both positions within 50 m of a car road, and within 50 m of the trip's shape.
  The distance driven is measured **along the shape** between the two positions (of all the
  places where the shape passes near a position, the pair with the least forward progress;
  the report's ``current_stop_sequence`` narrows the candidates when given; the anchor keeps
  the place chosen for it). Without a shape the stop-to-stop polyline of the trip's pattern
  serves as the shape; when a position is more than 50 m from that polyline, the straight
  line between the two positions does. A position off its shape (a detour) is not used,
  nor a report more than 10 m behind its anchor along the shape (``moved_backwards``).
* **Dwell removed**: an interval is not used when either report is ``STOPPED_AT``, or when
  either report is within 30 m of a stop of its trip and halted there (reported speed ≤
  0.5 m/s; without a reported speed, an interval average below 1 m/s). Each scheduled stop
  passed or reached between the two positions (after the first along the shape, up to the
  second) takes a **dwell allowance of 20 s** off the interval's time; when less than half
  of the interval is left, the anchor stays and the next report closes a longer interval
  (still ≤ 5 min).
* **Red lights are not jams**: a bus that moved less than 30 m since its anchor counts as
  held up only once it has been so for 2 min (longer than a signal's red phase); until then
  the anchor stays, and a wait at a light is averaged with the driving around it.
* **Plausible**: the speed (distance along the shape / time left) is at most 130 km/h (also
  before any dwell allowance: a teleport is never "explained" by stops) and at most 1.3 ×
  the free-flow speed of the edges matched; the distance along the shape is at
  least the straight-line distance less 30 m and at most 3 × it plus 200 m. Teleports, 0/0
  positions (refused by the parser) and jumps between trips produce nothing. Speeds below
  2 km/h are reported as 2 km/h (a bus stuck in a jam, away from any stop).
* **Matching**: the piece of the shape between the two positions (at least 30 m: a bus that
  barely moved is placed on the 30 m of shape around it) is matched onto car edges in its
  drawing direction with :class:`incidents.matching.NetworkMatcher` (15 m tolerance: a
  street counts when 60 % of it, or of the piece, lies along the piece). **One observation
  per matched way stretch** (consecutive edges of one OSM way), all at the interval's speed,
  observed at the second report's time, with **confidence 0.5** (a traffic centre's is 1.0:
  in the blend of :func:`routing.kernels.td.live_blend` a probe moves an edge's time half as
  far towards what it measured).
* Reports older than the ageing horizon (15 min) or more than a minute in the future are not
  used. Nothing here raises for a message's content; every vehicle that gives nothing is
  counted under its reason in :class:`ProbeReport`.

The anchors live in the memory of the process that ingests: one poller (the lease of
:mod:`incidents.realtime_sources`) sees every message of its source; pushes spread over
several workers give each worker only part of a vehicle's reports, so intervals get longer
or are lost (never wrong), and a restart starts every vehicle afresh.

A probe never replaces a traffic centre's fresh observation of the same edge (see
:mod:`incidents.speeds`), and probe batches are not learned into typical speeds (see
:mod:`incidents.engine`).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from gtfs.geo import haversine_m
from gtfs.realtime.decode import DecodedFeed
from gtfs.realtime.vehicles import VehiclePosition, parse_vehicle_positions
from gtfs.shapes import cut_shape
from gtfs.timetable import Timetable
from incidents.matching import GeometryMatchError
from incidents.speeds import BUS_PROBE_ACTOR, SpeedUpdates
from routing.kernels.td import FUTURE_TOLERANCE_MS
from routing.profiles import Mode

if TYPE_CHECKING:
    from incidents.engine import IncidentEngine
    from incidents.realtime import CheckedMessage

log = logging.getLogger("citynav.probes")

#: GTFS route types of road vehicles in car traffic: bus, trolleybus (basic and extended).
ROAD_ROUTE_TYPES = frozenset({3, 11, 800, *range(700, 717)})
#: Tram route types (taken only with ``include_trams``).
TRAM_ROUTE_TYPES = frozenset({0, *range(900, 907)})
MIN_INTERVAL_S = 20.0
MAX_INTERVAL_S = 300.0
#: A position farther than this from every car road is not used.
MAX_OFF_NETWORK_M = 50.0
#: A position farther than this from its trip's shape is not used.
MAX_OFF_SHAPE_M = 50.0
#: A halted vehicle this close to a stop of its trip is dwelling.
STOP_RADIUS_M = 30.0
#: Reported speed (m/s) at or below which a vehicle is halted.
HALT_REPORTED_MPS = 0.5
#: Without a reported speed: interval average (m/s) below which it is halted.
HALT_AVERAGE_MPS = 1.0
#: Seconds taken off an interval per stop passed or reached.
DWELL_ALLOWANCE_S = 20.0
#: Share of an interval that must be left after the dwell allowances.
MIN_MOVING_SHARE = 0.5
MAX_PROBE_KMH = 130.0
#: A probe may be at most this factor above the free-flow speed of its edges.
MAX_FREE_FLOW_FACTOR = 1.3
MIN_PROBE_KMH = 2.0
#: The distance along the shape may fall short of the straight line by this much...
DISTANCE_SLACK_M = 30.0
#: ...and exceed it at most this factor plus :data:`MAX_DETOUR_EXTRA_M`.
MAX_DETOUR_FACTOR = 3.0
MAX_DETOUR_EXTRA_M = 200.0
#: Shortest piece of shape matched (a vehicle that barely moved is placed on this much).
MIN_PIECE_M = 30.0
#: A vehicle that moved less than MIN_PIECE_M counts as held up only after this long (a
#: signal's red phase is shorter): until then the anchor stays.
MIN_STANDING_S = 120.0
MATCH_TOLERANCE_M = 15.0
PROBE_CONFIDENCE = 0.5
#: Observations older than this are useless (the speed board's ageing horizon).
MAX_REPORT_AGE_S = 900.0


@dataclass
class ProbeReport:
    """What one message gave: ``vehicles`` seen, ``intervals`` measured, ``observations`` (way
    stretches) and car ``edges`` logged, ``skipped`` per reason, and the time it took."""

    feed_id: str = ""
    vehicles: int = 0
    intervals: int = 0
    observations: int = 0
    edges: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    elapsed_ms: float = 0.0
    #: sequence number of the speed batch logged (None: nothing measured)
    batch_seq: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"feed_id": self.feed_id, "vehicles": self.vehicles,
                "intervals": self.intervals, "observations": self.observations,
                "edges": self.edges, "skipped": dict(self.skipped),
                "elapsed_ms": round(self.elapsed_ms, 1), "batch_seq": self.batch_seq}


@dataclass(frozen=True)
class _Path:
    """A trip's geometry: the shape (or stop polyline) in degrees and plane metres, the
    distance along it of each point and of each stop of the trip's pattern."""

    lon: np.ndarray
    lat: np.ndarray
    x: np.ndarray
    y: np.ndarray
    cum: np.ndarray  # metres along, non-decreasing
    stop_along: np.ndarray  # per pattern stop
    stop_x: np.ndarray
    stop_y: np.ndarray
    stop_seq: np.ndarray  # GTFS stop_sequence per pattern stop (of this trip)
    from_shape: bool


@dataclass(frozen=True)
class _Anchor:
    """The last usable report of a vehicle."""

    trip: int
    service_date: date | None
    ts: int
    lon: float
    lat: float
    x: float
    y: float
    speed_mps: float | None
    stopped_at: bool
    near_stop: bool
    #: candidate distances along the trip's path (one once an interval chose it)
    along: tuple[float, ...]


@dataclass
class _Measure:
    """One measured interval: car edges (in travel order), speed, time."""

    edges: np.ndarray
    speed_kmh: float
    at_s: float


class BusProbes:
    """Turns vehicle positions into bus-probe speed batches (see the module docstring).
    Thread-safe; holds the last usable report per vehicle of the process."""

    def __init__(self, engine: IncidentEngine, tt: Timetable, *,
                 confidence: float = PROBE_CONFIDENCE, include_trams: bool = False) -> None:
        self.engine = engine
        self.tt = tt
        self.confidence = float(confidence)
        self.route_types = ROAD_ROUTE_TYPES | (TRAM_ROUTE_TYPES if include_trams
                                               else frozenset())
        matcher = engine.matcher
        self.matcher = matcher
        self.has_roads = Mode.CAR in matcher.modes
        snap = engine.snapshot
        ar = tt.arrays
        self._trip_route_type = np.asarray(ar["route_type"])[np.asarray(ar["trip_route"])]
        self._proj = matcher.projection
        if self.has_roads:
            car = snap.modes[Mode.CAR]
            mi = matcher.modes[Mode.CAR]
            self._car_seg = mi.has(np.arange(matcher.seg_length_m.shape[0]))
            self._edge_way = np.asarray(snap.segments.way_id, np.int64)[
                np.asarray(car.edge_seg)]
            self._edge_len = np.asarray(car.edge_length_m, np.float64)
            self._edge_ff_ms = np.asarray(car.edge_time_ms, np.float64)
        self._paths: dict[int, _Path] = {}
        self._shapes: dict[int, tuple[np.ndarray, ...]] = {}
        self._patterns: dict[int, tuple[np.ndarray, ...]] = {}
        self._anchors: dict[tuple[str, str], _Anchor] = {}
        self._lock = threading.Lock()
        #: the report of the last message (None before the first)
        self.last_report: ProbeReport | None = None
        #: totals since start: messages, observations, edges, skipped per reason
        self.totals: Counter[str] = Counter()

    # ---------------------------------------------------------------- the hook
    def __call__(self, checked: CheckedMessage, now: datetime) -> None:
        """The engine's ``on_vehicle_positions`` hook."""
        self.ingest(checked.feed_id, checked.decoded, now)

    def ingest(self, feed_id: str, decoded: DecodedFeed, now: datetime) -> ProbeReport:
        """Measure a decoded vehicle-positions message of ``feed_id`` and log what it gave as
        one speed batch (then bring this process's state up to date)."""
        t0 = time.perf_counter()
        if not self.has_roads:
            rep = ProbeReport(feed_id)
            rep.skipped["no_street_network"] = len(decoded.entities)
        else:
            try:
                vehicles, _ = parse_vehicle_positions(decoded, self.tt, feed_id, now=now)
            except KeyError:  # not a feed of this timetable
                vehicles = {}
            updates, rep = self.measure(feed_id, vehicles.values(), now)
            if len(updates):
                eng = self.engine
                rep.batch_seq = eng.speed_log.append(eng.snapshot.snapshot_id,
                                                     BUS_PROBE_ACTOR + feed_id, updates, now)
                eng.sync(now)
        rep.elapsed_ms = (time.perf_counter() - t0) * 1000.0
        with self._lock:
            self.last_report = rep
            self.totals["messages"] += 1
            self.totals["observations"] += rep.observations
            self.totals["edges"] += rep.edges
            self.totals.update({f"skipped.{k}": v for k, v in rep.skipped.items()})
        log.debug("bus probes %s: %s", feed_id, rep.to_dict())
        return rep

    # ---------------------------------------------------------------- measuring
    def measure(self, feed_id: str, vehicles: Iterable[VehiclePosition], now: datetime
                ) -> tuple[SpeedUpdates, ProbeReport]:
        """The observations of these reports (updating the anchors), without logging them."""
        rep = ProbeReport(feed_id)
        vs = list(vehicles)
        rep.vehicles = len(vs)
        if not vs or not self.has_roads:
            return SpeedUpdates.empty(), rep
        now_s = now.timestamp()
        lon = np.array([v.lon for v in vs], np.float64)
        lat = np.array([v.lat for v in vs], np.float64)
        x, y = self._proj.to_xy(lon, lat)
        near = self._near_car_roads(np.asarray(x), np.asarray(y))
        edges: list[np.ndarray] = []
        speeds: list[float] = []
        times: list[float] = []
        with self._lock:
            for i, v in enumerate(vs):
                try:
                    reason, got = self._vehicle(feed_id, v, float(x[i]), float(y[i]),
                                                bool(near[i]), now_s)
                except Exception:  # noqa: BLE001 - one odd vehicle never stops the others
                    log.exception("bus probe of vehicle %r failed", v.vehicle_id)
                    reason, got = "error", None
                if got is None:
                    rep.skipped[reason] += 1
                    continue
                rep.intervals += 1
                for stretch in self._stretches(got.edges):
                    edges.append(stretch)
                    speeds.append(got.speed_kmh)
                    times.append(got.at_s)
            self._prune(feed_id, now_s)
        if not edges:
            return SpeedUpdates.empty(), rep
        sizes = np.array([e.shape[0] for e in edges], np.int64)
        offsets = np.zeros(sizes.shape[0] + 1, np.int64)
        np.cumsum(sizes, out=offsets[1:])
        updates = SpeedUpdates(offsets, np.concatenate(edges), np.array(speeds, np.float64),
                               np.array(times, np.float64),
                               np.full(len(speeds), self.confidence, np.float64))
        rep.observations = len(updates)
        rep.edges = updates.n_edges
        return updates, rep

    def _near_car_roads(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        pts = shapely.points(x, y)
        qi, ti = self.matcher.tree.query(pts, predicate="dwithin", distance=MAX_OFF_NETWORK_M)
        near = np.zeros(x.shape[0], bool)
        near[qi[self._car_seg[ti]]] = True
        return near

    def _vehicle(self, feed_id: str, v: VehiclePosition, x: float, y: float, near: bool,
                 now_s: float) -> tuple[str, _Measure | None]:
        """Update the vehicle's anchor with report ``v``; the interval it closes, if usable
        (else the reason)."""
        key = (feed_id, v.vehicle_id)
        trip = v.trip
        if trip < 0 or trip >= self._trip_route_type.shape[0]:
            self._anchors.pop(key, None)
            return "unmatched_trip", None
        if int(self._trip_route_type[trip]) not in self.route_types:
            self._anchors.pop(key, None)
            return "not_road_vehicle", None
        ts = v.timestamp_s
        if ts > now_s + FUTURE_TOLERANCE_MS / 1000.0 or ts < now_s - MAX_REPORT_AGE_S:
            return "stale_or_future", None
        if not near:
            self._anchors.pop(key, None)
            return "off_network", None
        path = self._path(trip)
        along = self._locate(path, x, y, v.current_stop_sequence)
        if path.from_shape and not along:
            self._anchors.pop(key, None)
            return "off_shape", None
        near_stop = bool(path.stop_x.shape[0]) and bool(
            (np.hypot(path.stop_x - x, path.stop_y - y) <= STOP_RADIUS_M).any())
        new = _Anchor(trip, v.service_date, ts, v.lon, v.lat, x, y, v.speed_mps,
                      v.current_status == "STOPPED_AT", near_stop, tuple(along))
        prev = self._anchors.get(key)
        if prev is None:
            self._anchors[key] = new
            return "first_report", None
        if prev.trip != trip or prev.service_date != v.service_date:
            self._anchors[key] = new
            return "new_trip", None
        dt = ts - prev.ts
        if dt <= 0:
            return "not_newer", None
        if dt < MIN_INTERVAL_S:
            return "too_soon", None  # the anchor stays: the next report closes a longer one
        if dt > MAX_INTERVAL_S:
            self._anchors[key] = new
            return "gap_too_long", None
        reason, got, chosen = self._interval(path, prev, new, dt)
        if reason == "extend":
            return "extended", None  # keep the anchor: the next report closes a longer one
        self._anchors[key] = new if chosen is None else dataclasses.replace(new,
                                                                            along=(chosen,))
        return reason, got

    def _interval(self, path: _Path, q: _Anchor, p: _Anchor, dt: float
                  ) -> tuple[str, _Measure | None, float | None]:
        """Measure anchor ``q`` → report ``p``: (reason, measure or None, the distance
        along the path chosen for ``p``)."""
        straight = math.hypot(p.x - q.x, p.y - q.y)
        if q.stopped_at or p.stopped_at:
            return "dwell_stopped_at", None, None
        avg = straight / dt
        for a in (q, p):
            halted = a.speed_mps <= HALT_REPORTED_MPS if a.speed_mps is not None else \
                avg < HALT_AVERAGE_MPS
            if a.near_stop and halted:
                return "dwell_at_stop", None, None
        pair = _choose(q.along, p.along)
        if pair is not None:
            dq, dp = pair
            travelled = max(dp - dq, 0.0)
            n_stops = int(((path.stop_along > dq) & (path.stop_along <= dp)).sum())
        elif path.from_shape or (q.along and p.along):
            return "moved_backwards", None, None
        else:  # stop polyline too far: the straight line between the two positions
            dq = dp = math.nan
            travelled = straight
            n_stops = _stops_on_segment(path, q, p)
        if travelled < straight - DISTANCE_SLACK_M or \
                travelled > MAX_DETOUR_FACTOR * straight + MAX_DETOUR_EXTRA_M:
            return "inconsistent_distance", None, dp if pair else None
        if travelled / dt * 3.6 > MAX_PROBE_KMH:  # too fast even without any dwell
            return "implausible_speed", None, dp if pair else None
        if travelled < MIN_PIECE_M and dt < MIN_STANDING_S:
            return "extend", None, None  # a red light, or a jam? Wait and see.
        moving = dt - n_stops * DWELL_ALLOWANCE_S
        if moving < MIN_MOVING_SHARE * dt:
            return "extend", None, None
        kmh = travelled / moving * 3.6
        if kmh > MAX_PROBE_KMH:
            return "implausible_speed", None, dp if pair else None
        piece = self._piece(path, q, p, dq, dp, travelled)
        if piece is None:
            return "too_short", None, dp if pair else None
        try:
            m = self.matcher.match({"type": "LineString", "coordinates": piece.tolist()},
                                   "forward", modes=(Mode.CAR,),
                                   tolerance_m=MATCH_TOLERANCE_M)
        except GeometryMatchError:
            return "no_edges", None, dp if pair else None
        edges = np.asarray(m.edges.get(Mode.CAR, np.zeros(0, np.int64)), np.int64)
        if edges.shape[0] == 0:
            return "no_edges", None, dp if pair else None
        ff_kmh = float(self._edge_len[edges].sum() / max(self._edge_ff_ms[edges].sum(), 1.0)
                       * 3600.0)
        if kmh > MAX_FREE_FLOW_FACTOR * ff_kmh:
            return "implausible_speed", None, dp if pair else None
        return "used", _Measure(edges, max(kmh, MIN_PROBE_KMH), float(p.ts)), \
            dp if pair else None

    def _piece(self, path: _Path, q: _Anchor, p: _Anchor, dq: float, dp: float,
               travelled: float) -> np.ndarray | None:
        """``[[lon, lat], ...]`` of what the bus drove (at least :data:`MIN_PIECE_M`)."""
        if math.isnan(dq):
            if travelled < MIN_PIECE_M:
                return None
            return np.array([[q.lon, q.lat], [p.lon, p.lat]], np.float64)
        a, b = dq, dp
        if b - a < MIN_PIECE_M:
            mid = (a + b) / 2
            a = max(mid - MIN_PIECE_M / 2, float(path.cum[0]))
            b = min(a + MIN_PIECE_M, float(path.cum[-1]))
            a = max(b - MIN_PIECE_M, float(path.cum[0]))
            if b - a < MIN_PIECE_M / 2:
                return None
        return cut_shape(path.lon, path.lat, path.cum, a, b)

    def _stretches(self, edges: np.ndarray) -> list[np.ndarray]:
        """Consecutive runs of edges of one OSM way."""
        ways = self._edge_way[edges]
        cut = np.flatnonzero(ways[1:] != ways[:-1]) + 1
        return np.split(edges, cut)

    def _prune(self, feed_id: str, now_s: float) -> None:
        old = [k for k, a in self._anchors.items()
               if k[0] == feed_id and a.ts < now_s - MAX_INTERVAL_S - MAX_REPORT_AGE_S]
        for k in old:
            del self._anchors[k]

    # ---------------------------------------------------------------- geometry
    def _path(self, trip: int) -> _Path:
        """The trip's geometry (cached per trip; shape and pattern arrays are shared)."""
        hit = self._paths.get(trip)
        if hit is not None:
            return hit
        ar = self.tt.arrays
        shape = int(ar["trip_shape"][trip])
        pattern = int(ar["trip_pattern"][trip])
        pat = self._patterns.get(pattern)
        if pat is None:
            stops = self.tt.pattern_stop_list(pattern)
            slon = np.asarray(ar["stop_lon"], np.float64)[stops]
            slat = np.asarray(ar["stop_lat"], np.float64)[stops]
            sx, sy = self._proj.to_xy(slon, slat)
            pat = self._patterns[pattern] = (slon, slat, np.asarray(sx), np.asarray(sy))
        slon, slat, sx, sy = pat
        n = slon.shape[0]
        st_base = int(ar["pattern_st_offsets"][pattern]) + \
            (trip - int(ar["pattern_trip_offsets"][pattern])) * n
        seq = np.asarray(ar["st_stop_sequence"][st_base:st_base + n], np.int64)
        if shape >= 0:
            geom = self._shapes.get(shape)
            if geom is None:
                a, b = (int(v) for v in ar["shape_offsets"][shape:shape + 2])
                lon = np.asarray(ar["shape_lon"][a:b], np.float64)
                lat = np.asarray(ar["shape_lat"][a:b], np.float64)
                x, y = self._proj.to_xy(lon, lat)
                geom = self._shapes[shape] = (lon, lat, np.asarray(x), np.asarray(y),
                                              np.asarray(ar["shape_dist_m"][a:b], np.float64))
            lon, lat, x, y, cum = geom
            off = int(ar["trip_shape_dist_offset"][trip])
            stop_along = np.asarray(ar["shape_stop_dist_m"][off:off + n], np.float64) \
                if off >= 0 else np.full(n, np.nan)
        else:
            lon, lat, x, y = slon, slat, sx, sy
            cum = np.zeros(n, np.float64)
            if n > 1:
                cum[1:] = np.cumsum(haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:]))
            stop_along = cum
        path = _Path(lon, lat, x, y, cum, stop_along, sx, sy, seq, shape >= 0)
        if len(self._paths) > 50_000:
            self._paths.clear()
        self._paths[trip] = path
        return path

    def _locate(self, path: _Path, x: float, y: float, stop_seq: int | None) -> list[float]:
        """Distances along ``path`` of every place it passes within
        :data:`MAX_OFF_SHAPE_M` of the point (one per pass, the nearest), narrowed to the
        stretch before the reported next stop when that leaves any."""
        if path.x.shape[0] < 2:
            return []
        ax, ay = path.x[:-1], path.y[:-1]
        dx, dy = np.diff(path.x), np.diff(path.y)
        ll = dx * dx + dy * dy
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.where(ll > 0, ((x - ax) * dx + (y - ay) * dy) / ll, 0.0)
        t = np.clip(t, 0.0, 1.0)
        d = np.hypot(ax + t * dx - x, ay + t * dy - y)
        idx = np.flatnonzero(d <= MAX_OFF_SHAPE_M)
        if idx.shape[0] == 0:
            return []
        runs = np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1)
        out = []
        for r in runs:
            j = int(r[np.argmin(d[r])])
            out.append(float(path.cum[j] + t[j] * (path.cum[j + 1] - path.cum[j])))
        if stop_seq is not None and len(out) > 1 and path.stop_seq.shape[0]:
            k = np.flatnonzero(path.stop_seq == stop_seq)
            if k.shape[0] and not np.isnan(path.stop_along[k[0]]):
                hi = float(path.stop_along[k[0]]) + MAX_OFF_SHAPE_M
                lo = float(path.stop_along[k[0] - 1]) - MAX_OFF_SHAPE_M if k[0] > 0 \
                    else -math.inf
                narrowed = [a for a in out if lo <= a <= hi]
                if narrowed:
                    out = narrowed
        return out


def _choose(qs: tuple[float, ...], ps: tuple[float, ...]) -> tuple[float, float] | None:
    """The (anchor, report) pair of distances along the path with the least forward
    progress (a few metres back count as standing still); the earliest on ties."""
    best: tuple[float, float] | None = None
    for dq in qs:
        for dp in ps:
            if dp < dq - 10.0:
                continue
            if best is None or (dp - dq, dq) < (best[1] - best[0], best[0]):
                best = (dq, dp)
    return best


def _stops_on_segment(path: _Path, q: _Anchor, p: _Anchor) -> int:
    """Stops of the trip within :data:`STOP_RADIUS_M` of the straight line q → p whose
    projection falls after q, up to p."""
    if path.stop_x.shape[0] == 0:
        return 0
    dx, dy = p.x - q.x, p.y - q.y
    ll = dx * dx + dy * dy
    if ll <= 0:
        return 0
    t = ((path.stop_x - q.x) * dx + (path.stop_y - q.y) * dy) / ll
    d = np.hypot(q.x + np.clip(t, 0, 1) * dx - path.stop_x,
                 q.y + np.clip(t, 0, 1) * dy - path.stop_y)
    return int(((t > 0) & (t <= 1) & (d <= STOP_RADIUS_M)).sum())


__all__ = ["BUS_PROBE_ACTOR", "ROAD_ROUTE_TYPES", "TRAM_ROUTE_TYPES", "BusProbes",
           "ProbeReport"]
