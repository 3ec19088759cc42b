"""Traffic guidance endpoints: live speed observations, the congestion map and summaries."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api import examples
from api.bodies import parse_json, read_body
from api.incidents import _bbox, writer
from api.params import BBOX_FORMAT, TIME_FORMAT
from api.problems import (
    ApiProblem,
    ProblemMeaning,
    no_street_network,
    problem_example,
    responses,
)
from api.service import LiveService
from api.settings import Settings
from api.standards import FEED_HEADERS, IfModifiedSince, IfNoneMatch, validators
from api.transit import parse_time
from incidents.auth import Principal, Role
from incidents.speeds import OUTSIDE_AREA
from routing.congestion import LEVELS
from routing.state import RoutingState

router = APIRouter(prefix="/v1", tags=["traffic"])
MAX_BATCH = 20_000
MAX_SPEEDS_BYTES = 8 * 1_048_576

Level = Literal["free", "slow", "heavy", "standstill", "closed"]
SpeedSource = Literal["traffic_centre", "bus_probe"]
_SOURCE_DOC = ("Where the edge's live speed comes from while an observation still counts: "
               "traffic_centre (POST /v1/traffic/speeds) or bus_probe (buses' GTFS-Realtime "
               "vehicle positions, lower confidence); null without a live observation")
_LEVELS_DOC = ("free (travel time < 1.25 × free flow), slow (< 2 ×), heavy (< 4 ×), "
               "standstill (≥ 4 × or below 5 km/h) or closed")


class RejectedObservation(BaseModel):
    """An observation of the batch that was not applied."""

    index: int = Field(description="Position of the observation in `observations` (from 0)")
    reason: str = Field(description="Why it was rejected, in words")


class SpeedBatchOut(BaseModel):
    """What happened to a batch of observations (apply-the-valid-ones)."""

    accepted: int = Field(description="Observations applied")
    rejected: list[RejectedObservation] = Field(description="Observations not applied, with "
                                                "index and reason")
    edges_updated: int = Field(description="Car edges whose live speed changed")
    live_version: int = Field(description="Version of the live state that includes the batch")


class KmByLevel(BaseModel):
    """Network length per congestion level, in kilometres."""

    free: float = Field(description="Kilometres flowing freely")
    slow: float = Field(description="Kilometres slow (1.25 to 2 × free-flow time)")
    heavy: float = Field(description="Kilometres heavy (2 to 4 × free-flow time)")
    standstill: float = Field(description="Kilometres at a standstill (≥ 4 × or < 5 km/h)")
    closed: float = Field(description="Kilometres closed")


class WorstSegment(BaseModel):
    """A car edge with one of the largest delays of the area."""

    edge: int = Field(description="Car edge id (as in /v1/congestion)")
    name: str = Field(description="Street name (empty when unnamed)")
    way_id: int = Field(description="OpenStreetMap way id")
    level: Level = Field(description="Congestion level: " + _LEVELS_DOC)
    delay_s: float = Field(description="Seconds above the free-flow travel time of the edge")
    speed_kmh: float = Field(description="Current speed in km/h (0 when closed)")
    free_flow_kmh: float = Field(description="Free-flow speed in km/h")
    causes: list[str] = Field(description="Incident ids acting on the edge")
    source: SpeedSource | None = Field(default=None, description=_SOURCE_DOC)


class ActiveCause(BaseModel):
    """An incident acting on car edges of the area."""

    id: str = Field(description="Incident id, e.g. INC-12")
    edges: int = Field(description="Car edges of the area it acts on")
    type: str | None = Field(description="Incident type (accident, closure …), if known")
    severity: str | None = Field(description="low, moderate, high or severe, if known")
    streets: list[str] | None = Field(description="Streets it is on, if known")


class LiveSpeedEdges(BaseModel):
    """Car edges with a live speed observation still in force, per source."""

    traffic_centre: int = Field(description="Edges whose live speed a traffic centre posted")
    bus_probe: int = Field(description="Edges whose live speed buses measured as probes")


class CongestionSummary(BaseModel):
    """Dashboard figures for an area."""

    live_version: int = Field(description="Version of the live state the figures describe")
    edges: int = Field(description="Car edges in the area")
    network_km: float = Field(description="Length of the car network in the area, km")
    km_by_level: KmByLevel = Field(description="Kilometres per congestion level")
    closed_edges: int = Field(description="Car edges closed")
    total_delay_s: float = Field(description="Sum of the edges' delays above free flow, in "
                                 "seconds")
    vehicle_delay_proxy: float = Field(description=(
        "Delay seconds weighted by a typical relative traffic volume of each road class "
        "(residential = 1, motorway = 20): ranks areas, not absolute vehicle-hours"))
    worst_segments: list[WorstSegment] = Field(description="Edges with the largest delay, "
                                               "worst first (`worst` of them)")
    active_causes: list[ActiveCause] = Field(description="Incidents acting on the area, by id")
    live_speed_edges: int = Field(description="Car edges with a live speed observation still "
                                  "in force")
    live_speed_edges_by_source: LiveSpeedEdges | None = Field(default=None, description=(
        "Car edges of the area with a live speed still in force, per source"))
    at: str | None = Field(default=None, description="The instant described (ISO 8601)")


class CongestionProperties(BaseModel):
    """Properties of a congestion feature: one car edge (one direction of a street
    segment)."""

    edge: int = Field(description="Car edge id")
    level: Level = Field(description="Congestion level: " + _LEVELS_DOC)
    speed_kmh: float = Field(description="Current speed in km/h (0 when closed)")
    free_flow_kmh: float = Field(description="Free-flow speed in km/h")
    delay_s: float = Field(description="Seconds above the free-flow travel time of the edge "
                           "(0 when closed)")
    name: str | None = Field(description="Street name (null when unnamed)")
    way_id: int = Field(description="OpenStreetMap way id")
    direction: Literal["forward", "backward"] = Field(description=(
        "Travel direction relative to the way's drawing order; the geometry is in travel "
        "order"))
    causes: list[str] = Field(description="Incident ids acting on the edge")
    source: SpeedSource | None = Field(default=None, description=_SOURCE_DOC)


class CongestionGeometry(BaseModel):
    """GeoJSON LineString of an edge in travel order."""

    type: Literal["LineString"] = Field(description="GeoJSON geometry type")
    coordinates: list[list[float]] = Field(description="Positions [lon, lat] in decimal "
                                           "degrees, in travel order")


class CongestionFeature(BaseModel):
    """GeoJSON Feature: one car edge and its congestion."""

    type: Literal["Feature"] = Field(description="GeoJSON object type")
    geometry: CongestionGeometry = Field(description="The edge's line")
    properties: CongestionProperties = Field(description="Level, speeds, delay and causes")


class FeedInfo(BaseModel):
    """Open-data metadata of a feed."""

    publisher: str = Field(description="Who publishes the data")
    license: str = Field(description="URL of the data licence")
    attribution: str = Field(description="Attribution the licence of the map data asks for")
    update_date: str = Field(description="The instant the data describes (ISO 8601)")


class CongestionCollection(BaseModel):
    """Answer of GET /v1/congestion: a GeoJSON FeatureCollection of car edges."""

    type: Literal["FeatureCollection"] = Field(description="GeoJSON object type")
    feed_info: FeedInfo = Field(description="Open-data metadata: publisher, licence, "
                                "attribution, update time")
    live_version: int = Field(description="Version of the live state the map describes")
    at: str = Field(description="The instant described (ISO 8601 with offset)")
    features: list[CongestionFeature] = Field(description="Car edges at `min_level` or "
                                              "worse in `bbox`")


class GeoJSONResponse(JSONResponse):
    """A response already encoded as GeoJSON bytes, sent as they are (a JSON response class
    so that the OpenAPI documents its schema)."""

    media_type = "application/geo+json"

    def render(self, content: bytes) -> bytes:
        return content


_SPEEDS_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "example": examples.SPEEDS_BODY, "schema": {
        "type": "object", "required": ["observations"], "additionalProperties": False,
        "properties": {"observations": {"type": "array", "description": (
            f"At most {MAX_BATCH} observations and 8 MiB per batch (422 / 413 beyond)"),
            "items": {
                "type": "object", "required": ["ref", "speed_kmh", "observed_at"],
                "additionalProperties": False,
                "properties": {
                    "ref": {"type": "object", "description": (
                        "Where the speed was measured: `{way_id, direction}` with an "
                        "OpenStreetMap way id and direction forward|backward|both (along or "
                        "against the way's drawing order; default forward), or `{geometry, "
                        "direction}` with a GeoJSON LineString in [lon, lat] order matched "
                        "onto the car network")},
                    "speed_kmh": {"type": "number", "exclusiveMinimum": 0, "maximum": 250,
                                  "description": "Measured speed in km/h"},
                    "observed_at": {"type": "string", "format": "date-time",
                                    "description": (
                                        "When it was measured: ISO 8601 with a UTC offset, "
                                        "not in the future nor older than the ageing "
                                        "horizon (15 min)")},
                    "confidence": {"type": "number", "minimum": 0, "maximum": 1,
                                   "description": "Weight of the observation, 0 to 1 "
                                   "(default 1)"}}}}}}}}}}


def _svc(request: Request) -> LiveService:
    svc = request.app.state.service
    if svc.engine is None:
        raise ApiProblem(404, "no-traffic", "live traffic is not enabled on this server")
    if not svc.snapshot.has_road:
        raise no_street_network()
    return svc


_WRITE_ERRORS: dict[int, ProblemMeaning] = {
    401: ("No API key, or an unknown or revoked one: send `Authorization: Bearer KEY`",
          problem_example(401, "an API key is required: send 'Authorization: Bearer KEY'",
                          "/v1/traffic/speeds")),
    403: "The key's role is `reader`: posting speeds needs `traffic_centre` or `admin`",
    404: "Live traffic is not enabled on this server (started without an incident store)",
    413: "The body is larger than 8 MiB: split the batch",
    415: "The body is not sent as `application/json`",
}


@router.post("/traffic/speeds", response_model=SpeedBatchOut, openapi_extra=_SPEEDS_BODY,
             summary="Post live speed observations",
             responses={200: {"description": "The batch was applied, except the rejected "
                              "items listed", "content": {"application/json": {
                                  "example": examples.SPEED_BATCH}}},
                        **responses(_WRITE_ERRORS, {422: (
                            "The body is not JSON or not `{\"observations\": [...]}`, is "
                            "empty, has more than 20 000 items, or no item is valid "
                            "(`invalid_params` lists each item's reason); or the snapshot has "
                            "no street network (type `no-street-network`)",
                            problem_example(422, "no observation in the batch is valid",
                                            "/v1/traffic/speeds", "no-valid-observation",
                                            "No valid observation", invalid_params=[{
                                                "name": "body.observations.0", "reason":
                                                "speed_kmh 300 is not in (0, 250]"}]))})})
async def post_speeds(request: Request, p: Annotated[Principal, Depends(writer)]) -> dict:
    """Post live speed observations. Rule: **apply-the-valid-ones** — each item is checked
    on its own (unknown way, speed ≤ 0 or above 250 km/h, a time in the future or older than
    the ageing horizon, unmatched geometry are rejected with index and reason) and the valid
    ones are applied; a batch without any valid item is rejected (422). Observations count
    fully for 5 min, then fade to the typical speed by 15 min."""
    svc = _svc(request)
    raw = await read_body(request, MAX_SPEEDS_BYTES)
    doc = await run_in_threadpool(parse_json, raw)
    if not isinstance(doc, dict) or set(doc) != {"observations"} or \
            not isinstance(doc["observations"], list):
        raise ApiProblem(422, "invalid-body", 'expected {"observations": [...]}',
                         invalid_params=[{"name": "body", "reason": "observations required"}])
    items = doc["observations"]
    if not items:
        raise ApiProblem(422, "invalid-body", "observations is empty")
    if len(items) > MAX_BATCH:
        raise ApiProblem(422, "batch-too-large", f"at most {MAX_BATCH} observations per "
                         "batch; split it", "Batch too large",
                         invalid_params=[{"name": "body.observations",
                                          "reason": f"more than {MAX_BATCH} items"}])
    area = p.area if p.role != Role.ADMIN else None
    report, state = await run_in_threadpool(svc.engine.post_speeds, items, p.actor, area)
    if report.accepted == 0 and report.rejected and all(
            r["reason"].startswith(OUTSIDE_AREA) for r in report.rejected):
        raise ApiProblem(403, "outside-area", f"key {p.key_id} may only write inside its "
                         f"area; every observation lies outside it", "Forbidden")
    if report.accepted == 0:
        raise ApiProblem(422, "no-valid-observation", "no observation in the batch is valid",
                         invalid_params=[{"name": f"body.observations.{r['index']}",
                                          "reason": r["reason"]} for r in report.rejected[:50]])
    return {"accepted": report.accepted, "rejected": report.rejected,
            "edges_updated": report.edges_updated, "live_version": state.version}


def _state_at(svc: LiveService, at: str | None) -> RoutingState:
    """The request's state: now, or the same live inputs at instant ``at``."""
    state = svc.state()
    if at is None:
        return state
    t = parse_time(at, "at", svc.tz, svc.clock)
    return svc.publisher.at(state, t)


