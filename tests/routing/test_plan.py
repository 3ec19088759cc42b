"""Journey planning on real data: walking access equals street routing, and the planner's
best arrivals equal a brute-force connection scan over the same inputs."""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from routing.plan import PlanError, PlanRequest, UnknownStopError
from routing.road import RoutingError, SnapError
from tests.gtfs.oracle import Oracle

TZ = ZoneInfo("America/New_York")
DAY = dt.date(2020, 1, 15)


def _plan(planner, state, req) -> dict:
    """The planner's answer as the API renders it."""
    from api.render import plan_json

    return plan_json(planner.plan(state, req))


def _random_points(planner, rng, n):
    tt = planner.tt
    lat = np.asarray(tt.arrays["stop_lat"])
    lon = np.asarray(tt.arrays["stop_lon"])
    idx = rng.integers(0, lat.shape[0], n)
    return [(float(lat[i] + rng.normal(0, 1.5e-3)), float(lon[i] + rng.normal(0, 1.5e-3)))
            for i in idx]


def test_access_walk_times_equal_street_routes(nky_planner, nky_router, nky_state) -> None:
    """Every stop's access time equals the walking route to it (CCH, snapped independently);
    stops left out are farther than the limit."""
    rng = np.random.default_rng(11)
    req = PlanRequest((0, 0), (0, 0), dt.datetime(2020, 1, 15, 8, tzinfo=TZ), max_walk_m=600)
    tt = nky_planner.tt
    checked = 0
    # random points, and points exactly on junctions near stops (tied to every street there)
    seg = nky_planner.transit.stop_seg
    segs = nky_planner.snapshot.segments
    lat = np.asarray(nky_planner.snapshot.node_lat)
    lon = np.asarray(nky_planner.snapshot.node_lon)
    juncs = [int(segs.u[s]) for s in rng.choice(seg[seg >= 0], 20, replace=False)]
    for p in _random_points(nky_planner, rng, 40) + [(float(lat[j]), float(lon[j]))
                                                      for j in juncs]:
        try:
            stops, secs = nky_planner.walk_times(nky_state, *p, towards=False, req=req)
        except SnapError:
            continue
        got = dict(zip(stops.tolist(), secs.tolist(), strict=True))
        near = np.flatnonzero(np.hypot((np.asarray(tt.arrays["stop_lat"]) - p[0]) * 111e3,
                                       (np.asarray(tt.arrays["stop_lon"]) - p[1]) * 86e3) < 900)
        for s in near.tolist():
            if nky_planner.transit.stop_seg[s] < 0:
                continue
            try:
                r = nky_router.route(nky_state, "walk", p[0], p[1],
                                     float(tt.arrays["stop_lat"][s]),
                                     float(tt.arrays["stop_lon"][s]))
            except RoutingError:
                assert s not in got
                continue
            limit_s = 600 / req.walk_speed_mps
            if s in got:
                assert got[s] == pytest.approx(math.ceil(r.duration_s), abs=1.5), (p, s)
                checked += 1
            else:
                assert r.duration_s > limit_s - 1, (p, s)
    assert checked > 100


