"""HTTP load on ``citynav serve``: routes/s and latency percentiles, one process against
``--workers N`` in the same run, and a mixed load with incidents posted meanwhile.

    python -m bench.http_load [--city nky|porto|all] [--duration 15] [--connections 32]
                              [--workers 1,2] [--rate 1000] [--mixed-rate 300] [--no-mixed]
                              [--no-osrm]

For each city and worker count it starts ``citynav serve`` (quotas off, access log off),
waits until every worker answers ``/v1/ready``, then drives it from load generators in
processes of their own:

- **closed loop** (``--connections`` clients each sending its next request when the last is
  answered: the most the server answers, with latencies that are mostly queueing — Little's
  law, p50 ≈ connections / throughput): ``wrk`` (Debian package) when installed, else an
  asyncio/httpx generator;
- **fixed rate** (open loop, as wrk2: ``--rate`` requests/s leave on schedule whatever the
  server does, each latency counted from when its request was due, so falling behind shows
  — :mod:`bench.loadgen`). "≥ 1,000 routes/s with p99 ≤ 50 ms" is read here: p99 at an
  offered 1,000 routes/s, with the answered rate keeping up.

It prints requests/s, p50/p95/p99 and errors for ``/v1/route`` (car, random routable
pairs), then — on cities with a timetable — a mixed load (route 80 %, transit plan 15 %,
congestion bbox 5 %) closed-loop and at ``--mixed-rate`` while a thread posts and deletes an
incident every second; then the RSS and PSS (shared snapshot pages counted once) of each
worker, and the ratio of each worker count to the first, all measured in the same run. Each
row carries the machine's 1-minute load average when it was measured: figures on a shared
machine are depressed.
"""

from __future__ import annotations

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import multiprocessing as mp  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path
from typing import Any  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import cached_snapshot, print_table  # noqa: E402
from bench.loadgen import run_open  # noqa: E402

NKY = REPO / "data" / "northern-kentucky"
CITIES = {
    "nky": (NKY / "nky_streets.osm.pbf", [NKY / "nky_tank_gtfs.zip"]),
    "porto": (REPO.parent / "shared" / "data" / "roads" / "porto_portugal.osm.pbf", []),
}


#: The peer engine: ``osrm-routed`` from the osrm-bindings wheel in ``var/osrm/venv`` on
#: ``var/osrm/<city>.osrm`` (CH), as ``bench/setup_osrm.sh`` makes them.
OSRM_DIR = REPO / "var" / "osrm"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, timeout: float = 30.0) -> tuple[int, bytes]:
    import httpx

    try:
        r = httpx.get(url, timeout=timeout)
        return r.status_code, r.content
    except httpx.HTTPError:
        return 0, b""


def _terminate(proc: subprocess.Popen, timeout_s: float) -> None:
    """SIGTERM (a graceful stop), then SIGKILL if it has not exited within ``timeout_s``."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()


class Server:
    """``citynav serve`` in a subprocess."""

    def __init__(self, snap: Path, workers: int, db: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="citynav-bench-http-",  # noqa: SIM115
                                               suffix=".log", delete=False)
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--snapshot", str(snap), "--port",
             str(self.port), "--workers", str(workers), "--db", db, "--quotas", "off",
             "--no-access-log", "--deadline-s", "60"],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=REPO)
        pids: set[int] = set()
        while len(pids) < workers:
            if self.proc.poll() is not None:
                raise RuntimeError(Path(self.log.name).read_text()[-3000:])
            code, body = _get(f"{self.url}/v1/ready", 2.0)
            if code == 200:
                pids.add(json.loads(body)["worker"])
            else:
                time.sleep(0.3)
            if time.perf_counter() - t0 > 600:
                raise TimeoutError("server did not start")
        self.start_s = time.perf_counter() - t0
        self.pids = sorted(pids)

    def cpu_s(self) -> float:
        """CPU seconds (user + system) used so far by the server and its workers."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in {self.proc.pid, *self.pids}:
            try:
                f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(f[11]) + int(f[12])) / tick
            except OSError:
                pass
        return total

    def memory_mb(self) -> list[tuple[int, float, float]]:
        """(pid, RSS MB, PSS MB) of each worker."""
        out = []
        for pid in self.pids:
            try:
                rss = pss = 0.0
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Rss:"):
                        rss = int(line.split()[1]) / 1024
                    elif line.startswith("Pss:"):
                        pss = int(line.split()[1]) / 1024
                out.append((pid, rss, pss))
            except OSError:
                pass
        return out

    def stop(self) -> None:
        _terminate(self.proc, 60)
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


