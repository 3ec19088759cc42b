"""Typical speeds and time-dependent car routing: FIFO rules, loader, an independent
plain-Python TD-Dijkstra oracle on northern Kentucky, and agreement with the static router."""

from __future__ import annotations

import copy
import heapq
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from routing.graph import INF_WEIGHT
from routing.kernels.td import ttf_ms
from routing.road import NoRouteError, SnapError
from routing.tdroute import td_route
from routing.typical import DAY_TYPES, TrafficDataError, TypicalSpeeds, day_type_of, enforce_fifo
from routing.typical_ingest import load_observations
from routing.typical_learn import LiveObservation, learn_from_observations
from tests.generators.traffic_model import generate_observations

TZ = "America/New_York"
DAY_MS = 86_400_000
BIN_MS = 900_000


# ---- an independent oracle ---------------------------------------------------------------
def oracle_ttf(values: list[int], t_ms: int) -> int:
    """Travel time at ``t_ms`` from 96 bin values: linear between bin centres (floored),
    wrapping from the last bin of the day to the first."""
    tt = t_ms % DAY_MS
    half = BIN_MS // 2
    if tt < half:  # before the first centre: between yesterday's last bin and bin 0
        left, right, since = 95, 0, tt + DAY_MS - (95 * BIN_MS + half)
    else:
        left = (tt - half) // BIN_MS  # the last centre at or before tt
        right, since = (left + 1) % 96, tt - (left * BIN_MS + half)
    a, c = values[left], values[right]
    return a + ((c - a) * since) // BIN_MS


MAX_FINITE = INF_WEIGHT - 1


