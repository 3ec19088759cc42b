"""Property tests: RAPTOR agrees with the brute-force oracle (``tests/gtfs/oracle.py``) on real
feeds, with and without realtime data.

Schedule only: earliest arrival and the Pareto set over (arrival, transfers) on 300 random
queries per feed with footpaths and random multi-stop access/egress. Realtime: several random
:class:`~gtfs.live.TransitLive` values per feed (per-stop delays carried to later stops and
partly recovered, dwell changes, delays that make trips overtake each other, skipped stops,
cancelled trips, closed stops; and order-keeping delays) with 300 earliest-arrival queries,
range queries checked against repeated oracle searches and arrive-by queries against a binary
search over the oracle, per feed. Journeys are checked against the realtime times of their
trips. Wheelchair modes on a feed whose accessibility values are mixed 0/1/2.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gtfs.day import day_trip_mask
from gtfs.geo import haversine_m
from gtfs.live import TransitLive
from gtfs.query import (
    WHEELCHAIR_ALLOW_UNKNOWN,
    WHEELCHAIR_OFF,
    WHEELCHAIR_STRICT,
    Journey,
    _live_layers,
    earliest_arrival,
    latest_departure,
    range_query,
)
from gtfs.timetable import Timetable
from tests.gtfs.oracle import INF, Oracle, trip_times
from tests.gtfs.realtime_gen import random_live

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


@st.composite
def queries(draw, tt):
    return {
        "access": draw(stop_set(tt)),
        "egress": draw(stop_set(tt)),
        "depart_s": draw(st.integers(0, 26 * 3600)),
        "max_rounds": draw(st.sampled_from([2, 4, 6])),
    }


# ------------------------------------------------------------------------- live cases


@dataclass
class LiveCase:
    """A random live value for a feed's day and the oracle built on it."""

    live: TransitLive
    oracle: Oracle


_CASES: dict[str, list[LiveCase]] = {}


def live_cases(name: str, feed: RealFeed) -> list[LiveCase]:
    """Seven live values per feed: four mixed, one with heavy overtaking and skipping, two
    that keep the trips' order (built once per session)."""
    if name not in _CASES:
        specs = [dict(style="mixed")] * 4 + \
            [dict(style="mixed", p_delayed=0.7, p_overtake=0.6, p_skip=0.2, p_cancel=0.1)] + \
            [dict(style="fifo")] * 2
        cases = []
        for seed, kw in enumerate(specs):
            live = random_live(feed.tt, feed.day, np.random.default_rng(1000 + seed),
                               version=100 + seed, **kw)
            cases.append(LiveCase(live, Oracle(feed.tt, feed.day, feed.footpaths, 60, live)))
        _CASES[name] = cases
    return _CASES[name]


def _accessible(mode: int, value: int) -> bool:
    return mode == 0 or (mode == 1 and value == 1) or (mode == 2 and value != 2)


def check_journeys(tt: Timetable, day, journeys: list[Journey], live: TransitLive | None,
                   wheelchair: int = 0) -> None:
    """Journeys are ordered in time and every transit leg rides a usable trip instance at its
    realtime times, boarding and alighting where that is allowed."""
    dates = [day.date + dt.timedelta(days=int(d)) for d in day.layer_days]
    closed = np.zeros(tt.n_stops, dtype=bool)
    if live is not None and live.stop_closed is not None:
        closed = live.stop_closed
    for j in journeys:
        times = [t for leg in j.legs for t in (leg.depart_s, leg.arrive_s)]
        assert times == sorted(times)
        for leg in j.transit_legs:
            layer = dates.index(leg.service_date)
            assert day.trip_runs[layer, leg.trip]
            off = int(day.trip_offset_s[layer, leg.trip])
            arr, dep, skipped = trip_times(tt, leg.trip, live, leg.service_date)
            assert leg.depart_s == int(dep[leg.board_pos]) + off
            assert leg.arrive_s == int(arr[leg.alight_pos]) + off
            assert not skipped[leg.board_pos] and not skipped[leg.alight_pos]
            pat = int(tt.arrays["trip_pattern"][leg.trip])
            stops = tt.pattern_stop_list(pat)
            assert (stops[leg.board_pos], stops[leg.alight_pos]) == (leg.from_stop, leg.to_stop)
            assert not closed[leg.from_stop] and not closed[leg.to_stop]
            sdl = live.day(leg.service_date) if live is not None else None
            assert sdl is None or not sdl.trip_cancelled[leg.trip]
            assert _accessible(wheelchair, int(tt.arrays["trip_wheelchair"][leg.trip]))
            for s in (leg.from_stop, leg.to_stop):
                assert _accessible(wheelchair, int(tt.arrays["stop_wheelchair"][s]))


