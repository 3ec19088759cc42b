"""Random transit live data for tests and benchmarks (built through the public builder).

``random_live`` fills a :class:`~gtfs.live.TransitLiveBuilder` for the service dates of a
day context the way realtime feeds do: per-stop delays that start at some stop and carry on
to the later stops (with a second update that may recover part of it), dwell changes,
delays large enough for a trip to overtake the next one, skipped stops, cancelled trips and
closed stops. ``style="fifo"`` gives every running trip of a pattern the same delay on a date,
so realtime trips keep their order (the classic scan on realtime times).
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from gtfs.day import DayContext
from gtfs.live import TransitLive, TransitLiveBuilder
from gtfs.timetable import Timetable


def _n_stops_of_trip(tt: Timetable, trip: int) -> int:
    p = int(tt.arrays["trip_pattern"][trip])
    return int(tt.arrays["pattern_stop_offsets"][p + 1] - tt.arrays["pattern_stop_offsets"][p])


def random_live(tt: Timetable, day: DayContext, rng: np.random.Generator, version: int, *,
                style: str = "mixed", p_delayed: float = 0.4, p_overtake: float = 0.25,
                p_cancel: float = 0.05, p_skip: float = 0.08,
                p_closed: float = 0.02) -> TransitLive:
    """A random :class:`TransitLive` for the layers of ``day`` (see the module docstring)."""
    b = TransitLiveBuilder(tt)
    for s in np.flatnonzero(rng.random(tt.n_stops) < p_closed):
        b.close_stop(int(s))
    trip_pattern = np.asarray(tt.arrays["trip_pattern"])
    for layer, delta in enumerate(day.layer_days):
        date = day.date + dt.timedelta(days=int(delta))
        running = np.flatnonzero(day.trip_runs[layer])
        if style == "fifo":
            pat_delay = rng.choice([0, 0, 60, 180, 600, -60], tt.n_patterns)
            for t in running:
                if pat_delay[trip_pattern[t]]:
                    b.delay_trip(date, int(t), int(pat_delay[trip_pattern[t]]))
            for t in running[rng.random(len(running)) < p_cancel]:
                b.cancel_trip(date, int(t))
            continue
        for t in running:
            t = int(t)
            n = _n_stops_of_trip(tt, t)
            if rng.random() < p_delayed:
                big = rng.random() < p_overtake
                d0 = int(rng.integers(600, 2700)) if big else int(rng.integers(-90, 400))
                start = int(rng.integers(0, n))
                for pos in range(start, n):  # a delay carries on to the later stops
                    b.set_stop_time(date, t, pos, arrival_delay_s=d0, departure_delay_s=d0)
                if rng.random() < 0.5 and start + 1 < n:
                    # a later update: part of the delay recovered (or more lost)
                    s1 = int(rng.integers(start + 1, n))
                    d1 = d0 - int(rng.integers(-120, max(d0, 0) + 121))
                    for pos in range(s1, n):
                        b.set_stop_time(date, t, pos, arrival_delay_s=d1, departure_delay_s=d1)
                if rng.random() < 0.3:
                    # a longer dwell at one stop (departure later than arrival)
                    pos = int(rng.integers(0, n))
                    b.set_stop_time(date, t, pos, departure_delay_s=d0 + int(rng.integers(30,
                                                                                          300)))
            if rng.random() < p_skip:
                for pos in rng.choice(n, size=min(n, int(rng.integers(1, 3))), replace=False):
                    b.skip_stop(date, t, int(pos))
            if rng.random() < p_cancel:
                b.cancel_trip(date, t)
    return b.build(version)
