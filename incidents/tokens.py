"""Personal tokens: what a commuter without an API key holds to own commute watches and webhooks.

A token looks like ``cnp_<token_id>_<secret>`` (like an API key, :mod:`incidents.keys`): only
``sha256(token)`` is stored. It grants nothing but its own watches, webhooks and notifications;
its owner name is ``token:<token_id>`` (an API key's is ``key:<key_id>``).
"""

from __future__ import annotations

import hmac
import re
import secrets

from incidents.keys import hash_key
from incidents.store import IncidentStore

TOKEN_PREFIX = "cnp"
_TOKEN_RE = re.compile(r"^cnp_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


def create_token(store: IncidentStore) -> tuple[str, str]:
    """Mint a personal token; returns ``(token, owner)`` (the token is shown only once)."""
    token_id = secrets.token_hex(6)
    token = f"{TOKEN_PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
    db = store.db
    with db.transaction(write=True) as tx:
        tx.execute("INSERT INTO personal_tokens (token_id, secret_sha256, created_at)"
                   " VALUES (?, ?, ?)", (token_id, hash_key(token), db.ts_in(store.now())))
    return token, f"token:{token_id}"


def is_token(text: str) -> bool:
    """True when ``text`` has the form of a personal token."""
    return isinstance(text, str) and text.startswith(TOKEN_PREFIX + "_")


def authenticate_token(store: IncidentStore, token: str) -> str | None:
    """The owner name (``token:<id>``) of a valid, unrevoked token; ``None`` otherwise."""
    m = _TOKEN_RE.match(token) if isinstance(token, str) and len(token) < 100 else None
    if m is None:
        return None
    with store.db.transaction() as tx:
        row = tx.one("SELECT secret_sha256, revoked_at FROM personal_tokens WHERE token_id = ?",
                     (m.group(1),))
    if row is None:
        hmac.compare_digest(hash_key(token), "0" * 64)
        return None
    if not hmac.compare_digest(hash_key(token), row[0]) or row[1] is not None:
        return None
    return f"token:{m.group(1)}"
