"""Hand-drawn networks pin the rules: oneway, access, turn restrictions, barriers, snapping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from routing.build import build_snapshot
from routing.road import NoRouteError, RoadRouter, SnapError
from routing.snapshot import load_snapshot
from tests.routing.osmxml import GRID, StatefulRouter, grid_ways, mid, write_osm


def _router(tmp_path: Path, ways, relations=(), node_tags=None) -> StatefulRouter:
    osm = write_osm(tmp_path / "net.osm", ways, list(relations), node_tags)
    out = tmp_path / "snap"
    build_snapshot(osm, out)
    return StatefulRouter(RoadRouter(load_snapshot(out)))


def _nodes(router: StatefulRouter, route) -> list[int]:
    """OSM ids of the junctions the route passes, in order (excluding partial ends)."""
    a = router.modes[route.mode]
    osm_ids = np.asarray(router.snapshot.node_osm_id)
    edges = route.edges[route.edge_travelled_m > 0.5]  # ignore zero-length end pieces
    heads = np.asarray(a.arrays.edge_head)[edges[:-1]]
    return [int(osm_ids[h]) for h in heads]


def _ways(router: StatefulRouter, route) -> set[int]:
    seg = router.modes[route.mode].edge_seg[route.edges[route.edge_travelled_m > 0.5]]
    return set(np.asarray(router.snapshot.segments.way_id)[seg].tolist())


def test_oneway_forces_car_around_but_not_walkers(tmp_path: Path) -> None:
    # Street 1-2 (way 101) is oneway eastbound.
    r = _router(tmp_path, grid_ways({101: {"oneway": "yes"}}))
    east = r.route(*mid(1, 2), *GRID[2], mode="car")  # with the flow: direct
    assert _nodes(r, east) == []
    assert east.distance_m == pytest.approx(55, abs=3)
    west = r.route(*mid(1, 2), *GRID[1], mode="car")  # against the flow
    assert 2 in _nodes(r, west) and 5 in _nodes(r, west)  # around the block
    assert west.distance_m > 300
    walk = r.route(*mid(1, 2), *GRID[1], mode="walk")
    assert walk.distance_m == pytest.approx(55, abs=3)


def test_oneway_minus_one_and_bicycle_contraflow(tmp_path: Path) -> None:
    r = _router(tmp_path, grid_ways({101: {"oneway": "-1"},
                                     102: {"oneway": "yes", "oneway:bicycle": "no"}}))
    assert r.route(*mid(1, 2), *GRID[1], mode="car").distance_m == pytest.approx(55, abs=3)
    assert r.route(*mid(1, 2), *GRID[2], mode="car").distance_m > 300
    # 2-3 oneway eastbound for cars, both ways for bikes
    assert r.route(*mid(2, 3), *GRID[2], mode="car").distance_m > 300
    assert r.route(*mid(2, 3), *GRID[2], mode="bike").distance_m == pytest.approx(55, abs=3)


def test_private_access_and_foot_no(tmp_path: Path) -> None:
    # 4-5 (way 103) access=private: nobody routes through it; 5-6 (way 104) foot=no.
    r = _router(tmp_path, grid_ways({103: {"access": "private"}, 104: {"foot": "no"}}))
    car = r.route(*GRID[4], *GRID[6], mode="car")
    assert 103 not in _ways(r, car)
    assert car.distance_m == pytest.approx(440, abs=15)
    walk = r.route(*GRID[5], *GRID[6], mode="walk")
    assert 104 not in _ways(r, walk)
    assert walk.distance_m == pytest.approx(330, abs=15)
    bike = r.route(*GRID[5], *GRID[6], mode="bike")
    assert 104 in _ways(r, bike)  # foot=no does not concern bikes


def test_no_left_turn_restriction(tmp_path: Path) -> None:
    # Eastbound on 4-5 (way 103), left onto 5-2 (way 109) is forbidden at node 5.
    rel = (1, [("way", 103, "from"), ("node", 5, "via"), ("way", 109, "to")],
           {"type": "restriction", "restriction": "no_left_turn"})
    free = _router(tmp_path / "a", grid_ways())
    restricted = _router(tmp_path / "b", grid_ways(), [rel])
    direct = free.route(*mid(4, 5), *mid(2, 5), mode="car")
    assert _nodes(free, direct) == [5]
    around = restricted.route(*mid(4, 5), *mid(2, 5), mode="car")
    nodes = _nodes(restricted, around)
    assert nodes[:2] != [5, 2]  # does not turn left at 5 (with car U-turns only at dead
    # ends it may as well set off westwards round the block)
    assert around.duration_s > direct.duration_s
    # Walking ignores turn restrictions.
    assert _nodes(restricted, restricted.route(*mid(4, 5), *mid(2, 5), mode="walk")) == [5]
    # Other turns at 5 stay allowed.
    assert _nodes(restricted, restricted.route(*mid(4, 5), *mid(5, 8), mode="car")) == [5]


def test_only_straight_on_restriction(tmp_path: Path) -> None:
    rel = (1, [("way", 103, "from"), ("node", 5, "via"), ("way", 104, "to")],
           {"type": "restriction", "restriction": "only_straight_on"})
    r = _router(tmp_path, grid_ways(), [rel])
    straight = r.route(*mid(4, 5), *mid(5, 6), mode="car")
    assert _nodes(r, straight) == [5]
    for target in (mid(2, 5), mid(5, 8)):
        nodes = _nodes(r, r.route(*mid(4, 5), *target, mode="car"))
        assert nodes[0] != 5 or nodes[1] == 6  # through 5 only straight on, then around
    # except=motorcar exempts cars
    rel_exc = (2, rel[1], {**rel[2], "except": "motorcar"})
    r2 = _router(tmp_path / "exc", grid_ways(), [rel_exc])
    assert _nodes(r2, r2.route(*mid(4, 5), *mid(2, 5), mode="car")) == [5]


def test_bollard_blocks_cars_only(tmp_path: Path) -> None:
    r = _router(tmp_path, grid_ways(), node_tags={5: {"barrier": "bollard"}})
    car = r.route(*mid(4, 5), *mid(5, 6), mode="car")
    assert 5 not in _nodes(r, car)
    assert car.distance_m > 300
    walk = r.route(*mid(4, 5), *mid(5, 6), mode="walk")
    assert _nodes(r, walk) == [5]


def test_snap_projects_onto_the_edge_and_limits_distance(tmp_path: Path) -> None:
    r = _router(tmp_path, grid_ways())
    lat, lon = mid(4, 5, north_m=30)
    ep = r.snap("car", lat, lon)
    assert ep.snap.distance_m == pytest.approx(30, abs=1.5)
    assert ep.snap.lat == pytest.approx(GRID[4][0], abs=1e-6)  # projected, not a node
    assert ep.snap.lon == pytest.approx(lon, abs=1e-6)
    assert {e for e, _ in ep.edges}  # both directions offered
    assert len(ep.edges) == 2
    with pytest.raises(SnapError) as exc:
        r.route(lat + 0.05, lon, *GRID[9], mode="car")
    assert "from" in str(exc.value) and "car" in str(exc.value)


def test_same_edge_routes_and_u_turn_free_answers(tmp_path: Path) -> None:
    r = _router(tmp_path, grid_ways())
    (la, lo), (_, lob) = GRID[4], GRID[5]
    a = (la, lo + 0.25 * (lob - lo))
    b = (la, lo + 0.75 * (lob - lo))
    fwd = r.route(*a, *b, mode="car")
    assert fwd.distance_m == pytest.approx(55, abs=2)
    assert len(fwd.edges) == 1
    back = r.route(*b, *a, mode="car")
    assert back.distance_m == pytest.approx(55, abs=2)
    assert fwd.steps[0].type == "depart" and fwd.steps[-1].type == "arrive"


def test_closed_edges_reroute_and_report_no_route(tmp_path: Path) -> None:
    from routing.graph import INF_WEIGHT

    r = _router(tmp_path, grid_ways())
    before = r.route(*GRID[4], *GRID[6], mode="car")
    assert _nodes(r, before) == [5]
    car = r.modes["car"]
    w = car.free_flow_ms.copy()
    seg_way = np.asarray(r.snapshot.segments.way_id)[car.edge_seg]
    w[seg_way == 104] = INF_WEIGHT  # close 5-6 both ways
    closed = r.publisher.custom({"car": w})
    after = r.route(*GRID[4], *GRID[6], mode="car", state=closed)
    assert after.duration_s > before.duration_s
    assert 104 not in set(seg_way[after.edges].tolist())
    w_all = np.full_like(w, INF_WEIGHT)
    with pytest.raises((NoRouteError, SnapError)):
        r.route(*GRID[4], *GRID[6], mode="car", state=r.publisher.custom({"car": w_all}))
