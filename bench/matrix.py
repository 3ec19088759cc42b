"""Reach benchmarks: car matrices on Porto, isochrones and accessibility on the bundled city.

* Matrices: 100×100 and 1,000×1,000 car durations (and durations + distances) on Porto (the
  same random OD points near junctions) with :meth:`routing.reach.Reach.road_matrix` (bucket
  many-to-many on the own CCH, :mod:`routing.kernels.ncch`; its one-off build and its
  customization per weight vector timed separately), against the previous RoutingKit
  one-to-many sweep per source, against N×M
  point queries on the same CCH metric (timed on every pair for 100×100, on a sample of pairs
  and scaled for 1,000×1,000), and against OSRM's CH ``table`` (``osrm-bindings`` in its own
  Python 3.12 virtualenv under ``var/osrm``, data prepared with its ``osrm-extract`` /
  ``osrm-contract`` and the car profile; skipped with a note when that is not set up).
* Isochrones on the bundled city: median / p95 of ``road_times`` + contours for 15 and 30
  minutes by car and by transit (targets ≤ 50 ms and ≤ 100 ms).
* Accessibility: origins per second with the synchronous scheduler (1 worker) and a 2-worker
  local Dask cluster.

Run: ``.venv/bin/python -m bench.matrix [--city porto] [--quick]``. Prints median / p95,
CPU time, the load average and ratios measured in the same run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from bench.common import cached_snapshot, percentiles_row, print_table, stats_ms

REPO = Path(__file__).resolve().parent.parent
PORTO = Path("/work/shared/data/roads/porto_portugal.osm.pbf")
OSRM_DIR = REPO / "var" / "osrm"
OSRM_PY = OSRM_DIR / "venv" / "bin" / "python"
OSRM_DATA = OSRM_DIR / "porto.osrm"


def _points(router, rng: np.random.Generator, k: int) -> list[tuple[float, float]]:
    """Points a few metres off random junctions of the car network."""
    mr = router.modes["car"]
    tails = np.unique(np.asarray(mr.arrays.edge_tail)[np.asarray(mr.arrays.edge_snappable)])
    idx = rng.choice(tails, k, replace=True)
    lat = np.asarray(router.snapshot.node_lat)[idx] + rng.normal(0, 1e-4, k)
    lon = np.asarray(router.snapshot.node_lon)[idx] + rng.normal(0, 1e-4, k)
    return list(zip(lat.tolist(), lon.tolist(), strict=True))


def bench_matrices(quick: bool) -> None:
    from routing.reach import Reach
    from routing.road import RoadRouter
    from routing.snapshot import load_snapshot
    from routing.state import StatePublisher

    snap_dir, build_s, cached = cached_snapshot("porto", PORTO)
    router = RoadRouter(load_snapshot(snap_dir))
    state = StatePublisher(router).current()
    reach = Reach(router)
    rng = np.random.default_rng(2026)
    sizes = [100] if quick else [100, 1000]
    pts = _points(router, rng, 2 * max(sizes))
    metric = state.metric("car")
    rows = [("Porto car kernel", f"{router.modes['car'].arrays.kernel_node_count:,} nodes, "
             f"{router.modes['car'].arc_tail.shape[0]:,} arcs (snapshot "
             f"{'cached' if cached else 'built'}, {build_s:.0f} s)")]
    from routing.kernels import ncch

    mr = router.modes["car"]
    arc_m = reach._arc_metres["car"]
    for _ in range(2):  # the second: without loading the compiled kernels
        t = time.perf_counter()
        graph = ncch.build_cch(mr.kernel.node_count, mr.arc_tail,
                               np.asarray(mr.arrays.arc_head),
                               np.asarray(router.snapshot.modes["car"].cch_order))
        cch_build_s = time.perf_counter() - t
    t_cust, c_cust = [], []
    for _ in range(3):
        t, c = time.perf_counter(), time.process_time()
        ncch.customize(graph, metric.arc_weights, arc_m)
        t_cust.append(time.perf_counter() - t)
        c_cust.append(time.process_time() - c)
    rows.append(("own CCH (ncch)", f"{graph.arc_count:,} arcs; build {cch_build_s * 1000:.0f} ms "
                 f"(once per kernel, first matrix); customization {percentiles_row(t_cust)}, "
                 f"CPU median {np.median(c_cust) * 1000:.0f} ms (once per state and mode, "
                 f"memoized on the state; load {_load()})"))
    cm = reach._m2m_metric(state, "car", mr, state.road["car"])  # once per state, memoized
    ours: dict[int, tuple[float, np.ndarray]] = {}
    for n in sizes:
        src, dst = pts[:n], pts[n:2 * n]
        reach.road_matrix(state, "car", src[:5], dst[:5], distances=False)  # warm-up
        reps = 5 if n <= 100 else 3
        t_dur, c_dur = [], []
        for _ in range(reps):
            t, c = time.perf_counter(), time.process_time()
            m = reach.road_matrix(state, "car", src, dst, distances=False)
            t_dur.append(time.perf_counter() - t)
            c_dur.append(time.process_time() - c)
        dur = np.array([[np.nan if v is None else v for v in row] for row in m.durations_s])
        ours[n] = (float(np.median(t_dur)), dur)
        rows.append((f"{n}×{n} road_matrix (durations)", f"{percentiles_row(t_dur)}  (CPU "
                     f"median {np.median(c_dur) * 1000:.0f} ms; load {_load()})"))
        w = state.weights("car")
        s_e = reach._ends(state, "car", src, True, w)
        d_e = reach._ends(state, "car", dst, False, w)
        t_core = []
        for _ in range(reps):
            t = time.perf_counter()
            ncch.many_to_many(cm, s_e.ends(), d_e.ends(), metres=False)
            t_core.append(time.perf_counter() - t)
        rows.append((f"{n}×{n} own CCH many-to-many alone", f"{percentiles_row(t_core)}  "
                     f"(core share {np.median(t_core) / ours[n][0]:.0%}; the rest is "
                     f"snapping and assembly)"))
        # the previous path: RoutingKit's one-to-many, one sweep per source
        knodes = sorted({k for p in d_e.pairs for k, _ in p})
        t_rk = []
        for _ in range(reps if n <= 100 else 1):
            t = time.perf_counter()
            rk_rows = metric.one_to_many(s_e.pairs, knodes)
            t_rk.append(time.perf_counter() - t)
        rows.append((f"{n}×{n} RoutingKit one-to-many (previous core)",
                     f"{percentiles_row(t_rk)}  ({len(knodes):,} pinned target nodes; own CCH "
                     f"{np.median(t_rk) / np.median(t_core):.1f}× faster)"))
        del rk_rows
        t_full = []
        for _ in range(reps):
            t = time.perf_counter()
            full = reach.road_matrix(state, "car", src, dst, distances=True)
            t_full.append(time.perf_counter() - t)
        same = np.array_equal(full.duration_s, m.duration_s, equal_nan=True)
        rows.append((f"{n}×{n} durations + distances", f"{percentiles_row(t_full)}  "
                     f"(same durations as durations-only: {same})"))
        # N×M point queries on the same metric (the ends snapped once, as the matrix does)
        s_ends = reach._ends(state, "car", src, True, state.weights("car"))
        d_ends = reach._ends(state, "car", dst, False, state.weights("car"))
        pairs = [(i, j) for i in range(n) for j in range(n)]
        if len(pairs) > 20_000:
            sel = rng.choice(len(pairs), 20_000, replace=False)
            pairs = [pairs[k] for k in sel]
        t = time.perf_counter()
        # one CCH point query per pair (on one query object: the cheapest way to ask N×M)
        paths = metric.query_many([(s_ends.pairs[i], d_ends.pairs[j]) for i, j in pairs])
        per_pair = (time.perf_counter() - t) / len(pairs)
        mism = sum(1 for (i, j), kp in zip(pairs, paths, strict=True)
                   if kp is not None and abs(kp.distance / 1000.0 - dur[i, j]) > 0.051)
        point_s = per_pair * n * n
        note = "" if len(pairs) == n * n else f" (timed on {len(pairs):,} pairs, scaled)"
        rows.append((f"{n}×{n} N×M point queries", f"{point_s * 1000:.0f} ms{note}; "
                     f"the matrix is {point_s / ours[n][0]:.1f}× faster; "
                     f"{mism} pairs differ (ends on one edge: the matrix takes the edge)"))
    rows.extend(_osrm(router, pts, sizes, ours))
    print_table("Car matrices on Porto", rows)


def _load() -> str:
    import os

    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def _osrm(router, pts, sizes, ours) -> list[tuple[str, str]]:
    if not OSRM_PY.exists() or not (OSRM_DIR / "porto.osrm.hsgr").exists():
        return [("OSRM table", "not run: set up var/osrm (venv with osrm-bindings on Python "
                 "3.12, porto.osrm prepared with osrm-extract + osrm-contract)")]
    n_max = max(sizes)
    job = {"osrm": str(OSRM_DATA), "points": [[lo, la] for la, lo in pts[:2 * n_max]],
           "sizes": [[n, n] for n in sizes], "repeat": 5}
    # the same OD points: sources pts[:n], targets pts[n:2n] → OSRM gets pts[:n] + pts[n:2n]
    out_rows = []
    for n in sizes:
        job1 = dict(job, points=[[lo, la] for la, lo in pts[:n] + pts[n:2 * n]],
                    sizes=[[n, n]], repeat=5 if n <= 100 else 3)
        proc = subprocess.run([str(OSRM_PY), str(REPO / "bench" / "osrm_table.py")],
                              input=json.dumps(job1), capture_output=True, text=True,
                              timeout=1800)
        if proc.returncode != 0:
            out_rows.append(("OSRM table", f"failed: {proc.stderr.strip()[-300:]}"))
            continue
        (res,) = json.loads(proc.stdout)
        med, p95 = stats_ms(res["seconds"])
        od = np.array([[np.nan if v is None else v for v in row] for row in res["durations"]])
        ratio = ours[n][0] * 1000 / med
        ok = np.isfinite(od) & np.isfinite(ours[n][1])
        rel = np.nanmedian(ours[n][1][ok] / np.maximum(od[ok], 1e-9)) if ok.any() else np.nan
        out_rows.append((f"{n}×{n} OSRM CH table", f"median {med:.1f} ms  p95 {p95:.1f} ms; "
                         f"citynav / OSRM = {ratio:.2f}× (target ≤ 1.0); durations: median "
                         f"ratio {rel:.2f} (different speed profiles)"))
    return out_rows


def bench_isochrones(quick: bool) -> None:
    from bench.common import cached_snapshot as cs
    from routing.isochrone import Contours
    from routing.plan import Planner, TransitData
    from routing.reach import Reach
    from routing.road import RoadRouter
    from routing.snapshot import load_snapshot
    from routing.state import StatePublisher
    from tests.conftest import NKY_GTFS, NKY_OSM, NKY_TRAFFIC

    snap_dir, _, _ = cs("nky", NKY_OSM, [NKY_GTFS], NKY_TRAFFIC)
    snap = load_snapshot(snap_dir)
    router = RoadRouter(snap)
    planner = Planner(snap, router, TransitData.load(snap_dir))
    state = StatePublisher(router).current()
    reach, contours = Reach(router, planner), Contours(router)
    rng = np.random.default_rng(7)
    stops = rng.choice(planner.tt.n_stops, 40, replace=False)
    lat = np.asarray(planner.tt.arrays["stop_lat"])[stops]
    lon = np.asarray(planner.tt.arrays["stop_lon"])[stops]
    origins = [(float(a) + 5e-4, float(b)) for a, b in zip(lat, lon, strict=True)]
    start = planner.transit.service_period[0] + dt.timedelta(days=1)
    while start.weekday() != 2:
        start += dt.timedelta(days=1)
    t = dt.datetime.combine(start, dt.time(8), tzinfo=ZoneInfo(planner.transit.ref_tz))
    n = 10 if quick else len(origins)
    rows = []
    for mode in ("car", "transit"):
        for minutes in (15, 30):
            search, total = [], []
            for la, lo in origins[:n]:
                try:
                    t0 = time.perf_counter()
                    if mode == "car":
                        rr = reach.road_times(state, "car", la, lo, minutes * 60)
                        stop_s = None
                    else:
                        tr = reach.transit_times(state, la, lo, t, minutes * 60)
                        rr, stop_s = tr.walk, tr.stop_s
                    t1 = time.perf_counter()
                    contours.contours(rr, [minutes], stop_s)
                    t2 = time.perf_counter()
                except Exception:  # noqa: BLE001 - an origin off the network is skipped
                    continue
                search.append(t1 - t0)
                total.append(t2 - t0)
            target = 50 if mode == "car" else 100
            rows.append((f"{mode} {minutes} min (search + polygon)",
                         f"{percentiles_row(total)}  (search alone {percentiles_row(search)}; "
                         f"target ≤ {target} ms)"))
    print_table("Isochrones on northern Kentucky", rows)


def bench_accessibility(quick: bool) -> None:
    import pandas as pd
    from distributed import Client, LocalCluster

    from routing import accessibility as acc
    from tests.conftest import NKY_GTFS, NKY_OSM, NKY_TRAFFIC

    snap_dir, _, _ = cached_snapshot("nky", NKY_OSM, [NKY_GTFS], NKY_TRAFFIC)
    ctx = acc.worker_context(str(snap_dir))
    assert ctx.planner is not None
    tt = ctx.planner.tt
    opp = pd.DataFrame({"lat": np.asarray(tt.arrays["stop_lat"]),
                        "lon": np.asarray(tt.arrays["stop_lon"])})
    day = acc.default_date(ctx, "transit")
    job = acc.Job(str(snap_dir.resolve()), "transit", day.isoformat(),
                  acc.parse_window("07:00-08:00"), 15 * 60, opp.lat.to_numpy(),
                  opp.lon.to_numpy(), np.ones(len(opp)))
    lat, lon = acc.grid_origins(snap_dir, 2000 if quick else 1000, "transit")
    rows = [("job", f"{lat.shape[0]} origins, {len(opp)} opportunities, transit, "
             f"5 departures 07:00-08:00")]
    acc.run(job, lat[:4], lon[:4], None, 4)  # warm (compile, open)
    t = time.perf_counter()
    r1 = acc.run(job, lat, lon, None, 16)
    s1 = time.perf_counter() - t
    rows.append(("1 worker (synchronous)", f"{lat.shape[0] / s1:.1f} origins/s ({s1:.1f} s)"))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        # every worker opens the snapshot and runs a block before the clock starts
        client.run(acc.compute_block, job, lat[:2], lon[:2])
        t = time.perf_counter()
        r2 = acc.run(job, lat, lon, client, 16)
        s2 = time.perf_counter() - t
    same = bool(np.array_equal(r1, r2, equal_nan=True))
    rows.append(("2 workers (local cluster)", f"{lat.shape[0] / s2:.1f} origins/s ({s2:.1f} s); "
                 f"speed-up {s1 / s2:.2f}×; same result: {same}"))
    print_table("Accessibility (Dask)", rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="smaller sizes (100×100 only)")
    ap.add_argument("--only", choices=["matrix", "isochrone", "accessibility"])
    ap.add_argument("--city", choices=["porto"], default="porto",
                    help="city of the car matrices (Porto, the OSRM comparison's data)")
    a = ap.parse_args()
    print(f"load average {_load()} (1/5/15 min; the machine may be shared)")
    if a.only in (None, "matrix"):
        bench_matrices(a.quick)
    if a.only in (None, "isochrone"):
        bench_isochrones(a.quick)
    if a.only in (None, "accessibility"):
        bench_accessibility(a.quick)


if __name__ == "__main__":
    main()
