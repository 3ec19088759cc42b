"""Compilation: frequencies, interpolation, FIFO patterns, wheelchair, shapes, persistence."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from gtfs.compile import compile_feeds, is_valid_route_type, route_mode
from gtfs.day import day_trip_mask
from gtfs.testing import MINIMAL_FEED
from gtfs.timetable import FREQ_EXACT, FREQ_HEADWAY, FREQ_NONE, Timetable
from tests.gtfs.conftest import SHARED


def _times(tt: Timetable, trip_id: str) -> tuple[list[int], list[int]]:
    arr, dep = tt.trip_times(tt.trip_index(trip_id))
    return arr.tolist(), dep.tolist()


FREQ_FEED = dict(MINIMAL_FEED, **{
    "trips.txt": """
        route_id,service_id,trip_id
        R,WD,F
        R,WD,T1
    """,
    "stop_times.txt": """
        trip_id,arrival_time,departure_time,stop_id,stop_sequence
        F,00:00:00,00:00:00,S1,1
        F,00:05:00,00:06:00,S2,2
        T1,08:00:00,08:00:00,S1,1
        T1,08:10:00,08:10:00,S2,2
    """,
    "frequencies.txt": """
        trip_id,start_time,end_time,headway_secs,exact_times
        F,06:00:00,07:00:00,1200,1
        F,07:00:00,07:30:00,600,0
        F,25:00:00,24:00:00,600,0
    """,
})


def test_frequencies_expand_to_concrete_trips(make_feed) -> None:
    tt, report = compile_feeds([make_feed(FREQ_FEED)])
    ids = sorted(i for i in tt.strings["trip_id"] if i.startswith("feed:F@"))
    assert ids == ["feed:F@06:00:00", "feed:F@06:20:00", "feed:F@06:40:00",
                   "feed:F@07:00:00", "feed:F@07:10:00", "feed:F@07:20:00"]
    assert _times(tt, "feed:F@06:20:00") == ([22800, 23100], [22800, 23160])
    freq = tt.arrays["trip_frequency"]
    assert freq[tt.trip_index("feed:F@06:00:00")] == FREQ_EXACT
    assert freq[tt.trip_index("feed:F@07:10:00")] == FREQ_HEADWAY
    assert freq[tt.trip_index("feed:T1")] == FREQ_NONE
    assert tt.strings["trip_gtfs_id"][tt.trip_index("feed:F@07:10:00")] == "feed:F"
    assert report.issues("error", "frequencies")[0].field == "end_time"
    # trips of a pattern are sorted by departure
    pat = int(tt.arrays["trip_pattern"][tt.trip_index("feed:F@06:00:00")])
    a, b = tt.arrays["pattern_trip_offsets"][pat: pat + 2]
    assert np.all(np.diff(tt.arrays["trip_start_s"][a:b]) > 0)


def test_sao_paulo_headway_feed_compiles_and_expands() -> None:
    tt, report = compile_feeds([str(SHARED / "sao-paulo" / "spo_gtfs.zip")])
    assert tt.n_trips > 36 * 10  # 36 templates, 704 frequency rows
    assert (tt.arrays["trip_frequency"] != FREQ_NONE).all()
    assert report.n_errors == 0
    day = day_trip_mask(tt, dt.date(2019, 5, 15))
    assert day.n_instances > 1000


INTERP_FEED = dict(MINIMAL_FEED, **{
    "stops.txt": """
        stop_id,stop_name,stop_lat,stop_lon
        P,P,0.0,0.0
        Q,Q,0.01,0.01
        R3,R,0.0,0.02
        M1,M1,1.0,0.0
        M2,M2,1.01,0.0
        M3,M3,1.03,0.0
    """,
    "trips.txt": """
        route_id,service_id,trip_id,shape_id
        R,WD,STRAIGHT,
        R,WD,SHAPED,SH
        R,WD,LINE,
    """,
    "shapes.txt": """
        shape_id,shape_pt_lat,shape_pt_lon,shape_pt_sequence
        SH,0.0,0.0,1
        SH,0.01,0.0,2
        SH,0.01,0.01,3
        SH,0.0,0.02,4
    """,
    "stop_times.txt": """
        trip_id,arrival_time,departure_time,stop_id,stop_sequence
        STRAIGHT,08:00:00,08:00:00,P,1
        STRAIGHT,,,Q,2
        STRAIGHT,08:30:00,08:30:00,R3,3
        SHAPED,09:00:00,09:00:00,P,1
        SHAPED,,,Q,2
        SHAPED,09:30:00,09:30:00,R3,3
        LINE,10:00:00,10:00:00,M1,1
        LINE,,,M2,2
        LINE,10:30:00,10:30:00,M3,3
    """,
})


def test_blank_times_interpolated_by_shape_or_straight_line(make_feed) -> None:
    tt, report = compile_feeds([make_feed(INTERP_FEED)])
    # straight line: P-Q and Q-R3 are equally long -> half way
    assert _times(tt, "feed:STRAIGHT")[0] == [28800, 29700, 30600]
    # along the shape P -> (0.01, 0) -> Q is 2 units, Q -> R3 is sqrt(2) units
    frac = 2 / (2 + np.sqrt(2))
    assert _times(tt, "feed:SHAPED")[0][1] == pytest.approx(32400 + 1800 * frac, abs=2)
    # M1-M2 is a third of M1-M3
    assert _times(tt, "feed:LINE")[0] == [36000, 36600, 37800]
    assert any("interpolated 3 blank stop times" in n for n in report.notes)
    # the shaped trip's leg geometry follows the shape, the others are straight
    geo = tt.leg_geometry(tt.trip_index("feed:SHAPED"), 0, 1)
    np.testing.assert_allclose(geo, [[0.0, 0.0], [0.0, 0.01], [0.01, 0.01]], atol=1e-6)
    geo = tt.leg_geometry(tt.trip_index("feed:STRAIGHT"), 1, 2)
    np.testing.assert_allclose(geo, [[0.01, 0.01], [0.02, 0.0]])


def test_porto_alegre_two_feeds_interpolated_and_namespaced() -> None:
    base = str(SHARED / "porto-alegre") + "/"
    tt, report = compile_feeds([base + "poa_eptc_gtfs.zip", base + "poa_trensurb_gtfs.zip"])
    assert tt.strings["feed_name"] == ["poa_eptc", "poa_trensurb"]
    assert tt.n_stops == 3986 + 24
    assert any(s.startswith("poa_trensurb:") for s in tt.strings["stop_id"])
    assert any("interpolated 125271" in n for n in report.notes)
    # interpolated times are non-decreasing along every trip
    arr, dep = np.asarray(tt.arrays["st_arrival_s"]), np.asarray(tt.arrays["st_departure_s"])
    assert np.all(dep >= arr)
    for p in range(tt.n_patterns):
        n = len(tt.pattern_stop_list(p))
        a, b = tt.arrays["pattern_st_offsets"][p: p + 2]
        block_a, block_d = arr[a:b].reshape(-1, n), dep[a:b].reshape(-1, n)
        assert np.all(block_a[:, 1:] >= block_d[:, :-1])
        # FIFO inside a pattern
        assert np.all(np.diff(block_d, axis=0) >= 0) and np.all(np.diff(block_a, axis=0) >= 0)
    assert day_trip_mask(tt, dt.date(2019, 5, 15)).n_instances > 2000


OVERTAKE_FEED = dict(MINIMAL_FEED, **{
    "trips.txt": """
        route_id,service_id,trip_id
        R,WD,SLOW
        R,WD,EXPRESS
        R,WD,LATER
    """,
    "stop_times.txt": """
        trip_id,arrival_time,departure_time,stop_id,stop_sequence
        SLOW,08:00:00,08:00:00,S1,1
        SLOW,08:40:00,08:40:00,S2,2
        EXPRESS,08:05:00,08:05:00,S1,1
        EXPRESS,08:20:00,08:20:00,S2,2
        LATER,08:30:00,08:30:00,S1,1
        LATER,08:50:00,08:50:00,S2,2
    """,
})


def test_overtaking_trips_are_split_into_fifo_patterns(make_feed) -> None:
    tt, report = compile_feeds([make_feed(OVERTAKE_FEED)])
    assert tt.n_patterns == 2
    pats = {t: int(tt.arrays["trip_pattern"][tt.trip_index(f"feed:{t}")])
            for t in ("SLOW", "EXPRESS", "LATER")}
    assert pats["SLOW"] != pats["EXPRESS"]
    assert any("split" in n for n in report.notes)


WHEELCHAIR_FEED = dict(MINIMAL_FEED, **{
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
    """,
    "stop_times.txt": """
        trip_id,arrival_time,departure_time,stop_id,stop_sequence
        T1,08:00:00,08:00:00,S1,1
        T1,08:10:00,08:10:00,S2,2
        T2,08:05:00,08:05:00,S1,1
        T2,08:15:00,08:15:00,S2,2
        T3,08:06:00,08:06:00,S1,1
        T3,08:16:00,08:16:00,S2,2
    """,
})


