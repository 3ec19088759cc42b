"""The web map's data over HTTP on the bundled city: vector tiles (decoded here with an
independent reader of the MVT geometry commands), the style, and the geocoder."""

from __future__ import annotations

import math

import numpy as np
import pytest

from routing.geocode import fold
from routing.mvt import Tile
from routing.tiles import EXTENT

SCOTT_7TH = (39.0838, -84.5086)  # stop nky_tank:10094 "Scott at 7th - Out"


def _tile_xy(lat: float, lon: float, z: int) -> tuple[int, int, float, float]:
    """Tile column/row of a point and its position inside the tile in tile units."""
    n = 2 ** z
    fx = (lon + 180) / 360 * n
    s = math.sin(math.radians(lat))
    fy = (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * n
    return int(fx), int(fy), (fx - int(fx)) * EXTENT, (fy - int(fy)) * EXTENT


def _unzig(v: int) -> int:
    return (v >> 1) ^ -(v & 1)


def _decode(data: bytes) -> dict[str, list[tuple[dict, list[list[tuple[int, int]]]]]]:
    """layer -> [(properties, parts as absolute tile coordinates)]."""
    tile = Tile.FromString(data)
    out: dict[str, list] = {}
    for layer in tile.layers:
        assert layer.version == 2 and layer.extent == EXTENT
        # each Value message has exactly one field set
        vals = [v.ListFields()[0][1] for v in layer.values]
        feats = []
        for f in layer.features:
            props = {layer.keys[f.tags[i]]: vals[f.tags[i + 1]] for i in range(0, len(f.tags), 2)}
            parts: list[list[tuple[int, int]]] = []
            x = y = 0
            g = list(f.geometry)
            i = 0
            while i < len(g):
                cmd, count = g[i] & 7, g[i] >> 3
                i += 1
                for _ in range(count):
                    x += _unzig(g[i])
                    y += _unzig(g[i + 1])
                    i += 2
                    if cmd == 1:
                        parts.append([(x, y)])
                    else:
                        assert cmd == 2
                        parts[-1].append((x, y))
            feats.append((props, parts))
        out[layer.name] = feats
    return out


def _dist_to_parts(px: float, py: float, parts: list[list[tuple[int, int]]]) -> float:
    best = math.inf
    for part in parts:
        for (ax, ay), (bx, by) in zip(part, part[1:], strict=False):
            dx, dy = bx - ax, by - ay
            t = 0.0 if dx == dy == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy)
                                                         / (dx * dx + dy * dy)))
            best = min(best, math.hypot(ax + t * dx - px, ay + t * dy - py))
        if len(part) == 1:
            best = min(best, math.hypot(part[0][0] - px, part[0][1] - py))
    return best


def test_tile_has_street_stop_and_route_at_their_coordinates(client) -> None:
    z = 16
    x, y, px, py = _tile_xy(*SCOTT_7TH, z)
    r = client.get(f"/v1/tiles/{z}/{x}/{y}.mvt")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    layers = _decode(r.content)
    assert set(layers) == {"roads", "transit", "stops"}
    stops = {p["stop_id"]: parts for p, parts in layers["stops"]}
    assert _dist_to_parts(px, py, stops["nky_tank:10094"]) <= 1.0
    # Scott Boulevard runs north-south past the stop; East 7th Street meets it there.
    # At z16 one tile unit is ~0.03 m: a street's centre line is within ~15 m (500 units).
    for street in ("Scott Boulevard", "East 7th Street"):
        d = min(_dist_to_parts(px, py, parts) for p, parts in layers["roads"]
                if p.get("name") == street)
        assert d < 500, (street, d)
    classes = {p["class"] for p, _ in layers["roads"]}
    assert classes <= {"motorway", "motorway_link", "trunk", "trunk_link", "primary",
                       "primary_link", "secondary", "secondary_link", "tertiary",
                       "tertiary_link", "unclassified", "residential", "living_street",
                       "service", "footway", "path", "cycleway", "pedestrian", "steps",
                       "track", "road", "busway", "bridleway", "corridor"}
    assert all(isinstance(p["oneway"], bool) for p, _ in layers["roads"])
    # route 8 (Eastern Ave/Fort Wright) serves the stop, drawn in its GTFS colour
    eight = [(p, parts) for p, parts in layers["transit"] if p.get("short_name") == "8"]
    assert eight and eight[0][0]["color"] == "#008000"
    assert min(_dist_to_parts(px, py, parts) for _, parts in eight) < 500


