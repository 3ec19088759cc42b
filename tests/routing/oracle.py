"""Independent reference answers for road routing (tests only).

* :func:`kernel_digraph` — the kernel graph as a networkx DiGraph (plain Dijkstra oracle).
* :func:`kernel_distances` — plain one-to-all Dijkstra (scipy's csgraph) over the kernel
  arcs: every node's distance from each given source, one search per source.
* :class:`LineGraphOracle` — an edge-based Dijkstra (nodes = directed edges, arcs = turns)
  whose turn rules are derived directly from the raw OSM restrictions and barriers, not from
  the kernel's node splitting, so it checks that construction too.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

import networkx as nx
import numpy as np
import opening_hours
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import dijkstra

from routing.osm import OsmData
from routing.profiles import (
    ACCESS_RULES,
    DEST_PENALTY_MS,
    NODE_BLOCKED,
    NODE_DEST,
    NODE_OPEN,
    SIGNAL_DELAY_MS,
    TURN_COST_MODES,
    UTURN_PENALTY_MS,
    node_access,
    turn_cost_ms,
)

_VEHICLE = {"car": {"weight": 1.5, "height": 1.6, "width": 1.8, "length": 4.5},
            "bus": {"weight": 18.0, "height": 3.2, "width": 2.55, "length": 12.0},
            "truck": {"weight": 18.0, "height": 4.0, "width": 2.55, "length": 12.0}}


def condition_holds(cond: str, mode: str, at: datetime, zone: ZoneInfo) -> bool:
    """Independent reading of one condition: ``AND``-joined terms, each a vehicle
    comparison against the mode's standard vehicle or an opening_hours spec at ``at``'s
    local time; anything unreadable never holds."""
    for term in cond.split(" AND "):
        term = term.strip()
        m = re.fullmatch(r"(weight|height|width|length)\s*([<>]=?|=)\s*([\d.]+)\s*[tm]?", term)
        if m:
            v = _VEHICLE.get(mode, {}).get(m.group(1))
            lim = float(m.group(3))
            if v is None or not {"<": v < lim, "<=": v <= lim, ">": v > lim, ">=": v >= lim,
                                 "=": v == lim}[m.group(2)]:
                return False
            continue
        try:
            oh = opening_hours.OpeningHours(term)
        except Exception:  # noqa: BLE001 (unreadable: never holds)
            return False
        if not oh.is_open(at.astimezone(zone).replace(tzinfo=None)):
            return False
    return True


def tags_at(tags: dict[str, str], mode: str, at: datetime | None, zone: ZoneInfo
            ) -> dict[str, str]:
    """A way's tags with every ``KEY:conditional`` part in force at ``at`` written over
    ``KEY`` (the last part in force wins)."""
    if at is None:
        return tags
    out = dict(tags)
    for key, value in tags.items():
        if not key.endswith(":conditional"):
            continue
        for part in re.split(r";(?![^(]*\))", value):
            if "@" not in part:
                continue
            v, cond = (x.strip() for x in part.split("@", 1))
            cond = cond[1:-1].strip() if cond.startswith("(") and cond.endswith(")") else cond
            if v and cond and condition_holds(cond, mode, at, zone):
                out[key[: -len(":conditional")]] = v
    return out


def kernel_digraph(arc_tail: np.ndarray, arc_head: np.ndarray, arc_w: np.ndarray,
                   inf: int) -> nx.DiGraph:
    """networkx DiGraph of kernel arcs (parallel arcs keep the lowest weight; closed arcs
    are left out)."""
    g = nx.DiGraph()
    for t, h, w in zip(arc_tail.tolist(), arc_head.tolist(), arc_w.tolist(), strict=True):
        if w >= inf:
            continue
        if g.has_edge(t, h) and g[t][h]["weight"] <= w:
            continue
        g.add_edge(t, h, weight=w)
    return g


def kernel_distances(arc_tail: np.ndarray, arc_head: np.ndarray, arc_w: np.ndarray, inf: int,
                     n_nodes: int, sources: np.ndarray) -> np.ndarray:
    """Distances (ms, ``float``; ``inf`` where unreachable) from each of ``sources`` (rows) to
    every kernel node (columns), by plain Dijkstra over the kernel arcs: parallel arcs keep
    the lowest weight, closed arcs (``>= inf``) are left out. One full search per source."""
    tail, head, w = (np.asarray(x, dtype=np.int64) for x in (arc_tail, arc_head, arc_w))
    keep = w < inf
    tail, head, w = tail[keep], head[keep], w[keep]
    order = np.lexsort((w, head, tail))  # by (tail, head), lowest weight first
    tail, head, w = tail[order], head[order], w[order]
    first = np.ones(tail.shape[0], dtype=bool)
    first[1:] = (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])
    # no duplicate (tail, head) is left, so nothing is summed; explicit zeros stay arcs
    g = csr_matrix((w[first].astype(np.float64), (tail[first], head[first])),
                   shape=(n_nodes, n_nodes))
    src = np.asarray(sources, dtype=np.int64)
    out = np.empty((src.shape[0], n_nodes), dtype=np.float64)
    for i in range(0, src.shape[0], 32):  # bounded memory per call
        out[i:i + 32] = dijkstra(g, directed=True, indices=src[i:i + 32])
    return out


class LineGraphOracle:
    """Edge-based Dijkstra with turn rules taken from the raw OSM data.

    Nodes are *states*: an edge together with the set of restriction matches in progress
    (a ``from`` way just driven, then via ways driven so far without repeating a
    segment). A match whose via part is complete (the via node, or every via way) forbids
    the next edge (``no_*``: onto a ``to`` way; ``only_*``: onto anything else) — provided
    a ``to`` way leaves there in this mode's graph. Barrier nodes allow only U-turns;
    destination-only access (derived here from the raw way and node tags) costs
    :data:`DEST_PENALTY_MS` when a route enters such roads from others and when it passes
    a destination-only node. Car turns cost time by angle (the profile's curve, with angles,
    junction sizes, dead ends and signals re-derived here from the raw geometry), U-turns
    away from dead ends and barriers penalized. None of this reads the kernel's node
    splitting, watched paths or arc extras, so it checks their construction.
    """

    def __init__(self, router, mode: str, osm: OsmData, at: datetime | None = None) -> None:
        """``at`` (aware): evaluate conditional restrictions and conditional access at that
        instant (see :func:`condition_holds`); ``None``: conditional rules are left out
        (restrictions) or read as their base tags (access)."""
        a = router.modes[mode]
        self.router, self.mode = router, mode
        tail = np.asarray(a.arrays.edge_tail)
        head = np.asarray(a.arrays.edge_head)
        seg = np.asarray(a.arrays.edge_seg)
        rev = np.asarray(a.arrays.edge_rev)
        self.seg_len = np.asarray(router.snapshot.segments.length_m, dtype=np.float64)
        self.edge_seg = seg
        way = np.asarray(router.snapshot.segments.way_id)[seg]
        osm_id = np.asarray(router.snapshot.node_osm_id)
        n_e = tail.shape[0]
        tags_of_way = {int(w): t for w, t in zip(osm.way_ids.tolist(), osm.way_tags,
                                                  strict=True)}
        rule = ACCESS_RULES[mode]
        zone = ZoneInfo(router.snapshot.timezone)
        acc = {w: rule(tags_at(t, mode, at, zone)) for w, t in tags_of_way.items()}
        #: edges closed at ``at`` by conditional access (raw tags re-read here)
        self.closed = np.array([not (acc[int(way[e])].backward if rev[e]
                                     else acc[int(way[e])].forward) for e in range(n_e)],
                               dtype=bool)
        dest = np.array([acc[int(way[e])].dest_bwd if rev[e] else acc[int(way[e])].dest_fwd
                         for e in range(n_e)], dtype=bool)
        node_rule = {n: node_access(mode, t) for n, t in osm.barriers.items()}
        by_tail = defaultdict(list)
        for f, t in enumerate(tail.tolist()):
            by_tail[t].append(f)
        rs = [r for r in osm.restrictions if mode in r.modes and (
            r.condition is None or (at is not None and condition_holds(r.condition, mode, at,
                                                                       zone)))]
        from_of = defaultdict(list)  # way id -> restriction indices
        for i, r in enumerate(rs):
            for w in r.from_ways:
                from_of[w].append(i)
        via_nodes_of_way: dict[int, set[int]] = defaultdict(set)
        for f in range(n_e):
            via_nodes_of_way[int(way[f])].add(int(osm_id[tail[f]]))

        def starts(f: int) -> list[tuple[int, tuple[int, ...], frozenset[int]]]:
            """Matches started by driving edge ``f``: (restriction, via edges, used segs)."""
            out = []
            v_osm = int(osm_id[head[f]])
            for i in from_of.get(int(way[f]), ()):
                r = rs[i]
                if r.via_node is not None:
                    if r.via_node == v_osm:
                        out.append((i, (), frozenset({int(seg[f])})))
                elif int(way[f]) not in r.via_ways and any(
                        v_osm in via_nodes_of_way.get(w, ()) for w in r.via_ways):
                    out.append((i, (), frozenset({int(seg[f])})))
            return out

        def complete(m: tuple[int, tuple[int, ...], frozenset[int]]) -> bool:
            r = rs[m[0]]
            if r.via_node is not None:
                return True
            return bool(m[1]) and {int(way[x]) for x in m[1]} == set(r.via_ways)

        def to_edges(m, v: int) -> set[int]:
            r = rs[m[0]]
            return {g for g in by_tail.get(v, ()) if int(way[g]) in r.to_ways
                    and int(seg[g]) not in m[2]}

        segs = router.snapshot.segments
        g_lon, g_lat = np.asarray(segs.lon), np.asarray(segs.lat)
        gs, ge = np.asarray(segs.gstart), np.asarray(segs.gend)

        def bearing(i: int, j: int) -> float:
            dx = (g_lon[j] - g_lon[i]) * math.cos(math.radians((g_lat[i] + g_lat[j]) / 2))
            return math.degrees(math.atan2(dx, g_lat[j] - g_lat[i])) % 360.0

        def b_start(e: int) -> float:
            a0, a1 = int(gs[seg[e]]), int(ge[seg[e]]) - 1
            return bearing(a1, a1 - 1) if rev[e] else bearing(a0, a0 + 1)

        def b_end(e: int) -> float:
            a0, a1 = int(gs[seg[e]]), int(ge[seg[e]]) - 1
            return bearing(a0 + 1, a0) if rev[e] else bearing(a1 - 1, a1)

        def angle(e: int, f: int) -> float:
            return (b_start(f) - b_end(e) + 540.0) % 360.0 - 180.0

        def names(value: str, a: float) -> bool:
            """Whether a turn of ``a`` degrees is the movement a restriction value names
            (True when it names none): straight ±45°, sides 10°–170°, U-turn ≥ 135°."""
            kind = value.split("_", 1)[1] if "_" in value else ""
            return {"left_turn": -170.0 < a < -10.0, "right_turn": 10.0 < a < 170.0,
                    "straight_on": abs(a) <= 45.0, "u_turn": abs(a) >= 135.0}.get(kind, True)

        by_head = defaultdict(list)
        for f, h in enumerate(head.tolist()):
            by_head[h].append(f)

        def intended(m, e: int, v: int, outs: set[int]) -> set[int] | None:
            """A restriction whose from / to way runs through the via junction binds only
            the movement its value names, when some movement there matches it."""
            r = rs[m[0]]
            froms = [e] if r.via_node is None else \
                [x for x in by_head[v] if int(way[x]) in r.from_ways]
            if len(froms) <= 1 and len(outs) <= 1:
                return outs
            if not any(names(r.value, angle(x, f)) for x in froms for f in outs):
                return outs
            return {f for f in outs if names(r.value, angle(e, f))}

        # Car turn costs, re-derived here from the raw geometry and OSM signals.
        turns = mode in TURN_COST_MODES
        if turns:
            # road ends meeting at each junction (a loop segment meets it twice)
            roads: dict[int, set[tuple[int, int]]] = defaultdict(set)
            for e in range(n_e):
                first, last = (1, 0) if rev[e] else (0, 1)
                roads[int(tail[e])].add((int(seg[e]), first))
                roads[int(head[e])].add((int(seg[e]), last))
            sig = osm.signals
            inner_signals = {}
            for s_ in set(seg.tolist()):
                ids = osm.node_ids[int(gs[s_]) + 1:int(ge[s_]) - 1].tolist()
                inner_signals[s_] = sum(1 for x in ids if x in sig)

        # Breadth-first expansion of (edge, matches) states.
        state_id: dict[tuple[int, frozenset], int] = {}
        state_edge: list[int] = []
        queue: list[tuple[int, frozenset]] = []

        def sid(f: int, ms: frozenset) -> int:
            key = (f, ms)
            k = state_id.get(key)
            if k is None:
                k = state_id[key] = len(state_edge)
                state_edge.append(f)
                queue.append(key)
            return k

        for f in range(n_e):
            sid(f, frozenset(starts(f)))
        t_list, h_list, x_list = [], [], []
        qi = 0
        while qi < len(queue):
            e, ms = queue[qi]
            qi += 1
            k_e = state_id[(e, ms)]
            v = int(head[e])
            v_osm = int(osm_id[v])
            nr = node_rule.get(v_osm, NODE_OPEN)
            for f in by_tail.get(v, ()):
                uturn = seg[e] == seg[f] and rev[e] != rev[f]
                if nr == NODE_BLOCKED and not uturn:
                    continue
                banned = False
                for m in ms:
                    if not complete(m):
                        continue
                    outs = to_edges(m, v)
                    if not outs:
                        continue  # the 'to' way does not leave here in this graph
                    outs = intended(m, e, v, outs)
                    if not outs:
                        continue  # this approach is not the movement the value names
                    kind = rs[m[0]].kind
                    if (kind == "no" and f in outs) or (kind == "only" and f not in outs):
                        banned = True
                        break
                if banned:
                    continue
                nxt = set(starts(f))
                for m in ms:
                    r = rs[m[0]]
                    if r.via_node is None and int(way[f]) in r.via_ways \
                            and int(seg[f]) not in m[2] and len(m[1]) < 64:
                        nxt.add((m[0], (*m[1], f), m[2] | {int(seg[f])}))
                extra = 0
                turn = 0
                if turns:
                    if uturn and len(roads[v]) > 1 and nr != NODE_BLOCKED:
                        extra += UTURN_PENALTY_MS  # U-turns away from dead ends: penalized
                    ang = (b_start(f) - b_end(e) + 540.0) % 360.0 - 180.0
                    turn = turn_cost_ms(ang, len(roads[v]), bool(uturn))
                    if v_osm in sig and not uturn:
                        turn += SIGNAL_DELAY_MS
                    turn += SIGNAL_DELAY_MS * inner_signals[int(seg[f])]
                    extra += turn
                if nr == NODE_DEST and not uturn:
                    extra += DEST_PENALTY_MS
                if dest[f] and not dest[e]:
                    extra += DEST_PENALTY_MS
                t_list.append(k_e)
                h_list.append(sid(f, frozenset(nxt)))
                x_list.append(extra)
        self.turn_tail = np.asarray(t_list, dtype=np.int64)
        self.turn_head = np.asarray(h_list, dtype=np.int64)
        self.turn_extra = np.asarray(x_list, dtype=np.int64)
        self.state_edge = np.asarray(state_edge, dtype=np.int64)
        self.plain_state = np.asarray([state_id[(f, frozenset(starts(f)))] for f in range(n_e)],
                                      dtype=np.int64)
        self.n_e = n_e
        self.n_s = len(state_edge)
        self._graph: tuple | None = None

    def _turn_graph(self, w: np.ndarray) -> tuple:
        """The turn graph under edge weights ``w`` (cached for the last ``w`` seen): CSR
        over the states plus an empty last row for the source, the open turns' tails and
        extras, and those turns grouped by the edge they enter."""
        c = self._graph
        if c is not None and np.array_equal(c[0], w):
            return c[1]
        s = self.n_s
        head_edge = self.state_edge[self.turn_head]
        wc = np.where(self.closed, 2_147_483_647, w)
        ok = wc[head_edge] < 2_147_483_647
        vals = wc[head_edge[ok]].astype(np.float64) + self.turn_extra[ok]
        g = coo_matrix((vals, (self.turn_tail[ok], self.turn_head[ok])),
                       shape=(s + 1, s + 1)).tocsr()
        tail_ok, extra_ok, entered = self.turn_tail[ok], self.turn_extra[ok], head_edge[ok]
        order = np.argsort(entered, kind="stable")
        bounds = np.searchsorted(entered[order], np.arange(self.n_e + 1))
        graph = (g, wc, tail_ok[order], extra_ok[order], bounds)
        self._graph = (w.copy(), graph)
        return graph

    def cost_ms(self, src_edges: list[tuple[int, float]], dst_edges: list[tuple[int, float]],
                w: np.ndarray) -> int | None:
        """Least total weight (ms) from the source endpoint to the target endpoint."""
        def part(e: int, metres: float, remaining: bool) -> int:
            seg_l = self.seg_len[self.edge_seg[e]]
            f = metres / seg_l if seg_l > 0 else 0.0
            f = 1.0 - f if remaining else f
            return int(round(float(w[e]) * min(max(f, 0.0), 1.0)))

        s = self.n_s
        base, w, arr_tail, arr_extra, bounds = self._turn_graph(w)
        # the source's arcs fill the last (empty) row: appended after every other row's
        indptr = base.indptr.copy()
        indptr[-1] += len(src_edges)
        g = csr_matrix((np.concatenate([base.data, [part(e, m, True) + 1 for e, m in src_edges]]),
                        np.concatenate([base.indices,
                                        [self.plain_state[e] for e, _ in src_edges]]),
                        indptr), shape=(s + 1, s + 1))
        dist = dijkstra(g, directed=True, indices=s)
        best = np.inf
        for f, m in dst_edges:
            q = part(f, m, False)
            preds = arr_tail[bounds[f]:bounds[f + 1]]
            extra = arr_extra[bounds[f]:bounds[f + 1]]
            if preds.shape[0]:
                # arriving on f over a turn: the weight up to f's tail, plus the turn's extra
                best = min(best, float((dist[preds] + extra).min()) - 1 + q)
        for e, m0 in src_edges:
            for f, m1 in dst_edges:
                if e == f and m1 >= m0:
                    seg_l = self.seg_len[self.edge_seg[e]]
                    best = min(best, round(float(w[e]) * ((m1 - m0) / seg_l if seg_l else 0)))
        return None if not np.isfinite(best) else int(round(best))
