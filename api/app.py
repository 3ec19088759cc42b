"""The FastAPI application: versioned ``/v1`` endpoints over the routing layers."""

from __future__ import annotations

import gc
import os
import signal
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated

import anyio
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, Response

from api import docs, examples, limits, middleware, operations, pages, problems, render
from api.events import router as events_router
from api.fastjson import FastJSONResponse
from api.feeds import router as feeds_router
from api.incidents import openapi_components
from api.incidents import router as incidents_router
from api.keys import openapi_components as keys_components
from api.keys import router as keys_router
from api.maps import router as maps_router
from api.matrix_jobs import router as matrix_jobs_router
from api.metrics import AuditLog, ObserveMiddleware, metrics, multiprocess
from api.params import LANG_DESCRIPTION, LATLON_FORMAT, TIME_FORMAT, parse_lang, parse_latlon
from api.problems import ApiProblem, no_street_network, problem_example, responses
from api.reach import router as reach_router
from api.realtime import realtime_summary
from api.realtime import router as realtime_router
from api.schemas import HealthResponse, Mode, RealtimeHealth, RouteResponse
from api.service import Service, load_service, open_live
from api.settings import Settings, parse_origins
from api.standards import feeds_router as open_feeds_router
from api.standards import import_router
from api.traffic import router as traffic_router
from api.transit import parse_time
from api.transit import router as transit_router
from api.vehicles import router as vehicles_router
from api.watches import openapi_components as watch_components
from api.watches import router as watches_router
from api.webhooks import router as webhooks_router
from incidents.realtime_sources import RealtimeSettings
from routing.clock import SYSTEM_CLOCK, Clock
from routing.profiles import DEFAULT_TRUCK, VehicleDims
from routing.road import NoRouteError, NoStreetNetworkError, SnapError, UnknownModeError

v1 = APIRouter(prefix="/v1")
#: The OpenAPI document's introduction: the conventions every operation follows.
API_DESCRIPTION = (
    "Coordinates are given as `LAT,LON` in query parameters (decimal degrees, latitude "
    "first) and returned in GeoJSON `[lon, lat]` order. Boxes (`bbox`) are `W,S,E,N` in "
    "degrees. Times are ISO 8601; a time without UTC offset is read in the city's timezone "
    "(`timezone` in `GET /v1/health`), and answers give times with their offset. Numbers "
    "carry their unit in their name: `_s` seconds, `_m` metres, `_kmh` km/h, `_mps` metres "
    "per second, `_min` minutes.\n\n"
    "Reading needs no key. Writing (incidents, speed observations) needs an API key, "
    "`Authorization: Bearer KEY`, with role `traffic_centre` or `admin`. An incident's "
    "`ETag` is its version: send it back as `If-Match` to change or delete it (428 without, "
    "412 when it changed meanwhile).\n\n"
    "Errors are RFC 9457 problem details (`application/problem+json`): `type` names the "
    "kind, `detail` says what went wrong in words and `invalid_params` which parameter. "
    "Map data © OpenStreetMap contributors.\n\n"
    "API reference: [Swagger UI](docs) · [ReDoc](redoc) · [OpenAPI document](openapi.json)")
API_TAGS = [
    {"name": "meta", "description": "Service status, the loaded network and the timezone"},
    {"name": "routing", "description": "Road routes by car, bike or on foot under live "
                                       "conditions"},
    {"name": "transit", "description": "Public-transport journeys, stops and departures "
                                       "(the GTFS timetable with its live data)"},
    {"name": "incidents", "description": "Traffic incidents from traffic centres: create, "
                                         "change, list, history and diversions"},
    {"name": "traffic", "description": "Live speed observations and the congestion map"},
    {"name": "keys", "description": "API keys: list, create, revoke, expire, and usage per "
                                    "key (plans and quotas)"},
    {"name": "reach", "description": "Travel-time matrices and isochrones on the live "
                                     "state"},
    {"name": "realtime", "description": "GTFS-Realtime in (pushed by agencies, polled, "
                                        "watched), each feed's status, vehicle positions "
                                        "and the TripUpdates and ServiceAlerts out"},
    {"name": "open data", "description": "citynav's incidents as open feeds in the traffic "
                                         "standards: WZDx 4.2 and DATEX II 3 (with "
                                         "publisher, licence, ETag and Last-Modified)"},
    {"name": "events", "description": "Push: Server-Sent Events of every change (resumable), "
                                      "signed webhooks, and commute watches"},
]


