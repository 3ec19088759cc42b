"""Traffic guidance endpoints: live speed observations, the congestion map and summaries."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from api.incidents import _bbox, _body, writer
from api.problems import ApiProblem, responses
from api.transit import parse_time
from incidents.auth import Principal
from routing.congestion import LEVELS

router = APIRouter(prefix="/v1", tags=["traffic"])
MAX_BATCH = 20_000
MAX_SPEEDS_BYTES = 8 * 1_048_576


class SpeedBatchOut(BaseModel):
    """What happened to a batch of observations (apply-the-valid-ones)."""

    accepted: int
    rejected: list[dict[str, Any]]
    edges_updated: int
    live_version: int


class CongestionSummary(BaseModel):
    """Dashboard figures for an area."""

    live_version: int
    edges: int
    network_km: float
    km_by_level: dict[str, float]
    closed_edges: int
    total_delay_s: float
    vehicle_delay_proxy: float
    worst_segments: list[dict[str, Any]]
    active_causes: list[dict[str, Any]]
    live_speed_edges: int
    at: str | None = None


_SPEEDS_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["observations"], "additionalProperties": False,
    "properties": {"observations": {"type": "array", "description": (
        f"At most {MAX_BATCH} observations and 8 MiB per batch (422 / 413 beyond)"), "items": {
        "type": "object", "required": ["ref", "speed_kmh", "observed_at"],
        "additionalProperties": False,
        "properties": {
            "ref": {"type": "object", "description": "{way_id, direction: forward|backward|"
                    "both} or {geometry: GeoJSON LineString, direction}"},
            "speed_kmh": {"type": "number", "exclusiveMinimum": 0, "maximum": 250},
            "observed_at": {"type": "string", "format": "date-time"},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1}}}}}}}}}}


def _svc(request: Request):
    svc = request.app.state.service
    if svc.engine is None:
        raise ApiProblem(404, "no-traffic", "live traffic is not enabled on this server")
    return svc


@router.post("/traffic/speeds", response_model=SpeedBatchOut, openapi_extra=_SPEEDS_BODY,
             responses=responses(401, 403, 413, 415, 422, 500))
async def post_speeds(request: Request, p: Annotated[Principal, Depends(writer)]) -> dict:
    """Post live speed observations. Rule: **apply-the-valid-ones** — each item is checked
    on its own (unknown way, speed ≤ 0 or above 250 km/h, a time in the future or older than
    the ageing horizon, unmatched geometry are rejected with index and reason) and the valid
    ones are applied; a batch without any valid item is rejected (422). Observations count
    fully for 5 min, then fade to the typical speed by 15 min."""
    svc = _svc(request)
    raw = await _body(request, MAX_SPEEDS_BYTES)
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise ApiProblem(422, "invalid-json", f"the body is not JSON: {exc}") from exc
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
    report, state = await run_in_threadpool(svc.engine.post_speeds, items, p.actor)
    if report.accepted == 0:
        raise ApiProblem(422, "no-valid-observation", "no observation in the batch is valid",
                         invalid_params=[{"name": f"body.observations.{r['index']}",
                                          "reason": r["reason"]} for r in report.rejected[:50]])
    return {"accepted": report.accepted, "rejected": report.rejected,
            "edges_updated": report.edges_updated, "live_version": state.version}


def _state_at(svc, at: str | None):
    """The request's state: now, or the same live inputs at instant ``at``."""
    state = svc.state()
    if at is None:
        return state
    t = parse_time(at, "at", svc.tz, svc.clock)
    return svc.publisher.at(state, t)


_GEOJSON_DOC = {200: {"description": "GeoJSON FeatureCollection of car edges with level, "
                      "speed_kmh, free_flow_kmh, delay_s, name, way_id, direction, causes",
                      "content": {"application/geo+json": {"schema": {"type": "object"}}}}}


@router.get("/congestion", responses={**_GEOJSON_DOC, **responses(404, 422, 500)},
            response_class=Response)
def congestion(
    request: Request,
    bbox: Annotated[str | None, Query(max_length=120, description="W,S,E,N")] = None,
    at: Annotated[str | None, Query(max_length=64, description="ISO 8601; default now")
                  ] = None,
    min_level: Annotated[str, Query(pattern="^(free|slow|heavy|standstill|closed)$",
                                    description="Only edges at this level or worse")
                         ] = "free",
) -> Response:
    """Congestion per car edge: free, slow, heavy, standstill or closed (from live and
    typical speeds against free flow), with causes (incident ids)."""
    svc = _svc(request)
    box = _bbox(bbox) if bbox else None
    st = _state_at(svc, at)
    sel = svc.congestion_map().edges(st, box, LEVELS.index(min_level))
    body = svc.congestion_geojson().encode(sel)
    return Response(body, media_type="application/geo+json")


@router.get("/congestion/summary", response_model=CongestionSummary,
            responses=responses(404, 422, 500))
def congestion_summary(
    request: Request,
    bbox: Annotated[str | None, Query(max_length=120, description="W,S,E,N")] = None,
    at: Annotated[str | None, Query(max_length=64, description="ISO 8601; default now")
                  ] = None,
    worst: Annotated[int, Query(ge=1, le=100)] = 10,
) -> dict:
    """Area figures for dashboards: km per level, delay, vehicle-delay proxy, worst segments
    and active causes."""
    svc = _svc(request)
    box = _bbox(bbox) if bbox else None
    st = _state_at(svc, at)
    out = svc.congestion_map().summary(st, box, worst)
    out["at"] = st.at.isoformat()
    return out


