"""The fast road core against independent oracles on real data, on many random queries."""

from __future__ import annotations

import numpy as np
import pytest

from routing.graph import INF_WEIGHT
from routing.osm import read_osm
from routing.profiles import FLAG_DEST
from routing.road import NoRouteError, SnapError
from tests.conftest import NKY_OSM, PDX_OSM
from tests.routing.oracle import LineGraphOracle, kernel_distances

PAIRS = 500
ALL_MODES = ["car", "bike", "walk", "bus", "truck"]


def _pairs(rng: np.random.Generator, n_nodes: int, k: int) -> list[tuple[int, int]]:
    return [tuple(x) for x in rng.integers(0, n_nodes, size=(k, 2)).tolist()]


def _source_targets(rng: np.random.Generator, nodes: np.ndarray, n_sources: int,
                    per_source: int) -> tuple[np.ndarray, np.ndarray]:
    """``n_sources`` random sources (rows) and ``per_source`` random targets for each."""
    src = nodes[rng.integers(0, nodes.shape[0], n_sources)]
    dst = nodes[rng.integers(0, nodes.shape[0], (n_sources, per_source))]
    return src, dst


def _check_against_dijkstra(metric, mr, arc_w: np.ndarray, src: np.ndarray,
                            dst: np.ndarray) -> int:
    """Every (source, target) CCH distance = plain one-to-all Dijkstra's; finite answers."""
    dist = kernel_distances(mr.arc_tail, np.asarray(mr.arrays.arc_head), arc_w, INF_WEIGHT,
                            mr.arrays.kernel_node_count, src)
    finite = 0
    for i, s in enumerate(src.tolist()):
        for t in dst[i].tolist():
            d = dist[i, t]
            want = int(d) if np.isfinite(d) else None
            assert metric.distance(s, t) == want, (s, t)
            finite += want is not None
    return finite


@pytest.mark.parametrize("mode", ALL_MODES)
def test_kernel_equals_plain_dijkstra(nky_router, nky_state, mode: str) -> None:
    """CCH distances = plain Dijkstra on the same kernel graph: 100 random sources, each
    searched once to every node, compared on 10 random targets each (1000 pairs)."""
    mr = nky_router.modes[mode]
    arc_w = mr.arc_weights(mr.free_flow_ms)
    metric = nky_state.metric(mode)
    rng = np.random.default_rng(20260 + len(mode))
    # Draw the nodes from those that have arcs so most answers are finite paths.
    src, dst = _source_targets(rng, np.unique(mr.arc_tail), 100, 10)
    finite = _check_against_dijkstra(metric, mr, arc_w, src, dst)
    assert finite > dst.size * 0.6


def test_kernel_with_live_weights_equals_dijkstra_on_modified_weights(nky_router) -> None:
    """Routing under changed weights (slowdowns, closures) = Dijkstra on those weights
    (40 random sources x 10 random targets)."""
    from routing.kernels.cch import RoadKernel

    mr = nky_router.modes["car"]
    rng = np.random.default_rng(7)
    w = mr.free_flow_ms.copy()
    slow = rng.random(w.shape[0]) < 0.2
    w[slow] = (w[slow] * rng.uniform(1.5, 6.0, slow.sum())).astype(np.int64)
    w[rng.random(w.shape[0]) < 0.03] = INF_WEIGHT
    kernel = RoadKernel(mr.arrays.kernel_node_count, mr.arc_tail,
                        np.asarray(mr.arrays.arc_head), np.asarray(mr.arrays.cch_order))
    metric = kernel.customize(mr.arc_weights(w))
    src, dst = _source_targets(rng, np.unique(mr.arc_tail), 40, 10)
    _check_against_dijkstra(metric, mr, mr.arc_weights(w), src, dst)


@pytest.fixture(scope="module")
def pdx_osm():
    return read_osm(PDX_OSM)


@pytest.fixture(scope="module")
def nky_osm():
    return read_osm(NKY_OSM)


@pytest.mark.parametrize("mode", ALL_MODES)
def test_routes_equal_edge_based_oracle(pdx_router, pdx_state, pdx_osm, mode: str) -> None:
    """Full coordinate-to-coordinate answers = edge-based Dijkstra with turn rules read
    from the raw OSM, on 500 random pairs; geometry and totals are consistent."""
    oracle = LineGraphOracle(pdx_router, mode, pdx_osm, at=pdx_state.at)
    lat = np.asarray(pdx_router.snapshot.node_lat)
    lon = np.asarray(pdx_router.snapshot.node_lon)
    rng = np.random.default_rng(99 + len(mode))
    w = pdx_state.weights(mode)
    checked = 0
    for a, b in _pairs(rng, lat.shape[0], PAIRS):
        p = (lat[a] + rng.normal(0, 2e-4), lon[a] + rng.normal(0, 2e-4))
        q = (lat[b] + rng.normal(0, 2e-4), lon[b] + rng.normal(0, 2e-4))
        try:
            src = pdx_router.snap(pdx_state, mode, *p)
            dst = pdx_router.snap(pdx_state, mode, *q)
        except SnapError:  # random point outside the extract: refused, as it should be
            continue
        want = oracle.cost_ms(src.edges, dst.edges, w)
        try:
            got = pdx_router.route_endpoints(pdx_state, mode, src, dst)
        except NoRouteError:
            assert want is None
            continue
        assert got.weight_ms == want, (mode, p, q)
        # duration is the weight; per-edge durations add up; geometry is continuous
        assert got.duration_s == pytest.approx(got.edge_duration_s.sum(), abs=0.01)
        assert got.distance_m == pytest.approx(got.edge_travelled_m.sum(), rel=1e-9)
        assert abs(got.lon[0] - src.snap.lon) < 1e-6 and abs(got.lat[-1] - dst.snap.lat) < 1e-6
        checked += 1
    assert checked >= PAIRS * 0.9


