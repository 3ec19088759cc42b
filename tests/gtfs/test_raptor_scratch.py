"""The RAPTOR kernel's reused scratch arrays (one set per thread and timetable) never carry
labels from one query into the next: answers equal those of a fresh scratch whatever ran
before, from one thread or from several at once, and the arrays are left clean."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from gtfs import query as tq
from gtfs.live import TransitLive
from gtfs.query import (
    WHEELCHAIR_ALLOW_UNKNOWN,
    Journey,
    earliest_arrival,
    latest_departure,
    range_query,
)
from tests.gtfs.realtime_gen import random_live

from .conftest import RealFeed

Query = Callable[[], list[Journey]]


def _fresh(fn: Query) -> list[Journey]:
    """``fn``'s answer on a brand-new scratch: run in a new thread, which has none yet."""
    out: list[list[Journey]] = []
    t = threading.Thread(target=lambda: out.append(fn()))
    t.start()
    t.join()
    return out[0]


def _stop_near(feed: RealFeed, centre: int, radius_m: float) -> tuple[np.ndarray, np.ndarray]:
    lat, lon = np.asarray(feed.tt.arrays["stop_lat"]), np.asarray(feed.tt.arrays["stop_lon"])
    d = np.hypot((lat - lat[centre]) * 111_000, (lon - lon[centre]) * 86_000)
    near = np.flatnonzero(d <= radius_m)
    return near.astype(np.int64), np.ceil(d[near] / 1.3).astype(np.int64)


def _queries(feed: RealFeed, live: TransitLive, seed: int, n: int) -> list[Query]:
    """``n`` random, very different queries: earliest arrival with and without live data
    and wheelchair mode, range and arrive-by, 1-6 rounds, single and multi-stop ends."""
    tt, day, fp = feed.tt, feed.day, feed.footpaths
    rng = np.random.default_rng(seed)
    served = np.flatnonzero(np.diff(np.asarray(tt.arrays["stop_pattern_offsets"])) > 0)
    out: list[Query] = []
    for i in range(n):
        o, d = (int(x) for x in rng.choice(served, 2, replace=False))
        acc = _stop_near(feed, o, 500) if i % 2 else (np.array([o]), np.array([0]))
        egr = _stop_near(feed, d, 500) if i % 3 == 0 else (np.array([d]), np.array([0]))
        t = int(rng.integers(5 * 3600, 23 * 3600))
        kw = dict(max_rounds=int(rng.integers(1, 7)), min_transfer_s=60, footpaths=fp,
                  live=live if i % 4 in (1, 2) else None,
                  wheelchair=WHEELCHAIR_ALLOW_UNKNOWN if i % 5 == 0 else 0)
        kind = i % 3
        if kind == 0:
            out.append(lambda a=acc, e=egr, t=t, kw=kw: earliest_arrival(tt, day, a, e, t, **kw))
        elif kind == 1:
            out.append(lambda a=acc, e=egr, t=t, kw=kw: range_query(tt, day, a, e, t, 3600, **kw))
        else:
            out.append(lambda a=acc, e=egr, t=t, kw=kw: latest_departure(tt, day, a, e, t, **kw))
    return out


def _my_scratch(feed: RealFeed):
    slot = feed.tt.derived.get("raptor_scratch")
    return None if slot is None else slot.scratch


