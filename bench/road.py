"""Road routing benchmark: build, snapshot size, serving RSS, kernel and full-answer query
times against networkx Dijkstra on the same pairs in the same run, and weight updates.

    python bench/road.py [--quick] [--city nky|porto|all]

Prints median and p95 per figure and ratios against the networkx baseline. Targets (issue 2,
in-process): full car answer median ≤ 0.4 ms on Porto, kernel ≤ 50 µs, ≥ 1000× faster than
networkx, full weight update ≤ 50 ms, Porto build ≤ 3 min, serving RSS ≤ 1.5 GB.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path

import networkx as nx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, rss_mb, stats_ms  # noqa: E402
from routing.build import build_snapshot  # noqa: E402
from routing.graph import INF_WEIGHT  # noqa: E402
from routing.live import LiveState  # noqa: E402
from routing.road import RoadRouter, RoutingError  # noqa: E402
from routing.snapshot import load_snapshot  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CITIES = {
    "nky": REPO / "data" / "northern-kentucky" / "nky_streets.osm.pbf",
    "porto": REPO.parent / "shared" / "data" / "roads" / "porto_portugal.osm.pbf",
}


def _pairs(router: RoadRouter, n: int, seed: int) -> list[tuple[float, float, float, float]]:
    rng = np.random.default_rng(seed)
    car = router.modes["car"]
    ok = np.asarray(car.arrays.edge_snappable)
    tails = np.asarray(car.arrays.edge_tail)[ok]
    lat = np.asarray(router.snapshot.node_lat)[tails]
    lon = np.asarray(router.snapshot.node_lon)[tails]
    idx = rng.integers(0, lat.shape[0], size=(n, 2))
    j = rng.normal(0, 1.5e-4, size=(n, 4))
    return [(lat[a] + j[k, 0], lon[a] + j[k, 1], lat[b] + j[k, 2], lon[b] + j[k, 3])
            for k, (a, b) in enumerate(idx)]


def bench_city(name: str, osm: Path, n_queries: int, n_nx: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f"citynav-bench-{name}-"))
    t = time.perf_counter()
    meta = build_snapshot(osm, tmp / "snap")
    build_s = time.perf_counter() - t
    gc.collect()
    rss0 = rss_mb()
    t = time.perf_counter()
    router = RoadRouter(load_snapshot(tmp / "snap"), modes=("car",))
    load_s = time.perf_counter() - t
    pairs = _pairs(router, n_queries, seed=42)
    router.route(*pairs[0], mode="car")  # JIT warm-up

    # Full answers: snap, CCH query, path, geometry, steps.
    full, routed = [], []
    for p in pairs:
        t = time.perf_counter()
        try:
            router.route(*p, mode="car")
        except RoutingError:
            continue
        full.append(time.perf_counter() - t)
        routed.append(p)
    rss_serving = rss_mb()

    # Kernel only: node-to-node travel time between the snapped endpoints' kernel nodes.
    car = router.modes["car"]
    metric = router._live.metrics["car"]
    heads = np.asarray(car.arrays.edge_head_knode)
    node_pairs = []
    for p in routed:
        s = router.snap("car", p[0], p[1]).edges[0][0]
        d = router.snap("car", p[2], p[3]).edges[0][0]
        node_pairs.append((int(heads[s]), int(car.arc_tail[car.edge_arc_offsets[d]])))
    kernel = []
    for s, d in node_pairs:
        t = time.perf_counter()
        metric.distance(s, d)
        kernel.append(time.perf_counter() - t)

    # Weight update: a new full weight vector (random slowdowns and closures).
    rng = np.random.default_rng(1)
    upd = []
    for v in range(1, 11):
        w = car.free_flow_ms.copy()
        m = rng.random(w.shape[0]) < 0.1
        w[m] = (w[m] * 2).astype(np.int64)
        w[rng.random(w.shape[0]) < 0.01] = INF_WEIGHT
        t = time.perf_counter()
        router.apply_live_state(LiveState(version=v, edge_time_ms={"car": w}))
        upd.append(time.perf_counter() - t)
    router.apply_live_state(LiveState(version=11))

    # Baseline: networkx Dijkstra on the same kernel graph and pairs (weights as in CCH).
    g = nx.DiGraph()
    arc_w = car.free_flow_ms[car.arc_edge]
    for a, b, w in zip(car.arc_tail.tolist(), np.asarray(car.arrays.arc_head).tolist(),
                       arc_w.tolist(), strict=True):
        if not g.has_edge(a, b) or g[a][b]["weight"] > w:
            g.add_edge(a, b, weight=w)
    base, mismatches = [], 0
    for s, d in node_pairs[:n_nx]:
        t = time.perf_counter()
        try:
            want = nx.dijkstra_path_length(g, s, d)
        except (nx.NetworkXNoPath, nx.NodeNotFound):
            want = None
        base.append(time.perf_counter() - t)
        mismatches += want != metric.distance(s, d)

    fm, fp = stats_ms(full)
    km, kp = stats_ms(kernel)
    bm, bp = stats_ms(base)
    um, up = stats_ms(upd)
    print_table(f"{name}: {osm.name}", [
        ("road junctions / car edges", f"{meta['counts']['junctions']:,} / "
                                       f"{meta['counts']['car_edges']:,}"),
        ("build (all modes)", f"{build_s:.1f} s"),
        ("snapshot size", f"{meta['size_bytes'] / 1e6:.1f} MB"),
        ("load (car router)", f"{load_s:.2f} s"),
        ("RSS serving (car)", f"{rss_serving:.0f} MB (process before load {rss0:.0f} MB)"),
        ("queries routed", f"{len(full)} of {len(pairs)}"),
        ("full car answer", f"median {fm:.3f} ms  p95 {fp:.3f} ms"),
        ("kernel travel time", f"median {km * 1000:.1f} µs  p95 {kp * 1000:.1f} µs"),
        ("networkx Dijkstra (same pairs)", f"median {bm:.2f} ms  p95 {bp:.2f} ms  "
                                           f"({len(base)} pairs, {mismatches} mismatches)"),
        ("ratio networkx / kernel", f"{bm / km:,.0f}× (median)"),
        ("ratio networkx / full answer", f"{bm / fm:,.0f}× (median)"),
        ("full weight update (customize)", f"median {um:.1f} ms  p95 {up:.1f} ms"),
    ])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer queries")
    ap.add_argument("--city", default="all", choices=["all", *CITIES])
    args = ap.parse_args()
    n_q, n_nx = (300, 50) if args.quick else (2000, 200)
    for name, path in CITIES.items():
        if args.city not in ("all", name):
            continue
        if not path.exists():
            print(f"skipping {name}: {path} not found")
            continue
        bench_city(name, path, n_q, n_nx)


if __name__ == "__main__":
    main()
