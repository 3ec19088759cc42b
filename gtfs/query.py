"""Python API over the RAPTOR kernels: earliest arrival, range (rRAPTOR), arrive-by, departures.

All times are seconds since the query date's service-day midnight in the day context's
reference timezone (see :mod:`gtfs.day`). Access / egress are ``(stop_idx[], time_s[])``
walking times between the origin / destination and stops; footpaths are CSR arrays
``(fp_offsets, fp_to, fp_dur_s)`` between stops (None = no footpaths). Only numpy on this
path. The kernel's fixed arguments (timetable, day, live and footpath arrays, with closures,
cancellations and the wheelchair mode folded into per-position and per-trip flags) are
prepared once per (day, live value, footpaths, direction, wheelchair mode) and cached on the
day context; each thread reuses its own scratch arrays for the labels (left clean by the
kernel, dropped if a query fails), so a query converts only its access, egress and departure
arrays. Queries may run from several threads at once (the kernel releases the GIL).

Live data is one :class:`~gtfs.live.TransitLive` (``live=``): stop closures, and per service
date cancellations, skipped stops and realtime stop times. Each day layer of the
:class:`~gtfs.day.DayContext` (previous / query / next service day) reads the realtime times of
its own service date. The per-layer kernel arrays are prepared once per
``(live.version, day.date)`` and kept in a small LRU cache on the timetable; without realtime
data the scheduled arrays are passed as they are (no per-query copies). Journeys and legs then
carry realtime times. ``wheelchair`` is a mode: :data:`WHEELCHAIR_OFF`,
:data:`WHEELCHAIR_STRICT` (only trips and stops marked accessible) or
:data:`WHEELCHAIR_ALLOW_UNKNOWN` (exclude only those marked not accessible).

Results are Pareto sets: ``earliest_arrival`` over (arrival, transfers), ``range_query`` over
(departure later, arrival earlier, fewer transfers), ``latest_departure`` over (departure
later, fewer transfers). ``latest_departure`` runs the same kernel on a time-reversed copy of
the timetable (stop order reversed, times negated, arrival <-> departure, pickup <->
drop-off, transfers and footpaths transposed).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, fields
from typing import Any, NamedTuple

import numpy as np

from gtfs import raptor as kern
from gtfs.day import DayContext, day_trip_mask
from gtfs.live import LiveDataError, ServiceDayLive, TransitLive, TransitLiveBuilder
from gtfs.timetable import Timetable

StopTimes = tuple[np.ndarray, np.ndarray]
Footpaths = tuple[np.ndarray, np.ndarray, np.ndarray]

#: Wheelchair modes: ignore accessibility; strict (only trips and stops with value 1);
#: allow unknown (exclude only the explicit 2 = not accessible; 0 = unknown is allowed).
WHEELCHAIR_OFF = kern.WHEELCHAIR_OFF
WHEELCHAIR_STRICT = kern.WHEELCHAIR_STRICT
WHEELCHAIR_ALLOW_UNKNOWN = kern.WHEELCHAIR_ALLOW_UNKNOWN

#: Prepared live arrays kept per timetable (each holds per-layer copies of the stop times).
LIVE_CACHE_SIZE = 4
#: "Not reached" in :func:`stop_arrivals`.
INF_S = int(kern.INF)
_NO_STOP_ARRIVAL = np.zeros(0, dtype=np.int64)

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
    """A departure of one trip instance at a stop: scheduled and expected (realtime) time in
    query-day seconds, the delay (``realtime_depart_s - depart_s``), whether the trip is
    cancelled that day or skips this stop (listed, but nobody can board), and whether
    realtime data exists for this trip instance (``realtime``; false: the schedule)."""

    stop: int
    depart_s: int  # scheduled, query-day seconds
    realtime_depart_s: int  # depart_s + delay_s
    delay_s: int
    cancelled: bool
    skipped: bool
    trip: int
    trip_id: str
    route: int
    route_short_name: str
    headsign: str
    service_date: dt.date
    stop_pos: int
    is_last_stop: bool
    realtime: bool = False


# --------------------------------------------------------------------------- arguments


class _KernelTimetable(NamedTuple):
    """The timetable arrays of :func:`gtfs.raptor.raptor`, in its argument order."""

    pso: np.ndarray
    ps: np.ndarray
    pick: np.ndarray
    drop: np.ndarray
    pto: np.ndarray
    psto: np.ndarray
    st_arr: np.ndarray
    st_dep: np.ndarray
    spo: np.ndarray
    sp: np.ndarray
    spp: np.ndarray
    tr_off: np.ndarray
    tr_to: np.ndarray
    tr_kind: np.ndarray
    tr_min: np.ndarray
    trip_wc: np.ndarray
    stop_wc: np.ndarray


def _tt_args(tt: Timetable) -> _KernelTimetable:
    args: _KernelTimetable | None = tt.derived.get("kernel_args")
    if args is None:
        a = tt.arrays
        names = ("pattern_stop_offsets", "pattern_stops", "pattern_pickup", "pattern_dropoff",
                 "pattern_trip_offsets", "pattern_st_offsets", "st_arrival_s",
                 "st_departure_s", "stop_pattern_offsets", "stop_patterns", "stop_pattern_pos",
                 "transfer_offsets", "transfer_to", "transfer_kind", "transfer_min_s",
                 "trip_wheelchair", "stop_wheelchair")
        args = _KernelTimetable._make(np.ascontiguousarray(np.asarray(a[n])) for n in names)
        tt.derived["kernel_args"] = args
    return args


def _transpose_csr(offsets: np.ndarray, to: np.ndarray, *vals: np.ndarray,
                   n: int) -> tuple[np.ndarray, ...]:
    src = np.repeat(np.arange(n, dtype=np.int64), np.diff(offsets))
    order = np.lexsort((src, to))
    new_off = np.searchsorted(np.asarray(to)[order], np.arange(n + 1)).astype(np.int64)
    return (new_off, src[order].astype(np.int32)) + tuple(np.asarray(v)[order] for v in vals)


def _reverse_tt(tt: Timetable) -> dict[str, Any]:
    """Time-reversed kernel arguments and the trip permutation (an involution)."""
    rev = tt.derived.get("reverse")
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
    st_perm = np.empty(len(st_arr), dtype=np.int64)  # reversed stop time -> forward one
    for p in range(n_pat):
        a, b = pso[p], pso[p + 1]
        n = b - a
        r_ps[a:b] = ps[a:b][::-1]
        r_pick[a:b] = drop[a:b][::-1]
        r_drop[a:b] = pick[a:b][::-1]
        t0, t1 = pto[p], pto[p + 1]
        s0, s1 = psto[p], psto[p + 1]
        st_perm[s0:s1] = np.arange(s0, s1).reshape(t1 - t0, n)[::-1, ::-1].ravel()
        perm[t0:t1] = np.arange(t1 - 1, t0 - 1, -1)
    r_arr[:] = -st_dep[st_perm]
    r_dep[:] = -st_arr[st_perm]
    n_stops = len(stop_wc)
    lens = (pso[1:] - pso[:-1])[sp]
    r_spp = (lens - 1 - spp).astype(np.int32)
    r_tr = _transpose_csr(tr_off, tr_to, tr_kind, tr_min, n=n_stops)
    args = _KernelTimetable(pso, r_ps, r_pick, r_drop, pto, psto, r_arr, r_dep, spo, sp, r_spp,
                            r_tr[0], r_tr[1], r_tr[2], r_tr[3], trip_wc[perm], stop_wc)
    rev = {"args": args, "perm": perm, "st_perm": st_perm}
    tt.derived["reverse"] = rev
    return rev


def _reverse_day(tt: Timetable, day: DayContext) -> dict[str, np.ndarray]:
    rd = day.derived.get("reverse")
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
    day.derived["reverse"] = rd
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
    hit = tt.derived.get(key)
    if hit is not None and hit[0] is footpaths[0]:
        return hit[1]
    t = _transpose_csr(off, to, dur, n=n)
    res = (t[0], t[1].astype(np.int32), t[2].astype(np.int32))
    tt.derived[key] = (footpaths[0], res)
    return res


def _wheelchair_mode(wheelchair: int | bool) -> int:
    mode = int(wheelchair)  # True -> strict (the former boolean flag)
    if mode not in (WHEELCHAIR_OFF, WHEELCHAIR_STRICT, WHEELCHAIR_ALLOW_UNKNOWN):
        raise ValueError(f"wheelchair mode must be 0 (off), 1 (strict) or 2 (allow unknown), "
                         f"got {wheelchair!r}")
    return mode


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.flags.writeable = False
    return a


@dataclass(frozen=True)
class _LayerArrays:
    """Live arguments of the kernels for one day context (see :mod:`gtfs.raptor`)."""

    st_arr: np.ndarray  # int32, per-layer blocks of stop times
    st_dep: np.ndarray
    layer_st: np.ndarray  # int64 [n_layers], block base into st_arr / st_dep / st_skip
    layer_trip: np.ndarray  # int64 [n_layers], block base into trip_cancel
    st_skip: np.ndarray  # bool
    trip_cancel: np.ndarray  # bool
    layer_pat_fifo: np.ndarray  # bool [n_layers, n_patterns]


@dataclass
class _LiveEntry:
    """Prepared arrays of one (live version, day context); ``days`` are the live objects
    they were made from (held, so a reused version with other data is noticed)."""

    days: tuple[ServiceDayLive | None, ...]
    forward: _LayerArrays
    blocks: list[tuple[ServiceDayLive | None, np.ndarray]]  # (data, fifo per pattern)
    layer_block: np.ndarray
    reverse: _LayerArrays | None = field(default=None)


_LIVE_LOCK = threading.Lock()


def _plain_layers(tt: Timetable, n_layers: int, reverse: bool) -> _LayerArrays:
    """Scheduled times for every layer: no per-query allocation of stop-time arrays."""
    key = ("plain_layers", n_layers, reverse)
    hit = tt.derived.get(key)
    if hit is not None:
        return hit
    args = _reverse_tt(tt)["args"] if reverse else _tt_args(tt)
    zeros = tt.derived.get("live_zeros")
    if zeros is None:
        zeros = (_readonly(np.zeros(len(args[6]), dtype=np.bool_)),
                 _readonly(np.zeros(tt.n_trips, dtype=np.bool_)))
        tt.derived["live_zeros"] = zeros
    out = _LayerArrays(args[6], args[7], _readonly(np.zeros(n_layers, dtype=np.int64)),
                       _readonly(np.zeros(n_layers, dtype=np.int64)), zeros[0], zeros[1],
                       _readonly(np.ones((n_layers, tt.n_patterns), dtype=np.bool_)))
    tt.derived[key] = out
    return out


def _closed_arg(tt: Timetable, live: TransitLive | None) -> np.ndarray:
    if live is None or live.stop_closed is None:
        z = tt.derived.get("live_no_closure")
        if z is None:
            z = _readonly(np.zeros(tt.n_stops, dtype=np.bool_))
            tt.derived["live_no_closure"] = z
        return z
    if live.stop_closed.shape[0] != tt.n_stops:
        raise LiveDataError(f"stop_closed has {live.stop_closed.shape[0]} stops, the timetable "
                            f"{tt.n_stops}")
    return live.stop_closed


def _layer_dates(day: DayContext) -> list[dt.date]:
    return [day.date + dt.timedelta(days=int(d)) for d in day.layer_days]


def _check_day(tt: Timetable, sdl: ServiceDayLive, st_arr: np.ndarray,
               st_dep: np.ndarray) -> None:
    """Raise :class:`LiveDataError` when ``sdl`` does not fit the timetable."""
    if sdl.n_trips != tt.n_trips or sdl.n_stop_times != len(st_arr):
        raise LiveDataError(
            f"service date {sdl.service_date}: {sdl.n_trips} trips / {sdl.n_stop_times} stop "
            f"times, the timetable has {tt.n_trips} / {len(st_arr)}")
    a = _tt_args(tt)
    bad = kern.first_unordered_stop_time(a[0], a[4], a[5], st_arr, st_dep,
                                         sdl.arrival_delay_s, sdl.departure_delay_s)
    if bad >= 0:
        pat = int(np.searchsorted(a[5], bad, side="right") - 1)
        n = int(a[0][pat + 1] - a[0][pat])
        trip, pos = divmod(int(bad - a[5][pat]), n)
        trip += int(a[4][pat])
        raise LiveDataError(
            f"service date {sdl.service_date}: realtime times of trip "
            f"{tt.strings['trip_id'][trip]} decrease at stop position {pos}")


def _prepare_live(tt: Timetable, day: DayContext,
                  days: tuple[ServiceDayLive | None, ...]) -> _LiveEntry:
    """Concatenate one block of realtime times per distinct service date (the scheduled
    times for layers without data) and flag the (layer, pattern) pairs that stay FIFO."""
    a = _tt_args(tt)
    pso, pto, psto, st_arr, st_dep = a[0], a[4], a[5], a[6], a[7]
    trip_service = np.asarray(tt.arrays["trip_service"])
    blocks: list[tuple[ServiceDayLive | None, np.ndarray]] = []
    layer_block = np.zeros(len(days), dtype=np.int64)
    for li, sdl in enumerate(days):
        for bi, (x, _) in enumerate(blocks):
            if x is sdl:
                layer_block[li] = bi
                break
        else:
            layer_block[li] = len(blocks)
            if sdl is None:
                blocks.append((None, np.ones(tt.n_patterns, dtype=np.bool_)))
                continue
            _check_day(tt, sdl, st_arr, st_dep)
            runs = tt.active_service_mask(sdl.service_date)
            runs = runs[trip_service] if len(runs) else np.zeros(tt.n_trips, dtype=np.bool_)
            fifo = kern.realtime_fifo(pso, pto, psto, st_arr + sdl.arrival_delay_s,
                                      st_dep + sdl.departure_delay_s, sdl.skipped, runs,
                                      sdl.trip_cancelled)
            blocks.append((sdl, fifo))
    n_st = len(st_arr)
    zeros_st = np.zeros(n_st, dtype=np.bool_)
    zeros_trip = np.zeros(tt.n_trips, dtype=np.bool_)
    forward = _LayerArrays(
        st_arr=_readonly(np.concatenate([st_arr if x is None else st_arr + x.arrival_delay_s
                                         for x, _ in blocks])),
        st_dep=_readonly(np.concatenate([st_dep if x is None else st_dep + x.departure_delay_s
                                         for x, _ in blocks])),
        layer_st=_readonly(layer_block * n_st),
        layer_trip=_readonly(layer_block * tt.n_trips),
        st_skip=_readonly(np.concatenate([zeros_st if x is None else x.skipped
                                          for x, _ in blocks])),
        trip_cancel=_readonly(np.concatenate([zeros_trip if x is None else x.trip_cancelled
                                              for x, _ in blocks])),
        layer_pat_fifo=_readonly(np.stack([blocks[b][1] for b in layer_block])))
    return _LiveEntry(days=days, forward=forward, blocks=blocks, layer_block=layer_block)


def _reverse_live(tt: Timetable, entry: _LiveEntry) -> _LayerArrays:
    """The time-reversed counterpart of ``entry.forward`` (same block layout)."""
    rev = _reverse_tt(tt)
    st_perm, perm = rev["st_perm"], rev["perm"]
    f = entry.forward
    n_st = len(st_perm)
    nb = len(entry.blocks)
    idx = (np.arange(nb, dtype=np.int64)[:, None] * n_st + st_perm[None, :]).ravel()
    tidx = (np.arange(nb, dtype=np.int64)[:, None] * tt.n_trips + perm[None, :]).ravel()
    return _LayerArrays(
        st_arr=_readonly(-f.st_dep[idx]), st_dep=_readonly(-f.st_arr[idx]),
        layer_st=f.layer_st, layer_trip=f.layer_trip, st_skip=_readonly(f.st_skip[idx]),
        trip_cancel=_readonly(f.trip_cancel[tidx]), layer_pat_fifo=f.layer_pat_fifo)


def _live_layers(tt: Timetable, day: DayContext, live: TransitLive | None,
                 reverse: bool = False) -> _LayerArrays:
    """Kernel live arrays for ``day`` under ``live``: the cached plain arrays when no layer
    has realtime data, else arrays prepared once per ``(live.version, day.date)`` (and day
    layout) and kept in a small LRU cache on the timetable."""
    n_layers = int(day.layer_days.shape[0])
    days: tuple[ServiceDayLive | None, ...] = ()
    if live is not None and live.days:
        days = tuple(live.day(d) for d in _layer_dates(day))
    if live is None or all(x is None for x in days):
        return _plain_layers(tt, n_layers, reverse)
    key = (int(live.version), day.date, tuple(int(d) for d in day.layer_days))
    with _LIVE_LOCK:
        cache = tt.derived.setdefault("live_layers", OrderedDict())
        entry = cache.get(key)
        if entry is not None and all(x is y for x, y in zip(entry.days, days, strict=True)):
            cache.move_to_end(key)
        else:
            entry = None
    if entry is None:
        entry = _prepare_live(tt, day, days)
        with _LIVE_LOCK:
            cache[key] = entry
            cache.move_to_end(key)
            while len(cache) > LIVE_CACHE_SIZE:
                cache.popitem(last=False)
    if not reverse:
        return entry.forward
    if entry.reverse is None:
        entry.reverse = _reverse_live(tt, entry)
    return entry.reverse


def _stop_times_arg(x: StopTimes, n_stops: int) -> tuple[np.ndarray, np.ndarray]:
    s = np.ascontiguousarray(x[0], dtype=np.int32)
    t = np.ascontiguousarray(x[1], dtype=np.int64)
    if s.shape != t.shape or s.ndim != 1:
        raise ValueError("stop indices and times must be 1-d and of the same length")
    if s.size:
        # (a few stops: Python's min / max are faster than numpy's reductions)
        vals = s.tolist() if s.size <= 16 else [int(s.min()), int(s.max())]
        if min(vals) < 0 or max(vals) >= n_stops:
            raise ValueError(f"stop index out of range (0..{n_stops - 1})")
    return s, t


class _FixedArgs(NamedTuple):
    """The arguments of :func:`gtfs.raptor.raptor` that stay the same for every query on one
    (timetable, day, live value, footpaths, direction, wheelchair mode), in the kernel's
    order (``spo``/``sp``/``spp`` only the entries where boarding is allowed)."""

    pso: np.ndarray
    ps: np.ndarray
    pick: np.ndarray  # and the stop open and accessible in the query's wheelchair mode
    drop: np.ndarray  # alike
    spo: np.ndarray
    sp: np.ndarray
    spp: np.ndarray
    tr_off: np.ndarray
    tr_to: np.ndarray
    tr_kind: np.ndarray
    tr_min: np.ndarray
    lpo: np.ndarray
    inst_base: np.ndarray  # the running instances' stop times (gtfs.raptor.instance_times)
    st_arr: np.ndarray
    st_dep: np.ndarray
    st_skip: np.ndarray
    inst_ok: np.ndarray
    layer_pat_fifo: np.ndarray
    layer_after: np.ndarray  # gtfs.raptor.layers_after
    fp_off: np.ndarray
    fp_to: np.ndarray
    fp_dur: np.ndarray


#: Prepared argument sets kept per day context (live values and footpath sets in use).
PREPARED_CACHE_SIZE = 8


def _boarding_entries(tt: Timetable,
                      reverse: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    key = ("boarding_entries", reverse)
    hit: tuple[np.ndarray, np.ndarray, np.ndarray] | None = tt.derived.get(key)
    if hit is None:
        a = _reverse_tt(tt)["args"] if reverse else _tt_args(tt)
        hit = kern.boarding_entries(a.pso, a.pick, a.spo, a.sp, a.spp)
        tt.derived[key] = hit
    return hit


def _running_entries(tt: Timetable, day: DayContext,
                     reverse: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_boarding_entries` without the patterns that have no instance on any layer of
    ``day`` (nothing to board there: a query would queue them for nothing); cached on the
    day context."""
    key = "running_entries_reverse" if reverse else "running_entries"
    hit = day.derived.get(key)
    if hit is not None and hit[0] is tt:
        entries: tuple[np.ndarray, np.ndarray, np.ndarray] = hit[1]
        return entries
    spo, sp, spp = _boarding_entries(tt, reverse)
    lpo = day.layer_pat_offsets
    running = np.asarray((lpo[:, 1:] > lpo[:, :-1]).any(axis=0))
    keep = running[sp]
    if keep.all():
        entries = (spo, sp, spp)
    else:
        stop_of = np.repeat(np.arange(tt.n_stops, dtype=np.int64), np.diff(spo))
        entries = (np.searchsorted(stop_of[keep], np.arange(tt.n_stops + 1)).astype(np.int64),
                   np.ascontiguousarray(sp[keep]), np.ascontiguousarray(spp[keep]))
    with _LIVE_LOCK:
        day.derived[key] = (tt, entries)
    return entries


