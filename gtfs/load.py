"""Read static GTFS zip files into namespaced pandas tables, one :class:`RawFeed` per file.

Namespacing rule: every identifier (``stop_id``, ``parent_station``, ``route_id``,
``agency_id``, ``trip_id``, ``service_id``, ``shape_id``, transfer stop ids) becomes
``"<feed>:<id>"`` -- always, also when only one feed is compiled, so ids never change when a
second feed is added. The feed name defaults to the zip's file stem with a trailing ``_gtfs``
/ ``-gtfs`` removed (``nky_tank_gtfs.zip`` -> ``nky_tank``); names must be unique and must not
contain ``:``. Blank ids stay blank. Every table gets a ``_row`` column holding the 1-based
line number in its file (header = line 1) for validation messages.

All values are read as strings (no NA conversion); parsing into numbers happens in the
modules that use them. gtfs-kit is not used on the build path: reading CSV with pandas'
C engine directly is several times faster and keeps full control over row numbers.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
from numba import njit

from gtfs.validate import (
    REQUIRED_COLUMNS,
    REQUIRED_FILES,
    InvalidValueError,
    MissingColumnError,
    MissingFileError,
    ValidationReport,
)

#: Files read from a feed (others, e.g. fare tables or pathways, are ignored).
KNOWN_FILES: tuple[str, ...] = (
    "agency", "stops", "routes", "trips", "stop_times", "calendar", "calendar_dates",
    "frequencies", "transfers", "shapes", "feed_info",
)

#: Identifier columns that are namespaced per file.
ID_COLUMNS: dict[str, tuple[str, ...]] = {
    "agency": ("agency_id",),
    "stops": ("stop_id", "parent_station"),
    "routes": ("route_id", "agency_id"),
    "trips": ("route_id", "service_id", "trip_id", "shape_id"),
    "stop_times": ("trip_id", "stop_id"),
    "calendar": ("service_id",),
    "calendar_dates": ("service_id",),
    "frequencies": ("trip_id",),
    "transfers": ("from_stop_id", "to_stop_id", "from_route_id", "to_route_id",
                  "from_trip_id", "to_trip_id"),
    "shapes": ("shape_id",),
}

#: Columns whose values are stripped of surrounding blanks (ids, times, numbers).
_STRIP_COLUMNS: frozenset[str] = frozenset(
    {c for cols in ID_COLUMNS.values() for c in cols}
    | {"arrival_time", "departure_time", "start_time", "end_time", "stop_sequence",
       "stop_lat", "stop_lon", "location_type", "route_type", "wheelchair_boarding",
       "wheelchair_accessible", "pickup_type", "drop_off_type", "shape_dist_traveled",
       "exact_times", "headway_secs", "transfer_type", "min_transfer_time", "date",
       "exception_type", "start_date", "end_date", "shape_pt_lat", "shape_pt_lon",
       "shape_pt_sequence", "agency_timezone"}
)


@dataclass
class RawFeed:
    """One feed's tables, namespaced, all values as strings, plus a ``_row`` column each."""

    name: str
    path: Path
    tables: dict[str, pd.DataFrame]
    timezone: str  # the (first) agency's timezone, IANA name
    agency_timezones: dict[str, str] = field(default_factory=dict)  # agency_id -> tz

    def has(self, file: str) -> bool:
        """True when ``<file>.txt`` was present (possibly empty)."""
        return file in self.tables


def feed_name_from_path(path: str | os.PathLike[str]) -> str:
    """Default feed name: the file stem without a trailing ``_gtfs``/``-gtfs``."""
    stem = Path(path).name
    for ext in (".zip", ".ZIP"):
        if stem.endswith(ext):
            stem = stem[: -len(ext)]
    stem = re.sub(r"[_\-.]gtfs$", "", stem, flags=re.IGNORECASE) or stem
    return stem.replace(":", "_")


