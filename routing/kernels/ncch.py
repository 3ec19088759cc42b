"""Many-to-many road kernel: an own Customizable Contraction Hierarchy in numba.

RoutingKit (:mod:`routing.kernels.cch`) answers point queries; its binding does not expose the
CCH's internals, so a matrix there costs one one-to-many sweep per source. This module builds
its own CCH over the same kernel graph and contraction order and answers sources × targets
with bucket many-to-many on the elimination tree:

* :func:`build_cch` (metric-independent, once per kernel): the chordal supergraph obtained by
  contracting the nodes in order — per node its upward neighbours (higher rank) as CSR, the
  elimination-tree parent (the lowest-ranked upward neighbour) and, per input arc, the CCH
  arc it customizes and in which direction.
* :func:`customize` (once per weight vector): basic lower-triangle customization carrying two
  values per direction, the weight (ms) and the metres along the chosen path, compared
  lexicographically (least weight, then least metres), so durations and distances come out
  of one computation.
* :func:`many_to_many`: every target's backward search (the ancestors of its nodes in the
  elimination tree, with stall-on-demand) files (target, weight, metres) in buckets at the
  nodes it reaches; every source's forward search (in parallel over sources) scans the buckets
  of the nodes it reaches. Sources and targets are sets of (node, initial weight, metres).

Nodes are relabelled by rank inside (rank 0 contracted first). Weights are integer ms; arcs at
or above :data:`routing.kernels.limits.INF_WEIGHT` are closed; unreachable cells are
:data:`INF_COST`.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numba import njit
from numpy.typing import NDArray

from routing.kernels.limits import INF_WEIGHT

#: Cost of an unreachable cell (and of a closed CCH arc direction).
INF_COST = np.int64(1) << np.int64(62)


@dataclass(frozen=True)
class CCHGraph:
    """The metric-independent CCH (rank space)."""

    node_count: int
    rank: NDArray[np.int64]  # node -> rank
    up_first: NDArray[np.int64]  # [n + 1] CSR over ranks
    up_head: NDArray[np.int64]  # [arcs] upward neighbour (rank), ascending per node
    parent: NDArray[np.int64]  # [n] elimination-tree parent (rank), -1 at a root
    arc_cch: NDArray[np.int64]  # per input arc: its CCH arc (-1 = loop)
    arc_up: NDArray[np.bool_]  # per input arc: True = travels upward (low rank to high)

    @property
    def arc_count(self) -> int:
        """Number of CCH arcs (each carries both directions)."""
        return int(self.up_head.shape[0])


@dataclass(frozen=True)
class CCHMetric:
    """A customized CCH, kept as what the searches read: per node (rank) its open upward
    arcs as CSR with the least (weight ms, metres) of each, for travel up (``fwd``: node to
    higher neighbour, what a source's search follows) and for travel down (``bwd``: higher
    neighbour to node, what a target's search follows): ``(first [n + 1], head, weight,
    metres)``."""

    graph: CCHGraph
    fwd: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]
    bwd: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]


# ---------------------------------------------------------------------------------- build
@njit(cache=True, nogil=True)
def _grow(a: NDArray[np.int64], need: int) -> NDArray[np.int64]:
    if need <= a.shape[0]:
        return a
    b = np.empty(max(need, 2 * a.shape[0]), dtype=np.int64)
    b[:a.shape[0]] = a
    return b


@njit(cache=True, nogil=True)
def _contract(n: int, in_first: NDArray[np.int64], in_nbr: NDArray[np.int64]
              ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Chordal completion in rank order: ``in_first``/``in_nbr`` list each rank's upward
    neighbours in the input graph (undirected, any order, duplicates allowed)."""
    up_first = np.zeros(n + 1, dtype=np.int64)
    up_head = np.empty(max(16, 4 * in_nbr.shape[0]), dtype=np.int64)
    parent = np.full(n, -1, dtype=np.int64)
    # neighbours handed up by contracted nodes: a linked list per node
    pend_head = np.full(n, -1, dtype=np.int64)
    pend_val = np.empty(max(16, 4 * in_nbr.shape[0]), dtype=np.int64)
    pend_next = np.empty(pend_val.shape[0], dtype=np.int64)
    n_pend = 0
    mark = np.full(n, -1, dtype=np.int64)
    buf = np.empty(n, dtype=np.int64)
    n_arcs = 0
    for x in range(n):
        k = 0
        for i in range(in_first[x], in_first[x + 1]):
            y = in_nbr[i]
            if mark[y] != x:
                mark[y] = x
                buf[k] = y
                k += 1
        p = pend_head[x]
        while p != -1:
            y = pend_val[p]
            if mark[y] != x:
                mark[y] = x
                buf[k] = y
                k += 1
            p = pend_next[p]
        nb = np.sort(buf[:k])
        up_head = _grow(up_head, n_arcs + k)
        up_head[n_arcs:n_arcs + k] = nb
        n_arcs += k
        up_first[x + 1] = n_arcs
        if k > 0:
            par = nb[0]
            parent[x] = par
            if n_pend + k > pend_val.shape[0]:
                pend_val = _grow(pend_val, n_pend + k)
                pend_next = _grow(pend_next, n_pend + k)
            for i in range(1, k):
                pend_val[n_pend] = nb[i]
                pend_next[n_pend] = pend_head[par]
                pend_head[par] = n_pend
                n_pend += 1
    return up_first, up_head[:n_arcs].copy(), parent


