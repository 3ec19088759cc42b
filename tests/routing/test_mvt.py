"""The MVT geometry encoding against an independent decoder (tests/api/test_http_maps.py):
grouped multi-lines keep every part's points, in order, with repeated points dropped."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from routing import mvt
from tests.api.test_http_maps import _decode

coord = st.integers(min_value=-200, max_value=4300)
part = st.lists(st.tuples(coord, coord), min_size=1, max_size=8)


def _dedupe(pts: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out = [pts[0]]
    for p in pts[1:]:
        if p != out[-1]:
            out.append(p)
    return out


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(part, st.integers(0, 3)), min_size=1, max_size=12))
def test_grouped_lines_round_trip(parts) -> None:
    xy = np.array([p for pts, _ in parts for p in pts], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum([len(pts) for pts, _ in parts])])
    groups = np.array([g for _, g in parts], dtype=np.int64)
    keys, cmds = mvt.grouped_line_commands(xy, offsets, groups)
    lb = mvt.LayerBuilder("t")
    for k, c in zip(keys.tolist(), cmds, strict=True):
        lb.add(mvt.LINESTRING, c, {"g": k})
    decoded = _decode(mvt.encode([lb])).get("t", [])
    want: dict[int, list[list[tuple[int, int]]]] = {}
    for pts, g in parts:
        d = _dedupe(pts)
        if len(d) >= 2:
            want.setdefault(g, []).append(d)
    got = {props["g"]: [list(p) for p in ps] for props, ps in decoded}
    assert got == want


def test_points_and_single_lines() -> None:
    lb = mvt.LayerBuilder("p")
    lb.add(mvt.POINT, mvt.point_commands(np.array([[5, 7]])), {"name": "a", "n": -3})
    cmds = mvt.line_commands(np.array([[0, 0], [0, 0], [10, 5]]))
    assert cmds is not None
    lb.add(mvt.LINESTRING, cmds, {"ok": True, "x": 1.5})
    assert mvt.line_commands(np.array([[1, 1], [1, 1]])) is None
    layer = _decode(mvt.encode([lb]))["p"]
    assert layer[0] == ({"name": "a", "n": -3}, [[(5, 7)]])
    assert layer[1] == ({"ok": True, "x": 1.5}, [[(0, 0), (10, 5)]])
