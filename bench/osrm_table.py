"""OSRM ``table`` timing for bench/matrix.py, run in its own Python 3.12 virtualenv (the
``osrm-bindings`` wheels are 3.12-only): reads ``{"osrm": PATH, "points": [[lon, lat], ...],
"sizes": [[n_sources, n_targets], ...], "repeat": R}`` as JSON on stdin and prints per size
the seconds of each repetition and the durations of the first (JSON on stdout).

Not imported by citynav; bench/matrix.py starts it with the 3.12 interpreter.
"""

import json
import sys
import time

import osrm


def main() -> None:
    """Time CH table queries on the given OD points."""
    job = json.load(sys.stdin)
    engine = osrm.OSRM(storage_config=job["osrm"], algorithm="CH", use_shared_memory=False,
                       max_locations_distance_table=100_000)
    pts = [tuple(p) for p in job["points"]]
    out = []
    for n, m in job["sizes"]:
        coords = pts[:n] + pts[n:n + m]
        tp = osrm.TableParameters(coordinates=coords, sources=list(range(n)),
                                  destinations=list(range(n, n + m)))
        engine.Table(tp)  # warm-up
        times = []
        first = None
        for _ in range(job["repeat"]):
            t = time.perf_counter()
            res = engine.Table(tp)
            times.append(time.perf_counter() - t)
            if first is None:
                first = res["durations"]
        out.append({"size": [n, m], "seconds": times,
                    "durations": [[None if v is None else float(v) for v in row]
                                  for row in first]})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
