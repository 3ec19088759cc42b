"""Keeping one server responsive under load: a deadline per request and bounded concurrency
for the CPU-heavy operations.

:class:`LoadGuard` is an ASGI middleware around the whole app:

- **Heavy operations** (transit plans, the congestion map, posted speed batches, incident
  writes, realtime pushes: :data:`HEAVY`) run at most ``heavy_slots`` at a time per process;
  a request waits for a slot until its deadline and gets 503 with ``Retry-After`` if none
  frees up. A slot is held until the work itself ends, even when the client was already
  answered 503, so the CPU is never oversubscribed by abandoned work.
- **Deadline**: a read (``GET``/``HEAD``) that has not started answering within
  ``deadline_s`` is answered 503 with ``Retry-After``; its work finishes in the background
  and its answer is dropped. A write is never answered 503 once it runs (it may have been
  committed): it waits for its slot until the deadline, then runs to the end.
- ``/v1/health``, ``/v1/ready`` and ``/metrics`` bypass both, so probes answer while heavy
  requests run (the handlers are ``async`` and never wait for the thread pool).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import PROBLEM_JSON, TYPE_BASE

#: Default deadline of a read request, in seconds.
DEFAULT_DEADLINE_S = 15.0
#: Default number of heavy operations that run at once in one process.
DEFAULT_HEAVY_SLOTS = 2
#: Paths that never wait: probes and metrics.
EXEMPT = frozenset({"/v1/health", "/v1/ready", "/metrics"})


def _heavy(method: str, path: str) -> bool:
    """Whether a request is one of the CPU-heavy operations (see the module docstring)."""
    if method in ("GET", "HEAD"):
        return path == "/v1/plan" or path.startswith("/v1/congestion") or \
            path.endswith("/diversions")
    return path.startswith(("/v1/traffic/speeds", "/v1/incidents", "/v1/realtime/"))


#: The classifier :class:`LoadGuard` uses by default.
HEAVY: Callable[[str, str], bool] = _heavy


class LoadGuard:
    """The deadline and heavy-operation limits (see the module docstring)."""

    def __init__(self, app: ASGIApp, deadline_s: float = DEFAULT_DEADLINE_S,
                 heavy_slots: int = DEFAULT_HEAVY_SLOTS,
                 heavy: Callable[[str, str], bool] = HEAVY) -> None:
        if deadline_s <= 0 or heavy_slots < 1:
            raise ValueError("deadline_s must be positive and heavy_slots at least 1")
        self.app = app
        self.deadline_s = float(deadline_s)
        self.heavy_slots = heavy_slots
        self.heavy = heavy
        self._slots: asyncio.Semaphore | None = None
        #: requests answered 503 (deadline passed, or no heavy slot in time)
        self.rejected = 0
        #: of which for lack of a heavy slot
        self.rejected_slots = 0
        #: heavy operations running now
        self.running_heavy = 0

    def _semaphore(self) -> asyncio.Semaphore:
        # created lazily: it belongs to the running event loop
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.heavy_slots)
        return self._slots

    @property
    def retry_after_s(self) -> int:
        """The ``Retry-After`` a 503 carries, in whole seconds."""
        return max(1, math.ceil(self.deadline_s / 4))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        is_read = method in ("GET", "HEAD")
        heavy = self.heavy(method, path)
        if not is_read and not heavy:
            await self.app(scope, receive, send)
            return
        t_end = time.monotonic() + self.deadline_s
        slots = self._semaphore() if heavy else None
        if slots is not None:
            try:
                await asyncio.wait_for(slots.acquire(), timeout=self.deadline_s)
            except TimeoutError:
                await self._unavailable(send, "the server is busy with other heavy requests; "
                                        "try again", "heavy_slots")
                return
            self.running_heavy += 1
        started = False
        abandoned = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if abandoned:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, guarded_send))

        def release(_: asyncio.Future[None]) -> None:
            if slots is not None:
                self.running_heavy -= 1
                slots.release()
            if not task.cancelled():
                task.exception()  # retrieved: an abandoned task's error is not "unhandled"

        task.add_done_callback(release)
        if not is_read:
            await task  # a write runs to the end: it may already be committed
            return
        done, _ = await asyncio.wait({task}, timeout=max(0.0, t_end - time.monotonic()))
        if task in done:
            task.result()
            return
        if started:  # the answer is on its way: let it finish
            await task
            return
        abandoned = True
        await self._unavailable(send, f"the request did not finish within its deadline of "
                                f"{self.deadline_s:g} s; try again (a narrower query "
                                "answers sooner)", "deadline")

    async def _unavailable(self, send: Send, detail: str, reason: str) -> None:
        self.rejected += 1
        if reason == "heavy_slots":
            self.rejected_slots += 1
        from api.metrics import metrics

        metrics().overload_rejections.labels(reason).inc()
        body = (b'{"type":"' + TYPE_BASE.encode() + b'overloaded","title":"Service '
                b'unavailable","status":503,"detail":"' + detail.encode() + b'"}')
        with contextlib.suppress(OSError):
            await send({"type": "http.response.start", "status": 503, "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(self.retry_after_s).encode())]})
            await send({"type": "http.response.body", "body": body})
