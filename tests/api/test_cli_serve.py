"""`citynav serve --workers N`: the options reach every worker through api.worker's
configuration, and quotas default to a counter the workers share."""

from __future__ import annotations

import json
import os
from pathlib import Path

from typer.testing import CliRunner

from api.worker import CONFIG_ENV, ServeConfig


def test_workers_get_the_options_through_the_factory(monkeypatch, nky_snapshot_dir,
                                                     tmp_path) -> None:
    import uvicorn

    from api.cli import app as cli

    calls: list[tuple[tuple, dict]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: calls.append((a, k)))
    # restored after the test (the CLI sets both for its workers)
    monkeypatch.setenv(CONFIG_ENV, "")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")
    db = f"sqlite:///{tmp_path / 'w.db'}"
    r = CliRunner().invoke(cli, ["serve", "--snapshot", str(nky_snapshot_dir), "--workers",
                                 "3", "--db", db, "--cors-origin", "https://map.example.org",
                                 "--deadline-s", "7", "--heavy-slots", "4"])
    assert r.exit_code == 0, r.output
    (args, kwargs), = calls
    assert args == ("api.worker:app",)
    assert kwargs["factory"] is True and kwargs["workers"] == 3
    cfg = ServeConfig(**json.loads(os.environ[CONFIG_ENV]))
    assert cfg.db == db and cfg.cors_origins == ["https://map.example.org"]
    assert (cfg.deadline_s, cfg.heavy_slots, cfg.quotas) == (7.0, 4, "store")
    assert cfg.snapshot == str(nky_snapshot_dir.absolute())
    assert Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).is_dir()  # metrics of all workers
    # per-process counters cannot serve several workers
    r = CliRunner().invoke(cli, ["serve", "--snapshot", str(nky_snapshot_dir), "--workers",
                                 "2", "--db", db, "--quotas", "memory"])
    assert r.exit_code == 2 and "per process" in r.output
    r = CliRunner().invoke(cli, ["serve", "--snapshot", str(nky_snapshot_dir), "--workers",
                                 "2", "--db", db, "--quotas", "mongodb://x"])
    assert r.exit_code == 2
