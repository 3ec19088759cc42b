"""RAPTOR kernels (numba): earliest arrival, Pareto set over (arrival, rounds), range queries.

Imports numpy and numba only (an import-linter contract forbids pandas & co. here). The
functions take the timetable and day-context arrays positionally; :mod:`gtfs.query` wraps them.

Model. A *trip instance* is a trip on one service day; the day context lists, per day layer
(previous / query / next service day) and pattern, the running instances in pattern trip
order, with a time offset (service-day midnight of that day in the trip's timezone minus the
query day's midnight in the reference timezone). Each (pattern, layer) is scanned separately,
so FIFO holds exactly inside every scan.

Labels per round ``k`` (k trips taken): ``arr[k, s]`` earliest arrival at stop ``s`` by
vehicle, ``brd[k, s]`` earliest time ready to board at ``s`` (round 0: access). From a vehicle
arrival at ``s`` the time to be ready at ``q`` is: same stop -> ``min_transfer_s``; footpath
``s -> q`` of ``w`` seconds -> ``max(w, min_transfer_s)``; transfers.txt overrides per pair:
type 1 (timed) -> ``w`` (0 at the same stop, no floor), type 2 -> ``max(min_transfer_time, w,
min_transfer_s)`` (also without a footpath), type 3 -> forbidden. Access is not followed by
footpaths and egress is taken directly from vehicle arrivals (callers give walking times to
every nearby stop). Journeys use at least one trip.

Live state. ``stop_closed[s]``: no boarding or alighting at ``s``. ``trip_cancelled[t]``: trip
not boarded. ``trip_delay_s[t]`` is added to every time of every instance of trip ``t`` in the
day context (all service days alike). Simplification (FIFO): at a boarding stop the kernel
takes the earliest-*departing* usable trip of the pattern and keeps it to the end of the
scan. When delays make one trip overtake another of the same pattern, staying on the
overtaken trip is not re-considered, so an arrival can be later than optimal (never
infeasible). Delays that keep the order (e.g. one delay per pattern) stay exact; without
delays the result is exact.

rRAPTOR. Runs for each departure time in decreasing order keep their labels (per round), so
each run only explores what improves on later departures. Each run reports the rounds whose
target arrival improved, reconstructed right away into legs.
"""

from __future__ import annotations

import numpy as np
from numba import njit

INF = np.int64(1) << np.int64(40)

LEG_ACCESS = 0
LEG_TRANSIT = 1
LEG_TRANSFER = 2
LEG_EGRESS = 3
#: Columns of the legs output array.
LEG_COLS = 8  # kind, inst, from_stop, to_stop, board_pos, alight_pos, dep_s, arr_s
#: Columns of the journeys output array.
JOURNEY_COLS = 6  # run_depart_s, rounds (trips), arrival_s, first_leg, n_legs, egress_index


@njit(cache=True, inline="always")
def _inst_time(times, pto, psto, inst_trip, inst_off, trip_delay_s, pat, n, i, p):
    trip = inst_trip[i]
    return np.int64(times[psto[pat] + (trip - pto[pat]) * n + p]) + inst_off[i] + \
        trip_delay_s[trip]


@njit(cache=True, inline="always")
def _find_trip(st_dep, pto, psto, inst_trip, inst_off, trip_delay_s, trip_cancelled,
               trip_wc, wheelchair, pat, n, p, ia, ib, t, max_delay, min_delay):
    """Earliest-departing usable instance in [ia, ib) of pattern ``pat`` leaving position
    ``p`` at or after ``t``; -1 if none."""
    lo = ia
    hi = ib
    key = t - max_delay
    while lo < hi:
        mid = (lo + hi) >> 1
        trip = inst_trip[mid]
        d = np.int64(st_dep[psto[pat] + (trip - pto[pat]) * n + p]) + inst_off[mid]
        if d < key:
            lo = mid + 1
        else:
            hi = mid
    best = -1
    best_dep = INF
    i = lo
    while i < ib:
        trip = inst_trip[i]
        base = np.int64(st_dep[psto[pat] + (trip - pto[pat]) * n + p]) + inst_off[i]
        if base + min_delay >= best_dep:
            break
        if not trip_cancelled[trip] and (not wheelchair or trip_wc[trip] == 1):
            d = base + trip_delay_s[trip]
            if d >= t and d < best_dep:
                best = i
                best_dep = d
        i += 1
    return best


