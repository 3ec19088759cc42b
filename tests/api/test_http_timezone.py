"""Through HTTP on a road-only city: a ``depart_at`` without offset is read in the city's
timezone (the snapshot's), so a 10:00–12:00 closure in Columbus applies from 10:00 to 12:00
New York time; ``/v1/health`` reports the zone."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from api.app import create_app
from api.service import load_service

DOWNTOWN = "39.9612,-82.9988"
EAST = "39.9700,-82.9850"


def test_naive_depart_at_is_local_time(columbus_snapshot_dir: Path, tmp_path: Path) -> None:
    svc = load_service(columbus_snapshot_dir, db_url=f"sqlite:///{tmp_path / 'inc.db'}")
    tz = ZoneInfo("America/New_York")
    # two days ahead, on a day of the local calendar
    day = (datetime.now(tz) + timedelta(days=2)).date()
    start = datetime(day.year, day.month, day.day, 10, tzinfo=tz)
    try:
        with TestClient(create_app(service=svc)) as client:
            health = client.get("/v1/health").json()
            assert health["timezone"] == "America/New_York"
            base = client.get("/v1/route", params={"from": DOWNTOWN, "to": EAST}).json()
            coords = base["routes"][0]["geometry"]["coordinates"]
            k = len(coords) // 2
            inc = svc.store.create({
                "type": "closure", "severity": "high", "direction": "both",
                "geometry": {"type": "LineString", "coordinates": coords[k - 1:k + 1]},
                "start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat(),
                "road_effect": {"closed_to": ["all"]}}, "test", "test")
            svc.engine.sync()  # written past the API (like the CLI): follow the store now

            def avoided(local_time: str) -> bool:
                r = client.get("/v1/route", params={"from": DOWNTOWN, "to": EAST,
                                                    "depart_at": f"{day}T{local_time}"})
                assert r.status_code == 200, r.text
                return inc.id in r.json()["routes"][0]["explanation"]["avoided"]

            # read as UTC, 11:00 would be 06:00/07:00 in Columbus and 15:00 would be 10:00/11:00
            assert avoided("11:00:00")
            assert not avoided("15:00:00")
            assert not avoided("09:30:00")
    finally:
        svc.close()
