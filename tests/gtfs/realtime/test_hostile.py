"""Hostile input: every bad feed is refused with a documented :class:`FeedRejected` reason or
applied item by item as documented, and nothing else is ever raised."""

from __future__ import annotations

import numpy as np
import pytest
from google.transit import gtfs_realtime_pb2 as pb

from gtfs.realtime.alerts import parse_alerts
from gtfs.realtime.decode import (
    ENTITY_REJECTION_REASONS,
    FEED_REJECTION_REASONS,
    DecodedFeed,
    FeedRejected,
    decode_feed,
)
from gtfs.realtime.encode import serialize
from gtfs.realtime.trip_updates import TripUpdatesState, trip_updates_to_live
from gtfs.realtime.vehicles import parse_vehicle_positions

from .conftest import rt_file

T0 = 1_565_199_921  # BART 2019-08-07 header time


def _msg(ts: int = T0, version: str = "2.0", full: bool = True) -> pb.FeedMessage:
    m = pb.FeedMessage()
    m.header.gtfs_realtime_version = version
    m.header.timestamp = ts
    m.header.incrementality = pb.FeedHeader.FULL_DATASET if full else \
        pb.FeedHeader.DIFFERENTIAL
    return m


def _reason(data: bytes, **kw: object) -> str:
    with pytest.raises(FeedRejected) as ei:
        decode_feed(data, **{"now": T0, **kw})  # type: ignore[arg-type]
    assert ei.value.reason in FEED_REJECTION_REASONS
    return ei.value.reason


def _consume(feed: DecodedFeed, tt) -> None:
    """Run every consumer on a decoded feed: only FeedRejected may come out."""
    state = TripUpdatesState(tt)
    try:
        state.apply(feed, "bart", min_known_share=None)
    except FeedRejected as e:
        assert e.reason in FEED_REJECTION_REASONS
    state.build(1)
    parse_alerts(feed, tt, "bart")
    parse_vehicle_positions(feed, tt, "bart", now=T0, max_age_s=600)


# --------------------------------------------------------------------------- whole feeds


def test_empty_body_and_garbage() -> None:
    assert _reason(b"") == "empty"
    assert _reason(b"   ", fmt="json") == "empty"
    assert _reason(b"\x00\x01\x02") == "malformed"
    assert _reason(b"{not json", fmt="json") == "malformed"
    assert _reason(b'{"header": {"gtfs_realtime_version": "2.0"}, "bogus": 1}',
                   fmt="json") == "malformed"
    assert _reason(b"\xff\xfe", fmt="json") == "malformed"
    assert _reason(b'[1, 2]', fmt="json") == "malformed"
    # a valid empty message (an empty body is one): no header
    assert _reason(pb.FeedMessage(entity=[pb.FeedEntity(id="x")]).SerializePartialToString()) == \
        "missing_header"


def test_header_checks() -> None:
    assert _reason(_msg(version="3.0").SerializePartialToString()) == "unsupported_version"
    assert _reason(_msg(version="").SerializePartialToString()) == "unsupported_version"
    m = pb.FeedMessage()
    m.header.timestamp = T0
    assert _reason(m.SerializePartialToString()) == "missing_header"
    assert _reason(_msg(ts=0).SerializePartialToString()) == "missing_timestamp"
    assert decode_feed(_msg(ts=0).SerializePartialToString(), now=None,
                       require_timestamp=False).timestamp_s == 0
    # stale / future against the caller's clock (replay: the clock is the caller's)
    data = _msg(ts=T0).SerializePartialToString()
    assert _reason(data, now=T0 + 601) == "stale"
    assert decode_feed(data, now=T0 + 600).timestamp_s == T0
    assert _reason(data, now=T0 - 121) == "future"
    assert decode_feed(data, now=T0 - 120).timestamp_s == T0
    assert _reason(data, now=T0 + 7200, max_age_s=3600) == "stale"
    assert decode_feed(data, now=None).timestamp_s == T0  # no clock: no age checks
    assert _reason(_msg(ts=2**63).SerializePartialToString()) == "future"
    assert _reason(data, max_bytes=len(data) - 1) == "too_large"


