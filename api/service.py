"""The objects a running server holds: the snapshot, routers and (later) the incident store.

Built once at start-up by :func:`load_service`; request handlers read them through
``request.app.state.service``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from incidents.engine import IncidentEngine
from incidents.store import IncidentStore, open_store
from routing.plan import Planner, TransitData
from routing.road import DEFAULT_MAX_SNAP_M, RoadRouter
from routing.snapshot import Snapshot, load_snapshot


@dataclass
class Service:
    """Everything a request handler needs."""

    snapshot: Snapshot
    road: RoadRouter
    planner: Planner | None = None
    store: IncidentStore | None = None
    engine: IncidentEngine | None = None
    typical: object | None = None  # routing.timedep.TypicalSpeeds
    tz: str = "UTC"  # the city's IANA timezone (the snapshot's; naive times are read in it)

    _congestion: object | None = None

    def congestion_map(self):
        """The (lazily built) congestion map of the car network."""
        if self._congestion is None:
            from routing.congestion import CongestionMap

            self._congestion = CongestionMap(self.snapshot)
        return self._congestion

    def close(self) -> None:
        """Stop background work and close the incident store."""
        if self.engine is not None:
            self.engine.stop()
        if self.store is not None:
            self.store.close()


def default_db_url(snapshot_dir: str | Path) -> str:
    """The embedded default: an SQLite file beside the snapshot directory."""
    p = Path(snapshot_dir).absolute()
    return f"sqlite:///{p.parent / (p.name + '.incidents.db')}"


def load_service(snapshot_dir: str | Path, max_snap_m: float = DEFAULT_MAX_SNAP_M,
                 db_url: str | None = None, incidents: bool = True) -> Service:
    """Open a snapshot (memory maps), prepare the routers and, unless ``incidents`` is
    false, open the incident store (``db_url``, default SQLite beside the snapshot) and
    apply the incidents in effect now. ``Service.tz`` is the snapshot's timezone. Raises
    :class:`routing.snapshot.SnapshotError` for an unusable snapshot and
    :class:`routing.timedep.TrafficDataError` when its typical speeds belong to another
    snapshot."""
    snap = load_snapshot(snapshot_dir)
    road = RoadRouter(snap, max_snap_m=max_snap_m)
    # Compile the numba kernels and touch the CCH once so the first request is fast.
    _warm(road)
    transit = TransitData.load(Path(snapshot_dir))
    planner = Planner(snap, road, transit) if transit is not None else None
    # The city's zone, recorded at build time (older snapshots: looked up from the bbox).
    svc = Service(snapshot=snap, road=road, planner=planner, tz=snap.timezone)
    typical_dir = Path(snapshot_dir) / "traffic" / "typical"
    if typical_dir.is_dir():
        from routing.timedep import TypicalSpeeds

        # Refuses (TrafficDataError) typical speeds that belong to another snapshot.
        svc.typical = TypicalSpeeds.load(typical_dir, snapshot_id=snap.snapshot_id)
    if incidents:
        svc.store = open_store(db_url or default_db_url(snapshot_dir))
        svc.engine = IncidentEngine(svc.store, road, planner)
        svc.engine.sync()
    return svc


def _warm(road: RoadRouter) -> None:
    import numpy as np

    lat, lon = float(np.asarray(road.snapshot.node_lat)[0]), float(
        np.asarray(road.snapshot.node_lon)[0])
    for mode in road.modes:
        # warm-up only: a failure here (e.g. an odd first node) surfaces on real requests
        with contextlib.suppress(Exception):
            road.route(lat, lon, lat + 1e-4, lon + 1e-4, mode)