def _prepared(tt: Timetable, day: DayContext, live: TransitLive | None,
              footpaths: Footpaths | None, reverse: bool, mode: int) -> _FixedArgs:
    """The kernel's fixed arguments, prepared once per (day, live value, footpaths,
    direction, wheelchair mode) and kept on the day context; a query then only converts its
    own access, egress and departure arrays."""
    cache: OrderedDict[tuple[int, int, int, bool, int], tuple[Any, ...]] | None = \
        day.derived.get("prepared")
    if cache is None:
        with _LIVE_LOCK:
            cache = day.derived.setdefault("prepared", OrderedDict())
    fp0 = None if footpaths is None else footpaths[0]
    key = (id(live), id(fp0), id(tt), reverse, mode)
    hit = cache.get(key)
    # the entry holds the objects it was made from: identity, not a reused id, decides
    if hit is not None and hit[0] is live and hit[1] is footpaths and hit[2] is tt:
        fixed: _FixedArgs = hit[3]
        return fixed
    closed = _closed_arg(tt, live)
    la = _live_layers(tt, day, live, reverse)
    targs: _KernelTimetable
    if reverse:
        targs = _reverse_tt(tt)["args"]
        rd = _reverse_day(tt, day)
        inst_trip, inst_off = rd["inst_trip"], rd["inst_offset_s"]
    else:
        targs = _tt_args(tt)
        inst_trip, inst_off = day.inst_trip, day.inst_offset_s
    fp_off, fp_to, fp_dur = _fp_args(tt, footpaths, reverse)
    # the kernel takes footpaths without loops s -> s (they never count)
    src = np.repeat(np.arange(tt.n_stops, dtype=np.int64), np.diff(fp_off))
    if (fp_to == src).any():
        keep = fp_to != src
        fp_off = np.searchsorted(src[keep], np.arange(tt.n_stops + 1)).astype(np.int64)
        fp_to, fp_dur = np.ascontiguousarray(fp_to[keep]), np.ascontiguousarray(fp_dur[keep])
    pick = kern.usable_positions(targs.ps, targs.pick, targs.stop_wc, closed, mode)
    drop = kern.usable_positions(targs.ps, targs.drop, targs.stop_wc, closed, mode)
    inst_base, st_arr, st_dep, st_skip, inst_ok = kern.instance_times(
        targs.pso, targs.pto, targs.psto, targs.trip_wc, day.layer_pat_offsets, inst_trip,
        inst_off, la.st_arr, la.st_dep, la.st_skip, la.layer_st, la.layer_trip,
        la.trip_cancel, mode)
    fixed = _FixedArgs(targs.pso, targs.ps, pick, drop, *_running_entries(tt, day, reverse),
                       *targs[11:15], day.layer_pat_offsets, inst_base, st_arr, st_dep,
                       st_skip, inst_ok, la.layer_pat_fifo,
                       kern.layers_after(targs.pso, day.layer_pat_offsets, inst_base, st_arr),
                       fp_off, fp_to, fp_dur)
    with _LIVE_LOCK:
        cache[key] = (live, footpaths, tt, fixed)
        cache.move_to_end(key)
        while len(cache) > PREPARED_CACHE_SIZE:
            cache.popitem(last=False)
    return fixed


