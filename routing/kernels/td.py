"""Time-dependent car routing kernel (numba): travel-time functions and TD-Dijkstra.

Times are integer milliseconds since midnight of the departure's local day. An edge's
travel-time function (TTF) is piecewise linear between the centres of 96 bins of 15 min
(cyclic over midnight); an edge without a typical profile (``row == -1``) takes its
free-flow time at any hour. :func:`edge_cost` adds live speed observations and incident
effects in force at the moment an edge is entered; it is the single cost model shared by
timed routes, the live metric (:func:`all_edge_costs` at "now") and the congestion map.
TD-Dijkstra computes earliest arrivals by label setting on arrival times (no waiting); with
FIFO costs this is the exact earliest arrival.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

from routing.kernels.heap import heap_pop, heap_push
from routing.kernels.limits import INF_WEIGHT, MAX_FINITE_WEIGHT

DAY_MS = 86_400_000
BIN_MS = 900_000
N_BINS = 96
HALF_BIN_MS = BIN_MS // 2
INF_TIME = np.int64(2**62)
#: ``obs_at_ms`` of an edge without a live observation.
NO_OBSERVATION = np.int64(-(2**62))
#: An observation stamped up to this much after an instant still counts at it (clock skew).
FUTURE_TOLERANCE_MS = 60_000

#: Live-observation arguments of :func:`edge_cost`:
#: ``(obs_ms, obs_at_ms, obs_conf, fresh_ms, max_age_ms)``.
ObservationArgs = tuple[np.ndarray, np.ndarray, np.ndarray, int, int]
#: Incident-effect arguments of :func:`edge_cost`:
#: ``(eff_off, eff_closed, eff_min_ms, eff_factor, eff_add_ms, eff_lo_ms, eff_hi_ms)``.
EffectArgs = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                   np.ndarray]
#: Every argument of :func:`edge_cost` after the times:
#: ``(row_of_edge, ttf, free_ms, live_edge)``, then :data:`ObservationArgs`, then
#: :data:`EffectArgs`.
CostArgs = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                 np.ndarray, np.ndarray, np.ndarray, int, int,
                 np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                 np.ndarray]


@njit(cache=True, inline="always")
def interp_bins(t_ms: int) -> tuple[int, int, int]:
    """The two bins to interpolate between at time ``t_ms`` and the offset (ms) past the
    first bin's centre: ``(b, b_next, dt_ms)`` with ``0 <= dt_ms < BIN_MS``."""
    x = t_ms % DAY_MS - HALF_BIN_MS
    if x < 0:
        x += DAY_MS
    b = x // BIN_MS
    dt = x - b * BIN_MS
    b2 = b + 1
    if b2 == N_BINS:
        b2 = 0
    return b, b2, dt


