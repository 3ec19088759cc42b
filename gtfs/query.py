"""Python API over the RAPTOR kernels: earliest arrival, range (rRAPTOR), arrive-by, departures.

All times are seconds since the query date's service-day midnight in the day context's
reference timezone (see :mod:`gtfs.day`). Access / egress are ``(stop_idx[], time_s[])``
walking times between the origin / destination and stops; footpaths are CSR arrays
``(fp_offsets, fp_to, fp_dur_s)`` between stops (None = no footpaths). Only numpy on this
path; kernel arguments are prepared once per timetable and cached.

Results are Pareto sets: ``earliest_arrival`` over (arrival, transfers), ``range_query`` over
(departure later, arrival earlier, fewer transfers), ``latest_departure`` over (departure
later, fewer transfers). ``latest_departure`` runs the same kernel on a time-reversed copy of
the timetable (stop order reversed, times negated, arrival <-> departure, pickup <->
drop-off, transfers and footpaths transposed).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from gtfs import raptor as kern
from gtfs.day import DayContext, day_trip_mask
from gtfs.timetable import Timetable

StopTimes = tuple[np.ndarray, np.ndarray]
Footpaths = tuple[np.ndarray, np.ndarray, np.ndarray]

_SWAP_ENDS = {kern.LEG_ACCESS: kern.LEG_EGRESS, kern.LEG_EGRESS: kern.LEG_ACCESS}
LEG_KINDS = {kern.LEG_ACCESS: "access", kern.LEG_TRANSIT: "transit", kern.LEG_TRANSFER: "transfer",
             kern.LEG_EGRESS: "egress"}


@dataclass(frozen=True)
class Leg:
    """One leg. ``trip``/``board_pos``/``alight_pos``/``service_date`` only for transit.

    Stops are stop indices (-1 for the origin/destination side of access/egress).
    """

    kind: str  # "access" | "transit" | "transfer" | "egress"
    from_stop: int
    to_stop: int
    depart_s: int
    arrive_s: int
    trip: int = -1
    board_pos: int = -1
    alight_pos: int = -1
    service_date: dt.date | None = None


@dataclass(frozen=True)
class Journey:
    """A journey from origin to destination; ``n_transfers`` = transit legs - 1."""

    depart_s: int
    arrive_s: int
    n_transfers: int
    legs: tuple[Leg, ...]

    @property
    def duration_s(self) -> int:
        """Door-to-door duration in seconds."""
        return self.arrive_s - self.depart_s

    @property
    def transit_legs(self) -> tuple[Leg, ...]:
        """Only the transit legs."""
        return tuple(leg for leg in self.legs if leg.kind == "transit")


@dataclass(frozen=True)
class Departure:
    """A scheduled departure at a stop, with live fields for delays/cancellations."""

    stop: int
    depart_s: int  # scheduled, query-day seconds
    realtime_depart_s: int  # depart_s + delay_s
    delay_s: int
    cancelled: bool
    trip: int
    trip_id: str
    route: int
    route_short_name: str
    headsign: str
    service_date: dt.date
    stop_pos: int
    is_last_stop: bool


# --------------------------------------------------------------------------- arguments


def _tt_args(tt: Timetable) -> tuple[np.ndarray, ...]:
    args = tt._cache.get("kernel_args")
    if args is None:
        a = tt.arrays
        names = ("pattern_stop_offsets", "pattern_stops", "pattern_pickup", "pattern_dropoff",
                 "pattern_trip_offsets", "pattern_st_offsets", "st_arrival_s",
                 "st_departure_s", "stop_pattern_offsets", "stop_patterns", "stop_pattern_pos",
                 "transfer_offsets", "transfer_to", "transfer_kind", "transfer_min_s",
                 "trip_wheelchair", "stop_wheelchair")
        args = tuple(np.ascontiguousarray(np.asarray(a[n])) for n in names)
        tt._cache["kernel_args"] = args
    return args


def _transpose_csr(offsets: np.ndarray, to: np.ndarray, *vals: np.ndarray,
                   n: int) -> tuple[np.ndarray, ...]:
    src = np.repeat(np.arange(n, dtype=np.int64), np.diff(offsets))
    order = np.lexsort((src, to))
    new_off = np.searchsorted(np.asarray(to)[order], np.arange(n + 1)).astype(np.int64)
    return (new_off, src[order].astype(np.int32)) + tuple(np.asarray(v)[order] for v in vals)


def _reverse_tt(tt: Timetable) -> dict[str, Any]:
    """Time-reversed kernel arguments and the trip permutation (an involution)."""
    rev = tt._cache.get("reverse")
    if rev is not None:
        return rev
    (pso, ps, pick, drop, pto, psto, st_arr, st_dep, spo, sp, spp, tr_off, tr_to, tr_kind,
     tr_min, trip_wc, stop_wc) = _tt_args(tt)
    n_pat = len(pto) - 1
    r_ps = np.empty_like(ps)
    r_pick = np.empty_like(pick)
    r_drop = np.empty_like(drop)
    r_arr = np.empty_like(st_arr)
    r_dep = np.empty_like(st_dep)
    perm = np.empty(len(trip_wc), dtype=np.int64)
    for p in range(n_pat):
        a, b = pso[p], pso[p + 1]
        n = b - a
        r_ps[a:b] = ps[a:b][::-1]
        r_pick[a:b] = drop[a:b][::-1]
        r_drop[a:b] = pick[a:b][::-1]
        t0, t1 = pto[p], pto[p + 1]
        s0, s1 = psto[p], psto[p + 1]
        blk_a = st_arr[s0:s1].reshape(t1 - t0, n)
        blk_d = st_dep[s0:s1].reshape(t1 - t0, n)
        r_arr[s0:s1] = (-blk_d[::-1, ::-1]).ravel()
        r_dep[s0:s1] = (-blk_a[::-1, ::-1]).ravel()
        perm[t0:t1] = np.arange(t1 - 1, t0 - 1, -1)
    n_stops = len(stop_wc)
    lens = (pso[1:] - pso[:-1])[sp]
    r_spp = (lens - 1 - spp).astype(np.int32)
    r_tr = _transpose_csr(tr_off, tr_to, tr_kind, tr_min, n=n_stops)
    args = (pso, r_ps, r_pick, r_drop, pto, psto, r_arr, r_dep, spo, sp, r_spp,
            r_tr[0], r_tr[1], r_tr[2], r_tr[3], trip_wc[perm], stop_wc)
    rev = {"args": args, "perm": perm}
    tt._cache["reverse"] = rev
    return rev


def _reverse_day(tt: Timetable, day: DayContext) -> dict[str, np.ndarray]:
    rd = day._cache.get("reverse")
    if rd is not None:
        return rd
    perm = _reverse_tt(tt)["perm"]
    lpo = day.layer_pat_offsets
    starts = lpo[:, :-1].ravel()
    ends = lpo[:, 1:].ravel()
    counts = ends - starts
    seg_s = np.repeat(starts, counts)
    seg_e = np.repeat(ends, counts)
    i = np.arange(day.n_instances)
    src_inst = seg_s + seg_e - 1 - i
    rd = {"inst_trip": perm[day.inst_trip[src_inst]].astype(np.int32),
          "inst_offset_s": (-day.inst_offset_s[src_inst]).astype(np.int64),
          "inst_map": src_inst}
    day._cache["reverse"] = rd
    return rd


def _fp_args(tt: Timetable, footpaths: Footpaths | None, reverse: bool) -> Footpaths:
    n = tt.n_stops
    if footpaths is None:
        return (np.zeros(n + 1, dtype=np.int64), np.zeros(0, dtype=np.int32),
                np.zeros(0, dtype=np.int32))
    off, to, dur = (np.asarray(x) for x in footpaths)
    if not reverse:
        return (off.astype(np.int64, copy=False), to.astype(np.int32, copy=False),
                dur.astype(np.int32, copy=False))
    key = ("fp_rev", id(footpaths[0]), id(footpaths[1]), id(footpaths[2]))
    hit = tt._cache.get(key)
    if hit is not None and hit[0] is footpaths[0]:
        return hit[1]
    t = _transpose_csr(off, to, dur, n=n)
    res = (t[0], t[1].astype(np.int32), t[2].astype(np.int32))
    tt._cache[key] = (footpaths[0], res)
    return res


def _live(tt: Timetable, stop_closed: np.ndarray | None, trip_delay_s: np.ndarray | None,
          trip_cancelled: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    z = tt._cache.get("live_zero")
    if z is None:
        z = (np.zeros(tt.n_stops, dtype=np.bool_), np.zeros(tt.n_trips, dtype=np.int32),
             np.zeros(tt.n_trips, dtype=np.bool_))
        tt._cache["live_zero"] = z
    return (z[0] if stop_closed is None else np.asarray(stop_closed, dtype=np.bool_),
            z[1] if trip_delay_s is None else np.asarray(trip_delay_s, dtype=np.int32),
            z[2] if trip_cancelled is None else np.asarray(trip_cancelled, dtype=np.bool_))


def _stop_times_arg(x: StopTimes) -> tuple[np.ndarray, np.ndarray]:
    s = np.ascontiguousarray(np.asarray(x[0], dtype=np.int32))
    t = np.ascontiguousarray(np.asarray(x[1], dtype=np.int64))
    if s.shape != t.shape:
        raise ValueError("stop indices and times must have the same length")
    return s, t


# --------------------------------------------------------------------------- decoding


def _decode(day: DayContext, journeys: np.ndarray, legs: np.ndarray,
            reverse: bool = False, inst_map: np.ndarray | None = None,
            pattern_len: np.ndarray | None = None,
            trip_pattern: np.ndarray | None = None) -> list[Journey]:
    out: list[Journey] = []
    for j in journeys:
        first, count = int(j[3]), int(j[4])
        raw = legs[first: first + count]
        items: list[Leg] = []
        for row in raw:
            kind, inst, a, b, bp, ap, dep, arr = (int(v) for v in row)
            if reverse:
                dep, arr = -arr, -dep
                kind = _SWAP_ENDS.get(kind, kind)
                if kind == kern.LEG_ACCESS:
                    a, b = -1, a
                elif kind == kern.LEG_EGRESS:
                    a, b = b, -1
                else:
                    a, b = b, a
            if kind == kern.LEG_TRANSIT:
                if reverse:
                    inst = int(inst_map[inst])
                trip = int(day.inst_trip[inst])
                if reverse:
                    n = int(pattern_len[trip_pattern[trip]])
                    bp, ap = n - 1 - ap, n - 1 - bp
                items.append(Leg("transit", a, b, dep, arr, trip, bp, ap,
                                 day.service_date(inst)))
            else:
                items.append(Leg(LEG_KINDS[kind], a, b, dep, arr))
        if reverse:
            items.reverse()
        n_transit = sum(1 for leg in items if leg.kind == "transit")
        out.append(Journey(items[0].depart_s, items[-1].arrive_s, n_transit - 1, tuple(items)))
    return out


def _pareto(journeys: list[Journey], by_departure: bool, by_arrival: bool) -> list[Journey]:
    """Non-dominated journeys (later departure / earlier arrival / fewer transfers)."""
    keep: list[Journey] = []
    seen = set()
    for j in journeys:
        dominated = False
        for o in journeys:
            if o is j:
                continue
            ge = ((not by_departure or o.depart_s >= j.depart_s)
                  and (not by_arrival or o.arrive_s <= j.arrive_s)
                  and o.n_transfers <= j.n_transfers)
            gt = ((by_departure and o.depart_s > j.depart_s)
                  or (by_arrival and o.arrive_s < j.arrive_s)
                  or o.n_transfers < j.n_transfers)
            if ge and gt:
                dominated = True
                break
        key = (j.depart_s if by_departure else 0, j.arrive_s if by_arrival else 0,
               j.n_transfers)
        if not dominated and key not in seen:
            seen.add(key)
            keep.append(j)
    return keep


# --------------------------------------------------------------------------- public API


def _run(tt: Timetable, day: DayContext, access: StopTimes, egress: StopTimes,
         departures: np.ndarray, max_rounds: int, min_transfer_s: int, wheelchair: bool,
         footpaths: Footpaths | None, stop_closed: np.ndarray | None,
         trip_delay_s: np.ndarray | None, trip_cancelled: np.ndarray | None,
         reverse: bool = False) -> tuple[np.ndarray, np.ndarray]:
    closed, delay, cancelled = _live(tt, stop_closed, trip_delay_s, trip_cancelled)
    acc_s, acc_t = _stop_times_arg(access)
    eg_s, eg_t = _stop_times_arg(egress)
    if reverse:
        rev = _reverse_tt(tt)
        args = rev["args"]
        rd = _reverse_day(tt, day)
        inst_trip, inst_off = rd["inst_trip"], rd["inst_offset_s"]
        perm = rev["perm"]
        delay = (-delay[perm]).astype(np.int32)
        cancelled = cancelled[perm]
    else:
        args = _tt_args(tt)
        inst_trip, inst_off = day.inst_trip, day.inst_offset_s
    fp = _fp_args(tt, footpaths, reverse)
    return kern.raptor(*args, day.layer_pat_offsets, inst_trip, inst_off, acc_s, acc_t, eg_s,
                    eg_t, fp[0], fp[1], fp[2], departures, int(max_rounds),
                    int(min_transfer_s), bool(wheelchair), closed, delay, cancelled)


def earliest_arrival(
    tt: Timetable, day: DayContext, access: StopTimes, egress: StopTimes, depart_s: int, *,
    max_rounds: int = 6, min_transfer_s: int = 60, wheelchair: bool = False,
    footpaths: Footpaths | None = None, stop_closed: np.ndarray | None = None,
    trip_delay_s: np.ndarray | None = None, trip_cancelled: np.ndarray | None = None,
) -> list[Journey]:
    """Pareto set over (arrival, transfers) of journeys leaving the origin at ``depart_s``
    or later, with at most ``max_rounds`` trips; sorted by number of transfers."""
    deps = np.array([depart_s], dtype=np.int64)
    js, legs = _run(tt, day, access, egress, deps, max_rounds, min_transfer_s, wheelchair,
                    footpaths, stop_closed, trip_delay_s, trip_cancelled)
    return sorted(_decode(day, js, legs), key=lambda j: j.n_transfers)


def range_query(
    tt: Timetable, day: DayContext, access: StopTimes, egress: StopTimes, from_s: int,
    window_s: int = 3600, *, max_rounds: int = 6, min_transfer_s: int = 60,
    wheelchair: bool = False, footpaths: Footpaths | None = None,
    stop_closed: np.ndarray | None = None, trip_delay_s: np.ndarray | None = None,
    trip_cancelled: np.ndarray | None = None,
) -> list[Journey]:
    """All Pareto-optimal journeys (departure later, arrival earlier, fewer transfers) that
    leave the origin in ``[from_s, from_s + window_s]``; sorted by departure."""
    closed, delay, cancelled = _live(tt, stop_closed, trip_delay_s, trip_cancelled)
    acc_s, acc_t = _stop_times_arg(access)
    a = _tt_args(tt)
    deps = kern.collect_departures(a[0], a[2], a[4], a[5], a[7], a[8], a[9], a[10], a[15], a[16],
                                day.layer_pat_offsets, day.inst_trip, day.inst_offset_s,
                                acc_s, acc_t, int(from_s), int(from_s + window_s),
                                bool(wheelchair), closed, delay, cancelled)
    if deps.size == 0:
        return []
    js, legs = _run(tt, day, access, egress, deps, max_rounds, min_transfer_s, wheelchair,
                    footpaths, stop_closed, trip_delay_s, trip_cancelled)
    found = [j for j in _decode(day, js, legs) if from_s <= j.depart_s <= from_s + window_s]
    return sorted(_pareto(found, True, True), key=lambda j: (j.depart_s, j.n_transfers))


def latest_departure(
    tt: Timetable, day: DayContext, access: StopTimes, egress: StopTimes, arrive_by_s: int, *,
    max_rounds: int = 6, min_transfer_s: int = 60, wheelchair: bool = False,
    footpaths: Footpaths | None = None, stop_closed: np.ndarray | None = None,
    trip_delay_s: np.ndarray | None = None, trip_cancelled: np.ndarray | None = None,
) -> list[Journey]:
    """Arrive-by: Pareto set over (departure later, fewer transfers) of journeys reaching the
    destination by ``arrive_by_s``; sorted by number of transfers."""
    deps = np.array([-arrive_by_s], dtype=np.int64)
    js, legs = _run(tt, day, egress, access, deps, max_rounds, min_transfer_s, wheelchair,
                    footpaths, stop_closed, trip_delay_s, trip_cancelled, reverse=True)
    pso = np.asarray(tt.arrays["pattern_stop_offsets"])
    found = _decode(day, js, legs, reverse=True, inst_map=_reverse_day(tt, day)["inst_map"],
                    pattern_len=pso[1:] - pso[:-1],
                    trip_pattern=np.asarray(tt.arrays["trip_pattern"]))
    return sorted(found, key=lambda j: j.n_transfers)


def departures(
    tt: Timetable, day: DayContext, stop_idx: int, from_s: int, limit: int = 10, *,
    trip_delay_s: np.ndarray | None = None, trip_cancelled: np.ndarray | None = None,
    include_cancelled: bool = True,
) -> list[Departure]:
    """Next ``limit`` departures at a stop from ``from_s`` (by realtime time when delays are
    given), one entry per trip instance; arrivals at a trip's last stop are excluded."""
    _closed, delay, cancelled = _live(tt, None, trip_delay_s, trip_cancelled)
    a = tt.arrays
    pso = np.asarray(a["pattern_stop_offsets"])
    pto = np.asarray(a["pattern_trip_offsets"])
    psto = np.asarray(a["pattern_st_offsets"])
    st_dep = np.asarray(a["st_departure_s"])
    pick = np.asarray(a["pattern_pickup"])
    spo = np.asarray(a["stop_pattern_offsets"])
    rows: list[tuple[int, int, int, int, bool]] = []  # (rt_dep, sched, inst, pos, last)
    for x in range(int(spo[stop_idx]), int(spo[stop_idx + 1])):
        pat = int(a["stop_patterns"][x])
        pos = int(a["stop_pattern_pos"][x])
        n = int(pso[pat + 1] - pso[pat])
        if not pick[pso[pat] + pos]:
            continue
        for layer in range(day.layer_pat_offsets.shape[0]):
            ia, ib = day.layer_pat_offsets[layer, pat], day.layer_pat_offsets[layer, pat + 1]
            if ia == ib:
                continue
            inst = np.arange(ia, ib)
            trips = day.inst_trip[inst]
            sched = st_dep[psto[pat] + (trips - pto[pat]) * n + pos] + day.inst_offset_s[inst]
            rt = sched + delay[trips]
            sel = np.flatnonzero(rt >= from_s)
            if not include_cancelled:
                sel = sel[~cancelled[trips[sel]]]
            sel = sel[np.argsort(rt[sel], kind="stable")][:limit]
            rows.extend((int(rt[i]), int(sched[i]), int(inst[i]), pos, pos == n - 1)
                        for i in sel)
    rows.sort()
    out = []
    for rt, sched, inst, pos, last in rows[:limit]:
        trip = int(day.inst_trip[inst])
        route = int(a["trip_route"][trip])
        out.append(Departure(
            stop=stop_idx, depart_s=sched, realtime_depart_s=rt, delay_s=rt - sched,
            cancelled=bool(cancelled[trip]), trip=trip, trip_id=tt.strings["trip_id"][trip],
            route=route, route_short_name=tt.strings["route_short_name"][route],
            headsign=tt.strings["trip_headsign"][trip], service_date=day.service_date(inst),
            stop_pos=pos, is_last_stop=last))
    return out