def test_low_zoom_tile_keeps_major_roads_only(client) -> None:
    x, y, _, _ = _tile_xy(*SCOTT_7TH, 12)
    layers = _decode(client.get(f"/v1/tiles/12/{x}/{y}.mvt").content)
    classes = {p["class"] for p, _ in layers["roads"]}
    assert "motorway" in classes
    assert not classes & {"residential", "service", "footway"}
    assert "stops" not in layers
    # lines stay within the tile and its buffer
    for _, parts in layers["roads"]:
        for part in parts:
            for cx, cy in part:
                assert -64 <= cx <= EXTENT + 64 and -64 <= cy <= EXTENT + 64


def test_tile_cache_headers_and_errors(client) -> None:
    x, y, _, _ = _tile_xy(*SCOTT_7TH, 15)
    r = client.get(f"/v1/tiles/15/{x}/{y}.mvt")
    etag = r.headers["etag"]
    again = client.get(f"/v1/tiles/15/{x}/{y}.mvt", headers={"If-None-Match": etag})
    assert again.status_code == 304
    bad = client.get("/v1/tiles/12/9000/3.mvt")
    assert bad.status_code == 404
    assert bad.headers["content-type"] == "application/problem+json"
    assert "outside zoom 12" in bad.json()["detail"]
    assert client.get(f"/v1/tiles/17/{x * 4}/{y * 4}.mvt").status_code == 404
    # a tile far from the city is valid and empty
    empty = client.get("/v1/tiles/14/0/0.mvt")
    assert empty.status_code == 200 and _decode(empty.content) == {}


def test_style_draws_only_from_this_server(client) -> None:
    st = client.get("/v1/style.json").json()
    assert st["version"] == 8
    (src,) = st["sources"].values()
    snap = client.get("/v1/health").json()
    sid = next(v for k, v in _walk(snap) if k == "snapshot_id")
    assert src["tiles"] == [f"http://testserver/v1/tiles/{{z}}/{{x}}/{{y}}.mvt?v={sid[:16]}"]
    assert "sprite" not in st
    assert st["glyphs"] == "http://testserver/static/glyphs/{fontstack}/{range}.pbf"
    used = {ly.get("source-layer") for ly in st["layers"]} - {None}
    assert used == {"roads", "transit", "stops"}
    fonts = {f for ly in st["layers"] for f in ly.get("layout", {}).get("text-font", [])}
    assert fonts == {"DejaVu Sans"}