class TdOracle:
    """Plain-Python time-dependent Dijkstra (heapq) over a router's car kernel graph, with
    its own implementation of the cost model: typical time when the edge is entered, live
    observations fading with age, incident effects whose windows contain that instant."""

    def __init__(self, router, typical: TypicalSpeeds | None, speeds=None,
                 effects: dict[int, list[tuple[int, int, bool, int, float, int]]] | None = None
                 ) -> None:
        car = router.modes["car"]
        a = car.arrays
        self.router, self.typical, self.car = router, typical, car
        # (head, edge, fixed extra of the arc: a penalty for entering destination-only
        # roads and/or turn time, and the turn time alone)
        self.adj: dict[int, list[tuple[int, int, int, int]]] = {}
        for t, h, e, x, tt in zip(np.asarray(a.arc_tail).tolist(),
                                  np.asarray(a.arc_head).tolist(),
                                  np.asarray(a.arc_edge).tolist(),
                                  np.asarray(a.arc_extra_ms).tolist(),
                                  np.asarray(a.arc_turn_ms).tolist(), strict=True):
            self.adj.setdefault(t, []).append((h, e, x, tt))
        self.seg_len = np.asarray(router.snapshot.segments.length_m, np.float64)
        self.edge_seg = np.asarray(a.edge_seg)
        self.ff = np.asarray(a.edge_time_ms).tolist()
        # per day type, each edge's profile row (-1: none); rows' 96 values read lazily
        self._rows = None if typical is None else np.asarray(typical.row).tolist()
        self._profiles: dict[int, list[int]] = {}
        self._set_live(speeds, effects)

    def _set_live(self, speeds, effects) -> None:
        self.speeds = speeds
        self.effects = effects or {}
        if speeds is not None:  # plain lists: one Python read per edge entered
            self._obs_at = np.asarray(speeds.obs_at_ms).tolist()
            self._obs_ms = np.asarray(speeds.obs_ms, np.float64).tolist()
            self._conf = np.asarray(speeds.confidence, np.float64).tolist()

    def with_live(self, speeds, effects: dict[int, list[tuple[int, int, bool, int, float,
                                                                int]]]) -> TdOracle:
        """The same oracle (graph and typical speeds shared) with these live speed
        observations and incident effects."""
        other = copy.copy(self)
        other._set_live(speeds, effects)
        return other

    def ttf(self, day: int, e: int, t: int) -> int:
        """Typical travel time (free flow without a profile)."""
        if self._rows is None:
            return self.ff[e]
        r = self._rows[day][e]
        if r < 0:
            return self.ff[e]
        vals = self._profiles.get(r)
        if vals is None:
            vals = self._profiles[r] = np.asarray(self.typical.ttf_ms[r]).tolist()
        return oracle_ttf(vals, t)

    def cost(self, day: int, e: int, t: int, t_epoch: int) -> int:
        """The full cost of edge ``e`` entered at local ``t`` (= Unix ms ``t_epoch``)."""
        c = self.ttf(day, e, t)
        sp = self.speeds
        if sp is not None and self._obs_at[e] != -(2**62):
            age = t_epoch - self._obs_at[e]
            if age >= -60_000:
                if age <= sp.fresh_ms:
                    a = 1.0
                else:
                    a = min((sp.max_age_ms - age) / (sp.max_age_ms - sp.fresh_ms), 1.0)
                a *= self._conf[e]
                if a > 0:
                    c = max(int(np.rint(a * self._obs_ms[e] + (1 - a) * c)), 1)
        best = -1
        for lo, hi, closed, min_ms, factor, add_ms in self.effects.get(e, ()):
            if lo <= t_epoch < hi:
                if closed:
                    return INF_WEIGHT
                v = min(int(np.rint(float(max(c, min_ms)) * factor)) + add_ms, MAX_FINITE)
                best = max(best, v)
        return c if best < 0 else best

    def _cost_fn(self, day: int, t0: int, epoch0: int):
        """``cost(e, t)``: :meth:`cost` of edge ``e`` entered at local ``t`` during a query
        that left at local ``t0`` (= Unix ms ``epoch0``); without live data, the typical
        time read directly (the same values, fewer lookups per edge)."""
        if self.speeds is not None or self.effects:
            return lambda e, t: self.cost(day, e, t, epoch0 + t - t0)
        ff = self.ff
        if self._rows is None:
            return lambda e, t: ff[e]
        rows, profiles, ttf_ms = self._rows[day], self._profiles, self.typical.ttf_ms

        def typical(e: int, t: int) -> int:
            r = rows[e]
            if r < 0:
                return ff[e]
            vals = profiles.get(r)
            if vals is None:
                vals = profiles[r] = np.asarray(ttf_ms[r]).tolist()
            return oracle_ttf(vals, t)
        return typical

    def frac(self, e: int, m: float) -> float:
        sl = float(self.seg_len[self.edge_seg[e]])
        return min(max(m / sl if sl > 0 else 0.0, 0.0), 1.0)

    def arrival_ms(self, src_edges, dst_edges, day: int, t0: int, epoch0: int) -> int | None:
        """Earliest arrival (ms since local midnight) between snapped endpoints."""
        cost = self._cost_fn(day, t0, epoch0)

        # Labels are ordered by time + penalties (the kernel's rule); the answer is the time
        # of the best label.
        best: tuple[int, int] | None = None  # (time + penalties, time)
        for e, m0 in src_edges:
            for e2, m1 in dst_edges:
                if e == e2 and m1 >= m0:
                    c = cost(e, t0)
                    if c >= INF_WEIGHT:
                        continue
                    sl = float(self.seg_len[self.edge_seg[e]])
                    c = t0 + round(c * ((m1 - m0) / sl if sl > 0 else 0.0))
                    best = (c, c) if best is None else min(best, (c, c))
        heads = np.asarray(self.car.arrays.edge_head_knode)
        offs = np.asarray(self.car.arrays.edge_arc_offsets)
        tails = np.asarray(self.car.arrays.arc_tail)
        extras = np.asarray(self.car.arrays.arc_extra_ms)
        turns = np.asarray(self.car.arrays.arc_turn_ms)
        targets: dict[int, list[tuple[int, float, int, int]]] = {}
        for e, m in dst_edges:
            for a in range(int(offs[e]), int(offs[e + 1])):
                targets.setdefault(int(tails[a]), []).append(
                    (e, self.frac(e, m), int(extras[a]) - int(turns[a]), int(turns[a])))
        dist: dict[int, tuple[int, int]] = {}  # node -> (time + penalties, time)
        heap: list[tuple[int, int, int]] = []
        for e, m in src_edges:
            c = cost(e, t0)
            if c >= INF_WEIGHT:
                continue
            v = int(heads[e])
            t = t0 + round(c * (1.0 - self.frac(e, m)))
            if v not in dist or t < dist[v][0]:
                dist[v] = (t, t)
                heapq.heappush(heap, (t, t, v))
        done: set[int] = set()
        adj, push, pop = self.adj, heapq.heappush, heapq.heappop
        while heap:
            k, t, v = pop(heap)
            if v in done:
                continue
            if best is not None and k >= best[0]:
                break
            done.add(v)
            for e, f, x, tt in targets.get(v, ()):
                c = cost(e, t + tt)  # the turn takes time before the edge is entered
                if c < INF_WEIGHT:
                    tot = t + tt + round(c * f)
                    cand = (k - t + tot + x, tot)
                    best = cand if best is None else min(best, cand)
            for h, e, x, tt in adj.get(v, ()):
                c = cost(e, t + tt)
                if c >= INF_WEIGHT:
                    continue
                kh = k + c + x
                dh = dist.get(h)
                if dh is None or kh < dh[0]:
                    th = t + tt + c
                    dist[h] = (kh, th)
                    push(heap, (kh, th, h))
        return None if best is None else best[1]


