"""Response schemas of the HTTP API (pydantic v2, documented in the OpenAPI).

Every field says what it is and its unit (``_s`` seconds, ``_m`` metres, ``_kmh`` km/h).
Times are ISO 8601 strings with their UTC offset; coordinates in GeoJSON ``[lon, lat]``
order unless a field says otherwise.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from routing.profiles import Mode


class LineString(BaseModel):
    """GeoJSON LineString, coordinates in [lon, lat] order."""

    type: Literal["LineString"] = Field(default="LineString",
                                        description="GeoJSON geometry type")
    coordinates: list[list[float]] = Field(description="Positions [lon, lat] in decimal "
                                           "degrees (WGS 84), in travel order")


class StepOut(BaseModel):
    """One turn-by-turn instruction."""

    type: str = Field(description="depart, turn, continue, new name, on ramp, off ramp, "
                                  "fork, merge, roundabout, exit roundabout, arrive")
    modifier: str = Field(description="straight, slight/sharp left/right, left, right, uturn "
                          "(empty for depart and arrive)")
    name: str = Field(description="Street name, else the road number; an unnamed way is "
                                  "named by what it is ('the sidewalk', 'the ramp')")
    distance_m: float = Field(description="Length of this step in metres")
    duration_s: float = Field(description="Travel time of this step in seconds")
    location: list[float] = Field(description="[lon, lat] of the manoeuvre")
    bearing_before: int = Field(description="Compass bearing in degrees (0 = north, "
                                "clockwise) when arriving at the manoeuvre")
    bearing_after: int = Field(description="Compass bearing in degrees (0 = north, "
                               "clockwise) when leaving the manoeuvre")
    instruction: str = Field(description="The instruction in the requested language (`lang`)")
    exit: int | None = Field(default=None, description="Roundabout exit number")
    ref: str | None = Field(default=None, description="Road number(s), e.g. 'I 71 / I 75'")
    destination: str | None = Field(default=None, description=(
        "Where a ramp or fork leads (signposts), e.g. 'I 71 North / Cincinnati'"))
    exit_ref: str | None = Field(default=None, description="Motorway exit number, e.g. '192'")
    pushed: bool | None = Field(default=None, description=(
        "Bike routes: true where the bike is pushed at walking pace (footways, steps, "
        "against a oneway); the instruction says so"))


class SnapInfo(BaseModel):
    """Why a route's end is where it is (small road pieces off the main network)."""

    reason: Literal["nearest", "connected_piece", "disconnected_piece"] = Field(description=(
        "`nearest`: on the nearest road usable by the mode, in the main network; "
        "`connected_piece`: on the nearest road although it is a small piece off the main "
        "network (a car park, a gated estate), because that piece connects in the mode's "
        "direction (or both ends are in it); `disconnected_piece`: the nearest road is a "
        "piece that does not connect in the mode's direction, so the end is on the nearest "
        "road that does"))
    snapped_to: Literal["nearest_road", "nearest_connected_road"] = Field(
        description="Which road the end is on")
    distance_m: float = Field(description="Distance from the input to the road used, metres")
    nearest_road_m: float | None = Field(default=None, description=(
        "With `disconnected_piece`: distance to the nearer, unconnected road passed over"))
    note: str | None = Field(default=None, description=(
        "A sentence in the request's language saying the above (null for `nearest`)"))


class Waypoint(BaseModel):
    """Where an input coordinate was snapped onto the network."""

    input: list[float] = Field(description="[lat, lon] as given")
    location: list[float] = Field(description="[lon, lat] of the snapped point")
    distance_m: float = Field(description="Distance from the input to the road, in metres")
    name: str = Field(description="Name of the street snapped to (empty when unnamed)")
    snap: SnapInfo = Field(description="Why the point is on this road (see `SnapInfo`)")


class Explanation(BaseModel):
    """What live incidents did to a route."""

    incidents: list[str] = Field(description="Incidents acting on the route (ids, e.g. INC-12)")
    avoided: list[str] = Field(description="Incidents on the usual route that this one avoids")
    delay_s: float = Field(description="Duration minus the duration without any incident, in "
                           "seconds")
    no_incident_duration_s: float = Field(description="Seconds the best route would take "
                                          "without any incident")
    messages: list[str] = Field(description='e.g. "+4 min: closure INC-12 on Madison Avenue"')


