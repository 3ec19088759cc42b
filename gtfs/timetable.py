"""The compiled timetable: flat numpy arrays for the router plus string tables.

Layout (all indices 0-based, ``-1`` = none):

* stops are *routable* stops only (``location_type`` 0/empty); stations live in ``station_*``.
* trips are numbered pattern-major: the trips of pattern ``p`` are
  ``pattern_trip_offsets[p]:pattern_trip_offsets[p+1]``, sorted by departure, FIFO (no trip
  overtakes another at any stop; patterns were split where one would).
* stop times are pattern-major and trip-major inside a pattern: stop position ``i`` of trip
  ``t`` in pattern ``p`` with ``n`` stops is at
  ``pattern_st_offsets[p] + (t - pattern_trip_offsets[p]) * n + i``. Times are int32 seconds
  since the trip's service-day midnight ("noon minus 12 h") in its agency's timezone, and can
  exceed 86 400. ``st_stop_sequence`` (same layout) keeps each stop time's GTFS
  ``stop_sequence`` (increasing along a trip; GTFS-Realtime refers to stops by it). Timetables
  saved before it existed load without it.

:meth:`Timetable.save` writes one ``.npy`` per array plus ``timetable.json`` (strings and
metadata); :meth:`Timetable.load` memory-maps the arrays (``mmap_mode="r"``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Hashable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from gtfs.calendar import unpack_day
from gtfs.shapes import cut_shape

FORMAT_VERSION = 1

#: Array name -> dtype. Documented meaning in :class:`Timetable`.
ARRAY_DTYPES: dict[str, str] = {
    "stop_lat": "float64", "stop_lon": "float64", "stop_wheelchair": "int8",
    "stop_station": "int32", "stop_feed": "int16",
    "station_lat": "float64", "station_lon": "float64",
    "agency_feed": "int16",
    "route_type": "int16", "route_agency": "int32",
    "pattern_route": "int32", "pattern_stop_offsets": "int64", "pattern_stops": "int32",
    "pattern_pickup": "bool", "pattern_dropoff": "bool", "pattern_trip_offsets": "int64",
    "pattern_st_offsets": "int64",
    "st_arrival_s": "int32", "st_departure_s": "int32", "st_stop_sequence": "int32",
    "trip_pattern": "int32", "trip_route": "int32", "trip_service": "int32",
    "trip_wheelchair": "int8", "trip_direction": "int8", "trip_shape": "int32",
    "trip_shape_dist_offset": "int64", "trip_start_s": "int32", "trip_frequency": "int8",
    "shape_stop_dist_m": "float32",
    "stop_pattern_offsets": "int64", "stop_patterns": "int32", "stop_pattern_pos": "int32",
    "transfer_offsets": "int64", "transfer_to": "int32", "transfer_kind": "int8",
    "transfer_min_s": "int32",
    "service_feed": "int16", "service_days": "uint8",
    "shape_offsets": "int64", "shape_lon": "float64", "shape_lat": "float64",
    "shape_dist_m": "float32",
}

STRING_FIELDS: tuple[str, ...] = (
    "feed_name", "stop_id", "stop_name", "station_id", "station_name", "agency_id",
    "agency_name", "agency_timezone", "route_id", "route_short_name", "route_long_name",
    "route_color", "route_text_color", "trip_id", "trip_gtfs_id", "trip_headsign",
    "trip_short_name", "service_id", "shape_id",
)

TRANSFER_RECOMMENDED = 0
TRANSFER_TIMED = 1
TRANSFER_MIN_TIME = 2
TRANSFER_FORBIDDEN = 3

FREQ_NONE = 0
FREQ_EXACT = 1  # expanded from frequencies.txt with exact_times=1
FREQ_HEADWAY = 2  # expanded from frequencies.txt with exact_times=0 (times are nominal)


@dataclass
class Timetable:
    """Compact timetable arrays (see module docstring for the layout).

    Per-stop: ``stop_lat/lon`` (deg), ``stop_wheelchair`` (0 unknown, 1 accessible, 2 not;
    parent station inherited), ``stop_station`` (index into ``station_*``), ``stop_feed``.
    Per-route: ``route_type`` (GTFS incl. extended), ``route_agency``. Per-pattern:
    ``pattern_route``, CSR ``pattern_stop_offsets``/``pattern_stops`` with aligned
    ``pattern_pickup``/``pattern_dropoff`` (boarding/alighting allowed), trip range
    ``pattern_trip_offsets``, stop-time base ``pattern_st_offsets``; per stop time
    ``st_arrival_s``/``st_departure_s``/``st_stop_sequence``. Per-trip: ``trip_pattern``,
    ``trip_route``, ``trip_service``, ``trip_wheelchair`` (0/1/2), ``trip_direction`` (-1
    blank), ``trip_shape`` (-1: straight lines), ``trip_shape_dist_offset`` (index into
    ``shape_stop_dist_m``: metres along the shape of each pattern stop; -1 without shape),
    ``trip_start_s`` (first departure), ``trip_frequency`` (0 scheduled, 1 exact_times=1,
    2 exact_times=0). Stop index CSR ``stop_pattern_offsets``/``stop_patterns``/
    ``stop_pattern_pos``. transfers.txt CSR ``transfer_offsets``/``transfer_to``/
    ``transfer_kind`` (0..3)/``transfer_min_s``. Services: ``service_feed`` and packed bitmap
    ``service_days`` (``[n_services, ceil(n_days/8)]``, little bit order, day 0 =
    ``meta["calendar_start"]``). Shapes CSR ``shape_offsets``/``shape_lon``/``shape_lat``/
    ``shape_dist_m``.
    """

    arrays: dict[str, np.ndarray]
    strings: dict[str, list[str]]
    meta: dict[str, Any] = field(default_factory=dict)
    #: arrays derived from the timetable by the query layer (kernel arguments, reversed
    #: copies, realtime blocks), computed once and kept with it
    derived: dict[Hashable, Any] = field(default_factory=dict, repr=False, compare=False)

    def __getattr__(self, name: str) -> Any:
        # only called when normal lookup fails: expose arrays and strings as attributes
        if name.startswith("__") or name in {f.name for f in fields(Timetable)}:
            raise AttributeError(name)
        arrays = self.__dict__.get("arrays", {})
        if name in arrays:
            return arrays[name]
        strings = self.__dict__.get("strings", {})
        if name in strings:
            return strings[name]
        raise AttributeError(name)

    # ------------------------------------------------------------------ sizes
    @property
    def n_stops(self) -> int:
        """Number of routable stops."""
        return int(self.arrays["stop_lat"].shape[0])

    @property
    def n_trips(self) -> int:
        """Number of trips (after frequency expansion)."""
        return int(self.arrays["trip_pattern"].shape[0])

    @property
    def n_patterns(self) -> int:
        """Number of FIFO patterns."""
        return int(self.arrays["pattern_route"].shape[0])

    @property
    def calendar_start(self) -> dt.date:
        """Day 0 of ``service_days``."""
        return dt.date.fromisoformat(self.meta["calendar_start"])

    # ------------------------------------------------------------------ lookups
    def stop_index(self, stop_id: str) -> int:
        """Index of a namespaced ``stop_id`` (KeyError when unknown)."""
        idx = self.derived.get("stop_index")
        if idx is None:
            idx = {s: i for i, s in enumerate(self.strings["stop_id"])}
            self.derived["stop_index"] = idx
        return idx[stop_id]

    def trip_index(self, trip_id: str) -> int:
        """Index of a namespaced (possibly frequency-expanded) ``trip_id``."""
        idx = self.derived.get("trip_index")
        if idx is None:
            idx = {s: i for i, s in enumerate(self.strings["trip_id"])}
            self.derived["trip_index"] = idx
        return idx[trip_id]

    def active_service_mask(self, date: dt.date) -> np.ndarray:
        """Bool mask over services running on service day ``date``."""
        return unpack_day(self.arrays["service_days"], self.calendar_start,
                          int(self.meta["calendar_n_days"]), date)

    def pattern_stop_list(self, pattern: int) -> np.ndarray:
        """Stop indices of a pattern in order."""
        a, b = self.arrays["pattern_stop_offsets"][pattern: pattern + 2]
        return np.asarray(self.arrays["pattern_stops"][a:b])

    def trip_times(self, trip: int) -> tuple[np.ndarray, np.ndarray]:
        """(arrival_s, departure_s) of a trip at each stop of its pattern (scheduled)."""
        p = int(self.arrays["trip_pattern"][trip])
        n = int(self.arrays["pattern_stop_offsets"][p + 1] - self.arrays["pattern_stop_offsets"][p])
        base = int(self.arrays["pattern_st_offsets"][p]) + \
            (trip - int(self.arrays["pattern_trip_offsets"][p])) * n
        return (np.asarray(self.arrays["st_arrival_s"][base: base + n]),
                np.asarray(self.arrays["st_departure_s"][base: base + n]))

    def leg_geometry(self, trip: int, board_pos: int, alight_pos: int) -> np.ndarray:
        """``[[lon, lat], ...]`` of a trip between two stop positions of its pattern.

        Cut from the trip's shape when it has one, else straight lines between the stops.
        """
        stops = self.pattern_stop_list(int(self.arrays["trip_pattern"][trip]))
        shape = int(self.arrays["trip_shape"][trip])
        if shape >= 0:
            off = int(self.arrays["trip_shape_dist_offset"][trip])
            d = self.arrays["shape_stop_dist_m"]
            a, b = self.arrays["shape_offsets"][shape: shape + 2]
            return cut_shape(np.asarray(self.arrays["shape_lon"][a:b]),
                             np.asarray(self.arrays["shape_lat"][a:b]),
                             np.asarray(self.arrays["shape_dist_m"][a:b]),
                             float(d[off + board_pos]), float(d[off + alight_pos]))
        sel = stops[board_pos: alight_pos + 1]
        return np.column_stack([self.arrays["stop_lon"][sel], self.arrays["stop_lat"][sel]])

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path) -> Path:
        """Write ``<name>.npy`` per array and ``timetable.json`` (strings + metadata)."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        for name, arr in self.arrays.items():
            np.save(out / f"{name}.npy", np.ascontiguousarray(arr), allow_pickle=False)
        doc = {"format_version": FORMAT_VERSION, "meta": self.meta, "strings": self.strings,
               "arrays": sorted(self.arrays)}
        (out / "timetable.json").write_text(json.dumps(doc, ensure_ascii=False))
        return out

    @classmethod
    def load(cls, directory: str | Path, mmap: bool = True) -> Timetable:
        """Load a saved timetable; arrays are memory-mapped read-only when ``mmap``."""
        d = Path(directory)
        doc = json.loads((d / "timetable.json").read_text())
        if doc.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"unsupported timetable format {doc.get('format_version')}")
        arrays = {n: np.load(d / f"{n}.npy", mmap_mode="r" if mmap else None,
                             allow_pickle=False) for n in doc["arrays"]}
        return cls(arrays=arrays, strings=doc["strings"], meta=doc["meta"])
