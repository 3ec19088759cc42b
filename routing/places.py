"""Named places of an OSM extract for the geocoder: settlements and squares (``place=*``)
and the named points people search for (stations, parks, hospitals, shops, sights...).

:func:`read_places` reads them from the ``.pbf`` (nodes as they are, ways and multipolygon
relations at the mean of their (outer) nodes, two passes over the file) with
their ``name`` and, when tagged, ``name:zh`` and
``name:en``. :func:`write_places` saves them as one compact JSON file in the snapshot
(``places/places.json``: column arrays, bound to the snapshot_id); :func:`load_places` reads
it back and returns None when the file is absent (snapshots built before places were kept)
or belongs to another snapshot.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import osmium

#: Version of the places file's layout.
PLACES_VERSION = 1
#: Where the places file lives inside a snapshot directory.
PLACES_FILE = Path("places") / "places.json"
#: Keys whose named objects are kept (any value), in the order the category is chosen.
ANY_VALUE_KEYS = ("place", "amenity", "shop", "tourism", "leisure", "historic")
#: Keys kept only with these values.
SOME_VALUE_KEYS: dict[str, frozenset[str]] = {
    "railway": frozenset({"station", "halt", "tram_stop", "subway_entrance"}),
    "public_transport": frozenset({"station"}),
    "aeroway": frozenset({"aerodrome", "terminal"}),
    "building": frozenset(
        {
            "train_station",
            "transportation",
            "hospital",
            "university",
            "stadium",
            "cathedral",
            "church",
        }
    ),
}
#: Named things nobody looks up by name (street furniture and the like).
SKIPPED_VALUES = frozenset(
    {
        "bench",
        "waste_basket",
        "vending_machine",
        "parking_space",
        "bicycle_parking",
        "post_box",
        "recycling",
        "toilets",
        "drinking_water",
        "telephone",
        "atm",
        "clock",
        "waste_disposal",
        "grit_bin",
        "parking_entrance",
        "charging_station",
        "bbq",
        "shelter",
        "fountain",
        "hunting_stand",
        "picnic_table",
        "loading_dock",
        "yes",
        "no",
        "plot",
        "isolated_dwelling",
        "farm",
    }
)
#: Extra names kept next to ``name`` (their first present key wins for each language).
ALT_NAME_KEYS = {
    "zh": ("name:zh", "name:zh-Hans", "name:zh-CN", "name:zh-Hant"),
    "en": ("name:en",),
}


def place_category(tags: osmium.osm.TagList | dict[str, str]) -> str | None:
    """``key=value`` of the tag that makes a named OSM object a searchable place, or None."""
    for key in ANY_VALUE_KEYS:
        v = tags.get(key)
        if v and v not in SKIPPED_VALUES:
            return f"{key}={v}"
    for key, values in SOME_VALUE_KEYS.items():
        v = tags.get(key)
        if v in values:
            return f"{key}={v}"
    return None


@dataclass
class Places:
    """Named places as columns: ``name[i]``, ``name_zh[i]``/``name_en[i]`` ("" when not
    tagged), ``category[i]`` (``key=value``), ``lat[i]``/``lon[i]`` (degrees) and
    ``osm[i]`` (``n123``, ``w45``, ``r6``)."""

    name: list[str] = field(default_factory=list)
    name_zh: list[str] = field(default_factory=list)
    name_en: list[str] = field(default_factory=list)
    category: list[str] = field(default_factory=list)
    lat: list[float] = field(default_factory=list)
    lon: list[float] = field(default_factory=list)
    osm: list[str] = field(default_factory=list)
    stats: Counter[str] = field(default_factory=Counter)

    def __len__(self) -> int:
        return len(self.name)

    def add(
        self,
        osm: str,
        tags: osmium.osm.TagList | dict[str, str],
        category: str,
        lat: float,
        lon: float,
    ) -> None:
        """Append one place."""
        alt = {
            lang: next((tags.get(k) for k in keys if tags.get(k)), "") or ""
            for lang, keys in ALT_NAME_KEYS.items()
        }
        self.name.append(str(tags.get("name")))
        self.name_zh.append(alt["zh"])
        self.name_en.append(alt["en"])
        self.category.append(category)
        self.lat.append(round(lat, 7))
        self.lon.append(round(lon, 7))
        self.osm.append(osm)
        self.stats[category.split("=", 1)[0]] += 1


class _RelationReader(osmium.SimpleHandler):
    """First pass: named multipolygon relations that are places, and their outer ways."""

    def __init__(self) -> None:
        super().__init__()
        self.relations: dict[int, tuple[dict[str, str], str]] = {}
        self.way_relations: dict[int, list[int]] = {}

    def relation(self, r: osmium.osm.Relation) -> None:
        if "name" not in r.tags or r.tags.get("type") not in ("multipolygon", "boundary"):
            return
        cat = place_category(r.tags)
        if cat is None:
            return
        self.relations[r.id] = (dict(r.tags), cat)
        for m in r.members:
            if m.type == "w" and m.role in ("outer", ""):
                self.way_relations.setdefault(m.ref, []).append(r.id)


class _PlaceReader(osmium.SimpleHandler):
    """Second pass (with node locations): named nodes and ways; sums of the coordinates of
    the relations' outer ways."""

    def __init__(self, way_relations: dict[int, list[int]]) -> None:
        super().__init__()
        self.places = Places()
        self.skipped: Counter[str] = Counter()
        self.way_relations = way_relations
        self.rel_sum: dict[int, list[float]] = {}

    def node(self, n: osmium.osm.Node) -> None:
        if "name" not in n.tags:
            return
        cat = place_category(n.tags)
        if cat is not None and n.location.valid():
            self.places.add(f"n{n.id}", n.tags, cat, n.location.lat, n.location.lon)

    def way(self, w: osmium.osm.Way) -> None:
        rels = self.way_relations.get(w.id)
        named = "name" in w.tags
        if rels is None and not named:
            return
        cat = place_category(w.tags) if named else None
        if cat is None and rels is None:
            return
        pts = [(nd.lat, nd.lon) for nd in w.nodes if nd.location.valid()]
        if len(pts) > 1 and pts[0] == pts[-1]:
            pts = pts[:-1]
        if not pts:
            self.skipped["way without node locations"] += 1
            return
        lat = sum(p[0] for p in pts)
        lon = sum(p[1] for p in pts)
        for r in rels or ():
            acc = self.rel_sum.setdefault(r, [0.0, 0.0, 0])
            acc[0] += lat
            acc[1] += lon
            acc[2] += len(pts)
        if cat is not None:
            self.places.add(f"w{w.id}", w.tags, cat, lat / len(pts), lon / len(pts))


