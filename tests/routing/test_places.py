"""Named OSM places for the geocoder, on real extracts: what the build keeps (checked
against a plain scan of the file's tags), their Chinese and English names, and how the
geocoder finds and ranks them among streets and stops (accents, case, Chinese script)."""

from __future__ import annotations

import json
import random
import re
import shutil
import unicodedata
from pathlib import Path

import osmium
import pytest

from routing.geocode import Geocoder
from routing.places import PLACES_FILE, load_places, place_category, read_places
from routing.snapshot import load_snapshot
from tests.conftest import NKY_OSM, shared_road


def _named_place_nodes(path: Path) -> dict[str, tuple[str, float, float]]:
    """Oracle: every node tagged ``place=*`` and ``name``, read with a plain scan."""
    out = {}
    for obj in osmium.FileProcessor(str(path), osmium.osm.NODE):
        t = obj.tags
        if "name" in t and t.get("place") and place_category(t) is not None:
            out[f"n{obj.id}"] = (t["name"], obj.location.lat, obj.location.lon)
    return out


def test_andorra_places_match_a_plain_scan_with_chinese_names() -> None:
    path = shared_road("andorra")
    places = read_places(path)
    got = {
        o: (n, la, lo)
        for o, n, la, lo in zip(places.osm, places.name, places.lat, places.lon, strict=True)
    }
    oracle = _named_place_nodes(path)
    assert len(oracle) > 50
    for osm_id, (name, lat, lon) in oracle.items():
        assert got[osm_id][0] == name
        assert abs(got[osm_id][1] - lat) < 1e-6 and abs(got[osm_id][2] - lon) < 1e-6
    i = places.name.index("Andorra la Vella")
    assert places.name_zh[i] == "安道尔城" and places.category[i] == "place=town"
    # ways and relations are kept too, inside the extract's bounds
    kinds = {o[0] for o in places.osm}
    assert kinds == {"n", "w", "r"}
    assert all(
        42.3 < la < 42.8 and 1.3 < lo < 1.9 for la, lo in zip(places.lat, places.lon, strict=True)
    )
    # street furniture is not a place
    assert not any(c in ("amenity=bench", "amenity=waste_basket") for c in places.category)


@pytest.fixture(scope="module")
def monaco_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from routing.build import build_snapshot

    out = tmp_path_factory.mktemp("monaco") / "snap"
    build_snapshot(shared_road("monaco"), out)
    return out


@pytest.fixture(scope="module")
def monaco_geocoder(monaco_dir: Path) -> Geocoder:
    return Geocoder(load_snapshot(monaco_dir))


def _strip_accents(s: str) -> str:
    d = unicodedata.normalize("NFKD", s)
    return "".join(c for c in d if not unicodedata.combining(c))


def test_build_records_places_bound_to_the_snapshot(monaco_dir: Path) -> None:
    meta = json.loads((monaco_dir / "meta.json").read_text())
    doc = json.loads((monaco_dir / PLACES_FILE).read_text())
    assert doc["snapshot_id"] == meta["snapshot_id"]
    assert meta["places"]["count"] == doc["count"] == len(doc["name"]) > 300
    assert meta["places"]["by_key"]["place"] >= 20
    assert load_places(monaco_dir, "another-snapshot") is None


def test_every_place_is_found_by_its_name_in_any_case_without_accents(
    monaco_dir: Path, monaco_geocoder: Geocoder
) -> None:
    places = load_places(monaco_dir, load_snapshot(monaco_dir).snapshot_id)
    assert places is not None
    rng = random.Random(13)
    for i in rng.sample(range(len(places)), 80):
        name = places.name[i]
        q = _strip_accents(name)
        q = q.upper() if rng.random() < 0.5 else q.lower()
        res = monaco_geocoder.search(q, limit=50)
        mine = [r for r in res if r["kind"] == "place" and r.get("osm") == places.osm[i]]
        assert mine, f"{q!r} did not find {name!r} ({places.osm[i]})"
        assert mine[0]["score"] == 3 and mine[0]["category"] == places.category[i]
        # nothing that merely contains the words ranks above the exact name
        assert res[0]["score"] == 3


def test_chinese_names_and_ranking(monaco_geocoder: Geocoder) -> None:
    res = monaco_geocoder.search("摩纳哥")
    assert res and res[0]["name"] == "Monaco" and res[0]["matched"] == "name_zh"
    assert res[0]["name_zh"] == "摩纳哥"
    # Chinese names have no spaces: a part of the name finds it
    assert any(r["name"] == "Monaco" for r in monaco_geocoder.search("納哥"))
    # the city ranks above streets and shops with the same name words
    top = monaco_geocoder.search("monaco")[0]
    assert top["kind"] == "place" and top["category"] in ("place=city", "place=town")
    # places rank with streets by match quality: an exact place name beats a street that
    # merely contains the word, and vice versa
    res = monaco_geocoder.search("port de fontvieille")
    assert res[0]["category"] == "leisure=marina" and res[0]["score"] == 3
    streets = [r for r in monaco_geocoder.search("boulevard", limit=50) if r["kind"] == "street"]
    assert streets


def test_snapshot_without_places_file_still_geocodes(monaco_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "old"
    shutil.copytree(monaco_dir, copy)
    shutil.rmtree(copy / PLACES_FILE.parent)
    g = Geocoder(load_snapshot(copy))
    assert not g.has_places
    assert all(r["kind"] != "place" for r in g.search("monaco", limit=50))
    assert g.search("boulevard")[0]["kind"] == "street"
    # a stale places file of another build is ignored
    (copy / PLACES_FILE.parent).mkdir()
    doc = json.loads((monaco_dir / PLACES_FILE).read_text())
    (copy / PLACES_FILE).write_text(json.dumps({**doc, "snapshot_id": "0" * 16}))
    assert not Geocoder(load_snapshot(copy)).has_places


def test_bundled_city_keeps_its_named_places() -> None:
    places = read_places(NKY_OSM)
    cats = dict(zip(places.name, places.category, strict=True))
    assert cats["Black Brigade Monument"] == "historic=monument"
    assert cats["Fountain Square"] == "railway=tram_stop"


def _flat(table: str) -> str:
    """A printed table's text with its borders and line breaks turned into single spaces."""
    return re.sub(r"[│┃\s]+", " ", table)


def test_build_summary_says_how_many_places_were_kept(monaco_dir: Path, capsys) -> None:
    from api.cli import _print_build_summary

    meta = json.loads((monaco_dir / "meta.json").read_text())
    _print_build_summary(meta, monaco_dir)
    out = capsys.readouterr().out
    assert f"named places {meta['places']['count']:,} (" in _flat(out)
    meta["places"] = {"file": str(PLACES_FILE), "count": 0, "by_key": {}}
    _print_build_summary(meta, monaco_dir)
    assert "none in the OSM" in _flat(capsys.readouterr().out)