def warmup(tt: Timetable | None = None) -> None:
    """Compile (or load from the numba cache) all kernels, on ``tt`` or a tiny timetable.

    Pass the memory-mapped production timetable to also warm its read-only signatures.
    """
    if tt is None:
        tt = _tiny_timetable()
    day = day_trip_mask(tt, _any_service_date(tt))
    stops = np.arange(min(2, tt.n_stops))
    acc = (stops[:1], np.zeros(1, dtype=np.int64))
    egr = (stops[-1:], np.zeros(1, dtype=np.int64))
    fp = (np.zeros(tt.n_stops + 1, dtype=np.int64), np.zeros(0, dtype=np.int32),
          np.zeros(0, dtype=np.int32))
    earliest_arrival(tt, day, acc, egr, 0, footpaths=fp)
    range_query(tt, day, acc, egr, 0, 600, footpaths=fp)
    latest_departure(tt, day, acc, egr, 86400, footpaths=fp)


def _any_service_date(tt: Timetable) -> dt.date:
    bits = np.asarray(tt.arrays["service_days"])
    if bits.size:
        col = np.flatnonzero(np.unpackbits(bits, axis=1, bitorder="little").any(axis=0))
        if col.size:
            return tt.calendar_start + dt.timedelta(days=int(col[0]))
    return tt.calendar_start


def _tiny_timetable() -> Timetable:
    from gtfs.testing import tiny_timetable  # local: only needed for warm-up

    return tiny_timetable()
