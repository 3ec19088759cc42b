"""Matrix jobs in the incident store: travel-time matrices too large for a synchronous answer.

A job is accepted ``queued``; a runner *claims* it (``running``, one claim wins even with
several processes on one database), beats a heartbeat while it works, and ends it ``done``
(with the result, an NPZ blob) or ``failed`` (with the reason). Nothing is lost on a restart:
queued jobs stay queued, and a running job whose heartbeat is older than the runner's
staleness limit (its process died) is queued again (:meth:`MatrixJobs.requeue_stale`).
Same behaviour on SQLite and PostgreSQL (migration 0011).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from incidents.store import IncidentStore

STATUSES = ("queued", "running", "done", "failed")
_COLS = ("id, status, key_id, plan, body, n_sources, n_targets, cost, progress, attempts, "
         "created_at, started_at, heartbeat_at, finished_at, error, meta")


@dataclass(frozen=True)
class MatrixJob:
    """A job without its result."""

    id: str
    status: str
    key_id: str | None
    plan: str
    body: dict[str, Any]
    n_sources: int
    n_targets: int
    cost: int
    progress: float
    attempts: int
    created_at: datetime
    started_at: datetime | None
    heartbeat_at: datetime | None
    finished_at: datetime | None
    error: str | None
    meta: dict[str, Any]


class MatrixJobs:
    """The ``matrix_jobs`` table of one store."""

    def __init__(self, store: IncidentStore) -> None:
        self.store = store
        self.db = store.db

    def _ts(self, v: Any) -> datetime | None:
        return None if v is None else self.db.ts_out(v)

    def _job(self, r: tuple[Any, ...]) -> MatrixJob:
        return MatrixJob(
            id=r[0], status=r[1], key_id=r[2], plan=r[3], body=json.loads(r[4]),
            n_sources=int(r[5]), n_targets=int(r[6]), cost=int(r[7]), progress=float(r[8]),
            attempts=int(r[9]), created_at=self.db.ts_out(r[10]), started_at=self._ts(r[11]),
            heartbeat_at=self._ts(r[12]), finished_at=self._ts(r[13]), error=r[14],
            meta=json.loads(r[15]) if r[15] else {})

    def create(self, body: dict[str, Any], n_sources: int, n_targets: int, cost: int,
               plan: str, key_id: str | None) -> MatrixJob:
        """Accept a job (``queued``) and return it."""
        job_id = secrets.token_hex(12)
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO matrix_jobs (id, status, key_id, plan, body, n_sources, n_targets,"
                " cost, created_at) VALUES (?, 'queued', ?, ?, ?, ?, ?, ?, ?)",
                (job_id, key_id, plan, json.dumps(body), n_sources, n_targets, cost,
                 self.db.ts_in(self.store.now())))
        job = self.get(job_id)
        assert job is not None
        return job

    def get(self, job_id: str) -> MatrixJob | None:
        """The job, or ``None``."""
        with self.db.transaction() as tx:
            r = tx.one(f"SELECT {_COLS} FROM matrix_jobs WHERE id = ?", (job_id,))
        return None if r is None else self._job(r)

    def result(self, job_id: str) -> bytes | None:
        """The NPZ result of a finished job (``None`` before)."""
        with self.db.transaction() as tx:
            r = tx.one("SELECT result FROM matrix_jobs WHERE id = ? AND status = 'done'",
                       (job_id,))
        return None if r is None or r[0] is None else bytes(r[0])

    def claim_next(self) -> MatrixJob | None:
        """Take the oldest queued job (``running``, attempts + 1); ``None`` when there is
        none. Two runners never claim the same job."""
        while True:
            with self.db.transaction() as tx:
                r = tx.one("SELECT id FROM matrix_jobs WHERE status = 'queued' "
                           "ORDER BY created_at, id LIMIT 1")
                if r is None:
                    return None
                now = self.db.ts_in(self.store.now())
                won = tx.execute(
                    "UPDATE matrix_jobs SET status = 'running', attempts = attempts + 1, "
                    "started_at = ?, heartbeat_at = ?, progress = 0 "
                    "WHERE id = ? AND status = 'queued' RETURNING id", (now, now, r[0]))
            if won:
                job = self.get(r[0])
                assert job is not None
                return job

    def beat(self, job_id: str, progress: float) -> bool:
        """Record progress (0..1) and the heartbeat; False when the job is no longer
        running (it was re-queued after looking dead)."""
        with self.db.transaction() as tx:
            rows = tx.execute(
                "UPDATE matrix_jobs SET progress = ?, heartbeat_at = ? "
                "WHERE id = ? AND status = 'running' RETURNING id",
                (float(progress), self.db.ts_in(self.store.now()), job_id))
        return bool(rows)

    def finish(self, job_id: str, result: bytes, meta: dict[str, Any]) -> None:
        """Mark a running job ``done`` with its NPZ result and metadata."""
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE matrix_jobs SET status = 'done', progress = 1, finished_at = ?, "
                "result = ?, meta = ?, error = NULL WHERE id = ? AND status = 'running'",
                (self.db.ts_in(self.store.now()), result, json.dumps(meta), job_id))

    def fail(self, job_id: str, error: str) -> None:
        """Mark a running job ``failed`` with the reason."""
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE matrix_jobs SET status = 'failed', finished_at = ?, error = ? "
                "WHERE id = ? AND status = 'running'",
                (self.db.ts_in(self.store.now()), error[:2000], job_id))

    def requeue_stale(self, stale_s: float) -> int:
        """Queue again every running job whose heartbeat is older than ``stale_s`` seconds
        (its runner died); returns how many."""
        cutoff = self.store.now() - timedelta(seconds=stale_s)
        with self.db.transaction() as tx:
            rows = tx.execute(
                "UPDATE matrix_jobs SET status = 'queued', progress = 0 "
                "WHERE status = 'running' AND (heartbeat_at IS NULL OR heartbeat_at < ?) "
                "RETURNING id", (self.db.ts_in(cutoff),))
        return len(rows)

    def counts(self) -> dict[str, int]:
        """Jobs per status."""
        with self.db.transaction() as tx:
            rows = tx.execute("SELECT status, COUNT(*) FROM matrix_jobs GROUP BY status")
        out = dict.fromkeys(STATUSES, 0)
        out.update({str(s): int(n) for s, n in rows})
        return out
