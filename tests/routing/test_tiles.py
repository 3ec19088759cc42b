"""Vector tiles of the bundled city against an independent reference: shapely clips each
street segment, transit shape and stop to the tile's buffered box; the decoded tile must hold
the same lines (within rounding) class by class, the same stops, and nothing else. Also the
tile kernels against the numpy/protobuf code they replace, and the road generalisation by
zoom."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from routing import mvt
from routing.kernels.tiles import clip_runs, grouped_commands
from routing.tiles import (
    BUFFER,
    EXTENT,
    MINOR_ROAD_MIN_ZOOM,
    ROAD_MIN_ZOOM,
    STOP_MIN_ZOOM,
    TRANSIT_MIN_ZOOM,
    VectorTiles,
    lonlat_to_world,
)
from tests.api.test_http_maps import _decode

#: Largest distance (tile units) between a decoded point and the reference lines, and back:
#: rounding moves a point by at most √½.
TOL = 1.0


@pytest.fixture(scope="module")
def nky(nky_snapshot_dir: Path):
    from routing.plan import TransitData
    from routing.snapshot import load_snapshot

    snap = load_snapshot(nky_snapshot_dir)
    transit = TransitData.load(nky_snapshot_dir)
    assert transit is not None
    return snap, transit.tt, VectorTiles(snap, transit.tt)


def _box(z: int, x: int, y: int) -> tuple[tuple[float, float, float, float], float]:
    n = 1 << z
    scale = EXTENT * n
    pad = BUFFER / scale
    return (x / n - pad, y / n - pad, (x + 1) / n + pad, (y + 1) / n + pad), scale


def _reference_roads(snap) -> tuple[np.ndarray, np.ndarray]:
    """Every segment as a world-unit line, and its class."""
    seg = snap.segments
    wx, wy = lonlat_to_world(seg.lon, seg.lat)
    lines = [shapely.linestrings(np.column_stack([wx[a:b], wy[a:b]]))
             for a, b in zip(seg.gstart.tolist(), seg.gend.tolist(), strict=True)]
    hw = list(seg.highways)
    classes = np.array([hw[i] if 0 <= i < len(hw) else "road" for i in seg.highway_idx])
    return np.array(lines, dtype=object), classes


def _reference_transit(tt) -> np.ndarray:
    """Every pattern's path (its first trip's shape, else its stops) as a world-unit line."""
    a = tt.arrays
    out = []
    for p in range(len(a["pattern_route"])):
        t0 = int(a["pattern_trip_offsets"][p])
        shape = int(a["trip_shape"][t0])
        if shape >= 0:
            s0, s1 = int(a["shape_offsets"][shape]), int(a["shape_offsets"][shape + 1])
            lon, lat = a["shape_lon"][s0:s1], a["shape_lat"][s0:s1]
        else:
            stops = a["pattern_stops"][a["pattern_stop_offsets"][p]:
                                       a["pattern_stop_offsets"][p + 1]]
            lon, lat = a["stop_lon"][stops], a["stop_lat"][stops]
        if len(lon) >= 2:
            wx, wy = lonlat_to_world(lon, lat)
            out.append(shapely.linestrings(np.column_stack([wx, wy])))
    return np.array(out, dtype=object)


def _to_tile(geoms: np.ndarray, rect, z: int, x: int, y: int, scale: float) -> list:
    """Lines clipped to ``rect`` in tile units."""
    n = 1 << z
    clipped = shapely.clip_by_rect(geoms, *rect)
    parts = shapely.get_parts(clipped[~shapely.is_empty(clipped)])
    parts = parts[shapely.get_type_id(parts) == 1]
    moved = shapely.transform(parts, lambda c: (c - (x / n, y / n)) * scale)
    return list(moved)


def _pieces(lines: list) -> np.ndarray:
    """The straight pieces of lines (so that nearest-line queries stay local)."""
    xy, which = shapely.get_coordinates(np.asarray(lines, dtype=object), return_index=True)
    same = which[1:] == which[:-1]
    a, b = xy[:-1][same], xy[1:][same]
    return shapely.linestrings(np.stack([a, b], axis=1))


def _some_points(lines: list, most: int = 2000) -> np.ndarray:
    """The lines' points (a seeded sample of ``most`` of them when there are more)."""
    xy = shapely.get_coordinates(np.asarray(lines, dtype=object))
    if len(xy) > most:
        xy = xy[np.random.default_rng(len(xy)).choice(len(xy), most, replace=False)]
    return shapely.points(xy)


