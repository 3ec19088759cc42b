"""The web map's data: vector tiles of the snapshot, their MapLibre style, and the geocoder
(``/v1/geocode``, ``/v1/reverse``)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from api.params import LATLON_FORMAT, parse_latlon
from api.problems import ApiProblem, problem_example, responses
from routing.tiles import MAX_ZOOM, STOP_MIN_ZOOM, TRANSIT_MIN_ZOOM, TileError

router = APIRouter(prefix="/v1", tags=["map"])

MVT_MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
#: Tiles of one snapshot never change: browsers may keep them for a day.
TILE_CACHE_CONTROL = "public, max-age=86400"

_TILE_ERRORS = {
    422: ("A zoom, column or row that is not a whole number ≥ 0",
          problem_example(422, "path.z: Input should be a valid integer",
                          "/v1/tiles/a/1/2.mvt")),
    404: ("Tile coordinates outside the zoom's grid, or a zoom above the highest",
          problem_example(404, "tile 9000/3 is outside zoom 12's grid 0..4095",
                          "/v1/tiles/12/9000/3.mvt", "no-such-tile", "No such tile")),
}


@router.get("/tiles/{z}/{x}/{y}.mvt", response_class=Response,
            summary="Vector tile of the street and transit network",
            responses={200: {"content": {MVT_MEDIA_TYPE: {
                "schema": {"type": "string", "format": "binary",
                           "description": "A Mapbox Vector Tile (2.1, protobuf)"},
                "example": "<vector tile protobuf bytes>"}},
                "description": "A Mapbox Vector Tile (2.1); `ETag` and `Cache-Control` headers"},
                       **responses(_TILE_ERRORS)})
def vector_tile(
    request: Request,
    z: Annotated[int, Path(ge=0, le=30, description=f"Zoom (tiles exist up to {MAX_ZOOM})",
                           examples=[14])],
    x: Annotated[int, Path(ge=0, description="Column (XYZ scheme)", examples=[4250])],
    y: Annotated[int, Path(ge=0, description="Row (XYZ scheme, 0 at the north)",
                           examples=[6208])],
) -> Response:
    """A Mapbox Vector Tile of the snapshot with the layers `roads` (class, name, ref,
    oneway: lines point the way cars may go), `transit` (route_id, short_name, long_name,
    color, text_color, route_type; from zoom 8) and `stops` (stop_id, name; from zoom 13).
    Minor road classes appear only at higher zooms. Tiles are cached per snapshot; the
    ETag is the snapshot id with the tile's address."""
    svc = request.app.state.service
    try:
        data = svc.tiles().tile(z, x, y)
    except TileError as exc:
        raise ApiProblem(404, "no-such-tile", str(exc), "No such tile") from exc
    etag = f'"{svc.snapshot.snapshot_id[:16]}-{z}-{x}-{y}"'
    headers = {"ETag": etag, "Cache-Control": TILE_CACHE_CONTROL}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=MVT_MEDIA_TYPE, headers=headers)


_ROAD_STYLE = [
    # (layer id, classes, casing colour, fill colour, width at z12, width at z18, min zoom)
    ("minor", ["residential", "unclassified", "living_street", "road", "service",
               "busway"], "#d4d0c8", "#ffffff", 0.6, 14, 12),
    ("paths", ["footway", "path", "cycleway", "pedestrian", "steps", "track", "bridleway"],
     None, "#b9a98f", 0.4, 2.5, 14),
    ("tertiary", ["tertiary", "tertiary_link"], "#cfc6a8", "#fefcf0", 1.2, 16, 10),
    ("secondary", ["secondary", "secondary_link"], "#d9b97a", "#fbe7a8", 1.6, 18, 9),
    ("primary", ["primary", "primary_link"], "#d59a55", "#f9cf8c", 2.0, 20, 8),
    ("motorway", ["motorway", "motorway_link", "trunk", "trunk_link"], "#c0703a",
     "#f3a86a", 2.4, 22, 5),
]


#: Fonts of the label glyphs (api/static/glyphs, made by scripts/make_glyphs.py).
LABEL_FONT = ["DejaVu Sans"]


