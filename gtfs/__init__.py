"""Timetables: load, validate and compile static GTFS; RAPTOR queries over compiled arrays.

Modules: :mod:`gtfs.load` (read zips, namespacing), :mod:`gtfs.validate` (report and
exceptions), :mod:`gtfs.calendar`, :mod:`gtfs.shapes`, :mod:`gtfs.stop_times`
(interpolation), :mod:`gtfs.compile` (``compile_feeds``), :mod:`gtfs.timetable`
(``Timetable``), :mod:`gtfs.day` (``day_trip_mask``), :mod:`gtfs.raptor` (numba kernels),
:mod:`gtfs.query` (Python API), :mod:`gtfs.live` (``TransitLive``: closures, cancellations,
skipped stops, realtime stop times), :mod:`gtfs.footpaths`, :mod:`gtfs.realtime`
(GTFS-Realtime: decode, match to the timetable, encode). The reference search for tests and
benchmarks lives in ``tests/gtfs/oracle.py``. Nothing is imported here so that the kernels
stay light.
"""
