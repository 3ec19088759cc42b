"""Commute watches at work: plan each watch's trip, re-plan only those a change touches, and
notify the ones whose best answer moved by more than their threshold (or got an incident).

The worker keeps every watch's current best answer in memory, indexed by what it uses: the
road edges of its route (car, bike, walk), or the stops and routes of its itinerary
(transit). When the engine publishes a state whose live inputs differ from the last one
evaluated, the worker takes **one** :class:`routing.state.RoutingState` and finds the
candidates:

* edges whose weight *rose* (a closure, a slowdown, congestion), or on which the incidents
  acting changed: the watches whose route uses one of them — a route that avoids every
  dearer edge keeps its duration, so no other watch can get slower;
* edges whose weight *fell* (an incident ended, traffic cleared): the watches for which a
  route through such an edge could be faster than their current one — a lower bound from
  two one-to-all searches on the junction graph (from the cheaper edges' heads, and towards
  their tails) against each route's cost, plus the watches with an end within snapping
  reach of such an edge;
* transit: stops whose closure changed and routes whose trips' realtime data or incidents
  changed, against the stops and routes each itinerary uses.

Only candidates whose window is open (from ``lead_min`` minutes before it until its end, on
its days) are re-planned, on that one state; a watch is notified when the new duration differs
from the one it was last told (or saved with) by more than its threshold, or when an incident
not on its route before is on it now. Each notification is logged once per watch and change
(:meth:`incidents.watches.WatchStore.notify`), and goes to the owner's event stream and
webhooks. When a window opens, the watch is re-planned silently (a new reference for the day)
unless an incident is on its route.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from api import render
from api.service import Service
from incidents.store import IncidentStore
from incidents.watches import Watch, WatchSpec, WatchStore
from routing.kernels.limits import INF_WEIGHT
from routing.plan import PlanRequest
from routing.road import RoutingError
from routing.state import RoutingState

log = logging.getLogger("citynav.watches")
#: Notifications are committed as they come: the first at once, then those gathered at most
#: this long (few transactions), so the first go out while the rest are still re-planned.
FLUSH_AFTER_S = 1.0
ROAD_MODES = ("car", "bike", "walk")
#: Metres per degree of latitude.
_M_PER_DEG = 111_320.0


class WatchPlanError(Exception):
    """The watch's trip has no answer (a point off the network, no route or itinerary)."""


@dataclass
class Tracked:
    """One watch in memory: its spec and current best answer."""

    id: str
    owner: str
    spec: WatchSpec
    answer: dict[str, Any]
    edges: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    stops: frozenset[str] = frozenset()
    routes: frozenset[str] = frozenset()
    armed: bool = False

    @classmethod
    def of(cls, w: Watch) -> Tracked:
        """From a stored watch (with its stored answer)."""
        ans = w.answer or {}
        return cls(w.id, w.owner, w.spec, ans, np.asarray(ans.get("edges", ()), np.int64),
                   frozenset(ans.get("stops", ())), frozenset(ans.get("routes", ())))


@dataclass
class Evaluation:
    """What one evaluation did (for tests and the bench)."""

    version: int
    candidates: int
    replanned: int
    notified: list[str]
    started: float
    finished: float
    #: perf_counter time when the first notification of this change was committed
    first_notice: float | None = None


def _digest(parts: Any) -> str:
    return hashlib.blake2b(repr(parts).encode(), digest_size=8).hexdigest()


