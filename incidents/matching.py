"""Match incident geometry (GeoJSON, ``[lon, lat]``) to road edges per mode and transit stops.

:class:`NetworkMatcher` is built once per snapshot: every segment's geometry is projected to a
local metric plane (:class:`routing.snap.Projection` centred on the snapshot bbox) and indexed
in a shapely 2 ``STRtree`` (built, once, by the first match: a server that never matches holds
no segment geometries); transit stops, when given, get a tree of their own.

Rules of :meth:`NetworkMatcher.match`:

* **LineString / MultiLineString** — each candidate segment is sampled every ~5 m. A sample is
  *covered* when it lies within ``tolerance_m`` (default 15 m) of the line and projects onto the
  line's interior (flat ends: the stretch beyond the line's end points is not covered). A
  segment matches when its covered length is at least 60 % of its own length, or at least
  60 % of the line's length (a short line drawn along part of a long segment), **and** it runs
  along the line: the mean cosine between segment and line headings over the covered part
  (progress along the line per metre of segment) is at least cos 45°, so cross streets the line
  merely touches never match. The sign of that cosine says whether the segment's ``u → v``
  direction agrees with the line's drawing direction.
* **Point** — per mode, the nearest segment usable by the mode within ``tolerance_m``
  (default 30 m), plus any other segment within 1 m of that distance (a point on a junction).
* **Polygon** — every segment that lies inside or crosses the polygon (holes excluded).
* **Stops** — stops inside the polygon, or within ``stop_tolerance_m`` (default 20 m) of the
  line or point.

Direction (the incident's ``direction``): ``"forward"`` = the line's drawing direction,
``"backward"`` = against it, ``"both"`` or ``None`` = both directed edges of every matched
segment. A bearing (degrees clockwise from north) keeps the directed edges whose heading is
within 45° of it (the local heading near a point; the heading along the line for lines; the
segment's chord for polygons). Points and polygons have no drawing direction, so
``"forward"``/``"backward"`` act like ``"both"`` for them.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely import STRtree

from routing.profiles import MODES
from routing.snap import Projection
from routing.snapshot import Snapshot

LINE_TOLERANCE_M = 15.0
"""Default distance from a line within which a segment counts as lying along it."""
POINT_TOLERANCE_M = 30.0
"""Default search radius around a point."""
STOP_TOLERANCE_M = 20.0
"""Default distance from a line or point within which a stop is affected."""
MIN_COVERED_FRACTION = 0.6
"""A segment matches a line when this share of its (or the line's) length is covered."""
MAX_ANGLE_DEG = 45.0
"""Largest angle between a segment (or edge) heading and the line (or bearing)."""
SAMPLE_STEP_M = 5.0
_MAX_SAMPLES_PER_SEGMENT = 400
_POINT_TIE_M = 1.0
_COS_MAX_ANGLE = math.cos(math.radians(MAX_ANGLE_DEG))


class GeometryMatchError(ValueError):
    """The geometry cannot be matched (unsupported type or malformed coordinates)."""


@dataclass(frozen=True)
class MatchResult:
    """Network elements an incident geometry covers.

    ``edges[mode]`` are directed edge ids of the mode (along the line's drawing direction for
    lines, reversed for ``backward``; by distance for points); ``edge_segments[mode]`` their
    segments. ``segments`` are the matched segments of all requested modes (each once, in the
    same order). ``stop_indices`` index the stop arrays the matcher was built with.
    """

    geometry_type: str
    edges: Mapping[str, np.ndarray]
    edge_segments: Mapping[str, np.ndarray]
    segments: np.ndarray
    length_m: float
    street_names: tuple[str, ...]
    way_ids: tuple[int, ...]
    stops: tuple[str, ...] = ()
    stop_indices: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    #: matched directed length per mode: ``{"along": m, "against": m}`` relative to a line's
    #: drawing direction, ``{"any": m}`` for points and polygons (whole segments count)
    length_m_by_mode: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    #: the drawn line's own length (lines only)
    line_length_m: float = 0.0

    @property
    def edge_counts(self) -> dict[str, int]:
        """Matched directed edges per mode."""
        return {m: int(e.shape[0]) for m, e in self.edges.items()}

    @property
    def edge_count(self) -> int:
        """Matched directed edges over all modes."""
        return sum(self.edge_counts.values())

    @property
    def empty(self) -> bool:
        """True when nothing matched: no edge in any mode and no stop."""
        return self.edge_count == 0 and not self.stops

    def explain_length(self) -> str:
        """Why the matched length may exceed the drawn one, in a sentence."""
        parts = []
        for m, v in self.length_m_by_mode.items():
            dirs = ", ".join(f"{k} {x:.0f} m" for k, x in v.items() if x)
            if dirs:
                parts.append(f"{m}: {dirs}")
        drawn = f"line drawn {self.line_length_m:.0f} m; " if self.line_length_m else ""
        return (f"{drawn}matched whole street segments per mode and direction "
                f"({'; '.join(parts) or 'nothing'}); length_m counts each segment once")

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible summary (for API answers)."""
        return {
            "geometry_type": self.geometry_type,
            "edge_count": self.edge_count,
            "edge_counts": self.edge_counts,
            "length_m": round(self.length_m, 1),
            "length_m_by_mode": {m: dict(v) for m, v in self.length_m_by_mode.items()},
            "line_length_m": round(self.line_length_m, 1),
            "explanation": self.explain_length(),
            "street_names": list(self.street_names),
            "way_ids": list(self.way_ids),
            "stops": list(self.stops),
        }


@dataclass
class _ModeIndex:
    edge_seg: np.ndarray
    edge_rev: np.ndarray
    seg_lo: np.ndarray
    seg_hi: np.ndarray

    def has(self, segs: np.ndarray) -> np.ndarray:
        return self.seg_hi[segs] > self.seg_lo[segs]


def _heading_deg(dx: np.ndarray | float, dy: np.ndarray | float) -> np.ndarray:
    """Compass heading (0 = north, clockwise) of plane vectors."""
    return np.degrees(np.arctan2(dx, dy)) % 360.0


def _angle_diff(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    d = np.abs((np.asarray(a) - np.asarray(b)) % 360.0)
    return np.minimum(d, 360.0 - d)


def _parse_direction(direction: str | float | None) -> str | float:
    """Normalise to ``"forward"``, ``"backward"``, ``"both"`` or a bearing in degrees."""
    if direction is None:
        return "both"
    if isinstance(direction, bool):
        raise GeometryMatchError(f"invalid direction {direction!r}")
    if isinstance(direction, int | float):
        if not math.isfinite(direction):
            raise GeometryMatchError(f"invalid bearing {direction!r}")
        return float(direction) % 360.0
    value = str(direction)
    if value not in ("forward", "backward", "both"):
        raise GeometryMatchError(
            f"direction must be forward, backward, both or a bearing, not {direction!r}")
    return value


class NetworkMatcher:
    """Spatial index of a snapshot's segments (and optionally transit stops) for matching."""

    def __init__(self, snapshot: Snapshot,
                 stops: tuple[Sequence[str], np.ndarray, np.ndarray] | None = None,
                 modes: Iterable[str] | None = None) -> None:
        """Index ``snapshot``. ``stops`` = ``(stop_ids, stop_lat, stop_lon)`` (degrees);
        ``modes`` default to the snapshot's (none for a transit-only snapshot: geometry
        then matches stops only)."""
        if modes is None:
            modes = tuple(m for m in MODES if m in snapshot.modes)
        seg = snapshot.segments
        w, s, e, n = snapshot.bbox
        self.projection = Projection((w + e) / 2, (s + n) / 2)
        self._segments = seg
        # segment geometries, their STRtree and lengths: built by the first match (a
        # serving worker that is never asked to match holds no GEOS geometries)
        self._geoms: np.ndarray | None = None
        self._tree: STRtree | None = None
        self._seg_xy_len: np.ndarray | None = None
        self._index_lock = threading.Lock()
        gstart = np.asarray(seg.gstart)
        self.seg_length_m = np.asarray(seg.length_m, dtype=np.float64)
        self.seg_way_id = np.asarray(seg.way_id, dtype=np.int64)
        self.seg_name_idx = np.asarray(seg.name_idx, dtype=np.int64)
        self.names = list(seg.names)
        nseg = gstart.shape[0]
        self.modes: dict[str, _ModeIndex] = {}
        for mode in modes:
            a = snapshot.modes[mode]
            es = np.asarray(a.edge_seg, dtype=np.int64)
            rng = np.arange(nseg)
            self.modes[mode] = _ModeIndex(es, np.asarray(a.edge_rev, dtype=bool),
                                          np.searchsorted(es, rng, side="left"),
                                          np.searchsorted(es, rng, side="right"))
        self.stop_ids: list[str] = []
        self.stop_points = np.zeros(0, dtype=object)
        self.stop_tree: STRtree | None = None
        if stops is not None:
            ids, lat, lon = stops
            self.stop_ids = [str(i) for i in ids]
            sx, sy = self.projection.to_xy(np.asarray(lon, np.float64),
                                           np.asarray(lat, np.float64))
            self.stop_points = shapely.points(np.asarray(sx), np.asarray(sy))
            if len(self.stop_ids) != self.stop_points.shape[0]:
                raise ValueError("stop ids and coordinates differ in length")
            self.stop_tree = STRtree(self.stop_points)

    # ---- the segment index (built on first use) ---------------------------------------
    def _build_index(self) -> None:
        with self._index_lock:
            if self._tree is not None:
                return
            seg = self._segments
            gstart = np.asarray(seg.gstart, dtype=np.int64)
            counts = np.asarray(seg.gend, dtype=np.int64) - gstart
            idx = np.repeat(gstart - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + \
                np.arange(int(counts.sum()))
            x, y = self.projection.to_xy(np.asarray(seg.lon)[idx], np.asarray(seg.lat)[idx])
            part = np.repeat(np.arange(gstart.shape[0]), counts)
            geoms = shapely.linestrings(np.column_stack([x, y]), indices=part)
            self._seg_xy_len = shapely.length(geoms)
            self._geoms = geoms
            self._tree = STRtree(geoms)

    @property
    def geoms(self) -> np.ndarray:
        """Every segment's linestring in the local projection (m)."""
        if self._geoms is None:
            self._build_index()
        assert self._geoms is not None
        return self._geoms

    @property
    def tree(self) -> STRtree:
        """STRtree over :attr:`geoms`."""
        if self._tree is None:
            self._build_index()
        assert self._tree is not None
        return self._tree

    @property
    def seg_xy_len(self) -> np.ndarray:
        """Each segment's length in the local projection (m)."""
        if self._seg_xy_len is None:
            self._build_index()
        assert self._seg_xy_len is not None
        return self._seg_xy_len

    # ---- geometry --------------------------------------------------------------------
    def _xy(self, coords: Any) -> np.ndarray:
        arr = np.asarray(coords, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] < 2 or not np.isfinite(arr).all():
            raise GeometryMatchError("coordinates must be finite [lon, lat] positions")
        x, y = self.projection.to_xy(arr[:, 0], arr[:, 1])
        return np.column_stack([x, y])

    def to_plane(self, geometry: Mapping[str, Any] | Any) -> Any:
        """A GeoJSON geometry (dict or pydantic model) as a shapely geometry in metres."""
        if hasattr(geometry, "model_dump"):
            geometry = geometry.model_dump()
        if not isinstance(geometry, Mapping):
            raise GeometryMatchError("geometry must be a GeoJSON object")
        kind = geometry.get("type")
        coords: Any = geometry.get("coordinates")  # malformed (or None): caught below
        try:
            if kind == "Point":
                return shapely.Point(self._xy([coords])[0])
            if kind == "LineString":
                return shapely.LineString(self._xy(coords))
            if kind == "MultiLineString":
                return shapely.MultiLineString([self._xy(c) for c in coords])
            if kind == "Polygon":
                return shapely.Polygon(self._xy(coords[0]), [self._xy(r) for r in coords[1:]])
        except (TypeError, ValueError, IndexError, shapely.errors.GEOSException) as exc:
            raise GeometryMatchError(f"malformed {kind} coordinates: {exc}") from None
        raise GeometryMatchError(
            f"unsupported geometry type {kind!r}; expected Point, LineString, "
            "MultiLineString or Polygon")

    # ---- matching --------------------------------------------------------------------
    def match(self, geometry: Mapping[str, Any] | Any,
              direction: str | float | None = None,
              modes: Iterable[str] | None = None,
              tolerance_m: float | None = None,
              stop_tolerance_m: float = STOP_TOLERANCE_M) -> MatchResult:
        """Match a GeoJSON geometry to directed edges per mode and to stops (see the module
        docstring for the rules). ``tolerance_m`` defaults to 15 m for lines, 30 m for points.
        ``modes`` default to every mode the matcher was built with. Raises
        :class:`GeometryMatchError` for bad geometry or direction, ``KeyError`` for a mode
        the matcher was not built with."""
        geom = self.to_plane(geometry)
        d = _parse_direction(direction)
        modes = tuple(self.modes) if modes is None else tuple(modes)
        for m in modes:
            if m not in self.modes:
                raise KeyError(f"unknown mode {m!r}")
        kind = geom.geom_type
        agrees: dict[int, bool] | None = None
        if kind in ("LineString", "MultiLineString"):
            tol = LINE_TOLERANCE_M if tolerance_m is None else float(tolerance_m)
            agrees = {}
            per_mode = self._match_line(geom, d, modes, tol, agrees)
        elif kind == "Point":
            tol = POINT_TOLERANCE_M if tolerance_m is None else float(tolerance_m)
            per_mode = self._match_point(geom, d, modes, tol)
        else:
            per_mode = self._match_polygon(geom, d, modes)
        stop_idx = self._match_stops(geom, stop_tolerance_m)
        line_m = float(geom.length) if agrees is not None else 0.0
        return self._result(kind, per_mode, modes, stop_idx, agrees, line_m)

    def _edges_for(self, mi: _ModeIndex, segs: np.ndarray, keep_uv: np.ndarray,
                   keep_vu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Directed edges of ``segs`` (in order) whose u→v / v→u direction is kept."""
        lo, hi = mi.seg_lo[segs], mi.seg_hi[segs]
        counts = hi - lo
        owner = np.repeat(np.arange(segs.shape[0]), counts)
        first = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        edges = (np.repeat(lo, counts) + np.arange(owner.shape[0]) - first[owner]
                 if segs.shape[0] else np.zeros(0, np.int64)).astype(np.int64)
        keep = np.where(mi.edge_rev[edges], keep_vu[owner], keep_uv[owner])
        edges = edges[keep]
        return edges, mi.edge_seg[edges]

    def _direction_masks(self, d: str | float, heading_uv: np.ndarray, agrees: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray]:
        """Which of u→v / v→u to keep. ``agrees`` = u→v follows the drawing direction."""
        if d == "both":
            ones = np.ones(agrees.shape[0], dtype=bool)
            return ones, ones
        if d == "forward":
            return agrees.copy(), ~agrees
        if d == "backward":
            return ~agrees, agrees.copy()
        b = float(d)
        return (_angle_diff(heading_uv, b) < MAX_ANGLE_DEG,
                _angle_diff(heading_uv + 180.0, b) < MAX_ANGLE_DEG)

    def _match_line(self, geom: Any, d: str | float, modes: tuple[str, ...], tol: float,
                    agrees_out: dict[int, bool]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        parts = list(geom.geoms) if geom.geom_type == "MultiLineString" else [geom]
        parts = [p for p in parts if p.length > 0]
        if not parts:
            return {m: _empty_pair() for m in modes}
        cand = self.tree.query(geom, predicate="dwithin", distance=tol)
        cand = np.unique(cand)
        if cand.shape[0] == 0:
            return {m: _empty_pair() for m in modes}
        seg_len = self.seg_xy_len[cand]
        n = np.clip(np.ceil(seg_len / SAMPLE_STEP_M).astype(np.int64), 3,
                    _MAX_SAMPLES_PER_SEGMENT)
        owner = np.repeat(np.arange(cand.shape[0]), n)
        first = np.concatenate([[0], np.cumsum(n)[:-1]])
        k = np.arange(owner.shape[0]) - first[owner]
        spacing = seg_len / n
        dist_along_seg = (k + 0.5) * spacing[owner]
        pts = shapely.line_interpolate_point(self.geoms[cand][owner], dist_along_seg)
        npart = len(parts)
        part_len = np.array([p.length for p in parts])
        # Project samples onto the line through an index over its straight pieces.
        coords = [shapely.get_coordinates(p) for p in parts]
        piece_part = np.concatenate([np.full(c.shape[0] - 1, i) for i, c in enumerate(coords)])
        pa = np.concatenate([c[:-1] for c in coords])
        pb = np.concatenate([c[1:] for c in coords])
        plen_piece = np.hypot(*(pb - pa).T)
        piece_start = np.concatenate(
            [np.r_[0.0, np.cumsum(np.hypot(*np.diff(c, axis=0).T))[:-1]] for c in coords])
        ptree = STRtree(shapely.linestrings(np.stack([pa, pb], axis=1)))
        (q_pt, q_piece), q_dist = ptree.query_nearest(pts, max_distance=tol * 1.001 + 1e-6,
                                                      return_distance=True, all_matches=False)
        xy = shapely.get_coordinates(pts)
        dmin = np.full(pts.shape[0], np.inf)
        amin = np.zeros(pts.shape[0])
        best = np.zeros(pts.shape[0], dtype=np.int64)
        dmin[q_pt] = q_dist
        vec = pb[q_piece] - pa[q_piece]
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.einsum("ij,ij->i", xy[q_pt] - pa[q_piece], vec) / plen_piece[q_piece] ** 2
        t = np.clip(np.nan_to_num(t), 0.0, 1.0)
        amin[q_pt] = piece_start[q_piece] + t * plen_piece[q_piece]
        best[q_pt] = piece_part[q_piece]
        plen = part_len[best]
        interior = (amin > 1e-9) & (amin < plen - 1e-9)
        covered = (dmin <= tol) & (interior | (dmin <= 1e-3))
        ncov = np.bincount(owner, weights=covered, minlength=cand.shape[0])
        covered_len = ncov * spacing
        # Dominant part of each segment (for the short-line rule and ordering).
        if npart > 1:
            key, votes = np.unique(owner[covered] * npart + best[covered], return_counts=True)
            order = np.lexsort((-votes, key // npart))
            key = key[order]
            firsts = np.r_[True, key[1:] // npart != key[:-1] // npart]
            dom = np.zeros(cand.shape[0], dtype=np.int64)
            dom[key[firsts] // npart] = key[firsts] % npart
        else:
            dom = np.zeros(cand.shape[0], dtype=np.int64)
        dom_len = part_len[dom]
        enough = (covered_len >= MIN_COVERED_FRACTION * seg_len) | \
            (covered_len >= MIN_COVERED_FRACTION * dom_len)
        # Heading agreement from consecutive covered samples on the same part.
        pair = np.zeros(pts.shape[0], dtype=bool)
        pair[:-1] = (owner[1:] == owner[:-1]) & covered[1:] & covered[:-1] & \
            (best[1:] == best[:-1])
        idx = np.flatnonzero(pair)
        d_along = np.bincount(owner[idx], weights=amin[idx + 1] - amin[idx],
                              minlength=cand.shape[0])
        d_seg = np.bincount(owner[idx], weights=spacing[owner[idx]], minlength=cand.shape[0])
        with np.errstate(invalid="ignore", divide="ignore"):
            cos_mean = np.where(d_seg > 0, d_along / d_seg, 0.0)
        ok = enough & (np.abs(cos_mean) >= _COS_MAX_ANGLE)
        if not ok.any():
            return {m: _empty_pair() for m in modes}
        dx = np.bincount(owner[idx], weights=xy[idx + 1, 0] - xy[idx, 0], minlength=cand.shape[0])
        dy = np.bincount(owner[idx], weights=xy[idx + 1, 1] - xy[idx, 1], minlength=cand.shape[0])
        mean_along = np.bincount(owner[covered], weights=amin[covered],
                                 minlength=cand.shape[0]) / np.maximum(ncov, 1)
        sel = np.flatnonzero(ok)
        order = np.lexsort((mean_along[sel], dom[sel]))
        sel = sel[order]
        if d == "backward":
            sel = sel[::-1]
        segs = cand[sel]
        agrees = cos_mean[sel] > 0
        agrees_out.update(zip(segs.tolist(), agrees.tolist(), strict=True))
        heading_uv = _heading_deg(dx[sel], dy[sel])
        keep_uv, keep_vu = self._direction_masks(d, heading_uv, agrees)
        return {m: self._edges_for(self.modes[m], segs, keep_uv, keep_vu) for m in modes}

    def _local_heading(self, segs: np.ndarray, pt: Any) -> np.ndarray:
        """u→v heading of each segment near its closest point to ``pt``."""
        g = self.geoms[segs]
        a = shapely.line_locate_point(g, pt)
        length = self.seg_xy_len[segs]
        lo = np.maximum(a - 2.0, 0.0)
        hi = np.minimum(a + 2.0, length)
        p0 = shapely.get_coordinates(shapely.line_interpolate_point(g, lo))
        p1 = shapely.get_coordinates(shapely.line_interpolate_point(g, hi))
        return _heading_deg(p1[:, 0] - p0[:, 0], p1[:, 1] - p0[:, 1])

    def _match_point(self, geom: Any, d: str | float, modes: tuple[str, ...], tol: float
                     ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        cand = self.tree.query(geom, predicate="dwithin", distance=tol)
        out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        dist = shapely.distance(self.geoms[cand], geom)
        for m in modes:
            mi = self.modes[m]
            usable = mi.has(cand)
            if not usable.any():
                out[m] = _empty_pair()
                continue
            c, dd = cand[usable], dist[usable]
            near = dd <= dd.min() + _POINT_TIE_M
            c, dd = c[near], dd[near]
            o = np.argsort(dd, kind="stable")
            c = c[o]
            heading = self._local_heading(c, geom) if not isinstance(d, str) else \
                np.zeros(c.shape[0])
            keep_uv, keep_vu = self._direction_masks(
                "both" if isinstance(d, str) else d, heading, np.ones(c.shape[0], bool))
            out[m] = self._edges_for(mi, c, keep_uv, keep_vu)
        return out

    def _match_polygon(self, geom: Any, d: str | float, modes: tuple[str, ...]
                       ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        shapely.prepare(geom)
        cand = np.sort(self.tree.query(geom, predicate="intersects"))
        if isinstance(d, str):
            heading = np.zeros(cand.shape[0])
            d = "both"
        else:
            a = shapely.get_coordinates(shapely.get_point(self.geoms[cand], 0))
            b = shapely.get_coordinates(shapely.get_point(self.geoms[cand], -1))
            heading = _heading_deg(b[:, 0] - a[:, 0], b[:, 1] - a[:, 1]) if cand.shape[0] \
                else np.zeros(0)
        keep_uv, keep_vu = self._direction_masks(d, heading, np.ones(cand.shape[0], bool))
        return {m: self._edges_for(self.modes[m], cand, keep_uv, keep_vu) for m in modes}

    def _match_stops(self, geom: Any, tol: float) -> np.ndarray:
        if self.stop_tree is None:
            return np.zeros(0, dtype=np.int64)
        if geom.geom_type == "Polygon":
            idx = self.stop_tree.query(geom, predicate="intersects")
        else:
            idx = self.stop_tree.query(geom, predicate="dwithin", distance=tol)
        return np.sort(np.asarray(idx, dtype=np.int64))

    def _result(self, kind: str, per_mode: dict[str, tuple[np.ndarray, np.ndarray]],
                modes: tuple[str, ...], stop_idx: np.ndarray,
                agrees: dict[int, bool] | None = None, line_m: float = 0.0) -> MatchResult:
        seen: dict[int, None] = {}
        for m in modes:
            for s in per_mode[m][1].tolist():
                seen.setdefault(s, None)
        segs = np.fromiter(seen, dtype=np.int64, count=len(seen))
        names = dict.fromkeys(self.names[i] for i in self.seg_name_idx[segs].tolist() if i >= 0)
        ways = dict.fromkeys(self.seg_way_id[segs].tolist())
        by_mode: dict[str, dict[str, float]] = {}
        for m in modes:
            edges, esegs = per_mode[m]
            if edges.shape[0] == 0:
                continue
            lengths = self.seg_length_m[esegs]
            if agrees is None:
                by_mode[m] = {"any": round(float(lengths.sum()), 1)}
                continue
            rev = self.modes[m].edge_rev[edges]
            along = np.array([agrees.get(int(x), True) for x in esegs.tolist()]) != rev
            by_mode[m] = {"along": round(float(lengths[along].sum()), 1),
                          "against": round(float(lengths[~along].sum()), 1)}
        return MatchResult(
            geometry_type=kind,
            edges={m: per_mode[m][0] for m in modes},
            edge_segments={m: per_mode[m][1] for m in modes},
            segments=segs,
            length_m=float(self.seg_length_m[segs].sum()),
            street_names=tuple(names),
            way_ids=tuple(int(w) for w in ways),
            stops=tuple(self.stop_ids[i] for i in stop_idx.tolist()),
            stop_indices=stop_idx,
            length_m_by_mode=by_mode,
            line_length_m=line_m,
        )


def _empty_pair() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)


__all__ = [
    "LINE_TOLERANCE_M",
    "POINT_TOLERANCE_M",
    "STOP_TOLERANCE_M",
    "GeometryMatchError",
    "MatchResult",
    "NetworkMatcher",
]
