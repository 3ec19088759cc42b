"""A small geocoder over a snapshot: street names, intersections, transit stops and named
OSM places (settlements, stations, parks, sights, shops... kept at build by
:mod:`routing.places`, with their Chinese and English names when tagged).

Names are compared in a folded form (:func:`fold`): Unicode-decomposed with accents removed,
case-folded, punctuation to spaces and common street-type abbreviations expanded ("St" →
"street", "Blvd" → "boulevard"), so "5th st" finds "5th Street" and "sao joao" finds "São
João". Every word of a query must start a word of a name (so typing ahead works; a query word
in Chinese, Japanese or Korean script may also sit inside a name's word, as those names are
written without spaces); exact and prefix matches rank above word matches, then towns and
cities above streets, streets (longer first) above other places and stops.
"A & B" (also "A and B", "A / B", "A at B") looks up the junctions where streets matching A and
B meet. :meth:`Geocoder.reverse` names the street nearest to a point.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from gtfs.timetable import Timetable
from routing.places import load_places
from routing.snapshot import Snapshot

_M_PER_DEG = 111_195.0
#: Abbreviations expanded before names and queries are compared.
ABBREVIATIONS = {
    "st": "street", "str": "street", "ave": "avenue", "av": "avenue", "blvd": "boulevard",
    "rd": "road", "dr": "drive", "ln": "lane", "ct": "court", "pl": "place", "pkwy": "parkway",
    "hwy": "highway", "sq": "square", "ter": "terrace", "cir": "circle", "hts": "heights",
    "n": "north", "s": "south", "e": "east", "w": "west", "mt": "mount", "ft": "fort",
    "r": "rua", "av.": "avenue",
}
_SPLIT_INTERSECTION = re.compile(r"\s*(?:&|/|\+|\band\b|\bat\b|\bx\b|与|和)\s*", re.IGNORECASE)


def fold(text: str) -> list[str]:
    """The words of ``text`` folded for comparison (accents removed, case-folded,
    abbreviations expanded)."""
    t = unicodedata.normalize("NFKD", text)
    t = "".join(ch for ch in t if not unicodedata.combining(ch)).casefold()
    t = re.sub(r"[^\w]+", " ", t)
    return [ABBREVIATIONS.get(w, w) for w in t.split()]


#: ``place=*`` values ranked above streets, by importance (others rank as other places).
SETTLEMENTS = {"country": 9.0, "state": 8.0, "region": 7.0, "city": 6.0, "town": 5.0,
               "borough": 4.5, "suburb": 4.0, "village": 3.0, "quarter": 2.5,
               "neighbourhood": 2.0, "island": 2.0, "hamlet": 1.0}
#: Rank of each kind among equal matches (then ``_Entry.weight``).
_KIND_RANK = {"settlement": 2.0, "street": 1.0, "intersection": 1.0, "place": 0.5,
              "stop": 0.0}
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


@dataclass
class _Entry:
    kind: str  # street, stop, place
    name: str
    words: list[str]
    lat: float
    lon: float
    weight: float  # ranking tie-break: street length (m), settlement importance
    ref: str | None = None  # stop id, or OSM object of a place (n123, w45, r6)
    category: str | None = None  # place: key=value of its OSM tag
    #: place: other names (zh, en) and their folded words
    alt: dict[str, tuple[str, list[str]]] | None = None

    @property
    def rank_kind(self) -> str:
        if self.kind == "place" and self.weight > 0:
            return "settlement"
        return self.kind


def _word_has(w: str, x: str) -> bool:
    return w.startswith(x) or (_CJK.search(x) is not None and x in w)


def _match(q: list[str], words: list[str]) -> int:
    """0: no match; 1: every query word starts a word (or, in CJK script, is inside one);
    2: the name starts with the query; 3: the same words."""
    if not q or not words:
        return 0
    if q == words:
        return 3
    if words[:len(q) - 1] == q[:-1] and len(words) >= len(q) and words[len(q) - 1].startswith(
            q[-1]):
        return 2
    return 1 if all(any(_word_has(w, x) for w in words) for x in q) else 0


def _match_entry(q: list[str], e: _Entry) -> tuple[int, str | None]:
    """The best match of ``q`` against the entry's name and its other names: (score, the
    other name's language when that matched better)."""
    best, lang = _match(q, e.words), None
    for code, (_name, words) in (e.alt or {}).items():
        m = _match(q, words)
        if m > best:
            best, lang = m, code
    return best, lang