class LiveSources(BaseModel):
    """`live_s` split by where it comes from, in proportion to the time each source adds
    above the typical time (a source that makes the route faster counts 0); the parts add
    up to `live_s` (to 0.1 s rounding)."""

    traffic_centre: float = Field(description="Seconds from speed observations posted by "
                                  "traffic centres (POST /v1/traffic/speeds)")
    bus_probe: float = Field(description="Seconds from speeds measured by buses used as "
                             "probes (GTFS-Realtime vehicle positions; lower confidence)")
    incidents: float = Field(description="Seconds from incidents (closures on the way are "
                             "avoided, so these are speed limits, lane closures, delays)")


class EtaSources(BaseModel):
    """Where the ETA comes from: free-flow times, the typical time-of-day excess over free
    flow, and live conditions (speed observations, incidents) above typical."""

    typical_s: float = Field(description="Seconds from typical speeds above free flow")
    free_flow_s: float = Field(description="Seconds the route takes at free-flow speeds")
    live_s: float = Field(description="Seconds from live observations and incidents")
    live_sources: LiveSources | None = Field(default=None, description=(
        "`live_s` by source: traffic centres, bus probes, incidents"))
    day_type: str | None = Field(default=None, description="weekday, saturday or sunday")
    arrival: str | None = Field(default=None, description="ISO 8601 arrival (timed routes)")


class RouteOut(BaseModel):
    """One road route."""

    mode: Mode = Field(description="Travel mode of the route")
    duration_s: float = Field(description="Travel time in seconds")
    distance_m: float = Field(description="Length in metres")
    geometry: LineString = Field(description="The route's line, [lon, lat] positions")
    bbox: list[float] = Field(description="[west, south, east, north] in decimal degrees")
    steps: list[StepOut] = Field(description="Turn-by-turn instructions, depart to arrive")
    origin: Waypoint = Field(description="Where `from` was snapped onto the network")
    destination: Waypoint = Field(description="Where `to` was snapped onto the network")
    live_version: int = Field(description="Version of the live state (incidents, speeds) "
                              "the route was computed on")
    extra_s: float = Field(default=0.0, description="Seconds more than the best route of "
                           "this answer (0 for the best; alternatives are slower)")
    explanation: Explanation | None = Field(default=None, description="What live incidents "
                                            "did to this route")
    eta_sources: EtaSources | None = Field(default=None, description="How the duration "
                                           "splits into free-flow, typical and live parts")


class RouteResponse(BaseModel):
    """Answer of GET /v1/route."""

    routes: list[RouteOut] = Field(description="The best route first, then the "
                                   "alternatives asked for (slower)")
    snapshot_id: str = Field(description="Id of the road network snapshot answering")
    live_version: int = Field(description="Version of the live state the answer used")
    at: str | None = Field(default=None, description="The instant the answer describes "
                           "(ISO 8601 with offset)")
    timezone: str | None = Field(default=None, description="The city's IANA timezone")
    vehicle: dict[str, float] | None = Field(
        default=None, description="Truck routes: the dimensions checked against `maxheight`, "
        "`maxwidth`, `maxweight` and `maxlength` (`height_m`, `width_m`, `weight_t`, "
        "`length_m`; defaults where the request gave none)")


