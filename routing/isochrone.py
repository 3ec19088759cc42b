"""Isochrones: the area reachable within each time limit, as polygons (shapely).

From a one-to-all answer (:class:`routing.reach.RoadReach`) every edge is entered at the cost
of its tail; an edge is reached in full when its head is within the limit, else up to the
share of it the remaining time allows (linear along the edge). The reached road pieces,
sampled every :data:`SAMPLE_M` metres, mark the cells of a :data:`CELL_M` grid in the router's
local metric projection; the contour is where the distance to a marked cell is
:data:`BUFFER_M` (a Euclidean distance transform, outlined by marching squares), simplified
with a tolerance of :data:`SIMPLIFY_M` metres (Douglas-Peucker, topology kept). Holes — areas
the reached roads surround but do not come near — are kept.

What a contour guarantees (checked against an independent Dijkstra in the tests):

* every junction reached within the limit lies inside it;
* every point inside it lies within :data:`TOLERANCE_M` metres of a road piece reached within
  the limit (``BUFFER_M`` + 1.5 grid diagonals + ``SIMPLIFY_M`` + ``SAMPLE_M`` ≈ 112 m).

Each contour also carries the road length reached (m) and the stops reached (transit: by
vehicle or on foot; road modes: stops whose street position the mode reaches, when the
snapshot has a timetable).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import contourpy
import numpy as np
import shapely

from routing.kernels.reach import UNREACHED, mark_reached_samples, near_field, scatter_max
from routing.reach import RoadReach
from routing.road import RoadRouter

#: Half-width (m) of the band drawn around every reached road piece.
BUFFER_M = 50.0
#: Simplification tolerance (m) of the contour polygons.
SIMPLIFY_M = 10.0
#: Grid cell size (m) of the distance field.
CELL_M = 20.0
#: Reached road pieces are sampled at most this far apart (m).
SAMPLE_M = 10.0
#: The grid grows coarser (cells larger than CELL_M) to stay within this many cells.
MAX_CELLS = 250_000
#: A point inside a contour is at most this far (m) from a road piece reached in time (at
#: the finest grid; coarser grids widen it, see :func:`tolerances_m` and each contour's
#: ``tolerance_m``).
TOLERANCE_M = BUFFER_M + 1.5 * math.sqrt(2.0) * CELL_M + SIMPLIFY_M + SAMPLE_M


@dataclass
class Contour:
    """One time limit's reachable area."""

    minutes: float
    polygon_xy: shapely.Geometry  # in the router's local projection (m)
    area_m2: float
    road_length_m: float
    stops_reached: int | None
    stop_ids: np.ndarray | None = None  # int indices of the stops reached (transit)
    #: a point inside lies within this many metres of a road piece reached in time
    tolerance_m: float = 0.0