def test_state_swap_is_atomic_and_versioned(pdx_router) -> None:
    """A published state replaces the current one in one step; a request holding the old
    state keeps answering on it (same weights, same version)."""
    from routing.live import LiveState
    from routing.state import StatePublisher

    pub = StatePublisher(pdx_router)
    mr = pdx_router.modes["car"]
    lat = np.asarray(pdx_router.snapshot.node_lat)
    lon = np.asarray(pdx_router.snapshot.node_lon)
    before = pub.current()
    doubled = pub.custom({"car": mr.free_flow_ms * 2})
    r_double = pdx_router.route(doubled, "car", lat[10], lon[10], lat[2000], lon[2000])
    pub.publish(LiveState(seq=1))
    after = pub.current()
    assert after.version > before.version
    r_old = pdx_router.route(before, "car", lat[10], lon[10], lat[2000], lon[2000])
    r_new = pdx_router.route(after, "car", lat[10], lon[10], lat[2000], lon[2000])
    assert r_old.live_version == before.version and r_new.live_version == after.version
    assert r_old.weight_ms == r_new.weight_ms
    # doubled edge weights double the route's weight, less its turn costs (not doubled)
    turns_ms = round(float(r_new.edge_turn_s.sum()) * 1000)
    if np.array_equal(r_double.edges, r_new.edges):
        assert r_double.weight_ms == pytest.approx(2 * r_new.weight_ms - turns_ms,
                                                   abs=len(r_new.edges) + 2)
    else:  # another path became better
        assert r_double.weight_ms <= 2 * r_new.weight_ms - turns_ms + len(r_new.edges) + 2


def _junction_endpoints(router, state, mode: str, j: int, w: np.ndarray | None = None
                        ) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """Independently of the snapper: leaving junction ``j`` on any open usable edge (0 m in),
    arriving at it on any open usable edge (its whole length)."""
    a = router.snapshot.modes[mode]
    tail, head = np.asarray(a.edge_tail), np.asarray(a.edge_head)
    ok = np.asarray(a.edge_snappable) & ((state.weights(mode) if w is None else w) < INF_WEIGHT)
    seg_len = np.asarray(router.snapshot.segments.length_m, np.float64)
    seg = np.asarray(a.edge_seg)
    dest = (np.asarray(a.edge_flags) & FLAG_DEST) != 0
    out = [(int(e), 0.0) for e in np.flatnonzero(ok & (tail == j))]
    into = [(int(e), float(seg_len[seg[e]])) for e in np.flatnonzero(ok & (head == j))]
    # where destination-only roads meet others, a junction point is outside them
    if any(not dest[e] for e, _ in out + into):
        out = [(e, m) for e, m in out if not dest[e]]
        into = [(e, m) for e, m in into if not dest[e]]
    return out, into


@pytest.mark.parametrize("city", ["pdx", "nky"])
@pytest.mark.parametrize("mode", ALL_MODES)
def test_routes_from_junctions_equal_dijkstra_from_the_junction(request, city: str,
                                                                mode: str) -> None:
    """A coordinate exactly on a junction is tied to every street there: the route equals
    edge-based Dijkstra from the junction itself (500 random junction points per mode and
    city), never a loop round the block from one arbitrary street."""
    router = request.getfixturevalue(f"{city}_router")
    state = request.getfixturevalue(f"{city}_state")
    osm = request.getfixturevalue(f"{city}_osm")  # the raw OSM, read once per module
    oracle = LineGraphOracle(router, mode, osm, at=state.at)
    a = router.snapshot.modes[mode]
    snappable = np.asarray(a.edge_snappable)
    junctions = np.unique(np.asarray(a.edge_tail)[snappable])
    lat = np.asarray(router.snapshot.node_lat)
    lon = np.asarray(router.snapshot.node_lon)
    # two OSM nodes mapped at the very same spot are two junctions at one coordinate: a
    # point there may be either, so such junctions are left out
    _, first, counts = np.unique(np.column_stack([lat, lon]), axis=0, return_inverse=True,
                                 return_counts=True)
    junctions = junctions[counts[first[junctions]] == 1]
    # a truck route checks the default truck's dimensions: compare on those weights
    w = router.vehicle_weights(state, mode).weights_ms
    rng = np.random.default_rng(4242 + len(mode) + len(city))
    checked = 0
    for _ in range(PAIRS):
        j = int(junctions[rng.integers(junctions.shape[0])])
        k = int(junctions[rng.integers(junctions.shape[0])])
        out_j, into_j = _junction_endpoints(router, state, mode, j, w)
        out_k, into_k = _junction_endpoints(router, state, mode, k, w)
        if not out_j or not into_k:
            continue
        # leaving j: on any edge out of it, or at the end of an edge into it (then turning
        # as that edge allows); arriving at k likewise
        want = oracle.cost_ms(out_j + into_j, into_k + out_k, w)
        try:
            got = router.route(state, mode, lat[j], lon[j], lat[k], lon[k])
        except NoRouteError:
            assert want is None, (city, mode, j, k)
            continue
        assert want is not None and got.weight_ms == want, (city, mode, j, k, got.weight_ms,
                                                            want)
        checked += 1
    assert checked >= PAIRS * 0.8