def _pairs(journeys: list[Journey]) -> list[tuple[int, int]]:
    return [(j.arrive_s, j.n_transfers) for j in journeys]


# ------------------------------------------------------------------------- schedule only


@pytest.mark.parametrize("feed_name", ["nky", "portland"])
def test_earliest_arrival_pareto_matches_oracle(feed_name: str, request) -> None:
    feed: RealFeed = request.getfixturevalue(feed_name)
    n_nonempty = []

    @settings(max_examples=300, **SETTINGS)
    @given(q=queries(feed.tt))
    def check(q: dict) -> None:
        got = earliest_arrival(feed.tt, feed.day, q["access"], q["egress"], q["depart_s"],
                               max_rounds=q["max_rounds"], min_transfer_s=60,
                               footpaths=feed.footpaths)
        best = feed.oracle.best_by_rounds(q["access"], q["egress"], q["depart_s"],
                                          q["max_rounds"])
        assert _pairs(got) == [(int(best[k]), k - 1) for k in range(1, q["max_rounds"] + 1)
                               if best[k] < best[k - 1]]
        check_journeys(feed.tt, feed.day, got, None)
        for j in got:
            assert j.depart_s >= q["depart_s"]
        n_nonempty.append(best[-1] < INF)

    check()
    assert len(n_nonempty) >= 300
    assert sum(n_nonempty) >= 100  # the queries are not trivially empty


# ------------------------------------------------------------------------- realtime


@pytest.mark.parametrize("feed_name", ["nky", "portland"])
def test_live_cases_overtake_skip_and_keep_order(feed_name: str, request) -> None:
    """The random live values make trips overtake each other (checked here independently of
    the kernel code) and the prepared FIFO flags say exactly that."""
    feed: RealFeed = request.getfixturevalue(feed_name)
    tt, day = feed.tt, feed.day
    a = {k: np.asarray(v) for k, v in tt.arrays.items()}
    n_overtaking = n_fifo_delayed = 0
    for case in live_cases(feed_name, feed):
        flags = _live_layers(tt, day, case.live).layer_pat_fifo
        for layer, delta in enumerate(day.layer_days):
            sdl = case.live.day(day.date + dt.timedelta(days=int(delta)))
            runs = tt.active_service_mask(day.date + dt.timedelta(days=int(delta)))[
                a["trip_service"]]
            for p in range(tt.n_patterns):
                t0, t1 = int(a["pattern_trip_offsets"][p]), int(a["pattern_trip_offsets"][p + 1])
                n = int(a["pattern_stop_offsets"][p + 1] - a["pattern_stop_offsets"][p])
                sel = np.flatnonzero(runs[t0:t1])
                s0 = int(a["pattern_st_offsets"][p])
                blk = slice(s0, s0 + (t1 - t0) * n)
                arr = a["st_arrival_s"][blk].reshape(-1, n)[sel].astype(np.int64)
                dep = a["st_departure_s"][blk].reshape(-1, n)[sel].astype(np.int64)
                skip = np.zeros_like(arr, dtype=bool)
                if sdl is not None:
                    arr = arr + sdl.arrival_delay_s[blk].reshape(-1, n)[sel]
                    dep = dep + sdl.departure_delay_s[blk].reshape(-1, n)[sel]
                    live_trips = ~sdl.trip_cancelled[t0:t1][sel]
                    skip = sdl.skipped[blk].reshape(-1, n)[sel] & live_trips[:, None]
                ordered = bool((np.diff(arr, axis=0) >= 0).all() and
                               (np.diff(dep, axis=0) >= 0).all())
                want = ordered and not skip.any()
                assert flags[layer, p] == want, (case.live.version, layer, p)
                n_overtaking += not ordered
                if sdl is not None and want:
                    d = sdl.departure_delay_s[blk].reshape(-1, n)[sel]
                    n_fifo_delayed += bool((d != 0).any())
    assert n_overtaking >= 10
    assert n_fifo_delayed >= 10


