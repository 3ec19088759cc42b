"""Snap coordinates onto the nearest segment usable by a mode (projected point, not node).

Coordinates are projected to a local equirectangular plane in metres (accurate to well under
1 % at city scale) and indexed with a grid over the segments' straight pieces (numba, the hot
path); the shapely 2 ``STRtree`` over segment geometries that answers :meth:`Snapper.within`
(and the reference :meth:`Snapper.nearest_strtree`) is built on first use, so a serving worker
holds no GEOS geometries for modes whose nearest edge is always open. Only segments with an
edge in the mode's main strongly connected component are indexed by the main snapper, so a
point snapped there can always reach (and be reached from) the rest of the network; a second
index over every segment of the mode finds small pieces not connected to it (a car park, a
gated estate), which :meth:`routing.road.RoadRouter.snap_pair` uses when they connect in the
mode's direction.
"""

from __future__ import annotations

import math
import threading
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


@dataclass(frozen=True)
class SnapPieces:
    """The straight pieces of segment geometries in a local projection (m), in segment then
    point order: end points, the segment each belongs to, metres from its segment's start
    and its length, and every segment's length (indexed by segment id)."""

    x1: np.ndarray
    y1: np.ndarray
    x2: np.ndarray
    y2: np.ndarray
    seg: np.ndarray  # int32 segment id per piece
    along: np.ndarray
    length: np.ndarray
    seg_len: np.ndarray  # float64 [max segment id + 1], 0 for segments not included

    @classmethod
    def build(cls, seg_lon: np.ndarray, seg_lat: np.ndarray, gstart: np.ndarray,
              gend: np.ndarray, segment_ids: np.ndarray, projection: Projection
              ) -> SnapPieces:
        """Pieces of ``segment_ids`` (ascending segment ids) under ``projection``."""
        ids = np.asarray(segment_ids, dtype=np.int64)
        starts = np.asarray(gstart)[ids]
        counts = np.asarray(gend)[ids] - starts
        idx = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + \
            np.arange(int(counts.sum()))
        x, y = projection.to_xy(np.asarray(seg_lon)[idx], np.asarray(seg_lat)[idx])
        part = np.repeat(np.arange(ids.shape[0]), counts)
        same = np.zeros(x.shape[0], dtype=bool)
        same[:-1] = part[1:] == part[:-1]
        first = np.flatnonzero(same)
        x1, y1, x2, y2 = x[first], y[first], x[first + 1], y[first + 1]
        piece_part = part[first]
        plen = np.hypot(x2 - x1, y2 - y1)
        cum = np.cumsum(plen)
        part_start = np.zeros(ids.shape[0], dtype=np.float64)
        if first.shape[0]:
            firsts = np.flatnonzero(np.r_[True, piece_part[1:] != piece_part[:-1]])
            part_start[piece_part[firsts]] = np.r_[0.0, cum][firsts]
        along = np.r_[0.0, cum][:-1] - part_start[piece_part]
        seg_len = np.zeros(int(ids.max()) + 1 if ids.shape[0] else 0, dtype=np.float64)
        np.add.at(seg_len, ids[piece_part], plen)
        return cls(x1, y1, x2, y2, ids[piece_part].astype(np.int32), along, plen, seg_len)


