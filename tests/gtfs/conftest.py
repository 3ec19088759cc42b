"""Shared fixtures: real feeds compiled once per session, a tiny-feed factory."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from gtfs.compile import compile_feeds
from gtfs.day import DayContext, day_trip_mask
from gtfs.footpaths import straight_line_footpaths
from gtfs.testing import write_feed
from gtfs.timetable import Timetable
from gtfs.validate import ValidationReport
from tests.gtfs.oracle import Oracle

REPO = Path(__file__).resolve().parents[2]
NKY = REPO / "data/northern-kentucky/nky_tank_gtfs.zip"
PORTLAND = REPO / "data/portland/trimet_2routes_gtfs.zip"
SHARED = Path(__file__).resolve().parents[2] / "data"


@dataclass
class RealFeed:
    """A compiled real feed with its query day, footpaths and reference oracle."""

    tt: Timetable
    report: ValidationReport
    day: DayContext
    footpaths: tuple[np.ndarray, np.ndarray, np.ndarray]
    oracle: Oracle  # min_transfer_s=60, with footpaths


def _real(path: Path, date: dt.date) -> RealFeed:
    tt, report = compile_feeds([path])
    day = day_trip_mask(tt, date)
    fp = straight_line_footpaths(tt, 400.0, 1.3)
    return RealFeed(tt, report, day, fp, Oracle(tt, day, fp, min_transfer_s=60))


@pytest.fixture(scope="session")
def nky() -> RealFeed:
    """Northern Kentucky (TANK) on Wed 2020-01-15."""
    return _real(NKY, dt.date(2020, 1, 15))


@pytest.fixture(scope="session")
def portland() -> RealFeed:
    """TriMet two routes on Wed 2021-11-03."""
    return _real(PORTLAND, dt.date(2021, 11, 3))


@pytest.fixture
def make_feed(tmp_path: Path):
    """Factory: ``make_feed(files, name="feed.zip")`` -> path of a GTFS zip."""

    def _make(files: dict[str, str | None], name: str = "feed.zip") -> Path:
        return write_feed(tmp_path / name, files)

    return _make
