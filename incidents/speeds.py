"""Live speed observations: validation, and the latest one per car edge with its source.

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

Sources (:data:`routing.live.SPEED_SOURCES`): observations come from traffic centres (posted
batches) or from buses used as probes (:mod:`incidents.probes`; their batches are logged
under the actor ``bus_probe:<feed>``, see :func:`source_of_actor`). Each edge remembers the
source of its latest observation. Newest wins, with one exception: a bus-probe observation
does not replace a traffic centre's observation of the edge that is less than ``fresh_s``
older than it (a fresh, more confident measurement stands).

Batch rule (documented in the API): **apply-the-valid-ones** — each item is checked on its
own; valid items are applied, invalid ones are reported with their index and reason; a batch
with no valid item is rejected as a whole (422).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from incidents.fields import MAX_VERTICES, is_iso_datetime
from incidents.matching import GeometryMatchError, NetworkMatcher
from routing.kernels.td import FUTURE_TOLERANCE_MS, NO_OBSERVATION
from routing.live import SOURCE_BUS_PROBE, SOURCE_TRAFFIC_CENTRE, SpeedObservations
from routing.profiles import MAX_SPEED_KMH, Mode
from routing.snapshot import Snapshot

FUTURE_TOLERANCE_S = FUTURE_TOLERANCE_MS / 1000.0
#: Actor prefix of speed batches measured by buses (``bus_probe:<feed id>``).
BUS_PROBE_ACTOR = "bus_probe:"


def source_of_actor(actor: str) -> int:
    """Source code (:data:`routing.live.SPEED_SOURCES`) of a logged batch's actor."""
    return SOURCE_BUS_PROBE if actor.startswith(BUS_PROBE_ACTOR) else SOURCE_TRAFFIC_CENTRE
#: How the rejection of an observation outside the key's area begins.
OUTSIDE_AREA = "outside the key's area"
#: Most positions of one observation's LineString (a longer line is split into batches).
MAX_REF_VERTICES = min(MAX_VERTICES, 1_000)
_FIELDS = frozenset({"ref", "speed_kmh", "observed_at", "confidence"})


@dataclass(frozen=True)
class SpeedUpdate:
    """One validated observation resolved to car edges."""

    edges: np.ndarray  # int64 car edge ids
    speed_kmh: float
    observed_at_s: float  # Unix seconds
    confidence: float


_BATCH_MAGIC = b"CNSP1\n"


