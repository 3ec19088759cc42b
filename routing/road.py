"""Road route answers for car, bike and walk: snap → CCH query → path, geometry, steps.

:class:`RoadRouter` holds, per mode, the metric-independent kernel, a snapper, and the
current (live state, customized metric) pair. :meth:`RoadRouter.apply_live_state` builds
new metrics off to the side and swaps the pair in one assignment, so a request that read
the pair keeps a consistent version to the end.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from routing.graph import INF_WEIGHT
from routing.kernels.cch import CustomizedMetric, PrivateMetric, RoadKernel
from routing.kernels.pathgeom import assemble_path
from routing.labels import path_labels
from routing.live import LiveState
from routing.profiles import MODES
from routing.snap import Projection, SnapCandidate, Snapper
from routing.snapshot import ModeArrays, Snapshot
from routing.steps import Step, build_steps

DEFAULT_MAX_SNAP_M = 1000.0
#: Alternatives: a kept route shares at most this share of its length with each other kept
#: route, and takes at most this factor of the best route's duration.
ALT_MAX_SHARED = 0.6
ALT_MAX_STRETCH = 1.4
ALT_PENALTY = 1.6


class RoutingError(Exception):
    """Base class for routing answers that cannot be given (mapped to 4xx by the API)."""


class UnknownModeError(RoutingError):
    """The mode is not one of car, bike, walk."""


class SnapError(RoutingError):
    """A coordinate is too far from any road usable by the mode."""

    def __init__(self, which: str, lat: float, lon: float, mode: str, max_m: float) -> None:
        super().__init__(f"'{which}' ({lat:.6f},{lon:.6f}) is more than {max_m:.0f} m from "
                         f"any road usable by {mode}")
        self.which, self.lat, self.lon, self.mode, self.max_m = which, lat, lon, mode, max_m


class NoRouteError(RoutingError):
    """Both points snapped, but no path connects them (e.g. everything closed)."""


@dataclass
class Endpoint:
    """A snapped endpoint: candidate edges with the metres into each edge."""

    snap: SnapCandidate
    edges: list[tuple[int, float]]  # (edge id, metres from the edge's start)


@dataclass
class RoadRoute:
    """A road route answer."""

    mode: str
    duration_s: float
    distance_m: float
    lon: np.ndarray
    lat: np.ndarray
    edges: np.ndarray
    edge_travelled_m: np.ndarray
    edge_duration_s: np.ndarray
    steps: list[Step]
    origin: SnapCandidate
    destination: SnapCandidate
    live_version: int
    weight_ms: int

    @property
    def bbox(self) -> list[float]:
        """[west, south, east, north] of the geometry."""
        return [float(self.lon.min()), float(self.lat.min()), float(self.lon.max()),
                float(self.lat.max())]

    def geometry(self) -> dict:
        """GeoJSON LineString in [lon, lat] order."""
        xy = np.round(np.column_stack([self.lon, self.lat]), 7)
        keep = np.ones(xy.shape[0], dtype=bool)
        keep[1:] = (xy[1:] != xy[:-1]).any(axis=1)  # drop repeats left by rounding
        if keep.sum() < 2:
            keep[-1] = True
        return {"type": "LineString", "coordinates": xy[keep].tolist()}


@dataclass
class _Live:
    state: LiveState
    metrics: dict[str, CustomizedMetric]
    weights: dict[str, np.ndarray]


@dataclass
class ModeRouter:
    """Kernel, snapper and static arrays of one mode."""

    mode: str
    arrays: ModeArrays
    kernel: RoadKernel
    snapper: Snapper
    free_flow_ms: np.ndarray
    arc_edge: np.ndarray
    edge_arc_offsets: np.ndarray
    arc_tail: np.ndarray
    edge_head_knode: np.ndarray
    edge_seg: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    edge_rev: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    edge_tail: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    edge_snappable: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    seg_edge_lo: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    seg_edge_hi: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


class RoadRouter:
    """Answers road routes on a snapshot under the current live state."""

    def __init__(self, snapshot: Snapshot, max_snap_m: float = DEFAULT_MAX_SNAP_M,
                 modes: tuple[str, ...] = MODES) -> None:
        self.snapshot = snapshot
        self.max_snap_m = max_snap_m
        w, s, e, n = snapshot.bbox
        self.projection = Projection((w + e) / 2, (s + n) / 2)
        self._coslat = math.cos(math.radians(self.projection.lat0))
        seg = snapshot.segments
        self._seg = seg
        self._seg_name_idx = np.array(seg.name_idx)
        self._seg_roundabout = np.array(seg.roundabout)
        self._seg_arrays = (np.asarray(seg.gstart), np.asarray(seg.gend), np.asarray(seg.cum_m),
                            np.asarray(seg.lon), np.asarray(seg.lat),
                            np.asarray(seg.length_m, dtype=np.float64))
        deg = np.bincount(np.concatenate([seg.u, seg.v]), minlength=snapshot.node_lon.shape[0])
        self.junction_degree = deg
        self.modes: dict[str, ModeRouter] = {}
        for mode in modes:
            a = snapshot.modes[mode]
            kernel = RoadKernel(a.kernel_node_count, np.asarray(a.arc_tail),
                                np.asarray(a.arc_head), np.asarray(a.cch_order))
            edge_seg = np.asarray(a.edge_seg)
            snappable_segs = np.unique(edge_seg[np.asarray(a.edge_snappable)])
            snapper = Snapper(seg.lon, seg.lat, seg.gstart, seg.gend, snappable_segs,
                              self.projection)
            mr = ModeRouter(mode, a, kernel, snapper, np.asarray(a.edge_time_ms, np.int64),
                            np.asarray(a.arc_edge), np.asarray(a.edge_arc_offsets),
                            np.asarray(a.arc_tail), np.asarray(a.edge_head_knode))
            mr.edge_seg = np.array(a.edge_seg)
            mr.edge_rev = np.array(a.edge_rev)
            mr.edge_tail = np.array(a.edge_tail)
            mr.edge_snappable = np.array(a.edge_snappable)
            nseg = seg.u.shape[0]
            mr.seg_edge_lo = np.searchsorted(mr.edge_seg, np.arange(nseg), side="left")
            mr.seg_edge_hi = np.searchsorted(mr.edge_seg, np.arange(nseg), side="right")
            self.modes[mode] = mr
        self._lock = threading.Lock()
        state = LiveState()
        self._live = _Live(state, {m: mr.kernel.customize(mr.free_flow_ms[mr.arc_edge])
                                   for m, mr in self.modes.items()},
                           {m: mr.free_flow_ms for m, mr in self.modes.items()})
        #: free-flow metrics, kept for "what would it take without incidents" answers
        self._base = self._live
        self._other: dict[int, _Live] = {}

    # ---- live state -------------------------------------------------------------------
    @property
    def live_state(self) -> LiveState:
        """The state answers are currently computed on."""
        return self._live.state

    def live_for(self, state: LiveState | None) -> _Live:
        """Metrics for ``state``: the current ones, or customized on demand (cached) for a
        state that is not in force now (e.g. the incidents in effect at a later departure)."""
        live = self._live
        if state is None or state is live.state:
            return live
        with self._lock:
            hit = self._other.get(id(state))
            if hit is not None and hit.state is state:
                return hit
            metrics, weights = {}, {}
            for m, mr in self.modes.items():
                w = state.weights(m, mr.free_flow_ms)
                if w is live.weights[m]:
                    metrics[m], weights[m] = live.metrics[m], w
                elif w is mr.free_flow_ms:
                    metrics[m], weights[m] = self._base.metrics[m], w
                else:
                    w = np.asarray(w, dtype=np.int64)
                    metrics[m], weights[m] = mr.kernel.customize(w[mr.arc_edge]), w
            entry = _Live(state, metrics, weights)
            if len(self._other) > 8:
                self._other.clear()
            self._other[id(state)] = entry
            return entry

    def edge_weights(self, mode: str) -> np.ndarray:
        """Current edge weights (ms) of ``mode``."""
        return self._live.weights[mode]

    def apply_live_state(self, state: LiveState) -> dict[str, float]:
        """Customize new metrics for ``state`` and swap them in atomically.

        Only modes whose weight vector object changed are re-customized. Returns the
        customization time per mode in seconds.
        """
        with self._lock:
            old = self._live
            metrics = dict(old.metrics)
            weights = dict(old.weights)
            timing: dict[str, float] = {}
            for m, mr in self.modes.items():
                w = state.weights(m, mr.free_flow_ms)
                if w is old.weights[m]:
                    continue
                w = np.asarray(w, dtype=np.int64)
                if w.shape != mr.free_flow_ms.shape:
                    raise ValueError(f"{m}: expected {mr.free_flow_ms.shape[0]} edge weights")
                t = time.perf_counter()
                metrics[m] = mr.kernel.customize(w[mr.arc_edge])
                timing[m] = time.perf_counter() - t
                weights[m] = w
            self._live = _Live(state, metrics, weights)
        return timing

    # ---- snapping ---------------------------------------------------------------------
    def _endpoint_edges(self, mr: ModeRouter, cand: SnapCandidate, weights: np.ndarray
                        ) -> list[tuple[int, float]]:
        seg_len = float(self._seg_arrays[5][cand.segment])
        out = []
        along = cand.fraction * seg_len
        for e in range(int(mr.seg_edge_lo[cand.segment]), int(mr.seg_edge_hi[cand.segment])):
            if weights[e] >= INF_WEIGHT or not mr.edge_snappable[e]:
                continue
            out.append((e, seg_len - along if mr.edge_rev[e] else along))
        return out

    def snap(self, mode: str, lat: float, lon: float, which: str = "point",
             weights: np.ndarray | None = None) -> Endpoint:
        """Snap a coordinate for ``mode`` onto the nearest open edge within the max
        distance. Raises :class:`SnapError` or :class:`UnknownModeError`."""
        mr = self._mode(mode)
        w = self._live.weights[mode] if weights is None else weights
        cand = mr.snapper.nearest(lon, lat, self.max_snap_m)
        if cand is not None:
            edges = self._endpoint_edges(mr, cand, w)
            if edges:
                return Endpoint(cand, edges)
            for c in mr.snapper.within(lon, lat, self.max_snap_m):
                edges = self._endpoint_edges(mr, c, w)
                if edges:
                    return Endpoint(c, edges)
        raise SnapError(which, lat, lon, mode, self.max_snap_m)

    def _mode(self, mode: str) -> ModeRouter:
        try:
            return self.modes[mode]
        except KeyError:
            raise UnknownModeError(
                f"unknown mode '{mode}'; expected one of {', '.join(self.modes)}") from None

    def alternatives(self, from_lat: float, from_lon: float, to_lat: float, to_lon: float,
                     mode: str = "car", n: int = 3, state: LiveState | None = None,
                     max_shared: float = ALT_MAX_SHARED, max_stretch: float = ALT_MAX_STRETCH,
                     penalty: float = ALT_PENALTY, max_tries: int = 6) -> list[RoadRoute]:
        """The best route and up to ``n - 1`` alternatives (penalty method).

        After each found route its edges' weights are multiplied by ``penalty`` and the
        metric re-customized; a candidate is kept when it shares at most ``max_shared`` of
        its length with every kept route and its true duration is at most ``max_stretch``
        times the best's. Durations are always on the real (unpenalized) weights."""
        self._mode(mode)
        live = self.live_for(state)
        w = live.weights[mode]
        src = self.snap(mode, from_lat, from_lon, "from", w)
        dst = self.snap(mode, to_lat, to_lon, "to", w)
        best = self.route_endpoints(mode, src, dst, live)
        kept = [best]
        if n <= 1:
            return kept
        mr = self.modes[mode]
        real = np.asarray(w, dtype=np.float64)
        pen = real.copy()
        metric = PrivateMetric(mr.kernel, np.asarray(w, dtype=np.int64)[mr.arc_edge])
        trial = _Live(live.state, {**live.metrics, mode: metric}, {**live.weights, mode: w})
        arc_off = mr.edge_arc_offsets

        def penalize(route: RoadRoute) -> None:
            changes: dict[int, int] = {}
            for e in np.unique(route.edges).tolist():
                if pen[e] >= INF_WEIGHT:
                    continue
                pen[e] *= penalty
                for a in range(int(arc_off[e]), int(arc_off[e + 1])):
                    changes[a] = int(round(pen[e]))
            metric.update(changes)

        penalize(best)
        for _ in range(max_tries):
            if len(kept) >= n:
                break
            try:
                cand = self.route_endpoints(mode, src, dst, trial)
            except RoutingError:
                break
            share = _share(cand, self._seg_arrays[5], mr.edge_seg)
            cand.edge_duration_s = real[cand.edges] * share / 1000.0
            cand.duration_s = float(cand.edge_duration_s.sum())
            cand.weight_ms = int(round(cand.duration_s * 1000))
            penalize(cand)
            if cand.duration_s > best.duration_s * max_stretch:
                break  # later candidates only get longer
            if all(_shared_share(cand, r) <= max_shared for r in kept):
                kept.append(cand)
        return kept

    def explain(self, route: RoadRoute, from_lat: float, from_lon: float, to_lat: float,
                to_lon: float, state: LiveState | None = None) -> dict:
        """What the live state did to this route: incidents on it, incidents it avoids, and
        the delay against the answer without any incident."""
        live = self.live_for(state)
        st = live.state
        causes = st.edge_causes.get(route.mode, {})
        on = _ordered_causes(causes, route.edges)
        out = {"incidents": on, "avoided": [], "delay_s": 0.0,
               "no_incident_duration_s": round(route.duration_s, 1), "messages": []}
        if route.mode not in st.edge_time_ms:
            return out
        try:
            base = self.route(from_lat, from_lon, to_lat, to_lon, route.mode,
                              state=self._base.state)
        except RoutingError:
            return out
        avoided = [c for c in _ordered_causes(causes, base.edges) if c not in on]
        delay = route.duration_s - base.duration_s
        notes = st.notes.get("incidents", {}) if st.notes else {}

        def label(i: str) -> str:
            n = notes.get(i, {})
            streets = n.get("streets") or []
            where = f" on {streets[0]}" if streets else ""
            return f"{n.get('type', 'incident')} {i}{where}"

        msgs = []
        if on or avoided:
            sign = "+" if delay >= 0 else "-"
            mins = abs(delay) / 60
            amount = f"{sign}{mins:.0f} min" if mins >= 1 else f"{sign}{abs(delay):.0f} s"
            if on:
                msgs.append(f"{amount}: " + "; ".join(label(i) for i in on))
            if avoided:
                msgs.append(("Avoids " if not on else "Also avoids ")
                            + "; ".join(label(i) for i in avoided)
                            + (f" ({amount} against the usual route)" if not on else ""))
        out.update(avoided=avoided, delay_s=round(delay, 1),
                   no_incident_duration_s=round(base.duration_s, 1), messages=msgs)
        return out

    # ---- routing ----------------------------------------------------------------------
    def route(self, from_lat: float, from_lon: float, to_lat: float, to_lon: float,
              mode: str = "car", state: LiveState | None = None) -> RoadRoute:
        """Fastest route between two coordinates for ``mode`` under the live state (or
        under ``state``, e.g. the incidents in effect at a later departure time)."""
        self._mode(mode)
        live = self.live_for(state)
        w = live.weights[mode]
        src = self.snap(mode, from_lat, from_lon, "from", w)
        dst = self.snap(mode, to_lat, to_lon, "to", w)
        return self.route_endpoints(mode, src, dst, live)

    def route_endpoints(self, mode: str, src: Endpoint, dst: Endpoint,
                        live: _Live | None = None) -> RoadRoute:
        """Route between two snapped endpoints (see :meth:`snap`)."""
        mr = self._mode(mode)
        live = live or self._live
        w = live.weights[mode]
        metric = live.metrics[mode]
        seg_len = self._seg_arrays[5]

        def frac_w(e: int, metres: float, remaining: bool) -> int:
            seg_l = seg_len[mr.edge_seg[e]]
            f = (metres / seg_l) if seg_l > 0 else 0.0
            f = 1.0 - f if remaining else f
            return int(round(float(w[e]) * min(max(f, 0.0), 1.0)))

        sources = [(int(mr.edge_head_knode[e]), frac_w(e, m, True)) for e, m in src.edges]
        targets: list[tuple[int, int]] = []
        target_of: dict[int, list[tuple[int, float, int]]] = {}
        for e, m in dst.edges:
            fw = frac_w(e, m, False)
            for k in mr.arc_tail[mr.edge_arc_offsets[e]:mr.edge_arc_offsets[e + 1]].tolist():
                targets.append((k, fw))
                target_of.setdefault(k, []).append((e, m, fw))
        best: tuple[int, list[int], float, float] | None = None  # (ms, edges, from_m, to_m)
        # Same-segment answer without the kernel (both endpoints on one edge, in order).
        for e, m0 in src.edges:
            for e2, m1 in dst.edges:
                if e == e2 and m1 >= m0:
                    seg_l = seg_len[mr.edge_seg[e]]
                    cost = int(round(float(w[e]) * ((m1 - m0) / seg_l if seg_l > 0 else 0.0)))
                    if best is None or cost < best[0]:
                        best = (cost, [e], m0, m1)
        kp = metric.query(sources, targets)
        if kp is not None and (best is None or kp.distance < best[0]):
            s_edge, s_m = min(((e, m) for e, m in src.edges
                               if int(mr.edge_head_knode[e]) == kp.source_node),
                              key=lambda em: frac_w(em[0], em[1], True))
            t_edge, t_m, _ = min(target_of[kp.target_node], key=lambda x: x[2])
            mid = mr.arc_edge[kp.arcs].tolist()
            best = (kp.distance, [s_edge, *mid, t_edge], s_m, t_m)
        if best is None:
            raise NoRouteError(f"no {mode} route between the two points under the current "
                               f"conditions (live version {live.state.version})")
        weight_ms, path, from_m, to_m = best
        return self._assemble(mr, path, from_m, to_m, w, weight_ms, src, dst, live.state)

    def _assemble(self, mr: ModeRouter, path: list[int], from_m: float, to_m: float,
                  w: np.ndarray, weight_ms: int, src: Endpoint, dst: Endpoint,
                  state: LiveState) -> RoadRoute:
        gstart, gend, cum, lon, lat, seg_len = self._seg_arrays
        edges = np.asarray(path, dtype=np.int64)
        lo, la, starts, travelled, bs, be = assemble_path(
            edges, float(from_m), float(to_m), mr.edge_seg, mr.edge_rev,
            gstart, gend, cum, lon, lat, seg_len, self._coslat)
        seg_ids = mr.edge_seg[edges]
        full_len = seg_len[seg_ids]
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(full_len > 0, travelled / full_len, 0.0)
        dur = w[edges] * share / 1000.0
        tails = mr.edge_tail[edges]
        steps = build_steps(
            mr.mode, path_labels(self.snapshot, mr.arrays, seg_ids, tails),
            self._seg_roundabout[seg_ids], self.junction_degree[tails],
            travelled, dur, bs, be, lo[starts], la[starts], (float(lo[-1]), float(la[-1])))
        keep = np.ones(lo.shape[0], dtype=bool)
        keep[1:] = (lo[1:] != lo[:-1]) | (la[1:] != la[:-1])
        lo, la = lo[keep], la[keep]
        if lo.shape[0] == 1:
            lo, la = np.repeat(lo, 2), np.repeat(la, 2)
        return RoadRoute(
            mode=mr.mode, duration_s=weight_ms / 1000.0, distance_m=float(travelled.sum()),
            lon=lo, lat=la, edges=edges, edge_travelled_m=travelled, edge_duration_s=dur,
            steps=steps, origin=src.snap, destination=dst.snap, live_version=state.version,
            weight_ms=weight_ms)


def _ordered_causes(causes, edges: np.ndarray) -> list[str]:
    """Incident ids acting on these edges, in the order the route meets them."""
    if not causes:
        return []
    found: dict[str, None] = {}
    for e in edges.tolist():
        for c in causes.get(e, ()):
            found[c] = None
    return list(found)


def _share(route: RoadRoute, seg_len: np.ndarray, edge_seg: np.ndarray) -> np.ndarray:
    """Travelled share of each path edge."""
    full = seg_len[edge_seg[route.edges]]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(full > 0, route.edge_travelled_m / full, 0.0)


def _shared_share(a: RoadRoute, b: RoadRoute) -> float:
    """Share of ``a``'s length on edges also used by ``b``."""
    if a.distance_m <= 0:
        return 1.0
    common = np.isin(a.edges, b.edges)
    return float(a.edge_travelled_m[common].sum() / a.distance_m)
