"""Profiles tag by tag on drawn networks: every case checks both directions and every mode.

The test network is a street ``a-b-c-d`` whose middle piece ``b…c`` carries the tags under
test, with a bypass ``b-e-f-c`` of plain residential streets (and footways for walkers)::

    a - b-x-c - d          (one character = 20 m: b…c is 80 m, the bypass 320 m, so a
        |   |              bike pushed along b…c at 5 km/h still beats riding round)
        |   |
        |   |
        |   |
        |   |
        e---f

A route a→d (forward along the tagged way) or d→a (backward) uses the tagged way when the
mode may pass it, the bypass when not, and the tagged way is entered only to start or end
there when it is destination-only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from routing.profiles import FLAG_PUSHED, VehicleDims
from tests.routing.gridnet import GridNet

MODES = ("car", "bike", "walk", "bus", "truck")
DRAWING = """
    a - b-x-c - d
        |   |
        |   |
        |   |
        |   |
        |   |
        e---f
"""
TESTED = "bxc"
Y, N, D = "yes", "no", "dest"  # passes / never uses it / only to start or end there


def _net(tmp_path: Path, tags: Mapping[str, str], nodes: Mapping[str, Mapping[str, str]]
         | None = None, highway: str = "residential") -> GridNet:
    ways = {"ab": {"highway": "residential"}, "cd": {"highway": "residential"},
            TESTED: {"highway": highway, **tags}, "be": {"highway": "residential"},
            "ef": {"highway": "residential"}, "fc": {"highway": "residential"}}
    return GridNet(DRAWING, ways, nodes=nodes, tmp_path=tmp_path)


def _uses(net: GridNet, frm: str, to: str, mode: str, **kw) -> bool | None:
    r = net.route(frm, to, mode, **kw)
    return None if r is None else TESTED in r.ways


def _check(net: GridNet, mode: str, fwd: str, bwd: str | None = None) -> None:
    """Assert the outcome forward (a→d) and backward (d→a)."""
    bwd = fwd if bwd is None else bwd
    for frm, to, want in (("a", "d", fwd), ("d", "a", bwd)):
        used = _uses(net, frm, to, mode)
        assert used is not None, (mode, frm, to, "no route at all")
        assert used == (want == Y), (mode, frm, to, want)
        if want == D:  # starting or ending on it works, in the direction allowed
            start, end = ("bx", to) if frm == "a" else ("xc", to)
            got = net.route(start, end, mode)
            assert got is not None and got.ways[0] == TESTED, (mode, start, end)
            got = net.route(frm, "bx" if frm == "a" else "xc", mode)
            assert got is not None and got.ways[-1] == TESTED, (mode, frm)


ACCESS_CASES: list[tuple[dict[str, str], dict[str, str]]] = [
    # tags on b…c                         car bike walk bus truck
    ({}, dict(car=Y, bike=Y, walk=Y, bus=Y, truck=Y)),
    ({"access": "psv"}, dict(car=N, bike=N, walk=N, bus=Y, truck=N)),
    ({"access": "bus"}, dict(car=N, bike=N, walk=N, bus=Y, truck=N)),
    ({"access": "minibus"}, dict(car=N, bike=N, walk=N, bus=Y, truck=N)),
    ({"access": "taxi"}, dict(car=N, bike=N, walk=N, bus=N, truck=N)),
    ({"access": "share_taxi"}, dict(car=N, bike=N, walk=N, bus=N, truck=N)),
    ({"access": "hov"}, dict(car=N, bike=N, walk=N, bus=Y, truck=N)),
    ({"motorcar": "psv"}, dict(car=N, bike=Y, walk=Y, bus=Y, truck=Y)),
    ({"motor_vehicle": "psv"}, dict(car=N, bike=Y, walk=Y, bus=Y, truck=N)),
    ({"access": "no", "bus": "yes"}, dict(car=N, bike=N, walk=N, bus=Y, truck=N)),
    ({"access": "no", "psv": "designated"}, dict(car=N, bike=N, walk=N, bus=Y, truck=N)),
    ({"access": "no", "foot": "yes"}, dict(car=N, bike=Y, walk=Y, bus=N, truck=N)),
    ({"access": "no", "bicycle": "yes"}, dict(car=N, bike=Y, walk=N, bus=N, truck=N)),
    ({"access": "no", "motorcar": "yes"}, dict(car=Y, bike=N, walk=N, bus=N, truck=N)),
    ({"access": "no", "hgv": "yes"}, dict(car=N, bike=N, walk=N, bus=N, truck=Y)),
    ({"vehicle": "no"}, dict(car=N, bike=Y, walk=Y, bus=N, truck=N)),  # bike pushed
    ({"motor_vehicle": "no"}, dict(car=N, bike=Y, walk=Y, bus=N, truck=N)),
    ({"motor_vehicle": "no", "psv": "yes"}, dict(car=N, bike=Y, walk=Y, bus=Y, truck=N)),
    ({"motor_vehicle": "no", "motorcar": "yes"}, dict(car=Y, bike=Y, walk=Y, bus=N, truck=N)),
    ({"hgv": "no"}, dict(car=Y, bike=Y, walk=Y, bus=Y, truck=N)),
    ({"bicycle": "no"}, dict(car=Y, bike=N, walk=Y, bus=Y, truck=Y)),
    ({"bicycle": "use_sidepath"}, dict(car=Y, bike=N, walk=Y, bus=Y, truck=Y)),
    ({"foot": "no"}, dict(car=Y, bike=Y, walk=N, bus=Y, truck=Y)),
    ({"access": "agricultural"}, dict(car=N, bike=N, walk=N, bus=N, truck=N)),
    ({"access": "forestry"}, dict(car=N, bike=N, walk=N, bus=N, truck=N)),
    ({"access": "emergency"}, dict(car=N, bike=N, walk=N, bus=N, truck=N)),
    ({"access": "no"}, dict(car=N, bike=N, walk=N, bus=N, truck=N)),
    ({"access": "yes"}, dict(car=Y, bike=Y, walk=Y, bus=Y, truck=Y)),
    ({"access": "designated"}, dict(car=Y, bike=Y, walk=Y, bus=Y, truck=Y)),
    ({"access": "permissive"}, dict(car=Y, bike=Y, walk=Y, bus=Y, truck=Y)),
    ({"access": "official"}, dict(car=Y, bike=Y, walk=Y, bus=Y, truck=Y)),
    ({"access": "destination"}, dict(car=D, bike=D, walk=Y, bus=D, truck=D)),
    ({"access": "customers"}, dict(car=D, bike=D, walk=Y, bus=D, truck=D)),
    ({"access": "delivery"}, dict(car=D, bike=D, walk=N, bus=D, truck=D)),
    ({"access": "private"}, dict(car=D, bike=D, walk=N, bus=D, truck=D)),
    ({"access": "permit"}, dict(car=D, bike=D, walk=N, bus=D, truck=D)),
    ({"motor_vehicle": "destination"}, dict(car=D, bike=Y, walk=Y, bus=D, truck=D)),
    ({"access": "private", "foot": "yes"}, dict(car=D, bike=D, walk=Y, bus=D, truck=D)),
    ({"access": "destination", "bus": "yes"}, dict(car=D, bike=D, walk=Y, bus=Y, truck=D)),
    ({"hgv": "delivery"}, dict(car=Y, bike=Y, walk=Y, bus=Y, truck=D)),
    ({"access": "unknown_value_xyz"}, dict(car=Y, bike=Y, walk=Y, bus=Y, truck=Y)),
]


@pytest.mark.parametrize("tags,want", ACCESS_CASES,
                         ids=[",".join(f"{k}={v}" for k, v in t.items()) or "plain"
                              for t, _ in ACCESS_CASES])
def test_access_values_per_mode(tmp_path: Path, tags: dict[str, str],
                                want: dict[str, str]) -> None:
    net = _net(tmp_path, tags)
    for mode in MODES:
        _check(net, mode, want[mode])


DIRECTIONAL_CASES: list[tuple[dict[str, str], dict[str, tuple[str, str]]]] = [
    ({"access:forward": "no"}, dict(car=(N, Y), bike=(N, Y), walk=(N, Y), bus=(N, Y),
                                    truck=(N, Y))),
    ({"vehicle:backward": "no"}, dict(car=(Y, N), bike=(Y, Y), walk=(Y, Y), bus=(Y, N),
                                      truck=(Y, N))),  # bike pushed backward
    ({"motor_vehicle:forward": "no"}, dict(car=(N, Y), bike=(Y, Y), walk=(Y, Y), bus=(N, Y),
                                           truck=(N, Y))),
    ({"motor_vehicle:forward": "no", "bus:forward": "yes"},
     dict(car=(N, Y), bike=(Y, Y), walk=(Y, Y), bus=(Y, Y), truck=(N, Y))),
    ({"bicycle:backward": "no"}, dict(car=(Y, Y), bike=(Y, N), walk=(Y, Y), bus=(Y, Y),
                                      truck=(Y, Y))),
    ({"foot:forward": "no"}, dict(car=(Y, Y), bike=(Y, Y), walk=(N, Y), bus=(Y, Y),
                                  truck=(Y, Y))),
    ({"hgv:backward": "no"}, dict(car=(Y, Y), bike=(Y, Y), walk=(Y, Y), bus=(Y, Y),
                                  truck=(Y, N))),
    ({"psv:forward": "no"}, dict(car=(Y, Y), bike=(Y, Y), walk=(Y, Y), bus=(N, Y),
                                 truck=(Y, Y))),
    ({"access": "no", "access:backward": "yes"},
     dict(car=(N, Y), bike=(N, Y), walk=(N, Y), bus=(N, Y), truck=(N, Y))),
    ({"motor_vehicle:backward": "destination"},
     dict(car=(Y, D), bike=(Y, Y), walk=(Y, Y), bus=(Y, D), truck=(Y, D))),
]


@pytest.mark.parametrize("tags,want", DIRECTIONAL_CASES,
                         ids=[",".join(f"{k}={v}" for k, v in t.items())
                              for t, _ in DIRECTIONAL_CASES])
def test_directional_access_for_every_mode(tmp_path: Path, tags: dict[str, str],
                                           want: dict[str, tuple[str, str]]) -> None:
    net = _net(tmp_path, tags)
    for mode in MODES:
        _check(net, mode, *want[mode])


ONEWAY_CASES: list[tuple[dict[str, str], dict[str, tuple[str, str]]]] = [
    ({"oneway": "yes"}, dict(car=(Y, N), bike=(Y, Y), walk=(Y, Y), bus=(Y, N), truck=(Y, N))),
    ({"oneway": "-1"}, dict(car=(N, Y), bike=(Y, Y), walk=(Y, Y), bus=(N, Y), truck=(N, Y))),
    ({"oneway": "alternating"}, dict(car=(Y, Y), bike=(Y, Y), walk=(Y, Y), bus=(Y, Y),
                                     truck=(Y, Y))),
    ({"oneway": "reversible"}, dict(car=(N, N), bike=(Y, Y), walk=(Y, Y), bus=(N, N),
                                    truck=(N, N))),  # bike pushed both ways
    ({"oneway": "yes", "oneway:bicycle": "no"},
     dict(car=(Y, N), bike=(Y, Y), walk=(Y, Y), bus=(Y, N), truck=(Y, N))),
    ({"oneway": "yes", "cycleway": "opposite_lane"},
     dict(car=(Y, N), bike=(Y, Y), walk=(Y, Y), bus=(Y, N), truck=(Y, N))),
    ({"oneway": "yes", "cycleway:left": "opposite_track"},
     dict(car=(Y, N), bike=(Y, Y), walk=(Y, Y), bus=(Y, N), truck=(Y, N))),
    ({"oneway": "yes", "oneway:bus": "no"},
     dict(car=(Y, N), bike=(Y, Y), walk=(Y, Y), bus=(Y, Y), truck=(Y, N))),
    ({"oneway": "yes", "busway:left": "opposite_lane"},
     dict(car=(Y, N), bike=(Y, Y), walk=(Y, Y), bus=(Y, Y), truck=(Y, N))),
    ({"oneway": "yes", "oneway:psv": "no"},
     dict(car=(Y, N), bike=(Y, Y), walk=(Y, Y), bus=(Y, Y), truck=(Y, N))),
    ({"oneway": "yes", "bicycle": "no"},
     dict(car=(Y, N), bike=(N, N), walk=(Y, Y), bus=(Y, N), truck=(Y, N))),
    ({"oneway": "yes", "oneway:foot": "yes"},
     dict(car=(Y, N), bike=(Y, N), walk=(Y, N), bus=(Y, N), truck=(Y, N))),
    ({"junction": "roundabout"}, dict(car=(Y, N), bike=(Y, Y), walk=(Y, Y), bus=(Y, N),
                                      truck=(Y, N))),
]


@pytest.mark.parametrize("tags,want", ONEWAY_CASES,
                         ids=[",".join(f"{k}={v}" for k, v in t.items()) for t, _ in ONEWAY_CASES])
def test_oneways_and_contraflow(tmp_path: Path, tags: dict[str, str],
                                want: dict[str, tuple[str, str]]) -> None:
    net = _net(tmp_path, tags)
    for mode in MODES:
        _check(net, mode, *want[mode])


def test_bike_pushed_against_oneway_at_walking_pace(tmp_path: Path) -> None:
    net = _net(tmp_path, {"oneway": "yes"})
    ride = net.route("bx", "c", "bike")
    push = net.route("xc", "b", "bike")
    assert ride is not None and push is not None
    assert ride.ways == [TESTED] and push.ways == [TESTED]
    mr = net.router.modes["bike"]
    assert not (mr.edge_flags[ride.route.edges] & FLAG_PUSHED).any()
    assert (mr.edge_flags[push.route.edges] & FLAG_PUSHED).all()
    assert push.route.steps[0].pushed and not ride.route.steps[0].pushed
    assert push.route.steps[0].instruction.endswith("and push your bike")
    assert push.route.steps[0].instruction_for("zh-CN").endswith("推着自行车步行")
    assert push.route.steps[0].to_dict()["pushed"] is True
    assert "pushed" not in ride.route.steps[0].to_dict()
    # 60 m (from the middle of b-x or x-c) at 5 km/h against 60 m at 15 km/h
    assert push.duration_s == pytest.approx(60 / (5 / 3.6), rel=0.05)
    assert ride.duration_s == pytest.approx(60 / (15 / 3.6), rel=0.05)


def test_push_steps_start_and_end_where_pushing_does(tmp_path: Path) -> None:
    """Ride a-b, push along the footway b…c, ride c-d: three steps before arriving."""
    net = _net(tmp_path, {"name": "Park Path"}, highway="footway")
    r = net.route("a", "d", "bike")
    assert r is not None and r.ways == ["ab", TESTED, "cd"]
    steps = r.route.steps
    assert [s.pushed for s in steps] == [False, True, False, False]
    assert "push your bike" in steps[1].instruction and "Park Path" in steps[1].instruction
    assert "push" not in steps[2].instruction


def test_bike_pushed_up_steps_slowly(tmp_path: Path) -> None:
    net = _net(tmp_path, {}, highway="steps")
    r = net.route("bx", "c", "bike")
    assert r is not None and r.ways == [TESTED]
    assert r.duration_s == pytest.approx(60 / (2 / 3.6), rel=0.05)  # 2 km/h
    assert (net.router.modes["bike"].edge_flags[r.route.edges] & FLAG_PUSHED).all()
    _check(net, "bike", N)  # riding round (320 m at 15 km/h) beats 80 m of steps


CLOSED_TAGS = [{"smoothness": "impassable"}, {"impassable": "yes"}, {"status": "impassable"}]


@pytest.mark.parametrize("tags", CLOSED_TAGS, ids=[next(iter(t)) for t in CLOSED_TAGS])
def test_impassable_ways_are_closed_to_everyone(tmp_path: Path, tags: dict[str, str]) -> None:
    net = _net(tmp_path, tags)
    for mode in MODES:
        _check(net, mode, N)


@pytest.mark.parametrize("highway", ["construction", "proposed", "disused"])
def test_unbuilt_or_disused_highways_are_not_roads(tmp_path: Path, highway: str) -> None:
    net = _net(tmp_path, {}, highway=highway)
    for mode in MODES:
        _check(net, mode, N)


HIGHWAY_CASES: list[tuple[str, dict[str, str], dict[str, str]]] = [
    ("motorway", {"oneway": "no"}, dict(car=Y, bike=N, walk=N, bus=Y, truck=Y)),
    ("motorway", {"oneway": "no", "foot": "yes", "bicycle": "yes"},
     dict(car=Y, bike=Y, walk=Y, bus=Y, truck=Y)),
    ("trunk", {"sidewalk": "no"}, dict(car=Y, bike=Y, walk=N, bus=Y, truck=Y)),
    ("trunk", {"sidewalk": "no", "foot": "yes"}, dict(car=Y, bike=Y, walk=Y, bus=Y, truck=Y)),
    ("primary", {"motorroad": "yes"}, dict(car=Y, bike=N, walk=N, bus=Y, truck=Y)),
    ("primary", {"motorroad": "yes", "sidewalk": "both"},
     dict(car=Y, bike=Y, walk=Y, bus=Y, truck=Y)),  # bike pushed on the sidewalk
    ("footway", {}, dict(car=N, bike=Y, walk=Y, bus=N, truck=N)),  # pushed
    ("footway", {"bicycle": "yes"}, dict(car=N, bike=Y, walk=Y, bus=N, truck=N)),
    ("footway", {"bicycle": "no"}, dict(car=N, bike=N, walk=Y, bus=N, truck=N)),
    ("pedestrian", {}, dict(car=N, bike=Y, walk=Y, bus=N, truck=N)),
    ("cycleway", {}, dict(car=N, bike=Y, walk=Y, bus=N, truck=N)),
    ("cycleway", {"foot": "no"}, dict(car=N, bike=Y, walk=N, bus=N, truck=N)),
    ("busway", {}, dict(car=N, bike=N, walk=N, bus=Y, truck=N)),
    ("track", {}, dict(car=N, bike=Y, walk=Y, bus=N, truck=N)),
    ("track", {"motor_vehicle": "yes"}, dict(car=Y, bike=Y, walk=Y, bus=Y, truck=Y)),
    ("service", {"service": "emergency_access"}, dict(car=N, bike=Y, walk=Y, bus=N, truck=N)),
    ("steps", {}, dict(car=N, bike=N, walk=Y, bus=N, truck=N)),  # bike: see below
]


@pytest.mark.parametrize("highway,tags,want", HIGHWAY_CASES,
                         ids=[h + "," + ",".join(f"{k}={v}" for k, v in t.items())
                              for h, t, _ in HIGHWAY_CASES])
def test_highway_classes_and_explicit_openings(tmp_path: Path, highway: str,
                                               tags: dict[str, str],
                                               want: dict[str, str]) -> None:
    net = _net(tmp_path, tags, highway=highway)
    for mode in MODES:
        _check(net, mode, want[mode])


NODE_CASES: list[tuple[dict[str, str], dict[str, str]]] = [
    ({"barrier": "gate"}, dict(car=Y, bike=Y, walk=Y, bus=Y, truck=Y)),
    ({"barrier": "gate", "access": "no"}, dict(car=N, bike=N, walk=N, bus=N, truck=N)),
    ({"barrier": "gate", "access": "no", "foot": "yes"},
     dict(car=N, bike=N, walk=Y, bus=N, truck=N)),
    ({"barrier": "gate", "access": "private"}, dict(car=D, bike=D, walk=N, bus=D, truck=D)),
    ({"barrier": "lift_gate"}, dict(car=Y, bike=Y, walk=Y, bus=Y, truck=Y)),
    ({"barrier": "bollard"}, dict(car=N, bike=Y, walk=Y, bus=N, truck=N)),
    ({"barrier": "bollard", "motor_vehicle": "yes"}, dict(car=Y, bike=Y, walk=Y, bus=Y,
                                                         truck=Y)),
    ({"barrier": "bus_trap"}, dict(car=N, bike=Y, walk=Y, bus=Y, truck=N)),
    ({"barrier": "cycle_barrier"}, dict(car=N, bike=Y, walk=Y, bus=N, truck=N)),
    ({"barrier": "stile"}, dict(car=N, bike=N, walk=Y, bus=N, truck=N)),
    ({"barrier": "kissing_gate"}, dict(car=N, bike=N, walk=Y, bus=N, truck=N)),
    ({"barrier": "wall"}, dict(car=N, bike=N, walk=N, bus=N, truck=N)),
    ({"barrier": "fence", "foot": "yes"}, dict(car=N, bike=N, walk=Y, bus=N, truck=N)),
    ({"barrier": "kerb"}, dict(car=Y, bike=Y, walk=Y, bus=Y, truck=Y)),
    ({"barrier": "something_unmapped"}, dict(car=N, bike=Y, walk=Y, bus=N, truck=N)),
    ({"barrier": "height_restrictor", "maxheight": "3.0"},
     dict(car=Y, bike=Y, walk=Y, bus=N, truck=N)),
    ({"access": "no"}, dict(car=N, bike=N, walk=N, bus=N, truck=N)),  # no barrier tag
    ({"foot": "no"}, dict(car=Y, bike=Y, walk=N, bus=Y, truck=Y)),
    ({"motor_vehicle": "no"}, dict(car=N, bike=Y, walk=Y, bus=N, truck=N)),
]


@pytest.mark.parametrize("tags,want", NODE_CASES,
                         ids=[",".join(f"{k}={v}" for k, v in t.items()) for t, _ in NODE_CASES])
def test_barriers_and_node_access(tmp_path: Path, tags: dict[str, str],
                                  want: dict[str, str]) -> None:
    """Node ``x`` in the middle of b…c carries the tags."""
    net = _net(tmp_path, {}, nodes={"x": tags})
    for mode in MODES:
        fwd = _uses(net, "a", "d", mode)
        bwd = _uses(net, "d", "a", mode)
        assert fwd is not None and bwd is not None, mode
        assert fwd == bwd == (want[mode] == Y), (mode, want[mode])
        if want[mode] == D:  # start or end beside the gate, through it
            assert _uses(net, "bx", "d", mode) is True or _uses(net, "xc", "a", mode), mode


def test_height_restrictor_checks_the_trucks_height(tmp_path: Path) -> None:
    net = _net(tmp_path, {}, nodes={"x": {"barrier": "height_restrictor",
                                          "maxheight": "3.0"}})
    low = VehicleDims(2.8, 2.5, 7.5, 8.0)
    assert _uses(net, "a", "d", "truck", vehicle=low) is True
    assert _uses(net, "a", "d", "truck") is False  # default truck, 4 m high


DIMENSION_CASES = [
    ({"maxheight": "3.5"}, VehicleDims(3.4, 2.5, 10, 10), VehicleDims(3.6, 2.5, 10, 10)),
    ({"maxheight": "12'6\""}, VehicleDims(3.7, 2.5, 10, 10), VehicleDims(3.9, 2.5, 10, 10)),
    ({"maxwidth": "2.2"}, VehicleDims(3.0, 2.1, 10, 10), VehicleDims(3.0, 2.3, 10, 10)),
    ({"maxweight": "7.5"}, VehicleDims(3.0, 2.5, 7.0, 10), VehicleDims(3.0, 2.5, 12.0, 10)),
    ({"maxweight": "3500 kg"}, VehicleDims(3.0, 2.5, 3.0, 8), VehicleDims(3.0, 2.5, 3.6, 8)),
    ({"maxlength": "10"}, VehicleDims(3.0, 2.5, 7.0, 9), VehicleDims(3.0, 2.5, 7.0, 11)),
]


@pytest.mark.parametrize("tags,fits,too_big", DIMENSION_CASES,
                         ids=[next(iter(t)) + "=" + next(iter(t.values()))
                              for t, _, _ in DIMENSION_CASES])
def test_truck_dimensions_against_limits(tmp_path: Path, tags: dict[str, str],
                                         fits: VehicleDims, too_big: VehicleDims) -> None:
    net = _net(tmp_path, tags)
    for frm, to in (("a", "d"), ("d", "a")):
        assert _uses(net, frm, to, "truck", vehicle=fits) is True
        assert _uses(net, frm, to, "truck", vehicle=too_big) is False
        assert _uses(net, frm, to, "car") is True  # cars are not checked


def test_bus_dimensions_are_those_of_a_standard_bus(tmp_path: Path) -> None:
    low = _net(tmp_path / "a", {"maxheight": "3.0"})
    _check(low, "bus", N)
    _check(low, "car", Y)
    high = _net(tmp_path / "b", {"maxheight": "3.4"})
    _check(high, "bus", Y)


def test_destination_only_is_used_when_nothing_else_connects(tmp_path: Path) -> None:
    """The penalty keeps through traffic out where there is another way; where there is
    none the route goes through, and the reported time leaves the penalty out."""
    net = GridNet("""
        a - b - c - d
    """, {"ab": {"highway": "residential"}, "bc": {"highway": "residential",
                                                   "access": "destination"},
          "cd": {"highway": "residential"}}, tmp_path=tmp_path)
    r = net.route("a", "d", "car")
    assert r is not None and r.ways == ["ab", "bc", "cd"]
    assert r.duration_s < 60  # 120 m at 25 km/h, not an hour more
    assert r.route.weight_ms - r.duration_s * 1000 == pytest.approx(3_600_000, abs=2)


def test_destination_only_start_inside_and_leave(tmp_path: Path) -> None:
    """A trip may start deep inside a private estate and drive out through it."""
    net = GridNet("""
        a - b - c
            |
            d - e
    """, {"abc": {"highway": "residential"},
          "bde": {"highway": "service", "access": "private"}}, tmp_path=tmp_path)
    out = net.route("e", "a", "car")
    assert out is not None and out.ways == ["bde", "abc"]
    assert out.route.weight_ms == pytest.approx(out.duration_s * 1000, abs=2)  # no penalty
    into = net.route("a", "e", "car")
    assert into is not None and into.ways == ["abc", "bde"]
    assert into.route.weight_ms - into.duration_s * 1000 == pytest.approx(3_600_000, abs=2)


def test_ferry_with_duration_for_the_modes_it_carries(tmp_path: Path) -> None:
    net = GridNet("""
        a - b           c - d
    """, {"ab": {"highway": "residential"}, "cd": {"highway": "residential"},
          "bc": {"route": "ferry", "duration": "00:20"}}, tmp_path=tmp_path)
    for mode in ("walk", "bike"):
        for frm, to in (("a", "d"), ("d", "a")):
            r = net.route(frm, to, mode)
            assert r is not None and "bc" in r.ways, mode
            assert r.duration_s == pytest.approx(20 * 60 + 160 / (5 if mode == "walk" else 15)
                                                 * 3.6, rel=0.02)
    for mode in ("car", "bus", "truck"):
        assert net.route("a", "d", mode) is None, mode
    cars = GridNet("""
        a - b           c - d
    """, {"ab": {"highway": "residential"}, "cd": {"highway": "residential"},
          "bc": {"route": "ferry", "duration": "PT45M", "motor_vehicle": "yes"}},
        tmp_path=tmp_path / "cars")
    r = cars.route("d", "a", "car")
    assert r is not None and "bc" in r.ways and r.duration_s > 45 * 60
    assert cars.stats("car")["ferry_edges"] == 2


# ---- turn restrictions ----------------------------------------------------------------
RESTRICTION_DRAWING = """
    a - b - c - d
        |   |   |
        |   f   |
        |   |   |
        e - g - h