@njit(cache=True, nogil=True)
def _find_arc(up_first: NDArray[np.int64], up_head: NDArray[np.int64], x: int, y: int) -> int:
    lo, hi = up_first[x], up_first[x + 1]
    while lo < hi:
        mid = (lo + hi) >> 1
        if up_head[mid] < y:
            lo = mid + 1
        else:
            hi = mid
    return lo if lo < up_first[x + 1] and up_head[lo] == y else -1


@njit(cache=True, nogil=True)
def _map_arcs(up_first: NDArray[np.int64], up_head: NDArray[np.int64], rt: NDArray[np.int64],
              rh: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    m = rt.shape[0]
    arc = np.full(m, -1, dtype=np.int64)
    up = np.zeros(m, dtype=np.bool_)
    for a in range(m):
        u, v = rt[a], rh[a]
        if u < v:
            arc[a] = _find_arc(up_first, up_head, u, v)
            up[a] = True
        elif v < u:
            arc[a] = _find_arc(up_first, up_head, v, u)
    return arc, up


def build_cch(node_count: int, tail: np.ndarray, head: np.ndarray, order: np.ndarray
              ) -> CCHGraph:
    """The CCH of a directed graph (``tail``/``head`` per arc) for a contraction ``order``
    (``order[i]`` is the node contracted i-th)."""
    n = int(node_count)
    order = np.asarray(order, dtype=np.int64)
    if order.shape[0] != n or (n and not np.array_equal(np.sort(order), np.arange(n))):
        raise ValueError("the contraction order is not a permutation of the nodes")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n, dtype=np.int64)
    rt = rank[np.asarray(tail, dtype=np.int64)]
    rh = rank[np.asarray(head, dtype=np.int64)]
    lo, hi = np.minimum(rt, rh), np.maximum(rt, rh)
    keep = lo != hi
    lo, hi = lo[keep], hi[keep]
    srt = np.argsort(lo, kind="stable")
    in_first = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(lo, minlength=n), out=in_first[1:])
    up_first, up_head, parent = _contract(n, in_first, hi[srt].astype(np.int64))
    arc_cch, arc_up = _map_arcs(up_first, up_head, rt, rh)
    return CCHGraph(n, rank, up_first, up_head, parent, arc_cch, arc_up)


# ---------------------------------------------------------------------------- customize
@njit(cache=True, nogil=True, inline="always")
def _better(w: np.int64, m: float, bw: np.int64, bm: float) -> bool:
    """(w, m) < (bw, bm) lexicographically."""
    return bool(w < bw or (w == bw and m < bm))


