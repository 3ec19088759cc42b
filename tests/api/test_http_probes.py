"""Buses as traffic probes, end to end over HTTP on northern Kentucky (real OSM roads, the
real TANK timetable): vehicle positions generated along real trips are pushed to
``POST /v1/realtime/nky_tank`` with a transit_agency key, at their own time (a replay
clock), and what they measure shows in the congestion map and in car routes — or, for a
dwelling bus and hostile positions, nothing does."""

from __future__ import annotations

import datetime as dt
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient

from api.app import create_app
from api.service import Service, load_service
from incidents.keys import create_key
from incidents.probes import BusProbes
from incidents.speedlog import SpeedLog
from routing.clock import ReplayClock
from routing.live import SOURCE_BUS_PROBE
from tests.incidents.probe_gen import (
    Report,
    TripPath,
    epoch_s,
    report_on,
    running_trips,
    vehicle_message,
)

FEED = "nky_tank"
DATE = dt.date(2019, 11, 13)  # a Wednesday: the Weekday service runs
T8 = 8 * 3600  # 08:00 local
PROTO = {"Content-Type": "application/x-protobuf"}


class Env:
    """A service at the sample's time with its own store, a client and an agency key."""

    def __init__(self, snapshot_dir: Path, db: Path) -> None:
        from routing.plan import TransitData

        tt = TransitData.load(snapshot_dir).tt
        self.t0 = epoch_s(tt, DATE, T8)
        self.clock = ReplayClock(datetime.fromtimestamp(self.t0, UTC), frozen=True)
        self.db_url = f"sqlite:///{db}"
        self.svc: Service = load_service(snapshot_dir, db_url=self.db_url, clock=self.clock)
        assert self.svc.planner is not None and self.svc.engine is not None
        self.tt = self.svc.planner.tt
        key = create_key(self.svc.store, "transit_agency", FEED)
        self.auth = {"Authorization": f"Bearer {key}"}
        self.client = TestClient(create_app(service=self.svc), raise_server_exceptions=False)

    @property
    def probes(self) -> BusProbes:
        assert self.svc.probes is not None
        return self.svc.probes

    def push(self, reports: list[Report], ts: int) -> dict:
        """Push one message stamped ``ts`` (the clock moves to ``ts`` + 2 s)."""
        self.clock.set(datetime.fromtimestamp(ts + 2, UTC))
        r = self.client.post(f"/v1/realtime/{FEED}", content=vehicle_message(ts, reports),
                             headers=self.auth | PROTO)
        assert r.status_code == 200, r.text
        return r.json()

    def path(self, route: str = "1", k: int = 0) -> TripPath:
        trips = running_trips(self.tt, f"{FEED}:{route}", DATE, T8)
        return TripPath.of(self.tt, trips[k], DATE)

    def close(self) -> None:
        self.client.close()
        self.svc.close()


@pytest.fixture
def env(nky_snapshot_dir: Path, tmp_path: Path):
    e = Env(nky_snapshot_dir, tmp_path / "probes.db")
    yield e
    e.close()


def _gap(path: TripPath, need_m: float) -> tuple[float, float]:
    """Along-shape distances of two consecutive stops at least ``need_m`` + 100 m apart
    whose stretch lies on car roads (the first such, in trip order)."""
    for _, a, b in path.stop_gaps(need_m + 100):
        if a > 500:  # away from the terminus
            return a, b
    raise AssertionError("no long enough stretch between stops")


def _edge_midpoints(svc: Service, edges: np.ndarray) -> np.ndarray:
    """Plane (x, y) of each car edge's segment midpoint (the matcher's projection)."""
    m = svc.engine.matcher
    car = svc.snapshot.modes["car"]
    segs = np.asarray(car.edge_seg)[edges]
    pts = shapely.line_interpolate_point(m.geoms[segs], 0.5, normalized=True)
    return shapely.get_coordinates(pts)


def _alive_probe_edges(svc: Service) -> np.ndarray:
    st = svc.state()
    sp = st.live.speeds
    assert sp is not None
    return np.flatnonzero(sp.alive(st.at_ms) & (sp.source_codes() == SOURCE_BUS_PROBE))


def _observed_kmh(svc: Service, edges: np.ndarray) -> np.ndarray:
    sp = svc.state().live.speeds
    assert sp is not None
    return svc.engine.speeds.edge_len[edges] / (sp.obs_ms[edges] / 1000.0) * 3.6


