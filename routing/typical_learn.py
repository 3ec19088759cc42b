"""Typical speeds learn from live observations: an exponential moving average per (edge, day
type, 15-min bin), the rules of :mod:`routing.typical` re-applied; a new instance each time
(the live engine learns every batch of the speed log once, in order)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

import numpy as np

from routing.kernels.td import BIN_MS, N_BINS
from routing.profiles import MAX_SPEED_KMH
from routing.typical import DAY_TYPES, TypicalSpeeds, day_type_of, enforce_fifo


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


def _to_local(t: datetime, zone: ZoneInfo) -> datetime:
    """Aware datetime in ``zone``; a naive one is read as already local."""
    return t.replace(tzinfo=zone) if t.tzinfo is None else t.astimezone(zone)


def _ms_of_day(local: datetime) -> int:
    return ((local.hour * 60 + local.minute) * 60 + local.second) * 1000 \
        + local.microsecond // 1000
