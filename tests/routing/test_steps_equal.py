"""The step rules against the implementation they replace (kept in
``tests/routing/steps_reference.py``): the same steps, field for field and instruction for
instruction in English and Chinese, on random northern Kentucky routes of every mode — with
the bearings the router computes, and with random bearings so that turns, forks and obvious
bends come up everywhere."""

from __future__ import annotations

import numpy as np
import pytest

import routing.road as road_module
from routing.labels import path_labels
from routing.profiles import FLAG_PUSHED
from routing.road import RoutingError
from routing.steps import build_steps
from tests.routing import steps_reference
from tests.routing.osmxml import StatefulRouter

LANGS = ("en", "zh-CN")


def _answers(router, mode: str, n: int, seed: int) -> list:
    sr = StatefulRouter(router)
    w, s, e, nn = router.snapshot.bbox
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n * 20):
        a = (rng.uniform(s, nn), rng.uniform(w, e))
        b = (rng.uniform(s, nn), rng.uniform(w, e))
        try:
            out.append((a, b, sr.route(*a, *b, mode=mode)))
        except RoutingError:
            continue
        if len(out) == n:
            break
    assert len(out) == n
    return out


def _dicts(steps: list) -> list[list[dict]]:
    return [[s.to_dict(lang) for s in steps] for lang in LANGS]


@pytest.mark.parametrize(("mode", "seed"), [("car", 31), ("walk", 32), ("bike", 33)])
def test_router_steps_equal_the_reference(nky_router, mode: str, seed: int,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Whole answers: the router's steps with the new rules and with the reference."""
    routes = _answers(nky_router, mode, 80, seed)
    sr = StatefulRouter(nky_router)
    monkeypatch.setattr(road_module, "build_steps", steps_reference.build_steps)
    want = [_dicts(sr.route(*a, *b, mode=mode).steps) for a, b, _ in routes]
    monkeypatch.undo()
    got = [_dicts(r.steps) for _, _, r in routes]
    assert got == want
    kinds = {s["type"] for w in want for s in w[0]}
    assert {"depart", "arrive", "turn"} <= kinds
    assert sum(len(w[0]) for w in want) > 5 * len(want)


@pytest.mark.parametrize(("mode", "seed"), [("car", 41), ("walk", 42), ("bike", 43)])
def test_steps_with_random_bearings_equal_the_reference(nky_router, mode: str,
                                                        seed: int) -> None:
    """Random bearings (some unknown) on real paths: every rule fires somewhere."""
    snap = nky_router.snapshot
    mr = nky_router.modes[mode]
    rng = np.random.default_rng(seed)
    kinds: set[str] = set()
    for _, _, route in _answers(nky_router, mode, 60, seed):
        seg_ids = mr.edge_seg[route.edges]
        tails = mr.edge_tail[route.edges]
        labels = path_labels(snap, mr.seg_dirs, seg_ids, tails, nky_router.seg_bearings)
        n = route.edges.shape[0]
        pushed = ((mr.edge_flags[route.edges] & FLAG_PUSHED) != 0
                  if mr.edge_flags.shape[0] else None)
        args = (labels, nky_router.seg_roundabout[seg_ids], nky_router.junction_degree[tails],
                route.edge_travelled_m, route.edge_duration_s,
                *rng.uniform(-1, 360, size=(2, n)), rng.uniform(-85, -84, n),
                rng.uniform(38, 39, n), (0.0, 0.0), pushed)
        want = _dicts(steps_reference.build_steps(mode, *args))
        assert _dicts(build_steps(mode, *args)) == want
        kinds |= {s["type"] for s in want[0]}
    assert {"depart", "arrive", "turn", "new name"} <= kinds
