"""The local timezone of a snapshot: validate an IANA name, or derive one offline from where
the road network lies (``timezonefinder`` ships its boundary data; no network is used).

Resolution at build time (:func:`resolve_timezone`): an explicit option, else the first GTFS
feed's agency timezone, else the zone at the network's bounding-box centre.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

#: Where a snapshot's timezone came from.
TIMEZONE_SOURCES: tuple[str, ...] = ("option", "gtfs", "bbox")


class TimezoneError(ValueError):
    """A timezone name is not a known IANA zone, or no zone can be derived for a place."""


def validate_timezone(name: str) -> str:
    """Return ``name`` (trimmed) if it is a known IANA timezone (e.g. ``America/New_York``);
    raise :class:`TimezoneError` otherwise."""
    key = (name or "").strip()
    try:
        ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise TimezoneError(f"unknown timezone {name!r}: expected an IANA name such as "
                            "America/New_York or Europe/Lisbon") from exc
    return key


@lru_cache(maxsize=1)
def _finder() -> Any:
    from timezonefinder import TimezoneFinder  # noqa: PLC0415 (loads boundary data once)

    return TimezoneFinder()


def zone_at(lon: float, lat: float, land_only: bool = True) -> str | None:
    """IANA zone at a point (degrees). ``land_only`` returns ``None`` at sea instead of an
    ``Etc/GMT±N`` ocean zone."""
    f = _finder()
    if land_only:
        return f.timezone_at_land(lng=float(lon), lat=float(lat))
    return f.timezone_at(lng=float(lon), lat=float(lat))


def timezone_from_bbox(bbox: Sequence[float], node_lon: np.ndarray | None = None,
                       node_lat: np.ndarray | None = None) -> str:
    """Zone of a network from its bbox ``(west, south, east, north)``: the zone on land at the
    bbox centre; if the centre is at sea, the zone at the junction nearest to it (when the
    junctions are given); else the ocean zone at the centre. Raises :class:`TimezoneError`
    when none is found (e.g. coordinates out of range)."""
    w, s, e, n = (float(v) for v in bbox)
    lon0, lat0 = (w + e) / 2.0, (s + n) / 2.0
    tz = zone_at(lon0, lat0)
    if tz is None and node_lon is not None and node_lat is not None and len(node_lon):
        lon = np.asarray(node_lon, np.float64)
        lat = np.asarray(node_lat, np.float64)
        i = int(np.argmin((lon - lon0) ** 2 * np.cos(np.radians(lat0)) ** 2
                          + (lat - lat0) ** 2))
        tz = zone_at(float(lon[i]), float(lat[i]))
    if tz is None:
        tz = zone_at(lon0, lat0, land_only=False)
    if tz is None:
        raise TimezoneError(f"no timezone found for the bbox centre ({lon0:.5f}, {lat0:.5f})")
    return tz


def resolve_timezone(option: str | None, gtfs_feeds: Sequence[dict[str, Any]],
                     bbox: Sequence[float], node_lon: np.ndarray | None = None,
                     node_lat: np.ndarray | None = None) -> tuple[str, str]:
    """The snapshot's timezone and its source (``option``, ``gtfs`` or ``bbox``).

    ``option``: an explicit IANA name (validated); ``gtfs_feeds``: the compiled feeds'
    metadata in order (each with a ``timezone``, the agency's); ``bbox`` and the junction
    coordinates for the offline lookup. Raises :class:`TimezoneError`.
    """
    if option:
        return validate_timezone(option), "option"
    for feed in gtfs_feeds:
        if feed.get("timezone"):
            return validate_timezone(str(feed["timezone"])), "gtfs"
    return timezone_from_bbox(bbox, node_lon, node_lat), "bbox"


@lru_cache(maxsize=64)
def country_of_zone(zone: str) -> str | None:
    """ISO 3166 country code of an IANA zone (``Europe/Lisbon`` → ``PT``) from the tz
    database's ``zone.tab`` (the ``tzdata`` package's copy, else the system's), or ``None``
    for zones of no one country (``UTC``) or when no table is found."""
    import contextlib  # noqa: PLC0415 (rarely used)
    import importlib.resources  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    texts: list[str] = []
    with contextlib.suppress(ModuleNotFoundError, FileNotFoundError, OSError):
        texts.append(importlib.resources.files("tzdata").joinpath("zoneinfo/zone.tab")
                     .read_text(encoding="utf-8"))
    for d in ("/usr/share/zoneinfo", "/usr/lib/zoneinfo", "/usr/share/lib/zoneinfo"):
        p = Path(d) / "zone.tab"
        if p.is_file():
            texts.append(p.read_text(encoding="utf-8"))
            break
    for text in texts:
        for line in text.splitlines():
            cols = line.split("\t")
            if len(cols) >= 3 and not line.startswith("#") and cols[2].strip() == zone:
                return cols[0].strip()
    return None