def _service(request: Request) -> Service:
    return request.app.state.service


@v1.get("/health", response_model=HealthResponse, tags=["meta"],
        summary="Service status, network and timezone",
        responses={200: {"content": {"application/json": {"example": examples.HEALTH}}},
                   **responses()})
async def health(request: Request) -> HealthResponse:
    """Service status: snapshot id, network counts, the live-state version, and the city's
    timezone (a time parameter without UTC offset is read in it). Answers on the event loop,
    never behind heavy requests (the realtime feeds' status is read in a thread of its own
    pool, as it may wait for a feed being applied)."""
    svc = _service(request)
    realtime = None
    if svc.engine is not None and svc.engine.realtime is not None:
        realtime = await anyio.to_thread.run_sync(_realtime_health, svc,
                                                  limiter=_probe_limiter(request))
    state = svc.state()
    meta = svc.snapshot.meta
    counts = {k: int(v) for k, v in meta.get("counts", {}).items() if isinstance(v, int)}
    transit_only = not svc.snapshot.has_road
    detour = (meta.get("walking") or {}).get("detour_factor") if transit_only else None
    return HealthResponse(status="ok", snapshot_id=svc.snapshot.snapshot_id,
                          built_at=meta.get("created_at"), bbox=list(svc.snapshot.bbox),
                          counts=counts, modes=list(svc.road.modes),
                          live_version=state.version, transit=bool(meta.get("transit")),
                          transit_only=transit_only,
                          walking="straight_line" if transit_only else "street",
                          walk_detour_factor=float(detour) if detour is not None else None,
                          timezone=svc.tz, now=svc.clock.now().isoformat(),
                          realtime=realtime)


def _probe_limiter(request: Request) -> anyio.CapacityLimiter:
    """The probes' own small thread pool (not the one requests queue for)."""
    limiter = getattr(request.app.state, "probe_limiter", None)
    if limiter is None:
        limiter = request.app.state.probe_limiter = anyio.CapacityLimiter(2)
    return limiter


@v1.get("/ready", tags=["meta"], summary="Readiness: whether to send this process traffic",
        responses={200: {"content": {"application/json": {"example": {
            "status": "ready", "live_version": 7, "worker": 4242}}}},
                   **responses({503: "Starting or shutting down (draining): send traffic "
                                     "elsewhere"})})
async def ready(request: Request) -> Response:
    """Readiness, apart from liveness (`/v1/health`): 200 once the snapshot and the store are
    loaded and the live state is published; 503 with `Retry-After` while the process shuts
    down (after SIGTERM it finishes the requests in flight, then exits)."""
    svc = getattr(request.app.state, "service", None)
    if svc is None or getattr(request.app.state, "draining", False):
        raise ApiProblem(503, "not-ready", "this process is starting or shutting down",
                         "Not ready", headers={"Retry-After": "1"})
    return JSONResponse({"status": "ready", "live_version": svc.state().version,
                         "worker": os.getpid()})


def _realtime_health(svc: Service) -> list[RealtimeHealth] | None:
    rows = realtime_summary(svc)
    return None if rows is None else [RealtimeHealth(**r) for r in rows]


_ROUTE_ERRORS = {
    404: ("No route connects the two points for this mode (e.g. closures cut them off)",
          problem_example(404, "no car route between the two points under the current "
                          "conditions (live version 7)",
                          "/v1/route", "no-route", "No route")),
    422: ("A malformed coordinate, time or language, an unknown mode, a parameter out of "
          "range, a point farther than the snapping limit from any road usable by the "
          "mode (`invalid_params` names the parameter), or a snapshot without a street "
          "network (built from GTFS only: type `no-street-network`)",
          problem_example(422, "from: expected 'LAT,LON' as decimal degrees, got 'abc' (two "
                          "numbers separated by one comma)", "/v1/route", invalid_params=[{
                              "name": "query.from", "reason": "expected 'LAT,LON' as decimal "
                              "degrees, got 'abc' (two numbers separated by one comma)"}])),
}


@v1.get("/route", response_model=RouteResponse, tags=["routing"],
        summary="Road route by car, bike, on foot, by bus or by truck",
        responses={200: {"content": {"application/json": {"example": examples.ROUTE}}},
                   **responses(_ROUTE_ERRORS)})
