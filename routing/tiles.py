"""Vector tiles of a snapshot for the web map: roads, transit routes and stops.

Geometries are kept once in Web-Mercator "world" units (0..1 across the map, y down) in
shapely STR-trees; a tile selects the geometries whose boxes meet it (with a margin of
:data:`BUFFER` tile units so lines join without seams), clips them with shapely, scales them
to :data:`EXTENT` units (points closer than one unit merge) and encodes them with
:mod:`routing.mvt`. Tiles are kept in a bounded LRU cache: the source is immutable (one per
snapshot), so a cached tile never goes stale.

Layers (property names in brackets):

* ``roads`` — one line per street segment [``class`` (OSM highway), ``name``, ``ref``,
  ``oneway`` (true: cars may only go in the line's direction)]; minor classes only from
  higher zooms (:data:`ROAD_MIN_ZOOM`).
* ``transit`` — one line per distinct route path [``route_id``, ``short_name``,
  ``long_name``, ``color`` (``#rrggbb``), ``text_color``, ``route_type``].
* ``stops`` — one point per stop [``stop_id``, ``name``], from zoom :data:`STOP_MIN_ZOOM`.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from gtfs.timetable import Timetable
from routing import mvt
from routing.snapshot import Snapshot

EXTENT = 4096
#: Margin around a tile, in tile units, inside which geometries are kept (clipped beyond).
BUFFER = 64
#: Highest zoom at which tiles are made (the map over-zooms beyond).
MAX_ZOOM = 16
#: Lowest zoom at which each road class appears (others: :data:`MINOR_ROAD_MIN_ZOOM`).
ROAD_MIN_ZOOM = {
    "motorway": 5, "trunk": 6, "motorway_link": 10, "trunk_link": 10, "primary": 8,
    "primary_link": 11, "secondary": 9, "secondary_link": 12, "tertiary": 11,
    "tertiary_link": 13, "unclassified": 12, "residential": 13, "living_street": 14,
    "road": 13, "service": 14, "pedestrian": 14, "busway": 13,
}
MINOR_ROAD_MIN_ZOOM = 15
TRANSIT_MIN_ZOOM = 8
STOP_MIN_ZOOM = 13


class TileError(ValueError):
    """Tile coordinates out of range."""


def lonlat_to_world(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Web-Mercator world coordinates (0..1, y down) of degrees."""
    lat = np.clip(np.asarray(lat, dtype=np.float64), -85.05112878, 85.05112878)
    x = (np.asarray(lon, dtype=np.float64) + 180.0) / 360.0
    s = np.sin(np.radians(lat))
    y = 0.5 - np.log((1 + s) / (1 - s)) / (4 * math.pi)
    return x, y


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(west, south, east, north) in degrees of a tile."""
    n = 2.0 ** z

    def lat(yy: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * yy / n))))

    return x / n * 360 - 180, lat(y + 1), (x + 1) / n * 360 - 180, lat(y)


@dataclass
class _Source:
    """One layer's geometries (world units), their tree and lowest zooms."""

    name: str
    geoms: np.ndarray
    min_zoom: np.ndarray
    props: Callable[[int], dict[str, Any]]
    points: bool = False
    #: features with the same key (the same properties) are merged into one multi-line
    group_key: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.tree = shapely.STRtree(self.geoms)


