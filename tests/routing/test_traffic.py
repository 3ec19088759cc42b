"""Congestion guidance on real data: live speeds and ageing, alternatives' bounds,
diversions around closures, congestion levels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import networkx as nx
import numpy as np
import pytest

from incidents.matching import NetworkMatcher
from incidents.speeds import SpeedBoard
from routing.congestion import LEVELS, CongestionMap
from routing.diversions import diversions
from routing.graph import INF_WEIGHT
from routing.live import LiveState
from routing.road import ALT_MAX_SHARED, ALT_MAX_STRETCH, RoutingError, _shared_share
from tests.routing.oracle import kernel_digraph


@pytest.fixture(scope="module")
def board(nky_router):
    car = nky_router.modes["car"]
    return SpeedBoard(nky_router.snapshot, NetworkMatcher(nky_router.snapshot),
                      car.free_flow_ms)


def _ways(router, n, rng):
    car = router.modes["car"]
    seg_way = np.asarray(router.snapshot.segments.way_id)[car.edge_seg]
    return [int(w) for w in rng.choice(np.unique(seg_way), n, replace=False)]


def test_speed_batch_rules_and_ageing(board, nky_router) -> None:
    now = datetime.now(UTC)
    rng = np.random.default_rng(2)
    ways = _ways(nky_router, 20, rng)
    good = [{"ref": {"way_id": w, "direction": "both"}, "speed_kmh": 7.5,
             "observed_at": now.isoformat()} for w in ways]
    bad = [{"ref": {"way_id": 1}, "speed_kmh": 20, "observed_at": now.isoformat()},
           {"ref": {"way_id": ways[0]}, "speed_kmh": 0, "observed_at": now.isoformat()},
           {"ref": {"way_id": ways[0]}, "speed_kmh": 900, "observed_at": now.isoformat()},
           {"ref": {"way_id": ways[0]}, "speed_kmh": 20,
            "observed_at": (now + timedelta(hours=1)).isoformat()},
           {"ref": {"way_id": ways[0]}, "speed_kmh": 20, "observed_at": "2020-01-01T00:00:00"},
           {"ref": {"geometry": {"type": "LineString", "coordinates": [[2.3, 48.8],
                                                                       [2.31, 48.81]]}},
            "speed_kmh": 20, "observed_at": now.isoformat()},
           "not an object", {"ref": {"way_id": ways[0]}, "speed_kmh": "fast",
                             "observed_at": now.isoformat()}]
    report = board.apply_batch(good + bad, now)
    assert report.accepted == len(good)
    assert sorted(r["index"] for r in report.rejected) == list(range(len(good),
                                                                     len(good) + len(bad)))
    base = board.free_flow_ms
    w_now, live = board.weights(base, now)
    assert live.sum() == report.edges_updated
    e = np.flatnonzero(live)
    expect = np.rint(board.edge_len[e] / (7.5 / 3.6) * 1000)
    assert np.allclose(w_now[e], np.maximum(expect, 1), atol=1)
    # fading: half way between fresh and max age it is half observed, half base
    mid = now + timedelta(seconds=(board.fresh_s + board.max_age_s) / 2)
    w_mid, _ = board.weights(base, mid)
    assert np.allclose(w_mid[e], np.rint(0.5 * expect + 0.5 * base[e]), atol=2)
    # expired: nothing counts, nothing presented as live
    late = now + timedelta(seconds=board.max_age_s + 1)
    w_late, live_late = board.weights(base, late)
    assert not live_late.any() and w_late is base
    assert not board.has_live(late)


def test_routes_with_posted_speeds_equal_dijkstra(nky_router, board) -> None:
    now = datetime.now(UTC)
    rng = np.random.default_rng(3)
    obs = [{"ref": {"way_id": w, "direction": "forward"}, "speed_kmh": float(rng.uniform(3, 40)),
            "observed_at": now.isoformat()} for w in _ways(nky_router, 400, rng)]
    board.apply_batch(obs, now)
    car = nky_router.modes["car"]
    w, _ = board.weights(car.free_flow_ms, now)
    try:
        nky_router.apply_live_state(LiveState(version=77, edge_time_ms={"car": w}))
        metric = nky_router._live.metrics["car"]
        g = kernel_digraph(car.arc_tail, np.asarray(car.arrays.arc_head), w[car.arc_edge],
                           INF_WEIGHT)
        nodes = np.unique(car.arc_tail)
        for a, b in rng.integers(0, nodes.shape[0], (150, 2)).tolist():
            s, t = int(nodes[a]), int(nodes[b])
            try:
                want = nx.dijkstra_path_length(g, s, t)
            except (nx.NetworkXNoPath, nx.NodeNotFound):
                want = None
            assert metric.distance(s, t) == want
    finally:
        nky_router.apply_live_state(LiveState(version=0))


def test_alternatives_are_distinct_and_bounded(nky_router) -> None:
    lat = np.asarray(nky_router.snapshot.node_lat)
    lon = np.asarray(nky_router.snapshot.node_lon)
    rng = np.random.default_rng(4)
    with_alt = 0
    for a, b in rng.integers(0, lat.shape[0], (60, 2)).tolist():
        try:
            routes = nky_router.alternatives(lat[a], lon[a], lat[b], lon[b], "car", 3)
            best = nky_router.route(lat[a], lon[a], lat[b], lon[b], "car")
        except RoutingError:
            continue
        assert routes[0].duration_s == pytest.approx(best.duration_s)
        assert len(routes) <= 3
        for i, r in enumerate(routes):
            assert r.duration_s <= routes[0].duration_s * ALT_MAX_STRETCH + 1e-6
            assert r.duration_s >= routes[0].duration_s - 1e-6  # the first is the best
            for q in routes[:i]:
                assert _shared_share(r, q) <= ALT_MAX_SHARED + 1e-9
            assert r.duration_s == pytest.approx(r.edge_duration_s.sum(), abs=0.01)
        with_alt += len(routes) > 1
    assert with_alt >= 20


def test_diversions_avoid_the_closed_stretch(nky_router) -> None:
    route = nky_router.route(39.0837, -84.5086, 39.0912, -84.4960, "car")
    closed = route.edges[len(route.edges) // 3: len(route.edges) // 3 + 3]
    out = diversions(nky_router, closed, n_routes=2, with_edges=True)
    assert out
    for d in out:
        assert d["sign_text"].endswith("MIN)") or "NO DIVERSION" in d["sign_text"]
        for r in d["routes"]:
            assert not set(r["_edges"].tolist()) & set(closed.tolist())
            assert r["extra_s"] > -1 and r["streets_to_sign"]


def test_congestion_levels_and_geojson(nky_router) -> None:
    cm = CongestionMap(nky_router.snapshot)
    w = cm.free_ms.copy()
    w[0] = w[0] * 3  # heavy
    w[1] = INF_WEIGHT  # closed
    w[2] = int(w[2] * 1.5)  # slow
    lv = cm.levels(LiveState(), w)
    assert [LEVELS[x] for x in lv.level[:3].tolist()] in (["heavy", "closed", "slow"],
                                                          ["standstill", "closed", "slow"])
    assert (lv.level[3:] == 0).all()
    assert lv.delay_s[0] == pytest.approx((w[0] - cm.free_ms[0]) / 1000, rel=1e-4)
    import json

    state = LiveState(version=3, edge_time_ms={"car": w}, edge_causes={"car": {1: ("INC-9",)}})
    fc = json.loads(cm.geojson(state, w, None, min_level=1))
    props = {f["properties"]["edge"]: f["properties"] for f in fc["features"]}
    assert set(props) == {0, 1, 2} and props[1]["causes"] == ["INC-9"]
    assert props[1]["level"] == "closed" and fc["live_version"] == 3
    w_, s_, e_, n_ = nky_router.snapshot.bbox
    small = (w_, s_, (w_ + e_) / 2, (s_ + n_) / 2)
    part = json.loads(cm.geojson(state, w, small))
    assert 0 < len(part["features"]) < cm.edge_seg.shape[0]
    summ = cm.summary(state, w, None)
    assert summ["closed_edges"] == 1 and summ["active_causes"][0]["id"] == "INC-9"
    assert summ["worst_segments"][0]["edge"] == 0
