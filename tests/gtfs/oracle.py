"""Reference (brute-force) transit search used to check RAPTOR in tests and benchmarks.

**This is the reference, not a serving path.** It shares no search code with
:mod:`gtfs.raptor` or :mod:`gtfs.query`: it flattens the compiled timetable for a day into
elementary *connections* (one per trip instance and consecutive stop pair, no patterns, no
FIFO assumption), resolves transfer rules into an explicit edge list with plain Python, and
runs a round-based Connection Scan: round ``k`` scans every connection in departure order and
may board a trip only from the ready-to-board labels of round ``k-1``, so ``best[k]`` is the
earliest arrival using at most ``k`` trips. The Pareto set over (arrival, transfers) follows
directly. Latest departure is found by binary search over candidate departure times.

Live data (:class:`gtfs.live.TransitLive`) is read straight from its fields: each instance
takes the per-stop delays of its own service date (realtime times may overtake: connections
are re-sorted, and the scan follows every trip on its own), a skipped stop forbids boarding
and alighting there while the vehicle still passes, cancelled instances are dropped and
closed stops are neither boarded nor alighted at. Wheelchair modes: 0 ignore, 1 only trips
and stops with value 1, 2 all but value 2.

The transfer semantics (same stop, footpaths, transfers.txt types 1/2/3, global floor) are
those documented in :mod:`gtfs.raptor`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from numba import njit

from gtfs.day import DayContext
from gtfs.live import TransitLive
from gtfs.timetable import Timetable

INF = np.int64(1) << np.int64(40)


@dataclass
class Connections:
    """Elementary connections of one day context, sorted by (departure, instance, position)."""

    dep_s: np.ndarray  # int64
    arr_s: np.ndarray  # int64
    from_stop: np.ndarray  # int64
    to_stop: np.ndarray  # int64
    inst: np.ndarray  # int64 instance index (day context numbering)
    trip: np.ndarray  # int64
    pickup: np.ndarray  # bool, boarding allowed at from_stop
    dropoff: np.ndarray  # bool, alighting allowed at to_stop
    n_inst: int


def trip_times(tt: Timetable, trip: int, live: TransitLive | None = None,
               date: dt.date | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(arrival_s, departure_s, skipped) of ``trip`` on service date ``date`` at each stop of
    its pattern, realtime when ``live`` has data for that date (service-day seconds)."""
    arr, dep = (np.asarray(x, dtype=np.int64) for x in tt.trip_times(trip))
    skipped = np.zeros(len(arr), dtype=bool)
    sdl = live.day(date) if live is not None and date is not None else None
    if sdl is not None:
        a = tt.arrays
        p = int(a["trip_pattern"][trip])
        n = len(arr)
        base = int(a["pattern_st_offsets"][p]) + (trip - int(a["pattern_trip_offsets"][p])) * n
        arr = arr + sdl.arrival_delay_s[base: base + n]
        dep = dep + sdl.departure_delay_s[base: base + n]
        skipped = np.asarray(sdl.skipped[base: base + n])
    return arr, dep, skipped


