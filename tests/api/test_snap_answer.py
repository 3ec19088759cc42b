"""The answer says where and why a route's end was snapped (small road pieces), in the
request's language, in the shape the OpenAPI ``Waypoint`` model documents."""

from __future__ import annotations

import pytest

from api.render import waypoint_json
from api.schemas import Waypoint
from tests.routing.gridnet import GridNet

# A car park g-h whose only link to the block a…f is the oneway exit h→x→e.
DRAWING = """
    a - - - - b - - - - c
    |         |         |
    d - - - - e - - - - f
              |
              x
      g - - - h
"""


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> GridNet:
    res = {"highway": "residential"}
    ways = {
        "abc": res,
        "def": res,
        "ad": res,
        "be": res,
        "cf": res,
        "gh": {"highway": "service", "service": "parking_aisle"},
        "hxe": {"highway": "service", "oneway": "yes"},
    }
    return GridNet(DRAWING, ways, tmp_path=tmp_path_factory.mktemp("park"), max_snap_m=100)


@pytest.mark.parametrize(
    ("lang", "needle"), [("en", "nearest road that does"), ("zh-CN", "最近的连通道路")]
)
def test_destination_in_an_unreachable_car_park(net: GridNet, lang: str, needle: str) -> None:
    r = net.route("a", "g", "car")
    assert r is not None
    js = waypoint_json(net.snapshot, net.point("g"), r.route.destination, lang, "end")
    Waypoint.model_validate(js)
    snap = js["snap"]
    assert snap["reason"] == "disconnected_piece"
    assert snap["snapped_to"] == "nearest_connected_road"
    assert snap["distance_m"] == pytest.approx(60.0, abs=1.0)
    assert snap["nearest_road_m"] is not None and snap["nearest_road_m"] < 1.0
    assert needle in snap["note"] and "60" in snap["note"]


def test_origin_in_a_car_park_with_an_exit(net: GridNet) -> None:
    r = net.route("g", "a", "car")
    assert r is not None
    js = waypoint_json(net.snapshot, net.point("g"), r.route.origin, "en", "start")
    Waypoint.model_validate(js)
    assert js["snap"]["reason"] == "connected_piece"
    assert js["snap"]["snapped_to"] == "nearest_road" and js["snap"]["nearest_road_m"] is None
    assert "start" in js["snap"]["note"]