#: Rounds the per-thread scratch arrays are first sized for (grown on demand).
SCRATCH_ROUNDS = 8


class _ScratchSlot(threading.local):
    """This thread's :class:`gtfs.raptor.Scratch` for one timetable (None while in use)."""

    scratch: kern.Scratch | None = None


def _take_scratch(tt: Timetable, max_rounds: int) -> tuple[_ScratchSlot, kern.Scratch]:
    """This thread's scratch arrays for ``tt`` (taken out of its slot while a query runs)."""
    slot: _ScratchSlot | None = tt.derived.get("raptor_scratch")
    if slot is None:
        with _LIVE_LOCK:
            slot = tt.derived.setdefault("raptor_scratch", _ScratchSlot())
    scratch = slot.scratch
    slot.scratch = None
    if scratch is None or scratch.max_rounds < max_rounds:
        lens = tt.derived.get("max_pattern_len")
        if lens is None:
            pso = np.asarray(tt.arrays["pattern_stop_offsets"])
            lens = int(np.diff(pso).max()) if len(pso) > 1 else 0
            tt.derived["max_pattern_len"] = lens
        scratch = kern.Scratch(tt.n_stops, tt.n_patterns, lens,
                               max(max_rounds, SCRATCH_ROUNDS))
    return slot, scratch


