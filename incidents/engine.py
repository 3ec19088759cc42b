"""Keeps the routing state in step with the store: incidents and live speeds, in every process.

* After a write in this process the API calls :meth:`IncidentEngine.sync` before answering,
  so the next answer already reflects the change.
* A background thread picks up changes committed by other processes (the CLI, other workers
  and replicas) by following the store's two logs — incident changes and speed batches —
  reading only what came after the last applied sequence numbers; on PostgreSQL a LISTEN
  connection wakes it on each NOTIFY, and polling (every 0.25 s, two indexed reads) is the
  fallback on both stores. The same loop lets time act: incident windows open and close,
  observations age, typical speeds move on (:meth:`routing.state.StatePublisher.refresh`).
* Typical speeds learn from every applied traffic-centre speed batch, in log order, one batch
  at a time, in the background (so no update is lost and no request waits for it). Batches
  of bus probes (actor ``bus_probe:<feed>``) count as live speeds but are not learned: a
  bus is slower than the cars typical speeds describe (it brakes for every stop, keeps to
  its own limits), so learning from it would drag car speeds down for good.
* Vehicle positions this process ingests are handed to :attr:`IncidentEngine.
  on_vehicle_positions` (buses as probes, :mod:`incidents.probes`) once, here only; what
  the probes measure reaches every process through the speed log.

The engine turns incidents into :class:`routing.live.LiveState` (see :mod:`incidents.effects`)
and hands each new one to the one :class:`routing.state.StatePublisher` of the process, which
swaps it in. Matches of incident geometry and their effects are cached by (id, version).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from gtfs.realtime.decode import FeedRejected
from incidents.db import PostgresDatabase
from incidents.effects import IncidentEffects, build_live_state, incident_effects
from incidents.matching import MatchResult, NetworkMatcher
from incidents.model import Incident, IncidentStatus
from incidents.realtime import CheckedMessage, FeedFormat, RealtimeFeeds, UnknownFeed
from incidents.realtimelog import RealtimeLog
from incidents.speedlog import SpeedLog
from incidents.speeds import BatchReport, SpeedBoard, SpeedUpdates, source_of_actor
from incidents.store import IncidentStore
from routing.clock import SYSTEM_CLOCK, Clock
from routing.live import SOURCE_TRAFFIC_CENTRE, LiveState
from routing.snapshot import Snapshot
from routing.state import RoutingState, StatePublisher

log = logging.getLogger("citynav.incidents")
OPEN_STATUSES = (IncidentStatus.SCHEDULED, IncidentStatus.ACTIVE)
#: Weekly recurring incidents are enumerated over [now - 2 days, now + 35 days].
HORIZON_BEFORE = timedelta(days=2)
HORIZON_AFTER = timedelta(days=35)
#: Weight of one observation when typical speeds learn (exponential moving average).
LEARN_WEIGHT = 0.1


class TransitStops:
    """What the engine needs to know about the timetable's stops (plain data)."""

    def __init__(self, stop_ids: Sequence[str], lat: np.ndarray, lon: np.ndarray,
                 routes_by_stop: Sequence[Sequence[str]]) -> None:
        self.stop_ids = list(stop_ids)
        self.lat = np.asarray(lat)
        self.lon = np.asarray(lon)
        self.routes_by_stop = routes_by_stop
        self.index = {s: i for i, s in enumerate(self.stop_ids)}


@dataclasses.dataclass(frozen=True)
class EngineNetwork:
    """What an engine reads of the snapshot and never changes: the incident-geometry
    matcher and each mode's free-flow times and edge lengths. Built once, it can serve every
    engine of the snapshot (a pre-fork server builds it before forking its workers, which
    then share its pages)."""

    matcher: NetworkMatcher
    free_flow: dict[str, np.ndarray]
    edge_length: dict[str, np.ndarray]

    @classmethod
    def build(cls, snapshot: Snapshot, stops: TransitStops | None = None) -> EngineNetwork:
        """The network parts of ``snapshot`` (with the timetable's ``stops`` to match)."""
        return cls(NetworkMatcher(snapshot, (stops.stop_ids, stops.lat, stops.lon)
                                  if stops is not None else None),
                   {m: np.asarray(a.edge_time_ms, np.int64)
                    for m, a in snapshot.modes.items()},
                   {m: np.asarray(a.edge_length_m, dtype=np.float64)
                    for m, a in snapshot.modes.items()})


