"""Write small hand-drawn OSM networks as OSM XML files for scenario tests."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr

# A 3x3 grid of junctions ~110 m apart near (45.0, 7.0):
#   1 - 2 - 3        north
#   |   |   |
#   4 - 5 - 6
#   |   |   |
#   7 - 8 - 9
LAT0, LON0, DLAT, DLON = 45.0, 7.0, 0.001, 0.0014
GRID = {1 + r * 3 + c: (LAT0 - r * DLAT, LON0 + c * DLON) for r in range(3) for c in range(3)}


def _tags(tags: dict[str, str]) -> str:
    return "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())


def write_osm(path: Path, ways: list[tuple[int, list[int], dict[str, str]]],
              relations: list[tuple[int, list[tuple[str, int, str]], dict[str, str]]] = (),
              node_tags: dict[int, dict[str, str]] | None = None,
              nodes: dict[int, tuple[float, float]] | None = None) -> Path:
    """Write an OSM XML file. ``ways``: (id, node ids, tags); ``relations``: (id,
    [(type, ref, role)], tags); nodes default to :data:`GRID`."""
    nodes = nodes or GRID
    node_tags = node_tags or {}
    out = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for nid, (lat, lon) in sorted(nodes.items()):
        out.append(f'<node id="{nid}" version="1" lat="{lat:.7f}" lon="{lon:.7f}">'
                   f"{_tags(node_tags.get(nid, {}))}</node>")
    for wid, refs, tags in ways:
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        out.append(f'<way id="{wid}" version="1">{nds}{_tags(tags)}</way>')
    for rid, members, tags in relations:
        ms = "".join(f'<member type="{t}" ref="{r}" role="{role}"/>' for t, r, role in members)
        out.append(f'<relation id="{rid}" version="1">{ms}{_tags(tags)}</relation>')
    out.append("</osm>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out))
    return path


def grid_ways(overrides: dict[int, dict[str, str]] | None = None
              ) -> list[tuple[int, list[int], dict[str, str]]]:
    """The grid's 12 streets as separate ways (ids 101..112), residential, named."""
    streets = [(1, 2), (2, 3), (4, 5), (5, 6), (7, 8), (8, 9),
               (1, 4), (4, 7), (2, 5), (5, 8), (3, 6), (6, 9)]
    overrides = overrides or {}
    ways = []
    for i, (a, b) in enumerate(streets):
        wid = 101 + i
        tags = {"highway": "residential", "name": f"Street {a}-{b}"}
        tags.update(overrides.get(wid, {}))
        ways.append((wid, [a, b], tags))
    return ways


def mid(a: int, b: int, north_m: float = 0.0) -> tuple[float, float]:
    """(lat, lon) of the middle of grid street a-b, shifted north by ``north_m`` metres."""
    (la, lo), (lb, lob) = GRID[a], GRID[b]
    return (la + lb) / 2 + north_m / 111_195.0, (lo + lob) / 2


class StatefulRouter:
    """Test helper: a :class:`routing.road.RoadRouter` with its own state publisher, asked the
    old way ``route(from_lat, from_lon, to_lat, to_lon, mode=...)`` on the current state."""

    def __init__(self, router) -> None:
        from routing.state import StatePublisher

        self.router = router
        self.publisher = StatePublisher(router)

    @property
    def state(self):
        """The current routing state."""
        return self.publisher.current()

    def route(self, from_lat: float, from_lon: float, to_lat: float, to_lon: float,
              mode: str = "car", state=None):
        """Route on ``state`` (default: the current one)."""
        return self.router.route(state or self.state, mode, from_lat, from_lon, to_lat, to_lon)

    def snap(self, mode: str, lat: float, lon: float, which: str = "point"):
        """Snap on the current state."""
        return self.router.snap(self.state, mode, lat, lon, which)

    def __getattr__(self, name: str):
        return getattr(self.router, name)
