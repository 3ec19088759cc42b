"""Prometheus metrics (``GET /metrics``), structured access logs and the audit of writes.

Metrics (prometheus-client; with several workers in its multiprocess mode, each worker
writing its own files under ``PROMETHEUS_MULTIPROC_DIR``, which ``citynav serve`` sets):

- ``citynav_http_request_duration_seconds{endpoint,method}`` — latency histogram per route
  template (``/v1/incidents/{incident_id}``, not the concrete path);
- ``citynav_http_requests_total{endpoint,method,status}``;
- ``citynav_quota_rejections_total{plan}`` — 429 answers;
- ``citynav_overload_rejections_total{reason}`` — 503 answers of the load guard
  (:mod:`api.limits`): ``heavy_slots`` when a heavy operation found no free slot before its
  deadline, ``deadline`` when a read did not start answering within its deadline;
- per live worker (``pid`` label in multiprocess mode; a worker's series go when it exits):
  ``citynav_live_version``,
  ``citynav_live_changes_behind`` (store changes not applied yet) and
  ``citynav_live_sync_age_seconds`` (since this worker last read the change log);
- ``citynav_realtime_feed_age_seconds{feed,kind}`` and ``citynav_incidents{status}``.

Gauges are refreshed every :data:`REFRESH_S` seconds by a thread per worker.

Access logs: one JSON object per request on the ``citynav.access`` logger (time, worker,
method, path, status, duration, client address, key id). Writes (any method but
GET/HEAD/OPTIONS) are also kept in the store's ``api_audit`` table with the key id and the
client address, added every :data:`AUDIT_FLUSH_S` seconds and at shutdown.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from api.service import Service
    from incidents.store import IncidentStore

#: How often the gauges are refreshed, in seconds.
REFRESH_S = 2.0
#: How often audited writes are added to the store, in seconds.
AUDIT_FLUSH_S = 1.0
access_log = logging.getLogger("citynav.access")
_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def multiprocess() -> bool:
    """Whether prometheus-client runs in multiprocess mode (several workers)."""
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class Metrics:
    """The process's metric objects (created once per process)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        reg = None if multiprocess() else self.registry
        kw: dict[str, Any] = {"registry": reg} if reg is not None else {}
        self.latency = Histogram("citynav_http_request_duration_seconds",
                                 "Latency of HTTP requests", ["endpoint", "method"],
                                 buckets=_BUCKETS, **kw)
        self.requests = Counter("citynav_http_requests_total", "HTTP requests by status",
                                ["endpoint", "method", "status"], **kw)
        self.quota_rejections = Counter("citynav_quota_rejections_total",
                                        "Requests refused for their plan's quota (429)",
                                        ["plan"], **kw)
        self.overload_rejections = Counter(
            "citynav_overload_rejections_total", "Requests answered 503 by the load guard: "
            "no heavy-operation slot in time (heavy_slots) or past the deadline (deadline)",
            ["reason"], **kw)
        for reason in ("heavy_slots", "deadline"):  # exported at 0 before the first one
            self.overload_rejections.labels(reason)
        self.live_version = Gauge("citynav_live_version", "Live-state version of this worker",
                                  multiprocess_mode="liveall", **kw)
        self.behind = Gauge("citynav_live_changes_behind", "Store changes this worker has "
                            "not applied yet", multiprocess_mode="liveall", **kw)
        self.sync_age = Gauge("citynav_live_sync_age_seconds", "Seconds since this worker "
                              "last read the store's change log", multiprocess_mode="liveall",
                              **kw)
        self.feed_age = Gauge("citynav_realtime_feed_age_seconds", "Age of the newest "
                              "realtime data per feed and kind", ["feed", "kind"],
                              multiprocess_mode="max", **kw)
        self.incidents = Gauge("citynav_incidents", "Stored incidents by status", ["status"],
                               multiprocess_mode="max", **kw)
        self._quota_seen: dict[str, int] = {}
        self._target: tuple[Service, Any] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- gauges
    def refresh(self, svc: Service, quotas: Any = None) -> None:
        """Read the service's state into the gauges."""
        self.live_version.set(svc.state().version)
        eng = svc.engine
        if eng is not None:
            try:
                self.behind.set(eng.behind())
                counts = svc.store.count_by_status() if svc.store is not None else {}
            except Exception:  # noqa: BLE001 - a busy store: keep the last values
                counts = {}
            self.sync_age.set(max(0.0, time.time() - eng.synced_at) if eng.synced_at else -1)
            for status, n in counts.items():
                self.incidents.labels(status).set(n)
            if eng.realtime is not None:
                for f in eng.realtime.status(svc.clock.now()):
                    if f["kind"] is not None and f["age_s"] is not None:
                        self.feed_age.labels(f["feed_id"], f["kind"]).set(f["age_s"])
        if quotas is not None:
            for plan, n in list(quotas.rejected.items()):
                new = n - self._quota_seen.get(plan, 0)
                if new > 0:
                    self.quota_rejections.labels(plan).inc(new)
                    self._quota_seen[plan] = n

    def start(self, svc: Service, quotas: Any = None) -> None:
        """Refresh the gauges from ``svc`` every :data:`REFRESH_S` seconds in a background
        thread (one per process; a later call changes what it reads)."""
        self._target = (svc, quotas)
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()

        def run() -> None:
            while True:
                try:
                    if self._target is not None:
                        self.refresh(*self._target)
                except Exception:  # noqa: BLE001 - metrics never take the server down
                    logging.getLogger(__name__).exception("metrics refresh failed")
                if self._stop.wait(REFRESH_S):
                    return

        self._thread = threading.Thread(target=run, name="metrics", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop refreshing."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def exposition(self) -> tuple[bytes, str]:
        """The text exposition format of every worker's metrics, and its media type."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        if multiprocess():
            from prometheus_client import multiprocess as mp

            registry = CollectorRegistry()
            mp.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


_METRICS: Metrics | None = None
_METRICS_LOCK = threading.Lock()


def metrics() -> Metrics:
    """The process's :class:`Metrics` (prometheus-client metrics are per process)."""
    global _METRICS
    with _METRICS_LOCK:
        if _METRICS is None:
            _METRICS = Metrics()
        return _METRICS


# ------------------------------------------------------------------------------ audit
class AuditLog:
    """Writes seen by the server, added to the store's ``api_audit`` table in batches."""

    def __init__(self) -> None:
        self._rows: list[tuple[Any, ...]] = []
        self._lock = threading.Lock()
        self._store: IncidentStore | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, at: datetime, key_id: str | None, client: str | None, method: str,
            path: str, status: int) -> None:
        """Keep one write for the next flush."""
        with self._lock:
            self._rows.append((at, key_id, client, method, path[:500], status))

    def start(self, store: IncidentStore) -> None:
        """Flush into ``store`` every :data:`AUDIT_FLUSH_S` seconds."""
        self._store = store
        self._stop.clear()

        def run() -> None:
            while not self._stop.wait(AUDIT_FLUSH_S):
                self.flush()

        self._thread = threading.Thread(target=run, name="audit-flush", daemon=True)
        self._thread.start()

    def flush(self) -> None:
        """Add what was kept to the store now."""
        with self._lock:
            rows, self._rows = self._rows, []
        if not rows or self._store is None:
            return
        db = self._store.db
        try:
            with db.transaction() as tx:
                for at, key_id, client, method, path, status in rows:
                    tx.execute("INSERT INTO api_audit (at, key_id, client, method, path, "
                               "status) VALUES (?, ?, ?, ?, ?, ?)",
                               (db.ts_in(at), key_id, client, method, path, status))
        except Exception:  # noqa: BLE001 - keep them for the next try
            with self._lock:
                self._rows[:0] = rows

    def stop(self) -> None:
        """Stop the thread and flush what is left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.flush()


def audit_rows(store: IncidentStore, limit: int = 1000) -> list[dict[str, Any]]:
    """The newest audited writes, newest first."""
    db = store.db
    with db.transaction() as tx:
        rows = tx.execute("SELECT at, key_id, client, method, path, status FROM api_audit "
                          "ORDER BY id DESC LIMIT ?", (limit,))
    return [{"at": db.ts_out(r[0]), "key_id": r[1], "client": r[2], "method": r[3],
             "path": r[4], "status": r[5]} for r in rows]


# ------------------------------------------------------------------------------ middleware
def endpoint_of(scope: Scope) -> str:
    """The route template the request was routed to (``/v1/incidents/{incident_id}``, read
    after routing), or ``unrouted`` (unknown paths, and answers given before routing: 429,
    503) — concrete paths are never labels."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else "unrouted"


