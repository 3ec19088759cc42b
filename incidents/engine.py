"""Keeps the routers' live state in step with the incident store.

* After a write in this process the API calls :meth:`IncidentEngine.sync` before answering,
  so the next route already reflects the change.
* Background threads pick up changes committed by other processes (the CLI, other
  replicas) by following the store's change sequence — on PostgreSQL a LISTEN connection
  wakes on each NOTIFY; a polling loop (every 0.25 s, one indexed read) is the fallback on
  both stores — reading only the changes since the last applied sequence number, and
  re-apply the state when a time window opens or closes (the effects module's change
  points) or live speed observations age.
* :meth:`IncidentEngine.state_at` answers "the state at 10:30" for routes departing later,
  cached per change-point interval.

Matches of incident geometry are cached by (id, version); so are per-incident edge effects.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from incidents.effects import build_live_state, change_points, in_effect_ids, interval_start
from incidents.matching import MatchResult, NetworkMatcher
from incidents.model import Incident, IncidentStatus
from incidents.speeds import SpeedBoard
from incidents.store import IncidentStore
from routing.live import LiveState
from routing.plan import Planner
from routing.road import RoadRouter

log = logging.getLogger("citynav.incidents")
OPEN_STATUSES = (IncidentStatus.SCHEDULED, IncidentStatus.ACTIVE)


class IncidentEngine:
    """Turns the store's open incidents into :class:`LiveState` for the routers."""

    def __init__(self, store: IncidentStore, road: RoadRouter, planner: Planner | None = None,
                 poll_interval_s: float = 0.25) -> None:
        self.store, self.road, self.planner = store, road, planner
        self.poll_interval_s = poll_interval_s
        stops = None
        self._stop_index: dict[str, int] | None = None
        self._n_stops: int | None = None
        self._stop_routes: list[list[str]] = []
        if planner is not None:
            tt = planner.tt
            stops = (planner.stop_ids, np.asarray(tt.arrays["stop_lat"]),
                     np.asarray(tt.arrays["stop_lon"]))
            self._stop_index = {s: i for i, s in enumerate(planner.stop_ids)}
            self._n_stops = tt.n_stops
            self._stop_routes = _routes_by_stop(planner)
        self.matcher = NetworkMatcher(road.snapshot, stops)
        self.free_flow = {m: mr.free_flow_ms for m, mr in road.modes.items()}
        self.speeds = SpeedBoard(road.snapshot, self.matcher, self.free_flow["car"])
        self.edge_length = {m: np.asarray(mr.arrays.edge_length_m, dtype=np.float64)
                            for m, mr in road.modes.items()}
        self._lock = threading.RLock()
        self._matches: dict[tuple[str, int], MatchResult] = {}
        self._effects: dict[tuple[str, int], Any] = {}
        self._incidents: list[Incident] = []
        self._by_id: dict[str, Incident] = {}
        self._seq = -1
        self._points: list[datetime] = []
        self._key: tuple[int, frozenset[str]] | None = None
        self._version = 0
        self._future: dict[tuple[int, datetime | None], LiveState] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

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

    # ---------------------------------------------------------------- state
    @property
    def live_version(self) -> int:
        """Version of the state currently applied to the routers."""
        return self.road.live_state.version

    def _reload(self) -> None:
        """Catch up with the store: a full read the first time, then only the changes
        committed since (each change carries the incident's document after it)."""
        seq = self.store.last_seq()
        if seq == self._seq:
            return
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
        self._incidents = sorted(self._by_id.values(), key=lambda i: (len(i.id), i.id))
        self._seq = seq
        live_keys = {(i.id, i.version) for i in self._incidents}
        self._matches = {k: v for k, v in self._matches.items() if k in live_keys}
        self._effects = {k: v for k, v in self._effects.items() if k in live_keys}
        self._points = change_points(self._incidents,
                                     since=datetime.now(UTC) - timedelta(days=1),
                                     horizon=timedelta(days=8))
        self._future.clear()

    def _build(self, at: datetime, version: int, previous: LiveState | None,
               live_speeds: bool = True) -> LiveState:
        matches = {i.id: self.match_incident(i) for i in self._incidents}
        base = dict(self.free_flow)
        speed_edges = np.zeros(0, dtype=np.int64)
        if live_speeds:
            car, mask = self.speeds.weights(self.free_flow["car"], at)
            if car is not self.free_flow["car"]:
                base["car"] = car
                speed_edges = np.flatnonzero(mask)
        state = build_live_state(version, self._incidents, matches, base,
                                 self.edge_length, at, self._n_stops, self._stop_index,
                                 previous=previous, effect_cache=self._effects)
        if base["car"] is not self.free_flow["car"] and "car" not in state.edge_time_ms:
            times = dict(state.edge_time_ms)
            prev = previous.edge_time_ms.get("car") if previous is not None else None
            times["car"] = prev if prev is not None and np.array_equal(prev, base["car"]) \
                else base["car"]
            state = replace(state, edge_time_ms=times)
        if speed_edges.size:
            notes = dict(state.notes)
            notes["live_speed_edges"] = int(speed_edges.size)
            state = replace(state, notes=notes)
        return self._with_route_alerts(state, matches)

    def _sync_key(self, now: datetime) -> tuple:
        live = self.speeds.has_live(now)
        bucket = int(now.timestamp() // 30) if live else None
        return (self._seq, in_effect_ids(self._incidents, now), self.speeds.version if live
                else -1, bucket)

    def _with_route_alerts(self, state: LiveState, matches: dict[str, MatchResult]
                           ) -> LiveState:
        """Add routes serving closed or matched stops to ``notes["routes_affected"]``."""
        if not self._stop_routes:
            return state
        notes = dict(state.notes)
        routes: dict[str, list[str]] = {k: list(v) for k, v in
                                        notes.get("routes_affected", {}).items()}
        active = set(notes.get("incidents", {}))
        for inc_id in active:
            m = matches.get(inc_id)
            stop_idx = list(m.stop_indices.tolist()) if m is not None else []
            summary = notes["incidents"][inc_id]
            for sid in summary.get("stops_closed", []):
                if self._stop_index and sid in self._stop_index:
                    stop_idx.append(self._stop_index[sid])
            for k in set(stop_idx):
                for r in self._stop_routes[k]:
                    lst = routes.setdefault(r, [])
                    if inc_id not in lst:
                        lst.append(inc_id)
        notes["routes_affected"] = routes
        return replace(state, notes=notes)

    def sync(self, now: datetime | None = None) -> LiveState:
        """Bring the routers up to date with the store at ``now`` (default: the clock).

        Applies a new state (new version) only when the store changed or the set of incidents
        in effect did; returns the state in force afterwards."""
        now = now or datetime.now(UTC)
        with self._lock:
            self._reload()
            key = self._sync_key(now)
            if key == self._key or (self._key is None and not key[1] and key[2] == -1
                                    and self.road.live_state.version == 0):
                self._key = key  # nothing in effect at start-up: stay on free flow (v0)
                return self.road.live_state
            self._version += 1
            state = self._build(now, self._version, self.road.live_state)
            t = time.perf_counter()
            timing = self.road.apply_live_state(state)
            self._key = key
            log.info("live state v%d applied (%d incidents in effect, %.1f ms, %s)",
                     state.version, len(key[1]), (time.perf_counter() - t) * 1000, timing)
            return state

    def state_at(self, at: datetime) -> LiveState:
        """The live state for a departure at ``at`` (the current one when the same incidents
        are in effect then as now)."""
        with self._lock:
            self._reload()
            ids = in_effect_ids(self._incidents, at)
            near_now = abs(at.timestamp() - datetime.now(UTC).timestamp()) < \
                self.speeds.fresh_s
            if near_now and self._key is not None and ids == self._key[1] \
                    and self._seq == self._key[0]:
                return self.road.live_state
            start = interval_start(self._points, at)
            cache_key = (self._seq, start)
            state = self._future.get(cache_key)
            if state is None:
                if len(self._future) > 16:
                    self._future.clear()
                # live speeds describe now; a later departure uses free flow (or typical)
                state = self._build(at, self.road.live_state.version, None, live_speeds=False)
                self._future[cache_key] = state
            return state

    def next_change(self, now: datetime) -> datetime | None:
        """The next time the set of in-effect incidents may change."""
        for p in self._points:
            if p > now:
                return p
        return None

    # ---------------------------------------------------------------- background
    def start(self) -> None:
        """Follow the store in a background thread (changes by other processes, windows)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="incident-engine", daemon=True)
        self._thread.start()
        if self.store.dialect == "postgresql":
            self._listener = threading.Thread(target=self._listen, name="incident-listen",
                                              daemon=True)
            self._listener.start()

    def stop(self) -> None:
        """Stop the background thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _listen(self) -> None:
        """PostgreSQL: wake on NOTIFY and apply the change at once (the polling loop stays as
        the fallback and handles time windows and ageing)."""
        while not self._stop.is_set():
            try:
                for _ in self.store.listen(self.store.last_seq(), poll_interval_s=1.0,
                                           idle_timeout_s=1.0):
                    if self._stop.is_set():
                        return
                    self.sync()
            except Exception:  # noqa: BLE001 - fall back to polling; retry shortly
                log.exception("incident engine: LISTEN failed; polling continues")
                self._stop.wait(2.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                now = datetime.now(UTC)
                nxt = self.next_change(now - timedelta(seconds=self.poll_interval_s * 2))
                if self.store.last_seq() != self._seq or (nxt is not None and nxt <= now) \
                        or self._sync_key(now) != self._key:
                    self.sync(now)
            except Exception:  # noqa: BLE001 - keep following; the error is logged
                log.exception("incident engine: sync failed")
            self._stop.wait(self.poll_interval_s)


def _routes_by_stop(planner: Planner) -> list[list[str]]:
    """Route ids serving each stop."""
    tt = planner.tt
    spo = np.asarray(tt.arrays["stop_pattern_offsets"])
    sp = np.asarray(tt.arrays["stop_patterns"])
    pr = np.asarray(tt.arrays["pattern_route"])
    ids = tt.strings["route_id"]
    out: list[list[str]] = []
    for s in range(tt.n_stops):
        routes = sorted({ids[int(pr[p])] for p in sp[spo[s]:spo[s + 1]].tolist()})
        out.append(routes)
    return out


def summarize_route_incidents(state: LiveState, mode: str, edges: Sequence[int]) -> list[str]:
    """Incident ids acting on any of these edges of ``mode`` in ``state``."""
    causes = state.edge_causes.get(mode, {})
    found: dict[str, None] = {}
    for e in edges:
        for c in causes.get(int(e), ()):
            found[c] = None
    return list(found)
