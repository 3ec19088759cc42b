"""Every real GTFS-RT sample decodes and matches its static feed with the counts the data
README gives (``shared/data/README.md`` section 4a), plus what our rules make of them."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from google.protobuf import json_format

from gtfs.realtime.alerts import parse_alerts
from gtfs.realtime.decode import decode_feed
from gtfs.realtime.match import FeedMatcher
from gtfs.realtime.trip_updates import trip_updates_to_live
from gtfs.realtime.vehicles import parse_vehicle_positions

from .conftest import rt_file


def _decode(rel: str):
    data = rt_file(rel).read_bytes()
    probe = decode_feed(data, now=None)
    # replay: the caller's clock is the recorded header time
    feed = decode_feed(data, now=probe.timestamp_s)
    assert feed.timestamp_s == probe.timestamp_s and not feed.rejected
    return feed


def test_bart_20190807_trip_updates(bart_tt) -> None:
    feed = _decode("bart/bart_trip_updates_20190807.pb")
    assert feed.n_entities == 91 and feed.counts == {"trip_update": 91}
    assert sum(len(e.trip_update.stop_time_update) for e in feed.entities) == 1060
    m = FeedMatcher(bart_tt, "bart")  # README: stop_id 1,060/1,060 in the static feed
    assert all(m.stops(u.stop_id) for e in feed.entities for u in e.trip_update.stop_time_update)
    live, rep = trip_updates_to_live(bart_tt, feed, "bart", 1)
    # README: trip_id 65/91 in the static feed; the other 26: 18 unknown ids and 8 ADDED
    assert rep.trip_ids + rep.unsupported["ADDED"] == 91
    assert rep.known_trip_ids == 65 and rep.unsupported == {"ADDED": 8}
    assert abs(rep.known_trip_share - 65 / 83) < 1e-9
    assert rep.trip_updates == 91 and rep.applied == 54 and rep.cancelled == 0
    assert rep.ignored == {"unknown_trip": 18, "unsupported_relationship": 8,
                           "no_realtime_data": 11}
    # BART's stop_sequence is one below the static one on some trips: those updates name
    # another stop than their sequence (stop_mismatch) and are not trusted
    assert rep.stop_time_updates == 979 and rep.stop_time_updates_applied == 812
    assert rep.stop_time_updates_ignored == {"stop_mismatch": 160, "out_of_order": 6,
                                             "unknown_stop_sequence": 1}
    assert list(live.days) == [dt.date(2019, 8, 7)]
    sdl = live.day(dt.date(2019, 8, 7))
    assert (sdl.departure_delay_s != 0).sum() > 100
    # trusting the stop_id (its times fit that stop's schedule far better: median 64 s off
    # against 394 s by the sequence) recovers them
    live, rep = trip_updates_to_live(bart_tt, feed, "bart", 1, mismatch_by_stop_id=True)
    assert rep.applied == 65 and rep.stop_sequence_mismatches == 161
    assert rep.stop_time_updates_applied == 973
    assert rep.stop_time_updates_ignored == {"out_of_order": 6}


def test_bart_20190528_trip_updates_are_for_a_holiday(bart_tt) -> None:
    """2019-05-28T02:02Z is Monday 2019-05-27 19:02 in California, Memorial Day: the static
    calendar removes WKDY service that day, and the feed names WKDY trips without a
    start_date. All 26 trip ids are known; none runs on the inferred service date."""
    feed = _decode("bart/bart_trip_updates_20190528.pb")
    assert feed.n_entities == 26
    assert sum(len(e.trip_update.stop_time_update) for e in feed.entities) == 298
    m = FeedMatcher(bart_tt, "bart")
    assert all(m.stops(u.stop_id) for e in feed.entities for u in e.trip_update.stop_time_update)
    live, rep = trip_updates_to_live(bart_tt, feed, "bart", 1)
    assert rep.trip_ids == 26 and rep.known_trip_ids == 26
    assert rep.applied == 0 and rep.ignored == {"not_running_on_service_date": 26}
    assert "2019-05-27" in rep.examples["not_running_on_service_date"][0]
    assert not live.has_realtime


def test_bart_alert(bart_tt) -> None:
    feed = _decode("bart/bart_alerts_20190807.pb")
    alerts, rep = parse_alerts(feed, bart_tt, "bart")
    assert rep.alerts == 1 and not rep.unknown_entities
    (a,) = alerts
    assert (a.id, a.cause, a.effect) == ("BSA_187874", "MEDICAL_EMERGENCY",
                                         "SIGNIFICANT_DELAYS")
    assert "Montgomery" in a.header_text["en-US"]
    assert a.url["en-US"].startswith("http://www.bart.gov")
    assert a.informed[0].agency_id == "BART" and a.informed[0].agency == 0
    assert not a.removes_service and a.is_active(feed.timestamp_s)


def test_caltrain(caltrain_tt) -> None:
    feed = _decode("caltrain/caltrain_trip_updates_20231108.pb")
    live, rep = trip_updates_to_live(caltrain_tt, feed, "caltrain", 1)
    assert rep.trip_updates == 19 and rep.known_trip_ids == 19 and rep.applied == 19
    assert rep.stop_time_updates == 220 and rep.stop_time_updates_applied == 220
    assert list(live.days) == [dt.date(2023, 11, 7)]  # start_date, local evening
    feed = _decode("caltrain/caltrain_vehicle_positions_20231108.pb")
    vehicles, vrep = parse_vehicle_positions(feed, caltrain_tt, "caltrain",
                                             now=feed.timestamp_s, max_age_s=600)
    assert vrep.vehicles == 14 and vrep.trips_matched == 14 and not vrep.ignored
    v = vehicles["124"]
    assert v.trip == caltrain_tt.trip_index("caltrain:124")
    assert v.service_date == dt.date(2023, 11, 7)
    assert 37 < v.lat < 38 and -123 < v.lon < -121
    feed = _decode("caltrain/caltrain_service_alerts_20231108_empty.pb")
    assert feed.n_entities == 0 and parse_alerts(feed)[0] == []


def test_king_county_metro_vehicles_without_static_feed() -> None:
    for name, n in (("kcm_vehicle_positions_20210902T1531Z.pb", 627),
                    ("kcm_vehicle_positions_20210902T1608Z.pb", 570)):
        feed = _decode(f"king-county-metro/{name}")
        vehicles, rep = parse_vehicle_positions(feed)
        assert feed.n_entities == n and rep.vehicles + rep.superseded + \
            sum(rep.ignored.values()) == n
        assert rep.vehicles > 0.9 * n
        lat = np.array([v.lat for v in vehicles.values()])
        assert ((lat > 47) & (lat < 48.5)).all()
        assert all(v.trip == -1 for v in vehicles.values())


def test_bull_runner_vehicles_carry_no_trip_ids(bullrunner_tt) -> None:
    feed = _decode("usf-bullrunner/bullrunner_vehicle_positions_20170913.pb")
    vehicles, rep = parse_vehicle_positions(feed, bullrunner_tt, "bullrunner")
    assert rep.vehicles == 10 and rep.trips_matched == 0
    assert all(v.trip_id is None and v.trip == -1 for v in vehicles.values())
    # a route alone does not identify a trip instance
    assert set(rep.trips_unmatched) <= {"unidentifiable_trip"}
    assert {v.occupancy for v in vehicles.values()} <= {None, "EMPTY", "MANY_SEATS_AVAILABLE",
                                                       "FEW_SEATS_AVAILABLE",
                                                       "STANDING_ROOM_ONLY",
                                                       "CRUSHED_STANDING_ROOM_ONLY", "FULL",
                                                       "NOT_ACCEPTING_PASSENGERS"}


@pytest.mark.parametrize("rel", [
    "bart/bart_trip_updates_20190807.pb", "bart/bart_trip_updates_20190528.pb",
    "bart/bart_alerts_20190807.pb", "caltrain/caltrain_trip_updates_20231108.pb",
    "caltrain/caltrain_vehicle_positions_20231108.pb",
    "caltrain/caltrain_service_alerts_20231108_empty.pb",
    "king-county-metro/kcm_vehicle_positions_20210902T1531Z.pb",
    "king-county-metro/kcm_vehicle_positions_20210902T1608Z.pb",
    "usf-bullrunner/bullrunner_vehicle_positions_20170913.pb"])
def test_every_sample_decodes_also_in_json_form(rel: str) -> None:
    feed = _decode(rel)
    as_json = json_format.MessageToJson(feed.message).encode()
    back = decode_feed(as_json, now=feed.timestamp_s, fmt="json")
    assert back.counts == feed.counts and back.timestamp_s == feed.timestamp_s
    # equal up to float32 printing (JSON numbers of float fields): a fixed point from here
    assert json_format.MessageToJson(back.message).encode() == as_json
    assert [e.id for e in back.entities] == [e.id for e in feed.entities]