def _road_source(snap: Snapshot) -> _Source | None:
    seg = snap.segments
    n = len(seg.u)
    if n == 0:
        return None
    wx, wy = lonlat_to_world(seg.lon, seg.lat)
    counts = (seg.gend - seg.gstart).astype(np.int64)
    idx = np.repeat(np.arange(n), counts)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    take = np.repeat(np.asarray(seg.gstart, dtype=np.int64) - starts, counts) \
        + np.arange(int(counts.sum()))
    coords = np.column_stack([wx[take], wy[take]])
    fwd, bwd = np.zeros(n, bool), np.zeros(n, bool)
    car = snap.modes.get("car")
    if car is not None:
        es, er = np.asarray(car.edge_seg), np.asarray(car.edge_rev, dtype=bool)
        fwd[es[~er]] = True
        bwd[es[er]] = True
    reverse_only = bwd & ~fwd
    oneway = fwd ^ bwd
    # One-way streets drawn only against their point order are reversed, so that a line's
    # direction is always the one cars may take.
    if reverse_only.any():
        for s in np.flatnonzero(reverse_only).tolist():
            a, b = starts[s], starts[s] + counts[s]
            coords[a:b] = coords[a:b][::-1]
    geoms = shapely.linestrings(coords, indices=idx)
    highways = seg.highways
    hw = np.asarray(seg.highway_idx)
    classes = [highways[i] if 0 <= i < len(highways) else "road" for i in range(len(highways))]
    class_zoom = np.array([ROAD_MIN_ZOOM.get(c, MINOR_ROAD_MIN_ZOOM) for c in classes]
                          or [MINOR_ROAD_MIN_ZOOM], dtype=np.int8)
    min_zoom = class_zoom[hw]
    labels = seg.labels
    street = np.asarray(seg.street_idx) if len(seg.street_idx) == n else np.full(n, -1)
    ref = np.asarray(seg.ref_idx) if len(seg.ref_idx) == n else np.full(n, -1)
    names = seg.names
    name_idx = np.asarray(seg.name_idx)

    def props(i: int) -> dict[str, Any]:
        s, r = int(street[i]), int(ref[i])
        name = labels[s] if s >= 0 else (names[int(name_idx[i])] if name_idx[i] >= 0
                                         and r < 0 else None)
        return {"class": classes[int(hw[i])], "name": name,
                "ref": labels[r].replace(";", " / ") if r >= 0 else None,
                "oneway": bool(oneway[i])}

    nl = len(labels) + 1
    key = ((hw.astype(np.int64) * nl + (street + 1)) * nl + (ref + 1)) * 2 + oneway
    if len(seg.street_idx) != n:  # older snapshots: the display names tell streets apart
        key = key * (len(names) + 1) + (name_idx + 1)
    return _Source("roads", geoms, min_zoom, props, group_key=key)


def _colour(c: str, default: str) -> str:
    c = (c or "").strip().lstrip("#")
    if len(c) == 6 and all(ch in "0123456789abcdefABCDEF" for ch in c):
        return "#" + c.lower()
    return default


def _transit_sources(tt: Timetable) -> list[_Source]:
    a, s = tt.arrays, tt.strings
    stop_lon, stop_lat = np.asarray(a["stop_lon"]), np.asarray(a["stop_lat"])
    pattern_route = np.asarray(a["pattern_route"])
    pso, ps = np.asarray(a["pattern_stop_offsets"]), np.asarray(a["pattern_stops"])
    pto = np.asarray(a["pattern_trip_offsets"])
    trip_shape = np.asarray(a["trip_shape"])
    so = np.asarray(a["shape_offsets"]) if "shape_offsets" in a else np.zeros(1, np.int64)
    shape_lon = np.asarray(a.get("shape_lon", np.zeros(0)))
    shape_lat = np.asarray(a.get("shape_lat", np.zeros(0)))
    seen: set[tuple[int, Any]] = set()
    lines: list[Any] = []
    line_route: list[int] = []
    for p in range(len(pattern_route)):
        r = int(pattern_route[p])
        t0, t1 = int(pto[p]), int(pto[p + 1])
        shape = int(trip_shape[t0]) if t1 > t0 else -1
        if shape >= 0:
            key: Any = ("shape", shape)
            lo, la = shape_lon[so[shape]:so[shape + 1]], shape_lat[so[shape]:so[shape + 1]]
        else:
            stops = ps[pso[p]:pso[p + 1]]
            key = ("stops", tuple(stops.tolist()))
            lo, la = stop_lon[stops], stop_lat[stops]
        if (r, key) in seen or len(lo) < 2:
            continue
        seen.add((r, key))
        wx, wy = lonlat_to_world(lo, la)
        lines.append(shapely.linestrings(np.column_stack([wx, wy])))
        line_route.append(r)
    out: list[_Source] = []
    if lines:
        short, long_ = s.get("route_short_name", []), s.get("route_long_name", [])
        color, text = s.get("route_color", []), s.get("route_text_color", [])
        route_ids = s["route_id"]
        rtype = np.asarray(a.get("route_type", np.zeros(len(route_ids), np.int32)))

        def rprops(i: int) -> dict[str, Any]:
            r = line_route[i]
            return {"route_id": route_ids[r], "short_name": (short[r] or None) if short else None,
                    "long_name": (long_[r] or None) if long_ else None,
                    "color": _colour(color[r] if color else "", "#1f6feb"),
                    "text_color": _colour(text[r] if text else "", "#ffffff"),
                    "route_type": int(rtype[r])}

        out.append(_Source("transit", np.array(lines, dtype=object),
                           np.full(len(lines), TRANSIT_MIN_ZOOM, np.int8), rprops,
                           group_key=np.asarray(line_route, dtype=np.int64)))
    if len(stop_lon):
        wx, wy = lonlat_to_world(stop_lon, stop_lat)
        stop_ids, stop_names = s["stop_id"], s["stop_name"]

        def sprops(i: int) -> dict[str, Any]:
            return {"stop_id": stop_ids[i], "name": stop_names[i] or None}

        out.append(_Source("stops", shapely.points(np.column_stack([wx, wy])),
                           np.full(len(stop_lon), STOP_MIN_ZOOM, np.int8), sprops, points=True))
    return out


