"""Assemble a road path's geometry from edge ids (numba): coordinates, and per path edge
the travelled length and the bearings at its start and end."""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numpy.typing import NDArray


@njit(cache=True)
def _bearing(lon1: float, lat1: float, lon2: float, lat2: float, coslat: float) -> float:
    dx = (lon2 - lon1) * coslat
    dy = lat2 - lat1
    if dx == 0.0 and dy == 0.0:
        return -1.0
    b = math.degrees(math.atan2(dx, dy))
    return b + 360.0 if b < 0 else b


@njit(cache=True)
def assemble_path(edges: np.ndarray, first_from_m: float, last_to_m: float,
                  edge_seg: np.ndarray, edge_rev: np.ndarray, gstart: np.ndarray,
                  gend: np.ndarray, cum_m: np.ndarray, lon: np.ndarray, lat: np.ndarray,
                  seg_length_m: np.ndarray, coslat: float,
                  ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64],
                             NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Coordinates of a path over ``edges`` that starts ``first_from_m`` metres into the
    first edge and ends ``last_to_m`` metres into the last edge (edge direction).

    Returns (lon[], lat[], start_index_per_edge[], travelled_m_per_edge[],
    bearing_start_per_edge[], bearing_end_per_edge[]). Bearings are degrees from north,
    -1 when undefined (zero-length piece).
    """
    n = edges.shape[0]
    total = 0
    for i in range(n):
        s = edge_seg[edges[i]]
        total += gend[s] - gstart[s] + 2
    out_lon = np.empty(total, dtype=np.float64)
    out_lat = np.empty(total, dtype=np.float64)
    edge_start = np.empty(n, dtype=np.int64)
    travelled = np.empty(n, dtype=np.float64)
    b_start = np.empty(n, dtype=np.float64)
    b_end = np.empty(n, dtype=np.float64)
    k = 0
    for i in range(n):
        e = edges[i]
        s = edge_seg[e]
        g0 = gstart[s]
        g1 = gend[s]
        seg_len = seg_length_m[s]
        base = cum_m[g0]
        lo = first_from_m if i == 0 else 0.0
        hi = last_to_m if i == n - 1 else seg_len
        if hi < lo:
            hi = lo
        travelled[i] = hi - lo
        rev = edge_rev[e]
        m = g1 - g0
        k_edge = k
        edge_start[i] = k
        started = False
        for j in range(m - 1):
            g = g1 - 1 - j if rev else g0 + j
            gn = g1 - 2 - j if rev else g0 + j + 1
            pa = (seg_len - (cum_m[g] - base)) if rev else (cum_m[g] - base)
            pb = (seg_len - (cum_m[gn] - base)) if rev else (cum_m[gn] - base)
            last = j == m - 2
            if not started:
                if pb < lo and not last:
                    continue
                t = (lo - pa) / (pb - pa) if pb > pa else 0.0
                t = min(max(t, 0.0), 1.0)
                out_lon[k] = lon[g] + (lon[gn] - lon[g]) * t
                out_lat[k] = lat[g] + (lat[gn] - lat[g]) * t
                k += 1
                started = True
            if pb < hi and not last:
                out_lon[k] = lon[gn]
                out_lat[k] = lat[gn]
                k += 1
            else:
                t = (hi - pa) / (pb - pa) if pb > pa else 1.0
                t = min(max(t, 0.0), 1.0)
                out_lon[k] = lon[g] + (lon[gn] - lon[g]) * t
                out_lat[k] = lat[g] + (lat[gn] - lat[g]) * t
                k += 1
                break
        if k - k_edge == 1:  # degenerate piece: duplicate so each edge has two points
            out_lon[k] = out_lon[k - 1]
            out_lat[k] = out_lat[k - 1]
            k += 1
        bs = -1.0
        for j in range(k_edge, k - 1):
            bs = _bearing(out_lon[j], out_lat[j], out_lon[j + 1], out_lat[j + 1], coslat)
            if bs >= 0:
                break
        be = -1.0
        for j in range(k - 1, k_edge, -1):
            be = _bearing(out_lon[j - 1], out_lat[j - 1], out_lon[j], out_lat[j], coslat)
            if be >= 0:
                break
        b_start[i] = bs
        b_end[i] = be
    return out_lon[:k], out_lat[:k], edge_start, travelled, b_start, b_end
