"""The objects a running server holds: the snapshot, routers and (later) the incident store.

Built once at start-up by :func:`load_service`; request handlers read them through
``request.app.state.service``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from routing.plan import Planner, TransitData
from routing.road import DEFAULT_MAX_SNAP_M, RoadRouter
from routing.snapshot import Snapshot, load_snapshot


@dataclass
class Service:
    """Everything a request handler needs."""

    snapshot: Snapshot
    road: RoadRouter
    planner: Planner | None = None


def load_service(snapshot_dir: str | Path, max_snap_m: float = DEFAULT_MAX_SNAP_M) -> Service:
    """Open a snapshot (memory maps) and prepare the routers."""
    snap = load_snapshot(snapshot_dir)
    road = RoadRouter(snap, max_snap_m=max_snap_m)
    # Compile the numba kernels and touch the CCH once so the first request is fast.
    _warm(road)
    transit = TransitData.load(Path(snapshot_dir))
    planner = Planner(snap, road, transit) if transit is not None else None
    return Service(snapshot=snap, road=road, planner=planner)


def _warm(road: RoadRouter) -> None:
    import numpy as np

    lat, lon = float(np.asarray(road.snapshot.node_lat)[0]), float(
        np.asarray(road.snapshot.node_lon)[0])
    for mode in road.modes:
        # warm-up only: a failure here (e.g. an odd first node) surfaces on real requests
        with contextlib.suppress(Exception):
            road.route(lat, lon, lat + 1e-4, lon + 1e-4, mode)
