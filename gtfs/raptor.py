"""RAPTOR kernels (numba): earliest arrival, Pareto set over (arrival, rounds), range queries.

Imports numpy and numba only (an import-linter contract forbids pandas & co. here). The
functions take the timetable and day-context arrays positionally; :mod:`gtfs.query` wraps them.

Model. A *trip instance* is a trip on one service day; the day context lists, per day layer
(previous / query / next service day) and pattern, the running instances in pattern trip
order, with a time offset (service-day midnight of that day in the trip's timezone minus the
query day's midnight in the reference timezone). Each (pattern, layer) is scanned separately;
a pattern's trips share one agency, hence one offset per layer, so the timetable's FIFO order
holds inside every scan of scheduled times.

Labels per round ``k`` (k trips taken): ``arr[k, s]`` earliest arrival at stop ``s`` by
vehicle, ``brd[k, s]`` earliest time ready to board at ``s`` (round 0: access). From a vehicle
arrival at ``s`` the time to be ready at ``q`` is: same stop -> ``min_transfer_s``; footpath
``s -> q`` of ``w`` seconds -> ``max(w, min_transfer_s)``; transfers.txt overrides per pair:
type 1 (timed) -> ``w`` (0 at the same stop, no floor), type 2 -> ``max(min_transfer_time, w,
min_transfer_s)`` (also without a footpath), type 3 -> forbidden. Access is not followed by
footpaths and egress is taken directly from vehicle arrivals (callers give walking times to
every nearby stop). Journeys use at least one trip.

Live data. The stop-time arrays ``st_arr``/``st_dep`` are read *per day layer*: the times of
instance ``i`` (layer ``l``, pattern ``p``, trip ``t``) at stop position ``x`` are at
``layer_st[l] + psto[p] + (t - pto[p]) * n + x`` (plus ``inst_off[i]``), so a layer reads
either the scheduled times (``layer_st[l] == 0`` on the plain timetable arrays) or the
realtime times of its service date (a block of a concatenated array). ``st_skip`` is indexed
alike (skipped: the vehicle passes, nobody boards or alights). Cancellations and closed stops
reach :func:`raptor` folded with the wheelchair mode: ``inst_ok[i]`` (instance ``i`` may be
boarded: not cancelled on its date and accessible) and the per-position ``pick``/``drop``
flags (allowed, and the stop open and accessible); see :func:`instance_times` and
:func:`usable_positions`. The kernel reads the stop times of the running instances only,
copied once per day and live value with their time offsets added.
``layer_pat_fifo[l, p]``: on layer ``l`` the (realtime) trips of pattern ``p`` are FIFO (no
trip overtakes another, by arrival or departure, at any stop) and none skips a stop.

Scans. A FIFO (layer, pattern) pair is scanned the classic way: at a marked stop, board the
earliest-departing usable trip (binary search on the layer's departures), hop to an earlier
trip at a later stop when a better label allows, and relax arrivals of the current trip. A
non-FIFO pair is scanned trip by trip: every usable instance is boarded at the first marked
position where it can be (label <= its departure there, stop not skipped) and ridden to the
end, relaxing arrivals at every position where it may be left (not skipped). Both scans are
exact, so the results are exact under any realtime data whose times never decrease along a
trip (the :mod:`gtfs.live` builder normalises to that; :mod:`gtfs.query` refuses others).
The layers of a pattern are scanned in order; ``layer_after[l, p]`` (:func:`layers_after`):
every instance of layer ``l`` arrives everywhere no earlier than every instance of the layers
before it (the next service day's trips after the query day's). Such a layer cannot improve
a label past the first position where an earlier layer's FIFO scan boarded a trip (that trip,
or an earlier one it changed to, reached every later position no later), so it is scanned
only up to there, and not at all when that is the first marked position.

Wheelchair modes (``wheelchair``): 0 ignore accessibility, 1 strict (trips and stops with
value 1 only), 2 allow unknown (exclude only the value 2, "not accessible").

rRAPTOR. Runs for each departure time in decreasing order keep their labels (per round), so
each run only explores what improves on later departures. Each run reports the rounds whose
target arrival improved, reconstructed right away into legs. A single departure (plain
RAPTOR) keeps one label per stop instead (the best over the rounds so far, which prunes the
same), so no round copies every reached stop from the one before.

Cost. A query costs what it reaches: its labels live in a reusable :class:`Scratch` (one per
thread) that the kernel leaves clean by resetting only the stops it touched; nothing is
allocated or cleared per stop or per trip of the network. Helpers that take arrays are not
called inside the search loops (numba counts references to array arguments on every call:
atomic operations that once took 84 % of a query).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit
from numpy.typing import NDArray

INF = np.int64(1) << np.int64(40)

LEG_ACCESS = 0
LEG_TRANSIT = 1
LEG_TRANSFER = 2
LEG_EGRESS = 3
#: Columns of the legs output array.
LEG_COLS = 8  # kind, inst, from_stop, to_stop, board_pos, alight_pos, dep_s, arr_s
#: Columns of the journeys output array.
JOURNEY_COLS = 6  # run_depart_s, rounds (trips), arrival_s, first_leg, n_legs, egress_index


WHEELCHAIR_OFF = 0
WHEELCHAIR_STRICT = 1
WHEELCHAIR_ALLOW_UNKNOWN = 2

#: An integer as the kernels see it: a Python int or a NumPy integer scalar (numba compiles
#: both to int64).
Int = int | np.integer[Any]

#: An array index known to be >= 0, as numba should see it: unsigned, so that it skips the
#: negative-index wraparound it adds to every signed index (measurably slower in the hot
#: loops). Only for indexing: unsigned and signed integers must not meet in arithmetic.
_ix = np.uint64


@njit(cache=True, inline="always")
def _wc_ok(mode: Int, value: Int) -> bool:
    """Whether a trip or stop with GTFS wheelchair ``value`` (0/1/2) is usable in ``mode``."""
    if mode == WHEELCHAIR_OFF:
        return True
    if mode == WHEELCHAIR_STRICT:
        return value == 1
    return value != 2


@njit(cache=True)
def _note(s: Int, flag: np.ndarray, lst: np.ndarray, n: int) -> int:
    """Append stop ``s`` to ``lst`` (``n`` entries so far) unless ``flag`` says it is on it
    already; returns the new count."""
    if flag[_ix(s)] == 0:
        flag[_ix(s)] = 1
        lst[n] = s
        return n + 1
    return n


@njit(cache=True)
def _note_round(s: Int, flag: np.ndarray, lists: np.ndarray, counts: np.ndarray,
                k: Int) -> None:
    """:func:`_note` on round ``k``'s change list (``lists[k]``, length ``counts[k]``)."""
    if flag[_ix(s)] == 0:
        flag[_ix(s)] = 1
        lists[k, counts[k]] = s
        counts[k] += 1


