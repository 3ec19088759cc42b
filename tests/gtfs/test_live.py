"""Transit live data: the builder (normalisation, dates, indices), the immutable values, and
how queries prepare and cache per-layer arrays from them."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gtfs import query
from gtfs.compile import compile_feeds
from gtfs.day import day_trip_mask
from gtfs.live import (
    EMPTY,
    LiveDataError,
    ServiceDayLive,
    TransitLive,
    TransitLiveBuilder,
    trip_stop_times,
)
from gtfs.query import earliest_arrival

from .test_raptor_small import NETWORK, WED, at, hms


@pytest.fixture(scope="module")
def tt(tmp_path_factory):
    from gtfs.testing import write_feed

    path = write_feed(tmp_path_factory.mktemp("live") / "feed.zip", NETWORK)
    tt, report = compile_feeds([path])
    assert report.n_errors == 0
    return tt


def _st_base(tt, trip: int) -> tuple[int, int]:
    a = tt.arrays
    p = int(a["trip_pattern"][trip])
    n = int(a["pattern_stop_offsets"][p + 1] - a["pattern_stop_offsets"][p])
    return int(a["pattern_st_offsets"][p]) + (trip - int(a["pattern_trip_offsets"][p])) * n, n


def _delays(live: TransitLive, tt, date, trip) -> tuple[list[int], list[int]]:
    base, n = _st_base(tt, trip)
    d = live.day(date)
    return (d.arrival_delay_s[base: base + n].tolist(),
            d.departure_delay_s[base: base + n].tolist())


# --------------------------------------------------------------------------- values


def test_empty_values() -> None:
    assert EMPTY.is_empty and not EMPTY.has_realtime and EMPTY.day(WED) is None
    e = TransitLive.empty(version=7)
    assert e.version == 7 and e.is_empty and e.stop_closed is None and dict(e.days) == {}
    # an all-false closure array is still empty
    assert TransitLive(stop_closed=np.zeros(4, dtype=bool)).is_empty


def test_arrays_are_read_only_and_checked(tt) -> None:
    n_st = len(tt.arrays["st_arrival_s"])
    closed = np.zeros(tt.n_stops, dtype=bool)
    closed[0] = True
    sdl = ServiceDayLive(WED, np.zeros(tt.n_trips, bool), np.zeros(n_st, np.int32),
                         np.zeros(n_st, np.int32), np.zeros(n_st, bool))
    live = TransitLive(version=1, stop_closed=closed, days={WED: sdl})
    closed[1] = True  # the caller's array was copied
    assert live.stop_closed.tolist()[:2] == [True, False]
    for arr in (live.stop_closed, sdl.trip_cancelled, sdl.arrival_delay_s,
                sdl.departure_delay_s, sdl.skipped):
        assert not arr.flags.writeable
        with pytest.raises(ValueError):
            arr[0] = 1
    assert not live.is_empty and live.has_realtime and live.day(WED) is sdl
    with pytest.raises(TypeError):
        live.days[WED + dt.timedelta(days=1)] = sdl  # read-only mapping
    with pytest.raises(LiveDataError, match="differ in length"):
        ServiceDayLive(WED, np.zeros(tt.n_trips, bool), np.zeros(n_st, np.int32),
                       np.zeros(n_st - 1, np.int32), np.zeros(n_st, bool))
    with pytest.raises(LiveDataError, match="integer seconds"):
        ServiceDayLive(WED, np.zeros(tt.n_trips, bool), np.zeros(n_st, np.float64),
                       np.zeros(n_st, np.int32), np.zeros(n_st, bool))
    with pytest.raises(LiveDataError, match="ServiceDayLive of"):
        TransitLive(days={WED + dt.timedelta(days=1): sdl})


# --------------------------------------------------------------------------- builder


def test_builder_dates_and_indices(tt) -> None:
    r1a = tt.trip_index("feed:R1a")
    thu = WED + dt.timedelta(days=1)
    live = (TransitLiveBuilder(tt).close_stop(tt.stop_index("feed:C"))
            .cancel_trip(thu, r1a).skip_stop(WED, r1a, 1).delay_trip(WED, r1a, 60)
            .build(version=3))
    assert live.version == 3 and set(live.days) == {WED, thu}
    assert np.flatnonzero(live.stop_closed).tolist() == [tt.stop_index("feed:C")]
    assert live.day(thu).trip_cancelled[r1a] and not live.day(WED).trip_cancelled[r1a]
    base, n = _st_base(tt, r1a)
    assert live.day(WED).skipped[base: base + n].tolist() == [False, True, False]
    assert not live.day(thu).skipped.any()
    assert _delays(live, tt, WED, r1a) == ([60] * 3, [60] * 3)
    assert _delays(live, tt, thu, r1a) == ([0] * 3, [0] * 3)
    # other trips untouched
    assert int(np.count_nonzero(live.day(WED).departure_delay_s)) == 3
    b = TransitLiveBuilder(tt)
    with pytest.raises(LiveDataError, match="trip index"):
        b.delay_trip(WED, tt.n_trips, 60)
    with pytest.raises(LiveDataError, match="stop position 3"):
        b.skip_stop(WED, r1a, 3)
    with pytest.raises(LiveDataError, match="stop index"):
        b.close_stop(-1)
    assert b.build(version=0).is_empty


def test_builder_normalises_by_raising_later_times(tt) -> None:
    r1a = tt.trip_index("feed:R1a")  # scheduled 08:00 A, 08:10 B, 08:20 C
    live = (TransitLiveBuilder(tt)
            # a 15-minute arrival delay at B: the departure there and C follow
            .set_stop_time(WED, r1a, 1, arrival_delay_s=900)
            .build(version=1))
    assert _delays(live, tt, WED, r1a) == ([0, 900, 300], [0, 900, 300])
    live = (TransitLiveBuilder(tt)
            # running 2 minutes early at A is kept; a departure before its arrival is raised
            .set_stop_time(WED, r1a, 0, arrival_delay_s=-120, departure_delay_s=-120)
            .set_stop_time(WED, r1a, 1, arrival_delay_s=300, departure_delay_s=-60)
            .build(version=2))
    assert _delays(live, tt, WED, r1a) == ([-120, 300, 0], [-120, 300, 0])
    live = TransitLiveBuilder(tt).set_stop_time(WED, r1a, 0, departure_delay_s=-120).build(3)
    assert _delays(live, tt, WED, r1a) == ([0, 0, 0], [0, 0, 0])
    # earlier values are never lowered: an on-time arrival at C after leaving B 20 minutes
    # late rises only to that departure (08:30, +10 min)
    live = TransitLiveBuilder(tt).delay_trip(WED, r1a, 1200).set_stop_time(
        WED, r1a, 2, arrival_delay_s=0).build(version=4)
    assert _delays(live, tt, WED, r1a) == ([1200, 1200, 600], [1200, 1200, 1200])


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(updates=st.lists(st.tuples(st.integers(0, 2), st.one_of(st.none(), st.integers(-900, 1800)),
                                  st.one_of(st.none(), st.integers(-900, 1800))),
                        min_size=1, max_size=6))
def test_builder_times_are_ordered_and_never_lowered(tt, updates) -> None:
    r1a = tt.trip_index("feed:R1a")
    b = TransitLiveBuilder(tt)
    want_arr, want_dep = [0, 0, 0], [0, 0, 0]
    for pos, a, d in updates:
        b.set_stop_time(WED, r1a, pos, arrival_delay_s=a, departure_delay_s=d)
        want_arr[pos] = want_arr[pos] if a is None else a
        want_dep[pos] = want_dep[pos] if d is None else d
    arr_d, dep_d = _delays(b.build(version=1), tt, WED, r1a)
    s_arr, s_dep = (x.astype(int).tolist() for x in tt.trip_times(r1a))
    seq = [t for i in range(3) for t in (s_arr[i] + arr_d[i], s_dep[i] + dep_d[i])]
    assert seq == sorted(seq)
    for i in range(3):
        assert arr_d[i] >= want_arr[i] and dep_d[i] >= want_dep[i]
    # the first value is never changed
    assert arr_d[0] == want_arr[0]


def test_builder_from_base_keeps_base_and_adds(tt) -> None:
    r1a, r1b = tt.trip_index("feed:R1a"), tt.trip_index("feed:R1b")
    first = TransitLiveBuilder(tt).delay_trip(WED, r1a, 120).close_stop(0).build(version=1)
    second = TransitLiveBuilder(tt, base=first).delay_trip(WED, r1b, 60).build(version=2)
    assert _delays(first, tt, WED, r1b) == ([0] * 3, [0] * 3)
    assert _delays(second, tt, WED, r1a) == ([120] * 3, [120] * 3)
    assert _delays(second, tt, WED, r1b) == ([60] * 3, [60] * 3)
    assert second.stop_closed[0]
    # a builder goes on after build() without changing what it built
    b = TransitLiveBuilder(tt).delay_trip(WED, r1a, 30)
    one = b.build(version=1)
    b.delay_trip(WED, r1a, 90)
    assert _delays(one, tt, WED, r1a)[0] == [30] * 3
    assert _delays(b.build(version=2), tt, WED, r1a)[0] == [90] * 3


def test_trip_stop_times_realtime_or_schedule(tt) -> None:
    r1a = tt.trip_index("feed:R1a")
    live = (TransitLiveBuilder(tt).set_stop_time(WED, r1a, 1, arrival_delay_s=120)
            .skip_stop(WED, r1a, 2).build(version=1))
    arr, dep, skipped = trip_stop_times(tt, r1a, WED, live)
    # the departure at B follows the late arrival; C (08:20) is still after it
    assert (arr.tolist(), dep.tolist(), skipped.tolist()) == (
        [hms("08:00"), hms("08:12"), hms("08:20")], [hms("08:00"), hms("08:12"), hms("08:20")],
        [False, False, True])
    for other in (trip_stop_times(tt, r1a, WED + dt.timedelta(days=1), live),
                  trip_stop_times(tt, r1a, WED)):
        assert other[0].tolist() == [hms("08:00"), hms("08:10"), hms("08:20")]
        assert not other[2].any()


# --------------------------------------------------------------------------- preparation


def test_no_realtime_uses_the_timetable_arrays(tt) -> None:
    day = day_trip_mask(tt, WED)
    closed_only = TransitLiveBuilder(tt).close_stop(0).build(version=1)
    thu_only = TransitLiveBuilder(tt).delay_trip(WED + dt.timedelta(days=5), 0, 60).build(2)
    for live in (None, EMPTY, closed_only, thu_only):
        la = query._live_layers(tt, day, live)
        assert la.st_arr is query._tt_args(tt)[6] and la.st_dep is query._tt_args(tt)[7]
        assert la.layer_pat_fifo.all()
        assert query._live_layers(tt, day, live) is la  # no per-query arrays


def test_prepared_arrays_are_cached_per_version_and_date(tt) -> None:
    day = day_trip_mask(tt, WED)
    r1a = tt.trip_index("feed:R1a")
    live = TransitLiveBuilder(tt).delay_trip(WED, r1a, 60).build(version=41)
    la = query._live_layers(tt, day, live)
    assert query._live_layers(tt, day, live) is la
    # the same version with other data (a misuse) is noticed, never served stale
    other = TransitLiveBuilder(tt).delay_trip(WED, r1a, 1200).build(version=41)
    lb = query._live_layers(tt, day, other)
    assert lb is not la
    base, _ = _st_base(tt, r1a)
    layer = list(day.layer_days).index(0)
    assert lb.st_dep[lb.layer_st[layer] + base] == tt.arrays["st_departure_s"][base] + 1200
    # the previous and next days read the schedule (no data for them)
    for li, delta in enumerate(day.layer_days):
        if delta != 0:
            assert lb.st_dep[lb.layer_st[li] + base] == tt.arrays["st_departure_s"][base]
    # bounded
    for v in range(query.LIVE_CACHE_SIZE + 3):
        query._live_layers(tt, day, TransitLiveBuilder(tt).delay_trip(WED, r1a, v).build(v))
    assert len(tt.derived["live_layers"]) == query.LIVE_CACHE_SIZE


def test_hand_made_inconsistent_times_are_refused(tt) -> None:
    day = day_trip_mask(tt, WED)
    n_st = len(tt.arrays["st_arrival_s"])
    r1a = tt.trip_index("feed:R1a")
    base, _ = _st_base(tt, r1a)
    dep = np.zeros(n_st, np.int32)
    dep[base] = 3600  # leaves A at 09:00, arrives B at 08:10
    bad = ServiceDayLive(WED, np.zeros(tt.n_trips, bool), np.zeros(n_st, np.int32), dep,
                         np.zeros(n_st, bool))
    with pytest.raises(LiveDataError, match="R1a decrease at stop position 1"):
        earliest_arrival(tt, day, at(tt, "A"), at(tt, "C"), hms("07:55"),
                         live=TransitLive(version=1, days={WED: bad}))
    short = ServiceDayLive(WED, np.zeros(tt.n_trips, bool), np.zeros(3, np.int32),
                           np.zeros(3, np.int32), np.zeros(3, bool))
    with pytest.raises(LiveDataError, match="stop times"):
        earliest_arrival(tt, day, at(tt, "A"), at(tt, "C"), hms("07:55"),
                         live=TransitLive(version=2, days={WED: short}))
    with pytest.raises(LiveDataError, match="stop_closed"):
        earliest_arrival(tt, day, at(tt, "A"), at(tt, "C"), hms("07:55"),
                         live=TransitLive(version=3, stop_closed=np.zeros(2, bool)))


def test_realtime_on_previous_service_day_applies_to_its_overnight_trip(tt) -> None:
    """Saturday 00:30: Friday's night trip N1 is on the previous-day layer; its realtime data
    is Friday's (the trip's service date), not Saturday's."""
    sat, fri = dt.date(2024, 1, 6), dt.date(2024, 1, 5)
    day = day_trip_mask(tt, sat)
    n1 = tt.trip_index("feed:N1")
    args = (tt, day, at(tt, "B"), at(tt, "E"), hms("00:30"))
    live = TransitLiveBuilder(tt).delay_trip(fri, n1, 300).build(version=1)
    js = earliest_arrival(*args, live=live)
    assert [(j.arrive_s, j.legs[1].service_date) for j in js] == [(hms("00:50"), fri)]
    live = TransitLiveBuilder(tt).cancel_trip(sat, n1).build(version=2)  # another day
    assert [j.arrive_s for j in earliest_arrival(*args, live=live)] == [hms("00:45")]
    live = TransitLiveBuilder(tt).cancel_trip(fri, n1).build(version=3)
    assert earliest_arrival(*args, live=live) == []


