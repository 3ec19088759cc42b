"""Vector tiles of a snapshot for the web map: roads, transit routes and stops.

Lines are kept once as points in Web-Mercator "world" units (0..1 across the map, y down),
cut into chunks of at most :data:`CHUNK_EDGES` edges that a grid of zoom-:data:`INDEX_ZOOM`
cells indexes (each cell's chunks ordered by the lowest zoom that shows them, so a low-zoom
tile never looks at minor roads). A tile takes the chunks whose boxes meet it (with a margin
of :data:`BUFFER` tile units so lines join without seams); the kernels of
:mod:`routing.kernels.tiles` clip their edges to it, scale them to :data:`EXTENT` units
(points closer than one unit merge), build one multi-line per feature and write the features'
protobuf bytes; the properties are key/value tables encoded once per source. Tiles are kept
in a bounded LRU cache: the source is immutable (one per snapshot), so a cached tile never
goes stale.

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
from typing import Any

import numpy as np

from gtfs.timetable import Timetable
from routing import mvt
from routing.kernels.tiles import clip_runs, grouped_commands
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


class _TagTable:
    """The properties of a source's groups (features) as key and value indices into
    source-wide tables whose protobuf entries are encoded once; a tile keeps the entries
    its features use."""

    def __init__(self, props: list[dict[str, Any]]) -> None:
        keys: dict[str, int] = {}
        values: dict[tuple[str, Any], int] = {}
        pairs: list[int] = []
        counts = np.zeros(len(props), dtype=np.int64)
        for g, pr in enumerate(props):
            for k, v in pr.items():
                if v is None:
                    continue
                pairs.append(keys.setdefault(k, len(keys)))
                pairs.append(values.setdefault((type(v).__name__, v), len(values)))
                counts[g] += 1
        pair = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        self.key_of, self.value_of = pair[:, 0].copy(), pair[:, 1].copy()
        self.offsets = np.concatenate([[0], np.cumsum(counts)])
        self._keys = _Blob([mvt.key_field(k) for k in keys])
        self._values = _Blob([mvt.value_field(v) for (_, v) in values])

    def for_groups(self, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray, bytes, bytes]:
        """(tags, tag offsets, keys entries, values entries) of these groups as features of
        one layer (see :func:`routing.mvt.encode_layer`)."""
        start, count = self.offsets[groups], np.diff(self.offsets)[groups]
        at = mvt.ranges(start, count)
        used_k, k = np.unique(self.key_of[at], return_inverse=True)
        used_v, v = np.unique(self.value_of[at], return_inverse=True)
        tags = np.column_stack([k.ravel(), v.ravel()]).ravel()
        tag_offsets = np.concatenate([[0], np.cumsum(2 * count)])
        return tags, tag_offsets, self._keys.take(used_k), self._values.take(used_v)


class _Blob:
    """Byte strings kept one after the other, gathered by index."""

    def __init__(self, items: list[bytes]) -> None:
        self.data = np.frombuffer(b"".join(items), dtype=np.uint8)
        sizes = np.array([len(b) for b in items], dtype=np.int64)
        self.sizes = sizes
        self.offsets = np.cumsum(sizes) - sizes

    def take(self, idx: np.ndarray) -> bytes:
        """The items ``idx`` joined."""
        return self.data[mvt.ranges(self.offsets[idx], self.sizes[idx])].tobytes()


#: Cells of the line index are the tiles of this zoom.
INDEX_ZOOM = 14
#: Lines are indexed in chunks of at most this many edges (a tile clips only the chunks
#: whose boxes meet it).
CHUNK_EDGES = 16
#: Chunks spanning more cells than this are kept aside and tested against every tile.
_MAX_CELLS = 64


class _LineSource:
    """One layer of lines: points in world units, chunked and indexed by grid cell (each
    cell's chunks ordered by lowest zoom); features with the same group key merge into one
    multi-line feature of the tile."""

    def __init__(self, name: str, xy: np.ndarray, offsets: np.ndarray, min_zoom: np.ndarray,
                 group_key: np.ndarray, props: Callable[[int], dict[str, Any]]) -> None:
        self.name = name
        self.xy = np.ascontiguousarray(xy, dtype=np.float64)
        offsets = np.asarray(offsets, dtype=np.int64)
        self.min_zoom = np.asarray(min_zoom, dtype=np.int8)
        _, first, group = np.unique(np.asarray(group_key), return_index=True,
                                    return_inverse=True)
        self.group = group.ravel().astype(np.int64)
        self.tags = _TagTable([props(int(f)) for f in first])
        # edges: point i to i + 1 of the same feature; edge positions run over the
        # features' edges in order, so the point of edge position p is p + its feature
        n_edges = np.maximum(np.diff(offsets) - 1, 0)
        feats = np.flatnonzero(n_edges)
        n_chunks = -(-n_edges[feats] // CHUNK_EDGES)
        chunk_feat = np.repeat(feats, n_chunks)
        edge_start = np.cumsum(n_edges) - n_edges
        j = np.arange(len(chunk_feat)) - np.repeat(np.cumsum(n_chunks) - n_chunks, n_chunks)
        cstart = edge_start[chunk_feat] + j * CHUNK_EDGES
        cend = np.minimum(cstart + CHUNK_EDGES, edge_start[chunk_feat] + n_edges[chunk_feat])
        self.chunk_feat, self.chunk_start, self.chunk_len = chunk_feat, cstart, cend - cstart
        if len(chunk_feat):
            pts = np.arange(int(n_edges.sum())) + np.repeat(np.arange(len(n_edges)), n_edges)
            a, b = self.xy[pts], self.xy[pts + 1]
            lo, hi = np.minimum(a, b), np.maximum(a, b)
            self.box = np.column_stack([np.minimum.reduceat(lo, cstart, axis=0),
                                        np.maximum.reduceat(hi, cstart, axis=0)])
        else:
            self.box = np.zeros((0, 4))
        self._index()

    def _index(self) -> None:
        cells = 1 << INDEX_ZOOM
        c = np.clip(np.floor(self.box * cells), 0, cells - 1).astype(np.int64)
        wide, high = c[:, 2] - c[:, 0] + 1, c[:, 3] - c[:, 1] + 1
        big = wide * high > _MAX_CELLS
        self.big = np.flatnonzero(big)
        small = np.flatnonzero(~big)
        n = (wide * high)[small]
        chunk = np.repeat(small, n)
        k = np.arange(len(chunk)) - np.repeat(np.cumsum(n) - n, n)
        w = np.repeat(wide[small], n)
        cx = np.repeat(c[small, 0], n) + k % w
        cy = np.repeat(c[small, 1], n) + k // w
        key = cx * cells + cy
        mz = self.min_zoom[self.chunk_feat[chunk]]
        order = np.lexsort((chunk, mz, key))
        key, chunk, mz = key[order], chunk[order], mz[order]
        self.entries = chunk
        ukey, start = np.unique(key, return_index=True)
        self.cell_x, self.cell_y = ukey // cells, ukey % cells
        self.cell_start = start
        # cell_count[c, z]: the cell's chunks shown at zoom z (a prefix of its entries)
        cell_of = np.repeat(np.arange(len(ukey)), np.diff(np.append(start, len(key))))
        self.cell_count = np.zeros((len(ukey), MAX_ZOOM + 2), dtype=np.int64)
        np.add.at(self.cell_count, (cell_of, np.clip(mz, 0, MAX_ZOOM + 1)), 1)
        self.cell_count = np.cumsum(self.cell_count, axis=1)

    def chunks(self, z: int, rect: tuple[float, float, float, float]) -> np.ndarray:
        """Chunks shown at zoom ``z`` whose boxes meet ``rect``, in order."""
        cells = 1 << INDEX_ZOOM
        x0, y0 = int(rect[0] * cells), int(rect[1] * cells)
        x1, y1 = int(rect[2] * cells), int(rect[3] * cells)
        hit = np.flatnonzero((self.cell_x >= x0) & (self.cell_x <= x1)
                             & (self.cell_y >= y0) & (self.cell_y <= y1))
        found = self.entries[mvt.ranges(self.cell_start[hit], self.cell_count[hit, z])]
        if len(self.big):
            found = np.concatenate([found, self.big[self.min_zoom[self.chunk_feat[self.big]]
                                                    <= z]])
        found = np.sort(found)
        if len(found) > 1:
            found = found[np.append(True, found[1:] != found[:-1])]
        b = self.box[found]
        meet = ((b[:, 0] <= rect[2]) & (b[:, 2] >= rect[0]) & (b[:, 1] <= rect[3])
                & (b[:, 3] >= rect[1]))
        return found[meet]

    def layer(self, z: int, rect: tuple[float, float, float, float], origin: tuple[float, float],
              scale: float) -> bytes:
        """The layer's bytes in the tile whose buffered box is ``rect`` (world units) and
        whose corner is ``origin``; empty when nothing is in it."""
        ch = self.chunks(z, rect)
        if len(ch) == 0:
            return b""
        tile_xy, part_offsets, part_feat = clip_runs(
            self.xy, self.chunk_start[ch], self.chunk_len[ch], self.chunk_feat[ch], *rect,
            origin[0], origin[1], scale)
        part_group = self.group[part_feat]
        geometry, geom_offsets, groups = grouped_commands(
            tile_xy, part_offsets, part_group, np.argsort(part_group, kind="stable"))
        if len(groups) == 0:
            return b""
        tags, tag_offsets, keys, values = self.tags.for_groups(groups)
        return mvt.encode_layer(self.name, EXTENT, np.full(len(groups), mvt.LINESTRING),
                                geometry, geom_offsets, tags, tag_offsets, keys, values)


class _PointSource:
    """One layer of points (world units), each its own feature."""

    def __init__(self, name: str, xy: np.ndarray, min_zoom: int,
                 props: Callable[[int], dict[str, Any]]) -> None:
        self.name = name
        self.xy = np.asarray(xy, dtype=np.float64)
        self.min_zoom = min_zoom
        self.tags = _TagTable([props(i) for i in range(len(self.xy))])

    def layer(self, z: int, rect: tuple[float, float, float, float], origin: tuple[float, float],
              scale: float) -> bytes:
        """The layer's bytes in the tile (as :meth:`_LineSource.layer`)."""
        if z < self.min_zoom:
            return b""
        x, y = self.xy[:, 0], self.xy[:, 1]
        idx = np.flatnonzero((x >= rect[0]) & (x <= rect[2]) & (y >= rect[1]) & (y <= rect[3]))
        if len(idx) == 0:
            return b""
        zz = mvt.zigzag(np.rint((self.xy[idx] - origin) * scale).astype(np.int64))
        geometry = np.column_stack([np.full(len(idx), (1 << 3) | 1), zz]).ravel()
        tags, tag_offsets, keys, values = self.tags.for_groups(idx)
        return mvt.encode_layer(self.name, EXTENT, np.full(len(idx), mvt.POINT), geometry,
                                np.arange(len(idx) + 1) * 3, tags, tag_offsets, keys, values)


def _road_source(snap: Snapshot) -> _LineSource | None:
    seg = snap.segments
    n = len(seg.u)
    if n == 0:
        return None
    wx, wy = lonlat_to_world(seg.lon, seg.lat)
    counts = (seg.gend - seg.gstart).astype(np.int64)
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
    offsets = np.append(starts, len(coords))
    return _LineSource("roads", coords, offsets, min_zoom, key, props)


def _colour(c: str, default: str) -> str:
    c = (c or "").strip().lstrip("#")
    if len(c) == 6 and all(ch in "0123456789abcdefABCDEF" for ch in c):
        return "#" + c.lower()
    return default


def _transit_sources(tt: Timetable) -> list[_LineSource | _PointSource]:
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
        lines.append(np.column_stack([wx, wy]))
        line_route.append(r)
    out: list[_LineSource | _PointSource] = []
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

        sizes = np.array([len(c) for c in lines], dtype=np.int64)
        out.append(_LineSource("transit", np.concatenate(lines),
                               np.concatenate([[0], np.cumsum(sizes)]),
                               np.full(len(lines), TRANSIT_MIN_ZOOM, np.int8),
                               np.asarray(line_route, dtype=np.int64), rprops))
    if len(stop_lon):
        wx, wy = lonlat_to_world(stop_lon, stop_lat)
        stop_ids, stop_names = s["stop_id"], s["stop_name"]

        def sprops(i: int) -> dict[str, Any]:
            return {"stop_id": stop_ids[i], "name": stop_names[i] or None}

        out.append(_PointSource("stops", np.column_stack([wx, wy]), STOP_MIN_ZOOM, sprops))
    return out


def _warm_kernels() -> None:
    """Load (or compile, the first time ever) the tile kernels now rather than on the first
    tile: a square line crossing a box, encoded."""
    xy = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]])
    one = np.ones(1, dtype=np.int64)
    pts, offsets, feats = clip_runs(xy, np.zeros(1, np.int64), one * 2, np.zeros(1, np.int64),
                                    0.5, 0.0, 1.5, 2.0, 0.0, 0.0, 10.0)
    cmds, bounds, _ = grouped_commands(pts, offsets, feats, np.argsort(feats, kind="stable"))
    mvt.encode_layer("warm", EXTENT, one * mvt.LINESTRING, cmds, bounds, np.zeros(2, np.int64),
                     np.array([0, 2]), mvt.key_field("k"), mvt.value_field("v"))


class VectorTiles:
    """The tiles of one snapshot (and its timetable, if any), made on demand and cached."""

    def __init__(self, snapshot: Snapshot, timetable: Timetable | None = None,
                 cache_tiles: int = 4096) -> None:
        self.snapshot_id = snapshot.snapshot_id
        self._sources: list[_LineSource | _PointSource] = []
        road = _road_source(snapshot) if snapshot.has_road else None
        if road is not None:
            self._sources.append(road)
        if timetable is not None:
            self._sources += _transit_sources(timetable)
        self._cache: OrderedDict[tuple[int, int, int], bytes] = OrderedDict()
        self._cache_tiles = cache_tiles
        self._lock = threading.Lock()
        _warm_kernels()

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
        scale = float(EXTENT * n)
        pad = BUFFER / scale
        x0, y0 = x / n, y / n
        rect = (x0 - pad, y0 - pad, x0 + 1 / n + pad, y0 + 1 / n + pad)
        return b"".join(src.layer(z, rect, (x0, y0), scale) for src in self._sources)
