"""ferrobus (a Rust RAPTOR on PyPI, optional) on the same GTFS, for ``bench/transit.py``.

ferrobus builds its model from an OSM extract and GTFS directories and answers point-to-point
queries between *transit points* (a coordinate joined to the street graph). Here every point
sits on a stop's coordinates and keeps one nearest stop (ferrobus' ``find_route`` uses only
the nearest one anyway: ``MAX_CANDIDATE_STOPS = 1``), so a query is stop to stop, earliest
arrival at a departure time with at most ``max_transfers + 1`` trips, like citynav's.

Streets. ferrobus needs an OSM file. Northern Kentucky uses the bundled
``nky_streets.osm.pbf``; feeds without an extract (HART, WMATA) get a *synthetic* street graph
written here: a node on every stop, a straight footway between every two stops within 400 m
(citynav's footpath set in the bench), a 5 m stub per stop and, so that ferrobus keeps it (it
drops all but the largest connected component), the extra edges of a minimum spanning tree.
Transfers are capped at 286 s of walking (400 m at ferrobus' 1.4 m/s).

GTFS. ferrobus reads directories and is stricter than GTFS: times need two-digit hours and
``calendar.txt`` must exist. The copy it reads has hours zero-padded and an empty
``calendar.txt`` added when missing; nothing else changes.

The questions differ in transfer rules (reported, not hidden): ferrobus has no minimum
transfer time (citynav: 60 s), walks chains of footpaths, may walk right after access and
before egress (citynav: footpaths only between two trips), walks the street graph at 1.4 m/s
(citynav: straight lines at 1.3 m/s), adds a short walk from a point to its stop, runs only
the trips of the query date, and prunes ``find_route`` heuristically.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

try:  # optional: the "bench" extra of pyproject.toml
    import ferrobus
except ImportError:  # pragma: no cover - depends on the environment
    ferrobus = None

#: ferrobus' walking speed (m/s) and the transfer cap matching citynav's 400 m footpaths.
WALK_MPS = 1.4
MAX_TRANSFER_S = 286
_HOUR = re.compile(r"^\s*(\d):")


def available() -> bool:
    """Whether ferrobus can be imported."""
    return ferrobus is not None


@dataclass
class Model:
    """A ferrobus model of one feed, with a transit point per citynav stop index."""

    model: Any
    streets: str  # "OSM <file>" or "synthetic (...)"
    build_s: float
    workdir: Path
    lat: np.ndarray
    lon: np.ndarray
    points: dict[int, Any]
    no_point: set[int]
    parent: dict[str, str]  # GTFS stop_id -> its parent station (or itself)

    def same_place(self, a: str, b: str) -> bool:
        """Whether GTFS stops ``a`` and ``b`` are the same stop or in the same station
        (ferrobus may end at a station, entrance or platform where citynav uses the
        platform)."""
        return a == b or self.parent.get(a, a) == self.parent.get(b, b)

    def point(self, stop: int) -> Any | None:
        """The transit point on ``stop`` (None when ferrobus cannot place it)."""
        if stop in self.points:
            return self.points[stop]
        if stop in self.no_point:
            return None
        try:
            p = ferrobus.create_transit_point(float(self.lat[stop]), float(self.lon[stop]),
                                              self.model, 1200, 1)
        except (ValueError, RuntimeError):
            self.no_point.add(stop)
            return None
        self.points[stop] = p
        return p

    def close(self) -> None:
        """Remove the working copy of the GTFS (and synthetic streets)."""
        shutil.rmtree(self.workdir, ignore_errors=True)


def _gtfs_dir(zip_path: Path, out: Path) -> Path:
    """Unzip ``zip_path`` into ``out`` with two-digit hours and a ``calendar.txt``."""
    out.mkdir(parents=True)
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(out)
    st = out / "stop_times.txt"
    with open(st, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    cols = [rows[0].index(c) for c in ("arrival_time", "departure_time") if c in rows[0]]
    for r in rows[1:]:
        for c in cols:
            if c < len(r):
                r[c] = _HOUR.sub(r"0\1:", r[c])
    with open(st, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    if not (out / "calendar.txt").exists():
        (out / "calendar.txt").write_text("service_id,monday,tuesday,wednesday,thursday,friday,"
                                          "saturday,sunday,start_date,end_date\n")
    return out


def _synthetic_streets(path: Path, lat: np.ndarray, lon: np.ndarray,
                       footpaths: tuple[np.ndarray, np.ndarray, np.ndarray]) -> int:
    """Write the synthetic street graph described in the module docstring; returns the
    number of ways."""
    import osmium
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import minimum_spanning_tree

    from gtfs.geo import haversine_m

    n = int(lat.shape[0])
    off, to, _ = footpaths
    pairs = {(min(s, int(q)), max(s, int(q))) for s in range(n)
             for q in to[off[s]:off[s + 1]] if int(q) != s}
    # spanning tree over all stops (dense distances: a few thousand stops at most here)
    d = haversine_m(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    mst = coo_matrix(minimum_spanning_tree(np.maximum(d, 0.01)))
    pairs |= {(min(int(a), int(b)), max(int(a), int(b))) for a, b in zip(mst.row, mst.col,
                                                                         strict=True)}
    meta = dict(version=1, visible=True, changeset=1, timestamp="2020-01-01T00:00:00Z", uid=1,
                user="bench")
    w = osmium.SimpleWriter(str(path))
    try:
        for s in range(n):
            w.add_node(osmium.osm.mutable.Node(id=s + 1, location=(float(lon[s]), float(lat[s])),
                                               tags={}, **meta))
            w.add_node(osmium.osm.mutable.Node(
                id=n + s + 1, location=(float(lon[s]), float(lat[s]) + 0.00005), tags={}, **meta))
        wid = 0
        for s in range(n):
            wid += 1
            w.add_way(osmium.osm.mutable.Way(id=wid, nodes=[s + 1, n + s + 1],
                                             tags={"highway": "footway"}, **meta))
        for a, b in sorted(pairs):
            wid += 1
            w.add_way(osmium.osm.mutable.Way(id=wid, nodes=[a + 1, b + 1],
                                             tags={"highway": "footway"}, **meta))
    finally:
        w.close()
    return wid


def build(gtfs_zip: Path, date: dt.date, osm: Path | None, lat: np.ndarray, lon: np.ndarray,
          footpaths: tuple[np.ndarray, np.ndarray, np.ndarray]) -> Model:
    """The ferrobus model of ``gtfs_zip`` on ``date`` (real OSM streets when ``osm`` is
    given, else the synthetic graph)."""
    import time

    work = Path(tempfile.mkdtemp(prefix="citynav-ferrobus-"))
    gdir = _gtfs_dir(gtfs_zip, work / "gtfs")
    if osm is not None:
        streets, label = osm, f"OSM {osm.name}"
    else:
        streets = work / "streets.osm.pbf"
        ways = _synthetic_streets(streets, lat, lon, footpaths)
        label = f"synthetic ({ways} footways: stops within 400 m + spanning tree)"
    t = time.perf_counter()
    model = ferrobus.create_transit_model(str(streets), [str(gdir)], date, MAX_TRANSFER_S)
    build_s = time.perf_counter() - t
    with open(gdir / "stops.txt", newline="", encoding="utf-8-sig") as f:
        parent = {r["stop_id"]: (r.get("parent_station") or r["stop_id"])
                  for r in csv.DictReader(f)}
    return Model(model, label, build_s, work, lat, lon, {}, set(), parent)


def find_route(m: Model, origin: Any, destination: Any, depart_s: int,
               max_trips: int) -> Any:
    """ferrobus earliest arrival (its ``find_route``), ``max_trips`` trips at most."""
    return ferrobus.find_route(m.model, origin, destination, depart_s, max_trips - 1)


def range_route(m: Model, origin: Any, destination: Any, from_s: int, window_s: int,
                max_trips: int) -> int:
    """ferrobus range query (rRAPTOR) over ``[from_s, from_s + window_s]``; the number of
    journeys it returns."""
    res = ferrobus.range_multimodal_routing(m.model, origin, destination,
                                            (from_s, from_s + window_s), max_trips - 1)
    return len(res.travel_times())


def arrival_at_stop(m: Model, origin: Any, destination: Any, depart_s: int,
                    max_trips: int) -> tuple[int, str] | None:
    """ferrobus' arrival at the stop it reaches last (before the final walk to the point) and
    that stop's GTFS id, from ``detailed_journey``; None when it finds nothing."""
    raw = ferrobus.detailed_journey(m.model, origin, destination, depart_s, max_trips - 1)
    if not raw or raw == "null":
        return None
    for f in json.loads(raw)["features"]:
        p = f["properties"]
        if p.get("leg_type") == "egress_walk":
            return int(p["departure_time"]), str(p["from_name"])
    return None