def test_a_bus_moving_normally_measures_its_speed_on_the_edges_it_drove(env: Env) -> None:
    """A bus at 25 km/h between two stops, reporting every 30 s: each interval gives
    observations at 25 km/h (±2 %) on car edges along the stretch it drove, in its
    direction, with confidence 0.5 and source bus_probe."""
    path = env.path("1")
    kmh = 25.0
    step = kmh / 3.6 * 30
    a, _ = _gap(path, 4 * step)
    reports = [report_on(path, "bus-a", a + 40 + step * i, env.t0 + 30 * i, "IN_TRANSIT_TO",
                         kmh / 3.6, stop_seq=True) for i in range(4)]
    outs = [env.push([r], r.ts) for r in reports]
    assert all(o["kind"] == "vehicle_positions" for o in outs)
    rep = env.probes.last_report
    assert rep is not None and rep.intervals == 1 and rep.observations >= 1
    assert env.probes.totals["observations"] >= 3
    edges = _alive_probe_edges(env.svc)
    assert edges.shape[0] >= 3
    assert np.allclose(_observed_kmh(env.svc, edges), kmh, rtol=0.02)
    sp = env.svc.state().live.speeds
    assert sp is not None and np.all(sp.confidence[edges] == 0.5)
    # on what it drove: every edge's midpoint near the stretch of shape between the first
    # and last report, and the edges together cover most of that stretch
    m = env.svc.engine.matcher
    lo, hi = a + 40, a + 40 + 3 * step
    piece = np.column_stack([np.interp(np.linspace(lo, hi, 200), path.cum, path.lon),
                             np.interp(np.linspace(lo, hi, 200), path.cum, path.lat)])
    line = shapely.LineString(np.column_stack(m.projection.to_xy(piece[:, 0], piece[:, 1])))
    mids = _edge_midpoints(env.svc, edges)
    assert max(line.distance(shapely.Point(xy)) for xy in mids) < 20
    assert env.svc.engine.speeds.edge_len[edges].sum() >= 0.6 * (hi - lo)
    # in its direction: each edge heads the way the bus went (along the shape)
    car = env.svc.snapshot.modes["car"]
    for e in edges.tolist():
        g = m.geoms[int(car.edge_seg[e])]
        xy = shapely.get_coordinates(g)
        if car.edge_rev[e]:
            xy = xy[::-1]
        d0, d1 = line.project(shapely.Point(xy[0])), line.project(shapely.Point(xy[-1]))
        assert d1 >= d0 - 1.0, e
    # one batch per message, logged under the probe's actor
    log = SpeedLog(env.svc.store.db)
    batches = log.since(0, env.svc.snapshot.snapshot_id)
    assert len(batches) == 3 and {b.actor for b in batches} == {f"bus_probe:{FEED}"}


def test_b_a_bus_stuck_in_a_jam_slows_the_map_and_car_routes(env: Env) -> None:
    """A bus creeping 12 m every 30 s for five minutes, away from stops: the street it is on
    turns heavy or standstill on /v1/congestion with source bus_probe, the summary counts
    bus-probe edges, and a car route along it takes longer, the extra time shown as
    bus_probe in eta_sources.live_sources."""
    c = env.client
    path = env.path("1")
    a, _ = _gap(path, 300)
    start = a + 60
    lat0, lon0 = path.point(start + 20)
    lat1, lon1 = path.point(start + 110)
    q = {"from": f"{lat0},{lon0}", "to": f"{lat1},{lon1}"}
    before = c.get("/v1/route", params=q).json()["routes"][0]
    assert before["eta_sources"]["live_sources"]["bus_probe"] == 0.0
    for i in range(11):
        ts = env.t0 + 30 * i
        out = env.push([report_on(path, "bus-jam", start + 12 * i, ts, "IN_TRANSIT_TO", 0.4)],
                       ts)
    assert out["live_version"] == env.svc.state().version  # the answer includes the probes
    assert env.probes.totals["observations"] >= 3  # one interval per 36 m crept
    edges = _alive_probe_edges(env.svc)
    assert edges.shape[0] >= 1
    assert np.allclose(_observed_kmh(env.svc, edges), 2.0, rtol=0.01)  # 1.44 km/h → floor
    w, s = min(lon0, lon1) - 0.002, min(lat0, lat1) - 0.002
    e_, n = max(lon0, lon1) + 0.002, max(lat0, lat1) + 0.002
    fc = c.get("/v1/congestion", params={"bbox": f"{w},{s},{e_},{n}"}).json()
    probed = [f["properties"] for f in fc["features"]
              if f["properties"]["source"] == "bus_probe"]
    assert {p["edge"] for p in probed} == set(edges.tolist())
    assert all(p["level"] in ("heavy", "standstill") for p in probed), probed
    others = [f["properties"] for f in fc["features"] if f["properties"]["source"] is None]
    assert others and all(p["source"] is None for p in others)
    summ = c.get("/v1/congestion/summary", params={"bbox": f"{w},{s},{e_},{n}"}).json()
    assert summ["live_speed_edges_by_source"] == {"traffic_centre": 0,
                                                  "bus_probe": edges.shape[0]}
    assert summ["total_delay_s"] > 0
    assert any(r["source"] == "bus_probe" for r in summ["worst_segments"])
    after = c.get("/v1/route", params=q).json()["routes"][0]
    assert after["duration_s"] > before["duration_s"] + 10
    src = after["eta_sources"]
    assert src["live_s"] > 0
    assert src["live_sources"]["bus_probe"] == pytest.approx(src["live_s"], abs=0.11)
    assert src["live_sources"]["traffic_centre"] == 0.0
    assert src["live_sources"]["incidents"] == 0.0
    assert after["explanation"]["incidents"] == []
    # a timed route leaving now + 10 min still meets the (ageing) probe speeds
    later = datetime.fromtimestamp(env.t0 + 300 + 600, UTC).isoformat()
    timed = c.get("/v1/route", params=q | {"depart_at": later}).json()["routes"][0]
    assert timed["eta_sources"]["arrival"] is not None
    assert timed["eta_sources"]["live_sources"]["bus_probe"] > 0


