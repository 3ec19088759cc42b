"""API keys: create (shown once), authenticate, revoke, list — stored hashed.

A key looks like ``cnk_<key_id>_<secret>``: ``key_id`` is 12 random hex characters, stored in
clear as the lookup id (safe to log and show); ``secret`` is 32 random bytes, base64url. Only
``sha256(full key)`` is stored, compared in constant time. A plain SHA-256 (no slow KDF) is
sound here because the secret has 256 bits of entropy. Keys live in the ``api_keys`` table of
the incident database (same URL, same backends).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import TypeAdapter, ValidationError

from incidents.auth import Area, Plan, Principal, Role
from incidents.errors import InvalidIncident, NotFound
from incidents.model import AgencyId, Text
from incidents.store import IncidentStore

KEY_PREFIX = "cnk"
_KEY_RE = re.compile(r"^cnk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_AGENCY = TypeAdapter(AgencyId)
_LABEL = TypeAdapter(Text)


@dataclass(frozen=True)
class ApiKeyInfo:
    """A stored key without its secret (for listings)."""

    key_id: str
    role: Role
    agency: str | None
    label: str | None
    created_at: datetime
    revoked_at: datetime | None
    plan: Plan = Plan.STANDARD
    expires_at: datetime | None = None
    area: Area | None = None

    @property
    def active(self) -> bool:
        """True unless revoked (an expired key is :meth:`usable_at` no more)."""
        return self.revoked_at is None

    def usable_at(self, at: datetime) -> bool:
        """True when neither revoked nor expired at ``at``."""
        return self.revoked_at is None and (self.expires_at is None or at < self.expires_at)


def parse_area(value: str | Area | None) -> Area | None:
    """A key's area from ``"W,S,E,N"`` (degrees) or a 4-tuple; ``None`` stays ``None``.
    Raises :class:`InvalidIncident` for anything else (W ≤ E, S ≤ N, within WGS 84)."""
    if value is None:
        return None
    parts = value.split(",") if isinstance(value, str) else list(value)
    try:
        w, s, e, n = (float(x) for x in parts)
    except (TypeError, ValueError):
        raise InvalidIncident.single(("area",), "expected W,S,E,N as four numbers") from None
    if not (-180 <= w <= e <= 180 and -90 <= s <= n <= 90):
        raise InvalidIncident.single(("area",), "expected W ≤ E in [-180, 180] and S ≤ N in "
                                     "[-90, 90]")
    return (w, s, e, n)


def _area_text(area: Area | None) -> str | None:
    return None if area is None else ",".join(f"{x:.7f}" for x in area)


def hash_key(key: str) -> str:
    """Hex SHA-256 of the full key text (what the database stores)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(
    store: IncidentStore, role: Role | str, agency: str | None = None, label: str | None = None,
    plan: Plan | str = Plan.STANDARD, area: str | Area | None = None,
    expires_at: datetime | None = None,
) -> str:
    """Create a key and return its plaintext (the only time it is available).

    A ``traffic_centre`` key needs an ``agency``. ``plan``: its quotas (:mod:`api.quotas`);
    ``area``: ``W,S,E,N`` its writes are limited to; ``expires_at``: when it stops working.
    Raises :class:`InvalidIncident` for a bad role, agency, label, plan, area or expiry.
    """
    try:
        role = Role(role)
    except ValueError:
        raise InvalidIncident.single(("role",), f"unknown role {role!r}") from None
    try:
        plan = Plan(plan)
    except ValueError:
        raise InvalidIncident.single(("plan",), f"unknown plan {plan!r}; use "
                                     f"{', '.join(p.value for p in Plan)}") from None
    area = parse_area(area)
    if expires_at is not None and expires_at.tzinfo is None:
        raise InvalidIncident.single(("expires_at",), "needs a UTC offset")
    if agency is not None:
        try:
            agency = _AGENCY.validate_python(agency)
        except ValidationError as exc:
            raise InvalidIncident.from_validation_error(exc, ("agency",)) from None
    elif role == Role.TRAFFIC_CENTRE:
        raise InvalidIncident.single(("agency",), "a traffic_centre key needs an agency")
    elif role == Role.TRANSIT_AGENCY:
        raise InvalidIncident.single(("agency",), "a transit_agency key needs the feed id it "
                                     "may push (its agency)")
    if label is not None:
        try:
            label = _LABEL.validate_python(label)
        except ValidationError as exc:
            raise InvalidIncident.from_validation_error(exc, ("label",)) from None
    db = store.db
    key_id = secrets.token_hex(6)
    key = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    with db.transaction(write=True) as tx:
        tx.execute(
            "INSERT INTO api_keys (key_id, secret_sha256, role, agency, label, created_at,"
            " plan, area_bbox, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (key_id, hash_key(key), role.value, agency, label, db.ts_in(store.now()),
             plan.value, _area_text(area),
             None if expires_at is None else db.ts_in(expires_at)),
        )
    return key


def key_id_of(key: str) -> str | None:
    """The non-secret ``key_id`` part of a well-formed key, else ``None``."""
    m = _KEY_RE.match(key) if isinstance(key, str) and len(key) < 100 else None
    return m.group(1) if m else None


