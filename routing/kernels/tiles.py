"""Lines clipped to a vector tile's box and rounded to its units (numba): the tile hot path.

Lines are points in world units (0..1, y down); a feature's edges run from each of its points
to the next. The caller picks runs of edges (chunks of features, in order); each edge is
clipped to the box (Liang–Barsky), its ends scaled to tile units and rounded. Consecutive
edges of a line that stay inside the box make one part; a part's repeated points are dropped
and parts left with fewer than two points too (nothing finer than one tile unit is kept).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray


@njit(cache=True)
def clip_runs(xy: np.ndarray, run_start: np.ndarray, run_len: np.ndarray,
              run_feat: np.ndarray, x_min: float, y_min: float, x_max: float, y_max: float,
              ox: float, oy: float, scale: float
              ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Parts of the runs of edges inside the box ``[x_min, x_max] × [y_min, y_max]``.

    Run ``r`` covers edge positions ``run_start[r] .. run_start[r] + run_len[r] - 1`` of
    feature ``run_feat[r]``; the edge at position ``p`` of feature ``f`` goes from point
    ``p + f`` to ``p + f + 1`` of ``xy``. Points come out as ``round((p - (ox, oy)) *
    scale)``. Returns (points ``[m, 2]``, the ``k + 1`` offsets of the parts' points, the
    feature of each part)."""
    total = 0
    for r in range(len(run_len)):
        total += run_len[r]
    pts = np.empty((2 * total, 2), dtype=np.int64)
    offsets = np.empty(total + 1, dtype=np.int64)
    feats = np.empty(total, dtype=np.int64)
    n_pts = 0
    n_parts = 0
    part_start = 0
    part_f = -1
    open_part = False  # a part is being drawn and the last edge left it at its end
    last_e = -2
    for r in range(len(run_len)):
        f = run_feat[r]
        for p in range(run_start[r], run_start[r] + run_len[r]):
            e = p + f
            ax, ay = xy[e, 0], xy[e, 1]
            dx, dy = xy[e + 1, 0] - ax, xy[e + 1, 1] - ay
            t0, t1 = 0.0, 1.0
            inside = True
            for axis in range(2):
                d = dx if axis == 0 else dy
                s = ax if axis == 0 else ay
                lo = x_min if axis == 0 else y_min
                hi = x_max if axis == 0 else y_max
                if d == 0.0:
                    if s < lo or s > hi:
                        inside = False
                else:
                    ta, tb = (lo - s) / d, (hi - s) / d
                    if ta > tb:
                        ta, tb = tb, ta
                    t0 = max(t0, ta)
                    t1 = min(t1, tb)
            if not inside or t0 > t1:
                if open_part:
                    n_parts, n_pts = _close(offsets, feats, n_parts, part_start, n_pts, part_f)
                    open_part = False
                last_e = e
                continue
            cont = open_part and e == last_e + 1 and t0 <= 0.0
            if not cont:
                if open_part:
                    n_parts, n_pts = _close(offsets, feats, n_parts, part_start, n_pts, part_f)
                part_start = n_pts
                part_f = f
                pts[n_pts, 0] = round((ax + t0 * dx - ox) * scale)
                pts[n_pts, 1] = round((ay + t0 * dy - oy) * scale)
                n_pts += 1
            qx = round((ax + t1 * dx - ox) * scale)
            qy = round((ay + t1 * dy - oy) * scale)
            if qx != pts[n_pts - 1, 0] or qy != pts[n_pts - 1, 1]:
                pts[n_pts, 0] = qx
                pts[n_pts, 1] = qy
                n_pts += 1
            open_part = t1 >= 1.0
            if not open_part:
                n_parts, n_pts = _close(offsets, feats, n_parts, part_start, n_pts, part_f)
            last_e = e
    if open_part:
        n_parts, n_pts = _close(offsets, feats, n_parts, part_start, n_pts, part_f)
    offsets[n_parts] = n_pts
    return pts[:n_pts], offsets[:n_parts + 1], feats[:n_parts]


@njit(cache=True)
def _close(offsets: np.ndarray, feats: np.ndarray, n_parts: int, part_start: int, n_pts: int,
           feat: int) -> tuple[int, int]:
    """End the part begun at ``part_start``: kept with two points or more, else undone."""
    if n_pts - part_start >= 2:
        offsets[n_parts] = part_start
        feats[n_parts] = feat
        return n_parts + 1, n_pts
    return n_parts, part_start


@njit(cache=True)
def _zz(v: int) -> int:
    return (v << 1) ^ (v >> 63)


