"""The pre-fork supervisor (api.prefork) with real processes over HTTP, on a tiny app: a
worker that dies is replaced, SIGTERM lets every request in flight finish, a start-up
failure stops the server instead of restarting forever. (The same with the city:
tests/e2e/test_prefork.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from api.prefork import PreforkError, Supervisor, bind_socket, check_fork_safe
from tests.api.live_server import free_port, sigterm_in_flight

REPO = Path(__file__).resolve().parents[2]


@contextmanager
def tiny_server(workers: int, *extra: str) -> Iterator[tuple[str, subprocess.Popen]]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tests.api.prefork_app", str(port),
                             str(workers), *extra], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    url = f"http://127.0.0.1:{port}"
    try:
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _pids(url: str, n: int = 40) -> set[int]:
    """Worker pids seen over ``n`` fresh connections."""
    seen = set()
    for _ in range(n):
        seen.add(int(httpx.get(f"{url}/pid", timeout=30).text))
    return seen


def _wait_for_workers(url: str, proc: subprocess.Popen, n: int) -> set[int]:
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, proc.returncode
        try:
            seen = _pids(url, 10 * n)
            if len(seen) >= n:
                return seen
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the workers never answered"
        time.sleep(0.1)


def _children(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                         text=True, check=False).stdout.split()
    return {int(p) for p in out}


def test_a_killed_worker_is_replaced() -> None:
    with tiny_server(2) as (url, proc):
        first = _wait_for_workers(url, proc, 2)
        assert first == _children(proc.pid)  # the workers are the parent's children
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while True:
            seen = _pids(url, 20)
            if len(seen) == 2 and victim not in seen:
                break
            assert time.monotonic() < deadline, seen
            time.sleep(0.1)
        assert proc.poll() is None
        assert seen == _children(proc.pid) and seen - first  # a new pid in its place
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert not _children(proc.pid)


def test_sigterm_finishes_the_requests_in_flight() -> None:
    n = 16
    with tiny_server(2) as (url, proc):
        _wait_for_workers(url, proc, 2)
        clients = [httpx.Client(base_url=url, timeout=60) for _ in range(n)]
        results = sigterm_in_flight(proc, clients, "/slow", {"s": 2}, 60)
        assert proc.wait(timeout=60) == 0
        for c in clients:
            c.close()
        assert results == [200] * n, results
        # the socket is closed: no connection is left waiting for a worker
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/pid", timeout=5)


def test_a_worker_that_cannot_start_stops_the_server() -> None:
    with tiny_server(2, "--fail-start") as (_, proc):
        assert proc.wait(timeout=60) == 3  # uvicorn's start-up failure, not a restart loop


def test_the_parent_refuses_to_fork_with_a_thread_running() -> None:
    stop = threading.Event()
    t = threading.Thread(target=stop.wait, name="poller")
    t.start()
    try:
        with pytest.raises(PreforkError, match="poller"):
            check_fork_safe()
        sock = bind_socket("127.0.0.1", 0)
        with pytest.raises(PreforkError):
            Supervisor(sock, lambda: None, 2).run()
        assert sock.fileno() == -1  # closed by run()
    finally:
        stop.set()
        t.join()
    if threading.active_count() == 1:  # (threads other tests left behind would refuse too)
        check_fork_safe()


def test_the_city_loads_without_threads_or_connections_and_engines_share_it(
        nky_snapshot_dir: Path, tmp_path: Path) -> None:
    """What a pre-fork parent loads (api.worker.load_city_for) starts no thread and opens no
    store; each worker's live side then reads the network parts built there, not copies."""
    from api.service import open_live
    from api.worker import ServeConfig, load_city_for

    db = tmp_path / "city.db"
    threads_before = set(threading.enumerate())
    city = load_city_for(ServeConfig(snapshot=str(nky_snapshot_dir), db=f"sqlite:///{db}"))
    assert set(threading.enumerate()) == threads_before
    open_files = {os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
                  if os.path.exists(f"/proc/self/fd/{fd}")}
    assert not db.exists() and str(db) not in open_files
    assert city.store is None and city.engine is None
    shared = city._engine_network
    assert shared is not None
    svc = open_live(city, f"sqlite:///{db}")
    try:
        assert svc.engine is not None
        assert svc.engine.matcher is shared[0].matcher
        assert svc.engine.free_flow is shared[0].free_flow
        assert svc.engine.stops is shared[1]
    finally:
        svc.close()
