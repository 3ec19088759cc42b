"""What a snapshot records about itself: its local timezone, strictly valid JSON, a build
report of what was wrong with the data (per GTFS feed), and typical speeds that belong to it
(covered by its snapshot_id, refused by any other snapshot)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from api.service import load_service
from gtfs.testing import write_feed
from routing.build import build_snapshot
from routing.osm import OsmError
from routing.snapshot import SnapshotWriter, file_sha256, load_snapshot, strict_json
from routing.timezones import TimezoneError, resolve_timezone, validate_timezone
from routing.typical import TrafficDataError, TypicalSpeeds
from tests.conftest import (
    NKY_OSM,
    NKY_TRAFFIC,
    PDX_GTFS,
    REPO,
    SPO_GTFS,
    SPO_OSM,
    shared_road,
)
from tests.routing.osmxml import grid_ways, write_osm

GRID_ZONE = "Europe/Rome"  # the hand-drawn grid lies near (45.0 N, 7.0 E), in Piedmont


# ---- helpers ------------------------------------------------------------------------------
def strict_load(path: Path) -> object:
    """Parse JSON refusing NaN, Infinity and -Infinity (as any strict parser would)."""
    def refuse(const: str) -> None:
        raise ValueError(f"{path}: non-standard JSON constant {const}")

    return json.loads(path.read_text(), parse_constant=refuse)


def assert_all_json_strict(snapshot_dir: Path) -> int:
    """Every ``.json`` file of a snapshot parses strictly; returns how many there are."""
    files = sorted(snapshot_dir.rglob("*.json"))
    assert snapshot_dir / "meta.json" in files
    for p in files:
        strict_load(p)
    return len(files)


def same_zone_rules(a: str, b: str) -> bool:
    """Two zones agree on the UTC offset at instants spread over two years."""
    za, zb = ZoneInfo(a), ZoneInfo(b)
    instants = [datetime(2025, 1, 1, tzinfo=UTC).replace(month=m, day=d)
                for m in range(1, 13) for d in (1, 15)]
    return all(t.astimezone(za).utcoffset() == t.astimezone(zb).utcoffset() for t in instants)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}  # wide tables: one row per line
    return subprocess.run([sys.executable, "-m", "api.cli", *args], capture_output=True,
                          text=True, timeout=600, cwd=REPO, env=env)


@pytest.fixture(scope="module")
def grid_osm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_osm(tmp_path_factory.mktemp("osm") / "grid.osm", grid_ways())


def traffic_csv(path: Path, speed_kmh: float = 12.5) -> Path:
    path.write_text("way_id,direction,day_type,bin,speed_kmh\n"
                    f"101,forward,weekday,32,{speed_kmh}\n101,backward,weekday,33,{speed_kmh}\n"
                    "999999,forward,weekday,32,30\n")
    return path


# ---- timezone -------------------------------------------------------------------------------
def test_validate_timezone() -> None:
    assert validate_timezone(" America/New_York ") == "America/New_York"
    for bad in ("Mars/Olympus", "", "../../etc/passwd", "New York"):
        with pytest.raises(TimezoneError, match="unknown timezone"):
            validate_timezone(bad)


def test_resolution_order_option_gtfs_bbox() -> None:
    bbox = [6.99, 44.99, 7.01, 45.01]
    feeds = [{"name": "a", "timezone": "Europe/Berlin"}, {"name": "b", "timezone": "UTC"}]
    assert resolve_timezone("Asia/Tokyo", feeds, bbox) == ("Asia/Tokyo", "option")
    assert resolve_timezone(None, feeds, bbox) == ("Europe/Berlin", "gtfs")
    assert resolve_timezone(None, [], bbox) == (GRID_ZONE, "bbox")
    with pytest.raises(TimezoneError):
        resolve_timezone("Nowhere/Town", feeds, bbox)


@pytest.mark.parametrize(("bbox", "zone"), [
    ([-8.70, 41.10, -8.50, 41.25], "Europe/Lisbon"),  # Porto: western European time
    ([-7.05, 38.85, -6.90, 38.95], "Europe/Madrid"),  # Badajoz, across the border: central
    ([-84.60, 39.00, -84.45, 39.12], "America/New_York"),  # northern Kentucky
    ([-87.70, 41.80, -87.55, 41.95], "America/Chicago"),  # Chicago
])
def test_bbox_zone_tells_neighbouring_zones_apart(bbox: list[float], zone: str) -> None:
    got, source = resolve_timezone(None, [], bbox)
    assert source == "bbox" and same_zone_rules(got, zone), got


# Andorra and Monaco: small real extracts (Porto, 3 MB, is built by the benchmarks)
@pytest.mark.parametrize(("city", "zone"), [("andorra", "Europe/Andorra"),
                                            ("monaco", "Europe/Monaco")])
def test_road_only_snapshot_zone_from_the_map(tmp_path: Path, city: str, zone: str) -> None:
    out = tmp_path / city
    meta = build_snapshot(shared_road(city), out)
    assert meta["timezone_source"] == "bbox"
    # Monaco's rules are Paris's (tzdata links them): either name is right
    assert same_zone_rules(meta["timezone"], zone), meta["timezone"]
    snap = load_snapshot(out)
    assert snap.timezone == meta["timezone"] and snap.timezone_source == "bbox"
    assert strict_load(out / "meta.json")["timezone"] == meta["timezone"]


def test_columbus_snapshot_is_in_new_york_time(columbus_snapshot_dir: Path) -> None:
    meta = strict_load(columbus_snapshot_dir / "meta.json")
    assert meta["timezone"] == "America/New_York" and meta["timezone_source"] == "bbox"
    svc = load_service(columbus_snapshot_dir, incidents=False)
    assert svc.tz == "America/New_York"


def test_gtfs_snapshot_takes_the_agency_zone(nky_snapshot_dir: Path) -> None:
    meta = strict_load(nky_snapshot_dir / "meta.json")
    agency_tz = meta["transit"]["feeds"][0]["timezone"]
    assert agency_tz == "America/New_York"
    assert (meta["timezone"], meta["timezone_source"]) == (agency_tz, "gtfs")
    assert load_snapshot(nky_snapshot_dir).timezone == agency_tz


def test_timezone_option(tmp_path: Path, grid_osm: Path) -> None:
    meta = build_snapshot(grid_osm, tmp_path / "snap", timezone="Asia/Tokyo")
    assert (meta["timezone"], meta["timezone_source"]) == ("Asia/Tokyo", "option")
    assert load_snapshot(tmp_path / "snap").timezone == "Asia/Tokyo"
    default = build_snapshot(grid_osm, tmp_path / "snap2")
    assert (default["timezone"], default["timezone_source"]) == (GRID_ZONE, "bbox")
    assert default["snapshot_id"] != meta["snapshot_id"]  # the id covers the zone


def test_bad_timezone_is_refused_before_anything_is_read(tmp_path: Path) -> None:
    with pytest.raises(TimezoneError, match="Mars/Olympus"):
        build_snapshot(tmp_path / "missing.osm.pbf", tmp_path / "snap", timezone="Mars/Olympus")
    assert not (tmp_path / "snap").exists()
    with pytest.raises(OsmError):  # a good zone goes on to the (missing) OSM file
        build_snapshot(tmp_path / "missing.osm.pbf", tmp_path / "snap", timezone="UTC")


def test_cli_bad_timezone_is_a_clear_error(tmp_path: Path, grid_osm: Path) -> None:
    out = tmp_path / "snap"
    p = run_cli("build", "--osm", str(grid_osm), "--out", str(out), "--timezone", "Mars/Olympus")
    assert p.returncode == 2
    assert "--timezone" in p.stderr and "unknown timezone 'Mars/Olympus'" in p.stderr
    assert "Traceback" not in p.stderr
    assert not out.exists()


def test_old_snapshot_without_timezone_falls_back_to_the_map(tmp_path: Path,
                                                             grid_osm: Path) -> None:
    out = tmp_path / "old"
    build_snapshot(grid_osm, out, timezone="Asia/Tokyo")
    meta = json.loads((out / "meta.json").read_text())
    del meta["timezone"], meta["timezone_source"]
    (out / "meta.json").write_text(json.dumps(meta))
    snap = load_snapshot(out)
    assert snap.timezone == GRID_ZONE and snap.timezone_source == "bbox"
    assert load_service(out, incidents=False).tz == GRID_ZONE


# ---- strict JSON ----------------------------------------------------------------------------
def test_strict_json_refuses_non_finite_numbers(tmp_path: Path) -> None:
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValueError):
            strict_json({"x": bad})
    writer = SnapshotWriter(tmp_path / "snap")
    try:
        with pytest.raises(ValueError):
            writer.commit({"mean_link_m": float("nan")})
    finally:
        writer.abort()
    assert not (tmp_path / "snap").exists()


def test_every_json_file_of_a_snapshot_is_strict(nky_snapshot_dir: Path, tmp_path: Path,
                                                 grid_osm: Path) -> None:
    # transit, typical speeds, names, per-mode stats: all of them
    assert assert_all_json_strict(nky_snapshot_dir) >= 7
    build_snapshot(grid_osm, tmp_path / "grid")
    assert_all_json_strict(tmp_path / "grid")


# ---- build summary: what went wrong with the data -------------------------------------------
@pytest.fixture(scope="module")
def spo_build(tmp_path_factory: pytest.TempPathFactory
              ) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("cli") / "spo"
    return run_cli("build", "--osm", str(SPO_OSM), "--gtfs", str(SPO_GTFS), "--out",
                   str(out)), out


@pytest.fixture(scope="module")
def off_map_build(tmp_path_factory: pytest.TempPathFactory
                  ) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Northern Kentucky's streets with Portland's timetable: no stop is on the map."""
    out = tmp_path_factory.mktemp("cli") / "off-map"
    return run_cli("build", "--osm", str(NKY_OSM), "--gtfs", str(PDX_GTFS), "--out",
                   str(out)), out


