"""Turn OSM ways into routable per-mode graphs.

Three levels, all plain numpy arrays:

* **segments** — undirected pieces of one way between two junctions (shared nodes, way
  ends, barriers, restriction vias), with full geometry, length, way id and the street
  labels guidance needs (name, ref, ramp signposts, footway kind; see ``routing.labels``);
* **edges** (per mode) — the directed, usable traversals of segments with speeds and travel
  times in integer milliseconds;
* **kernel graph** (per mode) — what the shortest-path core sees: one node per junction,
  except at junctions with turn rules (turn restrictions, barriers, borders of
  destination-only roads), which are split into one copy per incoming edge so that
  forbidden turns are simply absent arcs, plus one node per edge of each via-way
  restriction's watched path. Each kernel arc maps to exactly one edge; its weight is the
  edge's weight plus the arc's fixed extra (``arc_extra_ms``, see :func:`arc_weights`).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from gtfs.geo import haversine_m
from routing.conditional import (
    MAX_WAY_CONDITIONS,
    ConditionError,
    parse_condition,
    split_conditional,
)
from routing.kernels.limits import INF_WEIGHT
from routing.labels import LABEL_TAGS, display_value
from routing.profiles import (
    ACCESS_RULES,
    DEST_PENALTY_MS,
    FLAG_DEST,
    FLAG_FERRY,
    FLAG_PUSHED,
    MODES,
    NODE_BLOCKED,
    NODE_DEST,
    NODE_OPEN,
    SIGNAL_DELAY_MS,
    TURN_COST_MODES,
    UTURN_PENALTY_MS,
    Mode,
    node_access,
    turn_cost_ms,
    vehicle_limits,
)

Progress = Callable[[str, int, int], None]

if TYPE_CHECKING:  # pyosmium is for building, not serving
    from routing.osm import OsmData


@dataclass
class Segments:
    """Undirected way pieces between junctions. Geometry of segment ``s`` is
    ``lon/lat[gstart[s]:gend[s]]`` (from junction ``u[s]`` to junction ``v[s]``)."""

    u: np.ndarray  # int32 junction index
    v: np.ndarray  # int32
    gstart: np.ndarray  # int64 into lon/lat
    gend: np.ndarray  # int64 (exclusive)
    length_m: np.ndarray  # float32
    way_id: np.ndarray  # int64
    name_idx: np.ndarray  # int32 into names (-1 = unnamed)
    highway_idx: np.ndarray  # int16 into highway classes
    roundabout: np.ndarray  # bool
    lon: np.ndarray  # float64 geometry points
    lat: np.ndarray  # float64
    cum_m: np.ndarray  # float64 cumulative length along geometry points
    names: list[str]  # display label per way: name, else the ref ("I 71 / I 75")
    highways: list[str]
    #: guidance labels: raw way tag values (see ``routing.labels.LABEL_TAGS``), int32
    #: indices into ``labels`` (-1 = tag absent)
    street_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))  # name
    ref_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))  # ref
    dest_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))  # destination
    dest_ref_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    junction_ref_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    footway_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    labels: list[str] = field(default_factory=list)


#: Segment fields holding the label indices of ``routing.labels.LABEL_TAGS``, in order.
LABEL_FIELDS = ("street_idx", "ref_idx", "dest_idx", "dest_ref_idx", "junction_ref_idx",
                "footway_idx")


@dataclass
class ModeGraph:
    """Directed edges of one mode and the kernel graph over them."""

    mode: str
    edge_seg: np.ndarray  # int32
    edge_rev: np.ndarray  # bool (True: traverses the segment from v to u)
    edge_tail: np.ndarray  # int32 junction
    edge_head: np.ndarray  # int32 junction
    edge_length_m: np.ndarray  # float32
    edge_speed_kmh: np.ndarray  # float32
    edge_time_ms: np.ndarray  # int32 free-flow travel time
    edge_snappable: np.ndarray  # bool: in the main strongly connected component
    edge_head_knode: np.ndarray  # int32 kernel node reached at the end of the edge
    arc_tail: np.ndarray  # int32 kernel node
    arc_head: np.ndarray  # int32 kernel node
    arc_edge: np.ndarray  # int32 edge (arcs are sorted by edge)
    edge_arc_offsets: np.ndarray  # int64 CSR: arcs of edge e are [off[e], off[e+1])
    knode_junction: np.ndarray  # int32 junction of each kernel node
    #: int32 weight added to each arc (entering destination-only roads, private gates)
    arc_extra_ms: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    #: int32 part of ``arc_extra_ms`` that is driving time (turn costs, signals), not penalty
    arc_turn_ms: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    #: uint8 per edge: FLAG_DEST | FLAG_PUSHED | FLAG_FERRY (routing.profiles)
    edge_flags: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))
    #: float32 [E, 4] per edge: max height m, width m, weight t, length m (0 = none; truck)
    edge_limits: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    #: conditional access (see :class:`routing.conditional.ModeConditionals`): int32 edge
    #: ids, int32 [M, 3] condition ids (-1 = none), uint8 open mask per combination
    cond_edge: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    cond_ids: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.int32))
    cond_open: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))
    #: conditional turn bans: int32 kernel arc ids and the condition id that bans each
    cond_arc: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    cond_arc_cond: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def kernel_node_count(self) -> int:
        """Number of nodes the shortest-path kernel works on."""
        return int(self.knode_junction.shape[0])


@dataclass
class RoadNetwork:
    """Junction coordinates, segments and the per-mode graphs built from one extract."""

    node_lon: np.ndarray  # float64 [N]
    node_lat: np.ndarray  # float64 [N]
    node_osm_id: np.ndarray  # int64 [N]
    segments: Segments
    modes: dict[str, ModeGraph]
    stats: dict[str, int]
    #: exit number (``motorway_junction`` ref) of each junction: index into
    #: ``segments.labels``, -1 = none
    node_exit_ref_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    #: the distinct conditions the modes' ``cond_ids`` / ``cond_arc_cond`` refer to
    conditions: list[str] = field(default_factory=list)


def arc_weights(w: np.ndarray, arc_edge: np.ndarray, arc_extra_ms: np.ndarray | None
                ) -> np.ndarray:
    """Kernel arc weights (int64 ms) from edge weights ``w``: ``w[arc_edge]`` plus each
    arc's fixed extra; closed edges (``INF_WEIGHT``) stay closed, open arcs stay below it."""
    aw = np.asarray(w, np.int64)[arc_edge]
    if arc_extra_ms is None or arc_extra_ms.shape[0] == 0 or not arc_extra_ms.any():
        return aw
    out = np.minimum(aw + arc_extra_ms, INF_WEIGHT - 1)
    out[aw >= INF_WEIGHT] = INF_WEIGHT
    return out


