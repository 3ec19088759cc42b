"""Incident endpoints: create, read, change and remove incidents; lists as GeoJSON; history.

Writes need an API key (``Authorization: Bearer KEY``) with role ``traffic_centre`` (own
agency only) or ``admin``; changes need ``If-Match`` with the incident's ETag (its version).
A write returns only after the routers use the new live state.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict

from api import render
from api.problems import ApiProblem, responses
from api.transit import parse_time
from incidents.auth import Principal, Role
from incidents.errors import InvalidIncident
from incidents.keys import authenticate
from incidents.matching import GeometryMatchError, MatchResult
from incidents.model import (
    Incident,
    IncidentCreate,
    IncidentPatch,
    IncidentStatus,
    effective_state,
    validate_model,
)
from routing.profiles import Mode

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])
bearer = HTTPBearer(auto_error=False, description="API key: `Authorization: Bearer KEY`")
MAX_BODY_BYTES = 1_048_576


class IncidentOut(BaseModel):
    """A stored incident (all model fields), its state now and what its geometry matched."""

    model_config = ConfigDict(extra="allow")
    id: str
    version: int
    status: str
    type: str
    geometry: dict[str, Any]
    effective_state: str
    match: dict[str, Any] | None = None
    live_version: int


class Feature(BaseModel):
    """GeoJSON Feature of an incident."""

    type: str = "Feature"
    id: str
    geometry: dict[str, Any]
    properties: dict[str, Any]


class FeatureCollection(BaseModel):
    """GeoJSON FeatureCollection of incidents."""

    type: str = "FeatureCollection"
    features: list[Feature]
    live_version: int


class HistoryEntry(BaseModel):
    """One recorded change of an incident."""

    seq: int
    version: int | None
    action: str
    actor: str
    recorded_at: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class HistoryOut(BaseModel):
    """Answer of GET /v1/incidents/{id}/history."""

    incident_id: str
    history: list[HistoryEntry]


def _svc(request: Request):
    svc = request.app.state.service
    if svc.engine is None:
        raise ApiProblem(404, "no-incidents", "incidents are not enabled on this server")
    return svc


def principal(request: Request, creds: Annotated[HTTPAuthorizationCredentials | None,
                                                 Depends(bearer)]) -> Principal:
    """The caller's key, or 401."""
    svc = _svc(request)
    challenge = {"WWW-Authenticate": 'Bearer realm="citynav"'}
    if creds is None or not creds.credentials:
        raise ApiProblem(401, "unauthorized", "an API key is required: send "
                         "'Authorization: Bearer KEY'", "Unauthorized", headers=challenge)
    p = authenticate(svc.store, creds.credentials)
    if p is None:
        raise ApiProblem(401, "unauthorized", "the API key is unknown or revoked",
                         "Unauthorized", headers=challenge)
    return p


def writer(p: Annotated[Principal, Depends(principal)]) -> Principal:
    """A caller allowed to write incidents (traffic_centre or admin), or 403."""
    if p.role not in (Role.TRAFFIC_CENTRE, Role.ADMIN):
        raise ApiProblem(403, "forbidden", f"role '{p.role.value}' may not change incidents; "
                         "traffic_centre or admin is required", "Forbidden")
    return p


def _etag(inc: Incident) -> str:
    return f'"{inc.version}"'


def _if_match(value: str | None, current: int | None = None) -> int:
    """The version an If-Match header asks for; ``*`` matches the current version."""
    if value is not None and value.strip() == "*" and current is not None:
        return current
    if value is None:
        raise ApiProblem(428, "precondition-required", "send If-Match with the incident's "
                         "ETag (its version) to change it", "Precondition required")
    m = re.fullmatch(r'\s*(?:W/)?"?(\d{1,9})"?\s*', value)
    if not m:
        raise ApiProblem(412, "precondition-failed", f"If-Match {value!r} is not an ETag of "
                         "this API (expected e.g. \"3\")", "Precondition failed")
    return int(m.group(1))


def _current_version(svc, incident_id: str, if_match: str | None) -> int | None:
    """The stored version, looked up only for ``If-Match: *`` (404 when missing)."""
    if if_match is not None and if_match.strip() == "*":
        return svc.store.get(incident_id).version
    return None


async def _body(request: Request, max_bytes: int = MAX_BODY_BYTES) -> bytes:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype and not (ctype == "application/json" or ctype.endswith("+json")):
        raise ApiProblem(415, "unsupported-media-type", f"send JSON (Content-Type: "
                         f"application/json), not {ctype!r}", "Unsupported media type")
    size = request.headers.get("content-length")
    if size is not None and size.isdigit() and int(size) > max_bytes:
        raise ApiProblem(413, "payload-too-large", f"the body is larger than {max_bytes} "
                         "bytes", "Payload too large")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise ApiProblem(413, "payload-too-large", f"the body is larger than "
                             f"{max_bytes} bytes", "Payload too large")
    if not body.strip():
        raise ApiProblem(422, "invalid-incident", "the request body is empty; send the "
                         "incident as JSON", "Invalid incident")
    return body


