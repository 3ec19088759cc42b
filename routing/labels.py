"""Street labels for guidance: how a road is named, numbered and signposted, what an
unnamed way is called, and when two pieces of road are one road for the traveller.

The snapshot keeps, per segment, the raw values of :data:`LABEL_TAGS` (indices into one
string table) and, per junction, the exit number of ``highway=motorway_junction`` nodes.
:func:`path_labels` gathers them for the edges of one path; ``routing.steps`` turns them
into steps. Multi-value tags (``I 71;I 75``) are shown as ``I 71 / I 75``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from routing.snapshot import Snapshot

#: Way tags kept per segment for guidance, in the order of the segment label fields.
LABEL_TAGS = ("name", "ref", "destination", "destination:ref", "junction:ref", "footway")
#: Highway classes whose ramps are exits and onto which ramps merge.
FAST_HIGHWAYS = frozenset({"motorway", "trunk"})
#: A branch within this angle (degrees) of straight ahead makes a fork.
FORK_MAX_ANGLE = 60.0

_KIND_OF_HIGHWAY = {
    "footway": "footway", "path": "path", "bridleway": "path", "corridor": "footway",
    "steps": "steps", "pedestrian": "pedestrian", "cycleway": "cycleway", "track": "track",
    "service": "service", "motorway": "motorway", "trunk": "motorway",
}
_KIND_OF_FOOTWAY = {"sidewalk": "sidewalk", "crossing": "crossing",
                    "traffic_island": "crossing"}


def split_values(value: str | None) -> list[str]:
    """The values of a multi-value tag (``;``-separated), trimmed, empty ones dropped."""
    return list(_split(value)) if value else []


@lru_cache(maxsize=65536)
def _split(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(";") if v.strip())


@lru_cache(maxsize=65536)
def display_value(value: str | None) -> str:
    """A tag value as shown to people: ``"I 71;I 75"`` → ``"I 71 / I 75"``."""
    return " / ".join(_split(value)) if value else ""


@lru_cache(maxsize=16384)
def display_destination(dest_ref: str | None, dest: str | None) -> str:
    """Signpost text of a ramp: its destination refs, then its destinations, each once
    (``"I 71 North / I 75 North / Cincinnati"``); ``""`` when unsigned."""
    out: dict[str, str] = {}
    for v in split_values(dest_ref) + split_values(dest):
        out.setdefault(_norm(v), v)
    return " / ".join(out.values())


@lru_cache(maxsize=65536)
def _norm(value: str) -> str:
    return " ".join(value.split()).casefold()


@lru_cache(maxsize=65536)
def ref_set(ref: str | None) -> frozenset[str]:
    """Normalized refs of a ``ref`` tag value (case and spacing ignored)."""
    return frozenset(_norm(v) for v in split_values(ref))


def generic_kind(highway: str, footway: str = "") -> str:
    """What an unnamed way is called: sidewalk, crossing, footway, path, steps, pedestrian,
    cycleway, track, service, ramp, motorway, or road."""
    kind = _KIND_OF_FOOTWAY.get(footway)
    if kind:
        return kind
    if highway.endswith("_link"):
        return "ramp"
    return _KIND_OF_HIGHWAY.get(highway, "road")


def same_road(name_a: str, ref_a: str, name_b: str, ref_b: str, fast: bool = False) -> bool:
    """True when going from road ``a`` to road ``b`` (street names, ``ref`` values) needs
    no "new name" announcement:

    * the same name, unless both carry refs and they share none;
    * a name dropped (``Main Street`` → unnamed), unless a ref of its own appears;
    * a name that appears on a road whose refs continue (``KY 17`` → ``Scott Boulevard``
      with ref KY 17);
    * unnamed roads whose refs overlap, or where the ref is dropped;
    * on motorways (``fast``), any change while a ref continues (``I 71;I 75`` → ``I 75``).
    """
    na, nb = _norm(name_a), _norm(name_b)
    ra, rb = ref_set(ref_a), ref_set(ref_b)
    shared = bool(ra & rb)
    if fast and shared:
        return True
    if na and nb:
        return na == nb and (not (ra and rb) or shared)
    if na:
        return not rb or shared
    if nb:
        return shared
    return not rb or shared


@dataclass
class PathLabels:
    """Labels of each edge of a path: int arrays of length ``n`` indexing ``labels``
    (-1 = none), except ``highway`` which indexes ``highways``. ``exit_ref`` is the exit
    number of the junction where the edge starts. ``branches(i)`` lists the other ways the
    traveller could take where edge ``i`` starts, as (bearing in degrees, highway class)."""

    labels: list[str]
    highways: list[str]
    street: np.ndarray
    ref: np.ndarray
    dest: np.ndarray
    dest_ref: np.ndarray
    junction_ref: np.ndarray
    footway: np.ndarray
    highway: np.ndarray
    exit_ref: np.ndarray
    branches: Callable[[int], list[tuple[float, str]]] | None = None

    def __len__(self) -> int:
        return int(self.street.shape[0])

    def text(self, field: str, i: int) -> str:
        """Raw tag value of ``field`` (e.g. ``"dest"``) on edge ``i`` ("" when absent)."""
        k = int(getattr(self, field)[i])
        return self.labels[k] if k >= 0 else ""

    def highway_of(self, i: int) -> str:
        """Highway class of edge ``i``."""
        return self.highways[int(self.highway[i])]

    @classmethod
    def from_tags(cls, tags: list[dict[str, str]], exit_refs: list[str] | None = None,
                  branches: Callable[[int], list[tuple[float, str]]] | None = None
                  ) -> PathLabels:
        """Labels from per-edge way tags (for tests and tools): ``tags[i]`` holds edge
        ``i``'s ``highway`` and any of :data:`LABEL_TAGS`."""
        pool: dict[str, int] = {}
        hws: dict[str, int] = {}
        cols = {f: np.full(len(tags), -1, dtype=np.int32) for f in _FIELD_OF_TAG.values()}
        hw = np.zeros(len(tags), dtype=np.int32)
        ex = np.full(len(tags), -1, dtype=np.int32)
        for i, t in enumerate(tags):
            for tag, f in _FIELD_OF_TAG.items():
                if t.get(tag):
                    cols[f][i] = pool.setdefault(t[tag], len(pool))
            hw[i] = hws.setdefault(t.get("highway", "residential"), len(hws))
            if exit_refs and exit_refs[i]:
                ex[i] = pool.setdefault(exit_refs[i], len(pool))
        return cls(list(pool), list(hws), highway=hw, exit_ref=ex, branches=branches, **cols)


