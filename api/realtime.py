"""GTFS-Realtime endpoints: agencies push feed messages, everyone reads each feed's status."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api import examples
from api.incidents import principal
from api.problems import ApiProblem, ProblemMeaning, problem_example, responses
from api.service import Service
from gtfs.realtime.decode import MAX_BYTES, FeedRejected
from incidents.auth import Principal, can_push_feed
from incidents.realtime import UnknownFeed

router = APIRouter(prefix="/v1", tags=["realtime"])

Kind = Literal["trip_updates", "alerts", "vehicle_positions"]
_PROTOBUF_TYPES = ("application/x-protobuf", "application/protobuf", "application/octet-stream",
                   "application/vnd.google.protobuf", "")
_KIND_DOC = ("trip_updates, alerts or vehicle_positions (default: told from the message's "
             "entities, which must then all be of one kind)")


class PushOut(BaseModel):
    """What became of a pushed GTFS-Realtime message."""

    feed_id: str = Field(description="The static feed the message is for")
    kind: Kind = Field(description="The message's kind")
    header_at: str | None = Field(description="The header's timestamp (ISO 8601, UTC)")
    full_dataset: bool = Field(description="True for FULL_DATASET (replaces everything this "
                               "feed's kind said before), false for DIFFERENTIAL")
    entities: int = Field(description="Entities in the message")
    applied: dict[str, Any] = Field(description="What applying it did: entities applied and "
                                    "ignored per reason (e.g. trip updates applied, cancelled, "
                                    "ignored by reason; alerts held; vehicles matched)")
    live_version: int = Field(description="Version of the routing state that includes it")
    realtime_version: int = Field(description="Version of the realtime data that includes "
                                  "it (grows with every applied message)")


class PollingOut(BaseModel):
    """The polling of a configured source (only from the process that polls it)."""

    source: str = Field(description="url:… or file:…")
    interval_s: float = Field(description="Seconds between polls (more after failures)")
    last_checked_at: str | None = Field(description="When it was last fetched (ISO 8601)")
    last_outcome: str | None = Field(description="applied, not_modified, unchanged, "
                                     "rejected: reason, or error: detail")
    consecutive_failures: int = Field(description="Failed fetches in a row (backoff)")
    next_in_s: float = Field(description="Seconds until the next poll")
    etag: str | None = Field(description="The ETag sent back as If-None-Match")


class FeedStatusOut(BaseModel):
    """What is known of one feed and kind."""

    feed_id: str = Field(description="A static feed of the snapshot")
    kind: Literal["trip_updates", "alerts", "vehicle_positions", "unknown"] | None = Field(
        description="Message kind (unknown: refused messages whose kind could not be told; "
                    "null: no message seen yet)")
    source: str | None = Field(description="Where the last good message came from: "
                               "url:…, file:… or push:<key id>")
    last_good_at: str | None = Field(description="When the last good message arrived "
                                     "(ISO 8601, UTC)")
    header_at: str | None = Field(description="That message's header time (ISO 8601, UTC)")
    age_s: float | None = Field(description="Seconds from the header time to now")
    messages_applied: int = Field(description="Good messages applied since start-up (and "
                                  "replayed from the store)")
    full_dataset: bool | None = Field(description="Whether the last good message was a "
                                      "FULL_DATASET")
    entities: int = Field(description="Entities in the last good message")
    last_applied: dict[str, Any] | None = Field(description="What the last good message "
                                                "applied and ignored, per reason")
    rejected: dict[str, int] = Field(description="Refused messages per reason (stale, "
                                     "future, malformed, wrong_feed, empty_full_dataset, "
                                     "fetch_failed, …)")
    last_error: dict[str, Any] | None = Field(description="The last refusal: reason, detail, "
                                              "at, source")
    polling: PollingOut | None = Field(description="Polling of a configured source (from "
                                       "the process that polls)")


class RealtimeStatusOut(BaseModel):
    """Answer of GET /v1/realtime/status."""

    now: str = Field(description="The server's clock (ISO 8601, UTC)")
    feeds: list[FeedStatusOut] = Field(description="Every static feed, per message kind seen")


_PUSH_ERRORS: dict[int, ProblemMeaning] = {
    401: "No API key, or an unknown or revoked one: send `Authorization: Bearer KEY`",
    403: ("The key may not push this feed: a transit_agency key scoped to this feed, or an "
          "admin key, is required",
          problem_example(403, "key 3f9a61c2d7e4 (transit_agency of CALTRAIN) may not push "
                          "feed BART", "/v1/realtime/BART")),
    404: ("No such feed in this snapshot (feed ids are the static feeds, the FEED of FEED:ID "
          "stop ids), or realtime is not enabled on this server",
          problem_example(404, "'MUNI' is not a feed of this snapshot (feeds: BART)",
                          "/v1/realtime/MUNI", "unknown-feed", "Unknown feed")),
    413: f"The message is larger than {MAX_BYTES // 1_048_576} MiB",
    415: "Not application/x-protobuf (or octet-stream) nor application/json",
    422: ("The message was refused as a whole and nothing changed: `reason` is one of empty, "
          "malformed, missing_header, unsupported_version, missing_timestamp, stale, future, "
          "too_many_entities, wrong_feed (most trip ids unknown), mixed_kinds, wrong_kind, "
          "empty_full_dataset (would wipe the feed's data)",
          problem_example(422, "header time 1565208000 is 1858 s before now (1565209858), at "
                          "most 600 s allowed", "/v1/realtime/BART", "feed-rejected",
                          "Feed rejected",
                          invalid_params=[{"name": "body", "reason": "stale"}])),
}


def _svc(request: Request) -> Service:
    svc: Service = request.app.state.service
    if svc.engine is None or svc.engine.realtime is None:
        raise ApiProblem(404, "no-realtime", "GTFS-Realtime is not enabled on this server (it "
                         "needs a timetable and an incident store)", "No realtime")
    return svc


@router.post(
    "/realtime/{feed_id}", response_model=PushOut, summary="Push a GTFS-Realtime message",
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/x-protobuf": {"schema": {"type": "string", "format": "binary",
                                              "description": "A GTFS-Realtime FeedMessage"},
                                   "example": "<FeedMessage protobuf bytes>"},
        "application/json": {"schema": {"type": "object", "description": "The FeedMessage "
                                         "in the bindings' JSON form (json_format)",
                                         "additionalProperties": True},
                             "example": examples.GTFS_RT_JSON}}}},
    responses={200: {"description": "Applied: routes and departures reflect it on return",
                     "content": {"application/json": {"example": examples.REALTIME_PUSH}}},
               **responses(_PUSH_ERRORS)})
async def push(request: Request,
               feed_id: Annotated[str, Path(description="A static feed of the snapshot (the "
                                            "FEED of FEED:ID stop ids; see GET "
                                            "/v1/realtime/status)", examples=["BART"])],
               p: Annotated[Principal, Depends(principal)],
               kind: Annotated[Kind | None, Query(description="The message's kind: "
                                                  + _KIND_DOC,
                                                  examples=["trip_updates"])] = None,
               ) -> dict[str, Any]:
    """Push one GTFS-Realtime FeedMessage (TripUpdates, ServiceAlerts or VehiclePositions) of
    static feed `feed_id`, as protobuf (`application/x-protobuf`) or in the bindings' JSON
    form (`application/json`). Needs a **transit_agency** key scoped to this feed or an admin
    key. The message is checked as a whole (decodable, fresh header, mostly known trips, not
    an empty FULL_DATASET over existing data…) and refused with 422 and a `reason` when it
    fails — nothing changes then; otherwise it is logged for every server process and applied
    before the answer, item by item (entities that do not match are counted, not fatal)."""
    svc = _svc(request)
    engine = svc.engine
    assert engine is not None and engine.realtime is not None
    try:
        engine.realtime.feed(feed_id)
    except UnknownFeed as exc:
        raise ApiProblem(404, "unknown-feed", str(exc.args[0]), "Unknown feed") from None
    if not can_push_feed(p, feed_id):
        raise ApiProblem(403, "forbidden", f"key {p.key_id} ({p.role.value}"
                         + (f" of {p.agency}" if p.agency else "") + f") may not push feed "
                         f"{feed_id}; a transit_agency key of {feed_id} or an admin key is "
                         "required", "Forbidden")
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json" or ctype.endswith("+json"):
        fmt: Literal["protobuf", "json"] = "json"
    elif ctype in _PROTOBUF_TYPES:
        fmt = "protobuf"
    else:
        raise ApiProblem(415, "unsupported-media-type", f"send application/x-protobuf or "
                         f"application/json, not {ctype!r}", "Unsupported media type")
    body = await _read(request)
    try:
        checked, state = await run_in_threadpool(engine.ingest_realtime, feed_id, body, fmt,
                                                 f"push:{p.key_id}", kind)
    except FeedRejected as exc:
        raise _rejected(exc, feed_id) from None
    st = next((s for s in engine.realtime.status(svc.clock.now())
               if s["feed_id"] == feed_id and s["kind"] == checked.kind), None)
    header = checked.header_at
    return {"feed_id": feed_id, "kind": checked.kind,
            "header_at": header.isoformat().replace("+00:00", "Z") if header else None,
            "full_dataset": checked.decoded.is_full_dataset,
            "entities": checked.decoded.n_entities,
            "applied": (st or {}).get("last_applied") or {},
            "live_version": state.version, "realtime_version": state.live.realtime_version}


async def _read(request: Request) -> bytes:
    size = request.headers.get("content-length")
    if size is not None and size.isdigit() and int(size) > MAX_BYTES:
        raise ApiProblem(413, "payload-too-large", f"the message is larger than {MAX_BYTES} "
                         "bytes", "Payload too large")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BYTES:
            raise ApiProblem(413, "payload-too-large", f"the message is larger than "
                             f"{MAX_BYTES} bytes", "Payload too large")
    return body


def _rejected(exc: FeedRejected, feed_id: str) -> ApiProblem:
    """The 422 of a refused message of ``feed_id`` (the reason also in ``invalid_params``)."""
    return ApiProblem(422, "feed-rejected", f"{feed_id}: {exc.reason}: {exc.detail}"
                      if exc.detail else f"{feed_id}: {exc.reason}", "Feed rejected",
                      invalid_params=[{"name": "body", "reason": exc.reason}])


@router.get("/realtime/status", response_model=RealtimeStatusOut,
            summary="Status of the GTFS-Realtime feeds",
            responses={200: {"description": "Every feed and kind", "content": {
                "application/json": {"example": examples.REALTIME_STATUS}}},
                       **responses({404: "GTFS-Realtime is not enabled on this server (no "
                                    "timetable or no incident store)"})})
def status(request: Request) -> dict[str, Any]:
    """Per static feed and message kind: the last good message (when, from where, header time
    and age), what it applied and ignored per reason, messages refused per reason and the
    last error, and — from the process that polls them — the configured sources' polling
    state. Every server process reports the same applied data (they follow one log)."""
    svc = _svc(request)
    assert svc.engine is not None and svc.engine.realtime is not None
    now = svc.clock.now()
    feeds = svc.engine.realtime.status(now)
    for f in feeds:
        f["source"] = _redact(f["source"])
        if f.get("last_error"):
            f["last_error"] = dict(f["last_error"], source=_redact(f["last_error"]["source"]))
        if f.get("polling"):
            f["polling"] = dict(f["polling"], source=_redact(f["polling"]["source"]))
    return {"now": now.isoformat().replace("+00:00", "Z"), "feeds": feeds}


def _redact(source: str | None) -> str | None:
    """A source without its query string (URLs may carry keys)."""
    if source is None or not source.startswith("url:"):
        return source
    return source.split("?", 1)[0] + ("?…" if "?" in source else "")


def realtime_summary(svc: Service) -> list[dict[str, Any]] | None:
    """Per feed and kind: age and last error (what /v1/health shows); None when realtime is
    not enabled."""
    if svc.engine is None or svc.engine.realtime is None:
        return None
    out = []
    for f in svc.engine.realtime.status(svc.clock.now()):
        if f["kind"] is None:
            continue
        out.append({"feed_id": f["feed_id"], "kind": f["kind"], "age_s": f["age_s"],
                    "last_good_at": f["last_good_at"],
                    "last_error": (f["last_error"] or {}).get("reason")})
    return out
