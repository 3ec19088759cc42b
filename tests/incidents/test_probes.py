"""Buses as traffic probes in the live engine, on real data: route types (a variant of the
TANK feed whose route 1 is rail and route 5 a tram), the real King County Metro and Caltrain
vehicle-position samples (no static feed / no street network: nothing comes out), a
200-vehicle message, a bus held at a red light, and the ``bus_probes`` switch. Messages go
through :meth:`IncidentEngine.ingest_realtime`, the path ``POST /v1/realtime/{feed}`` and
the pollers take."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from api.service import Service, load_service
from gtfs.realtime.decode import decode_feed
from gtfs.realtime.vehicles import parse_vehicle_positions
from incidents.probes import BusProbes
from incidents.realtime_sources import RealtimeSettings
from incidents.speedlog import SpeedLog
from routing.clock import ReplayClock
from routing.live import SOURCE_BUS_PROBE
from tests.conftest import NKY_GTFS, NKY_OSM, SHARED_GTFS_RT
from tests.incidents.probe_gen import (
    Report,
    TripPath,
    epoch_s,
    report_on,
    running_trips,
    vehicle_message,
)

FEED = "nky_tank"
DATE = dt.date(2019, 11, 13)  # a Wednesday
T8 = 8 * 3600


def _service(snapshot_dir: Path, db: Path, t: int,
             realtime: RealtimeSettings | None = None) -> tuple[Service, ReplayClock]:
    clock = ReplayClock(datetime.fromtimestamp(t, UTC), frozen=True)
    return load_service(snapshot_dir, db_url=f"sqlite:///{db}", clock=clock,
                        realtime=realtime), clock


def _push(svc: Service, clock: ReplayClock, body: bytes, ts: int, feed: str = FEED) -> None:
    clock.set(datetime.fromtimestamp(ts + 2, UTC))
    assert svc.engine is not None
    svc.engine.ingest_realtime(feed, body, "protobuf", "test")


def _drive(path: TripPath, vehicle: str, along0: float, t0: int, n: int = 4,
           kmh: float = 25.0) -> list[Report]:
    step = kmh / 3.6 * 30
    return [report_on(path, vehicle, along0 + step * i, t0 + 30 * i, "IN_TRANSIT_TO",
                      kmh / 3.6) for i in range(n)]


def _stretch(path: TripPath, need_m: float) -> float:
    return next(a for _, a, _ in path.stop_gaps(need_m + 100) if a > 500) + 40


def _probe_edges(svc: Service) -> np.ndarray:
    st = svc.state()
    sp = st.live.speeds
    assert sp is not None
    return np.flatnonzero(sp.alive(st.at_ms) & (sp.source_codes() == SOURCE_BUS_PROBE))


@pytest.fixture(scope="module")
def variant_snapshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Northern Kentucky with the TANK feed changed in two columns: route 1 runs as rail
    (route_type 2), route 5 as a tram (0), and the trips of route 11 have no shape."""
    from routing.build import build_snapshot

    d = tmp_path_factory.mktemp("variant")
    gtfs = d / "nky_tank_gtfs.zip"  # the same feed name, nky_tank
    with zipfile.ZipFile(NKY_GTFS) as src, zipfile.ZipFile(gtfs, "w",
                                                            zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "routes.txt":
                rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
                for r in rows:
                    r["route_type"] = {"1": "2", "5": "0"}.get(r["route_id"], r["route_type"])
                out = io.StringIO()
                w = csv.DictWriter(out, fieldnames=list(rows[0]))
                w.writeheader()
                w.writerows(rows)
                data = out.getvalue().encode()
            if info.filename == "trips.txt":  # route 11 loses its shapes
                rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
                for r in rows:
                    if r["route_id"] == "11":
                        r["shape_id"] = ""
                out = io.StringIO()
                w = csv.DictWriter(out, fieldnames=list(rows[0]))
                w.writeheader()
                w.writerows(rows)
                data = out.getvalue().encode()
            dst.writestr(info.filename, data)
    snap = d / "nky_variant"
    build_snapshot(NKY_OSM, snap, [gtfs])
    return snap


def test_rail_and_trams_are_not_probes_unless_trams_are_asked_for(
        variant_snapshot_dir: Path, tmp_path: Path) -> None:
    """The same driving that makes a bus a probe gives nothing for a train (route 1 as
    rail) nor, by default, for a tram (route 5); with ``include_trams`` the tram counts."""
    t0 = epoch_s_of(variant_snapshot_dir)
    svc, clock = _service(variant_snapshot_dir, tmp_path / "v.db", t0)
    try:
        assert svc.planner is not None and svc.probes is not None
        tt = svc.planner.tt
        rail = TripPath.of(tt, running_trips(tt, f"{FEED}:1", DATE, T8)[0], DATE)
        tram = TripPath.of(tt, running_trips(tt, f"{FEED}:5", DATE, T8)[0], DATE)
        reps = list(zip(_drive(rail, "train", _stretch(rail, 300), t0),
                        _drive(tram, "tram", _stretch(tram, 300), t0), strict=True))
        for pair in reps:
            _push(svc, clock, vehicle_message(pair[0].ts, list(pair)), pair[0].ts)
        tot = svc.probes.totals
        assert tot["observations"] == 0 and tot["skipped.not_road_vehicle"] == 8
        assert SpeedLog(svc.store.db).last_seq() == 0
        # a city whose trams share the street: take them in
        assert svc.engine is not None
        trams = BusProbes(svc.engine, tt, include_trams=True)
        svc.engine.on_vehicle_positions = trams
        t1 = t0 + 600
        for r in _drive(tram, "tram2", _stretch(tram, 300), t1):
            _push(svc, clock, vehicle_message(r.ts, [r]), r.ts)
        assert trams.totals["observations"] >= 3
        assert _probe_edges(svc).shape[0] >= 3
    finally:
        svc.close()


def test_without_a_shape_the_stop_polyline_serves(variant_snapshot_dir: Path,
                                                   nky_snapshot_dir: Path,
                                                   tmp_path: Path) -> None:
    """Route 11 without shapes: a bus driving it (positions from the real shape of the same
    trip) is measured along the stop-to-stop polyline of its pattern — or the straight line
    between its positions where that polyline strays — at about its speed."""
    from routing.plan import TransitData

    t0 = epoch_s_of(variant_snapshot_dir)
    svc, clock = _service(variant_snapshot_dir, tmp_path / "ns.db", t0)
    try:
        assert svc.planner is not None and svc.probes is not None and svc.engine is not None
        tt = svc.planner.tt
        trip = running_trips(tt, f"{FEED}:11", DATE, T8)[0]
        assert int(tt.arrays["trip_shape"][trip]) == -1
        real_tt = TransitData.load(nky_snapshot_dir).tt
        real = TripPath.of(real_tt, real_tt.trip_index(tt.strings["trip_id"][trip]), DATE)
        kmh = 25.0
        for _, a, b in real.stop_gaps(400):
            reps = _drive(real, f"bus-{int(a)}", a + 40, t0, n=int((b - a - 80) // 208) + 1,
                          kmh=kmh)
            for r in reps:
                _push(svc, clock, vehicle_message(r.ts, [r]), r.ts)
            t0 = reps[-1].ts + 400
        tot = svc.probes.totals
        assert tot["observations"] >= 5, tot
        edges = _probe_edges(svc)
        sp = svc.state().live.speeds
        assert sp is not None
        got = svc.engine.speeds.edge_len[edges] / (sp.obs_ms[edges] / 1000) * 3.6
        # the polyline cuts corners: a little slower than on the shape, never faster
        assert np.median(got) == pytest.approx(kmh, rel=0.1) and got.max() <= kmh * 1.02
    finally:
        svc.close()


def epoch_s_of(snapshot_dir: Path) -> int:
    from routing.plan import TransitData

    return epoch_s(TransitData.load(snapshot_dir).tt, DATE, T8)


def test_a_bus_held_at_a_red_light_is_not_a_jam(nky_snapshot_dir: Path,
                                                tmp_path: Path) -> None:
    """A bus at 30 km/h that waits 60 s at a signal away from any stop: the reports while
    it waits do not close an interval on their own (less than 30 m in less than 2 min),
    so the wait is averaged with the driving around it: no observation below 8 km/h."""
    t0 = epoch_s_of(nky_snapshot_dir)
    svc, clock = _service(nky_snapshot_dir, tmp_path / "r.db", t0)
    try:
        assert svc.planner is not None and svc.probes is not None
        tt = svc.planner.tt
        path = TripPath.of(tt, running_trips(tt, f"{FEED}:1", DATE, T8)[0], DATE)
        a = _stretch(path, 600)
        v = 30 / 3.6
        light = a + 200
        alongs = [a, light - 5, light, light + 2, light + 2 + v * 30, light + 2 + v * 60]
        for i, d in enumerate(alongs):
            speed = 0.0 if i in (2, 3) else v
            r = report_on(path, "bus-light", d, t0 + 30 * i, "IN_TRANSIT_TO", speed)
            _push(svc, clock, vehicle_message(r.ts, [r]), r.ts)
        assert svc.probes.totals["skipped.extended"] >= 1
        edges = _probe_edges(svc)
        assert edges.shape[0] >= 1
        sp = svc.state().live.speeds
        assert sp is not None and svc.engine is not None
        kmh = svc.engine.speeds.edge_len[edges] / (sp.obs_ms[edges] / 1000) * 3.6
        assert kmh.min() >= 8.0, kmh  # slow while it waited, never a standstill
    finally:
        svc.close()


def test_two_hundred_buses_in_one_message(nky_snapshot_dir: Path, tmp_path: Path) -> None:
    """200 buses on the trips of the morning, two messages 30 s apart: most intervals give
    observations, one speed batch per message. The time the second message's probes took is
    printed (measured, not asserted)."""
    t0 = epoch_s_of(nky_snapshot_dir)
    svc, clock = _service(nky_snapshot_dir, tmp_path / "m.db", t0)
    try:
        assert svc.planner is not None and svc.probes is not None
        tt = svc.planner.tt
        act = tt.active_service_mask(DATE)
        a = tt.arrays
        trips = [t for t in range(tt.n_trips) if act[int(a["trip_service"][t])]
                 and int(tt.trip_times(t)[0][0]) <= T8 + 3600
                 and int(tt.trip_times(t)[1][-1]) >= T8 - 3600][:200]
        assert len(trips) == 200
        paths = [TripPath.of(tt, t, DATE) for t in trips]
        rng = np.random.default_rng(7)
        start = [float(rng.uniform(0.2, 0.6)) * float(p.cum[-1]) for p in paths]
        v = 20 / 3.6
        for k in range(2):
            ts = t0 + 30 * k
            reps = [report_on(p, f"bus{i}", start[i] + v * 30 * k, ts, "IN_TRANSIT_TO", v)
                    for i, p in enumerate(paths)]
            _push(svc, clock, vehicle_message(ts, reps), ts)
        rep = svc.probes.last_report
        assert rep is not None and rep.vehicles == 200
        assert rep.intervals >= 100, rep.to_dict()
        assert rep.observations >= rep.intervals and rep.batch_seq == 1
        print(f"\n200-vehicle message: {rep.intervals} intervals, {rep.observations} "
              f"observations, {rep.edges} edges, skipped {dict(rep.skipped)}, "
              f"{rep.elapsed_ms:.0f} ms (log + sync included)")
    finally:
        svc.close()


def test_bus_probes_can_be_switched_off(nky_snapshot_dir: Path, tmp_path: Path) -> None:
    svc, _ = _service(nky_snapshot_dir, tmp_path / "off.db", epoch_s_of(nky_snapshot_dir),
                      RealtimeSettings(bus_probes=False))
    try:
        assert svc.probes is None and svc.engine is not None
        assert svc.engine.on_vehicle_positions is None
    finally:
        svc.close()


def _sample(rel: str) -> bytes:
    p = SHARED_GTFS_RT / rel
    if not p.is_file():
        pytest.skip(f"shared GTFS-RT sample not available: {p}")
    return p.read_bytes()


def test_king_county_metro_positions_give_nothing_here(nky_snapshot_dir: Path,
                                                       tmp_path: Path) -> None:
    """The real King County Metro samples (no static feed here): parsed without a
    timetable they are hundreds of buses; pushed as if they were TANK's, at their own time,
    no trip matches and nothing is measured — and nothing raises."""
    for name in ("kcm_vehicle_positions_20210902T1531Z.pb",
                 "kcm_vehicle_positions_20210902T1608Z.pb"):
        body = _sample(f"king-county-metro/{name}")
        decoded = decode_feed(body, now=None)
        vehicles, rep = parse_vehicle_positions(decoded)
        assert rep.vehicles > 500 and len(vehicles) == rep.vehicles
        svc, clock = _service(nky_snapshot_dir, tmp_path / f"{name}.db", decoded.timestamp_s)
        try:
            assert svc.probes is not None
            _push(svc, clock, body, decoded.timestamp_s)
            last = svc.probes.last_report
            assert last is not None and last.vehicles == rep.vehicles
            assert last.observations == 0
            assert last.skipped["unmatched_trip"] == rep.vehicles
            assert SpeedLog(svc.store.db).last_seq() == 0
        finally:
            svc.close()


def test_caltrain_positions_on_a_transit_only_snapshot_do_nothing(
        caltrain_transit_snapshot_dir: Path, tmp_path: Path) -> None:
    """Caltrain's real vehicle positions on its transit-only snapshot: the service has no
    probes (no car network); probes built by hand measure nothing and never raise, while
    the positions themselves are applied as usual."""
    body = _sample("caltrain/caltrain_vehicle_positions_20231108.pb")
    decoded = decode_feed(body, now=None)
    svc, clock = _service(caltrain_transit_snapshot_dir, tmp_path / "ct.db",
                          decoded.timestamp_s)
    try:
        assert svc.probes is None and svc.planner is not None and svc.engine is not None
        _, rep = parse_vehicle_positions(decoded, svc.planner.tt, "caltrain",
                                         now=datetime.fromtimestamp(decoded.timestamp_s, UTC))
        assert rep.vehicles == 14 and rep.trips_matched >= 1
        probes = BusProbes(svc.engine, svc.planner.tt)
        svc.engine.on_vehicle_positions = probes
        _push(svc, clock, body, decoded.timestamp_s, "caltrain")
        assert len(svc.state().live.vehicles["caltrain"]) == 14
        last = probes.last_report
        assert last is not None and last.observations == 0
        assert last.skipped == {"no_street_network": 14}
        assert SpeedLog(svc.store.db).last_seq() == 0
    finally:
        svc.close()