@njit(cache=True)
def _arrive(arr: np.ndarray, par: np.ndarray, lk: Int, k: Int, s: Int, a: Int, inst: Int,
            bstop: Int, bpos: Int, apos: Int, touched: np.ndarray, touched_list: np.ndarray,
            n_touched: int, in_arr: np.ndarray, chg_arr: np.ndarray,
            n_chg_arr: np.ndarray) -> int:
    """Set stop ``s``'s arrival label (row ``lk``) to ``a`` by ``inst`` boarded at ``bstop``
    (position ``bpos``) and left at position ``apos`` in round ``k``; note ``s`` as touched
    and changed. Returns the new touched count."""
    su = _ix(s)
    arr[lk, su] = a
    par[k, su, P_ARR_SRC] = k
    par[k, su, P_ARR_INST] = inst
    par[k, su, P_ARR_BSTOP] = bstop
    par[k, su, P_ARR_BPOS] = bpos
    par[k, su, P_ARR_APOS] = apos
    _note_round(s, in_arr, chg_arr, n_chg_arr, k)
    return _note(s, touched, touched_list, n_touched)


@njit(cache=True)
def _board(brd: np.ndarray, par: np.ndarray, lk: Int, k: Int, q: Int, v: Int, src: Int,
           frm: Int, dur: Int, touched: np.ndarray, touched_list: np.ndarray, n_touched: int,
           in_brd: np.ndarray, chg_brd: np.ndarray, n_chg_brd: np.ndarray,
           is_marked: np.ndarray, marked: np.ndarray, n_marked: int) -> tuple[int, int]:
    """Set stop ``q``'s boarding label (row ``lk``) to ``v``, reached from stop ``frm`` (-1:
    access) in ``dur`` s, ``src`` its source stamp; note ``q`` as touched, changed and marked
    for the next round. Returns the new (touched, marked) counts."""
    qu = _ix(q)
    brd[lk, qu] = v
    par[k, qu, P_BRD_SRC] = src
    par[k, qu, P_BRD_FROM] = frm
    par[k, qu, P_BRD_DUR] = dur
    _note_round(q, in_brd, chg_brd, n_chg_brd, k)
    return (_note(q, touched, touched_list, n_touched),
            _note(q, is_marked, marked, n_marked))


# --------------------------------------------------------------------------- scratch
# The arrays are laid out so that what one step of the search writes about a stop sits
# together (one or two cache lines): the labels of a round, the record of how a label was
# reached, the flags of a stop.
#: Planes of the label array ``lab[plane, k, s]`` (int64; INF between queries). A single run
#: uses row 0 only (the best label over the rounds so far).
LAB_ARR = 0  # earliest arrival by vehicle with <= k trips
LAB_BRD = 1  # earliest time ready to board with <= k trips
N_LAB = 2
#: Fields of the parent record ``par[k, s, field]`` (int32), written in the round that set
#: the label (read only for labels of the current query).
P_ARR_SRC = 0  # round whose vehicle arrival the label is (copy-min keeps the source)
P_ARR_INST = 1  # instance ridden to the stop
P_ARR_BSTOP = 2  # its boarding stop
P_ARR_BPOS = 3  # boarding position
P_ARR_APOS = 4  # alighting position
P_BRD_SRC = 5  # rRAPTOR: round whose transfer set the boarding label; single run: the
#                query stamp (numbers from QUERY0 up, never a round number)
P_BRD_FROM = 6  # stop the transfer came from (-1: access)
P_BRD_DUR = 7  # transfer / access duration (s)
N_PAR = 8
#: Lists of ``chg[list, k, :]`` (int32): stops whose label changed in round k (this run).
CHG_ARR = 0
CHG_BRD = 1
#: Flags of ``flags[s, flag]`` (int8; 0 between queries).
F_IN_ARR = 0  # s is in the arrival change list of the current round
F_IN_BRD = 1  # s is in the boarding change list of the current round
F_IS_MARKED = 2  # marked for the next round
F_WAS_MARKED = 3  # marked in the previous round (boarding allowed)
F_TOUCHED = 4  # some label of s was set by this query
N_FLAGS = 8
#: Rows of ``lists[row, :]`` (int32).
L_MARKED = 0  # stops marked for the next round
L_PREV = 1  # the stops marked in the previous round
L_TOUCHED = 2  # the stops whose labels this query set
L_EGRESS = 3  # per stop: index of its best egress entry, -1 (between queries) when none
N_LISTS = 4
#: Rows of the per-pattern work array (int32; PW_FIRST is NO_POS between queries).
PW_FIRST = 0
PW_LAST = 1
PW_QUEUE = 2
N_PW = 3
NO_POS = 1 << 30
#: Rows of the per-round work array (int64, reset by each query).
RW_TGT = 0
RW_TGT_E = 1
RW_TGT_SRC = 2
RW_N_CHG_ARR = 3
RW_N_CHG_BRD = 4
RW_IMPROVED = 5
RW_QUERY = 6  # [RW_QUERY, 0]: stamp of the last query run on this scratch
N_RW = 7
#: First query stamp (above any round number) and the last before stamps start over.
QUERY0 = 1 << 20
QUERY_LAST = (1 << 31) - 2
#: Most rounds a query may ask for (round numbers stay below QUERY0).
MAX_ROUNDS = 1000