def map_style(tiles_url: str, glyphs_url: str, bbox: tuple[float, float, float, float]
              ) -> dict[str, Any]:
    """The MapLibre style of the basemap drawn from this server's tiles (``tiles_url``:
    the absolute tile URL template) with labels from its glyphs (``glyphs_url``); centred on
    ``bbox`` (west, south, east, north)."""
    w, s, e, n = bbox
    layers: list[dict[str, Any]] = [
        {"id": "background", "type": "background", "paint": {"background-color": "#f2efe9"}}]
    for lid, classes, casing, fill, w12, w18, minz in _ROAD_STYLE:
        flt = ["in", ["get", "class"], ["literal", classes]]
        width = ["interpolate", ["exponential", 1.6], ["zoom"], 12, w12, 18, w18]
        if casing:
            layers.append({"id": f"road-{lid}-casing", "type": "line", "source": "citynav",
                           "source-layer": "roads", "minzoom": minz, "filter": flt,
                           "layout": {"line-cap": "round", "line-join": "round"},
                           "paint": {"line-color": casing,
                                     "line-width": ["interpolate", ["exponential", 1.6],
                                                    ["zoom"], 12, w12 + 1, 18, w18 + 3]}})
        layers.append({"id": f"road-{lid}", "type": "line", "source": "citynav",
                       "source-layer": "roads", "minzoom": minz, "filter": flt,
                       "layout": {"line-cap": "round", "line-join": "round"},
                       "paint": {"line-color": fill, "line-width": width,
                                 **({"line-dasharray": [2, 1]} if not casing else {})}})
    layers += [
        {"id": "transit-lines", "type": "line", "source": "citynav", "source-layer": "transit",
         "minzoom": TRANSIT_MIN_ZOOM,
         "layout": {"line-cap": "round", "line-join": "round"},
         "paint": {"line-color": ["get", "color"], "line-opacity": 0.35,
                   "line-width": ["interpolate", ["linear"], ["zoom"], 10, 0.8, 16, 3]}},
        {"id": "stops", "type": "circle", "source": "citynav", "source-layer": "stops",
         "minzoom": STOP_MIN_ZOOM,
         "paint": {"circle-color": "#ffffff", "circle-stroke-color": "#1f6feb",
                   "circle-stroke-width": 1.5,
                   "circle-radius": ["interpolate", ["linear"], ["zoom"], 13, 2.5, 17, 6]}},
        {"id": "road-labels", "type": "symbol", "source": "citynav", "source-layer": "roads",
         "minzoom": 14, "filter": ["has", "name"],
         "layout": {"symbol-placement": "line", "text-field": ["get", "name"],
                    "text-font": LABEL_FONT, "text-max-angle": 30,
                    "text-size": ["interpolate", ["linear"], ["zoom"], 14, 10, 18, 14]},
         "paint": {"text-color": "#3b3f48", "text-halo-color": "#ffffff",
                   "text-halo-width": 1.5}},
        {"id": "road-refs", "type": "symbol", "source": "citynav", "source-layer": "roads",
         "minzoom": 10, "maxzoom": 14, "filter": ["has", "ref"],
         "layout": {"symbol-placement": "line", "text-field": ["get", "ref"],
                    "text-font": LABEL_FONT, "text-size": 10},
         "paint": {"text-color": "#7a4a16", "text-halo-color": "#ffffff",
                   "text-halo-width": 1.5}},
        {"id": "stop-labels", "type": "symbol", "source": "citynav", "source-layer": "stops",
         "minzoom": 16,
         "layout": {"text-field": ["get", "name"], "text-font": LABEL_FONT, "text-size": 11,
                    "text-offset": [0, 1.1], "text-anchor": "top", "text-optional": True},
         "paint": {"text-color": "#1a56c4", "text-halo-color": "#ffffff",
                   "text-halo-width": 1.5}},
    ]
    return {
        "version": 8, "name": "citynav basemap", "glyphs": glyphs_url,
        "center": [(w + e) / 2, (s + n) / 2], "zoom": 13,
        "sources": {"citynav": {"type": "vector", "tiles": [tiles_url], "minzoom": 0,
                                "maxzoom": MAX_ZOOM, "bounds": [w, s, e, n],
                                "attribution": "© OpenStreetMap contributors; timetables "
                                               "from their agencies"}},
        "layers": layers,
    }


