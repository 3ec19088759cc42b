"""Transit endpoints: /v1/plan, /v1/stops and /v1/stops/{stop_id}/departures."""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Annotated
from zoneinfo import ZoneInfo

import numpy as np
from fastapi import APIRouter, Path, Query, Request

from api import operations, render
from api.params import LANG_DESCRIPTION, parse_lang, parse_latlon
from api.problems import ApiProblem, responses
from api.schemas import DeparturesResponse, PlanResponse, StopsResponse
from gtfs import query as tq
from routing.clock import SYSTEM_CLOCK, Clock
from routing.plan import NoTransitError, PlanError, Planner, PlanRequest, UnknownStopError
from routing.profiles import Mode
from routing.road import NoRouteError, SnapError

router = APIRouter(prefix="/v1", tags=["transit"])
PLACE_PATTERN = (r"^(stop:[^\s]{1,200}|\s*-?\d{1,3}(\.\d+)?\s*,\s*-?\d{1,3}(\.\d+)?\s*)$")


def _planner(request: Request) -> Planner:
    p = request.app.state.service.planner
    if p is None:
        raise ApiProblem(404, "no-transit", "this snapshot has no public-transport timetable",
                         "No transit data")
    return p


def parse_time(value: str | None, name: str, tz: str, clock: Clock = SYSTEM_CLOCK
               ) -> dt.datetime:
    """ISO 8601 date-time; a time without offset is read in ``tz`` (the city's zone);
    ``None`` is now (by ``clock``)."""
    if value is None:
        return clock.now().astimezone(ZoneInfo(tz))
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiProblem(422, "invalid-parameter",
                         f"{name}: expected an ISO 8601 date-time such as "
                         f"2020-01-15T08:00:00-05:00, got {value!r}", "Invalid parameter",
                         invalid_params=[{"name": f"query.{name}",
                                          "reason": "not an ISO 8601 date-time"}]) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=ZoneInfo(tz))
    if not 1970 <= t.year <= 2199:
        raise ApiProblem(422, "invalid-parameter", f"{name}: year {t.year} is out of range",
                         "Invalid parameter",
                         invalid_params=[{"name": f"query.{name}", "reason": "year out of range"}])
    return t


def _place(p: Planner, value: str, name: str) -> tuple[float, float] | int:
    if value.startswith("stop:"):
        try:
            return p.resolve_stop(value[5:])
        except UnknownStopError as exc:
            raise ApiProblem(404, "unknown-stop", f"{name}: {exc}", "Unknown stop") from exc
    return parse_latlon(value, name)


@router.get("/plan", response_model=PlanResponse, response_model_by_alias=True,
            responses=responses(404, 422, 500))
def plan(
    request: Request,
    from_: Annotated[str, Query(alias="from", pattern=PLACE_PATTERN, max_length=220,
                                description="Origin: LAT,LON or stop:ID",
                                examples=["39.0837,-84.5086"])],
    to: Annotated[str, Query(pattern=PLACE_PATTERN, max_length=220,
                             description="Destination: LAT,LON or stop:ID",
                             examples=["38.9836,-84.6451"])],
    depart_at: Annotated[str | None, Query(
        max_length=64, description="ISO 8601; the time to leave (or, with arrive_by, to "
        "arrive). Without an offset it is read in the feed's timezone. Default: now.",
        examples=["2020-01-15T08:00:00-05:00"])] = None,
    arrive_by: Annotated[bool, Query(description="depart_at is the latest arrival")] = False,
    window_min: Annotated[int, Query(ge=0, le=360, description="Range query: all good "
                                     "departures within this many minutes")] = 0,
    max_transfers: Annotated[int, Query(ge=0, le=8)] = 4,
    walk_speed_mps: Annotated[float, Query(gt=0.3, le=3.0)] = 1.3889,
    max_walk_m: Annotated[float, Query(ge=0, le=5000, description="Per walking leg")] = 1000,
    min_transfer_s: Annotated[int, Query(ge=0, le=1800)] = 60,
    wheelchair: Annotated[bool, Query(description=(
        "Step-free journeys: never use trips or stops marked not wheelchair-accessible. "
        "Those of unknown accessibility (feeds without the data) are allowed but ranked "
        "10 min worse per leg, and flagged (`wheelchair_accessible: null` on the leg)"))
                          ] = False,
    wheelchair_strict: Annotated[bool, Query(description=(
        "With wheelchair: only trips and stops marked accessible (no unknowns)"))] = False,
    num_itineraries: Annotated[int, Query(ge=1, le=10)] = 3,
    access_mode: Annotated[Mode, Query(description=(
        "How to reach the first stop: walk, bike or car (park and ride) — bike and car use "
        "the live speeds and incidents"))] = Mode.WALK,
    lang: Annotated[str, Query(max_length=16, description=LANG_DESCRIPTION,
                               examples=["zh-CN"])] = "en",
) -> dict:
    """Public-transport journeys with walking access, transfers and egress (RAPTOR)."""
    svc = request.app.state.service
    state = svc.state()
    lang = parse_lang(lang)
    p = _planner(request)
    origin = _place(p, from_, "from")
    dest = _place(p, to, "to")
    t = parse_time(depart_at, "depart_at", p.transit.ref_tz, svc.clock)
    req = PlanRequest(origin, dest, t, arrive_by=arrive_by, window_s=window_min * 60,
                      max_transfers=max_transfers, walk_speed_mps=walk_speed_mps,
                      max_walk_m=max_walk_m, min_transfer_s=min_transfer_s,
                      wheelchair=wheelchair, wheelchair_strict=wheelchair_strict,
                      num_itineraries=num_itineraries,
                      access_mode=access_mode)
    try:
        res = operations.plan(svc, state, req)
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
    return out


