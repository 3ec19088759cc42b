"""`citynav serve --workers N`: the options reach every worker through api.worker's
configuration, handed to the pre-fork server (api.prefork), and quotas default to a counter
the workers share."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from typer.testing import CliRunner

from api.worker import ServeConfig
from tests.api.live_server import free_port


def test_workers_get_the_options_through_the_prefork_server(monkeypatch, nky_snapshot_dir,
                                                            tmp_path) -> None:
    from api import prefork
    from api.cli import app as cli

    calls: list[tuple[ServeConfig, int, int, bool]] = []

    def fake_serve(cfg: ServeConfig, workers: int, sock: socket.socket,
                   graceful_s: float = 30.0) -> int:
        port = sock.getsockname()[1]
        sock.close()
        calls.append((cfg, workers, port, Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).is_dir()))
        return 0

    monkeypatch.setattr(prefork, "serve", fake_serve)
    # restored after the test (the CLI sets it for its workers)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")
    db = f"sqlite:///{tmp_path / 'w.db'}"
    port = free_port()
    r = CliRunner().invoke(cli, ["serve", "--snapshot", str(nky_snapshot_dir), "--workers",
                                 "3", "--db", db, "--cors-origin", "https://map.example.org",
                                 "--deadline-s", "7", "--heavy-slots", "4", "--port",
                                 str(port)])
    assert r.exit_code == 0, r.output
    (cfg, workers, bound, metrics_dir), = calls
    assert workers == 3 and bound == port
    assert cfg.db == db and cfg.cors_origins == ["https://map.example.org"]
    assert (cfg.deadline_s, cfg.heavy_slots, cfg.quotas) == (7.0, 4, "store")
    assert cfg.snapshot == str(nky_snapshot_dir.absolute())
    assert metrics_dir  # metrics of all workers (removed again when the server stops)
    assert not Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).exists()
    # the same options through the environment, for `uvicorn --factory api.worker:app`
    assert ServeConfig(**json.loads(cfg.to_env())) == cfg
    # a port in use: an error, not a traceback
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        r = CliRunner().invoke(cli, ["serve", "--snapshot", str(nky_snapshot_dir),
                                     "--workers", "2", "--db", db, "--port",
                                     str(taken.getsockname()[1])])
    assert r.exit_code == 1 and "cannot listen" in r.output, r.output
    # per-process counters cannot serve several workers
    r = CliRunner().invoke(cli, ["serve", "--snapshot", str(nky_snapshot_dir), "--workers",
                                 "2", "--db", db, "--quotas", "memory"])
    assert r.exit_code == 2 and "per process" in r.output
    r = CliRunner().invoke(cli, ["serve", "--snapshot", str(nky_snapshot_dir), "--workers",
                                 "2", "--db", db, "--quotas", "mongodb://x"])
    assert r.exit_code == 2
