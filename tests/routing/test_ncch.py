"""The own CCH many-to-many (routing/kernels/ncch.py) against independent oracles.

* small random graphs (hypothesis, and a seeded sweep): every cell equals a plain
  lexicographic Dijkstra (least ms, then least metres) from the source's (node, ms, metres)
  starts to the target's (node, ms, metres) ends, closed arcs and loops included;
* the real kernels of three cities (NKY car — edge-based with turn costs — and walk; central
  Portland car; Monaco car and bike from the shared extracts), live closures included: every
  cell equals that Dijkstra on the kernel graph;
* ``Reach.road_matrix`` against the previous implementation (RoutingKit one-to-many per
  source, distances from the unpacked RoutingKit path): the same durations and null reasons
  cell for cell, and the same distances except where equally fast paths differ in length
  (then the new one is the shorter).
"""

from __future__ import annotations

import heapq

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.kernels import ncch
from routing.kernels.limits import INF_WEIGHT
from routing.reach import Reach
from tests.conftest import shared_road

End = list[tuple[int, int, float]]


def _lex_dijkstra(n: int, tail: np.ndarray, head: np.ndarray, w: np.ndarray,
                  metres: np.ndarray, starts: End) -> dict[int, tuple[int, float]]:
    """Least (ms, metres) from any start to every reached node (heapq, lazy deletion)."""
    adj: list[list[tuple[int, int, float]]] = [[] for _ in range(n)]
    for a in range(tail.shape[0]):
        if w[a] < INF_WEIGHT:
            adj[int(tail[a])].append((int(head[a]), int(w[a]), float(metres[a])))
    heap = [(c, m, v) for v, c, m in starts]
    heapq.heapify(heap)
    done: dict[int, tuple[int, float]] = {}
    while heap:
        c, m, v = heapq.heappop(heap)
        if v in done:
            continue
        done[v] = (c, m)
        for u, wa, ma in adj[v]:
            if u not in done:
                heapq.heappush(heap, (c + wa, m + ma, u))
    return done


def _oracle_cell(reached: dict[int, tuple[int, float]], target: End
                 ) -> tuple[int, float] | None:
    cands = [(reached[v][0] + c, reached[v][1] + m) for v, c, m in target if v in reached]
    return min(cands) if cands else None


def _check(n: int, tail: np.ndarray, head: np.ndarray, w: np.ndarray, metres: np.ndarray,
           order: np.ndarray, sources: list[End], targets: list[End], threads: int = 1,
           dense_share: float = ncch.DENSE_SHARE) -> int:
    g = ncch.build_cch(n, tail, head, order)
    cm = ncch.customize(g, w, metres)
    ow, om = ncch.many_to_many(cm, sources, targets, threads=threads, dense_share=dense_share)
    assert ow.shape == om.shape == (len(sources), len(targets))
    # weights only: the same weights, no metres
    ow2, om2 = ncch.many_to_many(cm, sources, targets, threads=threads,
                                 dense_share=dense_share, metres=False)
    np.testing.assert_array_equal(ow2, ow)
    assert np.isnan(om2).all()
    finite = 0
    for i, s in enumerate(sources):
        reached = _lex_dijkstra(n, tail, head, w, metres, s)
        for j, t in enumerate(targets):
            exp = _oracle_cell(reached, t)
            if exp is None:
                assert ow[i, j] >= ncch.INF_COST and np.isnan(om[i, j]), (i, j)
            else:
                finite += 1
                assert (int(ow[i, j]), float(om[i, j])) == exp, (i, j, ow[i, j], om[i, j], exp)
    return finite


@st.composite
def _graphs(draw: st.DrawFn) -> tuple:
    n = draw(st.integers(1, 25))
    m = draw(st.integers(0, 70))
    tail = np.array(draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)), np.int64)
    head = np.array(draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)), np.int64)
    w = np.array(draw(st.lists(st.sampled_from([0, 1, 2, 3, 5, 8, 13, INF_WEIGHT]),
                               min_size=m, max_size=m)), np.int64)
    # integer metres: sums are exact in any order, so the tie-break is checked exactly
    metres = np.array(draw(st.lists(st.integers(0, 4), min_size=m, max_size=m)), np.float64)
    order = np.array(draw(st.permutations(list(range(n)))), np.int64)
    end = st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, 6),
                             st.integers(0, 3).map(float)), max_size=3)
    sources = draw(st.lists(end, min_size=1, max_size=4))
    targets = draw(st.lists(end, min_size=1, max_size=4))
    threads = draw(st.integers(1, 3))
    # dense rows for every bucket, the default share, none
    dense_share = draw(st.sampled_from([0.0, ncch.DENSE_SHARE, 2.0]))
    return n, tail, head, w, metres, order, sources, targets, threads, dense_share


