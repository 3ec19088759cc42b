"""Parsing of query parameters shared by endpoints (coordinates, places, times, instruction
language), with precise errors in words, and the wording that documents them in the OpenAPI.

Formats are checked here rather than with ``pattern=`` in ``Query(...)``: a failed pattern
would answer with the regular expression itself.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from zoneinfo import ZoneInfo

from api.apiproblem import ApiProblem
from incidents.fields import is_iso_datetime
from routing.clock import SYSTEM_CLOCK, Clock
from routing.i18n import SUPPORTED_LANGS, UnsupportedLanguageError, normalize_lang

#: Description of the ``lang`` query parameter.
LANG_DESCRIPTION = (f"Language of the turn-by-turn instructions: {', '.join(SUPPORTED_LANGS)} "
                    "(also accepted: zh, zh-Hans)")
#: Description of the ``lang`` parameter of answers with alerts.
ALERT_LANG_DESCRIPTION = (f"Language of alert texts: {', '.join(SUPPORTED_LANGS)} (also "
                          "accepted: zh, zh-Hans); an alert without a text in that language "
                          "is given in English, else in the first language it has")
#: How a ``LAT,LON`` parameter is written (appended to each one's description).
LATLON_FORMAT = ("`LAT,LON` in decimal degrees (WGS 84), latitude first, separated by a "
                 "comma, e.g. `39.0837,-84.5086`; latitude in [-90, 90], longitude in "
                 "[-180, 180]. Answers give coordinates in GeoJSON `[lon, lat]` order.")
#: How a time parameter is written (the city's timezone: ``timezone`` in /v1/health).
TIME_FORMAT = ("ISO 8601 date-time, e.g. `2026-11-24T08:00:00-05:00` or "
               "`2026-11-24T13:00:00Z`; without a UTC offset (`2026-11-24T08:00:00`) it is "
               "read in the city's timezone, `timezone` in `GET /v1/health` "
               "(America/New_York for the bundled city)")
#: How a time parameter of the timetable is written (read in the timetable's zone).
TRANSIT_TIME_FORMAT = ("ISO 8601 date-time, e.g. `2020-01-15T08:00:00-05:00`; without a UTC "
                       "offset it is read in the timetable's timezone (its agency's, the "
                       "same as `timezone` in `GET /v1/health` for the bundled city)")
#: How a ``bbox`` parameter is written.
BBOX_FORMAT = ("Bounding box `W,S,E,N`: west longitude, south latitude, east longitude, "
               "north latitude in decimal degrees (WGS 84), with W ≤ E and S ≤ N, e.g. "
               "`-84.52,39.07,-84.49,39.10`")

_NUMBER = re.compile(r"\s*-?[0-9]+(?:\.[0-9]+)?\s*")


def parse_latlon(value: str, name: str) -> tuple[float, float]:
    """Parse ``"LAT,LON"`` (decimal degrees, e.g. ``39.0837,-84.5086``). Raises a 422
    :class:`ApiProblem` naming the parameter and what is wrong, in words."""
    parts = value.split(",")
    if len(parts) != 2:
        raise _bad(name, f"expected 'LAT,LON' as decimal degrees, got {value!r} (two numbers "
                   "separated by one comma)")
    if not all(_NUMBER.fullmatch(p) for p in parts):
        raise _bad(name, f"expected 'LAT,LON' as decimal degrees, got {value!r}")
    lat, lon = float(parts[0]), float(parts[1])
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise _bad(name, "coordinates must be finite numbers")
    if not -90.0 <= lat <= 90.0:
        raise _bad(name, f"latitude {lat} is outside [-90, 90] (is the order LAT,LON?)")
    if not -180.0 <= lon <= 180.0:
        raise _bad(name, f"longitude {lon} is outside [-180, 180]")
    return lat, lon


#: Most characters a stop id of ``stop:ID`` may have.
MAX_STOP_ID_CHARS = 200


def parse_place(value: str, name: str) -> tuple[float, float] | str:
    """A journey end: ``"LAT,LON"`` as (lat, lon), or ``"stop:ID"`` as the stop id ``ID``
    (1 to 200 characters, no whitespace). Raises a 422 :class:`ApiProblem` in words."""
    if value.startswith("stop:"):
        stop_id = value[5:]
        if not 1 <= len(stop_id) <= MAX_STOP_ID_CHARS or any(c.isspace() for c in stop_id):
            raise _bad(name, f"expected 'stop:ID' with a stop id of 1 to {MAX_STOP_ID_CHARS} "
                       f"characters without spaces (e.g. stop:nky_tank:10094), got {value!r}")
        return stop_id
    if "," not in value:
        raise _bad(name, f"expected 'LAT,LON' as decimal degrees or 'stop:ID', got {value!r}")
    return parse_latlon(value, name)


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


def parse_time(value: str | None, name: str, tz: str, clock: Clock = SYSTEM_CLOCK
               ) -> dt.datetime:
    """ISO 8601 date-time; a time without offset is read in ``tz`` (the city's zone);
    ``None`` is now (by ``clock``)."""
    if value is None:
        return clock.now().astimezone(ZoneInfo(tz))
    try:
        if not is_iso_datetime(value):
            raise ValueError(value)
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiProblem(422, "invalid-parameter",
                         f"{name}: expected an ISO 8601 date-time such as "
                         f"2020-01-15T08:00:00-05:00, got {value!r}", "Invalid parameter",
                         invalid_params=[{"name": f"query.{name}",
                                          "reason": "not an ISO 8601 date-time"}]) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=ZoneInfo(tz))
    if not 1970 <= t.year <= 2199:
        raise ApiProblem(422, "invalid-parameter", f"{name}: year {t.year} is out of range",
                         "Invalid parameter",
                         invalid_params=[{"name": f"query.{name}", "reason": "year out of range"}])
    return t