def test_planner_arrivals_equal_brute_force(nky_planner, nky_state) -> None:
    """On 160 random trips, the planner's earliest transit arrival (and transfers) equals the
    brute-force connection scan given the same access, egress and footpaths."""
    rng = np.random.default_rng(5)
    pts = _random_points(nky_planner, rng, 320)
    day = nky_planner.day(DAY)
    base = PlanRequest((0, 0), (0, 0), dt.datetime(2020, 1, 15, 7, tzinfo=TZ))
    oracle = Oracle(nky_planner.tt, day, nky_planner.footpaths(base), base.min_transfer_s)
    compared = found = 0
    for k in range(160):
        hour = int(rng.integers(5, 21))
        t = dt.datetime(2020, 1, 15, hour, int(rng.integers(0, 60)), tzinfo=TZ)
        req = PlanRequest(pts[2 * k], pts[2 * k + 1], t, num_itineraries=5)
        try:
            out = _plan(nky_planner, nky_state, req)
            acc = nky_planner.walk_times(nky_state, *req.origin, towards=False, req=req)
            egr = nky_planner.walk_times(nky_state, *req.destination, towards=True, req=req)
        except SnapError:
            continue
        _, t_s = nky_planner.clock(t)
        want = oracle.pareto(acc, egr, t_s, max_rounds=req.max_transfers + 1)
        transit = [i for i in out["itineraries"] if any(x["mode"] == "transit"
                                                        for x in i["legs"])]
        walk_only = [i for i in out["itineraries"] if all(x["mode"] == "walk"
                                                          for x in i["legs"])]
        compared += 1
        if not want:
            assert not transit
            continue
        found += 1
        best_arr = min(a for a, _ in want)
        if transit:
            got = min(dt.datetime.fromisoformat(i["arrival"]) for i in transit)
            assert got == dt.datetime.fromtimestamp(
                int(t.timestamp()) - t_s + best_arr, TZ), (req, want)
        else:  # only when walking all the way arrives no later than the best transit
            assert walk_only
            walk_arr = dt.datetime.fromisoformat(walk_only[0]["arrival"])
            assert walk_arr.timestamp() <= int(t.timestamp()) - t_s + best_arr
    assert compared >= 100 and found >= 40


def test_itinerary_structure(nky_planner, nky_state) -> None:
    req = PlanRequest((39.0837, -84.5086), (38.9836, -84.6451),
                      dt.datetime(2020, 1, 15, 8, tzinfo=TZ), window_s=3600)
    out = _plan(nky_planner, nky_state, req)
    assert len(out["itineraries"]) >= 2
    deps = [it["departure"] for it in out["itineraries"]]
    assert deps == sorted(deps)
    for it in out["itineraries"]:
        legs = it["legs"]
        assert legs[0]["mode"] == "walk" and legs[-1]["mode"] == "walk"
        assert it["departure"] == legs[0]["departure"] and it["arrival"] == legs[-1]["arrival"]
        for a, b in zip(legs, legs[1:], strict=False):
            assert a["arrival"] <= b["departure"]
        for leg in legs:
            assert leg["departure"].endswith("-05:00")
            if leg["mode"] == "transit":
                assert leg["route"]["type_name"] == "bus" and leg["trip_id"].startswith("nky")
                assert len(leg["geometry"]["coordinates"]) >= 2
                assert leg["from"]["stop_id"] != leg["to"]["stop_id"]
            else:
                assert leg["steps"] and leg["steps"][-1]["type"] == "arrive"
        assert it["transfers"] == sum(x["mode"] == "transit" for x in legs) - 1


def test_arrive_by_and_short_walk(nky_planner, nky_state) -> None:
    by = dt.datetime(2020, 1, 15, 17, 0, tzinfo=TZ)
    req = PlanRequest((39.0837, -84.5086), (38.9836, -84.6451), by, arrive_by=True)
    out = _plan(nky_planner, nky_state, req)
    assert out["itineraries"]
    for it in out["itineraries"]:
        assert dt.datetime.fromisoformat(it["arrival"]) <= by
    short = _plan(nky_planner, nky_state, PlanRequest((39.0837, -84.5086), (39.0850, -84.5080),
                                         dt.datetime(2020, 1, 15, 8, tzinfo=TZ)))
    first = short["itineraries"][0]
    assert [x["mode"] for x in first["legs"]] == ["walk"]


def test_errors(nky_planner, nky_state) -> None:
    with pytest.raises(PlanError, match="2019-10-31 to 2020-08-27"):
        _plan(nky_planner, nky_state, PlanRequest((39.0837, -84.5086), (38.9836, -84.6451),
                                     dt.datetime(2024, 5, 1, 8, tzinfo=TZ)))
    with pytest.raises(UnknownStopError):
        nky_planner.resolve_stop("does-not-exist")
    assert nky_planner.resolve_stop("100580") == nky_planner.resolve_stop("nky_tank:100580")


