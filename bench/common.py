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
    heap), ``uss`` (unique set: the pages no other process maps, what stopping it frees),
    ``anon`` and ``file`` (file-backed RSS: shared libraries, memory-mapped snapshot
    pages — shared by every worker serving the same snapshot)."""
    import re

    text = Path(f"/proc/{pid}/smaps_rollup").read_text()

    def kb(key: str) -> float:
        m = re.search(rf"^{key}:\s+(\d+) kB", text, re.M)
        return int(m.group(1)) / 1024.0 if m else float("nan")

    rss, anon = kb("Rss"), kb("Anonymous")
    return {"rss": rss, "pss": kb("Pss"), "uss": kb("Private_Clean") + kb("Private_Dirty"),
            "private_dirty": kb("Private_Dirty"), "anon": anon, "file": rss - anon}


def serving_memory(snapshot_dir: Path, points: tuple[str, str], workers: int = 2,
                   modes: Sequence[str] = ("car", "bike", "walk", "bus", "truck"),
                   ) -> dict[str, list[dict[str, float]]]:
    """:func:`smaps_mb` of ``citynav serve --workers N`` on ``snapshot_dir`` (its own SQLite
    store in a temporary directory) once every worker has answered routes of every mode
    between ``points`` (``"lat,lon"`` each): ``{"parent": [...], "workers": [...]}`` (the
    pre-fork parent that loaded the city, then each worker)."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import tempfile
    import urllib.request

    repo = Path(__file__).resolve().parent.parent
    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0))
        port = int(sk.getsockname()[1])
    base = f"http://127.0.0.1:{port}"

    def get(path: str) -> bytes:
        try:
            with urllib.request.urlopen(base + path, timeout=60) as r:
                return bytes(r.read())
        except Exception:  # noqa: BLE001 - not up yet, no route for this mode
            return b""

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(repo), *filter(None, [os.environ.get("PYTHONPATH")])])}
    with tempfile.TemporaryDirectory(prefix="citynav-bench-serve-") as tmp:
        proc = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--snapshot", str(snapshot_dir),
             "--port", str(port), "--workers", str(workers), "--quotas", "off",
             "--db", f"sqlite:///{tmp}/w.db", "--no-access-log"], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.monotonic() + 600
            seen: set[int] = set()
            while len(seen) < workers:  # fresh connections until every worker answered
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("citynav serve did not come up")
                body = get("/v1/ready")
                if body:
                    import json

                    seen.add(int(json.loads(body)["worker"]))
                else:
                    time.sleep(0.1)
            for mode in modes:
                for _ in range(4 * workers):
                    get(f"/v1/route?from={points[0]}&to={points[1]}&mode={mode}")
            time.sleep(0.5)
            kids = subprocess.run(["ps", "-o", "pid=", "--ppid", str(proc.pid)],
                                  capture_output=True, text=True, check=False).stdout.split()
            return {"parent": [smaps_mb(proc.pid)],
                    "workers": [smaps_mb(int(k)) for k in kids]}
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def memory_row(m: dict[str, float]) -> str:
    """RSS, PSS, USS and file-backed RSS of one :func:`smaps_mb` result."""
    return (f"RSS {m['rss']:5.0f} MB  PSS {m['pss']:5.0f} MB  USS {m['uss']:5.0f} MB  "
            f"file-backed {m['file']:5.0f} MB")


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