class Geocoder:
    """Forward and reverse geocoding over one snapshot (and its timetable, if any)."""

    def __init__(self, snapshot: Snapshot, timetable: Timetable | None = None) -> None:
        self.entries: list[_Entry] = []
        seg = snapshot.segments
        n = len(seg.u)
        self._street_of_seg: list[str | None] = [None] * n
        names = seg.labels
        street_idx = np.asarray(seg.street_idx) if len(seg.street_idx) == n else None
        # street name -> segments
        by_name: dict[str, list[int]] = defaultdict(list)
        for s in range(n):
            i = int(street_idx[s]) if street_idx is not None else int(seg.name_idx[s])
            if i < 0:
                continue
            name = (names if street_idx is not None else seg.names)[i]
            self._street_of_seg[s] = name
            by_name[name].append(s)
        lon, lat = np.asarray(seg.lon), np.asarray(seg.lat)
        gs, ge = np.asarray(seg.gstart), np.asarray(seg.gend)
        mid = (gs + ge - 1) // 2 if n else np.zeros(0, np.int64)
        length = np.asarray(seg.length_m, dtype=np.float64)
        self._street_words: dict[str, list[str]] = {}
        for name, segs in by_name.items():
            arr = np.array(segs)
            mx, my = lon[mid[arr]], lat[mid[arr]]
            # the segment midpoint nearest the street's mean point represents it
            k = int(np.argmin((mx - mx.mean()) ** 2 + (my - my.mean()) ** 2))
            words = fold(name)
            self._street_words[name] = words
            self.entries.append(_Entry("street", name, words, float(my[k]), float(mx[k]),
                                       float(length[arr].sum())))
        # junction -> street names (for intersections)
        self._junction_streets: dict[int, set[str]] = {}
        off, js = np.asarray(snapshot.junction_seg_offsets), np.asarray(snapshot.junction_seg)
        if n and len(off) > 1:
            for j in range(len(off) - 1):
                st = {self._street_of_seg[s] for s in js[off[j]:off[j + 1]].tolist()}
                st.discard(None)
                if len(st) >= 2:
                    self._junction_streets[j] = st
        self._node_lon = np.asarray(snapshot.node_lon)
        self._node_lat = np.asarray(snapshot.node_lat)
        if timetable is not None:
            sl, so = np.asarray(timetable.arrays["stop_lat"]), np.asarray(
                timetable.arrays["stop_lon"])
            for i, (sid, sname) in enumerate(zip(timetable.strings["stop_id"],
                                                 timetable.strings["stop_name"], strict=True)):
                if sname:
                    self.entries.append(_Entry("stop", sname, fold(sname), float(sl[i]),
                                               float(so[i]), 0.0, sid))
        self._stop_entries = [e for e in self.entries if e.kind == "stop"]
        places = load_places(snapshot.path, snapshot.snapshot_id) if snapshot.path else None
        #: whether the snapshot has a places file (older snapshots have none)
        self.has_places = places is not None
        for i in range(len(places) if places is not None else 0):
            assert places is not None
            name, cat = places.name[i], places.category[i]
            key, _, value = cat.partition("=")
            alt = {lang: (n, fold(n)) for lang, n in (("zh", places.name_zh[i]),
                                                     ("en", places.name_en[i]))
                   if n and n != name}
            weight = SETTLEMENTS.get(value, 0.0) if key == "place" else 0.0
            self.entries.append(_Entry("place", name, fold(name), float(places.lat[i]),
                                       float(places.lon[i]), weight, places.osm[i], cat, alt))
        # reverse geocoding: segment lines in a local metric projection
        self._lat0 = float(np.mean(lat)) if len(lat) else 0.0
        self._kx = math.cos(math.radians(self._lat0)) * _M_PER_DEG
        if n:
            idx = np.repeat(np.arange(n), ge - gs)
            take = np.repeat(gs - np.concatenate([[0], np.cumsum(ge - gs)[:-1]]), ge - gs) \
                + np.arange(int((ge - gs).sum()))
            xy = np.column_stack([lon[take] * self._kx, lat[take] * _M_PER_DEG])
            self._seg_lines = shapely.linestrings(xy, indices=idx)
            self._tree: shapely.STRtree | None = shapely.STRtree(self._seg_lines)
        else:
            self._tree = None

    # ------------------------------------------------------------------ forward
    def search(self, query: str, limit: int = 10,
               near: tuple[float, float] | None = None) -> list[dict[str, Any]]:
        """Places matching ``query``, best first: dicts with ``kind`` (street, intersection,
        stop, place), ``name``, ``lat``, ``lon``, ``score`` (higher is better), ``stop_id``
        for stops; for places ``category`` (``key=value``), ``osm`` (``n123``/``w45``/
        ``r6``), ``name_zh``/``name_en`` when tagged and ``matched`` (``name_zh``...) when
        the query matched that name better. ``near`` (lat, lon) ranks closer places first
        among equal matches."""
        parts = [p for p in _SPLIT_INTERSECTION.split(query.strip()) if p.strip()]
        hits = self._intersections(fold(parts[0]), fold(parts[1]), near) \
            if len(parts) == 2 else []
        q = fold(query)
        # names may hold the separator too ("Scott at 7th"): match the whole query as well
        langs: dict[int, str] = {}
        for e in self.entries:
            m, lang = _match_entry(q, e) if e.alt else (_match(q, e.words), None)
            if m:
                hits.append((m, e))
                if lang is not None:
                    langs[id(e)] = lang
        hits.sort(key=lambda h: self._rank(h[0], h[1], near), reverse=True)
        return [self._out(e, m, langs.get(id(e))) for m, e in hits[:limit]]

    def _rank(self, m: int, e: _Entry, near: tuple[float, float] | None) -> tuple[float, ...]:
        d = 0.0
        if near is not None:
            d = -math.hypot((e.lat - near[0]) * _M_PER_DEG, (e.lon - near[1]) * self._kx)
        return (m, d, _KIND_RANK[e.rank_kind], e.weight)

    @staticmethod
    def _out(e: _Entry, m: int, lang: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": e.kind, "name": e.name, "lat": round(e.lat, 6),
                               "lon": round(e.lon, 6), "score": m}
        if e.kind == "stop":
            out["stop_id"] = e.ref
        elif e.kind == "place":
            out["category"] = e.category
            out["osm"] = e.ref
            for code, (name, _words) in (e.alt or {}).items():
                out[f"name_{code}"] = name
            if lang is not None:
                out["matched"] = f"name_{lang}"
        return out

    def _intersections(self, a: list[str], b: list[str], near: tuple[float, float] | None
                       ) -> list[tuple[int, _Entry]]:
        """(score, entry) of each pair of streets matching ``a`` and ``b`` that meet."""
        ma = {n: _match(a, w) for n, w in self._street_words.items()}
        mb = {n: _match(b, w) for n, w in self._street_words.items()}
        ma = {n: m for n, m in ma.items() if m}
        mb = {n: m for n, m in mb.items() if m}
        if not ma or not mb:
            return []
        found: dict[tuple[str, str], tuple[int, list[int]]] = {}
        for j, streets in self._junction_streets.items():
            sa = [s for s in streets if s in ma]
            sb = [s for s in streets if s in mb]
            for x in sa:
                for y in sb:
                    if x == y:
                        continue
                    score = min(ma[x], mb[y])
                    key = (x, y)
                    if key not in found:
                        found[key] = (score, [])
                    found[key][1].append(j)
        out = []
        for (x, y), (score, junctions) in found.items():
            # one answer per pair of streets: the junction nearest `near`, else the first
            jarr = np.array(junctions)
            if near is not None:
                d = np.hypot((self._node_lat[jarr] - near[0]) * _M_PER_DEG,
                             (self._node_lon[jarr] - near[1]) * self._kx)
                j = int(jarr[int(np.argmin(d))])
            else:
                j = int(jarr.min())
            e = _Entry("intersection", f"{x} & {y}", [], float(self._node_lat[j]),
                       float(self._node_lon[j]), 0.0)
            out.append((score, e))
        return out

    # ------------------------------------------------------------------ reverse
    def reverse(self, lat: float, lon: float, max_m: float = 250.0) -> dict[str, Any] | None:
        """The named street nearest to (lat, lon) within ``max_m`` metres, with the nearest
        stop within ``max_m`` if any: ``{"name", "street", "distance_m", "lat", "lon",
        "stop"}``; None when nothing named is that close."""
        if self._tree is None:
            return None
        p = shapely.Point(lon * self._kx, lat * _M_PER_DEG)
        cand = self._tree.query(p, predicate="dwithin", distance=max_m)
        cand = [int(s) for s in cand if self._street_of_seg[int(s)] is not None]
        stop = self._nearest_stop(lat, lon, max_m)
        if not cand:
            if stop is None:
                return None
            return {"name": stop["name"], "street": None, "distance_m": stop["distance_m"],
                    "lat": stop["lat"], "lon": stop["lon"], "stop": stop}
        dist = shapely.distance(self._seg_lines[cand], p)
        k = int(np.argmin(dist))
        s = cand[k]
        line = self._seg_lines[s]
        on = shapely.line_interpolate_point(line, shapely.line_locate_point(line, p))
        street = self._street_of_seg[s]
        return {"name": street, "street": street, "distance_m": round(float(dist[k]), 1),
                "lat": round(on.y / _M_PER_DEG, 6), "lon": round(on.x / self._kx, 6),
                "stop": stop}

    def _nearest_stop(self, lat: float, lon: float, max_m: float) -> dict[str, Any] | None:
        best = None
        for e in self._stop_entries:
            d = math.hypot((e.lat - lat) * _M_PER_DEG, (e.lon - lon) * self._kx)
            if d <= max_m and (best is None or d < best[0]):
                best = (d, e)
        if best is None:
            return None
        d, e = best
        return {"stop_id": e.ref, "name": e.name, "lat": round(e.lat, 6),
                "lon": round(e.lon, 6), "distance_m": round(d, 1)}