# --------------------------------------------------------------------------- decoding


_LEG_FIELDS = tuple(f.name for f in fields(Leg))
_JOURNEY_FIELDS = tuple(f.name for f in fields(Journey))
_object_new = object.__new__


def _new(cls: type[Any], names: tuple[str, ...], values: tuple[Any, ...]) -> Any:
    """An instance of the frozen dataclass ``cls`` with ``values`` for all its fields, without
    the per-field ``object.__setattr__`` of the generated ``__init__``."""
    obj = _object_new(cls)
    obj.__dict__.update(zip(names, values, strict=True))
    return obj


def _instance_lists(day: DayContext) -> tuple[list[int], list[dt.date]]:
    """Per instance of ``day``: its trip and its service date, as Python lists (cached)."""
    hit: tuple[list[int], list[dt.date]] | None = day.derived.get("instance_lists")
    if hit is None:
        dates = _layer_dates(day)
        hit = (day.inst_trip.tolist(), [dates[i] for i in day.inst_layer.tolist()])
        day.derived["instance_lists"] = hit
    return hit


def _decode(day: DayContext, journeys: np.ndarray, legs: np.ndarray,
            reverse: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
            ) -> list[Journey]:
    """Journeys from the kernel's output; ``reverse``: ``(inst_map, pattern_len,
    trip_pattern)`` when the output is of the time-reversed timetable.

    The hot path of a query's Python side: legs are made by filling the instance dictionary
    with keyword arguments (the fields of :class:`Leg`, all of them), about twice as fast as
    the dataclass ``__init__`` of a frozen class."""
    out: list[Journey] = []
    if journeys.shape[0] == 0:
        return out
    if reverse is not None:
        return _decode_reverse(day, journeys, legs, reverse)
    inst_trip, inst_date = _instance_lists(day)
    rows = legs.tolist()
    transit = kern.LEG_TRANSIT
    new = _object_new
    for j in journeys.tolist():
        first = j[3]
        items: list[Leg] = []
        n_transit = 0
        for kind, inst, a, b, bp, ap, dep, arr in rows[first: first + j[4]]:
            leg = new(Leg)
            if kind == transit:
                leg.__dict__.update(kind="transit", from_stop=a, to_stop=b, depart_s=dep,
                                    arrive_s=arr, trip=inst_trip[inst], board_pos=bp,
                                    alight_pos=ap, service_date=inst_date[inst])
                n_transit += 1
            else:
                leg.__dict__.update(kind=LEG_KINDS[kind], from_stop=a, to_stop=b, depart_s=dep,
                                    arrive_s=arr, trip=-1, board_pos=-1, alight_pos=-1,
                                    service_date=None)
            items.append(leg)
        journey = new(Journey)
        journey.__dict__.update(depart_s=items[0].depart_s, arrive_s=items[-1].arrive_s,
                                n_transfers=n_transit - 1, legs=tuple(items))
        out.append(journey)
    return out


