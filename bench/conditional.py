"""Cost of conditional rules (issue 12) on São Paulo's extract, which maps streets shared by
time (``motor_vehicle:conditional=no @ (… Su 00:00-24:00)``, ``bicycle``/``foot:conditional``).

    python bench/conditional.py [--samples N]

Figures, each against a baseline measured in the same run on the same router with the
conditional rules switched off (``ModeRouter.conditional = None``):

* a state at a new instant (``StatePublisher.at``: every mode's weights at that instant with
  the conditional closures, and the turn bans in force; metrics left uncustomized);
* ``StatePublisher.refresh`` when nothing changed (its key evaluates which conditions hold);
* a full car answer (snap, CCH query, path, steps) on a Sunday-noon state.

Prints median and p95 per figure, the ratio of medians, and the load average.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import percentiles_row, print_table  # noqa: E402
from routing.build import build_snapshot  # noqa: E402
from routing.road import RoadRouter, RoutingError  # noqa: E402
from routing.snapshot import load_snapshot  # noqa: E402
from routing.state import StatePublisher  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data" / "sao-paulo" / "spo_osm.pbf"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=40)
    args = ap.parse_args()
    snap = Path(tempfile.mkdtemp(prefix="citynav-bench-cond-")) / "snap"
    t0 = time.perf_counter()
    meta = build_snapshot(DATA, snap)
    build_s = time.perf_counter() - t0
    router = RoadRouter(load_snapshot(snap))
    tz = ZoneInfo(router.snapshot.timezone)
    saved = {m: mr.conditional for m, mr in router.modes.items()}
    c = meta["counts"]
    rows = [("build (s)", f"{build_s:.1f}"),
            ("conditions / tags read / parts unparsed",
             f"{c['conditions']} / {c.get('conditional_tags_read', 0)} / "
             f"{c.get('conditional_parts_unparsed', 0)}"),
            ("conditional edges car / bike / walk",
             f"{c['car_conditional_access_edges']} / {c['bike_conditional_access_edges']} / "
             f"{c['walk_conditional_access_edges']}"),
            ("car edges", str(c["car_edges"]))]

    def switch(on: bool) -> None:
        for m, mr in router.modes.items():
            mr.conditional = saved[m] if on else None

    base = datetime(2026, 12, 6, 12, 0, tzinfo=tz)  # a Sunday noon: car closures in force
    results: dict[str, dict[bool, list[float]]] = {}
    for on in (True, False):  # the same instants, pairs and order for both
        switch(on)
        pub = StatePublisher(router, timezone=router.snapshot.timezone)
        cur = pub.current()
        at_s, ref_s, route_s = [], [], []
        for i in range(args.samples):
            t = base + timedelta(minutes=37 * i)
            s = time.perf_counter()
            pub.at(cur, t)
            at_s.append(time.perf_counter() - s)
        for _ in range(args.samples):
            s = time.perf_counter()
            pub.refresh()
            ref_s.append(time.perf_counter() - s)
        st = pub.at(cur, base)
        st.metric("car")  # customize before timing queries
        lat = np.asarray(router.snapshot.node_lat)
        lon = np.asarray(router.snapshot.node_lon)
        rng = np.random.default_rng(5)
        for a, b in rng.integers(0, lat.shape[0], size=(args.samples * 5, 2)).tolist():
            s = time.perf_counter()
            try:
                router.route(st, "car", lat[a], lon[a], lat[b], lon[b])
            except RoutingError:
                continue
            route_s.append(time.perf_counter() - s)
        results.setdefault("state at a new instant (5 modes)", {})[on] = at_s
        results.setdefault("refresh, nothing changed", {})[on] = ref_s
        results.setdefault("full car answer, Sunday noon", {})[on] = route_s
    switch(True)
    for name, r in results.items():
        ratio = float(np.median(r[True]) / np.median(r[False]))
        rows.append((name, f"{percentiles_row(r[True])}  (rules off: "
                           f"{percentiles_row(r[False])}; ratio {ratio:.2f})"))
    rows.append(("load average", " ".join(f"{x:.2f}" for x in os.getloadavg())))
    print_table("conditional rules (São Paulo)", rows)


if __name__ == "__main__":
    main()
