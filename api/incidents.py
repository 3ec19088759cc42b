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
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from api import examples, render
from api.bodies import parse_json, read_body
from api.params import BBOX_FORMAT, TIME_FORMAT
from api.problems import ApiProblem, problem_example, responses
from api.schemas import LineString
from api.service import LiveService
from api.transit import parse_time
from incidents.auth import Principal, Role, authorize_area
from incidents.errors import InvalidIncident
from incidents.geometry import geometry_bounds
from incidents.keys import authenticate
from incidents.matching import GeometryMatchError, MatchResult
from incidents.model import (
    Direction,
    EffectiveState,
    Incident,
    IncidentCreate,
    IncidentPatch,
    IncidentStatus,
    IncidentType,
    Lanes,
    Recurrence,
    RoadEffect,
    Severity,
    TransitEffect,
    effective_state,
    validate_model,
)
from routing.profiles import Mode

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])
bearer = HTTPBearer(auto_error=False, description="API key: `Authorization: Bearer KEY`")
MAX_BODY_BYTES = 1_048_576
_GEOMETRY_DOC = ("GeoJSON geometry: Point, LineString, MultiLineString or Polygon, positions "
                 "[lon, lat] in decimal degrees (WGS 84)")
_TIME_OUT = "ISO 8601 date-time with UTC offset"


class IncidentOut(BaseModel):
    """A stored incident (all model fields), its state now and what its geometry matched."""

    model_config = ConfigDict(extra="allow")
    id: str = Field(description="Server-assigned id INC-<n>")
    version: int = Field(description="Version, 1 at creation and +1 per change; the ETag")
    status: IncidentStatus = Field(description="Stored lifecycle status: scheduled → active → "
                                   "resolved, or cancelled")
    type: IncidentType = Field(description="What happened")
    geometry: dict[str, Any] = Field(description=_GEOMETRY_DOC)
    effective_state: EffectiveState = Field(description=(
        "The incident now: pending (before start), in_effect, outside_window (outside its "
        "recurring window), expired (end passed), resolved or cancelled"))
    match: dict[str, Any] | None = Field(default=None, description=(
        "What the geometry matched on the network: geometry_type, edge_count, edge_counts "
        "per mode, length_m (metres), street_names, way_ids and stops"))
    live_version: int = Field(description="Version of the live state that includes this "
                              "incident's current version")
    agency: str = Field(description="The agency that owns the incident")
    external_id: str | None = Field(default=None, description="The source's own id, unique "
                                    "per agency")
    severity: Severity = Field(description="low, moderate, high or severe")
    start: str = Field(description="In effect from (inclusive): " + _TIME_OUT)
    end: str | None = Field(default=None, description="In effect until (exclusive): "
                            + _TIME_OUT + "; null = open-ended")
    recurrence: Recurrence | None = Field(default=None, description="Weekly window inside "
                                          "start–end when it applies; null = all the time")
    direction: Direction | float = Field(description=(
        "Affected direction relative to the geometry's drawing order (forward, backward, "
        "both), or a compass bearing in degrees (0 ≤ b < 360)"))
    lanes: Lanes | None = Field(default=None, description="Lane counts on the carriageway")
    road_effect: RoadEffect | None = Field(default=None, description="Effect on road "
                                           "traffic")
    transit_effect: TransitEffect | None = Field(default=None, description="Effect on public "
                                                 "transport")
    description: dict[str, str] = Field(description="Text per BCP 47 language tag, e.g. "
                                        "{\"en\": \"…\"}")
    created_by: str = Field(description="Who created it (e.g. key:3f9a61c2d7e4)")
    updated_by: str = Field(description="Who changed it last")
    created_at: str = Field(description="When it was created: " + _TIME_OUT)
    updated_at: str = Field(description="When it was changed last: " + _TIME_OUT)


class Feature(BaseModel):
    """GeoJSON Feature of an incident."""

    type: str = Field(default="Feature", description="GeoJSON object type: Feature")
    id: str = Field(description="Incident id INC-<n>")
    geometry: dict[str, Any] = Field(description=_GEOMETRY_DOC)
    properties: dict[str, Any] = Field(description=(
        "The incident's fields as in IncidentOut (id, agency, type, severity, status, start, "
        "end, recurrence, direction, lanes, road_effect, transit_effect, description, "
        "created_by, updated_by, created_at, updated_at, version) and its effective_state"))


