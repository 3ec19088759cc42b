"""Transit benchmark: compile time, RAPTOR earliest-arrival and 1-hour range query latency,
against the brute-force reference search (`tests/gtfs/oracle.py`) on the same seeded queries,
without and with realtime data.

Usage: ``python bench/transit.py [--quick] [--queries N] [--seed S]``. Feeds: northern
Kentucky (Wed 2020-01-15), HART Tampa (Wed 2021-01-13), WMATA Metrorail (Tue 2026-05-05).
Queries are random stop-to-stop pairs with departures between 06:00 and 20:00, straight-line
footpaths up to 400 m at 1.3 m/s, up to 6 trips, 60 s minimum transfer time. Times are
wall-clock per call of the public Python API (kernel plus Python wrapping). The realtime rows
run the same queries under one random live value (``tests/gtfs/realtime_gen.py``, "mixed":
40 % of trips with per-stop delays carried to later stops, a quarter of them large enough to
overtake, skipped stops, 5 % cancellations, 2 % closed stops) after preparing its arrays once
("prepare" = the first query's extra cost for a new live version).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
# the repository first: bench/ (the script's own folder) holds incidents.py, which would
# otherwise shadow the incidents package when REPO is already on PYTHONPATH
if str(REPO) in sys.path:
    sys.path.remove(str(REPO))
sys.path.insert(0, str(REPO))

from gtfs.compile import compile_feeds  # noqa: E402
from gtfs.day import day_trip_mask  # noqa: E402
from gtfs.footpaths import straight_line_footpaths  # noqa: E402
from gtfs.query import (  # noqa: E402
    _live_layers,
    earliest_arrival,
    range_query,
    warmup,
)
from tests.gtfs.oracle import Oracle  # noqa: E402
from tests.gtfs.realtime_gen import random_live  # noqa: E402

FEEDS: list[tuple[str, Path, dt.date]] = [
    ("northern-kentucky", REPO / "data/northern-kentucky/nky_tank_gtfs.zip", dt.date(2020, 1, 15)),
    ("hart-tampa", Path("/work/shared/data/gtfs/hart_tampa_gtfs.zip"), dt.date(2021, 1, 13)),
    ("wmata-metrorail", Path("/work/shared/data/gtfs/wmata_metrorail_gtfs.zip"),
     dt.date(2026, 5, 5)),
]
MIN_TRANSFER_S = 60
MAX_ROUNDS = 6
WINDOW_S = 3600


def _stats(samples: list[float]) -> tuple[float, float]:
    a = np.asarray(samples) * 1e3
    return float(np.median(a)), float(np.percentile(a, 95))


def bench_feed(name: str, path: Path, date: dt.date, n_queries: int, n_range_oracle: int,
               seed: int) -> dict[str, object]:
    """Run all measurements for one feed and return a row of results."""
    t0 = time.perf_counter()
    tt, report = compile_feeds([path])
    compile_s = time.perf_counter() - t0
    day = day_trip_mask(tt, date)
    fp = straight_line_footpaths(tt, 400.0, 1.3)
    warmup(tt)
    oracle = Oracle(tt, day, fp, MIN_TRANSFER_S)
    rng = np.random.default_rng(seed)
    served = np.flatnonzero(np.diff(np.asarray(tt.arrays["stop_pattern_offsets"])) > 0)
    queries = []
    for _ in range(n_queries):
        o, d = rng.choice(served, 2, replace=False)
        queries.append(((np.array([o]), np.array([0])), (np.array([d]), np.array([0])),
                        int(rng.integers(6 * 3600, 20 * 3600))))
    kw = dict(max_rounds=MAX_ROUNDS, min_transfer_s=MIN_TRANSFER_S, footpaths=fp)
    ea, ea_o, rq, rq_o = [], [], [], []
    agree = 0
    found = 0
    n_range_journeys = 0
    for i, (acc, egr, dep) in enumerate(queries):
        t = time.perf_counter()
        js = earliest_arrival(tt, day, acc, egr, dep, **kw)
        ea.append(time.perf_counter() - t)
        t = time.perf_counter()
        want = oracle.pareto(acc, egr, dep, MAX_ROUNDS)
        ea_o.append(time.perf_counter() - t)
        agree += [(j.arrive_s, j.n_transfers) for j in js] == want
        found += bool(js)
        t = time.perf_counter()
        rj = range_query(tt, day, acc, egr, dep, WINDOW_S, **kw)
        rq.append(time.perf_counter() - t)
        n_range_journeys += len(rj)
        if i < n_range_oracle:
            # brute force range: one oracle search per candidate departure in the window
            t = time.perf_counter()
            cands = oracle.departure_candidates(acc)
            for tau in cands[(cands >= dep) & (cands <= dep + WINDOW_S)]:
                oracle.pareto(acc, egr, int(tau), MAX_ROUNDS)
            rq_o.append(time.perf_counter() - t)
    # the same queries under realtime data
    live = random_live(tt, day, np.random.default_rng(seed), version=1)
    t = time.perf_counter()
    prepared = _live_layers(tt, day, live)
    prepare_s = time.perf_counter() - t
    non_fifo = 1.0 - float(prepared.layer_pat_fifo.mean())
    oracle_rt = Oracle(tt, day, fp, MIN_TRANSFER_S, live)
    kw_rt = dict(kw, live=live)
    ea_rt, ea_rt_o, rq_rt = [], [], []
    agree_rt = found_rt = 0
    for acc, egr, dep in queries:
        t = time.perf_counter()
        js = earliest_arrival(tt, day, acc, egr, dep, **kw_rt)
        ea_rt.append(time.perf_counter() - t)
        t = time.perf_counter()
        want = oracle_rt.pareto(acc, egr, dep, MAX_ROUNDS)
        ea_rt_o.append(time.perf_counter() - t)
        agree_rt += [(j.arrive_s, j.n_transfers) for j in js] == want
        found_rt += bool(js)
        t = time.perf_counter()
        range_query(tt, day, acc, egr, dep, WINDOW_S, **kw_rt)
        rq_rt.append(time.perf_counter() - t)
    return {
        "ea_rt": _stats(ea_rt), "ea_rt_oracle": _stats(ea_rt_o), "range_rt": _stats(rq_rt),
        "agree_rt": agree_rt, "found_rt": found_rt, "prepare_ms": prepare_s * 1e3,
        "non_fifo": non_fifo,
        "feed": name, "stops": tt.n_stops, "trips": tt.n_trips,
        "stop_times": tt.meta["counts"]["stop_times"], "compile_s": compile_s,
        "errors": report.n_errors, "ea": _stats(ea), "ea_oracle": _stats(ea_o),
        "range": _stats(rq), "range_oracle": _stats(rq_o) if rq_o else (float("nan"),) * 2,
        "agree": agree, "n": n_queries, "found": found, "n_range_oracle": len(rq_o),
        "range_journeys": n_range_journeys / max(n_queries, 1),
    }


def print_table(rows: list[dict[str, object]]) -> None:
    """Print results as aligned text tables."""
    print("\nFeeds")
    print(f"{'feed':<20}{'stops':>7}{'trips':>8}{'stop_times':>12}{'compile s':>11}"
          f"{'row errs':>10}")
    for r in rows:
        print(f"{r['feed']:<20}{r['stops']:>7}{r['trips']:>8}{r['stop_times']:>12}"
              f"{r['compile_s']:>11.2f}{r['errors']:>10}")
    print("\nEarliest arrival, ms (median / p95)   [oracle = round-based connection scan]")
    print(f"{'feed':<20}{'RAPTOR':>16}{'oracle':>16}{'speed-up':>10}{'agree':>10}{'found':>8}")
    for r in rows:
        ea, eo = r["ea"], r["ea_oracle"]
        print(f"{r['feed']:<20}{ea[0]:>8.3f} /{ea[1]:>6.3f}{eo[0]:>8.3f} /{eo[1]:>6.3f}"
              f"{eo[0] / ea[0]:>9.1f}x{r['agree']:>6}/{r['n']:<3}{r['found']:>8}")
    print("\n1-hour range query, ms (median / p95)   [oracle = one search per departure]")
    print(f"{'feed':<20}{'rRAPTOR':>16}{'oracle':>16}{'speed-up':>10}{'journeys':>10}")
    for r in rows:
        rq, ro = r["range"], r["range_oracle"]
        print(f"{r['feed']:<20}{rq[0]:>8.3f} /{rq[1]:>6.3f}{ro[0]:>8.2f} /{ro[1]:>6.2f}"
              f"{ro[0] / rq[0]:>9.1f}x{r['range_journeys']:>10.1f}"
              f"   (oracle on {r['n_range_oracle']} queries)")


def print_realtime_table(rows: list[dict[str, object]]) -> None:
    """Print the realtime results (same queries, one random live value per feed)."""
    print("\nWith realtime data, ms (median / p95)   [same queries; see module docstring]")
    print(f"{'feed':<20}{'EA RAPTOR':>16}{'EA oracle':>16}{'agree':>10}{'found':>7}"
          f"{'range':>16}{'prepare ms':>12}{'non-FIFO':>10}")
    for r in rows:
        ea, eo, rq = r["ea_rt"], r["ea_rt_oracle"], r["range_rt"]
        print(f"{r['feed']:<20}{ea[0]:>8.3f} /{ea[1]:>6.3f}{eo[0]:>8.3f} /{eo[1]:>6.3f}"
              f"{r['agree_rt']:>6}/{r['n']:<3}{r['found_rt']:>7}{rq[0]:>8.3f} /{rq[1]:>6.3f}"
              f"{r['prepare_ms']:>12.1f}{r['non_fifo']:>9.1%}")


def bench_plan_http(n: int, seed: int) -> None:
    """/v1/plan end to end (FastAPI app in-process via its test client: routing, JSON
    encoding and validation included) on northern Kentucky, Wed 2020-01-15, between random
    points near stops, 06:00–20:00; and for comparison the use case
    (``api.operations.plan``: the state at the departure, then the planner), the planner
    call alone on that state and the state's derivation (``publisher.at``)."""
    import tempfile
    from zoneinfo import ZoneInfo

    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.operations import plan
    from api.service import load_service
    from routing.build import build_snapshot
    from routing.plan import PlanRequest
    from routing.road import RoutingError

    data = REPO / "data" / "northern-kentucky"
    out = Path(tempfile.mkdtemp(prefix="citynav-bench-plan-")) / "snap"
    t = time.perf_counter()
    build_snapshot(data / "nky_streets.osm.pbf", out, [data / "nky_tank_gtfs.zip"])
    build_s = time.perf_counter() - t
    svc = load_service(out)
    tt = svc.planner.tt
    rng = np.random.default_rng(seed)
    lat, lon = np.asarray(tt.arrays["stop_lat"]), np.asarray(tt.arrays["stop_lon"])
    idx = rng.integers(0, lat.shape[0], size=(n, 2))
    jit = rng.normal(0, 1e-3, size=(n, 4))
    times = rng.integers(6 * 60, 20 * 60, size=n)
    queries = [(f"{lat[a] + jit[k, 0]:.6f},{lon[a] + jit[k, 1]:.6f}",
                f"{lat[b] + jit[k, 2]:.6f},{lon[b] + jit[k, 3]:.6f}",
                f"2020-01-15T{times[k] // 60:02d}:{times[k] % 60:02d}:00-05:00")
               for k, (a, b) in enumerate(idx)]
    http, use_case, direct, derive, ok, found = [], [], [], [], 0, 0
    tz = ZoneInfo(svc.tz)
    with TestClient(create_app(service=svc)) as client:
        client.get("/v1/plan", params={"from": queries[0][0], "to": queries[0][1],
                                       "depart_at": queries[0][2]})
        for frm, to, at in queries:
            t = time.perf_counter()
            r = client.get("/v1/plan", params={"from": frm, "to": to, "depart_at": at})
            http.append(time.perf_counter() - t)
            ok += r.status_code == 200
            found += bool(r.status_code == 200 and r.json()["itineraries"])
            a = tuple(float(x) for x in frm.split(","))
            b = tuple(float(x) for x in to.split(","))
            # states at a departure are cached per (version, ms): shift each measurement by
            # a millisecond so none reuses the state another one derived
            when = dt.datetime.fromisoformat(at).astimezone(tz)
            req = PlanRequest(a, b, when + dt.timedelta(milliseconds=1))
            try:
                t = time.perf_counter()
                plan(svc, svc.state(), req)
                t_use = time.perf_counter() - t
                req = PlanRequest(a, b, when + dt.timedelta(milliseconds=2))
                t = time.perf_counter()
                st = svc.state_at(svc.state(), req.time)
                t_derive = time.perf_counter() - t
                t = time.perf_counter()
                svc.planner.plan(st, req)
                direct.append(time.perf_counter() - t)
                use_case.append(t_use)
                derive.append(t_derive)
            except RoutingError:  # points off the network: counted via HTTP
                pass
    svc.close()
    hm, hp = _stats(http)
    um, up = _stats(use_case)
    dm, dp = _stats(direct)
    sm, sp = _stats(derive)
    print("\n== /v1/plan end to end, northern-kentucky (Wed 2020-01-15) ==")
    print(f"  snapshot build (roads + GTFS + links + transfers)  {build_s:.1f} s")
    print(f"  requests {n}: 200 OK {ok}, with itineraries {found}")
    print(f"  /v1/plan HTTP (in-process)   median {hm:.2f} ms  p95 {hp:.2f} ms")
    print(f"  use case operations.plan     median {um:.2f} ms  p95 {up:.2f} ms")
    print(f"  planner call alone           median {dm:.2f} ms  p95 {dp:.2f} ms  "
          f"(on the state at the departure; ×{hm / dm:.1f} to HTTP)")
    print(f"  state at departure (at())    median {sm:.2f} ms  p95 {sp:.2f} ms  "
          f"(weights of every mode; a departure more than 5 min from now)")


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="40 queries per feed")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    n = 40 if args.quick else args.queries
    n_range_oracle = min(n, 20 if args.quick else 50)
    rows = []
    for name, path, date in FEEDS:
        if not path.exists():
            print(f"skipping {name}: {path} not found")
            continue
        print(f"running {name} ({n} queries) ...", flush=True)
        rows.append(bench_feed(name, path, date, n, n_range_oracle, args.seed))
    print_table(rows)
    print_realtime_table(rows)
    bench_plan_http(60 if args.quick else 300, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
