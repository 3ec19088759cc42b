"""The FastAPI application: versioned ``/v1`` endpoints over the routing layers."""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import RedirectResponse

from api import problems
from api.incidents import openapi_components
from api.incidents import router as incidents_router
from api.params import LANG_DESCRIPTION, parse_lang, parse_latlon
from api.problems import ApiProblem, responses
from api.schemas import HealthResponse, Mode, RouteOut, RouteResponse
from api.service import Service, load_service
from api.traffic import router as traffic_router
from api.transit import parse_time
from api.transit import router as transit_router
from routing.road import NoRouteError, RoadRoute, SnapError, UnknownModeError

v1 = APIRouter(prefix="/v1")
#: Documented shape of a ``LAT,LON`` parameter (ranges are checked with precise messages).
LATLON_PATTERN = r"^\s*-?\d{1,3}(\.\d+)?\s*,\s*-?\d{1,3}(\.\d+)?\s*$"


def _service(request: Request) -> Service:
    return request.app.state.service


@v1.get("/health", response_model=HealthResponse, tags=["meta"],
        responses=responses(500))
def health(request: Request) -> HealthResponse:
    """Service status: snapshot id, network counts and the live-state version."""
    svc = _service(request)
    meta = svc.snapshot.meta
    counts = {k: int(v) for k, v in meta.get("counts", {}).items() if isinstance(v, int)}
    return HealthResponse(status="ok", snapshot_id=svc.snapshot.snapshot_id,
                          built_at=meta.get("created_at"), bbox=list(svc.snapshot.bbox),
                          counts=counts, modes=list(svc.road.modes),
                          live_version=svc.road.live_state.version,
                          transit=bool(meta.get("transit")))


def _waypoint(svc: Service, latlon: tuple[float, float], snap) -> dict:
    name_idx = int(svc.snapshot.segments.name_idx[snap.segment])
    return {"input": [latlon[0], latlon[1]],
            "location": [round(snap.lon, 7), round(snap.lat, 7)],
            "distance_m": round(snap.distance_m, 1),
            "name": svc.snapshot.segments.names[name_idx] if name_idx >= 0 else ""}


def route_to_dict(svc: Service, r: RoadRoute, frm: tuple[float, float],
                  to: tuple[float, float], lang: str = "en") -> dict:
    """JSON form of one road route (instructions in ``lang``)."""
    return {
        "mode": r.mode,
        "duration_s": round(r.duration_s, 1),
        "distance_m": round(r.distance_m, 1),
        "geometry": r.geometry(),
        "bbox": [round(x, 7) for x in r.bbox],
        "steps": [s.to_dict(lang) for s in r.steps],
        "origin": _waypoint(svc, frm, r.origin),
        "destination": _waypoint(svc, to, r.destination),
        "live_version": r.live_version,
    }


@v1.get("/route", response_model=RouteResponse, tags=["routing"],
        responses=responses(404, 422, 500))
