"""Loading, namespacing and validation: fatal errors raise, bad rows are counted and skipped."""

from __future__ import annotations

import json

import pytest

from gtfs.compile import compile_feeds
from gtfs.load import feed_name_from_path, parse_times, read_feed
from gtfs.testing import MINIMAL_FEED
from gtfs.validate import InvalidValueError, MissingColumnError, MissingFileError


def test_parse_times_handles_single_digit_hours_overnight_blank_and_garbage() -> None:
    got = parse_times(["4:05:00", "25:16:00", " 08:00:01", "", "8:0:00", "ab:00:00", "07:60:00"])
    assert got.tolist() == [14700, 90960, 28801, -1, -2, -2, -2]


def test_feed_name_default_and_namespacing(make_feed) -> None:
    assert feed_name_from_path("/x/nky_tank_gtfs.zip") == "nky_tank"
    assert feed_name_from_path("city.zip") == "city"
    feed = read_feed(make_feed(MINIMAL_FEED, "metro_gtfs.zip"))
    assert feed.name == "metro"
    assert feed.tables["stops"]["stop_id"].tolist() == ["metro:S1", "metro:S2"]
    assert feed.tables["stop_times"]["trip_id"].iloc[0] == "metro:T1"
    assert feed.timezone == "Europe/Berlin"


@pytest.mark.parametrize("missing", ["agency.txt", "stops.txt", "routes.txt", "trips.txt",
                                     "stop_times.txt"])
def test_missing_required_file_raises_naming_the_file(make_feed, missing: str) -> None:
    files = dict(MINIMAL_FEED, **{missing: None})
    with pytest.raises(MissingFileError) as err:
        compile_feeds([make_feed(files)])
    assert err.value.file == missing
    assert missing in str(err.value)


def test_calendar_or_calendar_dates_required(make_feed) -> None:
    with pytest.raises(MissingFileError, match="calendar"):
        compile_feeds([make_feed(dict(MINIMAL_FEED, **{"calendar.txt": None}))])
    only_dates = dict(MINIMAL_FEED, **{"calendar.txt": None, "calendar_dates.txt": """
        service_id,date,exception_type
        WD,20240105,1
    """})
    tt, _ = compile_feeds([make_feed(only_dates)])
    assert tt.n_trips == 1


def test_missing_required_column_raises_naming_file_and_field(make_feed) -> None:
    files = dict(MINIMAL_FEED, **{"stop_times.txt": """
        trip_id,arrival_time,stop_id,stop_sequence
        T1,08:00:00,S1,1
    """})
    with pytest.raises(MissingColumnError) as err:
        compile_feeds([make_feed(files)])
    assert (err.value.file, err.value.field) == ("stop_times.txt", "departure_time")


def test_unknown_timezone_is_fatal(make_feed) -> None:
    files = dict(MINIMAL_FEED, **{"agency.txt": """
        agency_id,agency_name,agency_url,agency_timezone
        A,Agency,https://example.org,Mars/Olympus
    """})
    with pytest.raises(InvalidValueError) as err:
        compile_feeds([make_feed(files)])
    assert (err.value.field, err.value.row) == ("agency_timezone", 2)


BAD_FEED = dict(MINIMAL_FEED, **{
    "stops.txt": """
        stop_id,stop_name,stop_lat,stop_lon
        S1,One,52.5000,13.4000
        S2,Two,52.5100,13.4100
        S3,Three,52.5200,13.4200
        NOXY,No coordinates,,
    """,
    "routes.txt": """
        route_id,agency_id,route_short_name,route_long_name,route_type
        R,A,1,One,3
        BUS2,A,2,Extended bus,700
        WEIRD,A,9,Unknown type,99
    """,
    "trips.txt": """
        route_id,service_id,trip_id
        R,WD,T1
        R,WD,BACKWARDS
        R,WD,BADTIME
        WEIRD,WD,ON_WEIRD
        BUS2,WD,EXT
    """,
    "stop_times.txt": """
        trip_id,arrival_time,departure_time,stop_id,stop_sequence
        T1,08:00:00,08:00:00,S1,1
        T1,08:05:00,08:05:00,NOXY,2
        T1,08:10:00,08:10:00,S2,3
        T1,08:20:00,08:20:00,NOPE,4
        T1,08:30:00,08:30:00,S3,5
        GHOST,08:00:00,08:00:00,S1,1
        BACKWARDS,09:00:00,09:00:00,S1,1
        BACKWARDS,08:50:00,08:50:00,S2,2
        BADTIME,10:00:00,10:00:00,S1,1
        BADTIME,10:x5:00,10:x5:00,S2,2
        BADTIME,10:10:00,10:10:00,S3,3
        EXT,11:00:00,11:00:00,S1,1
        EXT,11:10:00,11:10:00,S2,2
    """,
})


def test_malformed_rows_are_counted_and_skipped_not_fatal(make_feed) -> None:
    tt, report = compile_feeds([make_feed(BAD_FEED)])
    # stop without coordinates skipped, the valid ones kept
    assert tt.strings["stop_id"] == ["feed:S1", "feed:S2", "feed:S3"]
    assert report.count("error", "stops") == 1
    assert report.issues("error", "stops")[0].row == 5
    assert report.issues("error", "stops")[0].field == "stop_lat"
    # unknown route_type skipped (and its trip), extended type 700 accepted
    assert tt.strings["route_id"] == ["feed:R", "feed:BUS2"]
    assert report.issues("error", "routes")[0].field == "route_type"
    assert report.issues("error", "routes")[0].row == 4
    # stop_times: NOXY and NOPE rows, GHOST trip, ON_WEIRD (none here), bad time, backwards
    st_errors = report.issues("error", "stop_times")
    messages = " | ".join(i.message for i in st_errors)
    assert "unknown stop_id" in messages and "unknown or skipped trip_id" in messages
    assert "malformed time" in messages and "non-monotonic" in messages
    bad_time = [i for i in st_errors if "malformed" in i.message][0]
    assert (bad_time.row, bad_time.field) == (11, "arrival_time")
    # T1 survives with 3 stops; BADTIME survives without its bad row; BACKWARDS dropped
    ids = set(tt.strings["trip_id"])
    assert ids == {"feed:T1", "feed:BADTIME", "feed:EXT"}
    t1 = tt.trip_index("feed:T1")
    assert len(tt.pattern_stop_list(int(tt.arrays["trip_pattern"][t1]))) == 3
    assert report.n_errors >= 7
    # printable
    text = report.summary()
    assert "feed/stop_times.txt" in text and "row 11" in text
    d = report.to_dict()
    json.dumps(d)
    assert d["files"]["feed/stops.txt"]["errors"] == 1
    assert d["errors"] == report.n_errors


def test_report_keeps_only_first_examples_but_counts_all(make_feed) -> None:
    rows = "\n".join(f"        X{i},Bad,,," for i in range(20))
    files = dict(MINIMAL_FEED, **{"stops.txt": """
        stop_id,stop_name,stop_lat,stop_lon,location_type
        S1,One,52.5000,13.4000,
        S2,Two,52.5100,13.4100,0
""" + rows})
    _tt, report = compile_feeds([make_feed(files)], max_examples=3)
    assert report.count("error", "stops") == 20
    assert len(report.issues("error", "stops")) == 3
