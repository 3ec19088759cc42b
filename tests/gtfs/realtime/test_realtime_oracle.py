"""RAPTOR with decoded GTFS-Realtime equals the brute-force connection scan
(``tests/gtfs/oracle.py``) with the same live data, on 300 random queries per case:

* northern Kentucky (TANK) with generated TripUpdates feeds (``feed_gen.py``: growing delays,
  early runs, overtaking, skipped stops, NO_DATA, trip delays, cancellations), serialized and
  decoded through :mod:`gtfs.realtime`;
* BART with its real TripUpdates of 2019-08-07 (queries around the header time), and with the
  real 2019-05-28 feed replayed one day later (the recorded evening was Memorial Day, when
  the WKDY trips it names do not run; shifted by 24 h every trip runs, and the real
  deviations - Sunday-schedule trains mapped onto WKDY trips, up to 100 min early and 35
  min late - stay as recorded).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pytest
from google.transit import gtfs_realtime_pb2 as pb
from hypothesis import given, settings
from hypothesis import strategies as st

from gtfs.day import DayContext, day_trip_mask, service_midnight_epoch_s
from gtfs.footpaths import straight_line_footpaths
from gtfs.live import TransitLive
from gtfs.query import earliest_arrival, latest_departure
from gtfs.realtime.decode import decode_feed
from gtfs.realtime.encode import serialize
from gtfs.realtime.trip_updates import TripUpdatesReport, TripUpdatesState
from gtfs.timetable import Timetable
from tests.gtfs.oracle import Oracle
from tests.gtfs.test_raptor_oracle import SETTINGS, _pairs, check_journeys, stop_set

from ..conftest import RealFeed
from .conftest import rt_file
from .feed_gen import generated_trip_updates


@dataclass
class Case:
    """A timetable day with live data decoded from a feed, and its oracle."""

    tt: Timetable
    day: DayContext
    footpaths: tuple[np.ndarray, np.ndarray, np.ndarray]
    live: TransitLive
    oracle: Oracle
    report: TripUpdatesReport
    window_s: tuple[int, int]  # query departure range (query-day seconds)


def _check(case: Case, n: int = 300) -> None:
    found: list[bool] = []
    lo, hi = case.window_s

    @settings(max_examples=n, **SETTINGS)
    @given(access=stop_set(case.tt), egress=stop_set(case.tt), depart_s=st.integers(lo, hi),
           max_rounds=st.sampled_from([2, 4, 6]))
    def check(access, egress, depart_s: int, max_rounds: int) -> None:
        got = earliest_arrival(case.tt, case.day, access, egress, depart_s,
                               max_rounds=max_rounds, min_transfer_s=60,
                               footpaths=case.footpaths, live=case.live)
        want = case.oracle.pareto(access, egress, depart_s, max_rounds)
        assert _pairs(got) == want
        check_journeys(case.tt, case.day, got, case.live)
        found.append(bool(want))

    check()
    assert len(found) >= n
    assert sum(found) >= n // 4


def _case(tt: Timetable, day: DayContext, fp, msg: pb.FeedMessage, feed: str, now: int,
          window_s: tuple[int, int], **options: bool) -> Case:
    decoded = decode_feed(serialize(msg), now=now)
    state = TripUpdatesState(tt)
    report = state.apply(decoded, feed, **options)
    live = state.build(version=now)
    return Case(tt, day, fp, live, Oracle(tt, day, fp, 60, live), report, window_s)


# --------------------------------------------------------------------------- NKY, generated


@pytest.fixture(scope="module")
def nky_cases(nky: RealFeed) -> list[Case]:
    cases = []
    for seed in range(3):
        gen = generated_trip_updates(nky.tt, "nky_tank", nky.day, np.random.default_rng(seed))
        case = _case(nky.tt, nky.day, nky.footpaths, gen.message, "nky_tank", gen.header_s,
                     (0, 26 * 3600))
        rep = case.report
        assert rep.trip_updates == gen.n_trip_updates + gen.n_unknown_trips + gen.n_added
        assert rep.ignored["unknown_trip"] == gen.n_unknown_trips
        assert rep.unsupported == {"ADDED": gen.n_added}
        assert rep.cancelled == gen.n_cancelled
        assert rep.stop_time_updates_ignored["unknown_stop"] == gen.n_unknown_stops
        assert rep.applied >= 0.95 * (gen.n_trip_updates - gen.n_cancelled) + gen.n_cancelled
        cases.append(case)
    return cases


def test_generated_feeds_are_realistic(nky_cases: list[Case]) -> None:
    """The decoded live data has what the generator promises: early and late running,
    overtaking-sized delays, skipped stops, cancellations."""
    for case in nky_cases:
        sdl = case.live.day(case.day.date)
        assert sdl is not None
        d = sdl.departure_delay_s
        assert (d < -30).sum() > 100 and (d > 900).sum() > 100
        assert sdl.skipped.sum() > 20 and sdl.trip_cancelled.sum() > 10
        assert case.report.skipped_stops > 20


@pytest.mark.parametrize("k", [0, 1, 2])
def test_nky_generated_realtime_matches_oracle(nky_cases: list[Case], k: int) -> None:
    _check(nky_cases[k], n=300 if k == 0 else 100)


def test_nky_generated_realtime_arrive_by_matches_oracle(nky_cases: list[Case]) -> None:
    case = nky_cases[0]
    found: list[bool] = []

    @settings(max_examples=100, **SETTINGS)
    @given(access=stop_set(case.tt), egress=stop_set(case.tt),
           arrive_by=st.integers(6 * 3600, 25 * 3600), max_rounds=st.sampled_from([2, 4]))
    def check(access, egress, arrive_by: int, max_rounds: int) -> None:
        got = latest_departure(case.tt, case.day, access, egress, arrive_by,
                               max_rounds=max_rounds, min_transfer_s=60,
                               footpaths=case.footpaths, live=case.live)
        want = case.oracle.latest_departure(access, egress, arrive_by, max_rounds)
        assert [(j.depart_s, j.n_transfers) for j in got] == want
        check_journeys(case.tt, case.day, got, case.live)
        found.append(bool(got))

    check()
    assert sum(found) >= 25


# --------------------------------------------------------------------------- BART, real


@pytest.fixture(scope="module")
def bart_fp(bart_tt: Timetable):
    return straight_line_footpaths(bart_tt, 400.0, 1.3)


def _window(tt: Timetable, date: dt.date, header_s: int) -> tuple[int, int]:
    local = header_s - service_midnight_epoch_s(date, tt.strings["agency_timezone"][0])
    return local - 3600, local + 2 * 3600


@pytest.mark.parametrize("by_stop_id", [False, True])
def test_bart_20190807_real_realtime_matches_oracle(bart_tt: Timetable, bart_fp,
                                                    by_stop_id: bool) -> None:
    date = dt.date(2019, 8, 7)
    msg = pb.FeedMessage()
    msg.ParseFromString(rt_file("bart/bart_trip_updates_20190807.pb").read_bytes())
    day = day_trip_mask(bart_tt, date)
    case = _case(bart_tt, day, bart_fp, msg, "bart", msg.header.timestamp,
                 _window(bart_tt, date, msg.header.timestamp), mismatch_by_stop_id=by_stop_id)
    assert case.report.applied == (65 if by_stop_id else 54)
    assert case.live.day(date) is not None
    _check(case)


def test_bart_20190528_real_realtime_replayed_a_day_later_matches_oracle(
        bart_tt: Timetable, bart_fp) -> None:
    msg = pb.FeedMessage()
    msg.ParseFromString(rt_file("bart/bart_trip_updates_20190528.pb").read_bytes())
    msg.header.timestamp += 86400
    for e in msg.entity:
        for u in e.trip_update.stop_time_update:
            for ev in (u.arrival, u.departure):
                if ev.time:
                    ev.time += 86400
    date = dt.date(2019, 5, 28)
    day = day_trip_mask(bart_tt, date)
    case = _case(bart_tt, day, bart_fp, msg, "bart", msg.header.timestamp,
                 _window(bart_tt, date, msg.header.timestamp))
    assert case.report.applied == 26 and case.report.stop_time_updates_applied == 298
    sdl = case.live.day(date)
    assert sdl is not None and sdl.departure_delay_s.min() < -1800
    _check(case)
