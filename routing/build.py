"""``citynav build``: OSM (+ GTFS) → a snapshot directory, atomically.

Steps: read OSM → segments and per-mode graphs → CCH orders → (transit: compile GTFS,
link stops to the walk graph, walking transfers) → write arrays → timezone → named places
for the geocoder (``places/places.json``, bound to the snapshot_id) → (typical speeds, bound
to the snapshot_id) → meta.json → rename into place. Any failure removes the
temporary directory, so the target is either the old snapshot or a complete new one.

GTFS without OSM builds a transit-only snapshot (``"road": false``): compile GTFS,
straight-line walking transfers, timezone from the agency, meta.json, rename.
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
from routing.places import PLACES_FILE, PLACES_VERSION, read_places, write_places
from routing.snapshot import BUILD_VERSION, SnapshotWriter, file_sha256
from routing.straight_walk import WALK_DETOUR_FACTOR
from routing.timezones import resolve_timezone, validate_timezone

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


class BuildInputError(ValueError):
    """The combination of build inputs cannot make a snapshot (e.g. neither OSM nor GTFS)."""


def build_snapshot(osm_path: str | os.PathLike[str] | None, out_dir: str | os.PathLike[str],
                   gtfs_paths: Sequence[str | os.PathLike[str]] = (),
                   progress: Progress = _noop,
                   traffic_path: str | os.PathLike[str] | None = None,
                   timezone: str | None = None) -> dict[str, Any]:
    """Build a snapshot from one OSM extract (and optional GTFS feeds and typical speed
    observations) into ``out_dir``, atomically: everything, typical speeds included, is
    written to a temporary directory that is renamed into place at the end.

    ``timezone``: the city's IANA zone; default the agency timezone of the first GTFS feed
    with a stop on the map (linked to a street), else the zone at the network's bbox centre
    (offline lookup). The snapshot_id covers every source file (OSM, GTFS, traffic), the
    timezone and the places file's layout; the named places the geocoder searches
    (:mod:`routing.places`) are written next to the arrays and recorded in ``meta["places"]``.

    Without ``osm_path`` (``None``) the snapshot is **transit-only**: see
    :func:`build_transit_only_snapshot`.

    Returns the snapshot's metadata. Raises :class:`routing.timezones.TimezoneError` for an
    unknown ``timezone`` (before reading anything), :class:`routing.osm.OsmError` for
    unusable OSM input, :class:`routing.typical.TrafficDataError` for an unusable traffic
    file, :class:`BuildInputError` for inputs that make no snapshot, and the GTFS layer's
    errors for unusable feeds; nothing is written then.
    """
    if osm_path is None:
        if traffic_path is not None:
            raise BuildInputError("typical speeds (--traffic) need a street network: give "
                                  "--osm too")
        return build_transit_only_snapshot(out_dir, gtfs_paths, progress, timezone)
    t0 = time.perf_counter()
    tz_option = validate_timezone(timezone) if timezone is not None else None
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
        sources = [_source("osm", osm_path)]
        transit_meta: dict[str, Any] | None = None
        if gtfs_paths:
            from routing.transit_build import build_transit  # noqa: PLC0415 (optional step)

            transit_meta = build_transit(gtfs_paths, net, writer.subdir("transit"), progress)
            sources.extend(_source("gtfs", gp) for gp in gtfs_paths)
        if traffic_path is not None:
            sources.append(_source("traffic", traffic_path))
        bbox = [float(net.node_lon.min()), float(net.node_lat.min()),
                float(net.node_lon.max()), float(net.node_lat.max())]
        tz, tz_source = resolve_timezone(tz_option, _feeds_on_map(transit_meta), bbox,
                                         net.node_lon, net.node_lat)
        digest = hashlib.sha256((BUILD_VERSION + "".join(s["sha256"] for s in sources)
                                 + f"|tz={tz}|places={PLACES_VERSION}").encode()).hexdigest()
        progress("named places", 0, 1)
        places = read_places(osm_path)
        write_places(places, writer.tmp, digest[:16])
        progress("named places", 1, 1)
        meta: dict[str, Any] = {
            "snapshot_id": digest[:16],
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "sources": sources,
            "bbox": bbox,
            "timezone": tz,
            "timezone_source": tz_source,
            "counts": {
                **net.stats,
                **{f"{m}_{k}": v for m, g in net.modes.items() for k, v in g.stats.items()},
            },
            "osm_read": dict(osm.stats),
            "road": True,
            "places": {"file": str(PLACES_FILE), "count": len(places),
                       "by_key": dict(sorted(places.stats.items()))},
            "transit": transit_meta,
            "traffic": None,
            "build_seconds": None,
        }
        if traffic_path is not None:
            progress("typical speeds", 0, 1)
            meta["traffic"] = write_typical_speeds(writer, meta, traffic_path)
            progress("typical speeds", 1, 1)
        meta["build_seconds"] = round(time.perf_counter() - t0, 2)
        writer.commit(meta)
        progress("writing snapshot", 1, 1)
    except BaseException:
        writer.abort()
        raise
    return meta


def build_transit_only_snapshot(out_dir: str | os.PathLike[str],
                                gtfs_paths: Sequence[str | os.PathLike[str]],
                                progress: Progress = _noop,
                                timezone: str | None = None) -> dict[str, Any]:
    """Build a snapshot from GTFS feeds alone (no street network) into ``out_dir``,
    atomically.

    The snapshot plans stop to stop and from coordinates with straight-line walking
    (:mod:`routing.straight_walk`: straight line × :data:`WALK_DETOUR_FACTOR` at the walking
    speed) for access, egress and transfers; it has no road modes. ``meta.json`` records
    ``"road": false`` and the walking model (``walking``); ``bbox`` is that of the stops;
    the timezone is ``timezone`` or the first feed's agency timezone.

    Raises :class:`BuildInputError` without feeds, :class:`routing.timezones.TimezoneError`
    for an unknown ``timezone`` and the GTFS layer's errors; nothing is written then.
    """
    from routing.transit_build import (  # noqa: PLC0415 (optional step)
        TRANSFER_MAX_M,
        WALK_DEFAULT_MPS,
        build_transit_straight_line,
    )

    if not gtfs_paths:
        raise BuildInputError("nothing to build: give an OSM extract (--osm), GTFS feeds "
                              "(--gtfs), or both")
    t0 = time.perf_counter()
    tz_option = validate_timezone(timezone) if timezone is not None else None
    writer = SnapshotWriter(Path(out_dir))
    try:
        progress("writing snapshot", 0, 1)
        transit_meta = build_transit_straight_line(gtfs_paths, writer.subdir("transit"),
                                                   progress, WALK_DETOUR_FACTOR)
        sources = [_source("gtfs", gp) for gp in gtfs_paths]
        bbox = _stops_bbox(writer.tmp / "transit")
        tz, tz_source = resolve_timezone(tz_option, transit_meta.get("feeds", []), bbox)
        digest = hashlib.sha256((BUILD_VERSION + "|transit-only"
                                 + "".join(s["sha256"] for s in sources)
                                 + f"|tz={tz}").encode()).hexdigest()
        meta: dict[str, Any] = {
            "snapshot_id": digest[:16],
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "sources": sources,
            "bbox": bbox,
            "timezone": tz,
            "timezone_source": tz_source,
            "counts": {},
            "road": False,
            "walking": {"model": "straight_line", "detour_factor": WALK_DETOUR_FACTOR,
                        "default_speed_mps": round(WALK_DEFAULT_MPS, 4),
                        "transfer_max_m": TRANSFER_MAX_M},
            "transit": transit_meta,
            "traffic": None,
            "build_seconds": None,
        }
        meta["build_seconds"] = round(time.perf_counter() - t0, 2)
        writer.commit(meta)
        progress("writing snapshot", 1, 1)
    except BaseException:
        writer.abort()
        raise
    return meta


def _stops_bbox(transit_dir: Path) -> list[float]:
    """``[west, south, east, north]`` of the compiled stops (degrees)."""
    from gtfs.timetable import Timetable  # noqa: PLC0415 (optional step)

    tt = Timetable.load(transit_dir / "timetable")
    lon = np.asarray(tt.arrays["stop_lon"], np.float64)
    lat = np.asarray(tt.arrays["stop_lat"], np.float64)
    if lon.shape[0] == 0:
        raise BuildInputError("the GTFS feeds have no stop to route between")
    return [float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())]


def _feeds_on_map(transit_meta: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The compiled feeds, in order, less those with no stop linked to the street network
    (a feed for another city must not set this city's timezone)."""
    if not transit_meta:
        return []
    unlinked = transit_meta.get("unlinked_stops", {})
    return [f for f in transit_meta.get("feeds", [])
            if (u := unlinked.get(f["name"])) is None or u["unlinked"] < u["stops"]]


def _source(kind: str, path: str | os.PathLike[str]) -> dict[str, Any]:
    return {"kind": kind, "path": str(path), "sha256": file_sha256(path),
            "bytes": Path(path).stat().st_size}


def write_typical_speeds(writer: SnapshotWriter, meta: dict[str, Any],
                         traffic_path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load speed observations (CSV/Parquet) against the network written so far and save
    them into the uncommitted snapshot's ``traffic/typical`` (their own ``meta.json`` records
    ``meta["snapshot_id"]`` and the file's sha256). Returns the load report for
    ``meta.json`` ``traffic``. Raises :class:`routing.typical.TrafficDataError`."""
    from routing.typical_ingest import load_observations  # noqa: PLC0415 optional step

    sha = file_sha256(traffic_path)
    typical, report = load_observations(writer.open(meta), traffic_path)
    typical.meta.update(source_sha256=sha)
    typical.save(writer.subdir("traffic") / "typical")
    return {"source": str(traffic_path), "sha256": sha, "rows_read": report.rows_read,
            "rows_used": report.rows_used, "rows_skipped": dict(sorted(report.skipped.items())),
            "edges_with_data": report.edges_with_data, "summary": report.summary()}
