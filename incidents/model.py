"""The live traffic incident model: input models, the stored record, and time rules.

Fields follow WZDx road events (type, lanes, vehicle impact, direction), DATEX II situation
records (validity with a recurring period, severity) and GTFS-Realtime alerts (affected stops
and routes, translated texts). ``IncidentCreate`` is what a traffic centre sends,
``IncidentPatch`` a partial change (JSON merge-patch semantics: an explicit ``null`` clears an
optional field), ``Incident`` the stored record with server-owned fields.

Identifiers: the server assigns ``id = "INC-<n>"`` with ``n`` from a gap-free counter in the
store (short, human-readable over a radio; unique per store). ``(agency, external_id)`` is the
source's own identifier and is unique per agency when given.

Time rules (see :func:`is_in_effect`): ``scheduled`` and ``active`` incidents are in effect
from ``start`` (inclusive) to ``end`` (exclusive; ``None`` = open-ended), and, with a
``recurrence``, only inside its weekly window in its IANA timezone. An incident whose ``end``
has passed is *expired*: never in effect, whatever its stored status.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime, time
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from incidents.errors import InvalidIncident, InvalidTransition

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


_WEEKDAYS = list(Weekday)


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


def _check_text(value: str) -> str:
    for i, ch in enumerate(value):
        if ch in _TEXT_ALLOWED_CONTROLS:
            continue
        if unicodedata.category(ch) in _TEXT_FORBIDDEN_CATEGORIES:
            raise ValueError(f"control or invalid character U+{ord(ch):04X} at index {i}")
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


def _require_iso_datetime(value: Any) -> Any:
    """Accept datetimes and ISO 8601 strings only (pydantic would also take Unix numbers)."""
    if isinstance(value, datetime | str):
        return value
    raise ValueError("must be an ISO 8601 date-time string with a UTC offset")


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


# ---------------------------------------------------------------------------------------------
# Geometry (GeoJSON subset)
# ---------------------------------------------------------------------------------------------
def _count_positions(value: Any, depth: int) -> int:
    """Count positions in raw nested lists before element validation (cheap size guard)."""
    if depth == 0 or not isinstance(value, list | tuple):
        return 1
    if depth == 1:
        return len(value)
    return sum(_count_positions(v, depth - 1) for v in value)


def _vertex_guard(depth: int) -> BeforeValidator:
    def guard(value: Any) -> Any:
        if isinstance(value, list | tuple):
            n = _count_positions(value, depth)
            if n > MAX_VERTICES:
                raise ValueError(f"geometry has {n} positions; at most {MAX_VERTICES} allowed")
        return value

    return BeforeValidator(guard)


class _Geometry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Point(_Geometry):
    """GeoJSON Point."""

    type: Literal["Point"] = Field(description="GeoJSON geometry type")
    coordinates: Position = Field(description="[lon, lat] in decimal degrees (WGS 84)")


def _distinct(line: list[Position]) -> list[Position]:
    if all(p == line[0] for p in line):
        raise ValueError("line positions are all identical")
    return line


LinePositions = Annotated[
    list[Position], Field(min_length=2), AfterValidator(_distinct), _vertex_guard(1)
]


class LineString(_Geometry):
    """GeoJSON LineString (at least two distinct positions)."""

    type: Literal["LineString"] = Field(description="GeoJSON geometry type")
    coordinates: LinePositions = Field(description="Positions [lon, lat] in decimal degrees, "
                                       "at least two distinct")


class MultiLineString(_Geometry):
    """GeoJSON MultiLineString."""

    type: Literal["MultiLineString"] = Field(description="GeoJSON geometry type")
    coordinates: Annotated[
        list[LinePositions],
        Field(min_length=1, max_length=MAX_LIST_ITEMS, description="Lines of positions "
              "[lon, lat] in decimal degrees"),
        _vertex_guard(2),
    ]


def _closed_ring(ring: list[Position]) -> list[Position]:
    if ring[0] != ring[-1]:
        raise ValueError("linear ring is not closed (first and last positions differ)")
    return ring


LinearRing = Annotated[list[Position], Field(min_length=4), AfterValidator(_closed_ring)]


class Polygon(_Geometry):
    """GeoJSON Polygon: an exterior ring then holes; rings closed, polygon valid (OGC)."""

    type: Literal["Polygon"] = Field(description="GeoJSON geometry type")
    coordinates: Annotated[
        list[LinearRing],
        Field(min_length=1, max_length=MAX_LIST_ITEMS, description="Closed rings of positions "
              "[lon, lat]: the exterior ring, then holes"),
        _vertex_guard(2),
    ]

    @field_validator("coordinates")
    @classmethod
    def _valid_polygon(cls, rings: list[list[Position]]) -> list[list[Position]]:
        import shapely

        poly = shapely.Polygon(rings[0], rings[1:])
        if not shapely.is_valid(poly):
            raise ValueError(f"invalid polygon: {shapely.is_valid_reason(poly)}")
        return rings


Geometry = Annotated[Point | LineString | MultiLineString | Polygon, Field(discriminator="type")]
"""A GeoJSON geometry: Point, LineString, MultiLineString or Polygon, ``[lon, lat]`` order."""


def geometry_bounds(
    geometry: Point | LineString | MultiLineString | Polygon,
) -> tuple[float, float, float, float]:
    """Return ``(min_lon, min_lat, max_lon, max_lat)`` of a geometry."""
    if isinstance(geometry, Point):
        pts: list[Position] = [geometry.coordinates]
    elif isinstance(geometry, LineString):
        pts = list(geometry.coordinates)
    else:
        pts = [p for part in geometry.coordinates for p in part]
    lons = [p[0] for p in pts]
    lats = [p[1] for p in pts]
    return min(lons), min(lats), max(lons), max(lats)


def to_shapely(geometry: Point | LineString | MultiLineString | Polygon) -> Any:
    """Return the geometry as a shapely 2 geometry (for matching and bbox filtering)."""
    import shapely.geometry

    return shapely.geometry.shape(geometry.model_dump())


# ---------------------------------------------------------------------------------------------
# Nested value objects
# ---------------------------------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


class Recurrence(_Strict):
    """A weekly time window inside the validity period (DATEX II ``recurringDayWeekMonthPeriod``
    + ``recurringTimePeriodOfDay``). ``end_time <= start_time`` means the window crosses
    midnight; ``days`` then names the day the window starts."""

    days: Annotated[list[Weekday], Field(min_length=1, max_length=7, description=(
        "Days the window starts on: mon, tue, wed, thu, fri, sat, sun"))]
    start_time: time = Field(description="Local start of the window, HH:MM[:SS] (no offset)")
    end_time: time = Field(description="Local end of the window, HH:MM[:SS]; at or before "
                           "start_time it ends the next day")
    timezone: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="IANA timezone of the times, e.g. America/New_York")

    @field_validator("days")
    @classmethod
    def _unique_days(cls, days: list[Weekday]) -> list[Weekday]:
        if len(set(days)) != len(days):
            raise ValueError("days must not repeat")
        return sorted(days, key=_WEEKDAYS.index)

    @field_validator("start_time", "end_time")
    @classmethod
    def _local_time(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("local time of day without offset; use `timezone`")
        return value

    @field_validator("end_time")
    @classmethod
    def _nonempty(cls, value: time, info: ValidationInfo) -> time:
        if info.data.get("start_time") == value:
            raise ValueError("end_time equals start_time (empty window)")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            _zone(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(f"unknown IANA timezone {value!r}") from None
        return value

    def contains(self, at: datetime) -> bool:
        """True if the aware instant ``at`` falls inside the weekly window."""
        local = at.astimezone(_zone(self.timezone))
        t = local.time().replace(tzinfo=None)
        today = _WEEKDAYS[local.weekday()]
        if self.start_time < self.end_time:
            return today in self.days and self.start_time <= t < self.end_time
        yesterday = _WEEKDAYS[(local.weekday() - 1) % 7]
        return (today in self.days and t >= self.start_time) or (
            yesterday in self.days and t < self.end_time
        )


class Lanes(_Strict):
    """Lane counts on the affected carriageway (WZDx ``lanes`` summarised)."""

    total: Annotated[int, Field(strict=True, ge=1, le=50, description="Lanes in the "
                                "affected direction(s)")]
    closed: Annotated[int, Field(strict=True, ge=0, le=50, description="Of those, lanes "
                                 "closed")]

    @field_validator("closed")
    @classmethod
    def _closed_le_total(cls, closed: int, info: ValidationInfo) -> int:
        total = info.data.get("total")
        if total is not None and closed > total:
            raise ValueError(f"closed lanes ({closed}) exceed total lanes ({total})")
        return closed


def _dedupe(values: list[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


class RoadEffect(_Strict):
    """Effect on road traffic: closures per vehicle class, a temporary limit, a fixed delay."""

    closed_to: Annotated[
        list[VehicleClass],
        Field(max_length=12, description="Vehicle classes that may not pass: car, bike, walk, "
              "bus, truck or all"),
        AfterValidator(_dedupe),
    ] = []
    speed_limit_kmh: (
        Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0.0, le=250.0)] | None
    ) = Field(default=None, description="Temporary speed limit in km/h")
    delay_s: (
        Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0.0, le=7 * 86_400.0)] | None
    ) = Field(default=None, description="Fixed extra seconds to pass the stretch")


class TransitEffect(_Strict):
    """Effect on public transport (GTFS-RT alert ``informed_entity`` style)."""

    stops_closed: Annotated[
        list[Identifier],
        Field(max_length=MAX_LIST_ITEMS, description="Stop ids (FEED:ID) closed"),
        AfterValidator(_dedupe),
    ] = []
    routes_affected: Annotated[
        list[Identifier],
        Field(max_length=MAX_LIST_ITEMS, description="Route ids (FEED:ID) affected (alerts)"),
        AfterValidator(_dedupe),
    ] = []
    closes_stops_on_geometry: Annotated[
        bool, Field(strict=True, description="Also close every stop the geometry matches")
    ] = False


Description = Annotated[dict[LanguageTag, Text], Field(max_length=MAX_LANGUAGES)]
"""Translated free text: BCP 47 language tag -> text (GTFS-RT ``TranslatedString``)."""


# ---------------------------------------------------------------------------------------------
# Incident models
# ---------------------------------------------------------------------------------------------
class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


def _end_after_start(end: datetime | None, info: ValidationInfo) -> datetime | None:
    start = info.data.get("start")
    if end is not None and isinstance(start, datetime) and end <= start:
        raise ValueError("end must be after start")
    return end


#: Descriptions of the incident fields (documented in the API's OpenAPI).
_DOC = {
    "external_id": "The source's own id (e.g. its ticket number), unique per agency",
    "type": "What happened: accident, roadworks, closure, congestion, event, hazard, "
            "weather or transit_disruption",
    "severity": "How bad it is: low, moderate, high or severe",
    "start": "In effect from (inclusive): ISO 8601 date-time with a UTC offset",
    "end": "In effect until (exclusive), after start: ISO 8601 date-time with a UTC offset; "
           "null or absent = open-ended",
    "recurrence": "Weekly window inside start–end when it applies; null = all the time",
    "geometry": "Where: GeoJSON Point, LineString, MultiLineString or Polygon in [lon, lat] "
                "order, matched onto roads, paths and stops",
    "direction": "Affected travel direction relative to the geometry's drawing order "
                 "(forward, backward, both) or a compass bearing in degrees (0 ≤ b < 360)",
    "lanes": "Lane counts on the affected carriageway",
    "road_effect": "Effect on road traffic: closures per vehicle class, a temporary speed "
                   "limit, a fixed delay",
    "transit_effect": "Effect on public transport: closed stops, affected routes",
    "description": "Text per BCP 47 language tag, e.g. {\"en\": \"Bridge closed\"}",
}


class IncidentCreate(_Model):
    """A new incident as sent by a traffic centre. ``status`` defaults to ``scheduled`` when
    ``start`` is in the future, else ``active``; only those two may be created."""

    external_id: ExternalId | None = Field(default=None, description=_DOC["external_id"])
    type: IncidentType = Field(description=_DOC["type"])
    severity: Severity = Field(description=_DOC["severity"])
    status: IncidentStatus | None = Field(default=None, description=(
        "scheduled or active; default: scheduled when start is in the future, else active"))
    start: Timestamp = Field(description=_DOC["start"])
    end: Timestamp | None = Field(default=None, description=_DOC["end"])
    recurrence: Recurrence | None = Field(default=None, description=_DOC["recurrence"])
    geometry: Geometry = Field(description=_DOC["geometry"])
    direction: Direction | Bearing = Field(default=Direction.BOTH, description=_DOC["direction"])
    lanes: Lanes | None = Field(default=None, description=_DOC["lanes"])
    road_effect: RoadEffect | None = Field(default=None, description=_DOC["road_effect"])
    transit_effect: TransitEffect | None = Field(default=None, description=_DOC["transit_effect"])
    description: Description = Field(default={}, description=_DOC["description"])

    _end_after_start = field_validator("end")(_end_after_start)

    @field_validator("status")
    @classmethod
    def _creatable(cls, status: IncidentStatus | None) -> IncidentStatus | None:
        if status is not None and status not in CREATABLE_STATUSES:
            raise ValueError("a new incident must be 'scheduled' or 'active'")
        return status


PATCHABLE_FIELDS = tuple(IncidentCreate.model_fields)
NULLABLE_FIELDS = frozenset(
    {"external_id", "end", "recurrence", "lanes", "road_effect", "transit_effect"}
)


class IncidentPatch(_Model):
    """A partial change: only fields present are changed; ``null`` clears an optional field
    (``end``, ``recurrence``, ``lanes``, ``road_effect``, ``transit_effect``, ``external_id``)
    and is rejected for required ones. Nested objects are replaced whole."""

    external_id: ExternalId | None = Field(default=None, description=_DOC["external_id"])
    type: IncidentType | None = Field(default=None, description=_DOC["type"])
    severity: Severity | None = Field(default=None, description=_DOC["severity"])
    status: IncidentStatus | None = Field(default=None, description=(
        "New status: scheduled → active → resolved, or cancelled (resolved and cancelled are "
        "final)"))
    start: Timestamp | None = Field(default=None, description=_DOC["start"])
    end: Timestamp | None = Field(default=None, description=_DOC["end"])
    recurrence: Recurrence | None = Field(default=None, description=_DOC["recurrence"])
    geometry: Geometry | None = Field(default=None, description=_DOC["geometry"])
    direction: Direction | Bearing | None = Field(default=None, description=_DOC["direction"])
    lanes: Lanes | None = Field(default=None, description=_DOC["lanes"])
    road_effect: RoadEffect | None = Field(default=None, description=_DOC["road_effect"])
    transit_effect: TransitEffect | None = Field(default=None, description=_DOC["transit_effect"])
    description: Description | None = Field(default=None, description=_DOC["description"])

    @field_validator("type", "severity", "status", "start", "geometry", "direction", "description")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null")
        return value

    def changes(self) -> dict[str, Any]:
        """The fields explicitly present in the patch, as python values."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class Incident(_Model):
    """A stored incident: the create fields plus server-owned identity, audit and version."""

    id: IncidentId
    agency: AgencyId
    external_id: ExternalId | None = None
    type: IncidentType
    severity: Severity
    status: IncidentStatus
    start: Timestamp
    end: Timestamp | None = None
    recurrence: Recurrence | None = None
    geometry: Geometry
    direction: Direction | Bearing = Direction.BOTH
    lanes: Lanes | None = None
    road_effect: RoadEffect | None = None
    transit_effect: TransitEffect | None = None
    description: Description = {}
    created_by: Actor
    updated_by: Actor
    created_at: Timestamp
    updated_at: Timestamp
    version: Annotated[int, Field(strict=True, ge=1)]

    _end_after_start = field_validator("end")(_end_after_start)

    def to_doc(self) -> dict[str, Any]:
        """JSON-compatible dict (what the store persists and history records)."""
        return self.model_dump(mode="json")