def route(
    request: Request,
    from_: Annotated[str, Query(alias="from", description="Origin as LAT,LON",
                                examples=["39.0837,-84.5086"], max_length=64,
                                pattern=LATLON_PATTERN)],
    to: Annotated[str, Query(description="Destination as LAT,LON",
                             examples=["39.0912,-84.4960"], max_length=64,
                             pattern=LATLON_PATTERN)],
    mode: Annotated[Mode, Query(description="Travel mode")] = "car",
    depart_at: Annotated[str | None, Query(
        max_length=64, description="ISO 8601 departure time: incidents in effect then apply "
        "(default: now)", examples=["2026-11-24T08:00:00+00:00"])] = None,
    alternatives: Annotated[int, Query(ge=0, le=3, description=(
        "Extra routes that are genuinely different (≤ 60 % shared length) and not absurd "
        "(≤ 1.4 × the best duration)"))] = 0,
    lang: Annotated[str, Query(max_length=16, description=LANG_DESCRIPTION,
                               examples=["zh-CN"])] = "en",
) -> RouteResponse:
    """Fastest road route by car, bike or walking, with geometry and turn-by-turn steps.

    Errors: 422 for malformed coordinates, an unknown mode or language, or a point farther
    than the snapping limit from any road usable by the mode; 404 when no route connects
    the points.
    """
    svc = _service(request)
    frm = parse_latlon(from_, "from")
    dst = parse_latlon(to, "to")
    lang = parse_lang(lang)
    state = None
    t_depart = parse_time(depart_at, "depart_at", svc.tz) if depart_at is not None else None
    if t_depart is not None and svc.engine is not None:
        state = svc.engine.state_at(t_depart)
    td = None
    try:
        if (t_depart is not None and svc.typical is not None and mode == "car"
                and not alternatives
                and abs((t_depart - datetime.now(UTC)).total_seconds()) > 300):
            from routing.timedep import td_route

            td = td_route(svc.road, svc.typical, frm[0], frm[1], dst[0], dst[1], t_depart,
                          tz=svc.tz, closed=svc.road.live_for(state).weights["car"])
            rs = [td.route]
        elif alternatives:
            rs = svc.road.alternatives(frm[0], frm[1], dst[0], dst[1], mode,
                                       alternatives + 1, state=state)
        else:
            rs = [svc.road.route(frm[0], frm[1], dst[0], dst[1], mode, state=state)]
    except UnknownModeError as exc:
        raise ApiProblem(422, "unknown-mode", str(exc)) from exc
    except SnapError as exc:
        raise ApiProblem(422, "outside-network", str(exc), "Point outside the network",
                         invalid_params=[{"name": f"query.{exc.which}", "reason": str(exc)}]
                         ) from exc
    except NoRouteError as exc:
        raise ApiProblem(404, "no-route", str(exc), "No route") from exc
    outs = []
    for r in rs:
        out = route_to_dict(svc, r, frm, dst, lang)
        out["explanation"] = svc.road.explain(r, frm[0], frm[1], dst[0], dst[1], state=state)
        if td is not None:
            src = td.duration_by_source_s
            out["eta_sources"] = {"typical_s": round(src["typical"], 1),
                                  "free_flow_s": round(src["free_flow"], 1), "live_s": 0.0,
                                  "day_type": td.day_type, "arrival": td.arrival.isoformat()}
        else:
            free = out["explanation"]["no_incident_duration_s"] if \
                out["explanation"]["incidents"] or out["explanation"]["avoided"] else None
            ff = svc.road.route(frm[0], frm[1], dst[0], dst[1], mode,
                                state=svc.road._base.state).duration_s \
                if free is None and r.live_version else (free or r.duration_s)
            out["eta_sources"] = {"typical_s": 0.0, "free_flow_s": round(min(ff, r.duration_s),
                                                                          1),
                                  "live_s": round(max(r.duration_s - ff, 0.0), 1),
                                  "day_type": None, "arrival": None}
        outs.append(RouteOut.model_validate(out))
    return RouteResponse(routes=outs, snapshot_id=svc.snapshot.snapshot_id,
                         live_version=rs[0].live_version)


def create_app(snapshot_dir: str | Path | None = None, service: Service | None = None,
               db_url: str | None = None) -> FastAPI:
    """Build the app for a snapshot directory (or an already loaded service)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        owned = False
        if getattr(app.state, "service", None) is None:
            if snapshot_dir is None:
                raise RuntimeError("create_app needs a snapshot directory or a service")
            app.state.service = load_service(snapshot_dir, db_url=db_url)
            owned = True
        svc = app.state.service
        if svc.engine is not None:
            svc.engine.start()
        try:
            yield
        finally:
            if owned:
                svc.close()
            elif svc.engine is not None:
                svc.engine.stop()

    app = FastAPI(
        title="citynav",
        version="0.1.0",
        summary="Urban traffic guidance and transit information: road and public-transport "
                "routing with live incidents.",
        description="Coordinates are given as `LAT,LON` in query parameters and returned in "
                    "GeoJSON `[lon, lat]` order. Errors are RFC 9457 problem details "
                    "(`application/problem+json`). Map data © OpenStreetMap contributors.",
        lifespan=lifespan,
    )
    app.state.service = service
    app.add_middleware(GZipMiddleware, minimum_size=2048)
    problems.install(app)
    app.include_router(v1)
    app.include_router(transit_router)
    app.include_router(incidents_router)
    app.include_router(traffic_router)

    base_openapi = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = base_openapi()
            comps = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, js in openapi_components().items():
                comps.setdefault(name, js)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app
