"""Time-dependent car routes: leave at a given time, every edge timed when it is reached.

The travel time of an edge entered at instant ``t`` is the single cost model of
:func:`routing.kernels.td.edge_cost`: the typical time then (15-min profiles, free flow
without data), blended with live observations as they age, then the incident effects in
force at ``t`` (closures, speed limits, lane closures, fixed delays). The search is an A*
TD-Dijkstra on arrival times (:func:`routing.kernels.td.td_dijkstra`), so a closure that
starts while the car is on its way, or a slowdown that ends before it gets there, is
honoured exactly when the edge is reached.

An answer splits its ETA by source per edge: free-flow time, the typical excess over it, and
the live excess (observations and incidents) over the typical time.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from routing.clock import epoch_ms
from routing.kernels.limits import INF_WEIGHT
from routing.kernels.td import edge_cost, td_dijkstra, ttf_many
from routing.live import split_live
from routing.profiles import Mode
from routing.road import NoRouteError, RoadRoute, RoadRouter
from routing.state import CostModel, RoutingState


@dataclass
class TdGraph:
    """Out-arc CSR of the car kernel graph and the A* bound's inputs, built once per
    router: kernel-node positions in metres (scaled so they never overstate a distance)
    and the fastest free-flow speed."""

    out_offsets: np.ndarray  # int64 [n_nodes + 1]
    out_arc: np.ndarray  # int32 arc id per CSR position
    out_head: np.ndarray  # int32 head node per CSR position
    out_edge: np.ndarray  # int32 edge per CSR position
    arc_tail: np.ndarray  # int32 per arc id
    arc_edge: np.ndarray  # int32 per arc id
    node_x: np.ndarray  # float64 metres
    node_y: np.ndarray  # float64 metres
    free_m_per_ms: float  # fastest free-flow speed
    edge_length_m: np.ndarray  # float64 per edge
    #: int64 fixed penalty per CSR position (entering destination-only roads)
    out_extra: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    #: int64 turn time per CSR position (car turn costs, signals)
    out_turn: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


_graphs: weakref.WeakKeyDictionary[Any, TdGraph] = weakref.WeakKeyDictionary()
#: Safety margin of the straight-line bound against projection and geometry rounding.
_BOUND_MARGIN = 0.98


def td_graph(router: RoadRouter) -> TdGraph:
    """The (cached) :class:`TdGraph` of the router's car kernel graph."""
    g = _graphs.get(router)
    if g is None:
        a = router.modes[Mode.CAR].arrays
        tail = np.asarray(a.arc_tail, np.int32)
        n = int(a.kernel_node_count)
        order = np.argsort(tail, kind="stable").astype(np.int32)
        off = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(tail, minlength=n), out=off[1:])
        kj = np.asarray(a.knode_junction)
        lat = np.asarray(router.snapshot.node_lat)[kj]
        lon = np.asarray(router.snapshot.node_lon)[kj]
        # Equirectangular metres with the smallest scale of the extract on each axis.
        kx = 111_319.49 * math.cos(math.radians(float(np.abs(lat).max()))) if n else 0.0
        ky = 110_574.0
        length = np.asarray(a.edge_length_m, np.float64)
        ff = np.asarray(a.edge_time_ms, np.float64)
        speed = float((length / ff).max()) if ff.shape[0] else 0.0  # metres per ms
        arc_head = np.asarray(a.arc_head, np.int32)
        arc_edge = np.asarray(a.arc_edge, np.int32)
        turn = np.asarray(a.arc_turn_ms, np.int64)
        penalty = np.asarray(a.arc_extra_ms, np.int64) - turn
        g = TdGraph(off, order, arc_head[order], arc_edge[order], tail, arc_edge,
                    lon * kx * _BOUND_MARGIN, lat * ky * _BOUND_MARGIN, speed, length,
                    np.ascontiguousarray(penalty[order]), np.ascontiguousarray(turn[order]))
        _graphs[router] = g
    return g


