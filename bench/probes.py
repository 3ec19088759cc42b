"""Buses as traffic probes on northern Kentucky (in-process, the service's own code):

``N`` buses (default 200) on the TANK trips of a weekday morning, each driving 20 km/h along
its trip's shape and reporting every 30 s; ``M`` messages (default 10) are pushed through
:meth:`IncidentEngine.ingest_realtime` (what ``POST /v1/realtime/{feed}`` calls) at their
own time. Printed per message after the first: intervals, observations, edges, and the
time of the probes alone (:meth:`BusProbes.measure`) and with logging the batch and
publishing the state (:meth:`BusProbes.ingest`), median and p95.

    python bench/probes.py [--vehicles 200] [--messages 10]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import print_table, stats_ms  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vehicles", type=int, default=200)
    ap.add_argument("--messages", type=int, default=10)
    args = ap.parse_args()

    from api.service import load_service
    from gtfs.realtime.decode import decode_feed
    from gtfs.realtime.vehicles import parse_vehicle_positions
    from routing.build import build_snapshot
    from routing.clock import ReplayClock
    from tests.conftest import NKY_GTFS, NKY_OSM, NKY_TRAFFIC
    from tests.incidents.probe_gen import TripPath, epoch_s, report_on, vehicle_message

    date, t8 = dt.date(2019, 11, 13), 8 * 3600
    with tempfile.TemporaryDirectory() as tmp:
        snap = Path(tmp) / "nky"
        build_snapshot(NKY_OSM, snap, [NKY_GTFS], traffic_path=NKY_TRAFFIC)
        from routing.plan import TransitData

        tt = TransitData.load(snap).tt
        t0 = epoch_s(tt, date, t8)
        clock = ReplayClock(datetime.fromtimestamp(t0, UTC), frozen=True)
        svc = load_service(snap, db_url=f"sqlite:///{Path(tmp) / 'b.db'}", clock=clock)
        assert svc.probes is not None and svc.engine is not None
        act = tt.active_service_mask(date)
        a = tt.arrays
        trips = [t for t in range(tt.n_trips) if act[int(a["trip_service"][t])]
                 and int(tt.trip_times(t)[0][0]) <= t8 + 3600
                 and int(tt.trip_times(t)[1][-1]) >= t8 - 3600][:args.vehicles]
        paths = [TripPath.of(tt, t, date) for t in trips]
        rng = np.random.default_rng(7)
        start = [float(rng.uniform(0.05, 0.5)) * float(p.cum[-1]) for p in paths]
        v = 20 / 3.6
        bodies = []
        for k in range(args.messages):
            ts = t0 + 30 * k
            reps = [report_on(p, f"bus{i}", min(start[i] + v * 30 * k, float(p.cum[-1])), ts,
                              "IN_TRANSIT_TO", v) for i, p in enumerate(paths)]
            bodies.append((ts, vehicle_message(ts, reps)))
        ingest_s, measure_s, obs, ints, edges = [], [], [], [], []
        skipped: dict[str, int] = {}
        for k, (ts, body) in enumerate(bodies):
            clock.set(datetime.fromtimestamp(ts + 2, UTC))
            now = clock.now()
            # the probes alone, on a copy of their memory (the anchors)
            decoded = decode_feed(body, now=now)
            vehicles, _ = parse_vehicle_positions(decoded, tt, "nky_tank", now=now)
            saved = dict(svc.probes._anchors)
            t = time.perf_counter()
            svc.probes.measure("nky_tank", vehicles.values(), now)
            dt_measure = time.perf_counter() - t
            svc.probes._anchors = saved
            svc.engine.ingest_realtime("nky_tank", body, "protobuf", "bench")
            rep = svc.probes.last_report
            assert rep is not None
            if k == 0:
                continue
            measure_s.append(dt_measure)
            ingest_s.append(rep.elapsed_ms / 1000.0)
            obs.append(rep.observations)
            ints.append(rep.intervals)
            edges.append(rep.edges)
            for r, c in rep.skipped.items():
                skipped[r] = skipped.get(r, 0) + c
        svc.close()
    m1, p1 = stats_ms(measure_s)
    m2, p2 = stats_ms(ingest_s)
    print_table(f"bus probes: {len(paths)} vehicles, {args.messages} messages 30 s apart", [
        ("intervals per message", f"median {np.median(ints):.0f} (min {min(ints)}, "
                                  f"max {max(ints)})"),
        ("observations per message", f"median {np.median(obs):.0f}"),
        ("car edges per message", f"median {np.median(edges):.0f}"),
        ("vehicles skipped (all)", ", ".join(f"{k} {v}" for k, v in sorted(skipped.items()))),
        ("measure (probes alone)", f"median {m1:.1f} ms  p95 {p1:.1f} ms"),
        ("ingest (+ log + publish)", f"median {m2:.1f} ms  p95 {p2:.1f} ms"),
    ])


if __name__ == "__main__":
    main()