def test_trips_with_realtime_data_are_marked(tt) -> None:
    t0, t1, t2 = 0, 1, 2
    live = (TransitLiveBuilder(tt).set_trip_delays(
        WED, t0, np.zeros(_st_base(tt, t0)[1], np.int32), np.zeros(_st_base(tt, t0)[1],
                                                                  np.int32))
        .cancel_trip(WED, t1).skip_stop(WED, t2, 0).build(version=3))
    sdl = live.day(WED)
    assert sdl is not None and sdl.trip_realtime.tolist()[:3] == [True, True, False]
    # a builder started from a live value keeps the marks
    again = TransitLiveBuilder(tt, live).build(version=4).day(WED)
    assert again is not None and np.array_equal(again.trip_realtime, sdl.trip_realtime)
    # built by hand: the cancelled trips count as reported
    n_st = len(tt.arrays["st_arrival_s"])
    cancelled = np.zeros(tt.n_trips, bool)
    cancelled[t1] = True
    hand = ServiceDayLive(WED, cancelled, np.zeros(n_st, np.int32), np.zeros(n_st, np.int32),
                          np.zeros(n_st, bool))
    assert hand.trip_realtime.tolist() == cancelled.tolist()
    with pytest.raises(LiveDataError, match="trip_realtime"):
        ServiceDayLive(WED, cancelled, np.zeros(n_st, np.int32), np.zeros(n_st, np.int32),
                       np.zeros(n_st, bool), np.zeros(tt.n_trips + 1, bool))