def test_too_many_entities_and_the_limit_itself(bart_tt) -> None:
    m = _msg()
    for i in range(100_000):
        e = m.entity.add(id=str(i))
        e.trip_update.trip.trip_id = f"nope{i}"
    data = m.SerializePartialToString()
    feed = decode_feed(data, now=T0)
    assert feed.n_entities == 100_000 and not feed.rejected
    live, rep = trip_updates_to_live(bart_tt, feed, "bart", 1, min_known_share=None)
    assert rep.trip_updates == 100_000 and rep.ignored == {"unknown_trip": 100_000}
    assert rep.applied == 0 and not live.has_realtime
    with pytest.raises(FeedRejected) as ei:
        TripUpdatesState(bart_tt).apply(feed, "bart")
    assert ei.value.reason == "wrong_feed"
    m.entity.add(id="one-more").trip_update.trip.trip_id = "x"
    assert _reason(m.SerializePartialToString()) == "too_many_entities"
    assert _reason(data, max_entities=10) == "too_many_entities"


# --------------------------------------------------------------------------- entities


def test_entity_rejections_are_per_entity() -> None:
    m = _msg()
    m.entity.add(id="a").trip_update.trip.trip_id = "1"
    m.entity.add(id="dup").trip_update.trip.trip_id = "2"
    m.entity.add(id="dup").trip_update.trip.trip_id = "3"
    m.entity.add(id="").trip_update.trip.trip_id = "4"
    m.entity.add(id="empty")
    m.entity.add(id="deleted", is_deleted=True)
    both = m.entity.add(id="both")
    both.trip_update.trip.trip_id = "5"
    both.vehicle.position.latitude = 1
    m.entity.add(id="b").alert.effect = pb.Alert.NO_SERVICE
    feed = decode_feed(m.SerializePartialToString(), now=T0)
    assert [e.id for e in feed.entities] == ["a", "b"]
    got = {(r.entity_id, r.reason) for r in feed.rejected}
    assert got == {("dup", "duplicate_id"), ("", "missing_id"), ("empty", "empty"),
                   ("deleted", "deleted_in_full_dataset"), ("both", "multiple_payloads")}
    assert sum(r.reason == "duplicate_id" for r in feed.rejected) == 2  # neither is trusted
    assert {r.reason for r in feed.rejected} <= set(ENTITY_REJECTION_REASONS)
    assert feed.counts == {"trip_update": 1, "alert": 1}
    # a deletion is fine in a DIFFERENTIAL feed
    d = _msg(full=False)
    d.entity.add(id="gone", is_deleted=True)
    assert decode_feed(d.SerializePartialToString(), now=T0).counts == {"deleted": 1}


def _raw_entity(payload: bytes) -> bytes:
    """A FeedMessage with a valid header and one entity given as raw bytes."""
    hdr = _msg().header.SerializePartialToString()
    return b"\x0a" + bytes([len(hdr)]) + hdr + b"\x12" + bytes([len(payload)]) + payload


def test_invalid_utf8_is_refused_not_crashed(bart_tt) -> None:
    # entity id with invalid UTF-8 (the bindings hand it out as bytes)
    feed = decode_feed(_raw_entity(b"\x0a\x02\xff\xfe"), now=T0)
    assert [r.reason for r in feed.rejected] == ["invalid_id"]
    # a trip_id with invalid UTF-8 inside a trip update (entity 1=id, 3=trip_update,
    # trip_update 1=trip, trip 1=trip_id)
    trip = b"\x0a\x02\xff\xfe"
    tu = b"\x0a" + bytes([len(trip)]) + trip
    ent = b"\x0a\x01x" + b"\x1a" + bytes([len(tu)]) + tu
    feed = decode_feed(_raw_entity(ent), now=T0)
    _, rep = trip_updates_to_live(bart_tt, feed, "bart", 1, min_known_share=None)
    assert rep.ignored == {"invalid_text": 1}
    _consume(feed, bart_tt)


