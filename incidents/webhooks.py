"""Webhooks: durable subscriptions, signed deliveries retried with backoff, and a delivery log.

A subscription (``WH-<n>``) belongs to an owner (an API key or a personal token), names a URL
and an :class:`incidents.events.EventFilter`, and holds a per-subscription secret and the
event-stream position up to which its deliveries were queued. Everything lives in the store
(SQLite or PostgreSQL), so nothing is lost when the server stops:

1. the *dispatcher* reads the events after each active subscription's position, and in one
   transaction queues a delivery per matching event (unique per subscription and event, so
   two processes can never queue one twice) and moves the position on;
2. the *sender* claims due deliveries (a short lease, so one process sends each attempt),
   POSTs them signed, and logs every attempt; a failure is retried after an exponential
   backoff with jitter; a delivery that failed ``max_attempts`` times pauses its
   subscription (its pending deliveries are kept, and continue when the owner re-activates it).

Deliveries are at least once: a receiver deduplicates on ``Citynav-Event-Id``. The signature
is ``HMAC-SHA256(secret, "<timestamp>.<body>")`` in hex, sent as ``Citynav-Signature: v1=…``
with the attempt's Unix time in ``Citynav-Timestamp`` (see :func:`verify_signature`).
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import json
import logging
import random
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from incidents.db import Database
from incidents.errors import Conflict, InvalidIncident, NotFound
from incidents.events import Cursor, Event, EventFilter, EventLog
from incidents.store import IncidentStore

log = logging.getLogger("citynav.webhooks")

#: Most subscriptions one owner may hold.
MAX_PER_OWNER = 20
#: Signed timestamps older (or newer) than this are refused by :func:`verify_signature`.
TOLERANCE_S = 300
_COLS = ("id, owner, url, secret, filter, status, paused_reason, failures, cursor, created_at,"
         " updated_at")
_DCOLS = ("id, webhook_id, event_id, event_type, status, attempts, next_attempt_at,"
          " created_at, delivered_at, last_status, last_error")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Citynav-Signature`` value of ``body`` sent at ``timestamp`` (Unix s)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify_signature(secret: str, timestamp: str, body: bytes, signature: str,
                     now_s: float | None = None, tolerance_s: int = TOLERANCE_S) -> bool:
    """What a receiver does: recompute the signature over ``timestamp.body``, compare in
    constant time, and refuse a timestamp more than ``tolerance_s`` from now (replay)."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    now = time.time() if now_s is None else now_s
    if abs(now - ts) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature.strip())


@dataclass(frozen=True)
class Webhook:
    """A subscription (the secret is only returned when it is created)."""

    id: str
    owner: str
    url: str
    filter: EventFilter
    status: str
    paused_reason: str | None
    failures: int
    cursor: Cursor
    created_at: datetime
    updated_at: datetime
    secret: str = ""

    def to_doc(self, with_secret: bool = False) -> dict[str, Any]:
        """JSON form for the API."""
        doc: dict[str, Any] = {"id": self.id, "url": self.url, **self.filter.to_doc(),
                               "status": self.status, "paused_reason": self.paused_reason,
                               "consecutive_failures": self.failures,
                               "position": str(self.cursor),
                               "created_at": self.created_at.isoformat(),
                               "updated_at": self.updated_at.isoformat()}
        if with_secret:
            doc["secret"] = self.secret
        return doc


@dataclass(frozen=True)
class Delivery:
    """One queued event for one subscription, with its attempts so far."""

    id: int
    webhook_id: str
    event_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None
    last_status: int | None
    last_error: str | None

    def to_doc(self) -> dict[str, Any]:
        """JSON form for the API."""
        return {"id": self.id, "event_id": self.event_id, "event_type": self.event_type,
                "status": self.status, "attempts": self.attempts,
                "next_attempt_at": self.next_attempt_at.isoformat()
                if self.status == "pending" else None,
                "created_at": self.created_at.isoformat(),
                "delivered_at": self.delivered_at.isoformat() if self.delivered_at else None,
                "last_status": self.last_status, "last_error": self.last_error}


