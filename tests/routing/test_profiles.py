"""OSM tag rules per mode: maxspeed parsing, access hierarchy, oneways."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing.profiles import (
    NODE_DEST,
    barrier_blocks,
    bike_access,
    car_access,
    node_access,
    parse_maxspeed,
    walk_access,
)


@pytest.mark.parametrize(
    ("value", "kmh"),
    [("50", 50), ("30 mph", 48.28), ("30mph", 48.28), ("DE:urban", 50), ("DE:rural", 100),
     ("PT:rural", 90), ("US:urban", 40), ("RU:zone30", 30), ("walk", 7), ("50;30", 30),
     ("12,5", 12.5), ("10 knots", 18.52), ("signals", None), ("variable", None), ("0", None),
     ("-5", None), ("999", None), ("", None), (None, None), ("fast", None)],
)
def test_parse_maxspeed(value, kmh) -> None:
    got = parse_maxspeed(value)
    assert got == (pytest.approx(kmh, abs=0.01) if kmh is not None else None)


def test_maxspeed_none_uses_class_default() -> None:
    assert parse_maxspeed("none", "motorway") == 100


@given(st.integers(min_value=1, max_value=180))
def test_mph_is_converted(n: int) -> None:
    assert parse_maxspeed(f"{n} mph") == pytest.approx(n * 1.609344)


@given(st.text(max_size=20))
def test_parse_maxspeed_never_raises(s: str) -> None:
    v = parse_maxspeed(s)
    assert v is None or 0 < v <= 300


def test_car_rules() -> None:
    assert car_access({"highway": "residential"}).forward
    ow = car_access({"highway": "residential", "oneway": "yes"})
    assert ow.forward and not ow.backward
    rev = car_access({"highway": "residential", "oneway": "-1"})
    assert rev.backward and not rev.forward
    assert not car_access({"highway": "motorway"}).backward  # implied oneway
    assert not car_access({"highway": "primary", "junction": "roundabout"}).backward
    assert not car_access({"highway": "footway"}).usable
    private = car_access({"highway": "residential", "access": "private"})
    assert private.usable and private.dest_fwd and private.dest_bwd  # destination-only
    assert car_access({"highway": "residential", "access": "no",
                       "motor_vehicle": "yes"}).usable
    assert not car_access({"highway": "residential", "motor_vehicle": "no"}).usable
    assert not car_access({"highway": "service", "service": "emergency_access"}).usable
    assert not car_access({"highway": "residential", "oneway": "reversible"}).usable
    a = car_access({"highway": "primary", "maxspeed": "30 mph"})
    assert a.speed_fwd_kmh == pytest.approx(48.28 * 0.8, abs=0.01)
    d = car_access({"highway": "primary", "maxspeed:forward": "50", "maxspeed:backward": "30"})
    assert d.speed_fwd_kmh > d.speed_bwd_kmh


def test_bike_and_walk_rules() -> None:
    assert bike_access({"highway": "cycleway"}).usable
    assert not bike_access({"highway": "motorway"}).usable
    assert not bike_access({"highway": "residential", "bicycle": "no"}).usable
    push = bike_access({"highway": "footway"})
    assert push.usable and push.speed_fwd_kmh == 5.0
    both = bike_access({"highway": "residential", "oneway": "yes", "cycleway": "opposite_lane"})
    assert both.forward and both.backward
    assert walk_access({"highway": "footway"}).usable
    assert walk_access({"highway": "steps"}).speed_fwd_kmh < 5
    assert not walk_access({"highway": "motorway"}).usable
    assert not walk_access({"highway": "residential", "foot": "no"}).usable
    w = walk_access({"highway": "primary", "oneway": "yes"})
    assert w.forward and w.backward  # pedestrians ignore oneway


def test_barriers() -> None:
    assert barrier_blocks("car", {"barrier": "bollard"})
    assert not barrier_blocks("walk", {"barrier": "bollard"})
    assert not barrier_blocks("car", {"barrier": "bollard", "motor_vehicle": "yes"})
    assert not barrier_blocks("car", {"barrier": "gate"})
    assert not barrier_blocks("car", {"barrier": "gate", "access": "private"})
    assert node_access("car", {"barrier": "gate", "access": "private"}) == NODE_DEST
    assert barrier_blocks("car", {"barrier": "gate", "access": "no"})
    assert not barrier_blocks("car", {"barrier": "lift_gate"})
