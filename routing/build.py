"""``citynav build``: OSM (+ GTFS) → a snapshot directory, atomically.

Steps: read OSM → segments and per-mode graphs → CCH orders → (transit: compile GTFS,
link stops to the walk graph, walking transfers) → write arrays → rename into place.
Any failure removes the temporary directory, so the target is either the old snapshot
or a complete new one.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from routing.graph import RoadNetwork, build_network
from routing.kernels.cch import compute_order
from routing.osm import OsmError, read_osm
from routing.snapshot import BUILD_VERSION, SnapshotWriter, file_sha256

#: progress(step_label, done, total)
Progress = Callable[[str, int, int], None]


def _noop(step: str, done: int, total: int) -> None:
    return None


def network_orders(net: RoadNetwork, progress: Progress = _noop) -> dict[str, np.ndarray]:
    """Compute the CCH contraction order of every mode's kernel graph."""
    orders = {}
    for i, (mode, g) in enumerate(net.modes.items()):
        progress(f"CCH order ({mode})", i, len(net.modes))
        kn = g.knode_junction
        orders[mode] = compute_order(g.kernel_node_count, g.arc_tail, g.arc_head,
                                     net.node_lat[kn], net.node_lon[kn])
    progress("CCH order", len(net.modes), len(net.modes))
    return orders


def build_snapshot(osm_path: str | os.PathLike[str], out_dir: str | os.PathLike[str],
                   gtfs_paths: Sequence[str | os.PathLike[str]] = (),
                   progress: Progress = _noop,
                   traffic_path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Build a snapshot from one OSM extract (and optional GTFS feeds) into ``out_dir``.

    Returns the snapshot's metadata. Raises :class:`routing.osm.OsmError` for unusable OSM
    input and the GTFS layer's errors for unusable feeds; nothing is written then.
    """
    t0 = time.perf_counter()
    progress("reading OSM", 0, 1)
    osm = read_osm(osm_path)
    progress("reading OSM", 1, 1)
    net = build_network(osm, progress=lambda s, i, n: progress(f"graph: {s}", i, n))
    if all(g.stats["edges"] == 0 for g in net.modes.values()):
        raise OsmError(osm_path, "no way is routable by car, bike or walk")
    orders = network_orders(net, progress)
    writer = SnapshotWriter(Path(out_dir))
    try:
        progress("writing snapshot", 0, 1)
        writer.write_network(net, orders)
        sources = [{"kind": "osm", "path": str(osm_path), "sha256": file_sha256(osm_path),
                    "bytes": Path(osm_path).stat().st_size}]
        transit_meta: dict[str, Any] | None = None
        if gtfs_paths:
            from routing.transit_build import build_transit  # noqa: PLC0415 (optional step)

            transit_meta = build_transit(gtfs_paths, net, writer.subdir("transit"), progress)
            for gp in gtfs_paths:
                sources.append({"kind": "gtfs", "path": str(gp), "sha256": file_sha256(gp),
                                "bytes": Path(gp).stat().st_size})
        digest = hashlib.sha256(
            (BUILD_VERSION + "".join(s["sha256"] for s in sources)).encode()).hexdigest()
        meta: dict[str, Any] = {
            "snapshot_id": digest[:16],
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "sources": sources,
            "bbox": [float(net.node_lon.min()), float(net.node_lat.min()),
                     float(net.node_lon.max()), float(net.node_lat.max())],
            "counts": {
                **net.stats,
                **{f"{m}_{k}": v for m, g in net.modes.items() for k, v in g.stats.items()},
            },
            "osm_read": dict(osm.stats),
            "transit": transit_meta,
            "build_seconds": None,
        }
        meta["build_seconds"] = round(time.perf_counter() - t0, 2)
        writer.commit(meta)
        progress("writing snapshot", 1, 1)
    except BaseException:
        writer.abort()
        raise
    if traffic_path is not None:
        progress("typical speeds", 0, 1)
        meta["traffic"] = add_typical_speeds(Path(out_dir), traffic_path)
        progress("typical speeds", 1, 1)
    return meta


def add_typical_speeds(snapshot_dir: Path, traffic_path: str | os.PathLike[str]
                       ) -> dict[str, Any]:
    """Load speed observations (CSV/Parquet) into ``SNAPSHOT/traffic/typical`` (written to a
    temporary directory and renamed into place). Returns the load report as a dict."""
    import shutil
    import tempfile

    from routing.snapshot import load_snapshot
    from routing.timedep import load_observations

    snap = load_snapshot(snapshot_dir)
    typical, report = load_observations(snap, traffic_path)
    target = Path(snapshot_dir) / "traffic" / "typical"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".typical-", dir=target.parent))
    try:
        typical.save(tmp)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"source": str(traffic_path), "sha256": file_sha256(traffic_path),
            "summary": report.summary()}
