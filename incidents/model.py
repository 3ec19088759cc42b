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
from collections.abc import Mapping
from datetime import UTC, datetime, time
from functools import lru_cache
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from incidents.errors import InvalidIncident
from incidents.fields import (
    ALLOWED_TRANSITIONS,
    CREATABLE_STATUSES,
    MAX_INCIDENT_JSON_BYTES,
    MAX_LANGUAGES,
    MAX_LIST_ITEMS,
    MAX_VERTICES,
    WEEKDAYS,
    Actor,
    AgencyId,
    Bearing,
    Direction,
    EffectiveState,
    ExternalId,
    Identifier,
    IncidentId,
    IncidentStatus,
    IncidentType,
    LanguageTag,
    Severity,
    Text,
    Timestamp,
    VehicleClass,
    Weekday,
    check_transition,
)
from incidents.geometry import (
    Geometry,
    LineString,
    MultiLineString,
    Point,
    Polygon,
    geometry_bounds,
    to_shapely,
)


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
        return sorted(days, key=WEEKDAYS.index)

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
        today = WEEKDAYS[local.weekday()]
        if self.start_time < self.end_time:
            return today in self.days and self.start_time <= t < self.end_time
        yesterday = WEEKDAYS[(local.weekday() - 1) % 7]
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
        Annotated[float, Field(strict=True, allow_inf_nan=False, ge=1.0, le=250.0)] | None
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

