"""Transit benchmark: compile time, RAPTOR earliest-arrival and 1-hour range query latency,
against the brute-force reference search (`tests/gtfs/oracle.py`) on the same seeded queries,
without and with realtime data.

Usage: ``python bench/transit.py [--quick] [--queries N] [--seed S] [--feeds nky,hart,wmata]
[--no-ferrobus] [--no-plan]``. Feeds: northern Kentucky (Wed 2020-01-15), HART Tampa (Wed
2021-01-13), WMATA Metrorail (Tue 2026-05-05).
Queries are random stop-to-stop pairs with departures between 06:00 and 20:00, straight-line
footpaths up to 400 m at 1.3 m/s, up to 6 trips, 60 s minimum transfer time. Times are
wall-clock per call of the public Python API (kernel plus Python wrapping). The realtime rows
run the same queries under one random live value (``tests/gtfs/realtime_gen.py``, "mixed":
40 % of trips with per-stop delays carried to later stops, a quarter of them large enough to
overtake, skipped stops, 5 % cancellations, 2 % closed stops) after preparing its arrays once
("prepare" = the first query's extra cost for a new live version: realtime blocks and, where
the code caches them, the kernel's prepared arguments).

ferrobus (optional: ``pip install ferrobus`` or the ``bench`` extra; "ferrobus not installed"
otherwise) answers the same stop pairs at the same departure times in the same run: once in
the main loop, each query timed right after citynav's (and between the oracle's and the range
queries, whose memory traffic both pay), and once engine by engine (a pass of each over all
pairs, twice). Its model, streets and the differences in transfer rules are described in
``bench/ferrobus_cmp.py``. The ratio is citynav's median over ferrobus' on the pairs ferrobus
can place (both timed on those pairs), and the agreement counts pairs whose arrival at the
destination stop is the same.
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

from bench import ferrobus_cmp  # noqa: E402
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

try:  # the kernel's prepared arguments (absent before they were cached per live value)
    from gtfs.query import _prepared  # noqa: E402
except ImportError:  # pragma: no cover - older checkouts, for before/after runs
    _prepared = None
from tests.gtfs.realtime_gen import random_live  # noqa: E402

SHARED = REPO.parent / "shared" / "data" / "gtfs"
if not SHARED.exists():
    SHARED = Path("/work/shared/data/gtfs")
#: (name, short name, GTFS, query date, OSM extract for ferrobus or None)
FEEDS: list[tuple[str, str, Path, dt.date, Path | None]] = [
    ("northern-kentucky", "nky", REPO / "data/northern-kentucky/nky_tank_gtfs.zip",
     dt.date(2020, 1, 15), REPO / "data/northern-kentucky/nky_streets.osm.pbf"),
    ("hart-tampa", "hart", SHARED / "hart_tampa_gtfs.zip", dt.date(2021, 1, 13), None),
    ("wmata-metrorail", "wmata", SHARED / "wmata_metrorail_gtfs.zip", dt.date(2026, 5, 5), None),
]
MIN_TRANSFER_S = 60
MAX_ROUNDS = 6
WINDOW_S = 3600


def _stats(samples: list[float]) -> tuple[float, float]:
    a = np.asarray(samples) * 1e3
    return float(np.median(a)), float(np.percentile(a, 95))


def bench_feed(name: str, path: Path, date: dt.date, n_queries: int, n_range_oracle: int,
               seed: int, osm: Path | None = None, with_ferrobus: bool = True,
               ) -> dict[str, object]:
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
    fbm = None
    if with_ferrobus and ferrobus_cmp.available():
        lat, lon = np.asarray(tt.arrays["stop_lat"]), np.asarray(tt.arrays["stop_lon"])
        fbm = ferrobus_cmp.build(path, date, osm, lat, lon, fp)
    ea, ea_o, rq, rq_o = [], [], [], []
    fb_ea, fb_rq, cn_ea, cn_rq = [], [], [], []  # ferrobus and citynav on the placed pairs
    fb_rq_found = cn_rq_found = 0
    fb_pairs: list[tuple[object, object, object, object, int, int | None]] = []
    agree = 0
    found = 0
    n_range_journeys = 0
    for i, (acc, egr, dep) in enumerate(queries):
        t = time.perf_counter()
        js = earliest_arrival(tt, day, acc, egr, dep, **kw)
        ea.append(time.perf_counter() - t)
        pts = None
        if fbm is not None:
            pts = (fbm.point(int(acc[0][0])), fbm.point(int(egr[0][0])))
            if pts[0] is None or pts[1] is None:
                pts = None
        if pts is not None:
            t = time.perf_counter()
            ferrobus_cmp.find_route(fbm, pts[0], pts[1], dep, MAX_ROUNDS)
            fb_ea.append(time.perf_counter() - t)
            cn_ea.append(ea[-1])
            fb_pairs.append((acc, egr, pts[0], pts[1], dep,
                             min((j.arrive_s for j in js), default=None)))
        t = time.perf_counter()
        want = oracle.pareto(acc, egr, dep, MAX_ROUNDS)
        ea_o.append(time.perf_counter() - t)
        agree += [(j.arrive_s, j.n_transfers) for j in js] == want
        found += bool(js)
        t = time.perf_counter()
        rj = range_query(tt, day, acc, egr, dep, WINDOW_S, **kw)
        rq.append(time.perf_counter() - t)
        n_range_journeys += len(rj)
        if pts is not None:
            t = time.perf_counter()
            n_fb = ferrobus_cmp.range_route(fbm, pts[0], pts[1], dep, WINDOW_S, MAX_ROUNDS)
            fb_rq.append(time.perf_counter() - t)
            cn_rq.append(rq[-1])
            fb_rq_found += n_fb > 0
            cn_rq_found += bool(rj)
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
    if _prepared is not None:  # the kernel's arguments for this live value (newer code)
        _prepared(tt, day, live, fp, False, 0)
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
    fb: dict[str, object] | None = None
    if fbm is not None:
        fb = {"streets": fbm.streets, "build_s": fbm.build_s, "pairs": len(fb_ea),
              "no_point": len(fbm.no_point), "ea": _stats(fb_ea), "cn_ea": _stats(cn_ea),
              "range": _stats(fb_rq), "cn_range": _stats(cn_rq),
              "range_found": (cn_rq_found, fb_rq_found),
              "passes": _separate_passes(tt, day, fp, fbm, fb_pairs),
              "agreement": _agreement(tt, fbm, fb_pairs, None),
              "agreement_0s": _agreement(tt, fbm, fb_pairs, (day, fp))}
        fbm.close()
    return {
        "ferrobus": fb,
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


def _separate_passes(tt: object, day: object, fp: object, fbm: ferrobus_cmp.Model,
                     pairs: list[tuple[object, object, object, object, int, int | None]],
                     ) -> dict[str, tuple[float, float]]:
    """Earliest arrival timed engine by engine: a pass of citynav over all pairs, then one of
    ferrobus, twice over, so that neither is timed right after the other's (or the oracle's)
    memory traffic, as in the interleaved loop."""
    cn: list[float] = []
    fb: list[float] = []
    kw = dict(max_rounds=MAX_ROUNDS, min_transfer_s=MIN_TRANSFER_S, footpaths=fp)
    for _ in range(2):
        for acc, egr, _o, _d, dep, _a in pairs:
            t = time.perf_counter()
            earliest_arrival(tt, day, acc, egr, dep, **kw)  # type: ignore[arg-type]
            cn.append(time.perf_counter() - t)
        for _a, _e, p_o, p_d, dep, _x in pairs:
            t = time.perf_counter()
            ferrobus_cmp.find_route(fbm, p_o, p_d, dep, MAX_ROUNDS)
            fb.append(time.perf_counter() - t)
    return {"citynav": _stats(cn), "ferrobus": _stats(fb)}


def _agreement(tt: object, fbm: ferrobus_cmp.Model,
               pairs: list[tuple[object, object, object, object, int, int | None]],
               zero_transfer: tuple[object, object] | None) -> dict[str, int]:
    """Compare arrivals at the destination stop (untimed ``detailed_journey`` calls).
    ``zero_transfer``: ``(day, footpaths)`` to re-ask citynav with no minimum transfer time
    (ferrobus has none), else the bench's answers (60 s) are compared."""
    out = {"same": 0, "ferrobus earlier": 0, "ferrobus later": 0, "other last stop": 0,
           "only citynav": 0, "only ferrobus": 0, "neither": 0}
    stop_id = tt.strings["stop_id"]  # type: ignore[attr-defined]
    for acc, egr, p_o, p_d, dep, ours in pairs:
        dest = int(egr[0][0])  # type: ignore[index]
        if zero_transfer is not None:
            day, fp = zero_transfer
            js = earliest_arrival(tt, day, acc, egr, dep, max_rounds=MAX_ROUNDS,  # type: ignore[arg-type]
                                  min_transfer_s=0, footpaths=fp)
            ours = min((j.arrive_s for j in js), default=None)
        theirs = ferrobus_cmp.arrival_at_stop(fbm, p_o, p_d, dep, MAX_ROUNDS)
        if theirs is None or ours is None:
            key = "neither" if theirs is None and ours is None else \
                "only citynav" if theirs is None else "only ferrobus"
        elif not fbm.same_place(stop_id[dest].split(":", 1)[-1], theirs[1]):
            key = "other last stop"
        else:
            key = "same" if theirs[0] == ours else \
                "ferrobus earlier" if theirs[0] < ours else "ferrobus later"
        out[key] += 1
    return out


