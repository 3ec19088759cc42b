"""Matrices and isochrones against independent oracles on two real cities.

* Road matrices (CCH one-to-many) = plain Dijkstra (scipy) on the kernel graph from the same
  snapped ends, and distances = the distance of the route the point-to-point router gives.
* Transit matrices (RAPTOR one-to-all) = the brute-force round-based connection scan
  (``tests/gtfs/oracle.py``) with the same walking access and egress, or walking all the way.
* Isochrones: the bounded one-to-all search = Dijkstra; every junction reached within the
  limit lies inside the contour, and every junction inside that is reached only later lies
  within the contour's tolerance of a road piece reached in time (sampled independently with
  shapely along the segment geometry).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from gtfs import query as tq
from routing.isochrone import Contours, feature_collection
from routing.kernels.limits import INF_WEIGHT
from routing.kernels.reach import UNREACHED
from routing.plan import Planner, PlanRequest, TransitData
from routing.reach import REASON_NO_ROUTE, Reach
from routing.road import RoutingError, SnapError
from tests.conftest import PDX_GTFS, PDX_OSM
from tests.gtfs.oracle import INF, Oracle


@pytest.fixture(scope="module")
def pdx_transit_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Central Portland with the TriMet two-route timetable."""
    from routing.build import build_snapshot

    out = tmp_path_factory.mktemp("snap") / "pdx_transit"
    build_snapshot(PDX_OSM, out, [PDX_GTFS])
    return out


@pytest.fixture(scope="module")
def pdx_transit(pdx_transit_dir: Path):
    from routing.road import RoadRouter
    from routing.snapshot import load_snapshot
    from routing.state import StatePublisher

    snap = load_snapshot(pdx_transit_dir)
    router = RoadRouter(snap)
    planner = Planner(snap, router, TransitData.load(pdx_transit_dir))
    return router, planner, StatePublisher(router)


def _random_points(router, rng: np.random.Generator, k: int) -> list[tuple[float, float]]:
    """Points near random junctions (a few metres off), plus one far outside the city."""
    lon = np.asarray(router.snapshot.node_lon)
    lat = np.asarray(router.snapshot.node_lat)
    idx = rng.integers(0, lon.shape[0], k)
    pts = [(float(lat[i]) + rng.normal(0, 2e-4), float(lon[i]) + rng.normal(0, 2e-4))
           for i in idx]
    return pts


def _kernel_csr(mr, w: np.ndarray):
    arc_w = np.asarray(mr.arc_weights(np.asarray(w, dtype=np.int64)), dtype=np.float64)
    ok = arc_w < INF_WEIGHT
    n = mr.arrays.kernel_node_count
    # +1: a super source; parallel arcs keep the smallest weight (coo sums duplicates, so
    # build from the minimum per pair)
    tail = np.asarray(mr.arc_tail)[ok]
    head = np.asarray(mr.arrays.arc_head)[ok]
    wv = arc_w[ok]
    order = np.lexsort((wv, head, tail))
    tail, head, wv = tail[order], head[order], wv[order]
    first = np.ones(tail.shape[0], dtype=bool)
    first[1:] = (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])
    return tail[first], head[first], wv[first], n


def _oracle_from(mr, w, sources: list[tuple[int, int]]) -> np.ndarray:
    """Dijkstra (scipy) cost to every kernel node from (node, initial cost) sources."""
    tail, head, wv, n = _kernel_csr(mr, w)
    first: dict[int, int] = {}
    for k, c in sources:
        first[k] = min(first.get(k, c), c)
    s = n
    rows = np.concatenate([tail, np.full(len(first), s)])
    cols = np.concatenate([head, list(first)])
    # +1 on source arcs and a tiny weight on zero arcs keep them in the sparse matrix
    vals = np.concatenate([np.maximum(wv, 1e-6), [c + 1.0 for c in first.values()]])
    g = coo_matrix((vals, (rows, cols)), shape=(n + 1, n + 1)).tocsr()
    d = dijkstra(g, directed=True, indices=s)[:n]
    return np.round(d - 1.0)  # every path starts on one source arc


CITIES = ["nky", "pdx"]