"""
RESTRICTION_WAYS = {w: {"highway": "residential"}
                    for w in ("ab", "bc", "cd", "be", "cf", "fg", "eg", "gh", "dh")}
VEHICLES = ("car", "bike", "bus", "truck")


def _rnet(tmp_path: Path, *relations: dict, ways: Mapping[str, Mapping[str, str]] | None = None
          ) -> GridNet:
    return GridNet(RESTRICTION_DRAWING, ways or RESTRICTION_WAYS, relations=relations,
                   tmp_path=tmp_path)


def _drives(net: GridNet, frm: str, to: str, mode: str, *seq: str) -> bool:
    """True when the route drives the ways ``seq`` one after the other."""
    r = net.route(frm, to, mode)
    assert r is not None, (frm, to, mode)
    k = len(seq)
    return any(tuple(r.ways[i:i + k]) == seq for i in range(len(r.ways) - k + 1))


def test_no_straight_on_via_a_way(tmp_path: Path) -> None:
    net = _rnet(tmp_path, {"from": "ab", "via": ["bc"], "to": "cd",
                           "restriction": "no_straight_on"})
    free = _rnet(tmp_path / "free")
    for mode in VEHICLES:
        assert _drives(free, "a", "d", mode, "ab", "bc", "cd"), mode
        assert not _drives(net, "a", "d", mode, "ab", "bc", "cd"), mode
        # only that movement: the via way and the other turns stay usable
        assert _drives(net, "a", "f", mode, "ab", "bc", "cf"), mode
        assert _drives(net, "f", "d", mode, "cf", "cd"), mode
        assert net.route("bc", "d", mode).ways == ["bc", "cd"], mode  # type: ignore[union-attr]
        assert _drives(net, "d", "a", mode, "cd", "bc", "ab"), mode  # other direction
    assert _drives(net, "a", "d", "walk", "ab", "bc", "cd")  # walkers are not bound
    st = net.stats("car")
    assert st["restrictions_via_way_applied"] == 1 and st["restriction_path_nodes"] >= 1


def test_restriction_via_a_chain_of_ways(tmp_path: Path) -> None:
    drawing = """
        a - b - x - c - d
            |       |   |
            |       f   |
            |       |   |
            e - - - g - h
    """
    ways = {w: {"highway": "residential"} for w in
            ("ab", "bx", "xc", "cd", "be", "cf", "fg", "eg", "gh", "dh")}
    net = GridNet(drawing, ways, relations=[{"from": "ab", "via": ["bx", "xc"], "to": "cd",
                                             "restriction": "no_straight_on"}],
                  tmp_path=tmp_path)
    r = net.route("a", "d", "car")
    assert r is not None and r.ways[:4] != ["ab", "bx", "xc", "cd"]
    assert net.route("a", "f", "car").ways == ["ab", "bx", "xc", "cf"]  # type: ignore[union-attr]
    assert net.route("x", "d", "car").ways == ["xc", "cd"]  # type: ignore[union-attr]
    assert net.stats("car")["restrictions_via_way_applied"] == 1


def test_only_turn_via_a_way(tmp_path: Path) -> None:
    net = _rnet(tmp_path, {"from": "ab", "via": ["bc"], "to": "cf",
                           "restriction": "only_right_turn"})
    assert not _drives(net, "a", "d", "car", "ab", "bc", "cd")
    assert _drives(net, "a", "f", "car", "ab", "bc", "cf")
    assert _drives(net, "be", "d", "car", "bc", "cd")  # not coming from ab: free


def test_several_from_ways_no_entry(tmp_path: Path) -> None:
    net = _rnet(tmp_path, {"from": ["ab", "be"], "via": "b", "to": "bc",
                           "restriction": "no_entry"})
    for frm in ("a", "e"):
        r = net.route(frm, "c", "car")
        assert r is not None and "bc" not in r.ways, frm
    assert _drives(net, "c", "a", "car", "bc", "ab")  # leaving through b is fine


def test_several_to_ways_no_exit(tmp_path: Path) -> None:
    net = _rnet(tmp_path, {"from": "ab", "via": "b", "to": ["bc", "be"],
                           "restriction": "no_exit"})
    assert net.route("a", "d", "car") is None  # a is a dead end: nowhere to go
    assert net.route("a", "d", "walk") is not None
    assert net.route("d", "b", "car") is not None


@pytest.mark.parametrize("tags,bound", [
    ({"restriction": "no_straight_on", "except": "psv"}, {"car", "bike", "truck"}),
    ({"restriction": "no_straight_on", "except": "bicycle;hgv"}, {"car", "bus"}),
    ({"restriction:hgv": "no_straight_on"}, {"truck"}),
    ({"restriction:bus": "no_straight_on"}, {"bus"}),
    ({"restriction:bicycle": "no_straight_on"}, {"bike"}),
    ({"restriction:motorcar": "no_straight_on"}, {"car"}),
    ({"restriction": "no_turn_on_red"}, set()),
], ids=["except=psv", "except=bicycle;hgv", "hgv", "bus", "bicycle", "motorcar",
        "turn_on_red"])
def test_restriction_classes_and_exceptions(tmp_path: Path, tags: dict[str, str],
                                            bound: set[str]) -> None:
    net = _rnet(tmp_path, {"from": "ab", "via": "b", "to": "bc", **tags})
    for mode in VEHICLES:
        r = net.route("a", "c", mode)
        assert r is not None
        assert (r.ways[:2] == ["ab", "bc"]) == (mode not in bound), mode


# ---- car turn costs ----------------------------------------------------------------------
T_JUNCTION = """
        a
        |
        |
    b - c - d
