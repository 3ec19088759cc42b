"""Read an OpenStreetMap PBF/XML extract into plain arrays (ways, node coordinates,
barrier nodes, motorway exit numbers, turn restrictions) with pyosmium.

Nothing here builds graphs: ``routing.graph`` turns the result into per-mode routable
edges (this module only asks ``routing.profiles`` which tagged nodes matter to a mode).
Malformed data is counted and skipped; a file that is not OSM, is truncated, or holds no
highway ways raises :class:`OsmError` naming the file.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import osmium

from routing.conditional import ConditionError, parse_condition, split_conditional
from routing.profiles import MODES, NODE_OPEN, node_access

#: Way tags kept for routing and answers (everything else is dropped while reading).
KEPT_WAY_TAGS = frozenset(
    {
        "highway", "name", "ref", "junction", "oneway", "oneway:bicycle", "oneway:foot",
        "oneway:motorcar", "oneway:motor_vehicle", "oneway:vehicle", "access", "vehicle",
        "motor_vehicle", "motorcar", "motor_vehicle:forward", "motor_vehicle:backward",
        "bicycle", "foot", "maxspeed", "maxspeed:forward", "maxspeed:backward", "service",
        "area", "cycleway", "cycleway:left", "cycleway:right", "cycleway:both", "motorroad",
        "sidewalk", "lanes", "impassable", "status", "bridge", "tunnel", "surface",
        # guidance: signposts of ramps, exit numbers, and footway kinds (sidewalk, crossing)
        "destination", "destination:ref", "junction:ref", "footway",
        # profiles: ferries, dimension limits, bus and bike lanes, closures
        "route", "duration", "smoothness", "busway", "busway:left", "busway:right",
        "busway:both", "lanes:bus:backward", "lanes:psv:backward", "sidewalk:both",
        "sidewalk:left", "sidewalk:right",
    }
)
#: Roots of keys kept with any ``:forward`` / ``:backward`` suffix (access per mode,
#: oneways per mode, dimension limits).
KEPT_KEY_ROOTS = frozenset(
    {"access", "vehicle", "motor_vehicle", "motorcar", "bus", "psv", "hgv", "bicycle",
     "foot", "oneway", "maxheight", "maxwidth", "maxweight", "maxlength", "maxgcweight"}
)


def kept_way_tag(key: str) -> bool:
    """True for way tags routing reads (see :data:`KEPT_WAY_TAGS`, :data:`KEPT_KEY_ROOTS`);
    ``*:conditional`` tags are kept for the access and oneway keys (evaluated at the trip's
    time, see :mod:`routing.conditional`), dropped for the dimension limits."""
    if key in KEPT_WAY_TAGS:
        return True
    root = key.split(":", 1)[0]
    if key.endswith(":conditional"):
        return conditional_base_key(key) is not None
    return root in KEPT_KEY_ROOTS


def conditional_base_key(key: str) -> str | None:
    """The key a ``KEY:conditional`` tag overrides when the profiles read it: an access
    key (``motor_vehicle``, ``hgv:forward``…) or a oneway key (``oneway``,
    ``oneway:bicycle``); ``None`` for others (``bus:lanes:conditional``,
    ``maxspeed:conditional``…)."""
    if not key.endswith(":conditional"):
        return None
    parts = key[: -len(":conditional")].split(":")
    if parts[0] not in CONDITIONAL_KEY_ROOTS or len(parts) > 2:
        return None
    if len(parts) == 2 and parts[1] not in ("forward", "backward") and parts[0] != "oneway":
        return None
    return ":".join(parts)


#: Roots of ``KEY[:direction]:conditional`` way tags that are evaluated.
CONDITIONAL_KEY_ROOTS = frozenset(
    {"access", "vehicle", "motor_vehicle", "motorcar", "bus", "psv", "hgv", "bicycle",
     "foot", "oneway"})
#: ``route`` values of ways without ``highway`` that carry travellers (ferries, car trains).
FERRY_ROUTES = frozenset({"ferry", "shuttle_train"})
#: Restriction values that only regulate turns on red: they forbid nothing.
RED_LIGHT_RESTRICTIONS = frozenset({"no_turn_on_red", "no_right_turn_on_red",
                                    "no_left_turn_on_red"})
#: Modes each restriction key applies to (``restriction`` itself: every vehicle mode).
RESTRICTION_KEYS: dict[str, frozenset[str]] = {
    "restriction": frozenset({"car", "bus", "truck", "bike"}),
    "restriction:motorcar": frozenset({"car"}),
    "restriction:motor_vehicle": frozenset({"car", "bus", "truck"}),
    "restriction:vehicle": frozenset({"car", "bus", "truck", "bike"}),
    "restriction:hgv": frozenset({"truck"}),
    "restriction:bus": frozenset({"bus"}),
    "restriction:psv": frozenset({"bus"}),
    "restriction:bicycle": frozenset({"bike"}),
}
#: ``except=`` values and the modes they exempt.
EXCEPT_MODES: dict[str, frozenset[str]] = {
    "motorcar": frozenset({"car"}),
    "motor_vehicle": frozenset({"car", "bus", "truck"}),
    "vehicle": frozenset({"car", "bus", "truck", "bike"}),
    "psv": frozenset({"bus"}),
    "bus": frozenset({"bus"}),
    "hgv": frozenset({"truck"}),
    "goods": frozenset({"truck"}),
    "bicycle": frozenset({"bike"}),
}
#: Node tags that make a node matter to routing even without ``barrier``.
NODE_ACCESS_KEYS = frozenset(
    {"access", "vehicle", "motor_vehicle", "motorcar", "bus", "psv", "hgv", "bicycle", "foot"}
)

#: Highway values that are never part of a routable network.
NON_ROUTABLE_HIGHWAYS = frozenset(
    {"proposed", "construction", "abandoned", "disused", "razed", "platform_edge", "no",
     "rest_area", "services", "elevator_shaft", "bus_stop", "street_lamp", "crossing",
     "traffic_signals", "turning_circle", "stop", "give_way", "emergency_bay"}
)


class OsmError(Exception):
    """The OSM input cannot be used (missing, unreadable, truncated, or nothing routable)."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Restriction:
    """A turn restriction relation: ``kind`` is "no" or "only"; via is a node or a chain
    of ways; one or several ``from`` and ``to`` ways; ``modes`` it binds (its
    ``restriction[:class]`` key less ``except=``)."""

    relation_id: int
    kind: str
    value: str
    from_ways: tuple[int, ...]
    to_ways: tuple[int, ...]
    via_node: int | None
    via_ways: tuple[int, ...]
    modes: frozenset[str]
    #: the condition under which it applies (``restriction:conditional``); None: always
    condition: str | None = None

    @property
    def from_way(self) -> int:
        """The first ``from`` way."""
        return self.from_ways[0]

    @property
    def to_way(self) -> int:
        """The first ``to`` way."""
        return self.to_ways[0]


