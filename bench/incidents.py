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
    costs;
(d) cross-process speeds: two servers follow one store — PostgreSQL (a throwaway schema in
    the ``test`` database on 127.0.0.1:5432, dropped afterwards) and then one SQLite file —
    and the time from ``POST /v1/traffic/speeds`` on server A (a batch of random car ways
    plus one probe way at a new speed) until ``/v1/congestion/summary`` on server B shows the
    probe way at that speed; polled immediately, each batch after a random pause (so the
    posts do not lock onto B's polling).

Prints median and p95 per figure. Targets: write → reflected p95 ≤ 1 s (aim ≤ 200 ms);
speeds A → B p95 ≤ 300 ms (aim ≤ 100 ms). Servers are stopped on exit, also after errors,
Ctrl-C or SIGTERM.

    python bench/incidents.py [--quick] [--seed N] [--speed-batches N] [--speed-batch-size N]
                              [--pg postgresql://postgres@127.0.0.1:5432/test | --pg none]
                              [--poll-pause-ms MS] [--speeds-only]
"""

from __future__ import annotations

import argparse
import atexit
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
PG_URL = os.environ.get("CITYNAV_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
#: Probe speeds (km/h) cycled through by the speed batches (consecutive ones differ).
PROBE_KMH = (7.0, 11.0, 15.0, 19.0, 23.0)


# ------------------------------------------------------------------------------ server
class Server:
    """``python -m api.cli serve`` in a subprocess on a free port; :meth:`stop` is idempotent
    and also registered with :mod:`atexit`."""

    def __init__(self, snapshot: Path, db: str | None = None) -> None:
        self.snapshot = snapshot
        self.db = db
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
            db = ["--db", self.db] if self.db else []
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "api.cli", "serve", "--snapshot", str(self.snapshot),
                 "--port", str(port), *db], cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONPATH": os.pathsep.join(
                    [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])})
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
            # The engine polls the store every 0.25 s. Writing right after the previous
            # sample would lock onto its phase (every write just after a poll); a random
            # pause first makes the write time uniform over the poll period.
            time.sleep(float(rng.uniform(0.0, 0.3)))
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


# ------------------------------------------------------------------------------ speeds
@dataclass
class Probe:
    """A car way whose forward speed each batch sets anew, the box around it (``W,S,E,N``)
    and the other car ways with forward edges (batch fillers)."""

    way_id: int
    bbox: str
    fillers: np.ndarray


def speed_probe(snapshot: Path, rng: np.random.Generator) -> Probe:
    """A probe way whose forward car edges are all ≥ 35 km/h at free flow and ≥ 150 m long
    together (so every probe speed is a delay the congestion summary lists)."""
    snap = load_snapshot(snapshot)
    car = snap.modes["car"]
    seg = snap.segments
    edge_seg = np.asarray(car.edge_seg)
    fwd = ~np.asarray(car.edge_rev, bool)
    way = np.asarray(seg.way_id)[edge_seg][fwd]
    length = np.asarray(car.edge_length_m, np.float64)[fwd]
    kmh = length / np.maximum(np.asarray(car.edge_time_ms, np.float64)[fwd], 1) * 3600.0
    order = np.argsort(way, kind="stable")
    ways, start = np.unique(way[order], return_index=True)
    min_kmh = np.minimum.reduceat(kmh[order], start)
    total_m = np.add.reduceat(length[order], start)
    ok = ways[(min_kmh >= 35.0) & (total_m >= 150.0)]
    if ok.shape[0] == 0:
        raise RuntimeError("no car way fit for a speed probe")
    probe = int(rng.choice(ok))
    segs = np.unique(edge_seg[fwd][way == probe])
    gstart, gend = np.asarray(seg.gstart), np.asarray(seg.gend)
    pts = np.concatenate([np.arange(gstart[k], gend[k]) for k in segs.tolist()])
    lon, lat = np.asarray(seg.lon)[pts], np.asarray(seg.lat)[pts]
    pad = 5e-5
    bbox = (f"{lon.min() - pad:.6f},{lat.min() - pad:.6f},"
            f"{lon.max() + pad:.6f},{lat.max() + pad:.6f}")
    return Probe(probe, bbox, ways[ways != probe])


def speed_batch(probe: Probe, size: int, kmh: float, rng: np.random.Generator
                ) -> dict[str, Any]:
    """``size - 1`` observations of random other ways at random speeds, then the probe."""
    now = datetime.now(UTC).isoformat()
    fill = rng.choice(probe.fillers, size - 1)
    obs = [{"ref": {"way_id": int(w), "direction": "forward"}, "speed_kmh": float(v),
            "observed_at": now}
           for w, v in zip(fill, rng.uniform(5, 60, size - 1), strict=True)]
    obs.append({"ref": {"way_id": probe.way_id, "direction": "forward"}, "speed_kmh": kmh,
                "observed_at": now})
    return {"observations": obs}


def shows_speed(r: httpx.Response, probe: Probe, kmh: float) -> bool:
    """The congestion summary lists the probe way at ``kmh``."""
    if r.status_code != 200:
        raise RuntimeError(f"summary failed: {r.status_code} {r.text[:300]}")
    return any(w["way_id"] == probe.way_id and abs(w["speed_kmh"] - kmh) < 0.6
               for w in r.json()["worst_segments"])


@dataclass
class SpeedPropagation:
    """POST on A → summary on B, per batch."""

    store: str
    batch_size: int
    poll_pause_s: float = 0.0
    took: list[float] = field(default_factory=list)
    post: list[float] = field(default_factory=list)
    polls: list[int] = field(default_factory=list)
    a_shows: int = 0
    missed: int = 0


def bench_speeds(store: str, snapshot: Path, db: str | None, key: str, probe: Probe,
                 batches: int, size: int, rng: np.random.Generator,
                 poll_pause_s: float = 0.0) -> SpeedPropagation:
    """(d): servers A and B on the store ``db`` (``None``: the SQLite file beside the
    snapshot); ``batches`` timed batches after one untimed warm-up batch."""
    out = SpeedPropagation(store, size, poll_pause_s)
    a_srv, b_srv = Server(snapshot, db), Server(snapshot, db)
    try:
        a_srv.start()
        b_srv.start()
        params = {"bbox": probe.bbox, "worst": 100}
        with httpx.Client(base_url=a_srv.url, timeout=60,
                          headers={"Authorization": f"Bearer {key}"}) as a, \
                httpx.Client(base_url=b_srv.url, timeout=60) as b:
            for i in range(batches + 1):
                kmh = PROBE_KMH[i % len(PROBE_KMH)]
                body = speed_batch(probe, size, kmh, rng)
                # B's engine polls the store every 0.25 s: start at a random phase
                time.sleep(float(rng.uniform(0.0, 0.3)))
                t0 = time.perf_counter()
                r = a.post("/v1/traffic/speeds", json=body)
                t_post = time.perf_counter() - t0
                if r.status_code != 200 or r.json()["accepted"] != size:
                    raise RuntimeError(f"speeds POST: {r.status_code} {r.text[:300]}")
                polls = 0
                took: float | None = None
                while True:
                    rb = b.get("/v1/congestion/summary", params=params)
                    polls += 1
                    now = time.perf_counter()
                    if shows_speed(rb, probe, kmh):
                        took = now - t0
                        break
                    if now - t0 > REFLECT_TIMEOUT_S:
                        break
                    if poll_pause_s:
                        time.sleep(poll_pause_s)
                if i == 0:
                    continue  # warm-up: first batch on fresh servers
                if took is None:
                    out.missed += 1
                    continue
                out.took.append(took)
                out.post.append(t_post)
                out.polls.append(polls)
                out.a_shows += shows_speed(a.get("/v1/congestion/summary", params=params),
                                           probe, kmh)
    except BaseException:
        for srv, name in ((a_srv, "A"), (b_srv, "B")):
            log = srv.tail()
            if log:
                print(f"--- server {name} log (tail) ---\n{log}", file=sys.stderr)
        raise
    finally:
        for srv in (a_srv, b_srv):
            srv.stop()
            srv.log.unlink(missing_ok=True)
    return out


def pg_schema_store(pg_url: str) -> tuple[str, str]:
    """A throwaway schema name and the store URL that uses it (created on first open)."""
    schema = f"citynav_bench_{os.getpid()}_{secrets.token_hex(3)}"
    sep = "&" if "?" in pg_url else "?"
    return schema, f"{pg_url}{sep}schema={schema}"


def drop_pg_schema(pg_url: str, schema: str) -> None:
    """Drop the bench's schema (and everything in it)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(pg_url.split("?")[0], autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def run_speed_phases(snapshot: Path, pg_url: str | None, batches: int, size: int,
                     seed: int, poll_pause_s: float = 0.0) -> list[SpeedPropagation]:
    """(d) on PostgreSQL (unless ``pg_url`` is None) and on SQLite."""
    rng = np.random.default_rng(seed + 1)
    probe = speed_probe(snapshot, rng)
    out = []
    if pg_url is not None:
        schema, url = pg_schema_store(pg_url)
        try:
            try:
                store = open_store(url)
            except Exception as exc:  # noqa: BLE001 - report and go on with SQLite
                print(f"skipping PostgreSQL speeds phase: {exc}", file=sys.stderr)
            else:
                try:
                    key = create_key(store, "traffic_centre", AGENCY)
                finally:
                    store.close()
                out.append(bench_speeds("PostgreSQL", snapshot, url, key, probe, batches,
                                        size, rng, poll_pause_s))
        finally:
            try:
                drop_pg_schema(pg_url, schema)
            except Exception as exc:  # noqa: BLE001 - nothing was created
                print(f"note: could not drop schema {schema}: {exc}", file=sys.stderr)
    _, key = fresh_database(snapshot)
    out.append(bench_speeds("SQLite", snapshot, None, key, probe, batches, size, rng,
                            poll_pause_s))
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


def speed_rows(runs: list[SpeedPropagation]) -> list[tuple[str, str]]:
    """Report rows of (d)."""
    rows = []
    for sp in runs:
        rows += [
            (f"(d) speeds A → B, {sp.store}", fmt(sp.took)),
            ("    target (p95 ≤ 300 ms)", verdict(sp.took, 300.0, 100.0)),
            ("    POST on A (validate, log, apply)", fmt(sp.post)),
            ("    batches", f"{len(sp.took)} timed of {sp.batch_size:,} observations, "
                            f"{sp.missed} not within {REFLECT_TIMEOUT_S:.0f} s; B polled "
                            f"{np.median(sp.polls) if sp.polls else 0:.0f}× (median, pause "
                            f"{sp.poll_pause_s * 1000:.0f} ms); A showed it right after: "
                            f"{sp.a_shows} of {len(sp.took)}"),
        ]
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="15 closures, 5 s write phases")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--speed-batches", type=int, default=None,
                    help="timed speed batches per store (default 20 quick, 50 full)")
    ap.add_argument("--speed-batch-size", type=int, default=1000,
                    help="observations per speed batch (the probe included)")
    ap.add_argument("--pg", default=PG_URL,
                    help="PostgreSQL database for the cross-process speeds phase "
                         "(a throwaway schema is made in it), or 'none'")
    ap.add_argument("--poll-pause-ms", type=float, default=0.0,
                    help="pause between polls of server B (default: poll immediately)")
    ap.add_argument("--speeds-only", action="store_true", help="only (d)")
    args = ap.parse_args()
    n_closures, write_s = (15, 5.0) if args.quick else (50, 10.0)
    speed_batches = args.speed_batches or (20 if args.quick else 50)
    if args.speeds_only:
        tmp = Path(tempfile.mkdtemp(prefix="citynav-bench-incidents-"))
        try:
            build_snapshot(OSM, tmp / "nky", [GTFS])
            runs = run_speed_phases(tmp / "nky", None if args.pg == "none" else args.pg,
                                    speed_batches, args.speed_batch_size, args.seed,
                                    args.poll_pause_ms / 1000.0)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        print_table(f"cross-process speeds on northern Kentucky ({os.cpu_count()} CPUs; "
                    "target p95 ≤ 300 ms, aim ≤ 100 ms)", speed_rows(runs))
        return

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
        speed_runs = run_speed_phases(snap, None if args.pg == "none" else args.pg,
                                      speed_batches, args.speed_batch_size, args.seed,
                                      args.poll_pause_ms / 1000.0)
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
    rows += speed_rows(speed_runs)
    print_table(f"incidents on northern Kentucky (server {os.cpu_count()} CPUs, "
                f"{'quick' if args.quick else 'full'} run; targets: write → reflected route "
                "p95 ≤ 1 s, aim ≤ 200 ms; speeds A → B p95 ≤ 300 ms, aim ≤ 100 ms)", rows)


if __name__ == "__main__":
    main()