def _match_or_422(svc, geometry: Any, direction: Any) -> MatchResult:
    try:
        m = svc.engine.match(geometry, direction)
    except GeometryMatchError as exc:
        raise ApiProblem(422, "invalid-geometry", str(exc), "Invalid geometry",
                         invalid_params=[{"name": "body.geometry", "reason": str(exc)}]) from exc
    if m.empty:
        raise ApiProblem(422, "geometry-matches-nothing",
                         "the geometry matches no road, path or stop of the network "
                         "(is it inside the city? is the coordinate order [lon, lat]?)",
                         "Geometry matches nothing",
                         invalid_params=[{"name": "body.geometry",
                                          "reason": "matches no network element"}])
    return m


def _out(svc, inc: Incident, match: MatchResult | None = None) -> dict[str, Any]:
    doc = inc.to_doc()
    m = match if match is not None else svc.engine.match_incident(inc)
    doc["effective_state"] = effective_state(inc, svc.clock.now()).value
    doc["match"] = m.to_dict() if m is not None else None
    doc["live_version"] = svc.state().version
    return doc


_CREATE_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/IncidentCreate"}}}}}
_PATCH_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/IncidentPatch"}}}}}


def openapi_components() -> dict[str, Any]:
    """JSON schemas of the request bodies read by hand (registered in the OpenAPI)."""
    out: dict[str, Any] = {}
    for model in (IncidentCreate, IncidentPatch):
        js = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, d in js.pop("$defs", {}).items():
            out.setdefault(name, d)
        out[model.__name__] = js
    return out


@router.post("", status_code=201, response_model=IncidentOut,
             responses=responses(401, 403, 409, 413, 415, 422, 500), openapi_extra=_CREATE_BODY)
async def create_incident(request: Request, response: Response,
                          p: Annotated[Principal, Depends(writer)],
                          agency: Annotated[str | None, Query(max_length=100, description=(
                              "Agency for admin keys (traffic centres write their own)"))
                          ] = None) -> dict:
    """Post an incident. It is matched to the network (422 if it matches nothing), stored
    with its history, and in effect for routes before this answer returns."""
    svc = _svc(request)
    raw = await _body(request)
    data = validate_model(IncidentCreate, raw)
    match = _match_or_422(svc, data.geometry, data.direction)
    if p.role == Role.ADMIN and agency is None and p.agency is None:
        raise ApiProblem(422, "invalid-parameter", "admin keys without an agency must name "
                         "one with ?agency=", "Agency required")
    inc = svc.store.create(data, p, agency if p.role == Role.ADMIN else None)
    svc.engine.sync()
    response.headers["ETag"] = _etag(inc)
    response.headers["Location"] = f"/v1/incidents/{inc.id}"
    return _out(svc, inc, match)


