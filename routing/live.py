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


@dataclass(frozen=True)
class LiveState:
    """Per-mode edge travel times (ms; :data:`routing.graph.INF_WEIGHT` = closed), transit
    stop closures, trip delays and cancellations, and the notes that explain them.

    A mode missing from ``edge_time_ms`` uses free-flow times. ``edge_causes`` maps a
    mode's edge id to the ids of the incidents acting on it (for explanations).
    """

    version: int = 0
    edge_time_ms: Mapping[str, np.ndarray] = field(default_factory=dict)
    edge_causes: Mapping[str, Mapping[int, tuple[str, ...]]] = field(default_factory=dict)
    stop_closed: np.ndarray | None = None
    trip_delay_s: np.ndarray | None = None
    trip_cancelled: np.ndarray | None = None
    notes: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def weights(self, mode: str, free_flow: np.ndarray) -> np.ndarray:
        """The edge weights (ms) of ``mode`` in this state."""
        w = self.edge_time_ms.get(mode)
        return free_flow if w is None else w
