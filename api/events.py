"""``GET /v1/events``: Server-Sent Events of every change, resumable with ``Last-Event-ID``.

Each connection reads the store's logs (:class:`incidents.events.EventLog`) from its cursor:
first what was committed after the client's ``Last-Event-ID`` (nothing is lost across a
reconnect, a restart or a switch of replica), then new changes as they commit. The
:class:`EventHub` of a process wakes the connections when the engine has synced (a local
write, a PostgreSQL NOTIFY, a poll) or a watch was notified; comments keep idle connections
open through proxies.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.owners import OPTIONAL_AUTH, optional_owner
from api.params import BBOX_FORMAT
from api.problems import ApiProblem, problem_example, responses
from incidents.events import (
    EVENT_TYPES,
    Cursor,
    Event,
    EventFilter,
    EventLog,
    InvalidCursor,
    encode_sse,
    parse_types,
)
from routing.state import RoutingState

router = APIRouter(prefix="/v1", tags=["events"])
#: Events read from the store per round.
PAGE = 500


class EventHub:
    """Wakes waiting stream connections of this process when the store may hold new events
    or the routing state changed (see the module docstring); thread-safe."""

    def __init__(self, log: EventLog, fallback_poll_s: float = 1.0) -> None:
        self.log = log
        self.fallback_poll_s = fallback_poll_s
        self.generation = 0
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._heads: Cursor | None = None
        self._version = -1
        #: called (from the hub's thread) when the logs' heads moved: new events
        self.on_change: list[Callable[[], None]] = []
        #: set on SIGTERM (:meth:`drain`): streams end
        self.draining = False

    def drain(self) -> None:
        """The server is shutting down: end every stream now, so the graceful shutdown does
        not wait for streams that never end by themselves (safe in a signal handler: no
        lock taken)."""
        self.draining = True
        for loop, ev in list(self._waiters):
            with contextlib.suppress(RuntimeError):  # loop closed
                loop.call_soon_threadsafe(ev.set)

    def poke(self, state: RoutingState | None = None) -> None:
        """Something may have changed: check now (the engine calls this after each sync)."""
        if state is not None and state.version != self._version:
            self._version = state.version
            self._bump()
        self._wake.set()

    def _bump(self) -> None:
        with self._lock:
            self.generation += 1
            waiters = list(self._waiters)
        for loop, ev in waiters:
            with contextlib.suppress(RuntimeError):  # loop closed
                loop.call_soon_threadsafe(ev.set)

    def check(self) -> None:
        """Compare the logs' heads with the last seen; wake everyone when they moved."""
        heads = self.log.heads()
        if heads != self._heads:
            self._heads = heads
            self._bump()
            for cb in tuple(self.on_change):
                cb()

    async def wait(self, generation: int, timeout_s: float) -> bool:
        """Wait until the generation moves past ``generation`` (True) or ``timeout_s`` passes
        (False)."""
        ev = asyncio.Event()
        key = (asyncio.get_running_loop(), ev)
        with self._lock:
            if self.generation != generation:
                return True
            self._waiters.add(key)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ev.wait(), timeout_s)
            return self.generation != generation
        finally:
            with self._lock:
                self._waiters.discard(key)

    def start(self) -> None:
        """Start the watcher thread."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="event-hub", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the watcher thread and release every waiting connection."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None
        self._bump()

    @property
    def stopped(self) -> bool:
        """True once :meth:`stop` was called."""
        return self._stop.is_set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.fallback_poll_s)
            self._wake.clear()
            try:
                self.check()
            except Exception:  # noqa: BLE001 - keep watching; a store hiccup passes
                time.sleep(self.fallback_poll_s)


def _bbox(value: str | None) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    from api.incidents import _bbox as parse_bbox

    return parse_bbox(value)


def _state_doc(st: RoutingState) -> dict[str, Any]:
    live = st.live
    return {"live_version": st.version, "at": st.at.isoformat(), "incident_seq": live.seq,
            "incidents_in_effect": list(st.in_effect_ids()),
            "realtime_version": live.realtime_version,
            "speed_version": live.speeds.version if live.speeds is not None else 0}


def _congestion(svc: Any, st: RoutingState, bbox: tuple[float, float, float, float] | None
                ) -> dict[str, Any] | None:
    if not svc.snapshot.has_road:
        return None
    return st.memo(f"events:congestion:{bbox}",
                   lambda: svc.congestion_map().summary(st, bbox, worst=5))


def congestion_enricher(svc: Any) -> Callable[[Event, dict[str, Any]], dict[str, Any]]:
    """Adds the network's congestion summary (current state) to congestion events queued
    for webhooks."""
    def enrich(ev: Event, doc: dict[str, Any]) -> dict[str, Any]:
        if ev.type != "congestion":
            return doc
        st = svc.state()
        return {**doc, "data": {**doc["data"], "summary": _congestion(svc, st, None),
                                "live_version": st.version}}
    return enrich


_TYPES_DOC = ("Event types, comma-separated or repeated: `incident` (every create, change, "
              "resolve, cancel, delete), `feed_status` (each GTFS-Realtime message accepted or "
              "refused), `congestion` (after speed observations: the batch and the area's "
              "congestion summary), `state` (a new live-state version of this server), "
              "`watch` (notifications of your commute watches; needs your key or personal "
              "token). Default: all you may receive")
_EXAMPLE = ("retry: 3000\n\n"
            "id: 12-40-7-0\nevent: incident\ndata: {\"event_id\":\"incident-12\",\"type\":"
            "\"incident\",\"name\":\"incident.create\",\"at\":\"2026-11-24T08:02:11+00:00\","
            "\"cursor\":\"12-40-7-0\",\"data\":{\"seq\":12,\"incident_id\":\"INC-5\","
            "\"version\":1,\"action\":\"create\",\"actor\":\"key:3f9a61c2d7e4\","
            "\"incident\":{\"id\":\"INC-5\",\"type\":\"closure\"}}}\n\n"
            ": keep-alive\n\n")


@router.get("/events", summary="Server-Sent Events of every change (resumable)",
            response_class=StreamingResponse, openapi_extra=OPTIONAL_AUTH,
            responses={200: {"description": "An endless `text/event-stream`: each event's "
                             "`id` is its stream position; send it back as `Last-Event-ID` "
                             "to resume", "content": {"text/event-stream": {
                                 "schema": {"type": "string"}, "example": _EXAMPLE}}},
                       **responses({
                           401: "A key or personal token was sent but is unknown or revoked",
                           404: "The incident store is not enabled on this server",
                           422: ("A malformed `Last-Event-ID`/`since`, `bbox` or type",
                                 problem_example(422, "Last-Event-ID: expected an event id "
                                                 "of this stream, four numbers joined by '-' "
                                                 "(e.g. 12-40-7-0)", "/v1/events",
                                                 "invalid-request", "Invalid request"))})})
async def events(
    request: Request,
    owner: Annotated[str | None, Depends(optional_owner)],
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=80,
                                                description="Resume after this event id "
                                                "(browsers send it when they reconnect)",
                                                examples=["12-40-7-0"])] = None,
    since: Annotated[str | None, Query(max_length=80, description=(
        "Resume after this event id (for clients that cannot set `Last-Event-ID`); `0` "
        "replays everything still logged. Default: only what happens from now on"),
        examples=["12-40-7-0"])] = None,
    types: Annotated[list[str] | None, Query(max_length=120, description=_TYPES_DOC,
                                             examples=[["incident,state"]])] = None,
    bbox: Annotated[str | None, Query(max_length=120, description=(
        BBOX_FORMAT + ". Only incident changes whose geometry (before or after) intersects "
        "it; congestion summaries cover this area"),
        examples=["-84.52,39.07,-84.49,39.10"])] = None,
    agencies: Annotated[list[str] | None, Query(max_length=400, description=(
        "Only incidents of these agencies and status of these feeds (comma-separated or "
        "repeated)"), examples=[["KYTC"]])] = None,
    heartbeat_s: Annotated[float, Query(ge=1, le=60, description="Seconds between "
                                        "keep-alive comments on an idle stream",
                                        examples=[15])] = 15.0,
) -> StreamingResponse:
    """Every change as it commits: incident changes, feed status, congestion summaries,
    live-state versions and your commute-watch notifications. Each event's `id` is a
    position in the store's logs; reconnecting with `Last-Event-ID` (or `?since=`) replays
    exactly what was committed after it — also after a server restart or on another
    replica. `state` and `congestion` carry the current figures (several missed congestion
    events are summarised in the latest one); incident, feed and watch events are replayed
    one by one. Idle streams get a `: keep-alive` comment every `heartbeat_s`."""
    svc = request.app.state.service
    hub: EventHub | None = getattr(svc, "hub", None)
    if svc.engine is None or hub is None:
        raise ApiProblem(404, "no-incidents", "the incident store is not enabled on this "
                         "server (events need it)")
    try:
        want = parse_types(types, owner is not None)
    except ValueError as exc:
        raise ApiProblem(422, "invalid-parameter", f"types: {exc}", "Invalid parameter",
                         invalid_params=[{"name": "query.types", "reason": str(exc)}]) from exc
    if "watch" in want and owner is None:
        raise ApiProblem(401, "unauthorized", "watch notifications need your API key or "
                         "personal token: send 'Authorization: Bearer KEY'", "Unauthorized",
                         headers={"WWW-Authenticate": 'Bearer realm="citynav"'})
    ags = frozenset(a.strip() for v in agencies or () for a in v.split(",") if a.strip())
    flt = EventFilter(want, _bbox(bbox), ags or None, owner)
    resume = last_event_id or since
    start: Cursor | None = None
    if resume is not None:
        try:
            start = Cursor() if resume.strip() == "0" else Cursor.parse(
                resume, "Last-Event-ID" if last_event_id else "since")
        except InvalidCursor as exc:
            name = "header.Last-Event-ID" if last_event_id else "query.since"
            raise ApiProblem(422, "invalid-request", str(exc), "Invalid request",
                             invalid_params=[{"name": name, "reason": str(exc)}]) from exc
    log_types = want - {"state"}
    return StreamingResponse(
        _stream(request, svc, hub, flt, start, log_types, heartbeat_s),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _stream(request: Request, svc: Any, hub: EventHub, flt: EventFilter,
                  start: Cursor | None, log_types: frozenset[str], heartbeat_s: float
                  ) -> AsyncIterator[str]:
    log = hub.log
    cursor = start if start is not None else await run_in_threadpool(log.heads)
    yield "retry: 3000\n\n"
    last_version = -1
    last_sent = str(start) if start is not None else None
    while not hub.stopped and not hub.draining:
        generation = hub.generation
        batch: list[Event] = []
        if log_types:
            batch = await run_in_threadpool(log.read, cursor, PAGE, log_types, flt.owner)
        st: RoutingState = svc.state()
        if "state" in flt.types and st.version != last_version:
            last_version = st.version
            yield encode_sse("state", {"event_id": f"state-{st.version}", "type": "state",
                                       "name": "state.version", "at": st.at.isoformat(),
                                       "cursor": str(cursor), "data": _state_doc(st)},
                             str(cursor))
            last_sent = str(cursor)
        last_congestion = max((i for i, e in enumerate(batch) if e.type == "congestion"),
                              default=-1)
        for i, ev in enumerate(batch):
            cursor = ev.cursor
            if not flt.matches(ev) or (ev.type == "congestion" and i != last_congestion):
                continue
            doc = ev.payload()
            if ev.type == "congestion":
                doc["data"] = {**ev.data, "summary": await run_in_threadpool(
                    _congestion, svc, st, flt.bbox), "live_version": st.version}
            yield encode_sse(ev.type, doc, str(ev.cursor))
            last_sent = str(ev.cursor)
        if batch and last_sent != str(cursor):
            yield encode_sse("", None, str(cursor))  # skipped events: move the client's id
            last_sent = str(cursor)
        if len(batch) >= PAGE:
            continue
        if await request.is_disconnected():
            return
        if not await hub.wait(generation, heartbeat_s):
            yield ": keep-alive\n\n"


__all__ = ["EVENT_TYPES", "EventHub", "router"]
