"""ALERT-C location tables (ISO 14819-3): location codes to WGS 84 points.

DATEX II records located only by ALERT-C codes (``alertCPoint``, ``alertCLinear``) can be
placed only with the table their ``alertCLocationTableNumber`` names. Without it they are
reported ``unlocatable: ALERT-C table N not loaded`` — citynav never guesses a place.

A table is loaded from a CSV file (UTF-8, comma- or semicolon-separated, a header row) in
either form:

* citynav's form: columns ``table``, ``code``, ``lat``, ``lon`` (decimal degrees) and an
  optional ``name``;
* the ISO 14819-3 exchange form of the ``POINTS`` table: columns ``TABCD`` (table number),
  ``LCD`` (location code), ``XCOORD`` and ``YCOORD`` (longitude and latitude in
  hundred-thousandths of a degree, signed, e.g. ``+02494179``).

Several tables may be loaded; a location is looked up by (table number, location code).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path


class LocationTableError(ValueError):
    """An unreadable location table file (the message names the file and row)."""


@dataclass
class LocationTables:
    """Loaded ALERT-C tables: ``points[table][code] = (lon, lat)``."""

    points: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)

    def has_table(self, table: str) -> bool:
        """True when table number ``table`` is loaded."""
        return table in self.points

    def lookup(self, table: str, code: str) -> tuple[float, float] | None:
        """``(lon, lat)`` of location ``code`` in ``table``, or ``None``."""
        return self.points.get(table, {}).get(code)

    def load(self, path: str | Path) -> int:
        """Add the points of a CSV table file (see the module docstring); return how many.
        Raises :class:`LocationTableError`."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise LocationTableError(f"{p}: cannot read ({exc})") from None
        return self.load_text(text, str(p))

    def load_text(self, text: str, name: str = "<table>") -> int:
        """Add the points of a CSV table given as text; return how many."""
        first = text.split("\n", 1)[0]
        delim = ";" if first.count(";") > first.count(",") else ","
        reader = csv.DictReader(io.StringIO(text), delimiter=delim)
        cols = {c.strip().lower(): c for c in (reader.fieldnames or [])}
        iso = {"tabcd", "lcd", "xcoord", "ycoord"} <= cols.keys()
        plain = {"table", "code", "lat", "lon"} <= cols.keys()
        if not (iso or plain):
            raise LocationTableError(
                f"{name}: header must have table,code,lat,lon (or TABCD;LCD;XCOORD;YCOORD), "
                f"got {', '.join(cols) or 'nothing'}")
        n = 0
        for i, row in enumerate(reader, start=2):
            try:
                if iso:
                    table = row[cols["tabcd"]].strip()
                    code = row[cols["lcd"]].strip()
                    x, y = row[cols["xcoord"]].strip(), row[cols["ycoord"]].strip()
                    if not x or not y:
                        continue  # areas and segments of the table carry no point
                    lon, lat = int(x) / 100_000, int(y) / 100_000
                else:
                    table = row[cols["table"]].strip()
                    code = row[cols["code"]].strip()
                    lat, lon = float(row[cols["lat"]]), float(row[cols["lon"]])
            except (TypeError, ValueError, AttributeError) as exc:
                raise LocationTableError(f"{name}, row {i}: {exc}") from None
            if not (math.isfinite(lat) and math.isfinite(lon)
                    and -90 <= lat <= 90 and -180 <= lon <= 180):
                raise LocationTableError(f"{name}, row {i}: coordinates out of range")
            if not table or not code:
                raise LocationTableError(f"{name}, row {i}: empty table or code")
            self.points.setdefault(table, {})[code] = (lon, lat)
            n += 1
        return n


def load_tables(paths: list[Path] | list[str] | None) -> LocationTables:
    """Tables from files (none: an empty set, every ALERT-C record unlocatable)."""
    tables = LocationTables()
    for p in paths or []:
        tables.load(p)
    return tables
