"""GTFS-Realtime out: the TripUpdates and ServiceAlerts this server applies, for other
journey planners and displays.

``GET /v1/feeds/gtfs-rt/trip-updates`` writes the realtime trip data of the request's routing
state (:attr:`routing.live.LiveState.transit_realtime`: delays, cancellations and skipped
stops as applied, on the service dates around the state's time) with
:mod:`gtfs.realtime.encode`; ``GET /v1/feeds/gtfs-rt/alerts`` the feeds' ServiceAlerts held
and every incident with a transit effect (:func:`routing.transit_info.incident_alerts`),
leaving out alerts whose periods all ended. Both are FULL_DATASET messages, header version
2.0 and timestamp the state's time, of one static feed (``feed``) or of all merged; entity
ids are prefixed ``FEED:`` so they stay unique across feeds. Protobuf by default,
``format=json`` for the bindings' JSON form.

Conditional requests: the ``ETag`` is a hash of the body (strong), ``If-None-Match`` with
it answers 304 without a body; ``Cache-Control: no-cache`` (store, but revalidate). A body
is made once per routing state, feed, kind and format.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response
from google.transit import gtfs_realtime_pb2 as pb

from api import examples
from api.problems import ApiProblem, ProblemMeaning, problem_example, responses
from api.realtime import _svc
from api.service import Service
from gtfs.realtime.encode import alerts_message, new_message, serialize, trip_updates_message
from routing.state import RoutingState
from routing.transit_info import transit_info

router = APIRouter(prefix="/v1/feeds/gtfs-rt", tags=["realtime"])

Format = Literal["protobuf", "json"]
MEDIA = {"protobuf": "application/x-protobuf", "json": "application/json"}
CACHE_CONTROL = "no-cache"


def _content(example: dict) -> dict:
    return {"application/x-protobuf": {
                "schema": {"type": "string", "format": "binary",
                           "description": "A GTFS-Realtime FeedMessage (protobuf)"},
                "example": "<FeedMessage protobuf bytes>"},
            "application/json": {
                "schema": {"type": "object", "additionalProperties": True,
                           "description": "The FeedMessage in the bindings' JSON form "
                                          "(`format=json`)"},
                "example": example}}


_ERRORS: dict[int, ProblemMeaning] = {
    404: ("GTFS-Realtime is not enabled on this server (type `no-realtime`), or `feed` is not "
          "a static feed of the snapshot (type `unknown-feed`)",
          problem_example(404, "'muni' is not a feed of this snapshot (feeds: bart)",
                          "/v1/feeds/gtfs-rt/trip-updates", "unknown-feed", "Unknown feed")),
    422: ("`format` is neither protobuf nor json, or a parameter is too long",
          problem_example(422, "query.format: Input should be 'protobuf' or 'json'",
                          "/v1/feeds/gtfs-rt/trip-updates", "invalid-request",
                          "Invalid request", invalid_params=[{
                              "name": "query.format",
                              "reason": "Input should be 'protobuf' or 'json'"}])),
}
FeedParam = Annotated[str | None, Query(max_length=100, description=(
    "Only this static feed (the FEED of FEED:ID ids; see GET /v1/realtime/status); default: "
    "all feeds in one message"), examples=["bart"])]
FormatParam = Annotated[Format, Query(alias="format", description=(
    "protobuf (`application/x-protobuf`, the GTFS-Realtime wire format) or json (the "
    "bindings' JSON form, `application/json`)"), examples=["json"])]
IfNoneMatch = Annotated[str | None, Header(max_length=1000, description=(
    "ETag(s) of a copy you hold (comma-separated, or `*`): 304 without a body when the feed "
    "still has that content"), examples=['"3f1c0a9be41d27c85a0d6e4f92b7c013"'])]


_HEADERS = {
    "ETag": {"description": "Strong validator of the body (a hash of it): send it back in "
                            "`If-None-Match`", "schema": {"type": "string"}},
    "Cache-Control": {"description": "`no-cache`: caches may store the answer but must "
                                     "revalidate it (If-None-Match) before each use",
                      "schema": {"type": "string"}}}


def _responses(what: str, example: dict) -> dict[int | str, dict]:
    return {200: {"description": f"{what}; `ETag` names the content", "headers": _HEADERS,
                  "content": _content(example)},
            304: {"description": "Not modified: the `ETag` sent in `If-None-Match` is still "
                                 "the content's", "headers": _HEADERS},
            **responses(_ERRORS)}


def _feeds(svc: Service, feed: str | None) -> list[str]:
    assert svc.planner is not None
    names = list(svc.planner.tt.strings["feed_name"])
    if feed is None:
        return names
    if feed not in names:
        raise ApiProblem(404, "unknown-feed", f"{feed!r} is not a feed of this snapshot "
                         f"(feeds: {', '.join(names)})", "Unknown feed")
    return [feed]


def _trip_updates(svc: Service, state: RoutingState, feeds: list[str]) -> pb.FeedMessage:
    assert svc.planner is not None and svc.engine is not None \
        and svc.engine.realtime is not None
    tt = svc.planner.tt
    ts = int(state.at.timestamp())
    msg = new_message(ts)
    live = state.live.transit_realtime
    if live is None:
        return msg
    dates = svc.engine.realtime.service_dates(state.at)
    for feed in feeds:
        part = trip_updates_message(tt, live, feed, dates, timestamp_s=ts)
        for ent in part.entity:
            ent.id = f"{feed}:{ent.id}"
        msg.entity.extend(part.entity)
    return msg


def _alerts(svc: Service, state: RoutingState, feeds: list[str]) -> pb.FeedMessage:
    assert svc.planner is not None
    ts = int(state.at.timestamp())
    info = transit_info(state, svc.planner.tt)
    out, seen = [], set()
    for feed, al in info.feed_alerts(at_s=ts):
        uid = f"{feed}:{al.id}"
        if feed in feeds and uid not in seen:  # a feed's id may equal an incident's
            seen.add(uid)
            out.append(dataclasses.replace(al, id=uid))
    return alerts_message(out, timestamp_s=ts)


def _answer(request: Request, kind: str, feed: str | None, fmt: Format,
            if_none_match: str | None) -> Response:
    svc = _svc(request)
    feeds = _feeds(svc, feed)
    state = svc.state()

    def make() -> tuple[bytes, str]:
        msg = (_trip_updates if kind == "trip_updates" else _alerts)(svc, state, feeds)
        body = serialize(msg, fmt)
        return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'

    body, etag = state.memo(f"gtfs-rt:{kind}:{feed or '*'}:{fmt}", make)
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if if_none_match is not None and _matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=MEDIA[fmt], headers=headers)


def _matches(header: str, etag: str) -> bool:
    """``If-None-Match`` against ``etag`` (weak comparison, as RFC 9110 asks)."""
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


@router.get("/trip-updates", summary="TripUpdates out (GTFS-Realtime)",
            response_class=Response,
            responses=_responses("TripUpdates (FULL_DATASET)", examples.GTFS_RT_TRIP_UPDATES))
def trip_updates(request: Request, feed: FeedParam = None, fmt: FormatParam = "protobuf",
                 if_none_match: IfNoneMatch = None) -> Response:
    """The realtime trip data this server applies, as a GTFS-Realtime TripUpdates message:
    for every trip instance a source reported on (or an alert cancelled), on the service
    dates around the state's time, the delay and absolute time of each stop's arrival and
    departure, skipped stops (SKIPPED) and cancelled trips (CANCELED). FULL_DATASET, version
    2.0, timestamp the live state's time; entity ids `FEED:<trip_id>-<YYYYMMDD>`. Send the
    `ETag` back in `If-None-Match` to get 304 while nothing changed."""
    return _answer(request, "trip_updates", feed, fmt, if_none_match)


@router.get("/alerts", summary="ServiceAlerts out (GTFS-Realtime)", response_class=Response,
            responses=_responses("ServiceAlerts (FULL_DATASET)", examples.GTFS_RT_ALERTS))
def alerts(request: Request, feed: FeedParam = None, fmt: FormatParam = "protobuf",
           if_none_match: IfNoneMatch = None) -> Response:
    """Service alerts as a GTFS-Realtime ServiceAlerts message: the alerts received from each
    feed and every incident with a transit effect (stops closed, routes affected), with
    translations, active periods (an incident's time windows) and informed entities in the
    feed's plain ids (stops with their agency, routes with their agency; a route affected at
    a closed stop is given at that stop, so `NO_SERVICE` never reads as a whole route
    cancelled). Alerts whose periods all ended are left out. FULL_DATASET, version 2.0,
    timestamp the live state's time; entity ids `FEED:<alert id>` (an incident: `FEED:INC-12`).
    Send the `ETag` back in `If-None-Match` to get 304 while nothing changed."""
    return _answer(request, "alerts", feed, fmt, if_none_match)