class OsrmServer:
    """``osrm-routed`` (CH, one thread per core) on ``var/osrm/<city>.osrm``: the peer
    engine, driven with the same pairs, generator and settings as citynav."""

    def __init__(self, name: str) -> None:
        found = sorted(OSRM_DIR.glob("venv/lib/python3*/site-packages/osrm/bin/osrm-routed"))
        data = OSRM_DIR / f"{name}.osrm"
        if not found or not (OSRM_DIR / f"{name}.osrm.hsgr").exists():
            raise FileNotFoundError(f"no osrm-routed or {data}.hsgr: run bench/setup_osrm.sh")
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [str(found[-1]), "--algorithm", "ch", "--threads", str(os.cpu_count() or 1),
             "--ip", "127.0.0.1", "--port", str(self.port), str(data)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t0 = time.perf_counter()
        while _get(f"{self.url}/nearest/v1/driving/0,0", 2.0)[0] == 0:
            if self.proc.poll() is not None or time.perf_counter() - t0 > 120:
                raise RuntimeError("osrm-routed did not start")
            time.sleep(0.2)

    def memory_mb(self) -> float:
        """The server's RSS (MB)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        _terminate(self.proc, 30)


def osrm_path(path: str) -> str:
    """OSRM's ``route`` request for a ``/v1/route`` path: the same pair, with steps and the
    full GeoJSON geometry, as citynav answers by default."""
    from urllib.parse import parse_qs, urlsplit

    q = parse_qs(urlsplit(path).query)
    (a, b), (c, d) = (q[k][0].split(",") for k in ("from", "to"))
    return f"/route/v1/driving/{b},{a};{d},{c}?steps=true&geometries=geojson&overview=full"


def bench_osrm(name: str, routes: list[str], seconds: float, connections: int, rate: float
               ) -> tuple[list[tuple[str, str]], dict[str, dict[str, float]]]:
    """The peer's closed-loop and fixed-rate figures on the same pairs (rows, results)."""
    try:
        srv = OsrmServer(name)
    except (FileNotFoundError, RuntimeError) as exc:
        return [("OSRM (osrm-routed)", f"not run: {exc}")], {}
    try:
        paths = [osrm_path(p) for p in routes]
        answered = sum(_get(srv.url + p)[0] == 200 for p in paths[:20])
        drive(srv.url, paths, min(3.0, seconds), connections)  # warm up
        load = _load1()
        res = drive(srv.url, paths, seconds, connections)
        load_o = _load1()
        res_o = run_open(srv.url, paths, rate, seconds)
        rows = [("OSRM osrm-routed (CH, threads = cores): route closed loop",
                 _row(res, load) + f"; {answered} of the first 20 pairs routed"),
                ("OSRM osrm-routed: route fixed rate", _row(res_o, load_o)),
                ("OSRM osrm-routed memory", f"RSS {srv.memory_mb():.0f} MB")]
        return rows, {"route": res, "route_open": res_o}
    finally:
        srv.stop()


# ------------------------------------------------------------------------------ requests
def route_paths(url: str, snap: Path, n: int, seed: int = 7) -> list[str]:
    """``n`` /v1/route paths between random junctions that have a car route."""
    import numpy as np

    from routing.snapshot import load_snapshot

    s = load_snapshot(snap)
    lat, lon = np.asarray(s.node_lat), np.asarray(s.node_lon)
    rng = random.Random(seed)
    out: list[str] = []
    tries = 0
    while len(out) < n and tries < n * 10:
        tries += 1
        a, b = rng.randrange(lat.shape[0]), rng.randrange(lat.shape[0])
        path = (f"/v1/route?from={lat[a]:.6f},{lon[a]:.6f}&to={lat[b]:.6f},{lon[b]:.6f}"
                "&mode=car")
        if _get(url + path)[0] == 200:
            out.append(path)
    return out


def mixed_paths(url: str, routes: list[str], snap: Path, seed: int = 11) -> list[str]:
    """100 paths: 80 routes, 15 transit plans, 5 congestion boxes."""
    import numpy as np

    from routing.snapshot import load_snapshot

    s = load_snapshot(snap)
    lat, lon = np.asarray(s.node_lat), np.asarray(s.node_lon)
    rng = random.Random(seed)
    plans = []
    while len(plans) < 15:
        a, b = rng.randrange(lat.shape[0]), rng.randrange(lat.shape[0])
        p = (f"/v1/plan?from={lat[a]:.6f},{lon[a]:.6f}&to={lat[b]:.6f},{lon[b]:.6f}"
             "&depart_at=2020-01-15T08:00:00-05:00")
        if _get(url + p)[0] == 200:
            plans.append(p)
    boxes = []
    for _ in range(5):
        i = rng.randrange(lat.shape[0])
        boxes.append(f"/v1/congestion?bbox={lon[i] - 0.01:.5f},{lat[i] - 0.01:.5f},"
                     f"{lon[i] + 0.01:.5f},{lat[i] + 0.01:.5f}")
    paths = (routes * 2)[:80] + plans + boxes
    rng.shuffle(paths)
    return paths


# ------------------------------------------------------------------------------ generators
_WRK_LUA = """
local paths = {}
for line in io.lines("%s") do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%d %%d %%d %%f %%f %%f\\n", summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout, summary.errors.status, summary.duration, 0,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000))
end
"""


def run_wrk(url: str, paths: list[str], seconds: float, connections: int,
            threads: int = 1) -> dict[str, float]:
    """Drive ``paths`` with wrk; returns rps, p50/p95/p99 (ms), errors."""
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "paths.txt").write_text("\n".join(paths) + "\n")
        lua = Path(d) / "paths.lua"
        lua.write_text(_WRK_LUA % (Path(d) / "paths.txt"))
        out = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d",
                              f"{seconds:.0f}s", "--timeout", "30s", "-s", str(lua), url],
                             capture_output=True, text=True, check=True).stdout
    m = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) \d+ ([\d.]+) ([\d.]+) ([\d.]+)", out)
    if m is None:
        raise RuntimeError(out)
    n, sock_err, status_err, dur_us = (int(m.group(i)) for i in range(1, 5))
    return {"rps": n / (dur_us / 1e6), "p50": float(m.group(5)), "p95": float(m.group(6)),
            "p99": float(m.group(7)), "errors": sock_err + status_err, "requests": n}