def test_cli_summary_counts_unlinked_stops(spo_build) -> None:
    p, out = spo_build
    assert p.returncode == 0, p.stderr
    meta = strict_load(out / "meta.json")
    t = meta["transit"]
    u = t["unlinked_stops"]["spo"]
    assert u == {"stops": 654, "unlinked": 484, "share": round(484 / 654, 4), "max_link_m": 300.0}
    assert t["counts"]["stops_unlinked"] == 484 and t["counts"]["stops"] == 654
    assert t["validation"]["feeds"]["spo"] == {"errors": 0, "warnings": 0, "files": {}}
    assert "GTFS feed spo (America/Sao_Paulo)" in p.stdout
    assert "484 of 654 stops unlinked (74.0 %; farther than 300 m from any walkable street)" \
        in p.stdout
    assert "errors (rows skipped)" in p.stdout and "warnings (rows kept)" in p.stdout
    assert "another city" not in p.stdout
    assert (meta["timezone"], meta["timezone_source"]) == ("America/Sao_Paulo", "gtfs")


def test_cli_summary_warns_about_a_feed_off_the_map(off_map_build) -> None:
    p, out = off_map_build
    assert p.returncode == 0, p.stderr
    meta = strict_load(out / "meta.json")  # mean_link_m of no linked stop: null, not NaN
    t = meta["transit"]
    assert t["mean_link_m"] is None
    assert t["unlinked_stops"]["trimet_2routes"]["unlinked"] == \
        t["unlinked_stops"]["trimet_2routes"]["stops"] == 88
    assert t["counts"]["walking_transfers"] == 0
    warnings = [ln for ln in p.stdout.splitlines() if ln.startswith("warning:")]
    assert "warning: feed trimet_2routes: 88 of 88 stops unlinked — is this feed for another " \
        "city?" in warnings
    # the feed is for another city: its agency zone does not become this city's
    assert (meta["timezone"], meta["timezone_source"]) == ("America/New_York", "bbox")
    assert any("America/Los_Angeles differs" in w for w in warnings)


