"""Database backends for the incident store: SQLite (embedded) and PostgreSQL (psycopg 3).

A :class:`Database` hides the few dialect differences the store cares about: placeholders,
timestamp and JSON representation, write locking, multi-statement scripts and unique-violation
detection. SQL is written once with ``?`` placeholders. Each store change runs in exactly one
transaction (:meth:`Database.transaction`); all writers first take the *write lock*, so
change sequence numbers are committed in order on both backends.

URL forms (see :func:`connect`):

- ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``, ``sqlite:///:memory:``
- ``postgresql://user@host:port/dbname?schema=name`` (``postgres://`` too); the optional
  ``schema`` is created if missing and put first on ``search_path``; other query parameters
  are passed to libpq.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from incidents.errors import StoreConfigError

NOTIFY_CHANNEL = "citynav_incidents"
"""PostgreSQL channel notified with the change sequence number on every committed change."""

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class Tx(ABC):
    """An open transaction: run statements with ``?`` placeholders."""

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement and return all rows it produced (empty for DML without RETURNING)."""

    @abstractmethod
    def script(self, sql: str) -> None:
        """Run a multi-statement SQL script without parameters inside this transaction."""

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """Run a statement and return its first row or ``None``."""
        rows = self.execute(sql, params)
        return rows[0] if rows else None


class Database(ABC):
    """A connection to one incident database (thread-safe; one transaction at a time)."""

    dialect: str
    url: str

    @abstractmethod
    def transaction(self, write: bool = False) -> Any:
        """Context manager yielding a :class:`Tx`; commits on success, rolls back on error.

        ``write=True`` takes the global write lock first (SQLite ``BEGIN IMMEDIATE``;
        PostgreSQL row lock on the ``change_seq`` counter once it exists), so writers are
        serialised and commit in sequence-number order.
        """

    @abstractmethod
    def close(self) -> None:
        """Close the connection."""

    @abstractmethod
    def ts_in(self, value: datetime) -> Any:
        """Convert an aware datetime to the driver's parameter value."""

    @staticmethod
    def ts_out(value: Any) -> datetime:
        """Convert a stored timestamp back to an aware UTC datetime."""
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        return datetime.fromisoformat(value).astimezone(UTC)

    @staticmethod
    def json_out(value: Any) -> Any:
        """Convert a stored JSON value (text or already decoded) to Python."""
        import json

        if value is None or isinstance(value, dict | list):
            return value
        return json.loads(value)

    @abstractmethod
    def is_unique_violation(self, exc: BaseException) -> bool:
        """True if ``exc`` is the driver's unique-constraint violation."""

    @abstractmethod
    def notify(self, tx: Tx, payload: str) -> None:
        """Queue a notification delivered at commit (no-op where unsupported)."""

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------------------------------
# SQLite
# ---------------------------------------------------------------------------------------------
class _SqliteTx(Tx):
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = self._conn.execute(sql, tuple(params))
        try:
            return cur.fetchall()
        finally:
            cur.close()

    def script(self, sql: str) -> None:
        # executescript() would COMMIT first; split on complete statements instead
        # (sqlite3.complete_statement understands trigger bodies).
        buf = ""
        for line in sql.splitlines(keepends=True):
            buf += line
            if sqlite3.complete_statement(buf):
                if buf.strip():
                    self._conn.execute(buf)
                buf = ""
        if buf.strip() and not all(
            ln.strip().startswith("--") or not ln.strip() for ln in buf.splitlines()
        ):
            raise StoreConfigError(f"incomplete SQL statement in migration: {buf[:80]!r}")


