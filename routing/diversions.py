"""Diversions around a closed stretch: what a traffic centre signs for through traffic.

The stretch's car edges are grouped into chains (consecutive edges in one travel direction).
For each chain the road is followed upstream from the chain's entry and downstream from its
exit (the edge of the same way, else of the same street name, else the fastest; up to
5 km, stopping at dead ends). Every junction on the upstream road is a possible diversion
point and every junction on the downstream road a possible rejoin point. One
multi-source, multi-target CCH query on the state's weights with the chain closed finds the
detour that costs least more than driving along the road through the stretch: each source is
offset by minus its road time to the entry, each target by minus its road time from the exit.
The diversion point is where that detour leaves the road, the rejoin point where it meets it
again — so a motorway bridge gets its diversion at the last exit before it, not "no
diversion" because the bridge's own entry junction has no other way out.

* When the upstream and downstream roads meet, the stretch is a loop that no through traffic
  uses: "no diversion needed".
* "No diversion available" is said only when no upstream junction reaches any downstream one
  with the stretch closed.
* Further detours come from the penalty method (edges of found detours made slower).

Each detour reports its extra time against the fastest way between the same diversion and
rejoin points without this closure, the streets to sign, and a sign text for a variable
message sign.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from routing.kernels.cch import PrivateMetric
from routing.kernels.limits import INF_WEIGHT
from routing.profiles import Mode
from routing.road import Endpoint, RoadRoute, RoadRouter, RoutingError
from routing.snap import SnapCandidate
from routing.state import RoutingState

#: How far upstream (downstream) of the closure the diversion (rejoin) point may lie.
MAX_WALK_M = 5_000.0
PENALTY = 1.6


def edge_chains(edges: np.ndarray, tail: np.ndarray, head: np.ndarray, seg: np.ndarray
                ) -> list[list[int]]:
    """Split directed edges into chains e1 → e2 → … (head of one = tail of the next, no
    U-turns), each in travel order."""
    es = [int(e) for e in np.unique(edges)]
    by_tail: dict[int, list[int]] = {}
    for e in es:
        by_tail.setdefault(int(tail[e]), []).append(e)
    has_pred = set()
    for e in es:
        for f in by_tail.get(int(head[e]), []):
            if seg[f] != seg[e]:
                has_pred.add(f)
    chains, used = [], set()
    for start in [e for e in es if e not in has_pred] + es:
        if start in used:
            continue
        chain, cur = [start], start
        used.add(start)
        while True:
            nxt = [f for f in by_tail.get(int(head[cur]), []) if f not in used
                   and seg[f] != seg[cur]]
            if not nxt:
                break
            cur = nxt[0]
            used.add(cur)
            chain.append(cur)
        chains.append(chain)
    return chains


@dataclass
class RoadWalk:
    """Junctions along the road from a chain's end (upstream or downstream), nearest first,
    with the road time (ms) to (from) the chain and the road edges between them."""

    junctions: list[int]  # junctions[0] is the chain's entry (exit)
    road_ms: list[float]
    edges: list[int]  # edges[i] joins junctions[i] and junctions[i + 1] (travel direction)


def _walk(mr: Any, start_edge: int, upstream: bool, w: np.ndarray, closed: set[int],
          names: np.ndarray, way: np.ndarray, max_m: float = MAX_WALK_M) -> RoadWalk:
    """Follow the road from the chain's first edge upstream (or its last edge downstream):
    the edge of the same way, else the same street name, else the fastest per metre; stop
    at a dead end, a loop or after ``max_m``."""
    tail, head = mr.edge_tail, mr.edge_head
    seg = mr.edge_seg
    length = np.asarray(mr.arrays.edge_length_m, np.float64)
    cur = start_edge
    j = int(tail[cur] if upstream else head[cur])
    walk = RoadWalk([j], [0.0], [])
    seen_j = {j}
    total = 0.0
    while total <= max_m:
        if upstream:
            more = [int(e) for e in mr.in_edges[mr.in_offsets[j]:mr.in_offsets[j + 1]]
                    if w[e] < INF_WEIGHT and int(e) not in closed
                    and int(seg[e]) != int(seg[cur])]
        else:
            more = [int(e) for e in mr.out_edges[mr.out_offsets[j]:mr.out_offsets[j + 1]]
                    if w[e] < INF_WEIGHT and int(e) not in closed
                    and int(seg[e]) != int(seg[cur])]
        if not more:
            break
        nxt = min(more, key=lambda e: (way[e] != way[cur], names[e] != names[cur] or
                                       names[e] < 0, w[e] / max(length[e], 1.0)))
        j = int(tail[nxt] if upstream else head[nxt])
        if j in seen_j:
            break
        seen_j.add(j)
        walk.junctions.append(j)
        walk.road_ms.append(walk.road_ms[-1] + float(w[nxt]))
        walk.edges.append(nxt)
        total += float(length[nxt])
        cur = nxt
    return walk


def diversions(router: RoadRouter, state: RoutingState, closed_edges: np.ndarray,
               n_routes: int = 2, min_chain_m: float = 20.0, with_edges: bool = False
               ) -> list[dict[str, Any]]:
    """Detours for through traffic around ``closed_edges`` (car edge ids) in ``state``;
    ``with_edges`` keeps each detour's edge ids under ``_edges`` (for checks)."""
    mr = router.modes[Mode.CAR]
    a = mr.arrays
    tail, head = np.asarray(a.edge_tail), np.asarray(a.edge_head)
    seg = np.asarray(a.edge_seg)
    length = np.asarray(a.edge_length_m, dtype=np.float64)
    open_w = np.asarray(state.weights(Mode.CAR), dtype=np.int64)
    closed_ids = np.asarray(closed_edges, dtype=np.int64)
    w = open_w.copy()
    w[closed_ids] = INF_WEIGHT
    names = router.snapshot.segments.names
    name_idx = np.asarray(router.snapshot.segments.name_idx)
    lat, lon = np.asarray(router.snapshot.node_lat), np.asarray(router.snapshot.node_lon)
    seg_names = name_idx[seg]
    seg_way = np.asarray(router.snapshot.segments.way_id)[seg]
    closed_set = set(closed_ids.tolist())
    out: list[dict[str, Any]] = []
    for chain in edge_chains(closed_ids, tail, head, seg):
        chain_len = float(length[chain].sum())
        if chain_len < min_chain_m:
            continue
        closed_streets = list(dict.fromkeys(names[name_idx[seg[e]]] for e in chain
                                            if name_idx[seg[e]] >= 0))
        free_s = float(mr.free_flow_ms[chain].sum()) / 1000.0
        up = _walk(mr, chain[0], True, open_w, closed_set, seg_names, seg_way)
        down = _walk(mr, chain[-1], False, open_w, closed_set, seg_names, seg_way)
        loop = bool(set(up.junctions) & set(down.junctions))
        detours = [] if loop else _detours(router, state, mr, w, up, down, n_routes)
        if detours:
            d_j, r_j = detours[0]["diversion_j"], detours[0]["rejoin_j"]
        elif loop:
            d_j = r_j = next(x for x in up.junctions if x in set(down.junctions))
        else:
            d_j, r_j = up.junctions[-1], down.junctions[-1]
        for d in detours:
            streets = [st.name for st in d["route"].steps if st.name and st.type != "arrive"]
            d["streets_to_sign"] = [x for x in dict.fromkeys(streets)
                                    if x not in closed_streets]
        road = closed_streets[0] if closed_streets else "ROAD"
        if detours:
            first = detours[0]
            via = " → ".join(x.upper() for x in first["streets_to_sign"][:3])
            mins = f"+{max(first['extra_s'], 0) / 60:.0f} MIN"
            sign = f"{road.upper()} CLOSED" + (f" — DIVERSION VIA {via} ({mins})" if via
                                               else f" — FOLLOW DIVERSION ({mins})")
        elif loop:
            sign = f"{road.upper()} CLOSED — NO DIVERSION NEEDED"
        else:
            sign = f"{road.upper()} CLOSED — NO DIVERSION AVAILABLE"
        routes = []
        for d in detours:
            r: RoadRoute = d["route"]
            item = {"duration_s": round(r.duration_s, 1), "distance_m": round(r.distance_m, 1),
                    "extra_s": round(d["extra_s"], 1), "streets_to_sign": d["streets_to_sign"],
                    "geometry": {"type": "LineString",
                                 "coordinates": np.round(np.column_stack([r.lon, r.lat]),
                                                         7).tolist()},
                    "steps": r.steps}
            if with_edges:
                item["_edges"] = r.edges
            routes.append(item)
        entry_j, exit_j = int(tail[chain[0]]), int(head[chain[-1]])

        def pt(j: int) -> dict[str, float]:
            return {"lat": round(float(lat[j]), 7), "lon": round(float(lon[j]), 7)}

        out.append({
            "entry": pt(entry_j), "exit": pt(exit_j), "diversion_point": pt(d_j),
            "rejoin_point": pt(r_j), "closed_length_m": round(chain_len, 1),
            "closed_streets": closed_streets, "closed_free_flow_s": round(free_s, 1),
            "routes": routes, "diversion_needed": not loop, "sign_text": sign,
        })
    out.sort(key=lambda d: -d["closed_length_m"])
    return out