def test_c_a_bus_dwelling_at_a_stop_slows_nothing(env: Env) -> None:
    """STOPPED_AT for a minute; then standing at a stop with speed 0, and with no speed at
    all: no observation, nothing in the speed log, no bus-probe edge on the map."""
    path = env.path("1")
    k = 10
    stop = float(path.stop_along[k])
    t = env.t0
    for i in range(3):  # STOPPED_AT, three reports over a minute
        env.push([report_on(path, "bus-d1", stop, t + 30 * i, "STOPPED_AT", 0.0,
                            stop_seq=True)], t + 30 * i)
    t += 120
    for i in range(3):  # at the stop, speed 0, no status (GPS jitter of a few metres)
        env.push([report_on(path, "bus-d2", stop + (-3, 2, 0)[i], t + 30 * i, None, 0.0)],
                 t + 30 * i)
    t += 120
    for i in range(3):  # at the stop, no speed, no status
        env.push([report_on(path, "bus-d3", stop + 5 * (i % 2), t + 30 * i)], t + 30 * i)
    rep = env.probes.totals
    assert rep["observations"] == 0
    assert rep["skipped.dwell_stopped_at"] == 2 and rep["skipped.dwell_at_stop"] == 4
    assert SpeedLog(env.svc.store.db).last_seq() == 0
    assert _alive_probe_edges(env.svc).shape[0] == 0
    sp = env.svc.state().live.speeds
    assert sp is not None and not sp.observed.any()  # no live speed on any edge
    summ = env.client.get("/v1/congestion/summary").json()
    assert summ["live_speed_edges"] == 0
    assert summ["live_speed_edges_by_source"] == {"traffic_centre": 0, "bus_probe": 0}


def test_c_a_dwell_between_reports_is_taken_off(env: Env) -> None:
    """A bus at 25 km/h that stops 20 s at a stop between two reports 60 s apart: the
    stop's dwell allowance (20 s) is taken off, so it measures 25 km/h, not the 16.7 km/h
    of distance over time."""
    path = env.path("1")
    v = 25 / 3.6
    # a stop with room on both sides and no other stop within 300 m
    d = path.stop_along
    k = next(i for i in range(2, d.shape[0] - 2)
             if d[i] - d[i - 1] > 300 and d[i + 1] - d[i] > 300 and d[i] > 500)
    s = float(d[k])
    t = env.t0
    q = s - 150  # reaches the stop after 21.6 s, dwells 20 s, drives 18.4 s more
    p = s + v * (60 - 150 / v - 20)
    env.push([report_on(path, "bus-s", q, t, "IN_TRANSIT_TO", v)], t)
    env.push([report_on(path, "bus-s", p, t + 60, "IN_TRANSIT_TO", v)], t + 60)
    rep = env.probes.last_report
    assert rep is not None and rep.intervals == 1, rep
    edges = _alive_probe_edges(env.svc)
    assert edges.shape[0] >= 1
    assert np.allclose(_observed_kmh(env.svc, edges), 25.0, rtol=0.02)


