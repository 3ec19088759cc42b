"""Fixtures for the GTFS-Realtime tests: the real samples beside the repository (skipped when
``../shared/data/gtfs-rt`` is absent) compiled once per session, and a small hand-made feed."""

from __future__ import annotations

from pathlib import Path

import pytest

from gtfs.compile import compile_feeds
from gtfs.timetable import Timetable

REPO = Path(__file__).resolve().parents[3]
RT_DATA = REPO.parent / "shared" / "data" / "gtfs-rt"


def rt_file(rel: str) -> Path:
    """A file of the shared GTFS-RT samples, or skip the test when it is not there."""
    p = RT_DATA / rel
    if not p.is_file():
        pytest.skip(f"sample {p} not available")
    return p


@pytest.fixture(scope="session")
def bart_tt() -> Timetable:
    """BART static feed (feed name ``bart``)."""
    tt, _ = compile_feeds([rt_file("bart/bart_gtfs.zip")])
    return tt


@pytest.fixture(scope="session")
def caltrain_tt() -> Timetable:
    """Caltrain static feed (feed name ``caltrain``)."""
    tt, _ = compile_feeds([rt_file("caltrain/caltrain_gtfs.zip")])
    return tt


@pytest.fixture(scope="session")
def bullrunner_tt() -> Timetable:
    """USF Bull Runner static feed (frequency-based; feed name ``bullrunner``)."""
    tt, _ = compile_feeds([rt_file("usf-bullrunner/bullrunner_gtfs.zip")])
    return tt