class ObserveMiddleware:
    """Latency and status metrics, one access-log line per request, and the audit of
    writes."""

    def __init__(self, app: ASGIApp, audit: AuditLog | None = None) -> None:
        self.app = app
        self.audit = audit
        self.m = metrics()
        self.pid = os.getpid()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = 500

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            elapsed = time.perf_counter() - t0
            method = scope["method"]
            endpoint = endpoint_of(scope)
            self.m.latency.labels(endpoint, method).observe(elapsed)
            self.m.requests.labels(endpoint, method, str(status)).inc()
            p = scope.get("state", {}).get("principal")
            key_id = getattr(p, "key_id", None)
            client = scope.get("client")
            addr = client[0] if client else None
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(json.dumps({
                    "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    "worker": self.pid, "method": method, "path": scope["path"],
                    "endpoint": endpoint, "status": status,
                    "duration_ms": round(elapsed * 1000, 2), "client": addr,
                    "key_id": key_id}))
            if self.audit is not None and method not in ("GET", "HEAD", "OPTIONS"):
                self.audit.add(datetime.now(UTC), key_id, addr, method, scope["path"], status)


def configure_access_log() -> None:
    """Send the access log (JSON lines) to standard output, once per process."""
    if not access_log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        access_log.addHandler(handler)
        access_log.setLevel(logging.INFO)
        access_log.propagate = False