def route(
    request: Request,
    from_: Annotated[str, Query(alias="from", description="Origin: " + LATLON_FORMAT,
                                examples=["39.0837,-84.5086"], max_length=64)],
    to: Annotated[str, Query(description="Destination: " + LATLON_FORMAT,
                             examples=["39.0912,-84.4960"], max_length=64)],
    mode: Annotated[Mode, Query(description=(
        "Travel mode: car, bike, walk, bus (bus lanes and bus-only roads open, a standard "
        "12 m bus) or truck (`hgv` access, dimension limits checked against the "
        "`vehicle_*` parameters); see docs/profiles.md"), examples=["car"])] = Mode.CAR,
    depart_at: Annotated[str | None, Query(
        max_length=64, description="Departure time: incidents in effect then apply, and a "
        "car departure more than 5 minutes from now is timed with typical speeds of that "
        "time of day (default: now). " + TIME_FORMAT,
        examples=["2026-11-24T08:00:00-05:00"])] = None,
    alternatives: Annotated[int, Query(ge=0, le=3, description=(
        "Extra routes that are genuinely different (≤ 60 % shared length) and not absurd "
        "(≤ 1.4 × the best duration)"), examples=[1])] = 0,
    lang: Annotated[str, Query(max_length=16, description=LANG_DESCRIPTION,
                               examples=["en", "zh-CN"])] = "en",
    vehicle_height_m: Annotated[float | None, Query(
        gt=0, le=10, description="Truck height (m), checked against `maxheight` "
        f"(default {DEFAULT_TRUCK.height_m}); truck mode only", examples=[3.8])] = None,
    vehicle_width_m: Annotated[float | None, Query(
        gt=0, le=10, description="Truck width (m), checked against `maxwidth` "
        f"(default {DEFAULT_TRUCK.width_m}); truck mode only", examples=[2.5])] = None,
    vehicle_weight_t: Annotated[float | None, Query(
        gt=0, le=200, description="Truck weight (t), checked against `maxweight` "
        f"(default {DEFAULT_TRUCK.weight_t}); truck mode only", examples=[12])] = None,
    vehicle_length_m: Annotated[float | None, Query(
        gt=0, le=50, description="Truck length (m), checked against `maxlength` "
        f"(default {DEFAULT_TRUCK.length_m}); truck mode only", examples=[10])] = None,
) -> Response:
    """Fastest road route by car, bike, walking, bus or truck, with geometry and
    turn-by-turn steps.

    Errors: 422 for malformed coordinates, an unknown mode or language, a point farther
    than the snapping limit from any road usable by the mode, or a transit-only snapshot
    (no street network); 404 when no route connects the points.
    """
    # encoded here with orjson, without the response model's pass (the test of
    # api.fastjson checks the answer is exactly what the model gives)
    return FastJSONResponse(route_answer(
        _service(request), from_, to, mode, depart_at, alternatives, lang,
        (vehicle_height_m, vehicle_width_m, vehicle_weight_t, vehicle_length_m)))


def route_answer(svc: Service, from_: str, to: str, mode: Mode, depart_at: str | None,
                 alternatives: int, lang: str,
                 dims: tuple[float | None, float | None, float | None, float | None] = (
                     None, None, None, None)) -> dict:
    """The body of ``GET /v1/route`` for parameters already checked against their
    declared bounds (the handler's and :mod:`api.fastroute`'s shared work), to be encoded
    with :func:`api.fastjson.dumps` (geometry coordinates are numpy arrays); raises
    :class:`ApiProblem` for the answers that are problems."""
    if not svc.snapshot.has_road:
        raise no_street_network()
    state = svc.state()
    frm = parse_latlon(from_, "from")
    dst = parse_latlon(to, "to")
    lang = parse_lang(lang)
    t_depart = parse_time(depart_at, "depart_at", svc.tz) if depart_at is not None else None
    vehicle = None
    if any(x is not None for x in dims):
        if mode != Mode.TRUCK:
            raise ApiProblem(422, "invalid-parameter", "vehicle_* dimensions apply to "
                             "mode=truck only", "Invalid parameter", invalid_params=[
                                 {"name": "query.mode", "reason": "vehicle dimensions given "
                                  "for a mode other than truck"}])
        d = DEFAULT_TRUCK
        height, width, weight, length = dims
        vehicle = VehicleDims(height or d.height_m, width or d.width_m, weight or d.weight_t,
                              length or d.length_m)
    q = operations.RouteQuery(frm, dst, mode, t_depart, alternatives, vehicle)
    try:
        ans = operations.route(svc, state, q)
    except NoStreetNetworkError as exc:
        raise no_street_network(str(exc)) from exc
    except UnknownModeError as exc:
        raise ApiProblem(422, "unknown-mode", str(exc)) from exc
    except SnapError as exc:
        raise ApiProblem(422, "outside-network", str(exc), "Point outside the network",
                         invalid_params=[{"name": f"query.{exc.which}", "reason": str(exc)}]
                         ) from exc
    except NoRouteError as exc:
        raise ApiProblem(404, "no-route", str(exc), "No route") from exc
    # geometry as arrays: both callers encode with api.fastjson (orjson)
    return render.route_answer_json(svc.snapshot, ans, frm, dst, lang, arrays=True)


