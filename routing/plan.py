"""Multimodal journey planning: walk + public transport (RAPTOR) + walk, or walk only.

Access and egress are walking times on the street graph (bounded Dijkstra from the snapped
origin / to the snapped destination, scaled to the requested walking speed) to every linked
stop within ``max_walk_m``; transfers between stops use the walking transfers computed at
build time. The timetable search is :mod:`gtfs.query` (RAPTOR). Itineraries are assembled
with street geometry and steps for walk legs and shape geometry for transit legs.

On a transit-only snapshot (no street network) walking is straight-line instead
(:class:`routing.straight_walk.StraightLineWalk`: straight line × the snapshot's detour
factor at the requested speed, for access, egress and walk-only; the build's transfers are
straight lines too): walk legs get a two-point geometry, no steps and ``straight_line``
set, and only walking reaches the first stop.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict
from zoneinfo import ZoneInfo

import numpy as np

from gtfs import query as tq
from gtfs.day import DayContext, day_trip_mask, service_midnight_epoch_s
from gtfs.live import TransitLive, trip_stop_times
from gtfs.timetable import Timetable
from routing.itinerary import (
    AgencyInfo,
    Itinerary,
    Leg,
    Place,
    PlanResult,
    StopCall,
    TransitRouteInfo,
)
from routing.kernels.limits import INF_WEIGHT
from routing.kernels.reach import UNREACHED, bounded_dijkstra, csr_by_tail
from routing.profiles import Mode
from routing.road import Endpoint, RoadRouter, RoutingError
from routing.snapshot import Snapshot
from routing.state import RoutingState
from routing.straight_walk import WALK_DETOUR_FACTOR, StraightLineWalk, walk_seconds
from routing.transit_build import WALK_DEFAULT_MPS, stop_offsets, walk_csr
from routing.transit_info import TransitInfo, transit_info

if TYPE_CHECKING:  # scipy loads with the first plan that walks on the street graph
    from scipy.sparse import csr_matrix

ROUTE_TYPE_NAMES = {0: "tram", 1: "subway", 2: "rail", 3: "bus", 4: "ferry", 5: "cable_tram",
                    6: "aerial_lift", 7: "funicular", 11: "trolleybus", 12: "monorail"}


class _QueryOptions(TypedDict):
    """The keyword options every :mod:`gtfs.query` search of a plan takes."""

    max_rounds: int
    min_transfer_s: int
    wheelchair: int
    footpaths: tq.Footpaths | None
    live: TransitLive | None


class PlanError(RoutingError):
    """A journey request that cannot be answered (mapped to 422 by the API)."""


class UnknownStopError(RoutingError):
    """A ``stop:ID`` that the timetable does not know (404)."""


class AccessModeError(PlanError):
    """An access mode the snapshot cannot route (bike or car without a street network)."""


class NoTransitError(RoutingError):
    """The snapshot has no timetable."""


@dataclass
class PlanRequest:
    """What a commuter asks. Coordinates are (lat, lon); a stop is its index."""

    origin: tuple[float, float] | int
    destination: tuple[float, float] | int
    time: dt.datetime  # aware; departure time, or arrival time when arrive_by
    arrive_by: bool = False
    window_s: int = 0
    max_transfers: int = 4
    walk_speed_mps: float = WALK_DEFAULT_MPS
    max_walk_m: float = 1000.0
    min_transfer_s: int = 60
    #: step-free journeys only: trips and stops marked not accessible are never used; those
    #: of unknown accessibility are allowed with a penalty (strict: only marked accessible)
    wheelchair: bool = False
    wheelchair_strict: bool = False
    num_itineraries: int = 3
    #: how the origin reaches its first stop: walk, bike, or car (park and ride); car and
    #: bike use the live weights (speeds, incidents) of that mode
    access_mode: str = Mode.WALK
    max_access_s: int = 1800


@dataclass
class TransitData:
    """The snapshot's timetable, stop links and walking transfers (memory-mapped)."""

    tt: Timetable
    stop_seg: np.ndarray
    stop_frac: np.ndarray
    stop_link_m: np.ndarray
    fp_offsets: np.ndarray
    fp_to: np.ndarray
    fp_time_ms: np.ndarray
    fp_dist_m: np.ndarray
    validation: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, snapshot_dir: Path) -> TransitData | None:
        """Load ``SNAPSHOT/transit`` (None when the snapshot has no transit)."""
        d = Path(snapshot_dir) / "transit"
        if not (d / "timetable").is_dir():
            return None

        def ld(n: str) -> np.ndarray:
            return np.asarray(np.load(d / f"{n}.npy", mmap_mode="r"))

        val = json.loads((d / "validation.json").read_text()) \
            if (d / "validation.json").is_file() else {}
        return cls(Timetable.load(d / "timetable"), ld("stop_seg"), ld("stop_frac"),
                   ld("stop_link_m"), ld("fp_offsets"), ld("fp_to"), ld("fp_time_ms"),
                   ld("fp_dist_m"), val)

    @functools.cached_property
    def ref_tz(self) -> str:
        """Reference timezone of the kernels' clock (the first feed's agency timezone)."""
        return self.tt.strings["agency_timezone"][0]

    @functools.cached_property
    def service_period(self) -> tuple[dt.date, dt.date] | None:
        """First and last date on which any feed runs a service."""
        periods = [f.get("service_period") for f in self.tt.meta.get("feeds", [])]
        periods = [p for p in periods if p]
        if not periods:
            return None
        return (min(dt.date.fromisoformat(p[0]) for p in periods),
                max(dt.date.fromisoformat(p[1]) for p in periods))