_FIELD_OF_TAG = dict(zip(LABEL_TAGS, ("street", "ref", "dest", "dest_ref", "junction_ref",
                                       "footway"), strict=True))


def path_labels(snapshot: Snapshot, seg_dirs: np.ndarray, seg_ids: np.ndarray,
                tails: np.ndarray,
                seg_bearings: tuple[np.ndarray, np.ndarray] | None = None) -> PathLabels:
    """Labels of a path's edges (``seg_ids``: their segments, ``tails``: the junctions where
    they start), with the branches open to the mode at each junction (from the snapshot's
    junction → segment table and the mode's ``seg_dirs``: per segment, bit 1 = forward edge,
    bit 2 = backward edge). ``seg_bearings``: every segment's bearings leaving its start and
    its end (:func:`routing.kernels.pathgeom.segment_bearings`, NaN when undefined), when
    the caller keeps them; else each branch's bearing is computed when asked."""
    seg = snapshot.segments
    seg_ids = np.asarray(seg_ids, dtype=np.int64)
    tails = np.asarray(tails, dtype=np.int64)
    exit_idx = snapshot.node_exit_ref_idx
    exits = (np.asarray(exit_idx[tails], dtype=np.int32) if exit_idx.shape[0]
             else np.full(tails.shape[0], -1, dtype=np.int32))
    out = PathLabels(
        seg.labels, seg.highways,
        street=np.asarray(seg.street_idx[seg_ids]), ref=np.asarray(seg.ref_idx[seg_ids]),
        dest=np.asarray(seg.dest_idx[seg_ids]), dest_ref=np.asarray(seg.dest_ref_idx[seg_ids]),
        junction_ref=np.asarray(seg.junction_ref_idx[seg_ids]),
        footway=np.asarray(seg.footway_idx[seg_ids]),
        highway=np.asarray(seg.highway_idx[seg_ids]), exit_ref=exits)
    if snapshot.junction_seg_offsets.shape[0]:
        if seg_bearings is not None:
            out.branches = _PathBranches(snapshot, seg_dirs, seg_ids, tails, seg_bearings)
        else:
            out.branches = _Branches(snapshot, seg_dirs, seg_ids, tails)
    return out


