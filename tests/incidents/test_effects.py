"""Incidents → live state, on the real northern Kentucky network: rules, time windows, and
routing on the built state against plain Dijkstra (hypothesis)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from incidents.effects import (
    MAX_LANE_FACTOR,
    build_live_state,
    change_points,
    edge_effects,
    in_effect_ids,
    incident_effects,
    interval_start,
)
from incidents.matching import MatchResult, NetworkMatcher
from incidents.model import Incident
from routing.graph import INF_WEIGHT
from routing.state import RoutingState, StatePublisher
from tests.incidents.test_matching import (
    chain_coords,
    directed_edges,
    load_stops,
    offset_line,
    street_chain,
)

DAY = datetime(2025, 3, 10, tzinfo=UTC)  # a Monday
_ids = itertools.count(1)


def incident(**fields: Any) -> Incident:
    """A stored, active incident valid from ``DAY`` with ``fields`` applied."""
    doc: dict[str, Any] = {
        "id": f"INC-{next(_ids)}", "agency": "test", "type": "roadworks", "severity": "moderate",
        "status": "active", "start": DAY, "geometry": {"type": "Point", "coordinates": [0, 0]},
        "direction": "both", "created_by": "t", "updated_by": "t", "created_at": DAY,
        "updated_at": DAY, "version": 1,
    }
    doc.update(fields)
    return Incident.model_validate(doc)


@pytest.fixture(scope="module")
def router(nky_router) -> Iterator[Any]:
    """The shared router."""
    yield nky_router


@pytest.fixture(scope="module")
def publisher(router) -> StatePublisher:
    """A publisher of its own (free flow)."""
    return StatePublisher(router, n_stops=len(load_stops()[0]))


@pytest.fixture(scope="module")
def arrays(router) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    ff = {m: mr.free_flow_ms for m, mr in router.modes.items()}
    length = {m: np.asarray(mr.arrays.edge_length_m) for m, mr in router.modes.items()}
    return ff, length


@pytest.fixture(scope="module")
def stops() -> tuple[list[str], np.ndarray, np.ndarray]:
    return load_stops()


@pytest.fixture(scope="module")
def matcher(router, stops) -> NetworkMatcher:
    return NetworkMatcher(router.snapshot, stops=stops)


@pytest.fixture(scope="module")
def madison(router) -> np.ndarray:
    return street_chain(router.snapshot, "Madison Avenue", 8)


@pytest.fixture(scope="module")
def madison_line(router, matcher, madison) -> dict[str, Any]:
    return offset_line(matcher, chain_coords(router.snapshot, madison[2:10]), 3.0)


_PUB: list[StatePublisher] = []


@pytest.fixture(autouse=True)
def _use_publisher(publisher) -> Iterator[None]:
    _PUB.append(publisher)
    yield
    _PUB.pop()


def state_for(incs: list[Incident], matcher: NetworkMatcher, arrays, at: datetime,
              stop_index: dict[str, int] | None = None, **kw: Any) -> RoutingState:
    """The routing state at ``at`` of these incidents (published by the module's publisher)."""
    ff, length = arrays
    lo, hi = at - timedelta(days=2), at + timedelta(days=35)
    effects = {i.id: incident_effects(i, matcher.match(i.geometry, i.direction), ff, length,
                                      lo, hi, stop_index) for i in incs}
    live = build_live_state(1, {k: v for k, v in effects.items() if v.windows},
                            {m: w.shape[0] for m, w in ff.items()}, (lo, hi))
    return _PUB[-1].publish(live, at)


def changed(st_: RoutingState, ff: dict[str, np.ndarray]) -> set[str]:
    """Modes whose weights differ from free flow."""
    return {m for m in ff if not np.array_equal(st_.weights(m), ff[m])}


def test_closure_to_cars_closes_car_edges_only(router, matcher, arrays, madison,
                                               madison_line) -> None:
    inc = incident(type="closure", geometry=madison_line, direction="forward",
                   road_effect={"closed_to": ["car"]})
    st_ = state_for([inc], matcher, arrays, DAY + timedelta(hours=1))
    snap = router.snapshot
    closed = directed_edges(snap, "car", madison[2:10], False)
    w = st_.weights("car")
    assert set(np.flatnonzero(w >= INF_WEIGHT).tolist()) == closed
    other = directed_edges(snap, "car", madison[2:10], True)
    assert all(w[e] == arrays[0]["car"][e] for e in other)
    assert changed(st_, arrays[0]) == {"car"}  # walk, bike, bus, truck keep free flow
    assert st_.road["walk"] is st_.free_flow["walk"]
    assert all(st_.causes("car")[e] == (inc.id,) for e in closed)
    assert st_.live.incidents[inc.id].closed_modes == ("car",)
    assert "Madison Avenue" in st_.live.incidents[inc.id].streets


@pytest.mark.parametrize("vehicle", ["bus", "truck"])
def test_closure_to_buses_or_trucks_leaves_cars_alone(matcher, arrays, madison_line,
                                                      vehicle: str) -> None:
    """closed_to: bus (truck) closes the bus (truck) graph only: cars keep their roads."""
    inc = incident(type="closure", geometry=madison_line, road_effect={"closed_to": [vehicle]})
    st_ = state_for([inc], matcher, arrays, DAY + timedelta(hours=1))
    assert changed(st_, arrays[0]) == {vehicle}
    assert (st_.weights(vehicle) >= INF_WEIGHT).sum() > 0
    assert st_.road["car"] is st_.free_flow["car"]
    assert st_.live.incidents[inc.id].closed_modes == (vehicle,)


def test_closure_type_without_road_effect_closes_motor_traffic(matcher, arrays,
                                                               madison_line) -> None:
    inc = incident(type="closure", geometry=madison_line)
    st_ = state_for([inc], matcher, arrays, DAY)
    assert (st_.weights("car") >= INF_WEIGHT).sum() > 0
    assert changed(st_, arrays[0]) == {"car", "bus", "truck"}  # every motor mode
    all_closed = incident(geometry=madison_line, road_effect={"closed_to": ["all"]})
    st2 = state_for([all_closed], matcher, arrays, DAY)
    assert changed(st2, arrays[0]) == {"car", "bike", "walk", "bus", "truck"}


def test_speed_limit_slows_to_the_limit(matcher, arrays, madison_line) -> None:
    ff, length = arrays
    inc = incident(geometry=madison_line, road_effect={"speed_limit_kmh": 10})
    m = matcher.match(inc.geometry, inc.direction)
    eff = edge_effects(inc, m, ff, length)
    for mode in ("car", "bike"):
        edges, new = eff[mode]
        want = np.maximum(ff[mode][edges], np.ceil(length[mode][edges] / (10 / 3.6) * 1000))
        assert np.array_equal(new, want.astype(np.int64))
        assert (new > ff[mode][edges]).all()
    assert "walk" not in eff  # walking is slower than 10 km/h anyway


@pytest.mark.parametrize("direction,factor", [("forward", 1), ("both", 2)])
def test_delay_spread_sums_to_delay(matcher, arrays, madison_line, direction, factor) -> None:
    ff, length = arrays
    inc = incident(geometry=madison_line, direction=direction, road_effect={"delay_s": 300.0})
    m = matcher.match(inc.geometry, inc.direction)
    edges, new = edge_effects(inc, m, ff, length)["car"]
    added = new - ff["car"][edges]
    assert abs(int(added.sum()) - factor * 300_000) <= factor
    per_m = added / length["car"][edges]
    assert np.allclose(per_m, 300_000 / m.length_m, rtol=0.02)
    assert set(edge_effects(inc, m, ff, length)) == {"car", "bus", "truck"}


@pytest.mark.parametrize("total,closed,factor", [(2, 1, 2.0), (3, 1, 1.5), (5, 4, 4.0)])
def test_lane_closures_slow_cars(matcher, arrays, madison_line, total, closed, factor) -> None:
    ff, length = arrays
    inc = incident(geometry=madison_line, lanes={"total": total, "closed": closed})
    m = matcher.match(inc.geometry, inc.direction)
    eff = edge_effects(inc, m, ff, length)
    edges, new = eff["car"]
    assert factor <= MAX_LANE_FACTOR
    assert np.allclose(new, np.rint(ff["car"][edges] * factor), atol=1)
    assert set(eff) == {"car", "bus", "truck"}
    full = incident(geometry=madison_line, lanes={"total": 2, "closed": 2})
    assert (edge_effects(full, m, ff, length)["car"][1] == INF_WEIGHT).all()


def test_time_window_selects_the_state(matcher, arrays, madison_line) -> None:
    start = DAY + timedelta(hours=10)
    inc = incident(type="closure", geometry=madison_line, start=start,
                   end=start + timedelta(hours=2), status="scheduled")
    for at, closed in ((start + timedelta(minutes=30), True), (start - timedelta(hours=1), False),
                       (start + timedelta(hours=2, minutes=30), False),
                       (start + timedelta(hours=2), False), (start, True)):
        st_ = state_for([inc], matcher, arrays, at)
        assert ("car" in changed(st_, arrays[0])) is closed, at
    pts = change_points([inc], since=DAY)
    assert pts == [start, start + timedelta(hours=2)]
    assert interval_start(pts, start + timedelta(minutes=30)) == start
    assert interval_start(pts, start - timedelta(minutes=30)) is None
    cancelled = inc.model_copy(update={"status": "cancelled"})
    assert not changed(state_for([cancelled], matcher, arrays, start), arrays[0])
    assert change_points([cancelled], since=DAY) == []


def test_recurring_window(matcher, arrays, madison_line) -> None:
    rec = {"days": ["mon", "tue"], "start_time": "07:00", "end_time": "09:00",
           "timezone": "America/New_York"}
    inc = incident(geometry=madison_line, road_effect={"closed_to": ["car"]}, recurrence=rec)
    ny = ZoneInfo("America/New_York")
    mon_8 = datetime(2025, 3, 10, 8, 0, tzinfo=ny)
    ff = arrays[0]
    assert "car" in changed(state_for([inc], matcher, arrays, mon_8), ff)
    assert not changed(state_for([inc], matcher, arrays, mon_8 + timedelta(hours=2)), ff)
    assert not changed(state_for([inc], matcher, arrays, mon_8 + timedelta(days=2)), ff)
    # one live state answers every instant: the same state moved to other times
    st_ = state_for([inc], matcher, arrays, mon_8)
    pub = _PUB[-1]
    assert "car" not in changed(pub.at(st_, mon_8 + timedelta(hours=2)), ff)
    assert "car" in changed(pub.at(st_, mon_8 + timedelta(days=7)), ff)
    pts = change_points([inc], since=DAY, horizon=timedelta(days=7))
    local = [(p.astimezone(ny).strftime("%a"), p.astimezone(ny).time()) for p in pts]
    assert ("Mon", time(7)) in local and ("Tue", time(9)) in local
    assert not any(d in ("Wed", "Thu", "Fri", "Sat", "Sun") for d, _ in local)


def test_combining_incidents(router, matcher, arrays, madison_line) -> None:
    ff, length = arrays
    slow = incident(geometry=madison_line, road_effect={"speed_limit_kmh": 20})
    slower = incident(geometry=madison_line, road_effect={"speed_limit_kmh": 8})
    closed = incident(geometry=madison_line, direction="forward",
                      road_effect={"closed_to": ["car"]})
    m = matcher.match(madison_line, "both")
    e8 = dict(zip(*[a.tolist() for a in edge_effects(slower, m, ff, length)["car"]],
                  strict=True))
    st_ = state_for([slow, slower, closed], matcher, arrays, DAY)
    w = st_.weights("car")
    fwd = matcher.match(madison_line, "forward").edges["car"]
    assert (w[fwd] == INF_WEIGHT).all()
    bwd = matcher.match(madison_line, "backward").edges["car"]
    assert all(w[e] == e8[e] for e in bwd.tolist())  # the slowest wins
    assert set(st_.causes("car")[int(fwd[0])]) == {slow.id, slower.id, closed.id}
    assert in_effect_ids([slow, closed], DAY) == {slow.id, closed.id}
    # Routing on it: a route along Madison Avenue never uses a closed edge.
    c = madison_line["coordinates"]
    r = router.route(st_, "car", c[0][1], c[0][0], c[-1][1], c[-1][0])
    assert r.live_version == st_.version
    assert not np.isin(r.edges, fwd).any()


def test_unchanged_weights_keep_their_metric(matcher, arrays, madison_line) -> None:
    """Publishing a state with the same content as the current one reuses weights and metric
    (no re-customization) and keeps the version: one version, one state."""
    inc = incident(geometry=madison_line, road_effect={"closed_to": ["bike"]})
    first = state_for([inc], matcher, arrays, DAY)
    again = state_for([inc], matcher, arrays, DAY)
    assert again.version == first.version
    assert again.road["bike"] is first.road["bike"]
    other = state_for([inc, incident(geometry=madison_line,
                                     road_effect={"closed_to": ["walk"]})], matcher, arrays, DAY)
    assert other.version > first.version and other.road["bike"] is first.road["bike"]


def test_stop_closures_and_routes(matcher, arrays, stops) -> None:
    ids, lat, lon = stops
    ring = [[-84.5130, 39.0800], [-84.5050, 39.0800], [-84.5050, 39.0880], [-84.5130, 39.0880],
            [-84.5130, 39.0800]]
    poly = {"type": "Polygon", "coordinates": [ring]}
    index = {s: i for i, s in enumerate(ids)}
    geo = incident(type="event", geometry=poly,
                   transit_effect={"closes_stops_on_geometry": True, "routes_affected": ["11"]})
    explicit = incident(type="transit_disruption", geometry=poly,
                        transit_effect={"stops_closed": [ids[0], "nope"],
                                        "routes_affected": ["11", "16"]})
    unrelated = incident(geometry=poly, road_effect={"speed_limit_kmh": 20})
    st_ = state_for([geo, explicit, unrelated], matcher, arrays, DAY, stop_index=index)
    matched = matcher.match(poly).stops
    assert matched
    want = {index[s] for s in matched} | {0}
    assert st_.stop_closed is not None
    assert set(np.flatnonzero(st_.stop_closed).tolist()) == want
    assert st_.routes_affected() == {"11": [geo.id, explicit.id], "16": [explicit.id]}
    assert dict(st_.live.unknown_stops) == {explicit.id: ("nope",)}
    assert set(st_.live.incidents[geo.id].stops_closed) == set(matched)
    # A road closure to buses closes the matched stops too; to cars only, it does not.
    bus = incident(geometry=poly, road_effect={"closed_to": ["bus"]})
    assert state_for([bus], matcher, arrays, DAY,
                     stop_index=index).stop_closed.sum() == len(matched)
    car = incident(geometry=poly, road_effect={"closed_to": ["car"]})
    assert state_for([car], matcher, arrays, DAY, stop_index=index).stop_closed.sum() == 0


# ---- properties ----------------------------------------------------------------------------
_rec = st.builds(
    lambda days, a, b, tz: {"days": days, "start_time": time(a // 60, a % 60),
                            "end_time": time(b // 60, b % 60), "timezone": tz},
    st.lists(st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]), min_size=1,
             max_size=7, unique=True),
    st.integers(0, 1439), st.integers(0, 1439),
    st.sampled_from(["UTC", "America/New_York", "Europe/Helsinki"]),
).filter(lambda r: r["start_time"] != r["end_time"])


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_in_effect_set_is_constant_between_change_points(data) -> None:
    since = datetime(2025, 3, 5, tzinfo=UTC)  # spans the US DST switch of 2025-03-09
    incs = []
    for _ in range(data.draw(st.integers(1, 3))):
        start = since + timedelta(minutes=data.draw(st.integers(-3000, 9000)))
        end = data.draw(st.one_of(st.none(), st.integers(1, 12000)))
        incs.append(incident(start=start, recurrence=data.draw(st.one_of(st.none(), _rec)),
                             end=None if end is None else start + timedelta(minutes=end)))
    pts = change_points(incs, since=since, horizon=timedelta(days=7))
    bounds = [since, *pts, since + timedelta(days=7)]
    for a, b in itertools.pairwise(bounds):
        if b <= a:
            continue
        t = a + (b - a) * data.draw(st.floats(0, 0.999))
        assert in_effect_ids(incs, t) == in_effect_ids(incs, a), (a, t, b)


def _kernel_distances(mr, w: np.ndarray, sources: list[int]) -> np.ndarray:
    """Plain Dijkstra (scipy) on kernel arcs weighted by edge weights ``w``."""
    arc_w = mr.arc_weights(w)
    ok = arc_w < INF_WEIGHT
    tail, head, aw = mr.arc_tail[ok], np.asarray(mr.arrays.arc_head)[ok], arc_w[ok]
    order = np.lexsort((aw, head, tail))  # keep the cheapest of parallel arcs
    tail, head, aw = tail[order], head[order], aw[order]
    first = np.r_[True, (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])]
    n = mr.arrays.kernel_node_count
    g = csr_matrix((aw[first].astype(np.float64) + 1e-9, (tail[first], head[first])),
                   shape=(n, n))
    return dijkstra(g, indices=sources)


def _expected_weight(inc: Incident, e: int, mode: str, m: MatchResult, ff: int,
                     length: np.ndarray) -> tuple[int, float]:
    """Independent scalar re-statement of the rules: (weight without delay, delay share)."""
    re = inc.road_effect
    motor = {"car", "bus", "truck"}
    classes = set(re.closed_to) if re else (motor if inc.type == "closure" else set())
    modes = {c for c in classes if c != "all"}
    if "all" in classes:
        modes |= motor | {"bike", "walk"}
    lanes = inc.lanes
    if lanes and lanes.closed == lanes.total:
        modes |= motor
    if mode in modes:
        return INF_WEIGHT, 0.0
    w = float(ff)
    if re and re.speed_limit_kmh:
        w = max(w, np.ceil(length[e] / (re.speed_limit_kmh / 3.6) * 1000))
    delay = 0.0
    if mode in motor:
        if lanes and 0 < lanes.closed < lanes.total:
            w *= min(4.0, lanes.total / (lanes.total - lanes.closed))
        if re and re.delay_s:
            delay = re.delay_s * 1000 * length[e] / sum(
                length[m.edges[mode][m.edge_segments[mode] == s][0]]
                for s in np.unique(m.edge_segments[mode]))
    return round(w), delay


_effect = st.fixed_dictionaries({}, optional={
    "closed_to": st.lists(st.sampled_from(["car", "truck", "bus", "bike", "walk", "all"]),
                          max_size=2, unique=True),
    "speed_limit_kmh": st.floats(3.0, 120.0),
    "delay_s": st.floats(0.0, 900.0),
})


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_routing_on_live_state_equals_dijkstra(router, matcher, arrays, data) -> None:
    """Random incidents on random streets: state weights follow the rules, and CCH distances
    on the applied state equal plain Dijkstra on those weights."""
    ff, length = arrays
    snap = router.snapshot
    car_segs = np.unique(np.asarray(snap.modes["car"].edge_seg))
    incs, matches = [], {}
    for _ in range(data.draw(st.integers(1, 4), label="n")):
        s0 = int(car_segs[data.draw(st.integers(0, car_segs.shape[0] - 1), label="seg")])
        chain = np.array([s0])
        coords = chain_coords(snap, chain)
        if data.draw(st.booleans(), label="reversed"):
            coords = coords[::-1]
        offset = data.draw(st.sampled_from([0.0, -4.0, -2.0, 2.0, 4.0]), label="offset")
        line = offset_line(matcher, coords, offset)
        lanes = data.draw(st.one_of(st.none(), st.integers(1, 4).flatmap(
            lambda t: st.fixed_dictionaries({"total": st.just(t),
                                             "closed": st.integers(0, t)}))), label="lanes")
        inc = incident(type=data.draw(st.sampled_from(["closure", "accident"]), label="type"),
                       geometry=line, lanes=lanes,
                       direction=data.draw(st.sampled_from(["forward", "backward", "both"])),
                       road_effect=data.draw(st.one_of(st.none(), _effect), label="effect"))
        incs.append(inc)
        matches[inc.id] = matcher.match(inc.geometry, inc.direction)
    state = state_for(incs, matcher, arrays, DAY)
    for mode in router.modes:
        want = ff[mode].astype(np.float64).copy()
        slack = np.zeros_like(want)
        for inc in incs:
            m = matches[inc.id]
            for e in m.edges[mode].tolist():
                w, delay = _expected_weight(inc, e, mode, m, int(ff[mode][e]), length[mode])
                if w + delay > want[e]:
                    want[e] = min(w + delay, INF_WEIGHT)
                    slack[e] = 1.0 + (delay > 0)
        got = state.weights(mode)
        assert np.all(np.abs(got - want) <= slack), mode
    for mode, mr in router.modes.items():
        w = state.weights(mode)
        metric = state.metric(mode)
        touched = np.concatenate([matches[i.id].edges[mode] for i in incs]).astype(np.int64)
        near = np.unique(np.r_[mr.edge_head_knode[touched],
                               mr.arc_tail[np.isin(mr.arc_edge, touched)]]).astype(np.int64)
        rng = np.random.default_rng(len(incs))
        nodes = np.unique(mr.arc_tail)
        sources = np.unique(np.r_[near[:3], rng.choice(nodes, 2)]).tolist()
        targets = np.unique(np.r_[near, rng.choice(nodes, 10)]).tolist()
        dist = _kernel_distances(mr, np.asarray(w, np.int64), sources)
        for i, s in enumerate(sources):
            for t in targets:
                d = dist[i, t]
                want_d = None if not np.isfinite(d) else int(round(d))
                assert metric.distance(int(s), int(t)) == want_d, (mode, s, t)


def test_change_points_across_dst_switch() -> None:
    """A window starting inside the skipped hour (02:30 on 2025-03-09 in New York) still has
    a change point where the set changes (the switch itself)."""
    rec = {"days": ["sun"], "start_time": "02:30", "end_time": "04:00",
           "timezone": "America/New_York"}
    inc = incident(start=datetime(2025, 3, 1, tzinfo=UTC), recurrence=rec)
    since = datetime(2025, 3, 8, tzinfo=UTC)
    pts = change_points([inc], since=since, horizon=timedelta(days=2))
    assert datetime(2025, 3, 9, 7, 0, tzinfo=UTC) in pts  # 03:00 EDT, first instant in window
    for a, b in itertools.pairwise([since, *pts, since + timedelta(days=2)]):
        for f in (0.01, 0.5, 0.99):
            assert in_effect_ids([inc], a + (b - a) * f) == in_effect_ids([inc], a)
