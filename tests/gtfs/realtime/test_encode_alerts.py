"""Encoding (TripUpdates from live data, alerts with translations) and decoding back; alerts
that remove service (closed stops, cancelled trips, skipped stops)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from google.protobuf import json_format
from google.transit import gtfs_realtime_pb2 as pb

from gtfs.live import TransitLiveBuilder
from gtfs.realtime.alerts import ActivePeriod, add_alert_effects, new_alert, parse_alerts
from gtfs.realtime.decode import decode_feed
from gtfs.realtime.encode import encode_alerts, encode_trip_updates, trip_updates_message
from gtfs.realtime.trip_updates import trip_updates_to_live

from ..conftest import RealFeed
from .feed_gen import generated_trip_updates
from .test_trip_update_rules import MID, NOW, WED
from .test_trip_update_rules import tt as small_tt  # noqa: F401 - the module fixture


def _same_live(a, b, dates) -> None:
    for d in dates:
        x, y = a.day(d), b.day(d)
        assert (x is None) == (y is None)
        if x is None:
            continue
        for name in ("arrival_delay_s", "departure_delay_s", "skipped", "trip_cancelled",
                     "trip_realtime"):
            assert np.array_equal(getattr(x, name), getattr(y, name)), (d, name)


@pytest.mark.parametrize("fmt", ["protobuf", "json"])
def test_trip_updates_round_trip_on_generated_nky_feed(nky: RealFeed, fmt: str) -> None:
    gen = generated_trip_updates(nky.tt, "nky_tank", nky.day, np.random.default_rng(11))
    feed = decode_feed(gen.message.SerializeToString(), now=gen.header_s)
    live, rep = trip_updates_to_live(nky.tt, feed, "nky_tank", 1)
    dates = sorted(live.days)
    data = encode_trip_updates(nky.tt, live, "nky_tank", dates, timestamp_s=gen.header_s + 5,
                               fmt=fmt)
    # the bindings parse it back, header and ids as promised
    msg = pb.FeedMessage()
    if fmt == "protobuf":
        msg.ParseFromString(data)
    else:
        json_format.Parse(data.decode(), msg)
    assert msg.header.gtfs_realtime_version == "2.0"
    assert msg.header.incrementality == pb.FeedHeader.FULL_DATASET
    ids = [e.id for e in msg.entity]
    assert len(ids) == len(set(ids))
    back = decode_feed(data, now=gen.header_s + 5, fmt=fmt)
    assert not back.rejected
    live2, rep2 = trip_updates_to_live(nky.tt, back, "nky_tank", 2)
    assert rep2.applied == len(msg.entity) and not rep2.ignored
    assert not rep2.stop_time_updates_ignored
    assert rep2.cancelled == rep.cancelled
    _same_live(live, live2, dates)
    sdl = live.day(nky.day.date)
    assert sdl is not None and sdl.skipped.any() and sdl.trip_cancelled.any()


def test_only_trips_with_realtime_data_are_written(small_tt) -> None:  # noqa: F811
    tt = small_tt
    t1, t2, w1 = (tt.trip_index(f"small:{x}") for x in ("T1", "T2", "W1"))
    b = TransitLiveBuilder(tt)
    b.set_stop_time(WED, t1, 2, arrival_delay_s=60, departure_delay_s=60)
    b.cancel_trip(WED, t2)
    b.set_stop_time(WED, w1, 1, arrival_delay_s=60)  # W1 does not run on WED
    b.skip_stop(WED, tt.trip_index("small:FX@08:30:00"), 1)
    # reported on time: written too (zero delays), so a consumer knows it is on time
    l1 = tt.trip_index("small:L1")
    b.set_trip_delays(WED, l1, np.zeros(4, np.int32), np.zeros(4, np.int32))
    msg = trip_updates_message(tt, b.build(1), "small", [WED], timestamp_s=NOW)
    by_id = {e.id: e.trip_update for e in msg.entity}
    assert set(by_id) == {"T1-20240306", "T2-20240306", "FX@08:30:00-20240306",
                          "L1-20240306"}
    assert all(u.departure.delay == 0 for u in by_id["L1-20240306"].stop_time_update)
    assert by_id["T2-20240306"].trip.schedule_relationship == pb.TripDescriptor.CANCELED
    fx = by_id["FX@08:30:00-20240306"]
    assert (fx.trip.trip_id, fx.trip.start_time) == ("FX", "08:30:00")
    assert fx.stop_time_update[1].schedule_relationship == \
        pb.TripUpdate.StopTimeUpdate.SKIPPED
    u = by_id["T1-20240306"].stop_time_update[2]
    assert (u.stop_sequence, u.stop_id, u.arrival.delay) == (30, "S3", 60)
    assert u.arrival.time == MID + 8 * 3600 + 20 * 60 + 60


def test_alerts_round_trip_with_translations() -> None:
    a = new_alert("inc-42", cause="CONSTRUCTION", effect="NO_SERVICE",
                  periods=[(NOW, NOW + 3600), (NOW + 7200, None)],
                  header={"en": "Stop closed", "de": "Haltestelle geschlossen",
                          "zh-CN": "车站关闭"},
                  description={"en": "Works on the square", "de": "Bauarbeiten"},
                  url={"": "https://example.org/inc/42"}, stop_ids=["S3"], route_ids=["R"],
                  severity="SEVERE")
    b = new_alert("inc-43", effect="DETOUR", header={"en": "Detour"}, route_ids=["F"])
    for fmt in ("protobuf", "json"):
        data = encode_alerts([a, b], timestamp_s=NOW, fmt=fmt)  # type: ignore[arg-type]
        feed = decode_feed(data, now=NOW, fmt=fmt)  # type: ignore[arg-type]
        alerts, rep = parse_alerts(feed)
        assert rep.alerts == 2 and [x.id for x in alerts] == ["inc-42", "inc-43"]
        back = alerts[0]
        assert (back.cause, back.effect, back.severity) == ("CONSTRUCTION", "NO_SERVICE",
                                                            "SEVERE")
        assert dict(back.header_text) == dict(a.header_text)
        assert dict(back.description_text) == dict(a.description_text)
        assert dict(back.url) == {"": "https://example.org/inc/42"}
        assert back.active_periods == (ActivePeriod(NOW, NOW + 3600), ActivePeriod(NOW + 7200))
        assert [(e.stop_id, e.route_id) for e in back.informed] == [("S3", None), (None, "R")]
    with pytest.raises(ValueError):
        encode_alerts([a, a], timestamp_s=NOW)
    with pytest.raises(ValueError):
        new_alert("x", effect="EVERYTHING_IS_FINE")


def test_alerts_that_remove_service(small_tt) -> None:  # noqa: F811
    tt = small_tt
    s3, s2 = tt.stop_index("small:S3"), tt.stop_index("small:S2")
    t1, t2 = tt.trip_index("small:T1"), tt.trip_index("small:T2")
    m = pb.FeedMessage()
    m.header.gtfs_realtime_version = "2.0"
    m.header.timestamp = NOW
    closed = m.entity.add(id="closed").alert
    closed.effect = pb.Alert.NO_SERVICE
    closed.informed_entity.add(stop_id="S3", agency_id="A")  # an agency's stop: the stop
    # T1 only (08:00-08:40): the period ends before T2 starts at 09:00
    morning = m.entity.add(id="morning").alert
    morning.effect = pb.Alert.NO_SERVICE
    morning.informed_entity.add(route_id="R", direction_id=0)
    morning.active_period.add(start=MID + 7 * 3600, end=MID + 8 * 3600 + 50 * 60)
    moved = m.entity.add(id="moved").alert
    moved.effect = pb.Alert.STOP_MOVED
    moved.informed_entity.add(route_id="R", stop_id="S2")
    info = m.entity.add(id="info").alert
    info.effect = pb.Alert.SIGNIFICANT_DELAYS
    info.informed_entity.add(route_id="R")
    unknown = m.entity.add(id="unknown").alert
    unknown.effect = pb.Alert.NO_SERVICE
    unknown.informed_entity.add(stop_id="nowhere")
    unknown.informed_entity.add(trip=pb.TripDescriptor(trip_id="nothing"))
    feed = decode_feed(m.SerializeToString(), now=NOW)
    alerts, rep = parse_alerts(feed, tt, "small")
    assert rep.alerts == 5 and rep.unknown_entities == {"stop_id": 1, "trip_id": 1}
    b = TransitLiveBuilder(tt)
    eff = add_alert_effects(b, tt, "small", alerts, [WED])
    live = b.build(1)
    assert live.stop_closed is not None and live.stop_closed[s3] and live.stop_closed.sum() == 1
    sdl = live.day(WED)
    assert sdl is not None and sdl.trip_cancelled[t1] and not sdl.trip_cancelled[t2]
    # T1 only (L1 runs at noon, after the period); S2 skipped by T1, T2 and L1
    assert (eff.unresolved, eff.stops_closed, eff.trips_cancelled, eff.stops_skipped) == \
        (2, 1, 1, 3)
    # STOP_MOVED on route R at S2: every R trip running that day skips S2
    from gtfs.live import trip_stop_times

    for t in (t1, t2):
        stops = tt.pattern_stop_list(int(tt.trip_pattern[t]))
        skipped = trip_stop_times(tt, t, WED, live)[2]
        assert skipped.tolist() == (stops == s2).tolist()
    # the same alerts on another day than their periods cancel nothing there
    b2 = TransitLiveBuilder(tt)
    eff2 = add_alert_effects(b2, tt, "small", alerts, [WED + dt.timedelta(days=1)])
    assert eff2.trips_cancelled == 0


def test_vehicle_positions_latest_per_vehicle(small_tt) -> None:  # noqa: F811
    from gtfs.realtime.vehicles import parse_vehicle_positions

    m = pb.FeedMessage()
    m.header.gtfs_realtime_version = "2.0"
    m.header.timestamp = NOW
    for eid, vid, ts, lat in (("a", "bus1", NOW - 60, 52.50), ("b", "bus1", NOW - 10, 52.51),
                              ("c", "bus1", NOW - 30, 52.52), ("d", "", NOW, 52.53),
                              ("e", "bus2", NOW - 7200, 52.54), ("f", "bus3", NOW, 0.0)):
        v = m.entity.add(id=eid).vehicle
        if vid:
            v.vehicle.id = vid
        v.timestamp = ts
        v.position.latitude, v.position.longitude = lat, 13.4 if lat else 0.0
        v.position.speed = 8.5
        v.position.bearing = 90
        v.trip.trip_id = "T1"
        v.trip.start_date = WED.strftime("%Y%m%d")
        v.stop_id = "S2"
        v.current_status = pb.VehiclePosition.STOPPED_AT
        v.occupancy_status = pb.VehiclePosition.FEW_SEATS_AVAILABLE
    m.entity.add(id="g").vehicle.vehicle.id = "bus4"  # no position
    feed = decode_feed(m.SerializeToString(), now=NOW)
    vehicles, rep = parse_vehicle_positions(feed, small_tt, "small", now=NOW, max_age_s=3600)
    assert set(vehicles) == {"bus1", "d"}  # no id: the entity id
    assert rep.superseded == 2 and rep.ignored == {"stale": 1, "bad_position": 1,
                                                   "no_position": 1}
    bus = vehicles["bus1"]
    assert (bus.entity_id, bus.lat, bus.speed_mps, bus.bearing_deg) == ("b", pytest.approx(52.51),
                                                                         8.5, 90.0)
    assert bus.trip == small_tt.trip_index("small:T1") and bus.service_date == WED
    assert bus.stop == small_tt.stop_index("small:S2")
    assert (bus.current_status, bus.occupancy) == ("STOPPED_AT", "FEW_SEATS_AVAILABLE")