def authenticate(store: IncidentStore, key: str) -> Principal | None:
    """Return the principal for a valid, unrevoked key; ``None`` otherwise (never raises
    for malformed input)."""
    key_id = key_id_of(key)
    if key_id is None:
        return None
    db = store.db
    with db.transaction() as tx:
        row = tx.one(
            "SELECT secret_sha256, role, agency, label, revoked_at, plan, area_bbox, expires_at"
            " FROM api_keys WHERE key_id = ?",
            (key_id,),
        )
    if row is None:
        hmac.compare_digest(hash_key(key), "0" * 64)  # same work for unknown ids
        return None
    stored_hash, role, agency, label, revoked_at, plan, area, expires_at = row
    if not hmac.compare_digest(hash_key(key), stored_hash) or revoked_at is not None:
        return None
    if expires_at is not None and db.ts_out(expires_at) <= store.now():
        return None
    return Principal(key_id=key_id, role=Role(role), agency=agency, label=label,
                     plan=Plan(plan), area=parse_area(area))


def revoke_key(store: IncidentStore, key_id: str) -> ApiKeyInfo:
    """Revoke a key by id (idempotent); return its info. Raises :class:`NotFound`."""
    db = store.db
    with db.transaction(write=True) as tx:
        tx.execute(
            "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
            (db.ts_in(store.now()), key_id),
        )
    return get_key(store, key_id)


def expire_key(store: IncidentStore, key_id: str, at: datetime | None = None) -> ApiKeyInfo:
    """Set when a key stops working (default: now; a later instant schedules it, ``at`` may
    also move an expiry). Raises :class:`NotFound`, :class:`InvalidIncident` for a naive
    ``at``."""
    when = store.now() if at is None else at
    if when.tzinfo is None:
        raise InvalidIncident.single(("expires_at",), "needs a UTC offset")
    db = store.db
    with db.transaction(write=True) as tx:
        tx.execute("UPDATE api_keys SET expires_at = ? WHERE key_id = ?",
                   (db.ts_in(when), key_id))
    return get_key(store, key_id)


def get_key(store: IncidentStore, key_id: str) -> ApiKeyInfo:
    """One key's info. Raises :class:`NotFound`."""
    for info in list_keys(store, key_id=key_id):
        return info
    raise NotFound(key_id, what="API key")


_KEY_COLUMNS = ("SELECT key_id, role, agency, label, created_at, revoked_at, plan, expires_at,"
                " area_bbox FROM api_keys")


def list_keys(store: IncidentStore, include_revoked: bool = True,
              agency: str | None = None, key_id: str | None = None) -> list[ApiKeyInfo]:
    """All keys (oldest first) without secrets or hashes; only those of ``agency`` or the
    one ``key_id`` when given."""
    db = store.db
    where, params = [], []
    if not include_revoked:
        where.append("revoked_at IS NULL")
    if agency is not None:
        where.append("agency = ?")
        params.append(agency)
    if key_id is not None:
        where.append("key_id = ?")
        params.append(key_id)
    sql = _KEY_COLUMNS + (" WHERE " + " AND ".join(where) if where else "")
    with db.transaction() as tx:
        rows = tx.execute(sql + " ORDER BY created_at, key_id", params)
    return [
        ApiKeyInfo(
            key_id=r[0],
            role=Role(r[1]),
            agency=r[2],
            label=r[3],
            created_at=db.ts_out(r[4]),
            revoked_at=None if r[5] is None else db.ts_out(r[5]),
            plan=Plan(r[6]),
            expires_at=None if r[7] is None else db.ts_out(r[7]),
            area=parse_area(r[8]),
        )
        for r in rows
    ]


# ------------------------------------------------------------------------------ usage
@dataclass(frozen=True)
class UsageRow:
    """Requests, cost units and refusals (429) of one key (or ``anonymous``) on one UTC day
    for one operation."""

    key_id: str
    day: str
    operation: str
    requests: int
    cost: int
    rejected: int


def record_usage(store: IncidentStore, rows: list[UsageRow]) -> None:
    """Add ``rows`` to the stored usage (summed per key, day and operation)."""
    if not rows:
        return
    with store.db.transaction() as tx:
        for r in rows:
            tx.execute(
                "INSERT INTO api_usage (key_id, day, operation, requests, cost, rejected)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key_id, day, operation) DO UPDATE SET"
                " requests = api_usage.requests + excluded.requests,"
                " cost = api_usage.cost + excluded.cost,"
                " rejected = api_usage.rejected + excluded.rejected",
                (r.key_id, r.day, r.operation, r.requests, r.cost, r.rejected))


def usage(store: IncidentStore, key_id: str | None = None, days: int = 30,
          agency: str | None = None) -> list[UsageRow]:
    """Stored usage of the last ``days`` UTC days (today included), per key, day and
    operation; of one key, or of the keys of one agency, when given."""
    since = (store.now().astimezone(UTC) - timedelta(days=max(days, 1) - 1)).date().isoformat()
    sql = ("SELECT u.key_id, u.day, u.operation, u.requests, u.cost, u.rejected FROM api_usage u"
           " WHERE u.day >= ?")
    params: list[object] = [since]
    if key_id is not None:
        sql += " AND u.key_id = ?"
        params.append(key_id)
    if agency is not None:
        sql += " AND u.key_id IN (SELECT key_id FROM api_keys WHERE agency = ?)"
        params.append(agency)
    with store.db.transaction() as tx:
        rows = tx.execute(sql + " ORDER BY u.day, u.key_id, u.operation", params)
    return [UsageRow(r[0], r[1], r[2], int(r[3]), int(r[4]), int(r[5])) for r in rows]
