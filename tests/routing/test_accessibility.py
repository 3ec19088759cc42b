"""Accessibility on Dask: the same answer from the synchronous scheduler (one worker, this
process) and a two-worker local cluster; each worker opens the snapshot once; counts equal a
brute-force count over the travel-time matrix; files written; bad input reported."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from routing import accessibility as acc
from routing.reach import Reach


@pytest.fixture(scope="module")
def stops_csv(nky_snapshot_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The NKY stops as opportunities (weight 1, every fifth weight 3), plus a bad row."""
    ctx = acc.worker_context(str(nky_snapshot_dir))
    assert ctx.planner is not None
    tt = ctx.planner.tt
    lat = np.asarray(tt.arrays["stop_lat"])
    lon = np.asarray(tt.arrays["stop_lon"])
    w = np.where(np.arange(lat.shape[0]) % 5 == 0, 3.0, 1.0)
    df = pd.DataFrame({"lat": lat, "lon": lon, "weight": w})
    df.loc[len(df)] = [np.nan, -84.5, 1.0]
    out = tmp_path_factory.mktemp("acc") / "stops.csv"
    df.to_csv(out, index=False)
    return out


def _job(snapshot_dir: Path, csv: Path, mode: str, window: str = "07:00-07:30",
         step_min: int = 15) -> acc.Job:
    lat, lon, w, skipped = acc.read_points(csv, "opportunities", True)
    assert skipped == 1
    ctx = acc.worker_context(str(snapshot_dir))
    day = acc.default_date(ctx, "transit")
    return acc.Job(str(snapshot_dir.resolve()), mode, day.isoformat(), acc.parse_window(window),
                   step_min * 60, lat, lon, w)