@pytest.mark.parametrize("feed_name", ["nky", "portland"])
def test_realtime_earliest_arrival_matches_oracle(feed_name: str, request) -> None:
    feed: RealFeed = request.getfixturevalue(feed_name)
    cases = live_cases(feed_name, feed)
    n_nonempty = []

    @settings(max_examples=300, **SETTINGS)
    @given(q=queries(feed.tt), ci=st.integers(0, len(cases) - 1),
           wheelchair=st.sampled_from([WHEELCHAIR_OFF, WHEELCHAIR_ALLOW_UNKNOWN]))
    def check(q: dict, ci: int, wheelchair: int) -> None:
        case = cases[ci]
        got = earliest_arrival(feed.tt, feed.day, q["access"], q["egress"], q["depart_s"],
                               max_rounds=q["max_rounds"], min_transfer_s=60,
                               footpaths=feed.footpaths, live=case.live, wheelchair=wheelchair)
        want = case.oracle.pareto(q["access"], q["egress"], q["depart_s"], q["max_rounds"],
                                  wheelchair)
        assert _pairs(got) == want
        check_journeys(feed.tt, feed.day, got, case.live, wheelchair)
        for j in got:
            assert j.depart_s >= q["depart_s"]
        n_nonempty.append(bool(want))

    check()
    assert len(n_nonempty) >= 300
    assert sum(n_nonempty) >= 100


@pytest.mark.parametrize("feed_name", ["nky", "portland"])
def test_realtime_range_query_matches_oracle(feed_name: str, request) -> None:
    """Profile check: for departure taus in the window, the best range journey leaving at or
    after tau with <= k trips equals the oracle's (when that one leaves within the window,
    i.e. is strictly better than leaving after it); and single queries agree too."""
    feed: RealFeed = request.getfixturevalue(feed_name)
    tt = feed.tt
    cases = [None, *live_cases(feed_name, feed)]
    n_journeys = []

    @settings(max_examples=60, **SETTINGS)
    @given(q=queries(tt), from_s=st.integers(5 * 3600, 20 * 3600),
           ci=st.integers(0, len(cases) - 1))
    def check(q: dict, from_s: int, ci: int) -> None:
        case = cases[ci]
        live = None if case is None else case.live
        oracle = feed.oracle if case is None else case.oracle
        window = 3600
        kw = dict(max_rounds=q["max_rounds"], min_transfer_s=60, footpaths=feed.footpaths,
                  live=live)
        got = range_query(tt, feed.day, q["access"], q["egress"], from_s, window, **kw)
        check_journeys(tt, feed.day, got, live)
        for j in got:
            assert from_s <= j.depart_s <= from_s + window
        n_journeys.append(len(got))
        taus = sorted({from_s, from_s + window} | {j.depart_s for j in got}
                      | {from_s + 600 * i for i in range(1, 6)})
        after = oracle.best_by_rounds(q["access"], q["egress"], from_s + window + 1,
                                      q["max_rounds"])
        for tau in taus:
            best = oracle.best_by_rounds(q["access"], q["egress"], tau, q["max_rounds"])
            single = earliest_arrival(tt, feed.day, q["access"], q["egress"], tau, **kw)
            assert _pairs(single) == [(int(best[k]), k - 1)
                                      for k in range(1, q["max_rounds"] + 1)
                                      if best[k] < best[k - 1]]
            for k in range(1, q["max_rounds"] + 1):
                from_range = min((j.arrive_s for j in got
                                  if j.depart_s >= tau and j.n_transfers <= k - 1),
                                 default=int(INF))
                assert from_range >= best[k]
                if best[k] < after[k]:
                    assert from_range == best[k], (tau, k)

    check()
    assert sum(n > 0 for n in n_journeys) >= 15


