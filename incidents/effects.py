"""Turn incidents in effect into a routing :class:`routing.live.LiveState`.

Rules (per incident, applied to the edges its geometry matched, see :mod:`incidents.matching`):

* **Vehicle classes → modes.** ``car``, ``truck``, ``bus`` → the ``car`` mode (the only
  motor-vehicle graph, so a closure to any motor class closes it); ``bike`` → ``bike``;
  ``walk`` → ``walk``; ``all`` → every mode. A closed edge gets :data:`INF_WEIGHT`.
  An incident of type ``closure`` without a ``road_effect`` is closed to all motor vehicles
  (car mode; buses too, which closes the stops it matched). All lanes closed
  (``lanes.closed == lanes.total``) is a car closure as well.
* **Speed limit** (``speed_limit_kmh``, every mode): weight = max(free flow,
  length / limit) — it only slows edges whose free-flow speed is higher.
* **Lanes closed** (``0 < lanes.closed < lanes.total``, car only): capacity slowdown,
  weight × ``total / (total - closed)``, at most × 4.
* **Delay** (``delay_s``, car only): added to the matched car edges in proportion to length,
  at ``delay_s / L`` per metre where ``L`` is the matched car road length with each segment
  counted once — driving the whole matched stretch in one direction adds ``delay_s``.
  Order: speed limit, then lane factor, then delay; weights stay below ``INF_WEIGHT``.
* **Several incidents on one edge**: closed wins, otherwise the slowest (largest) weight.
* **Stops closed**: ``transit_effect.stops_closed`` ids, plus the stops matched by the
  geometry when ``transit_effect.closes_stops_on_geometry`` or the road is closed to buses
  (``bus``/``all``, or a ``closure`` without ``road_effect``).

Only incidents in effect at the requested instant count (:func:`incidents.model.is_in_effect`:
status, ``start``/``end`` window, weekly recurrence); :func:`change_points` lists the instants
where that set can change so a caller can cache one state per interval. :func:`edge_effects` is
per incident, so a caller can cache it by ``(incident id, version)`` (``effect_cache``).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, MutableMapping
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from incidents.matching import MatchResult
from incidents.model import (
    Incident,
    IncidentStatus,
    IncidentType,
    VehicleClass,
    is_in_effect,
    utc_now,
)
from routing.graph import INF_WEIGHT
from routing.live import LiveState

VEHICLE_CLASS_MODES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    VehicleClass.CAR: ("car",),
    VehicleClass.TRUCK: ("car",),
    VehicleClass.BUS: ("car",),
    VehicleClass.BIKE: ("bike",),
    VehicleClass.WALK: ("walk",),
    VehicleClass.ALL: ("car", "bike", "walk"),
})
"""Which routing modes a closure to a vehicle class closes."""
MAX_LANE_FACTOR = 4.0
"""Largest slowdown factor from closed lanes."""
DEFAULT_HORIZON = timedelta(days=7)
_MAX_WEIGHT = INF_WEIGHT - 1

EdgeEffects = dict[str, tuple[np.ndarray, np.ndarray]]
"""Per mode: (edge ids, new weight in ms) for the edges an incident slows or closes."""


def closed_modes(incident: Incident) -> frozenset[str]:
    """Modes an incident closes its matched edges to (see the module rules)."""
    modes: set[str] = set()
    re = incident.road_effect
    if re is None:
        if incident.type == IncidentType.CLOSURE:
            modes.add("car")
    else:
        for vc in re.closed_to:
            modes.update(VEHICLE_CLASS_MODES[vc])
    lanes = incident.lanes
    if lanes is not None and lanes.closed >= lanes.total:
        modes.add("car")
    return frozenset(modes)


def closes_to_buses(incident: Incident) -> bool:
    """True if the incident closes the road to buses (and so its matched stops)."""
    re = incident.road_effect
    if re is None:
        return incident.type == IncidentType.CLOSURE
    return bool({VehicleClass.BUS, VehicleClass.ALL} & set(re.closed_to))


def lane_factor(incident: Incident) -> float:
    """Car travel-time factor for partly closed lanes (1.0 when none or all are closed)."""
    lanes = incident.lanes
    if lanes is None or lanes.closed <= 0 or lanes.closed >= lanes.total:
        return 1.0
    return min(MAX_LANE_FACTOR, lanes.total / (lanes.total - lanes.closed))


def edge_effects(incident: Incident, match: MatchResult,
                 free_flow_ms: Mapping[str, np.ndarray],
                 edge_length_m: Mapping[str, np.ndarray]) -> EdgeEffects:
    """New weights (ms) of the edges ``incident`` acts on, per mode, from its ``match``.

    Only edges whose weight changes are returned; modes without such edges are left out.
    ``free_flow_ms[mode]`` / ``edge_length_m[mode]`` are the mode's free-flow times (ms) and
    lengths (m) indexed by edge id. The result depends on the incident alone (not the time),
    so it can be cached by ``(incident.id, incident.version)``.
    """
    closed = closed_modes(incident)
    re = incident.road_effect
    speed_kmh = re.speed_limit_kmh if re is not None else None
    delay_s = re.delay_s if re is not None else None
    factor = lane_factor(incident)
    out: EdgeEffects = {}
    for mode, edges in match.edges.items():
        if mode not in free_flow_ms or edges.shape[0] == 0:
            continue
        edges = np.asarray(edges, dtype=np.int64)
        ff = np.asarray(free_flow_ms[mode])[edges].astype(np.int64)
        if mode in closed:
            new = np.full(edges.shape[0], INF_WEIGHT, dtype=np.int64)
        else:
            length = np.asarray(edge_length_m[mode])[edges].astype(np.float64)
            w = ff.astype(np.float64)
            if speed_kmh is not None:
                w = np.maximum(w, np.ceil(length / (speed_kmh / 3.6) * 1000.0))
            if mode == "car":
                w *= factor
                if delay_s:
                    w = np.rint(w) + _spread_delay(delay_s * 1000.0, length,
                                                   match.edge_segments[mode])
            new = np.minimum(np.rint(w), _MAX_WEIGHT).astype(np.int64)
        acts = new != ff
        if acts.any():
            out[mode] = (edges[acts], new[acts])
    return out


def _spread_delay(delay_ms: float, length: np.ndarray, segs: np.ndarray) -> np.ndarray:
    """Per-edge share of ``delay_ms``: ``delay_ms / L`` per metre (``L`` = matched road
    length, each segment once), rounded so running sums stay exact."""
    _, first = np.unique(segs, return_index=True)
    total_len = float(length[first].sum())
    if total_len <= 0:
        share = np.full(length.shape[0], delay_ms / max(first.shape[0], 1))
    else:
        share = delay_ms * length / total_len
    cum = np.rint(np.cumsum(share))
    return np.diff(np.concatenate([[0.0], cum]))


def _summary(incident: Incident, match: MatchResult | None, eff: EdgeEffects,
             stops: list[str]) -> dict[str, Any]:
    return {
        "type": incident.type.value,
        "severity": incident.severity.value,
        "closed_modes": sorted(m for m in closed_modes(incident)
                               if match is not None and match.edge_counts.get(m)),
        "edges": {m: int(e.shape[0]) for m, (e, _) in eff.items()},
        "streets": list(match.street_names) if match is not None else [],
        "stops_closed": stops,
    }


def build_live_state(
    version: int,
    incidents: Iterable[Incident],
    matches: Mapping[str, MatchResult],
    free_flow_ms: Mapping[str, np.ndarray],
    edge_length_m: Mapping[str, np.ndarray],
    at: datetime,
    n_stops: int | None = None,
    stop_index: Mapping[str, int] | None = None,
    *,
    previous: LiveState | None = None,
    effect_cache: MutableMapping[tuple[str, int], EdgeEffects] | None = None,
) -> LiveState:
    """The live state of the incidents in effect at the aware instant ``at``.

    ``matches`` maps incident id → its geometry's :class:`MatchResult` (an incident without
    one has no road or geometry-stop effects; it is listed in ``notes["unmatched"]``).
    ``edge_time_ms`` holds a new array only for modes whose weights differ from free flow;
    if ``previous`` has an equal array for a mode, that same object is reused so
    :meth:`routing.road.RoadRouter.apply_live_state` skips re-customizing it. ``stop_closed``
    is a mask over ``n_stops`` stops (``None`` when ``n_stops`` is); stop ids map through
    ``stop_index`` (without it, matched stops use the matcher's stop order). Raises
    ``ValueError`` for a naive ``at``.
    """
    active = sorted((i for i in incidents if is_in_effect(i, at)),
                    key=lambda i: (len(i.id), i.id))
    weights: dict[str, np.ndarray] = {}
    causes: dict[str, dict[int, tuple[str, ...]]] = {}
    stop_closed = np.zeros(n_stops, dtype=bool) if n_stops is not None else None
    routes: dict[str, list[str]] = {}
    summaries: dict[str, Any] = {}
    unmatched: list[str] = []
    unknown_stops: dict[str, list[str]] = {}
    for inc in active:
        match = matches.get(inc.id)
        eff: EdgeEffects = {}
        if match is None:
            unmatched.append(inc.id)
        else:
            key = (inc.id, inc.version)
            cached = effect_cache.get(key) if effect_cache is not None else None
            if cached is None:
                cached = edge_effects(inc, match, free_flow_ms, edge_length_m)
                if effect_cache is not None:
                    effect_cache[key] = cached
            eff = cached
        for mode, (edges, new) in eff.items():
            w = weights.get(mode)
            if w is None:
                w = weights[mode] = np.asarray(free_flow_ms[mode], dtype=np.int64).copy()
            np.maximum.at(w, edges, new)  # closed (INF) wins, otherwise the slowest
            mc = causes.setdefault(mode, {})
            for e in edges.tolist():
                mc[e] = (*mc.get(e, ()), inc.id)
        closed_here: list[str] = []
        te = inc.transit_effect
        if te is not None:
            for r in te.routes_affected:
                routes.setdefault(r, []).append(inc.id)
        ids = list(te.stops_closed) if te is not None else []
        geo = match is not None and ((te is not None and te.closes_stops_on_geometry)
                                     or closes_to_buses(inc))
        if geo and match is not None:
            if stop_index is None:
                closed_here.extend(match.stops)
                if stop_closed is not None:
                    idx = match.stop_indices[match.stop_indices < stop_closed.shape[0]]
                    stop_closed[idx] = True
            else:
                ids.extend(match.stops)
        for sid in dict.fromkeys(ids):
            k = stop_index.get(sid) if stop_index is not None else None
            if k is None or (stop_closed is not None and not 0 <= k < stop_closed.shape[0]):
                unknown_stops.setdefault(inc.id, []).append(sid)
                continue
            closed_here.append(sid)
            if stop_closed is not None:
                stop_closed[k] = True
        summaries[inc.id] = _summary(inc, match, eff, list(dict.fromkeys(closed_here)))
    edge_time: dict[str, np.ndarray] = {}
    for mode, w in weights.items():
        if np.array_equal(w, free_flow_ms[mode]):
            continue
        old = previous.edge_time_ms.get(mode) if previous is not None else None
        if old is not None and old.shape == w.shape and np.array_equal(old, w):
            w = old
        else:
            w.flags.writeable = False
        edge_time[mode] = w
    if (stop_closed is not None and previous is not None and previous.stop_closed is not None
            and np.array_equal(previous.stop_closed, stop_closed)):
        stop_closed = previous.stop_closed
    elif stop_closed is not None:
        stop_closed.flags.writeable = False
    notes: dict[str, Any] = {
        "at": at.isoformat(),
        "routes_affected": routes,
        "incidents": summaries,
    }
    if unmatched:
        notes["unmatched"] = unmatched
    if unknown_stops:
        notes["unknown_stops"] = unknown_stops
    return LiveState(
        version=version,
        edge_time_ms=MappingProxyType(edge_time),
        edge_causes=MappingProxyType({m: MappingProxyType(c) for m, c in causes.items()
                                      if m in edge_time}),
        stop_closed=stop_closed,
        notes=MappingProxyType(notes),
    )


def in_effect_ids(incidents: Iterable[Incident], at: datetime) -> frozenset[str]:
    """Ids of the incidents in effect at ``at`` (a cache key for a live state)."""
    return frozenset(i.id for i in incidents if is_in_effect(i, at))


def _tz_transitions(tz: ZoneInfo, lo: datetime, hi: datetime) -> list[datetime]:
    """UTC instants in ``[lo, hi]`` where ``tz``'s UTC offset changes (to the second)."""
    out: list[datetime] = []
    step = timedelta(hours=6)
    t = lo
    while t < hi:
        t2 = min(t + step, hi)
        if t.astimezone(tz).utcoffset() != t2.astimezone(tz).utcoffset():
            a, b = t, t2
            while b - a > timedelta(seconds=1):
                mid = a + (b - a) / 2
                if mid.astimezone(tz).utcoffset() == a.astimezone(tz).utcoffset():
                    a = mid
                else:
                    b = mid
            out.append(a.replace(microsecond=0) + timedelta(seconds=1))
        t = t2
    return out


def change_points(incidents: Iterable[Incident], since: datetime | None = None,
                  horizon: timedelta = DEFAULT_HORIZON) -> list[datetime]:
    """Sorted UTC instants in ``[since, since + horizon]`` where the set of incidents in effect
    may change: starts, ends and weekly recurrence window edges (plus the recurrence zone's
    DST switches). Between two consecutive points the set is constant, so a caller can
    build one :class:`LiveState` per interval. ``since`` defaults to now."""
    lo = (since or utc_now()).astimezone(UTC)
    hi = lo + horizon
    points: set[datetime] = set()
    for inc in incidents:
        if inc.status not in (IncidentStatus.SCHEDULED, IncidentStatus.ACTIVE):
            continue
        start, end = inc.start.astimezone(UTC), inc.end.astimezone(UTC) if inc.end else None
        w_lo, w_hi = max(lo, start), min(hi, end) if end is not None else hi
        rec = inc.recurrence
        if lo <= start <= hi and (rec is None or rec.contains(start)):
            points.add(start)
        if end is not None and lo <= end <= hi and (
                rec is None or rec.contains(end - timedelta(microseconds=1))):
            points.add(end)
        if rec is None or w_lo > w_hi:
            continue
        tz = ZoneInfo(rec.timezone)
        first: date = (w_lo.astimezone(tz) - timedelta(days=1)).date()
        last: date = (w_hi.astimezone(tz) + timedelta(days=1)).date()
        day_names = {d.value for d in rec.days}
        names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        d = first
        while d <= last:
            if names[d.weekday()] in day_names:
                end_day = d if rec.start_time < rec.end_time else d + timedelta(days=1)
                for day, tm in ((d, rec.start_time), (end_day, rec.end_time)):
                    for fold in (0, 1):
                        local = datetime.combine(day, tm, tzinfo=tz).replace(fold=fold)
                        t = local.astimezone(UTC)
                        if w_lo <= t <= w_hi:
                            points.add(t)
            d += timedelta(days=1)
        points.update(t for t in _tz_transitions(tz, w_lo, w_hi) if w_lo <= t <= w_hi)
    return sorted(points)


def interval_start(points: list[datetime], at: datetime) -> datetime | None:
    """The last change point at or before ``at`` (``None`` if ``at`` precedes them all)."""
    i = bisect.bisect_right(points, at)
    return points[i - 1] if i else None


__all__ = [
    "DEFAULT_HORIZON",
    "MAX_LANE_FACTOR",
    "VEHICLE_CLASS_MODES",
    "EdgeEffects",
    "build_live_state",
    "change_points",
    "closed_modes",
    "closes_to_buses",
    "edge_effects",
    "in_effect_ids",
    "interval_start",
    "lane_factor",
]
