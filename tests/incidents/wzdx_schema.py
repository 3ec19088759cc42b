"""The official WZDx 4.2 JSON Schemas (``../shared/data/incidents/wzdx-schemas-4.2``) as a
jsonschema validator that resolves their ``$id`` URLs locally (nothing is downloaded)."""

from __future__ import annotations

import json
import re
from datetime import datetime
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
    from jsonschema import Draft7Validator, FormatChecker
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
    checker = FormatChecker()
    # jsonschema checks "date-time" only with an optional package; RFC 3339 checked here
    checker.checks("date-time", raises=ValueError)(_rfc3339)
    return Draft7Validator(feed, registry=registry, format_checker=checker)


def _rfc3339(value: object) -> bool:
    """True for an RFC 3339 date-time (``T`` separator and a UTC offset or ``Z``)."""
    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)",
                        value):
        raise ValueError(f"{value!r} is not an RFC 3339 date-time")
    datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


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
