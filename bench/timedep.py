"""Time-dependent car routing benchmark on northern Kentucky: typical speeds from the
synthetic peak-hour model, 300 TD routes at random weekday departure times (kernel and full
answer, median/p95) against the plain-Python TD-Dijkstra oracle on 30 of the same queries in
the same run, and the time to generate, load and open the typical-speed files.

    python bench/timedep.py [--queries 300] [--oracle 30] [--seed 42]

Target: full TD route median ≤ 5 ms.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from routing.timedep import (  # noqa: E402
    TypicalSpeeds,
    closed_mask,
    load_observations,
    td_kernel_args,
    td_route,
)
from routing.traffic_model import generate_observations, write_observations  # noqa: E402

from bench.common import print_table, stats_ms  # noqa: E402
from routing.build import build_snapshot  # noqa: E402
from routing.kernels.td import td_dijkstra  # noqa: E402
from routing.road import RoadRouter, RoutingError  # noqa: E402
from routing.snapshot import load_snapshot  # noqa: E402
from tests.routing.test_timedep import TdOracle  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
OSM = REPO / "data" / "northern-kentucky" / "nky_streets.osm.pbf"
TZ = "America/New_York"


def _queries(router: RoadRouter, n: int, seed: int) -> list[tuple[tuple[float, ...], datetime]]:
    rng = np.random.default_rng(seed)
    car = router.modes["car"].arrays
    tails = np.asarray(car.edge_tail)[np.asarray(car.edge_snappable)]
    lat = np.asarray(router.snapshot.node_lat)[tails]
    lon = np.asarray(router.snapshot.node_lon)[tails]
    idx = rng.integers(0, lat.shape[0], size=(n, 2))
    j = rng.normal(0, 1.5e-4, size=(n, 4))
    zone = ZoneInfo(TZ)
    out = []
    for k, (a, b) in enumerate(idx):
        day = datetime(2024, 5, 6, tzinfo=zone) + timedelta(days=int(rng.integers(0, 5)))
        dep = day + timedelta(seconds=float(rng.uniform(0, 86_400)))
        out.append(((lat[a] + j[k, 0], lon[a] + j[k, 1], lat[b] + j[k, 2], lon[b] + j[k, 3]),
                    dep))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--oracle", type=int, default=30)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="citynav-bench-td-"))
    t = time.perf_counter()
    build_snapshot(OSM, tmp / "snap")
    build_s = time.perf_counter() - t
    router = RoadRouter(load_snapshot(tmp / "snap"), modes=("car",))
    t = time.perf_counter()
    obs = generate_observations(router, seed=args.seed)
    gen_s = time.perf_counter() - t
    write_observations(obs, tmp / "obs.parquet")
    t = time.perf_counter()
    typical, report = load_observations(router, tmp / "obs.parquet")
    load_obs_s = time.perf_counter() - t
    typical.save(tmp / "typical")
    size_mb = sum(p.stat().st_size for p in (tmp / "typical").iterdir()) / 1e6
    t = time.perf_counter()
    typical = TypicalSpeeds.load(tmp / "typical", router.snapshot.snapshot_id)
    open_s = time.perf_counter() - t

    queries = _queries(router, args.queries, args.seed)
    td_route(router, typical, *queries[0][0], depart=queries[0][1], tz=TZ)  # JIT warm-up
    full, kern, plain, done, ratios = [], [], [], [], []
    zone = ZoneInfo(TZ)
    cm = closed_mask(None, typical.n_edges)
    for p, dep in queries:
        t = time.perf_counter()
        try:
            r = td_route(router, typical, *p, depart=dep, tz=TZ)
        except RoutingError:
            continue
        full.append(time.perf_counter() - t)
        done.append((p, dep, r))
        local = dep.astimezone(zone)
        t0 = ((local.hour * 60 + local.minute) * 60 + local.second) * 1000 \
            + local.microsecond // 1000
        src, dst = router.snap("car", p[0], p[1]), router.snap("car", p[2], p[3])
        kargs, _, _ = td_kernel_args(router, typical, src, dst, r.day_type, t0, cm)
        t = time.perf_counter()
        td_dijkstra(*kargs)
        kern.append(time.perf_counter() - t)
        pargs, _, _ = td_kernel_args(router, typical, src, dst, r.day_type, t0, cm,
                                     use_bound=False)
        t = time.perf_counter()
        td_dijkstra(*pargs)
        plain.append(time.perf_counter() - t)
        ratios.append(r.duration_s / max(r.free_flow_duration_s, 1e-9))

    oracle = TdOracle(router, typical)
    orc, sub, agree = [], [], 0
    for (p, dep, r), k_s in list(zip(done, kern, strict=True))[: args.oracle]:
        local = dep.astimezone(zone)
        t0 = ((local.hour * 60 + local.minute) * 60 + local.second) * 1000 \
            + local.microsecond // 1000
        src, dst = router.snap("car", p[0], p[1]), router.snap("car", p[2], p[3])
        t = time.perf_counter()
        want = oracle.arrival_ms(src.edges, dst.edges, 0, t0)
        orc.append(time.perf_counter() - t)
        sub.append(k_s)
        agree += want is not None and want - t0 == round(r.duration_s * 1000)

    km, kp = stats_ms(kern)
    pm, pp = stats_ms(plain)
    fm, fp = stats_ms(full)
    om, op = stats_ms(orc)
    sm, _ = stats_ms(sub)
    print_table("northern Kentucky — typical speeds", [
        ("snapshot build", f"{build_s:.2f} s"),
        ("car edges / with typical data", f"{typical.n_edges} / {report.edges_with_data}"),
        ("generate observations (model)", f"{gen_s:.2f} s, {len(obs)} rows"),
        ("load observations (parquet)", f"{load_obs_s:.2f} s ({report.summary()})"),
        ("typical-speed files", f"{size_mb:.1f} MB (.npy)"),
        ("open typical speeds (mmap)", f"{open_s * 1000:.2f} ms"),
    ])
    print_table(f"TD routes, {len(full)} random weekday queries", [
        ("kernel (TD-Dijkstra) median / p95", f"{km:.3f} / {kp:.3f} ms"),
        ("kernel without the A* bound", f"{pm:.3f} / {pp:.3f} ms"),
        ("td_route full answer median / p95", f"{fm:.3f} / {fp:.3f} ms"),
        ("plain-Python oracle median / p95", f"{om:.1f} / {op:.1f} ms "
                                             f"({len(orc)} of the same queries)"),
        ("oracle / kernel (same queries)", f"{om / sm:.0f}× (medians)"),
        ("answers equal to the oracle", f"{agree} / {len(orc)}"),
        ("TD / free-flow duration median", f"{np.median(ratios):.3f}"),
        ("target: td_route median ≤ 5 ms", "met" if fm <= 5.0 else "NOT met"),
    ])


if __name__ == "__main__":
    main()
