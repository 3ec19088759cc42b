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
from datetime import datetime

from pydantic import TypeAdapter, ValidationError

from incidents.auth import Principal, Role
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

    @property
    def active(self) -> bool:
        """True unless revoked."""
        return self.revoked_at is None


def hash_key(key: str) -> str:
    """Hex SHA-256 of the full key text (what the database stores)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(
    store: IncidentStore, role: Role | str, agency: str | None = None, label: str | None = None
) -> str:
    """Create a key and return its plaintext (the only time it is available).

    A ``traffic_centre`` key needs an ``agency``. Raises :class:`InvalidIncident` for a bad
    role, agency or label.
    """
    try:
        role = Role(role)
    except ValueError:
        raise InvalidIncident.single(("role",), f"unknown role {role!r}") from None
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
            "INSERT INTO api_keys (key_id, secret_sha256, role, agency, label, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (key_id, hash_key(key), role.value, agency, label, db.ts_in(store.now())),
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
    with store.db.transaction() as tx:
        row = tx.one(
            "SELECT secret_sha256, role, agency, label, revoked_at FROM api_keys WHERE key_id = ?",
            (key_id,),
        )
    if row is None:
        hmac.compare_digest(hash_key(key), "0" * 64)  # same work for unknown ids
        return None
    stored_hash, role, agency, label, revoked_at = row
    if not hmac.compare_digest(hash_key(key), stored_hash) or revoked_at is not None:
        return None
    return Principal(key_id=key_id, role=Role(role), agency=agency, label=label)


def revoke_key(store: IncidentStore, key_id: str) -> ApiKeyInfo:
    """Revoke a key by id (idempotent); return its info. Raises :class:`NotFound`."""
    db = store.db
    with db.transaction(write=True) as tx:
        tx.execute(
            "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
            (db.ts_in(store.now()), key_id),
        )
    for info in list_keys(store):
        if info.key_id == key_id:
            return info
    raise NotFound(key_id, what="API key")


def list_keys(store: IncidentStore, include_revoked: bool = True) -> list[ApiKeyInfo]:
    """All keys (oldest first) without secrets or hashes."""
    db = store.db
    sql = "SELECT key_id, role, agency, label, created_at, revoked_at FROM api_keys"
    if not include_revoked:
        sql += " WHERE revoked_at IS NULL"
    with db.transaction() as tx:
        rows = tx.execute(sql + " ORDER BY created_at, key_id")
    return [
        ApiKeyInfo(
            key_id=r[0],
            role=Role(r[1]),
            agency=r[2],
            label=r[3],
            created_at=db.ts_out(r[4]),
            revoked_at=None if r[5] is None else db.ts_out(r[5]),
        )
        for r in rows
    ]
