"""Reach: travel-time matrices and one-to-all travel times, on one routing state.

* Road matrices (car, bike, walk) are one bucket many-to-many on the kernel's own CCH
  (:mod:`routing.kernels.ncch`, same contraction order as RoutingKit's): every target's
  upward search is filed in buckets once, every source's upward search scans them, never a
  point query per pair. Distances (metres along the fastest path; of equally fast paths the
  shortest) are carried through the same computation.
* Transit matrices run RAPTOR one-to-all from each source (walking access on the streets)
  and read every target from the stops' arrivals plus walking egress; walking all the way
  counts too. With a window, the median over departures every ``step_s``.
* :meth:`Reach.road_times` / :meth:`Reach.transit_times`: cost (ms) to every junction from a
  point, bounded by a limit (:func:`routing.kernels.reach.bounded_dijkstra` on the state's
  kernel weights; RAPTOR one-to-all, then walking from every reached stop) — what isochrones
  (:mod:`routing.isochrone`) and the accessibility batch read.

Every answer reads the one state it is given (its weights, metric, closed stops and realtime
transit data).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from gtfs import query as tq
from routing.kernels import ncch
from routing.kernels.limits import INF_WEIGHT
from routing.kernels.reach import UNREACHED, bounded_dijkstra, csr_by_tail, scatter_min
from routing.plan import Planner, PlanRequest
from routing.profiles import Mode
from routing.road import Endpoint, ModeRouter, RoadRouter, RoutingError, SnapError
from routing.state import ModeWeights, RoutingState
from routing.transit_build import WALK_DEFAULT_MPS

#: Why a matrix cell is null.
REASON_SOURCE_OFF_NETWORK = "source_not_on_network"
REASON_TARGET_OFF_NETWORK = "target_not_on_network"
REASON_NO_ROUTE = "no_route"
REASON_NO_TRANSIT = "not_reachable_by_transit_or_walking"

#: Transit windows: departures sampled every this many seconds by default.
DEFAULT_STEP_S = 300


#: Reason codes of :attr:`Matrix.reason` (0 = a value).
REASONS = (None, REASON_SOURCE_OFF_NETWORK, REASON_TARGET_OFF_NETWORK, REASON_NO_ROUTE,
           REASON_NO_TRANSIT)


@dataclass
class Matrix:
    """Sources × targets answer: seconds and metres (NaN = no value) and per null cell the
    reason (an index into :data:`REASONS`; 0 where there is a value)."""

    duration_s: np.ndarray  # float64 [n, m], rounded to 0.1 s
    distance_m: np.ndarray | None  # float64 [n, m], rounded to 0.1 m
    reason: np.ndarray  # int8 [n, m]
    #: transit: departures sampled per source (1 without a window)
    departures: int = 1
    stats: dict[str, float] = field(default_factory=dict)

    @property
    def durations_s(self) -> list[list[float | None]]:
        """:attr:`duration_s` as nested lists with None for no value."""
        return _nested(self.duration_s)

    @property
    def distances_m(self) -> list[list[float | None]] | None:
        """:attr:`distance_m` as nested lists (None without distances)."""
        return None if self.distance_m is None else _nested(self.distance_m)

    @property
    def reasons(self) -> list[list[str | None]]:
        """Per cell the reason it is null (None where there is a value)."""
        return [[REASONS[c] for c in row] for row in self.reason.tolist()]

    def unreachable(self) -> list[tuple[int, int, str]]:
        """The null cells: (source, target, reason)."""
        ii, jj = np.nonzero(self.reason)
        codes = self.reason[ii, jj].tolist()
        return [(i, j, str(REASONS[c])) for i, j, c in
                zip(ii.tolist(), jj.tolist(), codes, strict=True)]


def _nested(a: np.ndarray) -> list[list[float | None]]:
    obj = a.astype(object)
    obj[np.isnan(a)] = None
    out: list[list[float | None]] = obj.tolist()
    return out


def _reasons(finite: np.ndarray, src_off: np.ndarray, dst_off: np.ndarray,
             otherwise: int) -> np.ndarray:
    r = np.where(finite, 0, otherwise).astype(np.int8)
    r[~finite & dst_off[None, :]] = 2
    r[~finite & src_off[:, None]] = 1
    return r


@dataclass
class _Ends:
    """Snapped matrix ends of one mode: kernel sources / targets per point (empty = the
    point is off the network) and its endpoint."""

    endpoints: list[Endpoint | None]
    pairs: list[list[tuple[int, int]]]
    #: per pair: metres from the point to the pair's node (source: the rest of the edge)
    #: or from the node to the point (target: the start of the edge)
    metres: list[list[float]] = field(default_factory=list)

    def ends(self) -> list[list[tuple[int, int, float]]]:
        """Every point's (kernel node, weight ms, metres) triples."""
        return [[(k, c, m) for (k, c), m in zip(p, ms, strict=True)]
                for p, ms in zip(self.pairs, self.metres, strict=True)]


