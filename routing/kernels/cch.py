"""Road query core: Customizable Contraction Hierarchies (RoutingKit via routingkit-cch).

Three phases, matching how citynav uses them:

* :func:`compute_order` (build time, stored in the snapshot) — a nested-dissection order;
* :class:`RoadKernel` (load time) — the metric-independent CCH over the kernel graph;
* :meth:`RoadKernel.customize` (start-up and every live-weight change) — a new immutable
  :class:`CustomizedMetric`; readers holding the old one are unaffected (copy-on-write).

Weights are integer milliseconds per kernel arc; :data:`INF_WEIGHT` closes an arc.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import routingkit_cch as rk

INF_WEIGHT = 2_147_483_647

# RoutingKit query objects may only be used (and dropped) on the thread that made them.
# Each thread keeps one query per kernel, replaced on that same thread when it first meets
# a newer metric of that kernel.
_tls = threading.local()


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


def _run_multi(q: rk.CCHQuery, sources: list[tuple[int, int]],
               targets: list[tuple[int, int]]) -> KernelPath | None:
    """Run a query and copy its answer out (the binding's result object must be dropped
    before the query object runs again)."""
    res = q.run_multi(sources, targets)
    try:
        dist = res.distance
        if dist is None or dist >= INF_WEIGHT:
            return None
        nodes = res.node_path
        arcs = np.asarray(res.arc_path, dtype=np.int32)
    finally:
        del res
    return KernelPath(int(dist), int(nodes[0]), int(nodes[-1]), arcs)


class CustomizedMetric:
    """A CCH customized with one weight vector. Immutable; safe to share between threads.

    Each thread gets its own query object (see ``_tls``).
    """

    def __init__(self, kernel: RoadKernel, arc_weights: np.ndarray) -> None:
        w = np.ascontiguousarray(arc_weights, dtype=np.int64)
        if w.shape != (kernel.arc_count,):
            raise ValueError(f"expected {kernel.arc_count} arc weights, got {w.shape}")
        if (w < 0).any():
            raise ValueError("arc weights must be non-negative")
        self.arc_weights = np.minimum(w, INF_WEIGHT).astype(np.int64)
        self._metric = rk.CCHMetric(kernel._cch, self.arc_weights.tolist())
        self._kernel_id = id(kernel)

    def _acquire(self) -> rk.CCHQuery:
        cache = getattr(_tls, "queries", None)
        if cache is None:
            cache = _tls.queries = {}
        entry = cache.get(self._kernel_id)
        if entry is not None and entry[0] is self:
            return entry[1]
        if entry is not None:
            del cache[self._kernel_id]
            del entry  # drop the old query here, on its own thread
        q = rk.CCHQuery(self._metric)
        cache[self._kernel_id] = (self, q)
        return q

    def query(self, sources: list[tuple[int, int]], targets: list[tuple[int, int]]
              ) -> KernelPath | None:
        """Shortest path from any source ``(node, initial_weight)`` to any target ``(node,
        final_weight)``; the distance includes both offsets. ``None`` when unreachable."""
        if not sources or not targets:
            return None
        return _run_multi(self._acquire(), sources, targets)

    def distance(self, source: int, target: int) -> int | None:
        """Plain node-to-node shortest distance (no path), ``None`` when unreachable."""
        q = self._acquire()
        res = q.run(int(source), int(target))
        try:
            d = res.distance
        finally:
            del res
        return None if d is None or d >= INF_WEIGHT else int(d)


class RoadKernel:
    """The metric-independent CCH over one mode's kernel graph."""

    def __init__(self, node_count: int, arc_tail: np.ndarray, arc_head: np.ndarray,
                 order: np.ndarray) -> None:
        self.node_count = int(node_count)
        self.arc_count = int(arc_tail.shape[0])
        if order.shape[0] != self.node_count:
            raise ValueError("contraction order does not match the node count")
        self._cch = rk.CCH(order.tolist(), arc_tail.tolist(), arc_head.tolist(), False)

    def customize(self, arc_weights: np.ndarray) -> CustomizedMetric:
        """Return a new metric for these arc weights (ms); the old one stays valid."""
        return CustomizedMetric(self, arc_weights)


class PrivateMetric:
    """A metric owned by one request (e.g. alternative routes by penalties): customized once,
    then changed in place with RoutingKit's partial updater, which costs a fraction of a full
    customization when few arcs change. Not shared between threads."""

    def __init__(self, kernel: RoadKernel, arc_weights: np.ndarray) -> None:
        w = np.minimum(np.asarray(arc_weights, dtype=np.int64), INF_WEIGHT)
        self._metric = rk.CCHMetric(kernel._cch, w.tolist())
        self._updater = rk.CCHMetricPartialUpdater(kernel._cch)

    def update(self, changes: dict[int, int]) -> None:
        """Set new weights for some arcs (arc id → ms)."""
        if changes:
            self._updater.apply(self._metric, {int(a): int(min(v, INF_WEIGHT))
                                               for a, v in changes.items()})

    def query(self, sources: list[tuple[int, int]], targets: list[tuple[int, int]]
              ) -> KernelPath | None:
        """As :meth:`CustomizedMetric.query`."""
        if not sources or not targets:
            return None
        q = rk.CCHQuery(self._metric)
        try:
            return _run_multi(q, sources, targets)
        finally:
            del q
