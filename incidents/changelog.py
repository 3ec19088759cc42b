"""The incident change log: every committed change as a history row with a gap-free sequence
number, read in order (:func:`changes_since`) and followed (:func:`follow`), so replicas never
skip or reorder a change."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from incidents.db import NOTIFY_CHANNEL, Database, PostgresDatabase
from incidents.model import Incident

#: Largest page of changes read at once.
MAX_PAGE = 1_000


class ChangeAction(StrEnum):
    """What a history row records."""

    CREATE = "create"
    UPDATE = "update"
    ACTIVATE = "activate"
    RESOLVE = "resolve"
    CANCEL = "cancel"
    DELETE = "delete"


class Change(BaseModel):
    """One committed change: a history row. ``before``/``after`` are incident documents
    (``None`` before a create and after a delete)."""

    model_config = ConfigDict(frozen=True)

    seq: int
    incident_id: str
    version: int | None
    action: ChangeAction
    actor: str
    recorded_at: datetime
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    def incident(self) -> Incident | None:
        """The incident as it was after this change (``None`` for a delete)."""
        return None if self.after is None else Incident.model_validate(self.after)


HISTORY_COLS = "seq, incident_id, version, action, actor, recorded_at, before_doc, after_doc"


def change_from_row(db: Database, row: tuple[Any, ...]) -> Change:
    return Change(
        seq=row[0],
        incident_id=row[1],
        version=row[2],
        action=ChangeAction(row[3]),
        actor=row[4],
        recorded_at=db.ts_out(row[5]),
        before=db.json_out(row[6]),
        after=db.json_out(row[7]),
    )


def changes_since(db: Database, seq: int, limit: int) -> list[Change]:
    with db.transaction() as tx:
        rows = tx.execute(
            f"SELECT {HISTORY_COLS} FROM incident_history WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, limit),
        )
    return [change_from_row(db, r) for r in rows]


def follow(
    db: Database,
        since_seq: int,
        *,
        poll_interval_s: float = 2.0,
        idle_timeout_s: float | None = None,
    ) -> Iterator[Change]:
        """Yield every change after ``since_seq`` in order, then new ones as they commit.

        PostgreSQL: a dedicated connection runs ``LISTEN citynav_incidents`` *before* catching
        up, wakes on each notification (payload = seq) and re-reads ``changes_since`` — so a
        lost or coalesced notification cannot lose a change; it also re-polls every
        ``poll_interval_s``. SQLite: polls every ``poll_interval_s``. Returns after
        ``idle_timeout_s`` without changes (``None``: never); close the generator to stop.
        """
        query_db: Database = db
        wait: Callable[[float], None] = time.sleep
        listen_db: PostgresDatabase | None = None
        if isinstance(db, PostgresDatabase):
            listen_db = PostgresDatabase(db.conninfo, db.schema, db.url)
            conn = listen_db.raw_connection()
            conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
            query_db = listen_db

            def wait(timeout: float) -> None:
                for _ in conn.notifies(timeout=timeout, stop_after=1):
                    pass

        last = since_seq
        idle_since = time.monotonic()
        try:
            while True:
                batch = changes_since(query_db, last, MAX_PAGE)
                if batch:
                    for change in batch:
                        last = change.seq
                        yield change
                    idle_since = time.monotonic()
                    continue
                timeout = poll_interval_s
                if idle_timeout_s is not None:
                    remaining = idle_timeout_s - (time.monotonic() - idle_since)
                    if remaining <= 0:
                        return
                    timeout = min(timeout, remaining)
                wait(timeout)
        finally:
            if listen_db is not None:
                listen_db.close()