class FeatureCollection(BaseModel):
    """GeoJSON FeatureCollection of incidents."""

    type: str = Field(default="FeatureCollection", description="GeoJSON object type: "
                      "FeatureCollection")
    features: list[Feature] = Field(description="One feature per incident, by id")
    live_version: int = Field(description="Version of the live state when listed")


class HistoryEntry(BaseModel):
    """One recorded change of an incident."""

    seq: int = Field(description="Position in the store's change log (grows by one)")
    version: int | None = Field(description="The incident's version after the change (null "
                                "on delete)")
    action: str = Field(description="create, update, activate, resolve, cancel or delete")
    actor: str = Field(description="Who made the change (e.g. key:3f9a61c2d7e4)")
    recorded_at: str = Field(description="When it was recorded: " + _TIME_OUT)
    before: dict[str, Any] | None = Field(description="The incident before (null on create)")
    after: dict[str, Any] | None = Field(description="The incident after (null on delete)")


class HistoryOut(BaseModel):
    """Answer of GET /v1/incidents/{id}/history."""

    incident_id: str = Field(description="The incident asked for")
    history: list[HistoryEntry] = Field(description="Every change, oldest first")


def _svc(request: Request) -> LiveService:
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
    # the quota guard has looked the key up already (at most api.quotas.KEY_CACHE_S ago)
    p = getattr(request.state, "principal", None)
    if p is None:
        p = authenticate(svc.store, creds.credentials)
    if p is None:
        raise ApiProblem(401, "unauthorized", "the API key is unknown or revoked",
                         "Unauthorized", headers=challenge)
    request.state.principal = p  # the access log and the audit name the key
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


def _current_version(svc: LiveService, incident_id: str, if_match: str | None) -> int | None:
    """The stored version, looked up only for ``If-Match: *`` (404 when missing)."""
    if if_match is not None and if_match.strip() == "*":
        return svc.store.get(incident_id).version
    return None


async def _body(request: Request, max_bytes: int = MAX_BODY_BYTES) -> bytes:
    """The raw JSON body after the safety checks of :mod:`api.bodies` (415, 413, 422 for
    empty, too deep, invalid or out-of-range numbers)."""
    raw = await read_body(request, max_bytes)
    parse_json(raw)
    return raw


def _match_or_422(svc: LiveService, geometry: Any, direction: Any) -> MatchResult:
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


_KEY_ACTOR = re.compile(r"key:[0-9a-f]{12}")
#: What a caller sees instead of the key id of another agency's key.
HIDDEN_ACTOR = "key:hidden"


def viewer(request: Request) -> Principal | None:
    """The caller's key, if it sent a valid one (looked up by the quota guard, else here);
    ``None`` for anonymous callers. Never raises."""
    p = getattr(request.state, "principal", None)
    if p is not None:
        return p
    auth = request.headers.get("authorization", "")
    svc = request.app.state.service
    if auth[:7].lower() != "bearer " or svc.store is None:
        return None
    return authenticate(svc.store, auth[7:].strip())


def sees_key_ids(who: Principal | None, agency: str) -> bool:
    """Whether ``who`` may see the key ids that wrote an incident of ``agency``: admins and
    that agency's own keys; readers, other agencies and anonymous callers may not."""
    return who is not None and (who.role == Role.ADMIN or who.agency == agency)


def hide_key_ids(doc: Any) -> Any:
    """``doc`` with every ``key:<id>`` actor replaced by :data:`HIDDEN_ACTOR`."""
    if isinstance(doc, str):
        return HIDDEN_ACTOR if _KEY_ACTOR.fullmatch(doc) else doc
    if isinstance(doc, dict):
        return {k: hide_key_ids(v) if k in ("created_by", "updated_by", "actor", "before",
                                            "after") else v for k, v in doc.items()}
    return doc


def _out(svc: LiveService, inc: Incident, match: MatchResult | None = None,
         who: Principal | None = None, hide: bool = False) -> dict[str, Any]:
    doc = inc.to_doc()
    if hide and not sees_key_ids(who, inc.agency):
        doc = hide_key_ids(doc)
    m = match if match is not None else svc.engine.match_incident(inc)
    doc["effective_state"] = effective_state(inc, svc.clock.now()).value
    doc["match"] = m.to_dict() if m is not None else None
    doc["live_version"] = svc.state().version
    return doc


_CREATE_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/IncidentCreate"},
    "example": examples.INCIDENT_CREATE}}}}
_PATCH_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/IncidentPatch"},
    "example": {"severity": "severe", "end": "2026-11-24T20:00:00-05:00"}}}}}