@settings(max_examples=150, deadline=None)
@given(_graphs())
def test_many_to_many_equals_dijkstra_on_random_graphs(case: tuple) -> None:
    _check(*case)


def test_many_to_many_seeded_sweep_and_threads() -> None:
    """Larger random graphs (grids with random one-ways and closures) in a fixed sweep, on
    three threads, with and without dense bucket rows."""
    rng = np.random.default_rng(7)
    finite = 0
    for _ in range(12):
        side = int(rng.integers(4, 12))
        n = side * side
        ids = np.arange(n).reshape(side, side)
        pairs = np.concatenate([np.stack([ids[:, :-1].ravel(), ids[:, 1:].ravel()], 1),
                                np.stack([ids[:-1].ravel(), ids[1:].ravel()], 1)])
        both = np.concatenate([pairs, pairs[:, ::-1]])
        both = both[rng.random(both.shape[0]) < 0.85]  # some one-ways
        tail, head = both[:, 0].astype(np.int64), both[:, 1].astype(np.int64)
        w = rng.integers(0, 50, tail.shape[0]).astype(np.int64)
        w[rng.random(w.shape[0]) < 0.05] = INF_WEIGHT
        metres = rng.integers(1, 100, tail.shape[0]).astype(np.float64)
        order = rng.permutation(n).astype(np.int64)
        ends = [[(int(rng.integers(0, n)), int(rng.integers(0, 9)), float(rng.integers(0, 9)))
                 for _ in range(int(rng.integers(0, 4)))] for _ in range(100)]
        finite += _check(n, tail, head, w, metres, order, ends[:60], ends[60:], threads=3,
                         dense_share=float(rng.choice([0.0, 0.25, 2.0])))
    assert finite > 1000


def test_build_rejects_a_bad_order() -> None:
    with pytest.raises(ValueError):
        ncch.build_cch(3, np.array([0, 1]), np.array([1, 2]), np.array([0, 0, 1]))


# ------------------------------------------------------------------------ real kernels
@pytest.fixture(scope="module")
def monaco_router(tmp_path_factory: pytest.TempPathFactory):
    """Road snapshot of Monaco (shared extract; skipped when absent)."""
    from routing.build import build_snapshot
    from routing.road import RoadRouter
    from routing.snapshot import load_snapshot

    out = tmp_path_factory.mktemp("snap") / "monaco"
    build_snapshot(shared_road("monaco"), out)
    return RoadRouter(load_snapshot(out))


@pytest.fixture(scope="module")
def monaco_publisher(monaco_router):
    from routing.state import StatePublisher

    return StatePublisher(monaco_router)


def _kernel_case(router, state, mode: str, rng: np.random.Generator, k: int):
    mr = router.modes[mode]
    metric = state.metric(mode)
    reach = Reach(router)
    metres = reach._arc_metres[mode]
    kn = mr.arrays.kernel_node_count

    def ends() -> list[End]:
        return [[(int(rng.integers(0, kn)), int(rng.integers(0, 20_000)),
                  float(rng.integers(0, 300))) for _ in range(int(rng.integers(1, 4)))]
                for _ in range(k)]

    return mr, metric, metres, ends(), ends()


@pytest.mark.parametrize(("city", "mode", "closed"), [
    ("nky", "car", 0.0), ("nky", "car", 0.05), ("nky", "walk", 0.0), ("pdx", "car", 0.03),
    ("monaco", "car", 0.0), ("monaco", "bike", 0.04)])
def test_kernel_matrix_equals_dijkstra_on_real_cities(request, city: str, mode: str,
                                                      closed: float) -> None:
    router = request.getfixturevalue(f"{city}_router")
    pub = request.getfixturevalue(f"{city}_publisher")
    state = pub.current()
    rng = np.random.default_rng(len(city) * 31 + len(mode) + int(closed * 100))
    if closed:
        w = np.array(state.weights(mode))
        w[rng.choice(w.shape[0], int(w.shape[0] * closed), replace=False)] = INF_WEIGHT
        state = pub.custom({mode: w}, state)
    mr, metric, metres, sources, targets = _kernel_case(router, state, mode, rng, 9)
    # the customization Reach.road_matrix uses for this state
    k_ms, met = ncch.many_to_many(Reach(router)._m2m_metric(state, mode, mr, state.road[mode]),
                                  sources, targets)
    dur = np.where(k_ms >= INF_WEIGHT, np.inf, k_ms.astype(np.float64))
    aw = metric.arc_weights  # RoutingKit's arc weights of the state: the oracle's graph
    tail, head = np.asarray(mr.arc_tail), np.asarray(mr.arrays.arc_head)
    finite = 0
    for i, s in enumerate(sources):
        reached = _lex_dijkstra(mr.arrays.kernel_node_count, tail, head, aw, metres, s)
        for j, t in enumerate(targets):
            exp = _oracle_cell(reached, t)
            if exp is None:
                assert dur[i, j] == np.inf and np.isnan(met[i, j])
                continue
            finite += 1
            assert dur[i, j] == exp[0], (i, j, dur[i, j], exp)
            assert met[i, j] == pytest.approx(exp[1], abs=1e-6), (i, j, met[i, j], exp)
    assert finite >= 40