"""


def test_car_turns_cost_time_right_cheaper_than_left(tmp_path: Path) -> None:
    ways = {"ac": {"highway": "residential"}, "bcd": {"highway": "residential"}}
    net = GridNet(T_JUNCTION, ways, tmp_path=tmp_path)
    right = net.route("a", "b", "car")  # heading south, b is to the west: a right turn
    left = net.route("a", "d", "car")
    assert right is not None and left is not None
    drive_s = 140 / (25 / 3.6)  # 60 m down, 80 m across, at 25 km/h
    assert right.duration_s == pytest.approx(drive_s + 2.105, abs=0.01)
    assert left.duration_s == pytest.approx(drive_s + 5.395, abs=0.01)
    # the turn time is part of the steps' durations too
    assert sum(s.duration_s for s in left.route.steps) == pytest.approx(left.duration_s,
                                                                        abs=0.01)
    # walkers and bikes have no turn costs
    assert net.route("a", "d", "walk").duration_s == pytest.approx(  # type: ignore[union-attr]
        140 / (5 / 3.6), abs=0.01)


def test_traffic_signals_cost_time(tmp_path: Path) -> None:
    ways = {"ac": {"highway": "residential"}, "bcd": {"highway": "residential"}}
    plain = GridNet(T_JUNCTION, ways, tmp_path=tmp_path / "a")
    lights = GridNet(T_JUNCTION, ways, nodes={"c": {"highway": "traffic_signals"}},
                     tmp_path=tmp_path / "b")
    for frm, to in (("b", "d"), ("d", "b"), ("a", "b")):
        r0, r1 = plain.route(frm, to, "car"), lights.route(frm, to, "car")
        assert r0 is not None and r1 is not None
        assert r1.duration_s - r0.duration_s == pytest.approx(2.0, abs=0.01), (frm, to)
    assert lights.meta["counts"]["signal_junctions"] == 1


def test_car_u_turns_penalized_away_from_dead_ends(tmp_path: Path) -> None:
    """A car U-turn costs 27.5 s of driving time anywhere; away from a dead end (or a
    barrier) it also carries a 2-minute routing penalty, so it is taken only when nothing
    else is sensible (a closure ahead)."""
    import numpy as np

    ways = {"ac": {"highway": "residential"}, "bcd": {"highway": "residential"}}
    net = GridNet(T_JUNCTION, ways, tmp_path=tmp_path)
    a = net.snapshot.modes["car"]
    seg, rev = np.asarray(a.edge_seg), np.asarray(a.edge_rev)
    kj = np.asarray(a.knode_junction)
    osm = np.asarray(net.snapshot.node_osm_id)
    into = {int(k): e for e, k in enumerate(np.asarray(a.edge_head_knode).tolist())}
    uturn_extra: dict[str, set[int]] = {}
    for t, f, x, tt in zip(np.asarray(a.arc_tail).tolist(), np.asarray(a.arc_edge).tolist(),
                           np.asarray(a.arc_extra_ms).tolist(),
                           np.asarray(a.arc_turn_ms).tolist(), strict=True):
        e = into.get(t)
        if e is not None and seg[e] == seg[f] and rev[e] != rev[f]:
            assert tt == 27_500
            uturn_extra.setdefault(net.letter_of[int(osm[kj[t]])], set()).add(x - tt)
    assert uturn_extra == {"a": {0}, "b": {0}, "d": {0}, "c": {120_000}}
    # from the middle of c-d heading west, to a point just behind: drive on to the dead end
    # d and turn there rather than turn at c
    r = net.route("cd", "d", "car")
    assert r is not None
    assert net.route("bc", "b", "walk") is not None


def test_build_summary_counts_on_real_data(nky_snapshot_dir: Path) -> None:
    """Northern Kentucky: the build summary reports what the profiles did."""
    import json

    counts = json.loads((nky_snapshot_dir / "meta.json").read_text())["counts"]
    assert counts["restrictions_via_way_read"] >= 1
    assert counts["car_restrictions_via_way_applied"] >= 1
    assert counts["car_restriction_path_nodes"] >= 2
    assert counts["car_destination_only_edges"] > 100  # access=private / customers roads
    assert counts["car_destination_border_junctions"] > 50
    assert counts["bike_pushed_edges"] > 100
    assert counts["bus_edges"] > 0 and counts["truck_edges"] > 0
    assert counts["signal_junctions"] > 0 and counts["car_turn_cost_arcs"] > 10_000
    # walkers have no destination-only state; the car graph is edge-based (turn costs)
    assert counts["walk_destination_only_edges"] == 0
    assert counts["car_split_junctions"] == counts["junctions"]


def test_shuttle_train_carries_cars_only_when_tagged(tmp_path: Path) -> None:
    net = GridNet("""
        a - b           c - d
    """, {"ab": {"highway": "residential"}, "cd": {"highway": "residential"},
          "bc": {"route": "shuttle_train", "duration": "0:15", "motorcar": "yes"}},
        tmp_path=tmp_path)
    for frm, to in (("a", "d"), ("d", "a")):
        r = net.route(frm, to, "car")
        assert r is not None and "bc" in r.ways
        assert r.duration_s > 15 * 60
    assert net.route("a", "d", "truck") is None  # motorcar=yes does not let lorries on
