"""The live inputs routers read: a typed, immutable contract filled by the live layers.

A :class:`LiveState` is what the incidents engine (incidents, imported standards feeds) and
the traffic layer (speed observations) hand to routing. Routing never sees the incident model,
only this:

* ``incidents`` — :class:`IncidentInfo` per incident id: what explanations, congestion causes
  and transit alerts say about it (type, severity, streets, closed modes, stops and routes,
  its description per language);
* ``effects`` — per mode an :class:`EffectTimeline`: each (incident, edge) effect as parameters
  (closed, speed-limit floor, lane factor, fixed delay) with the windows in which it is in
  force, so the same value answers "now" and "at 17:40" (timed routes, congestion at a time);
* ``speeds`` — :class:`SpeedObservations` of car edges with their ageing rule and where each
  came from (:data:`SPEED_SOURCES`: a traffic centre, or buses used as probes);
* ``stop_closures`` — stops closed by incidents, with windows;
* ``transit_realtime`` — realtime trip data (:class:`gtfs.live.TransitLive`: delays,
  cancellations, skipped stops, stops closed by alerts), when fed;
* ``transit_alerts`` / ``vehicles`` — the GTFS-Realtime service alerts and latest vehicle
  positions held per static feed (what answers attach to legs, stops and maps).

It carries no weights: :mod:`routing.state` turns (snapshot, typical speeds, live state, an
instant) into edge weights with the single cost model of :func:`routing.kernels.td.edge_cost`.
Times inside are Unix milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np

from routing.kernels.td import NO_OBSERVATION, EffectArgs, ObservationArgs

if TYPE_CHECKING:
    from gtfs.live import TransitLive
    from gtfs.realtime.alerts import Alert
    from gtfs.realtime.vehicles import VehiclePosition

#: ``hi_ms`` of a window without end.
FOREVER_MS = np.int64(2**62)
#: Where a live speed observation comes from, by code (:attr:`SpeedObservations.source`):
#: 0 a traffic centre (``POST /v1/traffic/speeds``), 1 vehicle positions of buses used as
#: probes (:mod:`incidents.probes`).
SPEED_SOURCES = ("traffic_centre", "bus_probe")
SOURCE_TRAFFIC_CENTRE = 0
SOURCE_BUS_PROBE = 1
#: The parts a route's live time splits into: each speed source, then incident effects.
LIVE_PARTS = (*SPEED_SOURCES, "incidents")


def _ro(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


@dataclass(frozen=True, slots=True)
class IncidentInfo:
    """What routing may say about one incident (all fields plain data)."""

    id: str
    type: str
    severity: str
    streets: tuple[str, ...] = ()
    closed_modes: tuple[str, ...] = ()
    edge_counts: Mapping[str, int] = field(default_factory=dict)
    stops_closed: tuple[str, ...] = ()
    routes_affected: tuple[str, ...] = ()
    #: ``[lo, hi)`` Unix-ms windows in which it is in force (within the state's horizon)
    windows: tuple[tuple[int, int], ...] = ()
    #: free text per language tag (the incident's ``description``)
    description: Mapping[str, str] = field(default_factory=dict)

    def in_effect(self, t_ms: int) -> bool:
        """True when a window contains ``t_ms``."""
        return any(lo <= t_ms < hi for lo, hi in self.windows)

    def label(self) -> str:
        """Short English label, e.g. ``closure INC-1 on Madison Avenue``."""
        where = f" on {self.streets[0]}" if self.streets else ""
        return f"{self.type} {self.id}{where}"


@dataclass(frozen=True)
class EffectTimeline:
    """Incident effects on one mode's edges, CSR by edge: entries ``offsets[e]:offsets[e+1]``
    act on edge ``e`` from ``lo_ms`` to ``hi_ms`` (Unix ms): closed, or travel time
    ``round(max(base, min_ms) × factor) + add_ms``. ``incident`` indexes
    :attr:`LiveState.incident_ids`. An empty timeline has ``offsets`` of length 0."""

    offsets: np.ndarray  # int64 [n_edges + 1] (or [0])
    incident: np.ndarray  # int32 [k]
    closed: np.ndarray  # bool [k]
    min_ms: np.ndarray  # int64 [k]
    factor: np.ndarray  # float64 [k]
    add_ms: np.ndarray  # int64 [k]
    lo_ms: np.ndarray  # int64 [k]
    hi_ms: np.ndarray  # int64 [k]

    @classmethod
    def empty(cls) -> EffectTimeline:
        """No effects."""
        z = np.zeros(0, np.int64)
        return cls(_ro(z.copy()), _ro(np.zeros(0, np.int32)), _ro(np.zeros(0, bool)),
                   _ro(z.copy()), _ro(np.zeros(0, np.float64)), _ro(z.copy()), _ro(z.copy()),
                   _ro(z.copy()))

    @classmethod
    def from_entries(cls, n_edges: int, edge: np.ndarray, incident: np.ndarray,
                     closed: np.ndarray, min_ms: np.ndarray, factor: np.ndarray,
                     add_ms: np.ndarray, lo_ms: np.ndarray, hi_ms: np.ndarray
                     ) -> EffectTimeline:
        """Sort entries by edge into the CSR form (empty input → :meth:`empty`)."""
        edge = np.asarray(edge, np.int64)
        if edge.shape[0] == 0:
            return cls.empty()
        o = np.lexsort((np.asarray(incident), edge))
        off = np.zeros(n_edges + 1, np.int64)
        np.cumsum(np.bincount(edge, minlength=n_edges), out=off[1:])
        return cls(_ro(off), _ro(np.asarray(incident, np.int32)[o]),
                   _ro(np.asarray(closed, bool)[o]), _ro(np.asarray(min_ms, np.int64)[o]),
                   _ro(np.asarray(factor, np.float64)[o]), _ro(np.asarray(add_ms, np.int64)[o]),
                   _ro(np.asarray(lo_ms, np.int64)[o]), _ro(np.asarray(hi_ms, np.int64)[o]))

    @property
    def is_empty(self) -> bool:
        """True when no entry exists."""
        return self.incident.shape[0] == 0

    def entry_edges(self) -> np.ndarray:
        """Edge id of each entry."""
        if self.is_empty:
            return np.zeros(0, np.int64)
        return np.repeat(np.arange(self.offsets.shape[0] - 1), np.diff(self.offsets))

    def active(self, t_ms: int) -> np.ndarray:
        """Mask of entries in force at ``t_ms``."""
        return (self.lo_ms <= t_ms) & (t_ms < self.hi_ms)

    @cached_property
    def has_entry(self) -> np.ndarray:
        """bool [n_edges] (empty when there is no entry): edges with at least one entry."""
        if self.is_empty:
            return np.zeros(0, bool)
        return _ro(np.diff(self.offsets) > 0)

    def kernel_args(self) -> EffectArgs:
        """``(offsets, closed, min_ms, factor, add_ms, lo_ms, hi_ms)`` for the kernels."""
        return (self.offsets, self.closed, self.min_ms, self.factor, self.add_ms, self.lo_ms,
                self.hi_ms)


@dataclass(frozen=True)
class SpeedObservations:
    """The latest live speed per car edge and its ageing rule: an observation counts fully
    for ``fresh_ms``, then less and less until ``max_age_ms``, scaled by its confidence; the
    edge's time blends from the observed time towards the typical time of that moment.
    ``source`` says per edge where the observation came from (codes of
    :data:`SPEED_SOURCES`; empty: every one from a traffic centre)."""

    obs_ms: np.ndarray  # float64 [n_car_edges] observed travel time
    obs_at_ms: np.ndarray  # int64 [n_car_edges] Unix ms, NO_OBSERVATION when none
    confidence: np.ndarray  # float64 [n_car_edges]
    fresh_ms: int = 300_000
    max_age_ms: int = 900_000
    #: the speed feed's own version (changes with every applied batch)
    version: int = 0
    #: uint8 [n_car_edges] source code per edge (empty = all traffic centre)
    source: np.ndarray = field(default_factory=lambda: _ro(np.zeros(0, np.uint8)))

    @classmethod
    def none(cls, n_edges: int) -> SpeedObservations:
        """No observation on any edge."""
        return cls(_ro(np.zeros(n_edges)), _ro(np.full(n_edges, NO_OBSERVATION, np.int64)),
                   _ro(np.zeros(n_edges)))

    @cached_property
    def observed(self) -> np.ndarray:
        """bool [n_edges]: edges with an observation (any age)."""
        return _ro(self.obs_at_ms != NO_OBSERVATION)

    def alive(self, t_ms: int) -> np.ndarray:
        """Mask of edges whose observation still counts at ``t_ms``."""
        return (self.obs_at_ms != NO_OBSERVATION) & (t_ms - self.obs_at_ms < self.max_age_ms) \
            & (self.confidence > 0)

    def source_codes(self) -> np.ndarray:
        """uint8 [n_edges]: the source code of each edge's observation."""
        if self.source.shape[0] == self.obs_ms.shape[0]:
            return self.source
        return _ro(np.zeros(self.obs_ms.shape[0], np.uint8))

    def alive_by_source(self, t_ms: int) -> dict[str, int]:
        """Edges whose observation still counts at ``t_ms``, per source name."""
        alive = self.alive(t_ms)
        counts = np.bincount(self.source_codes()[alive], minlength=len(SPEED_SOURCES))
        return {name: int(counts[i]) for i, name in enumerate(SPEED_SOURCES)}

    def kernel_args(self) -> ObservationArgs:
        """``(obs_ms, obs_at_ms, confidence, fresh_ms, max_age_ms)`` for the kernels."""
        return (self.obs_ms, self.obs_at_ms, self.confidence, int(self.fresh_ms),
                int(self.max_age_ms))

    def fastest_m_per_ms(self, length_m: np.ndarray) -> float:
        """Highest speed (m/ms) any observation implies (for A* bounds)."""
        ok = (self.obs_at_ms != NO_OBSERVATION) & (self.obs_ms > 0)
        if not ok.any():
            return 0.0
        return float((np.asarray(length_m, np.float64)[ok] / self.obs_ms[ok]).max())