def build_segments(osm: OsmData, extra_junction_osm_ids: set[int]) -> tuple[
        Segments, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split ways at junctions. Returns segments, junction lon/lat/osm id, and the index of
    the way piece each segment comes from."""
    uniq, inv = np.unique(osm.node_ids, return_inverse=True)
    count = np.bincount(inv, minlength=uniq.shape[0])
    is_junction_node = count >= 2
    if extra_junction_osm_ids:
        extra = np.fromiter(extra_junction_osm_ids, dtype=np.int64)
        hit = np.isin(uniq, extra)
        is_junction_node |= hit
    is_cut = is_junction_node[inv]
    is_cut[osm.offsets[:-1]] = True
    is_cut[osm.offsets[1:] - 1] = True
    ref_way = np.repeat(np.arange(len(osm.way_ids), dtype=np.int64), np.diff(osm.offsets))

    # Junction numbering: every node that is a cut anywhere.
    cut_nodes = np.zeros(uniq.shape[0], dtype=bool)
    cut_nodes[inv[is_cut]] = True
    jidx = np.full(uniq.shape[0], -1, dtype=np.int64)
    jidx[cut_nodes] = np.arange(int(cut_nodes.sum()))
    node_lon = np.zeros(int(cut_nodes.sum()))
    node_lat = np.zeros(int(cut_nodes.sum()))
    cut_pos = np.flatnonzero(is_cut)
    node_lon[jidx[inv[cut_pos]]] = osm.lon[cut_pos]
    node_lat[jidx[inv[cut_pos]]] = osm.lat[cut_pos]
    node_osm_id = uniq[cut_nodes]

    a, b = cut_pos[:-1], cut_pos[1:]
    same_way = ref_way[a] == ref_way[b]
    a, b = a[same_way], b[same_way]

    step = np.zeros(osm.lon.shape[0], dtype=np.float64)
    step[:-1] = haversine_m(osm.lat[:-1], osm.lon[:-1], osm.lat[1:], osm.lon[1:])
    cum = np.zeros(osm.lon.shape[0], dtype=np.float64)
    np.cumsum(step[:-1], out=cum[1:])
    length = cum[b] - cum[a]

    names: dict[str, int] = {}
    highways: dict[str, int] = {}
    labels: dict[str, int] = {}
    way_name = np.full(len(osm.way_ids), -1, dtype=np.int32)
    way_hw = np.zeros(len(osm.way_ids), dtype=np.int16)
    way_rb = np.zeros(len(osm.way_ids), dtype=bool)
    way_label = np.full((len(osm.way_ids), len(LABEL_TAGS)), -1, dtype=np.int32)
    for i, tags in enumerate(osm.way_tags):
        name = display_value(tags.get("name") or tags.get("ref") or "")
        if name:
            way_name[i] = names.setdefault(name, len(names))
        way_hw[i] = highways.setdefault(tags.get("highway", ""), len(highways))
        way_rb[i] = tags.get("junction") in ("roundabout", "circular")
        for k, tag in enumerate(LABEL_TAGS):
            value = (tags.get(tag) or "").strip()
            if value:
                way_label[i, k] = labels.setdefault(value, len(labels))
    piece = ref_way[a]
    seg_label = way_label[piece]
    segs = Segments(
        u=jidx[inv[a]].astype(np.int32),
        v=jidx[inv[b]].astype(np.int32),
        gstart=a.astype(np.int64),
        gend=(b + 1).astype(np.int64),
        length_m=length.astype(np.float32),
        way_id=osm.way_ids[piece],
        name_idx=way_name[piece],
        highway_idx=way_hw[piece],
        roundabout=way_rb[piece],
        lon=osm.lon,
        lat=osm.lat,
        cum_m=cum,
        names=list(names),
        highways=list(highways),
        **{f: np.ascontiguousarray(seg_label[:, k]) for k, f in enumerate(LABEL_FIELDS)},
        labels=list(labels),
    )
    return segs, node_lon, node_lat, node_osm_id, piece



def exit_ref_per_junction(osm: OsmData, node_osm_id: np.ndarray, segs: Segments
                          ) -> np.ndarray:
    """Index into ``segs.labels`` of each junction's exit number (-1 = none); the labels
    table grows by the exit numbers not yet in it."""
    out = np.full(node_osm_id.shape[0], -1, dtype=np.int32)
    if not osm.exit_refs:
        return out
    ids = np.fromiter(osm.exit_refs, dtype=np.int64, count=len(osm.exit_refs))
    pos = np.searchsorted(node_osm_id, ids)  # junction osm ids are sorted (np.unique)
    pos = np.minimum(pos, max(node_osm_id.shape[0] - 1, 0))
    hit = node_osm_id[pos] == ids
    index = {s: i for i, s in enumerate(segs.labels)}
    for nid, j in zip(ids[hit].tolist(), pos[hit].tolist(), strict=True):
        ref = osm.exit_refs[nid]
        if ref not in index:
            index[ref] = len(segs.labels)
            segs.labels.append(ref)
        out[j] = index[ref]
    return out


def junction_segments(u: np.ndarray, v: np.ndarray, n_nodes: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Segments meeting at each junction as CSR: (offsets int64 [N+1], segment ids int32);
    segments of junction ``j`` are ``seg[offsets[j]:offsets[j + 1]]``."""
    ends = np.concatenate([np.asarray(u, np.int64), np.asarray(v, np.int64)])
    ids = np.concatenate([np.arange(len(u), dtype=np.int32)] * 2)
    order = np.argsort(ends, kind="stable")
    offsets = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(ends, minlength=n_nodes), out=offsets[1:])
    return offsets, ids[order]