@njit(cache=True, nogil=True)
def _customize(up_first: NDArray[np.int64], up_head: NDArray[np.int64],
               arc_cch: NDArray[np.int64], arc_up: NDArray[np.bool_],
               weights: NDArray[np.int64], metres: NDArray[np.float64], inf_weight: np.int64
               ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.int64],
                          NDArray[np.float64]]:
    na = up_head.shape[0]
    uw = np.full(na, INF_COST, dtype=np.int64)
    dw = np.full(na, INF_COST, dtype=np.int64)
    um = np.zeros(na, dtype=np.float64)
    dm = np.zeros(na, dtype=np.float64)
    for a in range(arc_cch.shape[0]):
        c = arc_cch[a]
        w = weights[a]
        if c < 0 or w >= inf_weight:
            continue
        if arc_up[a]:
            if _better(w, metres[a], uw[c], um[c]):
                uw[c] = w
                um[c] = metres[a]
        elif _better(w, metres[a], dw[c], dm[c]):
            dw[c] = w
            dm[c] = metres[a]
    n = up_first.shape[0] - 1
    # lower triangles {x < y < z}: y -> x -> z improves y -> z, z -> x -> y improves z -> y
    for x in range(n):
        a0, a1 = up_first[x], up_first[x + 1]
        for i in range(a0, a1):
            y = up_head[i]
            xy_up, xy_dn = uw[i], dw[i]
            if xy_up >= INF_COST and xy_dn >= INF_COST:
                continue
            p = up_first[y]
            for j in range(i + 1, a1):
                z = up_head[j]
                while up_head[p] < z:
                    p += 1
                # p is the arc y -> z (the supergraph is chordal: it exists)
                if xy_dn < INF_COST and uw[j] < INF_COST:
                    w = xy_dn + uw[j]
                    mm = dm[i] + um[j]
                    if _better(w, mm, uw[p], um[p]):
                        uw[p] = w
                        um[p] = mm
                if xy_up < INF_COST and dw[j] < INF_COST:
                    w = dw[j] + xy_up
                    mm = dm[j] + um[i]
                    if _better(w, mm, dw[p], dm[p]):
                        dw[p] = w
                        dm[p] = mm
    return uw, um, dw, dm


def customize(graph: CCHGraph, weights: np.ndarray, metres: np.ndarray) -> CCHMetric:
    """Customize ``graph`` for per-input-arc ``weights`` (ms; ``INF_WEIGHT`` = closed) and
    ``metres`` (length of each input arc)."""
    w = np.ascontiguousarray(weights, dtype=np.int64)
    m = np.ascontiguousarray(metres, dtype=np.float64)
    if w.shape != graph.arc_cch.shape or m.shape != graph.arc_cch.shape:
        raise ValueError("one weight and one length per input arc expected")
    uw, um, dw, dm = _customize(graph.up_first, graph.up_head, graph.arc_cch, graph.arc_up,
                                w, m, np.int64(INF_WEIGHT))
    return CCHMetric(graph, _open_arcs(graph.up_first, graph.up_head, uw, um),
                     _open_arcs(graph.up_first, graph.up_head, dw, dm))


@njit(cache=True, nogil=True)
def _open_arcs(up_first: NDArray[np.int64], up_head: NDArray[np.int64],
               w: NDArray[np.int64], m: NDArray[np.float64]
               ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64],
                          NDArray[np.float64]]:
    """The open arcs (weight below :data:`INF_COST`) of every node as CSR."""
    n = up_first.shape[0] - 1
    first = np.zeros(n + 1, dtype=np.int64)
    for x in range(n):
        c = 0
        for a in range(up_first[x], up_first[x + 1]):
            if w[a] < INF_COST:
                c += 1
        first[x + 1] = first[x] + c
    head = np.empty(first[n], dtype=np.int64)
    ow = np.empty(first[n], dtype=np.int64)
    om = np.empty(first[n], dtype=np.float64)
    k = 0
    for x in range(n):
        for a in range(up_first[x], up_first[x + 1]):
            if w[a] < INF_COST:
                head[k] = up_head[a]
                ow[k] = w[a]
                om[k] = m[a]
                k += 1
    return first, head, ow, om


