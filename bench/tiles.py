"""Vector tile speed: time to make a tile (cold, nothing cached) and to serve it again (warm,
from the per-snapshot cache), median and p95 per zoom 12–16, over the bundled city (northern
Kentucky with its TANK timetable) and Porto (roads only, /work/shared/data/roads).

Tiles are those covering the network's bounding box at each zoom (a seeded sample of at most
``--tiles`` per zoom). The ratio is cold p95 against the 20 ms target and warm against cold.

    .venv/bin/python bench/tiles.py [--tiles 60] [--cities nky,porto]
"""

from __future__ import annotations

import argparse
import math
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


def bench_city(city: str, n_tiles: int) -> list[tuple[str, str]]:
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
    rows = [(f"{city} source set-up", f"{setup_s * 1000:.0f} ms "
             f"(layers: {', '.join(source.layers)})")]
    rng = np.random.default_rng(7)
    for z in range(12, 17):
        tiles = _tiles_over(snap.bbox, z, n_tiles, rng)
        cold, warm, sizes = [], [], []
        for key in tiles:
            t = time.perf_counter()
            data = source.tile(*key)
            cold.append(time.perf_counter() - t)
            sizes.append(len(data))
        for key in tiles:
            t = time.perf_counter()
            source.tile(*key)
            warm.append(time.perf_counter() - t)
        cm, cp = stats_ms(cold)
        wm, wp = stats_ms(warm)
        rows.append((f"{city} z{z} ({len(tiles)} tiles)",
                     f"cold median {cm:.1f} ms p95 {cp:.1f} ms (p95/target "
                     f"{cp / TARGET_P95_MS:.2f}) | warm median {wm * 1000:.0f} µs p95 "
                     f"{wp * 1000:.0f} µs (cold/warm p95 {cp / max(wp, 1e-6):.0f}×) | "
                     f"median {np.median(sizes) / 1024:.1f} KiB max "
                     f"{max(sizes) / 1024:.1f} KiB"))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tiles", type=int, default=60, help="tiles sampled per zoom")
    ap.add_argument("--cities", default="nky,porto")
    args = ap.parse_args()
    rows: list[tuple[str, str]] = []
    for city in args.cities.split(","):
        rows += bench_city(city.strip(), args.tiles)
    print_table(f"vector tiles (target p95 ≤ {TARGET_P95_MS:.0f} ms)", rows)


if __name__ == "__main__":
    main()
