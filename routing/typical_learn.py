"""Typical speeds learn from live observations: an exponential moving average per (edge, day
type, 15-min bin), the rules of :mod:`routing.typical` re-applied; a new instance each time
(the live engine learns every batch of the speed log once, in order)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
from numba import njit

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
    """Blend live observations into the typical profiles and return a new instance
    (:func:`learn_from_arrays` on the observations' columns; a naive ``at`` is local time)."""
    zone = ZoneInfo(tz)
    obs = list(observations)
    edges = np.array([int(o.edge) for o in obs], np.int64)
    at_s = np.array([_to_local(o.at, zone).timestamp() for o in obs], np.float64)
    speed = np.array([float(o.speed_kmh) for o in obs], np.float64)
    return learn_from_arrays(typical, edges, at_s, speed, weight, tz, holidays)


def learn_from_arrays(typical: TypicalSpeeds, edges: np.ndarray, at_s: np.ndarray,
                      speed_kmh: np.ndarray, weight: float = 0.2, tz: str = "UTC",
                      holidays: Iterable[date] = ()) -> TypicalSpeeds:
    """Blend live observations (car edge, Unix seconds, km/h; in order) into the typical
    profiles and return a new instance.

    Each observation updates its (edge, day type, 15-min bin) by an exponential moving
    average ``new = (1 - weight) × old + weight × observed`` (a bin without data takes the
    observation as is; several in one call apply in order), then the rules apply again
    (≥ free flow, FIFO). Raises ``ValueError`` for an unknown edge, a bad speed or a weight
    outside (0, 1].
    """
    if not 0.0 < weight <= 1.0:
        raise ValueError(f"weight must be in (0, 1], got {weight}")
    edges = np.asarray(edges, np.int64)
    at_s = np.asarray(at_s, np.float64)
    speed = np.asarray(speed_kmh, np.float64)
    bad = np.flatnonzero((edges < 0) | (edges >= typical.n_edges))
    if bad.size:
        raise ValueError(f"observation {int(bad[0])}: unknown car edge {int(edges[bad[0]])}")
    bad = np.flatnonzero(~(np.isfinite(speed) & (speed > 0) & (speed <= MAX_SPEED_KMH)))
    if bad.size:
        raise ValueError(f"observation {int(bad[0])}: speed {float(speed[bad[0]])} km/h "
                         "out of range")
    zone = ZoneInfo(tz)
    hol = set(holidays)
    # day type and bin per distinct instant (a batch shares a few)
    instants, inv = np.unique(at_s, return_inverse=True)
    d_of = np.empty(instants.shape[0], np.int64)
    b_of = np.empty(instants.shape[0], np.int64)
    for i, t in enumerate(instants.tolist()):
        local = datetime.fromtimestamp(t, zone)
        d_of[i] = DAY_TYPES.index(day_type_of(local.date(), hol))
        b_of[i] = _ms_of_day(local) // BIN_MS
    day = d_of[inv]
    b = b_of[inv]
    row = np.array(typical.row)
    n_rows = typical.ttf_ms.shape[0]
    ff = np.asarray(typical.free_flow_ms)
    # new rows for (day type, edge) without a profile, numbered in order of first use
    missing = row[day, edges] < 0
    new_d, new_e = day[missing], edges[missing]
    if new_d.size:
        keys = new_d * typical.n_edges + new_e
        _, first = np.unique(keys, return_index=True)
        first.sort()
        new_d, new_e = new_d[first], new_e[first]
        row[new_d, new_e] = n_rows + np.arange(new_d.shape[0])
    all_ttf = np.vstack([np.asarray(typical.ttf_ms, np.int64),
                         np.repeat(ff[new_e].astype(np.int64)[:, None], N_BINS, axis=1)])
    all_obs = np.vstack([np.asarray(typical.observed, bool),
                         np.zeros((new_e.shape[0], N_BINS), bool)])
    r = row[day, edges].astype(np.int64)
    ms = np.asarray(typical.edge_length_m, np.float64)[edges] / (speed / 3.6) * 1000.0
    _blend(all_ttf, all_obs, r, b, ms, float(weight))
    if r.size:
        t = np.unique(r)
        e_of_row = np.full(all_ttf.shape[0], -1, np.int64)
        d_idx, e_idx = np.nonzero(row >= 0)
        e_of_row[row[d_idx, e_idx]] = e_idx
        fixed = np.maximum(all_ttf[t], ff[e_of_row[t]][:, None])
        all_ttf[t], _ = enforce_fifo(fixed)
    return TypicalSpeeds(np.asarray(typical.free_flow_ms), np.asarray(typical.edge_length_m),
                         row, all_ttf.astype(np.int32), all_obs, typical.snapshot_id,
                         dict(typical.meta, learned=True))


@njit(cache=True)
def _blend(ttf: np.ndarray, seen: np.ndarray, rows: np.ndarray, bins: np.ndarray,
           ms: np.ndarray, weight: float) -> None:
    """The moving average, observation by observation in order (in place)."""
    for i in range(rows.shape[0]):
        r = rows[i]
        b = bins[i]
        if seen[r, b]:
            ttf[r, b] = np.int64(np.rint((1.0 - weight) * np.float64(ttf[r, b])
                                         + weight * ms[i]))
        else:
            ttf[r, b] = np.int64(np.rint(ms[i]))
            seen[r, b] = True


def _to_local(t: datetime, zone: ZoneInfo) -> datetime:
    """Aware datetime in ``zone``; a naive one is read as already local."""
    return t.replace(tzinfo=zone) if t.tzinfo is None else t.astimezone(zone)


def _ms_of_day(local: datetime) -> int:
    return ((local.hour * 60 + local.minute) * 60 + local.second) * 1000 \
        + local.microsecond // 1000
