"""Incident geometry → network elements, on the real northern Kentucky snapshot."""

from __future__ import annotations

import csv
import io
import zipfile
from collections import Counter
from typing import Any

import numpy as np
import pytest
import shapely
from shapely.ops import substring

from incidents.matching import GeometryMatchError, MatchResult, NetworkMatcher
from routing.snapshot import Snapshot, load_snapshot
from tests.conftest import NKY_GTFS


def load_stops() -> tuple[list[str], np.ndarray, np.ndarray]:
    """``(stop_ids, lat, lon)`` of the bundled TANK feed's stops."""
    with zipfile.ZipFile(NKY_GTFS) as z:
        rows = list(csv.DictReader(io.TextIOWrapper(z.open("stops.txt"), "utf-8-sig")))
    return ([r["stop_id"] for r in rows], np.array([float(r["stop_lat"]) for r in rows]),
            np.array([float(r["stop_lon"]) for r in rows]))


def street_chain(snap: Snapshot, name: str, min_segments: int = 6) -> np.ndarray:
    """The longest run of consecutive, connected car segments of one way named ``name``."""
    seg = snap.segments
    ni = np.asarray(seg.name_idx)
    segs = np.flatnonzero(ni == seg.names.index(name))
    car_segs = set(np.asarray(snap.modes["car"].edge_seg).tolist())
    way = np.asarray(seg.way_id)
    u, v = np.asarray(seg.u), np.asarray(seg.v)
    best: list[int] = []
    for w, _ in Counter(way[segs].tolist()).most_common():
        run: list[int] = []
        for s in sorted(segs[way[segs] == w].tolist()):
            if run and v[run[-1]] == u[s] and s in car_segs:
                run.append(s)
            else:
                if len(run) > len(best):
                    best = run
                run = [s] if s in car_segs else []
        if len(run) > len(best):
            best = run
    assert len(best) >= min_segments, name
    return np.asarray(best, dtype=np.int64)


def chain_coords(snap: Snapshot, segs: np.ndarray) -> np.ndarray:
    """``[lon, lat]`` positions of consecutive segments, from the first ``u`` to the last ``v``."""
    seg = snap.segments
    lon, lat = np.asarray(seg.lon), np.asarray(seg.lat)
    pts: list[np.ndarray] = []
    for i, s in enumerate(segs.tolist()):
        g = np.column_stack([lon[seg.gstart[s]:seg.gend[s]], lat[seg.gstart[s]:seg.gend[s]]])
        pts.append(g if i == 0 else g[1:])
    return np.concatenate(pts)


def offset_line(matcher: NetworkMatcher, coords: np.ndarray, offset_m: float
                ) -> dict[str, Any]:
    """A GeoJSON LineString parallel to ``coords`` at ``offset_m`` (left > 0), same direction."""
    pr = matcher.projection
    x, y = pr.to_xy(coords[:, 0], coords[:, 1])
    line = shapely.LineString(np.column_stack([x, y]))
    if abs(offset_m) >= 0.01:
        line = shapely.offset_curve(line, offset_m)
    xy = shapely.get_coordinates(line)
    return {"type": "LineString",
            "coordinates": [list(pr.to_lonlat(float(a), float(b))) for a, b in xy]}


def directed_edges(snap: Snapshot, mode: str, segs: np.ndarray, rev: bool | None
                   ) -> set[int]:
    """Edges of ``mode`` on ``segs`` (``rev`` None = both directions)."""
    a = snap.modes[mode]
    es, er = np.asarray(a.edge_seg), np.asarray(a.edge_rev)
    hit = np.isin(es, segs) & ((er == rev) if rev is not None else True)
    return set(np.flatnonzero(hit).tolist())


@pytest.fixture(scope="module")
def snap(nky_snapshot_dir) -> Snapshot:
    return load_snapshot(nky_snapshot_dir)


@pytest.fixture(scope="module")
def matcher(snap: Snapshot) -> NetworkMatcher:
    return NetworkMatcher(snap, stops=load_stops())


@pytest.fixture(scope="module")
def madison(snap: Snapshot) -> np.ndarray:
    return street_chain(snap, "Madison Avenue", 8)


def _car_segments(snap: Snapshot, r: MatchResult) -> list[int]:
    return np.asarray(snap.modes["car"].edge_seg)[r.edges["car"]].tolist()


