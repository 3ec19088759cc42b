"""Typical car speeds by time of day and day type: the profiles, their rules and storage.

Loading them from observations is :mod:`routing.typical_ingest`, learning from live
observations :mod:`routing.typical_learn`, routing on them :mod:`routing.tdroute`.

:class:`TypicalSpeeds` holds, per car edge and day type, a travel-time function (TTF) over
96 bins of 15 minutes. Rules (documented in ``data/traffic/README.md`` too):

* **Day types**: ``weekday`` (Mon–Fri), ``saturday``, ``sunday``; a date listed in
  ``holidays`` counts as ``sunday`` (:func:`day_type_of`).
* **Interpolation**: the value of bin ``b`` holds at its centre ``b × 15 min + 7.5 min``;
  between centres the TTF is linear (integer ms, floored), cyclic over midnight within one
  day type. A route is evaluated on its departure's day type throughout (a trip that
  crosses midnight keeps it), which keeps every TTF continuous and FIFO.
* **Fallbacks**: an edge or bin without observations takes the free-flow time
  (``edge_time_ms`` of the snapshot); typical times are never faster than free flow
  (faster observations are raised to it).
* **FIFO**: after loading (and after learning) every TTF is clipped so that its slope is
  ≥ -1 — consecutive bin values satisfy ``ttf[b+1] ≥ ttf[b] - 15 min`` cyclically — by
  raising the later value (:func:`enforce_fifo`). Then ``t1 + ttf(t1) ≤ t2 + ttf(t2)``
  for all ``t1 ≤ t2``: leaving later never arrives earlier, and TD-Dijkstra is exact.

Storage is sparse: ``row[day_type, edge]`` points into ``ttf_ms[n_rows, 96]`` (int32) or is
-1 for "free flow all day"; ``observed[n_rows, 96]`` marks bins backed by data. Saved as
``.npy`` files plus ``meta.json`` in a directory and loaded memory-mapped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from routing.kernels.td import BIN_MS, N_BINS, interp_bins, ttf_many
from routing.profiles import Mode

if TYPE_CHECKING:
    from routing.road import RoadRouter
    from routing.snapshot import Snapshot

DAY_TYPES: tuple[str, ...] = ("weekday", "saturday", "sunday")
BIN_S = BIN_MS // 1000
TYPICAL_FORMAT = 1
_ARRAYS = ("free_flow_ms", "edge_length_m", "row", "ttf_ms", "observed")


class TrafficDataError(Exception):
    """A traffic observation file cannot be used at all (missing file or column)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path, self.problem = path, problem


def day_type_of(d: date, holidays: Iterable[date] = ()) -> str:
    """Day type of a calendar date: ``weekday`` (Mon–Fri), ``saturday`` or ``sunday``;
    a date in ``holidays`` counts as ``sunday``."""
    if d in set(holidays):
        return "sunday"
    wd = d.weekday()
    return "weekday" if wd < 5 else ("saturday" if wd == 5 else "sunday")


def enforce_fifo(ttf: np.ndarray) -> tuple[np.ndarray, int]:
    """Clip TTF rows ``[n, 96]`` (ms) so each is FIFO as a cyclic piecewise-linear
    function: ``ttf[b+1] >= ttf[b] - BIN_MS`` for every b (and 95 → 0). Values are only
    raised, to the smallest FIFO function above the input. Returns (clipped int32 copy,
    number of values raised)."""
    x = np.asarray(ttf, dtype=np.int64).copy()
    if x.size == 0:
        return x.astype(np.int32), 0
    before = x.copy()
    # Two cyclic sweeps: every binding chain b → b+1 → … is shorter than 96 steps.
    for k in range(2 * N_BINS):
        b = k % N_BINS
        nb = (b + 1) % N_BINS
        np.maximum(x[:, nb], x[:, b] - BIN_MS, out=x[:, nb])
    return x.astype(np.int32), int((x != before).sum())


