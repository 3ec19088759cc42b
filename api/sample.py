"""The bundled sample city (data/northern-kentucky): where its snapshot lives, and building
it on first use (cached afterwards; rebuilt when a source file — OSM, GTFS, typical speed
observations — changes)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from routing.snapshot import BUILD_VERSION, file_sha256

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"
SAMPLE_CITY = "northern-kentucky"
SAMPLE_OSM = DATA_DIR / SAMPLE_CITY / "nky_streets.osm.pbf"
SAMPLE_GTFS = [DATA_DIR / SAMPLE_CITY / "nky_tank_gtfs.zip"]
#: Generated typical speeds for the sample city (see data/traffic/README.md).
SAMPLE_TRAFFIC = DATA_DIR / "traffic" / "nky_sample_observations.csv"


def var_dir() -> Path:
    """Where citynav keeps built snapshots and the embedded database (``CITYNAV_HOME``,
    default ``./var`` in the repository)."""
    return Path(os.environ.get("CITYNAV_HOME", REPO_ROOT / "var"))


def sample_snapshot_dir() -> Path:
    """Path of the bundled city's snapshot."""
    return var_dir() / "snapshots" / SAMPLE_CITY


def default_db_url(snapshot_dir: str | Path) -> str:
    """The embedded default: an SQLite file beside the snapshot directory."""
    p = Path(snapshot_dir).absolute()
    return f"sqlite:///{p.parent / (p.name + '.incidents.db')}"


def _up_to_date(snap: Path, sources: list[Path]) -> bool:
    meta_path = snap / "meta.json"
    if not meta_path.is_file():
        return False
    try:
        meta = json.loads(meta_path.read_text())
    except ValueError:
        return False
    if meta.get("build_version") != BUILD_VERSION:
        return False
    have = sorted(s.get("sha256", "") for s in meta.get("sources", []))
    want = sorted(file_sha256(p) for p in sources)
    return have == want


def ensure_sample_snapshot(progress: Callable[[str, int, int], None] | None = None,
                           with_transit: bool = True) -> Path:
    """Build the bundled city's snapshot unless an up-to-date one exists; return its path."""
    out = sample_snapshot_dir()
    traffic = SAMPLE_TRAFFIC if SAMPLE_TRAFFIC.is_file() else None
    # The typical speeds are a source like the others (their sha256 is in meta.json). An
    # up-to-date snapshot is found without importing the build code (a CLI command that
    # only reads the store stays quick).
    if _up_to_date(out, [SAMPLE_OSM, *(SAMPLE_GTFS if with_transit else []),
                         *([traffic] if traffic else [])]):
        return out
    from routing.build import build_snapshot

    gtfs = SAMPLE_GTFS if with_transit and _transit_available() else []
    if _up_to_date(out, [SAMPLE_OSM, *gtfs, *([traffic] if traffic else [])]):
        return out
    build_snapshot(SAMPLE_OSM, out, gtfs, progress=progress or (lambda *_: None),
                   traffic_path=traffic)
    return out


def _transit_available() -> bool:
    try:
        import routing.transit_build  # noqa: F401
    except ImportError:
        return False
    return True
