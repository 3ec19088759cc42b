"""Schema migrations: numbered SQL files per dialect, applied in order, recorded once.

Files live in ``incidents/migrations/<dialect>/NNNN_name.sql``. :func:`migrate` creates the
``schema_migrations`` table if needed and applies every missing version in one transaction
(PostgreSQL: under an advisory lock, so concurrent openers do not race). Running it again is a
no-op. A database that records a version this code does not know is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

from incidents.db import Database, PostgresDatabase
from incidents.errors import StoreConfigError

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_ADVISORY_KEY = 0x63697479_6E6176  # "citynav"

_CREATE_TABLE = {
    "sqlite": (
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    ),
    "postgresql": (
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)"
    ),
}


@dataclass(frozen=True)
class Migration:
    """One numbered migration script."""

    version: int
    name: str
    sql: str


def available_migrations(dialect: str) -> list[Migration]:
    """All migrations shipped for ``dialect`` ("sqlite" or "postgresql"), sorted by version."""
    folder = resources.files("incidents") / "migrations" / dialect
    found: list[Migration] = []
    for entry in folder.iterdir():
        m = _FILE.match(entry.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), entry.read_text("utf-8")))
    found.sort(key=lambda mig: mig.version)
    versions = [mig.version for mig in found]
    # Parallel branches take reserved numbers, so a number may be missing until they merge;
    # a database missing one is brought up to date by :func:`migrate` (it applies by set).
    if len(set(versions)) != len(versions) or (versions and versions[0] != 1):
        raise StoreConfigError(f"{dialect} migrations must start at 1 and be numbered once: "
                               f"{versions}")
    return found


def applied_versions(db: Database) -> list[int]:
    """Versions recorded in ``schema_migrations`` (empty if the table does not exist)."""
    with db.transaction() as tx:
        if db.dialect == "sqlite":
            exists = tx.one(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
            )
        else:
            exists = tx.one("SELECT to_regclass('schema_migrations')")
            exists = exists if exists and exists[0] is not None else None
        if not exists:
            return []
        return [r[0] for r in tx.execute("SELECT version FROM schema_migrations ORDER BY version")]


def migrate(db: Database) -> list[int]:
    """Apply missing migrations in order; return the versions applied now (``[]`` if none)."""
    migrations = available_migrations(db.dialect)
    known = {m.version for m in migrations}
    if set(applied_versions(db)) >= known:
        _refuse_unknown(applied_versions(db), known)
        return []
    applied_now: list[int] = []
    with db.transaction(write=True) as tx:
        if isinstance(db, PostgresDatabase):
            db.advisory_lock(tx, _ADVISORY_KEY)
        tx.execute(_CREATE_TABLE[db.dialect])
        done = {r[0] for r in tx.execute("SELECT version FROM schema_migrations")}
        _refuse_unknown(done, known)
        for mig in migrations:
            if mig.version in done:
                continue
            tx.script(mig.sql)
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (mig.version, mig.name, db.ts_in(datetime.now(UTC))),
            )
            applied_now.append(mig.version)
    return applied_now


def _refuse_unknown(done: set[int] | list[int], known: set[int]) -> None:
    unknown = sorted(set(done) - known)
    if unknown:
        raise StoreConfigError(
            f"database has schema migrations {unknown} unknown to this code; upgrade citynav"
        )
