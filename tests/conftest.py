"""Shared fixtures: snapshots of the bundled real cities, built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data"
NKY_OSM = DATA / "northern-kentucky" / "nky_streets.osm.pbf"
NKY_GTFS = DATA / "northern-kentucky" / "nky_tank_gtfs.zip"
NKY_TRAFFIC = DATA / "traffic" / "nky_sample_observations.csv"
PDX_OSM = DATA / "portland" / "portland_central.osm.pbf"
PDX_GTFS = DATA / "portland" / "trimet_2routes_gtfs.zip"
SPO_OSM = DATA / "sao-paulo" / "spo_osm.pbf"
SPO_GTFS = DATA / "sao-paulo" / "spo_gtfs.zip"
#: Road-only extracts of the workplace's shared data (beside the repository; tests that need
#: them are skipped when it is absent).
SHARED_ROADS = REPO.parent / "shared" / "data" / "roads"
#: Static GTFS feeds of the shared realtime samples (BART 2019-02-11 → 2020-02-10, Caltrain
#: 2023-09-23 → 2024-06-01), for transit-only snapshots.
SHARED_GTFS_RT = REPO.parent / "shared" / "data" / "gtfs-rt"


def shared_road(name: str) -> Path:
    """Path of a shared road extract (e.g. ``columbus_ohio``), or skip the test."""
    p = SHARED_ROADS / f"{name}.osm.pbf"
    if not p.is_file():
        pytest.skip(f"shared road data not available: {p}")
    return p


def shared_gtfs_rt_feed(agency: str) -> Path:
    """Static GTFS of a shared realtime sample (``bart``, ``caltrain``), or skip the test."""
    p = SHARED_GTFS_RT / agency / f"{agency}_gtfs.zip"
    if not p.is_file():
        pytest.skip(f"shared GTFS data not available: {p}")
    return p


@pytest.fixture(scope="session")
def bart_transit_snapshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Transit-only snapshot of BART (GTFS without a street network)."""
    from routing.build import build_snapshot

    out = tmp_path_factory.mktemp("snap") / "bart"
    build_snapshot(None, out, [shared_gtfs_rt_feed("bart")])
    return out


@pytest.fixture(scope="session")
def caltrain_transit_snapshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Transit-only snapshot of Caltrain (GTFS without a street network)."""
    from routing.build import build_snapshot

    out = tmp_path_factory.mktemp("snap") / "caltrain"
    build_snapshot(None, out, [shared_gtfs_rt_feed("caltrain")])
    return out


@pytest.fixture(scope="session")
def nky_snapshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Snapshot of northern Kentucky: real OSM roads, the TANK GTFS timetable and the
    generated typical speeds (data/traffic)."""
    from routing.build import build_snapshot

    out = tmp_path_factory.mktemp("snap") / "nky"
    build_snapshot(NKY_OSM, out, [NKY_GTFS], traffic_path=NKY_TRAFFIC)
    return out


@pytest.fixture(scope="session")
def pdx_snapshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Road snapshot of central Portland (real OSM)."""
    from routing.build import build_snapshot

    out = tmp_path_factory.mktemp("snap") / "pdx"
    build_snapshot(PDX_OSM, out)
    return out


@pytest.fixture(scope="session")
def columbus_snapshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Road-only snapshot of Columbus, Ohio (shared data; no GTFS, so its timezone comes
    from the map's location)."""
    from routing.build import build_snapshot

    osm = shared_road("columbus_ohio")
    out = tmp_path_factory.mktemp("snap") / "columbus"
    build_snapshot(osm, out)
    return out


@pytest.fixture(scope="session")
def nky_router(nky_snapshot_dir: Path):
    """A road router over the northern Kentucky snapshot."""
    from routing.road import RoadRouter
    from routing.snapshot import load_snapshot

    return RoadRouter(load_snapshot(nky_snapshot_dir))


@pytest.fixture(scope="session")
def pdx_router(pdx_snapshot_dir: Path):
    """A road router over the Portland snapshot."""
    from routing.road import RoadRouter
    from routing.snapshot import load_snapshot

    return RoadRouter(load_snapshot(pdx_snapshot_dir))


@pytest.fixture(scope="session")
def nky_publisher(nky_router):
    """A state publisher over the NKY router (free flow, no typical speeds, UTC)."""
    from routing.state import StatePublisher

    return StatePublisher(nky_router)


@pytest.fixture(scope="session")
def pdx_publisher(pdx_router):
    """A state publisher over the Portland router (free flow)."""
    from routing.state import StatePublisher

    return StatePublisher(pdx_router)


@pytest.fixture
def nky_state(nky_publisher):
    """The NKY free-flow routing state."""
    return nky_publisher.current()


@pytest.fixture
def pdx_state(pdx_publisher):
    """The Portland free-flow routing state."""
    return pdx_publisher.current()


@pytest.fixture(scope="session")
def nky_planner(nky_snapshot_dir: Path, nky_router):
    """The journey planner over the northern Kentucky snapshot."""
    from routing.plan import Planner, TransitData

    return Planner(nky_router.snapshot, nky_router, TransitData.load(nky_snapshot_dir))
