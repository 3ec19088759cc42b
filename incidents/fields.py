"""Vocabulary of the incident model: limits, enumerations and constrained scalar types
(identifiers, texts, timestamps, coordinates), shared by the geometry and incident models."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    StringConstraints,
)

from incidents.errors import InvalidTransition

# ---------------------------------------------------------------------------------------------
# Limits
# ---------------------------------------------------------------------------------------------
MAX_VERTICES = 5_000
"""Maximum number of positions in one incident geometry (all parts and rings together)."""
MAX_INCIDENT_JSON_BYTES = 1_048_576
"""Maximum size of one incident document (raw request body or stored JSON), in bytes."""
MAX_TEXT_CHARS = 4_000
MAX_LANGUAGES = 20
MAX_ID_CHARS = 128
MAX_EXTERNAL_ID_CHARS = 256
MAX_LIST_ITEMS = 1_000
MIN_TIME = datetime(1970, 1, 1, tzinfo=UTC)
MAX_TIME = datetime(2200, 1, 1, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------
# Enumerations
# ---------------------------------------------------------------------------------------------
class IncidentType(StrEnum):
    """What happened (WZDx event type / DATEX II record class / GTFS-RT alert cause)."""

    ACCIDENT = "accident"
    ROADWORKS = "roadworks"
    CLOSURE = "closure"
    CONGESTION = "congestion"
    EVENT = "event"
    HAZARD = "hazard"
    WEATHER = "weather"
    TRANSIT_DISRUPTION = "transit_disruption"


class Severity(StrEnum):
    """How bad it is (DATEX II ``severity`` without *highest*/*unknown*)."""

    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"
    SEVERE = "severe"


class IncidentStatus(StrEnum):
    """Stored lifecycle status: ``scheduled -> active -> resolved``; cancel from either."""

    SCHEDULED = "scheduled"
    ACTIVE = "active"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"


ALLOWED_TRANSITIONS: Mapping[IncidentStatus, frozenset[IncidentStatus]] = {
    IncidentStatus.SCHEDULED: frozenset({IncidentStatus.ACTIVE, IncidentStatus.CANCELLED}),
    IncidentStatus.ACTIVE: frozenset({IncidentStatus.RESOLVED, IncidentStatus.CANCELLED}),
    IncidentStatus.RESOLVED: frozenset(),
    IncidentStatus.CANCELLED: frozenset(),
}
"""Legal status changes. Resolved and cancelled are terminal: such incidents are read-only."""

CREATABLE_STATUSES = frozenset({IncidentStatus.SCHEDULED, IncidentStatus.ACTIVE})


class EffectiveState(StrEnum):
    """Status as seen at a given instant (see :func:`effective_state`)."""

    PENDING = "pending"  # scheduled/active but before ``start``
    IN_EFFECT = "in_effect"
    OUTSIDE_WINDOW = "outside_window"  # inside validity but outside the recurring window
    EXPIRED = "expired"  # ``end`` has passed while still scheduled/active
    RESOLVED = "resolved"
    CANCELLED = "cancelled"


class Direction(StrEnum):
    """Affected travel direction relative to the geometry's digitised order."""

    FORWARD = "forward"
    BACKWARD = "backward"
    BOTH = "both"


class VehicleClass(StrEnum):
    """Who a closure applies to (``all`` = every class)."""

    CAR = "car"
    BIKE = "bike"
    WALK = "walk"
    BUS = "bus"
    TRUCK = "truck"
    ALL = "all"


class Weekday(StrEnum):
    """ISO weekday names used by recurrence rules."""

    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


WEEKDAYS = list(Weekday)


def check_transition(
    old: IncidentStatus, new: IncidentStatus, incident_id: str | None = None
) -> None:
    """Raise :class:`InvalidTransition` unless ``old -> new`` is legal (same status is legal)."""
    if old != new and new not in ALLOWED_TRANSITIONS[old]:
        raise InvalidTransition(incident_id, old.value, new.value)


# ---------------------------------------------------------------------------------------------
# Constrained scalar types
# ---------------------------------------------------------------------------------------------
_ID_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_TEXT_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Cn"})
_TEXT_ALLOWED_CONTROLS = frozenset("\n\t")


def _check_identifier(value: str) -> str:
    for i, ch in enumerate(value):
        if unicodedata.category(ch) in _ID_FORBIDDEN_CATEGORIES:
            raise ValueError(f"control or invisible character U+{ord(ch):04X} at index {i}")
    if value != value.strip():
        raise ValueError("leading or trailing whitespace")
    return value


#: Format characters refused in free text: bidirectional embeddings, overrides and isolates
#: (they reorder what a reader sees: "Trojan source") and invisible spaces, joiners and byte
#: order marks. Zero-width (non-)joiners and the left-to-right/right-to-left marks, which
#: some scripts need, stay allowed.
TEXT_FORBIDDEN_FORMAT = frozenset(
    "\u061c\u180e\u200b\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064"
    "\u2066\u2067\u2068\u2069\ufeff")


def _check_text(value: str) -> str:
    for i, ch in enumerate(value):
        if ch in _TEXT_ALLOWED_CONTROLS:
            continue
        if unicodedata.category(ch) in _TEXT_FORBIDDEN_CATEGORIES:
            raise ValueError(f"control or invalid character U+{ord(ch):04X} at index {i}")
        if ch in TEXT_FORBIDDEN_FORMAT:
            raise ValueError(f"invisible or bidirectional control character U+{ord(ch):04X} "
                             f"at index {i}")
    if not value.strip():
        raise ValueError("text is blank")
    return value


Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_ID_CHARS), AfterValidator(_check_identifier)
]
"""A foreign identifier (stop_id, route_id): 1-128 printable characters."""
ExternalId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_EXTERNAL_ID_CHARS),
    AfterValidator(_check_identifier),
]
Actor = Annotated[
    str, StringConstraints(min_length=1, max_length=200), AfterValidator(_check_identifier)
]
"""Who made a change (e.g. ``key:ab12cd34`` or a user name)."""
AgencyId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")]
"""A source agency id: ASCII letters, digits and ``._:-``, at most 64 characters."""
IncidentId = Annotated[str, StringConstraints(pattern=r"^INC-[1-9][0-9]{0,17}$")]
LanguageTag = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8}){0,4}$")]
"""A BCP 47 language tag such as ``en``, ``fi``, ``sv-FI``."""
Text = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS), AfterValidator(_check_text)
]


#: The ISO 8601 forms accepted for times: extended calendar date, optionally a time of day
#: (to the nanosecond) and a UTC offset. Numeric strings (Unix times) and compact forms
#: (``20261124T0800``) are not among them.
ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?"
                          r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?)?")


def is_iso_datetime(value: str) -> bool:
    """True if ``value`` is written in one of the accepted ISO 8601 forms
    (:data:`ISO_DATETIME`); a numeric string such as ``"1700000000"`` is not."""
    return len(value) <= 64 and ISO_DATETIME.fullmatch(value) is not None


def _require_iso_datetime(value: Any) -> Any:
    """Accept datetimes and ISO 8601 strings only (pydantic would also take Unix numbers,
    and numeric strings as Unix times)."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and is_iso_datetime(value):
        return value
    raise ValueError("must be an ISO 8601 datetime string with a UTC offset, e.g. "
                     "2026-11-24T08:00:00-05:00")


def _check_time_range(value: datetime) -> datetime:
    if not MIN_TIME <= value < MAX_TIME:
        raise ValueError(f"must be between {MIN_TIME.year} and {MAX_TIME.year}")
    return value


Timestamp = Annotated[
    AwareDatetime, BeforeValidator(_require_iso_datetime), AfterValidator(_check_time_range)
]
"""Timezone-aware ISO 8601 instant (naive values and Unix numbers are rejected)."""

Longitude = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-180.0, le=180.0)]
Latitude = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-90.0, le=90.0)]
Position = tuple[Longitude, Latitude]
"""A GeoJSON position ``[lon, lat]`` in WGS 84 degrees (altitude is not accepted)."""
Bearing = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0.0, lt=360.0)]
"""Compass bearing of the affected travel direction in degrees, ``0 <= b < 360``."""


