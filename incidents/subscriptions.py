"""Subscribed WZDx and DATEX II feeds: polled like the GTFS-Realtime sources and imported.

In the settings file (``citynav serve --realtime FILE``, see
:mod:`incidents.realtime_sources`)::

    alert_c_tables = ["tables/fi-17.csv"]   # ALERT-C location tables (incidents.adapters.alertc)

    [[imports]]
    name = "kytc-wzdx"          # names the source; default: the URL or file
    url = "https://example.org/wzdx/feed.geojson"
    format = "wzdx"             # wzdx | datex2
    agency = "KYTC"             # the incidents belong to this agency
    interval_s = 60
    timeout_s = 10
    headers = { "x-api-key" = "..." }

    [[imports]]
    file = "/srv/feeds/situations.xml"   # re-read whenever it changes
    format = "datex2"
    agency = "FTA"

Each fetch is a *complete* document of the source: its records are applied
(:func:`incidents.imports.apply_document`) and the source's records missing from it are
ended. URLs are fetched with conditional requests (``If-None-Match`` / ``If-Modified-Since``;
a 304 changes nothing), a timeout and exponential backoff after failures (interval × 2ⁿ, at
most 10 min); files when their modification time or size changes. One process polls (a lease
in the store, as for the realtime poller), so replicas never import the same fetch twice.
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
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from incidents.adapters.alertc import LocationTables
from incidents.adapters.common import DocumentRefused
from incidents.errors import IncidentError
from incidents.imports import ImportReport, apply_document, parse_document

if TYPE_CHECKING:
    from incidents.engine import IncidentEngine

log = logging.getLogger("citynav.imports")

LEASE_NAME = "import-poller"
LEASE_TTL = timedelta(seconds=15)
MAX_BACKOFF_S = 600.0


class ImportSubscription(BaseModel):
    """One subscribed WZDx or DATEX II feed (a URL or a watched file)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    url: str | None = None
    file: Path | None = None
    format: Literal["wzdx", "datex2"]
    agency: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
    interval_s: float = Field(default=60.0, ge=0.2, le=86_400)
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    headers: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_location(self) -> ImportSubscription:
        if (self.url is None) == (self.file is None):
            raise ValueError("give exactly one of url and file")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url must be http:// or https://, got {self.url[:60]!r}")
        return self

    @property
    def source(self) -> str:
        """The source name recorded with each imported record."""
        return "subscription:" + (self.name or self.url or str(self.file))[:200]


@dataclass
class _SubState:
    cfg: ImportSubscription
    next_at: float = 0.0
    failures: int = 0
    etag: str | None = None
    last_modified: str | None = None
    file_sig: tuple[int, int] | None = None
    last_checked_at: datetime | None = None
    last_outcome: str | None = None
    last_counts: dict[str, int] | None = None


class _FetchError(Exception):
    """A URL that could not be fetched (network error, timeout, HTTP status)."""