def test_closed_stop_is_avoided(nky_planner, nky_state) -> None:
    from dataclasses import replace

    req = PlanRequest((39.0837, -84.5086), (38.9836, -84.6451),
                      dt.datetime(2020, 1, 15, 8, tzinfo=TZ))
    before = _plan(nky_planner, nky_state, req)["itineraries"][0]
    board = next(x for x in before["legs"] if x["mode"] == "transit")["from"]["stop_id"]
    closed = np.zeros(nky_planner.tt.n_stops, dtype=bool)
    closed[nky_planner.resolve_stop(board)] = True
    after = _plan(nky_planner, replace(nky_state, stop_closed=closed), req)
    for it in after["itineraries"]:
        for leg in it["legs"]:
            if leg["mode"] == "transit":
                assert board not in (leg["from"]["stop_id"], leg["to"]["stop_id"])


def test_two_feed_city_builds_and_plans(tmp_path) -> None:
    """Porto Alegre: bus (96 % blank stop_times, interpolated) and metro feeds in one
    snapshot, namespaced ids, and a journey planned across it."""
    from routing.build import build_snapshot
    from routing.plan import Planner, TransitData
    from routing.road import RoadRouter
    from routing.snapshot import load_snapshot
    from tests.conftest import DATA

    base = DATA / "porto-alegre"
    out = tmp_path / "poa"
    meta = build_snapshot(base / "poa_osm.pbf", out,
                          [base / "poa_eptc_gtfs.zip", base / "poa_trensurb_gtfs.zip"])
    feeds = {f["name"] for f in meta["transit"]["feeds"]}
    assert feeds == {"poa_eptc", "poa_trensurb"}
    assert meta["transit"]["counts"]["stops_linked"] > 1000
    snap = load_snapshot(out)
    road = RoadRouter(snap)
    planner = Planner(snap, road, TransitData.load(out))
    from routing.state import StatePublisher

    state = StatePublisher(road).current()
    assert any(s.startswith("poa_trensurb:") for s in planner.stop_ids)
    tz = ZoneInfo("America/Sao_Paulo")
    rng = np.random.default_rng(1)
    linked = np.flatnonzero(planner.transit.stop_seg >= 0)
    lat = np.asarray(planner.tt.arrays["stop_lat"])
    lon = np.asarray(planner.tt.arrays["stop_lon"])
    with_transit = 0
    for _ in range(30):
        a, b = rng.choice(linked, 2, replace=False)
        req = PlanRequest((float(lat[a]), float(lon[a])), (float(lat[b]), float(lon[b])),
                          dt.datetime(2019, 5, 15, 12, 30, tzinfo=tz))
        try:
            out_plan = _plan(planner, state, req)
        except SnapError:
            continue
        for it in out_plan["itineraries"]:
            assert it["departure"].endswith("-03:00")
            with_transit += any(x["mode"] == "transit" for x in it["legs"])
    assert with_transit >= 10


def test_park_and_ride_access_uses_live_car_speeds(nky_planner, nky_router, nky_state,
                                                   nky_publisher) -> None:
    """access_mode=car reaches more stops than walking; making cars slower (live state)
    never makes the itinerary arrive earlier, and the car leg is timed on live weights."""
    t = dt.datetime(2020, 1, 15, 8, tzinfo=TZ)
    origin, dest = (39.0500, -84.5600), (39.0912, -84.4960)
    walk = _plan(nky_planner, nky_state, PlanRequest(origin, dest, t))
    car = _plan(nky_planner, nky_state, PlanRequest(origin, dest, t, access_mode="car"))
    assert car["access_stops"] > walk["access_stops"]
    first = car["itineraries"][0]
    assert first["legs"][0]["mode"] == "car"
    arr_free = dt.datetime.fromisoformat(first["arrival"])
    acc = nky_planner.ride_times(nky_state, *origin,
                                 PlanRequest(origin, dest, t, access_mode="car"))
    slow = nky_publisher.custom({"car": nky_router.modes["car"].free_flow_ms * 4})
    acc_slow = nky_planner.ride_times(slow, *origin, PlanRequest(origin, dest, t,
                                                                 access_mode="car"))
    common = np.intersect1d(acc[0], acc_slow[0])
    fast_t = dict(zip(acc[0].tolist(), acc[1].tolist(), strict=True))
    slow_t = dict(zip(acc_slow[0].tolist(), acc_slow[1].tolist(), strict=True))
    assert all(slow_t[s] >= fast_t[s] for s in common.tolist())
    assert any(slow_t[s] > fast_t[s] + 60 for s in common.tolist())
    later = _plan(nky_planner, slow, PlanRequest(origin, dest, t, access_mode="car"))
    assert dt.datetime.fromisoformat(later["itineraries"][0]["arrival"]) >= arr_free
    with pytest.raises(PlanError):
        _plan(nky_planner, nky_state, PlanRequest(origin, dest, t, access_mode="plane"))