def openapi_components() -> dict[str, Any]:
    """JSON schemas of the request bodies read by hand (registered in the OpenAPI)."""
    out: dict[str, Any] = {}
    for model in (IncidentCreate, IncidentPatch):
        js = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, d in js.pop("$defs", {}).items():
            out.setdefault(name, d)
        out[model.__name__] = js
    return out


def _incident_id(value: str) -> str:
    if not re.fullmatch(r"INC-[0-9]{1,12}", value):
        raise PydanticCustomError("incident_id", "incident id must look like INC-12, got "
                                  "{got}", {"got": repr(value[:40])})
    return value


#: The ``{incident_id}`` path parameter, checked by hand (a pattern would answer with its
#: regular expression).
_ID = Path(max_length=40, description="Incident id as assigned by the server: `INC-` and "
           "a number, e.g. INC-12", examples=["INC-12"])
IncidentId = Annotated[str, _ID, AfterValidator(_incident_id)]
_IF_MATCH_DOC = ("The incident's ETag as last read: its version in double quotes, e.g. "
                 "`\"3\"` (`W/\"3\"` and a bare `3` are accepted too). Required: 428 without "
                 "it, 412 when the incident has changed since. ")
#: The ``If-Match`` request header of PATCH (a change needs the version it was made on).
IfMatchPatch = Annotated[str | None, Header(alias="If-Match", max_length=40, description=(
    _IF_MATCH_DOC + "`*` applies the change to whatever version is current (RFC 9110)"),
    examples=['"1"', "*"])]
#: The ``If-Match`` request header of DELETE.
IfMatchDelete = Annotated[str | None, Header(alias="If-Match", max_length=40, description=(
    _IF_MATCH_DOC + "`*` deletes whatever version is current"), examples=['"1"', "*"])]

_AUTH_ERRORS = {
    401: ("No API key, or an unknown or revoked one: send `Authorization: Bearer KEY`",
          problem_example(401, "an API key is required: send 'Authorization: Bearer KEY'",
                          "/v1/incidents")),
    403: ("The key may not change this incident: role `reader`, or a traffic centre of "
          "another agency (traffic_centre keys write their own agency's incidents, admin "
          "keys any)",
          problem_example(403, "role 'reader' may not change incidents; traffic_centre or "
                          "admin is required", "/v1/incidents")),
}
_BODY_ERRORS = {
    413: "The body is larger than 1 MiB",
    415: "The body is not sent as `application/json`",
}
_NOT_ENABLED = "incidents are not enabled on this server"
_ID_422 = ("The incident id does not look like INC-12",
           problem_example(422, "path.incident_id: incident id must look like INC-12, got "
                           "'12'", "/v1/incidents/12", "invalid-request", "Invalid request",
                           invalid_params=[{"name": "path.incident_id", "reason": "incident "
                                            "id must look like INC-12, got '12'"}]))
_ID_404 = ("No incident with this id (or incidents are not enabled on this server)",
           problem_example(404, "incident 'INC-12' does not exist", "/v1/incidents/INC-12"))


@router.post("", status_code=201, response_model=IncidentOut, openapi_extra=_CREATE_BODY,
             summary="Create an incident",
             responses={201: {"description": "Created: the incident, its `ETag` (version) and "
                              "`Location` headers", "content": {"application/json": {
                                  "example": examples.INCIDENT}}},
                        200: {"description": "With `dry_run=true`: the preview (match and "
                              "expected impact); nothing is stored", "content": {
                                  "application/json": {"example": examples.INCIDENT_PREVIEW}}},
                        **responses(_AUTH_ERRORS, _BODY_ERRORS, {
                            404: "Incidents are not enabled on this server",
                            409: ("The agency already has an incident with this external_id",
                                  problem_example(409, "agency 'KYTC' already has incident "
                                                  "INC-12 with external_id 'KYTC-2026-0412'",
                                                  "/v1/incidents")),
                            422: ("The body is not a valid incident (`errors` and "
                                  "`invalid_params` list each field), its geometry matches no "
                                  "road, path or stop, or an admin key names no `agency`",
                                  problem_example(422, "the geometry matches no road, path or "
                                                  "stop of the network (is it inside the "
                                                  "city? is the coordinate order [lon, lat]?)",
                                                  "/v1/incidents", "geometry-matches-nothing",
                                                  "Geometry matches nothing",
                                                  invalid_params=[{"name": "body.geometry",
                                                                   "reason": "matches no "
                                                                   "network element"}]))})})
