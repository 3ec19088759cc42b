"""Commute watches for tests and the bench: random trips on the bundled city and the
re-planning oracle."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np

from api.service import Service
from api.watching import WatchPlanError
from incidents.watches import WatchSpec

THRESHOLDS = (0, 30, 60, 120, 300, 600)


def random_specs(svc: Service, n: int, seed: int = 7, transit_share: float = 0.04
                 ) -> list[WatchSpec]:
    """``n`` watch specs between random car-network junctions 1–8 km apart (bike and walk
    shorter), mostly by car, windows around 08:00 every day."""
    rng = random.Random(seed)
    car = svc.snapshot.modes["car"]
    nodes = np.unique(np.concatenate([np.asarray(car.edge_tail), np.asarray(car.edge_head)]))
    lat = np.asarray(svc.snapshot.node_lat)[nodes]
    lon = np.asarray(svc.snapshot.node_lon)[nodes]
    out = []
    while len(out) < n:
        r = rng.random()
        mode = "transit" if r < transit_share else "bike" if r < transit_share + 0.05 else \
            "walk" if r < transit_share + 0.09 else "car"
        lo_km, hi_km = (0.5, 2.5) if mode == "walk" else (1.0, 8.0)
        i, j = rng.randrange(len(nodes)), rng.randrange(len(nodes))
        dy = (lat[i] - lat[j]) * 111.32
        dx = (lon[i] - lon[j]) * 111.32 * math.cos(math.radians(float(lat[i])))
        if not lo_km <= math.hypot(dx, dy) <= hi_km:
            continue
        out.append(WatchSpec.model_validate({
            "from": f"{lat[i]:.6f},{lon[i]:.6f}", "to": f"{lat[j]:.6f},{lon[j]:.6f}",
            "mode": mode, "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "window": {"start": "07:00", "end": "10:00"},
            "threshold_s": rng.choice(THRESHOLDS), "label": f"trip {len(out)}"}))
    return out


def busiest_edge(svc: Service) -> int:
    """The car edge used by the most car watches' current answers."""
    assert svc.watches is not None
    counts: dict[int, int] = {}
    for wid in svc.watches.ids():
        t = svc.watches.tracked(wid)
        if t.spec.mode == "car":
            for e in t.edges.tolist():
                counts[e] = counts.get(e, 0) + 1
    return max(counts, key=lambda e: counts[e])


def edge_line(svc: Service, edge: int) -> dict[str, Any]:
    """GeoJSON LineString of a car edge's street segment."""
    car = svc.snapshot.modes["car"]
    seg = int(np.asarray(car.edge_seg)[edge])
    s = svc.snapshot.segments
    a, b = int(np.asarray(s.gstart)[seg]), int(np.asarray(s.gend)[seg])
    lon, lat = np.asarray(s.lon)[a:b], np.asarray(s.lat)[a:b]
    return {"type": "LineString", "coordinates": [[float(x), float(y)] for x, y in
                                                  zip(lon, lat, strict=True)]}


def replan_all(svc: Service, state: Any) -> dict[str, dict[str, Any] | None]:
    """Every watch re-planned on ``state`` (the oracle and the bench's baseline)."""
    assert svc.watches is not None
    out: dict[str, dict[str, Any] | None] = {}
    for wid in svc.watches.ids():
        t = svc.watches.tracked(wid)
        try:
            out[wid] = svc.watches.plan(state, t.spec)[0]
        except WatchPlanError:
            out[wid] = None
    return out