def _zip_members(zf: zipfile.ZipFile) -> dict[str, str]:
    """Map ``'stops'`` -> member name, accepting files at the root or in one sub-folder."""
    out: dict[str, str] = {}
    for info in zf.infolist():
        if info.is_dir():
            continue
        base = info.filename.rsplit("/", 1)[-1]
        if not base.lower().endswith(".txt") or base.startswith("."):
            continue
        key = base[:-4].lower()
        if key in KNOWN_FILES and (key not in out or info.filename.count("/") <
                                   out[key].count("/")):
            out[key] = info.filename
    return out


def read_csv_bytes(data: bytes) -> pd.DataFrame:
    """Parse GTFS CSV bytes: all strings, no NA conversion, header names stripped."""
    if not data.strip():
        return pd.DataFrame()
    df = pd.read_csv(
        io.BytesIO(data), dtype=str, keep_default_na=False, na_filter=False,
        encoding="utf-8-sig", encoding_errors="replace", skip_blank_lines=True,
    )
    df.columns = [str(c).strip().lstrip("\ufeff").strip('"').strip() for c in df.columns]
    df = df.loc[:, ~pd.Index(df.columns).duplicated()]
    return df


def _namespace(series: pd.Series, prefix: str) -> pd.Series:
    s = series.astype(str)
    return (prefix + s).where(s != "", "")


def read_feed(path: str | os.PathLike[str], name: str | None = None) -> RawFeed:
    """Read one GTFS zip into a :class:`RawFeed` (namespaced ids, ``_row`` columns).

    Raises :class:`MissingFileError` for a missing required file (agency, stops, routes,
    trips, stop_times, and calendar or calendar_dates), :class:`MissingColumnError` for a
    missing required column, :class:`InvalidValueError` for an unknown agency timezone.
    """
    path = Path(path)
    feed = name or feed_name_from_path(path)
    if ":" in feed:
        raise InvalidValueError("feed name must not contain ':'", feed=feed)
    tables: dict[str, pd.DataFrame] = {}
    with zipfile.ZipFile(path) as zf:
        members = _zip_members(zf)
        for file in REQUIRED_FILES:
            if file not in members:
                raise MissingFileError(f"required file {file}.txt is missing", feed=feed,
                                       file=f"{file}.txt")
        if "calendar" not in members and "calendar_dates" not in members:
            raise MissingFileError("neither calendar.txt nor calendar_dates.txt is present",
                                   feed=feed, file="calendar.txt")
        for file, member in members.items():
            tables[file] = read_csv_bytes(zf.read(member))
    prefix = feed + ":"
    for file, df in tables.items():
        if df.empty and len(df.columns) == 0:
            if file in REQUIRED_FILES:
                raise MissingColumnError(f"{file}.txt is empty (no header)", feed=feed,
                                         file=f"{file}.txt",
                                         field=REQUIRED_COLUMNS[file][0])
            tables[file] = df = pd.DataFrame(columns=list(REQUIRED_COLUMNS.get(file, ())))
        for col in REQUIRED_COLUMNS.get(file, ()):
            if col not in df.columns:
                raise MissingColumnError(f"required column {col!r} is missing", feed=feed,
                                         file=f"{file}.txt", field=col)
        for col in df.columns:
            if col in _STRIP_COLUMNS and len(df):
                df[col] = df[col].str.strip()
        for col in ID_COLUMNS.get(file, ()):
            if col in df.columns:
                df[col] = _namespace(df[col], prefix)
        df["_row"] = np.arange(2, len(df) + 2, dtype=np.int64)
        tables[file] = df.reset_index(drop=True)
    agency = tables["agency"]
    if len(agency) == 0:
        raise MissingColumnError("agency.txt has no rows", feed=feed, file="agency.txt",
                                 field="agency_timezone")
    if "agency_id" not in agency.columns:
        agency["agency_id"] = ""
    blank = agency["agency_id"] == ""
    agency.loc[blank, "agency_id"] = [f"{prefix}{i}" for i in np.flatnonzero(blank.to_numpy())]
    agency_tz: dict[str, str] = {}
    for aid, tz, row in zip(agency["agency_id"], agency["agency_timezone"], agency["_row"],
                            strict=True):
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidValueError(f"unknown timezone {tz!r}", feed=feed, file="agency.txt",
                                    row=int(row), field="agency_timezone") from exc
        agency_tz[aid] = tz
    return RawFeed(feed, path, tables, timezone=str(agency["agency_timezone"].iloc[0]),
                   agency_timezones=agency_tz)