_AREA_ERRORS: dict[int, ProblemMeaning] = {
    404: "Live traffic is not enabled on this server (started without an incident store)",
    422: ("A malformed `bbox` (not four numbers W,S,E,N in range) or `at` (not ISO 8601), "
          "a parameter out of its range, or a snapshot without a street network (type "
          "`no-street-network`)",
          problem_example(422, "bbox: expected W,S,E,N as four numbers", "/v1/congestion",
                          invalid_params=[{"name": "query.bbox",
                                           "reason": "expected W,S,E,N"}])),
}
_GEOJSON_DOC: dict[int | str, dict[str, object]] = {200: {
    "model": CongestionCollection,
    "description": "GeoJSON FeatureCollection (`application/geo+json`) of car edges with "
                   "level, speed_kmh, free_flow_kmh, delay_s, name, way_id, direction, "
                   "causes and source, and the open-data `feed_info`",
    "headers": FEED_HEADERS,
    "content": {"application/geo+json": {"example": examples.CONGESTION}}},
    304: {"description": "Not modified: the `ETag` sent in `If-None-Match` (or the time in "
                         "`If-Modified-Since`) still describes the content",
          "headers": FEED_HEADERS}}
BboxParam = Annotated[str | None, Query(
    max_length=120, description=BBOX_FORMAT + ". Only edges intersecting it; default: the "
    "whole network", examples=["-84.52,39.07,-84.49,39.10"])]