def test_at_equal_arrival_the_planner_leaves_as_late_as_possible(nky_planner,
                                                                  nky_state) -> None:
    """The earliest transit arrival is reached with the latest departure the brute-force
    search finds for that arrival and no more transfers: no waiting at a farther stop for a
    bus that also passes a nearer one later."""
    rng = np.random.default_rng(9)
    pts = _random_points(nky_planner, rng, 160)
    day = nky_planner.day(DAY)
    base = PlanRequest((0, 0), (0, 0), dt.datetime(2020, 1, 15, 7, tzinfo=TZ))
    oracle = Oracle(nky_planner.tt, day, nky_planner.footpaths(base), base.min_transfer_s)
    checked = 0
    for k in range(80):
        t = dt.datetime(2020, 1, 15, int(rng.integers(6, 20)), int(rng.integers(0, 60)),
                        tzinfo=TZ)
        req = PlanRequest(pts[2 * k], pts[2 * k + 1], t, num_itineraries=5)
        try:
            res = nky_planner.plan(nky_state, req)
            acc = nky_planner.walk_times(nky_state, *req.origin, towards=False, req=req)
            egr = nky_planner.walk_times(nky_state, *req.destination, towards=True, req=req)
        except SnapError:
            continue
        transit = [i for i in res.itineraries if any(x.mode == "transit" for x in i.legs)]
        if not transit:
            continue
        first = min(transit, key=lambda i: (i.arrival, i.transfers))
        _, t_s = nky_planner.clock(t)
        midnight = int(t.timestamp()) - t_s
        arr_s = int(first.arrival.timestamp()) - midnight
        latest = [d for d, n in oracle.latest_departure(acc, egr, arr_s,
                                                        max_rounds=first.transfers + 1)
                  if n <= first.transfers]
        assert latest, req
        assert int(first.departure.timestamp()) - midnight == max(latest), req
        checked += 1
    assert checked >= 30


def test_same_origin_and_destination_is_no_trip(nky_planner, nky_state) -> None:
    """Asking from a place to the same place gives the zero walk, not a pointless round trip
    by bus; transit that walking beats is dropped."""
    t = dt.datetime(2020, 1, 15, 8, tzinfo=TZ)
    res = _plan(nky_planner, nky_state, PlanRequest((39.0837, -84.5086), (39.0837, -84.5086),
                                                    t))
    assert len(res["itineraries"]) == 1
    only = res["itineraries"][0]
    assert [x["mode"] for x in only["legs"]] == ["walk"] and only["duration_s"] <= 1


def test_wheelchair_on_a_feed_without_accessibility_data(nky_planner, nky_state) -> None:
    """TANK marks nothing (all unknown): wheelchair journeys are found, each transit leg
    flagged of unknown accessibility; strict mode finds none."""
    t = dt.datetime(2020, 1, 15, 8, tzinfo=TZ)
    o, d = (39.0837, -84.5086), (38.9836, -84.6451)
    res = _plan(nky_planner, nky_state, PlanRequest(o, d, t, wheelchair=True))
    legs = [x for it in res["itineraries"] for x in it["legs"] if x["mode"] == "transit"]
    assert legs and all(x["wheelchair_accessible"] is None for x in legs)
    assert all(it["wheelchair_unknown_legs"] == sum(x["mode"] == "transit" for x in it["legs"])
               for it in res["itineraries"])
    strict = _plan(nky_planner, nky_state, PlanRequest(o, d, t, wheelchair=True,
                                                       wheelchair_strict=True))
    assert not any(x["mode"] == "transit" for it in strict["itineraries"] for x in it["legs"])
