"""Turn incidents into the typed live inputs routing reads (:class:`routing.live.LiveState`).

Rules (per incident, applied to the edges its geometry matched, see :mod:`incidents.matching`):

* **Vehicle classes → modes.** ``car`` → ``car``, ``bus`` → ``bus``, ``truck`` →
  ``truck`` (each its own graph: a bus-only closure leaves cars and trucks alone);
  ``bike`` → ``bike``; ``walk`` → ``walk``; ``all`` → every mode. A closed edge gets
  :data:`INF_WEIGHT`. An incident of type ``closure`` without a ``road_effect`` is closed
  to all motor vehicles (car, bus and truck; buses too, which closes the stops it matched).
  All lanes closed (``lanes.closed == lanes.total``) closes them as well.
* **Speed limit** (``speed_limit_kmh``, every mode): travel time at least
  ``length / limit`` — it only slows edges whose current speed is higher.
* **Lanes closed** (``0 < lanes.closed < lanes.total``, motor modes): capacity slowdown,
  time × ``total / (total - closed)``, at most × 4.
* **Delay** (``delay_s``, motor modes): added to the matched edges in proportion to length,
  at ``delay_s / L`` per metre where ``L`` is the matched car road length with each segment
  counted once — driving the whole matched stretch in one direction adds ``delay_s``.
  Order: speed limit, then lane factor, then delay; times stay below ``INF_WEIGHT``.
* **Several incidents on one edge**: closed wins, otherwise the slowest time.
* **Stops closed**: ``transit_effect.stops_closed`` ids, plus the stops matched by the
  geometry when ``transit_effect.closes_stops_on_geometry`` or the road is closed to buses
  (``bus``/``all``, or a ``closure`` without ``road_effect``).

Effects are kept as *parameters* (closed, speed-limit floor, factor, added ms) that apply to
whatever the base time is at that moment (free flow, typical or live speed), together with
the *windows* in which the incident is in force (:func:`incident_windows`: status,
``start``/``end``, weekly recurrence — consistent with :func:`incidents.model.is_in_effect`).
So one live state answers "now" and "at 17:40" alike. :func:`effect_params` is per incident
and can be cached by ``(incident id, version)``.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
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
from routing.kernels.limits import INF_WEIGHT, MAX_FINITE_WEIGHT
from routing.live import (
    FOREVER_MS,
    EffectTimeline,
    IncidentInfo,
    LiveState,
    SpeedObservations,
    StopClosures,
)
from routing.profiles import Mode

#: The motor-vehicle modes (a closure to "motor vehicles" closes them all).
MOTOR_MODES: tuple[str, ...] = (Mode.CAR, Mode.BUS, Mode.TRUCK)
VEHICLE_CLASS_MODES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    VehicleClass.CAR: (Mode.CAR,),
    VehicleClass.TRUCK: (Mode.TRUCK,),
    VehicleClass.BUS: (Mode.BUS,),
    VehicleClass.BIKE: (Mode.BIKE,),
    VehicleClass.WALK: (Mode.WALK,),
    VehicleClass.ALL: (Mode.CAR, Mode.BIKE, Mode.WALK, Mode.BUS, Mode.TRUCK),
})
"""Which routing modes a closure to a vehicle class closes."""
MAX_LANE_FACTOR = 4.0
"""Largest slowdown factor from closed lanes."""
DEFAULT_HORIZON = timedelta(days=7)



@dataclass(frozen=True)
class EffectParams:
    """One incident's effect on one mode's edges (see the module rules): per matched edge
    that it acts on, closed or ``round(max(base, min_ms) × factor) + add_ms``."""

    edges: np.ndarray  # int64
    closed: np.ndarray  # bool
    min_ms: np.ndarray  # int64 (0 = no floor)
    factor: np.ndarray  # float64
    add_ms: np.ndarray  # int64

    def apply(self, base_ms: np.ndarray) -> np.ndarray:
        """New times (ms) of :attr:`edges` over ``base_ms`` (indexed by edge id)."""
        b = np.asarray(base_ms, np.int64)[self.edges]
        w = np.maximum(b, self.min_ms).astype(np.float64) * self.factor
        v = np.minimum(np.rint(w).astype(np.int64) + self.add_ms, MAX_FINITE_WEIGHT)
        return np.where(self.closed, INF_WEIGHT, v)


def closed_modes(incident: Incident) -> frozenset[str]:
    """Modes an incident closes its matched edges to (see the module rules)."""
    modes: set[str] = set()
    re = incident.road_effect
    if re is None:
        if incident.type == IncidentType.CLOSURE:
            modes.update(MOTOR_MODES)
    else:
        for vc in re.closed_to:
            modes.update(VEHICLE_CLASS_MODES[vc])
    lanes = incident.lanes
    if lanes is not None and lanes.closed >= lanes.total:
        modes.update(MOTOR_MODES)
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


def effect_params(incident: Incident, match: MatchResult,
                  free_flow_ms: Mapping[str, np.ndarray],
                  edge_length_m: Mapping[str, np.ndarray]) -> dict[str, EffectParams]:
    """The incident's effect parameters per mode from its ``match``.

    Only edges it acts on at free flow are kept (a speed limit above an edge's free-flow
    speed is no effect); modes without such edges are left out. ``free_flow_ms[mode]`` /
    ``edge_length_m[mode]`` are indexed by edge id. Depends on the incident alone, so it can
    be cached by ``(incident.id, incident.version)``.
    """
    closed = closed_modes(incident)
    re = incident.road_effect
    speed_kmh = re.speed_limit_kmh if re is not None else None
    delay_s = re.delay_s if re is not None else None
    factor = lane_factor(incident)
    out: dict[str, EffectParams] = {}
    for mode, edges in match.edges.items():
        if mode not in free_flow_ms or edges.shape[0] == 0:
            continue
        edges = np.asarray(edges, dtype=np.int64)
        k = edges.shape[0]
        length = np.asarray(edge_length_m[mode])[edges].astype(np.float64)
        is_closed = np.full(k, mode in closed)
        min_ms = np.zeros(k, np.int64)
        if speed_kmh is not None:
            min_ms = np.minimum(np.ceil(length / (speed_kmh / 3.6) * 1000.0),
                                MAX_FINITE_WEIGHT).astype(np.int64)
        fac = np.full(k, factor if mode in MOTOR_MODES else 1.0)
        add = np.zeros(k, np.int64)
        if mode in MOTOR_MODES and delay_s:
            add = _spread_delay(delay_s * 1000.0, length, match.edge_segments[mode]
                                ).astype(np.int64)
        p = EffectParams(edges, is_closed, min_ms, fac, add)
        ff = np.asarray(free_flow_ms[mode], np.int64)[edges]
        acts = p.apply(free_flow_ms[mode]) != ff
        if acts.any():
            out[mode] = EffectParams(edges[acts], is_closed[acts], min_ms[acts], fac[acts],
                                     add[acts])
    return out


def edge_effects(incident: Incident, match: MatchResult, base_ms: Mapping[str, np.ndarray],
                 edge_length_m: Mapping[str, np.ndarray]) -> dict[str, tuple[np.ndarray,
                                                                             np.ndarray]]:
    """Per mode ``(edge ids, new time ms)`` of the edges the incident acts on, over the
    free-flow times ``base_ms`` (a convenience over :func:`effect_params`)."""
    return {m: (p.edges, p.apply(base_ms[m]))
            for m, p in effect_params(incident, match, base_ms, edge_length_m).items()}


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


def to_ms(t: datetime) -> int:
    """Unix milliseconds of an aware instant, rounded up (so ``t_ms >= to_ms(t)`` ⇔
    ``t_ms`` is not before ``t``)."""
    us = (t - _EPOCH) // timedelta(microseconds=1)
    return -(-us // 1000)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def incident_windows(incident: Incident, lo: datetime, hi: datetime
                     ) -> list[tuple[int, int]]:
    """``[lo_ms, hi_ms)`` windows in which the incident is in force. Without recurrence the
    one window is exact at any time (``hi`` = :data:`routing.live.FOREVER_MS` when open);
    weekly recurring windows are listed inside ``[lo, hi]`` only."""
    if incident.status not in (IncidentStatus.SCHEDULED, IncidentStatus.ACTIVE):
        return []
    if incident.recurrence is None:
        end = to_ms(incident.end) if incident.end is not None else int(FOREVER_MS)
        start = to_ms(incident.start)
        return [(start, end)] if end > start else []
    points = change_points([incident], since=lo, horizon=hi - lo)
    edges = [lo.astimezone(UTC), *points, hi.astimezone(UTC)]
    out: list[tuple[int, int]] = []
    for a, b in itertools.pairwise(edges):
        if b <= a or not is_in_effect(incident, a):
            continue
        a_ms, b_ms = to_ms(a), to_ms(b)
        if out and out[-1][1] == a_ms:
            out[-1] = (out[-1][0], b_ms)
        else:
            out.append((a_ms, b_ms))
    return out


@dataclass(frozen=True)
class IncidentEffects:
    """What one incident contributes to a live state (cached per id and version)."""

    params: dict[str, EffectParams]
    windows: list[tuple[int, int]]
    stop_indices: list[int]
    stops_closed: list[str]
    unknown_stops: list[str]
    routes: list[str]
    info: IncidentInfo


def incident_effects(incident: Incident, match: MatchResult | None,
                     free_flow_ms: Mapping[str, np.ndarray],
                     edge_length_m: Mapping[str, np.ndarray], lo: datetime, hi: datetime,
                     stop_index: Mapping[str, int] | None = None,
                     stop_routes: Sequence[Sequence[str]] = ()) -> IncidentEffects:
    """Parameters, windows, closed stops and affected routes of one incident.

    Stops closed: ``transit_effect.stops_closed`` (ids through ``stop_index``) plus the
    matched stops when the geometry closes them; routes affected: ``transit_effect``'s plus
    every route serving a closed or matched stop (``stop_routes[stop index]``)."""
    params = effect_params(incident, match, free_flow_ms, edge_length_m) \
        if match is not None else {}
    te = incident.transit_effect
    ids = list(te.stops_closed) if te is not None else []
    geo = match is not None and ((te is not None and te.closes_stops_on_geometry)
                                 or closes_to_buses(incident))
    if geo and match is not None:
        ids.extend(match.stops)
    closed_idx: list[int] = []
    closed_ids: list[str] = []
    unknown: list[str] = []
    for sid in dict.fromkeys(ids):
        k = stop_index.get(sid) if stop_index is not None else None
        if k is None:
            unknown.append(sid)
            continue
        closed_idx.append(k)
        closed_ids.append(sid)
    routes = list(te.routes_affected) if te is not None else []
    touched = set(closed_idx)
    if match is not None:
        touched.update(int(k) for k in match.stop_indices.tolist())
    for k in sorted(touched):
        if 0 <= k < len(stop_routes):
            routes.extend(stop_routes[k])
    routes = list(dict.fromkeys(routes))
    windows = incident_windows(incident, lo, hi)
    info = IncidentInfo(
        id=incident.id, type=incident.type.value, severity=incident.severity.value,
        streets=tuple(match.street_names) if match is not None else (),
        closed_modes=tuple(sorted(m for m in closed_modes(incident)
                                  if match is not None and match.edge_counts.get(m))),
        edge_counts=MappingProxyType({m: int(p.edges.shape[0]) for m, p in params.items()}),
        stops_closed=tuple(closed_ids), routes_affected=tuple(routes),
        windows=tuple(windows),
        description=MappingProxyType({str(k): str(v)
                                      for k, v in (incident.description or {}).items()}))
    return IncidentEffects(params, windows, closed_idx, closed_ids, unknown, routes, info)


def build_live_state(
    seq: int,
    effects: Mapping[str, IncidentEffects],
    n_edges: Mapping[str, int],
    horizon: tuple[datetime, datetime],
    *,
    unmatched: Sequence[str] = (),
    speeds: SpeedObservations | None = None,
) -> LiveState:
    """Assemble the :class:`LiveState` of incidents' :class:`IncidentEffects` (by id) at store
    sequence ``seq``; ``n_edges[mode]`` sizes each mode's timeline."""
    ids = tuple(sorted(effects, key=lambda i: (len(i), i)))
    index = {i: k for k, i in enumerate(ids)}
    per_mode: dict[str, list[tuple[np.ndarray, ...]]] = {}
    st_stop: list[int] = []
    st_inc: list[int] = []
    st_lo: list[int] = []
    st_hi: list[int] = []
    unknown: dict[str, tuple[str, ...]] = {}
    for i in ids:
        eff = effects[i]
        if eff.unknown_stops:
            unknown[i] = tuple(eff.unknown_stops)
        for lo, hi in eff.windows:
            for mode, p in eff.params.items():
                k = p.edges.shape[0]
                per_mode.setdefault(mode, []).append((
                    p.edges, np.full(k, index[i], np.int32), p.closed, p.min_ms, p.factor,
                    p.add_ms, np.full(k, lo, np.int64), np.full(k, hi, np.int64)))
            for s in eff.stop_indices:
                st_stop.append(s)
                st_inc.append(index[i])
                st_lo.append(lo)
                st_hi.append(hi)
    timelines: dict[str, EffectTimeline] = {}
    for mode, parts in per_mode.items():
        cols = [np.concatenate(c) for c in zip(*parts, strict=True)]
        timelines[mode] = EffectTimeline.from_entries(n_edges[mode], *cols)
    closures = StopClosures.none() if not st_stop else StopClosures(
        np.asarray(st_stop, np.int32), np.asarray(st_inc, np.int32),
        np.asarray(st_lo, np.int64), np.asarray(st_hi, np.int64))
    return LiveState(
        seq=seq, incidents=MappingProxyType({i: effects[i].info for i in ids}),
        incident_ids=ids, effects=MappingProxyType(timelines), stop_closures=closures,
        speeds=speeds, horizon_ms=(to_ms(horizon[0]), to_ms(horizon[1])),
        unmatched=tuple(unmatched), unknown_stops=MappingProxyType(unknown))


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
    "EffectParams",
    "IncidentEffects",
    "build_live_state",
    "change_points",
    "closed_modes",
    "closes_to_buses",
    "edge_effects",
    "effect_params",
    "incident_effects",
    "incident_windows",
    "in_effect_ids",
    "interval_start",
    "lane_factor",
]