@njit(cache=True)
def ttf_ms(edge: int, t_ms: int, row_of_edge: np.ndarray, ttf: np.ndarray,
           free_ms: np.ndarray) -> int:
    """Travel time (ms) of ``edge`` entered at ``t_ms``: integer linear interpolation
    (floor) between bin centres, or the free-flow time when the edge has no profile."""
    r = row_of_edge[edge]
    if r < 0:
        return int(free_ms[edge])
    b, b2, dt = interp_bins(t_ms)
    a = np.int64(ttf[r, b])
    c = np.int64(ttf[r, b2])
    return int(a + ((c - a) * dt) // BIN_MS)


@njit(cache=True)
def ttf_many(edges: np.ndarray, t_ms: np.ndarray, row_of_edge: np.ndarray, ttf: np.ndarray,
             free_ms: np.ndarray) -> np.ndarray:
    """Vectorised :func:`ttf_ms` over pairs ``(edges[i], t_ms[i])``."""
    out = np.empty(edges.shape[0], dtype=np.int64)
    for i in range(edges.shape[0]):
        out[i] = ttf_ms(edges[i], t_ms[i], row_of_edge, ttf, free_ms)
    return out


@njit(cache=True)
def live_blend(base: int, e: int, t_epoch_ms: int, obs_ms: np.ndarray, obs_at_ms: np.ndarray,
               obs_conf: np.ndarray, fresh_ms: int, max_age_ms: int) -> int:
    """Blend a live observation into ``base`` (ms) at ``t_epoch_ms``: full weight while the
    observation is at most ``fresh_ms`` old (or up to a minute in the future), then linearly
    less until ``max_age_ms``, times its confidence; ``round(a × observed + (1 - a) × base)``,
    at least 1 ms. Closed stays closed."""
    if obs_ms.shape[0] == 0 or base >= INF_WEIGHT:
        return base
    at = obs_at_ms[e]
    if at == NO_OBSERVATION:
        return base
    age = t_epoch_ms - at
    if age < -FUTURE_TOLERANCE_MS:
        return base  # observed after this instant: it says nothing about it
    if age <= fresh_ms:
        a = 1.0
    else:
        a = np.float64(max_age_ms - age) / np.float64(max(max_age_ms - fresh_ms, 1))
        if a <= 0.0:
            return base
        if a > 1.0:
            a = 1.0
    a *= obs_conf[e]
    if a <= 0.0:
        return base
    v = np.int64(np.rint(a * obs_ms[e] + (1.0 - a) * np.float64(base)))
    return int(max(v, np.int64(1)))


@njit(cache=True)
def apply_effects(base: int, e: int, t_epoch_ms: int, eff_off: np.ndarray,
                  eff_closed: np.ndarray, eff_min_ms: np.ndarray, eff_factor: np.ndarray,
                  eff_add_ms: np.ndarray, eff_lo_ms: np.ndarray, eff_hi_ms: np.ndarray) -> int:
    """Incident effects on edge ``e`` in force at ``t_epoch_ms`` applied to ``base`` (ms).

    Entry ``j`` of the edge (CSR ``eff_off``) acts in ``[eff_lo_ms[j], eff_hi_ms[j])``:
    closed → :data:`INF_WEIGHT`; otherwise ``round(max(base, min_ms) × factor) + add_ms``
    (capped below INF). Several entries: closed wins, else the slowest."""
    if eff_off.shape[0] == 0:
        return base
    best = np.int64(-1)
    for j in range(eff_off[e], eff_off[e + 1]):
        if eff_lo_ms[j] <= t_epoch_ms < eff_hi_ms[j]:
            if eff_closed[j]:
                return INF_WEIGHT
            w = np.float64(max(base, eff_min_ms[j])) * eff_factor[j]
            v = np.int64(np.rint(w)) + eff_add_ms[j]
            if v > MAX_FINITE_WEIGHT:
                v = MAX_FINITE_WEIGHT
            if v > best:
                best = v
    return base if best < 0 else int(best)


@njit(cache=True)
def live_cost(base: int, e: int, t_epoch_ms: int, obs_ms: np.ndarray, obs_at_ms: np.ndarray,
              obs_conf: np.ndarray, fresh_ms: int, max_age_ms: int, eff_off: np.ndarray,
              eff_closed: np.ndarray, eff_min_ms: np.ndarray, eff_factor: np.ndarray,
              eff_add_ms: np.ndarray, eff_lo_ms: np.ndarray, eff_hi_ms: np.ndarray) -> int:
    """``base`` (ms) with edge ``e``'s live observation blended in (:func:`live_blend`), then
    the incident effects in force (:func:`apply_effects`). Kept out of line: few edges carry
    live data, and the hot loops stay small."""
    v = live_blend(base, e, t_epoch_ms, obs_ms, obs_at_ms, obs_conf, fresh_ms, max_age_ms)
    return apply_effects(v, e, t_epoch_ms, eff_off, eff_closed, eff_min_ms, eff_factor,
                         eff_add_ms, eff_lo_ms, eff_hi_ms)


@njit(cache=True)
def base_cost(e: int, t_local_ms: int, row_of_edge: np.ndarray, ttf: np.ndarray,
              free_ms: np.ndarray) -> int:
    """Travel time (ms) of edge ``e`` entered at local time ``t_local_ms`` before live data:
    the typical time then, free flow without a profile (``row_of_edge`` empty = none)."""
    if row_of_edge.shape[0] == 0:
        return int(free_ms[e])
    return ttf_ms(e, t_local_ms, row_of_edge, ttf, free_ms)


@njit(cache=True)
def edge_cost(e: int, t_local_ms: int, t_epoch_ms: int, row_of_edge: np.ndarray,
              ttf: np.ndarray, free_ms: np.ndarray, live_edge: np.ndarray, obs_ms: np.ndarray,
              obs_at_ms: np.ndarray, obs_conf: np.ndarray, fresh_ms: int, max_age_ms: int,
              eff_off: np.ndarray, eff_closed: np.ndarray, eff_min_ms: np.ndarray,
              eff_factor: np.ndarray, eff_add_ms: np.ndarray, eff_lo_ms: np.ndarray,
              eff_hi_ms: np.ndarray) -> int:
    """Travel time (ms) of edge ``e`` entered at local time ``t_local_ms`` (ms after the
    departure day's local midnight) = epoch ``t_epoch_ms``: :func:`base_cost`, then — on
    edges where ``live_edge`` is set (empty = none) — :func:`live_cost` (a live observation
    blended in, the incident effects in force). :data:`INF_WEIGHT` = closed.

    The one cost model of timed routes, the live metric and the congestion map; the hot
    loops (:func:`td_dijkstra`, :func:`all_edge_costs`) compose the same two steps in
    place, because a call with this many array arguments is not inlined and costs more
    than the arithmetic."""
    c = base_cost(e, t_local_ms, row_of_edge, ttf, free_ms)
    if live_edge.shape[0] != 0 and live_edge[e]:
        c = live_cost(c, e, t_epoch_ms, obs_ms, obs_at_ms, obs_conf, fresh_ms, max_age_ms,
                      eff_off, eff_closed, eff_min_ms, eff_factor, eff_add_ms, eff_lo_ms,
                      eff_hi_ms)
    return c


@njit(cache=True)
def all_edge_costs(t_local_ms: int, t_epoch_ms: int, row_of_edge: np.ndarray, ttf: np.ndarray,
                   free_ms: np.ndarray, live_edge: np.ndarray, obs_ms: np.ndarray,
                   obs_at_ms: np.ndarray, obs_conf: np.ndarray, fresh_ms: int,
                   max_age_ms: int, eff_off: np.ndarray, eff_closed: np.ndarray,
                   eff_min_ms: np.ndarray, eff_factor: np.ndarray, eff_add_ms: np.ndarray,
                   eff_lo_ms: np.ndarray, eff_hi_ms: np.ndarray) -> np.ndarray:
    """:func:`edge_cost` of every edge at one instant (int64 ms), in three tight passes:
    the typical (or free-flow) times, then live observations where there are any, then
    incident effects where there are any — the same arithmetic as :func:`edge_cost`."""
    n = free_ms.shape[0]
    out = np.empty(n, dtype=np.int64)
    if row_of_edge.shape[0] == 0:
        for e in range(n):
            out[e] = free_ms[e]
    else:
        for e in range(n):
            if row_of_edge[e] < 0:
                out[e] = free_ms[e]
            else:
                out[e] = ttf_ms(e, t_local_ms, row_of_edge, ttf, free_ms)
    if live_edge.shape[0] == 0:
        return out
    if obs_ms.shape[0] != 0:
        for e in range(n):
            if obs_at_ms[e] != NO_OBSERVATION:
                out[e] = live_blend(out[e], e, t_epoch_ms, obs_ms, obs_at_ms, obs_conf,
                                    fresh_ms, max_age_ms)
    if eff_off.shape[0] != 0:
        for e in range(n):
            if eff_off[e + 1] > eff_off[e]:
                out[e] = apply_effects(out[e], e, t_epoch_ms, eff_off, eff_closed, eff_min_ms,
                                       eff_factor, eff_add_ms, eff_lo_ms, eff_hi_ms)
    return out


@njit(cache=True)
def live_parts_ms(edges: np.ndarray, share: np.ndarray, t_local_ms: np.ndarray,
                  t_epoch_ms: np.ndarray, obs_source: np.ndarray, n_sources: int,
                  row_of_edge: np.ndarray, ttf: np.ndarray, free_ms: np.ndarray,
                  live_edge: np.ndarray, obs_ms: np.ndarray, obs_at_ms: np.ndarray,
                  obs_conf: np.ndarray, fresh_ms: int, max_age_ms: int, eff_off: np.ndarray,
                  eff_closed: np.ndarray, eff_min_ms: np.ndarray, eff_factor: np.ndarray,
                  eff_add_ms: np.ndarray, eff_lo_ms: np.ndarray, eff_hi_ms: np.ndarray
                  ) -> np.ndarray:
    """Where the live part of a path's time comes from: float64 ms ``[n_sources + 1]`` —
    per speed source (``obs_source[e]``; empty = source 0) the time its observations add to
    the typical time (negative when faster), then the time incident effects add after that.
    Edge ``edges[i]`` is entered at ``t_local_ms[i]`` / ``t_epoch_ms[i]`` and travelled for
    the share ``share[i]``; the steps are those of :func:`edge_cost`. Closed edges count 0."""
    out = np.zeros(n_sources + 1, dtype=np.float64)
    if live_edge.shape[0] == 0:
        return out
    for i in range(edges.shape[0]):
        e = edges[i]
        if not live_edge[e]:
            continue
        base = base_cost(e, t_local_ms[i], row_of_edge, ttf, free_ms)
        v = live_blend(base, e, t_epoch_ms[i], obs_ms, obs_at_ms, obs_conf, fresh_ms,
                       max_age_ms)
        f = apply_effects(v, e, t_epoch_ms[i], eff_off, eff_closed, eff_min_ms, eff_factor,
                          eff_add_ms, eff_lo_ms, eff_hi_ms)
        if f >= INF_WEIGHT or base >= INF_WEIGHT:
            continue
        src = 0
        if obs_source.shape[0] != 0:
            src = min(int(obs_source[e]), n_sources - 1)
        out[src] += np.float64(v - base) * share[i]
        out[n_sources] += np.float64(f - v) * share[i]
    return out


@njit(cache=True, inline="always")
def _frac_cost(total_ms: int, frac: float) -> int:
    """``round(total_ms × frac)`` like :meth:`routing.road.RoadRouter.route_endpoints`."""
    return int(np.rint(np.float64(total_ms) * frac))




@njit(cache=True)
def td_dijkstra(out_offsets: np.ndarray, out_arc: np.ndarray, out_head: np.ndarray,
                out_edge: np.ndarray, arc_tail: np.ndarray, node_x: np.ndarray,
                node_y: np.ndarray, inv_speed: float, t0_local_ms: int, t0_epoch_ms: int,
                row_of_edge: np.ndarray, ttf: np.ndarray, free_ms: np.ndarray,
                live_edge: np.ndarray, obs_ms: np.ndarray, obs_at_ms: np.ndarray,
                obs_conf: np.ndarray,
                fresh_ms: int, max_age_ms: int, eff_off: np.ndarray, eff_closed: np.ndarray,
                eff_min_ms: np.ndarray, eff_factor: np.ndarray, eff_add_ms: np.ndarray,
                eff_lo_ms: np.ndarray, eff_hi_ms: np.ndarray,
                src_node: np.ndarray, src_time_ms: np.ndarray,
                tgt_node: np.ndarray, tgt_edge: np.ndarray, tgt_frac: np.ndarray,
                out_extra: np.ndarray, tgt_extra: np.ndarray, out_turn: np.ndarray,
                tgt_turn: np.ndarray,
                ) -> tuple[int, int, int, NDArray[np.int32], NDArray[np.int64]]:
    """Earliest arrival from several sources to the best of several targets (A* with a
    straight-line lower bound; exact for the label-setting model).

    Times are local ms after the departure day's midnight; ``t0_local_ms`` is the departure
    and ``t0_epoch_ms`` the same instant as Unix ms, so local ``t`` is epoch
    ``t0_epoch_ms + t - t0_local_ms`` for live observations and incident windows. Edge costs
    are :func:`edge_cost` (closed = :data:`INF_WEIGHT` edges are skipped).

    The out-arcs of kernel node ``v`` are CSR positions ``j`` in
    ``[out_offsets[v], out_offsets[v+1])``: arc ``out_arc[j]`` enters edge ``out_edge[j]``
    and reaches node ``out_head[j]``. ``node_x/node_y`` are kernel-node positions in metres
    (a projection that never overstates distances) and ``inv_speed`` ms per metre at the
    fastest possible speed, so ``distance × inv_speed`` never exceeds the remaining time
    (pass 0.0 for plain Dijkstra). A source is a node with an initial arrival time (ms);
    target ``i`` finishes ``tgt_frac[i]`` of edge ``tgt_edge[i]`` entered at node
    ``tgt_node[i]``: final time = arrival + round(frac × cost(edge, arrival)).

    ``out_extra[j]`` (ms, per CSR position) is a fixed penalty of taking that arc
    (entering destination-only roads): labels are ordered by arrival time plus penalties,
    while times stay real (a penalty never shifts the clock).

    Returns ``(arrival_ms, source_index, target_index, arcs, node_times)``: ``arrival_ms``
    is -1 when no target is reachable; ``arcs`` are the kernel arcs from the source node to
    the target node in travel order and ``node_times[i]`` the arrival at the tail of
    ``arcs[i]`` (the last entry is the arrival at the target node).
    """
    n_nodes = out_offsets.shape[0] - 1
    has_live = live_edge.shape[0] != 0
    dist = np.full(n_nodes, INF_TIME, dtype=np.int64)
    pen = np.zeros(n_nodes, dtype=np.int64)
    pot = np.full(n_nodes, -1, dtype=np.int64)
    parent = np.full(n_nodes, -1, dtype=np.int32)
    src_of = np.full(n_nodes, -1, dtype=np.int32)
    is_tgt = np.zeros(n_nodes, dtype=np.bool_)
    n_t = tgt_node.shape[0]
    tx = np.empty(n_t)
    ty = np.empty(n_t)
    for i in range(n_t):
        tx[i] = node_x[tgt_node[i]]
        ty[i] = node_y[tgt_node[i]]
        is_tgt[tgt_node[i]] = True
    cap = out_arc.shape[0] + src_node.shape[0] + 1
    hk = np.empty(cap, dtype=np.int64)
    hv = np.empty(cap, dtype=np.int32)
    n = 0
    for i in range(src_node.shape[0]):
        v = src_node[i]
        if src_time_ms[i] < dist[v]:
            dist[v] = src_time_ms[i]
            pen[v] = 0
            src_of[v] = i
            parent[v] = -1
            if pot[v] < 0:
                pot[v] = _potential(v, node_x, node_y, tx, ty, inv_speed)
            n = heap_push(hk, hv, n, src_time_ms[i] + pot[v], v)
    best = int(INF_TIME)
    best_arrival = int(INF_TIME)
    best_t = -1
    while n > 0:
        key = hk[0]
        v = hv[0]
        n = heap_pop(hk, hv, n)
        t = dist[v]
        if key > t + pen[v] + pot[v]:
            continue  # stale entry
        if key >= best:
            break
        t_epoch = t0_epoch_ms + (t - t0_local_ms)
        if is_tgt[v]:
            for i in range(n_t):
                if tgt_node[i] == v and tgt_extra[i] < INF_WEIGHT:
                    e = tgt_edge[i]
                    tt = t + tgt_turn[i]
                    c = base_cost(e, tt, row_of_edge, ttf, free_ms)
                    if has_live and live_edge[e]:
                        c = live_cost(c, e, t_epoch + tgt_turn[i], obs_ms, obs_at_ms, obs_conf,
                                      fresh_ms, max_age_ms, eff_off, eff_closed, eff_min_ms,
                                      eff_factor, eff_add_ms, eff_lo_ms, eff_hi_ms)
                    if c >= INF_WEIGHT:
                        continue
                    tot = tt + _frac_cost(c, tgt_frac[i])
                    if tot + pen[v] + tgt_extra[i] < best:
                        best = tot + pen[v] + tgt_extra[i]
                        best_arrival = tot
                        best_t = i
        for j in range(out_offsets[v], out_offsets[v + 1]):
            if out_extra[j] >= INF_WEIGHT:
                continue  # a turn banned (conditional restriction in force)
            e = out_edge[j]
            tj = t + out_turn[j]
            c = base_cost(e, tj, row_of_edge, ttf, free_ms)
            if has_live and live_edge[e]:
                c = live_cost(c, e, t_epoch + out_turn[j], obs_ms, obs_at_ms, obs_conf,
                              fresh_ms, max_age_ms, eff_off, eff_closed, eff_min_ms,
                              eff_factor, eff_add_ms, eff_lo_ms, eff_hi_ms)
            if c >= INF_WEIGHT:
                continue
            h = out_head[j]
            ta = tj + c
            pa = pen[v] + out_extra[j]
            if ta + pa < dist[h] + pen[h]:
                dist[h] = ta
                pen[h] = pa
                parent[h] = j
                src_of[h] = src_of[v]
                if pot[h] < 0:
                    pot[h] = _potential(h, node_x, node_y, tx, ty, inv_speed)
                n = heap_push(hk, hv, n, ta + pa + pot[h], h)
    if best_t < 0:
        return (-1, -1, -1, np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64))
    # Walk back from the target node to its source.
    v = tgt_node[best_t]
    k = 0
    u = v
    while parent[u] >= 0:
        k += 1
        u = arc_tail[out_arc[parent[u]]]
    arcs = np.empty(k, dtype=np.int32)
    times = np.empty(k + 1, dtype=np.int64)
    times[k] = dist[v]
    u = v
    for i in range(k - 1, -1, -1):
        a = out_arc[parent[u]]
        arcs[i] = a
        u = arc_tail[a]
        times[i] = dist[u]
    return best_arrival, int(src_of[v]), best_t, arcs, times


@njit(cache=True, inline="always")
def _potential(v: int, node_x: np.ndarray, node_y: np.ndarray, tx: np.ndarray,
               ty: np.ndarray, inv_speed: float) -> int:
    """Lower bound (ms, floored) of the time from ``v`` to the nearest target node."""
    if inv_speed <= 0.0:
        return 0
    best = np.inf
    for i in range(tx.shape[0]):
        d = (node_x[v] - tx[i]) ** 2 + (node_y[v] - ty[i]) ** 2
        if d < best:
            best = d
    return int(np.floor(np.sqrt(best) * inv_speed))