class IncidentEngine:
    """Turns the store's open incidents and speed log into live states for the publisher."""

    def __init__(self, store: IncidentStore, snapshot: Snapshot, publisher: StatePublisher,
                 stops: TransitStops | None = None, clock: Clock = SYSTEM_CLOCK,
                 poll_interval_s: float = 0.25, learn: bool = True,
                 realtime: RealtimeFeeds | None = None,
                 network: EngineNetwork | None = None) -> None:
        """``network``: the snapshot's :class:`EngineNetwork` if already built (with the
        same ``stops``); built here otherwise."""
        self.store = store
        self.snapshot = snapshot
        self.publisher = publisher
        self.clock = clock
        self.poll_interval_s = poll_interval_s
        self.stops = stops
        if network is None:
            network = EngineNetwork.build(snapshot, stops)
        self.matcher = network.matcher
        self.free_flow = network.free_flow
        self.edge_length = network.edge_length
        self.n_edges = {m: int(w.shape[0]) for m, w in self.free_flow.items()}
        self.speeds = SpeedBoard(snapshot, self.matcher)
        self.speed_log = SpeedLog(store.db)
        #: GTFS-Realtime data of this process (None: the snapshot has no timetable)
        self.realtime = realtime
        self.realtime_log = RealtimeLog(store.db)
        self._rt_seq = -1
        #: called with each vehicle-positions message this process logs (buses as probes)
        self.on_vehicle_positions: Callable[[CheckedMessage, datetime], None] | None = None
        #: called (outside the engine's lock) with the state in force after every sync: the
        #: event stream and the commute watches wake on it
        self.on_sync: list[Callable[[RoutingState], None]] = []
        self.learn = learn and publisher.typical is not None
        self._lock = threading.RLock()
        self._matches: dict[tuple[str, int], MatchResult] = {}
        self._effects: dict[tuple[str, int, int], IncidentEffects] = {}
        self._by_id: dict[str, Incident] = {}
        self._seq = -1
        #: Unix time of the last sync with the store (0: never)
        self.synced_at = 0.0
        self._speed_seq = -1
        self._horizon_day: int | None = None
        self._dirty = True
        self._learn_queue: deque[SpeedUpdates] = deque()
        #: speed batches blended into the typical speeds so far (each batch exactly once)
        self.learned_batches = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._listener: threading.Thread | None = None

    # ---------------------------------------------------------------- matching
    def match(self, geometry: Any, direction: Any = None) -> MatchResult:
        """Match a geometry onto the network (not cached; used to validate input)."""
        return self.matcher.match(geometry, direction)

    def match_incident(self, inc: Incident) -> MatchResult:
        """The (cached) match of a stored incident's geometry."""
        key = (inc.id, inc.version)
        m = self._matches.get(key)
        if m is None:
            m = self.matcher.match(inc.geometry, inc.direction)
            self._matches[key] = m
        return m

    # ---------------------------------------------------------------- following the store
    def _read_incidents(self) -> bool:
        """Catch up with incident changes: a full read the first time, then only the changes
        committed since. Returns True when something changed."""
        seq = self.store.last_seq()
        if seq == self._seq:
            return False
        if self._seq < 0:
            incidents: dict[str, Incident] = {}
            offset = 0
            while True:
                page = self.store.list_incidents(status=list(OPEN_STATUSES), limit=500,
                                                 offset=offset)
                incidents.update((i.id, i) for i in page)
                if len(page) < 500:
                    break
                offset += 500
            self._by_id = incidents
        else:
            last = self._seq
            while True:
                changes = self.store.changes_since(last)
                if not changes:
                    break
                for ch in changes:
                    last = ch.seq
                    if ch.after is None:
                        self._by_id.pop(ch.incident_id, None)
                        continue
                    inc = Incident.model_validate(ch.after)
                    if inc.status in OPEN_STATUSES:
                        self._by_id[inc.id] = inc
                    else:
                        self._by_id.pop(inc.id, None)
            seq = max(seq, last)
        self._seq = seq
        live = {(i.id, i.version) for i in self._by_id.values()}
        self._matches = {k: v for k, v in self._matches.items() if k in live}
        self._effects = {k: v for k, v in self._effects.items() if k[:2] in live}
        return True

    def _read_speeds(self, now: datetime) -> bool:
        """Apply speed batches committed since the last one read (on start: the batches that
        still matter). Returns True when observations changed."""
        last = self.speed_log.last_seq()
        if last == self._speed_seq:
            return False
        after = now - timedelta(seconds=self.speeds.max_age_s) if self._speed_seq < 0 else None
        seq = max(self._speed_seq, 0)
        changed = False
        while True:
            batches = self.speed_log.since(seq, self.snapshot.snapshot_id, after)
            if not batches:
                break
            for b in batches:
                seq = b.seq
                if b.updates:
                    source = source_of_actor(b.actor)
                    self.speeds.apply(b.updates, source)
                    if self.learn and source == SOURCE_TRAFFIC_CENTRE:
                        self._learn_queue.append(b.updates)
                    changed = True
        self._speed_seq = max(seq, last)
        return changed

    def _read_realtime(self, now: datetime) -> bool:
        """Apply realtime messages committed since the last one read (on start: from the
        last full dataset of each feed and kind). Returns True when realtime data changed."""
        if self.realtime is None:
            return False
        last = self.realtime_log.last_seq()
        if last == self._rt_seq:
            return False
        seq = self.realtime_log.replay_start() if self._rt_seq < 0 else self._rt_seq
        changed = False
        while True:
            msgs = self.realtime_log.since(seq)
            if not msgs:
                break
            for m in msgs:
                seq = m.seq
                changed = self.realtime.apply(m, now) or changed
        self._rt_seq = max(seq, last)
        return changed

    # ---------------------------------------------------------------- realtime
    def ingest_realtime(self, feed_id: str, body: bytes, fmt: FeedFormat, source: str,
                        kind: str | None = None) -> tuple[CheckedMessage, RoutingState]:
        """Check a GTFS-Realtime message, log it and apply it here before returning (other
        processes follow the log). A refused message is logged as refused (the status of
        every process counts it) and :class:`gtfs.realtime.decode.FeedRejected` raised;
        :class:`incidents.realtime.UnknownFeed` for a feed id not in the snapshot;
        ``ValueError`` for an unknown ``kind``."""
        rt = self.realtime
        if rt is None:
            raise UnknownFeed("this snapshot has no timetable: no realtime feed")
        now = self.clock.now()
        try:
            checked = rt.check(feed_id, body, fmt, now, kind)
        except FeedRejected as exc:
            self.realtime_log.append_rejection(feed_id, kind or rt.guess_kind(body, fmt),
                                               source, exc.reason, exc.detail, now)
            self.sync(now)
            raise
        seq = self.realtime_log.append(feed_id, checked.kind, source, checked.body, now,
                                       checked.header_at, checked.decoded.is_full_dataset)
        rt.remember(seq, checked)
        state = self.sync(now)
        if checked.kind == "vehicle_positions" and self.on_vehicle_positions is not None:
            try:
                self.on_vehicle_positions(checked, now)
                state = self.publisher.current()  # with what the probes measured
            except Exception:  # noqa: BLE001 - probes are a bonus; the message is applied
                log.exception("bus probes failed for %s", feed_id)
        return checked, state

    def _live_state(self, now: datetime) -> LiveState:
        lo, hi = now - HORIZON_BEFORE, now + HORIZON_AFTER
        day = int(now.timestamp() // 86_400)
        stop_index = self.stops.index if self.stops is not None else None
        stop_routes = self.stops.routes_by_stop if self.stops is not None else ()
        effects: dict[str, IncidentEffects] = {}
        unmatched: list[str] = []
        for inc in self._by_id.values():
            key = (inc.id, inc.version, day)
            eff = self._effects.get(key)
            if eff is None:
                match = self.match_incident(inc)
                eff = incident_effects(inc, match, self.free_flow, self.edge_length, lo, hi,
                                       stop_index, stop_routes)
                self._effects[key] = eff
            if eff.windows:
                effects[inc.id] = eff
            if self._matches.get((inc.id, inc.version)) is None:
                unmatched.append(inc.id)
        self._effects = {k: v for k, v in self._effects.items() if k[2] == day}
        self._horizon_day = day
        live = build_live_state(self._seq, effects, self.n_edges, (lo, hi),
                                unmatched=unmatched, speeds=self.speeds.observations())
        rt = self.realtime
        if rt is not None:
            live = dataclasses.replace(live, transit_realtime=rt.transit_live(now),
                                       transit_alerts=rt.alerts(), vehicles=rt.vehicles(),
                                       realtime_version=rt.version)
        return live

    def sync(self, now: datetime | None = None) -> RoutingState:
        """Bring the routing state up to date with the store at ``now`` (default: the clock)
        and return the state in force afterwards. Publishes a new state when incidents or
        speeds changed; otherwise lets time act (:meth:`StatePublisher.refresh`)."""
        now = now or self.clock.now()
        with self._lock:
            changed = self._read_incidents()
            changed = self._read_speeds(now) or changed
            changed = self._read_realtime(now) or changed
            self.synced_at = time.time()
            day = int(now.timestamp() // 86_400)
            if changed or self._dirty or day != self._horizon_day:
                live = self._live_state(now)
                self._dirty = False
                state = self.publisher.publish(live, now)
            else:
                self.publisher.refresh(now)
                state = self.publisher.current()
        for listener in tuple(self.on_sync):
            try:
                listener(state)
            except Exception:  # noqa: BLE001 - a listener never stops the engine
                log.exception("live engine: sync listener failed")
        return state

    def behind(self) -> int:
        """Changes committed to the store (incidents, speed batches, realtime messages)
        that this process has not applied yet (its lag behind the change log)."""
        with self._lock:
            applied = (max(self._seq, 0), max(self._speed_seq, 0), max(self._rt_seq, 0))
        head = (self.store.last_seq(), self.speed_log.last_seq(), self.realtime_log.last_seq())
        return sum(max(0, h - a) for h, a in zip(head, applied, strict=True))

    # ---------------------------------------------------------------- speeds
    def post_speeds(self, items: list[Any], actor: str,
                    area: tuple[float, float, float, float] | None = None
                    ) -> tuple[BatchReport, RoutingState]:
        """Validate a batch (apply-the-valid-ones; observations outside ``area``, W, S, E, N,
        are rejected), commit the valid observations to the speed log and apply them here
        before returning (other processes follow the log)."""
        now = self.clock.now()
        report = self.speeds.validate(items, now, area)
        if report.updates:
            self.speed_log.append(self.snapshot.snapshot_id, actor, report.updates, now)
            state = self.sync(now)
            self._wake.set()  # learn in the background
        else:
            state = self.publisher.current()
        return report, state

    @property
    def learning_backlog(self) -> int:
        """Speed batches applied but not yet learned into the typical speeds."""
        return len(self._learn_queue)

    def learn_pending(self) -> int:
        """Blend queued batches into the typical speeds, oldest first, and publish the new
        profiles; returns the number of batches learned."""
        from routing.typical_learn import learn_from_arrays

        n = 0
        while True:
            with self._lock:
                if not self._learn_queue:
                    break
                updates = self._learn_queue.popleft()
                typical = self.publisher.typical
                if typical is None:
                    continue
                edges, speed, at_s, _ = updates.per_edge()
                learned = learn_from_arrays(typical, edges, at_s, speed, weight=LEARN_WEIGHT,
                                            tz=self.publisher.timezone)
                self.publisher.publish(self.publisher.current().live, self.clock.now(),
                                       typical=learned)
                self.learned_batches += 1
                n += 1
        return n

    # ---------------------------------------------------------------- background
    def start(self) -> None:
        """Follow the store in background threads (other processes' changes, time)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="live-engine", daemon=True)
        self._thread.start()
        if self.store.dialect == "postgresql":
            self._listener = threading.Thread(target=self._listen, name="live-listen",
                                              daemon=True)
            self._listener.start()

    def stop(self) -> None:
        """Stop the background threads."""
        self._stop.set()
        self._wake.set()
        for t in (self._thread, self._listener):
            if t is not None:
                t.join(timeout=5)
        self._thread = self._listener = None

    def _listen(self) -> None:
        """PostgreSQL: wake on any NOTIFY on the channel (incident changes, speed batches,
        realtime messages) and sync at once; polling stays as the fallback and handles
        time."""
        db = self.store.db
        if not isinstance(db, PostgresDatabase):
            return
        while not self._stop.is_set():
            try:
                with db.notifications() as wait:
                    self.sync()  # catch up with anything committed before LISTEN
                    while not self._stop.is_set():
                        if wait(1.0):
                            self.sync()
            except Exception:  # noqa: BLE001 - fall back to polling; retry shortly
                log.exception("live engine: LISTEN failed; polling continues")
                self._stop.wait(2.0)

    def _run(self) -> None:
        prune_at = 0.0
        while not self._stop.is_set():
            try:
                self.sync()
                if self._learn_queue:
                    self.learn_pending()
                t = self.clock.now().timestamp()
                if t > prune_at:
                    self.speed_log.prune(self.clock.now())
                    self.realtime_log.prune(self.clock.now())
                    prune_at = t + 300
            except Exception:  # noqa: BLE001 - keep following; the error is logged
                log.exception("live engine: sync failed")
            self._wake.wait(self.poll_interval_s)
            self._wake.clear()


def routes_by_stop(n_stops: int, stop_pattern_offsets: np.ndarray, stop_patterns: np.ndarray,
                   pattern_route: np.ndarray, route_ids: Sequence[str]) -> list[list[str]]:
    """Route ids serving each stop (from the timetable's stop → pattern → route arrays)."""
    spo = np.asarray(stop_pattern_offsets)
    sp = np.asarray(stop_patterns)
    pr = np.asarray(pattern_route)
    return [sorted({route_ids[int(pr[p])] for p in sp[spo[s]:spo[s + 1]].tolist()})
            for s in range(n_stops)]
