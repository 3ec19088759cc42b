"""The TripUpdates rules on a small hand-made feed: matching (stop_sequence, stop_id, trip id,
frequency instances, route + direction + start time), service dates (given, inferred),
propagation, NO_DATA, SKIPPED, trip-level delay, CANCELED, unsupported relationships, the
per-update reasons, FULL_DATASET / DIFFERENTIAL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest
from google.transit import gtfs_realtime_pb2 as pb

from gtfs.compile import compile_feeds
from gtfs.day import day_trip_mask, service_midnight_epoch_s
from gtfs.live import TransitLive, trip_stop_times
from gtfs.query import earliest_arrival
from gtfs.realtime.decode import decode_feed
from gtfs.realtime.trip_updates import TripUpdatesReport, TripUpdatesState, trip_updates_to_live
from gtfs.testing import write_feed

FEED = {
    "agency.txt": """
        agency_id,agency_name,agency_url,agency_timezone
        A,Agency,https://example.org,Europe/Berlin
    """,
    "stops.txt": """
        stop_id,stop_name,stop_lat,stop_lon,location_type,parent_station
        P,Station,52.50,13.40,1,
        S1,One,52.50,13.40,0,P
        S2,Two,52.51,13.41,0,
        S3,Three,52.52,13.42,0,
        S4,Four,52.53,13.43,0,
        S5,Five,52.54,13.44,0,
    """,
    "routes.txt": """
        route_id,agency_id,route_short_name,route_long_name,route_type
        R,A,1,One,3
        F,A,F,Shuttle,3
    """,
    "trips.txt": """
        route_id,service_id,trip_id,direction_id
        R,ALL,T1,0
        R,ALL,T2,0
        R,WE,W1,1
        R,ALL,L1,0
        F,ALL,FX,0
        F,ALL,FH,1
    """,
    "stop_times.txt": """
        trip_id,arrival_time,departure_time,stop_id,stop_sequence
        T1,08:00:00,08:00:00,S1,10
        T1,08:10:00,08:10:00,S2,20
        T1,08:20:00,08:20:00,S3,30
        T1,08:30:00,08:30:00,S4,40
        T1,08:40:00,08:40:00,S5,50
        T2,09:00:00,09:00:00,S1,10
        T2,09:10:00,09:10:00,S2,20
        T2,09:20:00,09:20:00,S3,30
        T2,09:30:00,09:30:00,S4,40
        T2,09:40:00,09:40:00,S5,50
        W1,10:00:00,10:00:00,S5,1
        W1,10:10:00,10:10:00,S1,2
        L1,12:00:00,12:00:00,S1,1
        L1,12:10:00,12:10:00,S2,2
        L1,12:20:00,12:20:00,S1,3
        L1,12:30:00,12:30:00,S3,4
        FX,00:00:00,00:00:00,S2,1
        FX,00:05:00,00:05:00,S4,2
        FH,00:00:00,00:00:00,S4,1
        FH,00:05:00,00:05:00,S2,2
    """,
    "frequencies.txt": """
        trip_id,start_time,end_time,headway_secs,exact_times
        FX,07:00:00,09:00:00,1800,1
        FH,07:00:00,09:00:00,1200,0
    """,
    "calendar.txt": """
        service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date
        ALL,1,1,1,1,1,1,1,20240101,20241231
        WE,0,0,0,0,0,1,1,20240101,20241231
    """,
}

WED = dt.date(2024, 3, 6)
MID = service_midnight_epoch_s(WED, "Europe/Berlin")
NOW = MID + 7 * 3600 + 30 * 60  # 07:30 on WED
STU = pb.TripUpdate.StopTimeUpdate


@pytest.fixture(scope="module")
def tt(tmp_path_factory: pytest.TempPathFactory):
    tt, report = compile_feeds([write_feed(tmp_path_factory.mktemp("rt") / "small.zip", FEED)])
    assert report.n_errors == 0
    return tt


def feed_of(*entities: dict[str, Any], ts: int = NOW, full: bool = True) -> pb.FeedMessage:
    """A feed from dicts: ``{"id", "trip": {...}, "stu": [{...}], "delay", "timestamp",
    "deleted"}``; stop updates take ``seq``, ``stop``, ``arr``/``dep`` (delay),
    ``arr_t``/``dep_t`` (time), ``rel``."""
    m = pb.FeedMessage()
    m.header.gtfs_realtime_version = "2.0"
    m.header.timestamp = ts
    m.header.incrementality = pb.FeedHeader.FULL_DATASET if full else \
        pb.FeedHeader.DIFFERENTIAL
    for k, spec in enumerate(entities):
        e = m.entity.add(id=spec.get("id", f"e{k}"))
        if spec.get("deleted"):
            e.is_deleted = True
            continue
        tu = e.trip_update
        trip = {"start_date": WED.strftime("%Y%m%d"), **spec.get("trip", {})}
        for key, v in trip.items():
            if v is not None:
                setattr(tu.trip, key, v)
        if "delay" in spec:
            tu.delay = spec["delay"]
        if "timestamp" in spec:
            tu.timestamp = spec["timestamp"]
        for u in spec.get("stu", []):
            s = tu.stop_time_update.add()
            if "seq" in u:
                s.stop_sequence = u["seq"]
            if "stop" in u:
                s.stop_id = u["stop"]
            if "rel" in u:
                s.schedule_relationship = u["rel"]
            for ev, d_key, t_key in ((s.arrival, "arr", "arr_t"), (s.departure, "dep", "dep_t")):
                if d_key in u:
                    ev.delay = u[d_key]
                if t_key in u:
                    ev.time = u[t_key]
    return m


def apply(tt, *entities: dict[str, Any], **kw: Any) -> tuple[TransitLive, TripUpdatesReport]:
    ts = kw.pop("ts", NOW)
    msg = feed_of(*entities, ts=ts, full=kw.pop("full", True))
    feed = decode_feed(msg.SerializeToString(), now=ts)
    return trip_updates_to_live(tt, feed, "small", 1, min_known_share=None, **kw)


def delays(tt, live: TransitLive, trip_id: str, date: dt.date = WED) -> tuple[list, list, list]:
    t = tt.trip_index(f"small:{trip_id}")
    arr, dep, skip = trip_stop_times(tt, t, date, live)
    a0, d0 = (np.asarray(x, dtype=np.int64) for x in tt.trip_times(t))
    return (arr - a0).tolist(), (dep - d0).tolist(), skip.tolist()


def t1_update(*stu: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return {"trip": {"trip_id": "T1"}, "stu": list(stu), **kw}


# --------------------------------------------------------------------------- propagation


def test_compiled_stop_sequences(tt) -> None:
    t = tt.trip_index("small:T1")
    base = int(tt.pattern_st_offsets[tt.trip_pattern[t]])
    n = 5
    rank = t - int(tt.pattern_trip_offsets[tt.trip_pattern[t]])
    assert tt.st_stop_sequence[base + rank * n: base + rank * n + n].tolist() == \
        [10, 20, 30, 40, 50]


def test_delay_propagates_to_later_stops_not_earlier(tt) -> None:
    live, rep = apply(tt, t1_update({"seq": 20, "arr": 60, "dep": 90}))
    assert delays(tt, live, "T1") == ([0, 60, 90, 90, 90], [0, 90, 90, 90, 90], [False] * 5)
    assert rep.applied == 1 and rep.stop_time_updates_applied == 1
    # a second update takes over; recovery is allowed
    live, _ = apply(tt, t1_update({"seq": 20, "dep": 120}, {"seq": 40, "arr": 30}))
    assert delays(tt, live, "T1")[:2] == ([0, 120, 120, 30, 30], [0, 120, 120, 30, 30])
    # the other trip is untouched
    assert delays(tt, live, "T2")[:2] == ([0] * 5, [0] * 5)


def test_absolute_times_win_over_delay_and_one_event_gives_the_other(tt) -> None:
    t_dep = MID + 8 * 3600 + 20 * 60 + 45  # departure 45 s late at S3
    live, _ = apply(tt, t1_update({"seq": 30, "dep_t": t_dep, "dep": 999}))
    assert delays(tt, live, "T1")[:2] == ([0, 0, 45, 45, 45], [0, 0, 45, 45, 45])
    live, _ = apply(tt, t1_update({"stop": "S4", "arr_t": MID + 8 * 3600 + 29 * 60}))  # early
    assert delays(tt, live, "T1")[:2] == ([0, 0, 0, -60, -60], [0, 0, 0, -60, -60])


def test_early_running_is_raised_to_keep_times_ordered(tt) -> None:
    live, _ = apply(tt, t1_update({"seq": 30, "arr": -900}))  # would arrive before leaving S2
    arr, dep, _ = delays(tt, live, "T1")
    # S3 raised to S2's departure (08:10), later stops keep their (propagated) early times
    # where they stay ordered: S4 08:30 - 900 s = 08:15 is after S3's 08:10
    assert arr == [0, 0, -600, -900, -900] and dep == [0, 0, -600, -900, -900]


def test_no_data_stops_propagation(tt) -> None:
    live, _ = apply(tt, t1_update({"seq": 20, "arr": 120, "dep": 120},
                                  {"seq": 30, "rel": STU.NO_DATA}))
    assert delays(tt, live, "T1")[:2] == ([0, 120, 0, 0, 0], [0, 120, 0, 0, 0])
    live, _ = apply(tt, t1_update({"seq": 20, "dep": 120}, {"seq": 30, "rel": STU.NO_DATA},
                           {"seq": 50, "arr": 60}))
    assert delays(tt, live, "T1")[0] == [0, 120, 0, 0, 60]


def test_skipped_stop_is_passed_and_the_delay_carries_over_it(tt) -> None:
    live, rep = apply(tt, t1_update({"seq": 20, "dep": 120}, {"seq": 30, "rel": STU.SKIPPED}))
    assert delays(tt, live, "T1") == ([0, 120, 120, 120, 120], [0, 120, 120, 120, 120],
                                      [False, False, True, False, False])
    assert rep.skipped_stops == 1
    # its own times count for that stop only
    live, _ = apply(tt, t1_update({"seq": 20, "dep": 120},
                           {"seq": 30, "rel": STU.SKIPPED, "arr": 200, "dep": 200}))
    assert delays(tt, live, "T1")[0] == [0, 120, 200, 120, 120]
    # a skipped stop can no longer be boarded: S3 -> S5 on T1 now needs T2
    day = day_trip_mask(tt, WED)
    s3, s5 = tt.stop_index("small:S3"), tt.stop_index("small:S5")
    got = earliest_arrival(tt, day, ([s3], [0]), ([s5], [0]), 8 * 3600, live=live)
    assert got and got[0].arrive_s == 9 * 3600 + 40 * 60


def test_trip_level_delay(tt) -> None:
    live, _ = apply(tt, t1_update(delay=200))
    assert delays(tt, live, "T1")[0] == [200] * 5
    live, _ = apply(tt, t1_update({"seq": 30, "arr": 60, "dep": 60}, delay=200))
    assert delays(tt, live, "T1")[0] == [200, 200, 60, 60, 60]


def test_cancel_and_unsupported(tt) -> None:
    live, rep = apply(tt, {"trip": {"trip_id": "T1", "schedule_relationship":
                                    pb.TripDescriptor.CANCELED}},
                      {"trip": {"trip_id": "T2", "schedule_relationship":
                                pb.TripDescriptor.DELETED}},
                      {"trip": {"trip_id": "NEW1", "schedule_relationship":
                                pb.TripDescriptor.ADDED}, "stu": [{"seq": 1, "arr": 0}]},
                      {"trip": {"trip_id": "T1", "schedule_relationship":
                                pb.TripDescriptor.DUPLICATED}})
    sdl = live.day(WED)
    assert sdl.trip_cancelled[tt.trip_index("small:T1")]
    assert sdl.trip_cancelled[tt.trip_index("small:T2")]
    assert rep.applied == 2 and rep.cancelled == 2
    assert rep.ignored == {"unsupported_relationship": 2}
    assert rep.unsupported == {"ADDED": 1, "DUPLICATED": 1}
    assert rep.trip_ids == 3 and rep.known_trip_ids == 3  # ADDED ids are new: not counted


def test_stop_time_update_reasons(tt) -> None:
    live, rep = apply(tt, t1_update(
        {"seq": 20, "stop": "S2", "arr": 30},  # ok
        {"seq": 30, "stop": "S4", "arr": 60},  # stop_mismatch
        {"seq": 35, "arr": 60},  # unknown_stop_sequence
        {"stop": "nowhere", "arr": 60},  # unknown_stop
        {"seq": 10, "arr": 60},  # out_of_order
        {"seq": 40},  # no_time
        {"seq": 40, "arr": 10 * 3600},  # implausible_time
        {"arr": 5},  # no_stop_reference
        {"stop": "S5", "arr": 90},  # ok, by stop id
    ))
    assert rep.stop_time_updates == 9 and rep.stop_time_updates_applied == 2
    assert rep.stop_time_updates_ignored == {
        "stop_mismatch": 1, "unknown_stop_sequence": 1, "unknown_stop": 1,
        "out_of_order": 1, "no_time": 1, "implausible_time": 1, "no_stop_reference": 1}
    assert delays(tt, live, "T1")[0] == [0, 30, 30, 30, 90]
    # trusting the stop_id when the sequence disagrees or is unknown
    live, rep = apply(tt, t1_update({"seq": 20, "stop": "S3", "arr": 30},
                                    {"seq": 99, "stop": "S4", "arr": 40},
                                    {"seq": 99, "arr": 50}), mismatch_by_stop_id=True)
    assert rep.stop_sequence_mismatches == 2
    assert rep.stop_time_updates_ignored == {"unknown_stop_sequence": 1}
    assert delays(tt, live, "T1")[0] == [0, 0, 30, 40, 40]


def test_stop_id_matching_walks_loops_in_order_and_stations(tt) -> None:
    loop = {"trip": {"trip_id": "L1"}, "stu": [{"stop": "S1", "dep": 10},
                                               {"stop": "S1", "arr": 50}]}
    live, rep = apply(tt, loop)
    assert delays(tt, live, "L1")[0] == [10, 10, 50, 50]
    # the station P stands for its stop S1
    live, rep = apply(tt, t1_update({"stop": "P", "dep": 40}))
    assert delays(tt, live, "T1")[0] == [40] * 5 and rep.stop_time_updates_applied == 1


# --------------------------------------------------------------------------- trips, dates


def test_service_dates_given_and_inferred(tt) -> None:
    live, rep = apply(tt, {"trip": {"trip_id": "W1"}, "stu": [{"seq": 2, "arr": 60}]})
    assert rep.ignored == {"not_running_on_service_date": 1}  # W1 runs at weekends only
    live, rep = apply(tt, {"trip": {"trip_id": "T1", "start_date": "2024-03-06"}})
    assert rep.ignored == {"bad_start_date": 1}
    # no start_date: the day whose instance lies nearest the header time (07:30 WED)
    live, rep = apply(tt, {"trip": {"trip_id": "T1", "start_date": None},
                           "stu": [{"seq": 10, "dep": 60}]})
    assert rep.applied == 1 and list(live.days) == [WED]
    # just after midnight, a trip of the evening before is still the nearest
    late = MID + 86400 + 600
    live, rep = apply(tt, {"trip": {"trip_id": "T1", "start_date": None},
                           "stu": [{"seq": 10, "dep": 60}]}, ts=late)
    assert list(live.days) == [WED + dt.timedelta(days=1)]


def test_frequency_instances(tt) -> None:
    fx = {"trip": {"trip_id": "FX", "start_time": "08:30:00"}, "stu": [{"seq": 2, "arr": 60}]}
    live, rep = apply(tt, fx)
    assert rep.applied == 1
    assert delays(tt, live, "FX@08:30:00")[0] == [0, 60]
    assert delays(tt, live, "FX@08:00:00")[0] == [0, 0]
    live, rep = apply(tt, {"trip": {"trip_id": "FX"}, "stu": [{"seq": 2, "arr": 60}]},
                      {"trip": {"trip_id": "FX", "start_time": "08:30:00", "start_date": None},
                       "stu": [{"seq": 2, "arr": 60}]},
                      {"trip": {"trip_id": "FX", "start_time": "08:10:00"}},
                      {"trip": {"trip_id": "FH", "start_time": "07:23:00"},
                       "stu": [{"seq": 2, "arr": 30}]})
    assert rep.ignored == {"frequency_trip_without_start_time": 1,
                           "frequency_trip_without_start_date": 1,
                           "unknown_frequency_instance": 1}
    assert delays(tt, live, "FH@07:20:00")[0] == [0, 30]  # exact_times=0: nearest instance


def test_trip_by_route_direction_and_start_time(tt) -> None:
    ok = {"trip": {"route_id": "R", "direction_id": 0, "start_time": "09:00:00"},
          "stu": [{"seq": 50, "arr": 120}]}
    live, rep = apply(tt, ok)
    assert rep.applied == 1 and delays(tt, live, "T2")[0] == [0, 0, 0, 0, 120]
    live, rep = apply(tt, {"trip": {"route_id": "R", "direction_id": 0,
                                    "start_time": "09:01:00"}},
                      {"trip": {"route_id": "R", "start_time": "09:00:00"}})
    assert rep.ignored == {"unknown_trip": 1, "unidentifiable_trip": 1}


def test_duplicates_stale_updates_and_empty_updates(tt) -> None:
    live, rep = apply(tt, t1_update({"seq": 20, "arr": 60}), t1_update({"seq": 20, "arr": 90}),
                      {"trip": {"trip_id": "T2"}, "stu": [{"seq": 20, "arr": 60}],
                       "timestamp": NOW - 7200},
                      {"trip": {"trip_id": "L1"}})
    assert rep.ignored == {"duplicate_trip": 1, "stale": 1, "no_realtime_data": 1}
    assert delays(tt, live, "T1")[0][1] == 60


def test_full_dataset_replaces_and_differential_updates(tt) -> None:
    state = TripUpdatesState(tt)

    def put(*ents: dict[str, Any], full: bool, ts: int) -> None:
        msg = feed_of(*ents, ts=ts, full=full)
        state.apply(decode_feed(msg.SerializeToString(), now=ts), "small")

    t1, t2 = tt.trip_index("small:T1"), tt.trip_index("small:T2")
    put(t1_update({"seq": 20, "arr": 60}, id="a"),
        {"id": "b", "trip": {"trip_id": "T2"}, "stu": [{"seq": 20, "arr": 60}]},
        full=True, ts=NOW)
    assert set(state.trip_data("small")) == {(t1, WED), (t2, WED)}
    put(t1_update({"seq": 40, "arr": 30}, id="a"), full=False, ts=NOW + 30)  # replaces T1 entirely
    live = state.build(2)
    assert delays(tt, live, "T1")[0] == [0, 0, 0, 30, 30]
    assert delays(tt, live, "T2")[0] == [0, 60, 60, 60, 60]
    put({"id": "b", "deleted": True}, full=False, ts=NOW + 60)
    assert set(state.trip_data("small")) == {(t1, WED)}
    # the entity id "a" now names T2: T1's data goes
    put({"id": "a", "trip": {"trip_id": "T2"}, "stu": [{"seq": 50, "arr": 5}]},
        full=False, ts=NOW + 90)
    assert set(state.trip_data("small")) == {(t2, WED)}
    put(t1_update({"seq": 50, "arr": 1}, id="z"), full=True, ts=NOW + 120)
    assert set(state.trip_data("small")) == {(t1, WED)}
    # base live data (closures) is kept under the realtime
    from gtfs.live import TransitLiveBuilder

    base = TransitLiveBuilder(tt).close_stop(tt.stop_index("small:S3")).build(1)
    live = state.build(3, base)
    assert live.stop_closed is not None and live.stop_closed.sum() == 1 and live.has_realtime


def test_timetable_saved_without_stop_sequences(tt) -> None:
    """A timetable compiled before ``st_stop_sequence`` existed: updates by stop_sequence
    alone cannot be placed (``stop_sequence_unavailable``), by stop_id they can."""
    from gtfs.timetable import Timetable

    arrays = {k: v for k, v in tt.arrays.items() if k != "st_stop_sequence"}
    old = Timetable(arrays=arrays, strings=tt.strings, meta=tt.meta)
    live, rep = apply(old, t1_update({"seq": 20, "arr": 60}, {"seq": 40, "stop": "S4",
                                                              "arr": 90}))
    assert rep.stop_time_updates_ignored == {"stop_sequence_unavailable": 1}
    assert delays(old, live, "T1")[0] == [0, 0, 0, 90, 90]