def test_cli_summary_lists_validation_errors_per_feed(tmp_path: Path, grid_osm: Path) -> None:
    feed = write_feed(tmp_path / "grid_bus.zip", {
        "agency.txt": """
            agency_id,agency_name,agency_url,agency_timezone
            A,Grid Bus,https://example.org,Europe/Rome
        """,
        "stops.txt": """
            stop_id,stop_name,stop_lat,stop_lon,wheelchair_boarding
            S1,North-west,45.0000,7.0000,0
            S2,South-east,44.9980,7.0028,7
            FAR,Far away,46.0000,8.0000,0
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
            T1,08:05:00,08:05:00,NOPE,2
            T1,08:10:00,08:10:00,S2,3
        """,
        "calendar.txt": """
            service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date
            WD,1,1,1,1,1,1,1,20240101,20241231
        """,
    })
    out = tmp_path / "snap"
    p = run_cli("build", "--osm", str(grid_osm), "--gtfs", str(feed), "--out", str(out))
    assert p.returncode == 0, p.stderr
    meta = strict_load(out / "meta.json")
    v = meta["transit"]["validation"]["feeds"]["grid_bus"]
    assert (v["errors"], v["warnings"]) == (1, 1)
    assert v["files"]["stop_times.txt"]["errors"] == 1
    assert v["files"]["stops.txt"]["warnings"] == 1
    assert any("unknown stop_id" in m for m in v["files"]["stop_times.txt"]["messages"])
    assert meta["transit"]["unlinked_stops"]["grid_bus"]["unlinked"] == 1
    assert strict_load(out / "transit" / "validation.json")["errors"] == 1
    lines = p.stdout.splitlines()
    assert any("stop_times.txt" in ln and "1 errors (rows skipped): error: unknown stop_id"
               in ln for ln in lines)
    assert any("stops.txt" in ln and "1 warnings: warning: invalid wheelchair_boarding" in ln
               for ln in lines)
    assert any("1 of 3 stops unlinked (33.3 %" in ln for ln in lines)
    assert not [ln for ln in lines if ln.startswith("warning:")]


