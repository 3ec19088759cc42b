"""The fast road core against independent oracles on real data, on many random queries."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from routing.graph import INF_WEIGHT
from routing.live import LiveState
from routing.osm import read_osm
from routing.road import NoRouteError, SnapError
from tests.conftest import PDX_OSM
from tests.routing.oracle import LineGraphOracle, kernel_digraph

PAIRS = 500


def _pairs(rng: np.random.Generator, n_nodes: int, k: int) -> list[tuple[int, int]]:
    return [tuple(x) for x in rng.integers(0, n_nodes, size=(k, 2)).tolist()]


@pytest.mark.parametrize("mode", ["car", "bike", "walk"])
def test_kernel_equals_networkx_dijkstra(nky_router, mode: str) -> None:
    """CCH distances = plain Dijkstra on the same kernel graph, 500 random pairs."""
    mr = nky_router.modes[mode]
    arc_w = mr.free_flow_ms[mr.arc_edge]
    g = kernel_digraph(mr.arc_tail, np.asarray(mr.arrays.arc_head), arc_w, INF_WEIGHT)
    metric = nky_router._live.metrics[mode]
    rng = np.random.default_rng(20260 + len(mode))
    # Draw most pairs from nodes that have arcs so most answers are finite paths.
    nodes = np.unique(mr.arc_tail)
    pairs = [(int(nodes[a]), int(nodes[b])) for a, b in _pairs(rng, nodes.shape[0], PAIRS)]
    finite = 0
    for s, t in pairs:
        try:
            want = nx.dijkstra_path_length(g, s, t) if s in g and t in g else None
        except nx.NetworkXNoPath:
            want = None
        got = metric.distance(s, t)
        assert got == want, (mode, s, t)
        finite += want is not None
    assert finite > PAIRS * 0.6


def test_kernel_with_live_weights_equals_dijkstra_on_modified_weights(nky_router) -> None:
    """Routing under changed weights (slowdowns, closures) = Dijkstra on those weights."""
    from routing.kernels.cch import RoadKernel

    mr = nky_router.modes["car"]
    rng = np.random.default_rng(7)
    w = mr.free_flow_ms.copy()
    slow = rng.random(w.shape[0]) < 0.2
    w[slow] = (w[slow] * rng.uniform(1.5, 6.0, slow.sum())).astype(np.int64)
    w[rng.random(w.shape[0]) < 0.03] = INF_WEIGHT
    kernel = RoadKernel(mr.arrays.kernel_node_count, mr.arc_tail,
                        np.asarray(mr.arrays.arc_head), np.asarray(mr.arrays.cch_order))
    metric = kernel.customize(w[mr.arc_edge])
    g = kernel_digraph(mr.arc_tail, np.asarray(mr.arrays.arc_head), w[mr.arc_edge], INF_WEIGHT)
    nodes = np.unique(mr.arc_tail)
    for a, b in _pairs(rng, nodes.shape[0], 200):
        s, t = int(nodes[a]), int(nodes[b])
        try:
            want = nx.dijkstra_path_length(g, s, t) if s in g and t in g else None
        except nx.NetworkXNoPath:
            want = None
        assert metric.distance(s, t) == want


@pytest.fixture(scope="module")
def pdx_osm():
    return read_osm(PDX_OSM)


@pytest.mark.parametrize("mode", ["car", "bike", "walk"])
def test_routes_equal_edge_based_oracle(pdx_router, pdx_osm, mode: str) -> None:
    """Full coordinate-to-coordinate answers = edge-based Dijkstra with turn rules read
    from the raw OSM, on 500 random pairs; geometry and totals are consistent."""
    oracle = LineGraphOracle(pdx_router, mode, pdx_osm)
    lat = np.asarray(pdx_router.snapshot.node_lat)
    lon = np.asarray(pdx_router.snapshot.node_lon)
    rng = np.random.default_rng(99 + len(mode))
    w = pdx_router.edge_weights(mode)
    checked = 0
    for a, b in _pairs(rng, lat.shape[0], PAIRS):
        p = (lat[a] + rng.normal(0, 2e-4), lon[a] + rng.normal(0, 2e-4))
        q = (lat[b] + rng.normal(0, 2e-4), lon[b] + rng.normal(0, 2e-4))
        try:
            src = pdx_router.snap(mode, *p)
            dst = pdx_router.snap(mode, *q)
        except SnapError:  # random point outside the extract: refused, as it should be
            continue
        want = oracle.cost_ms(src.edges, dst.edges, w)
        try:
            got = pdx_router.route_endpoints(mode, src, dst)
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


def test_live_state_swap_is_atomic_and_versioned(pdx_router) -> None:
    mr = pdx_router.modes["car"]
    w = mr.free_flow_ms * 2
    timing = pdx_router.apply_live_state(LiveState(version=5, edge_time_ms={"car": w}))
    assert set(timing) == {"car"}
    lat = np.asarray(pdx_router.snapshot.node_lat)
    lon = np.asarray(pdx_router.snapshot.node_lon)
    r = pdx_router.route(lat[10], lon[10], lat[2000], lon[2000], "car")
    assert r.live_version == 5
    pdx_router.apply_live_state(LiveState(version=6))
    r2 = pdx_router.route(lat[10], lon[10], lat[2000], lon[2000], "car")
    assert r2.live_version == 6
    assert r.weight_ms == pytest.approx(2 * r2.weight_ms, abs=len(r.edges) + 2)
