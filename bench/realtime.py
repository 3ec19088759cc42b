"""Realtime public transport benchmark: GTFS-Realtime TripUpdates in, plans out.

    python bench/realtime.py [--quick] [--city bart|nky|hart|all] [--gc-freeze]

For each city, a service on its snapshot with its own SQLite store and a clock frozen at the
feed's time, driven through the HTTP API in-process (FastAPI's TestClient, no sockets):

* **ingest**: ``POST /v1/realtime/{feed}`` of a TripUpdates message (restamped each time so
  it is new) until the answer says it is applied — check, log, match and the new state;
* **ingest → plan**: that POST and then a ``GET /v1/plan`` answered on the new state
  (target p95 ≤ 200 ms), wall-clock and the process's CPU time for it (less sensitive to
  other load on the machine);
* **plan with / without realtime**: the same random stop-to-stop plans before any realtime
  data and after (ratio; the realtime data must not make planning much slower).

Cities: BART (the real TripUpdates of 2019-08-07 with its static feed, transit only),
northern Kentucky (the bundled city with streets; a generated TripUpdates message for every
running TANK trip) and HART Tampa (transit only; a generated message of 5,000 trip updates:
one day's running trips and the next day's). Snapshots are built into temporary directories
(NKY is cached under ``var/bench``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import cached_snapshot, percentiles_row, print_table  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
PROTO = {"Content-Type": "application/x-protobuf"}


def _restamped(msg: object, ts: int) -> bytes:
    msg.header.timestamp = ts  # type: ignore[attr-defined]
    return msg.SerializeToString()  # type: ignore[attr-defined]


def _snapshot(city: str) -> tuple[Path, str]:
    from routing.build import build_snapshot

    if city == "nky":
        nky = ROOT / "data"
        snap, _, _ = cached_snapshot(
            "nky", nky / "northern-kentucky" / "nky_streets.osm.pbf",
            [nky / "northern-kentucky" / "nky_tank_gtfs.zip"],
            traffic=nky / "traffic" / "nky_sample_observations.csv")
        return snap, "nky_tank"
    src = {"bart": SHARED / "gtfs-rt" / "bart" / "bart_gtfs.zip",
           "hart": SHARED / "gtfs" / "hart_tampa_gtfs.zip"}[city]
    out = Path(tempfile.mkdtemp(prefix=f"citynav-bench-rt-{city}-")) / "snap"
    t = time.perf_counter()
    build_snapshot(None, out, [src])
    print(f"  {city}: transit-only snapshot built in {time.perf_counter() - t:.1f} s")
    return out, src.stem


def _message(city: str, svc: object, feed: str) -> tuple[object, int, int]:
    """(FeedMessage, header time s, trip updates in it)."""
    from google.transit import gtfs_realtime_pb2 as pb

    from tests.gtfs.realtime.feed_gen import generated_trip_updates

    if city == "bart":
        m = pb.FeedMessage()
        m.ParseFromString((SHARED / "gtfs-rt" / "bart" / "bart_trip_updates_20190807.pb")
                          .read_bytes())
        return m, int(m.header.timestamp), len(m.entity)
    p = svc.planner  # type: ignore[attr-defined]
    tz = ZoneInfo(p.transit.ref_tz)
    lo, hi = p.transit.service_period
    date = lo + (hi - lo) / 2
    while date.weekday() != 2:  # a Wednesday mid-period
        date += dt.timedelta(days=1)
    noon = int(dt.datetime.combine(date, dt.time(12), tz).timestamp())
    if city == "nky":
        gen = generated_trip_updates(p.tt, feed, p.day(date), np.random.default_rng(3),
                                     header_s=noon, p_update=0.6, noise=0)
        return gen.message, noon, gen.n_trip_updates
    # HART: every running trip of that day and the next (predictions ahead, as agencies
    # publish them) up to 5,000 trip updates
    msg, n = None, 0
    for k in range(2):
        gen = generated_trip_updates(p.tt, feed, p.day(date + dt.timedelta(days=k)),
                                     np.random.default_rng(3 + k), header_s=noon,
                                     p_update=1.0, noise=0)
        if msg is None:
            msg = gen.message
        for e in gen.message.entity if k else ():
            if len(msg.entity) >= 5000:
                break
            e.id = f"d{k}-{e.id}"
            msg.entity.append(e)
    assert msg is not None
    n = sum(1 for e in msg.entity if e.HasField("trip_update"))
    return msg, noon, n


def run_city(city: str, n: int, freeze: bool) -> list[tuple[str, str]]:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.service import load_service
    from incidents.keys import create_key
    from routing.clock import ReplayClock

    snap, feed = _snapshot(city)
    db = Path(tempfile.mkdtemp(prefix="citynav-bench-rt-db-")) / "rt.db"
    probe = load_service(snap, db_url=f"sqlite:///{db}")
    feed = sorted(probe.engine.realtime.feed_ids)[0] if city != "nky" else feed
    msg, ts, n_updates = _message(city, probe, feed)
    probe.close()
    db.unlink()
    clock = ReplayClock(dt.datetime.fromtimestamp(ts + 5, dt.UTC), frozen=True)
    svc = load_service(snap, db_url=f"sqlite:///{db}", clock=clock)
    key = create_key(svc.store, "admin")
    auth = {"Authorization": f"Bearer {key}"}
    if freeze:
        gc.collect()
        gc.freeze()
    tt = svc.planner.tt
    ids = list(tt.strings["stop_id"])
    rng = np.random.default_rng(11)
    depart = dt.datetime.fromtimestamp(ts, dt.UTC) + dt.timedelta(minutes=2)
    pairs = [(ids[a], ids[b]) for a, b in rng.integers(0, len(ids), (n, 2)) if a != b]
    rows: list[tuple[str, str]] = [("trip updates per message", f"{n_updates:,}")]

    with TestClient(create_app(service=svc), raise_server_exceptions=False) as c:
        def plan(i: int) -> tuple[float, float]:
            a, b = pairs[i % len(pairs)]
            c0, t = time.process_time(), time.perf_counter()
            r = c.get("/v1/plan", params={"from": f"stop:{a}", "to": f"stop:{b}",
                                          "depart_at": depart.isoformat()})
            assert r.status_code in (200, 404, 422), r.text
            return time.perf_counter() - t, time.process_time() - c0

        for i in range(min(20, len(pairs))):
            plan(i)
        without = [plan(i) for i in range(len(pairs))]

        ingest, ingest_plan, cpu = [], [], []
        for k in range(max(n // 4, 10)):
            body = _restamped(msg, ts + 1 + k)
            c0 = time.process_time()
            t = time.perf_counter()
            r = c.post(f"/v1/realtime/{feed}", content=body, headers=auth | PROTO)
            t1 = time.perf_counter()
            assert r.status_code == 200 and r.json()["applied"]["applied"], r.text
            plan(k)
            ingest.append(t1 - t)
            ingest_plan.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c0)
        for i in range(min(20, len(pairs))):
            plan(i)
        with_rt = [plan(i) for i in range(len(pairs))]
    svc.close()
    m0, m1 = (float(np.median([c for _, c in x])) for x in (without, with_rt))
    rows += [("ingest (POST, applied)", percentiles_row(ingest)),
             ("ingest → plan on the new state", percentiles_row(ingest_plan)),
             ("  CPU time of the process for it", percentiles_row(cpu)
              + f"  (load average {os.getloadavg()[0]:.1f})"),
             ("plan, no realtime", percentiles_row([w for w, _ in without])
              + f"  (CPU median {m0 * 1000:.2f} ms)"),
             ("plan, with realtime", percentiles_row([w for w, _ in with_rt])
              + f"  (CPU median {m1 * 1000:.2f} ms)"),
             ("ratio with / without (CPU time, median)", f"×{m1 / m0:.2f}")]
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="60 plans per city")
    ap.add_argument("--city", choices=("bart", "nky", "hart", "all"), default="all")
    ap.add_argument("--gc-freeze", action="store_true",
                    help="gc.freeze() after loading (as `citynav serve` does)")
    args = ap.parse_args()
    n = 60 if args.quick else 300
    cities = ("bart", "nky", "hart") if args.city == "all" else (args.city,)
    for city in cities:
        print_table(f"{city}: GTFS-Realtime in, plans out", run_city(city, n, args.gc_freeze))


if __name__ == "__main__":
    main()