class Scratch:
    """Reusable work arrays of :func:`raptor` for one timetable size and up to ``max_rounds``
    rounds; one per thread (a query reads and writes them; they are not shared).

    Between queries the kernel keeps them in their *clean* state (labels INF, flags 0, egress
    -1, pattern marks NO_POS): a query resets only the stops and patterns it touched. A query
    that fails part-way leaves them dirty, so the caller must drop the object then.
    """

    __slots__ = ("max_rounds", "lab", "par", "chg", "flags", "lists", "pat_work",
                 "round_work", "cand", "args")

    def __init__(self, n_stops: int, n_patterns: int, max_pattern_len: int,
                 max_rounds: int) -> None:
        self.max_rounds = int(max_rounds)
        rows = self.max_rounds + 1
        self.lab = np.full((N_LAB, rows, n_stops), INF, dtype=np.int64)
        self.par = np.zeros((rows, n_stops, N_PAR), dtype=np.int32)
        self.chg = np.zeros((2, rows, n_stops), dtype=np.int32)
        self.flags = np.zeros((n_stops, N_FLAGS), dtype=np.int8)
        self.lists = np.zeros((N_LISTS, n_stops), dtype=np.int32)
        self.lists[L_EGRESS] = -1
        self.pat_work = np.zeros((N_PW, n_patterns), dtype=np.int32)
        self.pat_work[PW_FIRST] = NO_POS
        self.round_work = np.zeros((N_RW, rows), dtype=np.int64)
        self.round_work[RW_QUERY, 0] = QUERY0
        self.cand = np.zeros((2, max(int(max_pattern_len), 1)), dtype=np.int64)
        #: the kernel's scratch arguments, in order (:meth:`arrays`, made once)
        self.args = (self.lab, self.par, self.chg, self.flags, self.lists, self.pat_work,
                     self.round_work, self.cand)

    def arrays(self) -> tuple[np.ndarray, ...]:
        """The kernel's scratch arguments, in order."""
        return self.args

    def is_clean(self) -> bool:
        """Whether the arrays are in the clean state (for tests; O(size))."""
        return bool((self.lab == INF).all() and (self.flags == 0).all()
                    and (self.lists[L_EGRESS] == -1).all()
                    and (self.pat_work[PW_FIRST] == NO_POS).all())


# --------------------------------------------------------------------------- kernel inputs


def _wc_mask(mode: int, values: np.ndarray) -> NDArray[np.bool_]:
    """:func:`_wc_ok` over an array of GTFS wheelchair values."""
    v = np.asarray(values)
    if mode == WHEELCHAIR_OFF:
        return np.ones(v.shape[0], dtype=np.bool_)
    if mode == WHEELCHAIR_STRICT:
        return np.asarray(v == 1)
    return np.asarray(v != 2)


def usable_positions(ps: np.ndarray, allowed: np.ndarray, stop_wc: np.ndarray,
                     stop_closed: np.ndarray, mode: int) -> NDArray[np.bool_]:
    """``pick`` / ``drop`` of :func:`raptor` from the pattern flags ``allowed``: allowed, and
    the stop open and accessible in wheelchair ``mode``."""
    ok = _wc_mask(mode, stop_wc) & ~np.asarray(stop_closed, dtype=bool)
    return np.ascontiguousarray(np.asarray(allowed, dtype=bool) & ok[np.asarray(ps)])


def instance_times(pso: np.ndarray, pto: np.ndarray, psto: np.ndarray, trip_wc: np.ndarray,
                   lpo: np.ndarray, inst_trip: np.ndarray, inst_off: np.ndarray,
                   st_arr: np.ndarray, st_dep: np.ndarray, st_skip: np.ndarray,
                   layer_st: np.ndarray, layer_trip: np.ndarray, trip_cancel: np.ndarray,
                   mode: int) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.int32],
                                       NDArray[np.bool_], NDArray[np.bool_]]:
    """The stop times :func:`raptor` reads: only those of the day's running instances, each
    instance's row of its layer (realtime where the layer has data) with its time offset
    added, rows in instance order (so the instances of one (layer, pattern) are one block).

    Returns ``(inst_base, arr_s, dep_s, skip, inst_ok)``: the row of instance ``i`` at
    position ``p`` is ``inst_base[i] + p``; ``inst_ok[i]``: boarded at all (not cancelled on
    its date, accessible in wheelchair ``mode``)."""
    lpo_a = np.asarray(lpo)
    n_layers, n_pat = lpo_a.shape[0], lpo_a.shape[1] - 1
    per_block = lpo_a[:, 1:] - lpo_a[:, :-1]
    inst_pat = np.repeat(np.tile(np.arange(n_pat, dtype=np.int64), n_layers), per_block.ravel())
    inst_layer = np.repeat(np.arange(n_layers, dtype=np.int64), per_block.sum(axis=1))
    trips = np.asarray(inst_trip).astype(np.int64)
    pso_a = np.asarray(pso)
    n = (pso_a[1:] - pso_a[:-1])[inst_pat].astype(np.int64)
    base = np.zeros(trips.shape[0] + 1, dtype=np.int64)
    np.cumsum(n, out=base[1:])
    src_row = (np.asarray(layer_st)[inst_layer] + np.asarray(psto)[inst_pat]
               + (trips - np.asarray(pto)[inst_pat]) * n)
    rows = np.repeat(src_row - base[:-1], n) + np.arange(int(base[-1]), dtype=np.int64)
    off = np.repeat(np.asarray(inst_off, dtype=np.int64), n)
    arr_s = (np.asarray(st_arr)[rows] + off).astype(np.int32)
    dep_s = (np.asarray(st_dep)[rows] + off).astype(np.int32)
    skip = np.ascontiguousarray(np.asarray(st_skip)[rows])
    inst_ok = (~np.asarray(trip_cancel, dtype=bool)[np.asarray(layer_trip)[inst_layer] + trips]
               & _wc_mask(mode, np.asarray(trip_wc))[trips])
    return base[:-1].copy(), arr_s, dep_s, skip, np.ascontiguousarray(inst_ok)