@njit(cache=True, inline="always")
def _transfer_rule(s, q, tr_off, tr_to, tr_kind, tr_min):
    for j in range(tr_off[s], tr_off[s + 1]):
        if tr_to[j] == q:
            return np.int64(tr_kind[j]), np.int64(tr_min[j])
    return np.int64(-1), np.int64(0)


@njit(cache=True, inline="always")
def _footpath(s, q, fp_off, fp_to, fp_dur):
    for j in range(fp_off[s], fp_off[s + 1]):
        if fp_to[j] == q:
            return np.int64(fp_dur[j])
    return np.int64(-1)


@njit(cache=True, inline="always")
def _copy_min(k, lab, src, in_chg, chg, n_chg):
    """Carry round k-1's improved labels (the stops it changed) into round k, recording the
    stops that change in round k."""
    for j in range(n_chg[k - 1]):
        s = chg[k - 1, j]
        if lab[k - 1, s] < lab[k, s]:
            lab[k, s] = lab[k - 1, s]
            src[k, s] = src[k - 1, s]
            if not in_chg[s]:
                in_chg[s] = True
                chg[k, n_chg[k]] = s
                n_chg[k] += 1


@njit(cache=True)
def raptor(
    # timetable
    pso, ps, pick, drop, pto, psto, st_arr, st_dep, spo, sp, spp,
    tr_off, tr_to, tr_kind, tr_min, trip_wc, stop_wc,
    # day context
    lpo, inst_trip, inst_off,
    # query
    access_stop, access_s, egress_stop, egress_s, fp_off, fp_to, fp_dur,
    departures, max_rounds, min_transfer_s, wheelchair, stop_closed, trip_delay_s,
    trip_cancelled,
):
    """rRAPTOR over ``departures`` (must be sorted in decreasing order; one entry = plain
    RAPTOR). Returns ``(journeys int64[n, JOURNEY_COLS], legs int64[m, LEG_COLS])``: one
    journey per (run, round) whose target arrival improved in that run."""
    n_stops = stop_wc.shape[0]
    n_pat = pto.shape[0] - 1
    n_layers = lpo.shape[0]
    n_rounds = max_rounds
    arr = np.full((n_rounds + 1, n_stops), INF, dtype=np.int64)
    brd = np.full((n_rounds + 1, n_stops), INF, dtype=np.int64)
    arr_src = np.zeros((n_rounds + 1, n_stops), dtype=np.int32)
    arr_inst = np.zeros((n_rounds + 1, n_stops), dtype=np.int32)
    arr_bstop = np.zeros((n_rounds + 1, n_stops), dtype=np.int32)
    arr_bpos = np.zeros((n_rounds + 1, n_stops), dtype=np.int32)
    arr_apos = np.zeros((n_rounds + 1, n_stops), dtype=np.int32)
    brd_src = np.zeros((n_rounds + 1, n_stops), dtype=np.int32)
    brd_from = np.zeros((n_rounds + 1, n_stops), dtype=np.int32)
    brd_dur = np.zeros((n_rounds + 1, n_stops), dtype=np.int64)
    tgt = np.full(n_rounds + 1, INF, dtype=np.int64)
    tgt_e = np.full(n_rounds + 1, -1, dtype=np.int64)
    tgt_src = np.zeros(n_rounds + 1, dtype=np.int64)
    # change lists (per round, this run)
    chg_arr = np.zeros((n_rounds + 1, n_stops), dtype=np.int32)
    n_chg_arr = np.zeros(n_rounds + 1, dtype=np.int64)
    chg_brd = np.zeros((n_rounds + 1, n_stops), dtype=np.int32)
    n_chg_brd = np.zeros(n_rounds + 1, dtype=np.int64)
    in_arr = np.zeros(n_stops, dtype=np.bool_)
    in_brd = np.zeros(n_stops, dtype=np.bool_)
    marked = np.zeros(n_stops, dtype=np.int32)
    is_marked = np.zeros(n_stops, dtype=np.bool_)
    # boarding is only tried at stops improved in the previous round: boarding at an
    # unchanged stop repeats a trip already taken one round earlier (dominated)
    was_marked = np.zeros(n_stops, dtype=np.bool_)
    prev_list = np.zeros(n_stops, dtype=np.int32)
    first_pos = np.full(n_pat, np.int32(1 << 30), dtype=np.int32)
    last_pos = np.zeros(n_pat, dtype=np.int32)
    queue = np.zeros(n_pat, dtype=np.int32)
    is_egress = np.full(n_stops, -1, dtype=np.int64)
    for j in range(egress_stop.shape[0]):
        e = egress_stop[j]
        if is_egress[e] < 0 or egress_s[j] < egress_s[is_egress[e]]:
            is_egress[e] = j
    max_delay = np.int64(0)
    min_delay = np.int64(0)
    for t in range(trip_delay_s.shape[0]):
        if trip_delay_s[t] > max_delay:
            max_delay = np.int64(trip_delay_s[t])
        if trip_delay_s[t] < min_delay:
            min_delay = np.int64(trip_delay_s[t])
    no_delays = max_delay == 0 and min_delay == 0
    n_runs = departures.shape[0]
    cap_j = n_runs * n_rounds + 1
    journeys = np.zeros((cap_j, 6), dtype=np.int64)
    legs = np.zeros((cap_j * (2 * n_rounds + 2), 8), dtype=np.int64)
    n_j = 0
    n_l = 0
    tmp = np.zeros((2 * n_rounds + 2, 8), dtype=np.int64)
    improved_round = np.zeros(n_rounds + 1, dtype=np.bool_)

    for run in range(n_runs):
        tau = np.int64(departures[run])
        for k in range(n_rounds + 1):
            n_chg_arr[k] = 0
            n_chg_brd[k] = 0
            improved_round[k] = False
        n_marked = 0
        # round 0: access
        for j in range(access_stop.shape[0]):
            a = access_stop[j]
            v = tau + access_s[j]
            if v < brd[0, a]:
                brd[0, a] = v
                brd_src[0, a] = 0
                brd_from[0, a] = -1
                brd_dur[0, a] = access_s[j]
                if not is_marked[a]:
                    is_marked[a] = True
                    marked[n_marked] = a
                    n_marked += 1
                if not in_brd[a]:
                    in_brd[a] = True
                    chg_brd[0, n_chg_brd[0]] = a
                    n_chg_brd[0] += 1
        for j in range(n_chg_brd[0]):
            in_brd[chg_brd[0, j]] = False
        for k in range(1, n_rounds + 1):
            # copy-min from round k-1 (changes of this run)
            _copy_min(k, arr, arr_src, in_arr, chg_arr, n_chg_arr)
            _copy_min(k, brd, brd_src, in_brd, chg_brd, n_chg_brd)
            if tgt[k - 1] < tgt[k]:
                tgt[k] = tgt[k - 1]
                tgt_src[k] = tgt_src[k - 1]
            if n_marked == 0:
                for j in range(n_chg_arr[k]):
                    in_arr[chg_arr[k, j]] = False
                for j in range(n_chg_brd[k]):
                    in_brd[chg_brd[k, j]] = False
                continue
            # collect patterns through marked stops
            n_q = 0
            for j in range(n_marked):
                s = marked[j]
                is_marked[s] = False
                was_marked[s] = True
                for x in range(spo[s], spo[s + 1]):
                    pat = sp[x]
                    pos = spp[x]
                    if not pick[pso[pat] + pos]:
                        continue
                    if first_pos[pat] == np.int32(1 << 30):
                        queue[n_q] = pat
                        n_q += 1
                        first_pos[pat] = pos
                        last_pos[pat] = pos
                    else:
                        if pos < first_pos[pat]:
                            first_pos[pat] = pos
                        if pos > last_pos[pat]:
                            last_pos[pat] = pos
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
                first_pos[pat] = np.int32(1 << 30)
                sbase = pso[pat]
                n = pso[pat + 1] - sbase
                t0 = pto[pat]
                st0 = psto[pat]
                for layer in range(n_layers):
                    ia = lpo[layer, pat]
                    ib = lpo[layer, pat + 1]
                    if ia == ib:
                        continue
                    # nothing in this layer can beat the target: first instance leaves late
                    if np.int64(st_dep[st0 + (inst_trip[ia] - t0) * n + p0]) + inst_off[ia] + \
                            min_delay >= tk:
                        continue
                    cur = -1
                    cur_base = 0
                    cur_shift = np.int64(0)
                    bstop = 0
                    bpos = 0
                    for p in range(p0, n):
                        if cur < 0 and p > p_last:
                            break
                        s = ps[sbase + p]
                        usable = not stop_closed[s] and (not wheelchair or stop_wc[s] == 1)
                        if not usable:
                            continue
                        if cur >= 0 and drop[sbase + p]:
                            a = np.int64(st_arr[cur_base + p]) + cur_shift
                            if a < arr[k, s] and a < tk:
                                arr[k, s] = a
                                arr_src[k, s] = k
                                arr_inst[k, s] = cur
                                arr_bstop[k, s] = bstop
                                arr_bpos[k, s] = bpos
                                arr_apos[k, s] = p
                                if not in_arr[s]:
                                    in_arr[s] = True
                                    chg_arr[k, n_chg_arr[k]] = s
                                    n_chg_arr[k] += 1
                        if was_marked[s] and pick[sbase + p]:
                            b = brd[k - 1, s]
                            if b < INF:
                                cur_dep = INF
                                if cur >= 0:
                                    cur_dep = np.int64(st_dep[cur_base + p]) + cur_shift
                                if b <= cur_dep:
                                    c = -1
                                    if cur >= 0 and no_delays:
                                        # step back from the current trip (usually 0-1 steps)
                                        c = cur
                                        i = cur - 1
                                        steps = 0
                                        while i >= ia:
                                            tr_i = inst_trip[i]
                                            d_i = np.int64(st_dep[st0 + (tr_i - t0) * n + p]) + \
                                                inst_off[i]
                                            if d_i < b:
                                                break
                                            if not trip_cancelled[tr_i] and \
                                                    (not wheelchair or trip_wc[tr_i] == 1):
                                                c = i
                                            i -= 1
                                            steps += 1
                                            if steps == 4:
                                                # far back: binary search the rest instead
                                                c2 = _find_trip(st_dep, pto, psto, inst_trip,
                                                                inst_off, trip_delay_s,
                                                                trip_cancelled, trip_wc,
                                                                wheelchair, pat, n, p, ia, i + 1,
                                                                b, max_delay, min_delay)
                                                if c2 >= 0:
                                                    c = c2
                                                break
                                    else:
                                        c = _find_trip(st_dep, pto, psto, inst_trip, inst_off,
                                                       trip_delay_s, trip_cancelled, trip_wc,
                                                       wheelchair, pat, n, p, ia, ib, b,
                                                       max_delay, min_delay)
                                    if c >= 0 and c != cur:
                                        tr_c = inst_trip[c]
                                        c_base = st0 + (tr_c - t0) * n
                                        c_shift = inst_off[c] + trip_delay_s[tr_c]
                                        d = np.int64(st_dep[c_base + p]) + c_shift
                                        if d < cur_dep or (d == cur_dep and c < cur):
                                            cur = c
                                            cur_base = c_base
                                            cur_shift = c_shift
                                            bstop = s
                                            bpos = p
            for j in range(n_prev):
                was_marked[prev_list[j]] = False
            # transfers from stops improved by vehicle in this round
            for j in range(n_chg_arr[k]):
                s = chg_arr[k, j]
                if arr_src[k, s] != k:
                    continue
                a = arr[k, s]
                # same stop
                kind, mtt = _transfer_rule(s, s, tr_off, tr_to, tr_kind, tr_min)
                if kind != 3:
                    dur = np.int64(min_transfer_s)
                    if kind == 1:
                        dur = np.int64(0)
                    elif kind == 2:
                        dur = max(dur, mtt)
                    if _relax(k, s, s, a, dur, brd, brd_src, brd_from, brd_dur, tgt,
                              is_marked, chg_brd, n_chg_brd, in_brd):
                        marked[n_marked] = s
                        n_marked += 1
                for x in range(fp_off[s], fp_off[s + 1]):
                    q = fp_to[x]
                    if q == s:
                        continue
                    kind, mtt = _transfer_rule(s, q, tr_off, tr_to, tr_kind, tr_min)
                    if kind == 3 or kind == 2:
                        continue
                    w = np.int64(fp_dur[x])
                    dur = w if kind == 1 else max(w, np.int64(min_transfer_s))
                    if _relax(k, s, q, a, dur, brd, brd_src, brd_from, brd_dur, tgt,
                              is_marked, chg_brd, n_chg_brd, in_brd):
                        marked[n_marked] = q
                        n_marked += 1
                for x in range(tr_off[s], tr_off[s + 1]):
                    q = tr_to[x]
                    if q == s or tr_kind[x] != 2:
                        continue
                    w = _footpath(s, q, fp_off, fp_to, fp_dur)
                    dur = max(np.int64(tr_min[x]), max(w, np.int64(min_transfer_s)))
                    if _relax(k, s, q, a, dur, brd, brd_src, brd_from, brd_dur, tgt,
                              is_marked, chg_brd, n_chg_brd, in_brd):
                        marked[n_marked] = q
                        n_marked += 1
            # egress
            for j in range(n_chg_arr[k]):
                s = chg_arr[k, j]
                ej = is_egress[s]
                if ej < 0 or arr_src[k, s] != k:
                    continue
                v = arr[k, s] + egress_s[ej]
                if v < tgt[k]:
                    tgt[k] = v
                    tgt_e[k] = ej
                    tgt_src[k] = k
                    improved_round[k] = True
            for j in range(n_chg_arr[k]):
                in_arr[chg_arr[k, j]] = False
            for j in range(n_chg_brd[k]):
                in_brd[chg_brd[k, j]] = False
        for j in range(n_marked):
            is_marked[marked[j]] = False
        # reconstruct the journeys improved in this run
        for k in range(1, n_rounds + 1):
            if not improved_round[k] or tgt_src[k] != k:
                continue
            ej = tgt_e[k]
            e = egress_stop[ej]
            nt = 0
            r = k
            s = e
            pending = -1
            while True:
                r0 = arr_src[r, s]
                inst = arr_inst[r0, s]
                b = arr_bstop[r0, s]
                bp = arr_bpos[r0, s]
                ap = arr_apos[r0, s]
                trip = inst_trip[inst]
                pat = 0
                # pattern of the instance: find via binary search on lpo rows
                pat = _pattern_of(pto, trip)
                n = pso[pat + 1] - pso[pat]
                dep_t = _inst_time(st_dep, pto, psto, inst_trip, inst_off, trip_delay_s, pat,
                                   n, inst, bp)
                arr_t = _inst_time(st_arr, pto, psto, inst_trip, inst_off, trip_delay_s, pat,
                                   n, inst, ap)
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
                for c in range(8):
                    legs[n_l, c] = tmp[nt - 1 - x, c]
                n_l += 1
    return journeys[:n_j], legs[:n_l]


