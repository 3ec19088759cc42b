"""The official WZDx 4.2 JSON Schemas (``../shared/data/incidents/wzdx-schemas-4.2``) as a
jsonschema validator that resolves their ``$id`` URLs locally (nothing is downloaded)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

SHARED_INCIDENTS = REPO.parent / "shared" / "data" / "incidents"
SCHEMA_DIR = SHARED_INCIDENTS / "wzdx-schemas-4.2"


def _geometry_schema(kind: str, depth: int) -> dict[str, Any]:
    """A local GeoJSON geometry schema whose ``type`` is fixed (see the schemas' README)."""
    position = {"type": "array", "minItems": 2, "items": {"type": "number"}}
    coords: dict[str, Any] = {"type": "array", "items": position}
    if kind == "LineString":
        coords["minItems"] = 2
    return {"$schema": "http://json-schema.org/draft-07/schema#",
            "$id": f"https://geojson.org/schema/{kind}.json", "type": "object",
            "required": ["type", "coordinates"],
            "properties": {"type": {"const": kind}, "coordinates": coords,
                           "bbox": {"type": "array", "minItems": 4,
                                    "items": {"type": "number"}}}}


@lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import Draft7Validator
    from referencing import Registry, Resource

    resources = []
    for p in sorted(SCHEMA_DIR.glob("*.json")):
        doc = json.loads(p.read_text())
        resources.append((doc["$id"], Resource.from_contents(doc)))
    for kind in ("LineString", "MultiPoint"):
        doc = _geometry_schema(kind, 1)
        resources.append((doc["$id"], Resource.from_contents(doc)))
    registry = Registry().with_resources(resources)
    feed = json.loads((SCHEMA_DIR / "WorkZoneFeed.json").read_text())
    return Draft7Validator(feed, registry=registry,
                           format_checker=Draft7Validator.FORMAT_CHECKER)


def wzdx_errors(doc: Any) -> list[str]:
    """Every validation error of ``doc`` against the WZDx 4.2 WorkZoneFeed schema."""
    if not SCHEMA_DIR.is_dir():
        pytest.skip(f"WZDx schemas not available: {SCHEMA_DIR}")
    return [f"{'/'.join(str(x) for x in e.absolute_path)}: {e.message}"
            for e in _validator().iter_errors(doc)]


def shared_incident_files(folder: str, pattern: str = "*") -> list[Path]:
    """Files of a shared incident sample folder (empty when absent)."""
    d = SHARED_INCIDENTS / folder
    return sorted(p for p in d.glob(pattern) if p.is_file()) if d.is_dir() else []
