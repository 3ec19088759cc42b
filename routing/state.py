"""One routing state per request: an immutable value, and the one publisher that makes them.

A :class:`RoutingState` bundles everything an answer may read: the live inputs
(:class:`routing.live.LiveState`), the instant it describes, per mode the edge weights at that
instant and the CCH metric customized for them, free-flow metrics, typical speeds, the
closed stops and the city's timezone. A request takes one state at its start
(:meth:`StatePublisher.current`) and hands it to everything it calls — route, explanation,
alternatives, free-flow comparison, every leg of a plan, the congestion map — so an answer
can never mix two versions.

Edge weights at instant ``t`` come from :func:`routing.kernels.td.all_edge_costs`: typical
speed at ``t`` (free flow without typical speeds), blended with live observations as they age,
then the incident effects in force at ``t``. Timed routes evaluate the same cost model edge by
edge, so the live metric, timed routes and the congestion map at a time agree.

:class:`StatePublisher` is the only writer: :meth:`~StatePublisher.publish` (new live
inputs) and :meth:`~StatePublisher.refresh` (time passes: windows open or close,
observations age, typical speeds move on) build the next state off to the side and swap it
in with one assignment. Metrics are customized through each kernel's pool, with partial
updates when few edges change.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

import numpy as np

from gtfs.live import TransitLive
from routing.clock import SYSTEM_CLOCK, Clock, epoch_ms
from routing.conditional import merge_closures
from routing.kernels.cch import CustomizedMetric
from routing.kernels.td import (
    N_BINS,
    CostArgs,
    EffectArgs,
    ObservationArgs,
    all_edge_costs,
    live_parts_ms,
)
from routing.live import LIVE_PARTS, SPEED_SOURCES, LiveState, ordered_causes
from routing.profiles import Mode

if TYPE_CHECKING:
    from routing.road import ModeRouter, RoadRouter
    from routing.typical import TypicalSpeeds

log = logging.getLogger("citynav.state")

#: The live metric follows typical speeds in steps of this many ms.
TYPICAL_REFRESH_MS = 60_000
#: ...and ageing live observations in steps of this many ms.
SPEED_REFRESH_MS = 30_000
#: Conditional closures are laid out this far ahead of a cost model's instant (ms): routes
#: timed edge by edge longer than about a day see no conditional closure beyond it.
CONDITIONAL_HORIZON_MS = 49 * 3_600_000
#: The current state describes the clock's time floored to this step (so states published a
#: few seconds apart share weights, metrics and version unless something else changed).
NOW_STEP_MS = 30_000

T = TypeVar("T")

_EMPTY_I32 = np.zeros(0, np.int32)
_EMPTY_TTF = np.zeros((0, N_BINS), np.int32)
_EMPTY_F64 = np.zeros(0, np.float64)
_EMPTY_I64 = np.zeros(0, np.int64)
_EMPTY_BOOL = np.zeros(0, bool)
_EMPTY_U8 = np.zeros(0, np.uint8)
for _a in (_EMPTY_I32, _EMPTY_TTF, _EMPTY_F64, _EMPTY_I64, _EMPTY_BOOL, _EMPTY_U8):
    _a.flags.writeable = False
_NO_EFFECTS = (_EMPTY_I64, _EMPTY_BOOL, _EMPTY_I64, _EMPTY_F64, _EMPTY_I64, _EMPTY_I64,
               _EMPTY_I64)
_NO_OBS = (_EMPTY_F64, _EMPTY_I64, _EMPTY_F64, 0, 0)


class ModeWeights:
    """Edge weights (ms, int64, read-only; ``INF_WEIGHT`` = closed) and their metric — given,
    or customized on first use (a state built only for its weights, like the congestion map
    at another time, never pays for a metric)."""

    __slots__ = ("_factory", "_lock", "_metric", "banned_arcs", "weights_ms")

    def __init__(self, weights_ms: np.ndarray, metric: CustomizedMetric | None = None,
                 factory: Any = None, banned_arcs: np.ndarray | None = None) -> None:
        self.weights_ms = weights_ms
        #: kernel arcs (turns) closed by conditional restrictions in force (int64, sorted)
        self.banned_arcs = _EMPTY_I64 if banned_arcs is None else banned_arcs
        self._metric = metric
        self._factory = factory
        self._lock = threading.Lock()

    @property
    def metric(self) -> CustomizedMetric:
        """The customized metric for :attr:`weights_ms`."""
        m = self._metric
        if m is None:
            with self._lock:
                m = self._metric
                if m is None:
                    m = self._metric = self._factory()
                    self._factory = None
        return m


@dataclass(frozen=True, eq=False)
class CostModel:
    """Everything :func:`routing.kernels.td.edge_cost` needs for one mode at one instant's
    day type: typical rows (empty = none), profiles, free flow, live observations and incident
    effects (see :mod:`routing.kernels.td`)."""

    row_of_edge: np.ndarray
    ttf: np.ndarray
    free_ms: np.ndarray
    #: bool [n_edges] edges with a live observation or an incident effect (empty = none)
    live_edge: np.ndarray
    obs: ObservationArgs
    effects: EffectArgs
    day_type: str | None
    #: uint8 [n_edges] source code of each edge's live observation (empty = traffic centre)
    obs_source: np.ndarray = field(default_factory=lambda: _EMPTY_U8)

    def args(self) -> CostArgs:
        """Positional arguments after the two times, as the kernels take them."""
        return (self.row_of_edge, self.ttf, self.free_ms, self.live_edge, *self.obs,
                *self.effects)

    def costs_at(self, t_local_ms: int, t_epoch_ms: int) -> np.ndarray:
        """Every edge's travel time (ms) entered at that instant."""
        return all_edge_costs(int(t_local_ms), int(t_epoch_ms), *self.args())

    def live_added_s(self, edges: np.ndarray, share: np.ndarray, t_local_ms: np.ndarray,
                     t_epoch_ms: np.ndarray) -> dict[str, float]:
        """Seconds each live part (:data:`routing.live.LIVE_PARTS`: every speed source, then
        incidents) adds to a path above its typical time; edge ``i`` entered at
        ``t_local_ms[i]`` / ``t_epoch_ms[i]`` and travelled for the share ``share[i]``
        (see :func:`routing.kernels.td.live_parts_ms`)."""
        n = int(np.asarray(edges).shape[0])
        parts = live_parts_ms(np.asarray(edges, np.int64), np.asarray(share, np.float64),
                              np.broadcast_to(np.asarray(t_local_ms, np.int64), (n,)).copy(),
                              np.broadcast_to(np.asarray(t_epoch_ms, np.int64), (n,)).copy(),
                              self.obs_source, len(SPEED_SOURCES), *self.args())
        return {name: float(parts[i]) / 1000.0 for i, name in enumerate(LIVE_PARTS)}


