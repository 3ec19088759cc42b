"""Response schemas of the HTTP API (pydantic v2, documented in the OpenAPI)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from routing.profiles import Mode


class LineString(BaseModel):
    """GeoJSON LineString, coordinates in [lon, lat] order."""

    type: Literal["LineString"] = "LineString"
    coordinates: list[list[float]]


class StepOut(BaseModel):
    """One turn-by-turn instruction."""

    type: str = Field(description="depart, turn, continue, new name, on ramp, off ramp, "
                                  "fork, merge, roundabout, exit roundabout, arrive")
    modifier: str = Field(description="straight, slight/sharp left/right, left, right, uturn")
    name: str = Field(description="Street name, else the road number; an unnamed way is "
                                  "named by what it is ('the sidewalk', 'the ramp')")
    distance_m: float
    duration_s: float
    location: list[float] = Field(description="[lon, lat] of the manoeuvre")
    bearing_before: int
    bearing_after: int
    instruction: str
    exit: int | None = Field(default=None, description="Roundabout exit number")
    ref: str | None = Field(default=None, description="Road number(s), e.g. 'I 71 / I 75'")
    destination: str | None = Field(default=None, description=(
        "Where a ramp or fork leads (signposts), e.g. 'I 71 North / Cincinnati'"))
    exit_ref: str | None = Field(default=None, description="Motorway exit number, e.g. '192'")


class Waypoint(BaseModel):
    """Where an input coordinate was snapped onto the network."""

    input: list[float] = Field(description="[lat, lon] as given")
    location: list[float] = Field(description="[lon, lat] of the snapped point")
    distance_m: float = Field(description="Distance from the input to the road")
    name: str


class Explanation(BaseModel):
    """What live incidents did to a route."""

    incidents: list[str] = Field(description="Incidents acting on the route")
    avoided: list[str] = Field(description="Incidents on the usual route that this one avoids")
    delay_s: float = Field(description="Duration minus the duration without any incident")
    no_incident_duration_s: float
    messages: list[str] = Field(description='e.g. "+4 min: closure INC-12 on Madison Avenue"')


class EtaSources(BaseModel):
    """Where the ETA comes from: free-flow times, the typical time-of-day excess over free
    flow, and live conditions (speed observations, incidents) above typical."""

    typical_s: float = Field(description="Seconds from typical speeds above free flow")
    free_flow_s: float = Field(description="Seconds the route takes at free-flow speeds")
    live_s: float = Field(description="Seconds from live observations and incidents")
    day_type: str | None = Field(default=None, description="weekday, saturday or sunday")
    arrival: str | None = Field(default=None, description="ISO 8601 arrival (timed routes)")


class RouteOut(BaseModel):
    """One road route."""

    mode: Mode
    duration_s: float
    distance_m: float
    geometry: LineString
    bbox: list[float] = Field(description="[west, south, east, north]")
    steps: list[StepOut]
    origin: Waypoint
    destination: Waypoint
    live_version: int
    extra_s: float = Field(default=0.0, description="Seconds more than the best route of "
                           "this answer (0 for the best; alternatives are slower)")
    explanation: Explanation | None = None
    eta_sources: EtaSources | None = None


class RouteResponse(BaseModel):
    """Answer of GET /v1/route."""

    routes: list[RouteOut]
    snapshot_id: str
    live_version: int
    at: str | None = Field(default=None, description="The instant the answer describes")
    timezone: str | None = None


class HealthResponse(BaseModel):
    """Answer of GET /v1/health."""

    status: Literal["ok"]
    snapshot_id: str
    built_at: str | None
    bbox: list[float]
    counts: dict[str, int]
    modes: list[str]
    live_version: int
    transit: bool
    timezone: str = Field(description="The city's IANA timezone; a time without offset "
                          "(e.g. depart_at) is read in it")
    now: str = Field(description="The service's current time (ISO 8601; a replay clock when "
                     "started with --clock)")


class StopOut(BaseModel):
    """A public-transport stop."""

    stop_id: str = Field(description="Namespaced id FEED:ID")
    name: str
    lat: float
    lon: float


class PlaceOut(BaseModel):
    """Start or end of a leg: a stop (with stop_id) or a coordinate."""

    name: str
    lat: float
    lon: float
    stop_id: str | None = None


class IntermediateStop(StopOut):
    """A stop passed without getting off, with its (scheduled or live) arrival."""

    arrival: str


class RouteInfo(BaseModel):
    """The transit route of a leg."""

    id: str
    short_name: str
    long_name: str
    type: int = Field(description="GTFS route_type")
    type_name: str
    color: str | None
    text_color: str | None


class AgencyInfo(BaseModel):
    """The agency running a leg."""

    id: str
    name: str
    timezone: str


class LegOut(BaseModel):
    """One leg: walking (with street geometry and steps) or transit."""

    mode: Literal["walk", "bike", "car", "transit"]
    from_: PlaceOut = Field(alias="from")
    to: PlaceOut
    departure: str = Field(description="ISO 8601 with the agency's UTC offset")
    arrival: str
    duration_s: int
    geometry: LineString
    distance_m: float | None = None
    steps: list[StepOut] | None = None
    route: RouteInfo | None = None
    agency: AgencyInfo | None = None
    trip_id: str | None = None
    headsign: str | None = None
    service_date: str | None = None
    intermediate_stops: list[IntermediateStop] | None = None
    alerts: list[str] | None = None
    wheelchair_accessible: bool | None = Field(
        default=None, description="Transit legs: true when the trip and both stops are "
        "marked wheelchair-accessible, false when one is marked not accessible, null when "
        "the feed does not say")


class ItineraryOut(BaseModel):
    """A door-to-door journey."""

    departure: str
    arrival: str
    duration_s: int
    transfers: int
    walk_m: float
    wait_s: int
    legs: list[LegOut]
    alerts: list[str]
    wheelchair_unknown_legs: int = Field(default=0, description=(
        "Transit legs of unknown wheelchair accessibility"))


class PlanResponse(BaseModel):
    """Answer of GET /v1/plan."""

    itineraries: list[ItineraryOut]
    service_date: str
    live_version: int
    access_stops: int = Field(description="Stops within walking distance of the origin")
    egress_stops: int = Field(description="Stops within walking distance of the destination")
    messages: list[str] = Field(default_factory=list)


class StopsResponse(BaseModel):
    """Answer of GET /v1/stops."""

    stops: list[StopOut]


class DepartureOut(BaseModel):
    """A departure from a stop (realtime fields equal the schedule without live data)."""

    trip_id: str
    route: RouteInfo
    headsign: str
    scheduled: str
    expected: str
    delay_s: int
    cancelled: bool
    service_date: str


class DeparturesResponse(BaseModel):
    """Answer of GET /v1/stops/{stop_id}/departures."""

    stop: StopOut
    departures: list[DepartureOut]
    live_version: int
