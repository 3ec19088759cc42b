"""Fixtures for the incident tests: one suite, run against SQLite and the real PostgreSQL.

PostgreSQL: database ``test`` on 127.0.0.1:5432 (override with ``CITYNAV_TEST_PG``). Each
test session picks a unique prefix; every test gets its own schema ``<prefix>_<n>`` (so tests
are isolated), dropped after the test, and the session drops anything left with the prefix.
If the server cannot be reached the PostgreSQL tests FAIL, unless ``CITYNAV_SKIP_PG=1``.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql

from incidents.store import IncidentStore, open_store
from tests.incidents.incident_payloads import incident_data

PG_URL = os.environ.get("CITYNAV_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
T0 = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)  # a Monday
_schema_numbers = itertools.count(1)


class FakeClock:
    """A settable, aware UTC clock for deterministic ``created_at``/history times."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now


def _drop_schemas(conn: psycopg.Connection, like: str) -> None:
    rows = conn.execute(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (like,)
    ).fetchall()
    for (name,) in rows:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[tuple[psycopg.Connection, str]]:
    """An autocommit admin connection to the test database and this session's schema prefix."""
    if os.environ.get("CITYNAV_SKIP_PG") == "1":
        pytest.skip("CITYNAV_SKIP_PG=1: PostgreSQL tests skipped on request")
    try:
        conn = psycopg.connect(PG_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL not reachable at {PG_URL}: {exc}\nStart it with `pg_ctlcluster "
            "--skip-systemctl-redirect 15 main start` or set CITYNAV_SKIP_PG=1.",
            pytrace=False,
        )
    prefix = f"citynav_t{os.getpid()}_{secrets.token_hex(3)}"
    try:
        yield conn, prefix
    finally:
        _drop_schemas(conn, prefix + "%")
        conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """A URL of a fresh, empty incident database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/incidents.db"
        return
    yield request.getfixturevalue("pg_store_url")


@pytest.fixture
def pg_store_url(pg_admin: tuple[psycopg.Connection, str]) -> Iterator[str]:
    """A PostgreSQL store URL with a fresh schema of its own, dropped afterwards."""
    conn, prefix = pg_admin
    schema = f"{prefix}_{next(_schema_numbers)}"
    yield f"{PG_URL}?schema={schema}"
    _drop_schemas(conn, schema)


@pytest.fixture
def pg_store(pg_store_url: str, clock: FakeClock) -> Iterator[IncidentStore]:
    """An open store on PostgreSQL only (for NOTIFY/LISTEN tests)."""
    s = open_store(pg_store_url, clock=clock)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def clock() -> FakeClock:
    """The store clock, starting at Monday 2025-03-10 08:00 UTC."""
    return FakeClock()


@pytest.fixture
def store(store_url: str, clock: FakeClock) -> Iterator[IncidentStore]:
    """An open, migrated store on a fresh database (both backends)."""
    s = open_store(store_url, clock=clock)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def make_data() -> Callable[..., dict[str, Any]]:
    """Factory for valid incident payloads: ``make_data(severity="low", ...)``."""
    return incident_data