def test_alternating_queries_never_leak_labels(nky: RealFeed) -> None:
    """A long six-round search and a short one elsewhere (and range / arrive-by queries
    under realtime data) alternate 200 times: each answer equals its fresh answer."""
    live = random_live(nky.tt, nky.day, np.random.default_rng(5), version=77)
    tt, day, fp = nky.tt, nky.day, nky.footpaths
    served = np.flatnonzero(np.diff(np.asarray(tt.arrays["stop_pattern_offsets"])) > 0)
    far = (np.array([served[0]]), np.array([0])), (np.array([served[-1]]), np.array([0]))
    near = _stop_near(nky, int(served[len(served) // 2]), 600)
    pair: list[Query] = [
        lambda: earliest_arrival(tt, day, far[0], far[1], 7 * 3600, max_rounds=6,
                                 min_transfer_s=60, footpaths=fp),
        lambda: earliest_arrival(tt, day, near, (np.array([served[1]]), np.array([0])),
                                 17 * 3600, max_rounds=2, min_transfer_s=0, footpaths=None,
                                 live=live, wheelchair=WHEELCHAIR_ALLOW_UNKNOWN),
        lambda: range_query(tt, day, far[1], far[0], 8 * 3600, 3600, max_rounds=4,
                            min_transfer_s=60, footpaths=fp, live=live),
        lambda: latest_departure(tt, day, far[0], near, 19 * 3600, max_rounds=6,
                                 min_transfer_s=60, footpaths=fp),
    ]
    want = [_fresh(q) for q in pair]
    assert want[0] and want[2] and want[3]  # the queries find journeys
    for _ in range(200):
        for q, w in zip(pair, want, strict=True):
            assert q() == w
    scratch = _my_scratch(nky)
    assert scratch is not None and scratch.is_clean()


def test_random_query_sequence_equals_fresh_answers(nky: RealFeed) -> None:
    live = random_live(nky.tt, nky.day, np.random.default_rng(6), version=78)
    queries = _queries(nky, live, seed=11, n=120)
    want = [_fresh(q) for q in queries]
    assert sum(bool(w) for w in want) >= 60
    for _ in range(2):
        assert [q() for q in queries] == want
    assert _my_scratch(nky).is_clean()


def test_four_threads_at_once_equal_sequential_answers(nky: RealFeed) -> None:
    """Four threads run different query lists at the same time (the kernel releases the
    GIL, so they overlap); every answer equals the one computed alone."""
    live = random_live(nky.tt, nky.day, np.random.default_rng(7), version=79)
    lists = [_queries(nky, live, seed=100 + t, n=60) for t in range(4)]
    want = [[q() for q in qs] for qs in lists]
    start = threading.Barrier(4)

    def work(t: int) -> list[list[Journey]]:
        start.wait()
        got = []
        for _ in range(3):
            got.append([q() for q in lists[t]])
        assert _my_scratch(nky).is_clean()  # this thread's own scratch
        return got

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(work, range(4)))
    for t in range(4):
        for got in results[t]:
            assert got == want[t]


def test_bad_stop_index_is_refused_before_the_kernel(nky: RealFeed) -> None:
    tt, day = nky.tt, nky.day
    for bad in (-1, tt.n_stops):
        with pytest.raises(ValueError, match="out of range"):
            earliest_arrival(tt, day, (np.array([bad]), np.array([0])),
                             (np.array([0]), np.array([0])), 8 * 3600)
    with pytest.raises(ValueError, match="max_rounds"):
        earliest_arrival(tt, day, (np.array([0]), np.array([0])),
                         (np.array([1]), np.array([0])), 8 * 3600, max_rounds=-1)


def test_scratch_grows_for_more_rounds_and_stays_clean(nky: RealFeed) -> None:
    tt, day, fp = nky.tt, nky.day, nky.footpaths
    served = np.flatnonzero(np.diff(np.asarray(tt.arrays["stop_pattern_offsets"])) > 0)
    acc, egr = (np.array([served[3]]), np.array([0])), (np.array([served[-4]]), np.array([0]))
    small = earliest_arrival(tt, day, acc, egr, 9 * 3600, max_rounds=3, footpaths=fp)
    big = earliest_arrival(tt, day, acc, egr, 9 * 3600, max_rounds=tq.SCRATCH_ROUNDS + 4,
                           footpaths=fp)
    assert _my_scratch(nky).max_rounds >= tq.SCRATCH_ROUNDS + 4
    assert earliest_arrival(tt, day, acc, egr, 9 * 3600, max_rounds=3, footpaths=fp) == small
    assert _fresh(lambda: earliest_arrival(tt, day, acc, egr, 9 * 3600,
                                           max_rounds=tq.SCRATCH_ROUNDS + 4,
                                           footpaths=fp)) == big
    assert _my_scratch(nky).is_clean()
