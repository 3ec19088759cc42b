"""Pre-fork serving: load the city once, fork the workers, keep them running.

``citynav serve --workers N`` binds the listening socket and loads the city (snapshot
memory maps, routers and their RoutingKit CCH kernels, numba kernels, timetable, vector tile
source: :func:`api.worker.load_city_for`) in one parent process, moves everything loaded out
of the garbage collector's reach (``gc.freeze``: its passes would otherwise write to every
object header and un-share the pages) and then forks the N workers, which share those pages
copy-on-write instead of each loading a copy. Nothing with a thread, an event loop or a
connection exists before the fork: each worker opens its store, starts its change-log
follower, pollers and metrics in its app's lifespan.

The parent then only supervises (:class:`Supervisor`): a worker that dies is forked again
from the loaded parent (a fraction of a second); a worker that fails its start-up (uvicorn's
exit status 3: e.g. an unreachable store) stops the whole server, as do more than
:data:`MAX_DEATHS` deaths within :data:`DEATH_WINDOW_S`. SIGTERM or SIGINT: the parent
closes its copy of the socket and sends SIGTERM to every worker, which stops accepting,
answers ``/v1/ready`` with 503, finishes its requests in flight (up to the graceful timeout)
and exits; workers still running :data:`KILL_MARGIN_S` after that timeout are killed. A
worker exits by itself when the parent dies (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from api.worker import ServeConfig

#: uvicorn's exit status when an app's start-up (lifespan) fails.
STARTUP_FAILURE = 3
#: More worker deaths than this within :data:`DEATH_WINDOW_S` stop the server (a crash loop).
MAX_DEATHS = 5
DEATH_WINDOW_S = 60.0
#: Seconds past the graceful timeout before the workers still running are killed.
KILL_MARGIN_S = 10.0
#: The signals the parent waits for (blocked, taken with ``sigtimedwait``).
_SIGNALS = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT}


class PreforkError(RuntimeError):
    """The parent is not in a state it may fork from (e.g. a thread is running)."""


def bind_socket(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` that the forked workers inherit
    (IPv6 when ``host`` has a colon). Connections made while the city loads wait in the
    backlog instead of being refused. Raises :class:`OSError` (e.g. the port is in use)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def check_fork_safe() -> None:
    """Raise :class:`PreforkError` if a Python thread other than the main one is running:
    a forked child would hold a copy of its locks but not the thread. (Native helper threads
    of numpy's BLAS and pyarrow reinitialise themselves after a fork.)"""
    others = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    if others:
        raise PreforkError(f"cannot fork the workers: threads running in the parent: {others}")


def freeze_loaded() -> None:
    """Collect garbage, then move every object alive into the collector's permanent
    generation, so that no collection in a worker writes to the shared pages."""
    gc.collect()
    gc.freeze()


def _send(pid: int, sig: int) -> None:
    """Send ``sig`` to ``pid`` unless it has exited already."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _die_with_parent(parent_pid: int) -> None:
    """Have the kernel send SIGTERM to this process when its parent dies (Linux)."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def run_worker(sock: socket.socket, make_app: Callable[[], Any],
               uvicorn_options: dict[str, Any]) -> int:
    """Serve ``make_app()`` with uvicorn on the inherited ``sock`` in this (forked) process
    until it is told to stop; returns the exit status: :data:`STARTUP_FAILURE` when the app
    could not be made or its start-up failed (uvicorn re-raises the stopping signal after a
    graceful shutdown, so a worker stopped by SIGTERM ends by that signal)."""
    import uvicorn

    try:
        config = uvicorn.Config(make_app(), **uvicorn_options)
    except BaseException:  # noqa: BLE001 - no app: a start-up failure
        traceback.print_exc()
        return STARTUP_FAILURE
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    except SystemExit as exc:  # uvicorn's exit when the app's start-up failed
        return exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - a worker reports and exits; the parent decides
        traceback.print_exc()
        return 1
    return 0 if server.started else STARTUP_FAILURE