class Snapper:
    """Nearest-segment index for one mode."""

    def __init__(self, seg_lon: np.ndarray, seg_lat: np.ndarray, gstart: np.ndarray,
                 gend: np.ndarray, segment_ids: np.ndarray, projection: Projection,
                 pieces: SnapPieces | None = None) -> None:
        """Index ``segment_ids`` (ascending) for snapping. ``pieces``: straight pieces shared
        with other snappers in the same ``projection`` (:meth:`SnapPieces.build` over a
        superset of ``segment_ids``); default: built for these segments alone."""
        self.projection = projection
        self._kx, self._ky = projection.kx, projection.ky
        self.segment_ids = np.asarray(segment_ids, dtype=np.int64)
        # the snapshot's (memory-mapped) arrays, kept for the geometries built on demand
        self._seg_lon, self._seg_lat = np.asarray(seg_lon), np.asarray(seg_lat)
        self._gstart, self._gend = np.asarray(gstart), np.asarray(gend)
        self._geoms: np.ndarray | None = None
        self._tree: STRtree | None = None
        self._tree_lock = threading.Lock()
        if pieces is None:
            pieces = SnapPieces.build(self._seg_lon, self._seg_lat, self._gstart, self._gend,
                                      self.segment_ids, projection)
        self._pieces = pieces
        # Grid over this mode's straight pieces for the hot path (routing.kernels.gridsnap);
        # the piece arrays are shared by every mode of a router, each grid lists its own
        keep = np.zeros(int(pieces.seg_len.shape[0]), dtype=bool)
        keep[self.segment_ids[self.segment_ids < keep.shape[0]]] = True
        sub = np.flatnonzero(keep[pieces.seg]) if pieces.seg.shape[0] else \
            np.zeros(0, np.int64)
        self._cell_m = 100.0
        self._offsets: np.ndarray | None = None  # no grid without pieces
        if sub.shape[0]:
            (self._offsets, cells, self._gx0, self._gy0, self._gnx,
             self._gny) = build_grid(pieces.x1[sub], pieces.y1[sub], pieces.x2[sub],
                                     pieces.y2[sub], self._cell_m)
            self._cells = sub[cells].astype(np.int32)

    def _points(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Projected points of the indexed segments (x, y in m) and each point's part."""
        starts = self._gstart[self.segment_ids]
        counts = self._gend[self.segment_ids] - starts
        idx = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + \
            np.arange(int(counts.sum()))
        x, y = self.projection.to_xy(self._seg_lon[idx], self._seg_lat[idx])
        return x, y, np.repeat(np.arange(self.segment_ids.shape[0]), counts)

    @property
    def geoms(self) -> np.ndarray:
        """The indexed segments' linestrings in the local projection (built on first use)."""
        if self._geoms is None:
            self._build_tree()
        assert self._geoms is not None
        return self._geoms

    @property
    def tree(self) -> STRtree:
        """STRtree over :attr:`geoms` (built on first use, once, under a lock)."""
        if self._tree is None:
            self._build_tree()
        assert self._tree is not None
        return self._tree

    def _build_tree(self) -> None:
        with self._tree_lock:
            if self._tree is not None:
                return
            if self.segment_ids.shape[0]:
                x, y, part = self._points()
                geoms = shapely.linestrings(np.column_stack([x, y]), indices=part)
            else:
                geoms = np.array([], dtype=object)
            self._geoms = geoms
            self._tree = STRtree(geoms)

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
        if self.segment_ids.shape[0] == 0 or self._offsets is None:
            return None
        pr = self.projection
        px, py = (lon - pr.lon0) * self._kx, (lat - pr.lat0) * self._ky
        pc = self._pieces
        i, t, d = grid_nearest(px, py, float(max_distance_m), self._offsets, self._cells,
                               self._gx0, self._gy0, self._gnx, self._gny, self._cell_m,
                               pc.x1, pc.y1, pc.x2, pc.y2)
        if i < 0:
            return None
        seg = int(pc.seg[i])
        total = pc.seg_len[seg]
        frac = (pc.along[i] + t * pc.length[i]) / total if total > 0 else 0.0
        x = pc.x1[i] + t * (pc.x2[i] - pc.x1[i])
        y = pc.y1[i] + t * (pc.y2[i] - pc.y1[i])
        return SnapCandidate(seg, min(max(float(frac), 0.0), 1.0),
                             float(d), float(x / self._kx + pr.lon0),
                             float(y / self._ky + pr.lat0))

    def nearest_strtree(self, lon: float, lat: float, max_distance_m: float
                        ) -> SnapCandidate | None:
        """Reference implementation of :meth:`nearest` with shapely's STRtree."""
        if self.segment_ids.shape[0] == 0:
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
        """Indexed segments within ``max_distance_m``, nearest first (at most ``limit``).
        The first call builds the STRtree (Porto's car network: a fraction of a second)."""
        if self.segment_ids.shape[0] == 0:
            return []
        x, y = self.projection.to_xy(lon, lat)
        pt = shapely.Point(float(x), float(y))
        idx = self.tree.query(pt, predicate="dwithin", distance=max_distance_m)
        if idx.shape[0] == 0:
            return []
        d = shapely.distance(self.geoms[idx], pt)
        order = np.argsort(d, kind="stable")[:limit]
        return [self._candidate(int(idx[k]), pt, float(d[k])) for k in order]
