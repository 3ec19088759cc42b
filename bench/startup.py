"""Start-up benchmark: CLI command times, server restart time and each worker's memory.

    python bench/startup.py [--repeat R] [--porto SNAPSHOT] [--workers N] [--skip-cli]

Every figure runs the installed ``citynav`` entry point in a fresh process, as a user does:

* **CLI**: ``citynav --help``, ``citynav keys list``, ``citynav incident list`` and
  ``citynav route`` (car, then walk) on the bundled city — wall time and CPU time (user + sys
  of the child) per command, median and p95 over R runs, and the ratio to a bare
  ``python -c pass`` measured in the same run (the interpreter's own start);
* **restart**: ``citynav serve`` (``--workers N``) on the bundled city, and on Porto when its
  snapshot is given, from launch until ``/v1/health`` answers 200 — median and p95 over R
  restarts (the kernels load from the on-disk cache; ``python -m api.warmup`` compiled them);
* **memory per worker** once serving (after one route per mode): RSS, PSS (RSS with the pages
  shared between processes divided among them), private dirty (the process's own heap) and
  file-backed RSS (shared libraries and the memory-mapped snapshot, shared by the workers).

Targets (issue 14): restart ≤ 3 s, each CLI command ≤ 2 s, ≤ 300 MB per worker on Porto.
Timings depend on the machine's load: the load average is printed with the figures.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/http.py would shadow the standard library's http package (urllib needs it)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]

import argparse  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
A, B = "39.0837,-84.5086", "39.0912,-84.4960"


def _citynav() -> list[str]:
    exe = Path(sys.executable).parent / "citynav"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "api.cli"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a user's install has its bytecode cached
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    return env


def _stats(xs: list[float]) -> str:
    s = sorted(xs)
    p95 = s[min(len(s) - 1, round(0.95 * (len(s) - 1)))]
    return f"median {statistics.median(s):6.2f} s  p95 {p95:6.2f} s"


def _run_timed(cmd: list[str]) -> tuple[float, float, int]:
    """(wall s, child CPU s, exit code) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    rc = subprocess.run(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                        check=False).returncode
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, rc


def bench_cli(repeat: int) -> None:
    cn = _citynav()
    cmds = {
        "python -c pass (baseline)": [sys.executable, "-c", "pass"],
        "citynav --help": [*cn, "--help"],
        "citynav keys list": [*cn, "keys", "list"],
        "citynav incident list": [*cn, "incident", "list"],
        "citynav route (car)": [*cn, "route", "--from", A, "--to", B],
        "citynav route --mode walk": [*cn, "route", "--mode", "walk", "--from", A, "--to", B],
    }
    for c in cmds.values():  # first runs: bytecode written, sample snapshot present
        _run_timed(c)
    base = None
    print(f"\n== CLI on the bundled city, {repeat} runs each (load average "
          f"{os.getloadavg()[0]:.2f}) ==")
    for name, c in cmds.items():
        walls, cpus, rcs = [], [], set()
        for _ in range(repeat):
            w, cpu, rc = _run_timed(c)
            walls.append(w)
            cpus.append(cpu)
            rcs.add(rc)
        med = statistics.median(walls)
        base = base or med
        print(f"  {name:<28} wall {_stats(walls)}  CPU {_stats(cpus)}  "
              f"×{med / base:5.1f} baseline  exit {sorted(rcs)}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                         text=True, check=False).stdout.split()
    kids = [int(p) for p in out]
    return kids + [g for k in kids for g in _children(k)]


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _memory(pid: int) -> dict[str, float] | None:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None

    def kb(key: str) -> float:
        m = re.search(rf"^{key}:\s+(\d+) kB", text, re.M)
        return int(m.group(1)) / 1024 if m else float("nan")

    return {"rss": kb("Rss"), "pss": kb("Pss"), "private_dirty": kb("Private_Dirty"),
            "anon": kb("Anonymous"), "file": kb("Rss") - kb("Anonymous")}


def _get(url: str, timeout: float = 30.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            r.read()
            return int(r.status)
    except Exception:  # noqa: BLE001 - not up yet / refused
        return 0


def bench_serve(name: str, snapshot: Path | None, workers: int, repeat: int,
                points: tuple[str, str]) -> None:
    home = Path(tempfile.mkdtemp(prefix="citynav-bench-startup-"))
    times, cpus, mems = [], [], []
    try:
        for k in range(repeat):
            port = _free_port()
            cmd = [*_citynav(), "serve", "--port", str(port), "--workers", str(workers),
                   "--db", f"sqlite:///{home / 'startup.db'}"]
            if snapshot is not None:
                cmd += ["--snapshot", str(snapshot)]
            t = time.perf_counter()
            proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)
            base = f"http://127.0.0.1:{port}"
            up = None
            while time.perf_counter() - t < 300 and proc.poll() is None:
                if _get(base + "/v1/health", timeout=5) == 200:
                    up = time.perf_counter() - t
                    # CPU of the busiest process (a worker) until it answered
                    cpus.append(max(_cpu_s(p) for p in [proc.pid, *_children(proc.pid)]))
                    break
                time.sleep(0.02)
            if up is None:
                print(f"  {name}: the server did not come up")
                proc.kill()
                return
            times.append(up)
            if k == repeat - 1:  # memory once serving: a route of every mode first
                for mode in ("car", "bike", "walk", "bus", "truck"):
                    for _ in range(workers * 2):
                        _get(f"{base}/v1/route?from={points[0]}&to={points[1]}&mode={mode}")
                time.sleep(0.5)
                pids = _children(proc.pid) or [proc.pid]
                mems = [m for p in pids if (m := _memory(p)) is not None and m["rss"] > 150]
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print(f"\n== citynav serve --workers {workers}: {name} (load average "
          f"{os.getloadavg()[0]:.2f}) ==")
    print(f"  restart until /v1/health 200   wall {_stats(times)}  CPU of a worker "
          f"{_stats(cpus)}  ({len(times)} restarts)")
    for i, m in enumerate(mems):
        print(f"  process {i}: RSS {m['rss']:5.0f} MB  PSS {m['pss']:5.0f} MB  private dirty "
              f"{m['private_dirty']:5.0f} MB  file-backed RSS {m['file']:5.0f} MB (shared "
              "libraries, snapshot pages)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--porto", type=Path, default=None,
                    help="a Porto snapshot directory (e.g. var/bench/porto/snap from "
                         "bench/road.py --cache)")
    ap.add_argument("--skip-cli", action="store_true")
    args = ap.parse_args()
    if not args.skip_cli:
        bench_cli(args.repeat)
    bench_serve("bundled city (northern Kentucky)", None, args.workers, args.repeat, (A, B))
    if args.porto is not None:
        bench_serve(f"Porto ({args.porto})", args.porto, args.workers, args.repeat,
                    ("41.1496,-8.6110", "41.1579,-8.6291"))


if __name__ == "__main__":
    main()
