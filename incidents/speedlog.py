"""The store's speed log: validated live speed batches, in commit order, for every process.

A batch is written in one transaction that takes the store's global write lock, numbers it
from the ``speed_seq`` counter (gap-free, committed in order) and, on PostgreSQL, NOTIFYs the
incidents channel (payload ``speeds:<seq>``), so each server following the log — the one that
took the POST, other workers, other replicas — applies exactly the same observations in the
same order. Batches whose newest observation is older than the ageing horizon no longer
matter and are pruned.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from incidents.db import Database
from incidents.speeds import SpeedUpdate, SpeedUpdates

#: Batches are kept this long after their newest observation (then pruned).
KEEP = timedelta(hours=1)


@dataclass(frozen=True)
class SpeedBatch:
    """One committed batch."""

    seq: int
    snapshot_id: str
    actor: str
    recorded_at: datetime
    updates: SpeedUpdates


def _decode_json(body: str) -> SpeedUpdates:
    """Batches written before migration 0005 (JSON text body)."""
    doc: dict[str, Any] = json.loads(body)
    return SpeedUpdates.of([SpeedUpdate(np.asarray(e, np.int64), float(s), float(at), float(c))
                            for e, s, at, c in doc["o"]])


class SpeedLog:
    """Append and follow speed batches on a store's database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def append(self, snapshot_id: str, actor: str, updates: SpeedUpdates,
               now: datetime) -> int:
        """Commit a batch; returns its sequence number."""
        if len(updates) == 0:
            raise ValueError("empty batch")
        payload = updates.to_bytes()
        with self.db.transaction(write=True) as tx:
            row = tx.one("UPDATE counters SET value = value + 1 WHERE name = 'speed_seq' "
                         "RETURNING value")
            assert row is not None, "speed_seq counter missing (migration 0003)"
            seq = int(row[0])
            tx.execute("INSERT INTO speed_batches (seq, snapshot_id, actor, recorded_at, "
                       "observed_until, n_obs, body, payload) VALUES (?, ?, ?, ?, ?, ?, '', ?)",
                       (seq, snapshot_id, actor, self.db.ts_in(now),
                        self.db.ts_in(datetime.fromtimestamp(updates.newest_s, UTC)),
                        len(updates), payload))
            self.db.notify(tx, f"speeds:{seq}")
        return seq

    def last_seq(self) -> int:
        """Sequence number of the latest committed batch (0 if none)."""
        with self.db.transaction() as tx:
            row = tx.one("SELECT value FROM counters WHERE name = 'speed_seq'")
        return int(row[0]) if row else 0

    def since(self, seq: int, snapshot_id: str, observed_after: datetime | None = None,
              limit: int = 200) -> list[SpeedBatch]:
        """Batches after ``seq`` for ``snapshot_id`` (oldest first, at most ``limit``), only
        those with an observation newer than ``observed_after`` when given. Batches of other
        snapshots are skipped (their edge ids mean nothing here)."""
        sql = ("SELECT seq, snapshot_id, actor, recorded_at, body, payload FROM speed_batches "
               "WHERE seq > ?")
        params: list[Any] = [seq]
        if observed_after is not None:
            sql += " AND observed_until > ?"
            params.append(self.db.ts_in(observed_after))
        sql += " ORDER BY seq LIMIT ?"
        params.append(limit)
        with self.db.transaction() as tx:
            rows = tx.execute(sql, params)
        return [SpeedBatch(int(r[0]), r[1], r[2], self.db.ts_out(r[3]),
                           _decode(r[4], r[5]) if r[1] == snapshot_id
                           else SpeedUpdates.empty())
                for r in rows]

    def prune(self, now: datetime) -> int:
        """Delete batches whose newest observation is older than :data:`KEEP`."""
        with self.db.transaction(write=True) as tx:
            rows = tx.execute("DELETE FROM speed_batches WHERE observed_until < ? RETURNING seq",
                              (self.db.ts_in(now - KEEP),))
        return len(rows)


def _decode(body: str, payload: bytes | memoryview | None) -> SpeedUpdates:
    if payload is None:
        return _decode_json(body)
    return SpeedUpdates.from_bytes(bytes(payload))
