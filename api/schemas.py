"""Response schemas of the HTTP API (pydantic v2, documented in the OpenAPI)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Mode = Literal["car", "bike", "walk"]


class LineString(BaseModel):
    """GeoJSON LineString, coordinates in [lon, lat] order."""

    type: Literal["LineString"] = "LineString"
    coordinates: list[list[float]]


class StepOut(BaseModel):
    """One turn-by-turn instruction."""

    type: str = Field(description="depart, turn, continue, new name, roundabout, "
                                  "exit roundabout, arrive")
    modifier: str = Field(description="straight, slight/sharp left/right, left, right, uturn")
    name: str = Field(description="Street name ('' when unnamed)")
    distance_m: float
    duration_s: float
    location: list[float] = Field(description="[lon, lat] of the manoeuvre")
    bearing_before: int
    bearing_after: int
    instruction: str
    exit: int | None = Field(default=None, description="Roundabout exit number")


class Waypoint(BaseModel):
    """Where an input coordinate was snapped onto the network."""

    input: list[float] = Field(description="[lat, lon] as given")
    location: list[float] = Field(description="[lon, lat] of the snapped point")
    distance_m: float = Field(description="Distance from the input to the road")
    name: str


class RouteOut(BaseModel):
    """One road route."""

    mode: Mode
    duration_s: float
    distance_m: float
    geometry: LineString
    bbox: list[float] = Field(description="[west, south, east, north]")
    steps: list[StepOut]
    origin: Waypoint
    destination: Waypoint
    live_version: int


class RouteResponse(BaseModel):
    """Answer of GET /v1/route."""

    routes: list[RouteOut]
    snapshot_id: str
    live_version: int


class HealthResponse(BaseModel):
    """Answer of GET /v1/health."""

    status: Literal["ok"]
    snapshot_id: str
    built_at: str | None
    bbox: list[float]
    counts: dict[str, int]
    modes: list[str]
    live_version: int
    transit: bool