# ---- fixtures ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def nky_typical(nky_router) -> TypicalSpeeds:
    """Typical speeds of northern Kentucky from the synthetic peak-hour model."""
    typical, report = load_observations(nky_router, generate_observations(nky_router, seed=5))
    assert report.rows_skipped == 0 and report.edges_with_data > 5000
    return typical


def _random_points(router, rng: np.random.Generator, n: int) -> list[tuple[float, ...]]:
    car = router.modes["car"].arrays
    tails = np.asarray(car.edge_tail)[np.asarray(car.edge_snappable)]
    lat = np.asarray(router.snapshot.node_lat)[tails]
    lon = np.asarray(router.snapshot.node_lon)[tails]
    idx = rng.integers(0, lat.shape[0], size=(n, 2))
    j = rng.normal(0, 1.5e-4, size=(n, 4))
    return [(lat[a] + j[k, 0], lon[a] + j[k, 1], lat[b] + j[k, 2], lon[b] + j[k, 3])
            for k, (a, b) in enumerate(idx)]


def _random_departure(rng: np.random.Generator) -> datetime:
    day = date(2024, 5, 6) + timedelta(days=int(rng.integers(0, 7)))  # Mon 6 May .. Sun
    if rng.random() < 0.5:  # half in the peaks
        h = rng.uniform(7.0, 9.0) if rng.random() < 0.5 else rng.uniform(16.0, 18.5)
    else:
        h = rng.uniform(0.0, 24.0)
    ms = int(h * 3_600_000)
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(TZ)) + timedelta(
        milliseconds=ms)


# ---- rules ---------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(profiles=arrays(np.int64, (3, 96, 3), elements=st.integers(1, 4_000_000)),
       free=arrays(np.int64, (3,), elements=st.integers(1, 600_000)),
       edge=st.integers(0, 2), day=st.integers(0, 2),
       t1=st.integers(0, 2 * DAY_MS), dt=st.integers(0, 3 * 3_600_000))