@router.get("", response_model=FeatureCollection, responses=responses(422, 500))
def list_incidents(
    request: Request,
    bbox: Annotated[str | None, Query(max_length=120, description="W,S,E,N (degrees)")] = None,
    status: Annotated[list[IncidentStatus] | None, Query(description="Stored status; repeat "
                                                         "for several")] = None,
    at: Annotated[str | None, Query(max_length=64, description=(
        "ISO 8601: incidents in effect at that time, as recorded then"))] = None,
    agency: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict:
    """Incidents as a GeoJSON FeatureCollection, filtered by box, status, time and agency."""
    svc = _svc(request)
    state = svc.state()
    box = _bbox(bbox) if bbox else None
    now = svc.clock.now()
    if at is not None:
        t = parse_time(at, "at", svc.tz, svc.clock)
        now = t
        items = svc.store.active_at(t)
        if box is not None:
            items = [i for i in items if _intersects(i, box)]
        if status:
            items = [i for i in items if i.status in status]
        if agency:
            items = [i for i in items if i.agency == agency]
        items = items[offset: offset + limit]
    else:
        items = svc.store.list_incidents(bbox=box, status=status or None, agency=agency,
                                         limit=limit, offset=offset)
    feats = []
    for inc in items:
        doc = inc.to_doc()
        geom = doc.pop("geometry")
        doc["effective_state"] = effective_state(inc, now).value
        feats.append({"type": "Feature", "id": inc.id, "geometry": geom, "properties": doc})
    return {"type": "FeatureCollection", "features": feats,
            "live_version": state.version}


def _bbox(value: str) -> tuple[float, float, float, float]:
    try:
        w, s, e, n = (float(x) for x in value.split(","))
    except ValueError:
        raise ApiProblem(422, "invalid-parameter", "bbox: expected W,S,E,N as four numbers",
                         "Invalid parameter",
                         invalid_params=[{"name": "query.bbox", "reason": "expected W,S,E,N"}]
                         ) from None
    if not all(math.isfinite(x) for x in (w, s, e, n)) or not (
            -180 <= w <= e <= 180 and -90 <= s <= n <= 90):
        raise ApiProblem(422, "invalid-parameter", "bbox: need -180 ≤ W ≤ E ≤ 180 and "
                         "-90 ≤ S ≤ N ≤ 90", "Invalid parameter",
                         invalid_params=[{"name": "query.bbox", "reason": "out of range"}])
    return w, s, e, n


def _intersects(inc: Incident, box: tuple[float, float, float, float]) -> bool:
    from incidents.model import geometry_bounds

    w, s, e, n = geometry_bounds(inc.geometry)
    return not (e < box[0] or w > box[2] or n < box[1] or s > box[3])


_ID = Path(max_length=40, pattern=r"^INC-\d{1,12}$", description="Incident id, e.g. INC-12")


@router.get("/{incident_id}", response_model=IncidentOut, responses=responses(404, 422, 500))
def get_incident(request: Request, response: Response,
                 incident_id: Annotated[str, _ID]) -> dict:
    """One incident with its ETag."""
    svc = _svc(request)
    inc = svc.store.get(incident_id)
    response.headers["ETag"] = _etag(inc)
    return _out(svc, inc)


@router.patch("/{incident_id}", response_model=IncidentOut,
              responses=responses(401, 403, 404, 409, 412, 413, 415, 422, 428, 500),
              openapi_extra=_PATCH_BODY)
async def patch_incident(request: Request, response: Response,
                         incident_id: Annotated[str, _ID],
                         p: Annotated[Principal, Depends(writer)],
                         if_match: Annotated[str | None, Header(max_length=40)] = None) -> dict:
    """Change some fields (If-Match required: 412 when someone changed it meanwhile)."""
    svc = _svc(request)
    raw = await _body(request)
    changes = validate_model(IncidentPatch, raw)
    version = _if_match(if_match)
    sent = changes.changes()
    if "geometry" in sent or "direction" in sent:
        cur = svc.store.get(incident_id)
        geom = sent.get("geometry", cur.geometry)
        if geom is None:
            raise InvalidIncident.single(("geometry",), "geometry cannot be removed")
        _match_or_422(svc, geom, sent.get("direction", cur.direction))
    inc = svc.store.patch(incident_id, changes, p, version)
    svc.engine.sync()
    response.headers["ETag"] = _etag(inc)
    return _out(svc, inc)


@router.delete("/{incident_id}", status_code=204,
               responses=responses(401, 403, 404, 409, 412, 422, 428, 500))
def delete_incident(request: Request, incident_id: Annotated[str, _ID],
                    p: Annotated[Principal, Depends(writer)],
                    if_match: Annotated[str | None, Header(max_length=40)] = None) -> Response:
    """Remove an incident (its history is kept). If-Match required."""
    svc = _svc(request)
    version = _if_match(if_match, _current_version(svc, incident_id, if_match))
    svc.store.delete(incident_id, p, version)
    svc.engine.sync()
    return Response(status_code=204)


@router.get("/{incident_id}/history", response_model=HistoryOut,
            responses=responses(404, 422, 500))
def incident_history(request: Request, incident_id: Annotated[str, _ID]) -> dict:
    """Every recorded change: who, when, what it was before and after."""
    svc = _svc(request)
    changes = svc.store.history(incident_id)
    return {"incident_id": incident_id, "history": [
        {"seq": c.seq, "version": c.version, "action": c.action, "actor": c.actor,
         "recorded_at": c.recorded_at.isoformat(), "before": c.before, "after": c.after}
        for c in changes]}



class DiversionsOut(BaseModel):
    """Answer of GET /v1/incidents/{id}/diversions."""

    incident_id: str
    diversions: list[dict[str, Any]]
    live_version: int


@router.get("/{incident_id}/diversions", response_model=DiversionsOut,
            responses=responses(404, 422, 500))
def incident_diversions(request: Request, incident_id: Annotated[str, _ID],
                        routes: Annotated[int, Query(ge=1, le=3)] = 2) -> dict:
    """Best detours for through traffic around the incident's stretch: entry and exit
    points, extra time, the streets to sign and a sign text (a variable message sign)."""
    from routing.diversions import diversions

    svc = _svc(request)
    state = svc.state()
    inc = svc.store.get(incident_id)
    match = svc.engine.match_incident(inc)
    car = match.edges.get(Mode.CAR)
    if car is None or len(car) == 0:
        raise ApiProblem(422, "no-road-stretch", f"{incident_id} affects no car road; "
                         "there is nothing to divert around")
    now = svc.clock.now()
    when = max(now, inc.start) if inc.start else now
    out = diversions(svc.road, svc.state_at(state, when), car, n_routes=routes)
    for d in out:
        for r in d["routes"]:
            r["steps"] = [render.step_json(s) for s in r["steps"]]
    return {"incident_id": incident_id, "diversions": out, "live_version": state.version}
