"""Service calendars: calendar.txt weekly patterns plus calendar_dates.txt exceptions.

A :class:`ServiceCalendar` holds, per feed, a boolean matrix ``days[service, day]`` over the
feed's date range. Exceptions are applied after the weekly pattern (type 1 adds the date,
type 2 removes it), as the GTFS reference specifies. Dates are service days (the day a trip's
times count from), not calendar days of the times themselves.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pandas only where feeds are read (build time), not when serving
    import pandas as pd

    from gtfs.load import RawFeed
    from gtfs.validate import ValidationReport

WEEKDAYS: tuple[str, ...] = (
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
)


@dataclass
class ServiceCalendar:
    """Active dates of each service of one feed as a bool matrix over consecutive days."""

    feed: str
    start_date: dt.date
    service_ids: list[str]
    days: np.ndarray  # bool [n_services, n_days]; days[i, j] -> service i runs on start+j

    @property
    def n_days(self) -> int:
        """Number of days covered by the matrix."""
        return int(self.days.shape[1])

    def index_of(self, service_id: str) -> int:
        """Row index of ``service_id`` (KeyError when unknown)."""
        return self.service_ids.index(service_id)

    def active_mask(self, date: dt.date) -> np.ndarray:
        """Bool mask over ``service_ids`` of services running on ``date``."""
        j = (date - self.start_date).days
        if j < 0 or j >= self.n_days:
            return np.zeros(len(self.service_ids), dtype=bool)
        return self.days[:, j].copy()

    def active_services(self, date: dt.date) -> set[str]:
        """The (namespaced) service_ids running on ``date``."""
        mask = self.active_mask(date)
        return {s for s, m in zip(self.service_ids, mask, strict=True) if m}

    def service_period(self) -> tuple[dt.date, dt.date] | None:
        """First and last date on which any service runs, or None if none ever runs."""
        any_day = self.days.any(axis=0) if self.days.size else np.zeros(0, dtype=bool)
        idx = np.flatnonzero(any_day)
        if idx.size == 0:
            return None
        return (self.start_date + dt.timedelta(days=int(idx[0])),
                self.start_date + dt.timedelta(days=int(idx[-1])))


def parse_dates(values: pd.Series) -> np.ndarray:
    """Parse ``YYYYMMDD`` strings to ``datetime64[D]``; malformed -> NaT."""
    import pandas as pd

    s = values.astype(str)
    ok = s.str.fullmatch(r"\d{8}")
    out = pd.to_datetime(s.where(ok, ""), format="%Y%m%d", errors="coerce")
    return out.to_numpy(dtype="datetime64[D]")


def build_calendar(feed: RawFeed, report: ValidationReport) -> ServiceCalendar:
    """Build one feed's calendar, recording bad rows (skipped) in ``report``."""
    from gtfs.load import to_int

    name = feed.name
    cal = feed.tables.get("calendar")
    cd = feed.tables.get("calendar_dates")
    rows_c: list[tuple[str, np.datetime64, np.datetime64, np.ndarray]] = []
    seen: set[str] = set()
    if cal is not None and len(cal):
        start = parse_dates(cal["start_date"])
        end = parse_dates(cal["end_date"])
        flags = np.zeros((len(cal), 7), dtype=np.int64)
        ok = np.ones(len(cal), dtype=bool)
        for k, wd in enumerate(WEEKDAYS):
            v, good = to_int(cal[wd], -1)
            good &= (v == 0) | (v == 1)
            bad = ~good & ok
            if bad.any():
                report.error(name, "calendar", "weekday flag must be 0 or 1",
                             rows=cal["_row"].to_numpy()[bad], field=wd)
            ok &= good
            flags[:, k] = v
        for fld, arr in (("start_date", start), ("end_date", end)):
            bad = np.isnat(arr) & ok
            if bad.any():
                report.error(name, "calendar", "date must be YYYYMMDD", rows=cal["_row"][bad],
                             field=fld)
            ok &= ~np.isnat(arr)
        bad = ok & (end < start)
        if bad.any():
            report.error(name, "calendar", "end_date before start_date",
                         rows=cal["_row"][bad], field="end_date")
        ok &= ~bad
        blank = (cal["service_id"] == "").to_numpy()
        if (blank & ok).any():
            report.error(name, "calendar", "blank service_id", rows=cal["_row"][blank & ok],
                         field="service_id")
        ok &= ~blank
        for i in np.flatnonzero(ok):
            sid = str(cal["service_id"].iat[int(i)])
            if sid in seen:
                report.error(name, "calendar", "duplicate service_id",
                             rows=[cal["_row"].iat[int(i)]], field="service_id")
                continue
            seen.add(sid)
            rows_c.append((sid, start[i], end[i], flags[i].astype(bool)))
    exc: list[tuple[str, np.datetime64, int]] = []
    if cd is not None and len(cd):
        dates = parse_dates(cd["date"])
        et, good = to_int(cd["exception_type"], -1)
        okd = ~np.isnat(dates)
        if (~okd).any():
            report.error(name, "calendar_dates", "date must be YYYYMMDD",
                         rows=cd["_row"][~okd], field="date")
        bad_t = okd & ~(good & ((et == 1) | (et == 2)))
        if bad_t.any():
            report.error(name, "calendar_dates", "exception_type must be 1 or 2",
                         rows=cd["_row"][bad_t], field="exception_type")
        blank = (cd["service_id"] == "").to_numpy() & okd & ~bad_t
        if blank.any():
            report.error(name, "calendar_dates", "blank service_id", rows=cd["_row"][blank],
                         field="service_id")
        keep = okd & ~bad_t & ~blank
        exc = list(zip(cd["service_id"].to_numpy()[keep], dates[keep], et[keep], strict=True))
    all_dates = [r[1] for r in rows_c] + [r[2] for r in rows_c] + [e[1] for e in exc]
    service_ids = [r[0] for r in rows_c]
    for sid, _d, _t in exc:
        if sid not in seen:
            seen.add(sid)
            service_ids.append(sid)
    if not all_dates:
        return ServiceCalendar(name, dt.date(2000, 1, 1), service_ids,
                               np.zeros((len(service_ids), 0), dtype=bool))
    d0 = min(all_dates)
    d1 = max(all_dates)
    n_days = int((d1 - d0).astype(np.int64)) + 1
    days = np.zeros((len(service_ids), n_days), dtype=bool)
    index = {s: i for i, s in enumerate(service_ids)}
    day_range = np.arange(n_days)
    # 1970-01-01 was a Thursday (weekday 3 with Monday = 0)
    weekday = ((d0.astype(np.int64) + day_range) + 3) % 7
    for sid, a, b, wflags in rows_c:
        i0 = int((a - d0).astype(np.int64))
        i1 = int((b - d0).astype(np.int64))
        sl = slice(i0, i1 + 1)
        days[index[sid], sl] = wflags[weekday[sl]]
    for sid, d, t in exc:
        days[index[sid], int((d - d0).astype(np.int64))] = t == 1
    start_date = dt.date.fromisoformat(str(d0))
    return ServiceCalendar(name, start_date, service_ids, days)