_M = TypeVar("_M", bound=BaseModel)


def validate_model(model: type[_M], data: Any) -> _M:
    """Validate ``data`` (a model, mapping, or raw JSON ``str``/``bytes``) as ``model``.

    Raw JSON is size-checked (``MAX_INCIDENT_JSON_BYTES``) before parsing. Raises
    :class:`InvalidIncident` with one entry per failing field path.
    """
    if isinstance(data, model):
        return data
    try:
        if isinstance(data, str | bytes | bytearray):
            size = len(data.encode("utf-8") if isinstance(data, str) else data)
            if size > MAX_INCIDENT_JSON_BYTES:
                raise InvalidIncident.single(
                    (), f"payload is {size} bytes; at most {MAX_INCIDENT_JSON_BYTES} allowed"
                )
            return model.model_validate_json(data)
        if isinstance(data, BaseModel):
            data = data.model_dump(exclude_unset=True)
        if not isinstance(data, Mapping):
            raise InvalidIncident.single((), "expected a JSON object", "dict_type")
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidIncident.from_validation_error(exc) from None


def check_doc_size(doc: Mapping[str, Any]) -> str:
    """Serialise a document to compact JSON; raise :class:`InvalidIncident` if too large."""
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    size = len(text.encode("utf-8"))
    if size > MAX_INCIDENT_JSON_BYTES:
        raise InvalidIncident.single(
            (), f"incident is {size} bytes as JSON; at most {MAX_INCIDENT_JSON_BYTES} allowed"
        )
    return text