def _decode_reverse(day: DayContext, journeys: np.ndarray, legs: np.ndarray,
                    reverse: tuple[np.ndarray, np.ndarray, np.ndarray]) -> list[Journey]:
    """:func:`_decode` of the time-reversed timetable's output (arrive-by)."""
    out: list[Journey] = []
    inst_trip, inst_date = _instance_lists(day)
    rows = legs.tolist()
    transit, access, egress = kern.LEG_TRANSIT, kern.LEG_ACCESS, kern.LEG_EGRESS
    for j in journeys.tolist():
        first, count = j[3], j[4]
        items: list[Leg] = []
        n_transit = 0
        for kind, inst, a, b, bp, ap, dep, arr in rows[first: first + count]:
            dep, arr = -arr, -dep
            kind = _SWAP_ENDS.get(kind, kind)
            if kind == access:
                a, b = -1, a
            elif kind == egress:
                a, b = b, -1
            else:
                a, b = b, a
            if kind == transit:
                inst = int(reverse[0][inst])
                trip = inst_trip[inst]
                n = int(reverse[1][reverse[2][trip]])
                bp, ap = n - 1 - ap, n - 1 - bp
                items.append(_new(Leg, _LEG_FIELDS,
                                  ("transit", a, b, dep, arr, trip, bp, ap, inst_date[inst])))
                n_transit += 1
            else:
                items.append(_new(Leg, _LEG_FIELDS,
                                  (LEG_KINDS[kind], a, b, dep, arr, -1, -1, -1, None)))
        items.reverse()
        out.append(_new(Journey, _JOURNEY_FIELDS, (items[0].depart_s, items[-1].arrive_s,
                                                   n_transit - 1, tuple(items))))
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
         departures: np.ndarray, max_rounds: int, min_transfer_s: int, wheelchair: int,
         footpaths: Footpaths | None, live: TransitLive | None,
         reverse: bool = False, stop_arrival: np.ndarray | None = None
         ) -> tuple[np.ndarray, np.ndarray]:
    mode = wheelchair if type(wheelchair) is int and 0 <= wheelchair <= 2 else \
        _wheelchair_mode(wheelchair)
    if not 0 <= max_rounds <= kern.MAX_ROUNDS:
        raise ValueError(f"max_rounds must be in 0..{kern.MAX_ROUNDS}, got {max_rounds}")
    args = _prepared(tt, day, live, footpaths, reverse, mode)
    n_stops = args.spo.shape[0] - 1  # (tt.n_stops, without the property lookup)
    acc_s, acc_t = _stop_times_arg(access, n_stops)
    eg_s, eg_t = _stop_times_arg(egress, n_stops)
    slot, scratch = _take_scratch(tt, int(max_rounds))
    work = (*scratch.args, _NO_STOP_ARRIVAL if stop_arrival is None else stop_arrival)
    out = kern.raptor(*args, acc_s, acc_t, eg_s, eg_t, departures, int(max_rounds),
                      int(min_transfer_s), *work)
    slot.scratch = scratch  # only after a clean finish: a failed query drops its scratch
    return out