# -------------------------------------------------------------------------------- query
@njit(cache=True, nogil=True)
def _search(parent: NDArray[np.int64], go_first: NDArray[np.int64],
            go_head: NDArray[np.int64], go_w: NDArray[np.int64], go_m: NDArray[np.float64],
            back_first: NDArray[np.int64], back_head: NDArray[np.int64],
            back_w: NDArray[np.int64], nodes: NDArray[np.int64], init_w: NDArray[np.int64],
            init_m: NDArray[np.float64], lo: int, hi: int, dist: NDArray[np.int64],
            dmet: NDArray[np.float64], seen: NDArray[np.bool_], visit: NDArray[np.int64]
            ) -> int:
    """Upward search over the elimination-tree ancestors of ``nodes[lo:hi]`` (ranks), from
    those start costs, along the open arcs ``go_*`` (CSR by node). Leaves in ``visit[:k]``
    the reached nodes in ascending rank, as ``-1 - node`` when stalled (a higher node
    reaches it more cheaply along ``back_*``: it cannot be the top of a shortest path), with
    their costs in ``dist``/``dmet``, and returns k; the caller resets ``dist`` of those
    (every other touched entry of ``dist``/``seen`` is reset here)."""
    k = 0
    for s in range(lo, hi):
        x = nodes[s]
        while x != -1 and not seen[x]:
            seen[x] = True
            visit[k] = x
            k += 1
            x = parent[x]
    if hi - lo > 1:
        visit[:k] = np.sort(visit[:k])
    for s in range(lo, hi):
        x = nodes[s]
        if _better(init_w[s], init_m[s], dist[x], dmet[x]):
            dist[x] = init_w[s]
            dmet[x] = init_m[s]
    for t in range(k):
        x = visit[t]
        dx = dist[x]
        if dx >= INF_COST:
            continue
        mx = dmet[x]
        for a in range(go_first[x], go_first[x + 1]):
            y = go_head[a]
            wy = dx + go_w[a]
            if _better(wy, mx + go_m[a], dist[y], dmet[y]):
                dist[y] = wy
                dmet[y] = mx + go_m[a]
    # stall-on-demand: mark the reached nodes that a higher node reaches more cheaply
    out = 0
    for t in range(k):
        x = visit[t]
        seen[x] = False
        dx = dist[x]
        if dx >= INF_COST:
            continue
        stalled = False
        for a in range(back_first[x], back_first[x + 1]):
            dy = dist[back_head[a]]
            if dy < INF_COST and dy + back_w[a] < dx:
                stalled = True
                break
        visit[out] = -1 - x if stalled else x
        out += 1
    return out


@njit(cache=True, nogil=True)
def _target_entries(parent: NDArray[np.int64], go_first: NDArray[np.int64],
                    go_head: NDArray[np.int64], go_w: NDArray[np.int64],
                    go_m: NDArray[np.float64], back_first: NDArray[np.int64],
                    back_head: NDArray[np.int64], back_w: NDArray[np.int64],
                    t_first: NDArray[np.int64], t_node: NDArray[np.int64],
                    t_w: NDArray[np.int64], t_m: NDArray[np.float64], lo: int, hi: int
                    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64],
                               NDArray[np.float64]]:
    """Backward searches of targets ``lo:hi``: bucket entries ``(node, target, weight,
    metres)`` in target order."""
    n = parent.shape[0]
    dist = np.full(n, INF_COST, dtype=np.int64)
    dmet = np.zeros(n, dtype=np.float64)
    seen = np.zeros(n, dtype=np.bool_)
    visit = np.empty(n, dtype=np.int64)
    e_node = np.empty(1024, dtype=np.int64)
    e_tgt = np.empty(1024, dtype=np.int64)
    e_w = np.empty(1024, dtype=np.int64)
    e_m = np.empty(1024, dtype=np.float64)
    ne = 0
    for j in range(lo, hi):
        k = _search(parent, go_first, go_head, go_w, go_m, back_first, back_head, back_w,
                    t_node, t_w, t_m, t_first[j], t_first[j + 1], dist, dmet, seen, visit)
        if ne + k > e_node.shape[0]:
            cap = max(ne + k, 2 * e_node.shape[0])
            e_node = _grow(e_node, cap)
            e_tgt = _grow(e_tgt, cap)
            e_w = _grow(e_w, cap)
            e_m2 = np.empty(cap, dtype=np.float64)
            e_m2[:ne] = e_m[:ne]
            e_m = e_m2
        for t in range(k):
            x = visit[t]
            if x < 0:
                dist[-1 - x] = INF_COST
                continue
            e_node[ne] = x
            e_tgt[ne] = j
            e_w[ne] = dist[x]
            e_m[ne] = dmet[x]
            ne += 1
            dist[x] = INF_COST
    return e_node[:ne], e_tgt[:ne], e_w[:ne], e_m[:ne]


