"""Compile one or several static GTFS feeds into a :class:`~gtfs.timetable.Timetable`.

Steps: read (namespaced, :mod:`gtfs.load`) -> clean agencies, stops, routes, calendars, trips,
shapes -> clean stop_times (:mod:`gtfs.stop_times`, incl. interpolation) -> expand
frequencies.txt into concrete trips -> group trips into FIFO patterns -> transfers.txt -> flat
arrays. Bad rows are skipped and counted in the returned :class:`ValidationReport`.

Frequencies: every row ``(start_time, end_time, headway_secs)`` yields trips departing the
first stop at ``start_time + k * headway_secs`` for all ``k`` with departure ``< end_time``
(one trip when ``start_time == end_time``), with the template trip's stop-time offsets. Both
``exact_times=1`` and ``exact_times=0`` are expanded the same way; the latter are flagged
``trip_frequency == 2`` (times are nominal; a planner may add half a headway of waiting).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypedDict

import numpy as np
import pandas as pd

from gtfs.calendar import build_calendar, pack_service_days
from gtfs.load import RawFeed, column, parse_times, read_feeds, to_float, to_int
from gtfs.shapes import ShapeTable, build_shapes
from gtfs.stop_times import CleanStopTimes, clean_stop_times
from gtfs.timetable import ARRAY_DTYPES, FREQ_EXACT, FREQ_HEADWAY, FREQ_NONE, Timetable
from gtfs.validate import ValidationReport

ProgressCallback = Callable[[str, float], None]

#: Basic GTFS route types.
BASIC_ROUTE_TYPES = frozenset(range(13))
#: Extended route types (Google's hierarchical list): hundreds group -> highest sub-code.
_EXTENDED_GROUPS = {1: 17, 2: 9, 4: 5, 7: 16, 8: 0, 9: 6, 10: 0, 11: 0, 12: 0, 13: 7, 14: 0,
                    15: 7, 16: 4, 17: 2}
_MODE_OF_GROUP = {1: "rail", 2: "coach", 4: "subway", 7: "bus", 8: "trolleybus", 9: "tram",
                  10: "ferry", 11: "air", 12: "ferry", 13: "gondola", 14: "funicular",
                  15: "taxi", 16: "taxi", 17: "other"}
_BASIC_MODES = ("tram", "subway", "rail", "bus", "ferry", "cable_tram", "gondola",
                "funicular", "", "", "", "trolleybus", "monorail")


def is_valid_route_type(code: int) -> bool:
    """True for basic (0-7, 11, 12) and extended (100-1702 hierarchical) route types."""
    if code in (0, 1, 2, 3, 4, 5, 6, 7, 11, 12):
        return True
    group, sub = divmod(code, 100)
    return code >= 100 and group in _EXTENDED_GROUPS and sub <= _EXTENDED_GROUPS[group]


def route_mode(code: int) -> str:
    """A coarse mode name ("bus", "tram", "rail", ...) for a basic or extended route type."""
    if 0 <= code < len(_BASIC_MODES) and _BASIC_MODES[code]:
        return _BASIC_MODES[code]
    return _MODE_OF_GROUP.get(code // 100, "other")


def _noop(_stage: str, _frac: float) -> None:
    return None


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------- tables


def _agencies(feeds: list[RawFeed]) -> pd.DataFrame:
    out = []
    for fi, feed in enumerate(feeds):
        a = feed.tables["agency"]
        out.append(pd.DataFrame({"agency_id": a["agency_id"], "agency_name": a["agency_name"],
                                 "agency_timezone": a["agency_timezone"], "feed": fi}))
    return pd.concat(out, ignore_index=True)


def _stops(feeds: list[RawFeed], report: ValidationReport) -> tuple[pd.DataFrame, pd.DataFrame,
                                                                     dict[str, list[int]]]:
    """Routable stops, stations, and station_id -> routable child stop indices."""
    frames = []
    for fi, feed in enumerate(feeds):
        df = feed.tables["stops"]
        name = feed.name
        rows = df["_row"].to_numpy()
        lat = to_float(column(df, "stop_lat"))
        lon = to_float(column(df, "stop_lon"))
        lt, lt_ok = to_int(column(df, "location_type", "0"), 0)
        wc, wc_ok = to_int(column(df, "wheelchair_boarding", "0"), 0)
        ok = np.ones(len(df), dtype=bool)
        bad_lt = ~lt_ok | ~np.isin(lt, (0, 1, 2, 3, 4))
        if bad_lt.any():
            report.error(name, "stops", "invalid location_type", rows=rows[bad_lt],
                         field="location_type")
        ok &= ~bad_lt
        blank = (df["stop_id"] == "").to_numpy() & ok
        if blank.any():
            report.error(name, "stops", "blank stop_id", rows=rows[blank], field="stop_id")
        ok &= ~blank
        needs_xy = np.isin(lt, (0, 1, 2))
        bad_xy = needs_xy & (np.isnan(lat) | np.isnan(lon) | (np.abs(lat) > 90) |
                             (np.abs(lon) > 180)) & ok
        if bad_xy.any():
            report.error(name, "stops", "stop without valid coordinates (stop skipped)",
                         rows=rows[bad_xy], field="stop_lat")
        ok &= ~bad_xy
        dup = df["stop_id"].duplicated().to_numpy() & ok
        if dup.any():
            report.error(name, "stops", "duplicate stop_id", rows=rows[dup], field="stop_id")
        ok &= ~dup
        bad_wc = ~wc_ok | ~np.isin(wc, (0, 1, 2))
        if (bad_wc & ok).any():
            report.warning(name, "stops", "invalid wheelchair_boarding, using 0",
                           rows=rows[bad_wc & ok], field="wheelchair_boarding")
        wc = np.where(bad_wc, 0, wc)
        frames.append(pd.DataFrame({
            "stop_id": df["stop_id"], "stop_name": column(df, "stop_name"),
            "lat": lat, "lon": lon, "location_type": lt, "wheelchair": wc,
            "parent_station": column(df, "parent_station"), "feed": fi,
        })[ok])
    allstops = pd.concat(frames, ignore_index=True)
    stations = allstops[allstops["location_type"] == 1].reset_index(drop=True)
    routable = allstops[allstops["location_type"] == 0].reset_index(drop=True)
    st_index = {s: i for i, s in enumerate(stations["stop_id"])}
    parent = routable["parent_station"].map(st_index).fillna(-1).astype(np.int64).to_numpy()
    # wheelchair_boarding: 0 on a child stop inherits the parent station's value
    st_wc = stations["wheelchair"].to_numpy()
    wc = routable["wheelchair"].to_numpy().copy()
    inherit = (wc == 0) & (parent >= 0)
    wc[inherit] = st_wc[parent[inherit]]
    routable["wheelchair"] = wc
    routable["station"] = parent
    children: dict[str, list[int]] = {}
    station_ids: list[str] = stations["stop_id"].tolist()
    for i, p in enumerate(parent):
        if p >= 0:
            children.setdefault(station_ids[p], []).append(i)
    return routable, stations, children


def _routes(feeds: list[RawFeed], agency_index: dict[str, int],
            report: ValidationReport) -> pd.DataFrame:
    frames = []
    for feed in feeds:
        df = feed.tables["routes"]
        name = feed.name
        rows = df["_row"].to_numpy()
        rt, rt_ok = to_int(df["route_type"], -1)
        valid_rt = rt_ok & np.array([is_valid_route_type(int(v)) for v in rt], dtype=bool)
        ok = valid_rt.copy()
        if (~valid_rt).any():
            report.error(name, "routes", "unknown route_type (route skipped)",
                         rows=rows[~valid_rt], field="route_type")
        aid = column(df, "agency_id").to_numpy().astype(object)
        feed_agencies = feed.tables["agency"]["agency_id"].tolist()
        blank = aid == ""
        if blank.any():
            if len(feed_agencies) == 1:
                aid[blank] = feed_agencies[0]
            else:
                report.error(name, "routes", "agency_id required with several agencies",
                             rows=rows[blank & ok], field="agency_id")
                ok &= ~blank
        agency = np.array([agency_index.get(a, -1) for a in aid], dtype=np.int64)
        unknown = (agency < 0) & ok
        if unknown.any():
            report.error(name, "routes", "unknown agency_id (route skipped)", rows=rows[unknown],
                         field="agency_id")
        ok &= agency >= 0
        dup = df["route_id"].duplicated().to_numpy() | (df["route_id"] == "").to_numpy()
        if (dup & ok).any():
            report.error(name, "routes", "duplicate or blank route_id", rows=rows[dup & ok],
                         field="route_id")
        ok &= ~dup
        frames.append(pd.DataFrame({
            "route_id": df["route_id"], "short": column(df, "route_short_name"),
            "long": column(df, "route_long_name"), "type": rt, "agency": agency,
            "color": column(df, "route_color"), "text_color": column(df, "route_text_color"),
        })[ok])
    return pd.concat(frames, ignore_index=True)


def _trips(feeds: list[RawFeed], route_index: dict[str, int], service_index: dict[str, int],
           shape_index: dict[str, int], report: ValidationReport) -> pd.DataFrame:
    frames = []
    for fi, feed in enumerate(feeds):
        df = feed.tables["trips"]
        name = feed.name
        rows = df["_row"].to_numpy()
        route = df["route_id"].map(route_index).fillna(-1).astype(np.int64).to_numpy()
        service = df["service_id"].map(service_index).fillna(-1).astype(np.int64).to_numpy()
        ok = np.ones(len(df), dtype=bool)
        for mask, msg, fld in (
            ((df["trip_id"] == "").to_numpy() | df["trip_id"].duplicated().to_numpy(),
             "duplicate or blank trip_id", "trip_id"),
            (route < 0, "unknown or skipped route_id (trip skipped)", "route_id"),
            (service < 0, "service_id not in calendar/calendar_dates (trip skipped)",
             "service_id"),
        ):
            bad = mask & ok
            if bad.any():
                report.error(name, "trips", msg, rows=rows[bad], field=fld)
            ok &= ~mask
        shape_col = column(df, "shape_id")
        shape = shape_col.map(shape_index).fillna(-1).astype(np.int64).to_numpy()
        missing = (shape < 0) & (shape_col != "").to_numpy() & ok
        if missing.any():
            report.warning(name, "trips", "unknown shape_id, using straight lines",
                           rows=rows[missing], field="shape_id")
        wc, wc_ok = to_int(column(df, "wheelchair_accessible", "0"), 0)
        bad_wc = ~wc_ok | ~np.isin(wc, (0, 1, 2))
        if (bad_wc & ok).any():
            report.warning(name, "trips", "invalid wheelchair_accessible, using 0",
                           rows=rows[bad_wc & ok], field="wheelchair_accessible")
        direction, d_ok = to_int(column(df, "direction_id", "-1"), -1)
        direction = np.where(d_ok & np.isin(direction, (0, 1)), direction, -1)
        frames.append(pd.DataFrame({
            "trip_id": df["trip_id"], "route": route, "service": service, "shape": shape,
            "wheelchair": np.where(bad_wc, 0, wc), "direction": direction,
            "headsign": column(df, "trip_headsign"),
            "short_name": column(df, "trip_short_name"), "feed": fi,
        })[ok])
    return pd.concat(frames, ignore_index=True)


def _frequencies(feeds: list[RawFeed], trip_index: dict[str, int],
                 report: ValidationReport) -> dict[int, list[tuple[int, int, int, int]]]:
    """trip index -> [(start_s, end_s, headway_s, exact_times)]"""
    out: dict[int, list[tuple[int, int, int, int]]] = {}
    for feed in feeds:
        df = feed.tables.get("frequencies")
        if df is None or not len(df):
            continue
        rows = df["_row"].to_numpy()
        trip = df["trip_id"].map(trip_index).fillna(-1).astype(np.int64).to_numpy()
        start = parse_times(df["start_time"].to_numpy())
        end = parse_times(df["end_time"].to_numpy())
        head, h_ok = to_int(df["headway_secs"], -1)
        exact, e_ok = to_int(column(df, "exact_times", "0"), 0)
        ok = np.ones(len(df), dtype=bool)
        for mask, msg, fld in (
            (trip < 0, "unknown or skipped trip_id", "trip_id"),
            (start < 0, "malformed start_time", "start_time"),
            (end < 0, "malformed end_time", "end_time"),
            (end < start, "end_time before start_time", "end_time"),
            (~h_ok | (head <= 0), "headway_secs must be a positive integer", "headway_secs"),
            (~e_ok | ~np.isin(exact, (0, 1)), "exact_times must be 0 or 1", "exact_times"),
        ):
            bad = mask & ok
            if bad.any():
                report.error(feed.name, "frequencies", msg, rows=rows[bad], field=fld)
            ok &= ~mask
        for i in np.flatnonzero(ok):
            out.setdefault(int(trip[i]), []).append(
                (int(start[i]), int(end[i]), int(head[i]), int(exact[i])))
    return out


def _transfers(feeds: list[RawFeed], stop_index: dict[str, int],
               children: dict[str, list[int]], n_stops: int,
               report: ValidationReport) -> tuple[np.ndarray, ...]:
    pairs: dict[tuple[int, int], tuple[int, int]] = {}
    for feed in feeds:
        df = feed.tables.get("transfers")
        if df is None or not len(df):
            continue
        rows = df["_row"].to_numpy()
        kind, k_ok = to_int(df["transfer_type"], 0)
        mtt, m_ok = to_int(column(df, "min_transfer_time"), -1)
        specific = np.zeros(len(df), dtype=bool)
        for c in ("from_route_id", "to_route_id", "from_trip_id", "to_trip_id"):
            if c in df.columns:
                specific |= (df[c] != "").to_numpy()
        ok = np.ones(len(df), dtype=bool)
        for mask, msg, fld in (
            (~k_ok | ~np.isin(kind, (0, 1, 2, 3)),
             "transfer_type must be 0-3 (in-seat types 4/5 not supported)", "transfer_type"),
            (specific, "route/trip-specific transfers are not supported", "from_trip_id"),
            (~m_ok | ((kind == 2) & (mtt < 0)) | (mtt > 86400),
             "min_transfer_time required (non-negative seconds) for transfer_type 2",
             "min_transfer_time"),
        ):
            bad = mask & ok
            if bad.any():
                report.error(feed.name, "transfers", msg, rows=rows[bad], field=fld)
            ok &= ~mask
        for i in np.flatnonzero(ok):
            ends = []
            for fld in ("from_stop_id", "to_stop_id"):
                sid = str(df[fld].iat[int(i)])
                if sid in stop_index:
                    ends.append([stop_index[sid]])
                elif sid in children:
                    ends.append(children[sid])
                else:
                    ends.append([])
            if not ends[0] or not ends[1]:
                report.error(feed.name, "transfers", "unknown stop_id", rows=[rows[i]],
                             field="from_stop_id" if not ends[0] else "to_stop_id")
                continue
            for a in ends[0]:
                for b in ends[1]:
                    pairs[(a, b)] = (int(kind[i]), max(int(mtt[i]), 0))
    if not pairs:
        return (np.zeros(n_stops + 1, dtype=np.int64), np.zeros(0, dtype=np.int32),
                np.zeros(0, dtype=np.int8), np.zeros(0, dtype=np.int32))
    keys = np.array(sorted(pairs), dtype=np.int64)
    vals = np.array([pairs[(int(a), int(b))] for a, b in keys], dtype=np.int64)
    offsets = np.searchsorted(keys[:, 0], np.arange(n_stops + 1)).astype(np.int64)
    return offsets, keys[:, 1].astype(np.int32), vals[:, 0].astype(np.int8), \
        vals[:, 1].astype(np.int32)


# --------------------------------------------------------------------------- patterns


class _Patterns(TypedDict):
    """Trip instances and the patterns that group them (:func:`_build_patterns`)."""

    src: np.ndarray  # int64 [n_instances]: source trip of each instance
    shift: np.ndarray  # int64 [n_instances]: seconds added to the source trip's times
    kind: np.ndarray  # int8 [n_instances]: FREQ_NONE / FREQ_EXACT / FREQ_HEADWAY
    inst_id: list[str]  # trip_id of each instance (frequency instances get "@HH:MM:SS")
    order: list[int]  # pattern indices in output order (route, first departure)
    route: list[int]  # per pattern
    stops: list[np.ndarray]  # per pattern: stop indices
    pick: list[np.ndarray]  # per pattern: pickup allowed per position
    drop: list[np.ndarray]  # per pattern: drop-off allowed per position
    trips: list[np.ndarray]  # per pattern: instance indices in FIFO order
    arr: list[np.ndarray]  # per pattern: int64 [n_trips, n_stops] arrival seconds
    dep: list[np.ndarray]  # per pattern: int64 [n_trips, n_stops] departure seconds
    seq: list[np.ndarray]  # per pattern: int64 [n_trips, n_stops] GTFS stop_sequence


def _build_patterns(
    st: CleanStopTimes, trips: pd.DataFrame, freq: dict[int, list[tuple[int, int, int, int]]],
    report: ValidationReport,
) -> _Patterns:
    """Expand frequencies, group trips by (stops, pickup, dropoff), split for FIFO."""
    n_src = len(trips)
    src_ids = trips["trip_id"].to_numpy()
    trip_route = trips["route"].to_numpy()
    # trip instances: (source trip, shift_s, frequency kind)
    inst_src: list[int] = []
    inst_shift: list[int] = []
    inst_kind: list[int] = []
    inst_id: list[str] = []
    n_expanded = 0
    for t in range(n_src):
        a, b = st.trip_start[t], st.trip_end[t]
        if b - a < 2:
            continue
        if t in freq:
            first_dep = int(st.departure_s[a])
            for start, end, head, exact in freq[t]:
                deps = np.arange(start, end, head) if end > start else np.array([start])
                for d in deps:
                    inst_src.append(t)
                    inst_shift.append(int(d) - first_dep)
                    inst_kind.append(FREQ_EXACT if exact == 1 else FREQ_HEADWAY)
                    h, r = divmod(int(d), 3600)
                    inst_id.append(f"{src_ids[t]}@{h:02d}:{r // 60:02d}:{r % 60:02d}")
                    n_expanded += 1
        else:
            inst_src.append(t)
            inst_shift.append(0)
            inst_kind.append(FREQ_NONE)
            inst_id.append(str(src_ids[t]))
    if freq:
        report.note(f"frequencies.txt: {len(freq)} template trips expanded into "
                    f"{n_expanded} trips")
    src = np.asarray(inst_src, dtype=np.int64)
    shift = np.asarray(inst_shift, dtype=np.int64)
    # group by key
    groups: dict[bytes, list[int]] = {}
    for k, t in enumerate(src):
        a, b = st.trip_start[t], st.trip_end[t]
        key = (st.stop[a:b].tobytes() + b"|" + st.pickup[a:b].tobytes() +
               st.dropoff[a:b].tobytes() + b"|" + str(int(trip_route[t])).encode())
        groups.setdefault(key, []).append(k)
    pat_route: list[int] = []
    pat_stops: list[np.ndarray] = []
    pat_pick: list[np.ndarray] = []
    pat_drop: list[np.ndarray] = []
    pat_trips: list[np.ndarray] = []  # instance indices, sorted
    pat_arr: list[np.ndarray] = []
    pat_dep: list[np.ndarray] = []
    pat_seq: list[np.ndarray] = []
    n_split = 0
    for members in groups.values():
        m = np.asarray(members, dtype=np.int64)
        t0 = src[m[0]]
        a0, b0 = st.trip_start[t0], st.trip_end[t0]
        n = b0 - a0
        base = st.trip_start[src[m]]
        idx = base[:, None] + np.arange(n)[None, :]
        arr = st.arrival_s[idx].astype(np.int64) + shift[m][:, None]
        dep = st.departure_s[idx].astype(np.int64) + shift[m][:, None]
        seq = st.stop_sequence[idx].astype(np.int64)
        order = np.lexsort(tuple(arr[:, j] for j in range(n - 1, -1, -1)) +
                           tuple(dep[:, j] for j in range(n - 1, -1, -1)))
        m, arr, dep, seq = m[order], arr[order], dep[order], seq[order]
        subs: list[list[int]] = []
        last_arr: list[np.ndarray] = []
        last_dep: list[np.ndarray] = []
        for r in range(len(m)):
            for s in range(len(subs)):
                if (arr[r] >= last_arr[s]).all() and (dep[r] >= last_dep[s]).all():
                    subs[s].append(r)
                    last_arr[s], last_dep[s] = arr[r], dep[r]
                    break
            else:
                subs.append([r])
                last_arr.append(arr[r])
                last_dep.append(dep[r])
        n_split += len(subs) - 1
        for sub in subs:
            sel = np.asarray(sub)
            pat_route.append(int(trip_route[t0]))
            pat_stops.append(st.stop[a0:b0])
            pk = st.pickup[a0:b0].copy()
            dr = st.dropoff[a0:b0].copy()
            pk[-1] = False
            dr[0] = False
            pat_pick.append(pk)
            pat_drop.append(dr)
            pat_trips.append(m[sel])
            pat_arr.append(arr[sel])
            pat_dep.append(dep[sel])
            pat_seq.append(seq[sel])
    if n_split:
        report.note(f"{n_split} patterns split so that no trip overtakes another")
    # deterministic order: by route, then first departure
    pat_order = sorted(range(len(pat_route)),
                       key=lambda p: (pat_route[p], int(pat_dep[p][0, 0]), p))
    return {
        "src": src, "shift": shift, "kind": np.asarray(inst_kind, dtype=np.int8),
        "inst_id": inst_id, "order": pat_order, "route": pat_route, "stops": pat_stops,
        "pick": pat_pick, "drop": pat_drop, "trips": pat_trips, "arr": pat_arr, "dep": pat_dep,
        "seq": pat_seq,
    }


# --------------------------------------------------------------------------- main entry


def compile_feeds(
    paths: Sequence[str | os.PathLike[str]],
    names: Sequence[str] | None = None,
    progress: ProgressCallback | None = None,
    max_examples: int = 5,
) -> tuple[Timetable, ValidationReport]:
    """Compile static GTFS zips into one :class:`Timetable`.

    ``paths``: GTFS zip files; ``names``: feed names for namespacing (default from file
    names, see :mod:`gtfs.load`); ``progress(stage, fraction)`` is called as stages finish.
    Returns the timetable and the validation report. Raises ``GtfsError`` subclasses for
    fatal problems (missing file/column, unknown timezone).
    """
    t_start = time.perf_counter()
    cb = progress or _noop
    report = ValidationReport(max_examples=max_examples)
    paths = [Path(p) for p in paths]
    feeds = read_feeds(paths, list(names) if names is not None else None)
    cb("read", 0.15)
    agencies = _agencies(feeds)
    agency_index = {a: i for i, a in enumerate(agencies["agency_id"])}
    stops, stations, children = _stops(feeds, report)
    stop_index = {s: i for i, s in enumerate(stops["stop_id"])}
    stop_lat = stops["lat"].to_numpy(dtype=np.float64)
    stop_lon = stops["lon"].to_numpy(dtype=np.float64)
    routes = _routes(feeds, agency_index, report)
    route_index = {r: i for i, r in enumerate(routes["route_id"])}
    calendars = [build_calendar(f, report) for f in feeds]
    cal_start, n_days, service_ids, service_bits = pack_service_days(calendars)
    service_index = {s: i for i, s in enumerate(service_ids)}
    service_feed = np.concatenate([np.full(len(c.service_ids), i, dtype=np.int16)
                                   for i, c in enumerate(calendars)]) if service_ids else \
        np.zeros(0, dtype=np.int16)
    shapes: ShapeTable = build_shapes(feeds, report)
    shape_index = {s: i for i, s in enumerate(shapes.shape_ids)}
    trips = _trips(feeds, route_index, service_index, shape_index, report)
    trip_index = {t: i for i, t in enumerate(trips["trip_id"])}
    cb("tables", 0.3)
    st = clean_stop_times([(f.name, f.tables["stop_times"]) for f in feeds], trip_index,
                          trips["shape"].to_numpy(), stop_index, stop_lat, stop_lon, shapes,
                          report)
    cb("stop_times", 0.6)
    freq = _frequencies(feeds, trip_index, report)
    pats = _build_patterns(st, trips, freq, report)
    cb("patterns", 0.8)

    n_stops = len(stops)
    order = pats["order"]
    n_pat = len(order)
    pattern_route = np.array([pats["route"][p] for p in order], dtype=np.int32)
    stop_lists = [pats["stops"][p] for p in order]
    lens = np.array([len(s) for s in stop_lists], dtype=np.int64)
    pattern_stop_offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    pattern_stops = (np.concatenate(stop_lists) if n_pat else np.zeros(0)).astype(np.int32)
    pattern_pickup = np.concatenate([pats["pick"][p] for p in order]) if n_pat else \
        np.zeros(0, dtype=bool)
    pattern_dropoff = np.concatenate([pats["drop"][p] for p in order]) if n_pat else \
        np.zeros(0, dtype=bool)
    ntr = np.array([len(pats["trips"][p]) for p in order], dtype=np.int64)
    pattern_trip_offsets = np.concatenate([[0], np.cumsum(ntr)]).astype(np.int64)
    pattern_st_offsets = np.concatenate([[0], np.cumsum(ntr * lens)]).astype(np.int64)
    st_arr = np.concatenate([pats["arr"][p].ravel() for p in order]) if n_pat else np.zeros(0)
    st_dep = np.concatenate([pats["dep"][p].ravel() for p in order]) if n_pat else np.zeros(0)
    st_seq = np.concatenate([pats["seq"][p].ravel() for p in order]) if n_pat else np.zeros(0)
    if st_arr.size and (st_arr.max() > np.iinfo(np.int32).max // 2):
        report.warning(feeds[0].name, "stop_times", "times out of range")
    inst = np.concatenate([pats["trips"][p] for p in order]).astype(np.int64) if n_pat else \
        np.zeros(0, dtype=np.int64)
    n_trips = len(inst)
    src = pats["src"][inst]
    trip_pattern = np.repeat(np.arange(n_pat, dtype=np.int32), ntr)
    trip_start_s = np.concatenate([pats["dep"][p][:, 0] for p in order]) if n_pat else \
        np.zeros(0, dtype=np.int32)
    # shape distances per (pattern, shape)
    trip_shape = trips["shape"].to_numpy()[src].astype(np.int32)
    trip_sd_off = np.full(n_trips, -1, dtype=np.int64)
    sd_parts: list[np.ndarray] = []
    sd_index: dict[tuple[int, int], int] = {}
    sd_len = 0
    for k in range(n_trips):
        sh = int(trip_shape[k])
        if sh < 0:
            continue
        key = (int(trip_pattern[k]), sh)
        off = sd_index.get(key)
        if off is None:
            a = st.trip_start[src[k]]
            vals = st.shape_dist_m[a: a + lens[trip_pattern[k]]]
            off = sd_len
            sd_index[key] = off
            sd_parts.append(vals)
            sd_len += len(vals)
        trip_sd_off[k] = off
    shape_stop_dist_m = np.concatenate(sd_parts).astype(np.float32) if sd_parts else \
        np.zeros(0, dtype=np.float32)
    # stop -> (pattern, pos) CSR
    sp_stop = pattern_stops.astype(np.int64)
    sp_pat = np.repeat(np.arange(n_pat, dtype=np.int64), lens)
    sp_pos = np.arange(len(pattern_stops), dtype=np.int64) - np.repeat(pattern_stop_offsets[:-1],
                                                                       lens)
    o = np.lexsort((sp_pos, sp_pat, sp_stop))
    stop_pattern_offsets = np.searchsorted(sp_stop[o], np.arange(n_stops + 1)).astype(np.int64)
    transfer = _transfers(feeds, stop_index, children, n_stops, report)
    trip_frame = trips.iloc[src]
    route_agency = routes["agency"].to_numpy()
    arrays = {
        "stop_lat": stop_lat, "stop_lon": stop_lon,
        "stop_wheelchair": stops["wheelchair"].to_numpy(),
        "stop_station": stops["station"].to_numpy(), "stop_feed": stops["feed"].to_numpy(),
        "station_lat": stations["lat"].to_numpy(), "station_lon": stations["lon"].to_numpy(),
        "agency_feed": agencies["feed"].to_numpy(),
        "route_type": routes["type"].to_numpy(), "route_agency": route_agency,
        "pattern_route": pattern_route, "pattern_stop_offsets": pattern_stop_offsets,
        "pattern_stops": pattern_stops, "pattern_pickup": pattern_pickup,
        "pattern_dropoff": pattern_dropoff, "pattern_trip_offsets": pattern_trip_offsets,
        "pattern_st_offsets": pattern_st_offsets, "st_arrival_s": st_arr,
        "st_departure_s": st_dep, "st_stop_sequence": st_seq, "trip_pattern": trip_pattern,
        "trip_route": trip_frame["route"].to_numpy(),
        "trip_service": trip_frame["service"].to_numpy(),
        "trip_wheelchair": trip_frame["wheelchair"].to_numpy(),
        "trip_direction": trip_frame["direction"].to_numpy(), "trip_shape": trip_shape,
        "trip_shape_dist_offset": trip_sd_off, "trip_start_s": trip_start_s,
        "trip_frequency": pats["kind"][inst], "shape_stop_dist_m": shape_stop_dist_m,
        "stop_pattern_offsets": stop_pattern_offsets, "stop_patterns": sp_pat[o],
        "stop_pattern_pos": sp_pos[o], "transfer_offsets": transfer[0],
        "transfer_to": transfer[1], "transfer_kind": transfer[2], "transfer_min_s": transfer[3],
        "service_feed": service_feed, "service_days": service_bits,
        "shape_offsets": shapes.offsets, "shape_lon": shapes.lon, "shape_lat": shapes.lat,
        "shape_dist_m": shapes.dist_m,
    }
    arrays = {k: np.ascontiguousarray(np.asarray(v).astype(ARRAY_DTYPES[k]))
              for k, v in arrays.items()}
    strings = {
        "feed_name": [f.name for f in feeds],
        "stop_id": stops["stop_id"].tolist(), "stop_name": stops["stop_name"].tolist(),
        "station_id": stations["stop_id"].tolist(), "station_name": stations["stop_name"].tolist(),
        "agency_id": agencies["agency_id"].tolist(),
        "agency_name": agencies["agency_name"].tolist(),
        "agency_timezone": agencies["agency_timezone"].tolist(),
        "route_id": routes["route_id"].tolist(), "route_short_name": routes["short"].tolist(),
        "route_long_name": routes["long"].tolist(), "route_color": routes["color"].tolist(),
        "route_text_color": routes["text_color"].tolist(),
        "trip_id": [pats["inst_id"][i] for i in inst],
        "trip_gtfs_id": trip_frame["trip_id"].tolist(),
        "trip_headsign": trip_frame["headsign"].tolist(),
        "trip_short_name": trip_frame["short_name"].tolist(),
        "service_id": list(service_ids), "shape_id": list(shapes.shape_ids),
    }
    feeds_meta = []
    for fi, (f, c) in enumerate(zip(feeds, calendars, strict=True)):
        period = c.service_period()
        feeds_meta.append({
            "name": f.name, "path": str(f.path), "sha256": _file_sha256(f.path),
            "timezone": f.timezone, "index": fi,
            "service_period": [period[0].isoformat(), period[1].isoformat()] if period else None,
        })
    meta = {
        "calendar_start": cal_start.isoformat(), "calendar_n_days": int(n_days),
        "feeds": feeds_meta, "built_at": dt.datetime.now(dt.UTC).isoformat(),
        "build_seconds": round(time.perf_counter() - t_start, 3),
        "counts": {"stops": n_stops, "routes": len(routes), "patterns": n_pat,
                   "trips": n_trips, "stop_times": int(st_arr.size)},
        "max_time_s": int(st_arr.max()) if st_arr.size else 0,
    }
    cb("done", 1.0)
    return Timetable(arrays=arrays, strings=strings, meta=meta), report