@dataclass
class OsmData:
    """Highway ways as flat arrays: way ``i`` uses nodes ``offsets[i]:offsets[i+1]``."""

    way_ids: np.ndarray  # int64 [W]
    way_tags: list[dict[str, str]]
    offsets: np.ndarray  # int64 [W+1]
    node_ids: np.ndarray  # int64 [R]
    lon: np.ndarray  # float64 [R]
    lat: np.ndarray  # float64 [R]
    barriers: dict[int, dict[str, str]]
    restrictions: list[Restriction]
    stats: Counter = field(default_factory=Counter)
    #: ``ref`` (exit number) of ``highway=motorway_junction`` nodes, by OSM node id
    exit_refs: dict[int, str] = field(default_factory=dict)
    #: OSM ids of ``highway=traffic_signals`` nodes
    signals: set[int] = field(default_factory=set)


class _Reader(osmium.SimpleHandler):
    def __init__(self) -> None:
        super().__init__()
        self.way_ids: list[int] = []
        self.way_tags: list[dict[str, str]] = []
        self.lengths: list[int] = []
        self.node_ids: list[int] = []
        self.lon: list[float] = []
        self.lat: list[float] = []
        self.barriers: dict[int, dict[str, str]] = {}
        self.restrictions: list[Restriction] = []
        self.exit_refs: dict[int, str] = {}
        self.signals: set[int] = set()
        self.stats: Counter = Counter()

    def node(self, n: osmium.osm.Node) -> None:
        self.stats["nodes"] += 1
        if "barrier" in n.tags:
            self.barriers[n.id] = dict(n.tags)
        elif any(k in n.tags for k in NODE_ACCESS_KEYS):
            tags = dict(n.tags)
            if any(node_access(m, tags) != NODE_OPEN for m in MODES):
                self.barriers[n.id] = tags
                self.stats["access_nodes"] += 1
        if n.tags.get("highway") == "traffic_signals":
            self.signals.add(n.id)
        if n.tags.get("highway") == "motorway_junction":
            ref = (n.tags.get("ref") or "").strip()
            if ref:
                self.exit_refs[n.id] = ref

    def way(self, w: osmium.osm.Way) -> None:
        self.stats["ways"] += 1
        hw = w.tags.get("highway")
        if hw is None:
            if w.tags.get("route") not in FERRY_ROUTES:
                return
            self.stats["ferry_ways"] += 1
        elif hw in NON_ROUTABLE_HIGHWAYS:
            self.stats["ways_non_routable_highway"] += 1
            return
        tags = {k: v for k, v in w.tags if kept_way_tag(k)}
        # Split the way at nodes whose location is missing (clipped extracts): each run of
        # located nodes becomes its own piece so no straight line jumps a gap.
        run_ids: list[int] = []
        run_lon: list[float] = []
        run_lat: list[float] = []
        missing = 0
        for nr in w.nodes:
            loc = nr.location
            if loc.valid():
                run_ids.append(nr.ref)
                run_lon.append(loc.lon)
                run_lat.append(loc.lat)
            else:
                missing += 1
                self._flush(w.id, tags, run_ids, run_lon, run_lat)
                run_ids, run_lon, run_lat = [], [], []
        self._flush(w.id, tags, run_ids, run_lon, run_lat)
        if missing:
            self.stats["ways_with_missing_nodes"] += 1
            self.stats["missing_node_refs"] += missing

    def _flush(self, way_id: int, tags: dict[str, str], ids: list[int], lon: list[float],
               lat: list[float]) -> None:
        if len(ids) < 2:
            if ids:
                self.stats["way_pieces_too_short"] += 1
            return
        self.way_ids.append(way_id)
        self.way_tags.append(tags)
        self.lengths.append(len(ids))
        self.node_ids.extend(ids)
        self.lon.extend(lon)
        self.lat.extend(lat)

    def relation(self, r: osmium.osm.Relation) -> None:
        if r.tags.get("type") != "restriction":
            return
        self.stats["restrictions_seen"] += 1
        by_value: dict[tuple[str, str | None], set[str]] = {}
        red_only = False
        for key, modes in RESTRICTION_KEYS.items():
            value = (r.tags.get(key) or "").strip()
            if value in RED_LIGHT_RESTRICTIONS:
                red_only = True
            elif value:
                by_value.setdefault((value, None), set()).update(modes)
            cvalue = (r.tags.get(f"{key}:conditional") or "").strip()
            if not cvalue:
                continue
            self.stats["restrictions_conditional_tags"] += 1
            try:
                parts = split_conditional(cvalue)
            except ConditionError:
                self.stats["restrictions_conditional_unparsed"] += 1
                continue
            for v, cond in parts:
                try:
                    parse_condition(cond)
                except ConditionError:
                    self.stats["restrictions_conditional_unparsed"] += 1
                    continue
                if v in RED_LIGHT_RESTRICTIONS:
                    red_only = True
                    continue
                by_value.setdefault((v, cond), set()).update(modes)
        if not by_value:
            # unparseable conditions, turn-on-red rules, or no value at all
            self.stats["restrictions_skipped_turn_on_red" if red_only
                       else "restrictions_skipped_not_applicable"] += 1
            return
        froms = tuple(m.ref for m in r.members if m.role == "from" and m.type == "w")
        tos = tuple(m.ref for m in r.members if m.role == "to" and m.type == "w")
        via_nodes = [m.ref for m in r.members if m.role == "via" and m.type == "n"]
        via_ways = tuple(m.ref for m in r.members if m.role == "via" and m.type == "w")
        if not froms or not tos or (via_nodes and via_ways) or len(via_nodes) > 1 \
                or not (via_nodes or via_ways):
            self.stats["restrictions_skipped_malformed"] += 1
            return
        excepted: set[str] = set()
        for x in (r.tags.get("except") or "").split(";"):
            excepted.update(EXCEPT_MODES.get(x.strip(), frozenset()))
        for (value, condition), bound in by_value.items():
            kind = value.split("_", 1)[0]
            if kind not in ("no", "only"):
                self.stats["restrictions_skipped_bad_value"] += 1
                continue
            binds = frozenset(bound - excepted)
            if not binds:
                self.stats["restrictions_skipped_excepted"] += 1
                continue
            if via_ways:
                self.stats["restrictions_via_way"] += 1
            if condition is not None:
                self.stats["restrictions_conditional"] += 1
            self.restrictions.append(
                Restriction(
                    relation_id=r.id,
                    kind=kind,
                    value=value,
                    from_ways=froms,
                    to_ways=tos,
                    via_node=via_nodes[0] if via_nodes else None,
                    via_ways=via_ways,
                    modes=binds,
                    condition=condition,
                )
            )