def _city(request, city: str):
    if city == "nky":
        return request.getfixturevalue("nky_router"), request.getfixturevalue("nky_publisher")
    router, _, pub = request.getfixturevalue("pdx_transit")
    return router, pub


@pytest.mark.parametrize("city", CITIES)
@pytest.mark.parametrize("mode", ["car", "walk"])
def test_road_matrix_equals_dijkstra_and_routes(request, city: str, mode: str) -> None:
    router, pub = _city(request, city)
    state = pub.current()
    reach = Reach(router)
    rng = np.random.default_rng(11 + len(mode) + len(city))
    sources = _random_points(router, rng, 8) + [(0.0, 0.0)]  # the last is off the network
    targets = _random_points(router, rng, 9)
    m = reach.road_matrix(state, mode, sources, targets)
    mr = router.modes[mode]
    w = state.weights(mode)
    assert all(r == "source_not_on_network" for r in m.reasons[-1])
    finite = 0
    for i, (la, lo) in enumerate(sources[:-1]):
        src = router.snap(state, mode, la, lo, "from", w)
        s_pairs = [(int(mr.edge_head_knode[e]), int(round(float(w[e]) * (1 - min(max(
            x / router.seg_length_m[mr.edge_seg[e]], 0), 1))))) for e, x in src.edges]
        dist = _oracle_from(mr, w, s_pairs)
        for j, (lb, lob) in enumerate(targets):
            dst = router.snap(state, mode, lb, lob, "to", w)
            best = np.inf
            for e, x in dst.edges:
                seg_l = router.seg_length_m[mr.edge_seg[e]]
                fw = int(round(float(w[e]) * min(max(x / seg_l, 0), 1)))
                arcs = slice(mr.edge_arc_offsets[e], mr.edge_arc_offsets[e + 1])
                tails = mr.arc_tail[arcs]
                if tails.shape[0]:  # entering the edge: its arc's turn time too
                    turn = (mr.arc_turn[arcs] if mr.arc_turn.shape[0]
                            else np.zeros(tails.shape[0]))
                    best = min(best, float((dist[tails] + turn).min()) + fw)
                for e0, x0 in src.edges:  # both ends on one edge, in order
                    if e0 == e and x >= x0:
                        best = min(best, round(float(w[e]) * (x - x0) / seg_l))
            got = m.durations_s[i][j]
            if not np.isfinite(best):
                assert got is None and m.reasons[i][j] == REASON_NO_ROUTE
                continue
            finite += 1
            assert got is not None and abs(got - best / 1000.0) <= 0.051, (i, j, got, best)
            route = router.route(state, mode, la, lo, lb, lob)
            assert abs(route.duration_s - got) <= 0.051
            assert m.distances_m is not None
            assert abs(m.distances_m[i][j] - route.distance_m) <= 0.2, (i, j)
    assert finite >= 40


