"""Property tests: RAPTOR agrees with the brute-force oracle (tests/gtfs/oracle.py) on real feeds.

Earliest arrival and the Pareto set over (arrival, transfers) on 300 random queries per feed
with footpaths and random multi-stop access/egress; live state (closures, cancellations,
FIFO-preserving delays), wheelchair; range queries against repeated single queries; arrive-by
against a binary search over the oracle.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gtfs.query import earliest_arrival, latest_departure, range_query
from gtfs.shapes import haversine_m
from tests.gtfs.oracle import INF, Oracle

from .conftest import RealFeed

SETTINGS = dict(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@st.composite
def stop_set(draw, tt, max_n: int = 3, max_walk_s: int = 900):
    """Random access/egress: either random stops or the stops around a random stop."""
    n_stops = tt.n_stops
    if draw(st.booleans()):
        idx = draw(st.lists(st.integers(0, n_stops - 1), min_size=1, max_size=max_n,
                            unique=True))
        times = draw(st.lists(st.integers(0, max_walk_s), min_size=len(idx),
                              max_size=len(idx)))
        return np.array(idx, dtype=np.int64), np.array(times, dtype=np.int64)
    center = draw(st.integers(0, n_stops - 1))
    lat, lon = np.asarray(tt.arrays["stop_lat"]), np.asarray(tt.arrays["stop_lon"])
    d = haversine_m(lat[center], lon[center], lat, lon)
    near = np.flatnonzero(d <= 600)
    return near.astype(np.int64), np.ceil(d[near] / 1.3).astype(np.int64)


def _queries(feed_fixture: str):
    @st.composite
    def q(draw, tt):
        return {
            "access": draw(stop_set(tt)),
            "egress": draw(stop_set(tt)),
            "depart_s": draw(st.integers(0, 26 * 3600)),
            "max_rounds": draw(st.sampled_from([2, 4, 6])),
        }
    return q


def _check_pareto(feed: RealFeed, q: dict, oracle: Oracle | None = None, **live) -> None:
    oracle = oracle or feed.oracle
    got = earliest_arrival(feed.tt, feed.day, q["access"], q["egress"], q["depart_s"],
                           max_rounds=q["max_rounds"], min_transfer_s=60,
                           footpaths=feed.footpaths, **live)
    want = oracle.pareto(q["access"], q["egress"], q["depart_s"], q["max_rounds"],
                         wheelchair=live.get("wheelchair", False),
                         stop_closed=live.get("stop_closed"))
    assert [(j.arrive_s, j.n_transfers) for j in got] == want
    for j in got:  # journeys are consistent with the timetable and with themselves
        assert j.depart_s >= q["depart_s"]
        times = [t for leg in j.legs for t in (leg.depart_s, leg.arrive_s)]
        assert times == sorted(times)
        for leg in j.transit_legs:
            arr, dep = feed.tt.trip_times(leg.trip)
            off = leg.depart_s - int(dep[leg.board_pos])
            assert leg.arrive_s - int(arr[leg.alight_pos]) == off
            assert feed.tt.pattern_stop_list(int(feed.tt.arrays["trip_pattern"][leg.trip]))[
                leg.board_pos] == leg.from_stop


@pytest.mark.parametrize("feed_name", ["nky", "portland"])
def test_earliest_arrival_pareto_matches_oracle(feed_name: str, request) -> None:
    feed: RealFeed = request.getfixturevalue(feed_name)
    n_nonempty = []

    @settings(max_examples=300, **SETTINGS)
    @given(q=_queries(feed_name)(feed.tt))
    def check(q: dict) -> None:
        _check_pareto(feed, q)
        best = feed.oracle.best_by_rounds(q["access"], q["egress"], q["depart_s"],
                                          q["max_rounds"])
        n_nonempty.append(best[-1] < INF)

    check()
    assert len(n_nonempty) >= 300
    assert sum(n_nonempty) >= 100  # the queries are not trivially empty


@pytest.mark.parametrize("feed_name", ["nky", "portland"])
def test_live_state_and_wheelchair_match_oracle(feed_name: str, request) -> None:
    feed: RealFeed = request.getfixturevalue(feed_name)
    tt = feed.tt

    @settings(max_examples=25, **SETTINGS)
    @given(q=_queries(feed_name)(tt), seed=st.integers(0, 2**31 - 1),
           wheelchair=st.booleans())
    def check(q: dict, seed: int, wheelchair: bool) -> None:
        rng = np.random.default_rng(seed)
        closed = rng.random(tt.n_stops) < 0.05
        cancelled = rng.random(tt.n_trips) < 0.1
        # one delay per pattern keeps trips FIFO, so RAPTOR must stay exact
        pat_delay = rng.choice([0, 0, 60, 300, -60], tt.n_patterns)
        delay = pat_delay[np.asarray(tt.arrays["trip_pattern"])].astype(np.int32)
        oracle = Oracle(tt, feed.day, feed.footpaths, 60, delay, cancelled)
        _check_pareto(feed, q, oracle, stop_closed=closed, trip_cancelled=cancelled,
                      trip_delay_s=delay, wheelchair=wheelchair)

    check()


@pytest.mark.parametrize("feed_name", ["nky", "portland"])
def test_range_query_matches_repeated_single_queries(feed_name: str, request) -> None:
    feed: RealFeed = request.getfixturevalue(feed_name)
    tt = feed.tt

    @settings(max_examples=15, **SETTINGS)
    @given(q=_queries(feed_name)(tt), from_s=st.integers(5 * 3600, 20 * 3600))
    def check(q: dict, from_s: int) -> None:
        window = 3600
        kw = dict(max_rounds=q["max_rounds"], min_transfer_s=60, footpaths=feed.footpaths)
        got = range_query(tt, feed.day, q["access"], q["egress"], from_s, window, **kw)
        for j in got:
            assert from_s <= j.depart_s <= from_s + window
        # profile check: for departure taus in the window, the best range journey leaving
        # at or after tau with <= k trips equals the single query's (when that one leaves
        # within the window, i.e. is strictly better than leaving after the window)
        taus = sorted({from_s, from_s + window} | {j.depart_s for j in got}
                      | {from_s + 600 * i for i in range(1, 6)})
        after = feed.oracle.best_by_rounds(q["access"], q["egress"], from_s + window + 1,
                                           q["max_rounds"])
        for tau in taus:
            best = feed.oracle.best_by_rounds(q["access"], q["egress"], tau, q["max_rounds"])
            single = earliest_arrival(tt, feed.day, q["access"], q["egress"], tau, **kw)
            assert [(j.arrive_s, j.n_transfers) for j in single] == \
                [(int(best[k]), k - 1) for k in range(1, q["max_rounds"] + 1)
                 if best[k] < best[k - 1]]
            for k in range(1, q["max_rounds"] + 1):
                from_range = min((j.arrive_s for j in got
                                  if j.depart_s >= tau and j.n_transfers <= k - 1),
                                 default=int(INF))
                assert from_range >= best[k]
                if best[k] < after[k]:
                    assert from_range == best[k], (tau, k)

    check()


@pytest.mark.parametrize("feed_name", ["nky", "portland"])
def test_arrive_by_matches_oracle(feed_name: str, request) -> None:
    feed: RealFeed = request.getfixturevalue(feed_name)
    tt = feed.tt

    @settings(max_examples=40, **SETTINGS)
    @given(q=_queries(feed_name)(tt), arrive_by=st.integers(6 * 3600, 25 * 3600))
    def check(q: dict, arrive_by: int) -> None:
        got = latest_departure(tt, feed.day, q["access"], q["egress"], arrive_by,
                               max_rounds=q["max_rounds"], min_transfer_s=60,
                               footpaths=feed.footpaths)
        want = feed.oracle.latest_departure(q["access"], q["egress"], arrive_by,
                                            q["max_rounds"])
        assert [(j.depart_s, j.n_transfers) for j in got] == want
        for j in got:
            assert j.arrive_s <= arrive_by
            times = [t for leg in j.legs for t in (leg.depart_s, leg.arrive_s)]
            assert times == sorted(times)

    check()
