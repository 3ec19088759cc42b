"""API plans and fair use: quotas per minute and per day, a cost per operation, 429 past
them, usage recorded per key.

- **Plans** (:data:`PLANS`): a key carries one (``open``, ``standard``, ``partner``);
  anonymous callers are on ``open``, counted per client address. Each plan allows so many
  cost units per minute and per UTC day.
- **Costs** (:func:`operation_of`): a road route costs 1, a transit plan 3, the congestion
  map 5, …; probes, metrics and the API documents cost nothing and are never refused.
- **Counting** is in fixed windows (the current minute, the current UTC day) shared by every
  worker through a :class:`Counter`: :class:`MemoryCounter` (one process),
  :class:`RedisCounter` (``redis://…``; shared by processes and servers) or
  :class:`StoreCounter` (the incident store's ``quota_counters`` table; PostgreSQL for a
  shared deployment, SQLite for several workers on one machine).
- **Answers** carry ``RateLimit-Limit``, ``RateLimit-Remaining``, ``RateLimit-Reset`` (of the
  window closest to running out) and ``RateLimit-Policy``; past a quota the answer is 429
  with ``Retry-After`` (seconds until the window that ran out ends) and nothing runs.
- **Keys**: a request with an ``Authorization: Bearer`` key that is unknown, revoked or
  expired is refused (401) on every endpoint that counts; keys are looked up at most every
  :data:`KEY_CACHE_S` seconds per worker, so a revocation holds on every worker within it.
- **Usage** per key (``anonymous`` for the rest), UTC day and operation is summed in memory
  and added to the store every :data:`USAGE_FLUSH_S` seconds (``citynav keys usage``).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import PROBLEM_JSON, TYPE_BASE
from incidents.auth import Plan, Principal
from incidents.keys import UsageRow, authenticate, record_usage

if TYPE_CHECKING:
    from incidents.store import IncidentStore

#: How long a worker trusts a key lookup (revocation and expiry hold within this).
KEY_CACHE_S = 0.5
#: How often the usage summed in memory is added to the store.
USAGE_FLUSH_S = 2.0


@dataclass(frozen=True)
class PlanQuota:
    """What a plan allows: cost units per minute and per UTC day."""

    plan: Plan
    per_minute: int
    per_day: int


#: The plans' quotas.
PLANS: dict[Plan, PlanQuota] = {
    Plan.OPEN: PlanQuota(Plan.OPEN, per_minute=60, per_day=5_000),
    Plan.STANDARD: PlanQuota(Plan.STANDARD, per_minute=600, per_day=100_000),
    Plan.PARTNER: PlanQuota(Plan.PARTNER, per_minute=6_000, per_day=2_000_000),
}

#: Paths that cost nothing and are never refused: probes, metrics, the API documents, and
#: the web pages with what their map draws from (style, glyphs and vector tiles of the
#: snapshot, cached per snapshot: a map view loads dozens, which must not eat a commuter's
#: open quota).
FREE_PATHS = frozenset({"/", "/console", "/v1/health", "/v1/ready", "/metrics", "/docs",
                        "/redoc", "/openapi.json", "/v1/style.json"})
#: Cost units of each operation.
COSTS: dict[str, int] = {"route": 1, "plan": 3, "congestion": 5, "congestion_summary": 2,
                         "diversions": 5, "departures": 1, "read": 1, "write": 1}


def operation_of(method: str, path: str) -> str | None:
    """The operation a request counts as (a key of :data:`COSTS`), or ``None`` when it is
    free."""
    if path in FREE_PATHS or path.startswith(("/static/", "/docs/", "/vendor/",
                                              "/v1/tiles/")):
        return None
    if method not in ("GET", "HEAD"):
        return "write"
    if path == "/v1/route":
        return "route"
    if path == "/v1/plan":
        return "plan"
    if path == "/v1/congestion":
        return "congestion"
    if path == "/v1/congestion/summary":
        return "congestion_summary"
    if path.endswith("/diversions"):
        return "diversions"
    if path.endswith("/departures"):
        return "departures"
    return "read"


# ------------------------------------------------------------------------------ counters
class Counter(Protocol):
    """Shared fixed-window counters."""

    #: True when :meth:`add` may block (network, disk): it is then called off the loop.
    blocking: bool

    def add(self, items: list[tuple[str, int, int]]) -> list[int]:
        """Add ``amount`` to each ``(bucket, amount, ttl_s)``; return the totals after."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class MemoryCounter:
    """Counters of one process (the embedded default)."""

    blocking = False

    def __init__(self) -> None:
        self._used: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def add(self, items: list[tuple[str, int, int]]) -> list[int]:
        """See :class:`Counter`."""
        now = time.time()
        out = []
        with self._lock:
            if len(self._used) > 100_000:
                self._used = {k: v for k, v in self._used.items() if v[1] > now}
            for bucket, amount, ttl_s in items:
                used, expires = self._used.get(bucket, (0, now + ttl_s))
                used += amount
                self._used[bucket] = (used, expires)
                out.append(used)
        return out

    def close(self) -> None:
        """Nothing to release."""