#: A node whose bucket holds at least this share of the targets is kept as a dense row
#: (a plain, vectorizable minimum over every target instead of scattered updates).
DENSE_SHARE = 0.25


@njit(cache=True, nogil=True)
def _bucketize(n: int, m: int, dense_share: float, e_node: NDArray[np.int64],
               e_tgt: NDArray[np.int64], e_w: NDArray[np.int64], e_m: NDArray[np.float64]
               ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64],
                          NDArray[np.float64], NDArray[np.int64], NDArray[np.int64],
                          NDArray[np.float64]]:
    """Entries (in target order) filed by node: sparse buckets ``(first[n + 1], target,
    weight, metres)``, each sorted by target, and for the nodes reached by many targets
    dense rows ``(row of node or -1 [n], weight [k, m], metres [k, m])`` instead."""
    ne = e_node.shape[0]
    count = np.zeros(n, dtype=np.int64)
    for i in range(ne):
        count[e_node[i]] += 1
    dense_of = np.full(n, -1, dtype=np.int64)
    k = 0
    for x in range(n):
        if count[x] > 0 and count[x] >= dense_share * m:
            dense_of[x] = k
            k += 1
            count[x] = 0
    d_w = np.full((k, m), INF_COST, dtype=np.int64)
    d_m = np.full((k, m), np.inf, dtype=np.float64)
    first = np.zeros(n + 1, dtype=np.int64)
    for x in range(n):
        first[x + 1] = first[x] + count[x]
    pos = first[:n].copy()
    ns = first[n]
    b_tgt = np.empty(ns, dtype=np.int64)
    b_w = np.empty(ns, dtype=np.int64)
    b_m = np.empty(ns, dtype=np.float64)
    for i in range(ne):  # a stable counting sort: the buckets stay sorted by target
        x = e_node[i]
        r = dense_of[x]
        if r >= 0:
            d_w[r, e_tgt[i]] = e_w[i]
            d_m[r, e_tgt[i]] = e_m[i]
            continue
        p = pos[x]
        pos[x] += 1
        b_tgt[p] = e_tgt[i]
        b_w[p] = e_w[i]
        b_m[p] = e_m[i]
    return first, b_tgt, b_w, b_m, dense_of, d_w, d_m


@njit(cache=True, nogil=True)
def _scan_sources(parent: NDArray[np.int64], go_first: NDArray[np.int64],
                  go_head: NDArray[np.int64], go_w: NDArray[np.int64],
                  go_m: NDArray[np.float64], back_first: NDArray[np.int64],
                  back_head: NDArray[np.int64], back_w: NDArray[np.int64],
                  s_first: NDArray[np.int64], s_node: NDArray[np.int64],
                  s_w: NDArray[np.int64], s_m: NDArray[np.float64],
                  b_first: NDArray[np.int64], b_tgt: NDArray[np.int64],
                  b_w: NDArray[np.int64], b_m: NDArray[np.float64],
                  dense_of: NDArray[np.int64], d_w: NDArray[np.int64],
                  d_m: NDArray[np.float64], lo: int, hi: int, out_w: NDArray[np.int64],
                  out_m: NDArray[np.float64], with_metres: bool) -> None:
    """Rows ``lo:hi`` of the answer: each source's forward search scans the buckets of
    the nodes it reaches (``with_metres=False``: weights only, a plain minimum)."""
    n = parent.shape[0]
    dist = np.full(n, INF_COST, dtype=np.int64)
    dmet = np.zeros(n, dtype=np.float64)
    seen = np.zeros(n, dtype=np.bool_)
    visit = np.empty(n, dtype=np.int64)
    for i in range(lo, hi):
        k = _search(parent, go_first, go_head, go_w, go_m, back_first, back_head, back_w,
                    s_node, s_w, s_m, s_first[i], s_first[i + 1], dist, dmet, seen, visit)
        row_w = out_w[i]
        row_m = out_m[i]
        for t in range(k):
            x = visit[t]
            if x < 0:
                dist[-1 - x] = INF_COST
                continue
            dx = dist[x]
            mx = dmet[x]
            dist[x] = INF_COST
            r = dense_of[x]
            if r >= 0:
                dr_w = d_w[r]
                if not with_metres:
                    for j in range(row_w.shape[0]):  # INF + dx stays far from overflow
                        row_w[j] = min(row_w[j], dx + dr_w[j])
                    continue
                dr_m = d_m[r]
                for j in range(row_w.shape[0]):
                    w = dx + dr_w[j]
                    if w < row_w[j] or (w == row_w[j] and mx + dr_m[j] < row_m[j]):
                        row_w[j] = w
                        row_m[j] = mx + dr_m[j]
                continue
            if not with_metres:
                for b in range(b_first[x], b_first[x + 1]):
                    j = b_tgt[b]
                    row_w[j] = min(row_w[j], dx + b_w[b])
                continue
            for b in range(b_first[x], b_first[x + 1]):
                j = b_tgt[b]
                w = dx + b_w[b]
                if w < row_w[j] or (w == row_w[j] and mx + b_m[b] < row_m[j]):
                    row_w[j] = w
                    row_m[j] = mx + b_m[b]


