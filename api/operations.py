"""Use cases: one function per operation, shared by the HTTP API and the CLI.

Each takes the service and the request's one :class:`routing.state.RoutingState` and returns
domain objects; :mod:`api.app`, :mod:`api.transit` and :mod:`api.cli` map those to JSON or to
readable text. Nothing here parses HTTP or prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from api.service import NOW_TOLERANCE, Service
from routing.plan import PlanRequest, PlanResult
from routing.profiles import DEFAULT_TRUCK, Mode, VehicleDims
from routing.road import EtaSources, Explanation, RoadRoute
from routing.state import RoutingState


@dataclass(frozen=True)
class RouteQuery:
    """A road route request: ``frm``/``to`` as (lat, lon)."""

    frm: tuple[float, float]
    to: tuple[float, float]
    mode: str = Mode.CAR
    depart_at: datetime | None = None
    alternatives: int = 0
    #: truck dimensions (``None``: :data:`routing.profiles.DEFAULT_TRUCK`)
    vehicle: VehicleDims | None = None


@dataclass(frozen=True)
class RouteItem:
    """One route of an answer with its explanation and ETA sources."""

    route: RoadRoute
    explanation: Explanation
    eta: EtaSources


@dataclass(frozen=True)
class RouteAnswer:
    """The routes of one request and the state they were computed on."""

    items: list[RouteItem]
    state: RoutingState
    timed: bool
    #: the truck dimensions checked (truck routes only)
    vehicle: VehicleDims | None = None


def route(svc: Service, state: RoutingState, q: RouteQuery) -> RouteAnswer:
    """Fastest road route (and alternatives) in ``state``.

    A car departure more than five minutes from now is time-dependent: every edge is timed
    when it is reached (typical speeds, ageing observations, incidents in force then). Other
    departures at another time use the state of that instant. Raises the routing layer's
    errors (:class:`routing.road.RoutingError` subclasses)."""
    from routing.tdroute import td_route

    st = svc.state_at(state, q.depart_at)
    timed = q.depart_at is not None and abs(q.depart_at - svc.clock.now()) > NOW_TOLERANCE
    items: list[RouteItem] = []
    if timed and q.mode == Mode.CAR and not q.alternatives:
        assert q.depart_at is not None
        td = td_route(svc.road, st, q.frm[0], q.frm[1], q.to[0], q.to[1], q.depart_at)
        src = td.duration_by_source_s
        eta = EtaSources(round(src["free_flow"], 1), round(src["typical"], 1),
                         round(src["live"], 1), td.day_type, td.arrival, td.live_sources_s)
        expl = svc.road.explain(st, td.route, q.frm[0], q.frm[1], q.to[0], q.to[1])
        items.append(RouteItem(td.route, expl, eta))
        return RouteAnswer(items, st, True)
    routes = svc.road.alternatives(st, q.mode, q.frm[0], q.frm[1], q.to[0], q.to[1],
                                   q.alternatives + 1, vehicle=q.vehicle)
    for r in routes:
        expl = svc.road.explain(st, r, q.frm[0], q.frm[1], q.to[0], q.to[1])
        items.append(RouteItem(r, expl, svc.road.eta_sources(st, r)))
    vehicle = (q.vehicle or DEFAULT_TRUCK) if q.mode == Mode.TRUCK else None
    return RouteAnswer(items, st, timed, vehicle)


def plan(svc: Service, state: RoutingState, req: PlanRequest) -> PlanResult:
    """Public-transport itineraries in ``state`` at the request's time. Raises
    :class:`routing.plan.NoTransitError` when the snapshot has no timetable."""
    from routing.plan import NoTransitError

    if svc.planner is None:
        raise NoTransitError("this snapshot has no public-transport timetable")
    return svc.planner.plan(svc.state_at(state, req.time), req)