def test_road_matrix_follows_live_closures(nky_router, nky_publisher) -> None:
    """A matrix on a state with edges closed equals Dijkstra on those weights (the live
    state, not free flow)."""
    base = nky_publisher.current()
    mr = nky_router.modes["car"]
    w = np.array(base.weights("car"))
    rng = np.random.default_rng(5)
    w[rng.choice(w.shape[0], w.shape[0] // 20, replace=False)] = INF_WEIGHT
    state = nky_publisher.custom({"car": w}, base)
    reach = Reach(nky_router)
    pts = _random_points(nky_router, rng, 6)
    m = reach.road_matrix(state, "car", pts, pts, distances=False)
    free = reach.road_matrix(base, "car", pts, pts, distances=False)
    assert m.distances_m is None
    changed = 0
    for i in range(len(pts)):
        for j in range(len(pts)):
            try:
                r = nky_router.route(state, "car", *pts[i], *pts[j])
                assert m.durations_s[i][j] is not None
                assert abs(r.duration_s - m.durations_s[i][j]) <= 0.051
            except RoutingError:
                assert m.durations_s[i][j] is None
            changed += m.durations_s[i][j] != free.durations_s[i][j]
    assert changed > 0
    assert mr.free_flow_ms.shape == w.shape


def _service_day(planner: Planner) -> dt.datetime:
    start, end = planner.transit.service_period
    day = start + dt.timedelta(days=1)
    while day.weekday() != 2:  # a Wednesday
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(8, 0), tzinfo=ZoneInfo(planner.transit.ref_tz))


def _transit_city(request, city: str):
    if city == "nky":
        return (request.getfixturevalue("nky_router"), request.getfixturevalue("nky_planner"),
                request.getfixturevalue("nky_publisher"))
    return request.getfixturevalue("pdx_transit")


def _near_stops(planner: Planner, rng: np.random.Generator, k: int) -> list[tuple[float, float]]:
    lat = np.asarray(planner.tt.arrays["stop_lat"])
    lon = np.asarray(planner.tt.arrays["stop_lon"])
    idx = rng.integers(0, lat.shape[0], k)
    return [(float(lat[i]) + rng.normal(0, 1e-3), float(lon[i]) + rng.normal(0, 1e-3))
            for i in idx]


@pytest.mark.parametrize("city", CITIES)
def test_transit_matrix_equals_connection_scan(request, city: str) -> None:
    router, planner, pub = _transit_city(request, city)
    state = pub.current()
    reach = Reach(router, planner)
    rng = np.random.default_rng(3 + len(city))
    sources = _near_stops(planner, rng, 6)
    targets = _near_stops(planner, rng, 7)
    t = _service_day(planner)
    m = reach.transit_matrix(state, sources, targets, t)
    walk = reach.road_matrix(state, "walk", sources, targets, distances=False)
    req = PlanRequest(sources[0], targets[0], t)
    date, t0 = planner.clock(t)
    oracle = Oracle(planner.tt, planner.day(date), planner.footpaths(req), req.min_transfer_s,
                    live=state.transit_live())
    by_transit = 0

    def walk_times(p: tuple[float, float], towards: bool):
        try:
            return planner.walk_times(state, *p, towards=towards, req=req)
        except SnapError:
            return None

    for i, s in enumerate(sources):
        access = walk_times(s, False)
        for j, d in enumerate(targets):
            egress = walk_times(d, True)
            best = np.inf
            if access is None or egress is None:
                assert m.durations_s[i][j] is None
                assert m.reasons[i][j] in ("source_not_on_network", "target_not_on_network")
                continue
            if access[0].size and egress[0].size:
                b = oracle.best_by_rounds(access, egress, t0, req.max_transfers + 1)
                if b[-1] < INF:
                    best = float(b[-1] - t0)
            w = walk.durations_s[i][j]
            want = min(best, np.inf if w is None else w)
            got = m.durations_s[i][j]
            if not np.isfinite(want):
                assert got is None
                continue
            by_transit += best < (np.inf if w is None else w)
            assert got is not None and abs(got - want) <= 0.051, (i, j, got, want)
    assert by_transit >= 3


def test_transit_matrix_window_is_the_median_of_departures(request) -> None:
    router, planner, pub = _transit_city(request, "nky")
    state = pub.current()
    reach = Reach(router, planner)
    rng = np.random.default_rng(9)
    sources = _near_stops(planner, rng, 3)
    targets = _near_stops(planner, rng, 3)
    t = _service_day(planner)
    win = reach.transit_matrix(state, sources, targets, t, window_s=1800, step_s=600)
    assert win.departures == 4
    singles = [reach.transit_matrix(state, sources, targets, t + dt.timedelta(seconds=o))
               for o in (0, 600, 1200, 1800)]
    for i in range(3):
        for j in range(3):
            vals = [np.inf if s.durations_s[i][j] is None else s.durations_s[i][j]
                    for s in singles]
            med = float(np.median(vals))
            got = win.durations_s[i][j]
            assert (got is None) == (not np.isfinite(med))
            if got is not None:
                assert abs(got - med) <= 0.051


def test_stop_arrivals_equal_the_connection_scan(nky_planner, nky_publisher) -> None:
    """RAPTOR one-to-all: every stop's arrival by vehicle = the oracle with that stop as the
    only egress (zero walk)."""
    p = nky_planner
    state = nky_publisher.current()
    t = _service_day(p)
    date, t0 = p.clock(t)
    req = PlanRequest((0, 0), (0, 0), t)
    fp = p.footpaths(req)
    oracle = Oracle(p.tt, p.day(date), fp, 60)
    rng = np.random.default_rng(2)
    for _ in range(3):
        a = rng.integers(0, p.tt.n_stops, 2)
        access = (a.astype(np.int32), rng.integers(0, 600, 2).astype(np.int64))
        arr = tq.stop_arrivals(p.tt, p.day(date), access, t0, max_rounds=4, footpaths=fp)
        for s in rng.integers(0, p.tt.n_stops, 25).tolist():
            b = oracle.best_by_rounds(access, (np.array([s]), np.array([0])), t0, 4)
            want = tq.INF_S if b[-1] >= INF else int(b[-1])
            assert int(arr[s]) == want, s
    assert state.version >= 0


@pytest.mark.parametrize("city,mode,minutes", [("nky", "car", 8.0), ("nky", "walk", 15.0),
                                               ("pdx", "car", 4.0), ("pdx", "bike", 8.0)])
def test_isochrone_contains_reached_and_little_else(request, city: str, mode: str,
                                                    minutes: float) -> None:
    router, pub = _city(request, city)
    state = pub.current()
    reach = Reach(router)
    contours = Contours(router)
    mr = router.modes[mode]
    w = state.weights(mode)
    rng = np.random.default_rng(len(city) * 7 + len(mode))
    proj = router.projection
    jx, jy = proj.to_xy(np.asarray(router.snapshot.node_lon), np.asarray(router.snapshot.node_lat))
    seg = router.segments
    for lat, lon in _random_points(router, rng, 2):
        limit_ms = int(minutes * 60_000)
        rr = reach.road_times(state, mode, lat, lon, minutes * 60)
        src = [(int(mr.edge_head_knode[e]), int(round(float(w[e]) * (1 - min(max(
            x / router.seg_length_m[mr.edge_seg[e]], 0), 1))))) for e, x in rr.origin.edges]
        kd = _oracle_from(mr, w, src)
        # the bounded kernel = Dijkstra within the limit
        inside_limit = kd <= limit_ms
        assert np.array_equal(rr.knode_ms[inside_limit], kd[inside_limit].astype(np.int64))
        assert (rr.knode_ms[~inside_limit] == UNREACHED).all()
        jt = np.full(jx.shape[0], np.inf)
        np.minimum.at(jt, np.asarray(mr.arrays.knode_junction), kd)
        (c,) = contours.contours(rr, [minutes])
        poly = c.polygon_xy
        reached = np.flatnonzero(jt <= limit_ms)
        assert reached.size > 5
        assert shapely.contains_xy(poly, jx[reached], jy[reached]).all()
        # reached road, sampled independently: tail entry time, then linear along the edge
        entry = np.full(w.shape[0], np.inf)
        np.minimum.at(entry, mr.arc_edge, kd[mr.arc_tail])
        pts = [proj.to_xy(rr.origin.snap.lon, rr.origin.snap.lat)]
        for e in np.flatnonzero((entry <= limit_ms) & (w < INF_WEIGHT)).tolist():
            s = int(mr.edge_seg[e])
            a, b = int(seg.gstart[s]), int(seg.gend[s])
            x, y = proj.to_xy(np.asarray(seg.lon[a:b]), np.asarray(seg.lat[a:b]))
            line = shapely.LineString(np.column_stack([x, y]))
            f = min(1.0, (limit_ms - entry[e]) / max(float(w[e]), 1.0))
            ts = np.linspace(0, f, max(2, int(line.length * f / 4) + 2))
            if mr.edge_rev[e]:
                ts = 1.0 - ts
            p = shapely.line_interpolate_point(line, ts, normalized=True)
            pts.extend(zip(shapely.get_x(p), shapely.get_y(p), strict=True))
        tree = cKDTree(np.asarray(pts))
        later = np.flatnonzero(np.isfinite(jt) & (jt > limit_ms) | ~np.isfinite(jt))
        inside_later = later[shapely.contains_xy(poly, jx[later], jy[later])]
        if inside_later.size:
            d, _ = tree.query(np.column_stack([jx[inside_later], jy[inside_later]]))
            assert d.max() <= c.tolerance_m + 4.0, d.max()
        # and most of what is only reached later is outside
        assert inside_later.size < later.size


def test_isochrones_nest_and_compare_with_free_flow(nky_router, nky_publisher) -> None:
    base = nky_publisher.current()
    reach = Reach(nky_router)
    contours = Contours(nky_router)
    lat, lon = 39.0837, -84.5086
    w = np.array(base.weights("car"))
    rr0 = reach.road_times(base, "car", lat, lon, 600)
    # close a third of the edges the search enters between 1 and 4 minutes
    entry = contours.edge_entry_ms(rr0)
    ring = np.flatnonzero((entry > 60_000) & (entry <= 240_000))
    w[np.random.default_rng(1).choice(ring, ring.shape[0] // 3, replace=False)] = INF_WEIGHT
    state = nky_publisher.custom({"car": w}, base)
    rr = reach.road_times(state, "car", lat, lon, 600)
    mine = contours.contours(rr, [5, 10])
    assert mine[0].area_m2 < mine[1].area_m2
    # holes (blocks the roads surround but do not come near) are kept
    polys = list(getattr(mine[1].polygon_xy, "geoms", [mine[1].polygon_xy]))
    assert sum(len(p.interiors) for p in polys) > 0
    assert all(shapely.is_valid(c.polygon_xy) for c in mine)
    assert mine[0].road_length_m < mine[1].road_length_m
    rb = reach.road_times(state, "car", lat, lon, 600, weights=state.free_flow["car"].weights_ms)
    base_c = contours.contours(rb, [5, 10])
    fc = feature_collection(contours, mine, base_c, {"mode": "car"})
    reach_f = [f for f in fc["features"] if f["properties"]["kind"] == "reachable"]
    lost_f = [f for f in fc["features"] if f["properties"]["kind"] == "lost"]
    assert [f["properties"]["minutes"] for f in reach_f] == [10.0, 5.0]
    assert len(lost_f) == 2
    five = next(f for f in reach_f if f["properties"]["minutes"] == 5.0)["properties"]
    assert five["road_length_lost_m"] > 1000
    assert five["area_lost_m2"] > 0


def test_transit_isochrone_reaches_stops_by_vehicle(nky_router, nky_planner,
                                                    nky_publisher) -> None:
    state = nky_publisher.current()
    reach = Reach(nky_router, nky_planner)
    contours = Contours(nky_router)
    t = _service_day(nky_planner)
    lat, lon = 39.0837, -84.5086
    tr = reach.transit_times(state, lat, lon, t, 1800)
    walk = reach.road_times(state, "walk", lat, lon, 1800)
    (c15, c30) = contours.contours(tr.walk, [15, 30], tr.stop_s)
    (w30,) = contours.contours(walk, [30])
    assert c30.stops_reached > c15.stops_reached > 0
    # transit reaches more than walking alone, and everything walking reaches
    assert c30.road_length_m > 1.2 * w30.road_length_m
    reached_walk = walk.junction_ms < UNREACHED
    assert (tr.walk.junction_ms[reached_walk] <= walk.junction_ms[reached_walk]).all()
    # stops' arrivals are those of RAPTOR one-to-all
    _, arr = reach.stop_arrivals(state, lat, lon, t)
    date, t0 = nky_planner.clock(t)
    ok = tr.stop_s >= 0
    assert np.array_equal(tr.stop_s[ok], arr[ok] - t0)


def test_road_contours_count_the_stops_on_reached_streets(nky_router, nky_planner,
                                                          nky_publisher) -> None:
    """Walk 10 min: the stops a contour counts = the stops whose street position Dijkstra
    reaches in time (entry of an edge of the stop's segment + the walk along it)."""
    state = nky_publisher.current()
    t = nky_planner.transit
    contours = Contours(nky_router, t.stop_seg, t.stop_frac)
    reach = Reach(nky_router)
    mr = nky_router.modes["walk"]
    w = state.weights("walk")
    lat, lon = 39.0837, -84.5086
    limit_ms = 600_000
    rr = reach.road_times(state, "walk", lat, lon, 600)
    (c,) = contours.contours(rr, [10])
    src = [(int(mr.edge_head_knode[e]), int(round(float(w[e]) * (1 - min(max(
        x / nky_router.seg_length_m[mr.edge_seg[e]], 0), 1))))) for e, x in rr.origin.edges]
    kd = _oracle_from(mr, w, src)
    entry = np.full(w.shape[0], np.inf)
    np.minimum.at(entry, mr.arc_edge, kd[mr.arc_tail])
    want = set()
    stop_seg = np.asarray(t.stop_seg)
    stop_frac = np.asarray(t.stop_frac)
    for s in np.flatnonzero(stop_seg >= 0).tolist():
        seg = int(stop_seg[s])
        for e in range(int(mr.seg_edge_lo[seg]), int(mr.seg_edge_hi[seg])):
            if w[e] >= INF_WEIGHT:
                continue
            along = 1.0 - stop_frac[s] if mr.edge_rev[e] else stop_frac[s]
            if entry[e] + along * w[e] <= limit_ms + 1:
                want.add(s)
        for e, x in rr.origin.edges:  # along the origin's own edge
            if int(mr.edge_seg[e]) == seg:
                seg_l = nky_router.seg_length_m[seg]
                f0 = x / seg_l
                along = (1.0 - stop_frac[s]) if mr.edge_rev[e] else stop_frac[s]
                if along >= f0 and (along - f0) * w[e] <= limit_ms:
                    want.add(s)
    got = set(c.stop_ids.tolist())
    assert len(want) > 3
    # a stop exactly at the limit may fall either side of the rounding
    assert len(got ^ want) <= 1, (sorted(got - want), sorted(want - got))


def _reached_samples(router, mr, w: np.ndarray, starts: list[tuple[int, float, float]],
                     limit_ms: int) -> list[tuple[float, float]]:
    """Points (local metres) sampled every ~4 m along the road reached within ``limit_ms``
    from ``(edge, position along the edge 0..1, time ms there)`` starts, linear along the
    edge (independent of the contour code)."""
    proj, seg = router.projection, router.segments
    pts: list[tuple[float, float]] = []
    for e, pos, t in starts:
        if t > limit_ms or w[e] >= INF_WEIGHT:
            continue
        s = int(mr.edge_seg[e])
        a, b = int(seg.gstart[s]), int(seg.gend[s])
        x, y = proj.to_xy(np.asarray(seg.lon[a:b]), np.asarray(seg.lat[a:b]))
        line = shapely.LineString(np.column_stack([x, y]))
        f = min(1.0 - pos, (limit_ms - t) / max(float(w[e]), 1.0))
        ts = np.linspace(pos, pos + f, max(2, int(line.length * f / 4) + 2))
        if mr.edge_rev[e]:
            ts = 1.0 - ts
        p = shapely.line_interpolate_point(line, ts, normalized=True)
        pts.extend(zip(shapely.get_x(p), shapely.get_y(p), strict=True))
    return pts


@pytest.mark.parametrize("city,minutes", [("nky", 20.0), ("pdx", 15.0)])
def test_transit_isochrone_polygon_against_connection_scan(request, city: str,
                                                           minutes: float) -> None:
    """Transit contours against an independent oracle: per-stop arrivals by vehicle from the
    brute-force connection scan (same walking access), then walking egress by Dijkstra
    (scipy) from the origin and every stop reached in time. Every junction reached within
    the limit and every stop reached by vehicle in time lie inside the contour; every junction
    inside that is reached only later lies within the contour's documented tolerance of a
    road piece reached in time."""
    router, planner, pub = _transit_city(request, city)
    state = pub.current()
    contours = Contours(router, planner.transit.stop_seg, planner.transit.stop_frac)
    reach = Reach(router, planner)
    mr = router.modes["walk"]
    w = state.weights("walk")
    proj, seg = router.projection, router.segments
    jx, jy = proj.to_xy(np.asarray(router.snapshot.node_lon), np.asarray(router.snapshot.node_lat))
    t = _service_day(planner)
    date, t0 = planner.clock(t)
    req = PlanRequest((0.0, 0.0), (0.0, 0.0), t)
    oracle = Oracle(planner.tt, planner.day(date), planner.footpaths(req), req.min_transfer_s,
                    live=state.transit_live())
    limit_ms = int(minutes * 60_000)
    stop_seg = np.asarray(planner.transit.stop_seg)
    stop_frac = np.asarray(planner.transit.stop_frac, dtype=np.float64)
    rng = np.random.default_rng(11 + len(city))
    checked = by_vehicle = 0
    for lat, lon in _near_stops(planner, rng, 3):
        try:
            tr = reach.transit_times(state, lat, lon, t, minutes * 60)
            access = planner.walk_times(state, lat, lon, towards=False, req=req)
        except SnapError:
            continue
        (c,) = contours.contours(tr.walk, [minutes], tr.stop_s)
        poly = c.polygon_xy
        # oracle: stops by vehicle within the limit = RAPTOR's
        arr = oracle.stop_arrivals(access, t0, req.max_transfers + 1) if access[0].size \
            else np.full(planner.tt.n_stops, INF)
        rel_ms = np.where(arr < INF, (arr - t0) * 1000, np.iinfo(np.int64).max)
        reached_stops = np.flatnonzero(rel_ms <= limit_ms)
        assert np.array_equal(reached_stops, np.flatnonzero(tr.stop_s >= 0))
        by_vehicle += reached_stops.size
        # walking egress: Dijkstra from the origin and from every stop reached in time
        src = [(int(mr.edge_head_knode[e]), int(round(float(w[e]) * (1 - min(max(
            x / router.seg_length_m[mr.edge_seg[e]], 0), 1))))) for e, x in tr.walk.origin.edges]
        starts: list[tuple[int, float, float]] = []
        for e, x in tr.walk.origin.edges:
            starts.append((e, min(max(x / router.seg_length_m[mr.edge_seg[e]], 0.0), 1.0), 0.0))
        for s in reached_stops.tolist():
            sg = int(stop_seg[s])
            if sg < 0:
                continue
            for e in range(int(mr.seg_edge_lo[sg]), int(mr.seg_edge_hi[sg])):
                if w[e] >= INF_WEIGHT:
                    continue
                pos = 1.0 - stop_frac[s] if mr.edge_rev[e] else stop_frac[s]
                src.append((int(mr.edge_head_knode[e]),
                            int(rel_ms[s]) + int(round(float(w[e]) * (1.0 - pos)))))
                starts.append((e, float(pos), float(rel_ms[s])))
        kd = _oracle_from(mr, w, src)
        jt = np.full(jx.shape[0], np.inf)
        np.minimum.at(jt, np.asarray(mr.arrays.knode_junction), kd)
        reached = np.flatnonzero(jt <= limit_ms)
        assert reached.size > 5
        assert shapely.contains_xy(poly, jx[reached], jy[reached]).all()
        # the stops reached by vehicle in time lie inside
        linked = reached_stops[stop_seg[reached_stops] >= 0]
        if linked.size:
            sg = stop_seg[linked]
            sx = np.empty(linked.size)
            sy = np.empty(linked.size)
            for k, (g, f) in enumerate(zip(sg.tolist(), stop_frac[linked].tolist(),
                                           strict=True)):
                a, b = int(seg.gstart[g]), int(seg.gend[g])
                x, y = proj.to_xy(np.asarray(seg.lon[a:b]), np.asarray(seg.lat[a:b]))
                p = shapely.LineString(np.column_stack([x, y])).interpolate(f, normalized=True)
                sx[k], sy[k] = p.x, p.y
            inside = shapely.contains_xy(poly, sx, sy)
            assert inside.all(), linked[~inside]
        # nothing reached only later, beyond the tolerance of a piece reached in time
        entry = np.full(w.shape[0], np.inf)
        np.minimum.at(entry, mr.arc_edge, kd[mr.arc_tail])
        starts += [(e, 0.0, float(entry[e])) for e in
                   np.flatnonzero((entry <= limit_ms) & (w < INF_WEIGHT)).tolist()]
        pts = [proj.to_xy(tr.walk.origin.snap.lon, tr.walk.origin.snap.lat)]
        pts += _reached_samples(router, mr, w, starts, limit_ms)
        tree = cKDTree(np.asarray(pts))
        later = np.flatnonzero(~(jt <= limit_ms))
        inside_later = later[shapely.contains_xy(poly, jx[later], jy[later])]
        if inside_later.size:
            d, _ = tree.query(np.column_stack([jx[inside_later], jy[inside_later]]))
            assert d.max() <= c.tolerance_m + 4.0, d.max()
        assert inside_later.size < later.size
        checked += 1
    assert checked >= 2 and by_vehicle > 0