@dataclass
class TdRoute:
    """A time-dependent car route: times per edge and where each time came from."""

    route: RoadRoute  # geometry, steps, distance (durations are the TD ones)
    depart: datetime  # local, aware
    arrival: datetime  # local, aware
    day_type: str | None
    duration_s: float
    free_flow_duration_s: float  # the same path at free-flow times
    typical_duration_s: float  # the same path at typical times (when entered)
    edges: np.ndarray  # car edge ids in travel order
    edge_entry_s: np.ndarray  # seconds after departure at which each edge is entered
    edge_duration_s: np.ndarray  # seconds spent on each (partial) edge
    #: seconds each live part (routing.live.LIVE_PARTS) adds above the typical times
    live_added_s: dict[str, float] = field(default_factory=dict)

    @property
    def edge_entry(self) -> list[datetime]:
        """Local entry time of each edge."""
        t0 = self.depart.astimezone(UTC)
        z = self.depart.tzinfo
        return [(t0 + timedelta(seconds=float(s))).astimezone(z) for s in self.edge_entry_s]

    @property
    def duration_by_source_s(self) -> dict[str, float]:
        """Seconds of the ETA from free flow, from typical speeds above it, and from live
        conditions (observations, incidents) above typical."""
        typ = max(self.typical_duration_s - self.free_flow_duration_s, 0.0)
        return {"free_flow": min(self.free_flow_duration_s, self.duration_s),
                "typical": typ,
                "live": self.duration_s - min(self.free_flow_duration_s, self.duration_s) - typ}

    @property
    def live_sources_s(self) -> dict[str, float]:
        """The live seconds of :attr:`duration_by_source_s` split by live part
        (:func:`routing.live.split_live`)."""
        live = round(max(self.duration_by_source_s["live"], 0.0), 1)
        return split_live(live, self.live_added_s)


def _local_ms(local: datetime) -> int:
    return ((local.hour * 60 + local.minute) * 60 + local.second) * 1000 \
        + local.microsecond // 1000