def _stop_out(p: Planner, i: int) -> dict:
    return {"stop_id": p.stop_ids[i], "name": p.tt.strings["stop_name"][i],
            "lat": round(float(p.tt.arrays["stop_lat"][i]), 7),
            "lon": round(float(p.tt.arrays["stop_lon"][i]), 7)}


@router.get("/stops", response_model=StopsResponse, responses=responses(404, 422, 500))
def stops(
    request: Request,
    q: Annotated[str | None, Query(max_length=100, description="Name contains (any case)")
                 ] = None,
    near: Annotated[str | None, Query(max_length=64, description="LAT,LON",
                                      pattern=r"^\s*-?\d{1,3}(\.\d+)?\s*,\s*-?\d{1,3}(\.\d+)?\s*$"
                                      )] = None,
    radius_m: Annotated[float, Query(gt=0, le=5000)] = 500,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict:
    """Find stops by name (``q``) or around a point (``near`` within ``radius_m``)."""
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
    if near is not None:
        lat, lon = parse_latlon(near, "near")
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


@router.get("/stops/{stop_id}/departures", response_model=DeparturesResponse,
            responses=responses(404, 422, 500))
def stop_departures(
    request: Request,
    stop_id: Annotated[str, Path(max_length=200, description="FEED:ID or the plain id")],
    at: Annotated[str | None, Query(max_length=64, description="ISO 8601, default now",
                                    examples=["2020-01-15T08:00:00-05:00"])] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> dict:
    """Next departures at a stop: route, headsign, scheduled and expected time."""
    p = _planner(request)
    try:
        i = p.resolve_stop(stop_id)
    except UnknownStopError as exc:
        raise ApiProblem(404, "unknown-stop", str(exc), "Unknown stop") from exc
    svc = request.app.state.service
    state = svc.state()
    t = parse_time(at, "at", p.transit.ref_tz, svc.clock)
    date, s = p.clock(t)
    try:
        p.check_date(date)
    except PlanError as exc:
        raise ApiProblem(422, "outside-service-period", str(exc), "No service on that date",
                         invalid_params=[{"name": "query.at", "reason": str(exc)}]) from exc
    deps = tq.departures(p.tt, p.day(date), i, s, limit, live=state.transit_live())
    out = []
    for d in deps:
        tz = p.route_timezone(d.route)
        out.append({"trip_id": d.trip_id, "route": render.transit_route_json(
                        p.transit_route(d.route)), "headsign": d.headsign,
                    "scheduled": p.at(date, d.depart_s, tz).isoformat(),
                    "expected": p.at(date, d.realtime_depart_s, tz).isoformat(),
                    "delay_s": d.delay_s, "cancelled": d.cancelled,
                    "service_date": d.service_date.isoformat()})
    return {"stop": _stop_out(p, i), "departures": out, "live_version": state.version}