@njit(cache=True, inline="always")
def _relax(k, s, q, a, dur, brd, brd_src, brd_from, brd_dur, tgt, is_marked, chg_brd,
           n_chg_brd, in_brd):
    """Improve the boarding label of ``q`` from a vehicle arrival ``a`` at ``s``; returns
    True when ``q`` must be appended to the marked list."""
    v = a + dur
    if v < brd[k, q] and v < tgt[k]:
        brd[k, q] = v
        brd_src[k, q] = k
        brd_from[k, q] = s
        brd_dur[k, q] = dur
        if not in_brd[q]:
            in_brd[q] = True
            chg_brd[k, n_chg_brd[k]] = q
            n_chg_brd[k] += 1
        if not is_marked[q]:
            is_marked[q] = True
            return True
    return False


@njit(cache=True)
def _pattern_of(pto, trip):
    lo = 0
    hi = pto.shape[0] - 1
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if pto[mid] <= trip:
            lo = mid
        else:
            hi = mid
    return lo


@njit(cache=True)
def collect_departures(pso, pick, pto, psto, st_dep, spo, sp, spp, trip_wc, stop_wc,
                       lpo, inst_trip, inst_off, access_stop, access_s, from_s, to_s,
                       wheelchair, stop_closed, trip_delay_s, trip_cancelled):
    """Distinct origin departure times in ``[from_s, to_s]`` (decreasing) at which some
    usable trip can be boarded at an access stop right after walking there."""
    out = np.zeros(0, dtype=np.int64)
    buf = []
    for j in range(access_stop.shape[0]):
        a = access_stop[j]
        if stop_closed[a] or (wheelchair and stop_wc[a] != 1):
            continue
        for x in range(spo[a], spo[a + 1]):
            pat = sp[x]
            p = spp[x]
            if not pick[pso[pat] + p]:
                continue
            n = pso[pat + 1] - pso[pat]
            for layer in range(lpo.shape[0]):
                for i in range(lpo[layer, pat], lpo[layer, pat + 1]):
                    trip = inst_trip[i]
                    if trip_cancelled[trip] or (wheelchair and trip_wc[trip] != 1):
                        continue
                    d = _inst_time(st_dep, pto, psto, inst_trip, inst_off, trip_delay_s,
                                   pat, n, i, p) - access_s[j]
                    if from_s <= d <= to_s:
                        buf.append(d)
    if len(buf) == 0:
        return out
    out = np.array(buf, dtype=np.int64)
    out = np.unique(out)[::-1].copy()
    return out
