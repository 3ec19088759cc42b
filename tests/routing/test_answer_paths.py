"""The car answer's fast paths against the plain code they replace, on random northern
Kentucky routes: branch bearings at junctions from per-segment bearings computed once (numba)
against the per-junction Python computation, the steps built from either, and the kernel's
path end nodes read off the arc path against RoutingKit's node path."""

from __future__ import annotations

import math

import numpy as np
import routingkit_cch as rk

from routing.kernels.limits import INF_WEIGHT
from routing.labels import _Branches, path_labels
from routing.road import RoutingError
from routing.steps import build_steps
from tests.routing.osmxml import StatefulRouter


def _routes(router, mode: str, n: int, seed: int) -> list:
    sr = StatefulRouter(router)
    w, s, e, nn = router.snapshot.bbox
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n * 20):
        a = (rng.uniform(s, nn), rng.uniform(w, e))
        b = (rng.uniform(s, nn), rng.uniform(w, e))
        try:
            out.append(sr.route(*a, *b, mode=mode))
        except RoutingError:
            continue
        if len(out) == n:
            break
    assert len(out) == n
    return out


def test_segment_bearings_match_the_per_junction_computation(nky_router) -> None:
    snap = nky_router.snapshot
    fwd, bwd = nky_router.seg_bearings
    plain = _Branches(snap, np.zeros(0), np.zeros(0), np.zeros(0))
    assert fwd.shape[0] == snap.segments.u.shape[0] > 10_000
    for s in range(fwd.shape[0]):
        for rev, got in ((False, fwd[s]), (True, bwd[s])):
            want = plain._bearing(s, rev)
            assert (math.isnan(got) and want is None) or got == want, (s, rev, got, want)
    assert np.isnan(fwd).sum() < fwd.shape[0] // 100  # almost every segment has a bearing


def test_path_branches_and_steps_match_the_per_junction_code(nky_router) -> None:
    snap = nky_router.snapshot
    checked = 0
    for mode, seed in (("car", 21), ("walk", 22), ("bike", 23)):
        mr = nky_router.modes[mode]
        for route in _routes(nky_router, mode, 60, seed):
            seg_ids = mr.edge_seg[route.edges]
            tails = mr.edge_tail[route.edges]
            fast = path_labels(snap, mr.seg_dirs, seg_ids, tails, nky_router.seg_bearings)
            plain = path_labels(snap, mr.seg_dirs, seg_ids, tails)
            assert fast.branches is not None and plain.branches is not None
            for i in range(route.edges.shape[0]):
                assert fast.branches(i) == plain.branches(i), (mode, i)
                checked += bool(plain.branches(i))
            n = route.edges.shape[0]
            args = (nky_router.seg_roundabout[seg_ids], nky_router.junction_degree[tails],
                    route.edge_travelled_m, route.edge_duration_s)
            # bearings anywhere (-1: unknown), so that turns and forks are everywhere
            b = np.random.default_rng(n).uniform(-1, 360, size=(2, n))
            ends = (np.zeros(n), np.zeros(n), (0.0, 0.0))
            for lang in ("en", "zh-CN"):
                assert ([s.to_dict(lang) for s in build_steps(mode, fast, *args, *b, *ends)]
                        == [s.to_dict(lang) for s in build_steps(mode, plain, *args, *b, *ends)])
    assert checked > 1000


def test_kernel_path_end_nodes_match_the_node_path(nky_router, nky_state) -> None:
    mr = nky_router.modes["car"]
    metric = nky_state.road["car"].metric
    rng = np.random.default_rng(5)
    n_nodes = mr.kernel.node_count
    seen = 0
    for _ in range(300):
        sources = [(int(x), int(d)) for x, d in zip(rng.integers(0, n_nodes, 2),
                                                     rng.integers(0, 5000, 2), strict=True)]
        targets = [(int(x), int(d)) for x, d in zip(rng.integers(0, n_nodes, 2),
                                                     rng.integers(0, 5000, 2), strict=True)]
        kp = metric.query(sources, targets)
        q = rk.CCHQuery(metric._metric)
        res = q.run_multi(sources, targets)
        if kp is None:
            assert res.distance is None or res.distance >= INF_WEIGHT
            del res, q
            continue
        nodes = res.node_path
        assert (kp.distance, kp.source_node, kp.target_node) == (res.distance, nodes[0],
                                                                 nodes[-1])
        assert kp.arcs.tolist() == list(res.arc_path)
        del res, q
        seen += 1
    assert seen > 200