def _assert_same_lines(decoded: list[list[tuple[int, int]]], reference: list,
                       what: str, long_ref: list | None = None) -> None:
    """Every decoded point near a reference line; every point of a reference piece at least
    2 units long (or of ``long_ref``) near a decoded line (shorter pieces may round to one
    point and vanish)."""
    got = [shapely.linestrings(p) for p in decoded if len(p) >= 2]
    if long_ref is None:
        long_ref = [p for p in reference if shapely.length(p) >= 2.0]
    if long_ref:
        assert got, (what, "nothing decoded", len(long_ref))
    if not got:
        return
    assert reference, (what, "lines where the reference has none")
    ref_tree = shapely.STRtree(_pieces(reference))
    got_pts = _some_points(got)
    _, d = ref_tree.query_nearest(got_pts, return_distance=True, all_matches=False)
    assert d.max() <= TOL, (what, "decoded point off the reference", d.max())
    if not long_ref:
        return
    ref_pts = _some_points(long_ref)
    _, d = shapely.STRtree(_pieces(got)).query_nearest(ref_pts, return_distance=True,
                                                       all_matches=False)
    assert d.max() <= TOL, (what, "reference point missing from the tile", d.max())


def _sample_tiles(snap, rng: np.random.Generator, per_zoom: int) -> list[tuple[int, int, int]]:
    w, s, e, n = snap.bbox
    (x0, x1), (y1, y0) = lonlat_to_world(np.array([w, e]), np.array([s, n]))
    out = []
    for z in range(9, 17):
        size = 1 << z
        cols = np.arange(int(x0 * size), int(x1 * size) + 1)
        rows = np.arange(int(y0 * size), int(y1 * size) + 1)
        for _ in range(per_zoom):
            out.append((z, int(rng.choice(cols)), int(rng.choice(rows))))
    return out


def test_tiles_match_shapely_reference(nky) -> None:
    snap, tt, tiles = nky
    lines, classes = _reference_roads(snap)
    transit = _reference_transit(tt)
    sw, sh = lonlat_to_world(tt.arrays["stop_lon"], tt.arrays["stop_lat"])
    stop_ids = tt.strings["stop_id"]
    rng = np.random.default_rng(13)
    checked = 0
    for z, x, y in _sample_tiles(snap, rng, 5):
        rect, scale = _box(z, x, y)
        layers = _decode(tiles.tile(z, x, y))
        roads = layers.get("roads", [])
        # one feature per distinct property set
        keys = [tuple(sorted(p.items())) for p, _ in roads]
        assert len(keys) == len(set(keys))
        wanted = {c for c in set(classes) if ROAD_MIN_ZOOM.get(c, MINOR_ROAD_MIN_ZOOM) <= z}
        for c in wanted | {p["class"] for p, _ in roads}:
            ref = _to_tile(lines[classes == c], rect, z, x, y, scale) if c in wanted else []
            got = [part for p, parts in roads if p["class"] == c for part in parts]
            _assert_same_lines(got, ref, f"{z}/{x}/{y} roads {c}")
            checked += len(ref) > 0
        ref = _to_tile(transit, rect, z, x, y, scale) if z >= TRANSIT_MIN_ZOOM else []
        got = [part for _, parts in layers.get("transit", []) for part in parts]
        _assert_same_lines(got, ref, f"{z}/{x}/{y} transit")
        inside = ((sw >= rect[0]) & (sw <= rect[2]) & (sh >= rect[1]) & (sh <= rect[3])
                  & (z >= STOP_MIN_ZOOM))
        want_stops = {stop_ids[i]: (round((sw[i] - x / (1 << z)) * scale),
                                    round((sh[i] - y / (1 << z)) * scale))
                      for i in np.flatnonzero(inside)}
        got_stops = {p["stop_id"]: parts[0][0] for p, parts in layers.get("stops", [])}
        assert got_stops.keys() == want_stops.keys()
        for k, (gx, gy) in got_stops.items():
            assert abs(gx - want_stops[k][0]) <= 1 and abs(gy - want_stops[k][1]) <= 1
    assert checked >= 20  # the sample did meet streets


def test_low_zooms_keep_the_classes_the_table_gives(nky) -> None:
    """Minor roads are left out of low zooms (the map's style draws only what the tiles
    have); the main roads stay. Every class appears from its zoom on."""
    _, _, tiles = nky
    # downtown Covington and around: 8 km across at every zoom
    w, s, e, n = -84.55, 39.06, -84.45, 39.11
    (x0, x1), (y1, y0) = lonlat_to_world(np.array([w, e]), np.array([s, n]))
    seen: dict[int, set[str]] = {}
    for z in (10, 12, 13, 14, 15):
        size = 1 << z
        got: set[str] = set()
        xs = range(int(x0 * size), int(x1 * size) + 1)
        ys = range(int(y0 * size), int(y1 * size) + 1)
        for x, y in [(x, y) for x in xs for y in ys][:: max(1, len(xs) * len(ys) // 40)]:
            got |= {p["class"] for p, _ in _decode(tiles.tile(z, x, y)).get("roads", [])}
        seen[z] = got
        assert all(ROAD_MIN_ZOOM.get(c, MINOR_ROAD_MIN_ZOOM) <= z for c in got), (z, got)
    assert {"motorway", "primary", "secondary"} <= seen[10]
    assert {"motorway", "trunk", "primary", "secondary", "tertiary", "unclassified"} <= seen[12]
    assert not seen[12] & {"residential", "service", "footway", "living_street"}
    assert "residential" in seen[13] and "service" not in seen[13]
    assert "service" in seen[14] and "footway" not in seen[14]
    assert "footway" in seen[15]


coord = st.floats(min_value=-3.0, max_value=3.0, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.tuples(coord, coord), min_size=2, max_size=10), min_size=1,
                max_size=6),
       st.tuples(st.floats(-2, 0.5), st.floats(-2, 0.5)), st.floats(0.2, 3))
