"""Durability: an incident whose create() returned survives SIGKILL of the writer (SQLite)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from incidents.store import open_store

WRITER = textwrap.dedent(
    """
    import sys, time
    from incidents.store import open_store
    store = open_store(sys.argv[1])
    for n in range(3):
        inc = store.create(
            {"type": "closure", "severity": "severe", "start": "2025-03-10T07:00:00Z",
             "external_id": f"durable-{n}",
             "geometry": {"type": "Point", "coordinates": [24.9, 60.2]}},
            "writer", "HSL")
        print("CREATED", inc.id, flush=True)
    time.sleep(60)  # killed long before this ends; nothing is closed or flushed cleanly
    """
)


def test_committed_incident_survives_sigkill(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/durable.db"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, url], stdout=subprocess.PIPE, text=True, env=env
    )
    created: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("CREATED"):
                created.append(line.split()[1])
                if len(created) == 3:
                    os.kill(proc.pid, signal.SIGKILL)  # right after the last create returned
                    break
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert created == ["INC-1", "INC-2", "INC-3"]
    store = open_store(url)
    try:
        assert [i.external_id for i in store.list()] == ["durable-0", "durable-1", "durable-2"]
        assert [c.seq for c in store.changes_since(0)] == [1, 2, 3]
    finally:
        store.close()
