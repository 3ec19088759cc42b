"""The FastAPI application: versioned ``/v1`` endpoints over the routing layers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import RedirectResponse

from api import docs, examples, middleware, operations, problems, render
from api.feeds import router as feeds_router
from api.incidents import openapi_components
from api.incidents import router as incidents_router
from api.params import LANG_DESCRIPTION, LATLON_FORMAT, TIME_FORMAT, parse_lang, parse_latlon
from api.problems import ApiProblem, no_street_network, problem_example, responses
from api.realtime import realtime_summary
from api.realtime import router as realtime_router
from api.schemas import HealthResponse, Mode, RealtimeHealth, RouteResponse
from api.service import Service, load_service
from api.settings import Settings, parse_origins
from api.traffic import router as traffic_router
from api.transit import parse_time
from api.transit import router as transit_router
from api.vehicles import router as vehicles_router
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
    {"name": "realtime", "description": "GTFS-Realtime in (pushed by agencies, polled, "
                                        "watched), each feed's status, vehicle positions "
                                        "and the TripUpdates and ServiceAlerts out"},
]


def _service(request: Request) -> Service:
    return request.app.state.service


@v1.get("/health", response_model=HealthResponse, tags=["meta"],
        summary="Service status, network and timezone",
        responses={200: {"content": {"application/json": {"example": examples.HEALTH}}},
                   **responses()})
def health(request: Request) -> HealthResponse:
    """Service status: snapshot id, network counts, the live-state version, and the city's
    timezone (a time parameter without UTC offset is read in it)."""
    svc = _service(request)
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
                          realtime=_realtime_health(svc))


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
) -> dict:
    """Fastest road route by car, bike, walking, bus or truck, with geometry and
    turn-by-turn steps.

    Errors: 422 for malformed coordinates, an unknown mode or language, a point farther
    than the snapping limit from any road usable by the mode, or a transit-only snapshot
    (no street network); 404 when no route connects the points.
    """
    svc = _service(request)
    if not svc.snapshot.has_road:
        raise no_street_network()
    state = svc.state()
    frm = parse_latlon(from_, "from")
    dst = parse_latlon(to, "to")
    lang = parse_lang(lang)
    t_depart = parse_time(depart_at, "depart_at", svc.tz) if depart_at is not None else None
    dims = (vehicle_height_m, vehicle_width_m, vehicle_weight_t, vehicle_length_m)
    vehicle = None
    if any(x is not None for x in dims):
        if mode != Mode.TRUCK:
            raise ApiProblem(422, "invalid-parameter", "vehicle_* dimensions apply to "
                             "mode=truck only", "Invalid parameter", invalid_params=[
                                 {"name": "query.mode", "reason": "vehicle dimensions given "
                                  "for a mode other than truck"}])
        d = DEFAULT_TRUCK
        vehicle = VehicleDims(vehicle_height_m or d.height_m, vehicle_width_m or d.width_m,
                              vehicle_weight_t or d.weight_t, vehicle_length_m or d.length_m)
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
    return render.route_answer_json(svc.snapshot, ans, frm, dst, lang)


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


def create_app(snapshot_dir: str | Path | None = None, service: Service | None = None,
               db_url: str | None = None, cors_origins: Sequence[str] | None = None,
               clock: Clock = SYSTEM_CLOCK,
               realtime: RealtimeSettings | None = None) -> FastAPI:
    """Build the app for a snapshot directory (or an already loaded service).

    ``cors_origins``: browser origins allowed to call the API cross-origin (default: the
    ``CITYNAV_CORS_ORIGINS`` setting; none means same-origin only). ``clock``: the service's
    "now" (a replay clock for demos and historical feeds). ``realtime``: GTFS-Realtime limits
    and sources to poll.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = False
        if getattr(app.state, "service", None) is None:
            if snapshot_dir is None:
                raise RuntimeError("create_app needs a snapshot directory or a service")
            app.state.service = load_service(snapshot_dir, db_url=db_url, clock=clock,
                                             realtime=realtime)
            owned = True
        svc = app.state.service
        svc.start()
        try:
            yield
        finally:
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
    app.add_middleware(GZipMiddleware, minimum_size=2048)
    middleware.install(app, Settings().cors_origins if cors_origins is None
                       else parse_origins(list(cors_origins)))
    problems.install(app)
    app.include_router(v1)
    app.include_router(transit_router)
    app.include_router(incidents_router)
    app.include_router(traffic_router)
    app.include_router(realtime_router)
    app.include_router(vehicles_router)
    app.include_router(feeds_router)

    base_openapi = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = base_openapi()
            comps = schema.setdefault("components", {}).setdefault("schemas", {})
            _merge_components(comps, problems.openapi_components())
            _merge_components(comps, openapi_components(), prefix="Incident")
            examples.restore_nulls(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    # FastAPI's documented way to extend the schema is to replace this method
    app.openapi = openapi  # type: ignore[method-assign]
    docs.install(app)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app