def _private_ip(text: str) -> bool:
    import ipaddress

    try:
        ip = ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return False
    return (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved
            or ip.is_multicast or ip.is_unspecified)


def private_destination(host: str, resolve: bool) -> bool:
    """True when ``host`` is this machine or a private network: ``localhost``, an address of
    a private, loopback, link-local or reserved range, or (``resolve``) a name resolving to
    one."""
    h = host.strip("[]").lower()
    if h == "localhost" or h.endswith(".localhost") or _private_ip(h):
        return True
    if not resolve:
        return False
    import socket

    try:
        infos = socket.getaddrinfo(h, None)
    except OSError:
        return False  # unresolvable: the attempt fails on its own
    return any(_private_ip(str(i[4][0])) for i in infos)


def check_url(url: str, allow_private: bool = False) -> str:
    """An http(s) URL with a host (not this machine or a private network unless
    ``allow_private``), else :class:`InvalidIncident`."""
    from urllib.parse import urlsplit

    if not isinstance(url, str) or len(url) > 2000:
        raise InvalidIncident.single(("url",), "expected an http(s) URL of at most 2000 "
                                     "characters")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username:
        raise InvalidIncident.single(("url",), "expected an http(s) URL with a host and no "
                                     "credentials, e.g. https://example.org/hooks/citynav")
    if not allow_private and private_destination(parts.hostname, resolve=False):
        raise InvalidIncident.single(("url",), "webhooks may not point at this machine or a "
                                     "private network (the operator may allow it: "
                                     "CITYNAV_WEBHOOK_ALLOW_PRIVATE=1)")
    return url.strip()


