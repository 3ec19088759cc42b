"""Snap coordinates onto the nearest segment usable by a mode (projected point, not node).

Coordinates are projected to a local equirectangular plane in metres (accurate to well under
1 % at city scale) and indexed with a shapely 2 ``STRtree`` over segment geometries. Only
segments with an edge in the mode's main strongly connected component are indexed by the
main snapper, so a point snapped there can always reach (and be reached from) the rest of the
network; a second index over every segment of the mode finds small pieces not connected to
it (a car park, a gated estate), which :meth:`routing.road.RoadRouter.snap_pair` uses when
they connect in the mode's direction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import overload

import numpy as np
import shapely
from shapely import STRtree

from gtfs.geo import EARTH_RADIUS_M
from routing.kernels.gridsnap import build_grid, grid_nearest


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

    @overload
    def to_xy(self, lon: float, lat: float) -> tuple[float, float]: ...
    @overload
    def to_xy(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def to_xy(self, lon: np.ndarray | float, lat: np.ndarray | float
              ) -> tuple[np.ndarray | float, np.ndarray | float]:
        """Degrees → metres (arrays in, arrays out; a number in, a number out)."""
        return (np.asarray(lon) - self.lon0) * self.kx, (np.asarray(lat) - self.lat0) * self.ky

    def to_lonlat(self, x: float, y: float) -> tuple[float, float]:
        """Metres → degrees."""
        return x / self.kx + self.lon0, y / self.ky + self.lat0


#: Why an endpoint is where it is: on the nearest road usable by the mode (in the main
#: network); on the nearest road although it is a small piece off the main network, because
#: that piece connects in the mode's direction; or on the nearest road of the main network
#: because the nearest road is a piece that does not connect in the mode's direction (see
#: :meth:`routing.road.RoadRouter.snap_pair`).
SNAP_NEAREST = "nearest"
SNAP_CONNECTED_PIECE = "connected_piece"
SNAP_DISCONNECTED_PIECE = "disconnected_piece"
SNAP_REASONS = (SNAP_NEAREST, SNAP_CONNECTED_PIECE, SNAP_DISCONNECTED_PIECE)


@dataclass(frozen=True, slots=True)
class SnapCandidate:
    """A point on a segment: ``fraction`` of its length from ``u`` to ``v``.

    ``reason`` is one of :data:`SNAP_REASONS`; with :data:`SNAP_DISCONNECTED_PIECE`,
    ``nearest_road_m`` is the distance (m) to the nearer, unconnected road that was passed
    over (``None`` otherwise)."""

    segment: int
    fraction: float
    distance_m: float
    lon: float
    lat: float
    reason: str = SNAP_NEAREST
    nearest_road_m: float | None = None


class Snapper:
    """Nearest-segment index for one mode."""

    def __init__(self, seg_lon: np.ndarray, seg_lat: np.ndarray, gstart: np.ndarray,
                 gend: np.ndarray, segment_ids: np.ndarray, projection: Projection) -> None:
        self.projection = projection
        self._kx, self._ky = projection.kx, projection.ky
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
        # Grid over the straight pieces for the hot path (see routing.kernels.gridsnap).
        same = np.zeros(x.shape[0], dtype=bool)
        same[:-1] = part[1:] == part[:-1]
        first = np.flatnonzero(same)
        self._px1, self._py1 = x[first], y[first]
        self._px2, self._py2 = x[first + 1], y[first + 1]
        self._piece_part = part[first]
        plen = np.hypot(self._px2 - self._px1, self._py2 - self._py1)
        cum = np.cumsum(plen)
        part_start = np.zeros(self.segment_ids.shape[0], dtype=np.float64)
        if first.shape[0]:
            firsts = np.flatnonzero(np.r_[True, self._piece_part[1:] != self._piece_part[:-1]])
            starts_cum = np.r_[0.0, cum][firsts]
            part_start[self._piece_part[firsts]] = starts_cum
        self._piece_along = np.r_[0.0, cum][:-1] - part_start[self._piece_part]
        self._piece_len = plen
        self._part_len = np.zeros(self.segment_ids.shape[0], dtype=np.float64)
        np.add.at(self._part_len, self._piece_part, plen)
        self._cell_m = 100.0
        self._offsets: np.ndarray | None = None  # no grid without pieces
        if first.shape[0]:
            (self._offsets, self._cells, self._gx0, self._gy0, self._gnx,
             self._gny) = build_grid(self._px1, self._py1, self._px2, self._py2, self._cell_m)

    def _candidate(self, i: int, pt: shapely.Point, dist: float) -> SnapCandidate:
        line = self.geoms[i]
        length = line.length
        along = line.project(pt)
        p = line.interpolate(along)
        lon = p.x / self._kx + self.projection.lon0
        lat = p.y / self._ky + self.projection.lat0
        frac = along / length if length > 0 else 0.0
        return SnapCandidate(int(self.segment_ids[i]), min(max(frac, 0.0), 1.0), float(dist),
                             float(lon), float(lat))

    def nearest(self, lon: float, lat: float, max_distance_m: float) -> SnapCandidate | None:
        """The nearest indexed segment within ``max_distance_m``, or ``None``."""
        if len(self.geoms) == 0 or self._offsets is None:
            return None
        pr = self.projection
        px, py = (lon - pr.lon0) * self._kx, (lat - pr.lat0) * self._ky
        i, t, d = grid_nearest(px, py, float(max_distance_m), self._offsets, self._cells,
                               self._gx0, self._gy0, self._gnx, self._gny, self._cell_m,
                               self._px1, self._py1, self._px2, self._py2)
        if i < 0:
            return None
        part = int(self._piece_part[i])
        total = self._part_len[part]
        frac = (self._piece_along[i] + t * self._piece_len[i]) / total if total > 0 else 0.0
        x = self._px1[i] + t * (self._px2[i] - self._px1[i])
        y = self._py1[i] + t * (self._py2[i] - self._py1[i])
        return SnapCandidate(int(self.segment_ids[part]), min(max(float(frac), 0.0), 1.0),
                             float(d), float(x / self._kx + pr.lon0),
                             float(y / self._ky + pr.lat0))

    def nearest_strtree(self, lon: float, lat: float, max_distance_m: float
                        ) -> SnapCandidate | None:
        """Reference implementation of :meth:`nearest` with shapely's STRtree."""
        if len(self.geoms) == 0:
            return None
        pr = self.projection
        pt = shapely.Point((lon - pr.lon0) * self._kx, (lat - pr.lat0) * self._ky)
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