def _by_transfers(j: Journey) -> int:
    return j.n_transfers


def earliest_arrival(
    tt: Timetable, day: DayContext, access: StopTimes, egress: StopTimes, depart_s: int, *,
    max_rounds: int = 6, min_transfer_s: int = 60, wheelchair: int = WHEELCHAIR_OFF,
    footpaths: Footpaths | None = None, live: TransitLive | None = None,
) -> list[Journey]:
    """Pareto set over (arrival, transfers) of journeys leaving the origin at ``depart_s``
    or later, with at most ``max_rounds`` trips; sorted by number of transfers.

    ``wheelchair``: one of the ``WHEELCHAIR_*`` modes (``True`` = strict). ``live``: stop
    closures, cancellations, skipped stops and realtime stop times (None = schedule); leg
    times are then the realtime times. Raises :class:`~gtfs.live.LiveDataError` when
    ``live`` does not fit the timetable, ValueError for an unknown wheelchair mode.
    """
    js, legs = _run(tt, day, access, egress, np.array([depart_s], dtype=np.int64), max_rounds,
                    min_transfer_s, wheelchair, footpaths, live)
    out = _decode(day, js, legs)
    if len(out) > 1:
        out.sort(key=_by_transfers)
    return out


def stop_arrivals(
    tt: Timetable, day: DayContext, access: StopTimes, depart_s: int, *,
    max_rounds: int = 6, min_transfer_s: int = 60, wheelchair: int = WHEELCHAIR_OFF,
    footpaths: Footpaths | None = None, live: TransitLive | None = None,
) -> np.ndarray:
    """One-to-all: per stop, the earliest arrival (service-day seconds) *by vehicle* of
    journeys leaving the origin at ``depart_s`` or later with at most ``max_rounds`` trips;
    ``INF_S`` where no journey arrives. Walking on from a stop (footpaths, egress) is the
    caller's (isochrones walk on the street graph). Options as in :func:`earliest_arrival`."""
    out = np.full(tt.n_stops, INF_S, dtype=np.int64)
    deps = np.array([depart_s], dtype=np.int64)
    empty = (np.zeros(0, np.int32), np.zeros(0, np.int64))
    _run(tt, day, access, empty, deps, max_rounds, min_transfer_s, wheelchair, footpaths,
         live, stop_arrival=out)
    return out