class SqliteDatabase(Database):
    """SQLite in WAL mode with ``synchronous=FULL``: a committed change survives SIGKILL and
    power loss. Writers are serialised by ``BEGIN IMMEDIATE`` (also across processes)."""

    dialect = "sqlite"

    def __init__(self, path: str, url: str | None = None, busy_timeout_s: float = 10.0,
                 durable: bool = True) -> None:
        self.path = path
        self.url = url or f"sqlite:///{path}"
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_s
        )
        self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        if path != ":memory:":
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreConfigError(f"could not enable WAL mode on {path} (got {mode})")
        # durable=False (disposable data such as quota counters): commits of this
        # connection skip the fsync; the database stays consistent, the last commits may be
        # lost on power loss
        self._conn.execute("PRAGMA synchronous = FULL" if durable else
                           "PRAGMA synchronous = OFF")
        self._conn.execute("PRAGMA foreign_keys = ON")

    @contextmanager
    def transaction(self, write: bool = False) -> Iterator[Tx]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield _SqliteTx(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def ts_in(self, value: datetime) -> str:
        # Fixed-width UTC text: lexical order equals time order.
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")

    def is_unique_violation(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc)

    def notify(self, tx: Tx, payload: str) -> None:
        return None


# ---------------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------------
def _pg_sql(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class _PgTx(Tx):
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._conn.cursor() as cur:
            cur.execute(_pg_sql(sql), tuple(params))
            return cur.fetchall() if cur.description is not None else []

    def script(self, sql: str) -> None:
        with self._conn.cursor() as cur:
            cur.execute(sql.encode())  # bytes: no parameter parsing, multi-statement allowed


class PostgresDatabase(Database):
    """PostgreSQL through psycopg 3 (autocommit connection + explicit transactions).

    Writers serialise on a row lock of the ``change_seq`` counter (``SELECT ... FOR UPDATE``)
    held to commit, so sequence numbers are gap-free and committed in order: a replica that
    reads ``changes_since(n)`` can never later see a smaller number appear.
    """

    dialect = "postgresql"

    def __init__(self, conninfo: str, schema: str | None, url: str) -> None:
        import psycopg

        self._psycopg = psycopg
        self.conninfo = conninfo
        self.schema = schema
        self.url = url
        self._lock = threading.RLock()
        self._conn = self._connect()

    def _connect(self) -> Any:
        conn = self._psycopg.connect(self.conninfo, autocommit=True)
        if self.schema is not None:
            from psycopg import sql

            ident = sql.Identifier(self.schema)
            with contextlib.suppress(self._psycopg.errors.UniqueViolation):  # concurrent create
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(ident))
            conn.execute(sql.SQL("SET search_path TO {}").format(ident))
        return conn

    @contextmanager
    def notifications(self) -> Iterator[Callable[[float], list[str]]]:
        """A dedicated connection listening on :data:`NOTIFY_CHANNEL`; yields
        ``wait(timeout_s)``, which returns the payloads that arrived (empty on timeout).
        Closed on exit."""
        other = PostgresDatabase(self.conninfo, self.schema, self.url)
        try:
            conn = other.raw_connection()
            conn.execute(f"LISTEN {NOTIFY_CHANNEL}")

            def wait(timeout_s: float) -> list[str]:
                got = [n.payload for n in conn.notifies(timeout=timeout_s, stop_after=1)]
                # drain whatever else is already queued, without waiting
                got += [n.payload for n in conn.notifies(timeout=0.0)]
                return got

            yield wait
        finally:
            other.close()

    def raw_connection(self) -> Any:
        """The underlying psycopg connection (autocommit); used by ``listen`` for LISTEN."""
        return self._ensure_conn()

    def _ensure_conn(self) -> Any:
        if self._conn.closed or self._conn.broken:
            self._conn = self._connect()
        return self._conn

    @contextmanager
    def transaction(self, write: bool = False) -> Iterator[Tx]:
        with self._lock:
            conn = self._ensure_conn()
            with conn.transaction():
                tx = _PgTx(conn)
                if write and self._has_counters(tx):
                    tx.execute("SELECT value FROM counters WHERE name = 'change_seq' FOR UPDATE")
                yield tx

    _counters_ready = False

    def _has_counters(self, tx: _PgTx) -> bool:
        if not self._counters_ready:
            row = tx.one("SELECT to_regclass('counters') IS NOT NULL")
            self._counters_ready = bool(row and row[0])
        return self._counters_ready

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def ts_in(self, value: datetime) -> datetime:
        return value

    def is_unique_violation(self, exc: BaseException) -> bool:
        return isinstance(exc, self._psycopg.errors.UniqueViolation)

    def notify(self, tx: Tx, payload: str) -> None:
        tx.execute("SELECT pg_notify(?, ?)", (NOTIFY_CHANNEL, payload))

    def advisory_lock(self, tx: Tx, key: int) -> None:
        """Take a transaction-scoped advisory lock (used to serialise migrations)."""
        tx.execute("SELECT pg_advisory_xact_lock(?)", (key,))


# ---------------------------------------------------------------------------------------------
# URL parsing
# ---------------------------------------------------------------------------------------------
def connect(url: str, durable: bool = True) -> Database:
    """Open the database named by ``url`` (see module docstring for the forms).
    ``durable=False``: an SQLite connection whose commits skip the fsync (for disposable
    data; PostgreSQL ignores it).

    Raises :class:`StoreConfigError` for an unknown scheme or an invalid schema name.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        if parts.netloc not in ("", "localhost"):
            raise StoreConfigError(f"sqlite URL must be sqlite:///path, got {url!r}")
        path = parts.path[1:] if parts.path.startswith("/") else parts.path
        if not path:
            raise StoreConfigError(f"sqlite URL has no file path: {url!r}")
        return SqliteDatabase(path, url=url, durable=durable)
    if scheme in ("postgresql", "postgres"):
        query = parse_qsl(parts.query, keep_blank_values=True)
        schema = None
        rest = []
        for key, value in query:
            if key == "schema":
                schema = value
            else:
                rest.append((key, value))
        if schema is not None and not _SCHEMA_NAME.match(schema):
            raise StoreConfigError(f"invalid schema name {schema!r} (use [a-z_][a-z0-9_]*)")
        conninfo = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(rest), ""))
        return PostgresDatabase(conninfo, schema, url)
    raise StoreConfigError(f"unsupported store URL scheme {parts.scheme!r} in {url!r}")