@dataclass(frozen=True, eq=False)
class RoutingState:
    """What one answer reads (see the module docstring). Never changes after creation."""

    version: int
    at: datetime
    timezone: str
    snapshot_id: str
    live: LiveState
    road: Mapping[str, ModeWeights]
    free_flow: Mapping[str, ModeWeights]
    typical: TypicalSpeeds | None
    stop_closed: np.ndarray | None
    #: True for a state derived for another instant than "now" (a later departure)
    timed: bool = False
    _publisher: StatePublisher | None = field(default=None, repr=False)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, init=False)

    @property
    def at_ms(self) -> int:
        """:attr:`at` in Unix milliseconds."""
        return epoch_ms(self.at)

    @property
    def modes(self) -> tuple[str, ...]:
        """Road modes of the snapshot."""
        return tuple(self.road)

    def weights(self, mode: str) -> np.ndarray:
        """Edge weights (ms) of ``mode``."""
        return self.road[mode].weights_ms

    def metric(self, mode: str) -> CustomizedMetric:
        """The customized metric of ``mode``."""
        return self.road[mode].metric

    def unconditional_weights(self, mode: str) -> np.ndarray:
        """Edge weights of ``mode`` at :attr:`at` with every conditionally closed edge open
        (for re-evaluating conditions for another vehicle)."""
        if self._publisher is None:
            raise RuntimeError("state without publisher")
        return self._publisher.weights_at(self, mode, self.at, with_conditional=False)

    def banned_arcs(self, mode: str) -> np.ndarray:
        """Kernel arcs of ``mode`` closed at :attr:`at` by conditional turn restrictions."""
        return self.road[mode].banned_arcs

    def causes(self, mode: str) -> dict[int, tuple[str, ...]]:
        """Edge id → incidents acting on it in this state."""
        key = f"causes:{mode}"
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self.live.edge_causes(mode, self.at_ms)
        return hit

    def causes_on(self, mode: str, edges: np.ndarray) -> list[str]:
        """Incidents acting on these edges, in the order they are met."""
        return ordered_causes(self.causes(mode), edges)

    def in_effect_ids(self) -> tuple[str, ...]:
        """Incidents in force at :attr:`at`."""
        key = "in_effect"
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self.live.in_effect_ids(self.at_ms)
        return hit

    def routes_affected(self) -> dict[str, list[str]]:
        """Route id → incidents in force that affect it."""
        key = "routes_affected"
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self.live.routes_affected(self.at_ms)
        return hit

    def cost_model(self, mode: str, at: datetime | None = None) -> CostModel:
        """The cost model of ``mode`` for the day type of ``at`` (default :attr:`at`)."""
        if self._publisher is None:
            raise RuntimeError("state without publisher has no cost model")
        return self._publisher.cost_model(self, mode, at or self.at)

    def without_incidents(self, mode: str) -> ModeWeights:
        """Weights and metric of this instant with no incident effect (typical and live
        speeds kept): the "usual route" explanations compare against. Customized once per
        distinct weight vector."""
        if self.live.effects_of(mode).is_empty or not self.causes(mode):
            return self.road[mode]
        key = f"base:{mode}"
        with self._lock:
            hit = self._cache.get(key)
            if hit is None:
                assert self._publisher is not None
                hit = self._cache[key] = self._publisher.base_weights(self, mode)
        return hit

    def transit_live(self) -> TransitLive:
        """What the timetable queries take: the realtime trip data of :attr:`live` with the
        stops closed at :attr:`at` (incidents and realtime joined)."""
        hit = self._cache.get("transit_live")
        if hit is None:
            rt = self.live.transit_realtime
            closed = self.stop_closed
            if rt is not None and rt.stop_closed is not None:
                closed = rt.stop_closed if closed is None else (rt.stop_closed | closed)
            if self._publisher is not None:
                hit = self._publisher.transit_live_for(rt, closed)
            else:
                hit = _new_transit_live(rt, closed)
            self._cache["transit_live"] = hit
        return hit

    def local_time(self) -> datetime:
        """:attr:`at` in the city's timezone."""
        return self.at.astimezone(ZoneInfo(self.timezone))

    def memo(self, key: str, make: Callable[[], T]) -> T:
        """A value derived from this state only, made by ``make`` on first use and kept as
        long as the state (e.g. the index of transit alerts and vehicles,
        :mod:`routing.transit_info`). ``make`` runs outside any lock (it may use other memos);
        when two requests race, the first value stored wins."""
        hit = self._cache.get(key)
        if hit is None:
            made = make()
            with self._lock:
                hit = self._cache.setdefault(key, made)
        return hit



