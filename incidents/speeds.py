"""Live speed observations from traffic centres: validation, and the latest one per car edge.

An observation says "the traffic on this stretch moves at ``speed_kmh``", referenced by an
OSM way id with a direction or by a GeoJSON LineString (matched onto car edges with the
incident matcher). A posted batch is validated here (:meth:`SpeedBoard.validate`), committed
to the store's speed log, and applied by every process that follows the log
(:meth:`SpeedBoard.apply`), so all replicas converge on the same live speeds. The board's
:meth:`SpeedBoard.observations` is the immutable :class:`routing.live.SpeedObservations` that
routing reads.

Ageing: an observation counts fully for ``fresh_s`` seconds, then its weight falls linearly
to zero at ``max_age_s``; the edge's time blends from the observed time towards the typical
time of that moment (free flow without typical speeds) — see
:func:`routing.kernels.td.live_blend`. Nothing older than ``max_age_s`` affects routing or is
shown as live.

Batch rule (documented in the API): **apply-the-valid-ones** — each item is checked on its
own; valid items are applied, invalid ones are reported with their index and reason; a batch
with no valid item is rejected as a whole (422).
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from incidents.matching import GeometryMatchError, NetworkMatcher
from routing.kernels.td import FUTURE_TOLERANCE_MS, NO_OBSERVATION
from routing.live import SpeedObservations
from routing.profiles import MAX_SPEED_KMH, Mode
from routing.snapshot import Snapshot

FUTURE_TOLERANCE_S = FUTURE_TOLERANCE_MS / 1000.0


@dataclass(frozen=True)
class SpeedUpdate:
    """One validated observation resolved to car edges."""

    edges: np.ndarray  # int64 car edge ids
    speed_kmh: float
    observed_at_s: float  # Unix seconds
    confidence: float


@dataclass
class BatchReport:
    """What happened to each item of a batch."""

    accepted: int = 0
    edges_updated: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    #: the valid observations, resolved to edges (what goes into the store's speed log)
    updates: list[SpeedUpdate] = field(default_factory=list)


class SpeedBoard:
    """Latest observed speed per car edge, with ageing."""

    def __init__(self, snapshot: Snapshot, matcher: NetworkMatcher,
                 fresh_s: float = 300.0, max_age_s: float = 900.0) -> None:
        car = snapshot.modes.get(Mode.CAR)
        #: False on a transit-only snapshot: no car road, every observation is rejected
        self.has_roads = car is not None
        self.edge_seg = np.asarray(car.edge_seg) if car is not None else np.zeros(0, np.int32)
        self.edge_rev = np.asarray(car.edge_rev) if car is not None else np.zeros(0, bool)
        self.edge_len = np.asarray(car.edge_length_m, dtype=np.float64) if car is not None \
            else np.zeros(0, np.float64)
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
        self._snapshot: SpeedObservations | None = None

    # ---------------------------------------------------------------- input
    def _edges_for(self, ref: dict[str, Any]) -> np.ndarray:
        if not self.has_roads:
            raise ValueError("this snapshot has no street network (built from GTFS only)")
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
                m = self.matcher.match(geom, ref.get("direction", "forward"), modes=(Mode.CAR,))
            except GeometryMatchError as exc:
                raise ValueError(str(exc)) from exc
            matched = m.edges.get(Mode.CAR, np.zeros(0, np.int64))
            if matched.size == 0:
                raise ValueError("the geometry matches no car road")
            return np.asarray(matched, dtype=np.int64)
        raise ValueError("ref needs way_id (+ direction) or a LineString geometry")

    def validate(self, items: list[Any], now: datetime) -> BatchReport:
        """Check each item on its own (apply-the-valid-ones; see the module docstring):
        the valid ones are resolved to car edges in ``report.updates``, the others listed in
        ``report.rejected`` with index and reason. Nothing is applied."""
        now_s = now.timestamp()
        report = BatchReport()
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
                report.updates.append(SpeedUpdate(edges, float(speed), at.timestamp(),
                                                  float(conf)))
            except ValueError as exc:
                report.rejected.append({"index": i, "reason": str(exc)})
        report.accepted = len(report.updates)
        report.edges_updated = int(sum(u.edges.shape[0] for u in report.updates))
        return report

    def apply(self, updates: list[SpeedUpdate]) -> int:
        """Apply observations (a newer observation of an edge replaces an older one); returns
        the number of edges changed."""
        changed = 0
        with self._lock:
            for u in updates:
                edges = np.asarray(u.edges, np.int64)
                edges = edges[(edges >= 0) & (edges < self.obs_ms.shape[0])]
                newer = self.obs_at[edges] <= u.observed_at_s
                e = edges[newer]
                self.obs_ms[e] = self.edge_len[e] / (u.speed_kmh / 3.6) * 1000.0
                self.obs_at[e] = u.observed_at_s
                self.obs_conf[e] = u.confidence
                changed += int(e.shape[0])
            if updates:
                self.version += 1
                self._snapshot = None
        return changed

    # ---------------------------------------------------------------- output
    def observations(self) -> SpeedObservations:
        """The immutable view routing reads (cached until the next :meth:`apply`)."""
        with self._lock:
            snap = self._snapshot
            if snap is None:
                at = np.where(np.isfinite(self.obs_at), np.rint(self.obs_at * 1000.0),
                              float(NO_OBSERVATION)).astype(np.int64)
                arrays = [self.obs_ms.copy(), at, self.obs_conf.copy()]
                for a in arrays:
                    a.flags.writeable = False
                snap = self._snapshot = SpeedObservations(
                    arrays[0], arrays[1], arrays[2], int(self.fresh_s * 1000),
                    int(self.max_age_s * 1000), self.version)
            return snap

    def has_live(self, now: datetime) -> bool:
        """True when any observation still counts."""
        return bool((self.obs_at >= now.timestamp() - self.max_age_s).any())


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
