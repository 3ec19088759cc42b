"""Transit endpoints: /v1/plan, /v1/stops and /v1/stops/{stop_id}/departures."""

from __future__ import annotations

import math
import re
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from api import examples, operations, render
from api.fastjson import FastJSONResponse
from api.params import (
    ALERT_LANG_DESCRIPTION,
    LANG_DESCRIPTION,
    LATLON_FORMAT,
    TRANSIT_TIME_FORMAT,
    parse_lang,
    parse_latlon,
    parse_place,
    parse_time,  # re-exported: its home is api.params
)
from api.problems import ApiProblem, problem_example, responses
from api.schemas import DeparturesResponse, PlanResponse, StopsResponse
from gtfs import query as tq
from routing.plan import (
    AccessModeError,
    NoTransitError,
    PlanError,
    Planner,
    PlanRequest,
    UnknownStopError,
)
from routing.profiles import Mode
from routing.road import NoRouteError, SnapError
from routing.transit_info import transit_info

router = APIRouter(prefix="/v1", tags=["transit"])
#: How a journey end is written (``from`` / ``to`` of /v1/plan).
PLACE_FORMAT = ("either " + LATLON_FORMAT + " Or `stop:ID` to start or end at a stop, with "
                "the stop id from /v1/stops (FEED:ID or the plain id, 1 to 200 characters, "
                "no spaces), e.g. `stop:nky_tank:10094`")
_NO_TRANSIT = "this snapshot has no public-transport timetable"


def _planner(request: Request) -> Planner:
    p = request.app.state.service.planner
    if p is None:
        raise ApiProblem(404, "no-transit", "this snapshot has no public-transport timetable",
                         "No transit data")
    return p


def _place(p: Planner, place: tuple[float, float] | str, name: str
           ) -> tuple[float, float] | int:
    """A parsed journey end (:func:`api.params.parse_place`) as coordinates or stop index."""
    if isinstance(place, str):
        try:
            return p.resolve_stop(place)
        except UnknownStopError as exc:
            raise ApiProblem(404, "unknown-stop", f"{name}: {exc}", "Unknown stop") from exc
    return place


_PLAN_ERRORS = {
    404: ("No timetable in this snapshot, an unknown `stop:ID`, or no connection at all "
          "between the places",
          problem_example(404, "from: unknown stop 'nope'", "/v1/plan", "unknown-stop",
                          "Unknown stop")),
    422: ("A malformed place (`from`/`to`), time or `lang`, a parameter out of range, a point "
          "farther than the snapping limit from any street, a date outside the "
          "timetable's service period, or `access_mode` bike or car on a snapshot without a "
          "street network (type `access-mode-unavailable`)",
          problem_example(422, "from: expected 'LAT,LON' as decimal degrees or 'stop:ID', "
                          "got 'Covington'", "/v1/plan", invalid_params=[{
                              "name": "query.from", "reason": "expected 'LAT,LON' as decimal "
                              "degrees or 'stop:ID', got 'Covington'"}])),
}


@router.get("/plan", response_model=PlanResponse, response_model_by_alias=True,
            summary="Plan a public-transport journey",
            responses={200: {"content": {"application/json": {"example": examples.PLAN}}},
                       **responses(_PLAN_ERRORS)})