def test_loaded_profiles_are_fifo(profiles, free, edge, day, t1, dt) -> None:
    """Arbitrary (non-FIFO) profiles become FIFO: t1 + ttf(t1) <= t2 + ttf(t2)."""
    typ, _, _ = TypicalSpeeds.from_dense(free, np.ones(3), profiles)
    rows = typ.row[day]
    t2 = t1 + dt
    a1 = t1 + ttf_ms(edge, t1, rows, typ.ttf_ms, typ.free_flow_ms)
    a2 = t2 + ttf_ms(edge, t2, rows, typ.ttf_ms, typ.free_flow_ms)
    assert a1 <= a2
    assert ttf_ms(edge, t1, rows, typ.ttf_ms, typ.free_flow_ms) >= free[edge]
    vals = np.asarray(typ.ttf_ms[rows[edge]], np.int64)
    assert (np.roll(vals, -1) >= vals - BIN_MS).all()
    assert (vals >= profiles[day, :, edge]).all()  # only raised


def test_fifo_clipping_is_minimal() -> None:
    row = np.full((1, 96), 60_000, np.int64)
    row[0, 40] = 3_600_000  # one hour at 10:00–10:15 only: leaving later would win
    out, n = enforce_fifo(row)
    assert out[0, 40] == 3_600_000
    assert out[0, 41:44].tolist() == [2_700_000, 1_800_000, 900_000]
    assert out[0, 44] == 60_000 and out[0, 39] == 60_000 and n == 3
    fifo = np.full((2, 96), 120_000, np.int64)
    assert enforce_fifo(fifo)[1] == 0


def test_day_types() -> None:
    assert day_type_of(date(2024, 5, 6)) == "weekday"
    assert day_type_of(date(2024, 5, 11)) == "saturday"
    assert day_type_of(date(2024, 5, 12)) == "sunday"
    assert day_type_of(date(2024, 5, 27), holidays=[date(2024, 5, 27)]) == "sunday"


def test_interpolation_between_bin_centres(nky_router) -> None:
    typ = TypicalSpeeds.for_router(nky_router)
    n = typ.n_edges
    dense = np.repeat(np.asarray(typ.free_flow_ms, np.int64)[None, None, :], 96, axis=1)
    dense = np.repeat(dense, 3, axis=0)
    e = int(np.argmax(typ.free_flow_ms))
    dense[0, 32, e] = typ.free_flow_ms[e] + 100_000  # 08:00–08:15, centre 08:07:30
    obs = np.zeros(dense.shape, bool)
    obs[0, 32, e] = True
    t, _, _ = TypicalSpeeds.from_dense(typ.free_flow_ms, typ.edge_length_m, dense, obs)
    ff = int(typ.free_flow_ms[e])
    at = lambda s: int(t.travel_time_ms("weekday", s, [e])[0])  # noqa: E731
    assert at(8 * 3600 + 450) == ff + 100_000
    assert at(8 * 3600) == ff + 50_000  # half way from the 07:52:30 centre
    assert at(7 * 3600 + 52 * 60 + 30) == ff and at(3 * 3600) == ff
    assert t.travel_time_ms("saturday", 8 * 3600 + 450, [e])[0] == ff
    assert t.source_of("weekday", 8 * 3600, [e]) == ["typical"]
    assert t.source_of("weekday", 9 * 3600, [e]) == ["free_flow"]
    assert (t.row[1:] == -1).all() and n == t.row.shape[1]


# ---- routing ---------------------------------------------------------------------------
def _publisher(router, typical, live=None):
    from routing.state import StatePublisher

    pub = StatePublisher(router, typical, TZ)
    if live is not None:
        pub.publish(live)
    return pub


def _td(router, pub, p, dep, **kw):
    """A timed route as the API computes it: on the state at the departure."""
    return td_route(router, pub.at(pub.current(), dep), *p, depart=dep, **kw)