class VectorTiles:
    """The tiles of one snapshot (and its timetable, if any), made on demand and cached."""

    def __init__(self, snapshot: Snapshot, timetable: Timetable | None = None,
                 cache_tiles: int = 4096) -> None:
        self.snapshot_id = snapshot.snapshot_id
        self._sources: list[_Source] = []
        road = _road_source(snapshot) if snapshot.has_road else None
        if road is not None:
            self._sources.append(road)
        if timetable is not None:
            self._sources += _transit_sources(timetable)
        self._cache: OrderedDict[tuple[int, int, int], bytes] = OrderedDict()
        self._cache_tiles = cache_tiles
        self._lock = threading.Lock()

    @property
    def layers(self) -> list[str]:
        """Names of the layers this source has."""
        return [s.name for s in self._sources]

    def tile(self, z: int, x: int, y: int) -> bytes:
        """The encoded tile ``z/x/y`` (XYZ scheme). Raises :class:`TileError` when the
        coordinates are outside the zoom's grid or ``z`` is outside ``0..MAX_ZOOM``."""
        if not 0 <= z <= MAX_ZOOM:
            raise TileError(f"zoom {z} is outside 0..{MAX_ZOOM}")
        n = 1 << z
        if not (0 <= x < n and 0 <= y < n):
            raise TileError(f"tile {x}/{y} is outside zoom {z}'s grid 0..{n - 1}")
        key = (z, x, y)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        data = self._make(z, x, y)
        with self._lock:
            self._cache[key] = data
            while len(self._cache) > self._cache_tiles:
                self._cache.popitem(last=False)
        return data

    def _make(self, z: int, x: int, y: int) -> bytes:
        n = 1 << z
        scale = EXTENT * n
        pad = BUFFER / scale
        x0, y0 = x / n, y / n
        rect = (x0 - pad, y0 - pad, x0 + 1 / n + pad, y0 + 1 / n + pad)
        box = shapely.box(*rect)
        builders = []
        for src in self._sources:
            lb = mvt.LayerBuilder(src.name, EXTENT)
            builders.append(lb)
            idx = src.tree.query(box)
            if len(idx) == 0:
                continue
            idx = np.sort(idx[src.min_zoom[idx] <= z])
            if len(idx) == 0:
                continue
            if src.points:
                xy = shapely.get_coordinates(src.geoms[idx])
                inside = ((xy[:, 0] >= rect[0]) & (xy[:, 0] <= rect[2])
                          & (xy[:, 1] >= rect[1]) & (xy[:, 1] <= rect[3]))
                tile_xy = np.rint((xy - (x0, y0)) * scale).astype(np.int64)
                for i, p in zip(idx[inside].tolist(), tile_xy[inside], strict=True):
                    lb.add(mvt.POINT, mvt.point_commands(p[None, :]), src.props(i))
                continue
            geoms = shapely.clip_by_rect(src.geoms[idx], *rect)
            parts, owner = shapely.get_parts(geoms, return_index=True)
            is_line = shapely.get_type_id(parts) == 1
            parts, owner = parts[is_line], owner[is_line]
            if len(parts) == 0:
                continue
            coords, which = shapely.get_coordinates(parts, return_index=True)
            # to tile units; rounding to whole units and dropping the repeated points is
            # the simplification (no shape finer than 1/4096 of a tile is kept)
            coords = (coords - (x0, y0)) * scale
            offsets = np.searchsorted(which, np.arange(len(parts) + 1))
            feature_of = idx[owner]
            keys = src.group_key[feature_of] if src.group_key is not None else feature_of
            # one representative feature index per key, for the properties
            rep: dict[int, int] = {}
            for k, f in zip(keys.tolist(), feature_of.tolist(), strict=True):
                rep.setdefault(k, f)
            gkeys, cmds = mvt.grouped_line_commands(np.rint(coords).astype(np.int64), offsets,
                                                    keys)
            for k, c in zip(gkeys.tolist(), cmds, strict=True):
                lb.add(mvt.LINESTRING, c, src.props(rep[k]))
        return mvt.encode(builders)
