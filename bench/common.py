"""Shared helpers for benchmarks: timing statistics and table printing."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np


def timed(fn: Callable[[], object], repeat: int = 1) -> float:
    """Seconds for one call of ``fn`` (the best of ``repeat``)."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def stats_ms(samples_s: Sequence[float]) -> tuple[float, float]:
    """(median, p95) in milliseconds."""
    a = np.asarray(samples_s) * 1000.0
    return float(np.median(a)), float(np.percentile(a, 95))


def rss_mb() -> float:
    """Resident set size of this process in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def smaps_mb(pid: int | str = "self") -> dict[str, float]:
    """Memory of a process from ``/proc/PID/smaps_rollup`` in MB: ``rss``, ``pss`` (pages
    shared with other processes divided among them), ``private_dirty`` (the process's own
    heap), ``anon`` and ``file`` (file-backed RSS: shared libraries, memory-mapped snapshot
    pages — shared by every worker serving the same snapshot)."""
    import re

    text = Path(f"/proc/{pid}/smaps_rollup").read_text()

    def kb(key: str) -> float:
        m = re.search(rf"^{key}:\s+(\d+) kB", text, re.M)
        return int(m.group(1)) / 1024.0 if m else float("nan")

    rss, anon = kb("Rss"), kb("Anonymous")
    return {"rss": rss, "pss": kb("Pss"), "private_dirty": kb("Private_Dirty"), "anon": anon,
            "file": rss - anon}


#: A serving worker in a process of its own: the app's start (lifespan: snapshot, every
#: mode, warm-up, store, engine), then routes of every mode; prints smaps_mb() as JSON.
_WORKER = """
import asyncio, json, sys
sys.path.insert(0, sys.argv[3])
from api.app import create_app
from bench.common import smaps_mb

app = create_app(sys.argv[1], db_url=sys.argv[2])

async def main():
    async with app.router.lifespan_context(app):
        svc = app.state.service
        st = svc.state()
        lat = float(svc.snapshot.node_lat[len(svc.snapshot.node_lat) // 2])
        lon = float(svc.snapshot.node_lon[len(svc.snapshot.node_lon) // 2])
        for mode in svc.road.modes:
            for k in range(20):
                try:
                    svc.road.route(st, mode, lat, lon, lat + 0.002 * k, lon - 0.002 * k)
                except Exception:
                    pass
        print(json.dumps(smaps_mb()))

asyncio.run(main())
"""


def serving_worker_memory(snapshot_dir: Path) -> dict[str, float]:
    """:func:`smaps_mb` of a fresh process serving ``snapshot_dir`` as one worker of
    ``citynav serve`` does (its own SQLite store in a temporary directory)."""
    import json
    import subprocess
    import sys
    import tempfile

    repo = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="citynav-bench-worker-") as tmp:
        out = subprocess.run([sys.executable, "-c", _WORKER, str(snapshot_dir),
                              f"sqlite:///{tmp}/w.db", str(repo)], capture_output=True,
                             text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def print_table(title: str, rows: list[tuple[str, str]]) -> None:
    """Print a two-column table."""
    width = max(len(r[0]) for r in rows) + 2
    print(f"\n== {title} ==")
    for k, v in rows:
        print(f"  {k:<{width}}{v}")


def percentiles_row(samples_s: Sequence[float], unit: str = "ms") -> str:
    """``median … p95 …`` in ms (or µs with ``unit="µs"``)."""
    if len(samples_s) == 0:
        return "no samples"
    m, p = stats_ms(samples_s)
    if unit == "µs":
        return f"median {m * 1000:.1f} µs  p95 {p * 1000:.1f} µs"
    return f"median {m:.2f} ms  p95 {p:.2f} ms"


#: Code whose changes can change what a build writes (part of the snapshot cache key).
_BUILD_CODE = ("routing/build.py", "routing/graph.py", "routing/osm.py", "routing/profiles.py",
               "routing/snapshot.py", "routing/transit_build.py", "routing/labels.py",
               "routing/typical.py", "routing/conditional.py", "gtfs/compile.py")


def cached_snapshot(name: str, osm: Path, gtfs: Sequence[Path] = (),
                    traffic: Path | None = None, cache: bool = True
                    ) -> tuple[Path, float, bool]:
    """A snapshot of these sources. With ``cache``: under ``var/bench/<name>`` (git-ignored),
    built when missing or stale (sources, build version or build code changed); without:
    freshly built into a temporary directory.

    Returns (snapshot dir, build seconds — measured now, or recorded when it was built —,
    True when it came from the cache)."""
    import hashlib
    import json
    import tempfile

    from routing.build import build_snapshot
    from routing.snapshot import BUILD_VERSION

    if not cache:
        snap = Path(tempfile.mkdtemp(prefix=f"citynav-bench-{name}-")) / "snap"
        t = time.perf_counter()
        build_snapshot(osm, snap, list(gtfs), traffic_path=traffic)
        return snap, time.perf_counter() - t, False
    repo = Path(__file__).resolve().parent.parent
    h = hashlib.sha256(BUILD_VERSION.encode())
    for p in (osm, *gtfs, *([traffic] if traffic else [])):
        h.update(str(p).encode())
        h.update(hashlib.sha256(Path(p).read_bytes()).digest())
    for rel in _BUILD_CODE:
        f = repo / rel
        if f.exists():
            h.update(f.read_bytes())
    key = h.hexdigest()
    root = repo / "var" / "bench" / name
    snap, info = root / "snap", root / "bench-cache.json"
    if info.exists() and (snap / "meta.json").exists():
        doc = json.loads(info.read_text())
        if doc.get("key") == key:
            return snap, float(doc["build_s"]), True
    root.mkdir(parents=True, exist_ok=True)
    info.unlink(missing_ok=True)
    t = time.perf_counter()
    build_snapshot(osm, snap, list(gtfs), traffic_path=traffic)
    build_s = time.perf_counter() - t
    info.write_text(json.dumps({"key": key, "build_s": build_s}))
    return snap, build_s, False
