"""Typical car speeds by time of day and day type, and time-dependent car routing.

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
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from zoneinfo import ZoneInfo

import numpy as np

from routing.kernels.td import BIN_MS, N_BINS, interp_bins, ttf_many
from routing.profiles import MAX_SPEED_KMH

if TYPE_CHECKING:
    import pandas as pd

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
class LoadReport:
    """What loading an observation file did: rows used, rows skipped per reason (with the
    first few 1-based data row numbers), and what the rules changed."""

    path: str
    rows_read: int = 0
    rows_used: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[int]] = field(default_factory=dict)
    cells: int = 0  # (edge, day type, bin) values backed by data
    edges_with_data: int = 0
    raised_to_free_flow: int = 0
    fifo_clipped: int = 0

    @property
    def rows_skipped(self) -> int:
        """Total rows skipped."""
        return sum(self.skipped.values())

    def summary(self) -> str:
        """One line for logs and the CLI."""
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(self.skipped.items())) or "none"
        return (f"{self.path}: {self.rows_used}/{self.rows_read} rows used, skipped: {reasons}; "
                f"{self.edges_with_data} edges with data, {self.cells} cells; "
                f"{self.raised_to_free_flow} raised to free flow, {self.fifo_clipped} "
                f"FIFO-clipped")


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
        snap = _snapshot(router)
        car = snap.modes["car"]
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


def _snapshot(obj: Any) -> Snapshot:
    return obj.snapshot if hasattr(obj, "snapshot") else obj


# ---- loading observations ----------------------------------------------------------------
def _codes(values: pd.Series, names: Sequence[str]) -> np.ndarray:
    """Index of each value (trimmed, case-insensitive) in ``names``, -1 when not found;
    normalises each distinct value once."""
    import pandas as pd

    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    lut = np.array([names.index(k) if k in names else -1
                    for k in (str(u).strip().lower() for u in uniques)] + [-1], np.int64)
    return lut[codes]  # code -1 (missing) picks the trailing -1


def _read_table(source: str | os.PathLike[str] | pd.DataFrame) -> tuple[pd.DataFrame, str]:
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return source, "<DataFrame>"
    p = Path(source)
    if not p.is_file():
        raise TrafficDataError(str(p), "no such file")
    try:
        if p.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(p), str(p)
        return pd.read_csv(p, dtype=str, keep_default_na=False), str(p)
    except (ValueError, OSError) as exc:
        raise TrafficDataError(str(p), f"cannot read: {exc}") from exc


def load_observations(snapshot: Snapshot | RoadRouter,
                      source: str | os.PathLike[str] | pd.DataFrame,
                      ) -> tuple[TypicalSpeeds, LoadReport]:
    """Typical speeds from a CSV/Parquet file (or DataFrame) of speed observations.

    Columns: ``way_id`` (OSM way), ``direction`` (``forward``/``backward`` along the way's
    node order), ``day_type`` (``weekday``/``saturday``/``sunday``), ``bin`` (0–95) or
    ``time`` (``HH:MM``, binned to 15 min), ``speed_kmh``, optional ``samples`` (weight,
    > 0). Each (edge, day type, bin) takes the weighted median speed (lower median) of its
    rows; every car edge of the way in that direction gets it. Bad rows are skipped and
    counted per reason: ``bad_way_id``, ``unknown_way`` (no car edge of that way),
    ``no_car_edge_in_direction``, ``bad_direction``, ``bad_day_type``, ``bad_time``,
    ``bad_speed`` (not a number, ≤ 0 or > 200 km/h), ``bad_samples``.
    Raises :class:`TrafficDataError` for a missing file or column.
    """
    import pandas as pd

    snap = _snapshot(snapshot)
    df, label = _read_table(source)
    report = LoadReport(path=label, rows_read=int(len(df)))
    cols = {c.strip().lower(): c for c in df.columns}
    need = ["way_id", "direction", "day_type", "speed_kmh"]
    missing = [c for c in need if c not in cols]
    if "bin" not in cols and "time" not in cols:
        missing.append("bin or time")
    if missing:
        raise TrafficDataError(label, f"missing column(s): {', '.join(missing)}")
    n = len(df)
    bad = np.zeros(n, dtype=np.int8)  # 0 = ok, else index into reasons (first reason wins)
    reasons: list[str] = [""]

    def mark(mask: np.ndarray, reason: str) -> None:
        mask = np.asarray(mask, bool) & (bad == 0)
        if mask.any():
            if reason not in reasons:
                reasons.append(reason)
            bad[mask] = reasons.index(reason)

    def col(name: str) -> pd.Series:
        return df[cols[name]]

    way = pd.to_numeric(col("way_id"), errors="coerce")
    way_ok = way.notna().to_numpy() & np.isfinite(way.to_numpy(np.float64, na_value=np.nan))
    way_i = np.where(way_ok, way.fillna(-1).to_numpy(np.float64), -1)
    mark(~way_ok | (way_i != np.floor(way_i)) | (way_i <= 0), "bad_way_id")
    way_i = way_i.astype(np.int64)
    dir_i = _codes(col("direction"), ("forward", "backward"))
    mark(dir_i < 0, "bad_direction")
    rev = dir_i == 1
    day_i = _codes(col("day_type"), DAY_TYPES)
    mark(day_i < 0, "bad_day_type")
    day_i = np.maximum(day_i, 0)
    if "bin" in cols:
        b = pd.to_numeric(col("bin"), errors="coerce").to_numpy(np.float64, na_value=np.nan)
        b_ok = np.isfinite(b) & (b == np.floor(np.nan_to_num(b))) & (b >= 0) & (b < N_BINS)
    else:
        hm = col("time").astype(str).str.strip().str.extract(r"^(\d{1,2}):(\d{2})(?::\d{2})?$")
        h = pd.to_numeric(hm[0], errors="coerce").to_numpy(np.float64, na_value=np.nan)
        m = pd.to_numeric(hm[1], errors="coerce").to_numpy(np.float64, na_value=np.nan)
        b_ok = np.isfinite(h) & np.isfinite(m) & (h < 24) & (m < 60)
        b = np.where(b_ok, (np.nan_to_num(h) * 60 + np.nan_to_num(m)) // (BIN_S // 60), 0)
    mark(~b_ok, "bad_time")
    bin_i = np.where(b_ok, np.nan_to_num(b), 0).astype(np.int64)
    sp = pd.to_numeric(col("speed_kmh"), errors="coerce").to_numpy(np.float64,
                                                                    na_value=np.nan)
    mark(~(np.isfinite(sp) & (sp > 0) & (sp <= MAX_SPEED_KMH)), "bad_speed")
    if "samples" in cols:
        w = pd.to_numeric(col("samples"), errors="coerce").to_numpy(np.float64,
                                                                    na_value=np.nan)
        mark(~(np.isfinite(w) & (w > 0)), "bad_samples")
        w = np.where(np.isfinite(w) & (w > 0), w, 1.0)
    else:
        w = np.ones(n)

    # Way/direction → car edges.
    car = snap.modes["car"]
    edge_seg = np.asarray(car.edge_seg)
    edge_way = np.asarray(snap.segments.way_id)[edge_seg]
    edge_key = edge_way * 2 + np.asarray(car.edge_rev).astype(np.int64)
    order = np.argsort(edge_key, kind="stable")
    keys_sorted = edge_key[order]
    uniq_keys, first = np.unique(keys_sorted, return_index=True)
    counts = np.diff(np.append(first, keys_sorted.shape[0]))
    known_way = np.isin(way_i, np.unique(edge_way))
    mark(~known_way, "unknown_way")
    key = way_i * 2 + rev.astype(np.int64)
    pos = np.searchsorted(uniq_keys, key)
    pos_c = np.minimum(pos, max(uniq_keys.shape[0] - 1, 0))
    has_key = (uniq_keys.shape[0] > 0) & (uniq_keys[pos_c] == key) if n else np.zeros(0, bool)
    mark(~np.asarray(has_key, bool), "no_car_edge_in_direction")

    for i, r in enumerate(reasons[1:], start=1):
        rows = np.flatnonzero(bad == i)
        report.skipped[r] = int(rows.shape[0])
        report.examples[r] = (rows[:5] + 1).tolist()
    ok = bad == 0
    report.rows_used = int(ok.sum())

    ff = np.asarray(car.edge_time_ms, np.int64)
    lengths = np.asarray(car.edge_length_m, np.float32)
    n_edges = ff.shape[0]
    if not ok.any():
        typ = TypicalSpeeds.free_flow(ff, lengths, snap.snapshot_id)
        return typ, report

    # Weighted (lower) median speed per (way-direction, day type, bin).
    g = pos[ok]
    cell = (g * len(DAY_TYPES) + day_i[ok]) * N_BINS + bin_i[ok]
    spd, wt = sp[ok], w[ok]
    o = np.lexsort((spd, cell))
    cell, spd, wt = cell[o], spd[o], wt[o]
    ucell, start = np.unique(cell, return_index=True)
    cw = np.cumsum(wt)
    before = np.concatenate([[0.0], cw])[start]
    total = np.append(before[1:], cw[-1]) - before
    med_idx = np.searchsorted(cw, before + total / 2.0 - 1e-9 * total, side="left")
    med = spd[np.minimum(med_idx, spd.shape[0] - 1)]

    # Expand cells to the edges of each way-direction.
    cg = ucell // (len(DAY_TYPES) * N_BINS)
    rest = ucell % (len(DAY_TYPES) * N_BINS)
    cday, cbin = rest // N_BINS, rest % N_BINS
    reps = counts[cg]
    idx_in = np.repeat(first[cg], reps) + (np.arange(reps.sum()) - np.repeat(
        np.cumsum(reps) - reps, reps))
    e = order[idx_in]
    e_day, e_bin = np.repeat(cday, reps), np.repeat(cbin, reps)
    e_speed = np.repeat(med, reps)
    e_ms = np.rint(lengths[e].astype(np.float64) / (e_speed / 3.6) * 1000.0).astype(np.int64)
    e_ms = np.maximum(e_ms, 1)

    de = e_day * n_edges + e
    rows_key, inv = np.unique(de, return_inverse=True)
    vals = np.repeat(ff[rows_key % n_edges][:, None], N_BINS, axis=1)
    obs = np.zeros((rows_key.shape[0], N_BINS), bool)
    vals[inv, e_bin] = e_ms
    obs[inv, e_bin] = True
    ffr = ff[rows_key % n_edges][:, None]
    report.raised_to_free_flow = int((obs & (vals < ffr)).sum())
    vals = np.maximum(vals, ffr)
    vals32, report.fifo_clipped = enforce_fifo(vals)
    row = np.full((len(DAY_TYPES), n_edges), -1, np.int32)
    row[rows_key // n_edges, rows_key % n_edges] = np.arange(rows_key.shape[0], dtype=np.int32)
    report.cells = int(obs.sum())
    report.edges_with_data = int(np.unique(rows_key % n_edges).shape[0])
    typ = TypicalSpeeds(ff.astype(np.int32), lengths, row, vals32, obs, snap.snapshot_id,
                        meta={"source": label, "rows_used": report.rows_used})
    return typ, report


# ---- learning from live observations -------------------------------------------------
class LiveObservation(NamedTuple):
    """A posted speed on a car edge at an instant (aware datetime)."""

    edge: int
    at: datetime
    speed_kmh: float


def learn_from_observations(typical: TypicalSpeeds, observations: Iterable[LiveObservation],
                            weight: float = 0.2, tz: str = "UTC",
                            holidays: Iterable[date] = ()) -> TypicalSpeeds:
    """Blend live observations into the typical profiles and return a new instance.

    Each observation updates its (edge, day type, 15-min bin) by an exponential moving
    average ``new = (1 - weight) × old + weight × observed`` (a bin without data takes the
    observation as is), then the rules apply again (≥ free flow, FIFO). Raises
    ``ValueError`` for an unknown edge, a bad speed or a weight outside (0, 1].
    """
    if not 0.0 < weight <= 1.0:
        raise ValueError(f"weight must be in (0, 1], got {weight}")
    zone = ZoneInfo(tz)
    hol = set(holidays)
    row = np.array(typical.row)
    ttf = [np.array(typical.ttf_ms)]
    obs = [np.array(typical.observed)]
    n_rows = ttf[0].shape[0]
    new_rows: list[np.ndarray] = []
    new_obs: list[np.ndarray] = []
    ff = np.asarray(typical.free_flow_ms)
    touched: set[int] = set()

    def cell(r: int) -> tuple[np.ndarray, np.ndarray]:
        if r < n_rows:
            return ttf[0][r], obs[0][r]
        return new_rows[r - n_rows], new_obs[r - n_rows]

    for i, o in enumerate(observations):
        e = int(o.edge)
        if not 0 <= e < typical.n_edges:
            raise ValueError(f"observation {i}: unknown car edge {e}")
        if not (math.isfinite(o.speed_kmh) and 0 < o.speed_kmh <= MAX_SPEED_KMH):
            raise ValueError(f"observation {i}: speed {o.speed_kmh} km/h out of range")
        local = _to_local(o.at, zone)
        d = DAY_TYPES.index(day_type_of(local.date(), hol))
        b = _ms_of_day(local) // BIN_MS
        r = int(row[d, e])
        if r < 0:
            r = n_rows + len(new_rows)
            new_rows.append(np.full(N_BINS, ff[e], np.int64))
            new_obs.append(np.zeros(N_BINS, bool))
            row[d, e] = r
        vals, seen = cell(r)
        ms = float(typical.edge_length_m[e]) / (o.speed_kmh / 3.6) * 1000.0
        vals[b] = round(ms if not seen[b] else (1 - weight) * float(vals[b]) + weight * ms)
        seen[b] = True
        touched.add(r)
    all_ttf = np.vstack([ttf[0].astype(np.int64)] + [r[None, :] for r in new_rows]) \
        if new_rows else ttf[0].astype(np.int64)
    all_obs = np.vstack([obs[0]] + [r[None, :] for r in new_obs]) if new_obs else obs[0]
    if touched:
        t = np.fromiter(sorted(touched), np.int64)
        e_of_row = np.full(all_ttf.shape[0], -1, np.int64)
        d_idx, e_idx = np.nonzero(row >= 0)
        e_of_row[row[d_idx, e_idx]] = e_idx
        fixed = np.maximum(all_ttf[t], ff[e_of_row[t]][:, None])
        all_ttf[t], _ = enforce_fifo(fixed)
    return TypicalSpeeds(np.asarray(typical.free_flow_ms), np.asarray(typical.edge_length_m),
                         row, all_ttf.astype(np.int32), all_obs, typical.snapshot_id,
                         dict(typical.meta, learned=True))


# ---- local time helpers ----------------------------------------------------------------
def _to_local(t: datetime, zone: ZoneInfo) -> datetime:
    """Aware datetime in ``zone``; a naive one is read as already local."""
    return t.replace(tzinfo=zone) if t.tzinfo is None else t.astimezone(zone)


def _ms_of_day(local: datetime) -> int:
    return ((local.hour * 60 + local.minute) * 60 + local.second) * 1000 \
        + local.microsecond // 1000