class _PathBranches:
    """:class:`_Branches` for every edge of a path at once (a numba kernel over the
    segments' precomputed bearings), read out per edge."""

    __slots__ = ("bearing_a", "highway_a", "highways", "lists", "off_a")

    def __init__(self, snapshot: Snapshot, seg_dirs: np.ndarray, seg_ids: np.ndarray,
                 tails: np.ndarray, seg_bearings: tuple[np.ndarray, np.ndarray]) -> None:
        from routing.kernels.pathgeom import path_branches  # noqa: PLC0415 (numba import)

        seg = snapshot.segments
        off, bearing, segs = path_branches(
            np.asarray(seg_ids, dtype=np.int64), np.asarray(tails, dtype=np.int64),
            np.asarray(snapshot.junction_seg_offsets), np.asarray(snapshot.junction_seg),
            np.asarray(seg_dirs), np.asarray(seg.u), np.asarray(seg.v), seg_bearings[0],
            seg_bearings[1])
        #: CSR arrays: branches ``off_a[i]:off_a[i + 1]`` of edge ``i``, their bearings
        #: and highway class indices (the step rules read them in a numba kernel)
        self.off_a, self.bearing_a = off, bearing
        self.highway_a = np.asarray(seg.highway_idx)[segs]
        self.highways = seg.highways
        self.lists: tuple[list[int], list[float], list[int]] | None = None

    def __call__(self, i: int) -> list[tuple[float, str]]:
        if self.lists is None:  # Python lists for per-edge reads, made on the first one
            self.lists = (self.off_a.tolist(), self.bearing_a.tolist(),
                          self.highway_a.tolist())
        off, b, h = self.lists
        hws = self.highways
        return [(b[k], hws[h[k]]) for k in range(off[i], off[i + 1])]


class _Branches:
    """Other ways open to a mode where a path edge starts: (bearing leaving the junction,
    highway class), excluding the path's own segments there."""

    def __init__(self, snapshot: Snapshot, seg_dirs: np.ndarray, seg_ids: np.ndarray,
                 tails: np.ndarray) -> None:
        self.seg_dirs, self.seg_ids, self.tails = seg_dirs, seg_ids, tails
        seg = snapshot.segments
        self.highways = seg.highways
        # plain views of the memory-mapped arrays: scalar reads on a memmap are slow
        self.u, self.v = np.asarray(seg.u), np.asarray(seg.v)
        self.gstart, self.gend = np.asarray(seg.gstart), np.asarray(seg.gend)
        self.lon, self.lat = np.asarray(seg.lon), np.asarray(seg.lat)
        self.highway_idx = np.asarray(seg.highway_idx)
        self.j_off = np.asarray(snapshot.junction_seg_offsets)
        self.j_seg = np.asarray(snapshot.junction_seg)
        w, s, e, n = snapshot.bbox
        self.coslat = math.cos(math.radians((s + n) / 2))

    def __call__(self, i: int) -> list[tuple[float, str]]:
        j = int(self.tails[i])
        mine = int(self.seg_ids[i])
        before = int(self.seg_ids[i - 1]) if i > 0 else -1
        out = []
        for s in self.j_seg[int(self.j_off[j]):int(self.j_off[j + 1])].tolist():
            if s in (mine, before):
                continue
            dirs = int(self.seg_dirs[s])
            for rev in (False, True):
                if not dirs & (2 if rev else 1):
                    continue
                at_end = int(self.v[s]) if rev else int(self.u[s])
                if at_end != j:
                    continue
                b = self._bearing(s, rev)
                if b is not None:
                    out.append((b, self.highways[int(self.highway_idx[s])]))
        return out

    def _bearing(self, s: int, rev: bool) -> float | None:
        g0, g1 = int(self.gstart[s]), int(self.gend[s])
        pts = range(g1 - 1, g0, -1) if rev else range(g0, g1 - 1)
        lon, lat = self.lon, self.lat
        for g in pts:
            gn = g - 1 if rev else g + 1
            dx = (float(lon[gn]) - float(lon[g])) * self.coslat
            dy = float(lat[gn]) - float(lat[g])
            if dx or dy:
                return math.degrees(math.atan2(dx, dy)) % 360.0
        return None
