"""Turn OSM ways into routable per-mode graphs.

Three levels, all plain numpy arrays:

* **segments** — undirected pieces of one way between two junctions (shared nodes, way
  ends, barriers, restriction vias), with full geometry, length, way id and the street
  labels guidance needs (name, ref, ramp signposts, footway kind; see ``routing.labels``);
* **edges** (per mode) — the directed, usable traversals of segments with speeds and travel
  times in integer milliseconds;
* **kernel graph** (per mode) — what the shortest-path core sees: one node per junction,
  except at junctions with turn rules (turn restrictions, barriers), which are split into
  one copy per incoming edge so that forbidden turns are simply absent arcs. Each kernel
  arc maps to exactly one edge, so a weight vector over edges defines the kernel weights.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from gtfs.geo import haversine_m
from routing.kernels.limits import INF_WEIGHT  # noqa: F401 - re-exported
from routing.labels import LABEL_TAGS, display_value
from routing.osm import OsmData
from routing.profiles import ACCESS_RULES, MODES, Mode, barrier_blocks

Progress = Callable[[str, int, int], None]


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
    if tail.shape[0] == 0:
        return np.zeros(n, dtype=bool)
    m = coo_matrix((np.ones(tail.shape[0], dtype=np.int8), (tail, head)), shape=(n, n)).tocsr()
    _, labels = connected_components(m, directed=True, connection="strong")
    sizes = np.bincount(labels)
    return labels == int(np.argmax(sizes))


def build_mode_graph(
    mode: str,
    segs: Segments,
    n_nodes: int,
    way_access: list,
    piece: np.ndarray,
    blocked_nodes: np.ndarray,
    restrictions: list[tuple[str, int, list[int], list[int]]],
) -> ModeGraph:
    """Build one mode's directed edges and kernel graph.

    ``way_access[i]`` is the :class:`routing.profiles.ModeAccess` of way piece ``i``;
    ``blocked_nodes`` are junctions this mode cannot pass through (U-turns allowed);
    ``restrictions`` are ``(kind, via_node, from_segs, to_segs)`` in segment terms (kind
    ``"no"`` or ``"only"``, the via junction, the segments of the from and to ways), already
    filtered for this mode (car only).
    """
    fwd = np.fromiter((a.forward for a in way_access), dtype=bool, count=len(way_access))
    bwd = np.fromiter((a.backward for a in way_access), dtype=bool, count=len(way_access))
    sp_f = np.fromiter((a.speed_fwd_kmh for a in way_access), dtype=np.float64,
                       count=len(way_access))
    sp_b = np.fromiter((a.speed_bwd_kmh for a in way_access), dtype=np.float64,
                       count=len(way_access))
    s_f = np.flatnonzero(fwd[piece])
    s_b = np.flatnonzero(bwd[piece])
    edge_seg = np.concatenate([s_f, s_b]).astype(np.int32)
    edge_rev = np.concatenate([np.zeros(s_f.shape[0], bool), np.ones(s_b.shape[0], bool)])
    order = np.lexsort((edge_rev, edge_seg))
    edge_seg, edge_rev = edge_seg[order], edge_rev[order]
    tail = np.where(edge_rev, segs.v[edge_seg], segs.u[edge_seg]).astype(np.int32)
    head = np.where(edge_rev, segs.u[edge_seg], segs.v[edge_seg]).astype(np.int32)
    speed = np.where(edge_rev, sp_b[piece[edge_seg]], sp_f[piece[edge_seg]]).astype(np.float32)
    length = segs.length_m[edge_seg]
    time_ms = np.maximum(np.rint(length / (speed / 3.6) * 1000.0), 1).astype(np.int32)
    n_edges = edge_seg.shape[0]

    # Edge lookup by (segment, direction) for restriction resolution.
    seg_edge = np.full((segs.u.shape[0], 2), -1, dtype=np.int64)
    seg_edge[edge_seg, edge_rev.astype(np.int64)] = np.arange(n_edges)

    # Turn rules at special junctions: allowed[(in_edge)] = set of out edges, or rule fn.
    special = np.zeros(n_nodes, dtype=bool)
    special[blocked_nodes] = True
    banned: dict[int, set[int]] = defaultdict(set)  # in_edge -> forbidden out edges
    only: dict[int, set[int]] = defaultdict(set)  # in_edge -> the only allowed out edges
    applied = unresolved = 0
    for kind, via, from_segs, to_segs in restrictions:
        in_edges = [e for s in from_segs for e in seg_edge[s] if e >= 0 and head[e] == via]
        out_edges = [e for s in to_segs for e in seg_edge[s] if e >= 0 and tail[e] == via]
        if not in_edges or not out_edges:
            unresolved += 1
            continue
        applied += 1
        special[via] = True
        for e in in_edges:
            (banned if kind == "no" else only)[e].update(out_edges)

    in_edges_of: dict[int, list[int]] = defaultdict(list)
    out_edges_of: dict[int, list[int]] = defaultdict(list)
    sp_nodes = np.flatnonzero(special)
    sp_set = set(sp_nodes.tolist())
    for e in np.flatnonzero(special[head]).tolist():
        in_edges_of[int(head[e])].append(e)
    for e in np.flatnonzero(special[tail]).tolist():
        out_edges_of[int(tail[e])].append(e)

    # Kernel nodes: junctions 0..n-1, then one copy per incoming edge of special junctions.
    edge_head_knode = head.astype(np.int64).copy()
    knode_junction = [np.arange(n_nodes, dtype=np.int64)]
    next_id = n_nodes
    copy_in = np.flatnonzero(special[head])
    edge_head_knode[copy_in] = np.arange(next_id, next_id + copy_in.shape[0])
    knode_junction.append(head[copy_in].astype(np.int64))
    next_id += copy_in.shape[0]

    blocked_set = set(np.asarray(blocked_nodes).tolist())
    normal = ~special[tail]
    a_tail = [tail[normal].astype(np.int64)]
    a_head = [edge_head_knode[normal]]
    a_edge = [np.flatnonzero(normal)]
    xt: list[int] = []
    xh: list[int] = []
    xe: list[int] = []
    for v in sp_set:
        for e in in_edges_of.get(v, ()):
            for f in out_edges_of.get(v, ()):
                is_uturn = edge_seg[e] == edge_seg[f] and edge_rev[e] != edge_rev[f]
                if v in blocked_set and not is_uturn:
                    continue
                if e in only and f not in only[e]:
                    continue
                if f in banned.get(e, ()):
                    continue
                xt.append(int(edge_head_knode[e]))
                xh.append(int(edge_head_knode[f]))
                xe.append(f)
    a_tail.append(np.asarray(xt, dtype=np.int64))
    a_head.append(np.asarray(xh, dtype=np.int64))
    a_edge.append(np.asarray(xe, dtype=np.int64))
    arc_tail = np.concatenate(a_tail)
    arc_head = np.concatenate(a_head)
    arc_edge = np.concatenate(a_edge)
    o = np.argsort(arc_edge, kind="stable")
    arc_tail, arc_head, arc_edge = arc_tail[o], arc_head[o], arc_edge[o]
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
        "restrictions_applied": applied,
        "restrictions_unresolved": unresolved,
        "blocked_barrier_nodes": len(blocked_set),
        "snappable_edges": int(snappable.sum()),
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
        knode_junction=np.concatenate(knode_junction).astype(np.int32),
        stats=stats,
    )


def build_network(osm: OsmData, progress: Progress | None = None) -> RoadNetwork:
    """Build segments and the car, bike and walk graphs from parsed OSM data."""
    def tick(step: str, i: int, n: int) -> None:
        if progress:
            progress(step, i, n)

    via_ids = {r.via_node for r in osm.restrictions if r.via_node is not None}
    extra = set(osm.barriers) | via_ids
    tick("segments", 0, 1)
    segs, node_lon, node_lat, node_osm_id, piece = build_segments(osm, extra)
    tick("segments", 1, 1)
    n_nodes = node_lon.shape[0]
    osm_to_j = {int(x): i for i, x in enumerate(node_osm_id)} if extra else {}
    seg_by_way: dict[int, list[int]] = defaultdict(list)
    for s, w in enumerate(segs.way_id.tolist()):
        seg_by_way[w].append(s)

    stats: dict[str, int] = {
        "junctions": int(n_nodes),
        "segments": int(segs.u.shape[0]),
        "restrictions_via_way_skipped": sum(1 for r in osm.restrictions if r.via_ways),
    }
    modes: dict[str, ModeGraph] = {}
    for k, mode in enumerate(MODES):
        tick("modes", k, len(MODES))
        rule = ACCESS_RULES[mode]
        access = [rule(t) for t in osm.way_tags]
        blocked = np.asarray(
            sorted(osm_to_j[n] for n, t in osm.barriers.items()
                   if n in osm_to_j and barrier_blocks(mode, t)),
            dtype=np.int64,
        )
        rules: list[tuple[str, int, list[int], list[int]]] = []
        if mode == Mode.CAR:
            for r in osm.restrictions:
                if r.via_node is None or r.via_node not in osm_to_j:
                    continue
                if r.except_modes & {"motorcar", "motor_vehicle", "vehicle"}:
                    continue
                rules.append((r.kind, osm_to_j[r.via_node], seg_by_way.get(r.from_way, []),
                              seg_by_way.get(r.to_way, [])))
        modes[mode] = build_mode_graph(mode, segs, n_nodes, access, piece, blocked, rules)
        if modes[mode].stats["edges"] == 0:
            modes[mode].stats["empty"] = 1
    tick("modes", len(MODES), len(MODES))
    exits = exit_ref_per_junction(osm, node_osm_id, segs)
    stats["exit_numbered_junctions"] = int((exits >= 0).sum())
    return RoadNetwork(node_lon, node_lat, node_osm_id, segs, modes, stats, exits)