def test_flat_profiles_equal_static_router(nky_router, nky_state) -> None:
    """Profiles equal to free flow (no rows, and full rows) give the static answer."""
    flat = TypicalSpeeds.for_router(nky_router)
    ff = np.asarray(flat.free_flow_ms)
    full = TypicalSpeeds(flat.free_flow_ms, flat.edge_length_m,
                         np.tile(np.arange(ff.shape[0], dtype=np.int32), (3, 1)),
                         np.repeat(ff[:, None], 96, axis=1).astype(np.int32),
                         np.ones((ff.shape[0], 96), bool))
    pubs = [_publisher(nky_router, flat), _publisher(nky_router, full)]
    rng = np.random.default_rng(11)
    checked = 0
    for p in _random_points(nky_router, rng, 60):
        try:
            want = nky_router.route(nky_state, "car", *p)
        except (SnapError, NoRouteError):
            continue
        dep = _random_departure(rng)
        for pub in pubs:
            got = _td(nky_router, pub, p, dep)
            assert got.route.weight_ms == want.weight_ms
            assert got.duration_s == pytest.approx(want.duration_s, abs=1e-3)
            assert got.duration_s == pytest.approx(got.free_flow_duration_s, abs=0.01)
        checked += 1
    assert checked >= 50


def _check_route_consistency(r, car) -> None:
    assert r.edge_duration_s.sum() == pytest.approx(r.duration_s, abs=1e-6)
    assert (np.diff(r.edge_entry_s) >= 0).all()
    heads, tails = np.asarray(car.edge_head)[r.edges], np.asarray(car.edge_tail)[r.edges]
    assert (heads[:-1] == tails[1:]).all()
    assert (r.arrival - r.depart).total_seconds() == pytest.approx(r.duration_s, abs=1e-3)


def _random_live(router, rng, dep: datetime, k: int):
    """A live state around ``dep``: incidents (closures, speed limits, lane closures, fixed
    delays) whose windows open and close around the trip, and fading speed observations.
    Returns (LiveState, the oracle's effects table)."""
    from routing.live import FOREVER_MS, EffectTimeline, LiveState, SpeedObservations

    car = router.modes["car"]
    ff = car.free_flow_ms
    n = ff.shape[0]
    t0 = int(dep.timestamp() * 1000)
    length = np.asarray(car.arrays.edge_length_m, np.float64)
    rows = []
    for inc in range(k):
        edges = rng.choice(n, int(rng.integers(20, 400)), replace=False)
        lo = t0 + int(rng.uniform(-40, 40) * 60_000)
        hi = int(FOREVER_MS) if rng.random() < 0.3 else lo + int(rng.uniform(5, 60) * 60_000)
        kind = inc % 4
        for e in edges.tolist():
            closed = kind == 0
            min_ms = int(np.ceil(length[e] / (rng.uniform(5, 30) / 3.6) * 1000)) \
                if kind == 1 else 0
            factor = float(rng.uniform(1.2, 4.0)) if kind == 2 else 1.0
            add = int(rng.integers(1_000, 120_000)) if kind == 3 else 0
            rows.append((e, inc, closed, min_ms, factor, add, lo, hi))
    cols = list(zip(*rows, strict=True))
    tl = EffectTimeline.from_entries(n, *[np.asarray(c) for c in cols])
    obs_at = np.full(n, -(2**62), np.int64)
    obs_ms = np.zeros(n)
    conf = np.zeros(n)
    live_e = rng.choice(n, 2000, replace=False)
    obs_at[live_e] = t0 - rng.integers(0, 14 * 60_000, live_e.shape[0])
    obs_ms[live_e] = ff[live_e] * rng.uniform(0.8, 5.0, live_e.shape[0])
    conf[live_e] = rng.uniform(0.3, 1.0, live_e.shape[0])
    speeds = SpeedObservations(obs_ms, obs_at, conf)
    ids = tuple(f"INC-{i}" for i in range(k))
    live = LiveState(seq=k, incident_ids=ids, effects={"car": tl}, speeds=speeds)
    table: dict[int, list] = {}
    for e, _, closed, min_ms, factor, add, lo, hi in rows:
        table.setdefault(e, []).append((lo, hi, closed, min_ms, factor, add))
    return live, speeds, table