def range_query(
    tt: Timetable, day: DayContext, access: StopTimes, egress: StopTimes, from_s: int,
    window_s: int = 3600, *, max_rounds: int = 6, min_transfer_s: int = 60,
    wheelchair: int = WHEELCHAIR_OFF, footpaths: Footpaths | None = None,
    live: TransitLive | None = None,
) -> list[Journey]:
    """All Pareto-optimal journeys (departure later, arrival earlier, fewer transfers) that
    leave the origin in ``[from_s, from_s + window_s]``; sorted by departure. Options as in
    :func:`earliest_arrival`."""
    mode = _wheelchair_mode(wheelchair)
    closed = _closed_arg(tt, live)
    la = _live_layers(tt, day, live)
    acc_s, acc_t = _stop_times_arg(access, tt.n_stops)
    a = _tt_args(tt)
    deps = kern.collect_departures(a[0], a[2], a[4], a[5], la.st_dep, a[8], a[9], a[10],
                                   a[15], a[16], day.layer_pat_offsets, day.inst_trip,
                                   day.inst_offset_s, acc_s, acc_t, int(from_s),
                                   int(from_s + window_s), mode, closed, la.layer_st,
                                   la.layer_trip, la.st_skip, la.trip_cancel)
    if deps.size == 0:
        return []
    js, legs = _run(tt, day, access, egress, deps, max_rounds, min_transfer_s, wheelchair,
                    footpaths, live)
    found = [j for j in _decode(day, js, legs) if from_s <= j.depart_s <= from_s + window_s]
    return sorted(_pareto(found, True, True), key=lambda j: (j.depart_s, j.n_transfers))