@dataclass
class TypicalSpeeds:
    """Typical travel times (ms) per car edge, day type and 15-min bin (sparse rows).

    ``row[d, e]`` is the row of ``ttf_ms``/``observed`` for day type ``d`` and edge ``e``,
    or -1 (free flow all day). Treat instances as immutable: updates return new ones.
    """

    free_flow_ms: np.ndarray  # int32 [n_edges]
    edge_length_m: np.ndarray  # float32 [n_edges]
    row: np.ndarray  # int32 [n_day_types, n_edges]
    ttf_ms: np.ndarray  # int32 [n_rows, N_BINS]
    observed: np.ndarray  # bool [n_rows, N_BINS]
    snapshot_id: str = "unknown"
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_edges(self) -> int:
        """Number of car edges covered (all of the snapshot's)."""
        return int(self.free_flow_ms.shape[0])

    @staticmethod
    def day_index(day_type: str) -> int:
        """Index of a day type name; raises ``ValueError`` for an unknown one."""
        try:
            return DAY_TYPES.index(day_type)
        except ValueError:
            raise ValueError(f"unknown day type {day_type!r}; expected one of "
                             f"{', '.join(DAY_TYPES)}") from None

    # ---- construction ------------------------------------------------------------------
    @classmethod
    def free_flow(cls, free_flow_ms: np.ndarray, edge_length_m: np.ndarray,
                  snapshot_id: str = "unknown") -> TypicalSpeeds:
        """Profiles equal to free flow everywhere (no rows)."""
        n = int(np.asarray(free_flow_ms).shape[0])
        return cls(np.asarray(free_flow_ms, np.int32), np.asarray(edge_length_m, np.float32),
                   np.full((len(DAY_TYPES), n), -1, np.int32),
                   np.zeros((0, N_BINS), np.int32), np.zeros((0, N_BINS), bool), snapshot_id)

    @classmethod
    def for_router(cls, router: RoadRouter | Snapshot) -> TypicalSpeeds:
        """Free-flow profiles for a router's (or snapshot's) car edges."""
        snap = snapshot_of(router)
        car = snap.modes[Mode.CAR]
        return cls.free_flow(np.asarray(car.edge_time_ms), np.asarray(car.edge_length_m),
                             snap.snapshot_id)

    @classmethod
    def from_dense(cls, free_flow_ms: np.ndarray, edge_length_m: np.ndarray,
                   ttf_ms: np.ndarray, observed: np.ndarray | None = None,
                   snapshot_id: str = "unknown") -> tuple[TypicalSpeeds, int, int]:
        """Build from dense travel times ``[n_day_types, N_BINS, n_edges]`` (ms).

        ``observed`` (same shape, default all True) marks data-backed values; others are
        replaced by free flow. Applies the rules (never faster than free flow, FIFO).
        Returns (typical, values raised to free flow, values FIFO-clipped).
        """
        ff = np.asarray(free_flow_ms, np.int64)
        dense = np.asarray(ttf_ms, np.int64)
        n_days, n_bins, n = dense.shape
        if n_days != len(DAY_TYPES) or n_bins != N_BINS or n != ff.shape[0]:
            raise ValueError(f"expected shape ({len(DAY_TYPES)}, {N_BINS}, {ff.shape[0]}), "
                             f"got {dense.shape}")
        obs = np.ones(dense.shape, bool) if observed is None else np.asarray(observed, bool)
        per = np.transpose(dense, (0, 2, 1))  # [day, edge, bin]
        per_obs = np.transpose(obs, (0, 2, 1))
        has = per_obs.any(axis=2)
        d_idx, e_idx = np.nonzero(has)
        vals = np.where(per_obs[d_idx, e_idx], per[d_idx, e_idx], ff[e_idx][:, None])
        raised = int((vals < ff[e_idx][:, None]).sum())
        vals = np.maximum(vals, ff[e_idx][:, None])
        vals, clipped = enforce_fifo(vals)
        row = np.full((len(DAY_TYPES), n), -1, np.int32)
        row[d_idx, e_idx] = np.arange(d_idx.shape[0], dtype=np.int32)
        out = cls(ff.astype(np.int32), np.asarray(edge_length_m, np.float32), row, vals,
                  per_obs[d_idx, e_idx].copy(), snapshot_id)
        return out, raised, clipped

    # ---- queries -----------------------------------------------------------------------
    def travel_time_ms(self, day_type: str, t_s: float, edges: np.ndarray | None = None
                       ) -> np.ndarray:
        """Travel times (ms, int64) of ``edges`` (default: all) entered at ``t_s`` seconds
        after local midnight on a day of ``day_type`` (piecewise-linear between bin
        centres)."""
        e = np.arange(self.n_edges) if edges is None else np.asarray(edges, np.int64)
        t = np.full(e.shape[0], int(round(t_s * 1000.0)), np.int64)
        return ttf_many(e, t, self.row[self.day_index(day_type)], self.ttf_ms,
                        self.free_flow_ms)

    def source_of(self, day_type: str, t_s: float, edges: Sequence[int]) -> list[str]:
        """Per edge entered at ``t_s``: ``"typical"`` when one of the two interpolated bins
        is backed by observations, else ``"free_flow"``."""
        rows = self.row[self.day_index(day_type)]
        b, b2, _ = interp_bins(int(round(t_s * 1000.0)))
        out = []
        for e in edges:
            r = int(rows[int(e)])
            ok = r >= 0 and bool(self.observed[r, b] or self.observed[r, b2])
            out.append("typical" if ok else "free_flow")
        return out

    def sources_at(self, day_type: str, edges: np.ndarray, t_ms: np.ndarray) -> list[str]:
        """Like :meth:`source_of`, per pair ``(edges[i], t_ms[i])`` (ms after midnight)."""
        e = np.asarray(edges, np.int64)
        x = np.asarray(t_ms, np.int64) % (N_BINS * BIN_MS) - BIN_MS // 2
        x = np.where(x < 0, x + N_BINS * BIN_MS, x)
        b = x // BIN_MS
        r = np.asarray(self.row[self.day_index(day_type)])[e]
        rc = np.maximum(r, 0)
        ok = (r >= 0) & (self.observed[rc, b] | self.observed[rc, (b + 1) % N_BINS]) \
            if self.observed.shape[0] else np.zeros(e.shape[0], bool)
        return np.where(ok, "typical", "free_flow").tolist()

    # ---- storage -----------------------------------------------------------------------
    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the arrays as ``.npy`` files plus ``meta.json`` into ``directory``."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        for name in _ARRAYS:
            np.save(d / f"{name}.npy", np.ascontiguousarray(getattr(self, name)),
                    allow_pickle=False)
        meta = dict(self.meta, format=TYPICAL_FORMAT, snapshot_id=self.snapshot_id,
                    day_types=list(DAY_TYPES), bin_s=BIN_S, n_edges=self.n_edges,
                    n_rows=int(self.ttf_ms.shape[0]))
        (d / "meta.json").write_text(json.dumps(meta, indent=2, allow_nan=False))
        return d

    @classmethod
    def load(cls, directory: str | os.PathLike[str], snapshot_id: str | None = None
             ) -> TypicalSpeeds:
        """Open a saved directory (memory-mapped). Raises :class:`TrafficDataError` when
        files are missing or, when ``snapshot_id`` is given, the typical speeds were built
        for another snapshot (their ``meta.json`` records the snapshot_id they belong to)."""
        d = Path(directory)
        if not (d / "meta.json").is_file():
            raise TrafficDataError(str(d), "not a typical-speeds directory (no meta.json)")
        meta = json.loads((d / "meta.json").read_text())
        if meta.get("format") != TYPICAL_FORMAT or meta.get("bin_s") != BIN_S:
            raise TrafficDataError(str(d), f"unsupported format {meta.get('format')}")
        if snapshot_id is not None and meta.get("snapshot_id") != snapshot_id:
            raise TrafficDataError(str(d), f"typical speeds built for snapshot "
                                           f"{meta.get('snapshot_id')}, not for snapshot "
                                           f"{snapshot_id}; rebuild the snapshot with "
                                           "`citynav build --traffic FILE`")
        arrays = {}
        for name in _ARRAYS:
            p = d / f"{name}.npy"
            if not p.is_file():
                raise TrafficDataError(str(p), "missing array")
            # A plain-ndarray view of the memory map (numba takes ndarrays, not memmaps).
            arrays[name] = np.load(p, mmap_mode="r", allow_pickle=False).view(np.ndarray)
        return cls(**arrays, snapshot_id=str(meta.get("snapshot_id")), meta=meta)


def snapshot_of(obj: Any) -> Snapshot:
    return obj.snapshot if hasattr(obj, "snapshot") else obj
