"""Service calendars: weekly patterns, add/remove exceptions, service period, bitmap."""

from __future__ import annotations

import datetime as dt

from gtfs.calendar import build_calendar
from gtfs.compile import compile_feeds
from gtfs.load import read_feed
from gtfs.testing import MINIMAL_FEED
from gtfs.validate import ValidationReport

CAL_FEED = dict(MINIMAL_FEED, **{
    "trips.txt": """
        route_id,service_id,trip_id
        R,WD,T1
        R,EXTRA,T2
    """,
    "stop_times.txt": """
        trip_id,arrival_time,departure_time,stop_id,stop_sequence
        T1,08:00:00,08:00:00,S1,1
        T1,08:10:00,08:10:00,S2,2
        T2,09:00:00,09:00:00,S1,1
        T2,09:10:00,09:10:00,S2,2
    """,
    "calendar.txt": """
        service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date
        WD,1,1,1,1,1,0,0,20240101,20240131
        BROKEN,1,1,1,1,1,0,0,2024-01-01,20240131
    """,
    "calendar_dates.txt": """
        service_id,date,exception_type
        WD,20240103,2
        WD,20240106,1
        EXTRA,20240210,1
        EXTRA,20240211,3
    """,
})


def test_weekly_pattern_with_add_and_remove_exceptions(make_feed) -> None:
    report = ValidationReport()
    cal = build_calendar(read_feed(make_feed(CAL_FEED)), report)
    d = dt.date
    assert cal.active_services(d(2024, 1, 2)) == {"feed:WD"}  # Tuesday
    assert cal.active_services(d(2024, 1, 3)) == set()  # removed Wednesday
    assert cal.active_services(d(2024, 1, 6)) == {"feed:WD"}  # added Saturday
    assert cal.active_services(d(2024, 1, 7)) == set()  # Sunday
    assert cal.active_services(d(2024, 2, 1)) == set()  # after end_date
    assert cal.active_services(d(2024, 2, 10)) == {"feed:EXTRA"}  # calendar_dates only
    assert cal.active_services(d(2023, 12, 31)) == set()  # before any data
    assert cal.service_period() == (d(2024, 1, 1), d(2024, 2, 10))
    # the malformed calendar row and the bad exception_type are reported and skipped
    assert report.issues("error", "calendar")[0].field == "start_date"
    assert report.issues("error", "calendar_dates")[0].field == "exception_type"
    assert report.issues("error", "calendar_dates")[0].row == 5


def test_compiled_bitmap_matches_calendar(make_feed) -> None:
    path = make_feed(CAL_FEED)
    tt, _ = compile_feeds([path])
    cal = build_calendar(read_feed(path), ValidationReport())
    day = tt.calendar_start
    for _ in range(60):
        mask = tt.active_service_mask(day)
        expected = cal.active_services(day)
        assert {tt.strings["service_id"][i] for i in mask.nonzero()[0]} == expected
        day += dt.timedelta(days=1)
    assert tt.meta["feeds"][0]["service_period"] == ["2024-01-01", "2024-02-10"]