@pytest.mark.parametrize("feed_name", ["nky", "portland"])
def test_realtime_arrive_by_matches_oracle(feed_name: str, request) -> None:
    feed: RealFeed = request.getfixturevalue(feed_name)
    tt = feed.tt
    cases = [None, *live_cases(feed_name, feed)]
    n_found = []

    @settings(max_examples=120, **SETTINGS)
    @given(q=queries(tt), arrive_by=st.integers(6 * 3600, 25 * 3600),
           ci=st.integers(0, len(cases) - 1))
    def check(q: dict, arrive_by: int, ci: int) -> None:
        case = cases[ci]
        live = None if case is None else case.live
        oracle = feed.oracle if case is None else case.oracle
        got = latest_departure(tt, feed.day, q["access"], q["egress"], arrive_by,
                               max_rounds=q["max_rounds"], min_transfer_s=60,
                               footpaths=feed.footpaths, live=live)
        want = oracle.latest_departure(q["access"], q["egress"], arrive_by, q["max_rounds"])
        assert [(j.depart_s, j.n_transfers) for j in got] == want
        check_journeys(tt, feed.day, got, live)
        for j in got:
            assert j.arrive_s <= arrive_by
        n_found.append(bool(got))

    check()
    assert sum(n_found) >= 30


# ------------------------------------------------------------------------- wheelchair


def test_wheelchair_modes_match_oracle_with_unknown_values(nky: RealFeed) -> None:
    """Northern Kentucky with accessibility values redrawn as 0 (unknown) / 1 / 2 for trips
    and stops: every mode, with and without realtime data, equals the oracle."""
    rng = np.random.default_rng(3)
    arrays = dict(nky.tt.arrays)
    arrays["trip_wheelchair"] = rng.choice(np.array([0, 1, 1, 2], dtype=np.int8), nky.tt.n_trips)
    arrays["stop_wheelchair"] = rng.choice(np.array([0, 1, 1, 1, 2], dtype=np.int8),
                                           nky.tt.n_stops)
    tt = Timetable(arrays=arrays, strings=nky.tt.strings, meta=nky.tt.meta)
    day = day_trip_mask(tt, nky.day.date)
    live = random_live(tt, day, np.random.default_rng(9), version=1)
    oracles = {None: Oracle(tt, day, nky.footpaths, 60), 1: Oracle(tt, day, nky.footpaths, 60,
                                                                    live)}
    lives = {None: None, 1: live}
    found = {WHEELCHAIR_OFF: 0, WHEELCHAIR_STRICT: 0, WHEELCHAIR_ALLOW_UNKNOWN: 0}

    @settings(max_examples=80, **SETTINGS)
    @given(q=queries(tt), mode=st.sampled_from(sorted(found)), lk=st.sampled_from([None, 1]))
    def check(q: dict, mode: int, lk) -> None:
        got = earliest_arrival(tt, day, q["access"], q["egress"], q["depart_s"],
                               max_rounds=q["max_rounds"], min_transfer_s=60,
                               footpaths=nky.footpaths, wheelchair=mode, live=lives[lk])
        want = oracles[lk].pareto(q["access"], q["egress"], q["depart_s"], q["max_rounds"],
                                  mode)
        assert _pairs(got) == want
        check_journeys(tt, day, got, lives[lk], mode)
        found[mode] += bool(got)

    check()
    assert min(found.values()) >= 5
