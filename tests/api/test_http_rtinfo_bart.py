"""Realtime information on BART's real feeds of 2019-08-07, replayed at their own time: the
departures board against an independent reading of the TripUpdates, cancellations and the
journeys that avoid them, alerts (BART's own and hand-made ones) on departures and legs, and
the TripUpdates and ServiceAlerts this server publishes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from google.transit import gtfs_realtime_pb2 as pb

from api.service import load_service
from gtfs.realtime.alerts import parse_alerts
from gtfs.realtime.decode import decode_feed
from gtfs.realtime.trip_updates import TripUpdatesState
from tests.api.rt_support import header_s, message, push, replayed, restamped
from tests.conftest import SHARED_GTFS_RT

TU = SHARED_GTFS_RT / "bart" / "bart_trip_updates_20190807.pb"
ALERTS = SHARED_GTFS_RT / "bart" / "bart_alerts_20190807.pb"
BUSY = ("MONT", "EMBR", "POWL", "CIVC", "12TH", "19TH", "MCAR", "WOAK", "BALB", "DALY")
WED = dt.date(2019, 8, 7)


@pytest.fixture(scope="module")
def tu() -> bytes:
    if not TU.is_file() or not ALERTS.is_file():
        pytest.skip(f"shared GTFS-RT samples not available: {TU.parent}")
    return TU.read_bytes()


@pytest.fixture
def bart(bart_transit_snapshot_dir: Path, tmp_path: Path, tu: bytes):
    """BART at the TripUpdates' header time (+5 s) with them pushed."""
    ts = header_s(tu)
    with replayed(bart_transit_snapshot_dir, tmp_path / "rt.db", ts + 5) as (c, svc, auth):
        push(c, "bart", tu, auth)
        yield c, svc, auth, ts


