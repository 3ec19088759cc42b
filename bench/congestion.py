"""Congestion guidance benchmark on northern Kentucky (in-process, the service's own code):

* a batch of 10,000 segment speed observations: POST /v1/traffic/speeds until routes use
  them (target ≤ 1 s);
* the whole-city congestion GeoJSON (build, target ≤ 300 ms) and over HTTP;
* a car route with 3 alternatives (median target ≤ 20 ms) against a single route, both on
  the request's one state;
* a time-dependent route (median target ≤ 5 ms) against the static route, same pairs:
  ``td_route`` on the state at the departure, and that state's derivation
  (``publisher.at``) timed apart and together.

Each figure is printed beside the previous one (the run before the routing-state refactor:
README Benchmarks / last closing note).

    python bench/congestion.py [--quick]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import stats_ms  # noqa: E402

#: Figures of the previous run (median, p95 in ms; ranges where two runs were reported).
PREVIOUS = {
    "speeds": "147 / 191",
    "geojson": "196–205 / 220–228",
    "alternatives": "9.3 / 16.2",
    "td": "2.0 / 4.2",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n = 60 if args.quick else 300

    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.service import load_service
    from incidents.keys import create_key
    from routing.build import build_snapshot
    from routing.road import RoutingError
    from routing.tdroute import td_route

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
        batch_t, post_t = [], []
        for rep in range(5 if args.quick else 10):
            now = datetime.now(UTC).isoformat()
            pick = rng.choice(ways, 10_000)
            obs = [{"ref": {"way_id": int(w), "direction": "forward"},
                    "speed_kmh": float(s), "observed_at": now}
                   for w, s in zip(pick, rng.uniform(5, 60, 10_000), strict=True)]
            body = {"observations": obs}
            t = time.perf_counter()
            r = c.post("/v1/traffic/speeds", json=body, headers=hdr)
            post_t.append(time.perf_counter() - t)
            v = r.json()["live_version"]
            a, b = pairs[rep]
            route = c.get("/v1/route", params={"from": f"{lat[a]},{lon[a]}",
                                               "to": f"{lat[b]},{lon[b]}"}).json()
            batch_t.append(time.perf_counter() - t)
            assert route["live_version"] >= v
        # (2) whole-city congestion GeoJSON
        cm = svc.congestion_map()
        enc = svc.congestion_geojson()
        st = svc.state()
        build, http = [], []
        for _ in range(5 if args.quick else 10):
            t = time.perf_counter()
            body = enc.encode(cm.edges(st, None))
            build.append(time.perf_counter() - t)
            t = time.perf_counter()
            resp = c.get("/v1/congestion", headers={"Accept-Encoding": "gzip"})
            http.append(time.perf_counter() - t)
        n_feat = body.count(b'"Feature"')
        # (3) alternatives vs single route; (4) TD vs static route
        single, alts, td, td_state, n_alts = [], [], [], [], []
        t0 = datetime(2030, 1, 16, 7, 0, tzinfo=UTC)
        for a, b in pairs:
            p = (float(lat[a]), float(lon[a]), float(lat[b]), float(lon[b]))
            try:
                t = time.perf_counter()
                st = svc.state()  # one state per request, as the API takes it
                svc.road.route(st, "car", *p)
                single.append(time.perf_counter() - t)
                t = time.perf_counter()
                st = svc.state()
                rs = svc.road.alternatives(st, "car", *p, 4)
                alts.append(time.perf_counter() - t)
                n_alts.append(len(rs) - 1)
                dep = t0 + timedelta(minutes=int(rng.integers(0, 14 * 60)))
                t = time.perf_counter()
                st_dep = svc.publisher.at(svc.state(), dep)
                t_state = time.perf_counter() - t
                t = time.perf_counter()
                td_route(svc.road, st_dep, *p, depart=dep)
                td.append(time.perf_counter() - t)
                td_state.append(t_state)
            except RoutingError:
                continue
    svc.close()
    shutil.rmtree(tmp, ignore_errors=True)
    bm, bp = stats_ms(batch_t)
    pm, pp = stats_ms(post_t)
    gm, gp = stats_ms(build)
    hm, hp = stats_ms(http)
    sm, sp = stats_ms(single)
    am, ap_ = stats_ms(alts)
    tm, tp = stats_ms(td)
    dm, dp = stats_ms(td_state)
    cm_, cp = stats_ms([x + y for x, y in zip(td_state, td, strict=True)])
    rows = [
        ("10,000 speeds: POST → route uses them", f"{bm:.0f} / {bp:.0f}", PREVIOUS["speeds"],
         "target ≤ 1000 ms"),
        ("  of which the POST", f"{pm:.0f} / {pp:.0f}", "", "validate, log, apply"),
        ("congestion GeoJSON, whole city (build)", f"{gm:.0f} / {gp:.0f}",
         PREVIOUS["geojson"], f"{n_feat:,} features; target ≤ 300 ms"),
        ("  same over HTTP (gzip, in-process)", f"{hm:.0f} / {hp:.0f}", "",
         f"{len(resp.content) / 1e6:.1f} MB before gzip"),
        ("route, no alternatives (baseline)", f"{sm:.2f} / {sp:.2f}", "", ""),
        ("route + 3 alternatives", f"{am:.2f} / {ap_:.2f}", PREVIOUS["alternatives"],
         f"×{am / sm:.0f} the baseline; target ≤ 20 ms; mean {np.mean(n_alts):.1f} "
         "alternatives found"),
        ("time-dependent route (td_route)", f"{tm:.2f} / {tp:.2f}", PREVIOUS["td"],
         f"×{tm / sm:.1f} the static route; target ≤ 5 ms"),
        ("  state at departure (publisher.at)", f"{dm:.2f} / {dp:.2f}", "",
         "weights of every mode at that instant"),
        ("  state + td_route (as the API)", f"{cm_:.2f} / {cp:.2f}", "",
         f"×{cm_ / sm:.1f} the static route"),
    ]
    w0 = max(len(r[0]) for r in rows) + 2
    print(f"\n== congestion guidance, northern-kentucky ({'quick' if args.quick else 'full'} "
          "run; median / p95 in ms) ==")
    print(f"  {'':<{w0}}{'now':>16}{'previous':>22}   note")
    for name, now_s, prev, note in rows:
        print(f"  {name:<{w0}}{now_s:>16}{prev:>22}   {note}")


if __name__ == "__main__":
    main()