_transit_versions = itertools.count(1)


def _ro_bool(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=np.bool_)
    a.flags.writeable = False
    return a


def _new_transit_live(rt: Any, closed: np.ndarray | None) -> TransitLive:
    return TransitLive(version=next(_transit_versions), stop_closed=closed,
                       days=rt.days if rt is not None else {})


def _same_closed(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    return a is b or (a is not None and b is not None and np.array_equal(a, b))


def _same_content(a: RoutingState, b: RoutingState) -> bool:
    """True when two states would answer every question alike (same weights, closed stops,
    live inputs and typical speeds), so the version need not change."""
    la, lb = a.live, b.live
    return (all(a.road[m] is b.road[m] for m in a.road)
            and (a.stop_closed is b.stop_closed or (
                a.stop_closed is not None and b.stop_closed is not None
                and np.array_equal(a.stop_closed, b.stop_closed)))
            and a.typical is b.typical and la.seq == lb.seq
            and la.incident_ids == lb.incident_ids
            and (la.speeds.version if la.speeds is not None else 0)
            == (lb.speeds.version if lb.speeds is not None else 0)
            and la.transit_realtime is lb.transit_realtime
            and la.realtime_version == lb.realtime_version
            and a.in_effect_ids() == b.in_effect_ids())


def _digest(*arrays: np.ndarray) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        h.update(np.ascontiguousarray(a).view(np.uint8).tobytes())
    return h.digest()


class StatePublisher:
    """Builds routing states and swaps the current one (one per process)."""

    def __init__(self, router: RoadRouter, typical: TypicalSpeeds | None = None,
                 timezone: str = "UTC", n_stops: int | None = None,
                 clock: Clock = SYSTEM_CLOCK, holidays: tuple[Any, ...] = ()) -> None:
        self.router = router
        self.typical = typical
        self.timezone = timezone
        self.n_stops = n_stops
        self.clock = clock
        self.holidays = holidays
        self._zone = ZoneInfo(timezone)
        self._lock = threading.RLock()
        self._derived: OrderedDict[tuple[Any, ...], RoutingState] = OrderedDict()
        self._transit_lives: list[tuple[Any, np.ndarray | None, TransitLive]] = []
        self.free_flow = MappingProxyType({
            m: ModeWeights(mr.free_flow_ms, mr.kernel.customize(mr.arc_weights(mr.free_flow_ms)))
            for m, mr in router.modes.items()})
        self._key: tuple[Any, ...] | None = None
        self.last_apply_ms: dict[str, float] = {}
        live = LiveState()
        now = self._step(None)
        self._versions = itertools.count(1)
        self._current = self._build(live, now, 0, previous=None)
        self._key = self._time_key(live, now)

    def transit_live_for(self, rt: Any, closed: np.ndarray | None) -> TransitLive:
        """The :class:`TransitLive` of these realtime data and closed stops — the same value
        (same version) for every state that has the same ones, so the timetable queries'
        per-value preparation is not redone for each published or derived state."""
        with self._lock:
            for i, (r, c, tl) in enumerate(self._transit_lives):
                if r is rt and _same_closed(c, closed):
                    if i:
                        self._transit_lives.insert(0, self._transit_lives.pop(i))
                    return tl
            tl = _new_transit_live(rt, closed)
            self._transit_lives.insert(0, (rt, closed, tl))
            del self._transit_lives[4:]
            return tl

    # ---------------------------------------------------------------- reading
    def current(self) -> RoutingState:
        """The state answers use now (take it once per request)."""
        return self._current

    # ---------------------------------------------------------------- cost model
    def _local(self, t: datetime) -> tuple[int, str | None]:
        from routing.typical import day_type_of

        local = t.astimezone(self._zone)
        ms = ((local.hour * 60 + local.minute) * 60 + local.second) * 1000 + \
            local.microsecond // 1000
        return ms, day_type_of(local.date(), self.holidays)

    @staticmethod
    def _alive_mask(state: RoutingState, speeds: Any, at_ms: int) -> np.ndarray:
        """Edges whose live observation still counts at ``at_ms`` (an observation only ages,
        so none of the others can count later): the edges the cost model must look up
        (empty = none). Kept with the state for its own instant."""
        key = f"alive:{speeds.version}:{at_ms}"
        hit = state._cache.get(key) if at_ms == state.at_ms else None
        if hit is None:
            alive = speeds.alive(at_ms)
            hit = _ro_bool(alive) if alive.any() else _EMPTY_BOOL
            if at_ms == state.at_ms:
                state._cache[key] = hit
        return hit

    def cost_model(self, state: RoutingState, mode: str, at: datetime,
                   with_effects: bool = True, with_conditional: bool = True) -> CostModel:
        """The cost model of ``mode`` in ``state``'s live inputs for the day type of ``at``,
        for instants from ``at`` on (live observations already expired at ``at`` are left
        out)."""
        mr = self.router.modes[mode]
        _, day_type = self._local(at)
        typ = self.typical if mode == Mode.CAR else None
        rows = _EMPTY_I32
        ttf = _EMPTY_TTF
        if typ is not None and typ.ttf_ms.shape[0]:
            rows = np.asarray(typ.row[typ.day_index(day_type or "weekday")])
            ttf = typ.ttf_ms
        obs: ObservationArgs = _NO_OBS
        live_edge = _EMPTY_BOOL
        obs_source = _EMPTY_U8
        speeds = state.live.speeds
        if mode == Mode.CAR and speeds is not None:
            obs = speeds.kernel_args()
            live_edge = self._alive_mask(state, speeds, epoch_ms(at))
            obs_source = speeds.source_codes()
        eff = state.live.effects_of(mode)
        effects = _NO_EFFECTS
        cond = mr.conditional
        if with_conditional and cond is not None and cond.edge.shape[0]:
            # conditional access: closures in force from ``at`` on, as effect entries
            lo = epoch_ms(at) // 3_600_000 * 3_600_000
            key = f"cond:{mode}:{lo}:{with_effects}"
            hit = state._cache.get(key)
            if hit is None:
                c_edge, c_lo, c_hi = cond.closure_windows(lo, lo + CONDITIONAL_HORIZON_MS)
                base = eff.kernel_args() if with_effects and not eff.is_empty else _NO_EFFECTS
                merged = merge_closures(base, mr.free_flow_ms.shape[0], c_edge, c_lo, c_hi)
                mask = np.zeros(mr.free_flow_ms.shape[0], bool)
                mask[c_edge] = True
                if with_effects and not eff.is_empty:
                    mask |= eff.has_entry
                mask.flags.writeable = False
                hit = state._cache[key] = (merged, mask)
            merged, mask = hit
            effects = merged  # type: ignore[assignment]
            live_edge = mask if live_edge.shape[0] == 0 else (live_edge | mask)
            return CostModel(rows, ttf, mr.free_flow_ms, live_edge, obs, effects,
                             day_type if typ is not None else None, obs_source)
        if with_effects and not eff.is_empty:
            effects = eff.kernel_args()
            if live_edge.shape[0] == 0:
                live_edge = eff.has_entry
            else:
                own = epoch_ms(at) == state.at_ms  # cached for the state's own instant
                key = f"live_edge:{mode}"
                union = state._cache.get(key) if own else None
                if union is None:
                    union = live_edge | eff.has_entry
                    union.flags.writeable = False
                    if own:
                        state._cache[key] = union
                live_edge = union
        return CostModel(rows, ttf, mr.free_flow_ms, live_edge, obs, effects,
                         day_type if typ is not None else None, obs_source)

    def weights_at(self, state: RoutingState, mode: str, at: datetime,
                   with_effects: bool = True, with_conditional: bool = True) -> np.ndarray:
        """Edge weights (ms) of ``mode`` at instant ``at`` under ``state``'s live inputs
        (``with_conditional=False``: conditional access left open)."""
        t_local, _ = self._local(at)
        cm = self.cost_model(state, mode, at, with_effects, with_conditional)
        w = cm.costs_at(t_local, epoch_ms(at))
        w.flags.writeable = False
        return w

    # ---------------------------------------------------------------- building
    def _time_key(self, live: LiveState, t: datetime) -> tuple[Any, ...]:
        """Changes exactly when the weights or closed stops at ``t`` may change."""
        t_ms = epoch_ms(t)
        parts: list[Any] = [id(live)]
        for mode in self.router.modes:
            tl = live.effects_of(mode)
            parts.append(b"" if tl.is_empty else _digest(np.packbits(tl.active(t_ms))))
        sc = live.stop_closures
        parts.append(_digest(np.packbits((sc.lo_ms <= t_ms) & (t_ms < sc.hi_ms)))
                     if sc.stop.shape[0] else b"")
        if self.typical is not None and self.typical.ttf_ms.shape[0]:
            t_local, day = self._local(t)
            parts.append((day, t_local // TYPICAL_REFRESH_MS))
        if live.speeds is not None and live.speeds.alive(t_ms).any():
            parts.append(t_ms // SPEED_REFRESH_MS)
        for mr in self.router.modes.values():
            if mr.conditional is not None and not mr.conditional.is_empty:
                parts.append(mr.conditional.key(t))
        return tuple(parts)

    def _build(self, live: LiveState, at: datetime, version: int,
               previous: RoutingState | None, pooled: bool = True,
               timed: bool = False) -> RoutingState:
        at = at.astimezone(UTC)
        skeleton = RoutingState(version, at, self.timezone, self.router.snapshot.snapshot_id,
                                live, self.free_flow, self.free_flow, self.typical, None,
                                timed, self)
        road: dict[str, ModeWeights] = {}
        timing: dict[str, float] = {}
        for mode, mr in self.router.modes.items():
            w = self.weights_at(skeleton, mode, at)
            bans = self.banned_arcs_at(mode, at)
            prev = previous.road.get(mode) if previous is not None else None
            ff = self.free_flow[mode]
            if prev is not None and np.array_equal(prev.weights_ms, w) and \
                    np.array_equal(prev.banned_arcs, bans):
                road[mode] = prev
            elif np.array_equal(ff.weights_ms, w) and bans.shape[0] == 0:
                road[mode] = ff
            elif pooled:
                t0 = time.perf_counter()
                road[mode] = ModeWeights(w, self._customize(mr, w, pooled, bans),
                                         banned_arcs=bans)
                timing[mode] = (time.perf_counter() - t0) * 1000
            else:
                road[mode] = ModeWeights(w, factory=functools.partial(
                    self._customize, mr, w, False, bans), banned_arcs=bans)
        stop_closed = None
        if self.n_stops is not None:
            stop_closed = live.stop_closures.mask_at(epoch_ms(at), self.n_stops)
            if previous is not None and previous.stop_closed is not None and \
                    np.array_equal(previous.stop_closed, stop_closed):
                stop_closed = previous.stop_closed
            stop_closed.flags.writeable = False
        if timing:
            self.last_apply_ms = timing
        return RoutingState(version, at, self.timezone, self.router.snapshot.snapshot_id, live,
                            MappingProxyType(road), self.free_flow, self.typical, stop_closed,
                            timed, self)

    def banned_arcs_at(self, mode: str, at: datetime) -> np.ndarray:
        """Kernel arcs of ``mode`` closed at ``at`` by conditional turn restrictions
        (int64, sorted, read-only)."""
        cond = self.router.modes[mode].conditional
        if cond is None or cond.arc.shape[0] == 0:
            return _EMPTY_I64
        bans = cond.banned_arcs(cond.active(at))
        bans.flags.writeable = False
        return bans

    @staticmethod
    def _customize(mr: ModeRouter, w: np.ndarray, pooled: bool,
                   bans: np.ndarray | None = None) -> CustomizedMetric:
        arc_w = mr.arc_weights(w, bans)
        return mr.kernel.customize_pooled(arc_w) if pooled else mr.kernel.customize(arc_w)

    def base_weights(self, state: RoutingState, mode: str) -> ModeWeights:
        """Weights and a metric of ``state``'s instant without incident effects."""
        w = self.weights_at(state, mode, state.at, with_effects=False)
        cur = state.road[mode]
        if np.array_equal(w, cur.weights_ms):
            return cur
        ff = self.free_flow[mode]
        bans = cur.banned_arcs
        if np.array_equal(w, ff.weights_ms) and bans.shape[0] == 0:
            return ff
        return ModeWeights(w, factory=functools.partial(
            self._customize, self.router.modes[mode], w, False, bans), banned_arcs=bans)

    # ---------------------------------------------------------------- writing
    def _step(self, now: datetime | None) -> datetime:
        t = now or self.clock.now()
        ms = epoch_ms(t)
        return t - timedelta(milliseconds=ms % NOW_STEP_MS, microseconds=t.microsecond % 1000)

    def publish(self, live: LiveState, now: datetime | None = None,
                typical: TypicalSpeeds | None = None) -> RoutingState:
        """Make ``live`` (and new ``typical`` speeds, if given) current at ``now`` (default:
        the clock; floored to :data:`NOW_STEP_MS`)."""
        with self._lock:
            now = self._step(now)
            if typical is not None:
                self.typical = typical
            cur = self._current
            state = self._build(live, now, cur.version, cur)
            if not _same_content(state, cur):
                state = dataclasses.replace(state, version=next(self._versions))
            self._current = state
            self._key = self._time_key(live, now)
            self._derived.clear()
            log.info("routing state v%d (seq %d) published: %s", state.version, live.seq,
                     {k: round(v, 1) for k, v in self.last_apply_ms.items()})
            return state

    def refresh(self, now: datetime | None = None) -> RoutingState | None:
        """Rebuild the current state at ``now`` when time changed what it holds (incident
        windows, ageing observations, typical speeds); returns the new state or ``None``."""
        with self._lock:
            now = self._step(now)
            live = self._current.live
            key = self._time_key(live, now)
            if key == self._key:
                return None
            cur = self._current
            state = self._build(live, now, cur.version, cur)
            if not _same_content(state, cur):
                state = dataclasses.replace(state, version=next(self._versions))
            self._current = state
            self._key = key
            return state

    def custom(self, weights: Mapping[str, np.ndarray], base: RoutingState | None = None
               ) -> RoutingState:
        """A state (not published) in which the given modes have exactly these edge weights
        (ms; ``INF_WEIGHT`` = closed) and the others those of ``base`` (default: the current
        state) — for what-if questions and checks. Same live inputs and version as
        ``base``."""
        base = base or self._current
        road = dict(base.road)
        for mode, w in weights.items():
            mr = self.router.modes[mode]
            arr = np.ascontiguousarray(w, dtype=np.int64)
            if arr.shape != mr.free_flow_ms.shape:
                raise ValueError(f"{mode}: expected {mr.free_flow_ms.shape[0]} edge weights")
            arr.flags.writeable = False
            bans = base.road[mode].banned_arcs
            road[mode] = ModeWeights(arr, factory=functools.partial(self._customize, mr, arr,
                                                                    False, bans),
                                     banned_arcs=bans)
        return RoutingState(base.version, base.at, self.timezone, base.snapshot_id, base.live,
                            MappingProxyType(road), self.free_flow, self.typical,
                            base.stop_closed, base.timed, self)

    def at(self, state: RoutingState, t: datetime) -> RoutingState:
        """A state with ``state``'s live inputs at the instant ``t`` (e.g. a later departure, the
        congestion map at 17:40): the weights and closed stops in force then, exactly. Same
        version; metrics customized on first use; the last few are cached."""
        key = (state.version, epoch_ms(t))
        with self._lock:
            hit = self._derived.get(key)
            if hit is not None:
                self._derived.move_to_end(key)
                return hit
        derived = self._build(state.live, t, state.version, state, pooled=False, timed=True)
        with self._lock:
            self._derived[key] = derived
            while len(self._derived) > 16:
                self._derived.popitem(last=False)
        return derived