_PROTO = frozenset({"http", "https"})
_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])"
                   r"(?::\d{1,5})?$")
_PREFIX = re.compile(r"^(?:/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*/?$")
#: The request headers a reverse proxy sets that :func:`public_base_url` honours.
FORWARDED_HEADERS = ("X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Prefix")


def _first(value: str | None) -> str | None:
    """The first (client-most) entry of a comma-separated forwarded header, or None."""
    if value is None:
        return None
    first = value.split(",", 1)[0].strip()
    return first or None


def public_base_url(request: Request) -> str:
    """The URL under which browsers reach this server, without a trailing slash: the
    request's scheme and `Host`, replaced by a reverse proxy's `X-Forwarded-Proto`,
    `X-Forwarded-Host` and `X-Forwarded-Prefix` when present (the first entry of each;
    the ASGI ``root_path`` is kept). Raises a 400 :class:`ApiProblem` for a malformed one
    (a misconfigured proxy must not make the style point elsewhere)."""
    h = request.headers
    proto = _first(h.get("x-forwarded-proto"))
    host = _first(h.get("x-forwarded-host"))
    prefix = _first(h.get("x-forwarded-prefix"))
    bad = [name for name, value, ok in (
        ("X-Forwarded-Proto", proto, proto is None or proto.lower() in _PROTO),
        ("X-Forwarded-Host", host, host is None or _HOST.match(host) is not None),
        ("X-Forwarded-Prefix", prefix, prefix is None or _PREFIX.match(prefix) is not None),
    ) if not ok]
    if bad:
        raise ApiProblem(400, "invalid-header", f"{bad[0]}: not a valid "
                         f"{'scheme (http or https)' if bad[0].endswith('Proto') else 'value'}",
                         "Invalid header",
                         invalid_params=[{"name": f"header.{b}", "reason": "malformed"}
                                         for b in bad])
    base = request.base_url
    scheme = proto.lower() if proto else base.scheme
    netloc = host or base.netloc
    path = (prefix or "").rstrip("/") + base.path.rstrip("/")
    return f"{scheme}://{netloc}{path}"


@router.get("/style.json", summary="MapLibre style of the basemap",
            responses={200: {"description": "A MapLibre GL style (version 8) drawing the "
                             "basemap from /v1/tiles", "content": {"application/json": {
                                 "example": {"version": 8, "name": "citynav basemap",
                                             "sources": {"citynav": {
                                                 "type": "vector", "tiles": [
                                                     "http://127.0.0.1:8000/v1/tiles/{z}/{x}/"
                                                     "{y}.mvt?v=0d5c7f3e9a1b2c4d"]}},
                                             "layers": [{"id": "background",
                                                         "type": "background"}]}}}},
                       **responses({400: ("A malformed `X-Forwarded-Proto`, `-Host` or "
                                          "`-Prefix` header", problem_example(
                                              400, "X-Forwarded-Proto: not a valid scheme "
                                              "(http or https)", "/v1/style.json",
                                              "invalid-header", "Invalid header"))})})
def style(request: Request, response: Response) -> dict[str, Any]:
    """The MapLibre style the web map uses: streets by class, transit routes in their
    colours and stops, all from this server's `/v1/tiles` (nothing from other servers).

    Tile and glyph URLs are absolute (MapLibre needs them so) and built from the URL the
    browser used: behind a reverse proxy, set `X-Forwarded-Proto`, `X-Forwarded-Host` and,
    when the server is mounted under a path, `X-Forwarded-Prefix` (e.g. `/citynav`). Tile
    URLs carry the snapshot id (`?v=`), so a browser's cached tiles are never reused for
    another snapshot."""
    svc = request.app.state.service
    base = public_base_url(request)
    response.headers["Vary"] = ", ".join(FORWARDED_HEADERS)
    response.headers["Cache-Control"] = "no-cache"
    return map_style(base + "/v1/tiles/{z}/{x}/{y}.mvt?v=" + svc.snapshot.snapshot_id[:16],
                     base + "/static/glyphs/{fontstack}/{range}.pbf", svc.snapshot.bbox)