# ---------------------------------------------------------------------------------------------
# Time rules
# ---------------------------------------------------------------------------------------------
def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("`at` must be timezone-aware")


def effective_state(incident: Incident, at: datetime) -> EffectiveState:
    """Classify ``incident`` at instant ``at`` (aware): pending, in effect, outside its
    recurring window, expired (``end`` passed), resolved or cancelled."""
    _require_aware(at)
    if incident.status == IncidentStatus.RESOLVED:
        return EffectiveState.RESOLVED
    if incident.status == IncidentStatus.CANCELLED:
        return EffectiveState.CANCELLED
    if incident.end is not None and at >= incident.end:
        return EffectiveState.EXPIRED
    if at < incident.start:
        return EffectiveState.PENDING
    if incident.recurrence is not None and not incident.recurrence.contains(at):
        return EffectiveState.OUTSIDE_WINDOW
    return EffectiveState.IN_EFFECT


def is_in_effect(incident: Incident, at: datetime) -> bool:
    """True if the incident affects traffic at the aware instant ``at``.

    That is: status ``scheduled`` or ``active``, ``start <= at < end`` (no ``end`` = open), and
    inside the recurrence window if any. Raises ``ValueError`` for a naive ``at``.
    """
    return effective_state(incident, at) == EffectiveState.IN_EFFECT


def default_status(start: datetime, now: datetime) -> IncidentStatus:
    """Status for a new incident that did not give one: scheduled if it starts later."""
    return IncidentStatus.SCHEDULED if start > now else IncidentStatus.ACTIVE


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


__all__ = [
    "ALLOWED_TRANSITIONS",
    "MAX_INCIDENT_JSON_BYTES",
    "MAX_VERTICES",
    "Bearing",
    "Description",
    "Direction",
    "EffectiveState",
    "Geometry",
    "Incident",
    "IncidentCreate",
    "IncidentPatch",
    "IncidentStatus",
    "IncidentType",
    "Lanes",
    "LineString",
    "MultiLineString",
    "Point",
    "Polygon",
    "Recurrence",
    "RoadEffect",
    "Severity",
    "TransitEffect",
    "VehicleClass",
    "Weekday",
    "check_doc_size",
    "check_transition",
    "default_status",
    "effective_state",
    "geometry_bounds",
    "is_in_effect",
    "to_shapely",
    "utc_now",
    "validate_model",
]