def _httpx_worker(url: str, paths: list[str], seconds: float, connections: int,
                  q: Any) -> None:
    import httpx

    async def main() -> tuple[list[float], int]:
        lat: list[float] = []
        errors = 0
        t_end = time.perf_counter() + seconds
        limits = httpx.Limits(max_connections=connections)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as c:
            async def one(k: int) -> None:
                nonlocal errors
                i = k
                while time.perf_counter() < t_end:
                    t0 = time.perf_counter()
                    try:
                        r = await c.get(paths[i % len(paths)])
                        if r.status_code >= 400:
                            errors += 1
                    except httpx.HTTPError:
                        errors += 1
                    lat.append(time.perf_counter() - t0)
                    i += connections
            await asyncio.gather(*(one(k) for k in range(connections)))
        return lat, errors

    t0 = time.perf_counter()
    lat, errors = asyncio.run(main())
    q.put((lat, errors, time.perf_counter() - t0))


def run_httpx(url: str, paths: list[str], seconds: float, connections: int
              ) -> dict[str, float]:
    """Drive ``paths`` from an asyncio/httpx generator in its own process."""
    import statistics

    q: Any = mp.get_context("spawn").Queue()
    p = mp.get_context("spawn").Process(target=_httpx_worker,
                                        args=(url, paths, seconds, connections, q))
    p.start()
    lat, errors, dur = q.get()
    p.join()
    lat.sort()
    qs = statistics.quantiles(lat, n=100) if len(lat) > 2 else [0.0] * 99
    return {"rps": len(lat) / dur, "p50": qs[49] * 1000, "p95": qs[94] * 1000,
            "p99": qs[98] * 1000, "errors": errors, "requests": len(lat)}


def drive(url: str, paths: list[str], seconds: float, connections: int) -> dict[str, float]:
    """wrk if installed, else the httpx generator."""
    if shutil.which("wrk"):
        return run_wrk(url, paths, seconds, connections)
    return run_httpx(url, paths, seconds, connections)