class RedisCounter:
    """Counters in Redis (``INCRBY`` with an expiry, in one round trip)."""

    blocking = True

    def __init__(self, url: str, prefix: str = "citynav:") -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=2.0,
                                           socket_connect_timeout=2.0)
        self.prefix = prefix

    def add(self, items: list[tuple[str, int, int]]) -> list[int]:
        """See :class:`Counter`."""
        pipe = self._redis.pipeline(transaction=False)
        for bucket, amount, ttl_s in items:
            pipe.incrby(self.prefix + bucket, amount)
            pipe.expire(self.prefix + bucket, ttl_s)
        res = pipe.execute()
        return [int(res[2 * i]) for i in range(len(items))]

    def close(self) -> None:
        """Close the connection pool."""
        self._redis.close()


class StoreCounter:
    """Counters in the incident store's ``quota_counters`` table, on a connection of their
    own (PostgreSQL: shared by servers; SQLite: by the workers of one machine)."""

    blocking = True

    def __init__(self, url: str) -> None:
        from incidents.db import connect

        # counters are disposable: no fsync per request on SQLite
        self._db = connect(url, durable=False)
        self._last_cleanup = 0.0

    def add(self, items: list[tuple[str, int, int]]) -> list[int]:
        """See :class:`Counter`."""
        now = int(time.time())
        out = []
        with self._db.transaction(write=self._db.dialect == "sqlite") as tx:
            for bucket, amount, ttl_s in items:
                row = tx.one("INSERT INTO quota_counters (bucket, used, expires_s) VALUES "
                             "(?, ?, ?) ON CONFLICT (bucket) DO UPDATE SET used = "
                             "quota_counters.used + excluded.used RETURNING used",
                             (bucket, amount, now + ttl_s))
                out.append(int(row[0]) if row else amount)
            if now - self._last_cleanup > 60:
                self._last_cleanup = now
                tx.execute("DELETE FROM quota_counters WHERE expires_s < ?", (now,))
        return out

    def close(self) -> None:
        """Close the connection."""
        self._db.close()


def open_counter(spec: str, store_url: str | None = None) -> Counter:
    """A counter from ``spec``: ``memory``, ``store`` (needs ``store_url``) or a
    ``redis://`` URL. Raises ``ValueError`` for anything else."""
    if spec == "memory":
        return MemoryCounter()
    if spec == "store":
        if store_url is None:
            raise ValueError("quotas in the store need an incident store")
        return StoreCounter(store_url)
    if spec.startswith(("redis://", "rediss://", "unix://")):
        return RedisCounter(spec)
    raise ValueError(f"quotas: expected memory, store or redis://HOST:PORT/DB, got {spec!r}")


# ------------------------------------------------------------------------------ decisions
@dataclass(frozen=True)
class Decision:
    """The outcome of counting one request."""

    allowed: bool
    limit: int
    remaining: int
    reset_s: int
    policy: str
    retry_after_s: int = 0


def _seconds_to_midnight(now: float) -> int:
    return 86_400 - int(now) % 86_400


