"""Compile the numba kernels once, ahead of serving: ``python -m api.warmup`` (run by
``make install``). The kernels are cached on disk (``cache=True``), so a server start, a CLI
command or a test run afterwards loads them instead of compiling them (about 85 s of silent
compilation otherwise, on the first request of each kind)."""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import time
from typing import Any

#: Seconds to compile one kernel the first time (about 85 s for the ~40 kernel signatures on
#: this machine's kind of core); only for the estimate printed before compiling.
SECONDS_PER_KERNEL = 2.2
#: The packages whose numba kernels the server uses.
PACKAGES = ("routing", "gtfs", "incidents")


def kernels() -> list[Any]:
    """Every numba dispatcher (``@njit(cache=True)``) defined in citynav's packages (imports
    each module once; build modules included, as ``citynav build`` uses their kernels)."""
    from numba.core.registry import CPUDispatcher

    out: list[Any] = []
    for pkg_name in PACKAGES:
        pkg = importlib.import_module(pkg_name)
        for info in pkgutil.walk_packages(pkg.__path__, pkg_name + "."):
            try:
                mod = importlib.import_module(info.name)
            except ImportError:  # a module of an optional extra that is not installed
                continue
            out.extend(v for v in vars(mod).values()
                       if isinstance(v, CPUDispatcher) and v.__module__ == info.name)
    return out


def _inner(dispatchers: list[Any]) -> set[int]:
    """Ids of the dispatchers another kernel calls: numba compiles those into their callers,
    so they get no cache index of their own unless Python calls them directly."""
    out: set[int] = set()
    for d in dispatchers:
        glb = d.py_func.__globals__
        out.update(id(glb[n]) for n in d.py_func.__code__.co_names
                   if n in glb and glb[n] is not d and glb[n] in dispatchers)
    return out


def uncached(dispatchers: list[Any]) -> list[Any]:
    """The dispatchers without an on-disk cache index yet (their first use compiles), but
    for helpers only called from other kernels (compiled with those)."""
    inner = _inner(dispatchers)
    out = []
    for d in dispatchers:
        if id(d) in inner:
            continue
        cache = getattr(d, "_cache", None)
        index = getattr(getattr(cache, "_cache_file", None), "_index_path", None)
        if index is None or not os.path.exists(index):
            out.append(d)
    return out


def warm(snapshot_dir: str | None = None) -> float:
    """Build the bundled sample city if needed, load it and run one answer of each kind the
    server compiles kernels for: a route per mode, a time-dependent car route (a later
    departure), a matrix and an isochrone, a transit plan, and make its vector tile source;
    returns the seconds it took. Another city than the bundled one may not have the sample's
    points: the kernels compile all the same (a failed answer is reported on stderr, not
    raised)."""
    from datetime import datetime, timedelta

    from api import operations
    from api.sample import ensure_sample_snapshot
    from api.service import load_service
    from routing.plan import PlanRequest

    t0 = time.perf_counter()
    snap = snapshot_dir or ensure_sample_snapshot()
    svc = load_service(snap, incidents=False)  # compiles the road kernels (load_service warms)
    state = svc.state()
    a, b = (39.0837, -84.5086), (39.0912, -84.4960)

    def attempt(what: str, fn: Any) -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - report and go on: the kernels compiled
            print(f"citynav: warm-up {what}: {type(exc).__name__}: {exc}", file=sys.stderr)

    attempt("tile source", svc.tiles)  # loads (the first time: compiles) the tile kernels
    for mode in svc.road.modes:
        attempt(f"{mode} route", lambda mode=mode: svc.road.route(state, mode, *a, *b))
    later = svc.clock.now() + timedelta(hours=3)
    attempt("later car route", lambda: operations.route(
        svc, state, operations.RouteQuery(a, b, "car", later)))
    if "car" in svc.road.modes:
        reach, contours = svc.reach()
        attempt("matrix", lambda: reach.road_matrix(state, "car", [a], [b]))

        def isochrone() -> None:
            rr = reach.road_times(state, "car", *a, 600.0)
            contours.contours(rr, [5.0, 10.0])

        attempt("isochrone", isochrone)
    if svc.publisher.typical is not None:  # typical speeds read at a time of day
        from routing.kernels.td import interp_bins

        interp_bins(0)
    if svc.planner is not None:
        planner = svc.planner
        t = datetime.fromisoformat("2020-01-15T08:00:00-05:00")
        attempt("transit plan", lambda: operations.plan(
            svc, state, PlanRequest(a, (39.0412, -84.4960), t, window_s=1800)))
        del planner
    return time.perf_counter() - t0


def main() -> None:
    """Print a progress line (how many kernels compile, and about how long), warm, print the
    time."""
    t0 = time.perf_counter()
    every = kernels()
    todo = uncached(every)
    if todo:
        print(f"citynav: compiling routing kernels (one-time, ~{len(todo) * SECONDS_PER_KERNEL:.0f}"
              f" s: {len(todo)} of {len(every)} not cached yet; later starts load them from "
              "disk)…", file=sys.stderr, flush=True)
    else:
        print(f"citynav: routing kernels already compiled ({len(every)} cached); loading the "
              "sample city once…", file=sys.stderr, flush=True)
    s = warm(sys.argv[1] if len(sys.argv) > 1 else None)
    left = len(uncached(every))
    note = f"; {left} kernels the warm-up did not reach compile on first use" if left else ""
    print(f"citynav: kernels ready ({time.perf_counter() - t0:.0f} s, warm-up {s:.0f} s{note})",
          file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