def test_td_kernel_equals_python_oracle(nky_router, nky_typical) -> None:
    """≥ 200 random queries (departures across the week, half in the peaks) agree with the
    plain-Python TD-Dijkstra under typical speeds; then 100 more with incidents (closures,
    speed limits, lane closures, delays) whose windows open and close during the trip and
    with live observations fading as the trip goes on. Every edge of an answer is timed with
    the cost in force when it is reached, which is also what the congestion map says at that
    instant."""
    car = nky_router.modes["car"].arrays
    rng = np.random.default_rng(2026)
    checked = live_checked = 0
    pub0 = _publisher(nky_router, nky_typical)
    oracle0 = TdOracle(nky_router, nky_typical)
    for k, p in enumerate(_random_points(nky_router, rng, 330)):
        dep = _random_departure(rng)
        if k < 220:
            pub, oracle = pub0, oracle0
        else:
            live, speeds, table = _random_live(nky_router, rng, dep, 4)
            pub = _publisher(nky_router, nky_typical, live)
            oracle = oracle0.with_live(speeds, table)
        local = dep.astimezone(ZoneInfo(TZ))
        day = DAY_TYPES.index(day_type_of(local.date()))
        t0 = ((local.hour * 60 + local.minute) * 60 + local.second) * 1000 \
            + local.microsecond // 1000
        epoch0 = int(dep.timestamp() * 1000)
        state = pub.at(pub.current(), dep)
        try:
            src = nky_router.snap(state, "car", p[0], p[1], "from")
            dst = nky_router.snap(state, "car", p[2], p[3], "to")
        except SnapError:
            continue
        want = oracle.arrival_ms(src.edges, dst.edges, day, t0, epoch0)
        try:
            got = td_route(nky_router, state, *p, depart=dep)
        except NoRouteError:
            assert want is None, (k, p, dep)
            continue
        assert want is not None and round(got.duration_s * 1000) == want - t0, (k, p, dep)
        _check_route_consistency(got, car)
        # each inner edge is timed with the oracle's cost when entered, and the congestion
        # map's weights at that instant agree
        t = t0 + round(got.edge_entry_s[1] * 1000) if len(got.edges) > 1 else None
        for i, e in enumerate(got.edges.tolist()[1:-1], start=1):
            assert round(got.edge_entry_s[i] * 1000) + t0 == t
            c = oracle.cost(day, e, t, epoch0 + t - t0)
            assert c < INF_WEIGHT
            if i < 4:
                at = pub.at(pub.current(), dep + timedelta(milliseconds=t - t0))
                assert int(at.weights("car")[e]) == c
            t += c + round(float(got.route.edge_turn_s[i + 1]) * 1000)  # then the turn
        if k < 220:
            checked += 1
        else:
            live_checked += 1
    assert checked >= 200 and live_checked >= 80


def test_peak_slower_than_night(nky_router, nky_typical) -> None:
    """Weekday 08:00 is slower than 03:00 (and than Sunday 08:00); some routes change."""
    rng = np.random.default_rng(8)
    pub = _publisher(nky_router, nky_typical)
    ratios, changed, typical_used = [], 0, 0
    for p in _random_points(nky_router, rng, 40):
        try:
            peak = _td(nky_router, pub, p, datetime(2024, 5, 7, 8, 0, tzinfo=ZoneInfo(TZ)))
            night = _td(nky_router, pub, p, datetime(2024, 5, 7, 3, 0, tzinfo=ZoneInfo(TZ)))
            sunday = _td(nky_router, pub, p, datetime(2024, 5, 12, 12, 0, tzinfo=UTC))
        except (SnapError, NoRouteError):
            continue
        if night.duration_s < 120:
            continue
        assert peak.duration_s >= night.duration_s and peak.duration_s >= sunday.duration_s
        assert sunday.day_type == "sunday" and sunday.depart.hour == 8
        ratios.append(peak.duration_s / night.duration_s)
        changed += not np.array_equal(peak.edges, night.edges)
        by = peak.duration_by_source_s
        assert sum(by.values()) == pytest.approx(peak.duration_s, abs=1e-6)
        assert by["live"] == pytest.approx(0, abs=0.01)
        typical_used += by["typical"] > 0
    assert len(ratios) >= 25
    assert np.median(ratios) > 1.2
    assert changed >= 1 and typical_used >= 20