class WatchWorker:
    """Evaluates the commute watches of one process (see the module docstring)."""

    def __init__(self, svc: Service, store: IncidentStore | None = None, lead_min: int = 60,
                 poll_s: float = 1.0) -> None:
        """``store``: the incident store to keep watches in (default: the service's)."""
        store = store or svc.store
        assert store is not None
        self.svc = svc
        self.store = WatchStore(store)
        self.lead_min = lead_min
        self.poll_s = poll_s
        self.on_notify: list[Callable[[], None]] = []
        self.evaluations: list[Evaluation] = []
        self._w: dict[str, Tracked] = {}
        self._index: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._index_ids: list[str] = []
        self._fresh: set[str] = set()
        self._prev: RoutingState | None = None
        self._gen: tuple[int, int] | None = None
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._st_trip: np.ndarray | None = None
        self._node_xy: np.ndarray | None = None

    # ------------------------------------------------------------------ planning
    def departure(self, spec: WatchSpec, st: RoutingState) -> datetime:
        """When the trip is planned for: now, or the window's start when it lies ahead."""
        local = st.local_time()
        start = local.replace(hour=spec.window.start.hour, minute=spec.window.start.minute,
                              second=0, microsecond=0)
        return max(st.at, start)

    def plan(self, st: RoutingState, spec: WatchSpec) -> tuple[dict[str, Any], Any]:
        """The best answer of ``spec`` on ``st``: (answer document, the route or itinerary).
        Raises :class:`WatchPlanError`."""
        (flat, flon), (tlat, tlon) = spec.origin, spec.destination
        svc = self.svc
        try:
            if spec.mode in ROAD_MODES:
                r = svc.road.route(st, spec.mode, flat, flon, tlat, tlon)
                on = st.causes_on(spec.mode, r.edges)
                edges = [int(e) for e in r.edges.tolist()]
                return ({"duration_s": round(r.duration_s, 1),
                         "distance_m": round(r.distance_m, 1),
                         "signature": _digest(edges), "incidents": list(on),
                         "edges": edges, "live_version": st.version,
                         "at": st.at.isoformat()}, r)
            if svc.planner is None:
                raise WatchPlanError("this server has no timetable: transit watches are not "
                                     "possible")
            t = self.departure(spec, st)
            res = svc.planner.plan(st, PlanRequest((flat, flon), (tlat, tlon), t,
                                                   num_itineraries=1))
        except RoutingError as exc:
            raise WatchPlanError(str(exc)) from exc
        if not res.itineraries:
            raise WatchPlanError("no itinerary for this trip in its window")
        it = min(res.itineraries, key=lambda i: i.arrival)
        stops: set[str] = set()
        routes: set[str] = set()
        legs: list[tuple[Any, ...]] = []
        for leg in it.legs:
            if leg.mode == "transit":
                for p in (leg.origin, leg.destination, *[c.place for c in
                                                          leg.intermediate_stops or ()]):
                    if p.stop_id:
                        stops.add(p.stop_id)
                if leg.route is not None:
                    routes.add(leg.route.id)
                legs.append((leg.trip_id, leg.origin.stop_id, leg.destination.stop_id))
            else:
                legs.append((leg.mode,))
        return ({"duration_s": round((it.arrival - t).total_seconds(), 1),
                 "departure": it.departure.isoformat(), "arrival": it.arrival.isoformat(),
                 "signature": _digest(legs), "incidents": list(it.alerts),
                 "stops": sorted(stops), "routes": sorted(routes),
                 "live_version": st.version, "at": st.at.isoformat()}, it)

    # ------------------------------------------------------------------ watches
    def create(self, owner: str, spec: WatchSpec) -> Watch:
        """Plan, store and track a new watch. Raises :class:`WatchPlanError`,
        :class:`incidents.errors.Conflict`."""
        st = self.svc.state()
        answer, _ = self.plan(st, spec)
        answer["reference_s"] = answer["duration_s"]
        with self._lock:  # not interleaved with a reload
            w = self.store.create(owner, spec, answer)
            self.track(w, st)
            self._follow_generation(+1, +1)
        return w

    def delete(self, watch_id: str, owner: str) -> None:
        """Remove a watch of ``owner``. Raises :class:`incidents.errors.NotFound`."""
        with self._lock:
            self.store.delete(watch_id, owner)
            self.forget(watch_id)
            self._follow_generation(0, -1)

    def _follow_generation(self, d_num: int, d_count: int) -> None:
        """This process's own addition or removal: no reload needed when nobody else
        changed the watches meanwhile."""
        with self._lock:
            gen = self.store.generation()
            if self._gen is not None and gen == (self._gen[0] + d_num, self._gen[1] + d_count):
                self._gen = gen

    def track(self, w: Watch, st: RoutingState | None = None) -> None:
        """Follow a stored watch here."""
        t = Tracked.of(w)
        st = st or self.svc.state()
        t.armed = t.spec.armed(st.local_time(), self.lead_min)
        with self._lock:
            self._w[t.id] = t
            self._fresh.add(t.id)
            if self._prev is None:
                self._prev = st

    def ids(self) -> list[str]:
        """Ids of the watches followed here."""
        with self._lock:
            return list(self._w)

    def tracked(self, watch_id: str) -> Tracked:
        """The in-memory state of one watch (raises ``KeyError``)."""
        return self._w[watch_id]

    def forget(self, watch_id: str) -> None:
        """Stop following a watch."""
        with self._lock:
            self._w.pop(watch_id, None)
            self._fresh.discard(watch_id)

    def load(self) -> None:
        """(Re)load every stored watch with its stored answer."""
        with self._lock:
            gen = self.store.generation()
            watches = self.store.list()
            st = self.svc.state()
            local = st.local_time()
            tracked = {}
            for w in watches:
                t = Tracked.of(w)
                t.armed = t.spec.armed(local, self.lead_min)
                tracked[t.id] = t
            self._w = tracked
            self._fresh = set()
            self._build_index()
            self._gen = gen
            if self._prev is None:
                self._prev = st

    def _build_index(self) -> None:
        ids = list(self._w)
        self._index_ids = ids
        self._index = {}
        for mode in ROAD_MODES:
            parts, owners = [], []
            for i, wid in enumerate(ids):
                t = self._w[wid]
                if t.spec.mode == mode and t.edges.shape[0]:
                    parts.append(t.edges)
                    owners.append(np.full(t.edges.shape[0], i, np.int32))
            if parts:
                e = np.concatenate(parts)
                o = np.concatenate(owners)
                order = np.argsort(e, kind="stable")
                self._index[mode] = (e[order], o[order])
        self._fresh = set()

    # ------------------------------------------------------------------ candidates
    def _users_of(self, mode: str, edges: np.ndarray) -> set[str]:
        """Watches of ``mode`` whose route uses one of ``edges``."""
        out: set[str] = set()
        idx = self._index.get(mode)
        if idx is not None and edges.shape[0]:
            e_sorted, owner = idx
            lo = np.searchsorted(e_sorted, edges, "left")
            hi = np.searchsorted(e_sorted, edges, "right")
            hits = [owner[a:b] for a, b in zip(lo.tolist(), hi.tolist(), strict=True) if b > a]
            if hits:
                for i in np.unique(np.concatenate(hits)).tolist():
                    wid = self._index_ids[i]
                    if wid in self._w and wid not in self._fresh:
                        out.add(wid)
        for wid in self._fresh:
            t = self._w.get(wid)
            if t is not None and t.spec.mode == mode and t.edges.shape[0] and \
                    np.isin(t.edges, edges).any():
                out.add(wid)
        return out

    def _node_coords(self) -> np.ndarray:
        if self._node_xy is None:
            snap = self.svc.snapshot
            self._node_xy = np.column_stack([np.asarray(snap.node_lon, np.float64),
                                             np.asarray(snap.node_lat, np.float64)])
        return self._node_xy

    def _cheaper_reach(self, mode: str, fell: np.ndarray, w_new: np.ndarray,
                       ids: list[str]) -> set[str]:
        """Watches among ``ids`` (of ``mode``) that a route through one of the ``fell`` edges
        could now serve faster than their current route.

        Any route using a cheaper edge ``f`` costs at least ``d(from → tail f) + w(f) +
        d(head f → to)`` on the new weights; node-to-node distances on the junction graph
        (turn rules and partial end edges left out, so never more than the truth) bound it
        from below, with ``min`` over ``f`` taken per term. A watch qualifies when that bound
        is below its current route's cost on the new weights (whole end edges: never less
        than the truth), or when an end of its trip lies within snapping reach of a cheaper
        edge (a reopened edge may take the snap)."""
        if not ids or not fell.shape[0]:
            return set()
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import dijkstra

        mr = self.svc.road.modes[mode]
        tail, head = np.asarray(mr.edge_tail), np.asarray(mr.edge_head)
        n = int(self.svc.snapshot.node_lon.shape[0])
        ok = w_new < INF_WEIGHT
        tt, hh, ww = tail[ok], head[ok], w_new[ok].astype(np.float64)
        order = np.lexsort((ww, hh, tt))
        tt, hh, ww = tt[order], hh[order], ww[order]
        first = np.ones(tt.shape[0], bool)
        first[1:] = (tt[1:] != tt[:-1]) | (hh[1:] != hh[:-1])
        tt, hh, ww = tt[first], hh[first], np.maximum(ww[first], 1e-3)  # 0 = no edge
        g = csr_matrix((ww, (tt, hh)), shape=(n, n))
        src = np.unique(head[fell])
        dst = np.unique(tail[fell])
        from_f = dijkstra(g, indices=src, min_only=True)  # min_f d(head f → v)
        to_f = dijkstra(g.T.tocsr(), indices=dst, min_only=True)  # min_f d(v → tail f)
        w_min = float(np.min(w_new[fell]))
        out: set[str] = set()
        for wid in ids:
            t = self._w[wid]
            if t.answer.get("duration_s") is None or not t.edges.shape[0]:
                out.add(wid)  # cut off: any cheaper edge may bring it back
                continue
            e0, e1 = int(t.edges[0]), int(t.edges[-1])
            a = min(to_f[tail[e0]], to_f[head[e0]])
            b = min(from_f[tail[e1]], from_f[head[e1]])
            cost = float(np.sum(np.minimum(w_new[t.edges], INF_WEIGHT).astype(np.float64)))
            if a + w_min + b < cost:
                out.add(wid)
        # ends within snapping reach of a cheaper edge's street
        xy = self._node_coords()[tail[fell]]
        reach = np.asarray(mr.arrays.edge_length_m, np.float64)[fell] \
            + self.svc.road.max_snap_m + 5.0
        lat0 = math.radians(float(np.mean(xy[:, 1])))
        kx, ky = _M_PER_DEG * math.cos(lat0), _M_PER_DEG
        px, py = xy[:, 0] * kx, xy[:, 1] * ky
        rest = [w for w in ids if w not in out]
        if rest:
            ts = [self._w[w] for w in rest]
            for pts in ([t.spec.origin for t in ts], [t.spec.destination for t in ts]):
                qy = np.array([p[0] for p in pts]) * ky
                qx = np.array([p[1] for p in pts]) * kx
                step = max(1, 2_000_000 // len(ts))
                hit = np.zeros(len(ts), bool)
                for s0 in range(0, px.shape[0], step):
                    d = np.hypot(px[s0:s0 + step, None] - qx, py[s0:s0 + step, None] - qy)
                    hit |= (d <= reach[s0:s0 + step, None]).any(axis=0)
                out.update(rest[i] for i in np.flatnonzero(hit).tolist())
        return out

    def _transit_changes(self, prev: RoutingState, new: RoutingState
                         ) -> tuple[set[str], set[str]]:
        """Stop ids and route ids whose closures, incidents or realtime data changed."""
        planner = self.svc.planner
        if planner is None:
            return set(), set()
        stops: set[str] = set()
        a, b = prev.transit_live().stop_closed, new.transit_live().stop_closed
        if a is not None or b is not None:
            n = planner.tt.n_stops
            za = a if a is not None else np.zeros(n, bool)
            zb = b if b is not None else np.zeros(n, bool)
            stops = {planner.stop_ids[i] for i in np.flatnonzero(za != zb).tolist()}
        ra, rb = prev.routes_affected(), new.routes_affected()
        routes = {r for r in set(ra) | set(rb) if ra.get(r) != rb.get(r)}
        rta, rtb = prev.live.transit_realtime, new.live.transit_realtime
        if rta is not rtb:
            tt = planner.tt
            trips: set[int] = set()
            days_a = rta.days if rta is not None else {}
            days_b = rtb.days if rtb is not None else {}
            for day in set(days_a) | set(days_b):
                da, db = days_a.get(day), days_b.get(day)
                if da is None or db is None:
                    one = da or db
                    assert one is not None
                    changed_trips = np.flatnonzero(np.asarray(one.trip_realtime))
                    trips.update(changed_trips.tolist())
                    continue
                trips.update(np.flatnonzero(np.asarray(da.trip_cancelled)
                                            != np.asarray(db.trip_cancelled)).tolist())
                diff = (np.asarray(da.arrival_delay_s) != np.asarray(db.arrival_delay_s)) | \
                    (np.asarray(da.departure_delay_s) != np.asarray(db.departure_delay_s)) | \
                    (np.asarray(da.skipped) != np.asarray(db.skipped))
                if diff.any():
                    trips.update(np.unique(self._stop_time_trips()[np.flatnonzero(diff)])
                                 .tolist())
            if trips:
                trip_route = np.asarray(tt.arrays["trip_route"])
                rid = tt.strings["route_id"]
                routes.update(rid[int(r)] for r in np.unique(trip_route[sorted(trips)]).tolist())
        return stops, routes

    def _stop_time_trips(self) -> np.ndarray:
        if self._st_trip is None:
            assert self.svc.planner is not None
            a = self.svc.planner.tt.arrays
            pso = np.asarray(a["pattern_stop_offsets"])
            pto = np.asarray(a["pattern_trip_offsets"])
            psto = np.asarray(a["pattern_st_offsets"])
            n_st = int(psto[-1]) if psto.shape[0] else 0
            out = np.zeros(n_st, np.int64)
            for p in range(pto.shape[0] - 1):
                n = int(pso[p + 1] - pso[p])
                t0, t1 = int(pto[p]), int(pto[p + 1])
                out[int(psto[p]):int(psto[p]) + n * (t1 - t0)] = np.repeat(
                    np.arange(t0, t1), n)
            self._st_trip = out
        return self._st_trip

    def candidates(self, prev: RoutingState, new: RoutingState) -> set[str]:
        """Watches (armed or not) that the change from ``prev`` to ``new`` may affect."""
        out: set[str] = set()
        if prev.live is new.live:
            return out
        for mode in ROAD_MODES:
            if mode not in new.road or not any(t.spec.mode == mode for t in self._w.values()):
                continue
            w_new = new.weights(mode)
            w_old = prev.weights(mode) if prev.at == new.at else \
                self.svc.publisher.weights_at(prev, mode, new.at)
            rose = np.flatnonzero(w_new > w_old)
            fell = np.flatnonzero(w_new < w_old)
            # incidents now (or no longer) acting on an edge without moving its weight still
            # change what a route crossing it carries
            ca, cb = prev.causes(mode), new.causes(mode)
            recaused = np.array(sorted(e for e in set(ca) | set(cb) if ca.get(e) != cb.get(e)),
                                np.int64)
            out |= self._users_of(mode, np.union1d(rose, recaused))
            if fell.shape[0]:
                ids = [w for w, t in self._w.items() if t.spec.mode == mode and t.armed
                       and w not in out]
                out |= self._cheaper_reach(mode, fell, np.asarray(w_new, np.int64), ids)
        if any(t.spec.mode == "transit" for t in self._w.values()):
            stops, routes = self._transit_changes(prev, new)
            if stops or routes:
                out |= {w for w, t in self._w.items() if t.spec.mode == "transit"
                        and (t.stops & stops or t.routes & routes)}
        return out

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, new: RoutingState | None = None) -> Evaluation | None:
        """Evaluate the change since the last state evaluated (default: to the current
        one); returns what was done (``None`` when nothing changed)."""
        t0 = time.perf_counter()
        with self._lock:
            new = new or self.svc.state()
            prev = self._prev
            if prev is None or prev is new:
                self._prev = new
                return None
            if len(self._fresh) > 256:
                self._build_index()
            local = new.local_time()
            opened: set[str] = set()
            for wid, t in self._w.items():
                armed = t.spec.armed(local, self.lead_min)
                if armed and not t.armed:
                    opened.add(wid)
                t.armed = armed
            cands = self.candidates(prev, new)
            todo = sorted((cands | opened) & {w for w, t in self._w.items() if t.armed},
                          key=lambda w: int(w[2:]))
            if not todo:
                self._prev = new
                ev = Evaluation(new.version, len(cands), 0, [], t0, time.perf_counter())
                self.evaluations.append(ev)
                return ev
            notices: list[tuple[str, str, str, dict[str, Any]]] = []
            pending: list[tuple[str, str, str, dict[str, Any]]] = []
            answers: dict[str, dict[str, Any]] = {}
            first_notice: float | None = None
            last_flush = time.perf_counter()

            def flush() -> None:
                nonlocal first_notice, last_flush
                if pending and self.store.notify(pending):
                    if first_notice is None:
                        first_notice = time.perf_counter()
                    for cb in tuple(self.on_notify):
                        cb()
                pending.clear()
                last_flush = time.perf_counter()

            for wid in todo:
                t = self._w[wid]
                try:
                    ans, obj = self.plan(new, t.spec)
                except WatchPlanError as exc:
                    ans, obj = {"duration_s": None, "error": str(exc), "incidents": [],
                                "signature": "none", "live_version": new.version}, None
                except Exception:  # noqa: BLE001 - one odd watch never stops the others
                    log.exception("watch %s: planning failed; kept its answer", wid)
                    continue
                ref = t.answer.get("reference_s", t.answer.get("duration_s"))
                new_incidents = [i for i in ans["incidents"]
                                 if i not in t.answer.get("incidents", ())]
                notify = bool(new_incidents)
                delta = None
                if ans["duration_s"] is not None and ref is not None:
                    delta = round(float(ans["duration_s"]) - float(ref), 1)
                    notify = notify or (wid not in opened and abs(delta)
                                        > t.spec.threshold_s)
                elif (ans["duration_s"] is None) != (ref is None):
                    notify = wid not in opened
                ans["reference_s"] = ans["duration_s"] if (notify or wid in opened) else ref
                if notify:
                    body = self._notice(new, t, ans, obj, delta, new_incidents,
                                        "window_opened" if wid in opened else "change")
                    key = _digest((new.live.seq, new.live.realtime_version,
                                   new.live.speeds.version if new.live.speeds else 0,
                                   ans["signature"], ans["duration_s"]))
                    notices.append((wid, t.owner, key, body))
                    pending.append(notices[-1])
                t.answer = ans
                t.edges = np.asarray(ans.get("edges", ()), np.int64)
                t.stops = frozenset(ans.get("stops", ()))
                t.routes = frozenset(ans.get("routes", ()))
                self._fresh.add(wid)
                answers[wid] = ans
                if pending and (first_notice is None
                                or time.perf_counter() - last_flush >= FLUSH_AFTER_S):
                    flush()
            flush()
            self.store.save_answers(answers)
            self._prev = new  # only once every candidate is done (a failure retries)
        ev = Evaluation(new.version, len(cands), len(todo), [n[0] for n in notices], t0,
                        time.perf_counter(), first_notice)
        self.evaluations.append(ev)
        del self.evaluations[:-100]
        return ev

    def _notice(self, st: RoutingState, t: Tracked, ans: dict[str, Any], obj: Any,
                delta: float | None, new_incidents: list[str], cause: str) -> dict[str, Any]:
        info = st.live.incidents
        doc: dict[str, Any] = {
            "watch_id": t.id, "label": t.spec.label, "mode": t.spec.mode, "cause": cause,
            "live_version": st.version, "time_lost_s": delta,
            "duration_s": ans["duration_s"],
            "previous_duration_s": t.answer.get("reference_s", t.answer.get("duration_s")),
            "route_changed": ans["signature"] != t.answer.get("signature"),
            "incidents_on_route": [{"id": i, "label": info[i].label() if i in info else i}
                                   for i in ans["incidents"]],
            "new_incidents_on_route": new_incidents,
            "error": ans.get("error"),
        }
        if obj is None:
            return doc
        (flat, flon), (tlat, tlon) = t.spec.origin, t.spec.destination
        if t.spec.mode in ROAD_MODES:
            expl = self.svc.road.explain(st, obj, flat, flon, tlat, tlon)
            doc["explanation"] = render.explanation_json(expl, "en")
            doc["explanation_zh"] = render.explanation_json(expl, "zh-CN")["messages"]
            doc["route"] = {"geometry": render.line_string(np.column_stack([obj.lon, obj.lat])),
                            "distance_m": round(obj.distance_m, 1),
                            "duration_s": round(obj.duration_s, 1)}
        else:
            doc["itinerary"] = render.itinerary_json(obj, "en")
        return doc

    # ------------------------------------------------------------------ background
    def poke(self, *_: object) -> None:
        """A new state may be in force: evaluate soon."""
        self._wake.set()

    def start(self) -> None:
        """Load the watches and follow the states in a background thread."""
        if self._thread is not None:
            return
        self.load()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="watches", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                if self.store.generation() != self._gen:
                    self.load()
                self.evaluate()
            except Exception:  # noqa: BLE001 - keep watching; the error is logged
                log.exception("watches: evaluation failed")
