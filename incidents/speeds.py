"""Live speed observations from traffic centres, and the car weights they imply.

An observation says "the traffic on this stretch moves at ``speed_kmh``", referenced by an
OSM way id with a direction or by a GeoJSON LineString (matched onto car edges with the
incident matcher). The latest observation per car edge is kept in memory.

Ageing: an observation counts fully for ``fresh_s`` seconds, then its weight falls linearly
to zero at ``max_age_s``; the edge's time blends from the observed time towards the base
(typical or free-flow) time. Nothing older than ``max_age_s`` affects routing or is shown as
live.

Batch rule (documented in the API): **apply-the-valid-ones** — each item is checked on its
own; valid items are applied, invalid ones are reported with their index and reason; a batch
with no valid item is rejected as a whole (422).
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from incidents.matching import GeometryMatchError, NetworkMatcher
from routing.graph import INF_WEIGHT
from routing.snapshot import Snapshot

MAX_SPEED_KMH = 250.0
FUTURE_TOLERANCE_S = 60.0


@dataclass
class BatchReport:
    """What happened to each item of a batch."""

    accepted: int = 0
    edges_updated: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    #: what was applied: (edge ids, speed km/h, observed at as unix seconds)
    applied: list[tuple[np.ndarray, float, float]] = field(default_factory=list)


class SpeedBoard:
    """Latest observed speed per car edge, with ageing."""

    def __init__(self, snapshot: Snapshot, matcher: NetworkMatcher, free_flow_ms: np.ndarray,
                 fresh_s: float = 300.0, max_age_s: float = 900.0) -> None:
        car = snapshot.modes["car"]
        self.edge_seg = np.asarray(car.edge_seg)
        self.edge_rev = np.asarray(car.edge_rev)
        self.edge_len = np.asarray(car.edge_length_m, dtype=np.float64)
        self.free_flow_ms = free_flow_ms
        self.matcher = matcher
        self.fresh_s, self.max_age_s = float(fresh_s), float(max_age_s)
        seg_way = np.asarray(snapshot.segments.way_id)
        self._way_edges: dict[tuple[int, bool], list[int]] = defaultdict(list)
        for e, (s, r) in enumerate(zip(self.edge_seg.tolist(), self.edge_rev.tolist(),
                                       strict=True)):
            self._way_edges[(int(seg_way[s]), bool(r))].append(e)
        n = self.edge_seg.shape[0]
        self.obs_ms = np.zeros(n, dtype=np.float64)  # observed travel time
        self.obs_at = np.full(n, -np.inf)  # unix seconds
        self.obs_conf = np.zeros(n, dtype=np.float64)
        self._lock = threading.Lock()
        self.version = 0

    # ---------------------------------------------------------------- input
    def _edges_for(self, ref: dict[str, Any]) -> np.ndarray:
        if "way_id" in ref:
            way = ref["way_id"]
            if isinstance(way, bool) or not isinstance(way, int) or way <= 0:
                raise ValueError("way_id must be a positive integer")
            direction = ref.get("direction", "forward")
            if direction not in ("forward", "backward", "both"):
                raise ValueError("direction must be forward, backward or both")
            revs = [False, True] if direction == "both" else [direction == "backward"]
            edges = [e for r in revs for e in self._way_edges.get((way, r), [])]
            if not edges:
                raise ValueError(f"way {way} ({direction}) is not a car road of this network")
            return np.asarray(edges, dtype=np.int64)
        if "geometry" in ref:
            geom = ref["geometry"]
            if not isinstance(geom, dict) or geom.get("type") != "LineString":
                raise ValueError("geometry must be a GeoJSON LineString")
            try:
                m = self.matcher.match(geom, ref.get("direction", "forward"), modes=("car",))
            except GeometryMatchError as exc:
                raise ValueError(str(exc)) from exc
            edges = m.edges.get("car", np.zeros(0, np.int64))
            if edges.size == 0:
                raise ValueError("the geometry matches no car road")
            return np.asarray(edges, dtype=np.int64)
        raise ValueError("ref needs way_id (+ direction) or a LineString geometry")

    def apply_batch(self, items: list[Any], now: datetime | None = None) -> BatchReport:
        """Validate and apply observations (apply-the-valid-ones; see module docstring)."""
        now = now or datetime.now(UTC)
        now_s = now.timestamp()
        report = BatchReport()
        updates: list[tuple[np.ndarray, float, float, float]] = []
        for i, item in enumerate(items):
            try:
                if not isinstance(item, dict):
                    raise ValueError("each observation must be an object")
                unknown = set(item) - {"ref", "speed_kmh", "observed_at", "confidence"}
                if unknown:
                    raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
                ref = item.get("ref")
                if not isinstance(ref, dict):
                    raise ValueError("ref must be an object")
                speed = item.get("speed_kmh")
                if isinstance(speed, bool) or not isinstance(speed, int | float) or \
                        not math.isfinite(speed):
                    raise ValueError("speed_kmh must be a number")
                if speed <= 0 or speed > MAX_SPEED_KMH:
                    raise ValueError(f"speed_kmh {speed} is not in (0, {MAX_SPEED_KMH:.0f}]")
                at = _parse_time(item.get("observed_at"))
                if at.timestamp() > now_s + FUTURE_TOLERANCE_S:
                    raise ValueError("observed_at is in the future")
                if now_s - at.timestamp() > self.max_age_s:
                    raise ValueError(f"observed_at is older than {self.max_age_s:.0f} s: "
                                     "too stale to count as live")
                conf = item.get("confidence", 1.0)
                if isinstance(conf, bool) or not isinstance(conf, int | float) or \
                        not 0 <= conf <= 1:
                    raise ValueError("confidence must be a number in [0, 1]")
                edges = self._edges_for(ref)
                updates.append((edges, float(speed), at.timestamp(), float(conf)))
            except ValueError as exc:
                report.rejected.append({"index": i, "reason": str(exc)})
        with self._lock:
            for edges, speed, at_s, conf in updates:
                newer = self.obs_at[edges] <= at_s
                e = edges[newer]
                self.obs_ms[e] = self.edge_len[e] / (speed / 3.6) * 1000.0
                self.obs_at[e] = at_s
                self.obs_conf[e] = conf
                report.edges_updated += int(e.shape[0])
                report.applied.append((edges, speed, at_s))
            report.accepted = len(updates)
            if updates:
                self.version += 1
        return report

    # ---------------------------------------------------------------- output
    def weight_of_observation(self, now: datetime) -> np.ndarray:
        """Per edge, how much the live observation counts now (0..1)."""
        age = now.timestamp() - self.obs_at
        w = np.clip((self.max_age_s - age) / max(self.max_age_s - self.fresh_s, 1e-9), 0, 1)
        w[age <= self.fresh_s] = 1.0
        w[~np.isfinite(age)] = 0.0
        return w * np.where(self.obs_conf > 0, self.obs_conf, 0.0)

    def has_live(self, now: datetime) -> bool:
        """True when any observation still counts."""
        return bool((self.obs_at >= now.timestamp() - self.max_age_s).any())

    def next_expiry(self, now: datetime) -> datetime | None:
        """When the next observation stops counting (for periodic refresh)."""
        alive = self.obs_at[self.obs_at >= now.timestamp() - self.max_age_s]
        if alive.size == 0:
            return None
        return datetime.fromtimestamp(float(alive.min()) + self.max_age_s, UTC)

    def weights(self, base_ms: np.ndarray, now: datetime) -> tuple[np.ndarray, np.ndarray]:
        """Car edge weights (ms) with live speeds blended over ``base_ms``, and the mask of
        edges whose time comes (partly) from a live observation."""
        with self._lock:
            a = self.weight_of_observation(now)
            live = a > 0
            if not live.any():
                return base_ms, live
            base = np.asarray(base_ms, dtype=np.float64)
            out = base.copy()
            out[live] = a[live] * self.obs_ms[live] + (1 - a[live]) * base[live]
            out = np.where(base >= INF_WEIGHT, INF_WEIGHT, np.maximum(np.rint(out), 1))
            return out.astype(np.int64), live


def _parse_time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("observed_at must be an ISO 8601 string with an offset")
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"observed_at {value[:40]!r} is not ISO 8601") from None
    if t.tzinfo is None:
        raise ValueError("observed_at needs a UTC offset (e.g. Z or +01:00)")
    if t.year < 1970:
        raise ValueError("observed_at is before 1970")
    return t


def age_horizon(board: SpeedBoard) -> timedelta:
    """How long an observation affects routing."""
    return timedelta(seconds=board.max_age_s)