_GEOCODE_ERRORS = {
    422: ("An empty or too long query, a malformed `near`, or `limit` out of range",
          problem_example(422, "q: give a street, intersection ('5th St & Scott Blvd') or "
                          "stop name", "/v1/geocode", invalid_params=[
                              {"name": "query.q", "reason": "empty"}])),
}


@router.get("/geocode", summary="Find streets, intersections, stops and places by name",
            responses={200: {"content": {"application/json": {"example": {"results": [
                {"kind": "intersection", "name": "East 5th Street & Scott Boulevard",
                 "lat": 39.086083, "lon": -84.509119, "score": 1}]}}}},
                **responses(_GEOCODE_ERRORS)})
def geocode(
    request: Request,
    q: Annotated[str, Query(max_length=200, description="A street (`scott blvd`), an "
                            "intersection (`5th St & Scott Blvd`, also `and`, `/`, `at`), a "
                            "stop or a named place (town, station, park, sight, shop; also by "
                            "its Chinese or English name); any case, accents optional, words "
                            "may be cut short",
                            examples=["5th St & Scott Blvd"])],
    near: Annotated[str | None, Query(max_length=64, description="Rank places near this "
                                      "point first among equal matches: " + LATLON_FORMAT,
                                      examples=["39.0837,-84.5086"])] = None,
    limit: Annotated[int, Query(ge=1, le=50, description="Most results",
                                examples=[5])] = 10,
) -> dict[str, Any]:
    """Places of the snapshot matching `q`, best first: `kind` (street, intersection, stop,
    place), `name`, `lat`, `lon`, `score` (3 same words, 2 name starts with the query, 1 every
    word found), `stop_id` for stops (usable with `/v1/stops/{stop_id}/departures`); for
    named OSM places `category` (its tag, e.g. `railway=station`), `osm` (`n123`, `w45`,
    `r6`), `name_zh` / `name_en` when tagged and `matched` when the query matched one of
    those. Among equal matches towns and cities rank above streets, streets above other
    places and stops. Snapshots built before places were kept find no places."""
    if not q.strip():
        raise ApiProblem(422, "invalid-parameter", "q: give a street, intersection "
                         "('5th St & Scott Blvd') or stop name", "Invalid parameter",
                         invalid_params=[{"name": "query.q", "reason": "empty"}])
    point = parse_latlon(near, "near") if near is not None else None
    svc = request.app.state.service
    return {"results": svc.geocoder().search(q, limit, point)}


@router.get("/reverse", summary="Name the street at a point",
            responses={200: {"content": {"application/json": {"example": {
                "name": "East 7th Street", "street": "East 7th Street", "distance_m": 3.4,
                "lat": 39.08367, "lon": -84.508592,
                "stop": {"stop_id": "nky_tank:10094", "name": "Scott at 7th - Out",
                         "lat": 39.0838, "lon": -84.5086, "distance_m": 11.1}}}}},
                **responses({404: ("Nothing named within `radius_m` of the point",
                                   problem_example(404, "no named street or stop within 250 m "
                                                   "of 0.0,0.0", "/v1/reverse",
                                                   "nothing-here", "Nothing here")),
                             422: ("A malformed `at`", problem_example(
                                 422, "at: expected 'LAT,LON'", "/v1/reverse"))})})
def reverse(
    request: Request,
    at: Annotated[str, Query(max_length=64, description="The point: " + LATLON_FORMAT,
                             examples=["39.0837,-84.5086"])],
    radius_m: Annotated[float, Query(gt=0, le=2000, description="How far to look, metres",
                                     examples=[250])] = 250,
) -> dict[str, Any]:
    """The named street nearest to `at` (its name, the nearest point on it and the distance)
    and the nearest stop within `radius_m` (or null)."""
    lat, lon = parse_latlon(at, "at")
    out = request.app.state.service.geocoder().reverse(lat, lon, radius_m)
    if out is None:
        raise ApiProblem(404, "nothing-here", f"no named street or stop within "
                         f"{radius_m:g} m of {at}", "Nothing here")
    return out