@dataclass(frozen=True)
class SpeedUpdates:
    """Validated observations of one batch, columnar: observation ``i`` acts on the car
    edges ``edges[offsets[i]:offsets[i+1]]``. This is what the speed log stores (compactly,
    :meth:`to_bytes`) and what every process applies and learns from."""

    offsets: np.ndarray  # int64 [n + 1]
    edges: np.ndarray  # int64 [k]
    speed_kmh: np.ndarray  # float64 [n]
    observed_at_s: np.ndarray  # float64 [n], Unix seconds
    confidence: np.ndarray  # float64 [n]

    @classmethod
    def empty(cls) -> SpeedUpdates:
        """No observation."""
        z = np.zeros(0, np.float64)
        return cls(np.zeros(1, np.int64), np.zeros(0, np.int64), z, z.copy(), z.copy())

    @classmethod
    def of(cls, updates: list[SpeedUpdate]) -> SpeedUpdates:
        """Columns of a list of single observations (kept in order)."""
        if not updates:
            return cls.empty()
        sizes = np.fromiter((u.edges.shape[0] for u in updates), np.int64, len(updates))
        offsets = np.zeros(len(updates) + 1, np.int64)
        np.cumsum(sizes, out=offsets[1:])
        return cls(offsets, np.concatenate([np.asarray(u.edges, np.int64) for u in updates]),
                   np.array([u.speed_kmh for u in updates], np.float64),
                   np.array([u.observed_at_s for u in updates], np.float64),
                   np.array([u.confidence for u in updates], np.float64))

    def __len__(self) -> int:
        return int(self.speed_kmh.shape[0])

    def __iter__(self) -> Iterator[SpeedUpdate]:
        for i in range(len(self)):
            yield SpeedUpdate(self.edges[self.offsets[i]:self.offsets[i + 1]],
                              float(self.speed_kmh[i]), float(self.observed_at_s[i]),
                              float(self.confidence[i]))

    @property
    def n_edges(self) -> int:
        """Edge entries over all observations."""
        return int(self.edges.shape[0])

    @property
    def newest_s(self) -> float:
        """The newest observation time (Unix seconds); raises on an empty batch."""
        return float(self.observed_at_s.max())

    def per_edge(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(edge, speed_kmh, observed_at_s, confidence)`` per edge entry, in order."""
        counts = np.diff(self.offsets)
        return (self.edges, np.repeat(self.speed_kmh, counts),
                np.repeat(self.observed_at_s, counts), np.repeat(self.confidence, counts))

    def to_bytes(self) -> bytes:
        """Compact little-endian encoding (the speed log's ``payload``)."""
        n, k = len(self), self.n_edges
        return b"".join((_BATCH_MAGIC, np.array([n, k], "<i8").tobytes(),
                         self.offsets.astype("<i8").tobytes(),
                         self.edges.astype("<i4").tobytes(),
                         self.speed_kmh.astype("<f8").tobytes(),
                         self.observed_at_s.astype("<f8").tobytes(),
                         self.confidence.astype("<f8").tobytes()))

    @classmethod
    def from_bytes(cls, data: bytes) -> SpeedUpdates:
        """Inverse of :meth:`to_bytes`; raises ``ValueError`` for anything else."""
        m = len(_BATCH_MAGIC)
        if data[:m] != _BATCH_MAGIC or len(data) < m + 16:
            raise ValueError("not a speed batch payload")
        n, k = (int(x) for x in np.frombuffer(data, "<i8", 2, m))
        sizes = ((n + 1) * 8, k * 4, n * 8, n * 8, n * 8)
        if n < 0 or k < 0 or len(data) != m + 16 + sum(sizes):
            raise ValueError("truncated speed batch payload")
        pos = m + 16
        cols = []
        for size, dt, count in zip(sizes, ("<i8", "<i4", "<f8", "<f8", "<f8"),
                                   (n + 1, k, n, n, n), strict=True):
            cols.append(np.frombuffer(data, dt, count, pos))
            pos += size
        offsets = cols[0].astype(np.int64)
        if offsets[0] != 0 or offsets[-1] != k or (np.diff(offsets) < 0).any():
            raise ValueError("inconsistent speed batch offsets")
        return cls(offsets, cols[1].astype(np.int64), cols[2].astype(np.float64),
                   cols[3].astype(np.float64), cols[4].astype(np.float64))


@dataclass
class BatchReport:
    """What happened to each item of a batch."""

    accepted: int = 0
    edges_updated: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    #: the valid observations, resolved to edges (what goes into the store's speed log)
    updates: SpeedUpdates = field(default_factory=SpeedUpdates.empty)


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
        self.edge_tail = np.asarray(car.edge_tail) if car is not None else np.zeros(0, np.int32)
        self.edge_head = np.asarray(car.edge_head) if car is not None else np.zeros(0, np.int32)
        self.node_lat = np.asarray(snapshot.node_lat)
        self.node_lon = np.asarray(snapshot.node_lon)
        # car edges by (OSM way, reverse): edge ids sorted by the key way * 2 + reverse (two
        # arrays instead of a dict of lists, ~20 MB of Python objects on Porto)
        seg_way = np.asarray(snapshot.segments.way_id, dtype=np.int64)
        keys = seg_way[self.edge_seg] * 2 + self.edge_rev.astype(np.int64)
        order = np.argsort(keys, kind="stable")
        self._way_keys = keys[order]
        self._way_edge_ids = order.astype(np.int32)
        n = self.edge_seg.shape[0]
        self.obs_ms = np.zeros(n, dtype=np.float64)  # observed travel time
        self.obs_at = np.full(n, -np.inf)  # unix seconds
        self.obs_conf = np.zeros(n, dtype=np.float64)
        self.obs_source = np.zeros(n, dtype=np.uint8)
        self._lock = threading.Lock()
        self.version = 0
        self._snapshot: SpeedObservations | None = None

    # ---------------------------------------------------------------- input
    def _way_edges(self, way: int, reverse: bool) -> list[int]:
        """Car edges of OSM way ``way`` in one direction, ascending."""
        if way >= 2**62:  # beyond any OSM id (and the int64 key)
            return []
        key = way * 2 + int(reverse)
        lo, hi = np.searchsorted(self._way_keys, [key, key + 1])
        return self._way_edge_ids[int(lo):int(hi)].tolist()

    def _edges_for(self, ref: dict[str, Any]) -> list[int]:
        if not self.has_roads:
            raise ValueError("this snapshot has no street network (built from GTFS only)")
        if "way_id" in ref:
            way = ref["way_id"]
            if isinstance(way, bool) or not isinstance(way, int) or way <= 0:
                raise ValueError("way_id must be a positive integer")
            direction = ref.get("direction", "forward")
            if direction not in ("forward", "backward", "both"):
                raise ValueError("direction must be forward, backward or both")
            if direction == "both":
                edges = self._way_edges(way, False) + self._way_edges(way, True)
            else:
                edges = self._way_edges(way, direction == "backward")
            if not edges:
                raise ValueError(f"way {way} ({direction}) is not a car road of this network")
            return edges
        if "geometry" in ref:
            geom = ref["geometry"]
            if not isinstance(geom, dict) or geom.get("type") != "LineString":
                raise ValueError("geometry must be a GeoJSON LineString")
            coords = geom.get("coordinates")
            if isinstance(coords, list) and len(coords) > MAX_REF_VERTICES:
                raise ValueError(f"geometry has {len(coords)} positions; at most "
                                 f"{MAX_REF_VERTICES} per observation")
            try:
                m = self.matcher.match(geom, ref.get("direction", "forward"), modes=(Mode.CAR,))
            except GeometryMatchError as exc:
                raise ValueError(str(exc)) from exc
            matched = m.edges.get(Mode.CAR, np.zeros(0, np.int64))
            if matched.size == 0:
                raise ValueError("the geometry matches no car road")
            return [int(e) for e in np.asarray(matched).tolist()]
        raise ValueError("ref needs way_id (+ direction) or a LineString geometry")

    def inside(self, edges: list[int], area: tuple[float, float, float, float]) -> bool:
        """True if every end of the car ``edges`` lies in ``area`` (W, S, E, N degrees)."""
        idx = np.asarray(edges, np.int64)
        nodes = np.concatenate([self.edge_tail[idx], self.edge_head[idx]])
        lat, lon = self.node_lat[nodes], self.node_lon[nodes]
        return bool(((lon >= area[0]) & (lat >= area[1]) & (lon <= area[2])
                     & (lat <= area[3])).all())

    def validate(self, items: list[Any], now: datetime,
                 area: tuple[float, float, float, float] | None = None) -> BatchReport:
        """Check each item on its own (apply-the-valid-ones; see the module docstring):
        the valid ones are resolved to car edges in ``report.updates``, the others listed in
        ``report.rejected`` with index and reason. With ``area`` (W, S, E, N), an item whose
        roads reach outside it is rejected (reason starting :data:`OUTSIDE_AREA`). Nothing is
        applied."""
        now_s = now.timestamp()
        report = BatchReport()
        edges: list[int] = []
        sizes: list[int] = []
        speeds: list[float] = []
        times: list[float] = []
        confs: list[float] = []
        parsed: dict[Any, float] = {}  # observed_at string → Unix s (batches share times)
        for i, item in enumerate(items):
            try:
                if not isinstance(item, dict):
                    raise ValueError("each observation must be an object")
                if not _FIELDS.issuperset(item):
                    unknown = set(item) - _FIELDS
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
                raw_at = item.get("observed_at")
                at_s = parsed.get(raw_at) if isinstance(raw_at, str) else None
                if at_s is None:
                    at_s = _parse_time(raw_at).timestamp()
                    parsed[raw_at] = at_s
                if at_s > now_s + FUTURE_TOLERANCE_S:
                    raise ValueError("observed_at is in the future")
                if now_s - at_s > self.max_age_s:
                    raise ValueError(f"observed_at is older than {self.max_age_s:.0f} s: "
                                     "too stale to count as live")
                conf = item.get("confidence", 1.0)
                if isinstance(conf, bool) or not isinstance(conf, int | float) or \
                        not 0 <= conf <= 1:
                    raise ValueError("confidence must be a number in [0, 1]")
                found = self._edges_for(ref)
                if area is not None and not self.inside(found, area):
                    raise ValueError(f"{OUTSIDE_AREA} ({','.join(f'{x:g}' for x in area)})")
            except ValueError as exc:
                report.rejected.append({"index": i, "reason": str(exc)})
                continue
            edges.extend(found)
            sizes.append(len(found))
            speeds.append(float(speed))
            times.append(at_s)
            confs.append(float(conf))
        if sizes:
            offsets = np.zeros(len(sizes) + 1, np.int64)
            np.cumsum(sizes, out=offsets[1:])
            report.updates = SpeedUpdates(offsets, np.array(edges, np.int64),
                                          np.array(speeds, np.float64),
                                          np.array(times, np.float64),
                                          np.array(confs, np.float64))
        report.accepted = len(report.updates)
        report.edges_updated = report.updates.n_edges
        return report

    def apply(self, updates: SpeedUpdates | list[SpeedUpdate],
              source: int = SOURCE_TRAFFIC_CENTRE) -> int:
        """Apply observations of one ``source`` (a newer observation of an edge replaces an
        older one; of equally new ones in a batch, the later wins; a bus probe never replaces
        a traffic centre's observation less than ``fresh_s`` older — see the module
        docstring); returns the number of edges changed."""
        if not isinstance(updates, SpeedUpdates):
            updates = SpeedUpdates.of(updates)
        if len(updates) == 0:
            return 0
        edge, speed, at, conf = updates.per_edge()
        ok = (edge >= 0) & (edge < self.obs_ms.shape[0])
        edge, speed, at, conf = edge[ok], speed[ok], at[ok], conf[ok]
        # per edge the newest entry, the last of equally new ones (what applying the entries
        # one by one in order gives)
        order = np.lexsort((np.arange(edge.shape[0]), at, edge))
        last = np.ones(order.shape[0], bool)
        last[:-1] = edge[order[1:]] != edge[order[:-1]]
        pick = order[last]
        with self._lock:
            e = edge[pick]
            newer = self.obs_at[e] <= at[pick]
            if source == SOURCE_BUS_PROBE:
                newer &= ~((self.obs_source[e] == SOURCE_TRAFFIC_CENTRE)
                           & (at[pick] - self.obs_at[e] < self.fresh_s))
            pick, e = pick[newer], e[newer]
            self.obs_ms[e] = self.edge_len[e] / (speed[pick] / 3.6) * 1000.0
            self.obs_at[e] = at[pick]
            self.obs_conf[e] = conf[pick]
            self.obs_source[e] = source
            self.version += 1
            self._snapshot = None
        return int(e.shape[0])

    # ---------------------------------------------------------------- output
    def observations(self) -> SpeedObservations:
        """The immutable view routing reads (cached until the next :meth:`apply`)."""
        with self._lock:
            snap = self._snapshot
            if snap is None:
                at = np.where(np.isfinite(self.obs_at), np.rint(self.obs_at * 1000.0),
                              float(NO_OBSERVATION)).astype(np.int64)
                arrays = [self.obs_ms.copy(), at, self.obs_conf.copy(), self.obs_source.copy()]
                for a in arrays:
                    a.flags.writeable = False
                snap = self._snapshot = SpeedObservations(
                    arrays[0], arrays[1], arrays[2], int(self.fresh_s * 1000),
                    int(self.max_age_s * 1000), self.version, arrays[3])
            return snap

    def has_live(self, now: datetime) -> bool:
        """True when any observation still counts."""
        return bool((self.obs_at >= now.timestamp() - self.max_age_s).any())


def _parse_time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("observed_at must be an ISO 8601 string with an offset")
    if not is_iso_datetime(value):
        raise ValueError(f"observed_at {value[:40]!r} is not an ISO 8601 date-time such as "
                         "2026-11-24T08:00:00Z")
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
