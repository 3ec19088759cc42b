"""Snapshot building: bad input gives a clear error and writes nothing; snapshots are
complete, memory-mapped and described by their metadata."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from routing.build import build_snapshot
from routing.osm import OsmError
from routing.snapshot import SNAPSHOT_FORMAT, load_snapshot
from tests.conftest import NKY_OSM
from tests.routing.osmxml import write_osm


def _no_leftovers(parent: Path) -> None:
    assert not [p for p in parent.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("kind", ["truncated", "not_osm", "empty", "missing"])
def test_bad_osm_input_fails_cleanly(tmp_path: Path, kind: str) -> None:
    src = tmp_path / f"{kind}.osm.pbf"
    if kind == "truncated":
        src.write_bytes(NKY_OSM.read_bytes()[:5000])
    elif kind == "not_osm":
        src.write_text("this is not OpenStreetMap data\n")
    elif kind == "empty":
        src.write_bytes(b"")
    out = tmp_path / "out" / "snap"
    with pytest.raises(OsmError) as exc:
        build_snapshot(src, out)
    assert str(src) in str(exc.value)
    assert not out.exists()
    if out.parent.exists():
        _no_leftovers(out.parent)


def test_no_routable_ways_is_an_error(tmp_path: Path) -> None:
    src = write_osm(tmp_path / "rivers.osm", [(1, [1, 2, 3], {"waterway": "river"}),
                                              (2, [4, 5], {"highway": "proposed"})])
    with pytest.raises(OsmError, match="no highway ways"):
        build_snapshot(src, tmp_path / "snap")
    assert not (tmp_path / "snap").exists()


def test_failed_rebuild_keeps_the_old_snapshot(tmp_path: Path) -> None:
    good = write_osm(tmp_path / "g.osm", [(1, [1, 2], {"highway": "residential"})])
    out = tmp_path / "snap"
    build_snapshot(good, out)
    before = (out / "meta.json").read_text()
    bad = tmp_path / "bad.osm.pbf"
    bad.write_text("garbage")
    with pytest.raises(OsmError):
        build_snapshot(bad, out)
    assert (out / "meta.json").read_text() == before
    _no_leftovers(tmp_path)


def test_snapshot_metadata_and_mmap(nky_snapshot_dir: Path) -> None:
    meta = json.loads((nky_snapshot_dir / "meta.json").read_text())
    assert meta["format"] == SNAPSHOT_FORMAT and meta["build_version"].startswith("citynav")
    src = meta["sources"][0]
    assert src["kind"] == "osm" and len(src["sha256"]) == 64 and src["bytes"] > 0
    w, s, e, n = meta["bbox"]
    assert -84.7 < w < e < -84.3 and 38.9 < s < n < 39.2
    assert meta["counts"]["car_edges"] > 10_000 and meta["counts"]["car_restrictions_applied"] > 100
    snap = load_snapshot(nky_snapshot_dir)
    # memory-mapped: a plain ndarray view whose data is the file's mapping (not a copy)
    edge_time = snap.modes["car"].edge_time_ms
    assert isinstance(edge_time.base, np.memmap) and not edge_time.flags.owndata
    assert snap.segments.names and "Madison Avenue" in snap.segments.names
    # guidance labels: memory-mapped indices into one string table
    for arr in (snap.segments.ref_idx, snap.segments.dest_idx, snap.node_exit_ref_idx,
                snap.junction_seg):
        assert isinstance(arr.base, np.memmap) and not arr.flags.owndata
    assert "I 71;I 75" in snap.segments.labels  # raw tag values are kept
    assert not any(";" in name for name in snap.segments.names)  # display names are not raw
    assert "I 71 / I 75" in snap.segments.names
    assert (np.asarray(snap.node_exit_ref_idx) >= 0).sum() > 40  # motorway exit numbers


def test_cli_build_reports_errors_and_exit_code(tmp_path: Path) -> None:
    bad = tmp_path / "x.osm.pbf"
    bad.write_text("nope")
    out = tmp_path / "snap"
    p = subprocess.run([sys.executable, "-m", "api.cli", "build", "--osm", str(bad), "--out",
                        str(out)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    assert str(bad) in p.stderr and "error" in p.stderr
    assert not out.exists()


def test_cli_route_readable_and_json(nky_snapshot_dir: Path) -> None:
    args = [sys.executable, "-m", "api.cli", "route", "--from", "39.0837,-84.5086", "--to",
            "39.0912,-84.4960", "--snapshot", str(nky_snapshot_dir)]
    p = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "km" in p.stdout and "Arrive at your destination" in p.stdout
    p = subprocess.run([*args, "--json", "--mode", "walk"], capture_output=True, text=True,
                       timeout=300)
    body = json.loads(p.stdout)
    assert body["routes"][0]["mode"] == "walk"
