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