# ---- loading, saving, learning -------------------------------------------------------------
def _long_edge_way(router) -> tuple[int, int, str]:
    """(edge, way id, direction) of a long forward car edge on a multi-edge-free way."""
    car = router.modes["car"].arrays
    way = np.asarray(router.snapshot.segments.way_id)[np.asarray(car.edge_seg)]
    rev = np.asarray(car.edge_rev)
    length = np.asarray(car.edge_length_m)
    ok = ~rev & (length > 300)
    e = int(np.flatnonzero(ok)[0])
    return e, int(way[e]), "forward"


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_loader_counts_bad_rows_and_takes_medians(nky_router, tmp_path, fmt: str) -> None:
    e, way, direction = _long_edge_way(nky_router)
    car = nky_router.modes["car"].arrays
    ways_edges = np.flatnonzero(
        (np.asarray(nky_router.snapshot.segments.way_id)[np.asarray(car.edge_seg)] == way)
        & ~np.asarray(car.edge_rev))
    good = [
        (way, direction, "weekday", "08:00", 10.0, 1),
        (way, direction, "weekday", "08:05", 20.0, 1),
        (way, direction, "Weekday", "08:14", 30.0, 1),
        (way, direction, "saturday", "12:00", 10.0, 1),
        (way, direction, "saturday", "12:00", 30.0, 5),  # weighted median → 30
        (way, direction, "sunday", "03:00", 199.0, 1),  # faster than free flow: raised
    ]
    bad = [
        (999999999999, "forward", "weekday", "08:00", 20.0, 1),  # unknown_way
        ("abc", "forward", "weekday", "08:00", 20.0, 1),  # bad_way_id
        (way, "sideways", "weekday", "08:00", 20.0, 1),  # bad_direction
        (way, direction, "holiday", "08:00", 20.0, 1),  # bad_day_type
        (way, direction, "weekday", "25:00", 20.0, 1),  # bad_time
        (way, direction, "weekday", "8h", 20.0, 1),  # bad_time
        (way, direction, "weekday", "08:00", 0.0, 1),  # bad_speed
        (way, direction, "weekday", "08:00", 260.0, 1),  # bad_speed (over 250 km/h)
        (way, direction, "weekday", "08:00", "fast", 1),  # bad_speed
        (way, direction, "weekday", "08:00", 20.0, 0),  # bad_samples
    ]
    df = pd.DataFrame(good + bad, columns=["way_id", "direction", "day_type", "time",
                                           "speed_kmh", "samples"]).astype(str)
    path = tmp_path / f"obs.{fmt}"
    df.to_csv(path, index=False) if fmt == "csv" else df.to_parquet(path, index=False)
    typ, rep = load_observations(nky_router, path)
    assert rep.rows_read == 16 and rep.rows_used == 6
    assert rep.skipped == {"unknown_way": 1, "bad_way_id": 1, "bad_direction": 1,
                           "bad_day_type": 1, "bad_time": 2, "bad_speed": 3, "bad_samples": 1}
    assert rep.examples["bad_time"] == [11, 12]
    assert rep.raised_to_free_flow == len(ways_edges)
    length = float(car.edge_length_m[e])
    want = round(length / (20 / 3.6) * 1000)
    assert typ.travel_time_ms("weekday", 8 * 3600 + 450, [e])[0] == want
    assert typ.travel_time_ms("saturday", 12 * 3600 + 450, [e])[0] == round(
        length / (30 / 3.6) * 1000)
    assert typ.travel_time_ms("sunday", 3 * 3600 + 450, [e])[0] == car.edge_time_ms[e]
    assert rep.edges_with_data == len(ways_edges)
    other = int(np.flatnonzero(np.asarray(car.edge_rev))[0])
    assert typ.row[0, other] == -1  # no data: free flow
    assert "unknown_way=1" in rep.summary()


