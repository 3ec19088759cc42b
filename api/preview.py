"""What an incident would do, before it is published (``POST /v1/incidents?dry_run=true``).

Nothing is stored: the draft is matched to the network, its effect on car edge weights is
applied to a copy of the routing state in force when it starts (an unpublished state, see
:meth:`routing.state.StatePublisher.custom`), and car routes sampled across the incident are
compared on both states. The answer lists the sampled routes that change with their added
delay, the transit stops and routes it touches, and suggested diversions for through traffic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import ValidationError

from incidents.effects import incident_effects
from incidents.engine import IncidentEngine
from incidents.errors import InvalidIncident
from incidents.matching import MatchResult
from incidents.model import Incident, IncidentCreate
from routing.profiles import Mode
from routing.road import NoRouteError, RoadRouter, RoutingError
from routing.state import RoutingState, StatePublisher

#: Placeholder id of the draft (ids are assigned by the store on publication).
DRAFT_ID = "INC-999999999999999999"
#: Sampled routes start and end this far (m) from the incident's centre, on opposite sides.
SAMPLE_RADII_M = (600.0, 1500.0)
#: Directions (degrees from north) of the sampled trips' axes through the centre.
SAMPLE_BEARINGS = (0.0, 45.0, 90.0, 135.0)
_M_PER_DEG = 111_195.0


@dataclass
class PreviewInputs:
    """What a preview reads: the engine (matching, free-flow and lengths), the road router,
    the publisher (for an unpublished what-if state), the state in force when the incident
    starts, route names by id."""

    engine: IncidentEngine
    router: RoadRouter
    publisher: StatePublisher
    state: RoutingState
    route_names: dict[str, str]


def draft_incident(data: IncidentCreate, agency: str, actor: str, now: Any) -> Incident:
    """The incident ``data`` would become (placeholder id, version 1, not stored). Raises
    :class:`InvalidIncident` (422) for what the store would refuse too, e.g. a malformed
    agency."""
    fields = data.model_dump(exclude={"status"})
    fields.update(id=DRAFT_ID, agency=agency, status=data.status or "active",
                  created_by=actor, updated_by=actor, created_at=now, updated_at=now,
                  version=1)
    try:
        return Incident.model_validate(fields)
    except ValidationError as exc:
        raise InvalidIncident.from_validation_error(exc) from None


def _centre(match: MatchResult, router: RoadRouter) -> tuple[float, float]:
    seg = router.snapshot.segments
    segs = np.asarray(match.segments, dtype=np.int64)
    if segs.size == 0:
        raise ValueError("the match has no road segments")
    gs = np.asarray(seg.gstart)[segs]
    ge = np.asarray(seg.gend)[segs]
    mid = (gs + ge - 1) // 2
    return float(np.mean(np.asarray(seg.lat)[mid])), float(np.mean(np.asarray(seg.lon)[mid]))


def sample_pairs(lat: float, lon: float) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """Origin/destination pairs on opposite sides of (lat, lon), both ways along each axis."""
    out = []
    kx = math.cos(math.radians(lat)) * _M_PER_DEG
    for r in SAMPLE_RADII_M:
        for b in SAMPLE_BEARINGS:
            dy = r * math.cos(math.radians(b)) / _M_PER_DEG
            dx = r * math.sin(math.radians(b)) / kx
            a, z = (lat + dy, lon + dx), (lat - dy, lon - dx)
            out += [(a, z), (z, a)]
    return out


def preview(inputs: PreviewInputs, incident: Incident, match: MatchResult) -> dict[str, Any]:
    """The expected impact of ``incident`` (matched as ``match``) — see the module doc.

    Returns ``{"sampled_routes": n, "changed_routes": [...], "transit": {...},
    "diversions": [...]}``; each changed route has ``from``/``to`` ([lat, lon]),
    ``before_s``, ``after_s``, ``added_s``, ``avoids`` (whether the new route leaves the
    incident's edges) and both geometries."""
    eng, router, state = inputs.engine, inputs.router, inputs.state
    stop_index = eng.stops.index if eng.stops is not None else None
    stop_routes = eng.stops.routes_by_stop if eng.stops is not None else ()
    eff = incident_effects(incident, match, eng.free_flow, eng.edge_length, state.at,
                           state.at, stop_index, stop_routes)
    car_params = eff.params.get(Mode.CAR)
    changed: list[dict[str, Any]] = []
    n_sampled = 0
    car_edges = np.asarray(match.edges.get(Mode.CAR, np.zeros(0, np.int64)), dtype=np.int64)
    diversions: list[dict[str, Any]] = []
    if car_params is not None and car_params.edges.size:
        base = np.asarray(state.weights(Mode.CAR), dtype=np.int64)
        new = base.copy()
        new[car_params.edges] = car_params.apply(base)
        what_if = inputs.publisher.custom({Mode.CAR: new}, base=state)
        affected = set(car_params.edges.tolist())
        lat, lon = _centre(match, router)
        for (a, b) in sample_pairs(lat, lon):
            try:
                before = router.route(state, Mode.CAR, a[0], a[1], b[0], b[1])
            except RoutingError:  # a sample point off the network: not sampled
                continue
            n_sampled += 1
            try:
                after = router.route(what_if, Mode.CAR, a[0], a[1], b[0], b[1])
            except NoRouteError:
                after = None
            crosses = bool(affected & set(np.asarray(before.edges).tolist()))
            if after is not None and not crosses and abs(
                    after.duration_s - before.duration_s) < 1.0:
                continue
            changed.append({
                "from": [round(a[0], 6), round(a[1], 6)],
                "to": [round(b[0], 6), round(b[1], 6)],
                "before_s": round(before.duration_s, 1),
                "after_s": round(after.duration_s, 1) if after is not None else None,
                "added_s": round(after.duration_s - before.duration_s, 1)
                if after is not None else None,
                "avoids": after is not None and not (
                    affected & set(np.asarray(after.edges).tolist())),
                "before": before.geometry(),
                "after": after.geometry() if after is not None else None})
        if car_params.closed.any():
            from routing.diversions import diversions as make_diversions  # noqa: PLC0415

            diversions = make_diversions(router, state, car_edges, n_routes=2)
            for d in diversions:
                for r in d.get("routes", []):
                    r.pop("steps", None)
    changed.sort(key=lambda c: -(c["added_s"] or 0.0))
    names = inputs.route_names
    return {
        "sampled_routes": n_sampled,
        "changed_routes": changed,
        "transit": {"stops_closed": list(eff.stops_closed),
                    "stops_on_geometry": list(match.stops),
                    "routes_affected": [{"id": r, "name": names.get(r)} for r in eff.routes]},
        "diversions": diversions,
    }
