"""Timetables: load, validate and compile static GTFS; RAPTOR queries over compiled arrays.

Modules: :mod:`gtfs.load` (read zips, namespacing), :mod:`gtfs.validate` (report and
exceptions), :mod:`gtfs.calendar`, :mod:`gtfs.shapes`, :mod:`gtfs.stop_times`
(interpolation), :mod:`gtfs.compile` (``compile_feeds``), :mod:`gtfs.timetable`
(``Timetable``), :mod:`gtfs.day` (``day_trip_mask``), :mod:`gtfs.raptor` (numba kernels),
:mod:`gtfs.query` (Python API), :mod:`gtfs.footpaths`, :mod:`gtfs.oracle` (reference search
for tests/benchmarks). Nothing is imported here so that the kernels stay light.
"""
