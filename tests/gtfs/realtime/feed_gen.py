"""Realistic generated GTFS-Realtime TripUpdates feeds for a compiled timetable (tests only).

``generated_trip_updates`` writes a FeedMessage the way producers do, for a share of the
trips running on the service dates of a day context: a delay that starts at some stop and
grows (or shrinks) along the trip, early runs, a few large delays that make trips overtake
each other, longer dwells, updates at a few stops only (the consumer propagates), stops
referenced by ``stop_sequence``, ``stop_id`` or both, events as ``delay``, absolute ``time``
or both, skipped stops, NO_DATA stretches, trip-level delays, cancellations, updates without
``start_date`` (inferred from the header time), and a little noise that must be ignored
(unknown trips, unknown stops, ADDED trips).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
from google.transit import gtfs_realtime_pb2 as pb

from gtfs.day import DayContext, service_midnight_epoch_s
from gtfs.realtime.match import FeedMatcher
from gtfs.timetable import Timetable

STU = pb.TripUpdate.StopTimeUpdate


@dataclass
class GeneratedFeed:
    """The message and what the generator put in (to check the consumer's report)."""

    message: pb.FeedMessage
    header_s: int
    n_trip_updates: int = 0
    n_cancelled: int = 0
    n_unknown_trips: int = 0
    n_added: int = 0
    n_unknown_stops: int = 0
    kinds: dict[str, int] = field(default_factory=dict)


def _hms(s: int) -> str:
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _event(ev: pb.TripUpdate.StopTimeEvent, delay: int, sched_abs: int, style: int) -> None:
    if style in (0, 2):
        ev.delay = int(delay)
    if style in (1, 2):
        ev.time = int(sched_abs + delay)


def generated_trip_updates(
    tt: Timetable, feed_name: str, day: DayContext, rng: np.random.Generator, *,
    header_s: int | None = None, p_update: float = 0.6, p_cancel: float = 0.05,
    p_big: float = 0.15, p_skip: float = 0.06, p_no_data: float = 0.1,
    p_trip_delay: float = 0.08, p_no_start_date: float = 0.3, noise: int = 5,
) -> GeneratedFeed:
    """A FULL_DATASET TripUpdates message for the running trips of ``day`` (all layers).

    ``header_s``: header time (default: noon of the query date in the feed's timezone).
    """
    m = FeedMatcher(tt, feed_name)
    cut = len(m.prefix)
    if header_s is None:
        header_s = service_midnight_epoch_s(day.date, m.timezone) + 12 * 3600
    msg = pb.FeedMessage()
    msg.header.gtfs_realtime_version = "2.0"
    msg.header.incrementality = pb.FeedHeader.FULL_DATASET
    msg.header.timestamp = header_s
    out = GeneratedFeed(msg, header_s)
    kinds: dict[str, int] = {}
    in_feed = np.asarray(tt.arrays["service_feed"])[m.trip_service] == m.feed_index
    n_ent = 0
    for layer, delta in enumerate(day.layer_days):
        date = day.date + dt.timedelta(days=int(delta))
        ymd = date.strftime("%Y%m%d")
        running = np.flatnonzero(day.trip_runs[layer] & in_feed)
        for t in running[rng.random(running.shape[0]) < p_update]:
            t = int(t)
            base, n = m.trip_span(t)
            mid = m.midnight_s(t, date)
            n_ent += 1
            ent = msg.entity.add()
            ent.id = f"e{n_ent}"
            tu = ent.trip_update
            tu.trip.trip_id = tt.strings["trip_gtfs_id"][t][cut:]
            if int(m.trip_frequency[t]):
                tu.trip.start_time = _hms(int(m.trip_start[t]))
            first, last = m.first_last_s(t)
            near = mid + first - 6 * 3600 <= header_s <= mid + last + 6 * 3600
            if not (near and int(delta) == 0 and not int(m.trip_frequency[t])
                    and rng.random() < p_no_start_date):
                tu.trip.start_date = ymd
            out.n_trip_updates += 1
            if rng.random() < p_cancel:
                tu.trip.schedule_relationship = pb.TripDescriptor.CANCELED
                out.n_cancelled += 1
                continue
            if rng.random() < p_trip_delay:
                tu.delay = int(rng.integers(-60, 600))
                kinds["trip_delay"] = kinds.get("trip_delay", 0) + 1
                if rng.random() < 0.5:
                    continue
            big = rng.random() < p_big
            d0 = int(rng.integers(900, 2700)) if big else int(rng.integers(-120, 300))
            growth = float(rng.uniform(-10, 35))
            start = int(rng.integers(0, n))
            k = int(rng.integers(1, min(n - start, 6) + 1))
            positions = sorted({start, *rng.choice(np.arange(start, n), size=k - 1,
                                                   replace=False).tolist()})
            no_data_at = int(rng.choice(positions)) if rng.random() < p_no_data else -1
            for pos in positions:
                x = base + pos
                stu = tu.stop_time_update.add()
                ref = int(rng.integers(0, 3))  # 0 sequence, 1 stop id, 2 both
                if ref != 1 and m.st_seq is not None:
                    stu.stop_sequence = int(m.st_seq[x])
                if ref != 0 or m.st_seq is None:
                    stu.stop_id = tt.strings["stop_id"][int(m.trip_stops(t)[pos])][cut:]
                if pos == no_data_at:
                    stu.schedule_relationship = STU.NO_DATA
                    kinds["no_data"] = kinds.get("no_data", 0) + 1
                    continue
                delay = int(round(d0 + growth * (pos - start) + rng.integers(-30, 31)))
                if rng.random() < p_skip:
                    stu.schedule_relationship = STU.SKIPPED
                    kinds["skipped"] = kinds.get("skipped", 0) + 1
                    if rng.random() < 0.5:
                        continue
                style = int(rng.integers(0, 3))
                which = rng.random()
                dwell = int(rng.integers(30, 240)) if rng.random() < 0.15 else 0
                if which < 0.8 or pos == 0:
                    _event(stu.departure, delay + dwell, mid + int(m.st_dep[x]), style)
                if which >= 0.6 or pos == n - 1:
                    _event(stu.arrival, delay, mid + int(m.st_arr[x]), style)
            kinds["scheduled"] = kinds.get("scheduled", 0) + 1
    # noise the consumer must ignore (and count)
    for i in range(noise):
        ent = msg.entity.add()
        ent.id = f"unknown{i}"
        ent.trip_update.trip.trip_id = f"no-such-trip-{i}"
        ent.trip_update.stop_time_update.add(stop_sequence=1).arrival.delay = 60
        out.n_unknown_trips += 1
        ent = msg.entity.add()
        ent.id = f"added{i}"
        ent.trip_update.trip.trip_id = f"extra-{i}"
        ent.trip_update.trip.schedule_relationship = pb.TripDescriptor.ADDED
        out.n_added += 1
    if len(msg.entity) and noise:
        for e in msg.entity:
            if e.trip_update.stop_time_update and e.trip_update.trip.schedule_relationship == \
                    pb.TripDescriptor.SCHEDULED and not e.id.startswith("unknown"):
                stu = e.trip_update.stop_time_update.add(stop_id="no-such-stop")
                stu.arrival.delay = 30
                out.n_unknown_stops += 1
                break
    out.kinds = kinds
    return out