class HealthResponse(BaseModel):
    """Answer of GET /v1/health."""

    status: Literal["ok"] = Field(description="Always 'ok' when the service answers")
    snapshot_id: str = Field(description="Id of the loaded network snapshot")
    built_at: str | None = Field(description="When the snapshot was built (ISO 8601)")
    bbox: list[float] = Field(description="Area covered: [west, south, east, north] in "
                              "decimal degrees")
    counts: dict[str, int] = Field(description="Network figures from the build (junctions, "
                                   "segments, per-mode edges …)")
    modes: list[str] = Field(description="Road travel modes this snapshot routes")
    live_version: int = Field(description="Version of the live state in force; it grows "
                              "with every incident or speed change")
    transit: bool = Field(description="Whether the snapshot has a public-transport timetable")
    transit_only: bool = Field(default=False, description=(
        "True when the snapshot was built from GTFS only: no street network, so no road "
        "modes (`/v1/route` answers 422) and walking is estimated in straight lines"))
    walking: Literal["street", "straight_line"] = Field(default="street", description=(
        "How walking legs of journeys are measured: on the street network, or as the "
        "straight line times `walk_detour_factor` (transit-only snapshots)"))
    walk_detour_factor: float | None = Field(default=None, description=(
        "Straight-line walking: walking distance = straight-line distance × this factor "
        "(null with a street network)"))
    timezone: str = Field(description="The city's IANA timezone; a time without offset "
                          "(e.g. depart_at) is read in it")
    now: str = Field(description="The service's current time (ISO 8601; a replay clock when "
                     "started with --clock)")
    realtime: list[RealtimeHealth] | None = Field(default=None, description=(
        "GTFS-Realtime per feed and kind received (null: realtime not enabled); details in "
        "GET /v1/realtime/status"))


class RealtimeHealth(BaseModel):
    """A GTFS-Realtime feed and kind in the health answer."""

    feed_id: str = Field(description="Static feed id")
    kind: str = Field(description="trip_updates, alerts or vehicle_positions")
    age_s: float | None = Field(description="Seconds since the last good message's header "
                                "time (null: none applied)")
    last_good_at: str | None = Field(description="When the last good message arrived")
    last_error: str | None = Field(description="Reason of the last refusal (null: none)")


class StopOut(BaseModel):
    """A public-transport stop."""

    stop_id: str = Field(description="Namespaced id FEED:ID")
    name: str = Field(description="Stop name from the timetable")
    lat: float = Field(description="Latitude in decimal degrees")
    lon: float = Field(description="Longitude in decimal degrees")


class PlaceOut(BaseModel):
    """Start or end of a leg: a stop (with stop_id) or a coordinate."""

    name: str = Field(description="Stop name, or 'Origin' / 'Destination' for coordinates")
    lat: float = Field(description="Latitude in decimal degrees")
    lon: float = Field(description="Longitude in decimal degrees")
    stop_id: str | None = Field(default=None, description="FEED:ID when the place is a stop")


class IntermediateStop(StopOut):
    """A stop passed without getting off, with its (scheduled or live) arrival."""

    arrival: str = Field(description="Arrival there (ISO 8601 with the agency's offset)")


class RouteInfo(BaseModel):
    """The transit route of a leg."""

    id: str = Field(description="Namespaced route id FEED:ID")
    short_name: str = Field(description="Short name shown on vehicles, e.g. '16'")
    long_name: str = Field(description="Long name, e.g. 'West Newport/NKU'")
    type: int = Field(description="GTFS route_type")
    type_name: str = Field(description="route_type in words: bus, tram, rail …")
    color: str | None = Field(description="Route colour as #RRGGBB, if the feed gives one")
    text_color: str | None = Field(description="Text colour on the route colour, #RRGGBB")


class AgencyInfo(BaseModel):
    """The agency running a leg."""

    id: str = Field(description="Namespaced agency id FEED:ID")
    name: str = Field(description="Agency name")
    timezone: str = Field(description="The agency's IANA timezone (times of its legs)")


class ActivePeriodOut(BaseModel):
    """When an alert is in force (GTFS-Realtime ``active_period``)."""

    start: str | None = Field(description="Start (ISO 8601 with the feed's offset); null: "
                              "since ever")
    end: str | None = Field(description="End (ISO 8601 with the feed's offset); null: until "
                            "further notice")


