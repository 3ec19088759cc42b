"""OSRM ``route`` timing for bench/road.py, run in its own Python 3.12 virtualenv (the
``osrm-bindings`` wheels are 3.12-only). Started with the path of a ``.osrm`` dataset; then
reads one pair per line on stdin (JSON ``[lon, lat, lon, lat]``) and answers each with one
line of JSON: the in-process route answer's wall and thread CPU seconds (steps and full
GeoJSON geometry, as citynav's full answer has) and the route's duration and distance
(``null`` when OSRM finds none). bench/road.py alternates its own answers with these, so both
are timed under the same machine load.

Not imported by citynav.
"""

import json
import sys
import time

import osrm


def main() -> None:
    """Serve timed CH route queries, one per input line."""
    engine = osrm.OSRM(storage_config=sys.argv[1], algorithm="CH", use_shared_memory=False)
    for line in sys.stdin:
        a, b, c, d = json.loads(line)
        params = osrm.RouteParameters(
            coordinates=[(a, b), (c, d)], steps=True, geometries="geojson", overview="full"
        )
        t, cpu = time.perf_counter(), time.thread_time()
        try:
            res = engine.Route(params)
        except RuntimeError:
            res = None
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - t
        route = res["routes"][0] if res is not None and len(res["routes"]) else None
        print(
            json.dumps(
                {
                    "wall_s": wall,
                    "cpu_s": cpu,
                    "duration_s": None if route is None else float(route["duration"]),
                    "distance_m": None if route is None else float(route["distance"]),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