def test_same_result_synchronous_and_two_worker_cluster(nky_snapshot_dir, stops_csv) -> None:
    from distributed import Client, LocalCluster

    job = _job(nky_snapshot_dir, stops_csv, "transit")
    lat, lon = acc.grid_origins(nky_snapshot_dir, 4000, "transit")
    assert 10 <= lat.shape[0] <= 60
    seen: list[tuple[int, int]] = []
    sync = acc.run(job, lat, lon, None, block_size=4,
                   progress=lambda d, t: seen.append((d, t)))
    assert seen[-1][0] == seen[-1][1] == -(-lat.shape[0] // 4)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        dist = acc.run(job, lat, lon, client, block_size=4)
        opened = client.run(lambda: dict(acc.OPENED))
    np.testing.assert_array_equal(sync, dist)
    assert np.isfinite(sync).all()
    assert (np.diff(sync, axis=1) >= 0).all()  # cumulative
    assert sync[:, -1].max() > 50
    key = str(Path(job.snapshot_dir).resolve())
    assert len(opened) == 2 and all(o.get(key) == 1 for o in opened.values())


def test_counts_equal_brute_force_matrix(nky_snapshot_dir, stops_csv) -> None:
    """Car, one departure: counts within each cutoff = the weights of opportunities whose
    matrix duration (CCH, checked against Dijkstra) is within it (±3: an opportunity on the
    origin's own street, reached along it without the graph)."""
    job = _job(nky_snapshot_dir, stops_csv, "car", "07:00-07:00")
    lat, lon = acc.grid_origins(nky_snapshot_dir, 6000, "car")
    res = acc.run(job, lat[:5], lon[:5], None, block_size=5)
    ctx = acc.worker_context(str(nky_snapshot_dir))
    import datetime as dt
    from zoneinfo import ZoneInfo

    at = dt.datetime.combine(dt.date.fromisoformat(job.date), dt.time(7),
                             tzinfo=ZoneInfo(ctx.publisher.timezone))
    state = ctx.publisher.at(ctx.publisher.current(), at)
    m = Reach(ctx.router).road_matrix(state, "car", list(zip(lat[:5], lon[:5], strict=True)),
                                      list(zip(job.opp_lat, job.opp_lon, strict=True)),
                                      distances=False)
    for i in range(5):
        d = np.array([np.inf if v is None else v for v in m.durations_s[i]])
        for c, minutes in enumerate(acc.CUTOFFS_MIN):
            want = float(job.opp_weight[d <= minutes * 60].sum())
            assert abs(res[i, c] - want) <= 3.0, (i, minutes, res[i, c], want)


def test_outputs_and_cli(nky_snapshot_dir, stops_csv, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from api.cli import app

    out = tmp_path / "res.parquet"
    r = CliRunner().invoke(app, ["accessibility", "--snapshot", str(nky_snapshot_dir),
                                 "--origins", "grid:5km", "--opportunities", str(stops_csv),
                                 "--mode", "walk", "--depart-window", "08:00-08:00",
                                 "--out", str(out), "--scheduler", "synchronous"])
    assert r.exit_code == 0, r.output
    df = pd.read_parquet(out)
    assert list(df.columns) == ["origin", "lat", "lon", "opportunities_15min",
                                "opportunities_30min", "opportunities_45min",
                                "opportunities_60min"]
    gj = json.loads(out.with_suffix(".geojson").read_text())
    assert len(gj["features"]) == len(df)
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    bad = CliRunner().invoke(app, ["accessibility", "--snapshot", str(nky_snapshot_dir),
                                   "--opportunities", str(stops_csv), "--out", str(out),
                                   "--depart-window", "9-7", "--scheduler", "synchronous"])
    assert bad.exit_code == 2 and "HH:MM-HH:MM" in bad.output


@pytest.mark.slow
def test_live_closures_reduce_reach_around_them(nky_snapshot_dir, stops_csv,
                                                tmp_path: Path) -> None:
    """``--live``: the store's closures (every car road within 300 m of a centre) reduce
    the opportunities reached from origins around them against the timetable state; the
    result names the state and version."""
    import pyarrow.parquet as pq
    from typer.testing import CliRunner

    from api.cli import app
    from incidents.store import open_store

    ctx = acc.worker_context(str(nky_snapshot_dir))
    router = ctx.router
    proj = router.projection
    seg = router.segments
    c_lat, c_lon = 39.0837, -84.5086
    cx, cy = proj.to_xy(c_lon, c_lat)
    mr = router.modes["car"]
    car_segs = np.unique(np.asarray(mr.edge_seg))
    db_url = f"sqlite:///{tmp_path / 'live.db'}"
    closed = 0
    with open_store(db_url) as store:
        for s in car_segs.tolist():
            a, b = int(seg.gstart[s]), int(seg.gend[s])
            lon, lat = np.asarray(seg.lon[a:b]), np.asarray(seg.lat[a:b])
            x, y = proj.to_xy(lon, lat)
            if np.hypot(x - cx, y - cy).max() > 300:
                continue
            store.create({
                "type": "closure", "severity": "high", "start": "2020-01-01T00:00:00Z",
                "geometry": {"type": "LineString", "coordinates": [
                    [round(float(o), 7), round(float(t), 7)] for o, t in zip(lon, lat,
                                                                             strict=True)]},
                "direction": "both", "road_effect": {"closed_to": ["car"]},
                "description": {"en": f"closure {s}"}}, "test", "KYTC")
            closed += 1
    assert closed > 10
    # origins: junctions 400-800 m from the centre
    jx, jy = proj.to_xy(np.asarray(router.snapshot.node_lon), np.asarray(router.snapshot.node_lat))
    d = np.hypot(jx - cx, jy - cy)
    ring = np.flatnonzero((d > 400) & (d < 800))
    pick = np.random.default_rng(3).choice(ring, 8, replace=False)
    origins = tmp_path / "origins.csv"
    pd.DataFrame({"lat": np.asarray(router.snapshot.node_lat)[pick] + 1e-5,
                  "lon": np.asarray(router.snapshot.node_lon)[pick]}).to_csv(origins, index=False)
    runs = {}
    for name, extra in (("timetable", []), ("live", ["--live", db_url])):
        out = tmp_path / f"{name}.parquet"
        r = CliRunner().invoke(app, ["accessibility", "--snapshot", str(nky_snapshot_dir),
                                     "--origins", str(origins), "--opportunities",
                                     str(stops_csv), "--mode", "car", "--depart-window",
                                     "08:00-08:00", "--out", str(out), "--scheduler",
                                     "synchronous", *extra])
        assert r.exit_code == 0, r.output
        meta = json.loads(pq.read_schema(out).metadata[b"citynav"])
        assert meta["state"] == name
        runs[name] = (pd.read_parquet(out), meta)
    assert runs["timetable"][1]["live_version"] is None
    assert runs["live"][1]["live_version"] >= 1
    base = runs["timetable"][0]["opportunities_15min"].to_numpy()
    live = runs["live"][0]["opportunities_15min"].to_numpy()
    assert np.isfinite(base).all() and np.isfinite(live).all()
    # closures only take away (an opportunity on a closed street may re-snap nearby: a
    # little slack per origin), and from most origins around them
    assert (live <= base + 3).all(), (live, base)
    assert (live < base).sum() >= 6 and live.sum() < base.sum(), (live, base)
    # a bad store URL is a usage error
    bad = CliRunner().invoke(app, ["accessibility", "--snapshot", str(nky_snapshot_dir),
                                   "--origins", str(origins), "--opportunities", str(stops_csv),
                                   "--mode", "car", "--out", str(tmp_path / "x.parquet"),
                                   "--scheduler", "synchronous", "--live", "mysql://nope"])
    assert bad.exit_code == 2 and "--live" in bad.output