def _merge_components(comps: dict, extra: dict, prefix: str = "") -> None:
    """Add JSON schemas generated apart from FastAPI's to the OpenAPI components. A name
    already taken by a different schema (the route's ``LineString`` and the incident
    body's, say) is given ``prefix`` and the references among ``extra`` follow it."""
    import json

    renamed = {name: prefix + name for name, js in extra.items()
               if name in comps and comps[name] != js}
    text = json.dumps(extra)
    for old, new in renamed.items():
        text = text.replace(f'"#/components/schemas/{old}"', f'"#/components/schemas/{new}"')
    for name, js in json.loads(text).items():
        comps.setdefault(renamed.get(name, name), js)


def _watch_sigterm(app: FastAPI) -> None:
    """On SIGTERM, mark the app draining (``/v1/ready`` → 503) and hand the signal on to
    the server's own handler (uvicorn: stop accepting, finish in-flight requests, exit).
    Only in the main thread (where a server installs its signal handlers)."""
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(sig: int, frame: FrameType | None) -> None:
        app.state.draining = True
        hub = getattr(getattr(app.state, "service", None), "hub", None)
        if hub is not None:  # event streams never end by themselves: end them now
            hub.drain()
        if callable(previous):
            previous(sig, frame)

    signal.signal(signal.SIGTERM, on_term)