def plan(
    request: Request,
    from_: Annotated[str, Query(alias="from", max_length=220,
                                description="Origin: " + PLACE_FORMAT,
                                examples=["39.0837,-84.5086", "stop:nky_tank:100580"])],
    to: Annotated[str, Query(max_length=220,
                             description="Destination: " + PLACE_FORMAT,
                             examples=["39.0912,-84.4960"])],
    depart_at: Annotated[str | None, Query(
        max_length=64, description="The time to leave (or, with arrive_by, to arrive); "
        "default now. " + TRANSIT_TIME_FORMAT,
        examples=["2020-01-15T08:00:00-05:00"])] = None,
    arrive_by: Annotated[bool, Query(description="depart_at is the latest arrival",
                                     examples=[False])] = False,
    window_min: Annotated[int, Query(ge=0, le=360, description="Range query: all good "
                                     "departures within this many minutes after depart_at "
                                     "(0: only the earliest)", examples=[30])] = 0,
    max_transfers: Annotated[int, Query(ge=0, le=8, description="Most changes between "
                                        "vehicles", examples=[2])] = 4,
    walk_speed_mps: Annotated[float, Query(gt=0.3, le=3.0, description="Walking speed in "
                                           "metres per second (1.3889 = 5 km/h)",
                                           examples=[1.2])] = 1.3889,
    max_walk_m: Annotated[float, Query(ge=0, le=5000, description="Longest walk per walking "
                                       "leg, in metres", examples=[800])] = 1000,
    min_transfer_s: Annotated[int, Query(ge=0, le=1800, description="Least time to change "
                                         "vehicles at a stop, in seconds",
                                         examples=[120])] = 60,
    wheelchair: Annotated[bool, Query(description=(
        "Step-free journeys: never use trips or stops marked not wheelchair-accessible. "
        "Those of unknown accessibility (feeds without the data) are allowed but ranked "
        "10 min worse per leg, and flagged (`wheelchair_accessible: null` on the leg)"),
        examples=[False])] = False,
    wheelchair_strict: Annotated[bool, Query(description=(
        "With wheelchair: only trips and stops marked accessible (no unknowns)"),
        examples=[False])] = False,
    num_itineraries: Annotated[int, Query(ge=1, le=10, description="Most itineraries to "
                                          "return", examples=[3])] = 3,
    access_mode: Annotated[Mode, Query(description=(
        "How to reach the first stop: walk, bike or car (park and ride) — bike and car use "
        "the live speeds and incidents; only walk on a snapshot without a street network "
        "(GET /v1/health `transit_only`)"), examples=["walk"])] = Mode.WALK,
    lang: Annotated[str, Query(max_length=16, description=LANG_DESCRIPTION + "; also the "
                               "language of alert texts (an alert without it is given in "
                               "English, else in its first language)",
                               examples=["en", "zh-CN"])] = "en",
) -> Response:
    """Public-transport journeys with walking access, transfers and egress (RAPTOR), on
    the timetable with its live data (delays, cancellations, skipped and closed stops) and
    the live streets for walking, cycling or driving to the first stop. Transit legs give
    the expected and the scheduled departure and arrival, the delays, whether a realtime
    source reported on the trip, and the alerts in force during the leg (feed alerts and
    incidents, texts in `lang`)."""
    frm_place, to_place = parse_place(from_, "from"), parse_place(to, "to")
    svc = request.app.state.service
    state = svc.state()
    lang = parse_lang(lang)
    p = _planner(request)
    origin = _place(p, frm_place, "from")
    dest = _place(p, to_place, "to")
    t = parse_time(depart_at, "depart_at", p.transit.ref_tz, svc.clock)
    req = PlanRequest(origin, dest, t, arrive_by=arrive_by, window_s=window_min * 60,
                      max_transfers=max_transfers, walk_speed_mps=walk_speed_mps,
                      max_walk_m=max_walk_m, min_transfer_s=min_transfer_s,
                      wheelchair=wheelchair, wheelchair_strict=wheelchair_strict,
                      num_itineraries=num_itineraries,
                      access_mode=access_mode)
    try:
        res = operations.plan(svc, state, req)
    except AccessModeError as exc:
        raise ApiProblem(422, "access-mode-unavailable", str(exc), "Access mode unavailable",
                         invalid_params=[{"name": "query.access_mode", "reason": str(exc)}]
                         ) from exc
    except PlanError as exc:
        raise ApiProblem(422, "outside-service-period", str(exc), "No service on that date",
                         invalid_params=[{"name": "query.depart_at", "reason": str(exc)}]
                         ) from exc
    except SnapError as exc:
        raise ApiProblem(422, "outside-network", str(exc), "Point outside the network",
                         invalid_params=[{"name": f"query.{exc.which}", "reason": str(exc)}]
                         ) from exc
    except (NoRouteError, NoTransitError) as exc:
        raise ApiProblem(404, "no-route", str(exc), "No route") from exc
    msgs = []
    if p.straight is not None:
        msgs.append(f"straight-line walking: no street network (this snapshot was built from "
                    f"GTFS only); walks are the straight line × {p.straight.detour_factor:g}, "
                    "without steps")
    if res.access_stops == 0 and not isinstance(origin, int):
        msgs.append(f"no stop within {max_walk_m:.0f} m walking of the origin")
    if res.egress_stops == 0 and not isinstance(dest, int):
        msgs.append(f"no stop within {max_walk_m:.0f} m walking of the destination")
    if not res.itineraries:
        msgs.append("no itinerary found for these settings"
                    + (" (wheelchair_strict: the feed may not mark trips and stops "
                       "accessible; try without it)" if wheelchair and wheelchair_strict
                       else ""))
    elif wheelchair and any(leg.mode == "transit" and leg.wheelchair_accessible is None
                            for it in res.itineraries for leg in it.legs):
        msgs.append("some legs are of unknown wheelchair accessibility (the feed does not say)")
    out = render.plan_json(res, lang)
    out["messages"] = msgs
    # encoded here with orjson, without the response model's pass (the model stays for the
    # API documents; tests check the answers are exactly what it gives)
    return FastJSONResponse(out)


