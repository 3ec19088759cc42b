"""Roles, principals and the authorization rules for changing incidents.

- ``reader``: may read; may not change anything.
- ``traffic_centre``: may create and change incidents of its own agency only.
- ``transit_agency``: may push the realtime data (GTFS-RT) of its own feed only — the key's
  agency is the static feed's id (the ``FEED`` of ``FEED:ID`` stop ids).
- ``admin``: may change any incident, push any feed (and manage API keys).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from incidents.errors import Forbidden


class Role(StrEnum):
    """API key role."""

    READER = "reader"
    TRAFFIC_CENTRE = "traffic_centre"
    TRANSIT_AGENCY = "transit_agency"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: its key id (non-secret), role and agency."""

    key_id: str
    role: Role
    agency: str | None = None
    label: str | None = None

    @property
    def actor(self) -> str:
        """The name recorded in ``created_by``/``updated_by`` and history: ``key:<key_id>``."""
        return f"key:{self.key_id}"


def can_write(principal: Principal, agency: str) -> bool:
    """True if ``principal`` may create or change incidents of ``agency``."""
    if principal.role == Role.ADMIN:
        return True
    if principal.role == Role.TRAFFIC_CENTRE:
        return principal.agency is not None and principal.agency == agency
    return False


def authorize_write(principal: Principal, agency: str) -> None:
    """Raise :class:`Forbidden` unless ``principal`` may change incidents of ``agency``."""
    if can_write(principal, agency):
        return
    if principal.role == Role.READER:
        raise Forbidden("role 'reader' may not change incidents")
    raise Forbidden(
        f"traffic centre of agency {principal.agency!r} may not change incidents of {agency!r}"
    )


def can_push_feed(principal: Principal, feed_id: str) -> bool:
    """True if ``principal`` may push realtime data for the static feed ``feed_id``."""
    if principal.role == Role.ADMIN:
        return True
    return principal.role == Role.TRANSIT_AGENCY and principal.agency == feed_id


def require_admin(principal: Principal) -> None:
    """Raise :class:`Forbidden` unless ``principal`` is an admin."""
    if principal.role != Role.ADMIN:
        raise Forbidden(f"role {principal.role.value!r} may not do this; admin required")
