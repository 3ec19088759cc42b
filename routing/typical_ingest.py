"""Typical speeds from a table of observed speeds (CSV or Parquet; ``citynav build --traffic``).

Rows are ``way_id, direction, day_type, time|bin, speed_kmh[, samples]``; each row is checked
on its own and bad rows are counted by reason and skipped (:class:`LoadReport`). The weighted
median speed per (way direction, day type, 15-min bin) becomes the travel time of the way's car
edges in that bin; the rules of :mod:`routing.typical` (never faster than free flow, FIFO)
apply.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from routing.kernels.td import N_BINS
from routing.profiles import MAX_SPEED_KMH, Mode
from routing.typical import (
    BIN_S,
    DAY_TYPES,
    TrafficDataError,
    TypicalSpeeds,
    enforce_fifo,
    snapshot_of,
)

if TYPE_CHECKING:
    import pandas as pd

    from routing.road import RoadRouter
    from routing.snapshot import Snapshot


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
    except ImportError as exc:  # no Parquet engine in a serving-only install
        raise TrafficDataError(str(p), "reading Parquet needs pyarrow: pip install "
                               "'citynav[parquet]' (or give the observations as CSV)") from exc
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

    snap = snapshot_of(snapshot)
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
    car = snap.modes[Mode.CAR]
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