def _frac_w(router: RoadRouter, mr: ModeRouter, w: np.ndarray, e: int, metres: float,
            remaining: bool) -> int:
    seg_l = float(router.seg_length_m[mr.edge_seg[e]])
    f = (metres / seg_l) if seg_l > 0 else 0.0
    f = 1.0 - f if remaining else f
    return int(round(float(w[e]) * min(max(f, 0.0), 1.0)))


class Reach:
    """Matrices and one-to-all travel times over a road router (and a planner for transit)."""

    def __init__(self, road: RoadRouter, planner: Planner | None = None) -> None:
        self.road = road
        self.planner = planner
        self._csr: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for mode, mr in road.modes.items():
            self._csr[mode] = csr_by_tail(mr.arrays.kernel_node_count, mr.arc_tail,
                                          np.asarray(mr.arrays.arc_head))
        #: metres of every kernel arc (the edge it enters), for matrix distances
        self._arc_metres = {mode: np.ascontiguousarray(
            road.seg_length_m[mr.edge_seg[mr.arc_edge]], dtype=np.float64)
            for mode, mr in road.modes.items()}
        self.n_junctions = int(road.snapshot.node_lon.shape[0]) if road.modes else 0

    # ------------------------------------------------------------------ snapping
    def _ends(self, state: RoutingState, mode: str, points: list[tuple[float, float]],
              as_source: bool, w: np.ndarray) -> _Ends:
        mr = self.road.modes[mode]
        eps: list[Endpoint | None] = []
        pairs: list[list[tuple[int, int]]] = []
        metres: list[list[float]] = []
        seg_len = self.road.seg_length_m
        banned = set(state.banned_arcs(mode).tolist()) if not as_source else set()
        for lat, lon in points:
            try:
                ep = self.road.snap(state, mode, lat, lon, "source" if as_source else "target", w)
            except SnapError:
                eps.append(None)
                pairs.append([])
                metres.append([])
                continue
            eps.append(ep)
            if as_source:
                pairs.append([(int(mr.edge_head_knode[e]),
                               _frac_w(self.road, mr, w, e, m, True)) for e, m in ep.edges])
                metres.append([float(seg_len[mr.edge_seg[e]]) - m for e, m in ep.edges])
            else:
                p: list[tuple[int, int]] = []
                pm: list[float] = []
                for e, m in ep.edges:
                    fw = _frac_w(self.road, mr, w, e, m, False)
                    a0, a1 = int(mr.edge_arc_offsets[e]), int(mr.edge_arc_offsets[e + 1])
                    # entering the target's edge costs its arc's turn time too (edge-based
                    # car graph; zero elsewhere), as in a route to it
                    turn = (mr.arc_turn[a0:a1].tolist() if mr.arc_turn.shape[0]
                            else [0] * (a1 - a0))
                    for a, k, t in zip(range(a0, a1), mr.arc_tail[a0:a1].tolist(), turn,
                                       strict=True):
                        if a not in banned:
                            p.append((int(k), fw + int(t)))
                            pm.append(float(m))
                pairs.append(p)
                metres.append(pm)
        return _Ends(eps, pairs, metres)

    # ------------------------------------------------------------------ road matrix
    def road_matrix(self, state: RoutingState, mode: str, sources: list[tuple[float, float]],
                    targets: list[tuple[float, float]], distances: bool = True) -> Matrix:
        """Car / bike / walk durations (s) and distances (m) from every source to every
        target (``(lat, lon)``) on ``state``'s weights of ``mode``: one bucket many-to-many
        on the kernel's own CCH (:mod:`routing.kernels.ncch`), which carries the metres of
        each pair's fastest path along with its duration (of equally fast paths, the
        shortest). Raises :class:`routing.road.UnknownModeError`."""
        mr = self.road.mode_router(mode)
        mw = state.road[mode]
        w = mw.weights_ms
        src = self._ends(state, mode, sources, True, w)
        dst = self._ends(state, mode, targets, False, w)
        k_ms, met = ncch.many_to_many(self._m2m_metric(state, mode, mr, mw), src.ends(),
                                      dst.ends(), metres=distances)
        dur = k_ms.astype(np.float64)
        dur[k_ms >= INF_WEIGHT] = np.inf
        same = self._same_edge(mr, w, src.endpoints, dst.endpoints)
        for (i, j), (cost, along) in same.items():
            if cost <= dur[i, j]:  # both ends on one edge, in order: along it
                dur[i, j] = cost
                met[i, j] = along
        finite = np.isfinite(dur)
        out = np.where(finite, np.round(dur / 1000.0, 1), np.nan)
        dist = np.where(finite, np.round(met, 1), np.nan) if distances else None
        src_off = np.array([e is None for e in src.endpoints], dtype=bool)
        dst_off = np.array([e is None for e in dst.endpoints], dtype=bool)
        return Matrix(out, dist, _reasons(finite, src_off, dst_off, 3))

    def _m2m_metric(self, state: RoutingState, mode: str, mr: ModeRouter, mw: ModeWeights
                    ) -> ncch.CCHMetric:
        """The own CCH customized for ``state``'s weights of ``mode`` (with its turn bans),
        made on first use and kept with the state (one customization per state and mode;
        RoutingKit's metric is not needed for matrices)."""
        return state.memo(f"reach:m2m:{mode}", lambda: mr.kernel.customize_m2m(
            mr.arc_weights(np.asarray(mw.weights_ms, dtype=np.int64), mw.banned_arcs),
            self._arc_metres[mode]))

    def _same_edge(self, mr: ModeRouter, w: np.ndarray, srcs: list[Endpoint | None],
                   dsts: list[Endpoint | None]) -> dict[tuple[int, int], tuple[int, float]]:
        """Pairs whose ends lie on one edge in travel order: (cost ms, metres) along it."""
        by_edge: dict[int, list[tuple[int, float]]] = {}
        for j, ep in enumerate(dsts):
            if ep is not None:
                for e, m1 in ep.edges:
                    by_edge.setdefault(e, []).append((j, m1))
        out: dict[tuple[int, int], tuple[int, float]] = {}
        for i, ep in enumerate(srcs):
            if ep is None:
                continue
            for e, m0 in ep.edges:
                for j, m1 in by_edge.get(e, ()):
                    if m1 >= m0:
                        seg_l = float(self.road.seg_length_m[mr.edge_seg[e]])
                        c = int(round(float(w[e]) * ((m1 - m0) / seg_l if seg_l > 0 else 0.0)))
                        if (i, j) not in out or c < out[(i, j)][0]:
                            out[(i, j)] = (c, m1 - m0)
        return out

    # ------------------------------------------------------------------ one-to-all road
    def arc_weights(self, state: RoutingState, mode: str, weights: np.ndarray | None = None
                    ) -> np.ndarray:
        """Kernel arc weights (ms, int64) of ``mode`` in CSR order, from ``weights`` (edge ms;
        default: ``state``'s), cached on the state for its own weights."""
        mr = self.road.mode_router(mode)
        _, _, arc_id = self._csr[mode]

        def make(w: np.ndarray) -> np.ndarray:
            # the kernel's own arc weights (turn costs and other arc extras included)
            return np.asarray(mr.arc_weights(np.asarray(w, dtype=np.int64),
                                             state.banned_arcs(mode)))[arc_id]

        if weights is None:
            return state.memo(f"reach:arcw:{mode}", lambda: make(state.weights(mode)))
        return make(weights)

    def road_times(self, state: RoutingState, mode: str, lat: float, lon: float, limit_s: float,
                   weights: np.ndarray | None = None) -> RoadReach:
        """Cost (ms) from a point to every kernel node and junction of ``mode`` within
        ``limit_s`` on ``state``'s weights (or ``weights``). Raises :class:`SnapError`."""
        mr = self.road.mode_router(mode)
        w = state.weights(mode) if weights is None else weights
        ep = self.road.snap(state, mode, lat, lon, "at", w)
        src = [(int(mr.edge_head_knode[e]), _frac_w(self.road, mr, w, e, m, True))
               for e, m in ep.edges]
        return self._road_from(mode, mr, src, ep, w, state, limit_s, weights)

    def _road_from(self, mode: str, mr: ModeRouter, src: list[tuple[int, int]],
                   ep: Endpoint | None, w: np.ndarray, state: RoutingState, limit_s: float,
                   weights: np.ndarray | None) -> RoadReach:
        off, head, _ = self._csr[mode]
        aw = self.arc_weights(state, mode, weights)
        limit = np.int64(round(limit_s * 1000))
        kd = bounded_dijkstra(off, head, aw, np.array([s for s, _ in src], dtype=np.int64),
                              np.array([c for _, c in src], dtype=np.int64), limit)
        return RoadReach(mode, kd, self._junction_times(mr, kd), ep, w)

    def _junction_times(self, mr: ModeRouter, kd: np.ndarray) -> np.ndarray:
        jt = np.full(self.n_junctions, UNREACHED, dtype=np.int64)
        scatter_min(jt, np.asarray(mr.arrays.knode_junction), kd)
        return jt

    # ------------------------------------------------------------------ transit
    def _planner(self) -> Planner:
        if self.planner is None:
            raise NoTransitDataError("this snapshot has no public-transport timetable")
        if self.planner.straight is not None or Mode.WALK not in self.road.modes:
            raise NoTransitDataError("transit reach needs the street network for walking; "
                                     "this snapshot was built from GTFS only")
        return self.planner

    def stop_arrivals(self, state: RoutingState, lat: float, lon: float, depart_at: dt.datetime,
                      req: PlanRequest | None = None, live: bool = True
                      ) -> tuple[int, np.ndarray]:
        """RAPTOR one-to-all from a point leaving at ``depart_at`` (walking access on the
        state's walk weights): (departure, service-day seconds; per stop the earliest arrival
        by vehicle, :data:`gtfs.query.INF_S` where none). ``live=False``: the timetable
        alone (no realtime data, no closed stops). Raises PlanError (date outside the
        timetable), :class:`SnapError`."""
        p = self._planner()
        req = req or PlanRequest((lat, lon), (lat, lon), depart_at)
        date, t_s = p.clock(depart_at)
        p.check_date(date)
        day = p.day(date)
        access = p.walk_times(state, lat, lon, towards=False, req=req)
        if access[0].size == 0:
            return t_s, np.full(p.tt.n_stops, tq.INF_S, dtype=np.int64)
        arr = tq.stop_arrivals(p.tt, day, access, t_s, max_rounds=req.max_transfers + 1,
                               min_transfer_s=req.min_transfer_s, footpaths=p.footpaths(req),
                               live=state.transit_live() if live else None)
        return t_s, arr

    def stop_walk_sources(self, state: RoutingState, weights: np.ndarray | None = None
                          ) -> tuple[np.ndarray, np.ndarray]:
        """Per stop-linked walk edge: (stop, kernel node reached walking from the stop along
        the edge, cost ms) — where walking egress from a stop enters the walk graph."""
        p = self._planner()
        mr = self.road.modes[Mode.WALK]
        w = state.weights(Mode.WALK) if weights is None else weights
        stop_seg = np.asarray(p.transit.stop_seg)
        frac = np.asarray(p.transit.stop_frac, dtype=np.float64)
        stops, nodes, costs = [], [], []
        for s in np.flatnonzero(stop_seg >= 0).tolist():
            seg = int(stop_seg[s])
            for e in range(int(mr.seg_edge_lo[seg]), int(mr.seg_edge_hi[seg])):
                if w[e] >= INF_WEIGHT:
                    continue
                rest = frac[s] if mr.edge_rev[e] else 1.0 - frac[s]
                stops.append(s)
                nodes.append(int(mr.edge_head_knode[e]))
                costs.append(int(round(float(w[e]) * rest)))
        return (np.array(stops, dtype=np.int64),
                np.column_stack([np.array(nodes, dtype=np.int64),
                                 np.array(costs, dtype=np.int64)]).reshape(-1, 2))

    def transit_times(self, state: RoutingState, lat: float, lon: float,
                      depart_at: dt.datetime, limit_s: float, live: bool = True,
                      walk_weights: np.ndarray | None = None) -> TransitReach:
        """Walk + transit + walk: cost (ms after ``depart_at``) to every walk kernel node and
        junction within ``limit_s``, and each stop's arrival by vehicle (s after departure,
        -1 = not reached). ``live=False`` / ``walk_weights``: the timetable alone and other
        walk weights (the baseline of a comparison)."""
        mr = self.road.modes[Mode.WALK]
        w = state.weights(Mode.WALK) if walk_weights is None else walk_weights
        ep = self.road.snap(state, Mode.WALK, lat, lon, "at", w)
        t_s, arr = self.stop_arrivals(state, lat, lon, depart_at, live=live)
        limit_ms = int(round(limit_s * 1000))
        rel_s = np.where(arr < tq.INF_S, arr - t_s, -1)
        reached = np.flatnonzero((rel_s >= 0) & (rel_s * 1000 <= limit_ms))
        src = [(int(mr.edge_head_knode[e]), _frac_w(self.road, mr, w, e, m, True))
               for e, m in ep.edges]
        if reached.size:
            stops, nc = self.stop_walk_sources(state, walk_weights)
            keep = np.isin(stops, reached)
            for s, (node, c) in zip(stops[keep].tolist(), nc[keep].tolist(), strict=True):
                src.append((node, int(rel_s[s]) * 1000 + c))
        rr = self._road_from(Mode.WALK, mr, src, ep, w, state, limit_s, walk_weights)
        stop_s = np.where((rel_s >= 0) & (rel_s * 1000 <= limit_ms), rel_s, -1)
        return TransitReach(rr, stop_s, t_s)

    def transit_matrix(self, state: RoutingState, sources: list[tuple[float, float]],
                       targets: list[tuple[float, float]], depart_at: dt.datetime,
                       window_s: int = 0, step_s: int = DEFAULT_STEP_S,
                       req: PlanRequest | None = None) -> Matrix:
        """Earliest-arrival travel time (s) from each source leaving at ``depart_at`` to each
        target: RAPTOR one-to-all per source with walking access and egress on the streets,
        or walking all the way when faster. With ``window_s > 0``: the median over
        departures every ``step_s`` in ``[depart_at, depart_at + window_s]`` (unreachable
        departures count as infinitely long; null when the median is). Raises PlanError for
        a date outside the timetable."""
        p = self._planner()
        req = req or PlanRequest(sources[0] if sources else (0.0, 0.0),
                                 targets[0] if targets else (0.0, 0.0), depart_at)
        date, t0 = p.clock(depart_at)
        p.check_date(date)
        deps = list(range(0, max(int(window_s), 0) + 1, max(int(step_s), 1)))
        n, m = len(sources), len(targets)
        walk = self.road_matrix(state, Mode.WALK, sources, targets, distances=False)
        scale = WALK_DEFAULT_MPS / req.walk_speed_mps
        egress: list[tuple[np.ndarray, np.ndarray] | None] = []
        for lat, lon in targets:
            try:
                egress.append(p.walk_times(state, lat, lon, towards=True, req=req))
            except SnapError:
                egress.append(None)
        # egress as one flat table: (target, stop, seconds)
        e_tgt = np.concatenate([np.full(e[0].shape[0], j) for j, e in enumerate(egress)
                                if e is not None] or [np.zeros(0, np.int64)]).astype(np.int64)
        e_stop = np.concatenate([e[0] for e in egress if e is not None]
                                or [np.zeros(0, np.int32)]).astype(np.int64)
        e_sec = np.concatenate([e[1] for e in egress if e is not None]
                               or [np.zeros(0, np.int64)]).astype(np.int64)
        out = np.full((n, m), np.inf)
        live = state.transit_live()
        day = p.day(date)
        fp = p.footpaths(req)
        for i, (lat, lon) in enumerate(sources):
            if m and (walk.reason[i] == 1).all():  # the source is off the network
                continue
            try:
                access = p.walk_times(state, lat, lon, towards=False, req=req)
            except SnapError:
                continue
            wrow = np.where(np.isnan(walk.duration_s[i]), np.inf, walk.duration_s[i] * scale)
            samples = np.full((len(deps), m), np.inf)
            for d, off in enumerate(deps):
                best = wrow.copy()
                if access[0].size and e_tgt.size:
                    arr = tq.stop_arrivals(p.tt, day, access, t0 + off,
                                           max_rounds=req.max_transfers + 1,
                                           min_transfer_s=req.min_transfer_s, footpaths=fp,
                                           live=live)
                    a = arr[e_stop]
                    ok = a < tq.INF_S
                    via = np.full(m, np.inf)
                    np.minimum.at(via, e_tgt[ok], (a[ok] + e_sec[ok] - (t0 + off)).astype(float))
                    best = np.minimum(best, via)
                samples[d] = best
            out[i] = np.median(samples, axis=0) if len(deps) > 1 else samples[0]
        finite = np.isfinite(out)
        reason = np.where(finite, 0, np.where(np.isin(walk.reason, (1, 2)), walk.reason, 4))
        return Matrix(np.where(finite, np.round(out, 1), np.nan), None,
                      reason.astype(np.int8), departures=len(deps))


class NoTransitDataError(RoutingError):
    """Transit reach asked of a snapshot without a timetable (or without streets to walk)."""


@dataclass
class RoadReach:
    """A bounded one-to-all answer on one mode's graph."""

    mode: str
    knode_ms: np.ndarray  # int64 per kernel node (UNREACHED beyond the limit)
    junction_ms: np.ndarray  # int64 per junction
    origin: Endpoint | None
    weights_ms: np.ndarray  # the edge weights searched


@dataclass
class TransitReach:
    """Walk + transit + walk one-to-all answer."""

    walk: RoadReach
    #: per stop: seconds after departure of the earliest arrival by vehicle, -1 = not reached
    stop_s: np.ndarray
    depart_s: int