def _walk(doc: object):
    """Every (key, value) pair of a JSON document, depth first."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield k, v
            yield from _walk(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from _walk(v)


def test_style_behind_a_reverse_proxy(client) -> None:
    """Tile and glyph URLs follow X-Forwarded-Proto/Host/Prefix, and those URLs answer
    (the proxy strips the prefix before passing the request on)."""
    hdr = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "maps.example.org, 10.0.0.1",
           "X-Forwarded-Prefix": "/citynav/"}
    r = client.get("/v1/style.json", headers=hdr)
    assert r.status_code == 200
    assert "X-Forwarded-Host" in r.headers["vary"]
    st = r.json()
    (tiles,) = st["sources"]["citynav"]["tiles"]
    assert tiles.startswith("https://maps.example.org/citynav/v1/tiles/{z}/{x}/{y}.mvt?v=")
    assert st["glyphs"] == ("https://maps.example.org/citynav/static/glyphs/{fontstack}/"
                            "{range}.pbf")
    # what the proxy forwards after stripping the public prefix is served
    path = tiles.split("/citynav", 1)[1].format(z=14, x=4385, y=6264)
    assert client.get(path).status_code == 200
    glyphs = st["glyphs"].split("/citynav", 1)[1].format(fontstack="DejaVu Sans",
                                                          range="0-255")
    assert client.get(glyphs).status_code == 200
    # only the host: the scheme stays the request's
    st = client.get("/v1/style.json", headers={"X-Forwarded-Host": "10.1.2.3:8443"}).json()
    assert st["glyphs"].startswith("http://10.1.2.3:8443/static/")
    for bad in ({"X-Forwarded-Proto": "javascript"}, {"X-Forwarded-Host": "evil.org/x?"},
                {"X-Forwarded-Prefix": "//evil.org"}, {"X-Forwarded-Prefix": "no-slash"}):
        r = client.get("/v1/style.json", headers=bad)
        assert r.status_code == 400, bad
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["invalid_params"][0]["name"] == "header." + next(iter(bad))


def test_label_glyphs_are_served_from_this_server(client) -> None:
    """The glyph ranges the style names exist and hold distance fields of the right size."""
    import scripts.make_glyphs as mg

    for rng in ("0-255", "256-511", "8192-8447"):
        r = client.get(f"/static/glyphs/DejaVu%20Sans/{rng}.pbf")
        assert r.status_code == 200, rng
    msg = mg.Glyphs.FromString(client.get("/static/glyphs/DejaVu%20Sans/0-255.pbf").content)
    (stack,) = msg.stacks
    assert stack.name == "DejaVu Sans" and stack.range == "0-255"
    glyphs = {g.id: g for g in stack.glyphs}
    a = glyphs[ord("A")]
    assert 10 <= a.width <= 24 and 10 <= a.height <= 24 and a.advance > 0
    b = mg.BUFFER_PX
    assert len(a.bitmap) == (a.width + 2 * b) * (a.height + 2 * b)
    px = np.frombuffer(a.bitmap, np.uint8).reshape(a.height + 2 * b, a.width + 2 * b)
    assert px[0, 0] < 60 and px.max() > 200  # far outside is low, the stroke is high
    assert glyphs[ord(" ")].width == 0 and glyphs[ord(" ")].advance > 0
    assert ord("é") in glyphs and ord("ã") in glyphs


def test_fold_ignores_accents_case_and_abbreviations() -> None:
    assert fold("São João") == fold("SAO joao") == ["sao", "joao"]
    assert fold("5th St.") == fold("5th Street") == ["5th", "street"]
    assert fold("Scott Blvd") == ["scott", "boulevard"]


@pytest.mark.parametrize("q", ["5th St & Scott Blvd", "5th street and scott boulevard",
                               "SCOTT BLVD / 5TH ST"])
def test_geocode_intersection(client, q: str) -> None:
    res = client.get("/v1/geocode", params={"q": q}).json()["results"]
    top = res[0]
    assert top["kind"] == "intersection"
    assert "5th Street" in top["name"] and "Scott Boulevard" in top["name"]
    # the junction of East 5th Street and Scott Boulevard in Covington
    assert abs(top["lat"] - 39.0861) < 0.001 and abs(top["lon"] + 84.5091) < 0.001


def test_geocode_streets_and_stops_ranked(client) -> None:
    res = client.get("/v1/geocode", params={"q": "madison ave"}).json()["results"]
    assert res[0] == {**res[0], "kind": "street", "name": "Madison Avenue", "score": 3}
    res = client.get("/v1/geocode", params={"q": "scött blvd"}).json()["results"]
    assert res[0]["name"] == "Scott Boulevard"
    res = client.get("/v1/geocode", params={"q": "Scott at 7th", "limit": 3}).json()["results"]
    assert res[0]["kind"] == "stop" and res[0]["stop_id"] == "nky_tank:10094"
    assert client.get("/v1/geocode", params={"q": "zzzz qqq"}).json() == {"results": []}
    bad = client.get("/v1/geocode", params={"q": "  "})
    assert bad.status_code == 422 and bad.json()["invalid_params"][0]["name"] == "query.q"


def test_geocode_finds_named_osm_places(client) -> None:
    res = client.get("/v1/geocode", params={"q": "black brigade"}).json()["results"]
    assert res[0]["kind"] == "place" and res[0]["name"] == "Black Brigade Monument"
    assert res[0]["category"] == "historic=monument" and res[0]["osm"].startswith("n")
    # the monument stands in Covington by the Licking River
    assert abs(res[0]["lat"] - 39.0955) < 0.001 and abs(res[0]["lon"] + 84.5087) < 0.001
    res = client.get("/v1/geocode", params={"q": "FOUNTAIN SQ", "limit": 20}).json()
    cats = {r.get("category") for r in res["results"] if r["kind"] == "place"}
    assert "railway=tram_stop" in cats


def test_reverse_names_street_and_stop(client) -> None:
    r = client.get("/v1/reverse", params={"at": "39.0837,-84.5086"}).json()
    assert r["street"] == "East 7th Street" and r["distance_m"] < 10
    assert r["stop"]["stop_id"] == "nky_tank:10094"
    far = client.get("/v1/reverse", params={"at": "0,0"})
    assert far.status_code == 404 and far.json()["title"] == "Nothing here"
    assert client.get("/v1/reverse", params={"at": "abc"}).status_code == 422
