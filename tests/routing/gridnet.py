"""Tiny OSM networks drawn as text grids, for profile scenario tests (the way OSRM's and
GraphHopper's test suites draw theirs).

Every letter or digit of the drawing is an OSM node; one character is ``cell_m`` metres
(20 m by default) east-west and north-south. Ways are given by the letters they pass
(``"abc"``) and their tags; node tags by letter; turn restrictions by the letters of their
member ways (and the via node). The network is written as a real ``.osm.pbf`` with
pyosmium and built into a snapshot with :func:`routing.build.build_snapshot`, so every
test goes through the production reader, profiles and graph builder.

    net = GridNet('''
        a - b - c
            |
            d
    ''', ways={"abc": {"highway": "residential"}, "bd": {"highway": "service",
                                                        "access": "private"}})
    r = net.route("a", "d", "car")      # None when there is no route
    assert r.ways == ["abc", "bd"]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import osmium
from osmium.osm import mutable

from routing.build import build_snapshot
from routing.road import NoRouteError, RoadRoute, RoadRouter, SnapError
from routing.snapshot import load_snapshot
from routing.state import StatePublisher

LAT0, LON0 = 45.0, 7.0
_M_PER_DEG_LAT = 111_195.0


@dataclass(frozen=True)
class GridRoute:
    """A route on a grid network: the way names (their letter strings) in order, the
    junction letters passed, and the route itself."""

    ways: list[str]
    nodes: str
    duration_s: float
    distance_m: float
    route: RoadRoute


class GridNet:
    """A drawn network, its snapshot and a router on it.

    ``ways``: ``{"abc": tags}`` or a list of ``("abc", tags)`` (the same letters may be
    drawn twice). ``nodes``: ``{"b": tags}``. ``relations``: dicts with ``from``, ``to``
    (way strings, or lists of them), ``via`` (a node letter, or a list of way strings) and
    the relation's other tags (``type=restriction`` is added). Places farther than
    ``max_snap_m`` from a road usable by the mode are refused (no route).
    """

    def __init__(self, drawing: str, ways: Mapping[str, Mapping[str, str]]
                 | Sequence[tuple[str, Mapping[str, str]]],
                 nodes: Mapping[str, Mapping[str, str]] | None = None,
                 relations: Sequence[Mapping[str, Any]] = (),
                 tmp_path: Path | None = None, cell_m: float = 20.0,
                 max_snap_m: float = 5.0) -> None:
        import tempfile

        self.cell_m = cell_m
        self.coords: dict[str, tuple[float, float]] = {}  # letter -> (lat, lon)
        lines = drawing.strip("\n").splitlines()
        indent = min((len(x) - len(x.lstrip()) for x in lines if x.strip()), default=0)
        m_per_deg_lon = _M_PER_DEG_LAT * math.cos(math.radians(LAT0))
        for row, line in enumerate(lines):
            for col, ch in enumerate(line[indent:]):
                if ch.isalnum():
                    if ch in self.coords:
                        raise ValueError(f"node {ch!r} drawn twice")
                    self.coords[ch] = (LAT0 - row * cell_m / _M_PER_DEG_LAT,
                                       LON0 + col * cell_m / m_per_deg_lon)
        self.node_id = {ch: i + 1 for i, ch in enumerate(sorted(self.coords))}
        self.letter_of = {v: k for k, v in self.node_id.items()}
        way_list = list(ways.items()) if isinstance(ways, Mapping) else list(ways)
        self.way_id: dict[str, int] = {}
        self.way_name: dict[int, str] = {}
        for i, (letters, _tags) in enumerate(way_list):
            wid = 1000 + i
            self.way_id.setdefault(letters, wid)
            self.way_name[wid] = letters
        base = Path(tmp_path) if tmp_path is not None else Path(tempfile.mkdtemp())
        base.mkdir(parents=True, exist_ok=True)
        self.pbf = base / "grid.osm.pbf"
        if self.pbf.exists():
            self.pbf.unlink()
        writer = osmium.SimpleWriter(str(self.pbf))
        try:
            for ch in sorted(self.coords):
                lat, lon = self.coords[ch]
                writer.add_node(mutable.Node(id=self.node_id[ch], location=(lon, lat),
                                             tags=dict((nodes or {}).get(ch, {})), version=1))
            for i, (letters, tags) in enumerate(way_list):
                for ch in letters:
                    if ch not in self.coords:
                        raise ValueError(f"way {letters!r}: node {ch!r} is not drawn")
                writer.add_way(mutable.Way(id=1000 + i, nodes=[self.node_id[c] for c in letters],
                                           tags=dict(tags), version=1))
            for i, rel in enumerate(relations):
                writer.add_relation(self._relation(9000 + i, rel))
        finally:
            writer.close()
        self.snapshot_dir = base / "snap"
        self.meta = build_snapshot(self.pbf, self.snapshot_dir)
        self.snapshot = load_snapshot(self.snapshot_dir)
        self.router = RoadRouter(self.snapshot, max_snap_m=max_snap_m)
        self.publisher = StatePublisher(self.router)

    def _relation(self, rid: int, rel: Mapping[str, Any]) -> mutable.Relation:
        def ways(x: str | Sequence[str]) -> list[str]:
            return [x] if isinstance(x, str) else list(x)

        members: list[tuple[str, int, str]] = []
        members += [("w", self.way_id[w], "from") for w in ways(rel["from"])]
        via = rel.get("via")
        if isinstance(via, str) and len(via) == 1:
            members.append(("n", self.node_id[via], "via"))
        elif via is not None:
            members += [("w", self.way_id[w], "via") for w in ways(via)]
        members += [("w", self.way_id[w], "to") for w in ways(rel["to"])]
        tags = {"type": "restriction"}
        tags.update({k: str(v) for k, v in rel.items() if k not in ("from", "to", "via")})
        return mutable.Relation(id=rid, members=members, tags=tags, version=1)

    # ---------------------------------------------------------------- places
    def point(self, where: str) -> tuple[float, float]:
        """(lat, lon) of a node letter, or of the middle of two letters (``"ab"``)."""
        if len(where) == 1:
            return self.coords[where]
        (la, lo), (lb, lob) = self.coords[where[0]], self.coords[where[1]]
        return (la + lb) / 2, (lo + lob) / 2

    # ---------------------------------------------------------------- routing
    def route(self, frm: str, to: str, mode: str = "car", **kw: Any) -> GridRoute | None:
        """The route between two places (see :meth:`point`), or ``None`` when no route
        exists or a place is not next to a road usable by the mode."""
        state = kw.pop("state", None) or self.publisher.current()
        try:
            r = self.router.route(state, mode, *self.point(frm), *self.point(to), **kw)
        except (NoRouteError, SnapError):
            return None
        return self.describe(r)

    def describe(self, r: RoadRoute) -> GridRoute:
        """Way names and junction letters of a route."""
        mr = self.router.modes[r.mode]
        keep = r.edge_travelled_m > 0.05
        edges = r.edges[keep] if keep.any() else r.edges[:1]
        seg = mr.edge_seg[edges]
        way_ids = np.asarray(self.snapshot.segments.way_id)[seg].tolist()
        names: list[str] = []
        for w in way_ids:
            n = self.way_name[int(w)]
            if not names or names[-1] != n:
                names.append(n)
        osm = np.asarray(self.snapshot.node_osm_id)
        letters = [self.letter_of[int(osm[mr.edge_tail[e]])] for e in edges]
        letters.append(self.letter_of[int(osm[mr.edge_head[edges[-1]]])])
        return GridRoute(names, "".join(letters), r.duration_s, r.distance_m, r)

    def can(self, frm: str, to: str, mode: str) -> bool:
        """True when some route exists."""
        return self.route(frm, to, mode) is not None

    def stats(self, mode: str) -> dict[str, int]:
        """Build statistics of one mode's graph."""
        return dict(self.snapshot.modes[mode].stats)