@njit(cache=True)
def layers_after(pso: np.ndarray, lpo: np.ndarray, inst_base: np.ndarray,
                 st_arr: np.ndarray) -> NDArray[np.bool_]:
    """``layer_after`` of :func:`raptor`: per (layer, pattern), whether every instance of the
    layer arrives at every position no earlier than every instance of the pattern on the
    layers before it (times as :func:`instance_times` gives them: offsets added, realtime
    where the layer has it). Such a layer cannot improve on a trip of an earlier layer past
    the position where that trip was boarded."""
    n_layers = lpo.shape[0]
    n_pat = lpo.shape[1] - 1
    out = np.zeros((n_layers, n_pat), dtype=np.bool_)
    big = np.int64(1) << np.int64(62)
    for pat in range(n_pat):
        n = pso[pat + 1] - pso[pat]
        latest = np.full(n, -big, dtype=np.int64)  # over the earlier layers, per position
        seen = False
        for layer in range(n_layers):
            ia = lpo[layer, pat]
            ib = lpo[layer, pat + 1]
            if ia == ib:
                continue
            after = seen
            for p in range(n):
                first = big
                for i in range(ia, ib):
                    first = min(first, np.int64(st_arr[inst_base[i] + p]))
                if first < latest[p]:
                    after = False
                    break
            out[layer, pat] = after
            for p in range(n):
                for i in range(ia, ib):
                    latest[p] = max(latest[p], np.int64(st_arr[inst_base[i] + p]))
            seen = True
    return out


def boarding_entries(pso: np.ndarray, pick: np.ndarray, spo: np.ndarray, sp: np.ndarray,
                     spp: np.ndarray) -> tuple[NDArray[np.int64], np.ndarray, np.ndarray]:
    """The stop -> (pattern, position) CSR ``(spo, sp, spp)`` restricted to the entries where
    boarding is allowed (``pick``), as :func:`raptor` takes it."""
    n_stops = int(np.asarray(spo).shape[0]) - 1
    sp_a, spp_a = np.asarray(sp), np.asarray(spp)
    keep = np.asarray(pick)[np.asarray(pso)[sp_a] + spp_a].astype(bool)
    stop_of = np.repeat(np.arange(n_stops, dtype=np.int64), np.diff(np.asarray(spo)))
    new_spo = np.searchsorted(stop_of[keep], np.arange(n_stops + 1)).astype(np.int64)
    return new_spo, np.ascontiguousarray(sp_a[keep]), np.ascontiguousarray(spp_a[keep])


# --------------------------------------------------------------------------- the kernel
# Helpers that take arrays are not called inside the loops below: numba then counts
# references to every array argument on each call (atomic increments and decrements), which
# cost more than the search itself. Their code is written out where it is used.