def pack_service_days(
    calendars: list[ServiceCalendar],
) -> tuple[dt.date, int, list[str], np.ndarray]:
    """Merge calendars onto one date axis and pack the bits.

    Returns ``(start_date, n_days, service_ids, bits)`` where ``bits`` is uint8
    ``[n_services, ceil(n_days / 8)]`` packed little-endian (``np.packbits(...,
    bitorder="little")``): bit ``j`` of row ``i`` is set when service ``i`` runs on
    ``start_date + j`` days.
    """
    with_days = [c for c in calendars if c.n_days > 0]
    if not with_days:
        all_ids = [s for c in calendars for s in c.service_ids]
        return dt.date(2000, 1, 1), 0, all_ids, np.zeros((len(all_ids), 0), dtype=np.uint8)
    start = min(c.start_date for c in with_days)
    end = max(c.start_date + dt.timedelta(days=c.n_days - 1) for c in with_days)
    n_days = (end - start).days + 1
    ids: list[str] = []
    rows: list[np.ndarray] = []
    for c in calendars:
        off = (c.start_date - start).days
        for i, sid in enumerate(c.service_ids):
            row = np.zeros(n_days, dtype=bool)
            if c.n_days:
                row[off: off + c.n_days] = c.days[i]
            rows.append(row)
            ids.append(sid)
    mat = np.array(rows, dtype=bool).reshape(len(rows), n_days)
    return start, n_days, ids, np.packbits(mat, axis=1, bitorder="little")


def unpack_day(bits: np.ndarray, start_date: dt.date, n_days: int, date: dt.date) -> np.ndarray:
    """Bool mask over services active on ``date`` from a packed bitmap (see above)."""
    j = (date - start_date).days
    if j < 0 or j >= n_days:
        return np.zeros(bits.shape[0], dtype=bool)
    return ((bits[:, j >> 3] >> (j & 7)) & 1).astype(bool)
