"""Congestion per car edge from the live weights against free flow, as GeoJSON and summaries.

Levels (ratio = current travel time / free-flow travel time, or the current speed):

==========  ==================================================
free        ratio < 1.25
slow        1.25 ≤ ratio < 2
heavy       2 ≤ ratio < 4
standstill  ratio ≥ 4, or current speed < 5 km/h
closed      the edge is closed (infinite weight)
==========  ==================================================

Each edge also says where its live speed comes from (``source``): ``traffic_centre`` or
``bus_probe`` (:data:`routing.live.SPEED_SOURCES`) while an observation of the edge still
counts, else none.

The "vehicle delay proxy" of an area weighs each edge's delay by a typical relative traffic
volume of its road class (arterials carry more vehicles than residential streets), so it
ranks areas and corridors, not absolute vehicle-hours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from routing.kernels.limits import INF_WEIGHT
from routing.live import SPEED_SOURCES
from routing.profiles import Mode
from routing.snapshot import Snapshot
from routing.state import RoutingState

LEVELS = ("free", "slow", "heavy", "standstill", "closed")
#: Relative vehicle volume by highway class for the delay proxy (residential = 1).
CLASS_VOLUME = {"motorway": 20, "motorway_link": 6, "trunk": 12, "trunk_link": 4,
                "primary": 8, "primary_link": 3, "secondary": 5, "secondary_link": 2,
                "tertiary": 3, "tertiary_link": 1.5, "unclassified": 1.5, "residential": 1,
                "living_street": 0.5, "service": 0.5, "road": 1}


@dataclass
class EdgeLevels:
    """Per car edge: level index into :data:`LEVELS`, speed and delay now."""

    level: np.ndarray  # int8
    speed_kmh: np.ndarray  # float32 (0 when closed)
    free_flow_kmh: np.ndarray  # float32
    delay_s: np.ndarray  # float32 (0 when closed)


def edge_levels(length_m: np.ndarray, free_ms: np.ndarray, now_ms: np.ndarray) -> EdgeLevels:
    """Classify edges (see the module docstring)."""
    closed = now_ms >= INF_WEIGHT
    now = np.where(closed, free_ms, now_ms).astype(np.float64)
    ratio = now / np.maximum(free_ms, 1)
    speed = length_m / np.maximum(now, 1) * 3600.0
    level = np.zeros(now.shape[0], dtype=np.int8)
    level[ratio >= 1.25] = 1
    level[ratio >= 2] = 2
    level[(ratio >= 4) | ((speed < 5) & (ratio > 1.25))] = 3
    level[closed] = 4
    free_kmh = length_m / np.maximum(free_ms, 1) * 3600.0
    return EdgeLevels(level, np.where(closed, 0, speed).astype(np.float32),
                      free_kmh.astype(np.float32),
                      np.where(closed, 0, (now - free_ms) / 1000.0).astype(np.float32))


@dataclass
class CongestionEdges:
    """Selected car edges and their congestion figures (parallel arrays)."""

    edge: np.ndarray
    level: np.ndarray  # index into LEVELS
    speed_kmh: np.ndarray
    free_flow_kmh: np.ndarray
    delay_s: np.ndarray
    name_idx: np.ndarray  # into the snapshot's names (-1 unnamed)
    way_id: np.ndarray
    backward: np.ndarray  # bool: the edge runs against its way's drawing direction
    causes: list[tuple[str, ...]]
    live_version: int
    at: datetime
    #: int8 per edge: code of the live speed's source (SPEED_SOURCES), -1 without one
    source: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))

    def source_name(self, k: int) -> str | None:
        """Source of the ``k``-th selected edge's live speed (None without one)."""
        c = int(self.source[k]) if self.source.shape[0] > k else -1
        return SPEED_SOURCES[c] if c >= 0 else None


