"""Traffic-centre standards over HTTP: WZDx and DATEX II imported
(``POST /v1/incidents/import``) and citynav's road incidents published as open feeds
(``GET /v1/feeds/wzdx``, ``GET /v1/feeds/datex2``).

The feeds carry their metadata (publisher, licence, update time; WZDx in ``feed_info``,
DATEX II in ``publicationTime``/``publicationCreator``) and answer conditional requests:
``ETag`` (a hash of the body) with ``If-None-Match``, ``Last-Modified`` (the last change of
the store's incidents, or the end of an incident that has since expired) with
``If-Modified-Since``, both giving 304 without a body. The licence is also given as
``Link: <URL>; rel="license"``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api import examples
from api.feeds import _matches
from api.incidents import _AUTH_ERRORS, _svc, writer
from api.problems import ApiProblem, ProblemMeaning, problem_example, responses
from api.service import LiveService
from api.settings import Settings
from incidents.adapters.common import MAX_DOCUMENT_BYTES
from incidents.adapters.datex2 import situation_publication
from incidents.adapters.wzdx import wzdx_feed
from incidents.auth import Principal, Role
from incidents.imports import apply_document, parse_document
from incidents.model import Incident, IncidentStatus
from incidents.store import MAX_PAGE

import_router = APIRouter(prefix="/v1/incidents", tags=["incidents"])
feeds_router = APIRouter(prefix="/v1/feeds", tags=["open data"])
CACHE_CONTROL = "no-cache"


# ---------------------------------------------------------------------------------------------
# Import
# ---------------------------------------------------------------------------------------------
class RecordOut(BaseModel):
    """What the import did with one record."""

    external_id: str = Field(description="The standard's id with its prefix: `wzdx:<feature "
                             "id>` or `datex2:<situation record id>`")
    outcome: Literal["created", "updated", "unchanged", "ended", "unlocatable",
                     "unmatched_geometry", "unsupported", "invalid"] = Field(
        description="created, updated (a newer version with other content), unchanged "
        "(same or older version, or same content), ended (the source ended it or it "
        "disappeared), unlocatable (no usable location, e.g. an ALERT-C table not loaded), "
        "unmatched_geometry (matches no road of the network), unsupported (a record type "
        "citynav does not import) or invalid")
    reason: str | None = Field(description="Why (for every outcome but created)")
    incident_id: str | None = Field(description="The incident it maps to, if any")
    source_version: str | None = Field(description="The standard's version of the record "
                                       "(DATEX II version, WZDx update_date)")
    record_type: str = Field(description="WZDx event_type or DATEX II record class")


class ImportOut(BaseModel):
    """Answer of POST /v1/incidents/import: a report per record."""

    standard: Literal["wzdx", "datex2"] = Field(description="The document's standard")
    standard_version: str = Field(description="Its version (WZDx 4.x, DATEX II 2 or 3)")
    agency: str = Field(description="The agency the incidents belong to")
    source: str = Field(description="The source name records are remembered under")
    publisher: str | None = Field(description="The document's publisher")
    published_at: str | None = Field(description="The document's publication time")
    counts: dict[str, int] = Field(description="Records per outcome")
    records: list[RecordOut] = Field(description="One entry per record, in document order, "
                                     "then records ended because they disappeared")
    live_version: int = Field(description="Live-state version that includes the import")


_WZDX_IN = {
    "feed_info": {"update_date": "2026-11-24T13:00:00Z", "publisher": "KYTC", "version": "4.2",
                  "data_sources": [{"data_source_id": "1", "organization_name": "KYTC"}]},
    "type": "FeatureCollection",
    "features": [{
        "id": "wz-7", "type": "Feature",
        "properties": {
            "core_details": {"data_source_id": "1", "event_type": "work-zone",
                             "road_names": ["East 7th Street"], "direction": "eastbound",
                             "description": "Right lane closed",
                             "update_date": "2026-11-24T12:55:00Z"},
            "start_date": "2026-11-24T13:00:00Z", "end_date": "2026-11-28T22:00:00Z",
            "is_start_date_verified": True, "is_end_date_verified": False,
            "is_start_position_verified": False, "is_end_position_verified": False,
            "location_method": "channel-device-method", "vehicle_impact": "some-lanes-closed",
            "reduced_speed_limit_kph": 40,
            "lanes": [{"order": 1, "status": "open", "type": "general"},
                      {"order": 2, "status": "closed", "type": "general"}]},
        "geometry": {"type": "LineString", "coordinates": [[-84.503542, 39.08821],
                                                           [-84.502358, 39.08847]]}}]}
_DATEX_IN = (
    '<d2:payload xmlns:d2="http://datex2.eu/schema/3/d2Payload" '
    'xmlns:sit="http://datex2.eu/schema/3/situation" '
    'xmlns:com="http://datex2.eu/schema/3/common" '
    'xmlns:loc="http://datex2.eu/schema/3/locationReferencing" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:type="sit:SituationPublication" lang="en">'
    '<com:publicationTime>2026-11-24T13:00:00Z</com:publicationTime>'
    '<sit:situation id="S1"><sit:situationRecord xsi:type="sit:Accident" id="R1" version="1">'
    '<sit:severity>high</sit:severity><sit:validity><com:validityTimeSpecification>'
    '<com:overallStartTime>2026-11-24T12:50:00Z</com:overallStartTime>'
    '</com:validityTimeSpecification></sit:validity>'
    '<sit:locationReference xsi:type="loc:PointLocation"><loc:pointByCoordinates>'
    '<loc:pointCoordinates><loc:latitude>39.08821</loc:latitude>'
    '<loc:longitude>-84.503542</loc:longitude></loc:pointCoordinates>'
    '</loc:pointByCoordinates></sit:locationReference></sit:situationRecord></sit:situation>'
    '</d2:payload>')
_IMPORT_BODY = {"requestBody": {"required": True, "content": {
    "application/geo+json": {"schema": {"type": "object", "description": "A WZDx 4.x "
                                        "WorkZoneFeed (GeoJSON FeatureCollection)"},
                             "example": _WZDX_IN},
    "application/json": {"schema": {"type": "object", "description": "The same, as JSON"},
                         "example": _WZDX_IN},
    "application/xml": {"schema": {"type": "string", "description": "A DATEX II 2.x "
                                   "d2LogicalModel or 3.x d2Payload SituationPublication"},
                        "example": _DATEX_IN}}}}
_IMPORT_ERRORS: dict[int, ProblemMeaning] = {
    **_AUTH_ERRORS,
    413: "The document is larger than 16 MiB or has more than 20,000 records",
    415: "The body is neither JSON (WZDx) nor XML (DATEX II)",
    422: ("The document as a whole was refused, nothing stored: not a WZDx 4.x feed, not "
          "DATEX II (a wrong namespace), malformed, or hostile XML (a DOCTYPE, entities or "
          "external references); or an admin key did not name `agency`",
          problem_example(422, "not DATEX II: the root element 'd2LogicalModel' in namespace "
                          "'http://example.org/other'; expected …", "/v1/incidents/import",
                          "wrong-namespace", "Document refused")),
}


def _format_of(ctype: str, fmt: str | None) -> str | None:
    if fmt is not None:
        return fmt
    if not ctype:
        return None
    if ctype in ("application/json", "application/geo+json") or ctype.endswith("+json"):
        return "wzdx"
    if ctype in ("application/xml", "text/xml") or ctype.endswith("+xml"):
        return "datex2"
    raise ApiProblem(415, "unsupported-media-type", f"send WZDx as application/geo+json or "
                     f"application/json, DATEX II as application/xml, not {ctype!r}",
                     "Unsupported media type")


async def _document(request: Request) -> bytes:
    size = request.headers.get("content-length")
    too_big = ApiProblem(413, "payload-too-large", f"the document is larger than "
                         f"{MAX_DOCUMENT_BYTES} bytes", "Payload too large")
    if size is not None and size.isdigit() and int(size) > MAX_DOCUMENT_BYTES:
        raise too_big
    chunks, n = [], 0
    async for chunk in request.stream():
        n += len(chunk)
        if n > MAX_DOCUMENT_BYTES:
            raise too_big
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body.strip():
        raise ApiProblem(422, "document-refused", "the request body is empty; send a WZDx "
                         "feed or a DATEX II publication", "Document refused")
    return body


@import_router.post("/import", response_model=ImportOut, openapi_extra=_IMPORT_BODY,
                    summary="Import WZDx or DATEX II",
                    responses={200: {"content": {"application/json": {
                        "example": examples.IMPORT_REPORT}}}, **responses(_IMPORT_ERRORS)})
async def import_incidents(
    request: Request,
    p: Annotated[Principal, Depends(writer)],
    agency: Annotated[str | None, Query(max_length=64, description=(
        "The agency the incidents belong to: a traffic_centre key's own (the default), any "
        "for an admin key (required then)"), examples=["KYTC"])] = None,
    fmt: Annotated[Literal["wzdx", "datex2"] | None, Query(alias="format", description=(
        "wzdx or datex2; default: from Content-Type (JSON: wzdx, XML: datex2)"),
        examples=["wzdx"])] = None,
    source: Annotated[str, Query(min_length=1, max_length=100, pattern=r"^[\w.:/-]+$",
                                 description="Name the records are remembered under (for "
                                 "`complete`)", examples=["push"])] = "push",
    complete: Annotated[bool, Query(description=(
        "The document is the source's whole current set: records imported earlier from "
        "the same `source` and missing now are ended"), examples=[False])] = False,
) -> dict[str, Any]:
    """Import a WZDx 4.x WorkZoneFeed (`application/geo+json` or `application/json`) or a
    DATEX II 2.x/3.x SituationPublication (`application/xml`). Valid records are applied and
    every record is reported (created, updated, unchanged, ended, unlocatable,
    unmatched_geometry, unsupported, invalid — with the reason). The standard's ids are the
    incidents' `external_id`s, so importing the same document again changes nothing and a
    newer version updates (a history row). A document that is not readable as a whole
    (wrong namespace, hostile or malformed XML) is refused with nothing stored. Same keys
    as creating incidents."""
    svc = _svc(request)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    kind = _format_of(ctype, fmt)
    if p.role == Role.ADMIN and agency is None:
        agency = p.agency
        if agency is None:
            raise ApiProblem(422, "invalid-parameter", "admin keys without an agency must "
                             "name one with ?agency=", "Agency required")
    who = agency if agency is not None else p.agency
    assert who is not None  # a traffic_centre key always has its agency
    body = await _document(request)
    tables = getattr(svc, "location_tables", None)

    def run() -> dict[str, Any]:
        doc = parse_document(body, kind, tables, svc.tz)
        report = apply_document(svc.store, doc, agency=who, actor=p, match=svc.engine.match,
                                source=source, complete=complete)
        state = svc.engine.sync()
        out = report.to_dict()
        out["live_version"] = state.version
        return out

    return await run_in_threadpool(run)


class SubscriptionStatus(BaseModel):
    """One subscribed WZDx / DATEX II feed as this process last polled it."""

    source: str = Field(description="The subscription's source name (`subscription:NAME`)")
    agency: str = Field(description="The agency its incidents belong to")
    format: Literal["wzdx", "datex2"] = Field(description="The feed's standard")
    interval_s: float = Field(description="Polling interval in seconds")
    last_checked_at: str | None = Field(description="When this process last polled it "
                                        "(ISO 8601; null before the first poll or when "
                                        "another replica holds the poller lease)")
    last_outcome: str | None = Field(description="imported, not_modified, unchanged (file), "
                                     "refused: … or error: …")
    last_counts: dict[str, int] | None = Field(description="Records per outcome of the last "
                                               "import")
    consecutive_failures: int = Field(description="Failed fetches in a row (backoff grows "
                                      "with them)")
    etag: str | None = Field(description="The feed's last ETag (sent as If-None-Match)")


class SubscriptionsOut(BaseModel):
    """Answer of GET /v1/incidents/import/subscriptions."""

    polling: bool = Field(description="True when this process holds the poller lease (one "
                          "process of a deployment polls)")
    subscriptions: list[SubscriptionStatus] = Field(description="One per `[[imports]]` "
                                                    "entry of the settings file")


@import_router.get("/import/subscriptions", response_model=SubscriptionsOut,
                   summary="Subscribed WZDx / DATEX II feeds",
                   responses={200: {"content": {"application/json": {
                       "example": examples.IMPORT_SUBSCRIPTIONS}}},
                       **responses({404: "Incidents are not enabled on this server"})})
def import_subscriptions(request: Request) -> dict[str, Any]:
    """The subscribed feeds (`[[imports]]` of the settings file) and how this process last
    polled them: time, outcome, counts per outcome, failures, ETag."""
    svc = _svc(request)
    poller = getattr(svc, "import_poller", None)
    if poller is None:
        return {"polling": False, "subscriptions": []}
    return {"polling": poller.leader, "subscriptions": poller.status()}


# ---------------------------------------------------------------------------------------------
# Open feeds
# ---------------------------------------------------------------------------------------------
def open_incidents(svc: LiveService, now: datetime) -> tuple[list[Incident], datetime | None]:
    """Incidents not ended (scheduled or active, ``end`` not passed), oldest first, and the
    latest ``end`` among those left out because it passed."""
    found: list[Incident] = []
    offset = 0
    while True:
        page = svc.store.list_incidents(status=[IncidentStatus.SCHEDULED,
                                                IncidentStatus.ACTIVE],
                                        limit=MAX_PAGE, offset=offset)
        found.extend(page)
        if len(page) < MAX_PAGE:
            break
        offset += MAX_PAGE
    passed = [i.end for i in found if i.end is not None and i.end <= now]
    return ([i for i in found if i.end is None or i.end > now],
            max(passed) if passed else None)


def last_modified(svc: LiveService, expired_at: datetime | None) -> datetime:
    """When the incident feeds last changed: the store's last change or the latest end
    of an incident that has since expired (whole seconds, UTC)."""
    seq = svc.store.last_seq()
    times = [t for t in (expired_at,) if t is not None]
    if seq > 0:
        times += [c.recorded_at for c in svc.store.changes_since(seq - 1, 1)]
    if not times:
        built = parse_built(svc.snapshot.meta.get("created_at"))
        times.append(built or datetime(2000, 1, 1, tzinfo=UTC))
    return max(times).astimezone(UTC).replace(microsecond=0)


def parse_built(value: Any) -> datetime | None:
    """The snapshot's build time, if recorded with an offset."""
    if not isinstance(value, str):
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo is not None else None


