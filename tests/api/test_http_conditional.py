"""Through HTTP: a conditional closure (``motor_vehicle:conditional=no @ (Mo-Fr
07:00-09:00)``) applies to ``/v1/route?depart_at=`` inside its window and not outside, for the
time-dependent car route and for the other modes; the build summary counts it."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.service import load_service
from tests.routing.gridnet import GridNet
from tests.routing.test_profile_scenarios import DRAWING


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("conditional")
    ways = {
        "ab": {"highway": "residential"},
        "cd": {"highway": "residential"},
        "bxc": {"highway": "residential", "motor_vehicle:conditional": "no @ (Mo-Fr 07:00-09:00)"},
        "be": {"highway": "residential"},
        "ef": {"highway": "residential"},
        "fc": {"highway": "residential"},
    }
    net = GridNet(DRAWING, ways, tmp_path=tmp)
    svc = load_service(net.snapshot_dir, db_url=f"sqlite:///{tmp / 'inc.db'}")
    try:
        with TestClient(create_app(service=svc)) as client:
            yield net, client
    finally:
        svc.close()


def _next_tuesday() -> str:
    tz = ZoneInfo("Europe/Rome")
    day = datetime.now(tz).date() + timedelta(days=1)
    while day.weekday() != 1:
        day += timedelta(days=1)
    return day.isoformat()


@pytest.mark.parametrize(
    "mode,closed", [("car", True), ("truck", True), ("bus", True), ("bike", False)]
)
def test_depart_at_inside_and_outside_the_window(env, mode: str, closed: bool) -> None:
    net, client = env
    a, d = net.point("a"), net.point("d")
    day = _next_tuesday()

    def distance(local_time: str, frm=a, to=d) -> float:
        r = client.get(
            "/v1/route",
            params={
                "from": f"{frm[0]},{frm[1]}",
                "to": f"{to[0]},{to[1]}",
                "mode": mode,
                "depart_at": f"{day}T{local_time}",
            },
        )
        assert r.status_code == 200, r.text
        return float(r.json()["routes"][0]["distance_m"])

    direct = distance("10:00:00")
    assert direct == pytest.approx(240, abs=15)  # a-b, b…c, c-d: 3 × 80 m
    inside = distance("08:00:00")
    assert (inside > direct + 100) == closed, (mode, inside, direct)
    back = distance("08:00:00", d, a)
    assert (back > direct + 100) == closed, (mode, back, direct)
    assert distance("09:30:00", d, a) == pytest.approx(direct, abs=15)


def test_build_summary_counts(env) -> None:
    net, _ = env
    counts = net.meta["counts"]
    assert counts["conditions"] == 1 and counts["conditional_tags_read"] == 1
    assert counts["car_conditional_access_edges"] == 2  # both directions of b…c
