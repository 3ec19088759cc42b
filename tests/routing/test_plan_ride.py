"""Car and bike access legs of transit plans obey the same road rules as road routes: turn
restrictions, barriers, turn costs and signals (the mode's kernel graph), checked against the
independent edge-based oracle on real data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse.csgraph import dijkstra

from routing.osm import read_osm
from routing.road import SnapError
from routing.transit_build import walk_csr
from tests.conftest import NKY_OSM
from tests.routing.oracle import LineGraphOracle

LIMIT_MS = 15 * 60 * 1000.0


@pytest.fixture(scope="module")
def nky_osm():
    return read_osm(NKY_OSM)


@pytest.mark.parametrize("mode", ["car", "bike"])
def test_ride_junction_times_equal_edge_based_oracle(
    nky_planner, nky_router, nky_state, nky_osm, mode: str
) -> None:
    """Cost to a junction = the oracle's least cost to arrive at it over any edge entering
    it, for random origins and reached junctions (and unreached junctions are farther than
    the limit or unreachable for the oracle)."""
    oracle = LineGraphOracle(nky_router, mode, nky_osm)
    mr = nky_router.modes[mode]
    w = nky_state.weights(mode)
    lat = np.asarray(nky_router.snapshot.node_lat)
    lon = np.asarray(nky_router.snapshot.node_lon)
    seg_len = nky_router.seg_length_m
    rng = np.random.default_rng(44 + len(mode))
    checked = 0
    for _ in range(6):
        i = int(rng.integers(0, lat.shape[0]))
        p = (float(lat[i] + rng.normal(0, 2e-4)), float(lon[i] + rng.normal(0, 2e-4)))
        try:
            jt = nky_planner.ride_junction_times(nky_state, mode, *p, LIMIT_MS)
        except SnapError:
            continue
        src = nky_router.snap(nky_state, mode, *p, "from", w)
        reached = np.flatnonzero(np.isfinite(jt))
        assert reached.shape[0] > 10
        picks = rng.choice(reached, size=min(25, reached.shape[0]), replace=False).tolist()
        picks += rng.integers(0, lat.shape[0], 5).tolist()  # mostly beyond the limit
        for j in picks:
            ins = mr.in_edges[mr.in_offsets[j] : mr.in_offsets[j + 1]].tolist()
            ends = [(e, float(seg_len[mr.edge_seg[e]])) for e in ins if w[e] < 2**31 - 1]
            want = oracle.cost_ms(src.edges, ends, w) if ends else None
            if np.isfinite(jt[j]):
                assert want is not None and jt[j] == want, (mode, p, j)
                checked += 1
            else:
                assert want is None or want > LIMIT_MS, (mode, p, j)
    assert checked >= 50


def test_car_access_pays_turn_costs(nky_planner, nky_router, nky_state) -> None:
    """The plain junction graph of edge weights (what car access used before) is never
    slower and is faster at many junctions: turns, signals and restrictions count now."""
    mr = nky_router.modes["car"]
    w = nky_state.weights("car")
    n = nky_router.snapshot.node_lon.shape[0]
    g = walk_csr(mr.arrays, n, np.where(w >= 2**31 - 1, np.inf, w))
    p = (39.0500, -84.5600)
    jt = nky_planner.ride_junction_times(nky_state, "car", *p, LIMIT_MS)
    src = nky_router.snap(nky_state, "car", *p, "from", w)
    plain = np.full(n, np.inf)
    for e, metres in src.edges:
        full = float(nky_router.seg_length_m[mr.edge_seg[e]])
        off = float(w[e]) * (1.0 - metres / full if full > 0 else 1.0)
        d = dijkstra(g, indices=int(mr.edge_head[e])) + off
        plain = np.minimum(plain, d)
    both = np.isfinite(jt) & np.isfinite(plain)
    assert both.sum() > 100
    assert (jt[both] >= plain[both] - 1.0).all()
    assert ((jt[both] - plain[both]) > 5_000).sum() > both.sum() * 0.2
