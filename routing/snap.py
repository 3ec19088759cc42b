"""Snap coordinates onto the nearest segment usable by a mode (projected point, not node).

Coordinates are projected to a local equirectangular plane in metres (accurate to well under
1 % at city scale) and indexed with a shapely 2 ``STRtree`` over segment geometries. Only
segments with an edge in the mode's main strongly connected component are indexed, so a
snapped point can always reach (and be reached from) the rest of the network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely import STRtree

from routing.graph import EARTH_RADIUS_M


@dataclass(frozen=True, slots=True)
class Projection:
    """Local equirectangular projection around a reference point (metres)."""

    lon0: float
    lat0: float

    @property
    def kx(self) -> float:
        """Metres per degree of longitude at the reference latitude."""
        return math.radians(1.0) * EARTH_RADIUS_M * math.cos(math.radians(self.lat0))

    @property
    def ky(self) -> float:
        """Metres per degree of latitude."""
        return math.radians(1.0) * EARTH_RADIUS_M

    def to_xy(self, lon: np.ndarray | float, lat: np.ndarray | float
              ) -> tuple[np.ndarray | float, np.ndarray | float]:
        """Degrees → metres."""
        return (np.asarray(lon) - self.lon0) * self.kx, (np.asarray(lat) - self.lat0) * self.ky

    def to_lonlat(self, x: float, y: float) -> tuple[float, float]:
        """Metres → degrees."""
        return x / self.kx + self.lon0, y / self.ky + self.lat0


@dataclass(frozen=True, slots=True)
class SnapCandidate:
    """A point on a segment: ``fraction`` of its length from ``u`` to ``v``."""

    segment: int
    fraction: float
    distance_m: float
    lon: float
    lat: float


class Snapper:
    """Nearest-segment index for one mode."""

    def __init__(self, seg_lon: np.ndarray, seg_lat: np.ndarray, gstart: np.ndarray,
                 gend: np.ndarray, segment_ids: np.ndarray, projection: Projection) -> None:
        self.projection = projection
        self.segment_ids = np.asarray(segment_ids, dtype=np.int64)
        starts = np.asarray(gstart)[self.segment_ids]
        ends = np.asarray(gend)[self.segment_ids]
        counts = ends - starts
        idx = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + \
            np.arange(int(counts.sum()))
        x, y = projection.to_xy(np.asarray(seg_lon)[idx], np.asarray(seg_lat)[idx])
        part = np.repeat(np.arange(self.segment_ids.shape[0]), counts)
        self.geoms = shapely.linestrings(np.column_stack([x, y]), indices=part) \
            if self.segment_ids.shape[0] else np.array([], dtype=object)
        self.tree = STRtree(self.geoms)

    def _candidate(self, i: int, pt: shapely.Point, dist: float) -> SnapCandidate:
        line = self.geoms[i]
        length = line.length
        along = line.project(pt)
        p = line.interpolate(along)
        lon, lat = self.projection.to_lonlat(p.x, p.y)
        frac = along / length if length > 0 else 0.0
        return SnapCandidate(int(self.segment_ids[i]), min(max(frac, 0.0), 1.0), float(dist),
                             float(lon), float(lat))

    def nearest(self, lon: float, lat: float, max_distance_m: float) -> SnapCandidate | None:
        """The nearest indexed segment within ``max_distance_m``, or ``None``."""
        if len(self.geoms) == 0:
            return None
        x, y = self.projection.to_xy(lon, lat)
        pt = shapely.Point(float(x), float(y))
        idx, dist = self.tree.query_nearest(pt, max_distance=max_distance_m,
                                            return_distance=True)
        if idx.shape[0] == 0:
            return None
        return self._candidate(int(idx[0]), pt, float(dist[0]))

    def within(self, lon: float, lat: float, max_distance_m: float, limit: int = 32
               ) -> list[SnapCandidate]:
        """Indexed segments within ``max_distance_m``, nearest first (at most ``limit``)."""
        if len(self.geoms) == 0:
            return []
        x, y = self.projection.to_xy(lon, lat)
        pt = shapely.Point(float(x), float(y))
        idx = self.tree.query(pt, predicate="dwithin", distance=max_distance_m)
        if idx.shape[0] == 0:
            return []
        d = shapely.distance(self.geoms[idx], pt)
        order = np.argsort(d, kind="stable")[:limit]
        return [self._candidate(int(idx[k]), pt, float(d[k])) for k in order]