# ------------------------------------------------------------- against the previous path
def _previous_road_matrix(reach: Reach, state, mode: str, sources, targets):
    """The matrix as computed before the own CCH: RoutingKit one-to-many per source node,
    distances from the unpacked RoutingKit path between the chosen nodes."""
    mr = reach.road.modes[mode]
    mw = state.road[mode]
    w = mw.weights_ms
    src = reach._ends(state, mode, sources, True, w)
    dst = reach._ends(state, mode, targets, False, w)
    knodes = sorted({k for p in dst.pairs for k, _ in p})
    col = {k: c for c, k in enumerate(knodes)}
    n, m = len(sources), len(targets)
    dur = np.full((n, m), np.inf)
    dist = np.full((n, m), np.nan)
    arc_len = reach._arc_metres[mode]
    for i, sp in enumerate(src.pairs):
        if not sp:
            continue
        rows = mw.metric.one_to_many([[p] for p in sp], knodes) if knodes else None
        for j, tp in enumerate(dst.pairs):
            best, bs, bt = np.inf, -1, -1
            for r, (_, _) in enumerate(sp):
                for tk, fw in tp:
                    c = rows[r, col[tk]] + fw
                    if c < best:
                        best, bs, bt = c, r, tk
            dur[i, j] = best
            if np.isfinite(best):
                sn = sp[bs][0]
                s_m = min((src.pairs[i][r][1], src.metres[i][r]) for r in range(len(sp))
                          if sp[r][0] == sn)[1]
                t_m = min((fw, dst.metres[j][q]) for q, (tk, fw) in enumerate(tp)
                          if tk == bt)[1]
                arcs = mw.metric.node_paths([(sn, bt)])[0]
                assert arcs is not None
                dist[i, j] = s_m + float(arc_len[arcs].sum()) + t_m
    same = reach._same_edge(mr, w, src.endpoints, dst.endpoints)
    for (i, j), (cost, along) in same.items():
        if cost <= dur[i, j]:
            dur[i, j] = cost
            dist[i, j] = along
    return (np.where(np.isfinite(dur), np.round(dur / 1000.0, 1), np.nan),
            np.where(np.isfinite(dur), np.round(dist, 1), np.nan))


@pytest.mark.parametrize(("city", "mode"), [("nky", "car"), ("nky", "bike"), ("pdx", "car"),
                                            ("monaco", "car")])
def test_road_matrix_equals_the_previous_one_to_many(request, city: str, mode: str) -> None:
    router = request.getfixturevalue(f"{city}_router")
    state = request.getfixturevalue(f"{city}_publisher").current()
    if mode not in router.modes:
        pytest.skip(f"no {mode} network")
    reach = Reach(router)
    rng = np.random.default_rng(3 + len(city) + len(mode))
    lon, lat = np.asarray(router.snapshot.node_lon), np.asarray(router.snapshot.node_lat)
    idx = rng.integers(0, lon.shape[0], 50)
    pts = [(float(lat[i]) + rng.normal(0, 2e-4), float(lon[i]) + rng.normal(0, 2e-4))
           for i in idx] + [(0.0, 0.0)]
    sources, targets = pts[:25] + pts[-1:], pts[25:]
    new = reach.road_matrix(state, mode, sources, targets)
    dur_only = reach.road_matrix(state, mode, sources, targets, distances=False)
    old_dur, old_dist = _previous_road_matrix(reach, state, mode, sources, targets)
    assert new.distance_m is not None and dur_only.distance_m is None
    np.testing.assert_array_equal(new.duration_s, old_dur)
    np.testing.assert_array_equal(dur_only.duration_s, old_dur)
    np.testing.assert_array_equal(new.reason, dur_only.reason)
    assert (new.reason[-1] == 1).all()
    finite = np.isfinite(old_dur)
    assert finite.sum() >= 300
    np.testing.assert_array_equal(np.isfinite(new.distance_m), finite)
    # equally fast paths may differ in length: the new one is never the longer, and such
    # ties are rare
    diff = np.abs(new.distance_m[finite] - old_dist[finite]) > 0.11
    assert (new.distance_m[finite] <= old_dist[finite] + 0.11).all()
    assert diff.mean() < 0.05
