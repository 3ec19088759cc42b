"""The grid-drawing helper itself: coordinates, ways, relations, answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.routing.gridnet import GridNet


def test_drawing_becomes_a_routable_network(tmp_path: Path) -> None:
    net = GridNet("""
        a - b - c
            |
            d
    """, ways={"abc": {"highway": "residential"}, "bd": {"highway": "residential"}},
        tmp_path=tmp_path)
    # one character = 20 m: a-b is 80 m
    r = net.route("a", "d", "car")
    assert r is not None
    assert r.ways == ["abc", "bd"]
    assert r.nodes == "abd"
    assert r.distance_m == pytest.approx(80 + 40, abs=1)
    back = net.route("d", "a", "walk")
    assert back is not None and back.ways == ["bd", "abc"]
    assert net.route("c", "a", "car").nodes == "cba"  # type: ignore[union-attr]


def test_unconnected_and_unusable_give_none(tmp_path: Path) -> None:
    net = GridNet("""
        a - b   c - d
    """, ways={"ab": {"highway": "residential"}, "cd": {"highway": "footway"}},
        tmp_path=tmp_path)
    assert net.route("a", "b", "car") is not None
    assert net.route("c", "d", "car") is None  # nothing drivable there (snap refused)
    assert net.route("a", "d", "walk") is None  # no connection


def test_relation_members_by_letters(tmp_path: Path) -> None:
    net = GridNet("""
        a - b - c
            |
            d
    """, ways={"ab": {"highway": "residential"}, "bc": {"highway": "residential"},
               "bd": {"highway": "residential"}},
        relations=[{"from": "ab", "via": "b", "to": "bd", "restriction": "no_right_turn"}],
        tmp_path=tmp_path)
    assert net.route("a", "d", "car").nodes == "abcbd"  # type: ignore[union-attr]
    assert net.route("d", "a", "car").nodes == "dba"  # type: ignore[union-attr]
    assert net.stats("car")["restrictions_applied"] == 1