@njit(cache=True, nogil=True)
def raptor(
    # timetable
    pso: np.ndarray, ps: np.ndarray, pick: np.ndarray, drop: np.ndarray, spo: np.ndarray,
    sp: np.ndarray, spp: np.ndarray,
    tr_off: np.ndarray, tr_to: np.ndarray, tr_kind: np.ndarray, tr_min: np.ndarray,
    # the day's running instances and their times (see :func:`instance_times`)
    lpo: np.ndarray, inst_base: np.ndarray, st_arr: np.ndarray, st_dep: np.ndarray,
    st_skip: np.ndarray, inst_ok: np.ndarray, layer_pat_fifo: np.ndarray,
    layer_after: np.ndarray,
    # footpaths (no loops s -> s)
    fp_off: np.ndarray, fp_to: np.ndarray, fp_dur: np.ndarray,
    # query
    access_stop: np.ndarray, access_s: np.ndarray, egress_stop: np.ndarray,
    egress_s: np.ndarray, departures: np.ndarray, max_rounds: int, min_transfer_s: int,
    # scratch (a :class:`Scratch` with max_rounds >= the query's, in its clean state)
    lab: np.ndarray, par: np.ndarray, chg: np.ndarray, flags: np.ndarray, lists: np.ndarray,
    pat_work: np.ndarray, round_work: np.ndarray, cand: np.ndarray,
    # out (size 0 = not wanted): per stop, the earliest arrival by vehicle of the last run
    stop_arrival: np.ndarray,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """rRAPTOR over ``departures`` (must be sorted in decreasing order; one entry = plain
    RAPTOR). Returns ``(journeys int64[n, JOURNEY_COLS], legs int64[m, LEG_COLS])``: one
    journey per (run, round) whose target arrival improved in that run.

    ``spo``/``sp``/``spp``: the (pattern, position) entries of each stop *where boarding is
    allowed* (:func:`boarding_entries`). ``pick`` / ``drop``: boarding / alighting allowed at a
    pattern position *and* its stop open and accessible in the query's wheelchair mode
    (:func:`usable_positions`). ``st_arr`` / ``st_dep`` / ``st_skip``: the times of the
    running instances only, offsets added, instance ``i`` at position ``p`` at row
    ``inst_base[i] + p``; ``inst_ok[i]``: the instance may be boarded (not cancelled,
    accessible); see :func:`instance_times`. ``layer_after``: see :func:`layers_after`.

    Work is proportional to what the query reaches: the scratch arrays are reset only at the
    stops it touched (and left clean for the next query)."""
    n_layers = lpo.shape[0]
    n_rounds = max_rounds
    mts = np.int64(min_transfer_s)
    arr = lab[LAB_ARR]
    brd = lab[LAB_BRD]
    arr_src = par[:, :, P_ARR_SRC]
    arr_inst = par[:, :, P_ARR_INST]
    arr_bstop = par[:, :, P_ARR_BSTOP]
    arr_bpos = par[:, :, P_ARR_BPOS]
    arr_apos = par[:, :, P_ARR_APOS]
    brd_src = par[:, :, P_BRD_SRC]
    brd_from = par[:, :, P_BRD_FROM]
    brd_dur = par[:, :, P_BRD_DUR]
    chg_arr = chg[CHG_ARR]
    chg_brd = chg[CHG_BRD]
    in_arr = flags[:, F_IN_ARR]
    in_brd = flags[:, F_IN_BRD]
    marked = lists[L_MARKED]
    is_marked = flags[:, F_IS_MARKED]
    # boarding is only tried at stops improved in the previous round: boarding at an
    # unchanged stop repeats a trip already taken one round earlier (dominated)
    was_marked = flags[:, F_WAS_MARKED]
    prev_list = lists[L_PREV]
    is_egress = lists[L_EGRESS]
    touched = flags[:, F_TOUCHED]
    touched_list = lists[L_TOUCHED]
    first_pos = pat_work[PW_FIRST]
    last_pos = pat_work[PW_LAST]
    queue = pat_work[PW_QUEUE]
    tgt = round_work[RW_TGT]
    tgt_e = round_work[RW_TGT_E]
    tgt_src = round_work[RW_TGT_SRC]
    n_chg_arr = round_work[RW_N_CHG_ARR]
    n_chg_brd = round_work[RW_N_CHG_BRD]
    improved_round = round_work[RW_IMPROVED]
    # boarding candidates of a pattern for the trip-by-trip scan (non-FIFO pairs)
    cand_pos = cand[0]
    cand_brd = cand[1]
    qid = round_work[RW_QUERY, 0] + 1
    if qid > QUERY_LAST:  # stamps start over (after two billion queries)
        par[:, :, P_BRD_SRC] = 0
        qid = np.int64(QUERY0 + 1)
    round_work[RW_QUERY, 0] = qid
    # A single run (plain RAPTOR) keeps one label per stop, the best over the rounds so far
    # (row 0 of arr / brd), instead of per-round labels carried forward round by round: the
    # same pruning, without copying every reached stop into each round. Journeys are rebuilt
    # from the per-round parent data written in the round that improved a label (boarding
    # labels are found by their query stamp). rRAPTOR runs need per-round labels: they keep
    # the labels of later departures, which are best for a given number of trips only.
    plain = departures.shape[0] == 1
    for k in range(n_rounds + 1):
        tgt[k] = INF
        tgt_e[k] = -1
        tgt_src[k] = 0
    n_touched = 0
    for j in range(egress_stop.shape[0]):
        e = egress_stop[j]
        if is_egress[e] < 0 or egress_s[j] < egress_s[is_egress[e]]:
            is_egress[e] = j
    n_runs = departures.shape[0]
    cap_j = n_runs * n_rounds + 1
    journeys = np.empty((cap_j, JOURNEY_COLS), dtype=np.int64)
    legs = np.empty((cap_j * (2 * n_rounds + 2), LEG_COLS), dtype=np.int64)
    n_j = 0
    n_l = 0
    tmp = np.empty((2 * n_rounds + 2, LEG_COLS), dtype=np.int64)

    min_access = np.int64(0)  # labels are never below tau + min_access
    for j in range(access_s.shape[0]):
        if access_s[j] < min_access:
            min_access = np.int64(access_s[j])
    for run in range(n_runs):
        tau = np.int64(departures[run])
        tau_min = tau + min_access
        for k in range(n_rounds + 1):
            n_chg_arr[k] = 0
            n_chg_brd[k] = 0
            improved_round[k] = 0
        n_marked = 0
        # round 0: access
        for j in range(access_stop.shape[0]):
            a = access_stop[j]
            v = tau + access_s[j]
            if v < brd[0, a]:
                n_touched, n_marked = _board(
                    brd, par, 0, 0, a, v, qid if plain else 0, -1, access_s[j], touched,
                    touched_list, n_touched, in_brd, chg_brd, n_chg_brd, is_marked, marked,
                    n_marked)
        for j in range(n_chg_brd[0]):
            in_brd[chg_brd[0, j]] = 0
        for k in range(1, n_rounds + 1):
            lk = 0 if plain else k  # label rows of this round and the previous one
            lk1 = 0 if plain else k - 1
            # copy-min from round k-1 (the stops it changed in this run)
            for j in range(n_chg_arr[k - 1] if not plain else 0):
                s = chg_arr[k - 1, j]
                if arr[k - 1, s] < arr[k, s]:
                    arr[k, s] = arr[k - 1, s]
                    arr_src[k, s] = arr_src[k - 1, s]
                    if in_arr[s] == 0:
                        in_arr[s] = 1
                        chg_arr[k, n_chg_arr[k]] = s
                        n_chg_arr[k] += 1
            for j in range(n_chg_brd[k - 1] if not plain else 0):
                s = chg_brd[k - 1, j]
                if brd[k - 1, s] < brd[k, s]:
                    brd[k, s] = brd[k - 1, s]
                    brd_src[k, s] = brd_src[k - 1, s]
                    if in_brd[s] == 0:
                        in_brd[s] = 1
                        chg_brd[k, n_chg_brd[k]] = s
                        n_chg_brd[k] += 1
            if tgt[k - 1] < tgt[k]:
                tgt[k] = tgt[k - 1]
                tgt_src[k] = tgt_src[k - 1]
            if n_marked == 0:
                for j in range(n_chg_arr[k]):
                    in_arr[chg_arr[k, j]] = 0
                for j in range(n_chg_brd[k]):
                    in_brd[chg_brd[k, j]] = 0
                continue
            # collect patterns through marked stops
            n_q = 0
            for j in range(n_marked):
                su = _ix(marked[j])
                is_marked[su] = 0
                was_marked[su] = 1
                for x in range(spo[su], spo[su + _ix(1)]):
                    pu = _ix(sp[_ix(x)])
                    pos = np.int64(spp[_ix(x)])
                    f = first_pos[pu]
                    if f == NO_POS:
                        queue[n_q] = pu
                        n_q += 1
                        last_pos[pu] = pos
                    first_pos[pu] = min(f, pos)
                    last_pos[pu] = max(last_pos[pu], pos)
            n_prev = n_marked
            for j in range(n_prev):
                prev_list[j] = marked[j]
            n_marked = 0
            # scan patterns
            tk = tgt[k]
            for qi in range(n_q):
                pat = queue[qi]
                p0 = first_pos[pat]
                p_last = last_pos[pat]
                first_pos[pat] = NO_POS
                sbase = pso[pat]
                n = pso[pat + 1] - sbase
                n_cand = -1
                # positions past cover are reached by trips of layers scanned before, which
                # a layer whose instances all come later (layer_after) cannot improve on
                cover = n
                for layer in range(n_layers):
                    ia = lpo[layer, pat]
                    ib = lpo[layer, pat + 1]
                    if ia == ib:
                        continue
                    p_end = n
                    if layer_after[layer, pat] and cover < n:
                        if cover <= p0:
                            continue
                        p_end = cover + 1
                    blk = inst_base[ia]  # instance i of the block: row blk + (i - ia) * n
                    if not layer_pat_fifo[layer, pat]:
                        if p_end < n:
                            p_end = n  # (the trip-by-trip scan is not cut short)
                        # trip by trip: exact under overtaking and skipped stops
                        if n_cand < 0:
                            n_cand = 0
                            for p in range(p0, p_last + 1):
                                s = ps[sbase + p]
                                if was_marked[s] == 0 or not pick[sbase + p]:
                                    continue
                                b = brd[lk1, s]
                                if b < INF:
                                    cand_pos[n_cand] = p
                                    cand_brd[n_cand] = b
                                    n_cand += 1
                        if n_cand == 0:
                            continue
                        for i in range(ia, ib):
                            if not inst_ok[i]:
                                continue
                            base = blk + (i - ia) * n
                            bp = -1
                            for j in range(n_cand):
                                p = cand_pos[j]
                                if not st_skip[base + p] and \
                                        cand_brd[j] <= np.int64(st_dep[base + p]):
                                    bp = p
                                    break
                            if bp < 0:
                                continue
                            bs = ps[sbase + bp]
                            for p in range(bp + 1, n):
                                s = ps[sbase + p]
                                if not drop[sbase + p] or st_skip[base + p]:
                                    continue
                                a = np.int64(st_arr[base + p])
                                if a >= tk:
                                    break  # times never decrease along a trip
                                if a < arr[lk, s]:
                                    n_touched = _arrive(arr, par, lk, k, s, a, i, bs, bp, p,
                                                        touched, touched_list, n_touched, in_arr,
                                                        chg_arr, n_chg_arr)
                        continue
                    # FIFO: nothing in this layer can beat the target when its first
                    # instance leaves too late, and nothing can be boarded when its last
                    # one has left the last marked stop before the departure (every label
                    # is at least the departure time of the run)
                    if np.int64(st_dep[_ix(blk + p0)]) >= tk:
                        continue
                    if np.int64(st_dep[_ix(blk + (ib - 1 - ia) * n + p_last)]) < tau_min:
                        continue
                    cur = -1
                    cur_base = 0
                    bstop = 0
                    bpos = 0
                    # up to the last marked stop: relax arrivals and board
                    for p in range(p0, min(p_last + 1, p_end)):
                        xp = _ix(sbase + p)
                        s = ps[xp]
                        su = _ix(s)
                        if cur >= 0 and drop[xp]:
                            a = np.int64(st_arr[_ix(cur_base + p)])
                            if a < arr[lk, su] and a < tk:
                                n_touched = _arrive(arr, par, lk, k, s, a, cur, bstop, bpos, p,
                                                    touched, touched_list, n_touched, in_arr,
                                                    chg_arr, n_chg_arr)
                        if was_marked[su] == 0 or not pick[xp]:
                            continue
                        b = brd[lk1, su]
                        if b >= INF:
                            continue
                        cur_dep = INF
                        if cur >= 0:
                            cur_dep = np.int64(st_dep[_ix(cur_base + p)])
                        if b > cur_dep:
                            continue
                        # the earliest usable instance leaving p at or after b: step back
                        # from the current one (usually 0-1 steps), else binary search
                        c = -1
                        search = True
                        hi_i = ib
                        if cur >= 0:
                            c = cur
                            search = False
                            i = cur - 1
                            steps = 0
                            while i >= ia:
                                d_i = np.int64(st_dep[_ix(blk + (i - ia) * n + p)])
                                if d_i < b:
                                    break
                                if inst_ok[_ix(i)]:
                                    c = i
                                i -= 1
                                steps += 1
                                if steps == 4:
                                    # far back: binary search the rest instead
                                    search = True
                                    hi_i = i + 1
                                    break
                        if search:
                            lo = ia
                            hi = hi_i
                            while lo < hi:
                                mid = (lo + hi) >> 1
                                d_m = np.int64(st_dep[_ix(blk + (mid - ia) * n + p)])
                                if d_m < b:
                                    lo = mid + 1
                                else:
                                    hi = mid
                            # FIFO: the first usable instance from here departs earliest
                            for i in range(lo, hi_i):
                                if inst_ok[_ix(i)]:
                                    c = i
                                    break
                        if c >= 0 and c != cur:
                            c_base = blk + (c - ia) * n
                            d = np.int64(st_dep[_ix(c_base + p)])
                            if d < cur_dep or (d == cur_dep and c < cur):
                                if cur < 0 and p < cover:
                                    cover = p  # rides on from p (possibly hopping earlier)
                                cur = c
                                cur_base = c_base
                                bstop = s
                                bpos = p
                    if cur < 0:
                        continue
                    # past the last marked stop nothing is boarded: only the arrivals of the
                    # current trip, whose times never decrease: once at the target bound, stop
                    for p in range(p_last + 1, p_end):
                        a = np.int64(st_arr[_ix(cur_base + p)])
                        if a >= tk:
                            break
                        xp = _ix(sbase + p)
                        if not drop[xp]:
                            continue
                        s = ps[xp]
                        su = _ix(s)
                        if a < arr[lk, su]:
                            n_touched = _arrive(arr, par, lk, k, s, a, cur, bstop, bpos, p,
                                                touched, touched_list, n_touched, in_arr,
                                                chg_arr, n_chg_arr)
            for j in range(n_prev):
                was_marked[prev_list[j]] = 0
            # transfers from stops improved by vehicle in this round: x = -1 the same stop,
            # then the footpaths of s, then its transfers.txt rules of type 2
            tk = tgt[k]
            for j in range(n_chg_arr[k]):
                s = chg_arr[k, j]
                su = _ix(s)
                if not plain and arr_src[k, su] != k:
                    continue  # carried from round k-1 (transfers were relaxed then)
                a = arr[lk, su]
                fp0 = fp_off[su]
                fp1 = fp_off[su + _ix(1)]
                n_fp = fp1 - fp0
                n_tr = tr_off[su + _ix(1)] - tr_off[su]
                if n_tr == 0:
                    # no transfers.txt rule at s: the same stop (s is touched: its arrival
                    # changed), then its footpaths; each takes at least mts
                    if a + mts >= tk:
                        continue
                    v = a + mts
                    if v < brd[lk, su]:
                        n_touched, n_marked = _board(
                            brd, par, lk, k, s, v, qid if plain else k, s, mts, touched,
                            touched_list, n_touched, in_brd, chg_brd, n_chg_brd, is_marked,
                            marked, n_marked)
                    for x in range(fp0, fp1):
                        ux = _ix(x)
                        uq = _ix(fp_to[ux])
                        dur = max(np.int64(fp_dur[ux]), mts)
                        v = a + dur
                        if v < brd[lk, uq] and v < tk:
                            n_touched, n_marked = _board(
                                brd, par, lk, k, uq, v, qid if plain else k, s, dur, touched,
                                touched_list, n_touched, in_brd, chg_brd, n_chg_brd, is_marked,
                                marked, n_marked)
                    continue
                for x in range(-1, n_fp + n_tr):
                    if x < n_fp:
                        q = s
                        w = np.int64(0)
                        if x >= 0:
                            q = fp_to[fp_off[s] + x]
                            if q == s:
                                continue
                            w = np.int64(fp_dur[fp_off[s] + x])
                        # the transfers.txt rule s -> q
                        kind = -1
                        mtt = np.int64(0)
                        for y in range(tr_off[s], tr_off[s + 1]):
                            if tr_to[y] == q:
                                kind = tr_kind[y]
                                mtt = np.int64(tr_min[y])
                                break
                        if kind == 3:
                            continue
                        if q == s:
                            dur = mts
                            if kind == 1:
                                dur = np.int64(0)
                            elif kind == 2:
                                dur = max(dur, mtt)
                        else:
                            if kind == 2:
                                continue  # a rule of type 2, handled below
                            dur = w if kind == 1 else max(w, mts)
                    else:
                        y = tr_off[s] + x - n_fp
                        q = tr_to[y]
                        if q == s or tr_kind[y] != 2:
                            continue
                        # walking time of the footpath s -> q, -1 when there is none
                        w = np.int64(-1)
                        for z in range(fp_off[s], fp_off[s + 1]):
                            if fp_to[z] == q:
                                w = np.int64(fp_dur[z])
                                break
                        dur = max(np.int64(tr_min[y]), max(w, mts))
                    # relax the boarding label of q
                    v = a + dur
                    if v < brd[lk, q] and v < tk:
                        n_touched, n_marked = _board(
                            brd, par, lk, k, q, v, qid if plain else k, s, dur, touched,
                            touched_list, n_touched, in_brd, chg_brd, n_chg_brd, is_marked,
                            marked, n_marked)
            # egress
            for j in range(n_chg_arr[k]):
                su = _ix(chg_arr[k, j])
                ej = is_egress[su]
                if ej < 0 or (not plain and arr_src[k, su] != k):
                    continue
                v = arr[lk, su] + egress_s[ej]
                if v < tgt[k]:
                    tgt[k] = v
                    tgt_e[k] = ej
                    tgt_src[k] = k
                    improved_round[k] = 1
            for j in range(n_chg_arr[k]):
                in_arr[_ix(chg_arr[k, j])] = 0
            for j in range(n_chg_brd[k]):
                in_brd[_ix(chg_brd[k, j])] = 0
        for j in range(n_marked):
            is_marked[marked[j]] = 0
        # reconstruct the journeys improved in this run
        for k in range(1, n_rounds + 1):
            if improved_round[k] == 0 or tgt_src[k] != k:
                continue
            ej = tgt_e[k]
            e = egress_stop[ej]
            nt = 0
            r = k
            s = e
            pending = -1
            while True:
                r0 = r if plain else arr_src[r, s]
                inst = arr_inst[r0, s]
                b = arr_bstop[r0, s]
                bp = arr_bpos[r0, s]
                ap = arr_apos[r0, s]
                # times of the instance on its own layer (realtime when it has them)
                dep_t = np.int64(st_dep[inst_base[inst] + bp])
                arr_t = np.int64(st_arr[inst_base[inst] + ap])
                if pending >= 0:
                    tmp[pending, 6] = arr_t
                    tmp[pending, 7] = arr_t + tmp[pending, 7]
                    pending = -1
                if nt == 0:
                    tmp[0, 0] = LEG_EGRESS
                    tmp[0, 1] = -1
                    tmp[0, 2] = s
                    tmp[0, 3] = -1
                    tmp[0, 4] = -1
                    tmp[0, 5] = -1
                    tmp[0, 6] = arr_t
                    tmp[0, 7] = arr_t + egress_s[ej]
                    nt = 1
                tmp[nt, 0] = LEG_TRANSIT
                tmp[nt, 1] = inst
                tmp[nt, 2] = b
                tmp[nt, 3] = s
                tmp[nt, 4] = bp
                tmp[nt, 5] = ap
                tmp[nt, 6] = dep_t
                tmp[nt, 7] = arr_t
                nt += 1
                if plain:
                    # the boarding label used in round r0: the last one set before it
                    rb = r0 - 1
                    while rb > 0 and brd_src[rb, b] != qid:
                        rb -= 1
                else:
                    rb = brd_src[r0 - 1, b]
                fr = brd_from[rb, b]
                dur = brd_dur[rb, b]
                if fr < 0:
                    tmp[nt, 0] = LEG_ACCESS
                    tmp[nt, 1] = -1
                    tmp[nt, 2] = -1
                    tmp[nt, 3] = b
                    tmp[nt, 4] = -1
                    tmp[nt, 5] = -1
                    tmp[nt, 6] = dep_t - dur
                    tmp[nt, 7] = dep_t
                    nt += 1
                    break
                if fr != b:
                    tmp[nt, 0] = LEG_TRANSFER
                    tmp[nt, 1] = -1
                    tmp[nt, 2] = fr
                    tmp[nt, 3] = b
                    tmp[nt, 4] = -1
                    tmp[nt, 5] = -1
                    tmp[nt, 6] = 0
                    tmp[nt, 7] = dur
                    pending = nt
                    nt += 1
                s = fr
                r = rb
            journeys[n_j, 0] = tau
            journeys[n_j, 1] = k
            journeys[n_j, 2] = tgt[k]
            journeys[n_j, 3] = n_l
            journeys[n_j, 4] = nt
            journeys[n_j, 5] = ej
            n_j += 1
            for x in range(nt):
                for c in range(LEG_COLS):
                    legs[n_l, c] = tmp[nt - 1 - x, c]
                n_l += 1
    # one-to-all answers (isochrones, matrices): the labels before they are cleared
    if stop_arrival.shape[0] > 0:
        for j in range(n_touched):
            s = touched_list[j]
            best = arr[0, s]
            for k in range(1, 1 if plain else n_rounds + 1):
                best = min(best, arr[k, s])
            stop_arrival[s] = best
    # leave the scratch clean: only the stops this query touched
    for j in range(n_touched):
        s = touched_list[j]
        touched[s] = 0
        for k in range(1 if plain else n_rounds + 1):
            arr[k, s] = INF
            brd[k, s] = INF
    for j in range(egress_stop.shape[0]):
        is_egress[egress_stop[j]] = -1
    return journeys[:n_j], legs[:n_l]


@njit(cache=True, nogil=True)
def collect_departures(pso: np.ndarray, pick: np.ndarray, pto: np.ndarray, psto: np.ndarray,
                       st_dep: np.ndarray, spo: np.ndarray, sp: np.ndarray, spp: np.ndarray,
                       trip_wc: np.ndarray, stop_wc: np.ndarray, lpo: np.ndarray,
                       inst_trip: np.ndarray, inst_off: np.ndarray, access_stop: np.ndarray,
                       access_s: np.ndarray, from_s: int, to_s: int, wheelchair: int,
                       stop_closed: np.ndarray, layer_st: np.ndarray, layer_trip: np.ndarray,
                       st_skip: np.ndarray, trip_cancel: np.ndarray) -> NDArray[np.int64]:
    """Distinct origin departure times in ``[from_s, to_s]`` (decreasing) at which some
    usable trip can be boarded at an access stop right after walking there (live arrays as
    in :func:`raptor`)."""
    out = np.zeros(0, dtype=np.int64)
    buf = []
    for j in range(access_stop.shape[0]):
        a = access_stop[j]
        if stop_closed[a] or not _wc_ok(wheelchair, stop_wc[a]):
            continue
        for x in range(spo[a], spo[a + 1]):
            pat = sp[x]
            p = spp[x]
            if not pick[pso[pat] + p]:
                continue
            n = pso[pat + 1] - pso[pat]
            for layer in range(lpo.shape[0]):
                st0 = layer_st[layer] + psto[pat]
                tc0 = layer_trip[layer]
                for i in range(lpo[layer, pat], lpo[layer, pat + 1]):
                    trip = inst_trip[i]
                    if trip_cancel[tc0 + trip] or not _wc_ok(wheelchair, trip_wc[trip]):
                        continue
                    y = st0 + (trip - pto[pat]) * n + p
                    if st_skip[y]:
                        continue
                    d = np.int64(st_dep[y]) + inst_off[i] - access_s[j]
                    if from_s <= d <= to_s:
                        buf.append(d)
    if len(buf) == 0:
        return out
    out = np.array(buf, dtype=np.int64)
    out = np.unique(out)[::-1].copy()
    return out


@njit(cache=True)
def realtime_fifo(pso: np.ndarray, pto: np.ndarray, psto: np.ndarray, st_arr: np.ndarray,
                  st_dep: np.ndarray, st_skip: np.ndarray, trip_runs: np.ndarray,
                  trip_cancel: np.ndarray) -> NDArray[np.bool_]:
    """Per pattern: True when, among the trips running that day (``trip_runs``), no trip
    overtakes the previous one at any stop (arrival and departure both non-decreasing in
    pattern trip order; cancelled trips included, they share the binary search) and no
    uncancelled trip skips a stop. Arrays of one service date (no layer offsets)."""
    n_pat = pto.shape[0] - 1
    out = np.ones(n_pat, dtype=np.bool_)
    for pat in range(n_pat):
        n = pso[pat + 1] - pso[pat]
        prev = -1
        ok = True
        for tr in range(pto[pat], pto[pat + 1]):
            if not trip_runs[tr]:
                continue
            base = psto[pat] + (tr - pto[pat]) * n
            if not trip_cancel[tr]:
                for p in range(n):
                    if st_skip[base + p]:
                        ok = False
                        break
            if ok and prev >= 0:
                pb = psto[pat] + (prev - pto[pat]) * n
                for p in range(n):
                    if st_dep[base + p] < st_dep[pb + p] or st_arr[base + p] < st_arr[pb + p]:
                        ok = False
                        break
            if not ok:
                break
            prev = tr
        out[pat] = ok
    return out


@njit(cache=True)
def first_unordered_stop_time(pso: np.ndarray, pto: np.ndarray, psto: np.ndarray,
                              st_arr: np.ndarray, st_dep: np.ndarray, arr_delay: np.ndarray,
                              dep_delay: np.ndarray) -> int:
    """Index of the first stop time of a trip with a non-zero delay whose realtime times
    (``st + delay``) decrease along the trip (a departure before its arrival or an arrival
    before the previous departure); -1 when all are ordered."""
    n_pat = pto.shape[0] - 1
    for pat in range(n_pat):
        n = pso[pat + 1] - pso[pat]
        for tr in range(pto[pat], pto[pat + 1]):
            base = psto[pat] + (tr - pto[pat]) * n
            touched = False
            for p in range(n):
                if arr_delay[base + p] != 0 or dep_delay[base + p] != 0:
                    touched = True
                    break
            if not touched:
                continue
            prev = np.int64(-(1 << 62))
            for p in range(n):
                a = np.int64(st_arr[base + p]) + arr_delay[base + p]
                d = np.int64(st_dep[base + p]) + dep_delay[base + p]
                if a < prev or d < a:
                    return int(base + p)
                prev = d
    return -1