class CongestionMap:
    """Congestion levels, area selections and summaries for a snapshot's car network."""

    def __init__(self, snapshot: Snapshot) -> None:
        car = snapshot.modes[Mode.CAR]
        seg = snapshot.segments
        self.edge_seg = np.asarray(car.edge_seg)
        self.edge_rev = np.asarray(car.edge_rev)
        self.length_m = np.asarray(car.edge_length_m, dtype=np.float64)
        self.free_ms = np.asarray(car.edge_time_ms, dtype=np.int64)
        self.names = seg.names
        self.name_idx = np.asarray(seg.name_idx)[self.edge_seg]
        self.way_id = np.asarray(seg.way_id)[self.edge_seg]
        hw = np.asarray(seg.highway_idx)[self.edge_seg]
        self.volume = np.array([CLASS_VOLUME.get(h, 1.0) for h in seg.highways])[hw]
        gstart, gend = np.asarray(seg.gstart), np.asarray(seg.gend)
        lon, lat = np.asarray(seg.lon), np.asarray(seg.lat)
        # per edge: bounding box (for area queries)
        s_minx = np.minimum.reduceat(lon, gstart) if gstart.shape[0] else np.zeros(0)
        s_maxx = np.maximum.reduceat(lon, gstart) if gstart.shape[0] else np.zeros(0)
        s_miny = np.minimum.reduceat(lat, gstart) if gstart.shape[0] else np.zeros(0)
        s_maxy = np.maximum.reduceat(lat, gstart) if gstart.shape[0] else np.zeros(0)
        self.minx, self.maxx = s_minx[self.edge_seg], s_maxx[self.edge_seg]
        self.miny, self.maxy = s_miny[self.edge_seg], s_maxy[self.edge_seg]
        self.seg_gstart, self.seg_gend = gstart, gend
        self.seg_lon, self.seg_lat = lon, lat

    def levels(self, state: RoutingState) -> EdgeLevels:
        """Levels of the car edges in ``state`` (its weights at its instant)."""
        return edge_levels(self.length_m, self.free_ms,
                           np.asarray(state.weights(Mode.CAR), dtype=np.int64))

    @staticmethod
    def live_source(state: RoutingState) -> np.ndarray:
        """int8 per car edge: the source code of its live speed observation in force at the
        state's instant, -1 without one."""
        speeds = state.live.speeds
        if speeds is None:
            return np.zeros(0, np.int8)
        alive = speeds.alive(state.at_ms)
        return np.where(alive, speeds.source_codes().astype(np.int8), np.int8(-1))

    def in_bbox(self, bbox: tuple[float, float, float, float] | None) -> np.ndarray:
        """Edge ids intersecting the box (all when None)."""
        if bbox is None:
            return np.arange(self.edge_seg.shape[0])
        w, s, e, n = bbox
        return np.flatnonzero((self.maxx >= w) & (self.minx <= e) & (self.maxy >= s)
                              & (self.miny <= n))

    def edges(self, state: RoutingState, bbox: tuple[float, float, float, float] | None,
              min_level: int = 0) -> CongestionEdges:
        """Car edges in ``bbox`` at ``min_level`` or worse in ``state``, with their figures."""
        lv = self.levels(state)
        idx = self.in_bbox(bbox)
        idx = idx[lv.level[idx] >= min_level]
        causes = state.causes(Mode.CAR)
        src = self.live_source(state)
        return CongestionEdges(idx, lv.level[idx], lv.speed_kmh[idx], lv.free_flow_kmh[idx],
                               lv.delay_s[idx], self.name_idx[idx], self.way_id[idx],
                               self.edge_rev[idx], [causes.get(int(e), ()) for e in idx],
                               state.version, state.at,
                               src[idx] if src.shape[0] else np.full(idx.shape[0], -1, np.int8))

    def summary(self, state: RoutingState, bbox: tuple[float, float, float, float] | None,
                worst: int = 10) -> dict:
        """Dashboard figures for an area in ``state``: length per level, delay proxy, worst
        segments, active causes."""
        lv = self.levels(state)
        idx = self.in_bbox(bbox)
        lvl = lv.level[idx]
        length = self.length_m[idx]
        by_level = {name: round(float(length[lvl == i].sum()) / 1000.0, 2)
                    for i, name in enumerate(LEVELS)}
        delay = lv.delay_s[idx].astype(np.float64)
        proxy = float((np.maximum(delay, 0) * self.volume[idx]).sum())
        order = idx[np.argsort(-lv.delay_s[idx], kind="stable")]
        order = order[lv.delay_s[order] > 0][:worst]
        causes = state.causes(Mode.CAR)
        src = self.live_source(state)
        closed = idx[lvl == 4]
        worst_rows = [{"edge": int(e), "name": self.names[int(self.name_idx[e])]
                       if self.name_idx[e] >= 0 else "", "way_id": int(self.way_id[e]),
                       "level": LEVELS[int(lv.level[e])], "delay_s": round(float(
                           lv.delay_s[e]), 1), "speed_kmh": round(float(lv.speed_kmh[e]), 1),
                       "free_flow_kmh": round(float(lv.free_flow_kmh[e]), 1),
                       "causes": list(causes.get(int(e), ())),
                       "source": SPEED_SOURCES[int(src[e])] if src.shape[0] and src[e] >= 0
                       else None} for e in order]
        active: dict[str, int] = {}
        for e in idx.tolist():
            for c in causes.get(e, ()):
                active[c] = active.get(c, 0) + 1
        info = state.live.incidents
        speeds = state.live.speeds
        return {
            "live_version": state.version,
            "edges": int(idx.shape[0]),
            "network_km": round(float(length.sum()) / 1000.0, 2),
            "km_by_level": by_level,
            "closed_edges": int(closed.shape[0]),
            "total_delay_s": round(float(np.maximum(delay, 0).sum()), 1),
            "vehicle_delay_proxy": round(proxy, 1),
            "worst_segments": worst_rows,
            "active_causes": [{"id": c, "edges": n,
                               "type": info[c].type if c in info else None,
                               "severity": info[c].severity if c in info else None,
                               "streets": list(info[c].streets) if c in info else None}
                              for c, n in sorted(active.items())],
            "live_speed_edges": int(speeds.alive(state.at_ms).sum()) if speeds is not None
            else 0,
            "live_speed_edges_by_source": {
                name: int((src[idx] == i).sum()) if src.shape[0] else 0
                for i, name in enumerate(SPEED_SOURCES)},
        }