def _stop_out(p: Planner, i: int) -> dict:
    return {"stop_id": p.stop_ids[i], "name": p.tt.strings["stop_name"][i],
            "lat": round(float(p.tt.arrays["stop_lat"][i]), 7),
            "lon": round(float(p.tt.arrays["stop_lon"][i]), 7)}


_STOPS_ERRORS = {
    404: ("This snapshot has no public-transport timetable",
          problem_example(404, _NO_TRANSIT, "/v1/stops", "no-transit", "No transit data")),
    422: ("Neither `q` nor `near` given, a malformed `near`, or a parameter out of range",
          problem_example(422, "near: expected 'LAT,LON' as decimal degrees, got 'abc' (two "
                          "numbers separated by one comma)", "/v1/stops",
                          invalid_params=[{"name": "query.near", "reason": "expected 'LAT,LON'"
                                           " as decimal degrees, got 'abc' (two numbers "
                                           "separated by one comma)"}])),
}


@router.get("/stops", response_model=StopsResponse, summary="Find stops",
            responses={200: {"content": {"application/json": {"example": examples.STOPS}}},
                       **responses(_STOPS_ERRORS)})
def stops(
    request: Request,
    q: Annotated[str | None, Query(max_length=100, description="Name contains these words "
                                   "(any case, any order)", examples=["scott seventh"])
                 ] = None,
    near: Annotated[str | None, Query(max_length=64, description="Stops around this point: "
                                      + LATLON_FORMAT, examples=["39.0837,-84.5086"])] = None,
    radius_m: Annotated[float, Query(gt=0, le=5000, description="With `near`: search radius "
                                     "in metres", examples=[300])] = 500,
    limit: Annotated[int, Query(ge=1, le=500, description="Most stops to return",
                                examples=[3])] = 50,
) -> dict:
    """Find stops by name (``q``) or around a point (``near`` within ``radius_m``, nearest
    first). Give at least one of ``q`` and ``near``."""
    point = parse_latlon(near, "near") if near is not None else None
    p = _planner(request)
    if q is None and near is None:
        raise ApiProblem(422, "invalid-parameter", "give q=NAME or near=LAT,LON",
                         "Missing parameter",
                         invalid_params=[{"name": "query.q", "reason": "q or near required"}])
    names = p.tt.strings["stop_name"]
    idx = np.arange(len(names))
    if q is not None:
        words = [w for w in re.split(r"\s+", q.strip().lower()) if w]
        idx = np.array([i for i in idx if all(w in names[i].lower() for w in words)],
                       dtype=np.int64)
    if point is not None:
        lat, lon = point
        la = np.asarray(p.tt.arrays["stop_lat"])[idx]
        lo = np.asarray(p.tt.arrays["stop_lon"])[idx]
        dy = (la - lat) * 111_195.0
        dx = (lo - lon) * 111_195.0 * math.cos(math.radians(lat))
        d = np.hypot(dx, dy)
        keep = d <= radius_m
        idx, d = idx[keep], d[keep]
        idx = idx[np.argsort(d, kind="stable")]
    else:
        idx = np.array(sorted(idx.tolist(), key=lambda i: (names[i].lower(), i)), dtype=np.int64)
    return {"stops": [_stop_out(p, int(i)) for i in idx[:limit]]}


