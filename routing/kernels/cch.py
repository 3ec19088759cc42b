"""Road query core: Customizable Contraction Hierarchies (RoutingKit via routingkit-cch).

Three phases, matching how citynav uses them:

* :func:`compute_order` (build time, stored in the snapshot) — a nested-dissection order;
* :class:`RoadKernel` (load time) — the metric-independent CCH over the kernel graph;
* customization (start-up and every live-weight change) — an immutable
  :class:`CustomizedMetric` per weight vector, handed out by a :class:`MetricPool`.

Copy-on-write with reuse. A published metric never changes while anyone holds it. The pool
keeps a few metric *slots* per kernel; a new weight vector is customized into a slot that
no reader holds any more (tracked with weak references to the :class:`CustomizedMetric`
handed out for it), with RoutingKit's partial updater when few arcs differ from what the
slot holds (about a millisecond for an incident) or a full re-customization otherwise. When
every slot is still held (a slow request), a fresh metric is built instead; correctness never
depends on readers finishing.

Weights are integer milliseconds per kernel arc; :data:`INF_WEIGHT` closes an arc.
Query objects are created per call (about 25 µs): RoutingKit query objects are bound to the
thread that made them and pin their metric, so none outlives a call.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import numpy as np
import routingkit_cch as rk

from routing.kernels import ncch
from routing.kernels.limits import INF_WEIGHT

#: Above this many changed arcs a full re-customization is cheaper than partial updates
#: (measured on Porto: 500 arcs ≈ 2 ms partial, 5,000 arcs ≈ 20 ms, full ≈ 15 ms).
PARTIAL_UPDATE_MAX_ARCS = 2_500
#: Metric slots kept per kernel (the current one, the previous one still read by slow
#: requests, and a spare).
POOL_SLOTS = 3


def compute_order(node_count: int, tail: np.ndarray, head: np.ndarray, lat: np.ndarray,
                  lon: np.ndarray) -> np.ndarray:
    """Nested-dissection contraction order (inertial flow separators on coordinates)."""
    if node_count == 0:
        return np.zeros(0, dtype=np.int32)
    order = rk.compute_order_inertial(
        int(node_count), tail.tolist(), head.tolist(), lat.tolist(), lon.tolist()
    )
    return np.asarray(order, dtype=np.int32)


@dataclass(frozen=True, slots=True)
class KernelPath:
    """A kernel answer: total weight, and the arc ids from the chosen source to target."""

    distance: int
    source_node: int
    target_node: int
    arcs: np.ndarray  # int32 kernel arc ids in travel order


def _run_multi(metric: rk.CCHMetric, sources: list[tuple[int, int]],
               targets: list[tuple[int, int]], arc_tail: np.ndarray | None = None,
               arc_head: np.ndarray | None = None) -> KernelPath | None:
    """Run one multi-source/target query on a fresh query object and copy the answer out
    (result and query are dropped before returning, on this thread). With the kernel's
    ``arc_tail`` / ``arc_head``, the end nodes are read off the arc path (the node path,
    a Python list as long as the path, is only built for a path without arcs)."""
    q = rk.CCHQuery(metric)
    try:
        res = q.run_multi(sources, targets)
        try:
            dist = res.distance
            if dist is None or dist >= INF_WEIGHT:
                return None
            arcs = np.array(res.arc_path, dtype=np.int32)
            if arc_tail is not None and arc_head is not None and arcs.shape[0]:
                first, last = int(arc_tail[arcs[0]]), int(arc_head[arcs[-1]])
            else:
                nodes = res.node_path
                first, last = int(nodes[0]), int(nodes[-1])
        finally:
            del res
    finally:
        del q
    return KernelPath(int(dist), first, last, arcs)


class _Slot:
    """A RoutingKit metric and the arc weights it currently holds."""

    __slots__ = ("lock", "metric", "weights", "holder")

    def __init__(self, metric: rk.CCHMetric, weights: np.ndarray) -> None:
        self.metric = metric
        self.weights = weights
        self.holder: weakref.ref[CustomizedMetric] | None = None
        self.lock = threading.Lock()

    def free(self) -> bool:
        return self.holder is None or self.holder() is None


class CustomizedMetric:
    """A CCH customized with one weight vector. Immutable while it exists; safe to share
    between threads (each call makes its own query object)."""

    __slots__ = ("__weakref__", "_head", "_metric", "_slot", "_tail", "arc_weights",
                 "kernel_id")

    def __init__(self, kernel: RoadKernel, metric: rk.CCHMetric, arc_weights: np.ndarray,
                 slot: _Slot | None = None) -> None:
        self._metric = metric
        self._tail, self._head = kernel.arc_tail, kernel.arc_head
        self._slot = slot  # keeps the slot alive; the pool sees us through a weak reference
        self.arc_weights = arc_weights
        self.kernel_id = id(kernel)
    def query(self, sources: list[tuple[int, int]], targets: list[tuple[int, int]]
              ) -> KernelPath | None:
        """Shortest path from any source ``(node, initial_weight)`` to any target ``(node,
        final_weight)``; the distance includes both offsets. ``None`` when unreachable."""
        if not sources or not targets:
            return None
        return _run_multi(self._metric, sources, targets, self._tail, self._head)

    def one_to_many(self, sources: list[list[tuple[int, int]]], targets: list[int]
                    ) -> np.ndarray:
        """Many-to-many distances with RoutingKit's one-to-many query (targets pinned once,
        one sweep per source, no per-pair search): ``out[i, j]`` is the least weight (ms)
        from any ``(node, initial_weight)`` of ``sources[i]`` to node ``targets[j]``;
        ``inf`` when unreachable (float64 ``[len(sources), len(targets)]``)."""
        out = np.full((len(sources), len(targets)), np.inf)
        if not targets:
            return out
        otm = rk.CCHOneToMany(self._metric, [int(t) for t in targets])
        try:
            for i, src in enumerate(sources):
                if src:
                    row = np.array(otm.distances_from_multi(src), dtype=np.float64)
                    row[np.isnan(row) | (row >= INF_WEIGHT)] = np.inf
                    out[i] = row
        finally:
            del otm
        return out

    def query_many(self, jobs: list[tuple[list[tuple[int, int]], list[tuple[int, int]]]]
                   ) -> list[KernelPath | None]:
        """:meth:`query` for many (sources, targets) pairs on one query object (made and
        dropped within this call, on this thread)."""
        out: list[KernelPath | None] = []
        q = rk.CCHQuery(self._metric)
        try:
            for sources, targets in jobs:
                if not sources or not targets:
                    out.append(None)
                    continue
                res = q.run_multi(sources, targets)
                try:
                    dist = res.distance
                    if dist is None or dist >= INF_WEIGHT:
                        out.append(None)
                        continue
                    nodes = res.node_path
                    arcs = np.asarray(res.arc_path, dtype=np.int32)
                finally:
                    del res
                out.append(KernelPath(int(dist), int(nodes[0]), int(nodes[-1]), arcs))
        finally:
            del q
        return out

    def node_paths(self, pairs: list[tuple[int, int]]) -> list[np.ndarray | None]:
        """Arc ids (int32, travel order) of the shortest path of each (source node, target
        node) pair, None when unreachable; one query object for all (made and dropped
        within this call, on this thread)."""
        out: list[np.ndarray | None] = []
        q = rk.CCHQuery(self._metric)
        try:
            for s, t in pairs:
                res = q.run(int(s), int(t))
                try:
                    d = res.distance
                    out.append(None if d is None or d >= INF_WEIGHT else
                               np.asarray(res.arc_path, dtype=np.int32))
                finally:
                    del res
        finally:
            del q
        return out

    def distance(self, source: int, target: int) -> int | None:
        """Plain node-to-node shortest distance (no path), ``None`` when unreachable."""
        q = rk.CCHQuery(self._metric)
        try:
            res = q.run(int(source), int(target))
            try:
                d = res.distance
            finally:
                del res
        finally:
            del q
        return None if d is None or d >= INF_WEIGHT else int(d)


def _clean_weights(arc_weights: np.ndarray, arc_count: int) -> np.ndarray:
    w = np.ascontiguousarray(arc_weights, dtype=np.int64)
    if w.shape != (arc_count,):
        raise ValueError(f"expected {arc_count} arc weights, got {w.shape}")
    if (w < 0).any():
        raise ValueError("arc weights must be non-negative")
    w = np.minimum(w, INF_WEIGHT)
    w.flags.writeable = False
    return w


class RoadKernel:
    """The metric-independent CCH over one mode's kernel graph, with its metric pool."""

    def __init__(self, node_count: int, arc_tail: np.ndarray, arc_head: np.ndarray,
                 order: np.ndarray, pool_slots: int = POOL_SLOTS) -> None:
        self.node_count = int(node_count)
        self.arc_count = int(arc_tail.shape[0])
        #: the kernel graph's arcs (tail and head node per arc id)
        self.arc_tail, self.arc_head = arc_tail, arc_head
        if order.shape[0] != self.node_count:
            raise ValueError("contraction order does not match the node count")
        self._cch = rk.CCH(order.tolist(), arc_tail.tolist(), arc_head.tolist(), False)
        self._order, self._tail, self._head = order, arc_tail, arc_head
        self._m2m_graph: ncch.CCHGraph | None = None
        #: guards the own CCH's lazy build
        self.m2m_lock = threading.Lock()
        self._pool_lock = threading.Lock()
        self._slots: list[_Slot] = []
        self._pool_slots = pool_slots
        #: counters for benchmarks and logs: partial updates, full re-customizations, new
        self.stats = {"partial": 0, "reset": 0, "new": 0}

    def m2m_graph(self) -> ncch.CCHGraph:
        """The own CCH (:mod:`routing.kernels.ncch`) over this kernel graph with the same
        contraction order, for many-to-many; built on first use (about half a second on
        Porto's car graph) and kept."""
        with self.m2m_lock:
            if self._m2m_graph is None:
                self._m2m_graph = ncch.build_cch(self.node_count, self._tail, self._head,
                                                 self._order)
            return self._m2m_graph

    def customize_m2m(self, arc_weights: np.ndarray, arc_metres: np.ndarray
                      ) -> ncch.CCHMetric:
        """The own CCH customized for these arc weights (ms) and arc lengths (m)."""
        return ncch.customize(self.m2m_graph(), _clean_weights(arc_weights, self.arc_count),
                              arc_metres)

    def customize(self, arc_weights: np.ndarray) -> CustomizedMetric:
        """A metric for these arc weights (ms), built off to the side: a new RoutingKit
        metric, not pooled (for one-off metrics such as a later departure)."""
        w = _clean_weights(arc_weights, self.arc_count)
        self.stats["new"] += 1
        return CustomizedMetric(self, rk.CCHMetric(self._cch, w.tolist()), w)

    def customize_pooled(self, arc_weights: np.ndarray) -> CustomizedMetric:
        """A metric for these arc weights from the pool: a slot no reader holds is updated
        in place (partially when few arcs differ), else a new slot or a one-off metric."""
        w = _clean_weights(arc_weights, self.arc_count)
        with self._pool_lock:
            slot = next((s for s in self._slots if s.free()), None)
            if slot is None and len(self._slots) < self._pool_slots:
                self.stats["new"] += 1
                slot = _Slot(rk.CCHMetric(self._cch, w.tolist()), w)
                self._slots.append(slot)
                out = CustomizedMetric(self, slot.metric, w, slot)
                slot.holder = weakref.ref(out)
                return out
            if slot is None:
                return self.customize(w)
            out = self._refill(slot, w)
            slot.holder = weakref.ref(out)
            return out

    def _refill(self, slot: _Slot, w: np.ndarray) -> CustomizedMetric:
        changed = np.flatnonzero(slot.weights != w)
        try:
            if changed.shape[0] == 0:
                pass
            elif changed.shape[0] <= PARTIAL_UPDATE_MAX_ARCS:
                # updaters are bound to their thread: one per update (a few µs)
                updater = rk.CCHMetricPartialUpdater(self._cch)
                try:
                    updater.apply(slot.metric, dict(zip(changed.tolist(),
                                                        w[changed].tolist(), strict=True)))
                finally:
                    del updater
                self.stats["partial"] += 1
            else:
                slot.metric.reset(w.tolist())
                self.stats["reset"] += 1
        except BaseException:  # noqa: BLE001 - RoutingKit panics surface as BaseException
            # A query object still pins the metric (should not happen): build a new one.
            slot.metric = rk.CCHMetric(self._cch, w.tolist())
            self.stats["new"] += 1
        slot.weights = w
        return CustomizedMetric(self, slot.metric, w, slot)


class PrivateMetric:
    """A metric owned by one request (e.g. alternative routes by penalties): customized once,
    then changed in place with RoutingKit's partial updater, which costs a fraction of a full
    customization when few arcs change. Not shared between threads."""

    def __init__(self, kernel: RoadKernel, arc_weights: np.ndarray) -> None:
        w = np.minimum(np.asarray(arc_weights, dtype=np.int64), INF_WEIGHT)
        self._metric = rk.CCHMetric(kernel._cch, w.tolist())
        self._cch = kernel._cch
        self._tail, self._head = kernel.arc_tail, kernel.arc_head

    def update(self, changes: dict[int, int]) -> None:
        """Set new weights for some arcs (arc id → ms)."""
        if changes:
            updater = rk.CCHMetricPartialUpdater(self._cch)  # bound to this thread
            try:
                updater.apply(self._metric, {int(a): int(min(v, INF_WEIGHT))
                                             for a, v in changes.items()})
            finally:
                del updater

    def query(self, sources: list[tuple[int, int]], targets: list[tuple[int, int]]
              ) -> KernelPath | None:
        """As :meth:`CustomizedMetric.query`."""
        if not sources or not targets:
            return None
        return _run_multi(self._metric, sources, targets, self._tail, self._head)
