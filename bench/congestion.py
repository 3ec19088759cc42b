"""Congestion guidance benchmark on northern Kentucky (in-process, the service's own code):

* a batch of 10,000 segment speed observations: POST /v1/traffic/speeds until routes use
  them (target ≤ 1 s);
* the whole-city congestion GeoJSON (build, target ≤ 300 ms) and over HTTP;
* a car route with 3 alternatives (median target ≤ 20 ms) against a single route;
* a time-dependent route (median target ≤ 5 ms) against the static route, same pairs.

    python bench/congestion.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import print_table, stats_ms  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n = 60 if args.quick else 300

    from fastapi.testclient import TestClient
    from routing.timedep import td_route

    from api.app import create_app
    from api.service import load_service
    from incidents.keys import create_key
    from routing.build import build_snapshot
    from routing.road import RoutingError

    data = REPO / "data"
    tmp = Path(tempfile.mkdtemp(prefix="citynav-bench-congestion-"))
    build_snapshot(data / "northern-kentucky" / "nky_streets.osm.pbf", tmp / "snap",
                   [data / "northern-kentucky" / "nky_tank_gtfs.zip"],
                   traffic_path=data / "traffic" / "nky_sample_observations.csv")
    svc = load_service(tmp / "snap", db_url=f"sqlite:///{tmp / 'db.sqlite'}")
    key = create_key(svc.store, "traffic_centre", "BENCH")
    hdr = {"Authorization": f"Bearer {key}"}
    car = svc.road.modes["car"]
    rng = np.random.default_rng(5)
    seg_way = np.asarray(svc.snapshot.segments.way_id)[car.edge_seg]
    ways = np.unique(seg_way)
    lat = np.asarray(svc.snapshot.node_lat)
    lon = np.asarray(svc.snapshot.node_lon)
    tails = np.unique(np.asarray(car.arrays.edge_tail)[np.asarray(car.arrays.edge_snappable)])
    pairs = rng.choice(tails, size=(n, 2))
    with TestClient(create_app(service=svc)) as c:
        # (1) 10,000 speeds until routes use them
        batch_t = []
        for rep in range(5 if args.quick else 10):
            now = datetime.now(UTC).isoformat()
            pick = rng.choice(ways, 10_000)
            obs = [{"ref": {"way_id": int(w), "direction": "forward"},
                    "speed_kmh": float(s), "observed_at": now}
                   for w, s in zip(pick, rng.uniform(5, 60, 10_000), strict=True)]
            body = {"observations": obs}
            t = time.perf_counter()
            r = c.post("/v1/traffic/speeds", json=body, headers=hdr)
            v = r.json()["live_version"]
            a, b = pairs[rep]
            route = c.get("/v1/route", params={"from": f"{lat[a]},{lon[a]}",
                                               "to": f"{lat[b]},{lon[b]}"}).json()
            batch_t.append(time.perf_counter() - t)
            assert route["live_version"] >= v
        # (2) whole-city congestion GeoJSON
        cm = svc.congestion_map()
        st = svc.road.live_state
        w = svc.road.edge_weights("car")
        build, http = [], []
        for _ in range(5 if args.quick else 10):
            t = time.perf_counter()
            body = cm.geojson(st, w, None)
            build.append(time.perf_counter() - t)
            t = time.perf_counter()
            resp = c.get("/v1/congestion", headers={"Accept-Encoding": "gzip"})
            http.append(time.perf_counter() - t)
        n_feat = body.count(b'"Feature"')
        # (3) alternatives vs single route; (4) TD vs static route
        single, alts, td, n_alts = [], [], [], []
        t0 = datetime(2030, 1, 16, 7, 0, tzinfo=UTC)
        for k, (a, b) in enumerate(pairs):
            p = (float(lat[a]), float(lon[a]), float(lat[b]), float(lon[b]))
            try:
                t = time.perf_counter()
                svc.road.route(*p, "car")
                single.append(time.perf_counter() - t)
                t = time.perf_counter()
                rs = svc.road.alternatives(*p, "car", 4)
                alts.append(time.perf_counter() - t)
                n_alts.append(len(rs) - 1)
                dep = t0 + timedelta(minutes=int(rng.integers(0, 14 * 60)))
                t = time.perf_counter()
                td_route(svc.road, svc.typical, *p, dep, tz=svc.tz,
                         closed=svc.road.edge_weights("car"))
                td.append(time.perf_counter() - t)
            except RoutingError:
                continue
            del k
    svc.close()
    bm, bp = stats_ms(batch_t)
    gm, gp = stats_ms(build)
    hm, hp = stats_ms(http)
    sm, sp = stats_ms(single)
    am, ap_ = stats_ms(alts)
    tm, tp = stats_ms(td)
    print_table("congestion guidance, northern-kentucky", [
        ("10,000 speeds: POST → route uses them", f"median {bm:.0f} ms  p95 {bp:.0f} ms  "
                                                  "(target ≤ 1000 ms)"),
        ("congestion GeoJSON, whole city (build)", f"median {gm:.0f} ms  p95 {gp:.0f} ms  "
                                                   f"({n_feat:,} features; target ≤ 300 ms)"),
        ("  same over HTTP (gzip, in-process)", f"median {hm:.0f} ms  p95 {hp:.0f} ms  "
                                                f"({len(resp.content) / 1e6:.1f} MB before gzip)"),
        ("route, no alternatives (baseline)", f"median {sm:.2f} ms  p95 {sp:.2f} ms"),
        ("route + 3 alternatives", f"median {am:.2f} ms  p95 {ap_:.2f} ms  "
                                   f"(×{am / sm:.0f} the baseline; target ≤ 20 ms; "
                                   f"mean {np.mean(n_alts):.1f} alternatives found)"),
        ("time-dependent route", f"median {tm:.2f} ms  p95 {tp:.2f} ms  "
                                 f"(×{tm / sm:.1f} the static route; target ≤ 5 ms)"),
    ])


if __name__ == "__main__":
    main()
