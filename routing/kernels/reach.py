"""One-to-all road kernel: a bounded multi-source Dijkstra over a CSR graph (numba).

The isochrones, the walking egress of transit reach and the accessibility batch all ask the
same question: "from these start nodes (each with an initial cost), what does every node cost,
up to a limit?". :func:`bounded_dijkstra` answers it with a binary heap and lazy deletion; it
settles only nodes within the limit, so its work is proportional to what is reached.

Costs are integer milliseconds; :data:`UNREACHED` marks a node not reached within the limit.
Arc weights at or above :data:`routing.kernels.limits.INF_WEIGHT` are closed.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

from routing.kernels.heap import heap_pop, heap_push
from routing.kernels.limits import INF_WEIGHT

#: Cost of a node not reached within the limit.
UNREACHED = np.int64(1) << np.int64(60)


def csr_by_tail(n_nodes: int, tail: np.ndarray, head: np.ndarray
                ) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.int64]]:
    """CSR of arcs grouped by tail: ``(offsets[n+1], head[m], arc_id[m])`` — ``arc_id``
    maps each CSR slot back to the input arc (to permute per-arc weights)."""
    t = np.asarray(tail, dtype=np.int64)
    order = np.argsort(t, kind="stable").astype(np.int64)
    offsets = np.zeros(int(n_nodes) + 1, dtype=np.int64)
    np.cumsum(np.bincount(t, minlength=int(n_nodes)), out=offsets[1:])
    return offsets, np.asarray(head, dtype=np.int32)[order], order




@njit(cache=True, nogil=True)
def bounded_dijkstra(offsets: NDArray[np.int64], head: NDArray[np.int32],
                     weight: NDArray[np.int64], src: NDArray[np.int64],
                     src_cost: NDArray[np.int64], limit: np.int64) -> NDArray[np.int64]:
    """Least cost (ms) from the sources (node ``src[i]`` starting at ``src_cost[i]``) to every
    node, over arcs ``offsets/head/weight`` (CSR by tail). Nodes costing more than ``limit``
    are :data:`UNREACHED` (so are nodes no source reaches)."""
    n = offsets.shape[0] - 1
    dist = np.full(n, UNREACHED, dtype=np.int64)
    done = np.zeros(n, dtype=np.bool_)
    cap = head.shape[0] + src.shape[0] + 1
    hk = np.empty(cap, dtype=np.int64)
    hn = np.empty(cap, dtype=np.int64)
    size = 0
    for i in range(src.shape[0]):
        s = src[i]
        c = src_cost[i]
        if c <= limit and c < dist[s]:
            dist[s] = c
            size = heap_push(hk, hn, size, c, s)
    while size > 0:
        d = hk[0]
        u = hn[0]
        size = heap_pop(hk, hn, size)
        if done[u] or d > dist[u]:
            continue
        done[u] = True
        for j in range(offsets[u], offsets[u + 1]):
            w = weight[j]
            if w >= INF_WEIGHT:
                continue
            v = head[j]
            nd = d + w
            if nd <= limit and nd < dist[v]:
                dist[v] = nd
                size = heap_push(hk, hn, size, nd, np.int64(v))
    return dist


@njit(cache=True, nogil=True)
def near_field(iy: NDArray[np.int64], ix: NDArray[np.int64], ny: int, nx: int,
               radius_cells: float) -> NDArray[np.float64]:
    """Distance (in cells, centre to centre) from every cell of an ``ny × nx`` grid to the
    nearest marked cell ``(iy[i], ix[i])``, exact up to ``radius_cells`` and ``inf``
    beyond: a Euclidean distance transform limited to a radius, with work proportional to
    the marked cells rather than the grid."""
    out = np.full((ny, nx), np.inf)
    r = int(np.ceil(radius_cells))
    seen = np.zeros((ny, nx), dtype=np.bool_)
    for i in range(iy.shape[0]):
        cy = iy[i]
        cx = ix[i]
        if seen[cy, cx]:
            continue
        seen[cy, cx] = True
        for dy in range(-r, r + 1):
            y = cy + dy
            if y < 0 or y >= ny:
                continue
            for dx in range(-r, r + 1):
                x = cx + dx
                if x < 0 or x >= nx:
                    continue
                d = np.sqrt(np.float64(dx * dx + dy * dy))
                if d <= radius_cells and d < out[y, x]:
                    out[y, x] = d
    return out


@njit(cache=True, nogil=True)
def scatter_min(out: NDArray[np.int64], idx: NDArray[np.int64], val: NDArray[np.int64]) -> None:
    """``out[idx[i]] = min(out[idx[i]], val[i])`` for every ``i`` (``np.minimum.at``, fast)."""
    for i in range(idx.shape[0]):
        j = idx[i]
        if val[i] < out[j]:
            out[j] = val[i]


@njit(cache=True, nogil=True)
def scatter_max(out: NDArray[np.float64], idx: NDArray[np.int64],
                val: NDArray[np.float64]) -> None:
    """``out[idx[i]] = max(out[idx[i]], val[i])`` for every ``i`` (``np.maximum.at``, fast)."""
    for i in range(idx.shape[0]):
        j = idx[i]
        if val[i] > out[j]:
            out[j] = val[i]


@njit(cache=True, nogil=True)
def mark_reached_samples(seg_off: NDArray[np.int64], frac: NDArray[np.float64],
                         from_u: NDArray[np.float64], from_v: NDArray[np.float64],
                         inner: NDArray[np.float64], hit: NDArray[np.bool_]) -> None:
    """Set ``hit`` on the sample points of reached road: samples ``seg_off[s]:seg_off[s+1]``
    lie on segment ``s`` at ``frac`` of its length from ``u``; segment ``s`` is reached on
    ``[0, from_u[s]]`` and ``[1 - from_v[s], 1]`` (-1: not from that end) and on every
    ``inner`` row ``(segment, lo, hi)``. Work is proportional to the reached segments."""
    for s in range(from_u.shape[0]):
        fu = from_u[s]
        fv = from_v[s]
        if fu < 0.0 and fv < 0.0:
            continue
        for j in range(seg_off[s], seg_off[s + 1]):
            f = frac[j]
            if (fu >= 0.0 and f <= fu) or (fv >= 0.0 and f >= 1.0 - fv):
                hit[j] = True
    for i in range(inner.shape[0]):
        sg = int(inner[i, 0])
        lo = inner[i, 1]
        hi = inner[i, 2]
        for j in range(seg_off[sg], seg_off[sg + 1]):
            if lo <= frac[j] <= hi:
                hit[j] = True