def test_line_matches_street_in_drawn_direction_only(snap, matcher, madison) -> None:
    sub = madison[2:8]
    line = offset_line(matcher, chain_coords(snap, sub), 4.0)
    fwd = matcher.match(line, "forward")
    assert set(fwd.edges["car"].tolist()) == directed_edges(snap, "car", sub, False)
    assert _car_segments(snap, fwd) == sub.tolist()  # ordered along the line
    assert fwd.street_names == ("Madison Avenue",)
    assert fwd.length_m == pytest.approx(float(np.asarray(snap.segments.length_m)[sub].sum()))
    assert fwd.way_ids == (int(snap.segments.way_id[sub[0]]),)

    bwd = matcher.match(line, "backward")
    assert set(bwd.edges["car"].tolist()) == directed_edges(snap, "car", sub, True)
    assert _car_segments(snap, bwd) == sub[::-1].tolist()  # travel order

    both = matcher.match(line, "both")
    assert set(both.edges["car"].tolist()) == directed_edges(snap, "car", sub, None)
    assert matcher.match(line, None).edge_counts == both.edge_counts
    walk = directed_edges(snap, "walk", sub, None)
    assert set(both.edges["walk"].tolist()) == walk
    d = both.to_dict()
    assert d["edge_count"] == both.edge_count > 0 and d["street_names"] == ["Madison Avenue"]


def test_line_drawn_backwards_flips_direction(snap, matcher, madison) -> None:
    sub = madison[1:6]
    line = offset_line(matcher, chain_coords(snap, sub)[::-1], -3.0)
    fwd = matcher.match(line, "forward")
    assert set(fwd.edges["car"].tolist()) == directed_edges(snap, "car", sub, True)


def test_bearing_selects_edges_heading_that_way(snap, matcher, madison) -> None:
    sub = madison[3:5]
    coords = chain_coords(snap, sub)
    line = offset_line(matcher, coords, 2.0)
    x, y = matcher.projection.to_xy(coords[:, 0], coords[:, 1])
    heading = float(np.degrees(np.arctan2(x[-1] - x[0], y[-1] - y[0])) % 360)
    with_line = matcher.match(line, heading)
    assert set(with_line.edges["car"].tolist()) == directed_edges(snap, "car", sub, False)
    against = matcher.match(line, (heading + 180.0) % 360)
    assert set(against.edges["car"].tolist()) == directed_edges(snap, "car", sub, True)
    assert matcher.match(line, (heading + 90.0) % 360).edge_count == 0


def test_short_line_along_part_of_a_long_segment(snap, matcher) -> None:
    length = np.asarray(snap.segments.length_m)
    car_segs = np.unique(np.asarray(snap.modes["car"].edge_seg))
    s = int(car_segs[np.argmax(length[car_segs])])
    coords = chain_coords(snap, np.array([s]))
    pr = matcher.projection
    x, y = pr.to_xy(coords[:, 0], coords[:, 1])
    g = shapely.LineString(np.column_stack([x, y]))
    piece = substring(g, 0.4 * g.length, 0.4 * g.length + 80.0)
    xy = shapely.get_coordinates(piece)
    line = {"type": "LineString",
            "coordinates": [list(pr.to_lonlat(float(a), float(b))) for a, b in xy]}
    r = matcher.match(line, "forward")
    assert set(_car_segments(snap, r)) == {s}


def test_cross_streets_touched_by_the_line_do_not_match(snap, matcher, madison) -> None:
    line = offset_line(matcher, chain_coords(snap, madison), 0.0)
    r = matcher.match(line, "both")
    assert set(_car_segments(snap, r)) == set(madison.tolist())
    assert r.street_names == ("Madison Avenue",)


def test_multilinestring_matches_each_part(snap, matcher, madison) -> None:
    a = offset_line(matcher, chain_coords(snap, madison[:2]), 3.0)["coordinates"]
    b = offset_line(matcher, chain_coords(snap, madison[-2:]), 3.0)["coordinates"]
    r = matcher.match({"type": "MultiLineString", "coordinates": [a, b]}, "forward")
    want = np.concatenate([madison[:2], madison[-2:]])
    assert _car_segments(snap, r) == want.tolist()


def test_point_matches_the_nearest_street(snap, matcher, madison) -> None:
    pr = matcher.projection
    car_segs = np.unique(np.asarray(snap.modes["car"].edge_seg))
    length = np.asarray(snap.segments.length_m)
    for s in sorted(madison.tolist(), key=lambda k: -length[k]):
        coords = chain_coords(snap, np.array([s]))
        x, y = pr.to_xy(coords[:, 0], coords[:, 1])
        g = shapely.LineString(np.column_stack([x, y]))
        mid = shapely.offset_curve(g, 3.0).interpolate(0.5, normalized=True)
        # Independent check: the nearest car segment by brute force.
        d = shapely.distance(matcher.geoms[car_segs], mid)
        if int(car_segs[np.argmin(d)]) == s and np.sort(d)[1] > np.min(d) + 2.0:
            break
    else:
        pytest.fail("no Madison Avenue segment is clearly the nearest to its offset midpoint")
    point = {"type": "Point", "coordinates": list(pr.to_lonlat(mid.x, mid.y))}
    r = matcher.match(point)
    assert set(r.edges["car"].tolist()) == directed_edges(snap, "car", np.array([s]), None)
    assert "Madison Avenue" in r.street_names
    assert matcher.match(point, tolerance_m=1.0).edge_count == 0


