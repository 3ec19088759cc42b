"""Straight-line footpaths between nearby stops (for tests and feeds without a street graph).

The production planner computes footpaths on the street graph; this helper gives the same CSR
shape from great-circle distance: every ordered pair of distinct routable stops within
``max_m`` metres gets ``ceil(distance / speed_mps)`` seconds.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from gtfs.geo import EARTH_RADIUS_M, haversine_m
from gtfs.timetable import Timetable


def straight_line_footpaths(
    tt: Timetable, max_m: float = 400.0, speed_mps: float = 1.3,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR footpaths ``(fp_offsets int64[n_stops+1], fp_to int32[], fp_dur_s int32[])``."""
    lat = np.asarray(tt.arrays["stop_lat"], dtype=np.float64)
    lon = np.asarray(tt.arrays["stop_lon"], dtype=np.float64)
    n = len(lat)
    if n == 0:
        return np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int32), \
            np.zeros(0, dtype=np.int32)
    # unit vectors on the sphere: chord distance is monotone in great-circle distance
    la, lo = np.radians(lat), np.radians(lon)
    xyz = np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])
    chord = 2 * np.sin(max_m / EARTH_RADIUS_M / 2) * (1 + 1e-9)
    pairs = cKDTree(xyz).query_pairs(chord, output_type="ndarray")
    if len(pairs):
        pairs = np.concatenate([pairs, pairs[:, ::-1]])
    else:
        pairs = np.zeros((0, 2), dtype=np.int64)
    d = haversine_m(lat[pairs[:, 0]], lon[pairs[:, 0]], lat[pairs[:, 1]], lon[pairs[:, 1]])
    keep = d <= max_m
    pairs, d = pairs[keep], d[keep]
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    pairs, d = pairs[order], d[order]
    offsets = np.searchsorted(pairs[:, 0], np.arange(n + 1)).astype(np.int64)
    dur = np.ceil(d / speed_mps).astype(np.int32)
    return offsets, pairs[:, 1].astype(np.int32), dur
