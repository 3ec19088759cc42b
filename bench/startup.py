"""Start-up benchmark: CLI command times, server restart time and each worker's memory.

    python bench/startup.py [--repeat R] [--porto SNAPSHOT] [--workers N] [--skip-cli]

Every figure runs the installed ``citynav`` entry point in a fresh process, as a user does:

* **CLI**: ``citynav --help``, ``citynav keys list``, ``citynav incident list`` and
  ``citynav route`` (car, then walk) on the bundled city — wall time and CPU time (user + sys
  of the child) per command, median and p95 over R runs, and the ratio to a bare
  ``python -c pass`` measured in the same run (the interpreter's own start);
* **restart**: ``citynav serve`` (``--workers N``) on the bundled city, and on Porto when its
  snapshot is given, from launch until ``/v1/health`` answers 200 — median and p95 over R
  restarts (the kernels load from the on-disk cache; ``python -m api.warmup`` compiled them),
  and the CPU all its processes used until then; the peer too, in the same run: uvicorn's
  own ``--workers`` spawning N workers that each load the city (how ``citynav serve`` ran
  before it was pre-fork; ``--no-peer`` skips it);
* **memory per process** once serving (after routes of every mode): the pre-fork parent
  (``--workers`` > 1: it loaded the city once and forked the workers, which share its pages
  copy-on-write) and each worker — RSS, PSS (RSS with the pages shared between processes
  divided among them), USS (the process's own pages: what stopping it frees), private dirty
  and file-backed RSS (shared libraries and the memory-mapped snapshot) — and the total PSS.

Targets (issue 14): restart ≤ 3 s, each CLI command ≤ 2 s, ≤ 300 MB per worker on Porto.
Timings depend on the machine's load: the load average is printed with the figures.
"""

from __future__ import annotations

import argparse  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from pathlib import Path

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

    return {"rss": kb("Rss"), "pss": kb("Pss"), "uss": kb("Private_Clean") + kb("Private_Dirty"),
            "private_dirty": kb("Private_Dirty"), "anon": kb("Anonymous"),
            "file": kb("Rss") - kb("Anonymous")}


def _cmdline_has(pid: int, word: str) -> bool:
    try:
        return word in Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return False


def _get(url: str, timeout: float = 30.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            r.read()
            return int(r.status)
    except Exception:  # noqa: BLE001 - not up yet / refused
        return 0


def _spawned(snapshot: Path | None, workers: int, port: int, db: str,
             metrics_dir: Path) -> tuple[list[str], dict[str, str]]:
    """The command and environment of the peer: uvicorn's own ``--workers`` (each worker
    spawned fresh, importing and loading the whole city itself: how ``citynav serve`` ran
    its workers before the pre-fork server)."""
    import json

    if snapshot is None:
        sys.path.insert(0, str(REPO))
        from api.sample import ensure_sample_snapshot

        snapshot = Path(ensure_sample_snapshot())
    cfg = {"snapshot": str(snapshot.absolute()), "db": db, "quotas": "store"}
    env = {**_env(), "CITYNAV_SERVE_CONFIG": json.dumps(cfg),
           "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    return [sys.executable, "-m", "uvicorn", "--factory", "api.worker:app", "--port",
            str(port), "--workers", str(workers), "--no-access-log",
            "--timeout-graceful-shutdown", "30"], env


def bench_serve(name: str, snapshot: Path | None, workers: int, repeat: int,
                points: tuple[str, str], spawned: bool = False) -> None:
    home = Path(tempfile.mkdtemp(prefix="citynav-bench-startup-"))
    times, cpus, mems = [], [], []
    try:
        for k in range(repeat):
            port = _free_port()
            db = f"sqlite:///{home / 'startup.db'}"
            cmd = [*_citynav(), "serve", "--port", str(port), "--workers", str(workers),
                   "--db", db]
            env = _env()
            if snapshot is not None:
                cmd += ["--snapshot", str(snapshot)]
            if spawned:
                (home / f"metrics{k}").mkdir()
                cmd, env = _spawned(snapshot, workers, port, db, home / f"metrics{k}")
            t = time.perf_counter()
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)
            base = f"http://127.0.0.1:{port}"
            up = None
            while time.perf_counter() - t < 300 and proc.poll() is None:
                if _get(base + "/v1/health", timeout=5) == 200:
                    up = time.perf_counter() - t
                    # CPU of all the server's processes until it answered
                    cpus.append(sum(_cpu_s(p) for p in [proc.pid, *_children(proc.pid)]))
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
                # one worker: the server's own process; several: the pre-fork parent, which
                # loaded the city, and its forked workers
                roles = ([("worker", proc.pid)] if workers == 1 else
                         [("parent", proc.pid)] + [("worker", p) for p in _children(proc.pid)
                                                   if not spawned or _cmdline_has(p, "spawn")])
                mems = [(role, m) for role, p in roles if (m := _memory(p)) is not None]
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    how = ("uvicorn --workers (spawned, each loads the city; the peer)" if spawned else
           f"citynav serve --workers {workers} (pre-fork)")
    print(f"\n== {how}: {name} (load average {os.getloadavg()[0]:.2f}) ==")
    print(f"  restart until /v1/health 200   wall {_stats(times)}  CPU (all processes) "
          f"{_stats(cpus)}  ({len(times)} restarts)")
    for role, m in mems:
        print(f"  {role:<6} RSS {m['rss']:5.0f} MB  PSS {m['pss']:5.0f} MB  USS {m['uss']:5.0f} MB"
              f"  private dirty {m['private_dirty']:5.0f} MB  file-backed RSS {m['file']:5.0f} MB")
    if mems:
        print(f"  total PSS {sum(m['pss'] for _, m in mems):5.0f} MB (what the server takes; "
              "PSS divides shared pages among the processes; USS: a process's own pages, "
              "what stopping it frees)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--porto", type=Path, default=None,
                    help="a Porto snapshot directory (e.g. var/bench/porto/snap from "
                         "bench/road.py --cache)")
    ap.add_argument("--skip-cli", action="store_true")
    ap.add_argument("--peer", action=argparse.BooleanOptionalAction, default=True,
                    help="also measure uvicorn's own --workers (each worker spawned and "
                         "loading the city itself) in the same run")
    args = ap.parse_args()
    if not args.skip_cli:
        bench_cli(args.repeat)
    nky = "bundled city (northern Kentucky)"
    bench_serve(nky, None, args.workers, args.repeat, (A, B))
    if args.workers > 1 and args.peer:
        bench_serve(nky, None, args.workers, args.repeat, (A, B), spawned=True)
    if args.porto is not None:
        porto = (f"Porto ({args.porto})", args.porto, args.workers, args.repeat,
                 ("41.1496,-8.6110", "41.1579,-8.6291"))
        bench_serve(*porto)
        if args.workers > 1 and args.peer:
            bench_serve(*porto, spawned=True)


if __name__ == "__main__":
    main()
