"""An open-loop HTTP/1.1 load generator: requests leave at a fixed rate whatever the server
does (as wrk2 does), and each latency is counted from the moment its request was *due*, so
a server that falls behind is charged for the queue it builds (no coordinated omission).

Runs in its own process (:func:`run_open`); keep-alive connections, at most
``max_connections`` open (a request due while every connection is busy waits for one, and
that wait counts in its latency). Only what ``citynav serve`` answers is parsed: a status
line, headers and a ``Content-Length`` body.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import statistics
import time
from collections import deque
from typing import Any
from urllib.parse import urlsplit


class _Conn(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self, gen: _Generator) -> None:
        self.gen = gen
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.due = 0.0
        self.busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def send(self, path: str, due: float) -> None:
        assert self.transport is not None
        self.due, self.busy = due, True
        self.transport.write(f"GET {path} HTTP/1.1\r\nHost: {self.gen.host}\r\n\r\n".encode())

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buf[:end]).split(b"\r\n")
        length = 0
        for line in head[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        if len(self.buf) < end + 4 + length:
            return
        status = int(head[0].split()[1])
        del self.buf[:end + 4 + length]
        self.busy = False
        self.gen.done(self, status)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.gen.lost(self)


class _Generator:
    def __init__(self, url: str, paths: list[str], rate: float, seconds: float,
                 max_connections: int) -> None:
        u = urlsplit(url)
        self.host, self.port = u.hostname or "127.0.0.1", u.port or 80
        self.paths, self.rate, self.seconds = paths, rate, seconds
        self.max_connections = max_connections
        self.idle: deque[_Conn] = deque()
        self.conns: set[_Conn] = set()
        self.opening = 0
        self.backlog: deque[tuple[str, float]] = deque()
        self.lat: list[float] = []
        self.errors = 0
        self.statuses: dict[int, int] = {}
        self.outstanding = 0
        self.all_done: asyncio.Event | None = None
        self.finished_sending = False

    def done(self, conn: _Conn, status: int) -> None:
        now = time.perf_counter()
        self.lat.append(now - conn.due)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status >= 400:
            self.errors += 1
        self.outstanding -= 1
        self._next(conn)
        self._check_done()

    def lost(self, conn: _Conn) -> None:
        self.conns.discard(conn)
        if conn in self.idle:
            self.idle.remove(conn)
        if conn.busy:  # the request in flight is lost
            self.errors += 1
            self.outstanding -= 1
            self._check_done()
        if self.backlog:
            self._open()

    def _check_done(self) -> None:
        if self.finished_sending and self.outstanding == 0 and self.all_done is not None:
            self.all_done.set()

    def _next(self, conn: _Conn) -> None:
        if self.backlog:
            path, due = self.backlog.popleft()
            conn.send(path, due)
        else:
            self.idle.append(conn)

    def _open(self) -> None:
        if len(self.conns) + self.opening >= self.max_connections:
            return
        self.opening += 1
        loop = asyncio.get_running_loop()

        async def connect() -> None:
            try:
                _, conn = await loop.create_connection(lambda: _Conn(self), self.host,
                                                       self.port)
            except OSError:
                self.opening -= 1
                if self.backlog:  # charge one waiting request and retry later
                    self.backlog.popleft()
                    self.errors += 1
                    self.outstanding -= 1
                    self._check_done()
                return
            self.opening -= 1
            self.conns.add(conn)
            self._next(conn)

        loop.create_task(connect())

    def fire(self, path: str, due: float) -> None:
        self.outstanding += 1
        if self.idle:
            self.idle.popleft().send(path, due)
            return
        self.backlog.append((path, due))
        self._open()

    async def run(self) -> float:
        self.all_done = asyncio.Event()
        n = int(self.rate * self.seconds)
        start = time.perf_counter() + 0.05
        k = 0
        while k < n:
            now = time.perf_counter()
            while k < n and start + k / self.rate <= now:
                self.fire(self.paths[k % len(self.paths)], start + k / self.rate)
                k += 1
            if k < n:
                await asyncio.sleep(max(0.0, start + k / self.rate - time.perf_counter()))
        self.finished_sending = True
        self._check_done()
        try:  # what is still queued after as long again counts as failed
            await asyncio.wait_for(self.all_done.wait(), timeout=max(10.0, self.seconds))
        except TimeoutError:
            self.errors += self.outstanding
        elapsed = time.perf_counter() - start
        for c in list(self.conns):
            if c.transport is not None:
                c.transport.close()
        return elapsed


def _worker(url: str, paths: list[str], rate: float, seconds: float, max_connections: int,
            q: Any) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    gen = _Generator(url, paths, rate, seconds, max_connections)
    cpu0 = time.process_time()
    elapsed = asyncio.run(gen.run())
    q.put((gen.lat, gen.errors, elapsed, gen.statuses, time.process_time() - cpu0,
           len(gen.conns)))


def run_open(url: str, paths: list[str], rate: float, seconds: float,
             max_connections: int = 256) -> dict[str, float]:
    """Offer ``rate`` requests/s of ``paths`` (in turn) for ``seconds`` from a process of
    its own; returns the offered and answered rates, p50/p95/p99/max latency (ms, from
    each request's due time), errors (status ≥ 400, lost or unanswered) and the
    generator's CPU seconds."""
    ctx = mp.get_context("spawn")
    q: Any = ctx.Queue()
    p = ctx.Process(target=_worker, args=(url, paths, rate, seconds, max_connections, q))
    p.start()
    lat, errors, elapsed, statuses, cpu, conns = q.get()
    p.join()
    lat.sort()
    qs = statistics.quantiles(lat, n=100) if len(lat) > 2 else [0.0] * 99
    return {"offered": rate, "rps": len(lat) / max(elapsed, 1e-9), "p50": qs[49] * 1000,
            "p95": qs[94] * 1000, "p99": qs[98] * 1000,
            "max": (lat[-1] if lat else 0.0) * 1000, "errors": errors,
            "requests": int(rate * seconds), "generator_cpu_s": cpu, "connections": conns}