class AlertOut(BaseModel):
    """A service alert concerning a departure or leg: a GTFS-Realtime ServiceAlert of a feed,
    or an incident with a transit effect (stops closed, routes affected)."""

    id: str = Field(description="FEED:ALERT_ID for a feed's alert, the incident id (INC-12) "
                    "for an incident")
    source: Literal["gtfs_rt", "incident"] = Field(description="gtfs_rt: a ServiceAlert "
                                                   "received from the feed; incident: an "
                                                   "incident of the traffic centres")
    feed_id: str = Field(description="The static feed the alert concerns")
    effect: str = Field(description="GTFS-Realtime effect: NO_SERVICE, REDUCED_SERVICE, "
                        "SIGNIFICANT_DELAYS, DETOUR, ADDITIONAL_SERVICE, MODIFIED_SERVICE, "
                        "OTHER_EFFECT, UNKNOWN_EFFECT, STOP_MOVED, NO_EFFECT, "
                        "ACCESSIBILITY_ISSUE")
    cause: str = Field(description="GTFS-Realtime cause: UNKNOWN_CAUSE, OTHER_CAUSE, "
                       "TECHNICAL_PROBLEM, STRIKE, DEMONSTRATION, ACCIDENT, HOLIDAY, WEATHER, "
                       "MAINTENANCE, CONSTRUCTION, POLICE_ACTIVITY, MEDICAL_EMERGENCY")
    severity: str | None = Field(description="INFO, WARNING, SEVERE or UNKNOWN_SEVERITY; null "
                                 "when the feed does not say")
    header: str | None = Field(description="Short text in the requested language (`lang`) "
                               "when the alert has it, else English, else the first given")
    description: str | None = Field(description="Full text, chosen like `header`")
    url: str | None = Field(description="Link to more information, chosen like `header`")
    active_periods: list[ActivePeriodOut] = Field(description="When it is in force (empty: "
                                                  "always)")


class LegOut(BaseModel):
    """One leg: walking (with street geometry and steps) or transit."""

    mode: Literal["walk", "bike", "car", "transit"] = Field(description="How this leg is "
                                                            "travelled")
    from_: PlaceOut = Field(alias="from", description="Where the leg starts")
    to: PlaceOut = Field(description="Where the leg ends")
    departure: str = Field(description="ISO 8601 with the agency's UTC offset; transit legs: "
                           "the expected departure (realtime when the trip has realtime "
                           "data, else the schedule)")
    arrival: str = Field(description="ISO 8601 with the agency's UTC offset; transit legs: "
                         "the expected arrival")
    duration_s: int = Field(description="Duration of the leg in seconds")
    geometry: LineString = Field(description="The leg's line, [lon, lat] positions")
    distance_m: float | None = Field(default=None, description="Street legs: length in metres")
    steps: list[StepOut] | None = Field(default=None, description="Street legs: turn-by-turn "
                                        "instructions (empty for straight-line legs)")
    straight_line: bool | None = Field(default=None, description=(
        "Street legs: true when the leg is estimated as a straight line × the detour "
        "factor because the snapshot has no street network (two-point geometry, no steps)"))
    route: RouteInfo | None = Field(default=None, description="Transit legs: the route")
    agency: AgencyInfo | None = Field(default=None, description="Transit legs: the agency")
    trip_id: str | None = Field(default=None, description="Transit legs: namespaced trip id")
    headsign: str | None = Field(default=None, description="Transit legs: destination sign")
    service_date: str | None = Field(default=None, description="Transit legs: the trip's "
                                     "service date (YYYY-MM-DD)")
    intermediate_stops: list[IntermediateStop] | None = Field(default=None, description=(
        "Transit legs: stops passed between boarding and alighting"))
    scheduled_departure: str | None = Field(default=None, description=(
        "Transit legs: the timetable's departure (ISO 8601 with the agency's offset)"))
    scheduled_arrival: str | None = Field(default=None, description=(
        "Transit legs: the timetable's arrival (ISO 8601 with the agency's offset)"))
    departure_delay_s: int | None = Field(default=None, description=(
        "Transit legs: expected minus scheduled departure, in seconds (negative: early)"))
    arrival_delay_s: int | None = Field(default=None, description=(
        "Transit legs: expected minus scheduled arrival, in seconds (negative: early)"))
    realtime: bool | None = Field(default=None, description=(
        "Transit legs: true when a realtime source reported on this trip (its times are "
        "then realtime, on time included); false: the schedule, for lack of data"))
    alerts: list[AlertOut] | None = Field(default=None, description=(
        "Transit legs: alerts on its route, trip, agency, boarding or alighting stop that are "
        "in force during the leg (feed alerts and incidents)"))
    wheelchair_accessible: bool | None = Field(
        default=None, description="Transit legs: true when the trip and both stops are "
        "marked wheelchair-accessible, false when one is marked not accessible, null when "
        "the feed does not say")