def print_ferrobus_table(rows: list[dict[str, object]]) -> None:
    """ferrobus against citynav on the same stop pairs (see ``bench/ferrobus_cmp.py``)."""
    if not ferrobus_cmp.available():
        print("\nferrobus not installed (pip install ferrobus): no comparison")
        return
    print("\nferrobus (Rust RAPTOR) on the same stop pairs and departure times, ms "
          "(median / p95)   [ratio = citynav median / ferrobus median; each query timed "
          "right after the other engine's, the oracle's and the range queries']")
    print(f"{'feed':<20}{'pairs':>6}{'EA citynav':>16}{'EA ferrobus':>16}{'ratio':>7}"
          f"{'range citynav':>16}{'range ferrobus':>16}{'ratio':>7}")
    for r in rows:
        fb = r.get("ferrobus")
        if not fb:
            continue
        a, b, c, d = fb["cn_ea"], fb["ea"], fb["cn_range"], fb["range"]
        print(f"{r['feed']:<20}{fb['pairs']:>6}{a[0]:>8.3f} /{a[1]:>6.3f}{b[0]:>8.3f} /"
              f"{b[1]:>6.3f}{a[0] / b[0]:>6.2f}x{c[0]:>8.3f} /{c[1]:>6.3f}{d[0]:>8.3f} /"
              f"{d[1]:>6.3f}{c[0] / d[0]:>6.2f}x   range with journeys: citynav "
              f"{fb['range_found'][0]}, ferrobus {fb['range_found'][1]}")
    print("\nEarliest arrival engine by engine (a pass of each over all pairs, twice), ms "
          "(median / p95)")
    print(f"{'feed':<20}{'pairs':>6}{'EA citynav':>16}{'EA ferrobus':>16}{'ratio':>7}")
    for r in rows:
        fb = r.get("ferrobus")
        if not fb:
            continue
        a, b = fb["passes"]["citynav"], fb["passes"]["ferrobus"]
        print(f"{r['feed']:<20}{fb['pairs']:>6}{a[0]:>8.3f} /{a[1]:>6.3f}{b[0]:>8.3f} /"
              f"{b[1]:>6.3f}{a[0] / b[0]:>6.2f}x")
    print("\nArrival at the destination stop, citynav vs ferrobus (pairs; ferrobus has no "
          "minimum transfer time, chains footpaths, walks after access / before egress)")
    for r in rows:
        fb = r.get("ferrobus")
        if not fb:
            continue
        for label, ag in (("60 s min transfer", fb["agreement"]),
                          ("citynav at 0 s", fb["agreement_0s"])):
            both = sum(v for k, v in ag.items() if k not in ("only citynav", "only ferrobus",
                                                              "neither"))
            share = ag["same"] / both if both else float("nan")
            print(f"{r['feed']:<20}{label}: same {ag['same']}/{both} found by both "
                  f"({share:.0%});  " + ", ".join(f"{k} {v}" for k, v in ag.items()
                                                  if k != "same"))
        print(f"{'':<20}streets: {fb['streets']}; model build {fb['build_s']:.1f} s; "
              f"{fb['no_point']} stops ferrobus could not place")


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
    ap.add_argument("--feeds", default="nky,hart,wmata", help="comma-separated short names")
    ap.add_argument("--no-ferrobus", action="store_true", help="skip the ferrobus comparison")
    ap.add_argument("--no-plan", action="store_true", help="skip /v1/plan end to end")
    args = ap.parse_args(argv)
    n = 40 if args.quick else args.queries
    n_range_oracle = min(n, 20 if args.quick else 50)
    wanted = set(args.feeds.split(","))
    rows = []
    with open("/proc/loadavg") as f:
        print(f"load average at start: {' '.join(f.read().split()[:3])}")
    for name, short, path, date, osm in FEEDS:
        if short not in wanted:
            continue
        if not path.exists():
            print(f"skipping {name}: {path} not found")
            continue
        print(f"running {name} ({n} queries) ...", flush=True)
        rows.append(bench_feed(name, path, date, n, n_range_oracle, args.seed, osm,
                               not args.no_ferrobus))
    with open("/proc/loadavg") as f:
        print(f"load average at end: {' '.join(f.read().split()[:3])}")
    print_table(rows)
    print_realtime_table(rows)
    if not args.no_ferrobus:
        print_ferrobus_table(rows)
    if not args.no_plan:
        bench_plan_http(60 if args.quick else 300, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
