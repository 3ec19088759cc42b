"""The live state routers read: small, immutable, versioned.

Produced by the incidents layer (and realtime feeds); routing never sees the incident model,
only this. A new state replaces the old one atomically; every answer reports its version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from gtfs.live import TransitLive


@dataclass(frozen=True)
class LiveState:
    """Per-mode edge travel times (ms; :data:`routing.graph.INF_WEIGHT` = closed), transit
    stop closures, transit realtime data, and the notes that explain them.

    A mode missing from ``edge_time_ms`` uses free-flow times. ``edge_causes`` maps a
    mode's edge id to the ids of the incidents acting on it (for explanations).
    ``stop_closed`` (from incidents) and ``transit`` (realtime trips: per-stop delays,
    skipped stops, cancellations per service date) meet in :meth:`transit_live`.
    """

    version: int = 0
    edge_time_ms: Mapping[str, np.ndarray] = field(default_factory=dict)
    edge_causes: Mapping[str, Mapping[int, tuple[str, ...]]] = field(default_factory=dict)
    stop_closed: np.ndarray | None = None
    transit: TransitLive | None = None
    notes: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def weights(self, mode: str, free_flow: np.ndarray) -> np.ndarray:
        """The edge weights (ms) of ``mode`` in this state."""
        w = self.edge_time_ms.get(mode)
        return free_flow if w is None else w

    def transit_live(self) -> TransitLive:
        """The transit live data the timetable queries take: ``transit`` with this state's
        version, its closures joined with ``stop_closed``."""
        t = self.transit
        closed = self.stop_closed
        if t is not None and t.stop_closed is not None:
            closed = t.stop_closed if closed is None else (t.stop_closed | closed)
        return TransitLive(version=self.version, stop_closed=closed,
                           days=t.days if t is not None else {})
