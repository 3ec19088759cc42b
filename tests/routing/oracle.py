"""Independent reference answers for road routing (tests only).

* :func:`kernel_digraph` — the kernel graph as a networkx DiGraph (plain Dijkstra oracle).
* :class:`LineGraphOracle` — an edge-based Dijkstra (nodes = directed edges, arcs = turns)
  whose turn rules are derived directly from the raw OSM restrictions and barriers, not from
  the kernel's node splitting, so it checks that construction too.
"""

from __future__ import annotations

from collections import defaultdict

import networkx as nx
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from routing.osm import OsmData
from routing.profiles import barrier_blocks


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


class LineGraphOracle:
    """Edge-based Dijkstra with turn rules taken from the raw OSM data."""

    def __init__(self, router, mode: str, osm: OsmData) -> None:
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
        by_tail = defaultdict(list)
        for f, t in enumerate(tail.tolist()):
            by_tail[t].append(f)
        blocked = {n for n, tags in osm.barriers.items() if barrier_blocks(mode, tags)}
        rules: dict[tuple[int, int], list[tuple[str, int]]] = defaultdict(list)
        if mode == "car":
            for r in osm.restrictions:
                if r.via_node is None or r.except_modes & {"motorcar", "motor_vehicle",
                                                           "vehicle"}:
                    continue
                rules[(r.via_node, r.from_way)].append((r.kind, r.to_way))
        # A rule counts only when its 'to' way leaves the via node in this graph.
        leaving = defaultdict(set)
        for f in range(n_e):
            leaving[int(osm_id[tail[f]])].add(int(way[f]))
        t_list, h_list = [], []
        for e in range(n_e):
            v = int(head[e])
            v_osm = int(osm_id[v])
            rs = [(k, tw) for k, tw in rules.get((v_osm, int(way[e])), ()) if tw in leaving[v_osm]]
            for f in by_tail.get(v, ()):
                if v_osm in blocked and not (seg[e] == seg[f] and rev[e] != rev[f]):
                    continue
                if any(k == "no" and tw == way[f] for k, tw in rs):
                    continue
                onlys = [tw for k, tw in rs if k == "only"]
                if onlys and int(way[f]) not in onlys:
                    continue
                t_list.append(e)
                h_list.append(f)
        self.turn_tail = np.asarray(t_list, dtype=np.int64)
        self.turn_head = np.asarray(h_list, dtype=np.int64)
        self.n_e = n_e

    def cost_ms(self, src_edges: list[tuple[int, float]], dst_edges: list[tuple[int, float]],
                w: np.ndarray) -> int | None:
        """Least total weight (ms) from the source endpoint to the target endpoint."""
        def part(e: int, metres: float, remaining: bool) -> int:
            seg_l = self.seg_len[self.edge_seg[e]]
            f = metres / seg_l if seg_l > 0 else 0.0
            f = 1.0 - f if remaining else f
            return int(round(float(w[e]) * min(max(f, 0.0), 1.0)))

        s = self.n_e
        ok = w[self.turn_head] < 2_147_483_647
        rows = np.concatenate([self.turn_tail[ok], np.full(len(src_edges), s)])
        cols = np.concatenate([self.turn_head[ok], [e for e, _ in src_edges]])
        vals = np.concatenate([w[self.turn_head[ok]].astype(np.float64),
                               [part(e, m, True) + 1 for e, m in src_edges]])
        g = coo_matrix((vals, (rows, cols)), shape=(s + 1, s + 1)).tocsr()
        dist = dijkstra(g, directed=True, indices=s)
        best = np.inf
        for f, m in dst_edges:
            q = part(f, m, False)
            preds = self.turn_tail[(self.turn_head == f)]
            if preds.shape[0]:
                best = min(best, float(dist[preds].min()) - 1 + q)
        for e, m0 in src_edges:
            for f, m1 in dst_edges:
                if e == f and m1 >= m0:
                    seg_l = self.seg_len[self.edge_seg[e]]
                    best = min(best, round(float(w[e]) * ((m1 - m0) / seg_l if seg_l else 0)))
        return None if not np.isfinite(best) else int(round(best))