class IncidentPoster(threading.Thread):
    """Posts an incident (a 2-minute delay on a stretch of a benchmark route) and deletes it
    again, once a second, while the load runs."""

    def __init__(self, url: str, key: str, stretch: list[list[float]]) -> None:
        super().__init__(daemon=True)
        self.url, self.key, self.stretch = url, key, stretch
        self.stop_event = threading.Event()
        self.ok = self.failed = 0

    def run(self) -> None:
        import httpx

        h = {"Authorization": f"Bearer {self.key}"}
        with httpx.Client(base_url=self.url, headers=h, timeout=30) as c:
            while not self.stop_event.wait(1.0):
                # a delay, not a closure: a closure may cut a benchmark pair off (a true
                # 404 no-route, which wrk would count as an error)
                r = c.post("/v1/incidents", json={
                    "type": "accident", "severity": "high", "start": "2020-01-01T00:00:00Z",
                    "geometry": {"type": "LineString", "coordinates": self.stretch},
                    "direction": "both", "road_effect": {"delay_s": 120}})
                if r.status_code != 201:
                    self.failed += 1
                    continue
                d = c.delete(f"/v1/incidents/{r.json()['id']}", headers={"If-Match": "*"})
                if d.status_code == 204:
                    self.ok += 1
                else:
                    self.failed += 1


def _load1() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def _row(res: dict[str, float], load: str) -> str:
    offered = f"offered {res['offered']:.0f}/s, " if "offered" in res else ""
    return (f"{offered}{res['rps']:6.0f} req/s  p50 {res['p50']:6.1f}  p95 {res['p95']:6.1f}  "
            f"p99 {res['p99']:6.1f} ms  errors (fixed rate: or unanswered) "
            f"{int(res['errors'])} of "
            f"{int(res['requests'])}  (load {load})")


def bench_ordinary(snap: Path, seconds: float, connections: int) -> list[tuple[str, str]]:
    """One process with and without the route fast path (``CITYNAV_FAST_ROUTE=0``: every
    route through FastAPI's handling), closed loop, alternately: server CPU per route is
    the figure that holds on a busy machine."""
    out = []
    for fast in ("0", "1"):
        os.environ["CITYNAV_FAST_ROUTE"] = fast
        with tempfile.TemporaryDirectory() as d:
            srv = Server(snap, 1, f"sqlite:///{d}/bench.db")
            try:
                routes = route_paths(srv.url, snap, 200)
                drive(srv.url, routes, min(3.0, seconds), connections)
                load = _load1()
                cpu0 = srv.cpu_s()
                res = drive(srv.url, routes, seconds, connections)
                cpu_ms = (srv.cpu_s() - cpu0) * 1000 / max(res["requests"], 1)
                out.append((f"workers=1, fast path {'on' if fast == '1' else 'off'}: "
                            "/v1/route", _row(res, load) + f"; server CPU {cpu_ms:.2f} "
                            "ms/route"))
            finally:
                srv.stop()
    os.environ.pop("CITYNAV_FAST_ROUTE", None)
    return out


