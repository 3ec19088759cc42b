"""Incident benchmark against a real ``citynav serve`` process on northern Kentucky.

    python bench/incidents.py [--quick] [--seed N]

(a) time from the start of a write to the first ``/v1/route`` answer that reflects it, for
    closures on distinct stretches of random car routes: written through the API
    (``POST /v1/incidents``, synchronous apply) and written by another process straight into
    the store (picked up by the server's background engine); polled immediately, no sleeps
    (direct writes start at a random moment, so they do not lock onto the engine's polling);
(b) sustained incident writes per second: one sequential client, then 4 concurrent clients
    (each phase on a fresh database);
(c) plain ``GET /v1/route`` latency in the same run, to say how many route queries one write
    costs.

Prints median and p95 per figure. Targets: write → reflected p95 ≤ 1 s (aim ≤ 200 ms).
The server is stopped on exit, also after errors, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.service import default_db_url  # noqa: E402
from bench.common import print_table, stats_ms  # noqa: E402
from incidents.keys import create_key  # noqa: E402
from incidents.store import open_store  # noqa: E402
from routing.build import build_snapshot  # noqa: E402
from routing.snapshot import load_snapshot  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
NKY = REPO / "data" / "northern-kentucky"
OSM, GTFS = NKY / "nky_streets.osm.pbf", NKY / "nky_tank_gtfs.zip"
AGENCY = "KYTC"
REFLECT_TIMEOUT_S = 10.0


# ------------------------------------------------------------------------------ server
class Server:
    """``python -m api.cli serve`` in a subprocess on a free port; :meth:`stop` is idempotent
    and also registered with :mod:`atexit`."""

    def __init__(self, snapshot: Path) -> None:
        self.snapshot = snapshot
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = Path(tempfile.mkstemp(prefix="citynav-bench-server-", suffix=".log")[1])
        self.url = ""
        atexit.register(self.stop)

    def start(self, timeout_s: float = 120.0) -> float:
        """Start and wait until healthy; returns the start-up time in seconds."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        self.url = f"http://127.0.0.1:{port}"
        t0 = time.perf_counter()
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "api.cli", "serve", "--snapshot", str(self.snapshot),
                 "--port", str(port)], cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited ({self.proc.returncode}):\n{self.tail()}")
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=1.0).status_code == 200:
                    return time.perf_counter() - t0
            except httpx.HTTPError:
                pass
            if time.perf_counter() - t0 > timeout_s:
                raise TimeoutError(f"server not healthy after {timeout_s} s:\n{self.tail()}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Terminate the server (kill after 10 s)."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def tail(self, n: int = 3000) -> str:
        """The end of the server log."""
        return self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""


def fresh_database(snapshot: Path) -> tuple[str, str]:
    """Delete the incident database beside ``snapshot``; return (store URL, new writer key)."""
    url = default_db_url(snapshot)
    path = Path(url.removeprefix("sqlite:///"))
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    store = open_store(url)
    try:
        return url, create_key(store, "traffic_centre", AGENCY)
    finally:
        store.close()


# ------------------------------------------------------------------------------ helpers
def closure(coords: list[list[float]], n: int = 0) -> dict[str, Any]:
    """A car closure on a LineString of ``[lon, lat]`` positions."""
    return {"type": "closure", "severity": "high", "start": "2020-01-01T00:00:00Z",
            "geometry": {"type": "LineString", "coordinates": coords}, "direction": "both",
            "road_effect": {"closed_to": ["car"]}, "description": {"en": f"bench closure {n}"}}


@dataclass
class Trip:
    """A random car route and a stretch of it to close."""

    frm: str
    to: str
    duration_s: float
    stretch: list[list[float]]

    def params(self) -> dict[str, str]:
        """Query parameters of ``GET /v1/route``."""
        return {"from": self.frm, "to": self.to, "mode": "car"}


def reflected(r: httpx.Response, inc_id: str) -> bool:
    """The route answer shows the incident: named in the explanation, or the closure cut the
    only connection (404)."""
    if r.status_code == 404:
        return True
    if r.status_code != 200:
        raise RuntimeError(f"route failed: {r.status_code} {r.text[:300]}")
    expl = r.json()["routes"][0].get("explanation") or {}
    return inc_id in expl.get("avoided", []) or inc_id in expl.get("incidents", [])


def random_trips(client: httpx.Client, snapshot: Path, n: int, seed: int) -> list[Trip]:
    """``n`` car routes between random network nodes (≥ 2 km, ≥ 20 vertices) with pairwise
    distinct 6-vertex stretches from their middle third."""
    snap = load_snapshot(snapshot)
    lat, lon = np.asarray(snap.node_lat), np.asarray(snap.node_lon)
    rng = np.random.default_rng(seed)
    trips: list[Trip] = []
    used: set[tuple[float, float]] = set()
    attempts = 0
    while len(trips) < n and attempts < n * 30:
        attempts += 1
        a, b = rng.integers(0, lat.shape[0], size=2)
        frm, to = f"{lat[a]:.6f},{lon[a]:.6f}", f"{lat[b]:.6f},{lon[b]:.6f}"
        r = client.get("/v1/route", params={"from": frm, "to": to, "mode": "car"})
        if r.status_code != 200:
            continue
        route = r.json()["routes"][0]
        coords = route["geometry"]["coordinates"]
        if route["distance_m"] < 2000 or len(coords) < 20:
            continue
        i = int(rng.integers(len(coords) // 3, 2 * len(coords) // 3))
        stretch = coords[i: i + 6]
        cells = {(round(x, 3), round(y, 3)) for x, y in stretch}  # ~100 m cells
        if len(stretch) < 6 or cells & used:
            continue
        used |= cells
        trips.append(Trip(frm, to, route["duration_s"], stretch))
    if len(trips) < n:
        raise RuntimeError(f"only {len(trips)} usable random routes after {attempts} tries")
    return trips


def wait_reflected(client: httpx.Client, trip: Trip, inc_id: str, t0: float) -> float | None:
    """Poll the route immediately and repeatedly; seconds since ``t0`` at the first answer
    that reflects ``inc_id`` (``None`` after :data:`REFLECT_TIMEOUT_S`)."""
    while True:
        r = client.get("/v1/route", params=trip.params())
        now = time.perf_counter()
        if reflected(r, inc_id):
            return now - t0
        if now - t0 > REFLECT_TIMEOUT_S:
            return None


def resolve(client: httpx.Client, inc_id: str, etag: str = '"1"') -> None:
    """Resolve through the API (in effect when it returns)."""
    r = client.patch(f"/v1/incidents/{inc_id}", json={"status": "resolved"},
                     headers={"If-Match": etag})
    if r.status_code != 200:
        raise RuntimeError(f"resolve {inc_id}: {r.status_code} {r.text[:300]}")


# ------------------------------------------------------------------------------ phases
@dataclass
class Propagation:
    """Write → first reflecting route, per path."""

    api: list[float] = field(default_factory=list)
    api_post: list[float] = field(default_factory=list)
    api_first_route_hit: int = 0
    direct: list[float] = field(default_factory=list)
    direct_write: list[float] = field(default_factory=list)
    missed: int = 0
    used_trips: list[Trip] = field(default_factory=list)


def bench_propagation(client: httpx.Client, store_url: str, trips: list[Trip]) -> Propagation:
    """(a): closures through the API, then written by this process into the store."""
    out = Propagation()
    for n, trip in enumerate(trips):
        t0 = time.perf_counter()
        r = client.post("/v1/incidents", json=closure(trip.stretch, n))
        t_post = time.perf_counter() - t0
        if r.status_code != 201:
            raise RuntimeError(f"POST failed: {r.status_code} {r.text[:300]}")
        inc_id = r.json()["id"]
        first = client.get("/v1/route", params=trip.params())
        took = time.perf_counter() - t0 if reflected(first, inc_id) else None
        if took is not None:
            out.api_first_route_hit += 1
        else:
            took = wait_reflected(client, trip, inc_id, t0)
        if took is None:
            out.missed += 1  # e.g. a stretch the matcher put on a parallel road only
        else:
            out.api.append(took)
            out.api_post.append(t_post)
            out.used_trips.append(trip)
        resolve(client, inc_id, r.headers["ETag"])

    store = open_store(store_url)  # this process is "another process" for the server
    rng = np.random.default_rng(len(trips))
    try:
        for n, trip in enumerate(out.used_trips):
            # The engine polls the store every 0.5 s. Writing right after the previous
            # sample would lock onto its phase (every write just after a poll); a random
            # pause first makes the write time uniform over the poll period.
            time.sleep(float(rng.uniform(0.0, 0.6)))
            t0 = time.perf_counter()
            inc = store.create(closure(trip.stretch, 10_000 + n), "bench-importer",
                               agency=AGENCY)
            out.direct_write.append(time.perf_counter() - t0)
            took = wait_reflected(client, trip, inc.id, t0)
            if took is None:
                out.missed += 1
            else:
                out.direct.append(took)
            resolve(client, inc.id)
    finally:
        store.close()
    return out


@dataclass
class Throughput:
    """Sustained writes."""

    writes: int
    seconds: float
    errors: int
    latencies: list[float]
    active_at_end: int

    @property
    def per_s(self) -> float:
        """Successful writes per second."""
        return self.writes / self.seconds


def bench_writes(url: str, key: str, trips: list[Trip], seconds: float,
                 threads: int) -> Throughput:
    """(b): POST closures as fast as possible for ``seconds`` from ``threads`` clients."""
    lock = threading.Lock()
    lat: list[float] = []
    counts = {"ok": 0, "err": 0}
    start = threading.Barrier(threads + 1)
    deadline = [0.0]

    def worker(k: int) -> None:
        mine: list[float] = []
        ok = err = 0
        with httpx.Client(base_url=url, timeout=60,
                          headers={"Authorization": f"Bearer {key}"}) as c:
            c.get("/v1/health")
            start.wait()
            i = k
            while time.perf_counter() < deadline[0]:
                t = time.perf_counter()
                r = c.post("/v1/incidents", json=closure(trips[i % len(trips)].stretch, i))
                if r.status_code == 201:
                    ok += 1
                    mine.append(time.perf_counter() - t)
                else:
                    err += 1
                i += threads
        with lock:
            lat.extend(mine)
            counts["ok"] += ok
            counts["err"] += err

    pool = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(threads)]
    for t in pool:
        t.start()
    deadline[0] = time.perf_counter() + seconds
    t0 = time.perf_counter()
    start.wait()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - t0
    with httpx.Client(base_url=url, timeout=60) as c:
        feats = c.get("/v1/incidents", params={"status": "active", "limit": 1000}).json()
    return Throughput(counts["ok"], elapsed, counts["err"], lat, len(feats["features"]))


def bench_routes(client: httpx.Client, trips: list[Trip], repeat: int) -> list[float]:
    """(c): plain ``GET /v1/route`` latencies over the trips (nothing in effect)."""
    out = []
    for _ in range(repeat):
        for trip in trips:
            t = time.perf_counter()
            r = client.get("/v1/route", params=trip.params())
            out.append(time.perf_counter() - t)
            if r.status_code != 200:
                raise RuntimeError(f"route failed: {r.status_code} {r.text[:300]}")
    return out


# ------------------------------------------------------------------------------ report
def fmt(samples: list[float], unit: str = "ms") -> str:
    """``median … p95 …`` in ms."""
    if not samples:
        return "no samples"
    m, p = stats_ms(samples)
    return f"median {m:7.1f} {unit}   p95 {p:7.1f} {unit}   (n={len(samples)})"


def verdict(samples: list[float], target_ms: float = 1000.0, aim_ms: float = 200.0) -> str:
    """Target check on the p95."""
    if not samples:
        return "n/a"
    p95 = stats_ms(samples)[1]
    if p95 <= aim_ms:
        return f"meets target (p95 ≤ {target_ms:.0f} ms) and aim (≤ {aim_ms:.0f} ms)"
    if p95 <= target_ms:
        return f"meets target (p95 ≤ {target_ms:.0f} ms), misses aim (≤ {aim_ms:.0f} ms)"
    return f"MISSES target (p95 ≤ {target_ms:.0f} ms)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="15 closures, 5 s write phases")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    n_closures, write_s = (15, 5.0) if args.quick else (50, 10.0)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run finally/atexit on SIGTERM
    tmp = Path(tempfile.mkdtemp(prefix="citynav-bench-incidents-"))
    snap = tmp / "nky"
    t = time.perf_counter()
    build_snapshot(OSM, snap, [GTFS])
    build_s = time.perf_counter() - t
    server = Server(snap)
    try:
        store_url, key = fresh_database(snap)
        startup_s = server.start()
        auth = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=server.url, headers=auth, timeout=60) as client:
            trips = random_trips(client, snap, n_closures, args.seed)
            routes = bench_routes(client, trips, repeat=max(3, 300 // len(trips)))
            prop = bench_propagation(client, store_url, trips)
            routes += bench_routes(client, trips, repeat=1)  # still free flow afterwards
        server.stop()

        throughput: dict[int, Throughput] = {}
        for threads in (1, 4):
            store_url, key = fresh_database(snap)
            server.start()
            throughput[threads] = bench_writes(server.url, key, trips, write_s, threads)
            server.stop()
    except BaseException:
        log = server.tail()
        server.stop()
        if log:
            print(f"--- server log (tail) ---\n{log}", file=sys.stderr)
        raise
    finally:
        server.stop()
        server.log.unlink(missing_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)

    route_med = stats_ms(routes)[0]
    rows = [
        ("snapshot build (roads + GTFS)", f"{build_s:.1f} s"),
        ("server start-up", f"{startup_s:.1f} s"),
        ("random car routes / closures", f"{len(trips)} routes, {len(prop.api)} closures "
                                         f"reflected, {prop.missed} not within "
                                         f"{REFLECT_TIMEOUT_S:.0f} s"),
        ("(c) GET /v1/route (baseline)", fmt(routes)),
        ("(a) API: POST → reflecting route", fmt(prop.api)),
        ("    target", verdict(prop.api)),
        ("    POST alone (write + apply)", fmt(prop.api_post)),
        ("    first route already shows it", f"{prop.api_first_route_hit} of "
                                             f"{len(prop.api) + prop.missed}"),
        ("(a) other process → store → route", fmt(prop.direct)),
        ("    target", verdict(prop.direct)),
        ("    store.create alone", fmt(prop.direct_write)),
    ]
    for threads, tp in throughput.items():
        label = "1 client (sequential)" if threads == 1 else f"{threads} concurrent clients"
        first, last = tp.latencies[:50], tp.latencies[-50:]
        rows += [
            (f"(b) writes/s, {label}", f"{tp.per_s:7.1f} /s   ({tp.writes} in "
                                       f"{tp.seconds:.1f} s, {tp.errors} errors, "
                                       f"{tp.active_at_end} active at the end)"),
            ("    POST latency", fmt(tp.latencies)),
            ("    first 50 vs last 50 writes", f"median {stats_ms(first)[0]:.1f} ms → "
                                               f"{stats_ms(last)[0]:.1f} ms"),
        ]
    post_med = stats_ms(prop.api_post)[0] if prop.api_post else float("nan")
    rows += [
        ("one API write costs", f"{post_med / route_med:.1f} route queries "
                                f"(median POST {post_med:.1f} ms / route {route_med:.1f} ms)"),
        ("write→reflected / route", f"{stats_ms(prop.api)[0] / route_med:.1f}× a route query "
                                    "(median)" if prop.api else "n/a"),
        ("sequential writes vs routes", f"{throughput[1].per_s:.0f} writes/s vs "
                                        f"{1000 / route_med:.0f} routes/s (one client)"),
    ]
    print_table(f"incidents on northern Kentucky (server {os.cpu_count()} CPUs, "
                f"{'quick' if args.quick else 'full'} run; targets: write → reflected route "
                "p95 ≤ 1 s, aim ≤ 200 ms)", rows)


if __name__ == "__main__":
    main()
