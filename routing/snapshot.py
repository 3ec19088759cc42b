"""The network snapshot: a directory of plain ``.npy`` arrays plus ``meta.json``.

Written atomically (a temporary sibling directory renamed into place, so a failed build
leaves no half snapshot) and loaded with memory maps (start-up reads no array data).

Layout::

    DIR/meta.json                 sources (path, sha256, bytes), bbox, timezone, counts,
                                  versions (strict JSON: no NaN/Infinity)
    DIR/road/*.npy                junctions, segments, geometry, segment labels (name, ref,
                                  destination, destination:ref, junction:ref, footway) and
                                  junction exit numbers as int32 indices (-1 = none), and the
                                  junction → segment table (CSR) guidance reads forks from
    DIR/road/names.json           display names, highway classes, the label strings, and
                                  the conditions of conditional access and restrictions
    DIR/car|bike|walk|bus|truck/  per-mode edges, kernel graph (arc extras), edge flags and
                                  limits, CCH order (*.npy)
    DIR/transit/...               compiled timetable and stop links (when GTFS was given)
    DIR/traffic/typical/...       typical speeds (when observations were given), bound to
                                  the snapshot_id

A **transit-only** snapshot (built from GTFS without OSM) has ``meta.json`` ``"road":
false`` and neither ``road/`` nor the mode directories: it loads with no segments and no
road modes (:attr:`Snapshot.has_road` is false), its ``bbox`` is that of the stops, and
walking is estimated in straight lines (``meta.json`` ``walking``; see
:mod:`routing.straight_walk`). Snapshots without the key have a street network.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from routing.graph import LABEL_FIELDS, ModeGraph, RoadNetwork, Segments, junction_segments
from routing.profiles import MODES

#: 2: segment labels (name, ref, ramp signposts, footway kind), junction exit numbers and
#: the junction → segment table for guidance. 3: bus and truck modes; per mode arc extras
#: (destination-only entries), edge flags (destination-only, pushed, ferry) and limits.
#: 4: conditional access (``cond_edge``, ``cond_ids``, ``cond_open``) and conditional turn
#: bans (``cond_arc``, ``cond_arc_cond``) per mode; the condition texts in ``names.json``.
#: 5: small road pieces off a mode's main network (``piece`` per edge) for snapping.
SNAPSHOT_FORMAT = 5
BUILD_VERSION = f"citynav-0.1.0+f{SNAPSHOT_FORMAT}"

_SEG_FIELDS = ("u", "v", "gstart", "gend", "length_m", "way_id", "name_idx", "highway_idx",
               "roundabout", *LABEL_FIELDS)
_JUNCTION_FIELDS = ("node_exit_ref_idx", "junction_seg_offsets", "junction_seg")
_MODE_FIELDS = ("edge_seg", "edge_rev", "edge_tail", "edge_head", "edge_length_m",
                "edge_speed_kmh", "edge_time_ms", "edge_snappable", "edge_head_knode",
                "arc_tail", "arc_head", "arc_edge", "edge_arc_offsets", "knode_junction",
                "arc_extra_ms", "arc_turn_ms", "edge_flags", "edge_limits", "cond_edge",
                "cond_ids", "cond_open", "cond_arc", "cond_arc_cond")


class SnapshotError(Exception):
    """A snapshot directory is missing, incomplete or of another format version."""


def strict_json(obj: Any, **kw: Any) -> str:
    """``json.dumps`` that refuses NaN and infinities (``ValueError``): every file of a
    snapshot is valid JSON for any parser. Replace non-finite numbers by ``None`` where
    they arise (see :func:`finite_or_none`)."""
    return json.dumps(obj, allow_nan=False, **kw)


def finite_or_none(x: float | None, ndigits: int | None = None) -> float | None:
    """``x`` as a float (rounded to ``ndigits``), or ``None`` when missing or not finite."""
    if x is None:
        return None
    v = float(x)
    if not np.isfinite(v):
        return None
    return round(v, ndigits) if ndigits is not None else v


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _save(dirpath: Path, arrays: dict[str, np.ndarray]) -> None:
    dirpath.mkdir(parents=True, exist_ok=True)
    for name, arr in arrays.items():
        np.save(dirpath / f"{name}.npy", np.ascontiguousarray(arr), allow_pickle=False)


def _load(dirpath: Path, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    out = {}
    for name in names:
        p = dirpath / f"{name}.npy"
        if not p.is_file():
            raise SnapshotError(f"{p}: missing array")
        # a plain ndarray view of the mapping (the pages stay shared): indexing a
        # ``np.memmap`` runs its Python ``__array_finalize__`` on every result, which cost
        # ~5 % of a route answer's time on the hot path
        out[name] = np.load(p, mmap_mode="r", allow_pickle=False).view(np.ndarray)
    return out


def _fsync_tree(root: Path) -> None:
    for dirpath, _, files in os.walk(root):
        for f in files:
            fd = os.open(os.path.join(dirpath, f), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


@dataclass
class SnapshotWriter:
    """Collects a snapshot in a temporary directory and renames it into place on commit."""

    out_dir: Path
    tmp: Path = field(init=False)

    def __post_init__(self) -> None:
        self.out_dir = Path(self.out_dir).absolute()
        self.out_dir.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.out_dir.name}.tmp-",
                                         dir=self.out_dir.parent))

    def write_network(self, net: RoadNetwork, orders: dict[str, np.ndarray]) -> None:
        """Write junctions, segments and every mode graph with its CCH order."""
        road = self.tmp / "road"
        s = net.segments
        arrays = {f"seg_{f}": getattr(s, f) for f in _SEG_FIELDS}
        arrays.update(node_lon=net.node_lon, node_lat=net.node_lat, node_osm_id=net.node_osm_id,
                      geom_lon=s.lon, geom_lat=s.lat, geom_cum_m=s.cum_m)
        n_nodes = net.node_lon.shape[0]
        exits = net.node_exit_ref_idx
        if exits.shape[0] != n_nodes:
            exits = np.full(n_nodes, -1, dtype=np.int32)
        offsets, seg_of = junction_segments(s.u, s.v, n_nodes)
        arrays.update(node_exit_ref_idx=exits.astype(np.int32), junction_seg_offsets=offsets,
                      junction_seg=seg_of)
        _save(road, arrays)
        (road / "names.json").write_text(
            strict_json({"names": s.names, "highways": s.highways, "labels": s.labels,
                         "conditions": net.conditions}, ensure_ascii=False))
        for mode, g in net.modes.items():
            arrays = {f: getattr(g, f) for f in _MODE_FIELDS}
            arrays["cch_order"] = orders[mode]
            _save(self.tmp / mode, arrays)
            (self.tmp / mode / "stats.json").write_text(strict_json(g.stats))

    def subdir(self, name: str) -> Path:
        """A sub-directory of the snapshot for other layers' arrays (e.g. transit)."""
        p = self.tmp / name
        p.mkdir(parents=True, exist_ok=True)
        return p

    def open(self, meta: dict[str, Any]) -> Snapshot:
        """The snapshot written so far (network arrays, memory-mapped from the temporary
        directory) with ``meta``, for build steps that need a loaded snapshot before the
        commit (e.g. typical speeds)."""
        return _open(self.tmp, meta)

    def commit(self, meta: dict[str, Any]) -> Path:
        """Write meta.json (strict JSON: raises ``ValueError`` on NaN/Infinity), fsync, and
        atomically move the snapshot to ``out_dir``."""
        meta.update(format=SNAPSHOT_FORMAT, build_version=BUILD_VERSION)
        size = sum(p.stat().st_size for p in self.tmp.rglob("*") if p.is_file())
        meta["size_bytes"] = size
        (self.tmp / "meta.json").write_text(strict_json(meta, indent=2, ensure_ascii=False))
        _fsync_tree(self.tmp)
        old = None
        if self.out_dir.exists():
            old = self.out_dir.with_name(f".{self.out_dir.name}.old-{os.getpid()}")
            os.replace(self.out_dir, old)
        os.replace(self.tmp, self.out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.out_dir

    def abort(self) -> None:
        """Remove the temporary directory (a failed build leaves nothing behind)."""
        shutil.rmtree(self.tmp, ignore_errors=True)


@dataclass
class ModeArrays:
    """One mode's memory-mapped arrays (the fields of :class:`routing.graph.ModeGraph`)."""

    mode: str
    arrays: dict[str, np.ndarray]
    stats: dict[str, int]

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self.__dict__["arrays"][name]
        except KeyError as exc:
            raise AttributeError(name) from exc

    @property
    def kernel_node_count(self) -> int:
        """Number of kernel nodes."""
        return int(self.arrays["knode_junction"].shape[0])


@dataclass
class Snapshot:
    """A loaded (memory-mapped) snapshot."""

    path: Path
    meta: dict[str, Any]
    node_lon: np.ndarray
    node_lat: np.ndarray
    node_osm_id: np.ndarray
    segments: Segments
    modes: dict[str, ModeArrays]
    #: exit number of each junction (index into ``segments.labels``, -1 = none)
    node_exit_ref_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    #: segments meeting at junction j: ``junction_seg[junction_seg_offsets[j]:...[j + 1]]``
    junction_seg_offsets: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    junction_seg: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    #: conditions of conditional access and turn restrictions (ids in the mode arrays)
    conditions: list[str] = field(default_factory=list)

    @property
    def has_road(self) -> bool:
        """False for a transit-only snapshot (built from GTFS without a street network:
        no segments, no road modes)."""
        return has_road(self.meta)

    @property
    def snapshot_id(self) -> str:
        """Stable id: a hash of the sources' checksums and the build version."""
        return str(self.meta.get("snapshot_id", "unknown"))

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) of the road network (of the stops for a transit-only
        snapshot)."""
        w, s, e, n = self.meta["bbox"]
        return float(w), float(s), float(e), float(n)

    @cached_property
    def timezone(self) -> str:
        """The city's IANA timezone (``meta.json`` ``timezone``). Snapshots built before it
        was recorded derive it from the bbox centre (offline lookup, once)."""
        tz = self.meta.get("timezone")
        if tz:
            return str(tz)
        from routing.timezones import timezone_from_bbox  # noqa: PLC0415 (old snapshots)

        return timezone_from_bbox(self.bbox, self.node_lon, self.node_lat)

    @property
    def timezone_source(self) -> str:
        """Where :attr:`timezone` came from: ``option``, ``gtfs`` or ``bbox``."""
        return str(self.meta.get("timezone_source") or "bbox")


def load_snapshot(path: str | os.PathLike[str]) -> Snapshot:
    """Open a snapshot directory with memory maps. Raises :class:`SnapshotError`."""
    p = Path(path)
    meta_path = p / "meta.json"
    if not meta_path.is_file():
        raise SnapshotError(f"{p}: not a citynav snapshot (no meta.json)")
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != SNAPSHOT_FORMAT:
        raise SnapshotError(f"{p}: snapshot format {meta.get('format')} is not "
                            f"{SNAPSHOT_FORMAT}; rebuild it with `citynav build`")
    return _open(p, meta)


def has_road(meta: dict[str, Any]) -> bool:
    """Whether a snapshot's ``meta.json`` describes a street network (``"road": false``
    marks a transit-only snapshot; older snapshots without the key all have one)."""
    return meta.get("road", True) is not False


def empty_segments() -> Segments:
    """No segments (a transit-only snapshot), with the dtypes of built ones."""
    i32, i64 = np.zeros(0, np.int32), np.zeros(0, np.int64)
    f64 = np.zeros(0, np.float64)
    return Segments(u=i32, v=i32.copy(), gstart=i64, gend=i64.copy(),
                    length_m=np.zeros(0, np.float32), way_id=i64.copy(), name_idx=i32.copy(),
                    highway_idx=np.zeros(0, np.int16), roundabout=np.zeros(0, bool),
                    lon=f64, lat=f64.copy(), cum_m=f64.copy(), names=[], highways=[],
                    **{f: i32.copy() for f in LABEL_FIELDS}, labels=[])


def _open(p: Path, meta: dict[str, Any]) -> Snapshot:
    if not has_road(meta):
        f64 = np.zeros(0, np.float64)
        return Snapshot(p, meta, f64, f64.copy(), np.zeros(0, np.int64), empty_segments(), {},
                        np.zeros(0, np.int32), np.zeros(1, np.int64), np.zeros(0, np.int32))
    road = p / "road"
    names = json.loads((road / "names.json").read_text())
    a = _load(road, tuple(f"seg_{f}" for f in _SEG_FIELDS)
              + ("node_lon", "node_lat", "node_osm_id", "geom_lon", "geom_lat", "geom_cum_m")
              + _JUNCTION_FIELDS)
    segs = Segments(**{f: a[f"seg_{f}"] for f in _SEG_FIELDS}, lon=a["geom_lon"],
                    lat=a["geom_lat"], cum_m=a["geom_cum_m"], names=names["names"],
                    highways=names["highways"], labels=names["labels"])
    modes: dict[str, ModeArrays] = {}
    for mode in MODES:
        d = p / mode
        stats = json.loads((d / "stats.json").read_text())
        modes[mode] = ModeArrays(mode, _load(d, _MODE_FIELDS + ("cch_order",)), stats)
    return Snapshot(p, meta, a["node_lon"], a["node_lat"], a["node_osm_id"], segs, modes,
                    **{f: a[f] for f in _JUNCTION_FIELDS},
                    conditions=list(names.get("conditions", [])))


def mode_graph_from_arrays(m: ModeArrays) -> ModeGraph:
    """A :class:`ModeGraph` view over loaded arrays (for tools that expect one)."""
    return ModeGraph(mode=m.mode, stats=m.stats, **{f: m.arrays[f] for f in _MODE_FIELDS})