def test_d_other_processes_see_the_probe_speeds(env: Env, nky_snapshot_dir: Path) -> None:
    """A second service on the same store (another worker or replica) follows the speed
    log: the same bus-probe edges and speeds, bus_probe as their source, and its typical
    speeds learn nothing from them."""
    path = env.path("1")
    a, _ = _gap(path, 300)
    for i in range(6):
        ts = env.t0 + 30 * i
        env.push([report_on(path, "bus-x", a + 60 + 10 * i, ts, "IN_TRANSIT_TO", 0.3)], ts)
    mine = _alive_probe_edges(env.svc)
    assert mine.shape[0] >= 1
    other = load_service(nky_snapshot_dir, db_url=env.db_url, clock=env.clock)
    try:
        assert other.engine is not None
        typical = other.typical
        other.engine.sync()
        theirs = _alive_probe_edges(other)
        assert theirs.tolist() == mine.tolist()
        assert np.allclose(_observed_kmh(other, theirs), _observed_kmh(env.svc, mine))
        summ = other.congestion_map().summary(other.state(), None)
        assert summ["live_speed_edges_by_source"]["bus_probe"] == mine.shape[0]
        assert other.engine.learn_pending() == 0 and other.typical is typical
        # the other process measured nothing itself: its probes never saw a report
        assert other.probes is not None and other.probes.totals["messages"] == 0
    finally:
        other.close()


def test_e_hostile_positions_produce_nothing_and_never_raise(env: Env) -> None:
    """Teleports along and off the route, 0/0, a position in the Ohio River, unknown and
    missing trips, a bus running backwards, timestamps from the future, repeated and out of
    order, the same vehicle hopping between trips, duplicates in one message: every push is
    accepted, no observation comes out, the speed log stays empty."""
    path = env.path("1")
    other = env.path("1", 1)
    a, _ = _gap(path, 300)
    t = env.t0
    lat, lon = path.point(a + 60)
    seq: list[list[Report]] = []
    for i in range(4):
        ts = t + 30 * i
        d = path.date.strftime("%Y%m%d")
        seq.append([
            # teleports along its own route: 5 km in 30 s, back and forth
            report_on(path, "tele", a + 60 + (5000 if i % 2 else 0), ts, "IN_TRANSIT_TO"),
            # jumps 3 km east off the route
            Report("jump", path.gtfs_trip_id, d, lat, lon + (0.04 if i % 2 else 0), ts),
            # 0/0 and the Ohio River (300 m from any car road)
            Report("null", path.gtfs_trip_id, d, 0.0, 0.0, ts),
            Report("river", path.gtfs_trip_id, d, 39.1000, -84.5400 + 0.0003 * i, ts),
            # trips the timetable does not know, or none at all
            Report("ghost", "no-such-trip", d, lat, lon + 0.0001 * i, ts),
            Report("notrip", None, None, lat, lon + 0.0001 * i, ts),
            # backwards along the route
            report_on(path, "back", a + 400 - 100 * i, ts, "IN_TRANSIT_TO", 3.0),
            # a report stamped an hour ahead (the header is fine)
            report_on(path, "future", a + 60 + 200 * i, ts + 3600),
            # the same vehicle hopping between two trips at every report
            report_on(path if i % 2 else other, "hop", a + 60 + 200 * i, ts),
            # stuck timestamp: the same report over and over
            report_on(path, "stuck", a + 60 + 200 * i, t),
            # duplicates in one message: the parser keeps the newest
            report_on(path, "dup", a + 60 + 3000 * i, ts - 1),
            report_on(path, "dup", a + 60 + 3000 * i + 5, ts),
        ])
    for i, reps in enumerate(seq):
        out = env.push(reps, t + 30 * i)
        assert out["applied"]["vehicles"] >= 9
    tot = env.probes.totals
    assert tot["messages"] == 4 and tot["observations"] == 0, tot
    assert SpeedLog(env.svc.store.db).last_seq() == 0
    assert tot["skipped.unmatched_trip"] >= 8
    assert tot["skipped.implausible_speed"] >= 1 and tot["skipped.moved_backwards"] >= 1
    assert tot["skipped.stale_or_future"] == 4 and tot["skipped.new_trip"] >= 3
    assert tot["skipped.off_network"] >= 4 + 2  # the river, and the jumps off the route
    assert tot.get("skipped.error", 0) == 0
    assert env.client.get("/v1/congestion/summary").json()["live_speed_edges"] == 0
