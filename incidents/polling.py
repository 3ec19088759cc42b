"""Polling URLs and watched files under a lease: what the GTFS-Realtime sources
(:mod:`incidents.realtime_sources`) and the subscribed WZDx / DATEX II feeds
(:mod:`incidents.subscriptions`) share.

* URLs are fetched with conditional requests (``If-None-Match`` / ``If-Modified-Since``,
  from the last answer's ``ETag`` and ``Last-Modified`` — or the time of that answer when it
  has none); a 304 changes nothing. Other statuses and network errors are
  :class:`FetchError`.
* Files are read again when their modification time or size changes.
* After ``n`` failures in a row a source waits ``interval × 2ⁿ`` (n at most 12), at most
  :data:`MAX_BACKOFF_S` (or the interval itself when that is longer).
* :class:`LeasedPoller` polls in a background thread while its process holds a lease in the
  store, so that several workers or replicas never fetch the same source twice; another
  takes over within :data:`LEASE_TTL` when the holder stops.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence

    from incidents.engine import IncidentEngine

LEASE_TTL = timedelta(seconds=15)
MAX_BACKOFF_S = 600.0


class FetchError(Exception):
    """A URL that could not be fetched (network error, timeout, HTTP status)."""


@dataclass
class PollState:
    """What a poller remembers of one source between polls."""

    next_at: float = 0.0  # time.monotonic()
    failures: int = 0
    etag: str | None = None
    last_modified: str | None = None
    file_sig: tuple[int, int] | None = None
    last_checked_at: datetime | None = None
    last_outcome: str | None = None

    def schedule(self, interval_s: float, now: float | None = None) -> None:
        """Set the next poll after one just done (at ``now``, default the monotonic
        clock's): see :func:`backoff_delay`."""
        now = time.monotonic() if now is None else now
        self.next_at = now + backoff_delay(interval_s, self.failures)


def backoff_delay(interval_s: float, failures: int) -> float:
    """Seconds until the next poll of a source polled every ``interval_s`` that has failed
    ``failures`` times in a row."""
    delay = interval_s * (2 ** min(failures, 12)) if failures else interval_s
    return min(delay, max(MAX_BACKOFF_S, interval_s))


class _Client(Protocol):
    def get(self, url: str, *, headers: dict[str, str], timeout: float) -> Any: ...


def fetch_url(client: _Client, url: str, headers: dict[str, str], timeout_s: float,
              st: PollState) -> bytes | None:
    """GET ``url`` conditionally on what ``st`` remembers; the body, or None (and
    ``st.last_outcome = "not_modified"``) on a 304. Raises :class:`FetchError`."""
    import httpx

    headers = dict(headers)
    if st.etag:
        headers["If-None-Match"] = st.etag
    if st.last_modified:
        headers["If-Modified-Since"] = st.last_modified
    try:
        r = client.get(url, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise FetchError(f"{type(exc).__name__}: {exc}") from None
    if r.status_code == 304:
        st.last_outcome = "not_modified"
        return None
    if r.status_code != 200:
        raise FetchError(f"HTTP {r.status_code}")
    st.etag = r.headers.get("ETag")
    st.last_modified = r.headers.get("Last-Modified") or \
        format_datetime(datetime.now(UTC), usegmt=True)
    content: bytes = r.content
    return content


def read_file(path: Path, st: PollState) -> bytes | None:
    """The file's bytes when its modification time or size changed since the last read,
    else None (and ``st.last_outcome = "unchanged"``). Raises OSError."""
    info = path.stat()
    sig = (info.st_mtime_ns, info.st_size)
    if sig == st.file_sig:
        st.last_outcome = "unchanged"
        return None
    data = path.read_bytes()
    st.file_sig = sig
    return data


def check_location(url: str | None, file: Path | None) -> None:
    """A source's settings give exactly one of a URL (http or https) and a file; else
    ValueError (a settings validator's message)."""
    if (url is None) == (file is None):
        raise ValueError("give exactly one of url and file")
    if url is not None and not url.startswith(("http://", "https://")):
        raise ValueError(f"url must be http:// or https://, got {url[:60]!r}")


class SourceLocation(Protocol):
    """Where a source is: a URL (with request headers and a timeout) or a file."""

    url: str | None
    file: Path | None
    headers: dict[str, str]
    timeout_s: float


class LeasedPoller:
    """A background thread that calls :meth:`poll_due` every ``tick_s`` while this process
    holds the lease ``lease_name`` in the engine's store; subclasses poll one source in
    :meth:`poll`."""

    def __init__(self, engine: IncidentEngine, states: Sequence[PollState], lease_name: str,
                 what: str, log: logging.Logger, tick_s: float = 0.2) -> None:
        self.engine = engine
        self.states = states
        self.lease_name = lease_name
        self.what = what  # "realtime poller", "import poller": thread name and log messages
        self.log = log
        self.tick_s = tick_s
        self.holder = f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.leader = False
        self._lease_at = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: Any = None

    def poll(self, st: Any) -> Any:
        """Poll one source now (its state ``st``, one of :attr:`states`)."""
        raise NotImplementedError

    def poll_due(self) -> None:
        """Poll every source whose time has come (once each)."""
        for st in self.states:
            if self._stop.is_set():
                return
            if time.monotonic() >= st.next_at:
                self.poll(st)

    def fetch(self, st: PollState, src: SourceLocation) -> bytes | None:
        """What the source holds now, or None when it has not changed since ``st``'s last
        fetch (see :func:`fetch_url`, :func:`read_file`)."""
        if src.url is not None:
            return fetch_url(self.http(), src.url, src.headers, src.timeout_s, st)
        assert src.file is not None
        return read_file(src.file, st)

    def start(self) -> None:
        """Start polling (no-op without sources)."""
        if not self.states or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.what.replace(" ", "-"),
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling and give the lease up."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self.leader:
            try:
                self.engine.realtime_log.release_lease(self.lease_name, self.holder)
            except Exception:  # noqa: BLE001 - best effort on shutdown
                self.log.warning("could not release the %s lease", self.what)
            self.leader = False
        if self._client is not None:
            self._client.close()
            self._client = None

    def http(self) -> Any:
        """The poller's HTTP client (made on first use, closed by :meth:`stop`)."""
        if self._client is None:
            import httpx

            self._client = httpx.Client(follow_redirects=True)
        return self._client

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._hold_lease():
                    self.poll_due()
            except Exception:  # noqa: BLE001 - keep polling; the error is logged
                self.log.exception(self.what)
            self._stop.wait(self.tick_s)

    def _hold_lease(self) -> bool:
        now = time.monotonic()
        if now - self._lease_at >= LEASE_TTL.total_seconds() / 3 or not self.leader:
            self.leader = self.engine.realtime_log.hold_lease(self.lease_name, self.holder,
                                                   datetime.now(UTC), LEASE_TTL)
            self._lease_at = now
        return self.leader
