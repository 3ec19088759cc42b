"""The store's realtime log: GTFS-Realtime messages, in commit order, for every process.

A message (its raw bytes, already validated by the process that received it) is written in
one transaction under the store's write lock, numbered from ``realtime_seq`` (gap-free,
committed in order) and, on PostgreSQL, NOTIFYs the incidents channel (payload
``realtime:<seq>``). Every server following the log — whichever worker took a push or polled
a URL, other workers, other replicas — decodes and applies the same messages in the same
order, so all answer on the same realtime data. A refused message is logged too (outcome
``rejected`` with its reason, no body), so every process reports the same feed status.

Replay: a process starting up applies, per feed and kind, the messages from the last full
dataset on (a DIFFERENTIAL message needs what came before it). Older messages are pruned
once they are an hour old; the last full dataset per feed and kind and what follows stay.

A small lease table elects the one process that polls the configured sources
(:meth:`RealtimeLog.hold_lease`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from incidents.db import Database

#: Messages are kept this long after they arrive (what replay needs always stays).
KEEP = timedelta(hours=1)
KINDS = ("trip_updates", "alerts", "vehicle_positions")
_COLUMNS = ("seq, feed_id, kind, source, received_at, header_at, body, full_dataset, outcome, "
            "reason, detail")


@dataclass(frozen=True)
class RealtimeMessage:
    """One committed feed message (``outcome`` ``accepted``, or ``rejected`` with a reason
    and an empty body)."""

    seq: int
    feed_id: str
    kind: str  # trip_updates | alerts | vehicle_positions
    source: str  # "url:…", "file:…", "push:<key id>"
    received_at: datetime
    header_at: datetime | None
    body: bytes
    full_dataset: bool = True
    outcome: str = "accepted"
    reason: str | None = None
    detail: str | None = None

    @property
    def accepted(self) -> bool:
        """True for a message to apply."""
        return self.outcome == "accepted"


class RealtimeLog:
    """Append and follow realtime messages on a store's database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def append(self, feed_id: str, kind: str, source: str, body: bytes, received_at: datetime,
               header_at: datetime | None, full_dataset: bool = True) -> int:
        """Commit an accepted message; returns its sequence number."""
        return self._insert(feed_id, kind, source, bytes(body), received_at, header_at,
                            full_dataset, "accepted", None, None)

    def append_rejection(self, feed_id: str, kind: str | None, source: str, reason: str,
                         detail: str, received_at: datetime) -> int:
        """Record a refused message (reason and detail, no body)."""
        return self._insert(feed_id, kind or "unknown", source, b"", received_at, None, False,
                            "rejected", reason, detail[:500])

    def _insert(self, feed_id: str, kind: str, source: str, body: bytes,
                received_at: datetime, header_at: datetime | None, full_dataset: bool,
                outcome: str, reason: str | None, detail: str | None) -> int:
        if kind not in KINDS and outcome == "accepted":
            raise ValueError(f"unknown realtime kind {kind!r}")
        with self.db.transaction(write=True) as tx:
            row = tx.one("UPDATE counters SET value = value + 1 WHERE name = 'realtime_seq' "
                         "RETURNING value")
            assert row is not None, "realtime_seq counter missing (migration 0004)"
            seq = int(row[0])
            tx.execute(f"INSERT INTO realtime_messages ({_COLUMNS}) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (seq, feed_id, kind, source[:300], self.db.ts_in(received_at),
                        self.db.ts_in(header_at) if header_at is not None else None,
                        body, bool(full_dataset), outcome, reason, detail))
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
            rows = tx.execute(f"SELECT {_COLUMNS} FROM realtime_messages WHERE seq > ? "
                              "ORDER BY seq LIMIT ?", (seq, limit))
        return [self._row(r) for r in rows]

    def replay_start(self) -> int:
        """The sequence number to read after when starting up: just before the oldest of the
        last accepted full datasets per feed and kind (0: from the beginning)."""
        with self.db.transaction() as tx:
            rows = tx.execute(
                "SELECT feed_id, kind, MAX(seq) FROM realtime_messages WHERE outcome = "
                "'accepted' AND full_dataset = ? GROUP BY feed_id, kind", (True,))
        return max(min((int(r[2]) for r in rows), default=1) - 1, 0)

    def prune(self, now: datetime) -> int:
        """Delete messages older than :data:`KEEP` that replay no longer needs (before the
        last accepted full dataset of their feed and kind; rejections once old)."""
        with self.db.transaction(write=True) as tx:
            rows = tx.execute(
                "DELETE FROM realtime_messages WHERE received_at < ? AND (outcome <> "
                "'accepted' OR seq < (SELECT MAX(f.seq) FROM realtime_messages f WHERE "
                "f.feed_id = realtime_messages.feed_id AND f.kind = realtime_messages.kind "
                "AND f.outcome = 'accepted' AND f.full_dataset = ?)) RETURNING seq",
                (self.db.ts_in(now - KEEP), True))
        return len(rows)

    # ---------------------------------------------------------------- poller election
    def hold_lease(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        """Take or renew lease ``name`` for ``holder`` until ``now + ttl``; True when
        ``holder`` holds it (it was free, expired, or already its own)."""
        until = self.db.ts_in(now + ttl)
        with self.db.transaction(write=True) as tx:
            row = tx.one("SELECT holder, expires_at FROM leases WHERE name = ?", (name,))
            if row is None:
                tx.execute("INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)",
                           (name, holder, until))
                return True
            if row[0] == holder or self.db.ts_out(row[1]) <= now:
                tx.execute("UPDATE leases SET holder = ?, expires_at = ? WHERE name = ?",
                           (holder, until, name))
                return True
        return False

    def release_lease(self, name: str, holder: str) -> None:
        """Give lease ``name`` up if ``holder`` holds it."""
        with self.db.transaction(write=True) as tx:
            tx.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))

    def _row(self, r: tuple) -> RealtimeMessage:
        return RealtimeMessage(int(r[0]), r[1], r[2], r[3], self.db.ts_out(r[4]),
                               self.db.ts_out(r[5]) if r[5] is not None else None,
                               bytes(r[6]) if r[6] is not None else b"", bool(r[7]), r[8],
                               r[9], r[10])