def read_osm(path: str | os.PathLike[str]) -> OsmData:
    """Read the highway network of an OSM extract (``.osm.pbf``, ``.osm``).

    Raises :class:`OsmError` when the file is missing, unreadable, truncated, not OSM, or
    holds no highway ways.
    """
    p = Path(path)
    if not p.is_file():
        raise OsmError(path, "file not found")
    if p.stat().st_size == 0:
        raise OsmError(path, "file is empty")
    reader = _Reader()
    try:
        reader.apply_file(str(p), locations=True, idx="flex_mem")
    except (RuntimeError, ValueError, OSError) as exc:  # osmium reports bad input this way
        raise OsmError(path, f"not a readable OSM file ({exc})") from exc
    if reader.stats["nodes"] == 0 and reader.stats["ways"] == 0:
        raise OsmError(path, "no OSM objects found (not an OSM extract, or truncated)")
    if not reader.way_ids:
        raise OsmError(path, "no highway ways found: nothing to route on")
    offsets = np.zeros(len(reader.lengths) + 1, dtype=np.int64)
    np.cumsum(np.asarray(reader.lengths, dtype=np.int64), out=offsets[1:])
    reader.stats["highway_way_pieces"] = len(reader.way_ids)
    return OsmData(
        way_ids=np.asarray(reader.way_ids, dtype=np.int64),
        way_tags=reader.way_tags,
        offsets=offsets,
        node_ids=np.asarray(reader.node_ids, dtype=np.int64),
        lon=np.asarray(reader.lon, dtype=np.float64),
        lat=np.asarray(reader.lat, dtype=np.float64),
        barriers=reader.barriers,
        restrictions=reader.restrictions,
        stats=reader.stats,
        exit_refs=reader.exit_refs,
        signals=reader.signals,
    )