def test_wheelchair_flags_with_parent_station_inheritance(make_feed) -> None:
    tt, _ = compile_feeds([make_feed(WHEELCHAIR_FEED)])
    wc = {s: int(w) for s, w in zip(tt.strings["stop_id"], tt.arrays["stop_wheelchair"],
                                     strict=True)}
    assert wc == {"feed:S1": 1, "feed:S1B": 2, "feed:S2": 1, "feed:S3": 0}
    # stations are not routable stops but keep their names
    assert tt.strings["station_name"] == ["Station"]
    assert tt.arrays["stop_station"][tt.stop_index("feed:S1")] == 0
    assert tt.arrays["stop_station"][tt.stop_index("feed:S2")] == -1
    trip_wc = {t: int(tt.arrays["trip_wheelchair"][tt.trip_index(f"feed:{t}")])
               for t in ("T1", "T2", "T3")}
    assert trip_wc == {"T1": 2, "T2": 1, "T3": 0}


def test_route_types_basic_and_extended() -> None:
    assert all(is_valid_route_type(c) for c in (0, 3, 7, 11, 12, 100, 109, 700, 715, 900, 1700))
    assert not any(is_valid_route_type(c) for c in (8, 13, 99, 118, 300, 750, 2000, -1))
    assert (route_mode(3), route_mode(0), route_mode(702), route_mode(1), route_mode(109)) == \
        ("bus", "tram", "bus", "subway", "rail")