def _iso(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()


def _st_index(tt, trip: int, stop: int) -> int:
    """Stop-time index of ``trip`` at ``stop`` (its first call there)."""
    a = tt.arrays
    p = int(a["trip_pattern"][trip])
    stops = tt.pattern_stop_list(p)
    pos = int(np.flatnonzero(stops == stop)[0])
    return int(a["pattern_st_offsets"][p]) + (trip - int(a["pattern_trip_offsets"][p])) * \
        stops.shape[0] + pos


def _secs(a: str, b: str) -> int:
    return int((dt.datetime.fromisoformat(a) - dt.datetime.fromisoformat(b)).total_seconds())


def test_departures_show_the_delays_of_bart_trip_updates(bart, tu) -> None:
    c, svc, _, ts = bart
    tt = svc.planner.tt
    # the same message read independently: straight into a TripUpdatesState
    ref = TripUpdatesState(tt)
    ref.apply(decode_feed(tu, now=ts), "bart")
    data, ref_live = ref.trip_data("bart"), ref.build(1)
    seen_rt = seen_sched = 0
    for code in BUSY:
        r = c.get(f"/v1/stops/{code}/departures", params={"at": _iso(ts), "limit": 12})
        assert r.status_code == 200, r.text
        stop = svc.planner.resolve_stop(code)
        for d in r.json()["departures"]:
            trip = tt.trip_index(d["trip_id"])
            date = dt.date.fromisoformat(d["service_date"])
            assert d["realtime"] == ((trip, date) in data), d
            want = int(ref_live.day(date).departure_delay_s[_st_index(tt, trip, stop)]) \
                if d["realtime"] else 0
            assert d["delay_s"] == want, (code, d)
            assert _secs(d["expected"], d["scheduled"]) == d["delay_s"]
            assert not d["cancelled"] and not d["skipped"]
            assert _secs(d["expected"], _iso(ts)) >= 0  # still to come, by expected time
            seen_rt += d["realtime"] and d["delay_s"] != 0
            seen_sched += not d["realtime"]
    assert seen_rt >= 10 and seen_sched >= 10, (seen_rt, seen_sched)


def test_a_cancelled_trip_is_flagged_and_avoided(bart, tu) -> None:
    c, svc, auth, ts = bart
    tt = svc.planner.tt
    plan = {"from": "stop:MONT", "to": "stop:DBRK", "depart_at": _iso(ts)}
    before = c.get("/v1/plan", params=plan).json()["itineraries"]
    rode = next(x["trip_id"] for x in before[0]["legs"] if x["mode"] == "transit")
    board = c.get("/v1/stops/MONT/departures", params={"at": _iso(ts), "limit": 20}).json()
    other = next(d["trip_id"] for d in board["departures"]
                 if not d["realtime"] and d["trip_id"] != rode)
    # the sample again, with that trip cancelled and another one reported on time
    m = pb.FeedMessage()
    m.ParseFromString(tu)
    m.header.timestamp = ts + 1
    plain = {t: tt.strings["trip_gtfs_id"][tt.trip_index(t)].split(":", 1)[1]
             for t in (rode, other)}
    kept = [e for e in m.entity if e.trip_update.trip.trip_id not in plain.values()]
    del m.entity[:]
    m.entity.extend(kept)
    cancel = m.entity.add(id="cancel-1")
    cancel.trip_update.trip.trip_id = plain[rode]
    cancel.trip_update.trip.start_date = "20190807"
    cancel.trip_update.trip.schedule_relationship = pb.TripDescriptor.CANCELED
    on_time = m.entity.add(id="on-time-1")
    on_time.trip_update.trip.trip_id = plain[other]
    on_time.trip_update.trip.start_date = "20190807"
    on_time.trip_update.stop_time_update.add(stop_sequence=int(
        tt.arrays["st_stop_sequence"][_st_index(tt, tt.trip_index(other),
                                                svc.planner.resolve_stop("MONT"))])
    ).departure.delay = 0
    assert push(c, "bart", m.SerializeToString(), auth)["applied"]["cancelled"] == 1
    deps = {d["trip_id"]: d for d in c.get("/v1/stops/MONT/departures", params={
        "at": _iso(ts), "limit": 20}).json()["departures"]}
    assert deps[rode]["cancelled"] and deps[rode]["realtime"]
    assert deps[other]["realtime"] and deps[other]["delay_s"] == 0
    assert deps[other]["expected"] == deps[other]["scheduled"]
    after = c.get("/v1/plan", params=plan).json()["itineraries"]
    assert after
    assert all(x["trip_id"] != rode for it in after for x in it["legs"]
               if x["mode"] == "transit")


def _alert(m: pb.FeedMessage, aid: str, effect: int, periods: list[tuple[int, int]],
           texts: dict[str, str], **selector: object) -> None:
    e = m.entity.add(id=aid)
    e.alert.effect = effect
    e.alert.cause = pb.Alert.MAINTENANCE
    for a, b in periods:
        e.alert.active_period.add(start=a, end=b)
    for lang, t in texts.items():
        e.alert.header_text.translation.add(text=t, language=lang)
        e.alert.description_text.translation.add(text=t + " (details)", language=lang)
    e.alert.informed_entity.add(**selector)


def test_alerts_on_departures_and_legs(bart) -> None:
    c, svc, auth, ts = bart
    plan = {"from": "stop:MONT", "to": "stop:DBRK", "depart_at": _iso(ts)}
    leg = next(x for x in c.get("/v1/plan", params=plan).json()["itineraries"][0]["legs"]
               if x["mode"] == "transit")
    route = leg["route"]["id"].split(":", 1)[1]
    powl = c.get("/v1/stops", params={"q": "powell"}).json()["stops"][0]
    near_powl = f"{powl['lat']},{powl['lon']}"
    walk_in = {"from": near_powl, "to": "stop:DBRK", "depart_at": _iso(ts)}
    boards = [x["from"]["stop_id"] for it in c.get("/v1/plan", params=walk_in).json()[
        "itineraries"] for x in it["legs"] if x["mode"] == "transit"]
    assert "bart:POWL" in boards
    m = message(ts)
    sample = pb.FeedMessage()
    sample.ParseFromString(ALERTS.read_bytes())
    m.entity.extend(sample.entity)
    hour = (ts - 3600, ts + 3600)
    _alert(m, "closed-powl", pb.Alert.NO_SERVICE, [hour], {"en": "Powell St. closed"},
           stop_id="POWL")
    _alert(m, "works", pb.Alert.MODIFIED_SERVICE, [hour],
           {"en": "Escalator works", "zh-CN": "自动扶梯施工"}, route_id=route)
    _alert(m, "tomorrow", pb.Alert.MODIFIED_SERVICE, [(ts + 86400, ts + 90000)],
           {"en": "Tomorrow's works"}, route_id=route)
    assert push(c, "bart", m.SerializeToString(), auth)["applied"]["alerts"] == 4
    # departures: BART's own agency-wide alert on every one, the closure at POWL only
    for code in ("MONT", "POWL"):
        deps = c.get(f"/v1/stops/{code}/departures", params={"at": _iso(ts),
                                                             "limit": 5}).json()["departures"]
        assert deps
        for d in deps:
            ids = [a["id"] for a in d["alerts"]]
            assert "bart:BSA_187874" in ids and "bart:tomorrow" not in ids
            assert ("bart:closed-powl" in ids) == (code == "POWL")
    bsa = next(a for a in deps[0]["alerts"] if a["id"] == "bart:BSA_187874")
    assert bsa["effect"] == "SIGNIFICANT_DELAYS" and bsa["cause"] == "MEDICAL_EMERGENCY"
    assert bsa["source"] == "gtfs_rt" and bsa["feed_id"] == "bart"
    assert bsa["header"].startswith("There is a major delay at Montgomery St.")
    assert bsa["url"] == "http://www.bart.gov/schedules/advisories"
    assert bsa["active_periods"] == [] and bsa["severity"] is None
    closed = next(a for a in deps[0]["alerts"] if a["id"] == "bart:closed-powl")
    assert closed["effect"] == "NO_SERVICE" and closed["active_periods"] == [{
        "start": dt.datetime.fromtimestamp(hour[0], dt.UTC).astimezone(
            dt.timezone(dt.timedelta(hours=-7))).isoformat(),
        "end": dt.datetime.fromtimestamp(hour[1], dt.UTC).astimezone(
            dt.timezone(dt.timedelta(hours=-7))).isoformat()}]
    # legs: the route's works (in Chinese when asked; BART's alert has English only)
    for lang, header in (("en", "Escalator works"), ("zh-CN", "自动扶梯施工")):
        it = c.get("/v1/plan", params={**plan, "lang": lang}).json()["itineraries"][0]
        leg = next(x for x in it["legs"] if x["mode"] == "transit")
        by_id = {a["id"]: a for a in leg["alerts"]}
        assert set(by_id) == {"bart:BSA_187874", "bart:works"}, by_id
        assert by_id["bart:works"]["header"] == header
        assert by_id["bart:works"]["description"] == header + " (details)"
        assert by_id["bart:BSA_187874"]["header"].startswith("There is a major delay")
        assert it["alerts"] == list(by_id)
    # NO_SERVICE at a stop closes it: journeys from next to it board elsewhere
    boards = [x["from"]["stop_id"] for it in c.get("/v1/plan", params=walk_in).json()[
        "itineraries"] for x in it["legs"] if x["mode"] == "transit"]
    assert boards and "bart:POWL" not in boards


def test_trip_updates_and_alerts_out(bart, tu) -> None:
    c, svc, auth, ts = bart
    push(c, "bart", restamped(ALERTS.read_bytes(), ts), auth)
    state = svc.state()
    live = state.live.transit_realtime
    r = c.get("/v1/feeds/gtfs-rt/trip-updates")
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-protobuf"
    assert r.headers["cache-control"] == "no-cache"
    etag = r.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    msg = pb.FeedMessage()
    msg.ParseFromString(r.content)
    assert msg.header.gtfs_realtime_version == "2.0"
    assert msg.header.incrementality == pb.FeedHeader.FULL_DATASET
    assert msg.header.timestamp == int(state.at.timestamp())
    ids = [e.id for e in msg.entity]
    assert len(ids) == len(set(ids)) == 54 and all(i.startswith("bart:") for i in ids)
    for fmt, body in (("protobuf", r.content),
                      ("json", c.get("/v1/feeds/gtfs-rt/trip-updates",
                                     params={"format": "json"}).content)):
        back = decode_feed(body, now=svc.clock.now(), fmt=fmt)
        assert not back.rejected
        again = TripUpdatesState(svc.planner.tt)
        rep = again.apply(back, "bart")
        assert rep.applied == 54 and not rep.ignored and not rep.stop_time_updates_ignored
        got = again.build(2)
        for date in svc.engine.realtime.service_dates(state.at):
            x, y = live.day(date), got.day(date)
            assert (x is None) == (y is None), date
            if x is None:
                continue
            for name in ("arrival_delay_s", "departure_delay_s", "skipped", "trip_cancelled",
                         "trip_realtime"):
                assert np.array_equal(getattr(x, name), getattr(y, name)), (date, name)
    # conditional requests
    assert c.get("/v1/feeds/gtfs-rt/trip-updates", headers={"If-None-Match": etag}
                 ).status_code == 304
    for value in (f"W/{etag}", f'"other", {etag}', "*"):
        r304 = c.get("/v1/feeds/gtfs-rt/trip-updates", headers={"If-None-Match": value})
        assert r304.status_code == 304 and r304.content == b"" and r304.headers["etag"] == etag
    assert c.get("/v1/feeds/gtfs-rt/trip-updates", headers={"If-None-Match": '"nope"'}
                 ).status_code == 200
    assert c.get("/v1/feeds/gtfs-rt/trip-updates", params={"feed": "bart"}).content == r.content
    js = c.get("/v1/feeds/gtfs-rt/trip-updates", params={"format": "json"})
    assert js.headers["content-type"] == "application/json" and js.headers["etag"] != etag
    bad = c.get("/v1/feeds/gtfs-rt/trip-updates", params={"feed": "muni"})
    assert bad.status_code == 404 and bad.json()["type"].endswith("/unknown-feed")
    # a new message changes the content, so the ETag
    m = pb.FeedMessage()
    m.ParseFromString(tu)
    m.header.timestamp = ts + 2
    known = set(svc.planner.tt.strings["trip_id"])
    ent = next(e for e in m.entity if f"bart:{e.trip_update.trip.trip_id}" in known
               and e.trip_update.stop_time_update)
    for u in ent.trip_update.stop_time_update:  # 5 min later everywhere
        for ev in (u.arrival, u.departure):
            if ev.HasField("time"):
                ev.time += 300
            if ev.HasField("delay"):
                ev.delay += 300
    push(c, "bart", m.SerializeToString(), auth)
    r2 = c.get("/v1/feeds/gtfs-rt/trip-updates", headers={"If-None-Match": etag})
    assert r2.status_code == 200 and r2.headers["etag"] != etag
    # alerts out: BART's alert, its translations, ids namespaced
    r = c.get("/v1/feeds/gtfs-rt/alerts")
    assert r.status_code == 200 and r.headers["etag"]
    back = decode_feed(r.content, now=svc.clock.now())
    assert not back.rejected
    alerts, rep = parse_alerts(back, svc.planner.tt, "bart")
    assert [a.id for a in alerts] == ["bart:BSA_187874"] and not rep.unknown_entities
    assert alerts[0].effect == "SIGNIFICANT_DELAYS"
    assert alerts[0].header_text["en-US"].startswith("There is a major delay")
    assert alerts[0].informed[0].agency_id == "BART"
    assert c.get("/v1/feeds/gtfs-rt/alerts", headers={"If-None-Match": r.headers["etag"]}
                 ).status_code == 304


def test_without_realtime_the_endpoints_say_so(bart_transit_snapshot_dir: Path) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    svc = load_service(bart_transit_snapshot_dir, incidents=False)
    with TestClient(create_app(service=svc), raise_server_exceptions=False) as c:
        for path in ("/v1/vehicles", "/v1/feeds/gtfs-rt/trip-updates",
                     "/v1/feeds/gtfs-rt/alerts"):
            r = c.get(path)
            assert r.status_code == 404, path
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["type"].endswith("/no-realtime")
