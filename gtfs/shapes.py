"""Trip shapes: parse shapes.txt, project stops onto a shape, cut a leg's geometry.

Distances along a shape are computed here in metres (``shape_dist_m``) from the points
themselves, independent of the feed's ``shape_dist_traveled`` units. Stops are projected onto
their trip's shape with a monotone assignment (stop i+1 never projects before stop i), which
stays right on loops and out-and-back shapes where nearest-point snapping fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from gtfs.geo import EARTH_RADIUS_M, haversine_m

if TYPE_CHECKING:  # pandas (gtfs.load) only where feeds are read, not when serving
    from gtfs.load import RawFeed
    from gtfs.validate import ValidationReport


@dataclass
class ShapeTable:
    """All shapes as CSR: points of shape i are ``offsets[i]:offsets[i+1]``."""

    shape_ids: list[str]
    offsets: np.ndarray  # int64 [n_shapes + 1]
    lon: np.ndarray  # float64
    lat: np.ndarray  # float64
    dist_m: np.ndarray  # float32 cumulative metres along the shape

    @classmethod
    def empty(cls) -> ShapeTable:
        """A table without shapes."""
        z = np.zeros(0)
        return cls([], np.zeros(1, dtype=np.int64), z, z.copy(), z.astype(np.float32))


def build_shapes(feeds: list[RawFeed], report: ValidationReport) -> ShapeTable:
    """Parse shapes.txt of all feeds (bad points skipped, shapes with < 2 points dropped)."""
    from gtfs.load import to_float, to_int

    ids: list[str] = []
    offs = [0]
    lons: list[np.ndarray] = []
    lats: list[np.ndarray] = []
    for feed in feeds:
        df = feed.tables.get("shapes")
        if df is None or not len(df):
            continue
        lat = to_float(df["shape_pt_lat"])
        lon = to_float(df["shape_pt_lon"])
        seq, ok_seq = to_int(df["shape_pt_sequence"], -1)
        ok = ~np.isnan(lat) & ~np.isnan(lon) & ok_seq & (df["shape_id"] != "").to_numpy()
        ok &= (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
        if (~ok).any():
            report.error(feed.name, "shapes", "bad shape point (lat/lon/sequence/id)",
                         rows=df["_row"].to_numpy()[~ok])
        sid = df["shape_id"].to_numpy()[ok]
        lat, lon, seq = lat[ok], lon[ok], seq[ok]
        codes, uniq = _factorize(sid)
        order = np.lexsort((seq, codes))
        codes, lat, lon = codes[order], lat[order], lon[order]
        bounds = np.searchsorted(codes, np.arange(len(uniq) + 1))
        for k, u in enumerate(uniq):
            a, b = bounds[k], bounds[k + 1]
            if b - a < 2:
                report.warning(feed.name, "shapes", f"shape {u} has fewer than 2 points; "
                               "trips use straight lines", field="shape_id")
                continue
            ids.append(str(u))
            lons.append(lon[a:b])
            lats.append(lat[a:b])
            offs.append(offs[-1] + (b - a))
    if not ids:
        return ShapeTable.empty()
    lon_all = np.concatenate(lons)
    lat_all = np.concatenate(lats)
    offsets = np.asarray(offs, dtype=np.int64)
    seg = np.zeros(len(lon_all))
    seg[1:] = haversine_m(lat_all[:-1], lon_all[:-1], lat_all[1:], lon_all[1:])
    seg[offsets[:-1]] = 0.0
    # cumulative per shape: global cumsum minus the value at each shape start
    cum = np.cumsum(seg)
    starts = np.repeat(offsets[:-1], np.diff(offsets))
    cum = cum - cum[starts]
    return ShapeTable(ids, offsets, lon_all, lat_all, cum.astype(np.float32))


def _factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    uniq, codes = np.unique(values, return_inverse=True)
    return codes.astype(np.int64), uniq


@njit(cache=True)
def _project_monotone(px: np.ndarray, py: np.ndarray, sx: np.ndarray, sy: np.ndarray,
                      cum: np.ndarray) -> np.ndarray:  # pragma: no cover - numba
    n_stops = px.shape[0]
    n_seg = sx.shape[0] - 1
    out = np.zeros(n_stops)
    if n_seg < 1 or n_stops == 0:
        return out
    back = np.empty((n_stops, n_seg), dtype=np.int32)
    prev = np.zeros(n_seg)
    cur = np.empty(n_seg)
    for i in range(n_stops):
        best_val = np.inf
        best_j = 0
        for j in range(n_seg):
            if i > 0 and prev[j] < best_val:
                best_val = prev[j]
                best_j = j
            ax, ay = sx[j], sy[j]
            dx, dy = sx[j + 1] - ax, sy[j + 1] - ay
            ll = dx * dx + dy * dy
            t = 0.0
            if ll > 0:
                t = ((px[i] - ax) * dx + (py[i] - ay) * dy) / ll
                t = min(1.0, max(0.0, t))
            ex, ey = ax + t * dx - px[i], ay + t * dy - py[i]
            d = np.sqrt(ex * ex + ey * ey)
            cur[j] = d + (best_val if i > 0 else 0.0)
            back[i, j] = best_j
        for j in range(n_seg):
            prev[j] = cur[j]
    # backtrack
    j = 0
    for k in range(1, n_seg):
        if prev[k] < prev[j]:
            j = k
    for i in range(n_stops - 1, -1, -1):
        ax, ay = sx[j], sy[j]
        dx, dy = sx[j + 1] - ax, sy[j + 1] - ay
        ll = dx * dx + dy * dy
        t = 0.0
        if ll > 0:
            t = ((px[i] - ax) * dx + (py[i] - ay) * dy) / ll
            t = min(1.0, max(0.0, t))
        out[i] = cum[j] + t * (cum[j + 1] - cum[j])
        j = back[i, j]
    for i in range(1, n_stops):
        if out[i] < out[i - 1]:
            out[i] = out[i - 1]
    return out


def project_stops(shapes: ShapeTable, shape_idx: int, stop_lat: np.ndarray,
                  stop_lon: np.ndarray) -> np.ndarray:
    """Distance in metres along shape ``shape_idx`` of each stop, non-decreasing."""
    a, b = shapes.offsets[shape_idx], shapes.offsets[shape_idx + 1]
    lat, lon = shapes.lat[a:b], shapes.lon[a:b]
    lat0 = np.radians(float(np.mean(lat)))
    k = np.pi / 180 * EARTH_RADIUS_M
    sx, sy = lon * k * np.cos(lat0), lat * k
    px, py = np.asarray(stop_lon) * k * np.cos(lat0), np.asarray(stop_lat) * k
    return _project_monotone(px, py, sx, sy, shapes.dist_m[a:b].astype(np.float64))


def cut_shape(lon: np.ndarray, lat: np.ndarray, dist_m: np.ndarray, from_m: float,
              to_m: float) -> np.ndarray:
    """The part of a polyline between two distances along it, as ``[[lon, lat], ...]``.

    End points are interpolated; ``from_m > to_m`` is clamped to a single point.
    """
    to_m = max(to_m, from_m)
    lo = float(dist_m[0]) if len(dist_m) else 0.0
    hi = float(dist_m[-1]) if len(dist_m) else 0.0
    from_m, to_m = min(max(from_m, lo), hi), min(max(to_m, lo), hi)
    pts_lon = np.interp([from_m, to_m], dist_m, lon)
    pts_lat = np.interp([from_m, to_m], dist_m, lat)
    inner = np.flatnonzero((dist_m > from_m) & (dist_m < to_m))
    out_lon = np.concatenate([[pts_lon[0]], lon[inner], [pts_lon[1]]])
    out_lat = np.concatenate([[pts_lat[0]], lat[inner], [pts_lat[1]]])
    return np.column_stack([out_lon, out_lat])
