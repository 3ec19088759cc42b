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


@njit(cache=True)
def segment_bearings(gstart: np.ndarray, gend: np.ndarray, lon: np.ndarray, lat: np.ndarray,
                     coslat: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per segment, the bearing (degrees from north, in [0, 360)) leaving its first point
    along it and leaving its last point back along it: the first piece of non-zero length
    from that end; NaN when the segment has none. The same arithmetic as
    :meth:`routing.labels._Branches` used per junction."""
    n = gstart.shape[0]
    fwd = np.full(n, np.nan)
    bwd = np.full(n, np.nan)
    for s in range(n):
        g0 = gstart[s]
        g1 = gend[s]
        for g in range(g0, g1 - 1):
            dx = (lon[g + 1] - lon[g]) * coslat
            dy = lat[g + 1] - lat[g]
            if dx != 0.0 or dy != 0.0:
                fwd[s] = math.degrees(math.atan2(dx, dy)) % 360.0
                break
        for g in range(g1 - 1, g0, -1):
            dx = (lon[g - 1] - lon[g]) * coslat
            dy = lat[g - 1] - lat[g]
            if dx != 0.0 or dy != 0.0:
                bwd[s] = math.degrees(math.atan2(dx, dy)) % 360.0
                break
    return fwd, bwd


@njit(cache=True)
def path_branches(seg_ids: np.ndarray, tails: np.ndarray, j_off: np.ndarray,
                  j_seg: np.ndarray, seg_dirs: np.ndarray, seg_u: np.ndarray,
                  seg_v: np.ndarray, bearing_fwd: np.ndarray, bearing_bwd: np.ndarray
                  ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.int64]]:
    """The other ways open to a mode where each path edge starts, as CSR arrays: for path
    edge ``i``, entries ``off[i]:off[i + 1]`` of (bearing leaving the junction, segment),
    in the junction table's order, forward before backward per segment. The path's own
    segments there (edge ``i``'s and edge ``i - 1``'s) and segments without a defined
    bearing are left out. ``seg_dirs``: per segment, bit 1 = the mode has its forward edge,
    bit 2 = its backward edge; ``bearing_fwd`` / ``bearing_bwd`` from
    :func:`segment_bearings`."""
    n = seg_ids.shape[0]
    off = np.zeros(n + 1, dtype=np.int64)
    cap = 0
    for i in range(n):
        j = tails[i]
        cap += 2 * (j_off[j + 1] - j_off[j])
    bearing = np.empty(cap, dtype=np.float64)
    seg = np.empty(cap, dtype=np.int64)
    k = 0
    for i in range(n):
        j = tails[i]
        mine = seg_ids[i]
        before = seg_ids[i - 1] if i > 0 else -1
        for t in range(j_off[j], j_off[j + 1]):
            s = j_seg[t]
            if s in (mine, before):
                continue
            dirs = seg_dirs[s]
            if dirs & 1 and seg_u[s] == j and not math.isnan(bearing_fwd[s]):
                bearing[k] = bearing_fwd[s]
                seg[k] = s
                k += 1
            if dirs & 2 and seg_v[s] == j and not math.isnan(bearing_bwd[s]):
                bearing[k] = bearing_bwd[s]
                seg[k] = s
                k += 1
        off[i + 1] = k
    return off, bearing[:k], seg[:k]


@njit(cache=True)
def step_marks(roundabout: np.ndarray, junction_degree: np.ndarray, b_start: np.ndarray,
               b_end: np.ndarray, street: np.ndarray, ref: np.ndarray, dest: np.ndarray,
               dest_ref: np.ndarray, footway: np.ndarray, link: np.ndarray,
               fast: np.ndarray
               ) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.bool_],
                          NDArray[np.bool_], NDArray[np.bool_]]:
    """Where a path's steps may start (see :func:`routing.steps.build_steps`), per path
    edge ``i``: the signed turn angle onto it (degrees, right positive; 0 when a bearing is
    unknown, -1), whether it turns (a U-turn, or 30° or more where three or more streets
    meet, off roundabouts), enters or leaves a roundabout, and whether the step rules must
    look at it (a turn, a roundabout, a change of any label or of ramp-ness, or a junction
    of three or more streets between ramps or fast roads). Returns (angle, turned, enter,
    leave, candidate); edge 0 is never a candidate."""
    n = roundabout.shape[0]
    ang = np.zeros(n)
    turned = np.zeros(n, dtype=np.bool_)
    enter = np.zeros(n, dtype=np.bool_)
    leave = np.zeros(n, dtype=np.bool_)
    cand = np.zeros(n, dtype=np.bool_)
    for i in range(1, n):
        bi = b_end[i - 1]
        bo = b_start[i]
        if not (bi < 0 or bo < 0):
            ang[i] = (bo - bi + 540.0) % 360.0 - 180.0
        a = abs(ang[i])
        rb0 = roundabout[i - 1]
        rb1 = roundabout[i]
        enter[i] = rb1 and not rb0
        leave[i] = rb0 and not rb1
        normal = not rb1 and not rb0
        deg = junction_degree[i]
        turned[i] = normal and (a >= 170 or (a >= 30 and deg >= 3))
        changed = (street[i] != street[i - 1] or ref[i] != ref[i - 1]
                   or dest[i] != dest[i - 1] or dest_ref[i] != dest_ref[i - 1]
                   or footway[i] != footway[i - 1] or link[i] != link[i - 1])
        forky = (link[i] or fast[i]) and (link[i - 1] or fast[i - 1]) and deg >= 3
        cand[i] = enter[i] or leave[i] or (normal and (turned[i] or changed or forky))
    return ang, turned, enter, leave, cand


@njit(cache=True)
def _side_code(seen: bool, all_less: bool, all_more: bool) -> int:
    if not seen:
        return 0
    if all_less:
        return 2  # every other forward branch is left of the path: the path keeps right
    if all_more:
        return 1
    return 3


@njit(cache=True)
def branch_marks(off: np.ndarray, bearing: np.ndarray, highway: np.ndarray,
                 class_fast: np.ndarray, class_ramp: np.ndarray, b_end: np.ndarray,
                 ang: np.ndarray, fork_max: float, margin: float
                 ) -> tuple[NDArray[np.int8], NDArray[np.int8], NDArray[np.int8],
                            NDArray[np.bool_]]:
    """Forks and obvious bends where each path edge ``i`` starts, from the other branches
    open there (CSR ``off`` / ``bearing`` as :func:`path_branches`, ``highway``: each
    branch's class; per class: a fast road, a fast road or a ramp). ``b_end``: bearing at
    each edge's end (-1 unknown), ``ang``: the signed turn angle onto each edge.

    Returns the side the path takes among the forward branches (within ``fork_max``
    degrees of straight on) — of any class, of ramps and fast roads, of fast roads —
    coded 0 none, 1 left, 2 right, 3 straight; and whether every branch turns at least
    ``margin`` degrees more than the path ("obvious")."""
    n = off.shape[0] - 1
    side_any = np.zeros(n, dtype=np.int8)
    side_ramp = np.zeros(n, dtype=np.int8)
    side_fast = np.zeros(n, dtype=np.int8)
    obvious = np.zeros(n, dtype=np.bool_)
    for i in range(1, n):
        be = b_end[i - 1]
        if be < 0:
            continue
        mine = ang[i]
        amine = abs(mine)
        obv = True
        s_any = s_ramp = s_fast = False
        l_any = l_ramp = l_fast = True  # every branch so far is left of the path's turn
        m_any = m_ramp = m_fast = True  # ... right of it
        for k in range(off[i], off[i + 1]):
            r = (bearing[k] - be + 540.0) % 360.0 - 180.0
            if abs(r) < amine + margin:
                obv = False
            if abs(r) < fork_max:
                less = r < mine
                more = r > mine
                s_any = True
                l_any = l_any and less
                m_any = m_any and more
                if class_ramp[highway[k]]:
                    s_ramp = True
                    l_ramp = l_ramp and less
                    m_ramp = m_ramp and more
                if class_fast[highway[k]]:
                    s_fast = True
                    l_fast = l_fast and less
                    m_fast = m_fast and more
        side_any[i] = _side_code(s_any, l_any, m_any)
        side_ramp[i] = _side_code(s_ramp, l_ramp, m_ramp)
        side_fast[i] = _side_code(s_fast, l_fast, m_fast)
        obvious[i] = obv
    return side_any, side_ramp, side_fast, obvious


@njit(cache=True)
def step_candidates(cand: np.ndarray, ang: np.ndarray, enter: np.ndarray, leave: np.ndarray,
                    link: np.ndarray, fast: np.ndarray
                    ) -> tuple[NDArray[np.int64], NDArray[np.int8]]:
    """The candidate edges of :func:`step_marks` (``cand``), and for each what kind it is:
    1 ordinary — no U-turn, not entering or leaving a roundabout, neither it nor the edge
    before a ramp, and not both fast roads (only the turn and the change of road decide
    there) —, 2 the same but both fast roads (a fork, else as ordinary), 0 other."""
    n = cand.shape[0]
    m = 0
    for i in range(n):
        if cand[i]:
            m += 1
    idx = np.empty(m, dtype=np.int64)
    plain = np.zeros(m, dtype=np.int8)
    k = 0
    for i in range(n):
        if not cand[i]:
            continue
        idx[k] = i
        if (i > 0 and not enter[i] and not leave[i] and abs(ang[i]) < 170 and not link[i]
                and not link[i - 1]):
            plain[k] = 2 if fast[i] and fast[i - 1] else 1
        k += 1
    return idx, plain


@njit(cache=True)
def road_classes(highway: np.ndarray, is_link: np.ndarray, is_fast: np.ndarray
                 ) -> tuple[NDArray[np.bool_], NDArray[np.bool_], NDArray[np.int64],
                            NDArray[np.int64]]:
    """Per path edge (``highway``: its class index): a ramp, a fast road (from the per-class
    tables), the first edge at or after it that is not a ramp (``n``: none) and the last one
    at or before it (-1: none)."""
    n = highway.shape[0]
    link = np.empty(n, dtype=np.bool_)
    fast = np.empty(n, dtype=np.bool_)
    for i in range(n):
        link[i] = is_link[highway[i]]
        fast[i] = is_fast[highway[i]]
    after = np.empty(n, dtype=np.int64)
    before = np.empty(n, dtype=np.int64)
    last = -1
    for i in range(n):
        if not link[i]:
            last = i
        before[i] = last
    nxt = n
    for i in range(n - 1, -1, -1):
        if not link[i]:
            nxt = i
        after[i] = nxt
    return link, fast, after, before
