"""Road routing benchmark: build, snapshot size, serving RSS, kernel and full-answer query
times against networkx Dijkstra on the same pairs in the same run, and live weight updates.

    python bench/road.py [--quick] [--city nky|porto|all] [--cache]

Every query takes one :class:`routing.state.RoutingState` from a
:class:`routing.state.StatePublisher`, as the service does. Figures:

* full car answers (snap, CCH query, path, geometry, steps) and the kernel alone, against
  networkx Dijkstra on the same kernel graph and pairs (ratio, and answers compared);
* the per-request cost of taking the state (``publisher.current()``);
* **live incident update**: one incident's closure or slowdown on a stretch of a few dozen
  car edges published with ``publisher.publish(live)`` — the weights at that instant, then a
  partial update of a pooled CCH metric (``kernel.stats`` is printed to show it) — against a
  full re-customization (``kernel.customize``) of the very same weights; the pooled metric's
  distances are checked against the fully customized one;
* the same incidents published with a router of every mode (as a server holds it);
* a new full weight vector (10 % of edges twice as slow, 1 % closed) published the same way
  (too many arcs for partial updates: the pool resets a slot) and ``kernel.customize`` of it.

Snapshots are built into a temporary directory (build time measured), or with ``--cache``
reused from ``var/bench/<city>`` (rebuilt when the sources or the build code change; the build
time shown is then the one measured when it was built).
Prints median and p95 per figure. Targets (issue 2, in-process): full car answer median
≤ 0.4 ms on Porto, kernel ≤ 50 µs, ≥ 1000× faster than networkx, full weight update ≤ 50 ms,
incident update "well under a second" (DESIGN.md), Porto build ≤ 3 min, serving RSS ≤ 1.5 GB;
issue 14: a serving worker (every mode, store, engine) ≤ 300 MB on Porto — measured on a real
``citynav serve --workers 2`` after routes of every mode: RSS, PSS, USS (the worker's own
pages) and file-backed RSS of the pre-fork parent (which loaded the city once) and of each
forked worker (sharing the parent's pages copy-on-write), and their total PSS.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import networkx as nx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    cached_snapshot,
    memory_row,
    print_table,
    rss_mb,
    serving_memory,
    stats_ms,
)
from routing.kernels.cch import POOL_SLOTS  # noqa: E402
from routing.live import FOREVER_MS, EffectTimeline, IncidentInfo, LiveState  # noqa: E402
from routing.road import RoadRouter, RoutingError  # noqa: E402
from routing.snapshot import load_snapshot  # noqa: E402
from routing.state import RoutingState, StatePublisher  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CITIES = {
    "nky": REPO / "data" / "northern-kentucky" / "nky_streets.osm.pbf",
    "porto": REPO.parent / "shared" / "data" / "roads" / "porto_portugal.osm.pbf",
}
#: Edges one bench incident acts on (a stretch of a random route).
INCIDENT_EDGES = (24, 60)
#: OSRM in-process (osrm-bindings, Python 3.12 venv; data by osrm-extract + osrm-contract
#: with its car profile), as bench/matrix.py uses it: ``var/osrm/<city>.osrm``.
OSRM_DIR = REPO / "var" / "osrm"
OSRM_PY = OSRM_DIR / "venv" / "bin" / "python"


def _osrm_pass(proc: subprocess.Popen, router: RoadRouter, publisher: StatePublisher,
               pairs: list[tuple[float, float, float, float]], block: int
               ) -> tuple[list[float], list[float], list[float], list[float], list[float]]:
    """One pass over ``pairs``: OSRM answers ``block`` pairs, then citynav the same ones.
    Returns (citynav wall, citynav CPU, OSRM wall, OSRM CPU, duration ratios)."""
    assert proc.stdin is not None and proc.stdout is not None
    ours_w, ours_c, osrm_w, osrm_c, dur = [], [], [], [], []
    for k0 in range(0, len(pairs), block):
        chunk = pairs[k0:k0 + block]
        for a, b, c, d in chunk:
            proc.stdin.write(json.dumps([b, a, d, c]) + "\n")
        proc.stdin.flush()
        answers = [json.loads(proc.stdout.readline()) for _ in chunk]
        for (a, b, c, d), o in zip(chunk, answers, strict=True):
            t, cpu = time.perf_counter(), time.thread_time()
            try:
                r = router.route(publisher.current(), "car", a, b, c, d)
            except RoutingError:
                continue
            cpu, wall = time.thread_time() - cpu, time.perf_counter() - t
            ours_w.append(wall)
            ours_c.append(cpu)
            osrm_w.append(o["wall_s"])
            osrm_c.append(o["cpu_s"])
            if o["duration_s"]:
                dur.append(r.duration_s / o["duration_s"])
    return ours_w, ours_c, osrm_w, osrm_c, dur


def _osrm_routes(name: str, router: RoadRouter, publisher: StatePublisher,
                 pairs: list[tuple[float, float, float, float]]) -> list[tuple[str, str]]:
    """citynav's full car answers and OSRM's in-process route answers (steps, full geometry;
    its own process) on the same pairs, alternating so both see the same machine load: after
    one untimed pass of both (warm caches and pages), pair by pair (each answer also runs
    right after the other engine's, in caches the other process just used), then in blocks
    of 25 pairs (OSRM answers a block, then citynav the same block). Wall and thread CPU
    time of each, and the car durations compared."""
    data = OSRM_DIR / f"{name}.osrm"
    if not OSRM_PY.exists() or not (OSRM_DIR / f"{name}.osrm.hsgr").exists():
        return [("OSRM route (in-process)", f"not run: set up var/osrm (venv with "
                 f"osrm-bindings on Python 3.12, {name}.osrm by osrm-extract + osrm-contract)")]
    proc = subprocess.Popen([str(OSRM_PY), str(REPO / "bench" / "osrm_route.py"), str(data)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    rows: list[tuple[str, str]] = []
    try:
        _osrm_pass(proc, router, publisher, pairs, 25)  # warm-up of both, untimed
        for block in (1, 25):
            ours_w, ours_c, osrm_w, osrm_c, dur = _osrm_pass(proc, router, publisher, pairs,
                                                             block)
            fw, fwp = stats_ms(ours_w)
            fc, fcp = stats_ms(ours_c)
            ow, owp = stats_ms(osrm_w)
            oc, ocp = stats_ms(osrm_c)
            how = "pair by pair" if block == 1 else f"in blocks of {block} pairs"
            rows += [
                (f"full car answer, alternating with OSRM {how}",
                 f"wall median {fw:.3f} ms p95 {fwp:.3f} ms; CPU median {fc:.3f} ms p95 "
                 f"{fcp:.3f} ms ({len(ours_w)} pairs)"),
                ("OSRM route in-process (same pairs)", f"wall median {ow:.3f} ms p95 {owp:.3f}"
                 f" ms; CPU median {oc:.3f} ms p95 {ocp:.3f} ms (steps + full geometry)"),
                ("  ratio citynav / OSRM", f"wall {fw / ow:.2f}×, CPU {fc / oc:.2f}× (medians)"),
                ("  car durations citynav / OSRM", f"{float(np.median(dur)):.2f}× (median over "
                                                   f"{len(dur)} pairs both answer)")]
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=60)
    return rows


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


def _incident_live(router: RoadRouter, k: int, edges: np.ndarray, closure: bool) -> LiveState:
    """A live state with one incident on ``edges``: closed to cars, or a 15 km/h limit with
    one of two lanes closed (×1.5), in force forever."""
    n = router.modes["car"].free_flow_ms.shape[0]
    m = edges.shape[0]
    length = np.asarray(router.modes["car"].arrays.edge_length_m, np.float64)[edges]
    min_ms = np.zeros(m, np.int64) if closure else np.ceil(length / (15 / 3.6) * 1000)
    tl = EffectTimeline.from_entries(
        n, edges, np.zeros(m, np.int32), np.full(m, closure), min_ms.astype(np.int64),
        np.full(m, 1.0 if closure else 1.5), np.zeros(m, np.int64), np.zeros(m, np.int64),
        np.full(m, FOREVER_MS, np.int64))
    inc_id = f"BENCH-{k}"
    info = IncidentInfo(inc_id, "closure" if closure else "slowdown", "high",
                        closed_modes=("car",) if closure else (), edge_counts={"car": m},
                        windows=((0, int(FOREVER_MS)),))
    return LiveState(seq=k, incidents={inc_id: info}, incident_ids=(inc_id,),
                     effects={"car": tl})


def _bulk_live(router: RoadRouter, k: int, rng: np.random.Generator) -> LiveState:
    """A live state that changes the whole network: 10 % of the car edges twice as slow and
    1 % closed (one effect entry per edge)."""
    n = router.modes["car"].free_flow_ms.shape[0]
    slow = np.flatnonzero(rng.random(n) < 0.1)
    closed = np.flatnonzero(rng.random(n) < 0.01)
    edges = np.concatenate([slow, closed])
    m = edges.shape[0]
    is_closed = np.zeros(m, bool)
    is_closed[slow.shape[0]:] = True
    factor = np.where(is_closed, 1.0, 2.0)
    tl = EffectTimeline.from_entries(
        n, edges, np.zeros(m, np.int32), is_closed, np.zeros(m, np.int64), factor,
        np.zeros(m, np.int64), np.zeros(m, np.int64), np.full(m, FOREVER_MS, np.int64))
    inc_id = f"BULK-{k}"
    info = IncidentInfo(inc_id, "congestion", "high", windows=((0, int(FOREVER_MS)),))
    return LiveState(seq=k, incidents={inc_id: info}, incident_ids=(inc_id,),
                     effects={"car": tl})


def _stretches(router: RoadRouter, state: RoutingState,
               pairs: list[tuple[float, float, float, float]], n: int,
               rng: np.random.Generator) -> list[np.ndarray]:
    """``n`` stretches of a few dozen consecutive car edges from the middle of routes."""
    out: list[np.ndarray] = []
    for p in pairs:
        if len(out) >= n:
            break
        try:
            r = router.route(state, "car", *p)
        except RoutingError:
            continue
        edges = np.unique(r.edges)  # a route may pass an edge twice (never in practice)
        if edges.shape[0] < INCIDENT_EDGES[0] + 10:
            continue
        size = int(rng.integers(INCIDENT_EDGES[0], INCIDENT_EDGES[1] + 1))
        size = min(size, r.edges.shape[0] - 10)
        start = int(rng.integers(5, r.edges.shape[0] - size - 4))
        out.append(np.unique(r.edges[start:start + size]))
    return out


def _diff_stats(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in after}


def bench_city(name: str, osm: Path, n_queries: int, n_nx: int, n_updates: int,
               cache: bool, n_all_modes: int = 20) -> None:
    snap_dir, build_s, cached = cached_snapshot(name, osm, cache=cache)
    gc.collect()
    rss0 = rss_mb()
    t = time.perf_counter()
    snapshot = load_snapshot(snap_dir)
    router = RoadRouter(snapshot, modes=("car",))
    publisher = StatePublisher(router, None, snapshot.timezone)
    load_s = time.perf_counter() - t
    meta = snapshot.meta
    state = publisher.current()
    pairs = _pairs(router, n_queries, seed=42)
    for p in pairs[:5]:  # JIT warm-up
        with contextlib.suppress(RoutingError):
            router.route(state, "car", *p)

    # Full answers: take the state (as a request does), snap, CCH query, path, geometry, steps.
    full, full_cpu, routed = [], [], []
    for p in pairs:
        t, cpu = time.perf_counter(), time.thread_time()
        try:
            router.route(publisher.current(), "car", *p)
        except RoutingError:
            continue
        full_cpu.append(time.thread_time() - cpu)
        full.append(time.perf_counter() - t)
        routed.append(p)
    rss_serving = rss_mb()

    # Per-request state acquisition: publisher.current() alone.
    reps = 200_000
    t = time.perf_counter()
    for _ in range(reps):
        publisher.current()
    acquire_s = (time.perf_counter() - t) / reps
    t = time.perf_counter()
    for _ in range(reps):
        pass
    acquire_s -= (time.perf_counter() - t) / reps

    # Kernel only: node-to-node travel time between the snapped endpoints' kernel nodes.
    car = router.modes["car"]
    metric = state.metric("car")
    heads = np.asarray(car.arrays.edge_head_knode)
    node_pairs = []
    for p in routed:
        s = router.snap(state, "car", p[0], p[1]).edges[0][0]
        d = router.snap(state, "car", p[2], p[3]).edges[0][0]
        node_pairs.append((int(heads[s]), int(car.arc_tail[car.edge_arc_offsets[d]])))
    kernel = []
    for s, d in node_pairs:
        t = time.perf_counter()
        metric.distance(s, d)
        kernel.append(time.perf_counter() - t)
    del metric, state

    # Live incident update: publish one incident (closure or slowdown on a stretch), the
    # previous one gone; pooled partial update vs full customization of the same weights.
    rng = np.random.default_rng(1)
    stretches = _stretches(router, publisher.current(), pairs[::-1], n_updates + POOL_SLOTS,
                           rng)
    kernel_obj = car.kernel
    inc_publish, inc_customize, inc_apply, inc_edges, inc_arcs = [], [], [], [], []
    checked = mismatched = 0
    warm0 = dict(kernel_obj.stats)
    for k, edges in enumerate(stretches[:POOL_SLOTS]):  # fill the pool (as a server has)
        publisher.publish(_incident_live(router, 10_000 + k, edges, closure=True))
    warm_stats = _diff_stats(warm0, kernel_obj.stats)
    stretches = stretches[POOL_SLOTS:]
    stats0 = dict(kernel_obj.stats)
    for k, edges in enumerate(stretches):
        live = _incident_live(router, k + 1, edges, closure=k % 2 == 0)
        prev = publisher.current().weights("car")
        t = time.perf_counter()
        st = publisher.publish(live)
        inc_publish.append(time.perf_counter() - t)
        inc_apply.append(publisher.last_apply_ms.get("car", float("nan")) / 1000.0)
        w = st.weights("car")
        inc_edges.append(int(edges.shape[0]))
        inc_arcs.append(int((prev[car.arc_edge] != w[car.arc_edge]).sum()))
        arc_w = car.arc_weights(w)
        t = time.perf_counter()
        full_metric = kernel_obj.customize(arc_w)
        inc_customize.append(time.perf_counter() - t)
        if k < 10:  # the pooled (partially updated) metric answers like the full one
            pooled = st.metric("car")
            for s, d in node_pairs[k * 20:(k + 1) * 20]:
                checked += 1
                mismatched += pooled.distance(s, d) != full_metric.distance(s, d)
            del pooled
        del st, full_metric, w
    inc_stats = _diff_stats(stats0, kernel_obj.stats)
    full_customizes = len(inc_customize)
    inc_stats["new"] -= full_customizes  # the kernel.customize calls of the comparison

    # Full weight vector: 10 % slowed, 1 % closed, through the publisher and customize().
    bulk_publish, bulk_customize = [], []
    stats0 = dict(kernel_obj.stats)
    for v in range(1, 11):
        live = _bulk_live(router, 1000 + v, rng)
        t = time.perf_counter()
        st = publisher.publish(live)
        bulk_publish.append(time.perf_counter() - t)
        arc_w = car.arc_weights(st.weights("car"))
        del st
        t = time.perf_counter()
        kernel_obj.customize(arc_w)
        bulk_customize.append(time.perf_counter() - t)
    bulk_stats = _diff_stats(stats0, kernel_obj.stats)
    bulk_stats["new"] -= len(bulk_customize)
    publisher.publish(LiveState(seq=0))
    metric = publisher.current().metric("car")

    # The same incidents published as a server does: a router and publisher of every mode
    # (weights of each mode at that instant; only car metrics change).
    all_router = RoadRouter(snapshot)
    all_pub = StatePublisher(all_router, None, snapshot.timezone)
    for k, edges in enumerate(stretches[:POOL_SLOTS]):
        all_pub.publish(_incident_live(all_router, 20_000 + k, edges, closure=True))
    all_publish = []
    for k, edges in enumerate(stretches[:n_all_modes]):
        live = _incident_live(all_router, 30_000 + k, edges, closure=k % 2 == 0)
        t = time.perf_counter()
        all_pub.publish(live)
        all_publish.append(time.perf_counter() - t)
    all_modes = ", ".join(f"{m} {mr.free_flow_ms.shape[0]:,}"
                          for m, mr in all_router.modes.items())
    del all_pub, all_router

    # Baseline: networkx Dijkstra on the same kernel graph and pairs (weights as in CCH).
    g = nx.DiGraph()
    arc_w = car.arc_weights(car.free_flow_ms)
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

    osrm_rows = _osrm_routes(name, router, publisher, routed)
    fm, fp = stats_ms(full)
    fcm, fcp = stats_ms(full_cpu)
    km, kp = stats_ms(kernel)
    bm, bp = stats_ms(base)
    ipm, ipp = stats_ms(inc_publish)
    iam, iap = stats_ms(inc_apply)
    icm, icp = stats_ms(inc_customize)
    apm, app = stats_ms(all_publish)
    bpm, bpp = stats_ms(bulk_publish)
    bcm, bcp = stats_ms(bulk_customize)
    p0 = routed[0] if routed else pairs[0]  # what the served workers answer before measuring
    served = serving_memory(snap_dir, (f"{p0[0]:.6f},{p0[1]:.6f}", f"{p0[2]:.6f},{p0[3]:.6f}"),
                            workers=2)
    built = f"{build_s:.1f} s" + (" (cached snapshot; measured when built)" if cached else "")
    print_table(f"{name}: {osm.name}", [
        ("road junctions / car edges", f"{meta['counts']['junctions']:,} / "
                                       f"{meta['counts']['car_edges']:,}"),
        ("build (all modes)", built),
        ("snapshot size", f"{meta['size_bytes'] / 1e6:.1f} MB"),
        ("load (car router + publisher)", f"{load_s:.2f} s"),
        ("RSS serving (car)", f"{rss_serving:.0f} MB (process before load {rss0:.0f} MB)"),
        *[(f"serve --workers 2: {role}", memory_row(m))
          for role in ("parent", "workers") for m in served[role]],
        ("serve --workers 2: total PSS", f"{sum(m['pss'] for v in served.values() for m in v):.0f}"
                                         " MB (parent: the city loaded once, shared by the "
                                         "forked workers; USS: a process's own pages)"),
        ("queries routed", f"{len(full)} of {len(pairs)}"),
        ("full car answer (incl. state)", f"median {fm:.3f} ms  p95 {fp:.3f} ms (CPU median "
                                          f"{fcm:.3f} ms  p95 {fcp:.3f} ms)"),
        ("state acquisition (current())", f"{acquire_s * 1e9:.0f} ns per request "
                                          f"({acquire_s * 1e3 / fm:.4%} of the median answer)"),
        ("kernel travel time", f"median {km * 1000:.1f} µs  p95 {kp * 1000:.1f} µs"),
        ("networkx Dijkstra (same pairs)", f"median {bm:.2f} ms  p95 {bp:.2f} ms  "
                                           f"({len(base)} pairs, {mismatches} mismatches)"),
        ("ratio networkx / kernel", f"{bm / km:,.0f}× (median)"),
        ("ratio networkx / full answer", f"{bm / fm:,.0f}× (median)"),
        ("incident update: publish()", f"median {ipm:.2f} ms  p95 {ipp:.2f} ms  "
                                       f"({len(inc_publish)} incidents, closure/slowdown "
                                       f"alternating, {int(np.median(inc_edges))} edges / "
                                       f"{int(np.median(inc_arcs))} arcs changed (median))"),
        ("  of which pooled customize", f"median {iam:.2f} ms  p95 {iap:.2f} ms"),
        ("  kernel.customize same weights", f"median {icm:.2f} ms  p95 {icp:.2f} ms"),
        ("  ratio full / publish", f"{icm / ipm:.1f}× (median; full / pooled customize "
                                   f"{icm / iam:.1f}×)"),
        ("  kernel.stats during publishes", f"{inc_stats}  (pooled = full on "
                                            f"{checked - mismatched}/{checked} distances; "
                                            f"pool warm-up before: {warm_stats})"),
        ("  publish() with every mode", f"median {apm:.2f} ms  p95 {app:.2f} ms  "
                                        f"({len(all_publish)} incidents; edges: {all_modes})"),
        ("full weight vector: publish()", f"median {bpm:.1f} ms  p95 {bpp:.1f} ms  "
                                          f"(10 % slowed, 1 % closed; stats {bulk_stats})"),
        ("  kernel.customize same weights", f"median {bcm:.1f} ms  p95 {bcp:.1f} ms"),
        *osrm_rows,
    ])
    if not cache:  # a temporary build
        shutil.rmtree(snap_dir.parent, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer queries and updates")
    ap.add_argument("--city", default="all", choices=["all", *CITIES])
    ap.add_argument("--cache", action="store_true",
                    help="reuse snapshots cached under var/bench/ (build when stale)")
    args = ap.parse_args()
    n_q, n_nx, n_upd, n_all = (300, 50, 20, 10) if args.quick else (2000, 200, 60, 30)
    for name, path in CITIES.items():
        if args.city not in ("all", name):
            continue
        if not path.exists():
            print(f"skipping {name}: {path} not found")
            continue
        bench_city(name, path, n_q, n_nx, n_upd, args.cache, n_all)


if __name__ == "__main__":
    main()
