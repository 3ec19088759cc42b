"""Clean stop_times.txt: parse times, drop bad rows, interpolate blank times, check order.

Blank intermediate arrival/departure times are interpolated linearly in *distance* between
the surrounding timed stops: distance along the trip's shape (stops projected onto it) when
the trip has one, else the straight-line (haversine) distance between consecutive stops. A
row with only one of arrival/departure gets the other copied. Trips whose first or last stop
has no time, with fewer than two valid stops, or whose times go backwards are dropped (one
error, on the first offending row).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gtfs.geo import haversine_m
from gtfs.load import TIME_BAD, TIME_BLANK, column, parse_times, to_int
from gtfs.shapes import ShapeTable, project_stops
from gtfs.validate import ValidationReport


@dataclass
class CleanStopTimes:
    """Valid stop times sorted by (trip, stop_sequence); trip ``t`` owns rows
    ``trip_start[t]:trip_end[t]`` (empty when the trip was dropped)."""

    stop: np.ndarray  # int32 stop index
    arrival_s: np.ndarray  # int32
    departure_s: np.ndarray  # int32
    pickup: np.ndarray  # bool, boarding allowed
    dropoff: np.ndarray  # bool, alighting allowed
    stop_sequence: np.ndarray  # int32, the feed's stop_sequence (increasing along a trip)
    shape_dist_m: np.ndarray  # float32, metres along the trip's shape (NaN without shape)
    trip_start: np.ndarray  # int64 [n_trips]
    trip_end: np.ndarray  # int64 [n_trips]


def _group_bounds(codes_sorted: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    starts = np.searchsorted(codes_sorted, np.arange(n), side="left")
    ends = np.searchsorted(codes_sorted, np.arange(n), side="right")
    return starts.astype(np.int64), ends.astype(np.int64)


def clean_stop_times(
    frames: list[tuple[str, pd.DataFrame]],
    trip_index: dict[str, int],
    trip_shape: np.ndarray,
    stop_index: dict[str, int],
    stop_lat: np.ndarray,
    stop_lon: np.ndarray,
    shapes: ShapeTable,
    report: ValidationReport,
) -> CleanStopTimes:
    """Validate, sort and interpolate the stop_times of all feeds.

    ``frames`` holds ``(feed_name, stop_times DataFrame)``; ``trip_index``/``stop_index`` map
    namespaced ids of *valid* trips / routable stops to indices; ``trip_shape`` gives each
    trip's shape index (-1 none).
    """
    n_trips = len(trip_shape)
    parts = []
    for feed, df in frames:
        if not len(df):
            continue
        rows = df["_row"].to_numpy()
        trip = df["trip_id"].map(trip_index).fillna(-1).to_numpy().astype(np.int64)
        stop = df["stop_id"].map(stop_index).fillna(-1).to_numpy().astype(np.int64)
        seq, seq_ok = to_int(df["stop_sequence"], -1)
        arr = parse_times(df["arrival_time"].to_numpy())
        dep = parse_times(df["departure_time"].to_numpy())
        pick, pick_ok = to_int(column(df, "pickup_type", "0"), 0)
        drop, drop_ok = to_int(column(df, "drop_off_type", "0"), 0)
        ok = np.ones(len(df), dtype=bool)

        def fail(mask: np.ndarray, msg: str, fld: str, feed: str = feed,
                 rows: np.ndarray = rows) -> None:
            nonlocal ok
            bad = mask & ok
            if bad.any():
                report.error(feed, "stop_times", msg, rows=rows[bad], field=fld,
                             count=int(bad.sum()))
            ok &= ~mask

        fail(trip < 0, "unknown or skipped trip_id", "trip_id")
        fail(stop < 0, "unknown stop_id (or not a routable stop, or stop skipped)", "stop_id")
        fail(~seq_ok | (seq < 0) | (seq > np.iinfo(np.int32).max),
             "stop_sequence must be a non-negative integer (below 2^31)",
             "stop_sequence")
        fail(arr == TIME_BAD, "malformed time (H:MM:SS expected)", "arrival_time")
        fail(dep == TIME_BAD, "malformed time (H:MM:SS expected)", "departure_time")
        bad_pd = ~pick_ok | ~np.isin(pick, (0, 1, 2, 3))
        if (bad_pd & ok).any():
            report.warning(feed, "stop_times", "invalid pickup_type, using 0",
                           rows=rows[bad_pd & ok], field="pickup_type")
        bad_dd = ~drop_ok | ~np.isin(drop, (0, 1, 2, 3))
        if (bad_dd & ok).any():
            report.warning(feed, "stop_times", "invalid drop_off_type, using 0",
                           rows=rows[bad_dd & ok], field="drop_off_type")
        pick = np.where(bad_pd, 0, pick)
        drop = np.where(bad_dd, 0, drop)
        arr = np.where(arr == TIME_BLANK, dep, arr)
        dep = np.where(dep == TIME_BLANK, arr, dep)
        parts.append((feed, rows[ok], trip[ok], stop[ok], seq[ok], arr[ok], dep[ok],
                      pick[ok] != 1, drop[ok] != 1))
    if not parts:
        z = np.zeros(0, dtype=np.int32)
        e = np.zeros(n_trips, dtype=np.int64)
        return CleanStopTimes(z, z, z, z.astype(bool), z.astype(bool), z.copy(),
                              z.astype(np.float32), e, e.copy())
    feed_of = np.concatenate([np.full(len(p[1]), i, dtype=np.int32) for i, p in enumerate(parts)])
    feeds = [p[0] for p in parts]
    rows, trip, stop, seq, arr, dep, pick, drop = (np.concatenate([p[k] for p in parts])
                                                   for k in range(1, 9))
    order = np.lexsort((seq, trip))
    rows, trip, stop, seq, arr, dep, pick, drop, feed_of = (
        a[order] for a in (rows, trip, stop, seq, arr, dep, pick, drop, feed_of))
    # duplicate (trip, stop_sequence)
    dup = np.zeros(len(trip), dtype=bool)
    dup[1:] = (trip[1:] == trip[:-1]) & (seq[1:] == seq[:-1])
    for fi in np.unique(feed_of[dup]):
        m = dup & (feed_of == fi)
        report.error(feeds[fi], "stop_times", "duplicate stop_sequence in trip",
                     rows=rows[m], field="stop_sequence", count=int(m.sum()))
    keep = ~dup
    rows, trip, stop, seq, arr, dep, pick, drop, feed_of = (
        a[keep] for a in (rows, trip, stop, seq, arr, dep, pick, drop, feed_of))
    starts, ends = _group_bounds(trip, n_trips)
    size = ends - starts
    drop_trip = np.zeros(n_trips, dtype=bool)

    def drop_trips(mask_trips: np.ndarray, row_idx: np.ndarray, msg: str, fld: str) -> None:
        new = mask_trips & ~drop_trip
        for t in np.flatnonzero(new):
            ri = int(row_idx[t])
            report.error(feeds[feed_of[ri]], "stop_times", msg, rows=[rows[ri]], field=fld)
        drop_trip[new] = True

    has_rows = size > 0
    drop_trips(has_rows & (size < 2), starts, "trip has fewer than 2 valid stop_times "
               "(trip skipped)", "trip_id")
    first = np.minimum(starts, len(trip) - 1)
    last = np.maximum(ends - 1, 0)
    drop_trips(has_rows & (arr[first] < 0), first,
               "first stop of trip has no time (trip skipped)", "arrival_time")
    drop_trips(has_rows & (arr[last] < 0), last,
               "last stop of trip has no time (trip skipped)", "arrival_time")
    # ---- distances along the trip: projected shape distance, else straight line
    seg = np.zeros(len(trip))
    if len(trip) > 1:
        seg[1:] = haversine_m(stop_lat[stop[:-1]], stop_lon[stop[:-1]], stop_lat[stop[1:]],
                              stop_lon[stop[1:]])
    seg[starts[has_rows]] = 0.0
    straight = np.cumsum(seg)
    straight -= np.repeat(straight[starts[has_rows]], size[has_rows])
    shape_dist = np.full(len(trip), np.nan, dtype=np.float64)
    cache: dict[tuple[int, bytes], np.ndarray] = {}
    for t in np.flatnonzero(has_rows & ~drop_trip & (trip_shape >= 0)):
        a, b = starts[t], ends[t]
        key = (int(trip_shape[t]), stop[a:b].tobytes())
        d = cache.get(key)
        if d is None:
            d = project_stops(shapes, key[0], stop_lat[stop[a:b]], stop_lon[stop[a:b]])
            cache[key] = d
        shape_dist[a:b] = d
    measure = np.where(np.isnan(shape_dist), straight, shape_dist)
    # ---- interpolation of blank times (arr == dep == -1 here)
    blank = arr < 0
    n_blank = int(blank.sum())
    if n_blank:
        idx = np.arange(len(trip))
        prev_known = np.maximum.accumulate(np.where(~blank, idx, -1))
        next_known = np.minimum.accumulate(np.where(~blank, idx, len(trip))[::-1])[::-1]
        bi = np.flatnonzero(blank)
        p, q = prev_known[bi], next_known[bi]
        valid = (p >= 0) & (q < len(trip))
        p, q, bi = p[valid], q[valid], bi[valid]
        same_trip = trip[p] == trip[q]
        p, q, bi = p[same_trip], q[same_trip], bi[same_trip]
        t0, t1 = dep[p].astype(np.float64), arr[q].astype(np.float64)
        d0, d1, dx = measure[p], measure[q], measure[bi]
        span = d1 - d0
        frac_d = np.where(span > 0, (dx - d0) / np.where(span > 0, span, 1), np.nan)
        frac_i = (bi - p) / (q - p)
        frac = np.where(np.isnan(frac_d), frac_i, np.clip(frac_d, 0, 1))
        t = np.rint(t0 + (t1 - t0) * frac).astype(np.int32)
        arr[bi] = t
        dep[bi] = t
        report.note(f"interpolated {n_blank} blank stop times "
                    f"({int(np.sum(trip_shape[trip[blank]] >= 0))} by shape distance, "
                    "the rest by straight-line distance)")
    # ---- monotonicity
    nonmono = np.zeros(len(trip), dtype=bool)
    nonmono |= dep < arr
    if len(trip) > 1:
        back = (arr[1:] < dep[:-1]) & (trip[1:] == trip[:-1])
        nonmono[1:] |= back
    nonmono |= arr < 0
    bad_trips = np.unique(trip[nonmono])
    mask = np.zeros(n_trips, dtype=bool)
    mask[bad_trips] = True
    first_bad = np.full(n_trips, 0, dtype=np.int64)
    nb = np.flatnonzero(nonmono)
    first_bad[trip[nb[::-1]]] = nb[::-1]
    drop_trips(mask, first_bad, "times go backwards (non-monotonic) (trip skipped)",
               "arrival_time")
    keep_rows = ~drop_trip[trip]
    rows_kept = {k: v[keep_rows] for k, v in (("stop", stop), ("arr", arr), ("dep", dep),
                                             ("pick", pick), ("drop", drop),
                                             ("trip", trip), ("sd", shape_dist),
                                             ("seq", seq))}
    starts, ends = _group_bounds(rows_kept["trip"], n_trips)
    return CleanStopTimes(
        stop=rows_kept["stop"].astype(np.int32), arrival_s=rows_kept["arr"].astype(np.int32),
        departure_s=rows_kept["dep"].astype(np.int32), pickup=rows_kept["pick"],
        dropoff=rows_kept["drop"], stop_sequence=rows_kept["seq"].astype(np.int32),
        shape_dist_m=rows_kept["sd"].astype(np.float32),
        trip_start=starts, trip_end=ends)
