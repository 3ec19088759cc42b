"""OpenLR binary line locations (physical format version 3, the OpenLR white paper v1.5):
the coordinates of their location reference points, in order.

citynav does not run the OpenLR map-matching decoder: the points are joined into a line that
the network matcher snaps onto the roads. Offsets (the part of the first and last stretch not
affected) are not applied, so the matched stretch reaches from the first to the last point.
"""

from __future__ import annotations

import base64
import binascii


class OpenLRError(ValueError):
    """Not a binary OpenLR line location (the message says why)."""


def _signed(data: bytes) -> int:
    return int.from_bytes(data, "big", signed=True)


def _absolute_deg(value: int) -> float:
    sign = (value > 0) - (value < 0)
    return (value - sign * 0.5) * 360.0 / (1 << 24)


def decode_line(text: str) -> list[tuple[float, float]]:
    """``[(lon, lat), ...]`` of the location reference points of a base64 OpenLR binary line
    location. Raises :class:`OpenLRError` for anything else (points, areas, bad bytes)."""
    try:
        data = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise OpenLRError("not base64") from None
    if len(data) < 16:
        raise OpenLRError(f"{len(data)} bytes: too short for a line location")
    header = data[0]
    version = header & 0x07
    attribute_flag = (header >> 3) & 1
    area_flag = ((header >> 6) & 1) << 1 | ((header >> 4) & 1)
    point_flag = (header >> 5) & 1
    if version != 3:
        raise OpenLRError(f"physical format version {version}; only version 3 is read")
    if point_flag or area_flag or not attribute_flag:
        raise OpenLRError("not a line location (a point or area location)")
    rest = len(data) - 16  # header 1 + first LRP 9 + last LRP 6
    n_offsets = rest % 7
    if n_offsets > 2:
        raise OpenLRError(f"{len(data)} bytes do not form a line location")
    n_intermediate = rest // 7
    lon = _absolute_deg(_signed(data[1:4]))
    lat = _absolute_deg(_signed(data[4:7]))
    points = [(lon, lat)]
    pos = 10
    for _ in range(n_intermediate + 1):
        lon += _signed(data[pos:pos + 2]) / 100_000
        lat += _signed(data[pos + 2:pos + 4]) / 100_000
        points.append((round(lon, 7), round(lat, 7)))
        pos += 7
    points[0] = (round(points[0][0], 7), round(points[0][1], 7))
    for x, y in points:
        if not (-180 <= x <= 180 and -90 <= y <= 90):
            raise OpenLRError("a location reference point is out of range")
    return points