def decide(counter: Counter, ident: str, quota: PlanQuota, cost: int,
           now: float | None = None) -> Decision:
    """Count ``cost`` units for ``ident`` in its minute and day windows; past either quota
    give the units back and refuse."""
    t = time.time() if now is None else now
    minute, day = int(t // 60), datetime.fromtimestamp(t, UTC).date().isoformat()
    buckets = [(f"q:{ident}:m:{minute}", cost, 120), (f"q:{ident}:d:{day}", cost, 90_000)]
    used_m, used_d = counter.add(buckets)
    reset_m, reset_d = 60 - int(t) % 60, _seconds_to_midnight(t)
    policy = f"{quota.per_minute};w=60, {quota.per_day};w=86400"
    over_m, over_d = used_m > quota.per_minute, used_d > quota.per_day
    if over_m or over_d:
        counter.add([(b, -cost, ttl) for b, _, ttl in buckets])
        retry = max(reset_m if over_m else 0, reset_d if over_d else 0)
        limit, reset = (quota.per_day, reset_d) if over_d else (quota.per_minute, reset_m)
        return Decision(False, limit, 0, reset, policy, retry)
    left_m, left_d = quota.per_minute - used_m, quota.per_day - used_d
    if left_d < left_m:
        return Decision(True, quota.per_day, left_d, reset_d, policy)
    return Decision(True, quota.per_minute, left_m, reset_m, policy)


# ------------------------------------------------------------------------------ keys, usage
class KeyCache:
    """Key lookups trusted for :data:`KEY_CACHE_S` seconds."""

    def __init__(self, lookup: Callable[[str], Principal | None],
                 ttl_s: float = KEY_CACHE_S) -> None:
        self.lookup, self.ttl_s = lookup, ttl_s
        self._cache: dict[str, tuple[Principal | None, float]] = {}

    def cached(self, key: str) -> tuple[bool, Principal | None]:
        """``(found, principal)`` from the cache without looking up."""
        hit = self._cache.get(hashlib.sha256(key.encode()).hexdigest())
        if hit is not None and hit[1] > time.monotonic():
            return True, hit[0]
        return False, None

    def get(self, key: str) -> Principal | None:
        """The key's principal (``None``: unknown, revoked or expired)."""
        found, p = self.cached(key)
        if found:
            return p
        p = self.lookup(key)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[hashlib.sha256(key.encode()).hexdigest()] = (p, time.monotonic()
                                                                  + self.ttl_s)
        return p


class UsageRecorder:
    """Sums requests, cost and refusals per key, UTC day and operation; adds them to the
    store every :data:`USAGE_FLUSH_S` seconds and on :meth:`stop`."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str, str], list[int]] = {}
        self._lock = threading.Lock()
        self._store: IncidentStore | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def count(self, key_id: str, operation: str, cost: int, rejected: bool) -> None:
        """Count one request."""
        day = datetime.now(UTC).date().isoformat()
        with self._lock:
            row = self._rows.setdefault((key_id, day, operation), [0, 0, 0])
            row[0] += 1
            row[1] += 0 if rejected else cost
            row[2] += 1 if rejected else 0

    def start(self, store: IncidentStore) -> None:
        """Flush into ``store`` in a background thread."""
        self._store = store
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="usage-flush", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(USAGE_FLUSH_S):
            self.flush()

    def flush(self) -> None:
        """Add what was counted to the store now."""
        with self._lock:
            rows, self._rows = self._rows, {}
        if not rows or self._store is None:
            return
        try:
            record_usage(self._store, [UsageRow(k, d, op, v[0], v[1], v[2])
                                       for (k, d, op), v in rows.items()])
        except Exception:  # noqa: BLE001 - keep the counts for the next try
            with self._lock:
                for k, v in rows.items():
                    row = self._rows.setdefault(k, [0, 0, 0])
                    for i in range(3):
                        row[i] += v[i]

    def stop(self) -> None:
        """Stop the thread and flush what is left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.flush()


# ------------------------------------------------------------------------------ middleware
class Quotas:
    """What :class:`QuotaGuard` needs, attached to the store once the service is loaded."""

    def __init__(self, spec: str, plans: dict[Plan, PlanQuota] | None = None) -> None:
        self.spec = spec
        self.plans = plans or PLANS
        self.counter: Counter | None = None
        self.keys: KeyCache | None = None
        self.usage = UsageRecorder()
        #: 429 answers given, per plan
        self.rejected: dict[str, int] = {}

    def attach(self, store: IncidentStore | None) -> None:
        """Open the counter and start recording usage (``store`` may be ``None``: keys are
        then unknown and usage is not recorded)."""
        url = getattr(store.db, "url", None) if store is not None else None
        self.counter = open_counter(self.spec, url)
        if store is not None:
            self.keys = KeyCache(lambda key: authenticate(store, key))
            self.usage.start(store)

    def close(self) -> None:
        """Flush usage and close the counter."""
        self.usage.stop()
        if self.counter is not None:
            self.counter.close()
            self.counter = None


def bearer_key(scope: Scope) -> str | None:
    """The key of an ``Authorization: Bearer KEY`` header, if any."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            text = value.decode("latin-1").strip()
            if text[:7].lower() == "bearer ":
                return text[7:].strip()
            return None
    return None


def _problem(status: int, kind: str, title: str, detail: str,
             headers: list[tuple[bytes, bytes]]) -> tuple[Message, Message]:
    import json

    body = json.dumps({"type": TYPE_BASE + kind, "title": title, "status": status,
                       "detail": detail}).encode()
    start = {"type": "http.response.start", "status": status, "headers": [
        (b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode()),
        *headers]}
    return start, {"type": "http.response.body", "body": body}


class QuotaGuard:
    """Counts each request against its caller's plan (see the module docstring)."""

    def __init__(self, app: ASGIApp, quotas: Quotas) -> None:
        self.app = app
        self.quotas = quotas

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        q = self.quotas
        if scope["type"] != "http" or q.counter is None:
            await self.app(scope, receive, send)
            return
        operation = operation_of(scope["method"], scope["path"])
        key = bearer_key(scope)
        principal: Principal | None = None
        if key and q.keys is not None:
            found, principal = q.keys.cached(key)
            if not found:
                principal = await anyio.to_thread.run_sync(q.keys.get, key)
            if principal is None and operation is not None:
                start, body = _problem(401, "unauthorized", "Unauthorized", "the API key is "
                                       "unknown, revoked or expired",
                                       [(b"www-authenticate", b'Bearer realm="citynav"')])
                await send(start)
                await send(body)
                return
            scope.setdefault("state", {})["principal"] = principal
        if operation is None:
            await self.app(scope, receive, send)
            return
        plan = principal.plan if principal is not None else Plan.OPEN
        quota = q.plans[plan]
        cost = COSTS[operation]
        client = scope.get("client")
        ident = f"key:{principal.key_id}" if principal is not None else \
            f"ip:{client[0] if client else 'unknown'}"
        if q.counter.blocking:
            decision = await anyio.to_thread.run_sync(decide, q.counter, ident, quota, cost)
        else:
            decision = decide(q.counter, ident, quota, cost)
        q.usage.count(principal.key_id if principal is not None else "anonymous", operation,
                      cost, not decision.allowed)
        headers = [(b"ratelimit-limit", str(decision.limit).encode()),
                   (b"ratelimit-remaining", str(decision.remaining).encode()),
                   (b"ratelimit-reset", str(decision.reset_s).encode()),
                   (b"ratelimit-policy", decision.policy.encode())]
        if not decision.allowed:
            q.rejected[plan.value] = q.rejected.get(plan.value, 0) + 1
            start, body = _problem(
                429, "quota-exceeded", "Quota exceeded",
                f"the {plan.value} plan allows {quota.per_minute} units a minute and "
                f"{quota.per_day} a day; this {operation} costs {cost}. Try again in "
                f"{decision.retry_after_s} s" + ("" if principal is not None else
                                                 " (or use an API key)"),
                [(b"retry-after", str(decision.retry_after_s).encode()), *headers])
            await send(start)
            await send(body)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *headers]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
