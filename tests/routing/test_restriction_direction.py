"""A turn restriction whose ``from`` or ``to`` way runs through the via node (not split there)
forbids only the movement its value names, read from the geometry: drawn networks, both
directions, every mode bound by restrictions (walkers are not)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.routing.gridnet import GridNet

# A crossroads j of two unsplit ways a-j-b (west-east) and n-j-s (north-south); every arm is
# a dead end (U-turns allowed there), so a forbidden movement is driven round by turning
# back at the end of another arm.
CROSS = """
            n
            |
    a - - - j - - - b
            |
            s
"""
VEHICLES = ("car", "bus", "truck", "bike")


def _net(
    tmp_path: Path, value: str, frm: str = "ajb", to: str = "njs", ways: dict | None = None
) -> GridNet:
    w = ways or {"ajb": {"highway": "residential"}, "njs": {"highway": "residential"}}
    return GridNet(
        CROSS,
        w,
        relations=[{"from": frm, "via": "j", "to": to, "restriction": value}],
        tmp_path=tmp_path,
    )


def _nodes(net: GridNet, frm: str, to: str, mode: str) -> str:
    r = net.route(frm, to, mode)
    assert r is not None, (frm, to, mode)
    return r.nodes


@pytest.fixture(scope="module")
def no_left(tmp_path_factory: pytest.TempPathFactory) -> GridNet:
    return _net(tmp_path_factory.mktemp("noleft"), "no_left_turn")


@pytest.mark.parametrize("mode", VEHICLES)
def test_no_left_turn_onto_an_unsplit_way_forbids_only_left_turns(
    no_left: GridNet, mode: str
) -> None:
    # eastbound (from a) left is north; westbound (from b) left is south
    assert _nodes(no_left, "a", "n", mode) != "ajn"
    assert _nodes(no_left, "a", "s", mode) == "ajs"  # a right turn: allowed
    assert _nodes(no_left, "b", "s", mode) != "bjs"
    assert _nodes(no_left, "b", "n", mode) == "bjn"  # a right turn: allowed
    # straight on along the from way is untouched
    assert _nodes(no_left, "a", "b", mode) == "ajb"


def test_no_left_turn_does_not_bind_walkers(no_left: GridNet) -> None:
    for frm, to in (("a", "n"), ("b", "s")):
        assert _nodes(no_left, frm, to, "walk") == f"{frm}j{to}"


@pytest.mark.parametrize("mode", ["car", "bike"])
def test_only_right_turn_from_an_unsplit_way(tmp_path: Path, mode: str) -> None:
    net = _net(tmp_path, "only_right_turn")
    # from a (eastbound) only the right turn to s; from b (westbound) only to n
    assert _nodes(net, "a", "s", mode) == "ajs"
    assert _nodes(net, "a", "n", mode) != "ajn"
    assert _nodes(net, "a", "b", mode) != "ajb"
    assert _nodes(net, "b", "n", mode) == "bjn"
    assert _nodes(net, "b", "s", mode) != "bjs"
    # the north-south way is not the from way: untouched
    assert _nodes(net, "n", "b", mode) == "njb" and _nodes(net, "s", "a", mode) == "sja"


@pytest.mark.parametrize("mode", ["car", "truck"])
def test_no_straight_on_along_one_unsplit_way(tmp_path: Path, mode: str) -> None:
    """from = to = the same way through j: straight on is forbidden both ways, turning off
    onto the other way is not."""
    net = _net(tmp_path, "no_straight_on", frm="ajb", to="ajb")
    assert _nodes(net, "a", "b", mode) != "ajb"
    assert _nodes(net, "b", "a", mode) != "bja"
    assert _nodes(net, "a", "n", mode) == "ajn" and _nodes(net, "b", "s", mode) == "bjs"


@pytest.mark.parametrize("mode", ["car", "bike"])
def test_unsplit_from_way_onto_a_way_starting_at_the_via(tmp_path: Path, mode: str) -> None:
    """The from way runs through j; the to way j-n starts there. no_left_turn binds the
    approach from a (a left turn) but not from b (a right turn)."""
    ways = {
        "ajb": {"highway": "residential"},
        "jn": {"highway": "residential"},
        "js": {"highway": "residential"},
    }
    net = _net(tmp_path, "no_left_turn", frm="ajb", to="jn", ways=ways)
    assert _nodes(net, "a", "n", mode) != "ajn"
    assert _nodes(net, "b", "n", mode) == "bjn"


@pytest.mark.parametrize("mode", ["car", "bike"])
def test_split_ways_keep_the_members_meaning(tmp_path: Path, mode: str) -> None:
    """With every way split at j the members say exactly what is meant, whatever the value
    (here a mistagged no_left_turn onto the right-hand arm is still obeyed)."""
    ways = {
        "aj": {"highway": "residential"},
        "jb": {"highway": "residential"},
        "jn": {"highway": "residential"},
        "js": {"highway": "residential"},
    }
    net = _net(tmp_path, "no_left_turn", frm="aj", to="js", ways=ways)
    assert _nodes(net, "a", "s", mode) != "ajs"
    assert _nodes(net, "a", "n", mode) == "ajn"