async def create_incident(request: Request, response: Response,
                          p: Annotated[Principal, Depends(writer)],
                          agency: Annotated[str | None, Query(max_length=100, description=(
                              "Agency that owns the incident, for admin keys without one "
                              "(traffic centres always write their own)"),
                              examples=["KYTC"])] = None,
                          dry_run: Annotated[bool, Query(description=(
                              "Preview only: answer 200 with the match and the expected "
                              "impact (sampled car routes that change and their added delay, "
                              "transit stops and routes affected, suggested diversions) and "
                              "store nothing"), examples=[True])] = False) -> Any:
    """Post an incident. It is matched to the network (422 if it matches nothing), stored
    with its history, and in effect for routes before this answer returns. Needs an API key
    with role `traffic_centre` or `admin`. The answer's `ETag` header is the version to send
    in `If-Match` when changing it; `Location` is its URL."""
    svc = _svc(request)
    raw = await _body(request)

    def create() -> tuple[Incident | None, dict]:
        # validation, matching, the store and the engine's sync (or the preview's what-if
        # routes): off the event loop
        data = validate_model(IncidentCreate, raw)
        authorize_area(p, geometry_bounds(data.geometry))
        match = _match_or_422(svc, data.geometry, data.direction)
        if p.role == Role.ADMIN and agency is None and p.agency is None:
            raise ApiProblem(422, "invalid-parameter", "admin keys without an agency must "
                             "name one with ?agency=", "Agency required")
        if dry_run:
            planner = getattr(request.app.state.service, "planner", None)
            return None, _preview(svc, data, match, p, agency, planner)
        inc = svc.store.create(data, p, agency if p.role == Role.ADMIN else None)
        svc.engine.sync()
        return inc, _out(svc, inc, match)

    inc, doc = await run_in_threadpool(create)
    if inc is None:
        return JSONResponse(doc)
    response.headers["ETag"] = _etag(inc)
    response.headers["Location"] = f"/v1/incidents/{inc.id}"
    return doc


def _preview(svc: LiveService, data: IncidentCreate, match: MatchResult, p: Principal,
             agency: str | None, planner: Any) -> dict[str, Any]:
    """The dry-run answer: the match and the expected impact, nothing stored."""
    from api.preview import PreviewInputs, draft_incident, preview

    now = svc.clock.now()
    owner = (agency if p.role == Role.ADMIN else None) or p.agency or "preview"
    draft = draft_incident(data, owner, p.actor, now)
    when = max(now, draft.start) if draft.start else now
    state = svc.state_at(svc.state(), when)
    names: dict[str, str] = {}
    if planner is not None:
        tt = planner.tt
        for rid, short, long_ in zip(tt.strings["route_id"], tt.strings["route_short_name"],
                                     tt.strings["route_long_name"], strict=True):
            names[rid] = short or long_ or rid
    impact = preview(PreviewInputs(svc.engine, svc.road, svc.publisher, state, names), draft,
                     match)
    return {"dry_run": True, "stored": False, "match": match.to_dict(),
            "impact_at": when.isoformat(), "impact": impact,
            "live_version": svc.state().version}


@router.get("", response_model=FeatureCollection, summary="List incidents (GeoJSON)",
            responses={200: {"content": {"application/json": {"example": examples.INCIDENTS}}},
                       **responses({
                           404: "Incidents are not enabled on this server",
                           422: ("A malformed `bbox` or `at`, an unknown `status`, or "
                                 "`limit`/`offset` out of range",
                                 problem_example(422, "bbox: expected W,S,E,N as four "
                                                 "numbers", "/v1/incidents", invalid_params=[
                                                     {"name": "query.bbox",
                                                      "reason": "expected W,S,E,N"}]))})})
def list_incidents(
    request: Request,
    bbox: Annotated[str | None, Query(max_length=120, description=(
        BBOX_FORMAT + ". Only incidents whose geometry's bounds intersect it"),
        examples=["-84.52,39.07,-84.49,39.10"])] = None,
    status: Annotated[list[IncidentStatus] | None, Query(description=(
        "Stored status (scheduled, active, resolved, cancelled); repeat for several"),
        examples=[["active"]])] = None,
    at: Annotated[str | None, Query(max_length=64, description=(
        "Only incidents in effect at that time, as recorded then. " + TIME_FORMAT),
        examples=["2026-11-24T08:00:00-05:00"])] = None,
    agency: Annotated[str | None, Query(max_length=100, description="Only this agency's "
                                        "incidents", examples=["KYTC"])] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Most incidents to return (a "
                                "page)", examples=[50])] = 200,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="Incidents to skip (the "
                                 "page's start)", examples=[0])] = 0,
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
    who = viewer(request)
    for inc in items:
        doc = inc.to_doc()
        if not sees_key_ids(who, inc.agency):
            doc = hide_key_ids(doc)
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


