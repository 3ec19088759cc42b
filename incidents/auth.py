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


class Plan(StrEnum):
    """API plan of a key (quotas and costs per plan: :mod:`api.quotas`). Anonymous callers
    are on ``open``, counted per client address."""

    OPEN = "open"
    STANDARD = "standard"
    PARTNER = "partner"


#: A key's area: ``(west, south, east, north)`` in degrees.
Area = tuple[float, float, float, float]


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: its key id (non-secret), role, agency, plan and the area its
    writes are limited to (``None``: anywhere)."""

    key_id: str
    role: Role
    agency: str | None = None
    label: str | None = None
    plan: Plan = Plan.STANDARD
    area: Area | None = None

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


def area_contains(area: Area, west: float, south: float, east: float, north: float) -> bool:
    """True if the box ``west, south, east, north`` lies inside ``area``."""
    return area[0] <= west and area[1] <= south and east <= area[2] and north <= area[3]


def authorize_area(principal: Principal, bbox: Area | None) -> None:
    """Raise :class:`Forbidden` when the key is limited to an area and ``bbox`` (of what it
    writes) is not inside it. Admin keys and keys without an area may write anywhere."""
    if principal.area is None or principal.role == Role.ADMIN or bbox is None:
        return
    if not area_contains(principal.area, *bbox):
        w, s, e, n = principal.area
        raise Forbidden(f"key {principal.key_id} may only write inside its area "
                        f"{w:g},{s:g},{e:g},{n:g} (W,S,E,N); this reaches outside it")