def read_feeds(
    paths: Sequence[str | os.PathLike[str]],
    names: list[str] | None = None,
) -> list[RawFeed]:
    """Read several feeds; names default per :func:`feed_name_from_path` and must be unique."""
    names = list(names) if names is not None else [feed_name_from_path(p) for p in paths]
    if len(names) != len(paths):
        raise ValueError("names must have one entry per path")
    if len(set(names)) != len(names):
        raise InvalidValueError(f"feed names must be unique, got {names}")
    return [read_feed(p, n) for p, n in zip(paths, names, strict=True)]


# ---------------------------------------------------------------- value parsing helpers

TIME_BLANK = -1
TIME_BAD = -2


@njit(cache=True)
def _parse_times_bytes(buf: np.ndarray) -> np.ndarray:  # pragma: no cover - numba
    n, w = buf.shape
    out = np.empty(n, dtype=np.int32)
    for i in range(n):
        parts = np.zeros(3, dtype=np.int64)
        digits = np.zeros(3, dtype=np.int64)
        k = 0
        bad = False
        empty = True
        for j in range(w):
            c = buf[i, j]
            if c == 0:
                break
            if c == 32:
                continue
            empty = False
            if c == 58:  # ':'
                k += 1
                if k > 2:
                    bad = True
                    break
            elif 48 <= c <= 57:
                parts[k] = parts[k] * 10 + (c - 48)
                digits[k] += 1
            else:
                bad = True
                break
        if empty:
            out[i] = -1
        elif bad or k != 2 or digits[0] == 0 or digits[1] != 2 or digits[2] != 2 \
                or parts[1] > 59 or parts[2] > 59 or parts[0] > 200:
            out[i] = -2
        else:
            out[i] = parts[0] * 3600 + parts[1] * 60 + parts[2]
    return out


def parse_times(values: pd.Series | np.ndarray) -> np.ndarray:
    """Parse ``H:MM:SS`` / ``HH:MM:SS`` (hours may exceed 24) to int32 seconds.

    Blank -> ``TIME_BLANK`` (-1); malformed -> ``TIME_BAD`` (-2).
    """
    arr = np.asarray(values, dtype=str)
    if arr.size == 0:
        return np.empty(0, dtype=np.int32)
    b = np.char.encode(arr, "ascii", errors="replace") if arr.dtype.kind == "U" else arr
    b = b.astype("S12")
    buf = np.frombuffer(b.tobytes(), dtype=np.uint8).reshape(len(b), 12)
    return _parse_times_bytes(buf)


def to_int(values: pd.Series, default: int) -> tuple[np.ndarray, np.ndarray]:
    """Parse integers; blank -> ``default``. Returns (values int64, ok mask)."""
    s = values.astype(str)
    num = pd.to_numeric(s.where(s != "", str(default)), errors="coerce")
    ok = num.notna().to_numpy() & (num.fillna(0) % 1 == 0).to_numpy()
    return num.fillna(default).to_numpy().astype(np.int64), ok


def to_float(values: pd.Series) -> np.ndarray:
    """Parse floats; blank or malformed -> NaN."""
    return pd.to_numeric(values.astype(str), errors="coerce").to_numpy(dtype=np.float64)


def column(df: pd.DataFrame, name: str, default: str = "") -> pd.Series:
    """A column, or a column of ``default`` when the optional column is absent."""
    if name in df.columns:
        return df[name]
    return pd.Series([default] * len(df), index=df.index, dtype=object)


def check_report(report: ValidationReport | None) -> ValidationReport:
    """Return ``report`` or a fresh one."""
    return report if report is not None else ValidationReport()
