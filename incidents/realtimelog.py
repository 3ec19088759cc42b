"""The store's realtime log: accepted GTFS-Realtime messages, in commit order, for every process.

A message (its raw protobuf bytes, already validated by the process that received it) is
written in one transaction under the store's write lock, numbered from ``realtime_seq``
(gap-free, committed in order) and, on PostgreSQL, NOTIFYs the incidents channel (payload
``realtime:<seq>``). Every server following the log — whichever worker took a push or polled
a URL, other workers, other replicas — decodes and applies the same messages in the same
order, so all answer on the same realtime data. Only the latest messages per feed and kind
matter (feeds are full datasets); older ones are pruned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from incidents.db import Database

#: Messages are kept this long after they arrive (the newest per feed and kind always stay).
KEEP = timedelta(hours=1)
KINDS = ("trip_updates", "alerts", "vehicle_positions")


@dataclass(frozen=True)
class RealtimeMessage:
    """One committed feed message."""

    seq: int
    feed_id: str
    kind: str  # trip_updates | alerts | vehicle_positions
    source: str  # "url:…", "file:…", "push:key:…"
    received_at: datetime
    header_at: datetime | None
    body: bytes


class RealtimeLog:
    """Append and follow realtime messages on a store's database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def append(self, feed_id: str, kind: str, source: str, body: bytes, received_at: datetime,
               header_at: datetime | None) -> int:
        """Commit a message; returns its sequence number."""
        if kind not in KINDS:
            raise ValueError(f"unknown realtime kind {kind!r}")
        with self.db.transaction(write=True) as tx:
            row = tx.one("UPDATE counters SET value = value + 1 WHERE name = 'realtime_seq' "
                         "RETURNING value")
            assert row is not None, "realtime_seq counter missing (migration 0004)"
            seq = int(row[0])
            tx.execute("INSERT INTO realtime_messages (seq, feed_id, kind, source, received_at, "
                       "header_at, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (seq, feed_id, kind, source, self.db.ts_in(received_at),
                        self.db.ts_in(header_at) if header_at is not None else None,
                        bytes(body)))
            self.db.notify(tx, f"realtime:{seq}")
        return seq

    def last_seq(self) -> int:
        """Sequence number of the latest committed message (0 if none)."""
        with self.db.transaction() as tx:
            row = tx.one("SELECT value FROM counters WHERE name = 'realtime_seq'")
        return int(row[0]) if row else 0

    def since(self, seq: int, limit: int = 50) -> list[RealtimeMessage]:
        """Messages after ``seq``, oldest first (at most ``limit``)."""
        with self.db.transaction() as tx:
            rows = tx.execute("SELECT seq, feed_id, kind, source, received_at, header_at, body "
                              "FROM realtime_messages WHERE seq > ? ORDER BY seq LIMIT ?",
                              (seq, limit))
        return [RealtimeMessage(int(r[0]), r[1], r[2], r[3], self.db.ts_out(r[4]),
                                self.db.ts_out(r[5]) if r[5] is not None else None,
                                bytes(r[6])) for r in rows]

    def latest(self) -> list[RealtimeMessage]:
        """The newest message of every (feed, kind), oldest first (what a process starting
        up applies)."""
        with self.db.transaction() as tx:
            rows = tx.execute(
                "SELECT m.seq, m.feed_id, m.kind, m.source, m.received_at, m.header_at, m.body "
                "FROM realtime_messages m JOIN (SELECT feed_id, kind, MAX(seq) AS s FROM "
                "realtime_messages GROUP BY feed_id, kind) t ON m.seq = t.s ORDER BY m.seq")
        return [RealtimeMessage(int(r[0]), r[1], r[2], r[3], self.db.ts_out(r[4]),
                                self.db.ts_out(r[5]) if r[5] is not None else None,
                                bytes(r[6])) for r in rows]

    def prune(self, now: datetime) -> int:
        """Delete messages older than :data:`KEEP` except the newest per feed and kind."""
        with self.db.transaction(write=True) as tx:
            rows = tx.execute(
                "DELETE FROM realtime_messages WHERE received_at < ? AND seq NOT IN (SELECT "
                "MAX(seq) FROM realtime_messages GROUP BY feed_id, kind) RETURNING seq",
                (self.db.ts_in(now - KEEP),))
        return len(rows)
