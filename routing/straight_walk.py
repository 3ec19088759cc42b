"""Straight-line walking: the walking model of transit-only snapshots (no street network).

Without streets, a walk between two points is estimated as the great-circle distance times a
detour factor (:data:`WALK_DETOUR_FACTOR`, 1.3: streets are rarely straight), walked at the
requested speed. So a walk of straight-line distance ``d`` metres takes
``ceil(d × detour / speed_mps)`` seconds, and every walking limit (``max_walk_m``, the 800 m
of transfers) applies to the *walking* distance ``d × detour``, as it applies to the street
distance on snapshots with streets.

:func:`straight_line_transfers` gives the stop-to-stop transfers of the build (the same CSR
arrays as the street-based ones); :class:`StraightLineWalk` answers access, egress and
walk-only distances from a coordinate at plan time.
"""

from __future__ import annotations

import math

import numpy as np

from gtfs.geo import EARTH_RADIUS_M, haversine_m

#: Walking distance = straight-line distance × this factor (a common planning value: street
#: paths are 20–40 % longer than the straight line in most cities).
WALK_DETOUR_FACTOR = 1.3


def _unit_xyz(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lon)
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def _chord(max_m: float) -> float:
    """Chord length on the unit sphere of a great-circle distance (a little more, so the
    exact haversine test decides at the limit)."""
    return 2.0 * math.sin(min(max_m / EARTH_RADIUS_M, math.pi) / 2.0) * (1 + 1e-9)


def straight_line_transfers(stop_lat: np.ndarray, stop_lon: np.ndarray,
                            max_walk_m: float, detour_factor: float = WALK_DETOUR_FACTOR,
                            speed_mps: float = 5.0 / 3.6
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Walking transfers between every ordered pair of distinct stops whose walking distance
    (straight line × ``detour_factor``) is at most ``max_walk_m`` metres.

    Inputs in degrees. Returns CSR ``(offsets int64[n+1], to int32[], time_ms int32[] at
    ``speed_mps``, walk_dist_m float32[])``, sorted by (from, to) — the layout of the
    street-based transfers of :func:`routing.transit_build.walking_transfers`."""
    lat = np.asarray(stop_lat, dtype=np.float64)
    lon = np.asarray(stop_lon, dtype=np.float64)
    n = lat.shape[0]
    straight_max = max_walk_m / detour_factor
    if n == 0:
        pairs = np.zeros((0, 2), np.int64)
    else:
        from scipy.spatial import cKDTree

        pairs = cKDTree(_unit_xyz(lat, lon)).query_pairs(_chord(straight_max),
                                                          output_type="ndarray")
        pairs = np.concatenate([pairs, pairs[:, ::-1]]).astype(np.int64) if len(pairs) \
            else np.zeros((0, 2), np.int64)
    walk_m = haversine_m(lat[pairs[:, 0]], lon[pairs[:, 0]], lat[pairs[:, 1]],
                         lon[pairs[:, 1]]) * detour_factor
    keep = walk_m <= max_walk_m
    pairs, walk_m = pairs[keep], walk_m[keep]
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    pairs, walk_m = pairs[order], walk_m[order]
    offsets = np.searchsorted(pairs[:, 0], np.arange(n + 1)).astype(np.int64)
    time_ms = np.rint(walk_m / speed_mps * 1000.0).astype(np.int32)
    return offsets, pairs[:, 1].astype(np.int32), time_ms, walk_m.astype(np.float32)


def walk_seconds(walk_m: np.ndarray | float, speed_mps: float) -> np.ndarray:
    """Seconds to walk ``walk_m`` metres (already including the detour) at ``speed_mps``,
    rounded up."""
    return np.ceil(np.asarray(walk_m, dtype=np.float64) / speed_mps).astype(np.int64)


class StraightLineWalk:
    """Walking between coordinates and stops in straight lines × a detour factor."""

    def __init__(self, stop_lat: np.ndarray, stop_lon: np.ndarray,
                 detour_factor: float = WALK_DETOUR_FACTOR) -> None:
        self.stop_lat = np.asarray(stop_lat, dtype=np.float64)
        self.stop_lon = np.asarray(stop_lon, dtype=np.float64)
        self.detour_factor = float(detour_factor)
        from scipy.spatial import cKDTree

        self._tree = cKDTree(_unit_xyz(self.stop_lat, self.stop_lon)) \
            if self.stop_lat.shape[0] else None

    def walk_m(self, a: tuple[float, float], b: tuple[float, float]) -> float:
        """Walking distance (m) between two (lat, lon) points."""
        d = haversine_m(np.asarray(a[0]), np.asarray(a[1]), np.asarray(b[0]), np.asarray(b[1]))
        return float(d) * self.detour_factor

    def stops_within(self, lat: float, lon: float, max_walk_m: float
                     ) -> tuple[np.ndarray, np.ndarray]:
        """Stops within ``max_walk_m`` walking metres of a point: ``(stop indices int32,
        walking distances m float64)``, by stop index."""
        if self._tree is None:
            return np.zeros(0, np.int32), np.zeros(0, np.float64)
        idx = np.sort(np.asarray(self._tree.query_ball_point(
            _unit_xyz(np.array([lat]), np.array([lon]))[0],
            _chord(max_walk_m / self.detour_factor)), dtype=np.int64))
        walk = haversine_m(np.full(idx.shape[0], lat), np.full(idx.shape[0], lon),
                           self.stop_lat[idx], self.stop_lon[idx]) * self.detour_factor
        keep = walk <= max_walk_m
        return idx[keep].astype(np.int32), walk[keep]

    def stop_times(self, lat: float, lon: float, max_walk_m: float, speed_mps: float
                   ) -> tuple[np.ndarray, np.ndarray]:
        """Access or egress (the same both ways): ``(stop indices int32, seconds int64)`` of
        the stops within ``max_walk_m`` walking metres of the point, at ``speed_mps``."""
        idx, walk = self.stops_within(lat, lon, max_walk_m)
        return idx, walk_seconds(walk, speed_mps)