_DEPARTURES_ERRORS = {
    404: ("This snapshot has no timetable, or the stop id is unknown",
          problem_example(404, "unknown stop 'nky_tank:99999'",
                          "/v1/stops/nky_tank:99999/departures", "unknown-stop",
                          "Unknown stop")),
    422: ("A malformed `at` (not ISO 8601), a date outside the timetable's service period, "
          "or `limit` out of range",
          problem_example(422, "at: expected an ISO 8601 date-time such as "
                          "2020-01-15T08:00:00-05:00, got 'tomorrow'",
                          "/v1/stops/nky_tank:10094/departures", invalid_params=[{
                              "name": "query.at", "reason": "not an ISO 8601 date-time"}])),
}


@router.get("/stops/{stop_id}/departures", response_model=DeparturesResponse,
            summary="Next departures at a stop",
            responses={200: {"content": {"application/json": {
                "example": examples.DEPARTURES}}}, **responses(_DEPARTURES_ERRORS)})
def stop_departures(
    request: Request,
    stop_id: Annotated[str, Path(max_length=200, description="Stop id from /v1/stops: FEED:ID "
                                 "or the plain id", examples=["nky_tank:10094"])],
    at: Annotated[str | None, Query(max_length=64, description="Departures from this time "
                                    "on; default now. " + TRANSIT_TIME_FORMAT,
                                    examples=["2020-01-15T08:00:00-05:00"])] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Most departures to return",
                                examples=[5])] = 10,
    lang: Annotated[str, Query(max_length=16, description=ALERT_LANG_DESCRIPTION,
                               examples=["en", "zh-CN"])] = "en",
) -> dict:
    """Next departures at a stop, by expected time: route, headsign, scheduled and expected
    time, delay, whether the trip is cancelled or skips the stop, whether realtime data
    exists for it, the vehicle running it (when positions are fed) and the alerts on it in
    force at the departure (texts in `lang`)."""
    p = _planner(request)
    try:
        i = p.resolve_stop(stop_id)
    except UnknownStopError as exc:
        raise ApiProblem(404, "unknown-stop", str(exc), "Unknown stop") from exc
    svc = request.app.state.service
    state = svc.state()
    lang = parse_lang(lang)
    t = parse_time(at, "at", p.transit.ref_tz, svc.clock)
    date, s = p.clock(t)
    try:
        p.check_date(date)
    except PlanError as exc:
        raise ApiProblem(422, "outside-service-period", str(exc), "No service on that date",
                         invalid_params=[{"name": "query.at", "reason": str(exc)}]) from exc
    deps = tq.departures(p.tt, p.day(date), i, s, limit, live=state.transit_live())
    info = transit_info(state, p.tt)
    now_s = svc.clock.now().timestamp()
    out = []
    for d in deps:
        tz = p.route_timezone(d.route)
        expected = p.at(date, d.realtime_depart_s, tz)
        t_s = int(expected.timestamp())
        vehicle = info.vehicle(d.trip, d.service_date)
        out.append({"trip_id": d.trip_id, "route": render.transit_route_json(
                        p.transit_route(d.route)), "headsign": d.headsign,
                    "scheduled": p.at(date, d.depart_s, tz).isoformat(),
                    "expected": expected.isoformat(), "delay_s": d.delay_s,
                    "cancelled": d.cancelled, "skipped": d.skipped, "realtime": d.realtime,
                    "service_date": d.service_date.isoformat(),
                    "vehicle": render.vehicle_json(vehicle, now_s) if vehicle else None,
                    "alerts": [render.alert_json(a, lang)
                               for a in info.alerts_for(d.trip, (i,), t_s, t_s)]})
    return {"stop": _stop_out(p, i), "departures": out, "live_version": state.version}