def test_save_and_memory_mapped_load_round_trip(tmp_path, portland) -> None:
    tt = portland.tt
    tt.save(tmp_path / "tt")
    back = Timetable.load(tmp_path / "tt")
    assert set(back.arrays) == set(tt.arrays)
    for name, arr in tt.arrays.items():
        assert back.arrays[name].dtype == arr.dtype, name
        np.testing.assert_array_equal(back.arrays[name], arr)
    assert isinstance(back.arrays["st_arrival_s"], np.memmap)
    assert back.strings == tt.strings
    assert back.meta["counts"] == tt.meta["counts"]
    # a memory-mapped timetable answers queries like the original
    from gtfs.query import earliest_arrival

    day = day_trip_mask(back, dt.date(2021, 11, 3))
    acc = (np.array([0]), np.array([0]))
    egr = (np.array([back.n_stops - 1]), np.array([0]))
    a = earliest_arrival(tt, portland.day, acc, egr, 8 * 3600)
    b = earliest_arrival(back, day, acc, egr, 8 * 3600)
    assert [(j.arrive_s, j.n_transfers) for j in a] == [(j.arrive_s, j.n_transfers) for j in b]


def test_real_feed_shapes_and_transfers(portland) -> None:
    tt = portland.tt
    assert tt.meta["feeds"][0]["timezone"] == "America/Los_Angeles"
    assert len(tt.arrays["transfer_to"]) > 0  # transfers.txt (type 0 rows)
    # every trip has a shape and its per-stop distances are non-decreasing
    assert (tt.arrays["trip_shape"] >= 0).all()
    lens = np.diff(tt.arrays["pattern_stop_offsets"])
    t = int(tt.arrays["pattern_trip_offsets"][int(np.argmax(lens))])
    n = int(lens.max())
    off = int(tt.arrays["trip_shape_dist_offset"][t])
    d = np.asarray(tt.arrays["shape_stop_dist_m"][off: off + n])
    assert np.all(np.diff(d) >= 0) and d[-1] > 1000
    geo = tt.leg_geometry(t, 0, n - 1)
    assert len(geo) > n