def test_random_and_truncated_bytes_never_raise_anything_else(bart_tt) -> None:
    real = rt_file("bart/bart_trip_updates_20190807.pb").read_bytes()
    rng = np.random.default_rng(7)
    outcomes = {"rejected": 0, "decoded": 0}
    corpus: list[bytes] = [rng.bytes(int(n)) for n in rng.integers(1, 400, 200)]
    corpus += [real[: int(k)] for k in rng.integers(1, len(real), 200)]
    for _ in range(300):  # bit flips inside a real feed
        b = bytearray(real)
        for i in rng.integers(0, len(b), int(rng.integers(1, 20))):
            b[int(i)] ^= 1 << int(rng.integers(0, 8))
        corpus.append(bytes(b))
    for data in corpus:
        try:
            feed = decode_feed(data, now=T0 + 60)
        except FeedRejected as e:
            assert e.reason in FEED_REJECTION_REASONS
            outcomes["rejected"] += 1
            continue
        outcomes["decoded"] += 1
        assert feed.n_entities <= 91
        _consume(feed, bart_tt)
    assert outcomes["rejected"] >= 200 and outcomes["decoded"] >= 10


# --------------------------------------------------------------------------- TripUpdates


def test_a_feed_for_another_feed_is_refused_or_counted(bart_tt) -> None:
    data = rt_file("caltrain/caltrain_trip_updates_20231108.pb").read_bytes()
    feed = decode_feed(data, now=None)
    with pytest.raises(FeedRejected) as ei:
        TripUpdatesState(bart_tt).apply(feed, "bart")
    assert ei.value.reason == "wrong_feed" and "0 of 19" in ei.value.detail
    live, rep = trip_updates_to_live(bart_tt, feed, "bart", 1, min_known_share=None)
    assert rep.known_trip_share == 0.0 and rep.ignored == {"unknown_trip": 19}
    assert not live.has_realtime
    with pytest.raises(KeyError):
        TripUpdatesState(bart_tt).apply(feed, "caltrain")  # not a feed of this timetable


def test_empty_full_dataset_clears_the_feed_and_older_feeds_are_refused(bart_tt) -> None:
    data = rt_file("bart/bart_trip_updates_20190807.pb").read_bytes()
    state = TripUpdatesState(bart_tt)
    state.apply(decode_feed(data, now=T0), "bart")
    assert len(state.trip_data("bart")) == 54
    empty = decode_feed(serialize(_msg(ts=T0 + 30)), now=T0 + 30)
    rep = state.apply(empty, "bart")
    assert rep.trip_updates == 0 and rep.known_trip_share is None
    assert len(state.trip_data("bart")) == 0 and not state.build(2).has_realtime
    with pytest.raises(FeedRejected) as ei:  # older than what was applied
        state.apply(decode_feed(data, now=T0), "bart")
    assert ei.value.reason == "stale"


def test_absurd_times_are_reasons_not_crashes(bart_tt) -> None:
    m = _msg(ts=2**62)
    far = m.entity.add(id="far").trip_update
    far.trip.trip_id = "1011112WKDY"
    far.timestamp = 2**63
    far.stop_time_update.add(stop_sequence=1).arrival.time = 2**62
    dated = m.entity.add(id="dated").trip_update
    dated.trip.trip_id = "1011112WKDY"
    dated.trip.start_date = "99991231"
    odd = m.entity.add(id="odd").trip_update
    odd.trip.trip_id = "1011112WKDY"
    odd.trip.start_date = "20190807"
    odd.delay = -(2**31)
    odd.stop_time_update.add(stop_sequence=2).departure.time = 2**62
    veh = m.entity.add(id="v").vehicle
    veh.trip.trip_id = "1011112WKDY"
    veh.timestamp = 2**63
    veh.position.latitude, veh.position.longitude = 37.7, -122.4
    veh.position.bearing, veh.position.speed = float("nan"), -3.0
    feed = decode_feed(m.SerializePartialToString(), now=None)
    _, rep = trip_updates_to_live(bart_tt, feed, "bart", 1, min_known_share=None)
    assert rep.ignored == {"no_service_date": 1, "not_running_on_service_date": 1,
                           "no_realtime_data": 1}
    assert rep.stop_time_updates_ignored == {"implausible_time": 1}
    vehicles, vrep = parse_vehicle_positions(feed, bart_tt, "bart")
    (v,) = vehicles.values()
    assert v.bearing_deg is None and v.speed_mps is None and v.trip == -1
    _consume(feed, bart_tt)
