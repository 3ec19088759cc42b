"""Journey answers as domain objects: places, legs, itineraries, plan results.

Times are timezone-aware datetimes (transit legs in their agency's zone, the rest in the
timetable's reference zone); geometry is an ``(n, 2)`` array of ``[lon, lat]``. The API turns
these into JSON; nothing here formats text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np

from routing.steps import Step
from routing.transit_info import TransitAlert


@dataclass(frozen=True, slots=True)
class Place:
    """Start or end of a leg: a stop (``stop_id`` set) or a coordinate."""

    name: str
    lat: float
    lon: float
    stop_id: str | None = None


@dataclass(frozen=True, slots=True)
class TransitRouteInfo:
    """The transit route of a leg."""

    id: str
    short_name: str
    long_name: str
    type: int
    type_name: str
    color: str | None
    text_color: str | None


@dataclass(frozen=True, slots=True)
class AgencyInfo:
    """The agency running a leg."""

    id: str
    name: str
    timezone: str


@dataclass(frozen=True, slots=True)
class StopCall:
    """A stop passed without getting off, and the arrival there."""

    place: Place
    arrival: datetime


@dataclass
class Leg:
    """One leg: on the street (walk, bike, car: geometry and steps) or on a transit trip.

    Transit legs: ``departure`` / ``arrival`` are the expected times (realtime when the trip
    has realtime data, else the schedule), ``scheduled_*`` the timetable's, the delays their
    differences; ``realtime`` tells whether a realtime source reported on the trip."""

    mode: str  # walk | bike | car | transit
    origin: Place
    destination: Place
    departure: datetime
    arrival: datetime
    geometry: np.ndarray  # (n, 2) [lon, lat]
    distance_m: float | None = None
    steps: list[Step] | None = None
    route: TransitRouteInfo | None = None
    agency: AgencyInfo | None = None
    trip_id: str | None = None
    headsign: str | None = None
    service_date: date | None = None
    intermediate_stops: list[StopCall] | None = None
    scheduled_departure: datetime | None = None
    scheduled_arrival: datetime | None = None
    departure_delay_s: int | None = None
    arrival_delay_s: int | None = None
    realtime: bool | None = None
    #: transit legs: alerts on its route, trip, agency or boarding/alighting stops, active
    #: during the leg
    alerts: list[TransitAlert] | None = None
    #: transit legs: True (trip and both stops marked accessible), False, or None (unknown)
    wheelchair_accessible: bool | None = None
    #: street legs estimated as a straight line × the detour factor (transit-only snapshot:
    #: no street network, so no steps)
    straight_line: bool = False

    @property
    def duration_s(self) -> int:
        """Seconds from departure to arrival."""
        return int(round((self.arrival - self.departure).total_seconds()))


@dataclass
class Itinerary:
    """A door-to-door journey."""

    departure: datetime
    arrival: datetime
    transfers: int
    legs: list[Leg]
    walk_m: float = 0.0
    wait_s: int = 0
    #: uids of the alerts on its legs (each leg has them in full)
    alerts: list[str] = field(default_factory=list)

    @property
    def duration_s(self) -> int:
        """Door-to-door seconds."""
        return int(round((self.arrival - self.departure).total_seconds()))


@dataclass
class PlanResult:
    """The itineraries of one plan request and what the search saw."""

    itineraries: list[Itinerary]
    service_date: date
    live_version: int
    access_stops: int
    egress_stops: int