def bench_city(name: str, workers_list: list[int], seconds: float, connections: int,
               mixed: bool, rate: float = 1000.0, mixed_rate: float = 300.0,
               ordinary: bool = False, osrm: bool = True) -> None:
    osm, gtfs = CITIES[name]
    snap, _, _ = cached_snapshot(name, osm, gtfs)
    rows: list[tuple[str, str]] = [("load average (1, 5, 15 min)",
                                    " ".join(Path("/proc/loadavg").read_text().split()[:3])),
                                   ("cores", str(os.cpu_count())),
                                   ("generator", "wrk" if shutil.which("wrk") else
                                    "httpx/asyncio (own process)"),
                                   ("connections, seconds", f"{connections}, {seconds:g}"),
                                   ("fixed-rate generator", "bench.loadgen (own process, "
                                    "latency from each request's due time)")]
    base: dict[str, dict[str, float]] = {}
    per_worker: dict[int, tuple[dict[str, float], dict[str, float]]] = {}
    first_routes: list[str] = []
    if ordinary:
        rows.extend(bench_ordinary(snap, seconds, connections))
    for w in workers_list:
        with tempfile.TemporaryDirectory() as d:
            db = f"sqlite:///{d}/bench.db"
            srv = Server(snap, w, db)
            try:
                rows.append((f"workers={w}: start until every worker is ready",
                             f"{srv.start_s:.1f} s"))
                routes = route_paths(srv.url, snap, 200)
                drive(srv.url, routes, min(3.0, seconds), connections)  # warm up
                load = _load1()
                cpu0 = srv.cpu_s()
                res = drive(srv.url, routes, seconds, connections)
                cpu_ms = (srv.cpu_s() - cpu0) * 1000 / max(res["requests"], 1)
                rows.append((f"workers={w}: /v1/route closed loop", _row(res, load)
                             + f"; server CPU {cpu_ms:.2f} ms/route"))
                load = _load1()
                res_o = run_open(srv.url, routes, rate, seconds)
                rows.append((f"workers={w}: /v1/route fixed rate", _row(res_o, load)))
                per_worker[w] = (res, res_o)
                if w == workers_list[0]:
                    base["route"], base["route_open"] = res, res_o
                    first_routes = routes
                else:
                    rows.append((f"workers={w}: /v1/route ratio to workers="
                                 f"{workers_list[0]}",
                                 f"closed loop {res['rps'] / base['route']['rps']:.2f}× req/s, "
                                 f"p99 {res['p99'] / max(base['route']['p99'], 1e-9):.2f}×; "
                                 f"fixed rate p99 {res_o['p99']:.1f} vs "
                                 f"{base['route_open']['p99']:.1f} ms"))
                if mixed and gtfs:
                    from incidents.keys import create_key
                    from incidents.store import open_store

                    st = open_store(db)
                    key = create_key(st, "traffic_centre", "BENCH")
                    st.close()
                    doc = json.loads(_get(srv.url + routes[0])[1])
                    coords = doc["routes"][0]["geometry"]["coordinates"]
                    stretch = coords[len(coords) // 3: len(coords) // 3 + 4]
                    poster = IncidentPoster(srv.url, key, stretch)
                    poster.start()
                    mixed_p = mixed_paths(srv.url, routes, snap)
                    load = _load1()
                    res_m = drive(srv.url, mixed_p, seconds, connections)
                    load_o = _load1()
                    res_mo = run_open(srv.url, mixed_p, mixed_rate, seconds)
                    poster.stop_event.set()
                    poster.join(timeout=60)
                    rows.append((f"workers={w}: mixed 80/15/5 + incidents, closed loop",
                                 _row(res_m, load)))
                    rows.append((f"workers={w}: mixed 80/15/5 + incidents, fixed rate",
                                 _row(res_mo, load_o) + f"; incidents posted+deleted "
                                 f"{poster.ok}, failed {poster.failed}"))
                    if w == workers_list[0]:
                        base["mixed"] = res_m
                    else:
                        rows.append((f"workers={w}: mixed ratio to workers={workers_list[0]}",
                                     f"{res_m['rps'] / base['mixed']['rps']:.2f}× req/s"))
                for pid, rss, pss in srv.memory_mb():
                    rows.append((f"workers={w}: worker {pid} memory",
                                 f"RSS {rss:.0f} MB, PSS {pss:.0f} MB"))
            finally:
                srv.stop()
    if osrm and first_routes:
        peer_rows, peer = bench_osrm(name, first_routes, seconds, connections, rate)
        rows.extend(peer_rows)
        for w, (res, res_o) in per_worker.items() if peer else ():
            rows.append((f"workers={w} against OSRM (same pairs, generator, settings)",
                         f"closed loop {res['rps'] / peer['route']['rps']:.2f}× req/s, p99 "
                         f"{res['p99']:.1f} vs {peer['route']['p99']:.1f} ms; fixed rate p99 "
                         f"{res_o['p99']:.1f} vs {peer['route_open']['p99']:.1f} ms"))
    rows.append(("load average after", " ".join(Path("/proc/loadavg").read_text()
                                                .split()[:3])))
    print_table(f"HTTP load — {name}", rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--city", default="nky", choices=["nky", "porto", "all"])
    ap.add_argument("--duration", type=float, default=15.0)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    ap.add_argument("--rate", type=float, default=1000.0,
                    help="offered routes/s of the fixed-rate run")
    ap.add_argument("--mixed-rate", type=float, default=300.0,
                    help="offered requests/s of the fixed-rate mixed run")
    ap.add_argument("--no-mixed", action="store_true")
    ap.add_argument("--compare-ordinary", action="store_true",
                    help="first, one process with the route fast path off and on")
    ap.add_argument("--no-osrm", action="store_true",
                    help="skip the peer (osrm-routed on the same pairs, when var/osrm has it)")
    args = ap.parse_args()
    workers = [int(x) for x in str(args.workers).split(",")]
    for name in (["nky", "porto"] if args.city == "all" else [args.city]):
        bench_city(name, workers, args.duration, args.connections, not args.no_mixed,
                   args.rate, args.mixed_rate, args.compare_ordinary, not args.no_osrm)


if __name__ == "__main__":
    main()