def build_connections(tt: Timetable, day: DayContext,
                      live: TransitLive | None = None) -> Connections:
    """Flatten all running trip instances of ``day`` into connections (cancelled dropped),
    with the realtime times of each instance's service date."""
    a = {k: np.asarray(v) for k, v in tt.arrays.items()}
    trips = day.inst_trip.astype(np.int64)
    pat = a["trip_pattern"][trips].astype(np.int64)
    n = (a["pattern_stop_offsets"][1:] - a["pattern_stop_offsets"][:-1])[pat]
    base = a["pattern_st_offsets"][pat] + (trips - a["pattern_trip_offsets"][pat]) * n
    n_conn = n - 1
    inst = np.repeat(np.arange(len(trips)), n_conn)
    pos = np.arange(int(n_conn.sum())) - np.repeat(np.cumsum(n_conn) - n_conn, n_conn)
    st_idx = np.repeat(base, n_conn) + pos
    stop_idx = np.repeat(a["pattern_stop_offsets"][pat], n_conn) + pos
    dep_delay = np.zeros(len(inst), dtype=np.int64)
    arr_delay = np.zeros(len(inst), dtype=np.int64)
    skip_from = np.zeros(len(inst), dtype=bool)
    skip_to = np.zeros(len(inst), dtype=bool)
    cancelled = np.zeros(len(inst), dtype=bool)
    conn_layer = day.inst_layer[inst]
    for layer, delta in enumerate(day.layer_days):
        sdl = None if live is None else live.day(day.date + dt.timedelta(days=int(delta)))
        if sdl is None:
            continue
        m = conn_layer == layer
        dep_delay[m] = sdl.departure_delay_s[st_idx[m]]
        arr_delay[m] = sdl.arrival_delay_s[st_idx[m] + 1]
        skip_from[m] = sdl.skipped[st_idx[m]]
        skip_to[m] = sdl.skipped[st_idx[m] + 1]
        cancelled[m] = sdl.trip_cancelled[trips[inst[m]]]
    shift = day.inst_offset_s[inst]
    dep = a["st_departure_s"][st_idx].astype(np.int64) + dep_delay + shift
    arr = a["st_arrival_s"][st_idx + 1].astype(np.int64) + arr_delay + shift
    keep = ~cancelled
    order = np.lexsort((pos[keep], inst[keep], dep[keep]))

    def sel(x: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(x[keep][order])

    return Connections(
        dep_s=sel(dep), arr_s=sel(arr),
        from_stop=sel(a["pattern_stops"][stop_idx].astype(np.int64)),
        to_stop=sel(a["pattern_stops"][stop_idx + 1].astype(np.int64)),
        inst=sel(inst.astype(np.int64)), trip=sel(trips[inst]),
        pickup=sel(a["pattern_pickup"][stop_idx] & ~skip_from),
        dropoff=sel(a["pattern_dropoff"][stop_idx + 1] & ~skip_to),
        n_inst=len(trips))


def transfer_edges(tt: Timetable, footpaths: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
                   min_transfer_s: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Resolve same-stop changes, footpaths and transfers.txt into ``(from, to, dur_s)``."""
    a = tt.arrays
    rules: dict[tuple[int, int], tuple[int, int]] = {}
    off = np.asarray(a["transfer_offsets"])
    for s in range(tt.n_stops):
        for j in range(int(off[s]), int(off[s + 1])):
            rules[(s, int(a["transfer_to"][j]))] = (int(a["transfer_kind"][j]),
                                                    int(a["transfer_min_s"][j]))
    walk: dict[tuple[int, int], int] = {}
    if footpaths is not None:
        fo, ft, fd = (np.asarray(x) for x in footpaths)
        for s in range(tt.n_stops):
            for j in range(int(fo[s]), int(fo[s + 1])):
                if int(ft[j]) != s:
                    walk[(s, int(ft[j]))] = int(fd[j])
    edges: dict[tuple[int, int], int] = {}
    for s in range(tt.n_stops):
        kind, mtt = rules.get((s, s), (-1, 0))
        if kind == 3:
            continue
        edges[(s, s)] = 0 if kind == 1 else (max(min_transfer_s, mtt) if kind == 2
                                              else min_transfer_s)
    for (s, q), w in walk.items():
        kind, mtt = rules.get((s, q), (-1, 0))
        if kind == 3:
            continue
        edges[(s, q)] = w if kind == 1 else (max(w, mtt, min_transfer_s) if kind == 2
                                              else max(w, min_transfer_s))
    for (s, q), (kind, mtt) in rules.items():
        if s != q and kind == 2 and (s, q) not in walk:
            edges[(s, q)] = max(mtt, min_transfer_s)
    if not edges:
        z = np.zeros(0, dtype=np.int64)
        return z, z.copy(), z.copy()
    keys = np.array(list(edges.keys()), dtype=np.int64)
    return keys[:, 0].copy(), keys[:, 1].copy(), np.array(list(edges.values()), dtype=np.int64)


@njit(cache=True)
def _accessible(mode, value):  # pragma: no cover
    return mode == 0 or (mode == 1 and value == 1) or (mode == 2 and value != 2)


@njit(cache=True)
def _csa_rounds(c_dep, c_arr, c_from, c_to, c_inst, c_trip, c_pick, c_drop, n_inst,
                e_from, e_to, e_dur, n_stops, acc_stop, acc_s, eg_stop, eg_s, depart_s,
                max_rounds, wheelchair, trip_wc, stop_wc, stop_closed):  # pragma: no cover
    board = np.full(n_stops, INF, dtype=np.int64)
    for j in range(acc_stop.shape[0]):
        v = depart_s + acc_s[j]
        if v < board[acc_stop[j]]:
            board[acc_stop[j]] = v
    best = np.full(max_rounds + 1, INF, dtype=np.int64)
    first = np.searchsorted(c_dep, depart_s)
    arr_k = np.empty(n_stops, dtype=np.int64)
    on = np.zeros(n_inst, dtype=np.bool_)
    for k in range(1, max_rounds + 1):
        arr_k[:] = INF
        on[:] = False
        for c in range(first, c_dep.shape[0]):
            i = c_inst[c]
            if not on[i]:
                u = c_from[c]
                if c_pick[c] and board[u] <= c_dep[c] and not stop_closed[u] and \
                        _accessible(wheelchair, stop_wc[u]) and \
                        _accessible(wheelchair, trip_wc[c_trip[c]]):
                    on[i] = True
            if on[i]:
                v = c_to[c]
                if c_drop[c] and c_arr[c] < arr_k[v] and not stop_closed[v] and \
                        _accessible(wheelchair, stop_wc[v]):
                    arr_k[v] = c_arr[c]
        best[k] = best[k - 1]
        for j in range(eg_stop.shape[0]):
            e = eg_stop[j]
            if arr_k[e] < INF and arr_k[e] + eg_s[j] < best[k]:
                best[k] = arr_k[e] + eg_s[j]
        for j in range(e_from.shape[0]):
            a = arr_k[e_from[j]]
            if a < INF and a + e_dur[j] < board[e_to[j]]:
                board[e_to[j]] = a + e_dur[j]
    return best


@njit(cache=True)
def _csa_stop_arrivals(c_dep, c_arr, c_from, c_to, c_inst, c_trip, c_pick, c_drop, n_inst,
                       e_from, e_to, e_dur, n_stops, acc_stop, acc_s, depart_s, max_rounds,
                       stop_closed):  # pragma: no cover
    """The scan of :func:`_csa_rounds` (no wheelchair filter), keeping every stop's earliest
    arrival by vehicle over the rounds instead of one egress."""
    board = np.full(n_stops, INF, dtype=np.int64)
    for j in range(acc_stop.shape[0]):
        v = depart_s + acc_s[j]
        if v < board[acc_stop[j]]:
            board[acc_stop[j]] = v
    out = np.full(n_stops, INF, dtype=np.int64)
    first = np.searchsorted(c_dep, depart_s)
    arr_k = np.empty(n_stops, dtype=np.int64)
    on = np.zeros(n_inst, dtype=np.bool_)
    for _k in range(1, max_rounds + 1):
        arr_k[:] = INF
        on[:] = False
        for c in range(first, c_dep.shape[0]):
            i = c_inst[c]
            if not on[i]:
                u = c_from[c]
                if c_pick[c] and board[u] <= c_dep[c] and not stop_closed[u]:
                    on[i] = True
            if on[i]:
                v = c_to[c]
                if c_drop[c] and c_arr[c] < arr_k[v] and not stop_closed[v]:
                    arr_k[v] = c_arr[c]
        for v in range(n_stops):
            if arr_k[v] < out[v]:
                out[v] = arr_k[v]
        for j in range(e_from.shape[0]):
            a = arr_k[e_from[j]]
            if a < INF and a + e_dur[j] < board[e_to[j]]:
                board[e_to[j]] = a + e_dur[j]
    return out


class Oracle:
    """Brute-force reference search over one day context (see module docstring)."""

    def __init__(self, tt: Timetable, day: DayContext,
                 footpaths: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                 min_transfer_s: int = 60, live: TransitLive | None = None) -> None:
        self.tt = tt
        self.live = live
        self.conn = build_connections(tt, day, live)
        self.edges = transfer_edges(tt, footpaths, min_transfer_s)
        self.trip_wc = np.asarray(tt.arrays["trip_wheelchair"])
        self.stop_wc = np.asarray(tt.arrays["stop_wheelchair"])
        self.closed = np.zeros(tt.n_stops, dtype=np.bool_)
        if live is not None and live.stop_closed is not None:
            self.closed = np.array(live.stop_closed, dtype=np.bool_)

    def best_by_rounds(self, access: tuple[np.ndarray, np.ndarray],
                       egress: tuple[np.ndarray, np.ndarray], depart_s: int,
                       max_rounds: int = 6, wheelchair: int = 0) -> np.ndarray:
        """``best[k]``: earliest arrival using at most ``k`` trips (``INF`` if none)."""
        c = self.conn
        return _csa_rounds(c.dep_s, c.arr_s, c.from_stop, c.to_stop, c.inst, c.trip, c.pickup,
                           c.dropoff, c.n_inst, self.edges[0], self.edges[1], self.edges[2],
                           self.tt.n_stops, np.asarray(access[0], dtype=np.int64),
                           np.asarray(access[1], dtype=np.int64),
                           np.asarray(egress[0], dtype=np.int64),
                           np.asarray(egress[1], dtype=np.int64), np.int64(depart_s),
                           max_rounds, int(wheelchair), self.trip_wc, self.stop_wc,
                           self.closed)

    def stop_arrivals(self, access: tuple[np.ndarray, np.ndarray], depart_s: int,
                      max_rounds: int = 6) -> np.ndarray:
        """Per stop the earliest arrival by vehicle with at most ``max_rounds`` trips
        (``INF`` if none)."""
        c = self.conn
        return _csa_stop_arrivals(c.dep_s, c.arr_s, c.from_stop, c.to_stop, c.inst, c.trip,
                                  c.pickup, c.dropoff, c.n_inst, self.edges[0], self.edges[1],
                                  self.edges[2], self.tt.n_stops,
                                  np.asarray(access[0], dtype=np.int64),
                                  np.asarray(access[1], dtype=np.int64), np.int64(depart_s),
                                  max_rounds, self.closed)

    def pareto(self, access: tuple[np.ndarray, np.ndarray], egress: tuple[np.ndarray, np.ndarray],
               depart_s: int, max_rounds: int = 6,
               wheelchair: int = 0) -> list[tuple[int, int]]:
        """Pareto set ``[(arrival_s, n_transfers)]`` sorted by transfers."""
        best = self.best_by_rounds(access, egress, depart_s, max_rounds, wheelchair)
        return [(int(best[k]), k - 1) for k in range(1, max_rounds + 1)
                if best[k] < best[k - 1]]

    def departure_candidates(self, access: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """Sorted distinct ``connection departure - access time`` at access stops (a superset
        of the departure times of optimal journeys)."""
        c = self.conn
        out = []
        for s, t in zip(np.asarray(access[0]), np.asarray(access[1]), strict=True):
            m = (c.from_stop == s) & c.pickup
            out.append(c.dep_s[m] - int(t))
        return np.unique(np.concatenate(out)) if out else np.zeros(0, dtype=np.int64)

    def latest_departure(self, access: tuple[np.ndarray, np.ndarray],
                         egress: tuple[np.ndarray, np.ndarray], arrive_by_s: int,
                         max_rounds: int = 6, wheelchair: int = 0) -> list[tuple[int, int]]:
        """Pareto set ``[(departure_s, n_transfers)]`` (later departure, fewer transfers) of
        journeys arriving by ``arrive_by_s``; binary search per round count (the best arrival
        never decreases with a later departure, overtaking or not)."""
        cand = self.departure_candidates(access)
        found: list[tuple[int, int]] = []
        last = None
        for k in range(1, max_rounds + 1):
            lo, hi = 0, len(cand) - 1
            best = None
            while lo <= hi:
                mid = (lo + hi) // 2
                arr = self.best_by_rounds(access, egress, int(cand[mid]), k, wheelchair)[k]
                if arr <= arrive_by_s:
                    best = int(cand[mid])
                    lo = mid + 1
                else:
                    hi = mid - 1
            if best is not None and (last is None or best > last):
                found.append((best, k - 1))
                last = best
        return found