def td_route(router: RoadRouter, state: RoutingState, from_lat: float, from_lon: float,
             to_lat: float, to_lon: float, depart: datetime, use_bound: bool = True) -> TdRoute:
    """Earliest-arrival car route leaving at ``depart`` (aware) in ``state``'s live inputs.

    ``state`` should be the state at the departure (``StatePublisher.at``): its weights
    decide which edges the endpoints may snap to. Raises :class:`routing.road.SnapError` or
    :class:`routing.road.NoRouteError` like :meth:`RoadRouter.route`. ``use_bound=False``
    runs plain TD-Dijkstra (no A*), for checks.
    """
    if depart.tzinfo is None:
        raise ValueError("depart must be timezone-aware")
    mr = router.modes[Mode.CAR]
    zone = ZoneInfo(state.timezone)
    local = depart.astimezone(zone)
    t0 = _local_ms(local)
    t0_epoch = epoch_ms(depart)
    cm: CostModel = state.cost_model(Mode.CAR, depart)
    args = cm.args()
    w_snap = state.weights(Mode.CAR)
    src, dst = router.snap_pair(state, Mode.CAR, from_lat, from_lon, to_lat, to_lon, w_snap)
    seg_len = router.seg_length_m

    def frac(e: int, metres: float) -> float:
        seg_l = seg_len[mr.edge_seg[e]]
        return min(max((metres / seg_l) if seg_l > 0 else 0.0, 0.0), 1.0)

    def cost(e: int, t: int) -> int:
        return int(edge_cost(e, t, t0_epoch + (t - t0), *args))

    g = td_graph(router)
    bans = state.banned_arcs(Mode.CAR)
    out_extra = g.out_extra
    if bans.shape[0]:  # conditional turn bans in force at the departure
        out_extra = np.array(out_extra)
        out_extra[np.isin(g.out_arc, bans)] = INF_WEIGHT
    banned = set(bans.tolist())
    fastest = max(g.free_m_per_ms, state.live.speeds.fastest_m_per_ms(g.edge_length_m)
                  if state.live.speeds is not None else 0.0)
    inv_speed = 1.0 / fastest if (use_bound and fastest > 0) else 0.0
    s_node, s_time, s_idx = [], [], []
    for i, (e, m) in enumerate(src.edges):
        c = cost(e, t0)
        if c >= INF_WEIGHT:
            continue
        s_node.append(int(mr.edge_head_knode[e]))
        s_time.append(t0 + int(round(float(c) * (1.0 - frac(e, m)))))
        s_idx.append(i)
    tn, te, tf, tm, tx, tt = [], [], [], [], [], []
    for e, m in dst.edges:
        for a in range(int(mr.edge_arc_offsets[e]), int(mr.edge_arc_offsets[e + 1])):
            tn.append(int(mr.arc_tail[a]))
            te.append(e)
            tf.append(frac(e, m))
            tm.append(m)
            turn = int(mr.arc_turn[a]) if mr.arc_turn.shape[0] else 0
            tx.append(INF_WEIGHT if a in banned else
                      (int(mr.arc_extra[a]) if mr.arc_extra.shape[0] else 0) - turn)
            tt.append(turn)
    best: tuple[int, list[int], list[int], float, float, int, list[int]] | None = None
    for e, m0 in src.edges:  # both endpoints on one edge, in order: no kernel needed
        for e2, m1 in dst.edges:
            if e == e2 and m1 >= m0:
                c = cost(e, t0)
                if c >= INF_WEIGHT:
                    continue
                seg_l = seg_len[mr.edge_seg[e]]
                dt = int(round(float(c) * ((m1 - m0) / seg_l if seg_l > 0 else 0.0)))
                if best is None or t0 + dt < best[0]:
                    best = (t0 + dt, [e], [t0], m0, m1, 0, [0])
    if s_node and tn:
        arr, si, ti, arcs, times = td_dijkstra(
            g.out_offsets, g.out_arc, g.out_head, g.out_edge, g.arc_tail, g.node_x, g.node_y,
            inv_speed, t0, t0_epoch, *args, np.array(s_node, np.int32),
            np.array(s_time, np.int64), np.array(tn, np.int32), np.array(te, np.int32),
            np.array(tf, np.float64), out_extra, np.array(tx, np.int64), g.out_turn,
            np.array(tt, np.int64))
        turns = (mr.arc_turn[arcs] if mr.arc_turn.shape[0] else np.zeros(arcs.shape[0], np.int64))
        extra = (int(mr.arc_extra[arcs].sum() - turns.sum()) + tx[int(ti)]
                 if arr >= 0 and mr.arc_extra.shape[0] else 0)  # penalties only
        if arr >= 0 and (best is None or arr + extra < best[0] + best[5]):
            s_edge, s_m = src.edges[s_idx[int(si)]]
            path = [s_edge, *g.arc_edge[arcs].tolist(), te[int(ti)]]
            # each edge is entered after the turn onto it
            turn_in = [0, *turns.tolist(), tt[int(ti)]]
            entered = [t0, *(times[:-1] + turns).tolist(), int(times[-1]) + tt[int(ti)]]
            best = (int(arr), path, entered, s_m, tm[int(ti)], extra, turn_in)
    if best is None:
        raise NoRouteError("no car route between the two points at that departure time")
    arrival_ms, path, entries, from_m, to_m, extra_ms, turn_in = best
    ent = np.asarray(entries, np.int64)
    durs = np.diff(np.append(ent, arrival_ms)) / 1000.0
    pe = np.asarray(path, np.int64)
    full = np.array([cost(int(e), int(t)) for e, t in zip(pe, ent, strict=True)], np.int64)
    w_eff = np.array(mr.free_flow_ms, dtype=np.int64)
    w_eff[pe] = full
    turn_ms = np.asarray(turn_in, np.int64)
    rr = router.assemble(state, Mode.CAR, path, from_m, to_m, w_eff,
                         int(arrival_ms - t0) + extra_ms, src, dst,
                         extra_ms + int(turn_ms.sum()), turn_ms)
    rr.edge_duration_s = durs
    share = router.edge_shares(Mode.CAR, rr)
    ff_s = float((mr.free_flow_ms[pe] * share).sum()) / 1000.0
    if cm.row_of_edge.shape[0]:
        typ = ttf_many(pe, ent, cm.row_of_edge, cm.ttf, cm.free_ms)
    else:
        typ = mr.free_flow_ms[pe]
    typ_s = float((typ * share).sum()) / 1000.0
    # turn time (car turn costs, signals) is the same at any hour: free flow and typical
    turns_s = float(turn_ms.sum()) / 1000.0
    ff_s += turns_s
    typ_s += turns_s
    added = cm.live_added_s(pe, share, ent, t0_epoch + (ent - t0))
    dur_s = (arrival_ms - t0) / 1000.0
    arrival = (depart.astimezone(UTC) + timedelta(milliseconds=arrival_ms - t0)).astimezone(zone)
    return TdRoute(rr, local, arrival, cm.day_type, dur_s, ff_s, typ_s, pe, (ent - t0) / 1000.0,
                   durs, added)
