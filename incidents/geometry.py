"""GeoJSON geometry of incidents (Point, LineString, MultiLineString, Polygon): validated with
limits on size, bounds and conversion to shapely."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
)

from incidents.fields import MAX_LIST_ITEMS, MAX_VERTICES, Position


# ---------------------------------------------------------------------------------------------
# Geometry (GeoJSON subset)
# ---------------------------------------------------------------------------------------------
def _count_positions(value: Any, depth: int) -> int:
    """Count positions in raw nested lists before element validation (cheap size guard)."""
    if depth == 0 or not isinstance(value, list | tuple):
        return 1
    if depth == 1:
        return len(value)
    return sum(_count_positions(v, depth - 1) for v in value)


def _vertex_guard(depth: int) -> BeforeValidator:
    def guard(value: Any) -> Any:
        if isinstance(value, list | tuple):
            n = _count_positions(value, depth)
            if n > MAX_VERTICES:
                raise ValueError(f"geometry has {n} positions; at most {MAX_VERTICES} allowed")
        return value

    return BeforeValidator(guard)


class _Geometry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Point(_Geometry):
    """GeoJSON Point."""

    type: Literal["Point"] = Field(description="GeoJSON geometry type")
    coordinates: Position = Field(description="[lon, lat] in decimal degrees (WGS 84)")


def _distinct(line: list[Position]) -> list[Position]:
    if all(p == line[0] for p in line):
        raise ValueError("line positions are all identical")
    return line


LinePositions = Annotated[
    list[Position], Field(min_length=2), AfterValidator(_distinct), _vertex_guard(1)
]


class LineString(_Geometry):
    """GeoJSON LineString (at least two distinct positions)."""

    type: Literal["LineString"] = Field(description="GeoJSON geometry type")
    coordinates: LinePositions = Field(description="Positions [lon, lat] in decimal degrees, "
                                       "at least two distinct")


class MultiLineString(_Geometry):
    """GeoJSON MultiLineString."""

    type: Literal["MultiLineString"] = Field(description="GeoJSON geometry type")
    coordinates: Annotated[
        list[LinePositions],
        Field(min_length=1, max_length=MAX_LIST_ITEMS, description="Lines of positions "
              "[lon, lat] in decimal degrees"),
        _vertex_guard(2),
    ]


def _closed_ring(ring: list[Position]) -> list[Position]:
    if ring[0] != ring[-1]:
        raise ValueError("linear ring is not closed (first and last positions differ)")
    return ring


LinearRing = Annotated[list[Position], Field(min_length=4), AfterValidator(_closed_ring)]


class Polygon(_Geometry):
    """GeoJSON Polygon: an exterior ring then holes; rings closed, polygon valid (OGC)."""

    type: Literal["Polygon"] = Field(description="GeoJSON geometry type")
    coordinates: Annotated[
        list[LinearRing],
        Field(min_length=1, max_length=MAX_LIST_ITEMS, description="Closed rings of positions "
              "[lon, lat]: the exterior ring, then holes"),
        _vertex_guard(2),
    ]

    @field_validator("coordinates")
    @classmethod
    def _valid_polygon(cls, rings: list[list[Position]]) -> list[list[Position]]:
        import shapely

        poly = shapely.Polygon(rings[0], rings[1:])
        if not shapely.is_valid(poly):
            raise ValueError(f"invalid polygon: {shapely.is_valid_reason(poly)}")
        return rings


Geometry = Annotated[Point | LineString | MultiLineString | Polygon, Field(discriminator="type")]
"""A GeoJSON geometry: Point, LineString, MultiLineString or Polygon, ``[lon, lat]`` order."""


def geometry_bounds(
    geometry: Point | LineString | MultiLineString | Polygon,
) -> tuple[float, float, float, float]:
    """Return ``(min_lon, min_lat, max_lon, max_lat)`` of a geometry."""
    if isinstance(geometry, Point):
        pts: list[Position] = [geometry.coordinates]
    elif isinstance(geometry, LineString):
        pts = list(geometry.coordinates)
    else:
        pts = [p for part in geometry.coordinates for p in part]
    lons = [p[0] for p in pts]
    lats = [p[1] for p in pts]
    return min(lons), min(lats), max(lons), max(lats)


def to_shapely(geometry: Point | LineString | MultiLineString | Polygon) -> Any:
    """Return the geometry as a shapely 2 geometry (for matching and bbox filtering)."""
    import shapely.geometry

    return shapely.geometry.shape(geometry.model_dump())

