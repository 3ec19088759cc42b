"""Backups while writing, restored into a fresh store: nothing acknowledged before the
backup began is lost (incidents, history, change log, keys, usage)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from incidents.backup import BackupError, backup, restore
from incidents.keys import UsageRow, create_key, list_keys, record_usage, usage
from incidents.store import IncidentStore, open_store
from tests.incidents.incident_payloads import incident_data


def _snapshot_of(store: IncidentStore, ids: list[str]) -> dict[str, Any]:
    return {"incidents": {i: store.get(i) for i in ids},
            "history": {i: store.history(i) for i in ids},
            "keys": list_keys(store), "usage": usage(store, days=3660)}


def _write_while_backing_up(url: str, out: Path) -> tuple[list[str], IncidentStore]:
    """Create incidents in a thread, patch some, and back up meanwhile; returns the ids
    acknowledged before the backup began."""
    store = open_store(url)
    create_key(store, "traffic_centre", "HSL", plan="partner", area="24,60,25,61")
    create_key(store, "reader")
    record_usage(store, [UsageRow("anonymous", "2026-11-24", "route", 10, 10, 2)])
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    writer_store = open_store(url)

    def write() -> None:
        while not stop.is_set():
            inc = writer_store.create(incident_data(), "key:aaaaaaaaaaaa", "HSL")
            writer_store.patch(inc.id, {"severity": "low"}, "key:aaaaaaaaaaaa", 1)
            with lock:
                acked.append(inc.id)

    t = threading.Thread(target=write)
    t.start()
    while len(acked) < 5:
        time.sleep(0.01)
    with lock:
        before = list(acked)  # acknowledged (created and patched) before the backup began
    backup(url, out)
    time.sleep(0.2)
    stop.set()
    t.join()
    writer_store.close()
    return before, store


def _check_restored(src: IncidentStore, restored: IncidentStore, before: list[str]) -> None:
    want = _snapshot_of(src, before)
    got = _snapshot_of(restored, before)
    assert got == want
    assert all(inc.version == 2 for inc in got["incidents"].values())
    assert restored.last_seq() >= 2 * len(before)
    # the restored store takes writes and continues the sequence
    seq = restored.last_seq()
    restored.create(incident_data(), "t", "HSL")
    assert restored.last_seq() == seq + 1


def test_sqlite_backup_during_writes_then_restore(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    before, src = _write_while_backing_up(url, tmp_path / "backup.db")
    target = f"sqlite:///{tmp_path / 'restored.db'}"
    restore(tmp_path / "backup.db", target)
    restored = open_store(target)
    try:
        _check_restored(src, restored, before)
    finally:
        restored.close()
        src.close()
    with pytest.raises(BackupError, match="exists"):
        restore(tmp_path / "backup.db", url)  # never over an existing store
    with pytest.raises(BackupError, match="exists"):
        backup(url, tmp_path / "backup.db")
    (tmp_path / "junk").write_bytes(b"not a database")
    with pytest.raises(BackupError, match="not an SQLite backup"):
        restore(tmp_path / "junk", f"sqlite:///{tmp_path / 'x.db'}")


@pytest.mark.postgres
def test_postgresql_backup_during_writes_then_restore(pg_store_url: str,
                                                      tmp_path: Path) -> None:
    before, src = _write_while_backing_up(pg_store_url, tmp_path / "backup.pgdump")
    want = _snapshot_of(src, before)
    src.close()
    # a fresh server: the schema is gone, then restored from the archive
    schema = pg_store_url.split("schema=")[1]
    base = pg_store_url.split("?")[0]
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    restore(tmp_path / "backup.pgdump", pg_store_url)
    restored = open_store(pg_store_url)
    try:
        assert _snapshot_of(restored, before) == want
        seq = restored.last_seq()
        restored.create(incident_data(), "t", "HSL")
        assert restored.last_seq() == seq + 1
    finally:
        restored.close()
