"""Compile the numba kernels once, ahead of serving: ``python -m api.warmup`` (run by
``make install``). The kernels are cached on disk (``cache=True``), so a server start, a CLI
command or a test run afterwards loads them instead of compiling them (about 85 s of silent
compilation otherwise, on the first request of each kind)."""

from __future__ import annotations

import contextlib
import sys
import time


def warm(snapshot_dir: str | None = None) -> float:
    """Build the bundled sample city if needed, load it and run one answer of each kind
    (route per mode, a later departure, a transit plan) and make its vector tile source;
    returns the seconds it took."""
    from datetime import datetime, timedelta

    from api import operations
    from api.sample import ensure_sample_snapshot
    from api.service import load_service
    from routing.plan import PlanRequest

    t0 = time.perf_counter()
    snap = snapshot_dir or ensure_sample_snapshot()
    svc = load_service(snap, incidents=False)  # compiles the road kernels (load_service warms)
    state = svc.state()
    svc.tiles()  # the vector tile source loads (the first time: compiles) its kernels
    lat, lon = 39.0837, -84.5086
    # another city than the bundled one may not have these points: the kernels compile
    # all the same, so a failed answer is fine here
    for mode in svc.road.modes:
        with contextlib.suppress(Exception):
            svc.road.route(state, mode, lat, lon, 39.0912, -84.4960)
    later = svc.clock.now() + timedelta(hours=3)
    with contextlib.suppress(Exception):
        operations.route(svc, state, operations.RouteQuery((lat, lon), (39.0912, -84.4960),
                                                            "car", later, 1))
    if svc.planner is not None:
        with contextlib.suppress(Exception):
            t = datetime.fromisoformat("2020-01-15T08:00:00-05:00")
            operations.plan(svc, state, PlanRequest((lat, lon), (39.0412, -84.4960), t,
                                                    window_s=1800))
    return time.perf_counter() - t0


def main() -> None:
    """Print a progress line, warm, print the time."""
    print("citynav: compiling the routing kernels once (cached on disk; about 1-2 min the "
          "first time)…", file=sys.stderr, flush=True)
    s = warm(sys.argv[1] if len(sys.argv) > 1 else None)
    print(f"citynav: kernels ready ({s:.0f} s)", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
