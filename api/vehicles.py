"""GET /v1/vehicles: the latest GTFS-Realtime vehicle positions as GeoJSON."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api import examples
from api.incidents import _bbox
from api.params import BBOX_FORMAT
from api.problems import ApiProblem, ProblemMeaning, problem_example, responses
from api.realtime import _svc
from gtfs.realtime.vehicles import VehiclePosition
from gtfs.timetable import Timetable
from routing.transit_info import TransitInfo, id_index, transit_info

router = APIRouter(prefix="/v1", tags=["realtime"])


class PointGeometry(BaseModel):
    """GeoJSON Point."""

    type: Literal["Point"] = Field(description="GeoJSON geometry type")
    coordinates: list[float] = Field(description="[lon, lat] in decimal degrees (WGS 84)")


class VehicleProperties(BaseModel):
    """What is known of one vehicle."""

    vehicle_id: str = Field(description="Vehicle id in its feed (else its label or entity id)")
    label: str | None = Field(description="Label shown to riders, e.g. a train number")
    feed_id: str = Field(description="The static feed whose vehicle-positions feed placed it")
    trip_id: str | None = Field(description="Trip it runs, FEED:ID (the timetable's trip "
                                "instance when matched)")
    trip_matched: bool = Field(description="Whether the trip was found in the timetable")
    route_id: str | None = Field(description="Route, FEED:ID")
    route_short_name: str | None = Field(description="Route short name from the timetable")
    service_date: str | None = Field(description="Service date of the matched trip "
                                     "(YYYY-MM-DD)")
    delay_s: int | None = Field(description="Realtime delay of its trip at its current or "
                                "next stop, in seconds (null: no realtime data for the trip)")
    stop_id: str | None = Field(description="Its current or next stop, FEED:ID")
    bearing_deg: float | None = Field(description="Heading in degrees clockwise from north")
    speed_mps: float | None = Field(description="Speed in metres per second")
    status: str | None = Field(description="INCOMING_AT, STOPPED_AT or IN_TRANSIT_TO (its "
                               "current or next stop)")
    occupancy: str | None = Field(description="GTFS-Realtime occupancy status, e.g. "
                                  "MANY_SEATS_AVAILABLE, FULL")
    timestamp: str = Field(description="When the position was measured (ISO 8601, UTC)")
    age_s: float = Field(description="Seconds from the measurement to the service's now")


class VehicleFeature(BaseModel):
    """One vehicle."""

    type: Literal["Feature"] = Field(description="GeoJSON object type")
    id: str = Field(description="FEED:VEHICLE_ID")
    geometry: PointGeometry = Field(description="Its position")
    properties: VehicleProperties = Field(description="Vehicle, trip, route, delay, motion "
                                          "and age of the position")


class VehicleCollection(BaseModel):
    """Answer of GET /v1/vehicles: a GeoJSON FeatureCollection of vehicle positions."""

    type: Literal["FeatureCollection"] = Field(description="GeoJSON object type")
    live_version: int = Field(description="Version of the live state the answer used")
    realtime_version: int = Field(description="Version of the realtime data it holds")
    features: list[VehicleFeature] = Field(description="Vehicles in `bbox` (on `route`), "
                                           "by feed and vehicle id")


class GeoJSON(JSONResponse):
    """JSON served as ``application/geo+json``."""

    media_type = "application/geo+json"


_ERRORS: dict[int, ProblemMeaning] = {
    404: ("GTFS-Realtime is not enabled on this server (type `no-realtime`), or `route` "
          "names no route of the timetable (type `unknown-route`)",
          problem_example(404, "unknown route 'bart:99'", "/v1/vehicles", "unknown-route",
                          "Unknown route")),
    422: ("A malformed `bbox` (not four numbers W,S,E,N in range) or a parameter too long",
          problem_example(422, "bbox: expected W,S,E,N as four numbers", "/v1/vehicles",
                          invalid_params=[{"name": "query.bbox",
                                           "reason": "expected W,S,E,N"}])),
}


def _route(tt: Timetable, value: str) -> int:
    """Route index of ``FEED:ROUTE`` (or a plain route id that only one feed has)."""
    ids = id_index(tt, "route_id")
    if value in ids:
        return ids[value]
    hits = [i for r, i in ids.items() if r.split(":", 1)[-1] == value]
    if len(hits) == 1:
        return hits[0]
    raise ApiProblem(404, "unknown-route", f"unknown route {value!r}" + (
        " (ambiguous across feeds; use FEED:ROUTE)" if hits else ""), "Unknown route")


def _feature(tt: Timetable, info: TransitInfo, routes: Mapping[str, int], feed: str,
             v: VehiclePosition, now_s: float) -> dict:
    """One vehicle as a GeoJSON feature (the route of its matched trip, else the one it
    names)."""
    strings = tt.strings
    route = int(tt.arrays["trip_route"][v.trip]) if v.trip >= 0 else -1
    if route < 0 and v.route_id:
        route = routes.get(f"{feed}:{v.route_id}", -1)
    trip_id = strings["trip_id"][v.trip] if v.trip >= 0 else \
        (f"{feed}:{v.trip_id}" if v.trip_id else None)
    route_id = strings["route_id"][route] if route >= 0 else \
        (f"{feed}:{v.route_id}" if v.route_id else None)
    props = {
        "vehicle_id": v.vehicle_id, "label": v.label, "feed_id": feed, "trip_id": trip_id,
        "trip_matched": v.trip >= 0, "route_id": route_id,
        "route_short_name": strings["route_short_name"][route] if route >= 0 else None,
        "service_date": v.service_date.isoformat() if v.service_date else None,
        "delay_s": info.vehicle_delay_s(v),
        "stop_id": strings["stop_id"][v.stop] if v.stop >= 0 else None,
        "bearing_deg": v.bearing_deg,
        "speed_mps": None if v.speed_mps is None else round(v.speed_mps, 2),
        "status": v.current_status, "occupancy": v.occupancy,
        "timestamp": _utc(v.timestamp_s), "age_s": round(now_s - v.timestamp_s, 1)}
    return {"type": "Feature", "id": f"{feed}:{v.vehicle_id}",
            "geometry": {"type": "Point", "coordinates": [round(v.lon, 7), round(v.lat, 7)]},
            "properties": props}


def _utc(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


@router.get("/vehicles", response_class=GeoJSON, summary="Vehicle positions (GeoJSON)",
            responses={200: {"model": VehicleCollection, "description": (
                "GeoJSON FeatureCollection (`application/geo+json`) of vehicle positions"),
                "content": {"application/geo+json": {"example": examples.VEHICLES}}},
                **responses(_ERRORS)})
def vehicles(
    request: Request,
    bbox: Annotated[str | None, Query(max_length=120, description=BBOX_FORMAT + ". Only "
                                      "vehicles inside it; default: all",
                                      examples=["-122.52,37.70,-122.35,37.82"])] = None,
    route: Annotated[str | None, Query(max_length=200, description="Only vehicles on this "
                                       "route: FEED:ROUTE as in /v1/plan legs (or the plain "
                                       "route id when only one feed has it)",
                                       examples=["caltrain:L1"])] = None,
) -> GeoJSON:
    """The latest position of every vehicle the GTFS-Realtime vehicle-positions feeds
    report, as GeoJSON Point features: vehicle id and label, its trip (matched to the
    timetable when possible), route, the trip's realtime delay at its current or next stop,
    bearing, speed, stop status, occupancy, the time of the position and its age."""
    svc = _svc(request)
    box = _bbox(bbox) if bbox else None
    p = svc.planner
    assert p is not None  # realtime needs a timetable
    state = svc.state()
    only = _route(p.tt, route) if route is not None else None
    info = transit_info(state, p.tt)
    now_s = svc.clock.now().timestamp()
    routes = id_index(p.tt, "route_id")
    want = p.tt.strings["route_id"][only] if only is not None else None
    feats = []
    for feed, held in sorted(state.live.vehicles.items()):
        for v in sorted(held, key=lambda x: x.vehicle_id):
            if box is not None and not (box[0] <= v.lon <= box[2]
                                        and box[1] <= v.lat <= box[3]):
                continue
            f = _feature(p.tt, info, routes, feed, v, now_s)
            if want is None or f["properties"]["route_id"] == want:
                feats.append(f)
    return GeoJSON({"type": "FeatureCollection", "live_version": state.version,
                    "realtime_version": state.live.realtime_version, "features": feats})
