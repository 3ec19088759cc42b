"""Vector tile speed: time to make a tile (cold, nothing cached) and to serve it again (warm,
from the per-snapshot cache), median and p95 per zoom 12–16, over the bundled city (northern
Kentucky with its TANK timetable) and Porto (roads only, /work/shared/data/roads).

Tiles are those covering the network's bounding box at each zoom (a seeded sample of at most
``--tiles`` per zoom). The ratio is cold p95 against the 20 ms target and warm against cold.
Cold tiles are timed on the wall clock and in CPU time of the process (``time.process_time``,
less disturbed by other work on a shared machine); the load average is printed with them.
As ``citynav serve`` does, everything loaded is moved out of the garbage collector's full
passes (``gc.freeze``) before timing (``--no-freeze`` leaves it). ``--gap-ms`` pauses between
tiles, as requests arriving one by one leave a server idle between them: on a loaded machine a
process that never sleeps is preempted more often, which shows in the wall-clock p95 of tiles
that take a millisecond of CPU.

    .venv/bin/python bench/tiles.py [--tiles 60] [--cities nky,porto] [--no-freeze] [--gap-ms 0]
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import cached_snapshot, print_table, stats_ms  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
TARGET_P95_MS = 20.0


def _tiles_over(bbox: tuple[float, float, float, float], z: int, k: int,
                rng: np.random.Generator) -> list[tuple[int, int, int]]:
    w, s, e, n = bbox
    size = 2 ** z

    def col(lon: float) -> int:
        return min(size - 1, int((lon + 180) / 360 * size))

    def row(lat: float) -> int:
        r = math.radians(lat)
        return min(size - 1, int((1 - math.asinh(math.tan(r)) / math.pi) / 2 * size))

    xs = range(col(w), col(e) + 1)
    ys = range(row(n), row(s) + 1)
    all_tiles = [(z, x, y) for x in xs for y in ys]
    if len(all_tiles) > k:
        idx = rng.choice(len(all_tiles), size=k, replace=False)
        all_tiles = [all_tiles[i] for i in sorted(idx)]
    return all_tiles


def _snapshot(city: str) -> Path:
    if city == "nky":
        d = ROOT / "data"
        snap, build_s, cached = cached_snapshot(
            "nky", d / "northern-kentucky" / "nky_streets.osm.pbf",
            [d / "northern-kentucky" / "nky_tank_gtfs.zip"],
            traffic=d / "traffic" / "nky_sample_observations.csv")
    else:
        pbf = SHARED / "roads" / "porto_portugal.osm.pbf"
        if not pbf.is_file():
            raise SystemExit(f"missing {pbf}")
        snap, build_s, cached = cached_snapshot("porto", pbf)
    print(f"  {city}: snapshot {'cached' if cached else 'built'} ({build_s:.1f} s build)")
    return snap


def bench_city(city: str, n_tiles: int, freeze: bool = True, gap_s: float = 0.0
               ) -> list[tuple[str, str]]:
    from gtfs.timetable import Timetable
    from routing.plan import TransitData
    from routing.snapshot import load_snapshot
    from routing.tiles import VectorTiles

    snap_dir = _snapshot(city)
    snap = load_snapshot(snap_dir)
    tt: Timetable | None = None
    transit = TransitData.load(snap_dir)
    if transit is not None:
        tt = transit.tt
    t = time.perf_counter()
    source = VectorTiles(snap, tt, cache_tiles=100_000)
    setup_s = time.perf_counter() - t
    if freeze:
        gc.collect()
        gc.freeze()
    rows = [(f"{city} source set-up", f"{setup_s * 1000:.0f} ms "
             f"(layers: {', '.join(source.layers)})")]
    rng = np.random.default_rng(7)
    for z in range(12, 17):
        tiles = _tiles_over(snap.bbox, z, n_tiles, rng)
        cold, cold_cpu, warm, sizes = [], [], [], []
        for key in tiles:
            if gap_s:
                time.sleep(gap_s)
            c = time.process_time()
            t = time.perf_counter()
            data = source.tile(*key)
            cold.append(time.perf_counter() - t)
            cold_cpu.append(time.process_time() - c)
            sizes.append(len(data))
        for key in tiles:
            t = time.perf_counter()
            source.tile(*key)
            warm.append(time.perf_counter() - t)
        cm, cp = stats_ms(cold)
        um, up = stats_ms(cold_cpu)
        wm, wp = stats_ms(warm)
        rows.append((f"{city} z{z} ({len(tiles)} tiles)",
                     f"cold median {cm:.1f} ms p95 {cp:.1f} ms (p95/target "
                     f"{cp / TARGET_P95_MS:.2f}; CPU median {um:.2f} ms p95 {up:.2f} ms) | "
                     f"warm median {wm * 1000:.0f} µs p95 "
                     f"{wp * 1000:.0f} µs (cold/warm p95 {cp / max(wp, 1e-6):.0f}×) | "
                     f"median {np.median(sizes) / 1024:.1f} KiB max "
                     f"{max(sizes) / 1024:.1f} KiB"))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tiles", type=int, default=60, help="tiles sampled per zoom")
    ap.add_argument("--cities", default="nky,porto")
    ap.add_argument("--no-freeze", action="store_true",
                    help="leave the loaded data to the garbage collector's full passes")
    ap.add_argument("--gap-ms", type=float, default=0.0,
                    help="pause before each cold tile (requests arriving one by one)")
    args = ap.parse_args()
    rows: list[tuple[str, str]] = []
    load_before = os.getloadavg()
    for city in args.cities.split(","):
        rows += bench_city(city.strip(), args.tiles, not args.no_freeze, args.gap_ms / 1000)
    load_after = os.getloadavg()
    rows.append(("load average (1, 5, 15 min)",
                 f"before {' '.join(f'{v:.2f}' for v in load_before)} | after "
                 f"{' '.join(f'{v:.2f}' for v in load_after)} ({os.cpu_count()} CPUs)"))
    print_table(f"vector tiles (target p95 ≤ {TARGET_P95_MS:.0f} ms; gap {args.gap_ms:g} ms, "
                f"gc {'not ' if args.no_freeze else ''}frozen)", rows)


if __name__ == "__main__":
    main()