def _largest_scc(n: int, tail: np.ndarray, head: np.ndarray) -> np.ndarray:
    """Boolean mask of the nodes in the largest strongly connected component."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if tail.shape[0] == 0:
        return np.zeros(n, dtype=bool)
    m = coo_matrix((np.ones(tail.shape[0], dtype=np.int8), (tail, head)), shape=(n, n)).tocsr()
    _, labels = connected_components(m, directed=True, connection="strong")
    sizes = np.bincount(labels)
    return labels == int(np.argmax(sizes))


@dataclass(frozen=True)
class SegRestriction:
    """A turn restriction in segment terms for one mode: the segments of its ``from`` and
    ``to`` ways, its via junction (or -1) or the segments of its via ways (a chain)."""

    kind: str  # "no" | "only"
    from_segs: tuple[int, ...]
    via_junction: int
    via_segs: tuple[int, ...]
    via_way_ids: frozenset[int]
    to_segs: tuple[int, ...]
    #: condition id under which it applies (-1: always)
    cond: int = -1
    #: the relation's ``restriction`` value (``no_left_turn``…), for the intended movement
    value: str = ""


#: Turn directions named by restriction values, and the signed turn angles (degrees, right
#: positive, 0 straight on) each accepts when the movement is ambiguous.
_TURN_OF_VALUE = {"left_turn": "left", "right_turn": "right", "straight_on": "straight",
                  "u_turn": "uturn"}


def _turn_matches(direction: str, angle_deg: float) -> bool:
    """Whether a turn of ``angle_deg`` is a ``direction`` turn (lenient bands that overlap:
    straight ±45°, left/right 10°–170° to that side, U-turn 135° or more)."""
    a = abs(angle_deg)
    if direction == "straight":
        return a <= 45.0
    if direction == "uturn":
        return a >= 135.0
    if direction == "left":
        return -170.0 < angle_deg < -10.0
    return 10.0 < angle_deg < 170.0


def _intended(r: SegRestriction, ins: list[int], outs_of: Callable[[int], set[int]],
              turn_angle: Callable[[int, int], float] | None
              ) -> list[tuple[int, set[int]]] | None:
    """The intended movements of a restriction whose ``from`` or ``to`` way is not split at
    the via junction (several of its edges arrive there / leave it): per arriving edge, the
    ``to`` edges whose turn angle matches the direction its value names (``no_left_turn``
    → left turns only). ``None`` (keep every combination) when the value names no direction,
    nothing is ambiguous, or no combination matches the geometry."""
    direction = _TURN_OF_VALUE.get(r.value.split("_", 1)[1] if "_" in r.value else "")
    if direction is None or turn_angle is None:
        return None
    outs = {e: outs_of(e) for e in ins}
    if len(ins) <= 1 and all(len(o) <= 1 for o in outs.values()):
        return None
    kept = [(e, {f for f in o if _turn_matches(direction, turn_angle(e, f))})
            for e, o in outs.items()]
    kept = [(e, o) for e, o in kept if o]
    return kept or None


def _restriction_paths(r: SegRestriction, seg_edge: np.ndarray, tail: np.ndarray,
                       head: np.ndarray, edge_seg: np.ndarray, seg_way: np.ndarray,
                       out_of: Callable[[int], list[int]],
                       turn_angle: Callable[[int, int], float] | None = None
                       ) -> list[tuple[tuple[int, ...], set[int]]]:
    """Edge paths a restriction watches: ``(from edge, via edges...)`` and the ``to``
    edges leaving the path's last junction. A via-way chain must be driven along all its
    ways, from the ``from`` way to the ``to`` way. Where the ``from`` or ``to`` way runs
    through the via junction, only the movement in the direction the value names is
    watched (see :func:`_intended`; ``turn_angle(e, f)``: signed degrees, right positive)."""
    to_set = set(r.to_segs)
    if r.via_junction >= 0:
        j = r.via_junction
        ins = [int(e) for s in r.from_segs for e in seg_edge[s] if e >= 0 and head[e] == j]
        outs = {int(e) for s in r.to_segs for e in seg_edge[s] if e >= 0 and tail[e] == j}
        if not outs:
            return []
        picked = _intended(r, ins, lambda _e: set(outs),
                           turn_angle)
        if picked is not None:
            return [((e,), o) for e, o in picked]
        return [((e,), outs) for e in ins]
    via = set(r.via_segs)
    via_junctions = {int(x) for s in r.via_segs for x in (tail[seg_edge[s][seg_edge[s] >= 0]])}
    ins = [int(e) for s in r.from_segs if s not in via for e in seg_edge[s]
           if e >= 0 and int(head[e]) in via_junctions]
    found: list[tuple[tuple[int, ...], set[int]]] = []

    def walk(path: list[int], used: set[int]) -> None:
        j = int(head[path[-1]])
        if len(path) > 1 and {int(seg_way[edge_seg[e]]) for e in path[1:]} == r.via_way_ids:
            outs = {f for f in out_of(j) if int(edge_seg[f]) in to_set
                    and int(edge_seg[f]) not in used}
            if outs:
                picked = _intended(r, [path[-1]], lambda _e: set(outs), turn_angle)
                found.append((tuple(path), picked[0][1] if picked else outs))
        if len(path) > len(via):
            return
        for f in out_of(j):
            s = int(edge_seg[f])
            if s in via and s not in used:
                walk([*path, f], used | {s})

    for e in ins:
        walk([e], {int(edge_seg[e])})
    return found


def build_mode_graph(
    mode: str,
    segs: Segments,
    n_nodes: int,
    way_access: list,
    piece: np.ndarray,
    node_rules: dict[int, int],
    restrictions: list[SegRestriction],
    piece_limits: np.ndarray | None = None,
    junction_limits: dict[int, tuple[float, float, float, float]] | None = None,
    turn_costs: bool = False,
    signal_junctions: frozenset[int] = frozenset(),
    seg_signals: np.ndarray | None = None,
    piece_cond: dict[int, tuple[tuple[int, ...], int, int]] | None = None,
) -> ModeGraph:
    """Build one mode's directed edges and kernel graph.

    ``way_access[i]`` is the :class:`routing.profiles.ModeAccess` of way piece ``i``;
    ``node_rules`` maps junctions to :data:`routing.profiles.NODE_BLOCKED` (turn back only)
    or :data:`routing.profiles.NODE_DEST` (passing costs :data:`DEST_PENALTY_MS`);
    ``restrictions`` are this mode's turn restrictions. ``piece_limits`` [pieces, 4] and
    ``junction_limits`` (height restrictors) give the edges' dimension limits.
    ``turn_costs``: every junction is split, turns cost time by angle
    (:func:`routing.profiles.turn_cost_ms`), a U-turn away from a dead end or a barrier
    also costs the penalty :data:`UTURN_PENALTY_MS`, passing a signal junction
    (``signal_junctions``) or entering a segment with signals inside (``seg_signals`` per
    segment) costs :data:`SIGNAL_DELAY_MS` each; that time is ``arc_turn_ms`` (part of
    ``arc_extra_ms``). ``piece_cond`` maps way pieces with conditional access to (condition
    ids, forward open mask, backward open mask) — the piece's edges are built when open in
    some combination and listed in ``cond_edge``; restrictions with ``cond >= 0`` keep
    their arcs and list them in ``cond_arc``.

    Kernel: one node per junction, except at *special* junctions (barriers, restriction
    vias, borders between destination-only and other roads), split into one node per
    incoming edge; a via-way restriction adds one node per edge of its watched path (the
    path is followed in a copy, and only the copy's last junction forbids the turn). An arc
    ``a`` traverses edge ``arc_edge[a]`` and costs its weight plus ``arc_extra_ms[a]``
    (entering destination-only roads, passing a destination-only node).
    """
    n_w = len(way_access)
    fwd = np.fromiter((a.forward for a in way_access), dtype=bool, count=n_w)
    bwd = np.fromiter((a.backward for a in way_access), dtype=bool, count=n_w)
    sp_f = np.fromiter((a.speed_fwd_kmh for a in way_access), dtype=np.float64, count=n_w)
    sp_b = np.fromiter((a.speed_bwd_kmh for a in way_access), dtype=np.float64, count=n_w)
    fl_f = np.fromiter(((FLAG_DEST if a.dest_fwd else 0) | (FLAG_PUSHED if a.pushed_fwd else 0)
                        | (FLAG_FERRY if a.duration_s is not None else 0)
                        for a in way_access), dtype=np.uint8, count=n_w)
    fl_b = np.fromiter(((FLAG_DEST if a.dest_bwd else 0) | (FLAG_PUSHED if a.pushed_bwd else 0)
                        | (FLAG_FERRY if a.duration_s is not None else 0)
                        for a in way_access), dtype=np.uint8, count=n_w)
    dur = np.fromiter((a.duration_s or 0.0 for a in way_access), dtype=np.float64, count=n_w)
    if (dur > 0).any():  # ferries: the scheduled duration over the piece's length
        piece_len = np.bincount(piece, weights=segs.length_m.astype(np.float64),
                                minlength=n_w)
        has = (dur > 0) & (piece_len > 0)
        ferry_kmh = np.where(has, piece_len / np.where(has, dur, 1.0) * 3.6, 0.0)
        sp_f = np.where(has, ferry_kmh, sp_f)
        sp_b = np.where(has, ferry_kmh, sp_b)
    s_f = np.flatnonzero(fwd[piece])
    s_b = np.flatnonzero(bwd[piece])
    edge_seg = np.concatenate([s_f, s_b]).astype(np.int32)
    edge_rev = np.concatenate([np.zeros(s_f.shape[0], bool), np.ones(s_b.shape[0], bool)])
    order = np.lexsort((edge_rev, edge_seg))
    edge_seg, edge_rev = edge_seg[order], edge_rev[order]
    tail = np.where(edge_rev, segs.v[edge_seg], segs.u[edge_seg]).astype(np.int32)
    head = np.where(edge_rev, segs.u[edge_seg], segs.v[edge_seg]).astype(np.int32)
    ep = piece[edge_seg]
    speed = np.where(edge_rev, sp_b[ep], sp_f[ep]).astype(np.float32)
    flags = np.where(edge_rev, fl_b[ep], fl_f[ep]).astype(np.uint8)
    length = segs.length_m[edge_seg]
    time_ms = np.maximum(np.rint(length / (speed / 3.6) * 1000.0), 1).astype(np.int32)
    n_edges = edge_seg.shape[0]
    limits = np.zeros((n_edges, 4), dtype=np.float32)
    if piece_limits is not None and piece_limits.shape[0]:
        limits[:] = piece_limits[ep]
    if junction_limits:
        for j, lim in junction_limits.items():
            at = np.flatnonzero((tail == j) | (head == j))
            for k in range(4):
                if lim[k] > 0:
                    cur = limits[at, k]
                    limits[at, k] = np.where((cur > 0) & (cur < lim[k]), cur, lim[k])

    seg_edge = np.full((segs.u.shape[0], 2), -1, dtype=np.int64)
    seg_edge[edge_seg, edge_rev.astype(np.int64)] = np.arange(n_edges)
    out_off, out_list = _by_key(tail, n_nodes)
    in_off, in_list = _by_key(head, n_nodes)

    def out_of(j: int) -> list[int]:
        return out_list[out_off[j]:out_off[j + 1]].tolist()

    def in_of(j: int) -> list[int]:
        return in_list[in_off[j]:in_off[j + 1]].tolist()

    is_dest = (flags & FLAG_DEST) != 0
    # Border junctions: destination-only and other edges of this mode meet.
    has_dest = np.zeros(n_nodes, bool)
    has_other = np.zeros(n_nodes, bool)
    for ends in (tail, head):
        has_dest[ends[is_dest]] = True
        has_other[ends[~is_dest]] = True
    border = has_dest & has_other
    special = border.copy()
    if turn_costs:
        special[:] = True
        bear_start, bear_end = _edge_bearings(segs, edge_seg, edge_rev)
        # road pieces meeting at each junction (segments this mode uses)
        used = np.unique(edge_seg)
        n_roads = np.bincount(np.concatenate([segs.u[used], segs.v[used]]),
                              minlength=n_nodes)
        dead_end = n_roads <= 1
    blocked = {j for j, r in node_rules.items() if r == NODE_BLOCKED}
    dest_nodes = {j for j, r in node_rules.items() if r == NODE_DEST}
    for j in node_rules:
        special[j] = True

    # Restrictions → watched edge paths (a trie of prefixes).
    seg_way = segs.way_id
    turn_angle: Callable[[int, int], float] | None = None
    if restrictions:
        r_start, r_end = (bear_start, bear_end) if turn_costs else \
            _edge_bearings(segs, edge_seg, edge_rev)

        def _angle(e: int, f: int) -> float:
            return (float(r_start[f]) - float(r_end[e]) + 540.0) % 360.0 - 180.0

        turn_angle = _angle

    complete: dict[tuple[int, ...], list[tuple[str, set[int], int]]] = defaultdict(list)
    prefixes: set[tuple[int, ...]] = set()
    applied = unresolved = via_way_applied = cond_applied = 0
    for r in restrictions:
        paths = _restriction_paths(r, seg_edge, tail, head, edge_seg, seg_way, out_of,
                                   turn_angle)
        if not paths:
            unresolved += 1
            continue
        applied += 1
        cond_applied += r.cond >= 0
        via_way_applied += r.via_junction < 0
        for path, outs in paths:
            complete[path].append((r.kind, outs, r.cond))
            special[head[path[0]]] = True
            for k in range(2, len(path) + 1):
                prefixes.add(path[:k])

    sp_nodes = np.flatnonzero(special)
    # Kernel nodes: junctions, then one copy per incoming edge of special junctions, then
    # one per watched path prefix.
    edge_head_knode = head.astype(np.int64).copy()
    copy_in = np.flatnonzero(special[head])
    edge_head_knode[copy_in] = np.arange(n_nodes, n_nodes + copy_in.shape[0])
    next_id = n_nodes + copy_in.shape[0]
    prefix_list = sorted(prefixes, key=lambda p: (len(p), p))
    prefix_knode = {p: next_id + i for i, p in enumerate(prefix_list)}
    next_id += len(prefix_list)
    knode_junction = np.concatenate([
        np.arange(n_nodes, dtype=np.int64), head[copy_in].astype(np.int64),
        np.asarray([int(head[p[-1]]) for p in prefix_list], dtype=np.int64)])

    normal = ~special[tail]
    a_tail = [tail[normal].astype(np.int64)]
    a_head = [edge_head_knode[normal]]
    a_edge = [np.flatnonzero(normal)]
    a_extra = [np.zeros(int(normal.sum()), np.int64)]
    a_turn = [np.zeros(int(normal.sum()), np.int64)]
    xt: list[int] = []
    xh: list[int] = []
    xe: list[int] = []
    xx: list[int] = []
    xturn: list[int] = []
    n_normal = int(normal.sum())
    ban_arc: list[int] = []  # positions among all arcs before sorting
    ban_cond: list[int] = []

    def arcs_from(state: tuple[int, ...], k_tail: int) -> None:
        # ``state``: the edges driven since the start of the longest watched path this
        # node follows; every watched path ending in a suffix of it binds here too.
        e = state[-1]
        j = int(head[e])
        rules = [r for i in range(len(state)) for r in complete.get(state[i:], ())]
        for f in out_of(j):
            is_uturn = edge_seg[e] == edge_seg[f] and edge_rev[e] != edge_rev[f]
            if j in blocked and not is_uturn:
                continue
            banned_when: list[int] = []
            banned = False
            for kind, outs, cond in rules:
                if (kind == "no" and f in outs) or (kind == "only" and f not in outs):
                    if cond < 0:
                        banned = True
                        break
                    banned_when.append(cond)
            if banned:
                continue
            for cond in banned_when:
                ban_arc.append(n_normal + len(xt))
                ban_cond.append(cond)
            turn = 0
            extra = 0
            if turn_costs:
                if is_uturn and not (dead_end[j] or j in blocked):
                    extra += UTURN_PENALTY_MS
                ang = (float(bear_start[f]) - float(bear_end[e]) + 540.0) % 360.0 - 180.0
                turn = turn_cost_ms(ang, int(n_roads[j]), bool(is_uturn))
                if not is_uturn and j in signal_junctions:
                    turn += SIGNAL_DELAY_MS
                if seg_signals is not None:
                    turn += SIGNAL_DELAY_MS * int(seg_signals[edge_seg[f]])
            extra += turn
            if j in dest_nodes and not is_uturn:
                extra += DEST_PENALTY_MS
            if is_dest[f] and not is_dest[e]:
                extra += DEST_PENALTY_MS
            xt.append(k_tail)
            k_head = int(edge_head_knode[f])
            for i in range(len(state)):  # the longest watched path continued by f
                k = prefix_knode.get((*state[i:], f))
                if k is not None:
                    k_head = k
                    break
            xh.append(k_head)
            xe.append(f)
            xx.append(extra)
            xturn.append(turn)

    for v in sp_nodes.tolist():
        for e in in_of(v):
            arcs_from((e,), int(edge_head_knode[e]))
    for p in prefix_list:
        arcs_from(p, prefix_knode[p])
    a_tail.append(np.asarray(xt, dtype=np.int64))
    a_head.append(np.asarray(xh, dtype=np.int64))
    a_edge.append(np.asarray(xe, dtype=np.int64))
    a_extra.append(np.asarray(xx, dtype=np.int64))
    a_turn.append(np.asarray(xturn, dtype=np.int64))
    arc_tail = np.concatenate(a_tail)
    arc_head = np.concatenate(a_head)
    arc_edge = np.concatenate(a_edge)
    arc_extra = np.concatenate(a_extra)
    arc_turn = np.concatenate(a_turn)
    o = np.argsort(arc_edge, kind="stable")
    arc_tail, arc_head, arc_edge, arc_extra = arc_tail[o], arc_head[o], arc_edge[o], arc_extra[o]
    arc_turn = arc_turn[o]
    inv_o = np.empty(o.shape[0], np.int64)
    inv_o[o] = np.arange(o.shape[0])
    cond_arc = inv_o[np.asarray(ban_arc, np.int64)].astype(np.int32)
    cond_arc_cond = np.asarray(ban_cond, np.int32)
    # conditional access: edges of pieces whose access depends on conditions
    c_edge: list[int] = []
    c_ids: list[tuple[int, ...]] = []
    c_open: list[int] = []
    if piece_cond:
        for e in range(n_edges):
            pc = piece_cond.get(int(ep[e]))
            if pc is None:
                continue
            ids, m_f, m_b = pc
            mask = m_b if edge_rev[e] else m_f
            if mask == (1 << (1 << len(ids))) - 1:
                continue  # open whatever holds
            c_edge.append(e)
            c_ids.append(tuple(ids) + (-1,) * (3 - len(ids)))
            c_open.append(mask)
    offsets = np.zeros(n_edges + 1, dtype=np.int64)
    np.cumsum(np.bincount(arc_edge, minlength=n_edges), out=offsets[1:])

    # Snappable: edges whose both ends lie in the largest strongly connected component
    # (of the kernel graph, so restrictions and barriers are respected).
    kn = int(next_id)
    in_main = _largest_scc(kn, arc_tail, arc_head)
    has_arc = np.diff(offsets) > 0
    tail_ok = np.zeros(n_edges, dtype=bool)
    tail_ok[arc_edge[in_main[arc_tail]]] = True
    snappable = has_arc & tail_ok & in_main[edge_head_knode]

    stats = {
        "edges": int(n_edges),
        "kernel_nodes": kn,
        "kernel_arcs": int(arc_tail.shape[0]),
        "split_junctions": int(sp_nodes.shape[0]),
        "destination_border_junctions": int(border.sum()),
        "destination_only_edges": int(is_dest.sum()),
        "pushed_edges": int(((flags & FLAG_PUSHED) != 0).sum()),
        "ferry_edges": int(((flags & FLAG_FERRY) != 0).sum()),
        "restrictions_applied": applied,
        "restrictions_via_way_applied": int(via_way_applied),
        "restrictions_unresolved": unresolved,
        "restriction_path_nodes": len(prefix_list),
        "blocked_barrier_nodes": len(blocked),
        "destination_nodes": len(dest_nodes),
        "snappable_edges": int(snappable.sum()),
        "turn_cost_arcs": int((arc_turn > 0).sum()),
        "restrictions_conditional_applied": int(cond_applied),
        "conditional_turn_arcs": int(cond_arc.shape[0]),
        "conditional_access_edges": len(c_edge),
    }
    return ModeGraph(
        mode=mode,
        edge_seg=edge_seg,
        edge_rev=edge_rev,
        edge_tail=tail,
        edge_head=head,
        edge_length_m=length.astype(np.float32),
        edge_speed_kmh=speed,
        edge_time_ms=time_ms,
        edge_snappable=snappable,
        edge_head_knode=edge_head_knode.astype(np.int32),
        arc_tail=arc_tail.astype(np.int32),
        arc_head=arc_head.astype(np.int32),
        arc_edge=arc_edge.astype(np.int32),
        edge_arc_offsets=offsets,
        knode_junction=knode_junction.astype(np.int32),
        arc_extra_ms=arc_extra.astype(np.int32),
        arc_turn_ms=arc_turn.astype(np.int32),
        edge_flags=flags,
        edge_limits=limits,
        cond_edge=np.asarray(c_edge, np.int32),
        cond_ids=np.asarray(c_ids, np.int32).reshape(-1, 3),
        cond_open=np.asarray(c_open, np.uint8),
        cond_arc=cond_arc,
        cond_arc_cond=cond_arc_cond,
        stats=stats,
    )


def _edge_bearings(segs: Segments, edge_seg: np.ndarray, edge_rev: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Bearing (degrees from north, clockwise) at the start and at the end of every edge,
    from its segment's first / last geometry step (equirectangular)."""
    g0 = np.asarray(segs.gstart, np.int64)[edge_seg]
    g1 = np.asarray(segs.gend, np.int64)[edge_seg] - 1
    lon, lat = np.asarray(segs.lon), np.asarray(segs.lat)

    def bearing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        dx = (lon[b] - lon[a]) * np.cos(np.radians((lat[a] + lat[b]) / 2))
        dy = lat[b] - lat[a]
        return np.degrees(np.arctan2(dx, dy)) % 360.0

    fwd_start, fwd_end = bearing(g0, g0 + 1), bearing(g1 - 1, g1)
    bwd_start, bwd_end = bearing(g1, g1 - 1), bearing(g0 + 1, g0)
    return (np.where(edge_rev, bwd_start, fwd_start), np.where(edge_rev, bwd_end, fwd_end))


def _by_key(keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR of item ids grouped by ``keys`` (offsets [n+1], ids)."""
    order = np.argsort(keys, kind="stable").astype(np.int64)
    off = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(keys, minlength=n), out=off[1:])
    return off, order


def _signals_inside(osm: OsmData, segs: Segments) -> np.ndarray:
    """Traffic signals on nodes inside each segment (not at its ends), int32 per segment."""
    out = np.zeros(segs.u.shape[0], np.int32)
    if not osm.signals:
        return out
    ids = np.fromiter(osm.signals, dtype=np.int64, count=len(osm.signals))
    pos = np.flatnonzero(np.isin(osm.node_ids, ids))
    gstart = np.asarray(segs.gstart)
    gend = np.asarray(segs.gend)
    s = np.searchsorted(gstart, pos, side="right") - 1
    ok = (s >= 0) & (pos > gstart[np.maximum(s, 0)]) & (pos < gend[np.maximum(s, 0)] - 1)
    np.add.at(out, s[ok], 1)
    return out


def build_network(osm: OsmData, progress: Progress | None = None) -> RoadNetwork:
    """Build segments and the graph of every mode (:data:`routing.profiles.MODES`) from
    parsed OSM data."""
    def tick(step: str, i: int, n: int) -> None:
        if progress:
            progress(step, i, n)

    via_ids = {r.via_node for r in osm.restrictions if r.via_node is not None}
    extra = set(osm.barriers) | via_ids
    tick("segments", 0, 1)
    segs, node_lon, node_lat, node_osm_id, piece = build_segments(osm, extra)
    tick("segments", 1, 1)
    n_nodes = node_lon.shape[0]
    osm_to_j = ({int(x): i for i, x in enumerate(node_osm_id)}
                if extra or osm.signals else {})
    seg_by_way: dict[int, list[int]] = defaultdict(list)
    for s, w in enumerate(segs.way_id.tolist()):
        seg_by_way[w].append(s)
    piece_limits = np.asarray([vehicle_limits(t) for t in osm.way_tags],
                              dtype=np.float32).reshape(-1, 4)
    junction_limits: dict[int, tuple[float, float, float, float]] = {}
    for n, t in osm.barriers.items():
        lim = vehicle_limits(t)
        if n in osm_to_j and any(x > 0 for x in lim):
            junction_limits[osm_to_j[n]] = lim

    signal_j = frozenset(osm_to_j[n] for n in osm.signals if n in osm_to_j)
    seg_signals = _signals_inside(osm, segs)

    stats: dict[str, int] = {
        "junctions": int(n_nodes),
        "signal_junctions": len(signal_j),
        "signals_inside_segments": int(seg_signals.sum()),
        "segments": int(segs.u.shape[0]),
        "restrictions_read": len(osm.restrictions),
        "restrictions_via_way_read": sum(1 for r in osm.restrictions if r.via_ways),
    }
    conditions: dict[str, int] = {}
    way_conds = _conditional_way_tags(osm, conditions, stats)
    restriction_cond = [-1 if r.condition is None
                        else conditions.setdefault(r.condition, len(conditions))
                        for r in osm.restrictions]
    stats["restrictions_conditional_read"] = sum(1 for c in restriction_cond if c >= 0)
    modes: dict[str, ModeGraph] = {}
    for k, mode in enumerate(MODES):
        tick("modes", k, len(MODES))
        rule = ACCESS_RULES[mode]
        access = [rule(t) for t in osm.way_tags]
        piece_cond = _conditional_access(mode, osm, way_conds, access, stats)
        node_rules: dict[int, int] = {}
        for n, t in osm.barriers.items():
            if n in osm_to_j:
                nr = node_access(mode, t)
                if nr != NODE_OPEN:
                    node_rules[osm_to_j[n]] = nr
        rules: list[SegRestriction] = []
        for r, rc in zip(osm.restrictions, restriction_cond, strict=True):
            if mode not in r.modes:
                continue
            if r.via_node is not None and r.via_node not in osm_to_j:
                continue
            rules.append(SegRestriction(
                r.kind,
                tuple(s for w in r.from_ways for s in seg_by_way.get(w, ())),
                osm_to_j[r.via_node] if r.via_node is not None else -1,
                tuple(s for w in r.via_ways for s in seg_by_way.get(w, ())),
                frozenset(r.via_ways),
                tuple(s for w in r.to_ways for s in seg_by_way.get(w, ())), rc, r.value))
        turns = mode in TURN_COST_MODES
        modes[mode] = build_mode_graph(mode, segs, n_nodes, access, piece, node_rules, rules,
                                       piece_limits if mode == Mode.TRUCK else None,
                                       junction_limits if mode == Mode.TRUCK else None,
                                       turns, signal_j if turns else frozenset(),
                                       seg_signals if turns else None, piece_cond)
        if modes[mode].stats["edges"] == 0:
            modes[mode].stats["empty"] = 1
    tick("modes", len(MODES), len(MODES))
    exits = exit_ref_per_junction(osm, node_osm_id, segs)
    stats["exit_numbered_junctions"] = int((exits >= 0).sum())
    stats["conditions"] = len(conditions)
    return RoadNetwork(node_lon, node_lat, node_osm_id, segs, modes, stats, exits,
                       list(conditions))


#: A way piece's conditional tags: (key, [(value, condition id), ...]) per tag.
WayConds = list[tuple[str, list[tuple[str, int]]]]


def _conditional_way_tags(osm: OsmData, conditions: dict[str, int], stats: dict[str, int]
                          ) -> dict[int, WayConds]:
    """Parse the ``KEY:conditional`` tags of every way piece (see :mod:`routing.osm`'s
    kept keys); conditions get ids in ``conditions``. Unparseable parts are counted
    (``conditional_parts_unparsed``) and ignored."""
    out: dict[int, WayConds] = {}
    for i, tags in enumerate(osm.way_tags):
        conds: WayConds = []
        for key, value in tags.items():
            if not key.endswith(":conditional"):
                continue
            stats["conditional_tags_read"] = stats.get("conditional_tags_read", 0) + 1
            try:
                parts = split_conditional(value)
            except ConditionError:
                stats["conditional_parts_unparsed"] = \
                    stats.get("conditional_parts_unparsed", 0) + 1
                continue
            good: list[tuple[str, int]] = []
            for v, cond in parts:
                try:
                    parse_condition(cond)
                except ConditionError:
                    stats["conditional_parts_unparsed"] = \
                        stats.get("conditional_parts_unparsed", 0) + 1
                    continue
                good.append((v, conditions.setdefault(cond, len(conditions))))
            if good:
                conds.append((key[: -len(":conditional")], good))
        if conds:
            out[i] = conds
    return out


def _conditional_access(mode: str, osm: OsmData, way_conds: dict[int, WayConds],
                        access: list, stats: dict[str, int]
                        ) -> dict[int, tuple[tuple[int, ...], int, int]]:
    """For way pieces with conditional tags: the access of every combination of their
    conditions (the last part whose condition holds sets its key), ``access[i]`` replaced
    by the union (open in some combination; speeds and flags of the base tags where open,
    else of the first combination that opens it), and per piece (condition ids, forward
    mask, backward mask) — bit ``c`` set when combination ``c`` opens that direction."""
    rule = ACCESS_RULES[Mode(mode)]
    out: dict[int, tuple[tuple[int, ...], int, int]] = {}
    for i, conds in way_conds.items():
        ids = tuple(dict.fromkeys(c for _, parts in conds for _, c in parts))
        if len(ids) > MAX_WAY_CONDITIONS:
            stats[f"{mode}_conditional_ways_too_complex"] = \
                stats.get(f"{mode}_conditional_ways_too_complex", 0) + 1
            continue
        base = osm.way_tags[i]
        combos = []
        for c in range(1 << len(ids)):
            on = {ids[k] for k in range(len(ids)) if c >> k & 1}
            tags = dict(base)
            for key, parts in conds:
                for v, cid in parts:
                    if cid in on:
                        tags[key] = v
            combos.append(rule(tags))
        m_f = sum(1 << c for c, a in enumerate(combos) if a.forward)
        m_b = sum(1 << c for c, a in enumerate(combos) if a.backward)
        full = (1 << len(combos)) - 1
        if m_f == (full if combos[0].forward else 0) and \
                m_b == (full if combos[0].backward else 0):
            continue  # no condition changes anything for this mode
        rep_f = next(a for a in combos if a.forward) if m_f else combos[0]
        rep_b = next(a for a in combos if a.backward) if m_b else combos[0]
        access[i] = dataclasses.replace(
            rep_f, forward=bool(m_f), backward=bool(m_b), speed_bwd_kmh=rep_b.speed_bwd_kmh,
            dest_bwd=rep_b.dest_bwd, pushed_bwd=rep_b.pushed_bwd)
        out[i] = (ids, m_f, m_b)
    return out
