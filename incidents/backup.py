"""Consistent copies of the incident store while it serves, and restoring them.

- **SQLite**: the online backup API (``sqlite3.Connection.backup``) copies the database page
  by page inside one read transaction, so the copy is the store as of one instant — every
  change committed before the backup began is in it, none half-applied — while writers go
  on (WAL mode). Restoring copies it back with the same API into a new, empty file.
- **PostgreSQL**: PostgreSQL's own tools — ``pg_dump --format=custom`` (one consistent
  snapshot of the database, or of the store's ``?schema=``) and ``pg_restore`` into an
  empty database (or one without that schema). They must be installed (Debian:
  ``postgresql-client``).

Everything the store holds is copied: incidents and their history, the change log, speed
and realtime logs, API keys, usage, quota counters and the audit of writes.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from incidents.errors import StoreConfigError


class BackupError(StoreConfigError):
    """A backup or restore could not be done (what and why in the message)."""


def _sqlite_path(url: str) -> Path | None:
    parts = urlsplit(url)
    if parts.scheme.lower() != "sqlite":
        return None
    return Path(parts.path[1:] if parts.path.startswith("/") else parts.path)


def _pg_parts(url: str) -> tuple[str, str | None]:
    """(libpq connection URL without ``schema``, schema or None)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), None)
    rest = "&".join(f"{k}={v}" for k, v in query if k != "schema")
    return urlunsplit(("postgresql", parts.netloc, parts.path, rest, "")), schema


def backup(url: str, out: Path) -> Path:
    """Write a consistent copy of the store at ``url`` to ``out`` (SQLite: a database file;
    PostgreSQL: a ``pg_dump`` custom-format archive). Raises :class:`BackupError`."""
    out = Path(out)
    if out.exists():
        raise BackupError(f"{out} exists; give a new file name")
    src_path = _sqlite_path(url)
    if src_path is not None:
        if not src_path.exists():
            raise BackupError(f"no SQLite store at {src_path}")
        src = sqlite3.connect(src_path, timeout=30)
        dst = sqlite3.connect(out)
        try:
            # one step, in one read transaction: a consistent copy (in WAL mode writers go
            # on meanwhile; copying in several steps would restart at each write)
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        return out
    if urlsplit(url).scheme.lower() in ("postgresql", "postgres"):
        if shutil.which("pg_dump") is None:
            raise BackupError("pg_dump is not installed (Debian: apt-get install "
                              "postgresql-client)")
        conn, schema = _pg_parts(url)
        cmd = ["pg_dump", "--format=custom", "--no-owner", f"--file={out}", conn]
        if schema:
            cmd.insert(1, f"--schema={schema}")
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            out.unlink(missing_ok=True)
            raise BackupError(f"pg_dump failed: {res.stderr.strip()[:500]}")
        return out
    raise BackupError(f"cannot back up a store at {url!r}")


def restore(backup_file: Path, url: str) -> None:
    """Load a copy made by :func:`backup` into an empty store at ``url`` (SQLite: a file
    that does not exist yet; PostgreSQL: a database without the store's tables or schema).
    Raises :class:`BackupError`; an existing store is never overwritten."""
    backup_file = Path(backup_file)
    if not backup_file.is_file():
        raise BackupError(f"no backup at {backup_file}")
    dst_path = _sqlite_path(url)
    if dst_path is not None:
        if dst_path.exists() and dst_path.stat().st_size > 0:
            raise BackupError(f"{dst_path} exists: restore into a new, empty store")
        with open(backup_file, "rb") as f:
            if f.read(16) != b"SQLite format 3\x00":
                raise BackupError(f"{backup_file} is not an SQLite backup")
        src = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
        dst = sqlite3.connect(dst_path)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode = WAL")
            ok = dst.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            dst.close()
            src.close()
        if ok != "ok":
            raise BackupError(f"the restored store fails its integrity check: {ok}")
        return
    if urlsplit(url).scheme.lower() in ("postgresql", "postgres"):
        if shutil.which("pg_restore") is None:
            raise BackupError("pg_restore is not installed (Debian: apt-get install "
                              "postgresql-client)")
        conn, _schema = _pg_parts(url)
        res = subprocess.run(["pg_restore", "--no-owner", "--exit-on-error",
                              f"--dbname={conn}", str(backup_file)],
                             capture_output=True, text=True)
        if res.returncode != 0:
            raise BackupError(f"pg_restore failed (is the target empty?): "
                              f"{res.stderr.strip()[:500]}")
        return
    raise BackupError(f"cannot restore into {url!r}")
