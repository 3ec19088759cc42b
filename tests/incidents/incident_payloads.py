"""Shared test payloads for the incident tests (imported by the test modules)."""

from __future__ import annotations

from typing import Any


def incident_data(**overrides: Any) -> dict[str, Any]:
    """A valid ``IncidentCreate`` payload (JSON-like dict) with ``overrides`` applied."""
    data: dict[str, Any] = {
        "type": "accident",
        "severity": "high",
        "start": "2025-03-10T07:50:00+00:00",
        "geometry": {"type": "LineString", "coordinates": [[24.94, 60.17], [24.95, 60.171]]},
        "direction": "forward",
        "lanes": {"total": 3, "closed": 1},
        "road_effect": {"closed_to": ["truck"], "speed_limit_kmh": 30, "delay_s": 240},
        "description": {"en": "Collision on Mannerheimintie", "fi": "Kolari Mannerheimintiellä"},
    }
    data.update(overrides)
    return data