def validators(request: Request, body: bytes, modified: datetime | None, license_url: str
               ) -> tuple[dict[str, str], bool]:
    """The feed's headers (``ETag``, ``Last-Modified``, ``Cache-Control``, licence ``Link``)
    and whether to answer 304: ``If-None-Match`` names the ETag or (without
    ``If-None-Match``) ``If-Modified-Since`` is not before ``modified``."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL,
               "Link": f'<{license_url}>; rel="license"'}
    if modified is not None:
        headers["Last-Modified"] = format_datetime(modified.astimezone(UTC), usegmt=True)
    inm = request.headers.get("if-none-match")
    ims = request.headers.get("if-modified-since")
    if inm is not None:
        return headers, _matches(inm, etag)
    if ims is not None and modified is not None:
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return headers, False
        return headers, since.tzinfo is not None and modified <= since
    return headers, False


def conditional(request: Request, body: bytes, media_type: str, modified: datetime | None,
                license_url: str) -> Response:
    """The feed answer: 200 with the body and its validators, or 304 without a body."""
    headers, not_modified = validators(request, body, modified, license_url)
    if not_modified:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


FEED_HEADERS = {
    "ETag": {"description": "Strong validator of the body: send it back in `If-None-Match`",
             "schema": {"type": "string"}},
    "Last-Modified": {"description": "When the incidents last changed: send it back in "
                                     "`If-Modified-Since`", "schema": {"type": "string"}},
    "Link": {"description": "The data licence: `<URL>; rel=\"license\"`",
             "schema": {"type": "string"}},
    "Cache-Control": {"description": "`no-cache`: store, but revalidate before each use",
                      "schema": {"type": "string"}}}
IfNoneMatch = Annotated[str | None, Header(max_length=1000, description=(
    "ETag(s) of a copy you hold: 304 without a body while the feed has that content"),
    examples=['"3f1c0a9be41d27c85a0d6e4f92b7c013"'])]
IfModifiedSince = Annotated[str | None, Header(max_length=100, description=(
    "HTTP date of a copy you hold (ignored when If-None-Match is sent): 304 while the "
    "content has not changed since"), examples=["Tue, 24 Nov 2026 13:05:00 GMT"])]


def _feed_responses(what: str, media: str, example: Any) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": what, "headers": FEED_HEADERS,
                  "content": {media: {"example": example}}},
            304: {"description": "Not modified", "headers": FEED_HEADERS},
            **responses({404: "Incidents are not enabled on this server",
                         422: "A header is longer than allowed"})}


_WZDX_EXAMPLE = {"feed_info": {"publisher": "citynav", "version": "4.2",
                               "license": "https://creativecommons.org/publicdomain/zero/1.0/",
                               "update_date": "2026-11-24T13:05:00Z",
                               "data_sources": [{"data_source_id": "citynav",
                                                 "organization_name": "citynav"}]},
                 "type": "FeatureCollection", "features": []}


@feeds_router.get("/wzdx", response_class=Response, summary="WZDx 4.2 feed (open data)",
                  responses=_feed_responses("A WZDx 4.2 WorkZoneFeed (`application/geo+json`)",
                                            "application/geo+json", _WZDX_EXAMPLE))
def wzdx(request: Request, if_none_match: IfNoneMatch = None,
         if_modified_since: IfModifiedSince = None) -> Response:
    """citynav's road incidents that have not ended, as a WZDx 4.2 WorkZoneFeed: one
    `work-zone` road event per incident (each line of a MultiLineString its own event
    `INC-n/k`; a Point as a one-point MultiPoint; Polygons are left out), with dates,
    direction, lanes, vehicle impact, reduced speed and the matched road names. What WZDx
    cannot carry (type, severity, vehicle classes, delay) is in `properties.citynav`. An
    open-ended incident gets an unverified `end_date` 24 h ahead (WZDx requires one).
    Licence CC0 1.0 (road names © OpenStreetMap contributors, ODbL)."""
    svc = _svc(request)
    settings = Settings()
    now = svc.clock.now()
    items, expired = open_incidents(svc, now)
    modified = last_modified(svc, expired)

    def names(inc: Incident) -> list[str]:
        return [n for n in svc.engine.match_incident(inc).street_names if n][:5]

    doc = wzdx_feed(items, modified, publisher=settings.feed_publisher,
                    contact_email=settings.feed_contact_email, road_names=names)
    body = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return conditional(request, body, "application/geo+json", modified,
                       "https://creativecommons.org/publicdomain/zero/1.0/")


@feeds_router.get("/datex2", response_class=Response,
                  summary="DATEX II 3 SituationPublication (open data)",
                  responses=_feed_responses("A DATEX II 3 SituationPublication "
                                            "(`application/xml`)", "application/xml",
                                            "<d2:payload …>"))
def datex2(request: Request, if_none_match: IfNoneMatch = None,
           if_modified_since: IfModifiedSince = None) -> Response:
    """citynav's incidents that have not ended, as a DATEX II 3 SituationPublication
    (`d2:payload`, namespaces `http://datex2.eu/schema/3/…`): one situation with one record
    per incident (class by type: Accident, MaintenanceWorks,
    RoadOrCarriagewayOrLaneManagement, AbnormalTraffic, PublicEvent, GeneralObstruction,
    PoorEnvironmentConditions, TransitInformation), severity, validity, comments per
    language and the location as a GML line (`lat lon` pairs) or a point by coordinates.
    Publisher in `publicationCreator`, licence in the `Link` header."""
    svc = _svc(request)
    settings = Settings()
    now = svc.clock.now()
    items, expired = open_incidents(svc, now)
    modified = last_modified(svc, expired)
    body = situation_publication(items, modified, publisher=settings.feed_publisher,
                                 country=settings.feed_country)
    return conditional(request, body, "application/xml", modified, settings.feed_license)


__all__ = ["feeds_router", "import_router"]
