"""Helpers to build small GTFS zips from CSV text (tests, warm-up, examples).

Not used when serving. ``write_feed`` writes a zip whose members are the given CSV strings;
``tiny_timetable`` compiles a two-stop feed used by :func:`gtfs.query.warmup`.
"""

from __future__ import annotations

import tempfile
import textwrap
import zipfile
from collections.abc import Mapping
from pathlib import Path

from gtfs.timetable import Timetable

MINIMAL_FEED: dict[str, str] = {
    "agency.txt": """
        agency_id,agency_name,agency_url,agency_timezone
        A,Agency,https://example.org,Europe/Berlin
    """,
    "stops.txt": """
        stop_id,stop_name,stop_lat,stop_lon
        S1,One,52.5000,13.4000
        S2,Two,52.5100,13.4100
    """,
    "routes.txt": """
        route_id,agency_id,route_short_name,route_long_name,route_type
        R,A,1,One,3
    """,
    "trips.txt": """
        route_id,service_id,trip_id
        R,WD,T1
    """,
    "stop_times.txt": """
        trip_id,arrival_time,departure_time,stop_id,stop_sequence
        T1,08:00:00,08:00:00,S1,1
        T1,08:10:00,08:10:00,S2,2
    """,
    "calendar.txt": """
        service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date
        WD,1,1,1,1,1,1,1,20240101,20241231
    """,
}


def write_feed(path: str | Path, files: Mapping[str, str | None]) -> Path:
    """Write a GTFS zip; ``files`` maps member name -> CSV text (dedented, stripped).

    A value of None leaves the file out (to test missing files).
    """
    path = Path(path)
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            if text is None:
                continue
            zf.writestr(name, textwrap.dedent(text).strip() + "\n")
    return path


def tiny_timetable() -> Timetable:
    """Compile :data:`MINIMAL_FEED` (two stops, one trip) in a temporary directory."""
    from gtfs.compile import compile_feeds

    with tempfile.TemporaryDirectory() as d:
        tt, _ = compile_feeds([write_feed(Path(d) / "tiny.zip", MINIMAL_FEED)])
    return tt
