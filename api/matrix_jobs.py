"""Matrix jobs: travel-time matrices above the synchronous limit, run in the background.

``POST /v1/matrix/jobs`` takes the body of ``POST /v1/matrix`` and answers 202 with the job
and its ``Location``; ``GET /v1/matrix/jobs/{id}`` gives its status (queued, running, done,
failed) and progress; ``GET /v1/matrix/jobs/{id}/result`` the matrix as JSON (the shape of
``POST /v1/matrix``) and ``/result.npz`` the same arrays as a NumPy archive (large ones).

* **Persistence**: jobs live in the incident store (``matrix_jobs``, migration 0011, SQLite
  and PostgreSQL). An accepted job is never lost: a restart finds it queued, and a job that
  was running when its process died (heartbeat older than ``stale_s``) is queued again and
  re-run from the start.
* **Running**: off the event loop, on a bounded pool of worker threads per process
  (:class:`MatrixJobRunner`, ``workers`` at a time; default 1). A Dask cluster (what
  ``citynav accessibility`` uses) would add a process per server for jobs that are one
  CCH/RAPTOR call per block, so a bounded thread pool it is; claims in the store keep
  several processes on one database from running a job twice.
* **Limits and cost per plan** (:data:`JOB_LIMITS`, :func:`job_cost`): road jobs cost one
  quota unit per 10,000 cells, transit jobs one unit per 40 RAPTOR searches (sources ×
  sampled departures), charged when the job is accepted (429 past the plan's quota).
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Body, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from api.fastjson import FastJSONResponse
from api.incidents import viewer
from api.problems import ApiProblem, problem_example, responses
from api.reach import (
    MATRIX_BODY_EXAMPLES,
    JobAbandonedError,
    MatrixRequest,
    compute_matrix,
)
from api.service import Service
from incidents.auth import Plan
from incidents.matrix_jobs import MatrixJob, MatrixJobs
from routing.reach import REASONS, Matrix

log = logging.getLogger("citynav.matrix_jobs")

router = APIRouter(prefix="/v1", tags=["reach"])

#: A job id in a path.
JobId = Annotated[str, Path(max_length=64, description="The job's id (from the 202 answer)",
                            examples=["5f0c2a9e41b7d3c8a1e0f4b2"])]


@dataclass(frozen=True)
class JobLimits:
    """The largest job a plan may submit."""

    max_cells: int  # sources × targets
    max_side: int  # sources or targets
    max_transit_runs: int  # transit: sources × sampled departures


#: Size limits of one job per plan.
JOB_LIMITS: dict[Plan, JobLimits] = {
    Plan.OPEN: JobLimits(250_000, 1_000, 2_000),
    Plan.STANDARD: JobLimits(1_000_000, 2_000, 10_000),
    Plan.PARTNER: JobLimits(4_000_000, 5_000, 50_000),
}
#: Quota cost: one unit per this many road cells, or per this many transit searches.
CELLS_PER_UNIT = 10_000
TRANSIT_RUNS_PER_UNIT = 40
#: A running job whose heartbeat is older than this (s) is taken for dead and queued again.
DEFAULT_STALE_S = 60.0
#: Rows of a road job computed between heartbeats (bounded by cells, see _block_rows).
BLOCK_CELLS = 100_000


def transit_runs(body: MatrixRequest) -> int:
    """RAPTOR searches of a transit matrix: sources × sampled departures."""
    return len(body.sources) * (body.window_min // body.step_min + 1)


def job_cost(body: MatrixRequest) -> int:
    """Quota units a job costs."""
    if body.mode == "transit":
        return max(1, math.ceil(transit_runs(body) / TRANSIT_RUNS_PER_UNIT))
    return max(1, math.ceil(len(body.sources) * len(body.targets) / CELLS_PER_UNIT))


def _block_rows(body: MatrixRequest) -> int:
    if body.mode == "transit":
        return max(1, 400 // (body.window_min // body.step_min + 1))
    return max(1, BLOCK_CELLS // max(len(body.targets), 1))


# ------------------------------------------------------------------------------ the runner
def result_npz(res: Matrix, meta: dict[str, Any]) -> bytes:
    """A matrix as a compressed NumPy archive: ``durations_s`` and ``distances_m`` (float64,
    NaN = no value; distances empty when not asked), ``reason`` (int8 code per cell, 0 = a
    value) and ``reason_names`` (code → name)."""
    buf = io.BytesIO()
    np.savez_compressed(
        buf, durations_s=res.duration_s,
        distances_m=res.distance_m if res.distance_m is not None else np.zeros((0, 0)),
        reason=res.reason, reason_names=np.array([r or "" for r in REASONS]),
        departures=np.array(res.departures))
    return buf.getvalue()


def load_npz(blob: bytes) -> dict[str, np.ndarray]:
    """The arrays of :func:`result_npz`."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