class Supervisor:
    """Forks ``workers`` processes serving ``make_app()`` on ``sock`` and keeps them
    running until SIGTERM or SIGINT (see the module's docstring)."""

    def __init__(self, sock: socket.socket, make_app: Callable[[], Any], workers: int,
                 uvicorn_options: dict[str, Any] | None = None,
                 graceful_s: float = 30.0,
                 on_worker_exit: Callable[[int], None] | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.sock = sock
        self.make_app = make_app
        self.n_workers = workers
        self.uvicorn_options = {"log_level": "info", "access_log": False,
                                "timeout_graceful_shutdown": graceful_s,
                                **(uvicorn_options or {})}
        self.graceful_s = graceful_s
        self.on_worker_exit = on_worker_exit
        self.log = log or (lambda msg: print(f"citynav: {msg}", file=sys.stderr, flush=True))
        #: worker pid → its slot (0 … workers-1)
        self.workers: dict[int, int] = {}
        self.deaths: deque[float] = deque()
        self.stopping = False
        self.exit_status = 0

    # ------------------------------------------------------------------ workers
    def _fork(self, slot: int) -> int:
        parent = os.getpid()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the worker
            status = 1
            try:
                signal.pthread_sigmask(signal.SIG_SETMASK, set())
                for sig in _SIGNALS:
                    signal.signal(sig, signal.SIG_DFL)
                _die_with_parent(parent)
                status = run_worker(self.sock, self.make_app, self.uvicorn_options)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(status)
        self.workers[pid] = slot
        return pid

    def _reap(self) -> None:
        """Collect the workers that exited; fork a new one for each unless stopping."""
        while self.workers:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.workers.clear()
                return
            if pid == 0:
                return
            slot = self.workers.pop(pid, None)
            if slot is None:
                continue
            if self.on_worker_exit is not None:
                try:
                    self.on_worker_exit(pid)
                except Exception as exc:  # noqa: BLE001 - bookkeeping never stops the server
                    self.log(f"after worker {pid} exited: {type(exc).__name__}: {exc}")
            if self.stopping:
                continue
            code = os.waitstatus_to_exitcode(status)
            how = f"signal {-code}" if code < 0 else f"status {code}"
            if code == STARTUP_FAILURE:
                self.log(f"worker {pid} failed to start ({how}): stopping the server")
                self.exit_status = STARTUP_FAILURE
                self._stop()
                continue
            now = time.monotonic()
            self.deaths.append(now)
            while self.deaths and now - self.deaths[0] > DEATH_WINDOW_S:
                self.deaths.popleft()
            if len(self.deaths) > MAX_DEATHS:
                self.log(f"worker {pid} exited ({how}); {len(self.deaths)} deaths in "
                         f"{DEATH_WINDOW_S:.0f} s: stopping the server")
                self.exit_status = 1
                self._stop()
                continue
            new = self._fork(slot)
            self.log(f"worker {pid} exited ({how}); started worker {new} in its place")

    def _stop(self) -> None:
        """Stop accepting and ask every worker to finish its requests and exit."""
        if not self.stopping:
            self.stopping = True
            self._kill_at = time.monotonic() + self.graceful_s + KILL_MARGIN_S
            # the workers' copies keep listening until each stops accepting; this one would
            # keep the socket open (new connections queued, never answered) after they have
            self.sock.close()
        for pid in list(self.workers):
            _send(pid, signal.SIGTERM)

    # ------------------------------------------------------------------ main loop
    def run(self) -> int:
        """Fork the workers and supervise them; returns the parent's exit status (0 after
        a requested stop). Closes the socket when done. Raises :class:`PreforkError` (before
        forking) if a thread is running."""
        try:
            check_fork_safe()
            signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
            for slot in range(self.n_workers):
                self._fork(slot)
            self.log(f"{self.n_workers} worker(s) forked: "
                     + ", ".join(str(p) for p in self.workers))
            while self.workers:
                info = signal.sigtimedwait(_SIGNALS, 1.0)
                if info is not None and info.si_signo in (signal.SIGTERM, signal.SIGINT):
                    if not self.stopping:
                        self.log(f"{signal.Signals(info.si_signo).name}: finishing the "
                                 "requests in flight, then stopping")
                    self._stop()
                self._reap()
                if self.stopping and self.workers and time.monotonic() > self._kill_at:
                    for pid in list(self.workers):
                        self.log(f"worker {pid} still running past the graceful timeout: "
                                 "killed")
                        _send(pid, signal.SIGKILL)
            return self.exit_status
        finally:
            for pid in list(self.workers):  # an error in the parent: leave no orphans
                _send(pid, signal.SIGKILL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
            if self.sock.fileno() != -1:
                self.sock.close()


def serve(cfg: ServeConfig, workers: int, sock: socket.socket,
          graceful_s: float = 30.0) -> int:
    """``citynav serve --workers N``: load the city of ``cfg`` once, freeze it and
    supervise ``workers`` workers forked to serve on ``sock`` (from :func:`bind_socket`;
    closed here) until SIGTERM or SIGINT; returns the exit status. With
    ``PROMETHEUS_MULTIPROC_DIR`` set, a worker's live gauges go with it when it exits.
    Raises what :func:`api.worker.load_city_for` raises for an unusable snapshot and
    :class:`PreforkError` if loading left a thread running."""
    from api.worker import build_app, load_city_for

    try:
        city = load_city_for(cfg)
        freeze_loaded()
    except BaseException:
        sock.close()
        raise

    def worker_gone(pid: int) -> None:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(pid)

    return Supervisor(sock, lambda: build_app(cfg, city), workers, graceful_s=graceful_s,
                      on_worker_exit=worker_gone).run()
