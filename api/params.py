"""Parsing of query parameters shared by endpoints (coordinates, times, instruction
language), with precise errors."""

from __future__ import annotations

import math

from api.problems import ApiProblem
from routing.i18n import SUPPORTED_LANGS, UnsupportedLanguageError, normalize_lang

#: Description of the ``lang`` query parameter.
LANG_DESCRIPTION = (f"Language of the turn-by-turn instructions: {', '.join(SUPPORTED_LANGS)} "
                    "(also accepted: zh, zh-Hans)")


def parse_latlon(value: str, name: str) -> tuple[float, float]:
    """Parse ``"LAT,LON"`` (decimal degrees). Raises a 422 :class:`ApiProblem` naming the
    parameter and what is wrong."""
    parts = value.split(",")
    if len(parts) != 2:
        raise _bad(name, f"expected 'LAT,LON' (two numbers separated by a comma), got {value!r}")
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        raise _bad(name, f"expected 'LAT,LON' as decimal degrees, got {value!r}") from None
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise _bad(name, "coordinates must be finite numbers")
    if not -90.0 <= lat <= 90.0:
        raise _bad(name, f"latitude {lat} is outside [-90, 90] (is the order LAT,LON?)")
    if not -180.0 <= lon <= 180.0:
        raise _bad(name, f"longitude {lon} is outside [-180, 180]")
    return lat, lon


def parse_lang(value: str | None, name: str = "lang") -> str:
    """Canonical instruction language (``en`` or ``zh-CN``). Raises a 422
    :class:`ApiProblem` naming the supported languages."""
    try:
        return normalize_lang(value)
    except UnsupportedLanguageError as exc:
        raise ApiProblem(422, "unsupported-language", f"{name}: {exc}", "Unsupported language",
                         invalid_params=[{"name": f"query.{name}", "reason": str(exc)}]
                         ) from None


def _bad(name: str, reason: str) -> ApiProblem:
    return ApiProblem(422, "invalid-parameter", f"{name}: {reason}", "Invalid parameter",
                      invalid_params=[{"name": f"query.{name}", "reason": reason}])
