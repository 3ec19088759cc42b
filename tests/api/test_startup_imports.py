"""What a serving process loads at start: the libraries only builds, batch jobs, plots or
tests use stay out of it (issue 14, "Memory"), and the CLI's first screen imports neither the
web framework nor the kernels. Behaviour, not size or speed: each check runs in a fresh
interpreter and reads ``sys.modules``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

#: Never loaded by a serving worker's start (build, batch, plot and test tooling).
NOT_AT_START = ("pandas", "pyarrow", "geopandas", "dask", "distributed", "matplotlib",
                "networkx", "osmnx", "gtfs_kit", "osmium", "scipy.spatial", "timezonefinder",
                "hypothesis", "pytest")

#: Starts the app for a snapshot as a worker does (lifespan: load, warm, store, engine) and
#: prints the loaded modules and whether the lazily built spatial indexes were built.
_START = """
import asyncio, json, sys
from api.app import create_app

app = create_app(sys.argv[1], db_url=sys.argv[2])

async def main():
    async with app.router.lifespan_context(app):
        svc = app.state.service
        lazy = {m: mr.snapper._tree is not None for m, mr in svc.road.modes.items()}
        lazy["matcher"] = svc.engine.matcher._tree is not None
        print(json.dumps({"modules": sorted(sys.modules), "built": lazy}))

asyncio.run(main())
"""


def _run(code: str, *args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         env=env, timeout=600, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _loaded(modules: list[str], name: str) -> bool:
    return any(m == name or m.startswith(name + ".") for m in modules)


@pytest.mark.slow
def test_serving_start_imports_only_what_serving_uses(nky_snapshot_dir: Path,
                                                      tmp_path: Path) -> None:
    got = _run(_START, str(nky_snapshot_dir), f"sqlite:///{tmp_path / 'start.db'}")
    mods = got["modules"]
    # the start really ran: the app, the kernels and the store are loaded ...
    for name in ("fastapi", "numba", "routingkit_cch", "api.service", "incidents.engine"):
        assert _loaded(mods, name), name
    # ... and nothing that only builds, batch jobs, plots or tests need
    assert [n for n in NOT_AT_START if _loaded(mods, n)] == []
    # segment geometries and their STRtrees are built on first use, not at start
    assert not any(got["built"].values()), got["built"]


def test_cli_entry_imports_neither_the_web_app_nor_the_kernels() -> None:
    got = _run("import json, sys\nimport api.cli\n"
               "print(json.dumps({'modules': sorted(sys.modules)}))")
    mods = got["modules"]
    assert _loaded(mods, "typer")
    heavy = ("fastapi", "numba", "numpy", "shapely", "routingkit_cch", "pandas", "scipy",
             "api.app", "routing.road")
    assert [n for n in heavy if _loaded(mods, n)] == []


def test_cli_route_answers_without_the_web_framework(nky_snapshot_dir: Path,
                                                    tmp_path: Path) -> None:
    """`citynav route` (and its store's live state) answers without importing FastAPI, the
    HTTP routers or the event hub: a one-off answer loads the routing side only."""
    code = ("import json, sys\nfrom typer.testing import CliRunner\nfrom api.cli import app\n"
            "r = CliRunner().invoke(app, ['route', '--from', '39.0837,-84.5086', '--to', "
            "'39.0912,-84.4960', '--snapshot', sys.argv[1], '--json'])\n"
            "assert r.exit_code == 0, r.output\n"
            "print(json.dumps({'modules': sorted(sys.modules), "
            "'answer': json.loads(r.stdout.strip().splitlines()[-1])}))")
    got = _run(code, str(nky_snapshot_dir))
    assert got["answer"]["routes"][0]["distance_m"] > 0
    mods = got["modules"]
    assert _loaded(mods, "routingkit_cch") and _loaded(mods, "incidents.engine")
    web = ("fastapi", "api.app", "api.problems", "api.transit", "api.events", "api.schemas")
    assert [n for n in web if _loaded(mods, n)] == []


def test_lazy_spatial_indexes_answer_like_eager_ones(nky_router) -> None:
    """The first ``within`` builds the snapper's STRtree; answers match the grid's nearest
    (the fallback path and the hot path agree on the nearest segment)."""
    import numpy as np

    mr = nky_router.modes["car"]
    snapper = type(mr.snapper)(nky_router.segments.lon, nky_router.segments.lat,
                               nky_router.segments.gstart, nky_router.segments.gend,
                               mr.snapper.segment_ids, mr.snapper.projection)
    assert snapper._tree is None
    rng = np.random.default_rng(14)
    lat0, lon0 = 39.0837, -84.5086
    checked = 0
    for _ in range(40):
        lat, lon = lat0 + rng.normal(0, 0.01), lon0 + rng.normal(0, 0.01)
        near = snapper.nearest(lon, lat, 500.0)
        within = snapper.within(lon, lat, 500.0, limit=1)
        assert (near is None) == (not within)
        if near is not None:
            checked += 1
            assert abs(near.distance_m - within[0].distance_m) < 1e-6
    assert snapper._tree is not None and checked > 10


def test_cli_names_the_missing_extra(monkeypatch) -> None:
    """Without the `analysis` extra, `citynav accessibility` says what to install (exit 2)
    instead of failing on an import."""
    import importlib.util

    from typer.testing import CliRunner

    from api.cli import app as cli

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("dask", "matplotlib")
                        else real(name, *a))
    r = CliRunner().invoke(cli, ["accessibility", "--snapshot", "/nonexistent",
                                 "--opportunities", "/nonexistent.csv", "--out", "/tmp/x"])
    assert r.exit_code == 2
    text = " ".join(r.output.split())
    assert "citynav[analysis]" in text and "dask, matplotlib" in text