def read_places(osm_path: str | os.PathLike[str]) -> Places:
    """The named places of an OSM extract (see the module docstring). Objects whose nodes
    are outside the extract are skipped and counted in ``stats``."""
    rels = _RelationReader()
    rels.apply_file(str(osm_path))
    reader = _PlaceReader(rels.way_relations)
    reader.apply_file(str(osm_path), locations=True)
    for rid, (tags, cat) in rels.relations.items():
        acc = reader.rel_sum.get(rid)
        if acc is None:
            reader.skipped["relation without its ways"] += 1
            continue
        reader.places.add(f"r{rid}", tags, cat, acc[0] / acc[2], acc[1] / acc[2])
    reader.places.stats.update({f"skipped: {k}": v for k, v in reader.skipped.items()})
    return reader.places


def write_places(places: Places, snapshot_dir: Path, snapshot_id: str) -> Path:
    """Save ``places`` as ``places/places.json`` under ``snapshot_dir``, bound to
    ``snapshot_id``. Returns the file's path."""
    path = snapshot_dir / PLACES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "version": PLACES_VERSION,
        "snapshot_id": snapshot_id,
        "count": len(places),
        "name": places.name,
        "name_zh": places.name_zh,
        "name_en": places.name_en,
        "category": places.category,
        "lat": places.lat,
        "lon": places.lon,
        "osm": places.osm,
    }
    path.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False))
    return path


def load_places(snapshot_dir: Path, snapshot_id: str) -> Places | None:
    """The places saved in a snapshot, or None when it has no places file (built before
    places were kept), the file is of another layout version, or it belongs to another
    snapshot_id (a stale copy)."""
    path = Path(snapshot_dir) / PLACES_FILE
    if not path.is_file():
        return None
    doc = json.loads(path.read_text())
    if doc.get("version") != PLACES_VERSION or doc.get("snapshot_id") != snapshot_id:
        return None
    cols = ("name", "name_zh", "name_en", "category", "lat", "lon", "osm")
    if len({len(doc[c]) for c in cols}) != 1:
        return None
    return Places(
        name=doc["name"],
        name_zh=doc["name_zh"],
        name_en=doc["name_en"],
        category=doc["category"],
        lat=doc["lat"],
        lon=doc["lon"],
        osm=doc["osm"],
    )