class ImportPoller:
    """Polls the subscribed feeds in a background thread while this process holds the
    import lease, and imports what changed."""

    def __init__(self, engine: IncidentEngine, subscriptions: list[ImportSubscription],
                 tables: LocationTables | None = None, tick_s: float = 0.2) -> None:
        self.engine = engine
        self.subs = [_SubState(s) for s in subscriptions]
        self.tables = tables or LocationTables()
        self.tick_s = tick_s
        self.holder = f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.leader = False
        self._lease_at = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: Any = None
        #: the last report of each subscription (by source name)
        self.reports: dict[str, ImportReport] = {}

    def start(self) -> None:
        """Start polling (no-op without subscriptions)."""
        if not self.subs or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="import-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling and give the lease up."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self.leader:
            try:
                self.engine.realtime_log.release_lease(LEASE_NAME, self.holder)
            except Exception:  # noqa: BLE001 - best effort on shutdown
                log.warning("could not release the import poller lease")
            self.leader = False
        if self._client is not None:
            self._client.close()
            self._client = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._hold_lease():
                    self.poll_due()
            except Exception:  # noqa: BLE001 - keep polling; the error is logged
                log.exception("import poller")
            self._stop.wait(self.tick_s)

    def _hold_lease(self) -> bool:
        now = time.monotonic()
        if now - self._lease_at >= LEASE_TTL.total_seconds() / 3 or not self.leader:
            self.leader = self.engine.realtime_log.hold_lease(
                LEASE_NAME, self.holder, datetime.now(UTC), LEASE_TTL)
            self._lease_at = now
        return self.leader

    def poll_due(self) -> None:
        """Poll every subscription whose time has come (once each)."""
        for st in self.subs:
            if self._stop.is_set():
                return
            if time.monotonic() >= st.next_at:
                self.poll(st)

    def poll(self, st: _SubState) -> ImportReport | None:
        """Fetch one subscription now and import it if it changed; return the report."""
        cfg = st.cfg
        report = None
        try:
            body = self._fetch_url(st) if cfg.url is not None else self._read_file(st)
            if body is not None:
                doc = parse_document(body, cfg.format, self.tables,
                                     self.engine.publisher.timezone)
                report = apply_document(self.engine.store, doc, agency=cfg.agency,
                                        actor=f"import:{cfg.agency}", match=self.engine.match,
                                        source=cfg.source, complete=True)
                self.engine.sync()
                self.reports[cfg.source] = report
                st.last_counts = report.counts
                st.last_outcome = "imported"
            st.failures = 0
        except DocumentRefused as exc:
            st.last_outcome = f"refused: {exc.detail}"
            st.failures = 0  # the source answered; its content was refused
            log.warning("import %s refused: %s", cfg.source, exc.detail)
        except (OSError, _FetchError, IncidentError) as exc:
            st.last_outcome = f"error: {exc}"
            st.failures += 1
            log.warning("import %s failed: %s", cfg.source, exc)
        finally:
            st.last_checked_at = datetime.now(UTC)
            delay = cfg.interval_s * (2 ** min(st.failures, 12)) if st.failures \
                else cfg.interval_s
            st.next_at = time.monotonic() + min(delay, max(MAX_BACKOFF_S, cfg.interval_s))
        return report

    def status(self) -> list[dict[str, Any]]:
        """Per subscription: source, agency, format, last check, outcome, counts."""
        return [{"source": st.cfg.source, "agency": st.cfg.agency, "format": st.cfg.format,
                 "interval_s": st.cfg.interval_s,
                 "last_checked_at": st.last_checked_at.isoformat()
                 if st.last_checked_at else None,
                 "last_outcome": st.last_outcome, "last_counts": st.last_counts,
                 "consecutive_failures": st.failures, "etag": st.etag} for st in self.subs]

    def _fetch_url(self, st: _SubState) -> bytes | None:
        import httpx

        if self._client is None:
            self._client = httpx.Client(follow_redirects=True)
        cfg = st.cfg
        headers = dict(cfg.headers)
        if st.etag:
            headers["If-None-Match"] = st.etag
        if st.last_modified:
            headers["If-Modified-Since"] = st.last_modified
        try:
            r = self._client.get(cfg.url, headers=headers, timeout=cfg.timeout_s)
        except httpx.HTTPError as exc:
            raise _FetchError(f"{type(exc).__name__}: {exc}") from None
        if r.status_code == 304:
            st.last_outcome = "not_modified"
            return None
        if r.status_code != 200:
            raise _FetchError(f"HTTP {r.status_code}")
        st.etag = r.headers.get("ETag")
        st.last_modified = r.headers.get("Last-Modified") or \
            format_datetime(datetime.now(UTC), usegmt=True)
        return r.content

    def _read_file(self, st: _SubState) -> bytes | None:
        path = st.cfg.file
        assert path is not None
        info = path.stat()
        sig = (info.st_mtime_ns, info.st_size)
        if sig == st.file_sig:
            st.last_outcome = "unchanged"
            return None
        data = path.read_bytes()
        st.file_sig = sig
        return data