def test_clip_kernel_against_shapely(lines, corner, size) -> None:
    """clip_runs' parts are shapely's clip of each line to the box, rounded (scale 100)."""
    rect = (corner[0], corner[1], corner[0] + size, corner[1] + size)
    xy = np.array([p for ln in lines for p in ln], dtype=np.float64)
    sizes = np.array([len(ln) for ln in lines])
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    n_edges = sizes - 1
    # each line's edges in runs of up to 3 (as the index's chunks)
    starts, lens, feats = [], [], []
    pos = 0
    for f, ne in enumerate(n_edges.tolist()):
        for a in range(0, ne, 3):
            starts.append(pos + a)
            lens.append(min(3, ne - a))
            feats.append(f)
        pos += ne
    pts, part_off, part_feat = clip_runs(xy, np.array(starts), np.array(lens), np.array(feats),
                                         *rect, 0.0, 0.0, 100.0)
    for f in range(len(lines)):
        mine = [pts[part_off[k]:part_off[k + 1]] for k in np.flatnonzero(part_feat == f)]
        for part in mine:
            assert len(part) >= 2 and not np.any(np.all(np.diff(part, axis=0) == 0, axis=1))
            assert np.all(part >= np.floor(np.array(rect[:2]) * 100) - 1)
            assert np.all(part <= np.ceil(np.array(rect[2:]) * 100) + 1)
        ref = shapely.clip_by_rect(shapely.linestrings(xy[offsets[f]:offsets[f + 1]]), *rect)
        ref_parts = [p for p in shapely.get_parts(ref) if shapely.get_type_id(p) == 1]
        ref_parts = [shapely.transform(p, lambda c: c * 100) for p in ref_parts]
        # clip_by_rect leaves out pieces that run along the box's edge; the kernel keeps them
        edge = shapely.boundary(shapely.box(*(np.array(rect) * 100)))
        _assert_same_lines([list(map(tuple, p)) for p in mine], [*ref_parts, edge], "kernel",
                           long_ref=[p for p in ref_parts if shapely.length(p) >= 2.0])


part = st.lists(st.tuples(st.integers(-200, 4300), st.integers(-200, 4300)), min_size=2,
                max_size=8)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(part, st.integers(0, 3)), min_size=1, max_size=12))
def test_grouped_commands_kernel_matches_numpy(parts) -> None:
    parts = [([p for i, p in enumerate(pts) if i == 0 or p != pts[i - 1]], g)
             for pts, g in parts]
    parts = [(pts, g) for pts, g in parts if len(pts) >= 2]
    if not parts:
        return
    xy = np.array([p for pts, _ in parts for p in pts], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum([len(pts) for pts, _ in parts])])
    groups = np.array([g for _, g in parts], dtype=np.int64)
    keys, flat, bounds = mvt.grouped_line_geometry(xy, offsets, groups)
    k_flat, k_bounds, k_keys = grouped_commands(xy, offsets, groups,
                                                np.argsort(groups, kind="stable"))
    assert k_keys.tolist() == keys.tolist()
    assert k_flat.tolist() == flat.tolist() and k_bounds.tolist() == bounds.tolist()


value = st.one_of(st.text(max_size=6), st.integers(-5, 300), st.booleans(),
                  st.floats(-10, 10, allow_nan=False))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([mvt.POINT, mvt.LINESTRING]),
                          st.lists(st.integers(0, 5000), min_size=3, max_size=9),
                          st.dictionaries(st.sampled_from(["a", "b", "name"]), value,
                                          max_size=3)),
                min_size=1, max_size=8))
def test_array_encoder_matches_protobuf(features) -> None:
    """encode_layer's bytes parse to the message the protobuf library writes."""
    lb = mvt.LayerBuilder("layer", EXTENT)
    for t, cmds, props in features:
        lb.add(t, cmds, props)
    want = mvt.Tile.FromString(mvt.encode([lb]))
    keys, values = list(lb._keys), sorted(lb._values, key=lb._values.__getitem__)
    geometry = np.array([c for _, cmds, _ in features for c in cmds], dtype=np.int64)
    geom_off = np.concatenate([[0], np.cumsum([len(c) for _, c, _ in features])])
    tags = [t for _, _, t in lb._features]
    got = mvt.Tile.FromString(mvt.encode_layer(
        "layer", EXTENT, np.array([t for t, _, _ in features]), geometry, geom_off,
        np.array([v for t in tags for v in t], dtype=np.int64),
        np.concatenate([[0], np.cumsum([len(t) for t in tags])]),
        b"".join(mvt.key_field(k) for k in keys),
        b"".join(mvt.value_field(v) for _, v in values)))
    assert got == want
