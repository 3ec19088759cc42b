"""Diversions around a closed stretch: what a traffic centre signs for through traffic.

The stretch's car edges are grouped into chains (consecutive edges in one travel direction);
for each chain the entry junction (where traffic must leave the road) and the exit junction
(where it can rejoin) are found, and the best detours between them are computed with the
stretch closed (alternatives by the penalty method, see :meth:`RoadRouter.alternatives`).
Each detour reports its extra time against driving the stretch at free flow and the streets
to sign, ready for a variable message sign.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from routing.graph import INF_WEIGHT
from routing.live import LiveState
from routing.road import RoadRouter, RoutingError


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


def diversions(router: RoadRouter, closed_edges: np.ndarray, state: LiveState | None = None,
               n_routes: int = 2, min_chain_m: float = 20.0, with_edges: bool = False
               ) -> list[dict[str, Any]]:
    """Detours for through traffic around ``closed_edges`` (car edge ids); ``with_edges``
    keeps each detour's edge ids under ``_edges`` (for checks)."""
    mr = router.modes["car"]
    a = mr.arrays
    tail, head = np.asarray(a.edge_tail), np.asarray(a.edge_head)
    seg = np.asarray(a.edge_seg)
    length = np.asarray(a.edge_length_m, dtype=np.float64)
    live = router.live_for(state)
    w = np.asarray(live.weights["car"], dtype=np.int64).copy()
    w[np.asarray(closed_edges, dtype=np.int64)] = INF_WEIGHT
    closed_state = LiveState(version=live.state.version, edge_time_ms={
        **dict(live.state.edge_time_ms), "car": w}, edge_causes=live.state.edge_causes,
        notes=live.state.notes)
    names = router.snapshot.segments.names
    name_idx = np.asarray(router.snapshot.segments.name_idx)
    lat, lon = np.asarray(router.snapshot.node_lat), np.asarray(router.snapshot.node_lon)
    out = []
    for chain in edge_chains(np.asarray(closed_edges), tail, head, seg):
        chain_len = float(length[chain].sum())
        if chain_len < min_chain_m:
            continue
        entry, exit_ = int(tail[chain[0]]), int(head[chain[-1]])
        closed_streets = list(dict.fromkeys(names[name_idx[seg[e]]] for e in chain
                                            if name_idx[seg[e]] >= 0))
        free_s = float(mr.free_flow_ms[chain].sum()) / 1000.0
        try:
            routes = router.alternatives(float(lat[entry]), float(lon[entry]), float(lat[exit_]),
                                         float(lon[exit_]), "car", n_routes, state=closed_state)
        except RoutingError:
            routes = []
        detours = []
        for r in routes:
            streets = [s.name for s in r.steps if s.name and s.type != "arrive"]
            streets = [s for s in dict.fromkeys(streets) if s not in closed_streets]
            detours.append({"duration_s": round(r.duration_s, 1),
                            "distance_m": round(r.distance_m, 1),
                            "extra_s": round(r.duration_s - free_s, 1),
                            "streets_to_sign": streets, "geometry": r.geometry(),
                            "steps": [s.to_dict() for s in r.steps],
                            "_edges": r.edges})
        road = closed_streets[0] if closed_streets else "ROAD"
        sign = (f"{road.upper()} CLOSED" + (
            f" — DIVERSION VIA {' → '.join(s.upper() for s in detours[0]['streets_to_sign'][:3])}"
            f" (+{max(detours[0]['extra_s'], 0) / 60:.0f} MIN)"
            if detours and detours[0]["streets_to_sign"] else "")) if detours else \
            f"{road.upper()} CLOSED — NO DIVERSION AVAILABLE"
        out.append({
            "entry": {"lat": round(float(lat[entry]), 7), "lon": round(float(lon[entry]), 7)},
            "exit": {"lat": round(float(lat[exit_]), 7), "lon": round(float(lon[exit_]), 7)},
            "closed_length_m": round(chain_len, 1), "closed_streets": closed_streets,
            "closed_free_flow_s": round(free_s, 1), "routes": detours, "sign_text": sign,
        })
    out.sort(key=lambda d: -d["closed_length_m"])
    if not with_edges:
        for d in out:
            for r in d["routes"]:
                r.pop("_edges", None)
    return out