class MatrixJobRunner:
    """Runs queued jobs of one store on ``workers`` threads (claims in the store, so several
    processes may share it); re-queues jobs whose runner died (``stale_s``)."""

    def __init__(self, svc: Service, jobs: MatrixJobs, workers: int = 1,
                 stale_s: float = DEFAULT_STALE_S, poll_s: float = 1.0) -> None:
        self.svc, self.jobs = svc, jobs
        self.workers = max(1, workers)
        self.stale_s, self.poll_s = stale_s, poll_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._active: dict[str, float] = {}  # job id → progress
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start dispatching (queues stale running jobs again first)."""
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="matrix-job")
        self._thread = threading.Thread(target=self._loop, name="matrix-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop claiming; running jobs are abandoned at their next block (another process
        or the next start queues them again once their heartbeat is stale)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def poke(self) -> None:
        """A job was submitted: look for work now."""
        self._wake.set()

    def _loop(self) -> None:
        last_beat = 0.0
        import time

        while not self._stop.is_set():
            try:
                self.jobs.requeue_stale(self.stale_s)
                now = time.monotonic()
                if now - last_beat >= self.stale_s / 4:
                    last_beat = now
                    with self._lock:
                        active = dict(self._active)
                    for job_id, share in active.items():
                        self.jobs.beat(job_id, share)
                while not self._stop.is_set():
                    with self._lock:
                        if len(self._active) >= self.workers:
                            break
                    job = self.jobs.claim_next()
                    if job is None:
                        break
                    with self._lock:
                        self._active[job.id] = 0.0
                    assert self._pool is not None
                    fut: Future[None] = self._pool.submit(self._run, job)
                    fut.add_done_callback(self._done_cb(job.id))
            except Exception:  # noqa: BLE001 - a store hiccup must not end the runner
                log.exception("matrix job dispatch failed")
            self._wake.wait(min(self.poll_s, self.stale_s / 4))
            self._wake.clear()

    def _done_cb(self, job_id: str) -> Callable[[Future[None]], None]:
        return lambda _f: self._done(job_id)

    def _done(self, job_id: str) -> None:
        with self._lock:
            self._active.pop(job_id, None)
        self._wake.set()

    def _run(self, job: MatrixJob) -> None:
        if self._stop.is_set():
            return
        try:
            body = MatrixRequest.model_validate(job.body, strict=False)

            def progress(share: float) -> bool:
                with self._lock:
                    self._active[job.id] = share
                if self._stop.is_set():
                    return False
                return self.jobs.beat(job.id, share)

            res, version, t = compute_matrix(self.svc, body, _block_rows(body), progress)
            meta = {"live_version": version, "depart_at": t.isoformat(),
                    "statistic": "median" if res.departures > 1 else "earliest",
                    "departures_sampled": res.departures, "mode": body.mode,
                    "annotations": list(body.annotations)}
            self.jobs.finish(job.id, result_npz(res, meta), meta)
        except JobAbandonedError:
            return
        except ApiProblem as exc:
            self.jobs.fail(job.id, str(exc.detail))
        except Exception as exc:  # noqa: BLE001 - the job fails, the runner goes on
            log.exception("matrix job %s failed", job.id)
            self.jobs.fail(job.id, f"internal error: {type(exc).__name__}")


# ------------------------------------------------------------------------------ endpoints
class JobLinks(BaseModel):
    """Where to read a job."""

    self: str = Field(description="This job's status")
    result: str = Field(description="The matrix as JSON (once done)")
    npz: str = Field(description="The matrix as a NumPy archive (once done)")


class MatrixJobStatus(BaseModel):
    """A matrix job."""

    id: str = Field(description="Job id")
    status: str = Field(description="queued, running, done or failed")
    progress: float = Field(description="Share of sources done (0..1)")
    mode: str = Field(description="car, bike, walk or transit")
    sources: int = Field(description="Number of sources")
    targets: int = Field(description="Number of targets")
    cost: int = Field(description="Quota units charged when it was accepted")
    attempts: int = Field(description="Times a runner started it (re-runs after a restart)")
    created_at: datetime = Field(description="When it was accepted")
    started_at: datetime | None = Field(default=None,
                                        description="When its current attempt started")
    finished_at: datetime | None = Field(default=None, description="When it ended (done or failed)")
    error: str | None = Field(default=None, description="Why it failed")
    live_version: int | None = Field(default=None,
                                     description="Live state version it read (once done)")
    links: JobLinks


def _store(svc: Service) -> MatrixJobs:
    if svc.store is None:
        raise ApiProblem(404, "no-jobs", "matrix jobs need the incident store, which this "
                         "server runs without", "No job store")
    return MatrixJobs(svc.store)


def _status(job: MatrixJob) -> MatrixJobStatus:
    base = f"/v1/matrix/jobs/{job.id}"
    return MatrixJobStatus(
        id=job.id, status=job.status, progress=round(job.progress, 4),
        mode=str(job.body.get("mode", "car")), sources=job.n_sources, targets=job.n_targets,
        cost=job.cost, attempts=job.attempts, created_at=job.created_at,
        started_at=job.started_at, finished_at=job.finished_at, error=job.error,
        live_version=job.meta.get("live_version"),
        links=JobLinks(self=base, result=base + "/result", npz=base + "/result.npz"))


_JOB_ERRORS: dict[int, Any] = {
    400: "The body is not valid JSON",
    404: "No such job, or no job store on this server",
    409: ("The job has not finished (or failed): its result is not there yet",
          problem_example(409, "job 3f2a… is running (42 % done)", "/v1/matrix/jobs/3f2a…"
                          "/result", "job-not-done", "Job not done")),
    413: ("More than the caller's plan allows in one job (open: 250,000 cells, 1,000 per "
          "side, 2,000 transit searches; standard: 1,000,000 / 2,000 / 10,000; partner: "
          "4,000,000 / 5,000 / 50,000)",
          problem_example(413, "the open plan allows at most 250000 cells per job; got "
                          "1000 × 1000", "/v1/matrix/jobs", "job-too-large", "Job too large")),
    422: "A malformed coordinate or time, an unknown mode",
    429: "The job's cost is past the plan's quota",
}


_BAD_ID = "A job id longer than 64 characters"
JOB_EXAMPLE = {
    "id": "5f0c2a9e41b7d3c8a1e0f4b2", "status": "running", "progress": 0.4, "mode": "car",
    "sources": 500, "targets": 400, "cost": 20, "attempts": 1,
    "created_at": "2026-11-24T13:00:00Z", "started_at": "2026-11-24T13:00:01Z",
    "finished_at": None, "error": None, "live_version": None,
    "links": {"self": "/v1/matrix/jobs/5f0c2a9e41b7d3c8a1e0f4b2",
              "result": "/v1/matrix/jobs/5f0c2a9e41b7d3c8a1e0f4b2/result",
              "npz": "/v1/matrix/jobs/5f0c2a9e41b7d3c8a1e0f4b2/result.npz"}}
RESULT_EXAMPLE = {
    "mode": "car", "durations_s": [[0.0, 163.0], [253.7, 0.0], [None, None]],
    "distances_m": [[0.0, 1678.0], [2498.1, 0.0], [None, None]],
    "unreachable": [{"source": 2, "target": 0, "reason": "source_not_on_network"},
                    {"source": 2, "target": 1, "reason": "source_not_on_network"}],
    "live_version": 7, "depart_at": "2026-11-24T08:00:00-05:00", "statistic": "earliest",
    "departures_sampled": 1, "job": "5f0c2a9e41b7d3c8a1e0f4b2"}


def _charge(request: Request, plan: Plan, cost: int) -> None:
    """Count the job's cost against the caller's quota (when quotas are on): 429 past it."""
    q = getattr(request.app.state, "quotas", None)
    if q is None or q.counter is None:
        return
    from api.quotas import decide

    p = viewer(request)
    client = request.client
    ident = f"key:{p.key_id}" if p is not None else \
        f"ip:{client.host if client else 'unknown'}"
    quota = q.plans[plan]
    decision = decide(q.counter, ident, quota, cost)
    q.usage.count(p.key_id if p is not None else "anonymous", "matrix_job", cost,
                  not decision.allowed)
    if not decision.allowed:
        raise ApiProblem(429, "quota-exceeded", f"the {plan.value} plan allows "
                         f"{quota.per_minute} units a minute and {quota.per_day} a day; this "
                         f"matrix job costs {cost}. Try again in {decision.retry_after_s} s",
                         "Quota exceeded",
                         headers={"Retry-After": str(decision.retry_after_s)})


@router.post("/matrix/jobs", status_code=202, response_model=MatrixJobStatus,
             summary="Submit a large travel-time matrix as a job",
             responses={202: {"description": "Accepted: the job (queued), its `Location` in "
                              "the header", "content": {"application/json": {
                                  "example": {**JOB_EXAMPLE, "status": "queued",
                                              "progress": 0.0, "started_at": None}}}},
                        **responses(_JOB_ERRORS)})
def job_submit(request: Request, body: Annotated[MatrixRequest, Body(
        openapi_examples=MATRIX_BODY_EXAMPLES)]) -> JSONResponse:
    """The body of `POST /v1/matrix`, for matrices above its synchronous limit: 202 with the
    job and its `Location`; poll `GET /v1/matrix/jobs/{id}` until `done`, then read
    `/result` (JSON) or `/result.npz`. Size limits and quota cost depend on the caller's
    plan (anonymous: open); the job survives a server restart."""
    svc: Service = request.app.state.service
    jobs = _store(svc)
    p = viewer(request)
    plan = p.plan if p is not None else Plan.OPEN
    lim = JOB_LIMITS[plan]
    n, m = len(body.sources), len(body.targets)
    what = None
    if n > lim.max_side or m > lim.max_side:
        what = f"at most {lim.max_side} sources or targets per job; got {n} × {m}"
    elif n * m > lim.max_cells:
        what = f"at most {lim.max_cells} cells per job; got {n} × {m}"
    elif body.mode == "transit" and transit_runs(body) > lim.max_transit_runs:
        what = (f"at most {lim.max_transit_runs} transit searches (sources × sampled "
                f"departures) per job; got {transit_runs(body)}")
    if what:
        raise ApiProblem(413, "job-too-large", f"the {plan.value} plan allows {what}. Split "
                         "it into several jobs", "Job too large")
    # bad points are the caller's error now, not a failed job later
    from api.params import parse_latlon
    from api.transit import parse_time

    for name, vals in (("sources", body.sources), ("targets", body.targets)):
        for i, v in enumerate(vals):
            parse_latlon(v, f"{name}[{i}]")
    parse_time(body.depart_at, "depart_at", svc.tz, svc.clock)
    cost = job_cost(body)
    _charge(request, plan, cost)
    job = jobs.create(body.model_dump(), n, m, cost, plan.value,
                      p.key_id if p is not None else None)
    runner: MatrixJobRunner | None = getattr(request.app.state, "matrix_jobs", None)
    if runner is not None:
        runner.poke()
    st = _status(job)
    return JSONResponse(st.model_dump(mode="json"), status_code=202,
                        headers={"Location": st.links.self})


def _get(request: Request, job_id: str) -> tuple[MatrixJobs, MatrixJob]:
    jobs = _store(request.app.state.service)
    job = jobs.get(job_id) if len(job_id) <= 64 else None
    if job is None:
        raise ApiProblem(404, "not-found", f"no matrix job {job_id!r}", "Not found")
    return jobs, job


@router.get("/matrix/jobs/{job_id}", response_model=MatrixJobStatus,
            summary="A matrix job's status",
            responses={200: {"content": {"application/json": {"example": JOB_EXAMPLE}}},
                       **responses({404: _JOB_ERRORS[404], 422: _BAD_ID})})
def job_status(request: Request, job_id: JobId) -> MatrixJobStatus:
    """Status and progress of a job, with links to its result."""
    return _status(_get(request, job_id)[1])


def _done_blob(request: Request, job_id: str) -> tuple[MatrixJob, bytes]:
    jobs, job = _get(request, job_id)
    blob = jobs.result(job_id) if job.status == "done" else None
    if blob is None:
        detail = (f"job {job_id} failed: {job.error}" if job.status == "failed" else
                  f"job {job_id} is {job.status} ({job.progress * 100:.0f} % done)")
        raise ApiProblem(409, "job-not-done", detail, "Job not done")
    return job, blob


@router.get("/matrix/jobs/{job_id}/result", response_class=FastJSONResponse,
            summary="A finished matrix job's result (JSON)",
            responses={200: {"description": "The shape of `POST /v1/matrix`'s answer (and the "
                             "job id)", "content": {"application/json": {
                                 "schema": {"type": "object", "additionalProperties": True,
                                            "description": "As `POST /v1/matrix` answers"},
                                 "example": RESULT_EXAMPLE}}},
                       **responses({404: _JOB_ERRORS[404], 409: _JOB_ERRORS[409],
                                   422: _BAD_ID})})
def job_result(request: Request, job_id: JobId) -> Response:
    """The matrix of a finished job as JSON (rows = sources), as `POST /v1/matrix` answers."""
    job, blob = _done_blob(request, job_id)
    a = load_npz(blob)
    reason = a["reason"]
    names = [str(x) or None for x in a["reason_names"].tolist()]
    ii, jj = np.nonzero(reason)
    codes = reason[ii, jj].tolist()
    unreachable = [{"source": i, "target": j, "reason": names[c]} for i, j, c in
                   zip(ii.tolist(), jj.tolist(), codes, strict=True)]
    ann = job.meta.get("annotations", ["duration", "distance"])
    mode = job.meta.get("mode", "car")
    dur: Any = a["durations_s"]
    if "duration" not in ann and mode != "transit":
        dur = np.full(dur.shape, np.nan)
    dist = a["distances_m"] if a["distances_m"].size or dur.size == 0 else None
    if dist is not None and dist.shape != dur.shape:
        dist = None
    return FastJSONResponse({
        "mode": mode, "durations_s": dur, "distances_m": dist, "unreachable": unreachable,
        "live_version": job.meta.get("live_version"), "depart_at": job.meta.get("depart_at"),
        "statistic": job.meta.get("statistic"),
        "departures_sampled": job.meta.get("departures_sampled", 1), "job": job.id})


@router.get("/matrix/jobs/{job_id}/result.npz", response_class=Response,
            summary="A finished matrix job's result (NumPy archive)",
            responses={200: {"description": "`durations_s`, `distances_m` (float64, NaN = no "
                             "value), `reason` (int8, 0 = a value) and `reason_names`",
                             "content": {"application/octet-stream": {
                                 "schema": {"type": "string", "format": "binary",
                                            "description": "A NumPy .npz archive"},
                                 "example": "<NumPy .npz archive bytes>"}}},
                       **responses({404: _JOB_ERRORS[404], 409: _JOB_ERRORS[409],
                                   422: _BAD_ID})})
def job_result_npz(request: Request, job_id: JobId) -> Response:
    """The matrix of a finished job as a compressed NumPy archive (`numpy.load`)."""
    _, blob = _done_blob(request, job_id)
    return Response(blob, media_type="application/octet-stream", headers={
        "Content-Disposition": f'attachment; filename="matrix-{job_id}.npz"'})


def start_runner(svc: Service, workers: int, stale_s: float = DEFAULT_STALE_S,
                 poll_s: float = 1.0) -> MatrixJobRunner | None:
    """A started runner over the service's store (``None`` without a store or workers)."""
    if svc.store is None or workers <= 0:
        return None
    store = svc.push_store or svc.store
    runner = MatrixJobRunner(svc, MatrixJobs(store), workers, stale_s, poll_s)
    with contextlib.suppress(Exception):
        runner.jobs.requeue_stale(stale_s)
    runner.start()
    return runner