def _detours(router: RoadRouter, state: RoutingState, mr: Any, w: np.ndarray, up: RoadWalk,
             down: RoadWalk, n_routes: int) -> list[dict[str, Any]]:
    """Up to ``n_routes`` detours from the upstream road to the downstream road (see the
    module docstring), each trimmed to where it leaves and rejoins the road."""
    lim = int(max(up.road_ms[-1], down.road_ms[-1])) + 1
    # sources: each upstream junction u_i as reached along the road — up.edges[i] enters
    # u_i from u_{i+1}, so its head kernel node carries the turn rules of that arrival; the
    # farthest junction, whose arrival edge is unknown, uses all its kernel copies
    kj = np.asarray(mr.arrays.knode_junction)
    sources: list[tuple[int, int]] = []
    for i, u in enumerate(up.junctions):
        off = int(lim - up.road_ms[i])
        if i < len(up.edges):
            sources.append((int(mr.edge_head_knode[up.edges[i]]), off))
        else:
            sources.extend((int(k), off) for k in np.flatnonzero(kj == u))
    targets: list[tuple[int, int]] = []
    for i, v in enumerate(down.junctions):
        targets.extend((int(k), int(lim - down.road_ms[i])) for k in np.flatnonzero(kj == v))
    up_road = {(int(mr.edge_tail[e]), int(mr.edge_head[e])) for e in up.edges}
    down_road = {(int(mr.edge_tail[e]), int(mr.edge_head[e])) for e in down.edges}
    bans = state.banned_arcs(mr.mode)
    banned = set(bans.tolist())
    metric = PrivateMetric(mr.kernel, mr.arc_weights(w, bans))
    found: list[dict[str, Any]] = []
    pen = w.astype(np.float64)
    arc_off = mr.edge_arc_offsets
    for _ in range(max(n_routes, 1) * 2):
        if len(found) >= n_routes:
            break
        kp = metric.query(sources, targets)
        if kp is None or kp.arcs.shape[0] == 0:
            break
        path = mr.arc_edge[kp.arcs].tolist()
        i0, i1 = 0, len(path)
        while i0 < i1 and (int(mr.edge_tail[path[i0]]), int(mr.edge_head[path[i0]])) in up_road:
            i0 += 1  # still driving along the road towards the closure
        while i1 > i0 and (int(mr.edge_tail[path[i1 - 1]]),
                           int(mr.edge_head[path[i1 - 1]])) in down_road:
            i1 -= 1  # already back on the road after the closure
        path_edges = path[i0:i1]
        if not path_edges:
            break
        d_j, r_j = int(mr.edge_tail[path_edges[0]]), int(mr.edge_head[path_edges[-1]])
        try:
            route = _assemble(router, state, mr, path_edges, w)
        except RoutingError:
            break
        # driving time of the detour: its edges and the turns onto them (arc extras), as
        # the normal route's kernel distance below counts them
        real_ms = float(w[np.asarray(path_edges)].sum()) + float(
            mr.arc_extra[kp.arcs[i0:i1]].sum() if mr.arc_extra.shape[0] else 0)
        normal = state.metric(Mode.CAR).query(
            [(int(k), 0) for k in np.flatnonzero(kj == d_j)],
            [(int(k), 0) for k in np.flatnonzero(kj == r_j)])
        base_ms = float(normal.distance) if normal is not None else real_ms
        if all(not np.array_equal(route.edges, f["route"].edges) for f in found):
            found.append({"route": route, "extra_s": (real_ms - base_ms) / 1000.0,
                          "diversion_j": d_j, "rejoin_j": r_j})
        changes: dict[int, int] = {}
        for e in set(path_edges):
            if pen[e] >= INF_WEIGHT:
                continue
            pen[e] *= PENALTY
            for x in range(int(arc_off[e]), int(arc_off[e + 1])):
                if x in banned:
                    continue
                changes[x] = min(int(round(pen[e])) + int(mr.arc_extra[x]), INF_WEIGHT - 1)
        metric.update(changes)
    return found


def _assemble(router: RoadRouter, state: RoutingState, mr: Any, path: list[int],
              w: np.ndarray) -> RoadRoute:
    """A route over whole edges ``path`` (geometry, steps) with the closed weights."""
    first, last = path[0], path[-1]
    seg_len = router.seg_length_m
    a_snap = SnapCandidate(int(mr.edge_seg[first]), 0.0, 0.0, 0.0, 0.0)
    b_snap = SnapCandidate(int(mr.edge_seg[last]), 1.0, 0.0, 0.0, 0.0)
    weight = int(np.asarray(w)[np.asarray(path)].sum())
    return router.assemble(state, Mode.CAR, path, 0.0, float(seg_len[mr.edge_seg[last]]),
                           np.asarray(w), weight, Endpoint(a_snap, [(first, 0.0)]),
                           Endpoint(b_snap, [(last, 0.0)]))