def latest_departure(
    tt: Timetable, day: DayContext, access: StopTimes, egress: StopTimes, arrive_by_s: int, *,
    max_rounds: int = 6, min_transfer_s: int = 60, wheelchair: int = WHEELCHAIR_OFF,
    footpaths: Footpaths | None = None, live: TransitLive | None = None,
) -> list[Journey]:
    """Arrive-by: Pareto set over (departure later, fewer transfers) of journeys reaching the
    destination by ``arrive_by_s``; sorted by number of transfers. Options as in
    :func:`earliest_arrival`."""
    deps = np.array([-arrive_by_s], dtype=np.int64)
    js, legs = _run(tt, day, egress, access, deps, max_rounds, min_transfer_s, wheelchair,
                    footpaths, live, reverse=True)
    pso = np.asarray(tt.arrays["pattern_stop_offsets"])
    found = _decode(day, js, legs, reverse=(_reverse_day(tt, day)["inst_map"], pso[1:] - pso[:-1],
                                            np.asarray(tt.arrays["trip_pattern"])))
    return sorted(found, key=lambda j: j.n_transfers)


def departures(
    tt: Timetable, day: DayContext, stop_idx: int, from_s: int, limit: int = 10, *,
    live: TransitLive | None = None, include_cancelled: bool = True,
    include_skipped: bool = True,
) -> list[Departure]:
    """Next ``limit`` departures at a stop from ``from_s``, one entry per trip instance,
    ordered by expected (realtime) departure; arrivals at a trip's last stop and positions
    without pickup are excluded. With ``live``, each entry carries the realtime time, the
    delay and whether the trip is cancelled or skips this stop on its service date;
    cancelled trips and skipped stops are listed (flagged) unless ``include_cancelled`` /
    ``include_skipped`` is False. Stop closures do not hide departures."""
    a = tt.arrays
    pso = np.asarray(a["pattern_stop_offsets"])
    pto = np.asarray(a["pattern_trip_offsets"])
    psto = np.asarray(a["pattern_st_offsets"])
    st_dep = np.asarray(a["st_departure_s"])
    pick = np.asarray(a["pattern_pickup"])
    spo = np.asarray(a["stop_pattern_offsets"])
    dates = _layer_dates(day)
    day_live = [None if live is None else live.day(d) for d in dates]
    for sdl in day_live:
        if sdl is not None and (sdl.n_trips != tt.n_trips
                                or sdl.n_stop_times != st_dep.shape[0]):
            raise LiveDataError(f"service date {sdl.service_date}: live arrays do not fit "
                                f"the timetable")
    # (rt_dep, sched, inst, pos, last, cancelled, skipped, realtime)
    rows: list[tuple[int, int, int, int, bool, bool, bool, bool]] = []
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
            y = psto[pat] + (trips - pto[pat]) * n + pos
            sched = st_dep[y].astype(np.int64) + day.inst_offset_s[inst]
            sdl = day_live[layer]
            if sdl is None:
                rt = sched
                cancelled = np.zeros(len(inst), dtype=bool)
                skipped = reported = cancelled
            else:
                rt = sched + sdl.departure_delay_s[y]
                cancelled = sdl.trip_cancelled[trips]
                skipped = sdl.skipped[y]
                assert sdl.trip_realtime is not None
                reported = sdl.trip_realtime[trips]
            keep = rt >= from_s
            if not include_cancelled:
                keep &= ~cancelled
            if not include_skipped:
                keep &= ~skipped
            sel = np.flatnonzero(keep)
            sel = sel[np.argsort(rt[sel], kind="stable")][:limit]
            rows.extend((int(rt[i]), int(sched[i]), int(inst[i]), pos, pos == n - 1,
                         bool(cancelled[i]), bool(skipped[i]), bool(reported[i])) for i in sel)
    rows.sort()
    out = []
    for rt_s, sched_s, inst_i, pos_i, last, is_cancelled, is_skipped, has_rt in rows[:limit]:
        trip = int(day.inst_trip[inst_i])
        route = int(a["trip_route"][trip])
        out.append(Departure(
            stop=stop_idx, depart_s=sched_s, realtime_depart_s=rt_s, delay_s=rt_s - sched_s,
            cancelled=is_cancelled, skipped=is_skipped, trip=trip,
            trip_id=tt.strings["trip_id"][trip], route=route,
            route_short_name=tt.strings["route_short_name"][route],
            headsign=tt.strings["trip_headsign"][trip], service_date=day.service_date(inst_i),
            stop_pos=pos_i, is_last_stop=last, realtime=has_rt))
    return out


def warmup(tt: Timetable | None = None) -> None:
    """Compile (or load from the numba cache) all kernels, on ``tt`` or a tiny timetable,
    with and without realtime data.

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
    lives: list[TransitLive | None] = [None]
    if tt.n_trips:
        # realtime arrays (a skipped stop makes the pattern take the trip-by-trip scan)
        b = TransitLiveBuilder(tt).set_stop_time(day.date, 0, 0, departure_delay_s=60)
        lives.append(b.skip_stop(day.date, 0, 0).build(version=-1))
    for live in lives:
        earliest_arrival(tt, day, acc, egr, 0, footpaths=fp, live=live)
        range_query(tt, day, acc, egr, 0, 600, footpaths=fp, live=live)
        latest_departure(tt, day, acc, egr, 86400, footpaths=fp, live=live)
    if lives[-1] is not None:  # forget the warm-up's entry, keep any others
        key = (-1, day.date, tuple(int(d) for d in day.layer_days))
        with _LIVE_LOCK:
            tt.derived.get("live_layers", {}).pop(key, None)


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
