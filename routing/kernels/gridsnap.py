"""Nearest line piece to a point with a uniform grid (numba): the snapping hot path.

Pieces are the straight parts of segment geometries in a local metric projection. Each piece
is registered in every grid cell its bounding box touches; a query scans rings of cells
around the point until no closer piece can exist or the maximum distance is passed.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numpy.typing import NDArray


def build_grid(x1: np.ndarray, y1: np.ndarray, x2: np.ndarray, y2: np.ndarray,
               cell_m: float) -> tuple[np.ndarray, np.ndarray, float, float, int, int]:
    """Bucket pieces into cells. Returns (cell_offsets, cell_pieces, x0, y0, nx, ny)."""
    x0 = float(min(x1.min(), x2.min())) - cell_m
    y0 = float(min(y1.min(), y2.min())) - cell_m
    nx = int((max(x1.max(), x2.max()) - x0) // cell_m) + 2
    ny = int((max(y1.max(), y2.max()) - y0) // cell_m) + 2
    cx1 = ((np.minimum(x1, x2) - x0) // cell_m).astype(np.int64)
    cx2 = ((np.maximum(x1, x2) - x0) // cell_m).astype(np.int64)
    cy1 = ((np.minimum(y1, y2) - y0) // cell_m).astype(np.int64)
    cy2 = ((np.maximum(y1, y2) - y0) // cell_m).astype(np.int64)
    cells, pieces = _register(cx1, cx2, cy1, cy2, nx)
    order = np.argsort(cells, kind="stable")
    cells, pieces = cells[order], pieces[order]
    offsets = np.zeros(nx * ny + 1, dtype=np.int64)
    np.cumsum(np.bincount(cells, minlength=nx * ny), out=offsets[1:])
    return offsets, pieces.astype(np.int32), x0, y0, nx, ny


@njit(cache=True)
def _register(cx1: np.ndarray, cx2: np.ndarray, cy1: np.ndarray, cy2: np.ndarray,
              nx: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Every (cell, piece) pair of pieces whose cell ranges are ``[cx1, cx2] × [cy1, cy2]``
    on a grid ``nx`` cells wide."""
    n = 0
    for i in range(cx1.shape[0]):
        n += (cx2[i] - cx1[i] + 1) * (cy2[i] - cy1[i] + 1)
    cells = np.empty(n, dtype=np.int64)
    pieces = np.empty(n, dtype=np.int64)
    k = 0
    for i in range(cx1.shape[0]):
        for cy in range(cy1[i], cy2[i] + 1):
            for cx in range(cx1[i], cx2[i] + 1):
                cells[k] = cy * nx + cx
                pieces[k] = i
                k += 1
    return cells, pieces


@njit(cache=True)
def grid_nearest(px: float, py: float, max_m: float, offsets: np.ndarray,
                 cell_pieces: np.ndarray, x0: float, y0: float, nx: int, ny: int,
                 cell_m: float, x1: np.ndarray, y1: np.ndarray, x2: np.ndarray,
                 y2: np.ndarray) -> tuple[int, float, float]:
    """(piece, t along piece in [0,1], distance m) of the nearest piece within ``max_m``;
    piece = -1 when none."""
    cx = int((px - x0) // cell_m)
    cy = int((py - y0) // cell_m)
    best = -1
    best_d2 = max_m * max_m
    best_t = 0.0
    max_ring = int(max_m // cell_m) + 1
    for r in range(max_ring + 1):
        # any piece in ring r is at least (r - 1) * cell_m away
        if best >= 0 and (r - 1) * cell_m > math.sqrt(best_d2):
            break
        for gy in range(cy - r, cy + r + 1):
            if gy < 0 or gy >= ny:
                continue
            step = 1 if (gy == cy - r or gy == cy + r) else 2 * r
            if step == 0:
                step = 1
            gx = cx - r
            while gx <= cx + r:
                if 0 <= gx < nx:
                    c = gy * nx + gx
                    for k in range(offsets[c], offsets[c + 1]):
                        i = cell_pieces[k]
                        dx = x2[i] - x1[i]
                        dy = y2[i] - y1[i]
                        ll = dx * dx + dy * dy
                        t = 0.0
                        if ll > 0:
                            t = ((px - x1[i]) * dx + (py - y1[i]) * dy) / ll
                            t = min(max(t, 0.0), 1.0)
                        qx = x1[i] + t * dx - px
                        qy = y1[i] + t * dy - py
                        d2 = qx * qx + qy * qy
                        if d2 < best_d2 or (d2 == best_d2 and best >= 0 and i < best):
                            best_d2 = d2
                            best = i
                            best_t = t
                gx += step
    return best, best_t, math.sqrt(best_d2) if best >= 0 else -1.0