AtParam = Annotated[str | None, Query(
    max_length=64, description="The instant to describe (live inputs in force then and "
    "typical speeds of that time of day); default now. " + TIME_FORMAT,
    examples=["2026-11-24T08:00:00-05:00"])]


@router.get("/congestion", responses={**_GEOJSON_DOC, **responses(_AREA_ERRORS)},
            response_class=GeoJSONResponse, summary="Congestion map (GeoJSON)")
def congestion(
    request: Request,
    if_none_match: IfNoneMatch = None,
    if_modified_since: IfModifiedSince = None,
    bbox: BboxParam = None,
    at: AtParam = None,
    min_level: Annotated[Level, Query(
        description="Only edges at this level or worse: " + _LEVELS_DOC,
        examples=["heavy"])] = "free",
) -> Response:
    """Congestion per car edge: free, slow, heavy, standstill or closed (from live and
    typical speeds against free flow), with causes (incident ids) and the source of the live
    speed (traffic_centre or bus_probe, null without one). The answer is a GeoJSON
    FeatureCollection served as `application/geo+json`; each feature is one direction of a
    street segment, its geometry in travel order.

    Open data: `feed_info` names the publisher, the licence (also in the `Link` header) and
    the map data's attribution; `ETag` (a hash of the body) and `Last-Modified` (the
    instant described) answer `If-None-Match` / `If-Modified-Since` with 304."""
    svc = _svc(request)
    box = _bbox(bbox) if bbox else None
    st = _state_at(svc, at)
    sel = svc.congestion_map().edges(st, box, LEVELS.index(min_level))
    settings = Settings()
    info = {"publisher": settings.feed_publisher, "license": settings.feed_license,
            "attribution": "© OpenStreetMap contributors", "update_date": sel.at.isoformat()}
    body = svc.congestion_geojson().encode(sel, info)
    headers, not_modified = validators(request, body,
                                       sel.at.astimezone(UTC).replace(microsecond=0),
                                       settings.feed_license)
    if not_modified:
        return Response(status_code=304, headers=headers)
    return GeoJSONResponse(body, headers=headers)


@router.get("/congestion/summary", response_model=CongestionSummary,
            summary="Congestion figures of an area",
            responses={200: {"content": {"application/json": {
                "example": examples.CONGESTION_SUMMARY}}}, **responses(_AREA_ERRORS)})
def congestion_summary(
    request: Request,
    bbox: BboxParam = None,
    at: AtParam = None,
    worst: Annotated[int, Query(ge=1, le=100, description="How many worst segments to list",
                                examples=[5])] = 10,
) -> dict:
    """Area figures for dashboards: km per level, delay, vehicle-delay proxy, worst segments
    and active causes."""
    svc = _svc(request)
    box = _bbox(bbox) if bbox else None
    st = _state_at(svc, at)
    out = svc.congestion_map().summary(st, box, worst)
    out["at"] = st.at.isoformat()
    return out