@router.get("/{incident_id}", response_model=IncidentOut, summary="Get an incident",
            responses={200: {"description": "The incident, with its version in the `ETag` "
                             "header", "content": {"application/json": {
                                 "example": examples.INCIDENT}}},
                       **responses({404: _ID_404, 422: _ID_422})})
def get_incident(request: Request, response: Response, incident_id: IncidentId) -> dict:
    """One incident with its ETag (its version: send it as `If-Match` to change it), its
    effective state now and what its geometry matched on the network."""
    svc = _svc(request)
    inc = svc.store.get(incident_id)
    response.headers["ETag"] = _etag(inc)
    return _out(svc, inc, who=viewer(request), hide=True)


_PRECONDITION_ERRORS = {
    412: ("`If-Match` names another version than the stored one (someone changed the "
          "incident since you read it: read it again), or is not an ETag of this API",
          problem_example(412, "incident 'INC-12' is at version 3, not the expected 2",
                          "/v1/incidents/INC-12", "version-conflict", "Version mismatch",
                          expected_version=2, current_version=3)),
    428: ("No `If-Match` header: send the ETag you read",
          problem_example(428, "send If-Match with the incident's ETag (its version) to "
                          "change it", "/v1/incidents/INC-12")),
}


@router.patch("/{incident_id}", response_model=IncidentOut, openapi_extra=_PATCH_BODY,
              summary="Change an incident",
              responses={200: {"description": "The changed incident, its new version in the "
                               "`ETag` header", "content": {"application/json": {
                                   "example": examples.INCIDENT_PATCHED}}},
                         **responses(_AUTH_ERRORS, _BODY_ERRORS, _PRECONDITION_ERRORS, {
                             404: _ID_404[0],
                             409: ("An illegal status change (resolved and cancelled are "
                                   "final; scheduled → active → resolved), or an external_id "
                                   "another incident of the agency has",
                                   problem_example(409, "incident 'INC-12': status cannot "
                                                   "change from 'resolved' to 'active'",
                                                   "/v1/incidents/INC-12", "conflict",
                                                   "Illegal status transition",
                                                   from_status="resolved",
                                                   to_status="active")),
                             422: ("The incident id does not look like INC-12, the body is not "
                                   "a valid change (`errors` and `invalid_params` list each "
                                   "field), or a new geometry matches nothing"),
                         })})
async def patch_incident(request: Request, response: Response, incident_id: IncidentId,
                         p: Annotated[Principal, Depends(writer)],
                         if_match: IfMatchPatch = None) -> dict:
    """Change some fields (JSON merge patch: only the fields sent change, `null` clears an
    optional one, nested objects are replaced whole). `If-Match` is required: 428 without
    it, 412 when someone changed the incident meanwhile. Status changes follow scheduled →
    active → resolved (or cancelled). The change is in effect for routes before this answer
    returns."""
    svc = _svc(request)
    raw = await _body(request)

    def patch() -> tuple[Incident, dict]:
        # validation, matching, the store and the engine's sync: off the event loop
        changes = validate_model(IncidentPatch, raw)
        version = _if_match(if_match, _current_version(svc, incident_id, if_match))
        sent = changes.changes()
        if "geometry" in sent or "direction" in sent:
            cur = svc.store.get(incident_id)
            geom = sent.get("geometry", cur.geometry)
            if geom is None:
                raise InvalidIncident.single(("geometry",), "geometry cannot be removed")
            authorize_area(p, geometry_bounds(geom))
            _match_or_422(svc, geom, sent.get("direction", cur.direction))
        inc = svc.store.patch(incident_id, changes, p, version)
        svc.engine.sync()
        return inc, _out(svc, inc)

    inc, doc = await run_in_threadpool(patch)
    response.headers["ETag"] = _etag(inc)
    return doc


@router.delete("/{incident_id}", status_code=204, summary="Delete an incident",
               responses={204: {"description": "Deleted; the routers no longer see it"},
                          **responses(_AUTH_ERRORS, _PRECONDITION_ERRORS,
                                      {404: _ID_404, 422: _ID_422})})
