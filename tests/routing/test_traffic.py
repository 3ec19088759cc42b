"""Congestion guidance on real data: live speeds and ageing, alternatives' bounds,
diversions around closures, congestion levels."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from api.geojson import CongestionGeoJSON
from incidents.matching import NetworkMatcher
from incidents.speeds import SpeedBoard
from routing.congestion import LEVELS, CongestionMap
from routing.diversions import diversions
from routing.graph import INF_WEIGHT
from routing.live import FOREVER_MS, EffectTimeline, IncidentInfo, LiveState
from routing.road import ALT_MAX_SHARED, ALT_MAX_STRETCH, RoutingError, _shared_share
from routing.state import StatePublisher
from tests.routing.oracle import kernel_distances


@pytest.fixture(scope="module")
def board(nky_router):
    return SpeedBoard(nky_router.snapshot, NetworkMatcher(nky_router.snapshot))


def _ways(router, n, rng):
    car = router.modes["car"]
    seg_way = np.asarray(router.snapshot.segments.way_id)[car.edge_seg]
    return [int(w) for w in rng.choice(np.unique(seg_way), n, replace=False)]


def test_speed_batch_rules_and_ageing(board, nky_router) -> None:
    """Apply-the-valid-ones; an observation counts fully while fresh, fades linearly to the
    base time by its maximum age, and nothing stale is presented as live."""
    now = datetime.now(UTC)
    rng = np.random.default_rng(2)
    ways = _ways(nky_router, 20, rng)
    good = [{"ref": {"way_id": w, "direction": "both"}, "speed_kmh": 7.5,
             "observed_at": now.isoformat()} for w in ways]
    bad = [{"ref": {"way_id": 1}, "speed_kmh": 20, "observed_at": now.isoformat()},
           {"ref": {"way_id": ways[0]}, "speed_kmh": 0, "observed_at": now.isoformat()},
           {"ref": {"way_id": ways[0]}, "speed_kmh": 900, "observed_at": now.isoformat()},
           {"ref": {"way_id": ways[0]}, "speed_kmh": 20,
            "observed_at": (now + timedelta(hours=1)).isoformat()},
           {"ref": {"way_id": ways[0]}, "speed_kmh": 20, "observed_at": "2020-01-01T00:00:00"},
           {"ref": {"geometry": {"type": "LineString", "coordinates": [[2.3, 48.8],
                                                                       [2.31, 48.81]]}},
            "speed_kmh": 20, "observed_at": now.isoformat()},
           "not an object", {"ref": {"way_id": ways[0]}, "speed_kmh": "fast",
                             "observed_at": now.isoformat()}]
    report = board.validate(good + bad, now)
    assert report.accepted == len(good)
    assert sorted(r["index"] for r in report.rejected) == list(range(len(good),
                                                                     len(good) + len(bad)))
    board.apply(report.updates)
    obs = board.observations()
    pub = StatePublisher(nky_router)
    state = pub.publish(LiveState(seq=1, speeds=obs), now)
    base = nky_router.modes["car"].free_flow_ms
    live = obs.alive(state.at_ms)
    assert live.sum() == report.edges_updated
    e = np.flatnonzero(live)
    expect = np.rint(board.edge_len[e] / (7.5 / 3.6) * 1000)
    assert np.allclose(state.weights("car")[e], np.maximum(expect, 1), atol=1)
    # fading: half way between fresh and max age it is half observed, half base
    mid = pub.at(state, now + timedelta(seconds=(board.fresh_s + board.max_age_s) / 2))
    assert np.allclose(mid.weights("car")[e], np.rint(0.5 * expect + 0.5 * base[e]), atol=2)
    # expired: nothing counts, nothing presented as live
    late = pub.at(state, now + timedelta(seconds=board.max_age_s + 1))
    assert not obs.alive(late.at_ms).any()
    assert np.array_equal(late.weights("car"), base)
    assert not board.has_live(now + timedelta(seconds=board.max_age_s + 1))


def test_routes_with_posted_speeds_equal_dijkstra(nky_router, board) -> None:
    now = datetime.now(UTC)
    rng = np.random.default_rng(3)
    obs = [{"ref": {"way_id": w, "direction": "forward"}, "speed_kmh": float(rng.uniform(3, 40)),
            "observed_at": now.isoformat()} for w in _ways(nky_router, 400, rng)]
    board.apply(board.validate(obs, now).updates)
    pub = StatePublisher(nky_router)
    state = pub.publish(LiveState(seq=2, speeds=board.observations()), now)
    car = nky_router.modes["car"]
    w = state.weights("car")
    assert not np.array_equal(w, car.free_flow_ms)
    metric = state.metric("car")
    # plain one-to-all Dijkstra from 30 random sources, each compared on 10 random targets
    nodes = np.unique(car.arc_tail)
    src = nodes[rng.integers(0, nodes.shape[0], 30)]
    dst = nodes[rng.integers(0, nodes.shape[0], (30, 10))]
    dist = kernel_distances(car.arc_tail, np.asarray(car.arrays.arc_head), car.arc_weights(w),
                            INF_WEIGHT, car.arrays.kernel_node_count, src)
    for i, s in enumerate(src.tolist()):
        for t in dst[i].tolist():
            want = int(dist[i, t]) if np.isfinite(dist[i, t]) else None
            assert metric.distance(s, t) == want, (s, t)


def test_alternatives_are_distinct_and_bounded(nky_router, nky_state) -> None:
    lat = np.asarray(nky_router.snapshot.node_lat)
    lon = np.asarray(nky_router.snapshot.node_lon)
    rng = np.random.default_rng(4)
    with_alt = 0
    for a, b in rng.integers(0, lat.shape[0], (60, 2)).tolist():
        try:
            routes = nky_router.alternatives(nky_state, "car", lat[a], lon[a], lat[b], lon[b],
                                             3)
            best = nky_router.route(nky_state, "car", lat[a], lon[a], lat[b], lon[b])
        except RoutingError:
            continue
        assert routes[0].duration_s == pytest.approx(best.duration_s)
        assert routes[0].extra_s == 0
        assert len(routes) <= 3
        for i, r in enumerate(routes):
            assert r.duration_s <= routes[0].duration_s * ALT_MAX_STRETCH + 1e-6
            assert r.duration_s >= routes[0].duration_s - 1e-6  # the first is the best
            assert r.extra_s == pytest.approx(r.duration_s - routes[0].duration_s)
            for q in routes[:i]:
                assert _shared_share(r, q) <= ALT_MAX_SHARED + 1e-9
            assert r.duration_s == pytest.approx(r.edge_duration_s.sum(), abs=0.01)
        with_alt += len(routes) > 1
    assert with_alt >= 20


def test_diversions_avoid_the_closed_stretch(nky_router, nky_state) -> None:
    route = nky_router.route(nky_state, "car", 39.0837, -84.5086, 39.0912, -84.4960)
    closed = route.edges[len(route.edges) // 3: len(route.edges) // 3 + 3]
    out = diversions(nky_router, nky_state, closed, n_routes=2, with_edges=True)
    assert out
    for d in out:
        assert d["sign_text"].endswith("MIN)") or "NO DIVERSION" in d["sign_text"]
        for r in d["routes"]:
            assert not set(r["_edges"].tolist()) & set(closed.tolist())
            assert r["extra_s"] > -1 and r["streets_to_sign"]


def _effects(n_edges: int, rows: list[tuple[int, int, bool, float]]) -> EffectTimeline:
    """A timeline from (edge, incident index, closed, factor) rows, always in force."""
    k = len(rows)
    return EffectTimeline.from_entries(
        n_edges, np.array([r[0] for r in rows]), np.array([r[1] for r in rows]),
        np.array([r[2] for r in rows]), np.zeros(k, np.int64),
        np.array([r[3] for r in rows]), np.zeros(k, np.int64), np.zeros(k, np.int64),
        np.full(k, FOREVER_MS, np.int64))


def test_congestion_levels_and_geojson(nky_router) -> None:
    cm = CongestionMap(nky_router.snapshot)
    n = cm.free_ms.shape[0]
    ids = ("INC-7", "INC-8", "INC-9")
    info = {i: IncidentInfo(i, "slowdown", "low", windows=((0, int(FOREVER_MS)),))
            for i in ids}
    live = LiveState(seq=3, incidents=info, incident_ids=ids,
                     effects={"car": _effects(n, [(0, 0, False, 3.0), (1, 2, True, 1.0),
                                                  (2, 1, False, 1.5)])})
    pub = StatePublisher(nky_router)
    state = pub.publish(live)
    w = state.weights("car")
    assert w[1] == INF_WEIGHT and w[0] == 3 * cm.free_ms[0]
    lv = cm.levels(state)
    assert [LEVELS[x] for x in lv.level[:3].tolist()] in (["heavy", "closed", "slow"],
                                                          ["standstill", "closed", "slow"])
    assert (lv.level[3:] == 0).all()
    assert lv.delay_s[0] == pytest.approx((w[0] - cm.free_ms[0]) / 1000, rel=1e-4)
    enc = CongestionGeoJSON(cm, nky_router.snapshot.segments.names)
    fc = json.loads(enc.encode(cm.edges(state, None, min_level=1)))
    props = {f["properties"]["edge"]: f["properties"] for f in fc["features"]}
    assert set(props) == {0, 1, 2} and props[1]["causes"] == ["INC-9"]
    assert props[1]["level"] == "closed" and fc["live_version"] == state.version
    w_, s_, e_, n_ = nky_router.snapshot.bbox
    small = (w_, s_, (w_ + e_) / 2, (s_ + n_) / 2)
    part = json.loads(enc.encode(cm.edges(state, small)))
    assert 0 < len(part["features"]) < cm.edge_seg.shape[0]
    summ = cm.summary(state, None)
    assert summ["closed_edges"] == 1
    assert {c["id"] for c in summ["active_causes"]} == set(ids)
    assert summ["worst_segments"][0]["edge"] == 0


def test_live_speeds_fade_to_the_typical_speed_of_that_time(nky_router, board) -> None:
    """An ageing observation blends towards the *typical* time of the moment, not free flow."""
    from zoneinfo import ZoneInfo

    from routing.typical import TypicalSpeeds

    car = nky_router.modes["car"]
    ff = np.asarray(car.free_flow_ms, np.int64)
    n = ff.shape[0]
    e = int(np.argmax(np.asarray(car.arrays.edge_length_m)))
    dense = np.repeat(np.repeat(ff[None, None, :], 96, axis=1), 3, axis=0).copy()
    dense[:, :, e] = ff[e] * 3  # this edge is typically three times slower, all day
    obs = np.zeros(dense.shape, bool)
    obs[:, :, e] = True
    typical, _, _ = TypicalSpeeds.from_dense(ff, np.asarray(car.arrays.edge_length_m), dense,
                                             obs)
    tz = "America/New_York"
    now = datetime(2024, 5, 8, 12, 0, tzinfo=ZoneInfo(tz))
    way = int(np.asarray(nky_router.snapshot.segments.way_id)[car.edge_seg[e]])
    direction = "backward" if car.edge_rev[e] else "forward"
    speeds = SpeedBoard(nky_router.snapshot, NetworkMatcher(nky_router.snapshot))
    rep = speeds.validate([{"ref": {"way_id": way, "direction": direction}, "speed_kmh": 100,
                            "observed_at": now.isoformat()}], now)
    speeds.apply(rep.updates)
    pub = StatePublisher(nky_router, typical, tz)
    state = pub.publish(LiveState(seq=1, speeds=speeds.observations()), now)
    observed = float(speeds.obs_ms[e])
    assert state.weights("car")[e] == pytest.approx(observed, abs=1)
    mid = pub.at(state, now + timedelta(seconds=(speeds.fresh_s + speeds.max_age_s) / 2))
    assert mid.weights("car")[e] == pytest.approx(0.5 * observed + 0.5 * 3 * ff[e], abs=2)
    late = pub.at(state, now + timedelta(seconds=speeds.max_age_s + 1))
    assert late.weights("car")[e] == 3 * ff[e] and n == late.weights("car").shape[0]


def test_live_time_splits_by_source(nky_router) -> None:
    """Three stretches of one route slowed by a traffic centre, by bus probes and by an
    incident: ``eta_sources.live_sources`` splits ``live_s`` in proportion to what each
    added (each part measured on its own in a state with only that input), and the
    congestion map names each edge's speed source."""
    from incidents.speeds import SpeedUpdates
    from routing.kernels.td import NO_OBSERVATION
    from routing.live import SOURCE_BUS_PROBE, SOURCE_TRAFFIC_CENTRE, SpeedObservations

    now = datetime(2024, 5, 8, 16, 0, tzinfo=UTC)
    pub = StatePublisher(nky_router)
    free = pub.publish(LiveState(seq=1), now)
    route = nky_router.route(free, "car", 39.0837, -84.5086, 38.9836, -84.6451)
    e = route.edges[1:-1]
    k = e.shape[0] // 3
    tc, bus, inc = e[:k], e[k:2 * k], e[2 * k:]
    board = SpeedBoard(nky_router.snapshot, NetworkMatcher(nky_router.snapshot))
    t = now.timestamp()

    def batch(edges: np.ndarray, kmh: float, conf: float) -> SpeedUpdates:
        return SpeedUpdates(np.array([0, edges.shape[0]]), edges.astype(np.int64),
                            np.array([kmh]), np.array([t]), np.array([conf]))

    board.apply(batch(tc, 15.0, 1.0), SOURCE_TRAFFIC_CENTRE)
    board.apply(batch(bus, 8.0, 0.5), SOURCE_BUS_PROBE)
    obs = board.observations()
    n = obs.obs_ms.shape[0]
    ids = ("INC-1",)
    info = {"INC-1": IncidentInfo("INC-1", "slowdown", "low", windows=((0, int(FOREVER_MS)),))}
    eff = {"car": _effects(n, [(int(x), 0, False, 2.0) for x in inc.tolist()])}
    state = pub.publish(LiveState(seq=2, incidents=info, incident_ids=ids, effects=eff,
                                  speeds=obs), now)
    slowed = nky_router.route(state, "car", 39.0837, -84.5086, 38.9836, -84.6451)
    eta = nky_router.eta_sources(state, slowed)
    parts = eta.live_sources
    assert set(parts) == {"traffic_centre", "bus_probe", "incidents"}
    assert eta.live_s > 0 and sum(parts.values()) == pytest.approx(eta.live_s, abs=0.2)

    def added(live: LiveState) -> float:
        st = pub.publish(live, now)
        share = nky_router.edge_shares("car", slowed)
        d = st.weights("car")[slowed.edges] - free.weights("car")[slowed.edges]
        return float((d * share).sum()) / 1000.0

    def only(code: int) -> SpeedObservations:
        keep = obs.source_codes() == code
        return SpeedObservations(obs.obs_ms, np.where(keep, obs.obs_at_ms, NO_OBSERVATION),
                                 obs.confidence, obs.fresh_ms, obs.max_age_ms,
                                 obs.version + code + 1, obs.source)

    want = {"traffic_centre": added(LiveState(seq=3, speeds=only(SOURCE_TRAFFIC_CENTRE))),
            "bus_probe": added(LiveState(seq=4, speeds=only(SOURCE_BUS_PROBE))),
            "incidents": added(LiveState(seq=5, incidents=info, incident_ids=ids,
                                         effects=eff))}
    total = sum(want.values())
    assert all(v > 0 for v in want.values()), want  # the route still meets all three
    for name, v in want.items():
        assert parts[name] == pytest.approx(eta.live_s * v / total, abs=0.2), (name, parts)
    cm = CongestionMap(nky_router.snapshot)
    sel = cm.edges(state, None)
    src = dict(zip(sel.edge.tolist(), (sel.source_name(i) for i in range(sel.edge.shape[0])),
                   strict=True))
    assert {src[int(x)] for x in tc} == {"traffic_centre"}
    assert {src[int(x)] for x in bus} == {"bus_probe"}
    assert {src[int(x)] for x in inc} == {None}
    summ = cm.summary(state, None)
    assert summ["live_speed_edges_by_source"] == {"traffic_centre": len(set(tc.tolist())),
                                                  "bus_probe": len(set(bus.tolist()))}
