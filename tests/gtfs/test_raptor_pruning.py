"""The RAPTOR kernel's exact shortcuts change no answer: layers whose instances all come later
than the earlier layers' (``layer_after``) are cut short or skipped behind a trip already
boarded, and patterns that do not run on the day are left out of the boarding entries. The
kernel's output with the shortcuts equals its output without them, bit for bit (journeys and
legs), on real queries: earliest arrival, range runs, arrive-by, realtime data, wheelchair
mode, late evening departures that reach into the next service day."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytest
from numba import njit

from gtfs import query as tq
from gtfs import raptor as kern
from tests.gtfs.realtime_gen import random_live

from .conftest import RealFeed


def _layers_after_brute(fx: tq._FixedArgs) -> np.ndarray:
    """``layer_after`` with numpy: per pattern and layer, each position's earliest arrival
    over the layer's instances against the latest over the earlier layers'."""
    lpo, base, pso = fx.lpo, fx.inst_base, fx.pso
    out = np.zeros((lpo.shape[0], lpo.shape[1] - 1), dtype=bool)
    for pat in range(lpo.shape[1] - 1):
        n = int(pso[pat + 1] - pso[pat])
        latest = None
        for layer in range(lpo.shape[0]):
            ia, ib = int(lpo[layer, pat]), int(lpo[layer, pat + 1])
            if ia == ib:
                continue
            rows = base[ia:ib, None] + np.arange(n)[None, :]
            times = np.asarray(fx.st_arr)[rows].astype(np.int64)
            if latest is not None:
                out[layer, pat] = bool((times.min(axis=0) >= latest).all())
                latest = np.maximum(latest, times.max(axis=0))
            else:
                latest = times.max(axis=0)
    return out


@functools.cache
def _checked() -> Any:
    """The kernel compiled with bounds checks (an index past a pattern's last position, or
    any other, raises IndexError instead of reading a neighbour's data)."""
    return njit(boundscheck=True, nogil=True)(kern.raptor.py_func)


@pytest.fixture(scope="module")
def live(nky: RealFeed):
    return random_live(nky.tt, nky.day, np.random.default_rng(3), version=4242)


@pytest.mark.parametrize("with_live", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_layers_after_matches_brute_force(nky: RealFeed, live, with_live: bool,
                                          reverse: bool) -> None:
    fx = tq._prepared(nky.tt, nky.day, live if with_live else None, nky.footpaths, reverse, 0)
    want = _layers_after_brute(fx)
    assert np.array_equal(fx.layer_after, want)
    # the first layer never follows another; forward, the next service day's instances
    # follow the query day's (reversed, the layers come in the opposite order of time)
    assert not want[0].any()
    assert want.any() != reverse


def _unpruned(tt, fx: tq._FixedArgs, reverse: bool) -> tuple[np.ndarray, ...]:
    """The same arguments without the shortcuts: every boarding entry, no layer_after."""
    spo, sp, spp = tq._boarding_entries(tt, reverse)
    return tuple(fx._replace(spo=spo, sp=sp, spp=spp,
                             layer_after=np.zeros_like(fx.layer_after)))


@pytest.mark.parametrize("with_live", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_shortcuts_change_no_output(nky: RealFeed, live, with_live: bool,
                                    reverse: bool) -> None:
    tt = nky.tt
    mode = 2 if with_live else 0
    fx = tq._prepared(tt, nky.day, live if with_live else None, nky.footpaths, reverse, mode)
    plain = _unpruned(tt, fx, reverse)
    # fewer boarding entries on the day (some patterns do not run on a Wednesday)
    assert fx.sp.shape[0] < plain[5].shape[0]
    pso = np.asarray(tt.arrays["pattern_stop_offsets"])
    lens = int(np.diff(pso).max())
    scratch = [kern.Scratch(tt.n_stops, tt.n_patterns, lens, 8) for _ in range(2)]
    rng = np.random.default_rng(17)
    served = np.flatnonzero(np.diff(np.asarray(tt.arrays["stop_pattern_offsets"])) > 0)
    n_journeys = n_late = 0
    for i in range(160):
        k = int(rng.integers(1, 4))
        acc = (rng.choice(served, k, replace=False).astype(np.int32),
               rng.integers(0, 400, k).astype(np.int64))
        egr = (rng.choice(served, k, replace=False).astype(np.int32),
               rng.integers(0, 400, k).astype(np.int64))
        # half of the departures late in the evening or past midnight: next-day instances
        # take part, also where no query-day trip is left to board
        t0 = int(rng.integers(22 * 3600, 29 * 3600) if i % 2 == 0
                 else rng.integers(5 * 3600, 22 * 3600))
        deps = (np.sort(rng.integers(t0, t0 + 3600, 4))[::-1] if i % 4 == 0
                else np.array([t0])).astype(np.int64)
        if reverse:
            deps = np.ascontiguousarray(-deps[::-1])
        mts = int(rng.choice([0, 60, 120]))
        rounds = int(rng.integers(1, 7))
        got = _checked()(*fx, *acc, *egr, deps, rounds, mts, *scratch[0].arrays(),
                        tq._NO_STOP_ARRIVAL)
        want = kern.raptor(*plain, *acc, *egr, deps, rounds, mts, *scratch[1].arrays(),
                           tq._NO_STOP_ARRIVAL)
        for a, b in zip(got, want, strict=True):
            assert a.shape == b.shape and np.array_equal(a, b), (i, reverse, with_live)
        n_journeys += got[0].shape[0]
        n_late += i % 2 == 0 and got[0].shape[0] > 0
    assert all(s.is_clean() for s in scratch)
    assert n_journeys > 100 and n_late > 5
