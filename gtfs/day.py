"""Day context: which trip instances run around a query date, and their time offsets.

Query times are seconds since the query date's midnight ("noon minus 12 h", as GTFS defines
service-day time) in one *reference* timezone. A trip of a feed in timezone ``Z`` running on
service day ``d`` has its times shifted by
``offset(d) = midnight_Z(d) - midnight_ref(query_date)`` (seconds, DST-aware), so feeds with
different agency timezones can be combined in one query.

Layers: the previous service day (-1), the query day (0) and the next day (+1). Instances of
the query day are all kept; instances of other days only if they overlap ``[0, horizon_s)``
in query time (e.g. previous-day trips still running after midnight with times >= 24:00, so
a query at 00:30 can board them). Journeys departing before the query date's midnight should
be asked on the previous date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from gtfs.timetable import Timetable

DEFAULT_HORIZON_S = 30 * 3600


def service_midnight_epoch_s(date: dt.date, tz: str) -> int:
    """Unix time of "noon minus 12 h" on ``date`` in ``tz`` (GTFS service-day origin)."""
    noon = dt.datetime(date.year, date.month, date.day, 12, tzinfo=ZoneInfo(tz))
    return int(noon.timestamp()) - 12 * 3600


@dataclass
class DayContext:
    """Running trip instances for one query date (see module docstring).

    ``trip_runs[l, t]`` / ``trip_offset_s[l, t]``: whether trip ``t`` runs on day layer ``l``
    (``layer_days[l]`` days from ``date``) and its offset. The compact form used by the
    kernels: instances ``layer_pat_offsets[l, p]:layer_pat_offsets[l, p+1]`` of pattern ``p``
    in layer ``l``, with ``inst_trip`` (trip index, pattern trip order) and ``inst_offset_s``.
    """

    date: dt.date
    tz: str
    layer_days: np.ndarray  # int64 [n_layers]
    trip_runs: np.ndarray  # bool [n_layers, n_trips]
    trip_offset_s: np.ndarray  # int32 [n_layers, n_trips]
    layer_pat_offsets: np.ndarray  # int64 [n_layers, n_patterns + 1]
    inst_trip: np.ndarray  # int32 [n_inst]
    inst_offset_s: np.ndarray  # int64 [n_inst]
    inst_layer: np.ndarray  # int8 [n_inst]
    #: arrays derived by the query layer for this day (reversed instances), kept with it
    derived: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def n_instances(self) -> int:
        """Number of trip instances in the context."""
        return int(self.inst_trip.shape[0])

    def service_date(self, inst: int) -> dt.date:
        """Service date of a trip instance."""
        return self.date + dt.timedelta(days=int(self.layer_days[self.inst_layer[inst]]))


def _trip_first_last(tt: Timetable) -> tuple[np.ndarray, np.ndarray]:
    cached = tt.derived.get("trip_first_last")
    if cached is not None:
        return cached
    pat = np.asarray(tt.arrays["trip_pattern"]).astype(np.int64)
    pso = np.asarray(tt.arrays["pattern_stop_offsets"])
    n = (pso[1:] - pso[:-1])[pat]
    rank = np.arange(len(pat)) - np.asarray(tt.arrays["pattern_trip_offsets"])[pat]
    base = np.asarray(tt.arrays["pattern_st_offsets"])[pat] + rank * n
    first = np.asarray(tt.arrays["st_departure_s"])[base].astype(np.int64)
    last = np.asarray(tt.arrays["st_arrival_s"])[base + n - 1].astype(np.int64)
    tt.derived["trip_first_last"] = (first, last)
    return first, last


def day_trip_mask(
    tt: Timetable,
    date: dt.date,
    tz: str | None = None,
    horizon_s: int = DEFAULT_HORIZON_S,
) -> DayContext:
    """Build the :class:`DayContext` for ``date`` in reference timezone ``tz`` (default: the
    first feed's agency timezone). ``horizon_s`` bounds the next/previous-day instances kept.
    """
    tz = tz or tt.strings["agency_timezone"][0]
    ZoneInfo(tz)  # validate
    ref0 = service_midnight_epoch_s(date, tz)
    trip_service = np.asarray(tt.arrays["trip_service"])
    agency_of_trip = np.asarray(tt.arrays["route_agency"])[np.asarray(tt.arrays["trip_route"])]
    agency_tz = tt.strings["agency_timezone"]
    tz_names = sorted(set(agency_tz))
    tz_code_of_agency = np.array([tz_names.index(z) for z in agency_tz], dtype=np.int64)
    trip_tz = tz_code_of_agency[agency_of_trip] if len(agency_of_trip) else \
        np.zeros(0, dtype=np.int64)
    first, last = _trip_first_last(tt)
    n_trips = tt.n_trips
    layer_days = np.array([-1, 0, 1], dtype=np.int64)
    runs = np.zeros((3, n_trips), dtype=bool)
    offs = np.zeros((3, n_trips), dtype=np.int32)
    for li, delta in enumerate(layer_days):
        d = date + dt.timedelta(days=int(delta))
        active = tt.active_service_mask(d)
        tz_off = np.array([service_midnight_epoch_s(d, z) - ref0 for z in tz_names],
                          dtype=np.int64)
        off = tz_off[trip_tz]
        run = active[trip_service] if len(active) else np.zeros(n_trips, dtype=bool)
        if delta != 0:
            run &= (last + off >= 0) & (first + off < horizon_s)
        runs[li] = run
        offs[li] = off
    keep = np.asarray(runs.any(axis=1))
    keep[1] = True
    layer_days, runs, offs = layer_days[keep], runs[keep], offs[keep]
    trip_pattern = np.asarray(tt.arrays["trip_pattern"])
    n_pat = tt.n_patterns
    lpo = np.zeros((len(layer_days), n_pat + 1), dtype=np.int64)
    inst_parts, off_parts, layer_parts = [], [], []
    base = 0
    for li in range(len(layer_days)):
        trips = np.flatnonzero(runs[li])
        lpo[li] = base + np.searchsorted(trip_pattern[trips], np.arange(n_pat + 1))
        inst_parts.append(trips.astype(np.int32))
        off_parts.append(offs[li][trips].astype(np.int64))
        layer_parts.append(np.full(len(trips), li, dtype=np.int8))
        base += len(trips)
    return DayContext(
        date=date, tz=tz, layer_days=layer_days, trip_runs=runs, trip_offset_s=offs,
        layer_pat_offsets=lpo, inst_trip=np.concatenate(inst_parts),
        inst_offset_s=np.concatenate(off_parts), inst_layer=np.concatenate(layer_parts),
    )