def create_app(snapshot_dir: str | Path | None = None, service: Service | None = None,
               db_url: str | None = None, cors_origins: Sequence[str] | None = None,
               clock: Clock = SYSTEM_CLOCK,
               realtime: RealtimeSettings | None = None, freeze_gc: bool = False,
               deadline_s: float = limits.DEFAULT_DEADLINE_S,
               heavy_slots: int = limits.DEFAULT_HEAVY_SLOTS,
               quotas: str | None = None, matrix_workers: int = 1,
               matrix_job_stale_s: float | None = None,
               fast_route: bool | None = None, city: Service | None = None) -> FastAPI:
    """Build the app for a snapshot directory (or an already loaded service).

    ``cors_origins``: browser origins allowed to call the API cross-origin (default: the
    ``CITYNAV_CORS_ORIGINS`` setting; none means same-origin only). ``clock``: the service's
    "now" (a replay clock for demos and historical feeds). ``realtime``: GTFS-Realtime limits
    and sources to poll. ``freeze_gc``: after loading (and making the vector tile source),
    move everything loaded out of the cyclic garbage collector's reach (``gc.freeze``; for a
    server process that loads once).
    ``deadline_s`` and ``heavy_slots``: a read's deadline (503 past it) and how many heavy
    operations run at once (:class:`api.limits.LoadGuard`). ``quotas``: where the API
    plans' quotas are counted — ``memory`` (one process), ``store`` (the incident store,
    shared by workers) or a ``redis://`` URL; ``None`` counts nothing (:mod:`api.quotas`).
    ``matrix_workers``: matrix jobs run at once by this process (0: none; the jobs wait in
    the store for a process that runs them); ``matrix_job_stale_s``: a running job whose
    heartbeat is older is re-run (:mod:`api.matrix_jobs`).
    ``fast_route``: answer plainly well-formed ``GET /v1/route`` requests past FastAPI's
    request handling (:mod:`api.fastroute`; the same answers, less CPU per request);
    default on unless the environment sets ``CITYNAV_FAST_ROUTE=0`` (for comparisons).
    ``city``: a service from :func:`api.service.load_city`, loaded before this process was
    forked (:mod:`api.prefork`); the app opens its live side (store, engine, pushes:
    :func:`api.service.open_live` on ``db_url``) at start-up in this process and closes it
    at shutdown. Give at most one of ``service`` and ``city``.
    """
    if service is not None and city is not None:
        raise ValueError("create_app: give a service or a city, not both")
    from api.quotas import QuotaGuard, Quotas

    quota_state = Quotas(quotas) if quotas else None
    audit = AuditLog()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = False
        if getattr(app.state, "service", None) is None and city is not None:
            if db_url is None:
                raise RuntimeError("create_app needs the store's URL with a city")
            app.state.service = open_live(city, db_url, realtime)
            owned = True
        elif getattr(app.state, "service", None) is None:
            if snapshot_dir is None:
                raise RuntimeError("create_app needs a snapshot directory or a service")
            app.state.service = load_service(snapshot_dir, db_url=db_url, clock=clock,
                                             realtime=realtime)
            owned = True
        if freeze_gc:
            # a serving process makes its vector tile source now (a fraction of a second),
            # not on the first map view, and freezes it with the rest
            app.state.service.tiles()
            # the loaded network and timetable live as long as the process: keep them out of
            # the cyclic collector's full passes (which otherwise pause requests for tens
            # of ms while realtime messages allocate)
            gc.collect()
            gc.freeze()
        svc = app.state.service
        svc.start()
        if quota_state is not None:
            quota_state.attach(svc.store)
        if svc.store is not None:
            audit.start(svc.store)
        metrics().start(svc, quota_state)
        from api.matrix_jobs import DEFAULT_STALE_S, start_runner

        app.state.matrix_jobs = start_runner(
            svc, matrix_workers, DEFAULT_STALE_S if matrix_job_stale_s is None
            else matrix_job_stale_s)
        app.state.draining = False
        _watch_sigterm(app)
        try:
            yield
        finally:
            if app.state.matrix_jobs is not None:
                app.state.matrix_jobs.stop()
            metrics().stop()
            audit.stop()
            if quota_state is not None:
                quota_state.close()
            if owned:
                svc.close()
            else:
                svc.stop()

    app = FastAPI(
        title="citynav",
        version="0.1.0",
        summary="Urban traffic guidance and transit information: road and public-transport "
                "routing with live incidents.",
        description=API_DESCRIPTION,
        openapi_tags=API_TAGS,
        lifespan=lifespan,
        docs_url=None,  # api.docs serves /docs and /redoc from vendored files (offline)
        redoc_url=None,
    )
    app.state.service = service
    if fast_route is None:
        fast_route = os.environ.get("CITYNAV_FAST_ROUTE", "1") != "0"
    if fast_route:  # inside compression and every other layer, outside the router
        from api.fastroute import RouteFastPath

        app.add_middleware(RouteFastPath)
    app.add_middleware(GZipMiddleware, minimum_size=2048, compresslevel=5)
    app.add_middleware(limits.LoadGuard, deadline_s=deadline_s, heavy_slots=heavy_slots)
    app.state.quotas = quota_state
    if quota_state is not None:  # outside the load guard: a refused request takes no slot
        app.add_middleware(QuotaGuard, quotas=quota_state)
    app.add_middleware(ObserveMiddleware, audit=audit)  # sees every answer, 429/503 included
    app.state.audit = audit
    middleware.install(app, Settings().cors_origins if cors_origins is None
                       else parse_origins(list(cors_origins)))
    problems.install(app)
    app.include_router(v1)
    app.include_router(transit_router)
    app.include_router(import_router)
    app.include_router(incidents_router)
    app.include_router(traffic_router)
    app.include_router(realtime_router)
    app.include_router(matrix_jobs_router)
    app.include_router(reach_router)
    app.include_router(vehicles_router)
    app.include_router(feeds_router)
    app.include_router(open_feeds_router)
    app.include_router(keys_router)
    app.include_router(maps_router)
    app.include_router(events_router)
    app.include_router(webhooks_router)
    app.include_router(watches_router)

    base_openapi = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = base_openapi()
            comps = schema.setdefault("components", {}).setdefault("schemas", {})
            _merge_components(comps, problems.openapi_components())
            _merge_components(comps, openapi_components(), prefix="Incident")
            _merge_components(comps, keys_components())
            _merge_components(comps, watch_components(), prefix="Watch")
            examples.restore_nulls(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    # FastAPI's documented way to extend the schema is to replace this method
    app.openapi = openapi  # type: ignore[method-assign]
    docs.install(app)

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics(request: Request) -> Response:
        """Prometheus metrics of every worker (text exposition format)."""
        svc = request.app.state.service
        if not multiprocess() and svc is not None:
            metrics().refresh(svc, quota_state)  # one process: fresh at each scrape
        body, ctype = metrics().exposition()
        return Response(body, media_type=ctype)

    pages.install(app)

    return app