class Planner:
    """Plans journeys on one snapshot with its road router's walk graph."""

    def __init__(self, snapshot: Snapshot, road: RoadRouter, transit: TransitData,
                 warm: bool = True) -> None:
        """``warm``: load (or compile) the transit kernels now, so that the first plan
        finds them ready (a one-off command that may not plan skips it)."""
        self.snapshot, self.road, self.transit = snapshot, road, transit
        self.tt = transit.tt
        self._lock = threading.Lock()
        self._walk_cache: dict[int, tuple[np.ndarray, csr_matrix, csr_matrix, tuple]] = {}
        self._day_cache: dict[dt.date, DayContext] = {}
        self._fp_cache: dict[tuple[float, float], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._kernel_csr: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self.stop_ids: list[str] = self.tt.strings["stop_id"]
        self._stop_index = {s: i for i, s in enumerate(self.stop_ids)}
        #: straight-line walking (transit-only snapshot), or None: walking on the streets
        self.straight: StraightLineWalk | None = None
        if not snapshot.has_road:
            walking = snapshot.meta.get("walking") or {}
            self.straight = StraightLineWalk(
                self.tt.arrays["stop_lat"], self.tt.arrays["stop_lon"],
                float(walking.get("detour_factor", WALK_DETOUR_FACTOR)))
        if warm:
            tq.warmup(self.tt)

    # ---------------------------------------------------------------- lookups
    def resolve_stop(self, stop_id: str) -> int:
        """Index of a stop id, namespaced (``feed:id``) or plain when unambiguous."""
        if stop_id in self._stop_index:
            return self._stop_index[stop_id]
        matches = [i for s, i in self._stop_index.items() if s.split(":", 1)[-1] == stop_id]
        if len(matches) == 1:
            return matches[0]
        raise UnknownStopError(f"unknown stop '{stop_id}'" + (
            " (ambiguous across feeds; use FEED:ID)" if matches else ""))

    def day(self, date: dt.date) -> DayContext:
        """The (cached) running trips of a service date."""
        with self._lock:
            d = self._day_cache.get(date)
            if d is None:
                if len(self._day_cache) > 8:
                    self._day_cache.clear()
                d = self._day_cache[date] = day_trip_mask(self.tt, date, self.transit.ref_tz)
            return d

    def clock(self, t: dt.datetime) -> tuple[dt.date, int]:
        """(service date, seconds since its midnight) in the reference timezone."""
        local = t.astimezone(ZoneInfo(self.transit.ref_tz))
        date = local.date()
        return date, int(t.timestamp()) - service_midnight_epoch_s(date, self.transit.ref_tz)

    def check_date(self, date: dt.date) -> None:
        """Raise :class:`PlanError` when the date lies outside every feed's service."""
        period = self.transit.service_period
        if period and not (period[0] <= date <= period[1]):
            raise PlanError(f"{date.isoformat()} is outside the timetable's service period "
                            f"{period[0].isoformat()} to {period[1].isoformat()}")

    # ---------------------------------------------------------------- walking
    def ride_junction_times(self, state: RoutingState, mode: str, lat: float, lon: float,
                            limit_ms: float) -> np.ndarray:
        """Cost (ms; ``inf`` beyond ``limit_ms``) from a point to every junction by ``mode``
        (bike or car) on ``state``'s weights, on the mode's kernel graph with its arc
        weights: turn restrictions, barriers, turn costs and signals count as in road
        routes (destination-only entries carry their routing penalty, so such roads are
        used only to start there). Raises :class:`routing.road.SnapError`."""
        mr = self.road.mode_router(mode)
        a = mr.arrays
        w = state.weights(mode)
        ep = self.road.snap(state, mode, lat, lon, "from", w)
        with self._lock:
            csr = self._kernel_csr.get(mode)
        if csr is None:
            csr = csr_by_tail(int(a.kernel_node_count), mr.arc_tail, np.asarray(a.arc_head))
            with self._lock:
                self._kernel_csr[mode] = csr
        off, head, arc_id = csr
        aw = state.memo(f"plan:arcw:{mode}", lambda: np.ascontiguousarray(
            np.asarray(mr.arc_weights(np.asarray(w, dtype=np.int64)))[arc_id]))
        seg_len = self.road.seg_length_m
        nodes, costs = [], []
        for e, metres in ep.edges:
            full = float(seg_len[mr.edge_seg[e]])
            f = min(max(metres / full, 0.0), 1.0) if full > 0 else 0.0
            nodes.append(int(mr.edge_head_knode[e]))
            costs.append(int(round(float(w[e]) * (1.0 - f))))
        kd = bounded_dijkstra(off, head, aw, np.asarray(nodes, np.int64),
                              np.asarray(costs, np.int64), np.int64(round(limit_ms)))
        jt = np.full(self.snapshot.node_lon.shape[0], np.inf)
        reached = kd < UNREACHED
        np.minimum.at(jt, np.asarray(a.knode_junction)[reached], kd[reached].astype(np.float64))
        return jt

    def ride_times(self, state: RoutingState, lat: float, lon: float, req: PlanRequest
                   ) -> tuple[np.ndarray, np.ndarray]:
        """Time (s) from a point to every stop by ``req.access_mode`` (bike or car, on that
        mode's weights in ``state``, obeying the mode's turn rules and costs: see
        :meth:`ride_junction_times`) to a junction at the stop's street, then on foot along
        it."""
        dist = self.ride_junction_times(state, req.access_mode, lat, lon,
                                        req.max_access_s * 1000.0)
        _, _, _, (su, scu, sv, scv) = self._walk(state.weights(Mode.WALK))
        scale = WALK_DEFAULT_MPS / req.walk_speed_mps
        t = np.minimum(dist[su] + scu * scale, dist[sv] + scv * scale)
        ok = np.flatnonzero(np.isfinite(t) & (t <= req.max_access_s * 1000.0))
        return ok.astype(np.int32), np.ceil(t[ok] / 1000.0).astype(np.int64)

    def _walk(self, w: np.ndarray) -> tuple[np.ndarray, csr_matrix, csr_matrix, tuple]:
        key = id(w)
        with self._lock:
            hit = self._walk_cache.get(key)
            if hit is not None and hit[0] is w:
                return hit
            g = self.road.modes[Mode.WALK].arrays
            n = self.snapshot.node_lon.shape[0]
            fwd = walk_csr(g, n, np.where(w >= INF_WEIGHT, np.inf, w))
            offs = stop_offsets(self.snapshot.segments, g, self.transit.stop_seg,
                                self.transit.stop_frac, w)
            entry = (w, fwd, fwd.T.tocsr(), offs)
            self._walk_cache = {key: entry}
            return entry

    def walk_times(self, state: RoutingState, lat: float, lon: float, towards: bool,
                   req: PlanRequest) -> tuple[np.ndarray, np.ndarray]:
        """Walking time (s) between a coordinate and every stop within ``max_walk_m`` on
        ``state``'s walk weights: from the point to stops, or from stops to the point when
        ``towards``. Straight lines × the detour factor on a transit-only snapshot."""
        if self.straight is not None:
            return self.straight.stop_times(lat, lon, req.max_walk_m, req.walk_speed_mps)
        w = state.weights(Mode.WALK)
        ep = self.road.snap(state, Mode.WALK, lat, lon, "to" if towards else "from", w)
        _, fwd, bwd, (su, scu, sv, scv) = self._walk(w)
        seg = ep.snap.segment
        limit_ms = req.max_walk_m / WALK_DEFAULT_MPS * 1000.0
        dist = self._from_endpoint(bwd if towards else fwd, Mode.WALK, ep, w, towards, limit_ms)
        t = np.minimum(dist[su] + scu, dist[sv] + scv)
        mr = self.road.modes[Mode.WALK]
        same = self.transit.stop_seg == seg
        # a point inside a segment reaches stops on that segment directly along it (a point
        # on a junction reaches them through the junction, above)
        if same.any() and all(int(mr.edge_seg[e]) == seg for e, _ in ep.edges):
            sf = self.transit.stop_frac[same]
            pf = ep.snap.fraction
            wseg = min(float(w[e]) for e, _ in ep.edges)
            t[same] = np.minimum(t[same], np.abs(sf - pf) * wseg)
        scale = WALK_DEFAULT_MPS / req.walk_speed_mps
        t_s = t / 1000.0 * scale
        ok = np.flatnonzero(np.isfinite(t) & (t <= limit_ms))
        return ok.astype(np.int32), np.ceil(t_s[ok]).astype(np.int64)

    def _from_endpoint(self, graph: csr_matrix, mode: str, ep: Endpoint, w: np.ndarray,
                       towards: bool, limit_ms: float) -> np.ndarray:
        """Cost (ms) from a snapped endpoint to every junction (``towards``: from every
        junction to it, on the transposed graph). Each of the endpoint's edges is entered
        at the metres it says — on its own segment, which for a point on a junction is not
        the snapped one."""
        mr = self.road.modes[mode]
        seg_len = self.road.seg_length_m
        best: dict[int, float] = {}
        for e, metres in ep.edges:
            full_len = float(seg_len[mr.edge_seg[e]])
            frac = min(max(metres / full_len, 0.0), 1.0) if full_len > 0 else 0.0
            if towards:  # from the edge's tail, `frac` of it into the point
                node, off = int(mr.edge_tail[e]), frac * float(w[e])
            else:  # from the point, the rest of the edge to its head
                node, off = int(mr.edge_head[e]), (1.0 - frac) * float(w[e])
            best[node] = min(best.get(node, np.inf), off)
        n = self.snapshot.node_lon.shape[0]
        dist = np.full(n, np.inf)
        if not best:
            return dist
        nodes = list(best)
        from scipy.sparse.csgraph import dijkstra

        d = dijkstra(graph, directed=True, indices=nodes, limit=limit_ms)
        for row, node in zip(np.atleast_2d(d), nodes, strict=True):
            np.minimum(dist, row + best[node], out=dist)
        return dist

    def footpaths(self, req: PlanRequest) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Walking transfers within ``max_walk_m`` at the requested speed (CSR, seconds)."""
        key = (round(req.walk_speed_mps, 4), round(req.max_walk_m, 1))
        with self._lock:
            hit = self._fp_cache.get(key)
            if hit is not None:
                return hit
            t = self.transit
            keep = np.asarray(t.fp_dist_m) <= req.max_walk_m
            src = np.repeat(np.arange(t.fp_offsets.shape[0] - 1), np.diff(t.fp_offsets))
            offsets = np.zeros(t.fp_offsets.shape[0], dtype=np.int64)
            np.cumsum(np.bincount(src[keep], minlength=offsets.shape[0] - 1), out=offsets[1:])
            dur = np.ceil(np.asarray(t.fp_time_ms)[keep] / 1000.0
                          * (WALK_DEFAULT_MPS / req.walk_speed_mps)).astype(np.int32)
            out = (offsets, np.asarray(t.fp_to)[keep].astype(np.int32), dur)
            if len(self._fp_cache) > 16:
                self._fp_cache.clear()
            self._fp_cache[key] = out
            return out

    # ---------------------------------------------------------------- planning
    def plan(self, state: RoutingState, req: PlanRequest) -> PlanResult:
        """Itineraries for a request in ``state`` (every leg reads the same state)."""
        date, t_s = self.clock(req.time)
        self.check_date(date)
        day = self.day(date)
        if req.access_mode not in (Mode.WALK, Mode.BIKE, Mode.CAR):
            raise PlanError(f"unknown access mode '{req.access_mode}'; use walk, bike or car")
        if req.access_mode != Mode.WALK and req.access_mode not in self.road.modes:
            raise AccessModeError(
                f"access_mode '{req.access_mode}' needs a street network, and this snapshot "
                "has none (it was built from GTFS only); use access_mode=walk (straight-line "
                "walking)")
        if isinstance(req.origin, int):
            access = (np.array([req.origin], np.int32), np.zeros(1, np.int64))
        elif req.access_mode != Mode.WALK:
            access = self.ride_times(state, *req.origin, req=req)
        else:
            access = self.walk_times(state, *req.origin, towards=False, req=req)
        if isinstance(req.destination, int):
            egress = (np.array([req.destination], np.int32), np.zeros(1, np.int64))
        else:
            egress = self.walk_times(state, *req.destination, towards=True, req=req)
        modes = [tq.WHEELCHAIR_OFF]
        if req.wheelchair:
            modes = [tq.WHEELCHAIR_STRICT] if req.wheelchair_strict else \
                [tq.WHEELCHAIR_STRICT, tq.WHEELCHAIR_ALLOW_UNKNOWN]
        journeys: list[tq.Journey] = []
        if access[0].size and egress[0].size:
            for mode in modes:
                kw: _QueryOptions = {
                    "max_rounds": req.max_transfers + 1, "min_transfer_s": req.min_transfer_s,
                    "wheelchair": mode, "footpaths": self.footpaths(req),
                    "live": state.transit_live()}
                if req.arrive_by:
                    found = tq.latest_departure(self.tt, day, access, egress, t_s, **kw)
                elif req.window_s > 0:
                    found = tq.range_query(self.tt, day, access, egress, t_s, req.window_s,
                                           **kw)
                else:
                    found = tq.earliest_arrival(self.tt, day, access, egress, t_s, **kw)
                    found = [self._leave_later(j, day, access, egress, kw) for j in found]
                journeys.extend(found)
        journeys = self._select(journeys, req)
        itins = [self._itinerary(state, j, req, date) for j in journeys]
        walk_only = self._walk_only(state, req, date, t_s)
        if walk_only is not None:
            # transit that walking beats (time, with walking counted twice as hard) is
            # dropped — e.g. a round trip when origin and destination are the same place
            walk_cost = 2 * walk_only.duration_s
            itins = [i for i in itins if _generalized_cost(i) < walk_cost]
            best = min((i.duration_s for i in itins), default=None)
            if best is None or walk_only.duration_s <= best:
                itins.insert(0, walk_only)
        return PlanResult(itins[: max(req.num_itineraries, 1)], date, state.version,
                          int(access[0].size), int(egress[0].size))

    def _leave_later(self, j: tq.Journey, day: DayContext, access: tq.StopTimes,
                     egress: tq.StopTimes, kw: _QueryOptions) -> tq.Journey:
        """The same arrival with no more transfers, leaving as late as possible (a reverse
        search from the arrival): at equal arrival, less waiting and usually less walking —
        the bus a minute later at the nearer stop rather than the same bus farther away."""
        rkw: _QueryOptions = {**kw, "max_rounds": j.n_transfers + 1}
        later = [c for c in tq.latest_departure(self.tt, day, access, egress, j.arrive_s, **rkw)
                 if c.n_transfers <= j.n_transfers and c.arrive_s <= j.arrive_s]
        if not later:
            return j
        best = max(later, key=lambda c: (c.depart_s, -c.n_transfers, -_walk_s(c)))
        if (best.depart_s, -_walk_s(best)) > (j.depart_s, -_walk_s(j)):
            return best
        return j

    def _select(self, journeys: list[tq.Journey], req: PlanRequest) -> list[tq.Journey]:
        penalty = {j: self._unknown_access_legs(j) * WHEELCHAIR_UNKNOWN_PENALTY_S
                   if req.wheelchair else 0 for j in journeys}

        def key(j: tq.Journey) -> tuple[int, ...]:
            p = penalty[j]
            if req.arrive_by:
                return (-j.depart_s + p, j.n_transfers, _walk_s(j))
            if req.window_s > 0:
                return (j.depart_s, j.arrive_s + p, j.n_transfers, _walk_s(j))
            return (j.arrive_s + p, j.n_transfers, -j.depart_s, _walk_s(j))

        seen, out = set(), []
        for j in sorted(journeys, key=key):
            sig = tuple((leg.trip, leg.from_stop, leg.to_stop) for leg in j.transit_legs)
            if sig in seen:
                continue
            seen.add(sig)
            out.append(j)
        return out[: max(req.num_itineraries, 1)]

    def _unknown_access_legs(self, j: tq.Journey) -> int:
        """Transit legs whose trip or boarding/alighting stop has unknown wheelchair access."""
        return sum(self.leg_wheelchair(leg) is None for leg in j.transit_legs)

    def leg_wheelchair(self, leg: tq.Leg) -> bool | None:
        """Wheelchair access of a transit leg: True when its trip and both stops are marked
        accessible, False when one is marked not accessible, None when one is unknown."""
        a = self.tt.arrays
        stops = self.tt.pattern_stop_list(int(a["trip_pattern"][leg.trip]))
        vals = [int(a["trip_wheelchair"][leg.trip]),
                int(a["stop_wheelchair"][int(stops[leg.board_pos])]),
                int(a["stop_wheelchair"][int(stops[leg.alight_pos])])]
        if 2 in vals:
            return False
        return True if all(v == 1 for v in vals) else None

    # ---------------------------------------------------------------- assembly
    def stop_place(self, i: int) -> Place:
        """A stop as a :class:`Place`."""
        tt = self.tt
        return Place(tt.strings["stop_name"][i], round(float(tt.arrays["stop_lat"][i]), 7),
                     round(float(tt.arrays["stop_lon"][i]), 7), self.stop_ids[i])

    def _point(self, p: tuple[float, float] | int) -> tuple[float, float]:
        if isinstance(p, int):
            return (float(self.tt.arrays["stop_lat"][p]), float(self.tt.arrays["stop_lon"][p]))
        return p

    def at(self, date: dt.date, s: int, tz: str | None = None) -> dt.datetime:
        """Aware datetime of kernel seconds ``s`` on ``date`` in ``tz`` (default ref tz)."""
        epoch = service_midnight_epoch_s(date, self.transit.ref_tz) + int(s)
        return dt.datetime.fromtimestamp(epoch, ZoneInfo(tz or self.transit.ref_tz))

    def _street_leg(self, state: RoutingState, a: tuple[float, float],
                    b: tuple[float, float], depart_s: int, arrive_s: int, date: dt.date,
                    frm: Place, to: Place, mode: str = Mode.WALK) -> Leg:
        leg = Leg(mode, frm, to, self.at(date, depart_s), self.at(date, arrive_s),
                  np.array([[a[1], a[0]], [b[1], b[0]]]), 0.0, [])
        if self.straight is not None:
            leg.distance_m = round(self.straight.walk_m(a, b), 1)
            leg.straight_line = True
            return leg
        try:
            r = self.road.route(state, mode, a[0], a[1], b[0], b[1])
        except RoutingError:
            return leg
        leg.distance_m = round(r.distance_m, 1)
        leg.geometry = np.column_stack([r.lon, r.lat])
        leg.steps = r.steps
        return leg

    def _itinerary(self, state: RoutingState, j: tq.Journey, req: PlanRequest, date: dt.date
                   ) -> Itinerary:
        origin, dest = self._point(req.origin), self._point(req.destination)
        o = self.stop_place(req.origin) if isinstance(req.origin, int) else \
            Place("Origin", origin[0], origin[1])
        d = self.stop_place(req.destination) if isinstance(req.destination, int) else \
            Place("Destination", dest[0], dest[1])
        legs: list[Leg] = []
        info = transit_info(state, self.tt)
        for leg in j.legs:
            if leg.kind == "transit":
                legs.append(self._transit_leg(leg, date, info, state.transit_live()))
            elif leg.kind == "access":
                if isinstance(req.origin, int) or leg.to_stop < 0:
                    continue
                legs.append(self._street_leg(state, origin, self._point(leg.to_stop),
                                             leg.depart_s, leg.arrive_s, date, o,
                                             self.stop_place(leg.to_stop), req.access_mode))
            elif leg.kind == "egress":
                if isinstance(req.destination, int) or leg.from_stop < 0:
                    continue
                legs.append(self._street_leg(state, self._point(leg.from_stop), dest,
                                             leg.depart_s, leg.arrive_s, date,
                                             self.stop_place(leg.from_stop), d))
            elif leg.kind == "transfer" and leg.from_stop != leg.to_stop:
                legs.append(self._street_leg(state, self._point(leg.from_stop),
                                             self._point(leg.to_stop), leg.depart_s,
                                             leg.arrive_s, date,
                                             self.stop_place(leg.from_stop),
                                             self.stop_place(leg.to_stop)))
        moving = sum(x.duration_s for x in legs)
        walk_m = sum(x.distance_m or 0.0 for x in legs if x.mode == Mode.WALK)
        return Itinerary(self.at(date, j.depart_s), self.at(date, j.arrive_s),
                         int(j.n_transfers), legs, round(walk_m, 1),
                         int(max(j.duration_s - moving, 0)),
                         list(dict.fromkeys(a.uid for x in legs for a in (x.alerts or []))))

    def transit_route(self, route: int) -> TransitRouteInfo:
        """Description of a route."""
        tt = self.tt
        rtype = int(tt.arrays["route_type"][route])
        color = tt.strings["route_color"][route]
        text_color = tt.strings["route_text_color"][route]
        return TransitRouteInfo(
            tt.strings["route_id"][route], tt.strings["route_short_name"][route],
            tt.strings["route_long_name"][route], rtype,
            ROUTE_TYPE_NAMES.get(rtype, ROUTE_TYPE_NAMES.get(_basic_route_type(rtype),
                                                             "transit")),
            f"#{color}" if color else None, f"#{text_color}" if text_color else None)

    def route_timezone(self, route: int) -> str:
        """Timezone of the agency running ``route``."""
        agency = int(self.tt.arrays["route_agency"][route])
        return self.tt.strings["agency_timezone"][agency]

    def _transit_leg(self, leg: tq.Leg, date: dt.date, info: TransitInfo,
                     live: TransitLive | None = None) -> Leg:
        """A transit leg with expected and scheduled times, its realtime flag and the alerts
        active during it (on its route, trip, agency, boarding or alighting stop)."""
        tt = self.tt
        trip = leg.trip
        route = int(tt.arrays["trip_route"][trip])
        agency = int(tt.arrays["route_agency"][route])
        tz = tt.strings["agency_timezone"][agency]
        pattern = int(tt.arrays["trip_pattern"][trip])
        stops = tt.pattern_stop_list(pattern)
        sdate = leg.service_date or date
        arr, dep, _ = trip_stop_times(tt, trip, sdate, live)
        s_arr, s_dep = tt.trip_times(trip)
        dep_delay = int(dep[leg.board_pos]) - int(s_dep[leg.board_pos])
        arr_delay = int(arr[leg.alight_pos]) - int(s_arr[leg.alight_pos])
        sdl = live.day(sdate) if live is not None else None
        reported = bool(sdl is not None and sdl.trip_realtime is not None
                        and sdl.trip_realtime[trip])
        shift = leg.depart_s - int(dep[leg.board_pos])  # service day → query day
        inter = [StopCall(self.stop_place(int(stops[k])), self.at(date, int(arr[k]) + shift, tz))
                 for k in range(leg.board_pos + 1, leg.alight_pos)]
        geom = np.round(np.asarray(tt.leg_geometry(trip, leg.board_pos, leg.alight_pos),
                                   dtype=np.float64), 7)
        t0 = self.at(date, leg.depart_s)
        t1 = self.at(date, leg.arrive_s)
        alerts = info.alerts_for(trip, (int(stops[leg.board_pos]), int(stops[leg.alight_pos])),
                                 int(t0.timestamp()), int(t1.timestamp()))
        return Leg(
            "transit", self.stop_place(int(stops[leg.board_pos])),
            self.stop_place(int(stops[leg.alight_pos])), self.at(date, leg.depart_s, tz),
            self.at(date, leg.arrive_s, tz), geom,
            route=self.transit_route(route),
            agency=AgencyInfo(tt.strings["agency_id"][agency], tt.strings["agency_name"][agency],
                              tz),
            trip_id=tt.strings["trip_id"][trip], headsign=tt.strings["trip_headsign"][trip],
            service_date=sdate, intermediate_stops=inter,
            scheduled_departure=self.at(date, leg.depart_s - dep_delay, tz),
            scheduled_arrival=self.at(date, leg.arrive_s - arr_delay, tz),
            departure_delay_s=dep_delay, arrival_delay_s=arr_delay, realtime=reported,
            alerts=alerts, wheelchair_accessible=self.leg_wheelchair(leg))

    def _walk_only(self, state: RoutingState, req: PlanRequest, date: dt.date, t_s: int
                   ) -> Itinerary | None:
        if isinstance(req.origin, int) and isinstance(req.destination, int):
            return None
        a, b = self._point(req.origin), self._point(req.destination)
        if self.straight is not None:
            return self._straight_walk_only(req, date, t_s, a, b)
        try:
            r = self.road.route(state, Mode.WALK, a[0], a[1], b[0], b[1])
        except RoutingError:
            return None
        dur = int(round(r.duration_s * WALK_DEFAULT_MPS / req.walk_speed_mps))
        if r.distance_m > max(req.max_walk_m * 3, 3000):
            return None
        dep = t_s - dur if req.arrive_by else t_s
        leg = Leg(Mode.WALK, Place("Origin", a[0], a[1]), Place("Destination", b[0], b[1]),
                  self.at(date, dep), self.at(date, dep + dur), np.column_stack([r.lon, r.lat]),
                  round(r.distance_m, 1), r.steps)
        return Itinerary(leg.departure, leg.arrival, 0, [leg], round(r.distance_m, 1), 0, [])

    def _straight_walk_only(self, req: PlanRequest, date: dt.date, t_s: int,
                            a: tuple[float, float], b: tuple[float, float]) -> Itinerary | None:
        """Walking all the way in a straight line × the detour factor (transit-only
        snapshot), within the same distance limit as on the streets."""
        assert self.straight is not None
        walk_m = self.straight.walk_m(a, b)
        if walk_m > max(req.max_walk_m * 3, 3000):
            return None
        dur = int(walk_seconds(walk_m, req.walk_speed_mps))
        dep = t_s - dur if req.arrive_by else t_s
        leg = Leg(Mode.WALK, Place("Origin", a[0], a[1]), Place("Destination", b[0], b[1]),
                  self.at(date, dep), self.at(date, dep + dur),
                  np.array([[a[1], a[0]], [b[1], b[0]]]), round(walk_m, 1), [],
                  straight_line=True)
        return Itinerary(leg.departure, leg.arrival, 0, [leg], round(walk_m, 1), 0, [])


#: Ranking penalty of one transit leg of unknown wheelchair accessibility (OTP's default).
WHEELCHAIR_UNKNOWN_PENALTY_S = 600
#: Walking counts this much more than riding when transit is compared with walking only.
WALK_RELUCTANCE = 2.0


def _walk_s(j: tq.Journey) -> int:
    """Seconds walked (access, transfers, egress) in a journey."""
    return sum(leg.arrive_s - leg.depart_s for leg in j.legs if leg.kind != "transit")


def _generalized_cost(it: Itinerary) -> float:
    """Door-to-door seconds with walking counted :data:`WALK_RELUCTANCE` times."""
    walk = sum(x.duration_s for x in it.legs if x.mode == Mode.WALK)
    return it.duration_s + (WALK_RELUCTANCE - 1.0) * walk


def _basic_route_type(t: int) -> int:
    """Map extended GTFS route types (100–1700) onto the basic ones."""
    if t < 100:
        return t
    table = {1: 2, 2: 3, 4: 1, 7: 3, 8: 3, 9: 0, 10: 4, 11: 6, 12: 4, 13: 6, 14: 7}
    return table.get(t // 100, 3)
