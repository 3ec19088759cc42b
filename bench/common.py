"""Shared helpers for benchmarks: timing statistics and table printing."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

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