@njit(cache=True)
def grouped_commands(pts: np.ndarray, offsets: np.ndarray, part_group: np.ndarray,
                     order: np.ndarray
                     ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Command integers of multi-line features: the parts ``order`` (parts of one group
    next to each other) of :func:`clip_runs`' output (each part two points or more, none
    repeated), one feature per run of equal ``part_group``. Returns (all features' commands,
    the offsets of each feature's commands in them, each feature's group)."""
    total = 0
    for i in range(len(order)):
        p = order[i]
        total += 2 * (offsets[p + 1] - offsets[p]) + 2
    out = np.empty(total, dtype=np.int64)
    bounds = np.empty(len(order) + 1, dtype=np.int64)
    keys = np.empty(len(order), dtype=np.int64)
    w = 0
    n_groups = 0
    cx = 0
    cy = 0
    for i in range(len(order)):
        p = order[i]
        g = part_group[p]
        if n_groups == 0 or g != keys[n_groups - 1]:
            bounds[n_groups] = w
            keys[n_groups] = g
            n_groups += 1
            cx = 0  # each feature's cursor starts at 0, 0
            cy = 0
        a, b = offsets[p], offsets[p + 1]
        out[w] = (1 << 3) | 1  # MoveTo(1)
        out[w + 1] = _zz(pts[a, 0] - cx)
        out[w + 2] = _zz(pts[a, 1] - cy)
        out[w + 3] = ((b - a - 1) << 3) | 2  # LineTo(k - 1)
        w += 4
        cx, cy = pts[a, 0], pts[a, 1]
        for j in range(a + 1, b):
            out[w] = _zz(pts[j, 0] - cx)
            out[w + 1] = _zz(pts[j, 1] - cy)
            w += 2
            cx, cy = pts[j, 0], pts[j, 1]
    bounds[n_groups] = w
    return out[:w], bounds[:n_groups + 1], keys[:n_groups]


@njit(cache=True)
def _vsize(v: int) -> int:
    n = 1
    while v > 0x7F:
        v >>= 7
        n += 1
    return n


@njit(cache=True)
def _put(out: np.ndarray, w: int, v: int) -> int:
    while v > 0x7F:
        out[w] = (v & 0x7F) | 0x80
        v >>= 7
        w += 1
    out[w] = v
    return w + 1


@njit(cache=True)
def encode_features(geom_type: np.ndarray, geometry: np.ndarray, geom_offsets: np.ndarray,
                    tags: np.ndarray, tag_offsets: np.ndarray) -> NDArray[np.uint8]:
    """The protobuf bytes of a layer's ``features`` (field 2, one ``Feature`` each: id
    ``f + 1``, tags ``tags[tag_offsets[f]:tag_offsets[f + 1]]`` packed, type
    ``geom_type[f]``, geometry ``geometry[geom_offsets[f]:geom_offsets[f + 1]]`` packed; all
    values non-negative)."""
    nf = len(geom_type)
    lg = np.zeros(nf, dtype=np.int64)
    lt = np.zeros(nf, dtype=np.int64)
    lf = np.zeros(nf, dtype=np.int64)
    size = 0
    for f in range(nf):
        for i in range(geom_offsets[f], geom_offsets[f + 1]):
            lg[f] += _vsize(geometry[i])
        for i in range(tag_offsets[f], tag_offsets[f + 1]):
            lt[f] += _vsize(tags[i])
        n = 1 + _vsize(f + 1) + 1 + _vsize(geom_type[f]) + 1 + _vsize(lg[f]) + lg[f]
        if tag_offsets[f + 1] > tag_offsets[f]:
            n += 1 + _vsize(lt[f]) + lt[f]
        lf[f] = n
        size += 1 + _vsize(n) + n
    out = np.empty(size, dtype=np.uint8)
    w = 0
    for f in range(nf):
        w = _put(out, w, (2 << 3) | 2)
        w = _put(out, w, lf[f])
        w = _put(out, w, (1 << 3) | 0)
        w = _put(out, w, f + 1)
        if tag_offsets[f + 1] > tag_offsets[f]:
            w = _put(out, w, (2 << 3) | 2)
            w = _put(out, w, lt[f])
            for i in range(tag_offsets[f], tag_offsets[f + 1]):
                w = _put(out, w, tags[i])
        w = _put(out, w, (3 << 3) | 0)
        w = _put(out, w, geom_type[f])
        w = _put(out, w, (4 << 3) | 2)
        w = _put(out, w, lg[f])
        for i in range(geom_offsets[f], geom_offsets[f + 1]):
            w = _put(out, w, geometry[i])
    return out