class ItineraryOut(BaseModel):
    """A door-to-door journey."""

    departure: str = Field(description="Leaving the origin (ISO 8601 with offset)")
    arrival: str = Field(description="Reaching the destination (ISO 8601 with offset)")
    duration_s: int = Field(description="Door-to-door time in seconds")
    transfers: int = Field(description="Changes between vehicles")
    walk_m: float = Field(description="Walking distance in metres, all legs together")
    wait_s: int = Field(description="Waiting time at stops in seconds")
    legs: list[LegOut] = Field(description="The legs in travel order")
    alerts: list[str] = Field(description="Ids of the alerts on its legs (each transit leg "
                              "has them in full under `alerts`)")
    wheelchair_unknown_legs: int = Field(default=0, description=(
        "Transit legs of unknown wheelchair accessibility"))


class PlanResponse(BaseModel):
    """Answer of GET /v1/plan."""

    itineraries: list[ItineraryOut] = Field(description="Journeys, best first")
    service_date: str = Field(description="Timetable service date searched (YYYY-MM-DD)")
    live_version: int = Field(description="Version of the live state the answer used")
    access_stops: int = Field(description="Stops within walking distance of the origin")
    egress_stops: int = Field(description="Stops within walking distance of the destination")
    messages: list[str] = Field(default_factory=list, description="Why the answer may be "
                                "empty or short, e.g. no stop within walking distance")


class StopsResponse(BaseModel):
    """Answer of GET /v1/stops."""

    stops: list[StopOut] = Field(description="Matching stops: nearest first with `near`, "
                                 "else by name")


class VehicleOut(BaseModel):
    """The latest GTFS-Realtime position of the vehicle running a trip."""

    id: str = Field(description="Vehicle id in its feed (else its label)")
    label: str | None = Field(description="Label shown to riders (e.g. a train number)")
    lat: float = Field(description="Latitude in decimal degrees")
    lon: float = Field(description="Longitude in decimal degrees")
    bearing_deg: float | None = Field(description="Heading in degrees clockwise from north")
    speed_mps: float | None = Field(description="Speed in metres per second")
    status: str | None = Field(description="INCOMING_AT, STOPPED_AT or IN_TRANSIT_TO (its "
                               "current or next stop)")
    occupancy: str | None = Field(description="GTFS-Realtime occupancy status, e.g. "
                                  "MANY_SEATS_AVAILABLE, STANDING_ROOM_ONLY, FULL")
    timestamp: str = Field(description="When the position was measured (ISO 8601, UTC)")
    age_s: float = Field(description="Seconds from the measurement to the service's now")


class DepartureOut(BaseModel):
    """A departure from a stop (realtime fields equal the schedule without live data)."""

    trip_id: str = Field(description="Namespaced trip id FEED:ID")
    route: RouteInfo = Field(description="The route of the trip")
    headsign: str = Field(description="Destination sign of the trip")
    scheduled: str = Field(description="Scheduled departure (ISO 8601 with offset)")
    expected: str = Field(description="Expected departure with live data (ISO 8601)")
    delay_s: int = Field(description="Expected minus scheduled, in seconds (negative: early)")
    cancelled: bool = Field(description="The trip is cancelled on its service date (listed, "
                            "nobody can board)")
    skipped: bool = Field(default=False, description="The trip runs but skips this stop "
                          "(listed, nobody can board here)")
    realtime: bool = Field(default=False, description="True when a realtime source reported "
                           "on this trip (delay 0 then means on time per realtime); false: "
                           "the schedule, for lack of data")
    service_date: str = Field(description="The trip's service date (YYYY-MM-DD)")
    vehicle: VehicleOut | None = Field(default=None, description="The vehicle running the "
                                       "trip, when a vehicle-positions feed places one on it")
    alerts: list[AlertOut] = Field(default_factory=list, description=(
        "Alerts on its route, trip, agency or this stop in force at the expected departure "
        "(feed alerts and incidents), texts in the requested language"))


class DeparturesResponse(BaseModel):
    """Answer of GET /v1/stops/{stop_id}/departures."""

    stop: StopOut = Field(description="The stop asked for")
    departures: list[DepartureOut] = Field(description="Next departures, earliest first")
    live_version: int = Field(description="Version of the live state the answer used")
