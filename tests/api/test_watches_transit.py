"""Transit commute watches on the bundled city: a realtime delay of the trip a watch rides
notifies exactly the watches whose best itinerary it changes (checked against re-planning
every watch), and only watches using the delayed trip's route are re-planned."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from pathlib import Path

import pytest

from api.watching import WatchPlanError
from incidents.watches import WatchSpec
from tests.api.rt_support import message, push, replayed
from tests.api.watch_support import replan_all

NY = dt.timezone(dt.timedelta(hours=-5))
NOON = dt.datetime(2020, 1, 15, 12, 0, tzinfo=NY)
PLACES = {"cov": "39.0837,-84.5086", "florence": "38.9836,-84.6451",
          "newport": "39.0912,-84.4960", "ft_mitchell": "39.0470,-84.5600"}


@pytest.mark.slow
def test_realtime_delay_notifies_the_transit_watches_it_changes(
        nky_snapshot_dir: Path, tmp_path: Path) -> None:
    ts = int(NOON.timestamp())
    with replayed(nky_snapshot_dir, tmp_path / "rt.db", ts + 5) as (c, svc, auth):
        worker = svc.watches
        assert worker is not None
        made = []
        for a in PLACES:
            for b in PLACES:
                if a == b:
                    continue
                for mode in ("transit", "car"):
                    spec = WatchSpec.model_validate({
                        "from": PLACES[a], "to": PLACES[b], "mode": mode,
                        "days": ["wed"], "window": {"start": "11:30", "end": "14:00"},
                        "threshold_s": 60, "label": f"{a}-{b}"})
                    with contextlib.suppress(WatchPlanError):  # no itinerary in the window
                        made.append(worker.create("key:rt", spec))
        ids = worker.ids()
        st0 = svc.state()
        before = replan_all(svc, st0)
        first = next(w for w in made if w.spec.mode == "transit")
        it = worker.plan(st0, first.spec)[1]
        leg = next(leg for leg in it.legs if leg.mode == "transit")
        trip_id = leg.trip_id.split(":", 1)[1] if ":" in leg.trip_id else leg.trip_id
        msg = message(ts)
        ent = msg.entity.add()
        ent.id = "late"
        ent.trip_update.trip.trip_id = trip_id
        ent.trip_update.trip.start_date = NOON.strftime("%Y%m%d")
        ent.trip_update.delay = 1500
        assert push(c, "nky_tank", msg.SerializeToString(), auth)["applied"]["applied"]
        st1 = svc.state()
        assert st1.version > st0.version
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (
                worker.evaluations and worker.evaluations[-1].version >= st1.version):
            time.sleep(0.02)
        ev = worker.evaluations[-1]
        after = replan_all(svc, st1)
        expected = set()
        for wid in ids:
            x, y = before[wid], after[wid]
            t = worker.tracked(wid)
            if (x is None) != (y is None) or (x is not None and y is not None and abs(
                    y["duration_s"] - x["duration_s"]) > t.spec.threshold_s):
                expected.add(wid)
        with svc.store.db.transaction() as tx:
            notified = {r[0] for r in tx.execute("SELECT watch_id FROM watch_notices")}
        assert first.id in expected
        assert notified == expected
        # only transit watches riding the delayed trip's route were re-planned
        route = leg.route.id
        riders = {w for w in ids if route in worker.tracked(w).routes
                  or route in (before[w] or {}).get("routes", ())}
        assert ev.replanned <= len(riders) and ev.replanned < len(ids)
        body = next(b for b in _bodies(svc) if b["watch_id"] == first.id)
        assert body["time_lost_s"] > 60 and body["itinerary"]["legs"]


def _bodies(svc):  # noqa: ANN001, ANN202 - test helper
    with svc.store.db.transaction() as tx:
        return [svc.store.db.json_out(r[0]) for r in tx.execute(
            "SELECT body FROM watch_notices ORDER BY seq")]