# ---- typical speeds are part of the snapshot ------------------------------------------------
def test_typical_speeds_belong_to_the_snapshot(nky_snapshot_dir: Path) -> None:
    meta = strict_load(nky_snapshot_dir / "meta.json")
    sha = file_sha256(NKY_TRAFFIC)
    assert [s["kind"] for s in meta["sources"]] == ["osm", "gtfs", "traffic"]
    assert meta["sources"][-1]["sha256"] == sha
    assert meta["traffic"]["sha256"] == sha and meta["traffic"]["rows_used"] > 0
    typ_meta = strict_load(nky_snapshot_dir / "traffic" / "typical" / "meta.json")
    assert typ_meta["snapshot_id"] == meta["snapshot_id"]
    assert typ_meta["source_sha256"] == sha
    typ = TypicalSpeeds.load(nky_snapshot_dir / "traffic" / "typical",
                             snapshot_id=meta["snapshot_id"])
    assert typ.n_edges == meta["counts"]["car_edges"]


def test_snapshot_id_covers_traffic_and_foreign_typical_speeds_are_refused(
        tmp_path: Path, grid_osm: Path) -> None:
    plain = build_snapshot(grid_osm, tmp_path / "plain")
    slow = build_snapshot(grid_osm, tmp_path / "slow",
                          traffic_path=traffic_csv(tmp_path / "slow.csv", 12.5))
    slower = build_snapshot(grid_osm, tmp_path / "slower",
                            traffic_path=traffic_csv(tmp_path / "slower.csv", 9.0))
    ids = {plain["snapshot_id"], slow["snapshot_id"], slower["snapshot_id"]}
    assert len(ids) == 3
    assert slow["traffic"]["rows_used"] == 2 and slow["traffic"]["rows_skipped"] == {
        "unknown_way": 1}
    assert not (tmp_path / "plain" / "traffic").exists() and plain["traffic"] is None
    svc = load_service(tmp_path / "slow", incidents=False)
    assert svc.typical is not None and svc.typical.snapshot_id == slow["snapshot_id"]
    # typical speeds copied from another snapshot: refused with a clear error
    for target in ("plain", "slower"):
        dst = tmp_path / target / "traffic" / "typical"
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(tmp_path / "slow" / "traffic" / "typical", dst)
        with pytest.raises(TrafficDataError, match=f"built for snapshot {slow['snapshot_id']}"
                                                   f", not for snapshot"):
            load_service(tmp_path / target, incidents=False)


def test_bad_traffic_file_writes_nothing(tmp_path: Path, grid_osm: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("way_id,direction,day_type,bin\n101,forward,weekday,32\n")
    out = tmp_path / "snap"
    with pytest.raises(TrafficDataError, match="speed_kmh"):
        build_snapshot(grid_osm, out, traffic_path=bad)
    assert not out.exists()
    build_snapshot(grid_osm, out)
    before = (out / "meta.json").read_text()
    with pytest.raises(TrafficDataError):
        build_snapshot(grid_osm, out, traffic_path=bad)
    assert (out / "meta.json").read_text() == before and not (out / "traffic").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    p = run_cli("build", "--osm", str(grid_osm), "--out", str(out), "--traffic", str(bad))
    assert p.returncode == 2 and "speed_kmh" in p.stderr and "Traceback" not in p.stderr


def test_sample_snapshot_is_rebuilt_when_the_traffic_file_changes(
        tmp_path: Path, grid_osm: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import api.sample as sample
    import routing.build

    csv = traffic_csv(tmp_path / "obs.csv")
    monkeypatch.setenv("CITYNAV_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(sample, "SAMPLE_OSM", grid_osm)
    monkeypatch.setattr(sample, "SAMPLE_TRAFFIC", csv)
    out = sample.ensure_sample_snapshot(with_transit=False)
    first = strict_load(out / "meta.json")
    assert first["sources"][-1]["sha256"] == file_sha256(csv)
    real_build = routing.build.build_snapshot

    def no_build(*a: object, **kw: object) -> None:
        raise AssertionError("an up-to-date sample snapshot was rebuilt")

    monkeypatch.setattr(routing.build, "build_snapshot", no_build)
    assert sample.ensure_sample_snapshot(with_transit=False) == out
    traffic_csv(csv, speed_kmh=20.0)
    monkeypatch.setattr(routing.build, "build_snapshot", real_build)
    sample.ensure_sample_snapshot(with_transit=False)
    second = strict_load(out / "meta.json")
    assert second["snapshot_id"] != first["snapshot_id"]
    assert strict_load(out / "traffic" / "typical" / "meta.json")["snapshot_id"] == \
        second["snapshot_id"]
