"""OSRM ``route`` timing for bench/road.py, run in its own Python 3.12 virtualenv (the
``osrm-bindings`` wheels are 3.12-only): reads ``{"osrm": PATH, "pairs": [[lon, lat, lon,
lat], ...], "repeat": R}`` as JSON on stdin and prints, per pair, the best of R in-process
route answers (seconds; steps and full GeoJSON geometry, as citynav's full answer has) and
the route's duration and distance (``null`` when OSRM finds none), as JSON on stdout.

Not imported by citynav; bench/road.py starts it with the 3.12 interpreter.
"""

import json
import sys
import time

import osrm


def main() -> None:
    """Time CH route queries on the given pairs."""
    job = json.load(sys.stdin)
    engine = osrm.OSRM(storage_config=job["osrm"], algorithm="CH", use_shared_memory=False)
    out = []
    for k, (a, b, c, d) in enumerate(job["pairs"]):
        params = osrm.RouteParameters(coordinates=[(a, b), (c, d)], steps=True,
                                      geometries="geojson", overview="full")
        if k < 5:
            engine.Route(params)  # warm-up
        best = None
        res = None
        for _ in range(job["repeat"]):
            t = time.perf_counter()
            try:
                res = engine.Route(params)
            except RuntimeError:
                res = None
            dt = time.perf_counter() - t
            best = dt if best is None else min(best, dt)
        route = res["routes"][0] if res is not None and len(res["routes"]) else None
        out.append({"seconds": best,
                    "duration_s": None if route is None else float(route["duration"]),
                    "distance_m": None if route is None else float(route["distance"])})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
