"""Reach endpoints: travel-time matrices (/v1/matrix) and isochrones (/v1/isochrone).

Both read one routing state: the live one, or the same live inputs at ``depart_at``. Sizes are
bounded so that a synchronous answer stays within a couple of seconds (see the limits below);
bigger matrices go to the jobs endpoint (:mod:`api.matrix_jobs`, ``POST /v1/matrix/jobs``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.params import LATLON_FORMAT, TIME_FORMAT, parse_latlon
from api.problems import ApiProblem, no_street_network, problem_example, responses
from api.service import Service
from api.transit import parse_time
from routing.isochrone import feature_collection
from routing.plan import PlanError
from routing.profiles import Mode
from routing.reach import DEFAULT_STEP_S, Matrix, NoTransitDataError
from routing.road import SnapError, UnknownModeError

router = APIRouter(prefix="/v1", tags=["reach"])

#: Most sources × targets cells of one synchronous road matrix (100 × 100).
MAX_ROAD_CELLS = 10_000
#: Most sources or targets on one side of a synchronous matrix.
MAX_SIDE = 100
#: Most sources × targets of one GET matrix (the URL stays short).
MAX_GET_CELLS = 625
#: Most characters of GET's `sources` / `targets` (the request line stays within the HTTP
#: server's limits even percent-encoded).
GET_MAX_CHARS = 500
#: Most sources × sampled departures of one synchronous transit matrix (RAPTOR runs).
MAX_TRANSIT_RUNS = 1_000
#: Isochrones: at most this many contours, each at most this many minutes.
MAX_CONTOURS = 6
MAX_MINUTES = 120.0
#: Where bigger jobs go.
BATCH_HINT = ("submit it as a job: POST /v1/matrix/jobs with the same body (202, then poll "
              "the job's Location); or split it into blocks")

MatrixMode = Literal["car", "bike", "walk", "transit"]


def _svc(request: Request) -> Service:
    return request.app.state.service


class MatrixRequest(BaseModel):
    """Body of ``POST /v1/matrix``."""

    # strict: `false` or `"5"` is not a number of minutes
    model_config = ConfigDict(extra="forbid", strict=True)

    sources: list[str] = Field(min_length=1, description="Origins, each " + LATLON_FORMAT)
    targets: list[str] = Field(min_length=1, description="Destinations, each `LAT,LON`")
    mode: MatrixMode = Field(default="car", description="car, bike, walk or transit")
    depart_at: str | None = Field(default=None, max_length=64, description=(
        "Departure time (default now): road modes use the weights in force then "
        "(incidents, typical speeds), transit the timetable of that day. " + TIME_FORMAT))
    window_min: int = Field(default=0, ge=0, le=240, description=(
        "Transit only: the median over departures every `step_min` in "
        "[depart_at, depart_at + window_min] (0 = one departure)"))
    step_min: int = Field(default=DEFAULT_STEP_S // 60, ge=1, le=60,
                          description="Transit only: minutes between sampled departures")
    annotations: list[Literal["duration", "distance"]] = Field(
        default=["duration", "distance"], description=(
            "What to return: durations, and distances along the fastest path (road modes; "
            "distances unpack one path per pair and cost more than durations)"))


class MatrixResponse(BaseModel):
    """A sources × targets matrix."""

    mode: str = Field(description="car, bike, walk or transit")
    durations_s: list[list[float | None]] = Field(description=(
        "Rows = sources, columns = targets: seconds (transit: from departure to arrival); "
        "null when unreachable (see `unreachable`)"))
    distances_m: list[list[float | None]] | None = Field(description=(
        "Metres along the fastest path (road modes with the distance annotation), else null"))
    unreachable: list[dict[str, Any]] = Field(description=(
        "Null cells: `{source, target, reason}` with reason source_not_on_network, "
        "target_not_on_network, no_route or not_reachable_by_transit_or_walking"))
    live_version: int = Field(description="Version of the live state the matrix reads")
    depart_at: str = Field(description="The instant the matrix describes (ISO 8601)")
    statistic: str = Field(description="`earliest` (one departure) or `median` (a window)")
    departures_sampled: int = Field(description="Departures sampled per source (transit "
                                    "windows; 1 otherwise)")


MATRIX_EXAMPLE = {
    "mode": "car", "durations_s": [[0.0, 163.0], [253.7, 0.0], [None, None]],
    "distances_m": [[0.0, 1678.0], [2498.1, 0.0], [None, None]],
    "unreachable": [{"source": 2, "target": 0, "reason": "source_not_on_network"},
                    {"source": 2, "target": 1, "reason": "source_not_on_network"}],
    "live_version": 7, "depart_at": "2026-11-24T08:00:00-05:00", "statistic": "earliest",
    "departures_sampled": 1}
MATRIX_BODY_EXAMPLES = {
    "car": {"summary": "Car durations and distances now", "value": {
        "sources": ["39.0837,-84.5086", "39.0912,-84.4960"],
        "targets": ["39.0912,-84.4960", "39.0500,-84.5500"], "mode": "car"}},
    "transit": {"summary": "Transit, median over 8:00-9:00", "value": {
        "sources": ["39.0837,-84.5086"], "targets": ["39.0912,-84.4960"], "mode": "transit",
        "depart_at": "2020-01-15T08:00:00-05:00", "window_min": 60, "step_min": 10}},
}
_MATRIX_OK: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {"example": MATRIX_EXAMPLE}}}}
ISOCHRONE_EXAMPLE = {"type": "FeatureCollection", "features": [{
    "type": "Feature", "properties": {
        "kind": "reachable", "minutes": 10.0, "area_m2": 8123400.0, "tolerance_m": 112.4,
        "road_length_m": 152300.5, "stops_reached": None, "mode": "car", "live_version": 7,
        "depart_at": "2026-11-24T08:00:00-05:00"},
    "geometry": {"type": "Polygon", "coordinates": [[[-84.52, 39.07], [-84.49, 39.07],
                                                     [-84.49, 39.1], [-84.52, 39.07]]]}}]}


_MATRIX_ERRORS: dict[int, Any] = {
    400: "The body is not valid JSON",
    404: ("Transit asked of a snapshot without a timetable",
          problem_example(404, "this snapshot has no public-transport timetable",
                          "/v1/matrix", "no-transit", "No transit data")),
    413: ("More sources × targets than a synchronous matrix answers (road: 100 × 100 "
          "cells, GET: 625 cells; transit: sources × sampled departures ≤ 1,000); the "
          "detail points to the jobs endpoint (`POST /v1/matrix/jobs`)",
          problem_example(413, "a synchronous matrix has at most 10000 cells (100 sources × "
                          "100 targets); got 200 × 300. " + BATCH_HINT, "/v1/matrix",
                          "matrix-too-large", "Matrix too large")),
    422: ("A malformed coordinate or time, an unknown mode, a date outside the timetable",
          problem_example(422, "sources[2]: expected 'LAT,LON' as decimal degrees, got "
                          "'abc' (two numbers separated by one comma)", "/v1/matrix")),
}


def _points(values: list[str], name: str) -> list[tuple[float, float]]:
    return [parse_latlon(v, f"{name}[{i}]") for i, v in enumerate(values)]


def _too_large(detail: str) -> ApiProblem:
    return ApiProblem(413, "matrix-too-large", f"{detail}. {BATCH_HINT}", "Matrix too large")


def check_sync_size(body: MatrixRequest, max_cells: int) -> None:
    """413 (pointing to the jobs endpoint) for a matrix above the synchronous limits."""
    n, m = len(body.sources), len(body.targets)
    if n > MAX_SIDE or m > MAX_SIDE or n * m > max_cells:
        raise _too_large(f"a synchronous matrix has at most {max_cells} cells and "
                         f"{MAX_SIDE} sources or targets; got {n} × {m}")
    if body.mode == "transit":
        deps = body.window_min // body.step_min + 1
        if n * deps > MAX_TRANSIT_RUNS:
            raise _too_large(f"a synchronous transit matrix runs at most "
                             f"{MAX_TRANSIT_RUNS} searches (sources × sampled departures); "
                             f"got {n} × {deps}")


Progress = Callable[[float], bool]


def compute_matrix(svc: Service, body: MatrixRequest, block_rows: int = 0,
                   progress: Progress | None = None) -> tuple[Matrix, int, dt.datetime]:
    """Parse the points and compute the matrix on the live state (or at ``depart_at``):
    (matrix, live version, instant). ``block_rows > 0``: sources in blocks of that many rows,
    calling ``progress(share done)`` after each; it returns False to abandon (then
    :class:`JobAbandonedError`). Raises :class:`ApiProblem` for bad input."""
    srcs = _points(body.sources, "sources")
    dsts = _points(body.targets, "targets")
    state = svc.state()
    t = parse_time(body.depart_at, "depart_at", svc.tz, svc.clock)
    if body.mode != "transit" and not svc.snapshot.has_road:
        raise no_street_network()
    state = svc.state_at(state, t if body.depart_at is not None else None)
    reach, _ = svc.reach()
    n = len(srcs)
    step = block_rows if block_rows > 0 else max(n, 1)
    parts: list[Matrix] = []
    try:
        for a in range(0, n, step):
            if body.mode == "transit":
                parts.append(reach.transit_matrix(state, srcs[a:a + step], dsts, t,
                                                  body.window_min * 60, body.step_min * 60))
            else:
                parts.append(reach.road_matrix(state, body.mode, srcs[a:a + step], dsts,
                                               distances="distance" in body.annotations))
            if progress is not None and not progress(min(a + step, n) / max(n, 1)):
                raise JobAbandonedError
    except NoTransitDataError as exc:
        raise ApiProblem(404, "no-transit", str(exc), "No transit data") from exc
    except UnknownModeError as exc:
        raise ApiProblem(422, "unknown-mode", str(exc)) from exc
    except PlanError as exc:
        raise ApiProblem(422, "outside-service-period", str(exc), "No service on that date",
                         invalid_params=[{"name": "depart_at", "reason": str(exc)}]) from exc
    res = parts[0] if len(parts) == 1 else Matrix(
        np.vstack([p.duration_s for p in parts]),
        None if parts[0].distance_m is None else np.vstack([
            p.distance_m for p in parts if p.distance_m is not None]),
        np.vstack([p.reason for p in parts]), departures=parts[0].departures)
    return res, state.version, t


class JobAbandonedError(Exception):
    """A blockwise matrix stopped because its runner is shutting down."""


def matrix_answer(svc: Service, body: MatrixRequest, max_cells: int) -> MatrixResponse:
    """Validate sizes, compute and format a matrix (shared by GET and POST)."""
    check_sync_size(body, max_cells)
    res, version, t = compute_matrix(svc, body)
    return _format(body, res, version, t)


def _format(body: MatrixRequest, res: Matrix, version: int, t: dt.datetime) -> MatrixResponse:
    unreachable = [{"source": i, "target": j, "reason": r} for i, j, r in res.unreachable()]
    durations: list[list[float | None]] = res.durations_s
    if "duration" not in body.annotations and body.mode != "transit":
        durations = [[None] * len(body.targets) for _ in body.sources]
    return MatrixResponse(
        mode=body.mode, durations_s=durations, distances_m=res.distances_m,
        unreachable=unreachable, live_version=version, depart_at=t.isoformat(),
        statistic="median" if res.departures > 1 else "earliest",
        departures_sampled=res.departures)


@router.post("/matrix", response_model=MatrixResponse, summary="Travel-time matrix",
             responses={**_MATRIX_OK, **responses(_MATRIX_ERRORS)})
def matrix_post(request: Request, body: Annotated[MatrixRequest, Body(
        openapi_examples=MATRIX_BODY_EXAMPLES)]) -> MatrixResponse:
    """Durations (and road distances) from every source to every target by car, bike, on
    foot or by public transport, on the live state or at `depart_at`.

    Road modes use the CCH's many-to-many (one-to-many sweeps over pinned targets), not a
    route per pair. Transit runs RAPTOR one-to-all from each source with walking access and
    egress on the streets (walking all the way counts when faster); with `window_min`, the
    median over departures every `step_min`. Unreachable pairs are null and listed in
    `unreachable` with the reason. At most 100 × 100 cells (transit: 1,000 searches); 413
    beyond, pointing to `POST /v1/matrix/jobs` (same body, run in the background)."""
    return matrix_answer(_svc(request), body, MAX_ROAD_CELLS)


def _split_points(value: str, name: str) -> list[str]:
    parts = [p for p in value.split(";") if p.strip()]
    if not parts:
        raise ApiProblem(422, "invalid-parameter", f"{name}: no points given",
                         "Invalid parameter",
                         invalid_params=[{"name": f"query.{name}", "reason": "empty"}])
    return parts


@router.get("/matrix", response_model=MatrixResponse, summary="Small travel-time matrix",
            responses={**_MATRIX_OK, **responses(_MATRIX_ERRORS)})
def matrix_get(
    request: Request,
    sources: Annotated[str, Query(max_length=GET_MAX_CHARS, description=(
        f"Origins separated by `;` (at most {GET_MAX_CHARS} characters, about 25 points; "
        "POST for more), each " + LATLON_FORMAT),
        examples=["39.0837,-84.5086;39.0912,-84.4960"])],
    targets: Annotated[str, Query(max_length=GET_MAX_CHARS, description=(
        "Destinations, as `sources`"), examples=["39.0912,-84.4960;39.0500,-84.5500"])],
    mode: Annotated[MatrixMode, Query(description="car, bike, walk or transit",
                                      examples=["car"])] = "car",
    depart_at: Annotated[str | None, Query(max_length=64, description=(
        "Departure time (default now). " + TIME_FORMAT),
        examples=["2026-11-24T08:00:00-05:00"])] = None,
    window_min: Annotated[int, Query(ge=0, le=240, description=(
        "Transit: median over a window of this many minutes"), examples=[60])] = 0,
    step_min: Annotated[int, Query(ge=1, le=60, description=(
        "Transit: minutes between sampled departures"), examples=[10])] = DEFAULT_STEP_S // 60,
) -> MatrixResponse:
    """The same as `POST /v1/matrix` for small matrices (at most 625 cells)."""
    body = MatrixRequest(sources=_split_points(sources, "sources"),
                         targets=_split_points(targets, "targets"), mode=mode,
                         depart_at=depart_at, window_min=window_min, step_min=step_min)
    return matrix_answer(_svc(request), body, MAX_GET_CELLS)


class _GeoJSON(JSONResponse):
    media_type = "application/geo+json"


_ISO_ERRORS = {
    404: ("Transit asked of a snapshot without a timetable",
          problem_example(404, "this snapshot has no public-transport timetable",
                          "/v1/isochrone", "no-transit", "No transit data")),
    422: ("A malformed point, time or contour list, a point off the network, a date outside "
          "the timetable",
          problem_example(422, "minutes: expected up to 6 comma-separated numbers in (0, "
                          "120], got 'abc'", "/v1/isochrone")),
}


def _minutes(value: str) -> list[float]:
    try:
        out = sorted({float(x) for x in value.split(",") if x.strip()})
    except ValueError:
        out = []
    if not out or len(out) > MAX_CONTOURS or not all(0 < x <= MAX_MINUTES for x in out):
        reason = (f"expected up to {MAX_CONTOURS} comma-separated numbers in (0, "
                  f"{MAX_MINUTES:g}], got {value!r}")
        raise ApiProblem(422, "invalid-parameter", f"minutes: {reason}", "Invalid parameter",
                         invalid_params=[{"name": "query.minutes", "reason": reason}])
    return out


@router.get("/isochrone", summary="Isochrones: what is reachable within given minutes",
            response_class=_GeoJSON,
            responses={200: {"description": (
                "GeoJSON FeatureCollection (`application/geo+json`): one Polygon/MultiPolygon "
                "feature per contour (largest first) with `properties.minutes`, `area_m2`, "
                "`road_length_m`, `stops_reached` (transit) and `tolerance_m`; with "
                "`compare=baseline`, what was lost per contour and one `kind: lost` feature "
                "per contour"), "content": {"application/geo+json": {
                    "example": ISOCHRONE_EXAMPLE}}},
                **responses(_ISO_ERRORS)})
def isochrone(
    request: Request,
    at: Annotated[str, Query(max_length=64, description="Origin: " + LATLON_FORMAT,
                             examples=["39.0837,-84.5086"])],
    mode: Annotated[MatrixMode, Query(description="car, bike, walk or transit",
                                      examples=["transit"])] = "car",
    minutes: Annotated[str, Query(max_length=64, description=(
        f"Contours in minutes, comma-separated (at most {MAX_CONTOURS}, each ≤ "
        f"{MAX_MINUTES:g})"), examples=["10,20,30"])] = "10,20,30",
    depart_at: Annotated[str | None, Query(max_length=64, description=(
        "Departure time (default now). " + TIME_FORMAT),
        examples=["2026-11-24T08:00:00-05:00"])] = None,
    compare: Annotated[Literal["baseline"] | None, Query(description=(
        "`baseline`: also what the live state takes away against free flow (road modes) or "
        "the plain timetable with free-flow walking (transit): area, road length and stops "
        "lost per contour"), examples=["baseline"])] = None,
) -> _GeoJSON:
    """Isochrones on the live state (or at `depart_at`).

    Road modes: a bounded Dijkstra over the state's weights up to the largest contour.
    Transit: walking to stops, RAPTOR one-to-all, walking on from every reached stop.
    Polygons: reached road pieces, buffered by 50 m on a 20 m grid (coarser, with a wider
    buffer, for large areas), simplified by 10 m; holes kept. Every junction reached in time
    is inside; every point inside is within `tolerance_m` (112 m at the finest grid) of a
    road reached in time."""
    svc = _svc(request)
    if not svc.snapshot.has_road:
        raise no_street_network()
    lat, lon = parse_latlon(at, "at")
    mins = _minutes(minutes)
    t = parse_time(depart_at, "depart_at", svc.tz, svc.clock)
    state = svc.state_at(svc.state(), t if depart_at is not None else None)
    reach, contours = svc.reach()
    limit_s = max(mins) * 60.0
    props: dict[str, Any] = {"mode": mode, "live_version": state.version,
                             "depart_at": t.isoformat()}
    try:
        if mode == "transit":
            tr = reach.transit_times(state, lat, lon, t, limit_s)
            mine = contours.contours(tr.walk, mins, tr.stop_s)
            base = None
            if compare:
                ff = state.free_flow[Mode.WALK].weights_ms
                tb = reach.transit_times(state, lat, lon, t, limit_s, live=False,
                                         walk_weights=ff)
                base = contours.contours(tb.walk, mins, tb.stop_s)
        else:
            rr = reach.road_times(state, mode, lat, lon, limit_s)
            mine = contours.contours(rr, mins)
            base = None
            if compare:
                rb = reach.road_times(state, mode, lat, lon, limit_s,
                                      weights=state.free_flow[mode].weights_ms)
                base = contours.contours(rb, mins)
    except NoTransitDataError as exc:
        raise ApiProblem(404, "no-transit", str(exc), "No transit data") from exc
    except UnknownModeError as exc:
        raise ApiProblem(422, "unknown-mode", str(exc)) from exc
    except PlanError as exc:
        raise ApiProblem(422, "outside-service-period", str(exc), "No service on that date",
                         invalid_params=[{"name": "query.depart_at", "reason": str(exc)}]
                         ) from exc
    except SnapError as exc:
        raise ApiProblem(422, "outside-network", str(exc), "Point outside the network",
                         invalid_params=[{"name": "query.at", "reason": str(exc)}]) from exc
    return _GeoJSON(feature_collection(contours, mine, base, props))