def _flatten(ends: list[list[tuple[int, int, float]]], rank: np.ndarray
             ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64],
                        NDArray[np.float64]]:
    first = np.zeros(len(ends) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in ends], out=first[1:])
    flat = [p for e in ends for p in e]
    node = rank[np.array([p[0] for p in flat], dtype=np.int64)]
    w = np.array([p[1] for p in flat], dtype=np.int64)
    m = np.array([p[2] for p in flat], dtype=np.float64)
    return first, node, w, m


def many_to_many(metric: CCHMetric, sources: list[list[tuple[int, int, float]]],
                 targets: list[list[tuple[int, int, float]]], threads: int = 0,
                 metres: bool = True, dense_share: float = DENSE_SHARE
                 ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Least cost from every source to every target on ``metric``: each end is a list of
    ``(node, weight ms, metres)`` (leaving from / arriving at that node costs that much;
    an empty list reaches nothing). Returns ``(weight [n, m] int64, metres [n, m])`` of the
    least weight and, among paths of that weight, the least metres; :data:`INF_COST` and
    NaN where unreachable (``metres=False``: weights only, metres all NaN). ``threads``:
    chunks of targets, then of sources, run side by side (0 = the CPU count).
    ``dense_share``: see :data:`DENSE_SHARE` (above 1: no dense rows)."""
    g = metric.graph
    n, m = len(sources), len(targets)
    if n == 0 or m == 0:
        return np.full((n, m), INF_COST, dtype=np.int64), np.full((n, m), np.nan)
    sf, sn, sw, sm = _flatten(sources, g.rank)
    tf, tn, tw, tm = _flatten(targets, g.rank)
    out_w = np.full((n, m), INF_COST, dtype=np.int64)
    out_m = np.full((n, m), np.inf, dtype=np.float64)

    def entries(lo: int, hi: int) -> tuple[np.ndarray, ...]:
        return tuple(_target_entries(g.parent, *metric.bwd, *metric.fwd[:3], tf, tn, tw, tm,
                                     lo, hi))

    def rows(lo: int, hi: int) -> None:
        _scan_sources(g.parent, *metric.fwd, *metric.bwd[:3], sf, sn, sw, sm, bf, bt, bw, bm,
                      dense_of, d_w, d_m, lo, hi, out_w, out_m, metres)

    if threads <= 0:  # small matrices are not worth the threads
        threads = 1 if n * m < 4096 else (os.cpu_count() or 1)
    threads = max(1, min(threads, n, m))
    if threads == 1:
        parts = [entries(0, m)]
    else:  # the kernels release the GIL: plain threads run chunks of targets side by side
        cuts = np.linspace(0, m, threads + 1).astype(int).tolist()
        with ThreadPoolExecutor(threads) as ex:
            parts = list(ex.map(entries, cuts[:-1], cuts[1:]))
    bf, bt, bw, bm, dense_of, d_w, d_m = _bucketize(
        g.node_count, m, dense_share, *(np.concatenate([p[f] for p in parts]) for f in range(4)))
    if threads == 1:
        rows(0, n)
    else:  # then chunks of sources
        cuts = np.linspace(0, n, threads + 1).astype(int).tolist()
        with ThreadPoolExecutor(threads) as ex:
            list(ex.map(rows, cuts[:-1], cuts[1:]))
    out_m[(out_w >= INF_COST) | (not metres)] = np.nan
    return out_w, out_m
