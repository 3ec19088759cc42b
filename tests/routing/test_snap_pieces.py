"""Snapping next to small road pieces off a mode's main network (car parks, gated estates):
routed from/to the piece when it connects in the mode's direction, else snapped to the
nearest connected road, and the answer says which. Drawn networks per mode and direction,
plus real data against the edge-based oracle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from routing.i18n import snap_note
from routing.osm import read_osm
from routing.road import NoRouteError, SnapError
from routing.snap import SNAP_CONNECTED_PIECE, SNAP_DISCONNECTED_PIECE, SNAP_NEAREST
from tests.conftest import PDX_OSM
from tests.routing.gridnet import GridNet

# The main network is the block a…f; the piece g-h hangs below e through h-x-e.
DRAWING = """
    a - - - - b - - - - c
    |         |         |
    d - - - - e - - - - f
              |
              x
      g - - - h
"""
MAIN = {
    "abc": {"highway": "residential"},
    "def": {"highway": "residential"},
    "ad": {"highway": "residential"},
    "be": {"highway": "residential"},
    "cf": {"highway": "residential"},
}
MODES = ("car", "bus", "truck", "bike", "walk")


def _net(tmp_path: Path, link: dict[str, str], nodes: dict | None = None) -> GridNet:
    ways = {**MAIN, "gh": {"highway": "service", "service": "parking_aisle"}, "hxe": link}
    return GridNet(DRAWING, ways, nodes=nodes, tmp_path=tmp_path, max_snap_m=100)


def _reasons(net: GridNet, frm: str, to: str, mode: str) -> tuple[str, str, list[str]]:
    r = net.route(frm, to, mode)
    assert r is not None, (frm, to, mode)
    return r.route.origin.reason, r.route.destination.reason, r.ways


@pytest.fixture(scope="module")
def exit_only(tmp_path_factory: pytest.TempPathFactory) -> GridNet:
    """A car park whose only link is a oneway exit h→x→e."""
    return _net(tmp_path_factory.mktemp("exit"), {"highway": "service", "oneway": "yes"})


@pytest.fixture(scope="module")
def entry_only(tmp_path_factory: pytest.TempPathFactory) -> GridNet:
    """A car park whose only link is a oneway entry e→x→h."""
    return _net(tmp_path_factory.mktemp("entry"), {"highway": "service", "oneway": "-1"})


@pytest.fixture(scope="module")
def bollard(tmp_path_factory: pytest.TempPathFactory) -> GridNet:
    """An estate behind bollards (x): closed to motor vehicles, open to bikes and feet."""
    return _net(
        tmp_path_factory.mktemp("bollard"),
        {"highway": "service"},
        nodes={"x": {"barrier": "bollard"}},
    )


@pytest.mark.parametrize("mode", ["car", "bus", "truck"])
def test_exit_only_piece_starts_there_but_ends_on_the_main_road(
    exit_only: GridNet, mode: str
) -> None:
    o, d, ways = _reasons(exit_only, "g", "a", mode)
    assert (o, d) == (SNAP_CONNECTED_PIECE, SNAP_NEAREST)
    assert ways[:2] == ["gh", "hxe"]  # driven out of the car park
    o, d, ways = _reasons(exit_only, "a", "g", mode)
    assert (o, d) == (SNAP_NEAREST, SNAP_DISCONNECTED_PIECE)
    assert "gh" not in ways and "hxe" not in ways
    r = exit_only.route("a", "g", mode)
    assert r is not None
    dest = r.route.destination
    # the nearest connected road is d-e-f, three cells (60 m) above g; the piece is at g
    assert dest.distance_m == pytest.approx(60.0, abs=1.0)
    assert dest.nearest_road_m is not None and dest.nearest_road_m < 1.0


@pytest.mark.parametrize("mode", ["car", "bus", "truck"])
def test_entry_only_piece_ends_there_but_starts_on_the_main_road(
    entry_only: GridNet, mode: str
) -> None:
    o, d, ways = _reasons(entry_only, "a", "g", mode)
    assert (o, d) == (SNAP_NEAREST, SNAP_CONNECTED_PIECE)
    assert ways[-2:] == ["hxe", "gh"]
    o, d, ways = _reasons(entry_only, "g", "a", mode)
    assert (o, d) == (SNAP_DISCONNECTED_PIECE, SNAP_NEAREST)
    assert "gh" not in ways


@pytest.mark.parametrize("mode", ["bike", "walk"])
def test_oneway_link_is_no_piece_for_walkers(
    exit_only: GridNet, entry_only: GridNet, mode: str
) -> None:
    """Walkers ignore oneways (and bikes push against them): the car park is part of the
    main network both ways."""
    for net in (exit_only, entry_only):
        for frm, to in (("g", "a"), ("a", "g")):
            o, d, ways = _reasons(net, frm, to, mode)
            assert (o, d) == (SNAP_NEAREST, SNAP_NEAREST)
            assert "gh" in ways


@pytest.mark.parametrize("mode", MODES)
def test_estate_behind_bollards(bollard: GridNet, mode: str) -> None:
    """Motor vehicles: the estate is an isolated piece both ways (snapped to d-e-f), but a
    trip inside it is routed inside it. Bikes and walkers pass the bollards."""
    motor = mode in ("car", "bus", "truck")
    for frm, to in (("g", "a"), ("a", "g")):
        o, d, ways = _reasons(bollard, frm, to, mode)
        piece_end = o if frm == "g" else d
        if motor:
            assert piece_end == SNAP_DISCONNECTED_PIECE
            assert "gh" not in ways and "hxe" not in ways
        else:
            assert piece_end == SNAP_NEAREST
            assert "hxe" in ways
    o, d, ways = _reasons(bollard, "g", "gh", mode)
    assert ways == ["gh"]
    assert (o, d) == ((SNAP_CONNECTED_PIECE,) * 2 if motor else (SNAP_NEAREST,) * 2)


def test_snap_alone_keeps_to_the_main_network(exit_only: GridNet) -> None:
    """The single-point snap (plans, matrices, isochrones) still snaps to the main
    component only."""
    state = exit_only.publisher.current()
    ep = exit_only.router.snap(state, "car", *exit_only.point("g"))
    assert ep.snap.reason == SNAP_NEAREST and ep.snap.distance_m == pytest.approx(60.0, abs=1.0)


def test_notes_in_both_languages() -> None:
    en = snap_note("en", SNAP_DISCONNECTED_PIECE, "end", 41.2, 0.3)
    zh = snap_note("zh-CN", SNAP_DISCONNECTED_PIECE, "end", 41.2, 0.3)
    assert en is not None and "41 m" in en and "destination" in en
    assert zh is not None and "41 米" in zh and "终点" in zh
    assert "起点" in (snap_note("zh-CN", SNAP_CONNECTED_PIECE, "start", 1.0) or "")
    assert snap_note("en", SNAP_NEAREST, "start", 3.0) is None


@pytest.fixture(scope="module")
def pdx_osm():
    return read_osm(PDX_OSM)


def test_real_data_pieces_against_oracle(pdx_router, pdx_state, pdx_osm) -> None:
    """Points next to roads off the main component on real data: the answer's reason
    matches what the independent edge-based oracle says about the piece (a kept piece
    connects to the other end, a passed-over one does not), and route costs equal the
    oracle's on the chosen edges."""
    from tests.routing.oracle import LineGraphOracle

    checked = {SNAP_CONNECTED_PIECE: 0, SNAP_DISCONNECTED_PIECE: 0}
    for mode in ("car", "walk"):
        mr = pdx_router.modes[mode]
        if mr.snapper_all is None:
            continue
        oracle = LineGraphOracle(pdx_router, mode, pdx_osm)
        w = pdx_state.weights(mode)
        off = np.unique(mr.edge_seg[~mr.edge_snappable])
        on = np.unique(mr.edge_seg[mr.edge_snappable])
        rng = np.random.default_rng(12 + len(mode))
        segs = pdx_router.segments
        lat = np.asarray(segs.lat)
        lon = np.asarray(segs.lon)
        g0 = np.asarray(segs.gstart)
        for k in range(min(60, off.shape[0])):
            s_piece = int(off[rng.integers(0, off.shape[0])])
            s_main = int(on[rng.integers(0, on.shape[0])])
            # the middle of each segment's first straight piece (not a junction)
            p = (
                float(lat[g0[s_piece] : g0[s_piece] + 2].mean()),
                float(lon[g0[s_piece] : g0[s_piece] + 2].mean()),
            )
            q = (
                float(lat[g0[s_main] : g0[s_main] + 2].mean()),
                float(lon[g0[s_main] : g0[s_main] + 2].mean()),
            )
            ends = (p, q) if k % 2 == 0 else (q, p)
            try:
                src, dst = pdx_router.snap_pair(pdx_state, mode, *ends[0], *ends[1])
            except SnapError:
                continue
            want = oracle.cost_ms(src.edges, dst.edges, w)
            try:
                got = pdx_router.route_endpoints(pdx_state, mode, src, dst)
            except NoRouteError:
                assert want is None
                continue
            assert got.weight_ms == want, (mode, ends)
            piece_end = src if k % 2 == 0 else dst
            if piece_end.snap.reason in checked:
                checked[piece_end.snap.reason] += 1
            if piece_end.snap.reason == SNAP_DISCONNECTED_PIECE:
                # the passed-over piece does not connect to the other end in this direction
                nearest = pdx_router.modes[mode].snapper_all.nearest(
                    ends[k % 2][1], ends[k % 2][0], pdx_router.max_snap_m
                )
                assert nearest is not None
                es = pdx_router._endpoint_edges(mr, nearest, w, any_edge=True)
                other = dst if k % 2 == 0 else src
                cost = (
                    oracle.cost_ms(es, other.edges, w)
                    if k % 2 == 0
                    else oracle.cost_ms(other.edges, es, w)
                )
                assert cost is None, (mode, ends)
    assert checked[SNAP_CONNECTED_PIECE] > 0 and checked[SNAP_DISCONNECTED_PIECE] > 0