def delete_incident(request: Request, incident_id: IncidentId,
                    p: Annotated[Principal, Depends(writer)],
                    if_match: IfMatchDelete = None) -> Response:
    """Remove an incident (its history is kept). `If-Match` is required (`*` deletes
    whatever version is current)."""
    svc = _svc(request)
    version = _if_match(if_match, _current_version(svc, incident_id, if_match))
    svc.store.delete(incident_id, p, version)
    svc.engine.sync()
    return Response(status_code=204)


@router.get("/{incident_id}/history", response_model=HistoryOut,
            summary="History of an incident",
            responses={200: {"content": {"application/json": {"example": examples.HISTORY}}},
                       **responses({404: _ID_404, 422: _ID_422})})
def incident_history(request: Request, incident_id: IncidentId) -> dict:
    """Every recorded change: who, when, what it was before and after."""
    svc = _svc(request)
    changes = svc.store.history(incident_id)
    out = [{"seq": c.seq, "version": c.version, "action": c.action, "actor": c.actor,
            "recorded_at": c.recorded_at.isoformat(), "before": c.before, "after": c.after}
           for c in changes]
    agency = next((d["agency"] for c in changes for d in (c.after, c.before)
                   if isinstance(d, dict) and d.get("agency")), "")
    if changes and not sees_key_ids(viewer(request), agency):
        out = [hide_key_ids(c) for c in out]
    return {"incident_id": incident_id, "history": out}


class LatLon(BaseModel):
    """A point as latitude and longitude."""

    lat: float = Field(description="Latitude in decimal degrees")
    lon: float = Field(description="Longitude in decimal degrees")


class DiversionRoute(BaseModel):
    """A detour from the diversion point to the rejoin point."""

    duration_s: float = Field(description="Travel time of the detour in seconds")
    distance_m: float = Field(description="Length of the detour in metres")
    extra_s: float = Field(description="Seconds more than the fastest way between the same "
                           "diversion and rejoin points without this closure")
    streets_to_sign: list[str] = Field(description="Streets of the detour to sign, in order "
                                       "(closed streets left out)")
    geometry: LineString = Field(description="The detour's line, [lon, lat] positions")
    steps: Annotated[list[dict[str, Any]], WithJsonSchema({
        "type": "array", "items": {"$ref": "#/components/schemas/StepOut"}})] = Field(
        description="Turn-by-turn instructions (as in /v1/route; keys without a value are "
        "left out)")


class Diversion(BaseModel):
    """Detours around one closed stretch (a chain of closed car edges)."""

    entry: LatLon = Field(description="Where the closed stretch starts")
    exit: LatLon = Field(description="Where the closed stretch ends")
    diversion_point: LatLon = Field(description="Where through traffic leaves the road")
    rejoin_point: LatLon = Field(description="Where the detour rejoins the road")
    closed_length_m: float = Field(description="Length of the closed stretch in metres")
    closed_streets: list[str] = Field(description="Names of the closed streets")
    closed_free_flow_s: float = Field(description="Seconds the stretch takes at free flow")
    routes: list[DiversionRoute] = Field(description="Detours, best first (`routes` of them)")
    diversion_needed: bool = Field(description="False when traffic can turn round without a "
                                   "detour (the roads before and after meet)")
    sign_text: str = Field(description="Text for a variable message sign")


class DiversionsOut(BaseModel):
    """Answer of GET /v1/incidents/{id}/diversions."""

    incident_id: str = Field(description="The incident asked for")
    diversions: list[Diversion] = Field(description="One per closed stretch, longest first")
    live_version: int = Field(description="Version of the live state the detours use")


@router.get("/{incident_id}/diversions", response_model=DiversionsOut,
            summary="Diversions around an incident",
            responses={200: {"content": {"application/json": {
                "example": examples.DIVERSIONS}}},
                       **responses({404: _ID_404, 422: (
                           "The incident id does not look like INC-12, `routes` is out of "
                           "range, or the incident affects no car road",
                           problem_example(422, "INC-12 affects no car road; there is nothing "
                                           "to divert around", "/v1/incidents/INC-12/"
                                           "diversions", "no-road-stretch", "No road stretch"))})})
def incident_diversions(request: Request, incident_id: IncidentId,
                        routes: Annotated[int, Query(ge=1, le=3, description="Most detours "
                                                     "per closed stretch", examples=[2])] = 2
                        ) -> dict:
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
