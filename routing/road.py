"""Road route answers for car, bike and walk: snap → CCH query → path, geometry, steps.

:class:`RoadRouter` holds only what never changes: per mode the metric-independent kernel,
a snapper and the static edge arrays. Every query takes the request's
:class:`routing.state.RoutingState` explicitly (weights, metrics, incident causes), so the
route, its explanation, alternatives and free-flow comparison of one answer all come from
one state.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import breadth_first_order, connected_components

from routing.conditional import MODE_VEHICLE, ConditionTable, ModeConditionals
from routing.graph import arc_weights
from routing.kernels.cch import CustomizedMetric, PrivateMetric, RoadKernel
from routing.kernels.limits import INF_WEIGHT
from routing.kernels.pathgeom import assemble_path, segment_bearings
from routing.kernels.td import ttf_many
from routing.labels import path_labels
from routing.live import split_live
from routing.profiles import DEFAULT_TRUCK, FLAG_DEST, FLAG_PUSHED, MODES, Mode, VehicleDims
from routing.snap import (
    SNAP_CONNECTED_PIECE,
    SNAP_DISCONNECTED_PIECE,
    Projection,
    SnapCandidate,
    Snapper,
    SnapPieces,
)
from routing.snapshot import ModeArrays, Snapshot
from routing.steps import Step, build_steps

if TYPE_CHECKING:
    from routing.live import IncidentInfo
    from routing.state import ModeWeights, RoutingState

DEFAULT_MAX_SNAP_M = 1000.0
#: Alternatives: a kept route shares at most this share of its length with each other kept
#: route, and takes at most this factor of the best route's duration.
ALT_MAX_SHARED = 0.6
ALT_MAX_STRETCH = 1.4
ALT_PENALTY = 1.6
#: A snapped point this close to a segment's end is that junction: every street there counts.
JUNCTION_SNAP_M = 0.01


class RoutingError(Exception):
    """Base class for routing answers that cannot be given (mapped to 4xx by the API)."""


class UnknownModeError(RoutingError):
    """The mode is not one of car, bike, walk."""


class NoStreetNetworkError(UnknownModeError):
    """The snapshot has no street network (built from GTFS only), so no road mode."""


#: What a road request on a transit-only snapshot is told.
NO_STREET_NETWORK = "this snapshot has no street network; it was built from GTFS only"


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
    #: seconds more than the best route of the same answer (alternatives; 0 for the best)
    extra_s: float = 0.0
    #: turn time (s) counted on entering each path edge (car turn costs, signals)
    edge_turn_s: np.ndarray = field(default_factory=lambda: np.zeros(0))

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
    edge_head: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    edge_snappable: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    seg_edge_lo: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    seg_edge_hi: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    #: per segment: bit 1 = the mode has its forward edge, bit 2 = its backward edge
    seg_dirs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))
    #: edges by tail / head junction (CSR over junctions)
    out_offsets: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    out_edges: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    in_offsets: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    in_edges: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    #: fixed extra weight (ms) per kernel arc (entering destination-only roads)
    arc_extra: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    #: the part of ``arc_extra`` that is driving time (turn costs, signals)
    arc_turn: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    #: per edge: FLAG_DEST | FLAG_PUSHED | FLAG_FERRY
    edge_flags: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))
    #: per edge: max height, width, weight, length (0 = none), float32 [E, 4]
    edge_limits: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    #: conditional access and turn bans of this mode (evaluated per state's instant)
    conditional: ModeConditionals | None = None
    #: index over every segment of the mode, pieces off the main component included
    #: (``None`` when every segment is in the main component)
    snapper_all: Snapper | None = None
    #: strongly connected component of every kernel node (the main one is ``main_scc``)
    knode_scc: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    main_scc: int = -1
    #: per edge: a trip starting on it can reach the main component / a trip from the
    #: main component can end on it (static graph; see :func:`_piece_links`)
    edge_leaves_ok: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    edge_enters_ok: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    #: every edge (True), the mask for snapping onto pieces
    edge_all: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    #: per segment: indexed by the main snapper (an edge in the main component)
    seg_main: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

    def arc_weights(self, w: np.ndarray, banned_arcs: np.ndarray | None = None
                    ) -> np.ndarray:
        """Kernel arc weights (int64) for edge weights ``w`` (see
        :func:`routing.graph.arc_weights`); ``banned_arcs`` (turns banned by conditional
        restrictions in force) are closed."""
        aw = arc_weights(w, self.arc_edge, self.arc_extra)
        if banned_arcs is not None and banned_arcs.shape[0]:
            aw = np.array(aw, dtype=np.int64)
            aw[banned_arcs] = INF_WEIGHT
        return aw


@dataclass(frozen=True, slots=True)
class Explanation:
    """What the live state did to a route: incidents on it (in the order met), incidents on
    the usual route that it avoids, the delay against the usual route (same instant, no
    incident), and what each named incident is (for messages in the reader's language)."""

    incidents: list[str]
    avoided: list[str]
    delay_s: float
    no_incident_duration_s: float
    about: dict[str, IncidentInfo] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EtaSources:
    """Where a route's duration comes from: free-flow times, the typical excess over free
    flow at the time each edge is driven, and live conditions (observations, incidents)
    above typical. ``arrival`` and ``day_type`` are set for timed routes. ``live_sources``
    splits ``live_s`` over :data:`routing.live.LIVE_PARTS` (traffic centre observations,
    bus probes, incidents; see :func:`routing.live.split_live`)."""

    free_flow_s: float
    typical_s: float
    live_s: float
    day_type: str | None = None
    arrival: datetime | None = None
    live_sources: Mapping[str, float] = field(default_factory=dict)


def _piece_links(kn: int, arc_tail: np.ndarray, arc_head: np.ndarray, arc_edge: np.ndarray,
                 edge_head_knode: np.ndarray, n_edges: int
                 ) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
    """Strongly connected components of a kernel graph of ``kn`` nodes and, per edge,
    whether a trip starting on it can reach the largest component (its head node reaches
    it) and whether a trip from that component can end on it (some arc entering the edge
    leaves a node reached from it). Returns ``(scc label per node, main label, leaves_ok,
    enters_ok)``."""
    tail = np.asarray(arc_tail, np.int64)
    head = np.asarray(arc_head, np.int64)
    if tail.shape[0] == 0 or kn == 0:
        z = np.zeros(n_edges, bool)
        return np.zeros(kn, np.int64), -1, z, z.copy()
    ones = np.ones(tail.shape[0], np.int8)
    m = coo_matrix((ones, (tail, head)), shape=(kn, kn)).tocsr()
    _, labels = connected_components(m, directed=True, connection="strong")
    main = int(np.argmax(np.bincount(labels)))
    main_nodes = np.flatnonzero(labels == main)
    # A super node (index kn) linked to every main node: one search finds everything the
    # main component reaches; the same on the reversed arcs, everything that reaches it.
    link = np.full(main_nodes.shape[0], kn, np.int64)
    ones_l = np.ones(tail.shape[0] + main_nodes.shape[0], np.int8)
    fwd = coo_matrix((ones_l, (np.r_[tail, link], np.r_[head, main_nodes])),
                     shape=(kn + 1, kn + 1)).tocsr()
    bwd = coo_matrix((ones_l, (np.r_[head, link], np.r_[tail, main_nodes])),
                     shape=(kn + 1, kn + 1)).tocsr()
    reached = np.zeros(kn + 1, bool)
    reached[breadth_first_order(fwd, kn, directed=True, return_predecessors=False)] = True
    reaches = np.zeros(kn + 1, bool)
    reaches[breadth_first_order(bwd, kn, directed=True, return_predecessors=False)] = True
    leaves_ok = reaches[np.asarray(edge_head_knode, np.int64)]
    enters_ok = np.zeros(n_edges, bool)
    enters_ok[np.asarray(arc_edge, np.int64)[reached[tail]]] = True
    return labels.astype(np.int64), main, leaves_ok, enters_ok


def _csr(keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(keys, kind="stable").astype(np.int32)
    off = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(keys, minlength=n), out=off[1:])
    return off, order


class RoadRouter:
    """Answers road routes on a snapshot; the live side comes with each call's state."""

    def __init__(self, snapshot: Snapshot, max_snap_m: float = DEFAULT_MAX_SNAP_M,
                 modes: tuple[str, ...] | None = None) -> None:
        """Prepare ``modes`` (default: every mode of the snapshot — none for a transit-only
        snapshot, whose every road query raises :class:`NoStreetNetworkError`)."""
        if modes is None:
            modes = tuple(m for m in MODES if m in snapshot.modes)
        self.snapshot = snapshot
        self.max_snap_m = max_snap_m
        w, s, e, n = snapshot.bbox
        self.projection = Projection((w + e) / 2, (s + n) / 2)
        self.coslat = math.cos(math.radians(self.projection.lat0))
        seg = snapshot.segments
        self.segments = seg
        # views of the snapshot's memory-mapped arrays, not copies: the pages are shared by
        # every worker serving this snapshot
        self.seg_name_idx = np.asarray(seg.name_idx)
        self.seg_roundabout = np.asarray(seg.roundabout)
        self.seg_gstart = np.asarray(seg.gstart)
        self.seg_gend = np.asarray(seg.gend)
        self.seg_cum_m = np.asarray(seg.cum_m)
        self.seg_lon = np.asarray(seg.lon)
        self.seg_lat = np.asarray(seg.lat)
        #: length (m) of every segment
        self.seg_length_m = np.asarray(seg.length_m, dtype=np.float64)
        #: per segment, bearings leaving its start and its end (branches at junctions)
        self.seg_bearings = segment_bearings(
            self.seg_gstart, self.seg_gend, self.seg_lon, self.seg_lat,
            math.cos(math.radians((s + n) / 2)))
        n_junctions = snapshot.node_lon.shape[0]
        deg = np.bincount(np.concatenate([seg.u, seg.v]), minlength=n_junctions)
        self.junction_degree = deg
        self.modes: dict[str, ModeRouter] = {}
        #: the snapshot's conditions, evaluated in the city's timezone
        w, so, e, n = snapshot.bbox
        self.conditions = ConditionTable(snapshot.conditions,
                                         snapshot.timezone if snapshot.conditions else "UTC",
                                         ((so + n) / 2.0, (w + e) / 2.0))
        snappable = {m: np.unique(np.asarray(snapshot.modes[m].edge_seg)[
            np.asarray(snapshot.modes[m].edge_snappable)]) for m in modes}
        # one table of straight pieces for every mode's snapping grids (modes share most
        # segments: one copy of the piece arrays instead of one per mode); it covers every
        # segment a mode uses, small pieces off the main network included
        pieces = SnapPieces.build(seg.lon, seg.lat, seg.gstart, seg.gend,
                                  np.unique(np.concatenate([
                                      np.zeros(0, np.int64),
                                      *(np.asarray(snapshot.modes[m].edge_seg)
                                        for m in modes)])),
                                  self.projection)
        for mode in modes:
            a = snapshot.modes[mode]
            kernel = RoadKernel(a.kernel_node_count, np.asarray(a.arc_tail),
                                np.asarray(a.arc_head), np.asarray(a.cch_order))
            snapper = Snapper(seg.lon, seg.lat, seg.gstart, seg.gend, snappable[mode],
                              self.projection, pieces)
            ff = np.asarray(a.edge_time_ms, np.int64)
            ff.flags.writeable = False
            mr = ModeRouter(mode, a, kernel, snapper, ff,
                            np.asarray(a.arc_edge), np.asarray(a.edge_arc_offsets),
                            np.asarray(a.arc_tail), np.asarray(a.edge_head_knode))
            mr.edge_seg = np.asarray(a.edge_seg)
            mr.edge_rev = np.asarray(a.edge_rev)
            mr.edge_tail = np.asarray(a.edge_tail)
            mr.edge_head = np.asarray(a.edge_head)
            mr.edge_snappable = np.asarray(a.edge_snappable)
            nseg = seg.u.shape[0]
            mr.seg_edge_lo = np.searchsorted(mr.edge_seg, np.arange(nseg), side="left")
            mr.seg_edge_hi = np.searchsorted(mr.edge_seg, np.arange(nseg), side="right")
            mr.seg_dirs = np.zeros(nseg, np.uint8)
            np.bitwise_or.at(mr.seg_dirs, mr.edge_seg,
                             np.where(mr.edge_rev, 2, 1).astype(np.uint8))
            mr.out_offsets, mr.out_edges = _csr(mr.edge_tail, n_junctions)
            mr.in_offsets, mr.in_edges = _csr(mr.edge_head, n_junctions)
            mr.arc_extra = np.asarray(a.arc_extra_ms, np.int64)
            mr.arc_turn = np.asarray(a.arc_turn_ms, np.int64)
            mr.edge_flags = np.asarray(a.edge_flags)
            mr.edge_limits = np.asarray(a.edge_limits)
            mr.conditional = ModeConditionals(
                self.conditions, MODE_VEHICLE.get(mode), np.array(a.cond_edge),
                np.array(a.cond_ids), np.array(a.cond_open), np.array(a.cond_arc),
                np.array(a.cond_arc_cond))
            edge_seg = mr.edge_seg
            snappable_segs = snappable[mode]
            mode_segs = np.unique(edge_seg)
            if mode_segs.shape[0] > snappable_segs.shape[0]:
                mr.snapper_all = Snapper(seg.lon, seg.lat, seg.gstart, seg.gend, mode_segs,
                                         self.projection, pieces)
                mr.knode_scc, mr.main_scc, mr.edge_leaves_ok, mr.edge_enters_ok = \
                    _piece_links(int(a.kernel_node_count), mr.arc_tail,
                                 np.asarray(a.arc_head), mr.arc_edge,
                                 mr.edge_head_knode, edge_seg.shape[0])
                mr.edge_all = np.ones(edge_seg.shape[0], bool)
                mr.seg_main = np.zeros(nseg, bool)
                mr.seg_main[snappable_segs] = True
            self.modes[mode] = mr

    # ---- snapping ---------------------------------------------------------------------
    def _endpoint_edges(self, mr: ModeRouter, cand: SnapCandidate, weights: np.ndarray,
                        any_edge: bool = False) -> list[tuple[int, float]]:
        """Usable edges at a snapped point with the metres into each. A point on a junction
        (the segment's end) is tied to every open edge at that junction, not to one street:
        edges leaving it (0 m in) and entering it (their full length in); where
        destination-only roads meet others there, only the others (the point is outside).
        Only edges of the main component, unless ``any_edge``."""
        snappable = mr.edge_all if any_edge else mr.edge_snappable
        seg_len = float(self.seg_length_m[cand.segment])
        along = cand.fraction * seg_len
        junction = -1
        if along <= JUNCTION_SNAP_M:
            junction = int(self.segments.u[cand.segment])
        elif seg_len - along <= JUNCTION_SNAP_M:
            junction = int(self.segments.v[cand.segment])
        out: list[tuple[int, float]] = []
        if junction >= 0:
            for e in mr.out_edges[mr.out_offsets[junction]:mr.out_offsets[junction + 1]].tolist():
                if weights[e] < INF_WEIGHT and snappable[e]:
                    out.append((e, 0.0))
            for e in mr.in_edges[mr.in_offsets[junction]:mr.in_offsets[junction + 1]].tolist():
                if weights[e] < INF_WEIGHT and snappable[e]:
                    out.append((e, float(self.seg_length_m[mr.edge_seg[e]])))
            # A junction where destination-only roads meet others counts as outside them.
            outside = [(e, m) for e, m in out if not mr.edge_flags[e] & FLAG_DEST]
            if outside:
                return outside
            if out:
                return out
        for e in range(int(mr.seg_edge_lo[cand.segment]), int(mr.seg_edge_hi[cand.segment])):
            if weights[e] >= INF_WEIGHT or not snappable[e]:
                continue
            out.append((e, seg_len - along if mr.edge_rev[e] else along))
        return out

    def snap(self, state: RoutingState, mode: str, lat: float, lon: float,
             which: str = "point", weights: np.ndarray | None = None) -> Endpoint:
        """Snap a coordinate for ``mode`` onto the nearest edge open in ``state`` (or under
        ``weights``) within the max distance. Raises :class:`SnapError` or
        :class:`UnknownModeError`."""
        mr = self._mode(mode)
        w = state.weights(mode) if weights is None else weights
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

    def snap_pair(self, state: RoutingState, mode: str, from_lat: float, from_lon: float,
                  to_lat: float, to_lon: float, weights: np.ndarray | None = None
                  ) -> tuple[Endpoint, Endpoint]:
        """Snap a trip's two ends for ``mode``, small disconnected pieces included.

        Each end goes to the nearest road usable by the mode. When that road is a piece not
        in the mode's main strongly connected component (a car park, a gated estate, a
        oneway stub), it is kept if it connects in the mode's direction — the origin's
        piece reaches the main component, the destination's piece is reached from it, or
        both ends lie in the same piece — with ``reason`` :data:`SNAP_CONNECTED_PIECE`, and
        otherwise the end is snapped to the nearest
        road of the main component instead, with ``reason`` :data:`SNAP_DISCONNECTED_PIECE`
        and the passed-over distance in ``nearest_road_m``. Connectivity is the static
        graph's (turn restrictions, barriers and oneways included; live closures are not).
        Raises :class:`SnapError` or :class:`UnknownModeError`."""
        mr = self._mode(mode)
        w = state.weights(mode) if weights is None else weights
        ends: list[tuple[str, float, float, Endpoint | None, Endpoint | None]] = []
        for which, lat, lon in (("from", from_lat, from_lon), ("to", to_lat, to_lon)):
            piece: Endpoint | None = None
            main: Endpoint | None = None
            if mr.snapper_all is not None:
                cand = mr.snapper_all.nearest(lon, lat, self.max_snap_m)
                if cand is not None and mr.seg_main[cand.segment]:
                    es = self._endpoint_edges(mr, cand, w)
                    main = Endpoint(cand, es) if es else None  # else: as snap() does
                elif cand is not None:
                    es = self._endpoint_edges(mr, cand, w, any_edge=True)
                    if es and not any(mr.edge_snappable[e] for e, _ in es):
                        piece = Endpoint(replace(cand, reason=SNAP_CONNECTED_PIECE), es)
            ends.append((which, lat, lon, piece, main))
        (_, _, _, o_piece, _), (_, _, _, d_piece, _) = ends
        o_ok = o_piece is not None and any(mr.edge_leaves_ok[e] for e, _ in o_piece.edges)
        d_ok = d_piece is not None and any(mr.edge_enters_ok[e] for e, _ in d_piece.edges)
        if o_piece is not None and d_piece is not None and not (o_ok and d_ok):
            # Both ends in the same piece: routed inside it.
            o_scc = {int(mr.knode_scc[mr.edge_head_knode[e]]) for e, _ in o_piece.edges}
            d_scc = {int(mr.knode_scc[mr.arc_tail[a]]) for e, _ in d_piece.edges
                     for a in range(int(mr.edge_arc_offsets[e]),
                                    int(mr.edge_arc_offsets[e + 1]))}
            if o_scc & d_scc:
                return o_piece, d_piece
        out: list[Endpoint] = []
        for (which, lat, lon, piece, main), ok in zip(ends, (o_ok, d_ok), strict=True):
            if piece is not None and ok:
                out.append(piece)
                continue
            ep = main if main is not None else self.snap(state, mode, lat, lon, which, w)
            if piece is not None:
                ep = Endpoint(replace(ep.snap, reason=SNAP_DISCONNECTED_PIECE,
                                      nearest_road_m=piece.snap.distance_m), ep.edges)
            out.append(ep)
        return out[0], out[1]

    def mode_router(self, mode: str) -> ModeRouter:
        """Kernel, snapper and static arrays of ``mode``. Raises
        :class:`UnknownModeError` (:class:`NoStreetNetworkError` without streets)."""
        return self._mode(mode)

    def vehicle_weights(self, state: RoutingState, mode: str,
                        vehicle: VehicleDims | None = None) -> ModeWeights:
        """``state``'s weights of ``mode`` for a vehicle: for trucks, edges whose
        ``maxheight`` / ``maxwidth`` / ``maxweight`` / ``maxlength`` the vehicle breaks
        (default :data:`routing.profiles.DEFAULT_TRUCK`) are closed, and conditional rules
        with vehicle terms (``hgv:conditional=no @ (weight>7.5)``) are evaluated for it. One
        metric per set of closed edges is kept with the state."""
        mw = state.road[mode]
        if mode != Mode.TRUCK:
            return mw
        from routing.state import ModeWeights  # noqa: PLC0415 (state imports this module)

        mr = self._mode(mode)
        lim = mr.edge_limits
        dims = np.asarray((vehicle or DEFAULT_TRUCK).as_tuple(), np.float32)
        bad = ((lim > 0) & (dims[None, :] > lim)).any(axis=1) if lim.shape[0] else \
            np.zeros(0, bool)
        cond = mr.conditional
        act_std = act_req = None
        if cond is not None and cond.vehicle_dependent:
            act_std = cond.active(state.at)
            act_req = cond.active(state.at, tuple(float(x) for x in dims))
            if np.array_equal(act_std, act_req):
                act_std = act_req = None
        if not bad.any() and act_req is None:
            return mw
        h = hashlib.sha1(np.packbits(bad).tobytes())
        if act_req is not None:
            h.update(np.packbits(act_req).tobytes())
        key = "truck-closed:" + h.hexdigest()

        def make() -> ModeWeights:
            w = np.array(mw.weights_ms, dtype=np.int64)
            bans = mw.banned_arcs
            if cond is not None and act_std is not None and act_req is not None:
                shut = cond.closed_edges(act_req)
                reopen = np.setdiff1d(cond.closed_edges(act_std), shut)
                if reopen.shape[0]:
                    w[reopen] = state.unconditional_weights(mode)[reopen]
                w[shut] = INF_WEIGHT
                bans = cond.banned_arcs(act_req)
            w[bad] = INF_WEIGHT
            w.flags.writeable = False
            return ModeWeights(w, factory=lambda: mr.kernel.customize(mr.arc_weights(w, bans)),
                               banned_arcs=bans)

        return state.memo(key, make)

    def _mode(self, mode: str) -> ModeRouter:
        try:
            return self.modes[mode]
        except KeyError:
            if not self.modes:
                raise NoStreetNetworkError(NO_STREET_NETWORK) from None
            raise UnknownModeError(
                f"unknown mode '{mode}'; expected one of {', '.join(self.modes)}") from None

    def alternatives(self, state: RoutingState, mode: str, from_lat: float, from_lon: float,
                     to_lat: float, to_lon: float, n: int = 3,
                     max_shared: float = ALT_MAX_SHARED, max_stretch: float = ALT_MAX_STRETCH,
                     penalty: float = ALT_PENALTY, max_tries: int = 6,
                     weights: ModeWeights | None = None,
                     vehicle: VehicleDims | None = None) -> list[RoadRoute]:
        """The best route and up to ``n - 1`` alternatives (penalty method) in ``state``
        (or on ``weights``, e.g. a stretch closed for diversions).

        After each found route its edges' weights are multiplied by ``penalty`` and the
        metric re-customized; a candidate is kept when it shares at most ``max_shared`` of
        its length with every kept route and its true duration is at most ``max_stretch``
        times the best's. Durations are always on the real (unpenalized) weights; each
        route's ``extra_s`` is its duration minus the best's. ``vehicle``: the truck's
        dimensions (see :meth:`vehicle_weights`)."""
        mr = self._mode(mode)
        mw = weights or self.vehicle_weights(state, mode, vehicle)
        w = mw.weights_ms
        src, dst = self.snap_pair(state, mode, from_lat, from_lon, to_lat, to_lon, w)
        best = self.route_endpoints(state, mode, src, dst, mw)
        kept = [best]
        if n <= 1:
            return kept
        real = np.asarray(w, dtype=np.float64)
        pen = real.copy()
        bans = mw.banned_arcs
        metric = PrivateMetric(mr.kernel, mr.arc_weights(w, bans))
        arc_off = mr.edge_arc_offsets
        banned = set(bans.tolist())

        def penalize(route: RoadRoute) -> None:
            changes: dict[int, int] = {}
            for e in np.unique(route.edges).tolist():
                if pen[e] >= INF_WEIGHT:
                    continue
                pen[e] *= penalty
                for a in range(int(arc_off[e]), int(arc_off[e + 1])):
                    if a in banned:
                        continue
                    changes[a] = min(int(round(pen[e])) + int(mr.arc_extra[a]),
                                     INF_WEIGHT - 1)
            metric.update(changes)

        penalize(best)
        for _ in range(max_tries):
            if len(kept) >= n:
                break
            try:
                cand = self._route_on(state, mr, src, dst, w, metric, bans)
            except RoutingError:
                break
            share = _share(cand, self.seg_length_m, mr.edge_seg)
            cand.edge_duration_s = real[cand.edges] * share / 1000.0 + cand.edge_turn_s
            cand.duration_s = float(cand.edge_duration_s.sum())
            cand.weight_ms = int(round(cand.duration_s * 1000))
            penalize(cand)
            if cand.duration_s > best.duration_s * max_stretch:
                break  # later candidates only get longer
            if all(_shared_share(cand, r) <= max_shared for r in kept):
                cand.extra_s = cand.duration_s - best.duration_s
                kept.append(cand)
        return kept

    def explain(self, state: RoutingState, route: RoadRoute, from_lat: float,
                from_lon: float, to_lat: float, to_lon: float) -> Explanation:
        """What ``state``'s incidents did to this route: incidents on it, incidents it
        avoids, and the delay against the usual route (same instant, no incident)."""
        on = state.causes_on(route.mode, route.edges)
        if not state.causes(route.mode):
            return Explanation(on, [], 0.0, round(route.duration_s, 1))
        base_mw = state.without_incidents(route.mode)
        try:
            base = self.alternatives(state, route.mode, from_lat, from_lon, to_lat, to_lon,
                                     1, weights=base_mw)[0]
        except RoutingError:
            return Explanation(on, [], 0.0, round(route.duration_s, 1))
        avoided = [c for c in state.causes_on(route.mode, base.edges) if c not in on]
        delay = route.duration_s - base.duration_s
        info = state.live.incidents
        return Explanation(on, avoided, round(delay, 1), round(base.duration_s, 1),
                           {i: info[i] for i in (*on, *avoided) if i in info})

    # ---- routing ----------------------------------------------------------------------
    def route(self, state: RoutingState, mode: str, from_lat: float, from_lon: float,
              to_lat: float, to_lon: float, vehicle: VehicleDims | None = None) -> RoadRoute:
        """Fastest route between two coordinates for ``mode`` in ``state`` (a truck of
        ``vehicle``'s dimensions)."""
        return self.alternatives(state, mode, from_lat, from_lon, to_lat, to_lon, 1,
                                 vehicle=vehicle)[0]

    def route_endpoints(self, state: RoutingState, mode: str, src: Endpoint, dst: Endpoint,
                        weights: ModeWeights | None = None) -> RoadRoute:
        """Route between two snapped endpoints (see :meth:`snap`) in ``state`` (or on
        ``weights``)."""
        mr = self._mode(mode)
        mw = weights or state.road[mode]
        return self._route_on(state, mr, src, dst, mw.weights_ms, mw.metric, mw.banned_arcs)

    def _route_on(self, state: RoutingState, mr: ModeRouter, src: Endpoint, dst: Endpoint,
                  w: np.ndarray, metric: CustomizedMetric | PrivateMetric,
                  banned_arcs: np.ndarray | None = None) -> RoadRoute:
        seg_len = self.seg_length_m
        banned = set(banned_arcs.tolist()) if banned_arcs is not None else set()

        def frac_w(e: int, metres: float, remaining: bool) -> int:
            seg_l = seg_len[mr.edge_seg[e]]
            f = (metres / seg_l) if seg_l > 0 else 0.0
            f = 1.0 - f if remaining else f
            return int(round(float(w[e]) * min(max(f, 0.0), 1.0)))

        sources = [(int(mr.edge_head_knode[e]), frac_w(e, m, True)) for e, m in src.edges]
        targets: list[tuple[int, int]] = []
        target_of: dict[int, list[tuple[int, float, int, int, int]]] = {}
        for e, m in dst.edges:
            fw = frac_w(e, m, False)
            for a in range(int(mr.edge_arc_offsets[e]), int(mr.edge_arc_offsets[e + 1])):
                if a in banned:
                    continue  # a turn onto the target's edge banned now
                k = int(mr.arc_tail[a])
                x = int(mr.arc_extra[a]) if mr.arc_extra.shape[0] else 0
                tt = int(mr.arc_turn[a]) if mr.arc_turn.shape[0] else 0
                targets.append((k, fw + x))
                target_of.setdefault(k, []).append((e, m, fw + x, x, tt))
        # (ms, edges, from_m, to_m, extra ms of the path's arcs, turn ms per path edge)
        best: tuple[int, list[int] | np.ndarray, float, float, int,
                    list[int] | np.ndarray] | None = None
        # Same-segment answer without the kernel (both endpoints on one edge, in order).
        for e, m0 in src.edges:
            for e2, m1 in dst.edges:
                if e == e2 and m1 >= m0:
                    seg_l = seg_len[mr.edge_seg[e]]
                    cost = int(round(float(w[e]) * ((m1 - m0) / seg_l if seg_l > 0 else 0.0)))
                    if best is None or cost < best[0]:
                        best = (cost, [e], m0, m1, 0, [0])
        kp = metric.query(sources, targets)
        if kp is not None and (best is None or kp.distance < best[0]):
            s_edge, s_m = min(((e, m) for e, m in src.edges
                               if int(mr.edge_head_knode[e]) == kp.source_node),
                              key=lambda em: frac_w(em[0], em[1], True))
            t_edge, t_m, _, t_x, t_t = min(target_of[kp.target_node], key=lambda x: x[2])
            k = kp.arcs.shape[0]
            edges = np.empty(k + 2, np.int64)
            edges[0], edges[-1] = s_edge, t_edge
            edges[1:-1] = mr.arc_edge[kp.arcs]
            extra = t_x + (int(mr.arc_extra[kp.arcs].sum()) if mr.arc_extra.shape[0] else 0)
            turns = np.zeros(k + 2, np.int64)
            if mr.arc_turn.shape[0]:
                turns[1:-1] = mr.arc_turn[kp.arcs]
            turns[-1] = t_t
            best = (kp.distance, edges, s_m, t_m, extra, turns)
        if best is None:
            raise NoRouteError(f"no {mr.mode} route between the two points under the current "
                               f"conditions (live version {state.version})")
        weight_ms, path, from_m, to_m, extra_ms, turn_ms = best
        return self.assemble(state, mr.mode, path, from_m, to_m, w, weight_ms, src, dst,
                             extra_ms, np.asarray(turn_ms, np.int64))

    def assemble(self, state: RoutingState, mode: str, path: list[int] | np.ndarray,
                 from_m: float, to_m: float, w: np.ndarray, weight_ms: int, src: Endpoint,
                 dst: Endpoint, extra_ms: int = 0, turn_ms: np.ndarray | None = None
                 ) -> RoadRoute:
        """Geometry, per-edge lengths and durations (on ``w``) and steps of a path that
        starts ``from_m`` into its first edge and ends ``to_m`` into its last.
        ``weight_ms`` is the path's kernel weight, of which ``extra_ms`` are fixed arc
        extras: ``turn_ms`` (per path edge, counted on entering it) are driving time, the
        rest penalties (destination-only entries) left out of the duration."""
        mr = self._mode(mode)
        edges = np.asarray(path, dtype=np.int64)
        lo, la, starts, travelled, bs, be = assemble_path(
            edges, float(from_m), float(to_m), mr.edge_seg, mr.edge_rev,
            self.seg_gstart, self.seg_gend, self.seg_cum_m, self.seg_lon, self.seg_lat,
            self.seg_length_m, self.coslat)
        seg_ids = mr.edge_seg[edges]
        full_len = self.seg_length_m[seg_ids]
        share = np.zeros(edges.shape[0])
        np.divide(travelled, full_len, out=share, where=full_len > 0)
        turn_s = (np.zeros(edges.shape[0]) if turn_ms is None
                  else np.asarray(turn_ms, np.float64) / 1000.0)
        dur = w[edges] * share / 1000.0 + turn_s
        tails = mr.edge_tail[edges]
        steps = build_steps(
            mr.mode, path_labels(self.snapshot, mr.seg_dirs, seg_ids, tails, self.seg_bearings),
            self.seg_roundabout[seg_ids], self.junction_degree[tails],
            travelled, dur, bs, be, lo[starts], la[starts], (float(lo[-1]), float(la[-1])),
            (mr.edge_flags[edges] & FLAG_PUSHED) != 0 if mr.edge_flags.shape[0] else None)
        keep = np.ones(lo.shape[0], dtype=bool)
        keep[1:] = (lo[1:] != lo[:-1]) | (la[1:] != la[:-1])
        lo, la = lo[keep], la[keep]
        if lo.shape[0] == 1:
            lo, la = np.repeat(lo, 2), np.repeat(la, 2)
        return RoadRoute(
            mode=mr.mode, duration_s=(weight_ms - extra_ms) / 1000.0 + float(turn_s.sum()),
            distance_m=float(travelled.sum()),
            lon=lo, lat=la, edges=edges, edge_travelled_m=travelled, edge_duration_s=dur,
            steps=steps, origin=src.snap, destination=dst.snap, live_version=state.version,
            weight_ms=weight_ms, edge_turn_s=turn_s)

    def eta_sources(self, state: RoutingState, route: RoadRoute) -> EtaSources:
        """Split a route of ``state`` (driven at ``state.at``) by source of its time."""
        mr = self._mode(route.mode)
        share = self.edge_shares(route.mode, route)
        e = route.edges
        ff_s = float((mr.free_flow_ms[e] * share).sum()) / 1000.0
        typ_s = ff_s
        day_type = None
        local = state.local_time()
        t_local = ((local.hour * 60 + local.minute) * 60 + local.second) * 1000 + \
            local.microsecond // 1000
        cm = state.cost_model(route.mode)
        if route.mode == Mode.CAR and state.typical is not None:
            day_type = cm.day_type
            if cm.row_of_edge.shape[0]:
                typ = ttf_many(e, np.full(e.shape[0], t_local, np.int64), cm.row_of_edge,
                               cm.ttf, cm.free_ms)
                typ_s = float((typ * share).sum()) / 1000.0
        dur = route.duration_s
        ff_part = min(ff_s, dur)
        typ_part = min(max(typ_s - ff_s, 0.0), dur - ff_part)
        live_part = round(max(dur - ff_part - typ_part, 0.0), 1)
        added = cm.live_added_s(e, share, np.full(e.shape[0], t_local, np.int64),
                                np.full(e.shape[0], state.at_ms, np.int64))
        return EtaSources(round(ff_part, 1), round(typ_part, 1), live_part, day_type,
                          live_sources=split_live(live_part, added))

    def edge_shares(self, mode: str, route: RoadRoute) -> np.ndarray:
        """Travelled share (0..1) of each path edge of ``route``."""
        return _share(route, self.seg_length_m, self.modes[mode].edge_seg)


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