def test_loader_bins_and_errors(nky_router, tmp_path) -> None:
    e, way, direction = _long_edge_way(nky_router)
    df = pd.DataFrame({"way_id": [way], "direction": [direction], "day_type": ["weekday"],
                       "bin": [32], "speed_kmh": [12.5]})
    typ, rep = load_observations(nky_router, df)
    assert rep.rows_used == 1 and typ.source_of("weekday", 8 * 3600 + 450, [e]) == ["typical"]
    with pytest.raises(TrafficDataError, match="speed_kmh"):
        load_observations(nky_router, df.drop(columns=["speed_kmh"]))
    with pytest.raises(TrafficDataError, match="bin or time"):
        load_observations(nky_router, df.drop(columns=["bin"]))
    with pytest.raises(TrafficDataError, match="no such file"):
        load_observations(nky_router, tmp_path / "missing.csv")


def test_save_load_roundtrip_memory_mapped(nky_router, nky_typical, tmp_path) -> None:
    nky_typical.save(tmp_path / "typ")
    back = TypicalSpeeds.load(tmp_path / "typ", snapshot_id=nky_router.snapshot.snapshot_id)
    for name in ("free_flow_ms", "edge_length_m", "row", "ttf_ms", "observed"):
        assert np.array_equal(getattr(back, name), getattr(nky_typical, name))
    assert isinstance(back.ttf_ms.base, np.memmap)
    p = _random_points(nky_router, np.random.default_rng(3), 1)[0]
    dep = datetime(2024, 5, 8, 17, 30, tzinfo=ZoneInfo(TZ))
    assert _td(nky_router, _publisher(nky_router, back), p, dep).duration_s == _td(
        nky_router, _publisher(nky_router, nky_typical), p, dep).duration_s
    with pytest.raises(TrafficDataError, match="snapshot"):
        TypicalSpeeds.load(tmp_path / "typ", snapshot_id="other")


def test_learn_from_observations_ema(nky_router, nky_typical) -> None:
    e, _, _ = _long_edge_way(nky_router)
    d = DAY_TYPES.index("weekday")
    at = datetime(2024, 5, 8, 12, 7, 30, tzinfo=ZoneInfo(TZ))  # bin 48 centre
    old = int(nky_typical.travel_time_ms("weekday", 12 * 3600 + 450, [e])[0])
    obs_ms = float(nky_typical.edge_length_m[e]) / (5.0 / 3.6) * 1000
    new = learn_from_observations(nky_typical, [LiveObservation(e, at, 5.0)], weight=0.25,
                                  tz=TZ)
    got = int(new.travel_time_ms("weekday", 12 * 3600 + 450, [e])[0])
    r = int(nky_typical.row[d, e])
    seen = r >= 0 and bool(nky_typical.observed[r, 48])
    assert got == round(0.75 * old + 0.25 * obs_ms if seen else obs_ms)
    assert nky_typical.travel_time_ms("weekday", 12 * 3600 + 450, [e])[0] == old  # unchanged
    vals = np.asarray(new.ttf_ms[new.row[d, e]], np.int64)
    assert (np.roll(vals, -1) >= vals - BIN_MS).all()
    # An edge without any profile gets a new row holding the observation.
    free_edges = np.flatnonzero(nky_typical.row[d] < 0)
    f = int(free_edges[np.argmax(np.asarray(nky_typical.edge_length_m)[free_edges])])
    new2 = learn_from_observations(new, [LiveObservation(f, at, 5.0)], tz=TZ)
    want = round(float(nky_typical.edge_length_m[f]) / (5.0 / 3.6) * 1000)
    assert new2.travel_time_ms("weekday", 12 * 3600 + 450, [f])[0] == max(
        want, int(nky_typical.free_flow_ms[f]))
    assert new2.source_of("weekday", 12 * 3600 + 450, [f]) == ["typical"]
    with pytest.raises(ValueError, match="speed"):
        learn_from_observations(nky_typical, [LiveObservation(e, at, -3.0)])