def test_polygon_matches_edges_inside_or_crossing(snap, matcher) -> None:
    ring = [[-84.5120, 39.0830], [-84.5080, 39.0830], [-84.5080, 39.0860], [-84.5120, 39.0860],
            [-84.5120, 39.0830]]
    r = matcher.match({"type": "Polygon", "coordinates": [ring]})
    # Brute force in lon/lat (the local projection is affine, so predicates agree).
    seg = snap.segments
    lon, lat = np.asarray(seg.lon), np.asarray(seg.lat)
    poly = shapely.Polygon(ring)
    inside = [s for s in range(seg.u.shape[0]) if poly.intersects(shapely.LineString(
        np.column_stack([lon[seg.gstart[s]:seg.gend[s]], lat[seg.gstart[s]:seg.gend[s]]])))]
    for mode in ("car", "bike", "walk"):
        assert set(r.edges[mode].tolist()) == directed_edges(snap, mode, np.array(inside), None)
    assert len(inside) > 20 and r.length_m > 1000
    assert "Madison Avenue" in r.street_names


def test_far_away_geometry_matches_nothing(matcher) -> None:
    for g in ({"type": "Point", "coordinates": [-80.0, 35.0]},
              {"type": "LineString", "coordinates": [[-80.0, 35.0], [-80.01, 35.01]]},
              {"type": "Polygon", "coordinates": [[[-80, 35], [-80.01, 35], [-80.01, 35.01],
                                                   [-80, 35]]]}):
        r = matcher.match(g, "both")
        assert r.empty and r.edge_count == 0 and r.to_dict()["street_names"] == []


def test_stops_within_polygon_and_near_line(matcher) -> None:
    ids, lat, lon = load_stops()
    ring = [[-84.5130, 39.0800], [-84.5050, 39.0800], [-84.5050, 39.0880], [-84.5130, 39.0880],
            [-84.5130, 39.0800]]
    poly = shapely.Polygon(ring)
    want = {ids[i] for i in range(len(ids)) if poly.intersects(shapely.Point(lon[i], lat[i]))}
    assert want
    r = matcher.match({"type": "Polygon", "coordinates": [ring]})
    assert set(r.stops) == want
    assert [ids[i] for i in r.stop_indices.tolist()] == list(r.stops)
    # A point 5 m from a stop (no road needed) finds it; 20 m default tolerance.
    i = ids.index(sorted(want)[0])
    pt = {"type": "Point", "coordinates": [lon[i] + 5.0 / 86_000, lat[i]]}
    assert ids[i] in matcher.match(pt, modes=()).stops
    assert not matcher.match(pt, modes=(), stop_tolerance_m=1.0).stops


def test_bad_geometry_and_direction_are_rejected(matcher) -> None:
    with pytest.raises(GeometryMatchError):
        matcher.match({"type": "GeometryCollection", "geometries": []})
    with pytest.raises(GeometryMatchError):
        matcher.match({"type": "Point", "coordinates": [-84.5, 39.0]}, "sideways")
    with pytest.raises(GeometryMatchError):
        matcher.match({"type": "LineString", "coordinates": [[-84.5, float("nan")]]})


def test_route_geometry_matches_the_route_edges(nky_router, nky_state, matcher) -> None:
    """A ~2-5 km line drawn along a car route matches that route's edges, in its direction
    only (speed is measured in bench/, not asserted here)."""
    for (a, b), (c, d) in (((39.0837, -84.5086), (39.0700, -84.4900)),
                           ((39.0650, -84.5120), (39.0880, -84.5090))):
        route = nky_router.route(nky_state, "car", a, b, c, d)
        assert route.distance_m > 2000
        line = route.geometry()
        r = matcher.match(line, "forward")
        inner = set(route.edges[1:-1].tolist())  # the end edges are only partly travelled
        got = set(r.edges["car"].tolist())
        assert inner <= got
        assert len(got - set(route.edges.tolist())) <= 0.1 * len(inner)
