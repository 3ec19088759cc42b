"""Transit-only snapshots (GTFS without OSM) of the real BART and Caltrain feeds: the format,
the zero-mode road side (router, publisher, matcher), straight-line walking (access, egress,
transfers, walk-only) and the planner against the brute-force oracle."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from gtfs.geo import haversine_m
from routing.plan import AccessModeError, Planner, PlanRequest, TransitData
from routing.road import NO_STREET_NETWORK, NoStreetNetworkError, RoadRouter
from routing.snapshot import load_snapshot
from routing.state import StatePublisher
from routing.straight_walk import WALK_DETOUR_FACTOR, straight_line_transfers
from routing.transit_build import TRANSFER_MAX_M, WALK_DEFAULT_MPS
from tests.gtfs.oracle import INF, Oracle

LA = ZoneInfo("America/Los_Angeles")
BART_DAY = dt.date(2019, 8, 7)  # a Wednesday of BART's 2019-02-11 → 2020-02-10 calendar
CALTRAIN_DAY = dt.date(2023, 11, 8)  # a Wednesday of Caltrain's 2023-09-23 → 2024-06-01


class Env:
    """A transit-only snapshot loaded as the service loads it."""

    def __init__(self, snapshot_dir: Path) -> None:
        self.dir = snapshot_dir
        self.snapshot = load_snapshot(snapshot_dir)
        self.road = RoadRouter(self.snapshot)
        transit = TransitData.load(snapshot_dir)
        assert transit is not None
        self.planner = Planner(self.snapshot, self.road, transit)
        self.publisher = StatePublisher(self.road, None, self.snapshot.timezone,
                                        transit.tt.n_stops)

    def stop(self, stop_id: str) -> int:
        return self.planner.resolve_stop(stop_id)

    def point(self, i: int) -> tuple[float, float]:
        a = self.planner.tt.arrays
        return float(a["stop_lat"][i]), float(a["stop_lon"][i])


@pytest.fixture(scope="module")
def bart(bart_transit_snapshot_dir: Path) -> Env:
    return Env(bart_transit_snapshot_dir)


@pytest.fixture(scope="module")
def caltrain(caltrain_transit_snapshot_dir: Path) -> Env:
    return Env(caltrain_transit_snapshot_dir)


def _walk_s(a: tuple[float, float], b: tuple[float, float], speed: float) -> int:
    """The documented model: ceil(straight line × 1.3 / speed)."""
    return math.ceil(float(haversine_m(a[0], a[1], b[0], b[1])) * WALK_DETOUR_FACTOR / speed)


# ------------------------------------------------------------------------------ format


def test_meta_says_transit_only_and_no_road_directories(bart: Env) -> None:
    meta = json.loads((bart.dir / "meta.json").read_text())
    assert meta["road"] is False
    assert meta["walking"] == {"model": "straight_line", "detour_factor": WALK_DETOUR_FACTOR,
                               "default_speed_mps": round(WALK_DEFAULT_MPS, 4),
                               "transfer_max_m": TRANSFER_MAX_M}
    assert [s["kind"] for s in meta["sources"]] == ["gtfs"]
    for d in ("road", "car", "bike", "walk"):
        assert not (bart.dir / d).exists()
    assert (bart.dir / "transit" / "timetable").is_dir()
    # timezone from the GTFS agency, bbox around the stops
    assert (meta["timezone"], meta["timezone_source"]) == ("America/Los_Angeles", "gtfs")
    tt = bart.planner.tt
    w, s, e, n = meta["bbox"]
    assert w == pytest.approx(float(np.min(tt.arrays["stop_lon"])))
    assert n == pytest.approx(float(np.max(tt.arrays["stop_lat"])))
    assert meta["transit"]["walking"] == "straight_line"
    assert meta["transit"]["counts"]["stops"] == tt.n_stops == 48


def test_snapshot_loads_without_a_street_network(bart: Env) -> None:
    snap = bart.snapshot
    assert not snap.has_road
    assert snap.modes == {} and snap.segments.u.shape == (0,)
    assert snap.node_lon.shape == (0,)
    assert snap.timezone == "America/Los_Angeles"
    assert bart.road.modes == {}
    with pytest.raises(NoStreetNetworkError, match="built from GTFS only"):
        bart.road.route(bart.publisher.current(), "car", 37.8, -122.27, 37.85, -122.27)
    assert str(NoStreetNetworkError(NO_STREET_NETWORK)) == (
        "this snapshot has no street network; it was built from GTFS only")


def test_road_snapshot_meta_says_road(nky_snapshot_dir: Path) -> None:
    assert load_snapshot(nky_snapshot_dir).has_road
    assert json.loads((nky_snapshot_dir / "meta.json").read_text())["road"] is True


def test_state_publisher_with_no_road_mode(bart: Env) -> None:
    from routing.live import LiveState

    pub = bart.publisher
    st = pub.current()
    assert st.modes == () and dict(st.free_flow) == {}
    assert st.stop_closed is not None and not st.stop_closed.any()
    t = dt.datetime(2019, 8, 7, 8, tzinfo=LA)
    new = pub.publish(LiveState(), t)
    assert new.modes == () and new.timezone == "America/Los_Angeles"
    assert pub.refresh(t + dt.timedelta(hours=1)) is None or pub.current().modes == ()
    later = pub.at(new, t + dt.timedelta(hours=3))
    assert later.timed and later.modes == ()
    assert pub.custom({}).modes == ()
    assert new.transit_live().stop_closed is not None
    # states with the same realtime data and closed stops share one transit live value
    # (the timetable queries prepare each value once), others get their own
    assert later.transit_live() is new.transit_live()
    assert pub.at(new, t + dt.timedelta(hours=5)).transit_live() is new.transit_live()
    closed = np.zeros_like(new.stop_closed)
    closed[0] = True
    other = dataclasses.replace(new, stop_closed=closed)
    assert other.transit_live().version != new.transit_live().version
    assert other.transit_live().stop_closed[0]


def test_build_without_osm_needs_gtfs_and_refuses_traffic(tmp_path: Path) -> None:
    from routing.build import BuildInputError, build_snapshot
    from tests.conftest import shared_gtfs_rt_feed

    with pytest.raises(BuildInputError, match="nothing to build"):
        build_snapshot(None, tmp_path / "x")
    with pytest.raises(BuildInputError, match="need a street network"):
        build_snapshot(None, tmp_path / "x", [shared_gtfs_rt_feed("bart")],
                       traffic_path=tmp_path / "obs.csv")
    assert not (tmp_path / "x").exists()


# -------------------------------------------------------------------- straight-line walking


@pytest.mark.parametrize("feed", ["bart", "caltrain"])
def test_transfers_are_every_pair_within_800_m_walking(feed: str, request) -> None:
    env: Env = request.getfixturevalue(feed)
    t = env.planner.transit
    tt = env.planner.tt
    lat = np.asarray(tt.arrays["stop_lat"], np.float64)
    lon = np.asarray(tt.arrays["stop_lon"], np.float64)
    walk = haversine_m(lat[:, None], lon[:, None], lat[None, :], lon[None, :]) * 1.3
    np.fill_diagonal(walk, np.inf)
    want = {(int(a), int(b)) for a, b in zip(*np.nonzero(walk <= TRANSFER_MAX_M), strict=True)}
    off, to = np.asarray(t.fp_offsets), np.asarray(t.fp_to)
    got = {(a, int(to[j])) for a in range(tt.n_stops) for j in range(off[a], off[a + 1])}
    assert got == want and got
    for a in range(tt.n_stops):
        for j in range(off[a], off[a + 1]):
            b = int(to[j])
            assert float(t.fp_dist_m[j]) == pytest.approx(walk[a, b], rel=1e-5)
            assert abs(int(t.fp_time_ms[j]) - walk[a, b] / WALK_DEFAULT_MPS * 1000) <= 0.5
    # at the requested speed (and within max_walk_m) in whole seconds, rounded up
    req = PlanRequest(0, 1, dt.datetime(2019, 8, 7, 8, tzinfo=LA), walk_speed_mps=1.1,
                      max_walk_m=500)
    fo, ft, fd = env.planner.footpaths(req)
    for a in range(tt.n_stops):
        for j in range(fo[a], fo[a + 1]):
            b = int(ft[j])
            assert walk[a, b] <= 500
            assert abs(int(fd[j]) - walk[a, b] / 1.1) <= 1.0


def test_straight_line_transfers_function() -> None:
    lat = np.array([0.0, 0.0, 0.0])
    lon = np.array([0.0, 0.005, 0.02])  # 556 m and 2.2 km apart
    off, to, t_ms, d_m = straight_line_transfers(lat, lon, 800.0, 1.3, 1.0)
    assert off.tolist() == [0, 1, 2, 2] and to.tolist() == [1, 0]
    assert d_m[0] == pytest.approx(556.0 * 1.3, rel=1e-3)
    assert t_ms[0] == pytest.approx(d_m[0] * 1000, abs=1)
    off, to, *_ = straight_line_transfers(lat[:0], lon[:0], 800.0)
    assert off.tolist() == [0] and to.shape == (0,)


@pytest.mark.parametrize("feed", ["bart", "caltrain"])
def test_access_and_egress_are_straight_lines_times_the_detour(feed: str, request) -> None:
    env: Env = request.getfixturevalue(feed)
    rng = np.random.default_rng(5)
    tt = env.planner.tt
    lat = np.asarray(tt.arrays["stop_lat"], np.float64)
    lon = np.asarray(tt.arrays["stop_lon"], np.float64)
    state = env.publisher.current()
    for _ in range(30):
        i = int(rng.integers(tt.n_stops))
        p = (lat[i] + rng.normal(0, 4e-3), lon[i] + rng.normal(0, 4e-3))
        speed = float(rng.choice([1.0, WALK_DEFAULT_MPS, 1.8]))
        req = PlanRequest(p, 0, dt.datetime(2019, 8, 7, 8, tzinfo=LA), walk_speed_mps=speed,
                          max_walk_m=900)
        for towards in (False, True):
            stops, secs = env.planner.walk_times(state, *p, towards=towards, req=req)
            walk = haversine_m(p[0], p[1], lat, lon) * 1.3
            assert sorted(stops.tolist()) == np.flatnonzero(walk <= 900).tolist()
            for s, sec in zip(stops.tolist(), secs.tolist(), strict=True):
                assert sec == _walk_s(p, (lat[s], lon[s]), speed)


# ------------------------------------------------------------------------------ planning


def test_bart_stop_to_stop(bart: Env) -> None:
    state = bart.publisher.current()
    t = dt.datetime(2019, 8, 7, 8, 0, tzinfo=LA)
    res = bart.planner.plan(state, PlanRequest(bart.stop("EMBR"), bart.stop("DBRK"), t))
    assert res.service_date == BART_DAY
    it = res.itineraries[0]
    assert [leg.mode for leg in it.legs] == ["transit"]
    leg = it.legs[0]
    assert leg.origin.stop_id == "bart:EMBR" and leg.destination.stop_id == "bart:DBRK"
    assert leg.agency is not None and leg.agency.timezone == "America/Los_Angeles"
    assert t <= it.departure and it.duration_s < 40 * 60


def test_bart_coordinates_to_coordinates_walk_in_straight_lines(bart: Env) -> None:
    state = bart.publisher.current()
    origin = (37.7850, -122.4070)  # by Powell St.
    dest = (37.8700, -122.2680)  # by Downtown Berkeley
    t = dt.datetime(2019, 8, 7, 8, 0, tzinfo=LA)
    res = bart.planner.plan(state, PlanRequest(origin, dest, t))
    assert res.access_stops >= 1 and res.egress_stops >= 1
    it = res.itineraries[0]
    walks = [leg for leg in it.legs if leg.mode == "walk"]
    assert it.legs[0].mode == "walk" and it.legs[-1].mode == "walk"
    for leg in walks:
        a, b = (leg.origin.lat, leg.origin.lon), (leg.destination.lat, leg.destination.lon)
        straight = float(haversine_m(a[0], a[1], b[0], b[1]))
        assert leg.straight_line and leg.steps == []
        assert leg.geometry.tolist() == [[a[1], a[0]], [b[1], b[0]]]
        assert leg.distance_m == pytest.approx(straight * 1.3, abs=0.1)
        assert leg.duration_s == _walk_s(a, b, WALK_DEFAULT_MPS)
    assert it.walk_m == pytest.approx(sum(leg.distance_m or 0 for leg in walks), abs=0.2)


def test_bart_transfer_follows_transfers_txt(bart: Env) -> None:
    """transfers.txt: COLS → COLS type 2 with 240 s (the Oakland Airport connector)."""
    state = bart.publisher.current()
    t = dt.datetime(2019, 8, 7, 8, 0, tzinfo=LA)
    it = bart.planner.plan(state, PlanRequest(bart.stop("EMBR"), bart.stop("OAKL"),
                                              t)).itineraries[0]
    legs = [leg for leg in it.legs if leg.mode == "transit"]
    assert [leg.destination.stop_id for leg in legs] == ["bart:COLS", "bart:OAKL"]
    assert (legs[1].departure - legs[0].arrival).total_seconds() >= 240


def test_caltrain_stop_to_stop_and_from_coordinates(caltrain: Env) -> None:
    state = caltrain.publisher.current()
    t = dt.datetime(2023, 11, 8, 7, 30, tzinfo=LA)
    # San Francisco southbound platform (70012) to Palo Alto southbound (70172)
    res = caltrain.planner.plan(state, PlanRequest(caltrain.stop("70012"),
                                                   caltrain.stop("70172"), t))
    assert res.service_date == CALTRAIN_DAY
    it = res.itineraries[0]
    assert [leg.mode for leg in it.legs] == ["transit"]
    assert it.legs[0].destination.stop_id == "caltrain:70172"
    assert it.duration_s < 2 * 3600
    # from the northbound platform's coordinates: the southbound one is within walking
    a = caltrain.point(caltrain.stop("70011"))
    b = caltrain.point(caltrain.stop("70172"))
    it = caltrain.planner.plan(state, PlanRequest(a, b, t)).itineraries[0]
    first = it.legs[0]
    assert first.mode == "walk" and first.straight_line and first.steps == []
    assert first.destination.stop_id == "caltrain:70012"
    assert first.duration_s == _walk_s(a, caltrain.point(caltrain.stop("70012")),
                                       WALK_DEFAULT_MPS)


def test_walk_only_is_a_straight_line(caltrain: Env) -> None:
    state = caltrain.publisher.current()
    a = caltrain.point(caltrain.stop("70011"))
    b = (a[0] + 0.004, a[1])  # ~445 m north
    t = dt.datetime(2023, 11, 8, 12, 0, tzinfo=LA)
    res = caltrain.planner.plan(state, PlanRequest(a, b, t))
    it = res.itineraries[0]
    assert [leg.mode for leg in it.legs] == ["walk"]
    leg = it.legs[0]
    assert leg.straight_line and leg.steps == [] and leg.geometry.shape == (2, 2)
    assert leg.duration_s == _walk_s(a, b, WALK_DEFAULT_MPS)
    arrive = caltrain.planner.plan(state, PlanRequest(a, b, t, arrive_by=True)).itineraries[0]
    assert arrive.arrival == t and arrive.duration_s == leg.duration_s


@pytest.mark.parametrize("mode", ["bike", "car"])
def test_bike_or_car_access_needs_streets(bart: Env, mode: str) -> None:
    req = PlanRequest((37.785, -122.407), bart.stop("DBRK"),
                      dt.datetime(2019, 8, 7, 8, tzinfo=LA), access_mode=mode)
    with pytest.raises(AccessModeError, match="needs a street network"):
        bart.planner.plan(bart.publisher.current(), req)


def test_stop_closure_from_the_live_state_is_avoided(bart: Env) -> None:
    from routing.live import LiveState, StopClosures

    t = dt.datetime(2019, 8, 7, 8, 0, tzinfo=LA)
    o, d = bart.stop("EMBR"), bart.stop("DBRK")
    state = bart.publisher.current()
    before = bart.planner.plan(state, PlanRequest(o, d, t)).itineraries
    assert before
    closed = bart.stop("DBRK")
    closures = StopClosures(np.array([closed], np.int32), np.array([0], np.int32),
                            np.array([0], np.int64), np.array([2**62], np.int64))
    pub = StatePublisher(bart.road, None, bart.snapshot.timezone, bart.planner.tt.n_stops)
    live = pub.publish(LiveState(stop_closures=closures), t)
    assert live.stop_closed is not None and live.stop_closed[closed]
    after = bart.planner.plan(live, PlanRequest(o, d, t)).itineraries
    assert after == [] or all(leg.destination.stop_id != "bart:DBRK"
                              for it in after for leg in it.legs if leg.mode == "transit")


# ------------------------------------------------------------------------------- oracle


def _oracle_queries(env: Env, day: dt.date, n: int, seed: int) -> int:
    """``n`` random queries (stop or coordinate ends, random times, speeds, walking limits
    and transfer counts): the planner's earliest transit arrival equals the brute-force
    connection scan's, given the same straight-line access, egress and footpaths; without a
    transit itinerary, walking all the way (a straight line × 1.3) arrives no later.
    Returns the number of queries with a transit answer."""
    rng = np.random.default_rng(seed)
    planner = env.planner
    tt = planner.tt
    state = env.publisher.current()
    lat = np.asarray(tt.arrays["stop_lat"], np.float64)
    lon = np.asarray(tt.arrays["stop_lon"], np.float64)
    oracles: dict[tuple[float, float], Oracle] = {}
    with_transit = 0
    for _ in range(n):
        ends: list[tuple[float, float] | int] = []
        for _end in range(2):
            i = int(rng.integers(tt.n_stops))
            if rng.random() < 0.3:
                ends.append(i)
            else:
                ends.append((float(lat[i] + rng.normal(0, 3e-3)),
                             float(lon[i] + rng.normal(0, 3e-3))))
        secs = int(rng.integers(5 * 3600, 23 * 3600))
        t = dt.datetime.combine(day, dt.time(), LA) + dt.timedelta(seconds=secs)
        req = PlanRequest(ends[0], ends[1], t, max_walk_m=float(rng.choice([600, 1000, 1500])),
                          walk_speed_mps=float(rng.choice([1.2, WALK_DEFAULT_MPS])),
                          max_transfers=int(rng.choice([1, 2, 4])), num_itineraries=5)
        res = planner.plan(state, req)
        date, t_s = planner.clock(req.time)
        assert date == day

        def ends_times(p: tuple[float, float] | int, towards: bool,
                       r: PlanRequest = req) -> tuple[np.ndarray, np.ndarray]:
            if isinstance(p, int):
                return np.array([p], np.int64), np.zeros(1, np.int64)
            return planner.walk_times(state, *p, towards=towards, req=r)

        access, egress = ends_times(ends[0], False), ends_times(ends[1], True)
        key = (req.walk_speed_mps, req.max_walk_m)
        if key not in oracles:
            oracles[key] = Oracle(tt, planner.day(day), planner.footpaths(req),
                                  min_transfer_s=req.min_transfer_s)
        best = int(oracles[key].best_by_rounds(access, egress, t_s,
                                               req.max_transfers + 1)[-1])
        transit = [it for it in res.itineraries if any(x.mode == "transit" for x in it.legs)]
        walk_only = [it for it in res.itineraries if all(x.mode == "walk" for x in it.legs)]
        if best >= INF:
            assert not transit, (ends, t)
            continue
        with_transit += 1
        if transit:
            assert min(it.arrival for it in transit) == planner.at(day, best), (ends, t)
        else:  # only when walking all the way arrives no later than the best transit
            assert walk_only and walk_only[0].arrival <= planner.at(day, best), (ends, t)
            a, b = (planner._point(e) for e in ends)
            assert walk_only[0].duration_s == _walk_s(a, b, req.walk_speed_mps)
    return with_transit


@pytest.mark.parametrize(("feed", "day"), [("bart", BART_DAY), ("caltrain", CALTRAIN_DAY)])
def test_planner_equals_oracle_with_straight_line_walking(feed: str, day: dt.date,
                                                          request) -> None:
    env: Env = request.getfixturevalue(feed)
    assert _oracle_queries(env, day, 80, seed={"bart": 1, "caltrain": 2}[feed]) >= 30


# --------------------------------------------------------------------------------- CLI


def test_cli_build_without_osm_prints_a_transit_only_summary(tmp_path: Path) -> None:
    from tests.conftest import shared_gtfs_rt_feed
    from tests.routing.test_build_meta import run_cli

    out = tmp_path / "caltrain"
    p = run_cli("build", "--gtfs", str(shared_gtfs_rt_feed("caltrain")), "--out", str(out))
    assert p.returncode == 0, p.stderr
    text = p.stdout
    assert "street network" in text and "none (transit-only: built from GTFS without --osm)" \
        in text
    assert "straight line × 1.3 (transfers up to 800 m walking)" in text
    assert "America/Los_Angeles (GTFS agency)" in text
    assert "transit stops" in text and "GTFS feed caltrain" in text
    assert "junctions" not in text and "stops unlinked" not in text
    assert "warning:" not in text
    assert json.loads((out / "meta.json").read_text())["road"] is False


def test_cli_build_needs_osm_or_gtfs_and_traffic_needs_osm(tmp_path: Path) -> None:
    from tests.conftest import shared_gtfs_rt_feed
    from tests.routing.test_build_meta import run_cli

    p = run_cli("build", "--out", str(tmp_path / "x"))
    assert p.returncode == 2 and "give --osm" in p.stderr
    csv = tmp_path / "obs.csv"
    csv.write_text("way_id,direction,day_type,bin,speed_kmh\n")
    p = run_cli("build", "--gtfs", str(shared_gtfs_rt_feed("bart")), "--traffic", str(csv),
                "--out", str(tmp_path / "x"))
    assert p.returncode == 2 and "need a street network" in p.stderr
    assert not (tmp_path / "x").exists()


def test_cli_incident_add_matches_stops_of_a_transit_only_snapshot(
        bart_transit_snapshot_dir: Path, tmp_path: Path) -> None:
    from tests.routing.test_build_meta import run_cli

    db = f"sqlite:///{tmp_path / 'inc.db'}"
    powell = json.dumps({"type": "Point", "coordinates": [-122.407974, 37.784471]})
    p = run_cli("incident", "add", "--type", "transit_disruption", "--geometry", powell,
                "--agency", "BART", "--snapshot", str(bart_transit_snapshot_dir), "--db", db)
    assert p.returncode == 0, p.stderr
    assert "0 edges" in p.stdout and "stops bart:POWL" in p.stdout
    road = json.dumps({"type": "LineString", "coordinates": [[-122.3, 37.9], [-122.301, 37.901]]})
    p = run_cli("incident", "add", "--type", "closure", "--geometry", road, "--agency", "BART",
                "--closed-to", "car", "--snapshot", str(bart_transit_snapshot_dir), "--db", db)
    assert p.returncode == 2 and "matches no road, path or stop" in p.stderr