@dataclass(frozen=True)
class StopClosures:
    """Transit stops closed by incidents: entry ``i`` closes stop index ``stop[i]`` in
    ``[lo_ms[i], hi_ms[i])`` because of incident ``incident[i]``."""

    stop: np.ndarray  # int32
    incident: np.ndarray  # int32
    lo_ms: np.ndarray  # int64
    hi_ms: np.ndarray  # int64

    @classmethod
    def none(cls) -> StopClosures:
        """No closure."""
        return cls(_ro(np.zeros(0, np.int32)), _ro(np.zeros(0, np.int32)),
                   _ro(np.zeros(0, np.int64)), _ro(np.zeros(0, np.int64)))

    def mask_at(self, t_ms: int, n_stops: int) -> np.ndarray:
        """Boolean mask over ``n_stops`` of the stops closed at ``t_ms``."""
        m = np.zeros(n_stops, bool)
        act = (self.lo_ms <= t_ms) & (t_ms < self.hi_ms) & (self.stop < n_stops)
        m[self.stop[act]] = True
        return m


@dataclass(frozen=True)
class LiveState:
    """All live inputs at one point of the store's change log (see the module docstring).

    ``seq`` is the store sequence number the state reflects (the same on every replica);
    ``horizon_ms`` the ``[lo, hi)`` span over which incident windows were enumerated.
    """

    seq: int = 0
    incidents: Mapping[str, IncidentInfo] = field(
        default_factory=lambda: MappingProxyType({}))
    incident_ids: tuple[str, ...] = ()
    effects: Mapping[str, EffectTimeline] = field(
        default_factory=lambda: MappingProxyType({}))
    stop_closures: StopClosures = field(default_factory=StopClosures.none)
    speeds: SpeedObservations | None = None
    transit_realtime: TransitLive | None = None
    transit_alerts: Mapping[str, tuple[Alert, ...]] = field(
        default_factory=lambda: MappingProxyType({}))
    vehicles: Mapping[str, tuple[VehiclePosition, ...]] = field(
        default_factory=lambda: MappingProxyType({}))
    #: version of the realtime data (changes with every applied message)
    realtime_version: int = 0
    horizon_ms: tuple[int, int] = (0, int(FOREVER_MS))
    unmatched: tuple[str, ...] = ()
    unknown_stops: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({}))

    def effects_of(self, mode: str) -> EffectTimeline:
        """The mode's effect timeline (empty when none)."""
        t = self.effects.get(mode)
        return t if t is not None else _EMPTY_TIMELINE

    def in_effect_ids(self, t_ms: int) -> tuple[str, ...]:
        """Ids of incidents in force at ``t_ms`` (sorted as ``incident_ids``)."""
        return tuple(i for i in self.incident_ids if self.incidents[i].in_effect(t_ms))

    def routes_affected(self, t_ms: int) -> dict[str, list[str]]:
        """Route id → ids of incidents in force at ``t_ms`` that affect it."""
        out: dict[str, list[str]] = {}
        for i in self.in_effect_ids(t_ms):
            for r in self.incidents[i].routes_affected:
                out.setdefault(r, []).append(i)
        return out

    def edge_causes(self, mode: str, t_ms: int) -> dict[int, tuple[str, ...]]:
        """Edge id → ids of incidents acting on it at ``t_ms``."""
        tl = self.effects_of(mode)
        if tl.is_empty:
            return {}
        act = np.flatnonzero(tl.active(t_ms))
        if act.shape[0] == 0:
            return {}
        edges = tl.entry_edges()[act].tolist()
        out: dict[int, tuple[str, ...]] = {}
        ids = self.incident_ids
        for e, k in zip(edges, tl.incident[act].tolist(), strict=True):
            c = out.get(e, ())
            if ids[k] not in c:
                out[e] = (*c, ids[k])
        return out


_EMPTY_TIMELINE = EffectTimeline.empty()


def split_live(live_s: float, added_s: Mapping[str, float]) -> dict[str, float]:
    """Split a route's live seconds (``live_s`` ≥ 0) over :data:`LIVE_PARTS` in proportion to
    the time each part added above the typical time (``added_s``; parts that made the route
    faster count 0). All zero when nothing added time. Rounded to 0.1 s."""
    pos = {k: max(float(added_s.get(k, 0.0)), 0.0) for k in LIVE_PARTS}
    total = sum(pos.values())
    if live_s <= 0 or total <= 0:
        return dict.fromkeys(LIVE_PARTS, 0.0)
    return {k: round(live_s * v / total, 1) for k, v in pos.items()}


def ordered_causes(causes: Mapping[int, Sequence[str]], edges: np.ndarray) -> list[str]:
    """Incident ids acting on these edges, in the order a route meets them."""
    if not causes:
        return []
    found: dict[str, None] = {}
    for e in np.asarray(edges).tolist():
        for c in causes.get(e, ()):
            found[c] = None
    return list(found)
