"""RAPTOR on hand-made timetables: transfers rules, overnight trips, wheelchair modes, live
data (closures, cancellations, per-stop delays, overtaking, skipped stops), range and
arrive-by queries, departures boards and feeds in different timezones."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from gtfs.compile import compile_feeds
from gtfs.day import day_trip_mask
from gtfs.footpaths import straight_line_footpaths
from gtfs.live import TransitLiveBuilder
from gtfs.query import (
    WHEELCHAIR_ALLOW_UNKNOWN,
    WHEELCHAIR_OFF,
    WHEELCHAIR_STRICT,
    Journey,
    Leg,
    departures,
    earliest_arrival,
    latest_departure,
    range_query,
    warmup,
)
from gtfs.testing import MINIMAL_FEED
from gtfs.timetable import Timetable

NETWORK = {
    "agency.txt": """
        agency_id,agency_name,agency_url,agency_timezone
        A,Agency,https://example.org,Europe/Berlin
    """,
    "stops.txt": """
        stop_id,stop_name,stop_lat,stop_lon
        A,A,0.0,0.0
        B,B,0.0,0.05
        C,C,0.0,0.10
        D,D,0.0,0.15
        E,E,0.05,0.05
        C2,C2,0.001,0.10
    """,
    "routes.txt": """
        route_id,agency_id,route_short_name,route_long_name,route_type
        R1,A,1,A-C,3
        R2,A,2,C-D,3
        R3,A,N,Night,3
        R4,A,4,C2-D,3
    """,
    "trips.txt": """
        route_id,service_id,trip_id,trip_headsign
        R1,ALL,R1a,To C
        R1,ALL,R1b,To C
        R2,ALL,R2a,To D
        R2,ALL,R2b,To D
        R2,ALL,R2c,To D
        R3,WD,N1,Night
        R4,ALL,R4a,Via C2
    """,
    "stop_times.txt": """
        trip_id,arrival_time,departure_time,stop_id,stop_sequence
        R1a,08:00:00,08:00:00,A,1
        R1a,08:10:00,08:10:00,B,2
        R1a,08:20:00,08:20:00,C,3
        R1b,08:12:00,08:12:00,A,1
        R1b,08:22:00,08:22:00,B,2
        R1b,08:32:00,08:32:00,C,3
        R2a,08:21:00,08:21:00,C,1
        R2a,08:40:00,08:40:00,D,2
        R2b,08:30:00,08:30:00,C,1
        R2b,08:50:00,08:50:00,D,2
        R2c,09:00:00,09:00:00,C,1
        R2c,09:20:00,09:20:00,D,2
        N1,23:50:00,23:50:00,A,1
        N1,24:35:00,24:35:00,B,2
        N1,24:45:00,24:45:00,E,3
        R4a,08:24:00,08:24:00,C2,1
        R4a,08:35:00,08:35:00,D,2
    """,
    "calendar.txt": """
        service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date
        ALL,1,1,1,1,1,1,1,20240101,20241231
        WD,1,1,1,1,1,0,0,20240101,20241231
    """,
}

WED = dt.date(2024, 1, 3)


def hms(text: str) -> int:
    h, m = text.split(":")
    return int(h) * 3600 + int(m) * 60


@pytest.fixture
def net(make_feed):
    def _build(transfers: str | None = None) -> Timetable:
        files = dict(NETWORK)
        if transfers:
            files["transfers.txt"] = "from_stop_id,to_stop_id,transfer_type,min_transfer_time\n" \
                + transfers
        tt, report = compile_feeds([make_feed(files)])
        assert report.n_errors == 0
        return tt

    return _build


def at(tt: Timetable, *stop_ids: str) -> tuple[np.ndarray, np.ndarray]:
    """Access/egress at the given stops with zero walking time."""
    return (np.array([tt.stop_index(f"feed:{s}") for s in stop_ids]),
            np.zeros(len(stop_ids), dtype=np.int64))


def csr(tt: Timetable, edges: list[tuple[str, str, int]]):
    """Explicit footpaths CSR from (from, to, seconds)."""
    rows = sorted((tt.stop_index(f"feed:{a}"), tt.stop_index(f"feed:{b}"), s) for a, b, s in edges)
    src = np.array([r[0] for r in rows], dtype=np.int64)
    return (np.searchsorted(src, np.arange(tt.n_stops + 1)).astype(np.int64),
            np.array([r[1] for r in rows], dtype=np.int32),
            np.array([r[2] for r in rows], dtype=np.int32))


def arrivals(journeys) -> list[tuple[int, int]]:
    return [(j.arrive_s, j.n_transfers) for j in journeys]


def test_basic_transfer_and_global_min_transfer_time(net) -> None:
    tt = net()
    day = day_trip_mask(tt, WED)
    js = earliest_arrival(tt, day, at(tt, "A"), at(tt, "D"), hms("07:55"), min_transfer_s=0)
    assert arrivals(js) == [(hms("08:40"), 1)]
    legs = js[0].legs
    assert [leg.kind for leg in legs] == ["access", "transit", "transit", "egress"]
    r1a, r2a = tt.trip_index("feed:R1a"), tt.trip_index("feed:R2a")
    assert (legs[1].trip, legs[1].depart_s, legs[1].arrive_s) == (r1a, hms("08:00"), hms("08:20"))
    assert (legs[1].board_pos, legs[1].alight_pos) == (0, 2)
    assert (legs[2].trip, legs[2].depart_s) == (r2a, hms("08:21"))
    assert legs[2].service_date == WED
    assert js[0].depart_s == hms("08:00")
    # a 2-minute floor misses the 08:21 and takes the 08:30
    js = earliest_arrival(tt, day, at(tt, "A"), at(tt, "D"), hms("07:55"), min_transfer_s=120)
    assert arrivals(js) == [(hms("08:50"), 1)]


def test_transfers_txt_min_time_forbidden_and_timed(net) -> None:
    day_args = (hms("07:55"),)
    tt = net("C,C,2,300\n")
    day = day_trip_mask(tt, WED)
    js = earliest_arrival(tt, day, at(tt, "A"), at(tt, "D"), *day_args, min_transfer_s=0)
    assert arrivals(js) == [(hms("08:50"), 1)]  # 08:20 + 5 min -> 08:30 trip
    tt = net("C,C,3,\n")
    day = day_trip_mask(tt, WED)
    assert earliest_arrival(tt, day, at(tt, "A"), at(tt, "D"), *day_args, min_transfer_s=0) == []
    tt = net("C,C,1,\n")  # timed: the departing vehicle waits, no floor
    day = day_trip_mask(tt, WED)
    js = earliest_arrival(tt, day, at(tt, "A"), at(tt, "D"), *day_args, min_transfer_s=120)
    assert arrivals(js) == [(hms("08:40"), 1)]


def test_footpath_transfers_and_forbidden_pairs(net) -> None:
    tt = net()
    day = day_trip_mask(tt, WED)
    fp = csr(tt, [("C", "C2", 90), ("C2", "C", 90)])
    js = earliest_arrival(tt, day, at(tt, "A"), at(tt, "D"), hms("07:55"), min_transfer_s=0,
                          footpaths=fp)
    assert arrivals(js) == [(hms("08:35"), 1)]
    assert [leg.kind for leg in js[0].legs] == ["access", "transit", "transfer", "transit",
                                                "egress"]
    walk = js[0].legs[2]
    assert (walk.from_stop, walk.to_stop) == (tt.stop_index("feed:C"), tt.stop_index("feed:C2"))
    assert walk.arrive_s - walk.depart_s == 90
    # the straight-line helper finds the same pair (about 111 m apart)
    sl = straight_line_footpaths(tt, 400, 1.3)
    c = tt.stop_index("feed:C")
    assert sl[1][sl[0][c]: sl[0][c + 1]].tolist() == [tt.stop_index("feed:C2")]
    assert sl[2][sl[0][c]] == 86
    # forbidding the walk falls back to the same-stop change, forbidding both -> nothing
    tt = net("C,C2,3,\n")
    day = day_trip_mask(tt, WED)
    fp = csr(tt, [("C", "C2", 90)])
    js = earliest_arrival(tt, day, at(tt, "A"), at(tt, "D"), hms("07:55"), min_transfer_s=0,
                          footpaths=fp)
    assert arrivals(js) == [(hms("08:40"), 1)]
    tt = net("C,C2,3,\nC,C,3,\n")
    day = day_trip_mask(tt, WED)
    fp = csr(tt, [("C", "C2", 90)])
    assert earliest_arrival(tt, day, at(tt, "A"), at(tt, "D"), hms("07:55"), min_transfer_s=0,
                            footpaths=fp) == []
    # a type-2 rule between two stops applies even without a footpath
    tt = net("C,C2,2,240\nC,C,3,\n")
    day = day_trip_mask(tt, WED)
    js = earliest_arrival(tt, day, at(tt, "A"), at(tt, "D"), hms("07:55"), min_transfer_s=0)
    assert arrivals(js) == [(hms("08:35"), 1)]
    assert js[0].legs[2].arrive_s - js[0].legs[2].depart_s == 240


def test_overnight_trip_boarded_after_midnight_next_day(net) -> None:
    tt = net()
    # Saturday 00:30: Friday's night trip (times >= 24:00) is still running
    sat = dt.date(2024, 1, 6)
    day = day_trip_mask(tt, sat)
    js = earliest_arrival(tt, day, at(tt, "B"), at(tt, "E"), hms("00:30"))
    assert arrivals(js) == [(hms("00:45"), 0)]
    assert js[0].legs[1].service_date == dt.date(2024, 1, 5)
    assert js[0].legs[1].trip == tt.trip_index("feed:N1")
    # 00:40 is too late for it, and WD does not run on Saturday
    assert earliest_arrival(tt, day, at(tt, "B"), at(tt, "E"), hms("00:40")) == []
    # Sunday 00:30: Saturday has no night trip
    day = day_trip_mask(tt, dt.date(2024, 1, 7))
    assert earliest_arrival(tt, day, at(tt, "B"), at(tt, "E"), hms("00:30")) == []
    # the same trip seen from its own service day at 24:30
    day = day_trip_mask(tt, WED)
    js = earliest_arrival(tt, day, at(tt, "B"), at(tt, "E"), hms("24:30"))
    assert arrivals(js) == [(hms("24:45"), 0)]
    assert js[0].legs[1].service_date == WED


WHEELCHAIR_LINE = dict(MINIMAL_FEED, **{
    "stops.txt": """
        stop_id,stop_name,stop_lat,stop_lon,location_type,parent_station,wheelchair_boarding
        ST,Station,52.50,13.40,1,,1
        S1,Platform 1,52.5001,13.4001,0,ST,0
        S1B,Platform 2,52.5002,13.4002,0,ST,2
        S2,Two,52.51,13.41,,,1
        S3,Three,52.52,13.42,,,
    """,
    "trips.txt": """
        route_id,service_id,trip_id,wheelchair_accessible
        R,WD,T1,2
        R,WD,T2,1
        R,WD,T3,
        R,WD,T4,1
        R,WD,T5,1
    """,
    "stop_times.txt": """
        trip_id,arrival_time,departure_time,stop_id,stop_sequence
        T1,08:00:00,08:00:00,S1,1
        T1,08:10:00,08:10:00,S2,2
        T2,08:05:00,08:05:00,S1,1
        T2,08:15:00,08:15:00,S2,2
        T3,08:06:00,08:06:00,S1,1
        T3,08:16:00,08:16:00,S2,2
        T4,08:20:00,08:20:00,S1,1
        T4,08:30:00,08:30:00,S2,2
        T4,08:40:00,08:40:00,S3,3
        T5,08:07:00,08:07:00,S1B,1
        T5,08:17:00,08:17:00,S2,2
    """,
})


def test_wheelchair_modes_strict_allow_unknown_and_off(make_feed) -> None:
    tt, _ = compile_feeds([make_feed(WHEELCHAIR_LINE)])
    day = day_trip_mask(tt, WED)

    def trip_of(stop_from: str, stop_to: str, t: str, mode) -> list[str]:
        js = earliest_arrival(tt, day, at(tt, stop_from), at(tt, stop_to), hms(t),
                              wheelchair=mode)
        return [tt.strings["trip_id"][leg.trip] for j in js for leg in j.transit_legs]

    # T1 is not accessible (2), T2 and T4 are (1), T3 is unknown (0)
    assert trip_of("S1", "S2", "07:59", WHEELCHAIR_OFF) == ["feed:T1"]
    assert trip_of("S1", "S2", "07:59", WHEELCHAIR_STRICT) == ["feed:T2"]
    assert trip_of("S1", "S2", "07:59", True) == ["feed:T2"]  # the former boolean flag
    assert trip_of("S1", "S2", "07:59", WHEELCHAIR_ALLOW_UNKNOWN) == ["feed:T2"]
    # after T2 has left, only an unknown trip or a later accessible one remains
    assert trip_of("S1", "S2", "08:05", WHEELCHAIR_ALLOW_UNKNOWN) == ["feed:T2"]
    assert trip_of("S1", "S2", "08:06", WHEELCHAIR_ALLOW_UNKNOWN) == ["feed:T3"]
    assert trip_of("S1", "S2", "08:06", WHEELCHAIR_STRICT) == ["feed:T4"]
    # S3 has no wheelchair_boarding (unknown): strict refuses it, allow-unknown does not
    assert trip_of("S1", "S3", "07:59", WHEELCHAIR_STRICT) == []
    assert trip_of("S1", "S3", "07:59", WHEELCHAIR_ALLOW_UNKNOWN) == ["feed:T4"]
    assert trip_of("S1", "S3", "07:59", WHEELCHAIR_OFF) == ["feed:T4"]
    # S1B's wheelchair_boarding=2 overrides the station's 1: refused by both modes, even
    # on the accessible T5
    assert trip_of("S1B", "S2", "07:59", WHEELCHAIR_STRICT) == []
    assert trip_of("S1B", "S2", "07:59", WHEELCHAIR_ALLOW_UNKNOWN) == []
    assert trip_of("S1B", "S2", "07:59", WHEELCHAIR_OFF) == ["feed:T5"]
    with pytest.raises(ValueError, match="wheelchair mode"):
        trip_of("S1", "S2", "07:59", 3)


def test_live_closed_stop_cancelled_and_delayed_trips(net) -> None:
    tt = net()
    day = day_trip_mask(tt, WED)
    args = (tt, day, at(tt, "A"), at(tt, "D"), hms("07:55"))
    r1a, r2a = tt.trip_index("feed:R1a"), tt.trip_index("feed:R2a")

    def live(**kw):
        b = TransitLiveBuilder(tt)
        if "closed" in kw:
            b.close_stop(tt.stop_index(f"feed:{kw['closed']}"))
        for trip, date in kw.get("cancel", []):
            b.cancel_trip(date, trip)
        for trip, date, delay in kw.get("delay", []):
            b.delay_trip(date, trip, delay)
        return b.build(version=1)

    assert earliest_arrival(*args, min_transfer_s=0, live=live(closed="C")) == []
    assert arrivals(earliest_arrival(*args, min_transfer_s=0,
                                     live=live(cancel=[(r2a, WED)]))) == [(hms("08:50"), 1)]
    # data of another service date does not touch this one
    thu = WED + dt.timedelta(days=1)
    assert arrivals(earliest_arrival(*args, min_transfer_s=0,
                                     live=live(cancel=[(r2a, thu)]))) == [(hms("08:40"), 1)]
    # R1a arrives at C at 08:22 and misses the 08:21
    assert arrivals(earliest_arrival(*args, min_transfer_s=0,
                                     live=live(delay=[(r1a, WED, 120)]))) == [(hms("08:50"), 1)]
    js = earliest_arrival(*args, min_transfer_s=0, live=live(delay=[(r2a, WED, 300)]))
    assert arrivals(js) == [(hms("08:45"), 1)]
    assert (js[0].legs[2].depart_s, js[0].legs[2].arrive_s) == (hms("08:26"), hms("08:45"))


def test_overtaking_trip_is_found(net) -> None:
    """R1a (08:00 from A) runs 20 min late from B on: R1b (08:12) overtakes it and is the
    earliest arrival at C; boarding R1a first and keeping it would arrive at 08:40."""
    tt = net()
    day = day_trip_mask(tt, WED)
    r1a, r1b = tt.trip_index("feed:R1a"), tt.trip_index("feed:R1b")
    b = TransitLiveBuilder(tt)
    b.set_stop_time(WED, r1a, 1, arrival_delay_s=1200, departure_delay_s=1200)
    b.set_stop_time(WED, r1a, 2, arrival_delay_s=1200, departure_delay_s=1200)
    live = b.build(version=2)
    js = earliest_arrival(tt, day, at(tt, "A"), at(tt, "C"), hms("07:55"), live=live)
    assert arrivals(js) == [(hms("08:32"), 0)]
    assert js[0].legs[1].trip == r1b
    # to B too: the late R1a reaches B at 08:30, R1b at 08:22
    js = earliest_arrival(tt, day, at(tt, "A"), at(tt, "B"), hms("07:55"), live=live)
    assert arrivals(js) == [(hms("08:22"), 0)]
    # arrive-by C at 08:35: only R1b makes it, leaving A at 08:12
    late = latest_departure(tt, day, at(tt, "A"), at(tt, "C"), hms("08:35"), live=live)
    assert [(j.depart_s, j.arrive_s) for j in late] == [(hms("08:12"), hms("08:32"))]
    # a range query sees both departures and keeps only the useful one
    rng = range_query(tt, day, at(tt, "A"), at(tt, "C"), hms("07:30"), 3600, live=live)
    assert [(j.depart_s, j.arrive_s) for j in rng] == [(hms("08:12"), hms("08:32"))]


def test_skipped_stop_is_passed_without_boarding_or_alighting(net) -> None:
    tt = net()
    day = day_trip_mask(tt, WED)
    r1a, r1b = tt.trip_index("feed:R1a"), tt.trip_index("feed:R1b")
    live = TransitLiveBuilder(tt).skip_stop(WED, r1a, 1).build(version=3)  # R1a skips B
    # nobody alights from R1a at B: R1b arrives there at 08:22
    js = earliest_arrival(tt, day, at(tt, "A"), at(tt, "B"), hms("07:55"), live=live)
    assert arrivals(js) == [(hms("08:22"), 0)]
    assert js[0].legs[1].trip == r1b
    # nobody boards R1a at B either
    js = earliest_arrival(tt, day, at(tt, "B"), at(tt, "C"), hms("08:05"), live=live)
    assert arrivals(js) == [(hms("08:32"), 0)]
    # but R1a still passes B on its way from A to C
    js = earliest_arrival(tt, day, at(tt, "A"), at(tt, "C"), hms("07:55"), live=live)
    assert arrivals(js) == [(hms("08:20"), 0)]
    assert js[0].legs[1].trip == r1a


def test_realtime_legs_carry_per_stop_times(net) -> None:
    """A delay that grows along the trip: each leg reports the realtime times of its own
    boarding and alighting stops."""
    tt = net()
    day = day_trip_mask(tt, WED)
    r1a = tt.trip_index("feed:R1a")
    live = (TransitLiveBuilder(tt)
            .set_stop_time(WED, r1a, 0, departure_delay_s=60)
            .set_stop_time(WED, r1a, 1, arrival_delay_s=120, departure_delay_s=180)
            .set_stop_time(WED, r1a, 2, arrival_delay_s=240)
            .build(version=4))
    js = earliest_arrival(tt, day, at(tt, "A"), at(tt, "C"), hms("07:55"), live=live)
    leg = js[0].legs[1]
    assert (leg.trip, leg.depart_s, leg.arrive_s) == (r1a, hms("08:01"), hms("08:24"))
    js = earliest_arrival(tt, day, at(tt, "B"), at(tt, "C"), hms("08:05"), live=live)
    assert (js[0].legs[1].depart_s, js[0].legs[1].arrive_s) == (hms("08:13"), hms("08:24"))


def test_range_and_arrive_by(net) -> None:
    tt = net()
    day = day_trip_mask(tt, WED)
    acc, egr = at(tt, "A"), at(tt, "D")
    rng = range_query(tt, day, acc, egr, hms("07:30"), 3600, min_transfer_s=0)
    assert [(j.depart_s, j.arrive_s, j.n_transfers) for j in rng] == \
        [(hms("08:00"), hms("08:40"), 1), (hms("08:12"), hms("09:20"), 1)]
    late = latest_departure(tt, day, acc, egr, hms("08:55"), min_transfer_s=0)
    assert [(j.depart_s, j.n_transfers) for j in late] == [(hms("08:00"), 1)]
    assert late[0].arrive_s <= hms("08:55")
    late = latest_departure(tt, day, acc, egr, hms("09:25"), min_transfer_s=0)
    assert [(j.depart_s, j.arrive_s) for j in late] == [(hms("08:12"), hms("09:20"))]
    legs = late[0].legs
    assert [leg.kind for leg in legs] == ["access", "transit", "transit", "egress"]
    assert legs[1].trip == tt.trip_index("feed:R1b")
    assert (legs[1].board_pos, legs[1].alight_pos) == (0, 2)
    assert legs[2].trip == tt.trip_index("feed:R2c")
    assert latest_departure(tt, day, acc, egr, hms("08:39"), min_transfer_s=0) == []


def test_decoded_journeys_are_whole_dataclasses(net) -> None:
    """The kernel's output is decoded without the dataclass constructors: every field is set
    and the objects equal (and hash like) constructed ones, forward and arrive-by."""
    tt = net()
    day = day_trip_mask(tt, WED)
    fp = csr(tt, [("C", "C2", 90), ("C2", "C", 90)])
    acc, egr = at(tt, "A"), at(tt, "D")
    found = (earliest_arrival(tt, day, acc, egr, hms("07:55"), min_transfer_s=0, footpaths=fp)
             + range_query(tt, day, acc, egr, hms("07:30"), 3600, min_transfer_s=0)
             + latest_departure(tt, day, acc, egr, hms("09:25"), min_transfer_s=0,
                                footpaths=fp))
    assert len(found) >= 3
    kinds = set()
    for j in found:
        assert set(vars(j)) == {f.name for f in dataclasses.fields(Journey)}
        rebuilt = [Leg(**{f.name: getattr(leg, f.name) for f in dataclasses.fields(Leg)})
                   for leg in j.legs]
        assert all(set(vars(leg)) == {f.name for f in dataclasses.fields(Leg)}
                   for leg in j.legs)
        assert list(j.legs) == rebuilt and [hash(x) for x in j.legs] == [hash(x) for x in rebuilt]
        assert j == Journey(j.depart_s, j.arrive_s, j.n_transfers, tuple(rebuilt))
        kinds.update(leg.kind for leg in j.legs)
        with pytest.raises(dataclasses.FrozenInstanceError):
            j.legs[0].kind = "x"  # type: ignore[misc]
    assert kinds == {"access", "transit", "transfer", "egress"}


def test_departures_board(net) -> None:
    tt = net()
    day = day_trip_mask(tt, WED)
    c = tt.stop_index("feed:C")
    deps = departures(tt, day, c, hms("08:00"), limit=5)
    assert [(d.trip_id, d.depart_s) for d in deps] == [
        ("feed:R2a", hms("08:21")), ("feed:R2b", hms("08:30")), ("feed:R2c", hms("09:00"))]
    assert deps[0].route_short_name == "2" and deps[0].headsign == "To D"
    assert deps[0].service_date == WED and not deps[0].cancelled and not deps[0].skipped
    assert deps[0].realtime_depart_s == deps[0].depart_s and deps[0].delay_s == 0
    live = (TransitLiveBuilder(tt)
            .delay_trip(WED, tt.trip_index("feed:R2a"), 600)
            .cancel_trip(WED, tt.trip_index("feed:R2b"))
            .skip_stop(WED, tt.trip_index("feed:R2c"), 0)
            .build(version=5))
    deps = departures(tt, day, c, hms("08:00"), limit=3, live=live)
    assert [(d.trip_id, d.depart_s, d.realtime_depart_s, d.delay_s, d.cancelled, d.skipped)
            for d in deps] == [
        ("feed:R2b", hms("08:30"), hms("08:30"), 0, True, False),
        ("feed:R2a", hms("08:21"), hms("08:31"), 600, False, False),
        ("feed:R2c", hms("09:00"), hms("09:00"), 0, False, True)]
    # realtime data for R2a (delay) and R2b (cancelled); R2c only skips (an alert's doing)
    assert [d.realtime for d in deps] == [True, True, False]
    deps = departures(tt, day, c, hms("08:00"), live=live, include_cancelled=False,
                      include_skipped=False)
    assert [d.trip_id for d in deps] == ["feed:R2a"]
    # the realtime time decides what is still to come: R2a leaves at 08:31
    deps = departures(tt, day, c, hms("08:25"), live=live, include_cancelled=False)
    assert [(d.trip_id, d.realtime_depart_s) for d in deps] == [
        ("feed:R2a", hms("08:31")), ("feed:R2c", hms("09:00"))]
    # per-stop delays: R1a at B (position 1) only
    b_stop = tt.stop_index("feed:B")
    live = TransitLiveBuilder(tt).set_stop_time(
        WED, tt.trip_index("feed:R1a"), 1, departure_delay_s=90).build(version=6)
    deps = departures(tt, day, b_stop, hms("08:00"), limit=1, live=live)
    assert [(d.trip_id, d.depart_s, d.realtime_depart_s, d.delay_s) for d in deps] == [
        ("feed:R1a", hms("08:10"), hms("08:11") + 30, 90)]


TZ_EAST = {
    "agency.txt": """
        agency_id,agency_name,agency_url,agency_timezone
        E,East,https://example.org,America/New_York
    """,
    "stops.txt": """
        stop_id,stop_name,stop_lat,stop_lon
        W,W,40.0,-75.1
        X,X,40.0,-75.0
    """,
    "routes.txt": """
        route_id,agency_id,route_short_name,route_long_name,route_type
        RE,E,E,East,3
    """,
    "trips.txt": """
        route_id,service_id,trip_id
        RE,ALL,EX
    """,
    "stop_times.txt": """
        trip_id,arrival_time,departure_time,stop_id,stop_sequence
        EX,08:00:00,08:00:00,W,1
        EX,08:50:00,08:50:00,X,2
    """,
    "calendar.txt": NETWORK["calendar.txt"],
}
TZ_CENTRAL = dict(TZ_EAST, **{
    "agency.txt": """
        agency_id,agency_name,agency_url,agency_timezone
        C,Central,https://example.org,America/Chicago
    """,
    "stops.txt": """
        stop_id,stop_name,stop_lat,stop_lon
        Y,Y,40.0005,-75.0
        Z,Z,40.1,-75.0
    """,
    "routes.txt": """
        route_id,agency_id,route_short_name,route_long_name,route_type
        RC,C,C,Central,3
    """,
    "trips.txt": """
        route_id,service_id,trip_id
        RC,ALL,CY
    """,
    "stop_times.txt": """
        trip_id,arrival_time,departure_time,stop_id,stop_sequence
        CY,08:00:00,08:00:00,Y,1
        CY,08:30:00,08:30:00,Z,2
    """,
})


def test_feeds_in_different_timezones_share_one_query_clock(make_feed) -> None:
    tt, _ = compile_feeds([make_feed(TZ_EAST, "east.zip"), make_feed(TZ_CENTRAL, "central.zip")])
    fp = straight_line_footpaths(tt, 400, 1.3)
    w, z = tt.stop_index("east:W"), tt.stop_index("central:Z")
    acc, egr = (np.array([w]), np.array([0])), (np.array([z]), np.array([0]))
    day = day_trip_mask(tt, WED)  # reference: first feed, New York
    assert day.tz == "America/New_York"
    js = earliest_arrival(tt, day, acc, egr, hms("07:50"), footpaths=fp, min_transfer_s=60)
    # 08:50 NY arrival, walk, 08:00 Chicago = 09:00 NY departure, arrive 09:30 NY
    assert arrivals(js) == [(hms("09:30"), 1)]
    day = day_trip_mask(tt, WED, tz="America/Chicago")
    js = earliest_arrival(tt, day, acc, egr, hms("06:50"), footpaths=fp, min_transfer_s=60)
    assert arrivals(js) == [(hms("08:30"), 1)]


def test_warmup_runs() -> None:
    warmup()