class Contours:
    """Builds contour polygons over one road router's geometry."""

    def __init__(self, router: RoadRouter, stop_seg: np.ndarray | None = None,
                 stop_frac: np.ndarray | None = None) -> None:
        """``stop_seg`` / ``stop_frac``: each transit stop's street segment (-1 = none) and
        position along it (from ``u``), to count the stops a road contour reaches."""
        self.router = router
        self._stop_seg = None if stop_seg is None else np.asarray(stop_seg, dtype=np.int64)
        self._stop_frac = None if stop_frac is None else np.asarray(stop_frac, dtype=np.float64)
        seg = router.segments
        proj = router.projection
        x, y = proj.to_xy(np.asarray(seg.lon), np.asarray(seg.lat))
        self._xy = np.column_stack([x, y])
        self._gstart = np.asarray(seg.gstart, dtype=np.int64)
        self._gend = np.asarray(seg.gend, dtype=np.int64)
        self._seg_len = router.seg_length_m
        self._kx, self._ky = proj.kx, proj.ky
        self._lon0, self._lat0 = proj.lon0, proj.lat0
        self._sample_cache: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None

    def _samples(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Points every ≤ SAMPLE_M along every segment, grouped by segment: (x, y, each
        segment's first sample (offsets, one more than the segments), fraction of the
        segment's length from its ``u`` end; exactly 0 and 1 at its junctions)."""
        hit = self._sample_cache
        if hit is None:
            counts = self._gend - self._gstart
            first = np.cumsum(counts) - counts  # each segment's first vertex in `xy`
            n_pts = int(counts.sum())
            seg_of = np.repeat(np.arange(self._gstart.shape[0]), counts)
            # segments share their end points: one copy of its vertices per segment
            xy = self._xy[np.repeat(self._gstart - first, counts) + np.arange(n_pts)]
            i = np.arange(n_pts - 1)
            pair = seg_of[i] == seg_of[i + 1]
            i = i[pair]
            d = np.hypot(*(xy[i + 1] - xy[i]).T)
            # cumulative length per segment at each vertex
            cum = np.zeros(n_pts)
            step = np.zeros(n_pts)
            step[i + 1] = d
            cum = np.cumsum(step)
            cum -= cum[first][seg_of]
            total = np.maximum(cum[first + counts - 1][seg_of], 1e-9)
            k = np.maximum(np.ceil(d / SAMPLE_M).astype(np.int64), 1)
            rep = np.repeat(np.arange(i.shape[0]), k)
            j = np.arange(rep.shape[0]) - np.repeat(np.cumsum(k) - k, k)
            t = j / k[rep]
            a = i[rep]
            pts = xy[a] + (xy[a + 1] - xy[a]) * t[:, None]
            frac = (cum[a] + d[rep] * t) / total[a]
            frac[j == 0] = np.where(a[j == 0] == first[seg_of[a[j == 0]]], 0.0, frac[j == 0])
            last = first + counts - 1
            pts = np.concatenate([pts, xy[last]])
            seg = np.concatenate([seg_of[a], np.arange(last.shape[0])])
            frac = np.concatenate([frac, np.ones(last.shape[0])])
            # grouped by segment (a segment's samples are found by offsets); x and y apart:
            # reductions over one contiguous column are much faster
            by_seg = np.argsort(seg, kind="stable")
            seg_off = np.zeros(self._gstart.shape[0] + 1, dtype=np.int64)
            np.cumsum(np.bincount(seg, minlength=self._gstart.shape[0]), out=seg_off[1:])
            hit = self._sample_cache = (np.ascontiguousarray(pts[by_seg, 0]),
                                        np.ascontiguousarray(pts[by_seg, 1]), seg_off,
                                        np.ascontiguousarray(np.minimum(frac, 1.0)[by_seg]))
        return hit

    def edge_entry_ms(self, rr: RoadReach) -> np.ndarray:
        """Cost (ms) at which each edge of the mode is entered (``UNREACHED`` if never)."""
        mr = self.router.mode_router(rr.mode)
        off = np.asarray(mr.edge_arc_offsets, dtype=np.int64)
        vals = rr.knode_ms[np.asarray(mr.arc_tail, dtype=np.int64)]
        out = np.full(off.shape[0] - 1, UNREACHED, dtype=np.int64)
        has = np.flatnonzero(off[1:] > off[:-1])
        if has.size:
            out[has] = np.minimum.reduceat(vals, off[:-1][has])
        return out

    def reached_pieces(self, rr: RoadReach, limit_ms: int, seeds: np.ndarray | None = None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Reached road within ``limit_ms`` per segment, as fractions of its length from its
        ``u`` end: ``from_u`` (reached ``[0, from_u]``; -1 = not from ``u``), ``from_v``
        (reached ``[1 - from_v, 1]``; -1 = not), the inner pieces ``(segment, lo, hi)`` of the
        origin's own edge and of every ``seeds`` row ``(segment, fraction from u, ms)`` (a
        transit stop reached by vehicle: walking on from it), and the reached length (m)."""
        mr = self.router.mode_router(rr.mode)
        w = np.asarray(rr.weights_ms, dtype=np.int64)
        entry = self.edge_entry_ms(rr)
        e = np.flatnonzero((w < 2_147_483_647) & (entry <= limit_ms))
        wf = np.maximum(w[e].astype(np.float64), 1.0)
        share = np.minimum(1.0, (limit_ms - entry[e]) / wf)
        seg = np.asarray(mr.edge_seg)[e].astype(np.int64)
        rev = np.asarray(mr.edge_rev)[e].astype(bool)
        n_seg = self._gstart.shape[0]
        from_u = np.full(n_seg, -1.0)
        from_v = np.full(n_seg, -1.0)
        scatter_max(from_u, seg[~rev], share[~rev])
        scatter_max(from_v, seg[rev], share[rev])
        inner: list[tuple[int, float, float]] = []
        if rr.origin is not None:  # from the snapped point along each of its edges
            for oe, metres in rr.origin.edges:
                if w[oe] >= 2_147_483_647:
                    continue
                s_id = int(mr.edge_seg[oe])
                seg_l = float(self._seg_len[s_id])
                f0 = min(max(metres / seg_l, 0.0), 1.0) if seg_l > 0 else 0.0
                reach = min(1.0, limit_ms / max(float(w[oe]), 1.0))
                if bool(mr.edge_rev[oe]):
                    inner.append((s_id, max(0.0, (1.0 - f0) - reach), 1.0 - f0))
                else:
                    inner.append((s_id, f0, min(1.0, f0 + reach)))
        for s_id, f0, t_ms in ([] if seeds is None else seeds.tolist()):
            left = limit_ms - t_ms
            s_id = int(s_id)
            if left < 0:
                continue
            inner.append((s_id, f0, f0))  # the stop itself
            for oe in range(int(mr.seg_edge_lo[s_id]), int(mr.seg_edge_hi[s_id])):
                if w[oe] >= 2_147_483_647:
                    continue
                reach = min(1.0, left / max(float(w[oe]), 1.0))
                if bool(mr.edge_rev[oe]):
                    inner.append((s_id, max(0.0, f0 - reach), f0))
                else:
                    inner.append((s_id, f0, min(1.0, f0 + reach)))
        frac = np.minimum(1.0, np.maximum(from_u, 0.0) + np.maximum(from_v, 0.0))
        for s_id, lo, hi in inner:
            frac[s_id] = max(frac[s_id], hi - lo)
        ins = np.array(inner, dtype=np.float64).reshape(-1, 3)
        return from_u, from_v, ins, frac * self._seg_len

    def stops_on_reached_road(self, rr: RoadReach, limit_ms: int) -> np.ndarray:
        """Indices of the stops whose street position is reached within ``limit_ms`` (road
        modes: the stops within reach by that mode)."""
        assert self._stop_seg is not None and self._stop_frac is not None
        from_u, from_v, inner, _ = self.reached_pieces(rr, limit_ms)
        linked = np.flatnonzero(self._stop_seg >= 0)
        seg = self._stop_seg[linked]
        f = self._stop_frac[linked]
        fu, fv = from_u[seg], from_v[seg]
        hit = ((fu >= 0) & (f <= fu)) | ((fv >= 0) & (f >= 1.0 - fv))
        for s_id, lo, hi in inner.tolist():
            hit |= (seg == int(s_id)) & (f >= lo) & (f <= hi)
        return linked[hit]

    def polygon(self, rr: RoadReach, limit_ms: int, seeds: np.ndarray | None = None
                ) -> tuple[shapely.Geometry, float, float]:
        """(contour polygon in local metres, road length reached in m, grid cell size in m)
        for one limit (``seeds``: see :meth:`reached_pieces`)."""
        from_u, from_v, inner, seg_m = self.reached_pieces(rr, limit_ms, seeds)
        px, py, seg_off, frac = self._samples()
        hit = np.zeros(frac.shape[0], dtype=np.bool_)
        mark_reached_samples(seg_off, frac, from_u, from_v, inner, hit)
        x, y = px[hit], py[hit]
        if rr.origin is not None:
            ox, oy = self.router.projection.to_xy(rr.origin.snap.lon, rr.origin.snap.lat)
            x, y = np.append(x, ox), np.append(y, oy)
        if seeds is not None and seeds.shape[0]:  # the stops reached in time themselves
            ok = seeds[:, 2] <= limit_ms
            sx, sy = self._point_on(seeds[ok, 0].astype(np.int64), seeds[ok, 1])
            x, y = np.append(x, sx), np.append(y, sy)
        if x.shape[0] == 0:
            return shapely.Polygon(), 0.0, CELL_M
        cell = grid_cell_m(x, y)
        return _outline(x, y, cell), float(seg_m.sum()), cell

    def _point_on(self, segs: np.ndarray, frac: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Local metres of the points at ``frac`` (of the length, from ``u``) along
        segments."""
        if segs.shape[0] == 0:
            return np.zeros(0), np.zeros(0)
        p = shapely.line_interpolate_point(self._lines(segs), frac, normalized=True)
        return shapely.get_x(p), shapely.get_y(p)

    def _lines(self, segs: np.ndarray) -> np.ndarray:
        out = []
        for s_id in segs.tolist():
            a, b = int(self._gstart[s_id]), int(self._gend[s_id])
            out.append(shapely.LineString(self._xy[a:b]))
        return np.asarray(out, dtype=object)

    def transit_seeds(self, stop_s: np.ndarray | None) -> np.ndarray | None:
        """``(segment, fraction from u, ms)`` of the street-linked stops ``stop_s`` reaches
        by vehicle (None without stop positions or arrivals)."""
        if stop_s is None or self._stop_seg is None or self._stop_frac is None:
            return None
        ok = np.flatnonzero((stop_s >= 0) & (self._stop_seg >= 0))
        return np.column_stack([self._stop_seg[ok].astype(np.float64), self._stop_frac[ok],
                                stop_s[ok].astype(np.float64) * 1000.0]).reshape(-1, 3)

    def to_lonlat(self, geom_xy: shapely.Geometry) -> shapely.Geometry:
        """A local-metre geometry in [lon, lat] degrees."""
        scale = np.array([self._kx, self._ky])
        origin = np.array([self._lon0, self._lat0])
        return shapely.transform(geom_xy, lambda c: c / scale + origin)

    def contours(self, rr: RoadReach, minutes: list[float], stop_s: np.ndarray | None = None
                 ) -> list[Contour]:
        """One contour per limit (minutes). Stops reached: those on the reached road (when
        the outliner knows the stops' positions) and, for transit, those ``stop_s`` (per
        stop, seconds after departure of its arrival by vehicle, -1 = not reached) puts
        within the limit."""
        out = []
        seeds = self.transit_seeds(stop_s)
        for m in sorted(minutes):
            limit_ms = int(round(m * 60_000))
            poly, road_m, cell = self.polygon(rr, limit_ms, seeds)
            stops: np.ndarray | None = None
            if self._stop_seg is not None and self._stop_frac is not None:
                stops = self.stops_on_reached_road(rr, limit_ms)
            if stop_s is not None:
                by_vehicle = np.flatnonzero((stop_s >= 0) & (stop_s * 1000 <= limit_ms))
                stops = by_vehicle if stops is None else np.union1d(stops, by_vehicle)
            n_stops = None if stops is None else int(stops.shape[0])
            out.append(Contour(float(m), poly, float(poly.area), road_m, n_stops, stops,
                               tolerances_m(cell)[2]))
        return out


def grid_cell_m(x: np.ndarray, y: np.ndarray) -> float:
    """Cell size (m) of the distance grid for these reached points: :data:`CELL_M`, grown
    so that the grid has at most :data:`MAX_CELLS` cells."""
    if x.shape[0] == 0:
        return CELL_M
    pad = 2 * (BUFFER_M + 2 * CELL_M)
    area = (float(x.max() - x.min()) + pad) * (float(y.max() - y.min()) + pad)
    return max(CELL_M, math.sqrt(area / MAX_CELLS))


def tolerances_m(cell_m: float) -> tuple[float, float, float]:
    """(buffer, simplification tolerance, total tolerance) in metres for a grid cell size:
    the buffer is at least two cells (so every reached junction stays inside)."""
    buffer_m = max(BUFFER_M, 2.0 * cell_m)
    simplify_m = max(SIMPLIFY_M, cell_m / 2.0)
    return buffer_m, simplify_m, buffer_m + 1.5 * math.sqrt(2.0) * cell_m + simplify_m + SAMPLE_M


def _outline(x: np.ndarray, y: np.ndarray, cell_m: float) -> shapely.Geometry:
    """Polygon(s) (local metres) where the distance to the nearest marked grid cell is at
    most the buffer, simplified (see :func:`tolerances_m`); holes kept."""
    buffer_m, simplify_m, _ = tolerances_m(cell_m)
    pad = buffer_m + 2 * cell_m
    x0, y0 = float(x.min()) - pad, float(y.min()) - pad
    nx = int(math.ceil((float(x.max()) + pad - x0) / cell_m)) + 1
    ny = int(math.ceil((float(y.max()) + pad - y0) / cell_m)) + 1
    ix = ((x - x0) / cell_m).astype(np.int64)
    iy = ((y - y0) / cell_m).astype(np.int64)
    # exact distances up to one cell past the buffer; farther cells are outside
    dist = near_field(iy, ix, ny, nx, buffer_m / cell_m + 1.0) * cell_m
    dist[~np.isfinite(dist)] = 2.0 * pad
    gx = x0 + (np.arange(nx) + 0.5) * cell_m
    gy = y0 + (np.arange(ny) + 0.5) * cell_m
    gen = contourpy.contour_generator(gx, gy, dist, fill_type=contourpy.FillType.OuterOffset)
    filled: Any = gen.filled(-1.0, buffer_m)  # OuterOffset: (point arrays, offset arrays)
    points, offsets = filled[0], filled[1]
    polys = []
    for p, off in zip(points, offsets, strict=True):
        rings = [p[off[k]:off[k + 1]] for k in range(len(off) - 1)]
        polys.append(shapely.Polygon(rings[0], rings[1:]))
    # ring by ring (fast); the few rings simplification makes invalid are repaired
    simple = shapely.simplify(np.asarray(polys, dtype=object), simplify_m,
                              preserve_topology=False)
    bad = ~shapely.is_valid(simple)
    if bad.any():
        simple[bad] = shapely.make_valid(simple[bad])
    return shapely.union_all(simple) if len(simple) != 1 else simple[0]


def feature_collection(contours: Contours, mine: list[Contour],
                       baseline: list[Contour] | None, props: dict) -> dict:
    """GeoJSON FeatureCollection: one feature per contour (largest first) with
    ``properties.minutes``; with a baseline, per contour what was lost against it and one
    extra feature per contour (``kind: "lost"``) with the area lost."""
    feats: list[dict] = []
    base_by = {c.minutes: c for c in baseline or []}
    for c in sorted(mine, key=lambda c: -c.minutes):
        p = {"kind": "reachable", "minutes": c.minutes, "area_m2": round(c.area_m2, 1),
             "tolerance_m": round(c.tolerance_m, 1),
             "road_length_m": round(c.road_length_m, 1), "stops_reached": c.stops_reached,
             **props}
        b = base_by.get(c.minutes)
        lost = None
        if b is not None:
            lost = shapely.difference(b.polygon_xy, c.polygon_xy)
            p.update({
                "baseline_area_m2": round(b.area_m2, 1),
                "area_lost_m2": round(float(lost.area), 1),
                "baseline_road_length_m": round(b.road_length_m, 1),
                "road_length_lost_m": round(max(b.road_length_m - c.road_length_m, 0.0), 1),
                "baseline_stops_reached": b.stops_reached,
                "stops_lost": (None if b.stop_ids is None or c.stop_ids is None else
                               int(np.setdiff1d(b.stop_ids, c.stop_ids).shape[0])),
            })
        feats.append({"type": "Feature", "properties": p,
                      "geometry": _geojson(contours.to_lonlat(c.polygon_xy))})
        if lost is not None:
            feats.append({"type": "Feature",
                          "properties": {"kind": "lost", "minutes": c.minutes,
                                         "area_m2": round(float(lost.area), 1), **props},
                          "geometry": _geojson(contours.to_lonlat(lost))})
    return {"type": "FeatureCollection", "features": feats}


def _geojson(geom: shapely.Geometry) -> dict:
    """Polygon / MultiPolygon GeoJSON (coordinates rounded to 1e-6°; empty → no rings)."""
    polys = [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, shapely.Polygon)
             and not g.is_empty]

    def rings(p: shapely.Polygon) -> list:
        return [np.round(np.asarray(p.exterior.coords), 6).tolist()] + \
            [np.round(np.asarray(r.coords), 6).tolist() for r in p.interiors]

    if len(polys) == 1:
        return {"type": "Polygon", "coordinates": rings(polys[0])}
    return {"type": "MultiPolygon", "coordinates": [rings(p) for p in polys]}