class WebhookStore:
    """Subscriptions, deliveries and attempts in the incident store (both backends)."""

    def __init__(self, store: IncidentStore, allow_private: bool = False) -> None:
        self.store = store
        self.db: Database = store.db
        self.allow_private = allow_private

    def _hook(self, r: tuple[Any, ...]) -> Webhook:
        db = self.db
        return Webhook(r[0], r[1], r[2], EventFilter.from_doc(db.json_out(r[4]), r[1]), r[5],
                       r[6], int(r[7]), Cursor.parse(r[8]), db.ts_out(r[9]), db.ts_out(r[10]),
                       r[3])

    def _delivery(self, r: tuple[Any, ...]) -> Delivery:
        db = self.db
        return Delivery(int(r[0]), r[1], r[2], r[3], r[4], int(r[5]), db.ts_out(r[6]),
                        db.ts_out(r[7]), db.ts_out(r[8]) if r[8] is not None else None,
                        r[9], r[10])

    # ------------------------------------------------------------------ subscriptions
    def create(self, owner: str, url: str, flt: EventFilter, position: Cursor) -> Webhook:
        """A new active subscription receiving events after ``position``; the returned
        value carries the secret (shown once). Raises :class:`InvalidIncident`,
        :class:`Conflict` (too many for this owner)."""
        url = check_url(url, self.allow_private)
        secret = "whsec_" + secrets.token_urlsafe(32)
        now = self.store.now()
        db = self.db
        with db.transaction(write=True) as tx:
            row = tx.one("SELECT COUNT(*) FROM webhooks WHERE owner = ?", (owner,))
            if row and int(row[0]) >= MAX_PER_OWNER:
                raise Conflict(f"an owner may hold at most {MAX_PER_OWNER} webhooks")
            num = int(tx.one("UPDATE counters SET value = value + 1 WHERE name = 'webhook_id'"
                             " RETURNING value")[0])
            hook_id = f"WH-{num}"
            tx.execute(f"INSERT INTO webhooks (num, {_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?,"
                       " ?, ?, ?)",
                       (num, hook_id, owner, url, secret, json.dumps(flt.to_doc()), "active",
                        None, 0, str(position), db.ts_in(now), db.ts_in(now)))
        return self.get(hook_id, owner, with_secret=True)

    def get(self, hook_id: str, owner: str | None = None, with_secret: bool = False
            ) -> Webhook:
        """One subscription (of ``owner``, when given). Raises :class:`NotFound`."""
        with self.db.transaction() as tx:
            r = tx.one(f"SELECT {_COLS} FROM webhooks WHERE id = ?", (hook_id,))
        if r is None or (owner is not None and r[1] != owner):
            raise NotFound(hook_id, what="webhook")
        hook = self._hook(r)
        return hook if with_secret else _without_secret(hook)

    def list(self, owner: str | None = None, status: str | None = None) -> list[Webhook]:
        """Subscriptions (of ``owner``; with ``status``), oldest first, with their secrets
        only for internal use (``owner=None``)."""
        sql, params = f"SELECT {_COLS} FROM webhooks WHERE 1 = 1", []
        if owner is not None:
            sql += " AND owner = ?"
            params.append(owner)
        if status is not None:
            sql += " AND status = ?"
            params.append(status)
        with self.db.transaction() as tx:
            rows = tx.execute(sql + " ORDER BY num", params)
        hooks = [self._hook(r) for r in rows]
        return hooks if owner is None else [_without_secret(h) for h in hooks]

    def update(self, hook_id: str, owner: str, url: str | None = None,
               flt: EventFilter | None = None, status: str | None = None) -> Webhook:
        """Change URL, filter or status (``active`` resumes a paused subscription: its
        pending deliveries become due now). Raises :class:`NotFound`,
        :class:`InvalidIncident`."""
        if url is not None:
            url = check_url(url, self.allow_private)
        if status is not None and status not in ("active", "paused"):
            raise InvalidIncident.single(("status",), "expected 'active' or 'paused'")
        db = self.db
        now = db.ts_in(self.store.now())
        with db.transaction(write=True) as tx:
            r = tx.one("SELECT owner, status FROM webhooks WHERE id = ?", (hook_id,))
            if r is None or r[0] != owner:
                raise NotFound(hook_id, what="webhook")
            if url is not None:
                tx.execute("UPDATE webhooks SET url = ? WHERE id = ?", (url, hook_id))
            if flt is not None:
                tx.execute("UPDATE webhooks SET filter = ? WHERE id = ?",
                           (json.dumps(flt.to_doc()), hook_id))
            if status == "active" and r[1] != "active":
                tx.execute("UPDATE webhooks SET status = 'active', paused_reason = NULL,"
                           " failures = 0 WHERE id = ?", (hook_id,))
                tx.execute("UPDATE webhook_deliveries SET next_attempt_at = ?, attempts = 0,"
                           " claimed_until = NULL WHERE webhook_id = ? AND status = 'pending'",
                           (now, hook_id))
            elif status == "paused" and r[1] != "paused":
                tx.execute("UPDATE webhooks SET status = 'paused', paused_reason = ?"
                           " WHERE id = ?", ("paused by its owner", hook_id))
            tx.execute("UPDATE webhooks SET updated_at = ? WHERE id = ?", (now, hook_id))
        return self.get(hook_id, owner)

    def delete(self, hook_id: str, owner: str) -> None:
        """Remove a subscription with its deliveries and log. Raises :class:`NotFound`."""
        with self.db.transaction(write=True) as tx:
            r = tx.one("SELECT owner FROM webhooks WHERE id = ?", (hook_id,))
            if r is None or r[0] != owner:
                raise NotFound(hook_id, what="webhook")
            tx.execute("DELETE FROM webhook_attempts WHERE webhook_id = ?", (hook_id,))
            tx.execute("DELETE FROM webhook_deliveries WHERE webhook_id = ?", (hook_id,))
            tx.execute("DELETE FROM webhooks WHERE id = ?", (hook_id,))

    # ------------------------------------------------------------------ deliveries
    def enqueue(self, hook: Webhook, bodies: builtins.list[tuple[Event, str]],
                position: Cursor
                ) -> int:
        """Queue ``bodies`` (event, JSON text) for ``hook`` and move its position to
        ``position``, in one transaction; an event already queued is skipped. Returns the
        number queued now (0 when another process moved the position meanwhile)."""
        db = self.db
        now = db.ts_in(self.store.now())
        n = 0
        with db.transaction(write=True) as tx:
            r = tx.one("SELECT cursor FROM webhooks WHERE id = ?", (hook.id,))
            if r is None or r[0] != str(hook.cursor):
                return 0
            for ev, body in bodies:
                got = tx.execute(
                    "INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, body,"
                    " status, attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?,"
                    " 'pending', 0, ?, ?) ON CONFLICT (webhook_id, event_id) DO NOTHING"
                    " RETURNING id", (hook.id, ev.id, ev.type, body, now, now))
                n += len(got)
            tx.execute("UPDATE webhooks SET cursor = ? WHERE id = ?", (str(position), hook.id))
        return n

    def claim_due(self, limit: int, lease_s: float
                  ) -> builtins.list[tuple[Delivery, Webhook, str]]:
        """Claim up to ``limit`` due deliveries of active subscriptions for ``lease_s``;
        returns (delivery, subscription with secret, body)."""
        db = self.db
        now = self.store.now()
        due_sql = ("SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON"
                   " w.id = d.webhook_id WHERE d.status = 'pending' AND w.status = 'active'"
                   " AND d.next_attempt_at <= ? AND (d.claimed_until IS NULL OR"
                   " d.claimed_until < ?) ORDER BY d.id LIMIT ?")
        params = (db.ts_in(now), db.ts_in(now), limit)
        with db.transaction() as tx:  # most rounds find nothing: no write lock for that
            if not tx.execute(due_sql, params):
                return []
        with db.transaction(write=True) as tx:
            rows = tx.execute(due_sql, params)
            ids = [int(r[0]) for r in rows]
            if not ids:
                return []
            marks = ", ".join("?" for _ in ids)
            tx.execute(f"UPDATE webhook_deliveries SET claimed_until = ? WHERE id IN ({marks})",
                       (db.ts_in(now + timedelta(seconds=lease_s)), *ids))
            got = tx.execute(
                f"SELECT {', '.join('d.' + c.strip() for c in _DCOLS.split(','))}, d.body,"
                f" {', '.join('w.' + c.strip() for c in _COLS.split(','))}"
                f" FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id"
                f" WHERE d.id IN ({marks}) ORDER BY d.id", ids)
        n = len(_DCOLS.split(","))
        return [(self._delivery(r[:n]), self._hook(r[n + 1:]), r[n]) for r in got]

    def record(self, d: Delivery, status_code: int | None, error: str | None,
               duration_ms: float, retry_in_s: float, max_attempts: int) -> str:
        """Log one attempt of ``d``; a success marks it delivered, a failure schedules the
        next attempt (or pauses the subscription after ``max_attempts``). Returns the
        delivery's status afterwards: ``delivered``, ``pending`` or ``paused``."""
        db = self.db
        now = self.store.now()
        ok = error is None and status_code is not None and 200 <= status_code < 300
        with db.transaction(write=True) as tx:
            cur = tx.one("SELECT status, attempts FROM webhook_deliveries WHERE id = ?", (d.id,))
            if cur is None:
                return "deleted"
            attempt = int(cur[1]) + 1  # since created or last resumed
            n_log = tx.one("SELECT COALESCE(MAX(attempt), 0) FROM webhook_attempts"
                           " WHERE delivery_id = ?", (d.id,))
            tx.execute("INSERT INTO webhook_attempts (delivery_id, attempt, webhook_id, at,"
                       " status_code, error, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (d.id, int(n_log[0]) + 1 if n_log else 1, d.webhook_id, db.ts_in(now),
                        status_code, error, duration_ms))
            if ok:
                tx.execute("UPDATE webhook_deliveries SET status = 'delivered', attempts = ?,"
                           " delivered_at = ?, claimed_until = NULL, last_status = ?,"
                           " last_error = NULL WHERE id = ?",
                           (attempt, db.ts_in(now), status_code, d.id))
                tx.execute("UPDATE webhooks SET failures = 0 WHERE id = ?", (d.webhook_id,))
                return "delivered"
            reason = error or f"HTTP {status_code}"
            tx.execute("UPDATE webhook_deliveries SET attempts = ?, next_attempt_at = ?,"
                       " claimed_until = NULL, last_status = ?, last_error = ? WHERE id = ?",
                       (attempt, db.ts_in(now + timedelta(seconds=retry_in_s)), status_code,
                        reason[:500], d.id))
            tx.execute("UPDATE webhooks SET failures = failures + 1 WHERE id = ?",
                       (d.webhook_id,))
            if attempt >= max_attempts:
                tx.execute("UPDATE webhooks SET status = 'paused', paused_reason = ?,"
                           " updated_at = ? WHERE id = ? AND status = 'active'",
                           (f"delivery {d.id} ({d.event_id}) failed {attempt} times, last: "
                            f"{reason[:200]}", db.ts_in(now), d.webhook_id))
                return "paused"
        return "pending"

    def deliveries(self, hook_id: str, owner: str, status: str | None = None,
                   limit: int = 100
                   ) -> builtins.list[tuple[Delivery, builtins.list[dict[str, Any]]]]:
        """The delivery log of one subscription, newest first, each with its attempts."""
        self.get(hook_id, owner)
        db = self.db
        sql, params = f"SELECT {_DCOLS} FROM webhook_deliveries WHERE webhook_id = ?", [hook_id]
        if status is not None:
            sql += " AND status = ?"
            params.append(status)
        with db.transaction() as tx:
            rows = tx.execute(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
            ds = [self._delivery(r) for r in rows]
            attempts: dict[int, builtins.list[dict[str, Any]]] = {d.id: [] for d in ds}
            if ds:
                marks = ", ".join("?" for _ in ds)
                for a in tx.execute(
                        "SELECT delivery_id, attempt, at, status_code, error, duration_ms"
                        f" FROM webhook_attempts WHERE delivery_id IN ({marks})"
                        " ORDER BY delivery_id, attempt", [d.id for d in ds]):
                    attempts[int(a[0])].append({
                        "attempt": int(a[1]), "at": db.ts_out(a[2]).isoformat(),
                        "status_code": a[3], "error": a[4],
                        "duration_ms": round(float(a[5]), 1)})
        return [(d, attempts[d.id]) for d in ds]


def _without_secret(h: Webhook) -> Webhook:
    return Webhook(h.id, h.owner, h.url, h.filter, h.status, h.paused_reason, h.failures,
                   h.cursor, h.created_at, h.updated_at, "")


@dataclass(frozen=True)
class WebhookSettings:
    """Delivery policy: backoff ``base_backoff_s × 2^(attempt-1)`` (±20 % jitter) capped at
    ``max_backoff_s``; ``max_attempts`` failures pause the subscription."""

    base_backoff_s: float = 2.0
    max_backoff_s: float = 3600.0
    max_attempts: int = 12
    timeout_s: float = 10.0
    senders: int = 4
    poll_s: float = 1.0
    #: deliver to this machine and private networks too (tests, closed deployments)
    allow_private: bool = False


class WebhookWorker:
    """Background threads of one process: the dispatcher and the sender (module docstring).
    ``enrich`` may add to an event's JSON before it is queued (the congestion summary)."""

    def __init__(self, store: IncidentStore, log_: EventLog,
                 settings: WebhookSettings | None = None,
                 enrich: Callable[[Event, dict[str, Any]], dict[str, Any]] | None = None
                 ) -> None:
        self.settings = settings or WebhookSettings()
        self.hooks = WebhookStore(store, self.settings.allow_private)
        self.log = log_
        self.enrich = enrich
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pool: ThreadPoolExecutor | None = None

    def poke(self, *_: object) -> None:
        """New events may be there: dispatch now."""
        self._wake.set()

    def dispatch(self) -> int:
        """Queue deliveries of new events for every active subscription; returns how many."""
        n = 0
        for hook in self.hooks.list(status="active"):
            while True:
                types = hook.filter.types - {"state"}
                if not types:
                    break
                evs = self.log.read(hook.cursor, 500, types, hook.owner)
                if not evs:
                    break
                bodies = []
                for ev in evs:
                    if hook.filter.matches(ev):
                        doc = {**ev.payload(), "webhook_id": hook.id}
                        if self.enrich is not None:
                            doc = self.enrich(ev, doc)
                        bodies.append((ev, json.dumps(doc, separators=(",", ":"), default=str)))
                n += self.hooks.enqueue(hook, bodies, evs[-1].cursor)
                if len(evs) < 500:
                    break
                hook = self.hooks.get(hook.id, with_secret=True)
        return n

    def backoff_s(self, attempt: int) -> float:
        """Delay before the attempt after failed attempt number ``attempt`` (1-based)."""
        s = self.settings
        return min(s.max_backoff_s, s.base_backoff_s * 2 ** (attempt - 1)
                   * random.uniform(0.8, 1.2))  # noqa: S311 - jitter, not a secret

    def send_due(self, client: Any) -> int:
        """Send every due delivery once (in parallel); returns the number attempted."""
        s = self.settings
        claimed = self.hooks.claim_due(50, lease_s=s.timeout_s * 3)
        if not claimed:
            return 0
        assert self._pool is not None
        list(self._pool.map(lambda c: self._send(client, *c), claimed))
        return len(claimed)

    def _send(self, client: Any, d: Delivery, hook: Webhook, body: str) -> None:
        raw = body.encode()
        ts = int(time.time())
        headers = {"Content-Type": "application/json", "User-Agent": "citynav-webhooks/1",
                   "Citynav-Webhook-Id": hook.id, "Citynav-Event-Id": d.event_id,
                   "Citynav-Event-Type": d.event_type, "Citynav-Delivery": str(d.id),
                   "Citynav-Attempt": str(d.attempts + 1), "Citynav-Timestamp": str(ts),
                   "Citynav-Signature": sign(hook.secret, ts, raw)}
        t0 = time.perf_counter()
        code: int | None = None
        error: str | None = None
        from urllib.parse import urlsplit

        host = urlsplit(hook.url).hostname or ""
        if not self.settings.allow_private and private_destination(host, resolve=True):
            error = f"refused: {host} is this machine or a private network"
        else:
            try:
                r = client.post(hook.url, content=raw, headers=headers)
                code = r.status_code
            except Exception as exc:  # noqa: BLE001 - any transport failure fails the attempt
                error = f"{type(exc).__name__}: {exc}"[:500]
        ms = (time.perf_counter() - t0) * 1000
        outcome = self.hooks.record(d, code, error, ms, self.backoff_s(d.attempts + 1),
                                    self.settings.max_attempts)
        if outcome == "paused":
            log.warning("webhook %s paused: delivery %s failed %d times", hook.id, d.id,
                        self.settings.max_attempts)

    def run_once(self, client: Any) -> None:
        """One round: dispatch, then send what is due."""
        self.dispatch()
        self.send_due(client)

    def start(self) -> None:
        """Start the background thread."""
        if self._threads:
            return
        self._stop.clear()
        self._pool = ThreadPoolExecutor(self.settings.senders, thread_name_prefix="webhook")
        t = threading.Thread(target=self._run, name="webhooks", daemon=True)
        t.start()
        self._threads = [t]

    def stop(self) -> None:
        """Stop sending (claimed deliveries' leases expire; nothing is lost)."""
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout=self.settings.timeout_s + 5)
        self._threads = []
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _run(self) -> None:
        import httpx

        with httpx.Client(timeout=self.settings.timeout_s, follow_redirects=False) as client:
            while not self._stop.is_set():
                try:
                    self.run_once(client)
                except Exception:  # noqa: BLE001 - keep delivering; the error is logged
                    log.exception("webhooks: round failed")
                self._wake.wait(self.settings.poll_s)
                self._wake.clear()
