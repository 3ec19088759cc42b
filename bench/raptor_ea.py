"""Earliest-arrival RAPTOR alone against ferrobus, engine by engine, on the stop pairs of
``bench/transit.py`` (same seed, same draws): a quick loop for work on the kernel.

Usage: ``python bench/raptor_ea.py [--feeds nky,hart] [--queries 1000] [--passes 3]``.
Each pass times citynav's public ``earliest_arrival`` over all pairs, then the kernel call
alone (``gtfs.raptor.raptor`` with the prepared arguments: the Python wrapping is the
difference), then ferrobus' ``find_route`` on the pairs it can place; medians and p95 in ms
(citynav and the kernel over all pairs), ratios of medians within the same pass and on the
pairs ferrobus places (the machine is shared: compare within a pass).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) in sys.path:
    sys.path.remove(str(REPO))
sys.path.insert(0, str(REPO))

from bench import ferrobus_cmp  # noqa: E402
from bench.transit import FEEDS, MAX_ROUNDS, MIN_TRANSFER_S  # noqa: E402
from gtfs import query as tq  # noqa: E402
from gtfs import raptor as kern  # noqa: E402
from gtfs.compile import compile_feeds  # noqa: E402
from gtfs.day import day_trip_mask  # noqa: E402
from gtfs.footpaths import straight_line_footpaths  # noqa: E402


def _ms(samples: list[float]) -> tuple[float, float]:
    a = np.asarray(samples) * 1e3
    return float(np.median(a)), float(np.percentile(a, 95))


def run_feed(short: str, n: int, passes: int, seed: int, with_ferrobus: bool,
             synthetic: bool = False) -> None:
    """Time the three engines on one feed and print a line per pass."""
    name, _, path, date, osm = next(f for f in FEEDS if f[1] == short)
    tt, _ = compile_feeds([path])
    day = day_trip_mask(tt, date)
    fp = straight_line_footpaths(tt, 400.0, 1.3)
    tq.warmup(tt)
    rng = np.random.default_rng(seed)
    served = np.flatnonzero(np.diff(np.asarray(tt.arrays["stop_pattern_offsets"])) > 0)
    queries = []
    for _ in range(n):
        o, d = rng.choice(served, 2, replace=False)
        queries.append(((np.array([o]), np.array([0])), (np.array([d]), np.array([0])),
                        int(rng.integers(6 * 3600, 20 * 3600))))
    fbm = None
    pts: list[tuple[object, object] | None] = [None] * n
    if with_ferrobus and ferrobus_cmp.available():
        lat, lon = np.asarray(tt.arrays["stop_lat"]), np.asarray(tt.arrays["stop_lon"])
        fbm = ferrobus_cmp.build(path, date, None if synthetic else osm, lat, lon, fp)
        for i, (acc, egr, _dep) in enumerate(queries):
            p = (fbm.point(int(acc[0][0])), fbm.point(int(egr[0][0])))
            pts[i] = None if p[0] is None or p[1] is None else p
    kw = dict(max_rounds=MAX_ROUNDS, min_transfer_s=MIN_TRANSFER_S, footpaths=fp)
    fixed = tq._prepared(tt, day, None, fp, False, 0)
    pso = np.asarray(tt.arrays["pattern_stop_offsets"])
    scratch = kern.Scratch(tt.n_stops, tt.n_patterns, int(np.diff(pso).max()), MAX_ROUNDS)
    sargs = (*scratch.arrays(), tq._NO_STOP_ARRIVAL)  # no per-stop output
    kq = [(np.asarray(a[0], dtype=np.int32), np.asarray(a[1], dtype=np.int64),
           np.asarray(e[0], dtype=np.int32), np.asarray(e[1], dtype=np.int64),
           np.array([dep], dtype=np.int64)) for a, e, dep in queries]
    print(f"{name}: {tt.n_stops} stops, {n} pairs, ferrobus places "
          f"{sum(p is not None for p in pts)}" + (f" (streets: {fbm.streets})" if fbm else ""))
    for k in range(passes):
        cn, kr, fb, cn_p = [], [], [], []
        for i, (acc, egr, dep) in enumerate(queries):
            t = time.perf_counter()
            tq.earliest_arrival(tt, day, acc, egr, dep, **kw)  # type: ignore[arg-type]
            cn.append(time.perf_counter() - t)
            if pts[i] is not None:
                cn_p.append(cn[-1])
        kr_p = []
        for i, (a_s, a_t, e_s, e_t, deps) in enumerate(kq):
            t = time.perf_counter()
            kern.raptor(*fixed, a_s, a_t, e_s, e_t, deps, MAX_ROUNDS, MIN_TRANSFER_S, *sargs)
            kr.append(time.perf_counter() - t)
            if pts[i] is not None:
                kr_p.append(kr[-1])
        if fbm is not None:
            for i, (_a, _e, dep) in enumerate(queries):
                pp = pts[i]
                if pp is None:
                    continue
                t = time.perf_counter()
                ferrobus_cmp.find_route(fbm, pp[0], pp[1], dep, MAX_ROUNDS)
                fb.append(time.perf_counter() - t)
        c, kk = _ms(cn), _ms(kr)
        line = (f"  pass {k}: citynav {c[0]:.4f} / {c[1]:.4f}   kernel {kk[0]:.4f} / "
                f"{kk[1]:.4f}")
        if fb:
            f, cp, kp = _ms(fb), _ms(cn_p), _ms(kr_p)
            line += (f"   ferrobus {f[0]:.4f} / {f[1]:.4f}   ratio {cp[0] / f[0]:.2f}x "
                     f"(kernel alone {kp[0] / f[0]:.2f}x)")
        print(line, flush=True)
    if fbm is not None:
        fbm.close()


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--feeds", default="nky")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-ferrobus", action="store_true")
    ap.add_argument("--synthetic-streets", action="store_true",
                    help="ferrobus on the synthetic street graph of bench/ferrobus_cmp.py "
                         "(citynav's footpath set) even where an OSM extract exists")
    args = ap.parse_args(argv)
    for short in args.feeds.split(","):
        run_feed(short, args.queries, args.passes, args.seed, not args.no_ferrobus,
                 args.synthetic_streets)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
