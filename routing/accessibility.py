"""City-wide accessibility: cumulative opportunities reachable from many origins, on Dask.

For every origin: the travel time to every opportunity (a one-to-all search per sampled
departure — :meth:`routing.reach.Reach.road_times` or
:meth:`~routing.reach.Reach.transit_times` — read at each opportunity's snapped position), the
median over the departures of the window, and the sum of the opportunities' weights within
:data:`CUTOFFS_MIN` minutes.

Origins are split into blocks; each block is one Dask task. A worker process opens the
memory-mapped snapshot **once** (:func:`worker_context`, kept per process) and reuses it for
every block it runs. :func:`run` submits the blocks to a ``dask.distributed`` client (a local
cluster, or an existing scheduler by address) or runs them on Dask's synchronous scheduler in
this process; the answer is the same either way. No scheduling of our own: Dask decides which
worker runs which block.

The state is the snapshot's free-flow / typical-speed state at each departure (``timetable``
state), or with :attr:`Job.live` the live state of an incident store (closures, slowdowns,
closed stops, realtime transit data), the same inputs a server publishes, at each departure.
Every worker publishes that live state once per (snapshot, store, version) and refuses to
run a block on another version than the one the run started with (the store changed under
the run: run it again), so one result reads one live version. This module never imports the
store: :attr:`Job.live` carries the function that applies it
(:func:`api.service.apply_live_state`), pickled by reference to the workers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from routing.kernels.limits import INF_WEIGHT
from routing.kernels.reach import UNREACHED
from routing.plan import Planner, TransitData
from routing.profiles import Mode
from routing.reach import Reach, RoadReach
from routing.road import RoadRouter, SnapError
from routing.snapshot import load_snapshot
from routing.state import RoutingState, StatePublisher

#: Cumulative opportunities are counted within these many minutes.
CUTOFFS_MIN = (15, 30, 45, 60)
#: Origins per Dask task.
BLOCK_SIZE = 16
#: Default minutes between sampled departures of the window.
DEFAULT_STEP_MIN = 15
MODES = ("car", "bike", "walk", "transit")


class AccessibilityInputError(ValueError):
    """Bad origins, opportunities or options (what was wrong and where)."""


@dataclass(frozen=True)
class Job:
    """What every block of one accessibility run shares (sent to the workers once per
    task; small: paths and numbers)."""

    snapshot_dir: str
    mode: str
    date: str  # ISO date of the departures (city timezone)
    window: tuple[int, int]  # seconds since midnight: [start, end]
    step_s: int
    opp_lat: np.ndarray
    opp_lon: np.ndarray
    opp_weight: np.ndarray
    #: the live state to apply: (function(snapshot, planner, publisher, db_url) → version,
    #: db_url, the version the run started with); None = the timetable state
    live: tuple[LiveLoader, str, int] | None = None


#: Publishes a store's live state on a publisher and returns its version.
LiveLoader = Callable[[Any, Planner | None, StatePublisher, str], int]


class LiveStateChangedError(RuntimeError):
    """A worker found another live version than the run started with."""


# ------------------------------------------------------------------ inputs
def grid_origins(snapshot_dir: str | Path, spacing_m: float, mode: str
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Centres of a square grid with ``spacing_m`` over the network's box, kept where the
    mode's network (walk for transit) is within half a spacing (and the snapping limit):
    (lat, lon)."""
    if not spacing_m > 0:
        raise AccessibilityInputError(f"grid spacing must be positive, got {spacing_m}")
    ctx = worker_context(str(snapshot_dir))
    router = ctx.router
    w, s, e, n = ctx.router.snapshot.bbox
    proj = router.projection
    x0, y0 = proj.to_xy(w, s)
    x1, y1 = proj.to_xy(e, n)
    xs = np.arange(x0 + spacing_m / 2, x1, spacing_m)
    ys = np.arange(y0 + spacing_m / 2, y1, spacing_m)
    road_mode = Mode.WALK if mode == "transit" else mode
    snapper = router.mode_router(road_mode).snapper
    lat_out, lon_out = [], []
    reach_m = min(spacing_m / 2, router.max_snap_m)
    for y in ys.tolist():
        for x in xs.tolist():
            lon, lat = proj.to_lonlat(x, y)
            if snapper.nearest(lon, lat, reach_m) is not None:
                lat_out.append(lat)
                lon_out.append(lon)
    return np.array(lat_out), np.array(lon_out)


def read_points(path: str | Path, what: str, weighted: bool
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Points from a CSV or Parquet file with ``lat``, ``lon`` (and optional ``weight``,
    default 1) columns: (lat, lon, weight, rows skipped). Rows with a missing or
    out-of-range coordinate or a negative weight are skipped and counted. Raises
    :class:`AccessibilityInputError` for a missing file or column."""
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise AccessibilityInputError(f"{what}: no such file {p}")
    try:
        df = pd.read_parquet(p) if p.suffix.lower() == ".parquet" else pd.read_csv(p)
    except Exception as exc:  # noqa: BLE001 - any reader error is the file's
        raise AccessibilityInputError(f"{what}: cannot read {p}: {exc}") from exc
    cols = {c.lower().strip(): c for c in df.columns}
    if "lat" not in cols or "lon" not in cols:
        raise AccessibilityInputError(f"{what}: {p} needs 'lat' and 'lon' columns, has "
                                      f"{list(df.columns)}")
    lat = pd.to_numeric(df[cols["lat"]], errors="coerce").to_numpy(np.float64)
    lon = pd.to_numeric(df[cols["lon"]], errors="coerce").to_numpy(np.float64)
    if weighted and "weight" in cols:
        wt = pd.to_numeric(df[cols["weight"]], errors="coerce").to_numpy(np.float64)
    else:
        wt = np.ones(lat.shape[0])
    ok = (np.isfinite(lat) & np.isfinite(lon) & np.isfinite(wt) & (wt >= 0)
          & (np.abs(lat) <= 90) & (np.abs(lon) <= 180))
    return lat[ok], lon[ok], wt[ok], int((~ok).sum())


def parse_window(value: str) -> tuple[int, int]:
    """``"07:00-09:00"`` → (25200, 32400) seconds since midnight."""
    try:
        a, b = value.split("-")
        ha, ma = (int(x) for x in a.split(":"))
        hb, mb = (int(x) for x in b.split(":"))
    except ValueError:
        raise AccessibilityInputError(f"--depart-window: expected HH:MM-HH:MM, got "
                                      f"{value!r}") from None
    start, end = ha * 3600 + ma * 60, hb * 3600 + mb * 60
    if not (0 <= start <= end <= 48 * 3600 and 0 <= ma < 60 and 0 <= mb < 60):
        raise AccessibilityInputError(f"--depart-window: {value!r} is not a window within a "
                                      "day (start ≤ end)")
    return start, end


# ------------------------------------------------------------------ per worker
@dataclass
class WorkerContext:
    """What one worker process opens once per snapshot."""

    router: RoadRouter
    planner: Planner | None
    publisher: StatePublisher
    reach: Reach


_CONTEXTS: dict[Any, WorkerContext] = {}
_CONTEXT_LOCK = threading.Lock()
#: How many times this process opened a snapshot (tests check "once per worker").
OPENED: dict[str, int] = {}


def worker_context(snapshot_dir: str, live: tuple[LiveLoader, str, int] | None = None
                   ) -> WorkerContext:
    """This process's router, planner, publisher and reach over ``snapshot_dir``
    (memory-mapped; opened on first use and kept). With ``live``: a publisher holding that
    store's live state (applied once per store and version; raises
    :class:`LiveStateChangedError` when the store's version is no longer the run's)."""
    path = str(Path(snapshot_dir).resolve())
    key: Any = path if live is None else (path, live[1], live[2])
    with _CONTEXT_LOCK:
        ctx = _CONTEXTS.get(key)
        if ctx is None:
            snap = load_snapshot(path)
            router = RoadRouter(snap)
            transit = TransitData.load(Path(path))
            planner = Planner(snap, router, transit) if transit is not None else None
            tz = snap.timezone or (planner.transit.ref_tz if planner is not None else "UTC")
            publisher = StatePublisher(router, None, str(tz),
                                       planner.tt.n_stops if planner is not None else None)
            if live is not None:
                version = live[0](snap, planner, publisher, live[1])
                if version != live[2]:
                    raise LiveStateChangedError(
                        f"the live state of {live[1]} is at version {version}, the run "
                        f"started at {live[2]}: it changed during the run; run it again")
            ctx = WorkerContext(router, planner, publisher, Reach(router, planner))
            _CONTEXTS[key] = ctx
            OPENED[path] = OPENED.get(path, 0) + 1
        return ctx


def live_version(snapshot_dir: str, loader: LiveLoader, db_url: str) -> int:
    """The version of the store's live state now (applied on a publisher of this process;
    what a run's :attr:`Job.live` names)."""
    ctx = worker_context(snapshot_dir)
    pub = StatePublisher(ctx.router, None, ctx.publisher.timezone,
                         ctx.planner.tt.n_stops if ctx.planner is not None else None)
    return loader(ctx.router.snapshot, ctx.planner, pub, db_url)


def _opportunity_edges(ctx: WorkerContext, state: RoutingState, mode: str, job: Job
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per opportunity edge candidate: (opportunity, edge, ms from the edge's tail to it) on
    the state's weights; opportunities off the network have none."""
    router = ctx.router
    mr = router.mode_router(mode)
    w = state.weights(mode)
    opp, edges, cost = [], [], []
    for i, (la, lo) in enumerate(zip(job.opp_lat.tolist(), job.opp_lon.tolist(), strict=True)):
        try:
            ep = router.snap(state, mode, la, lo, "opportunity", w)
        except SnapError:
            continue
        for e, m in ep.edges:
            seg_l = float(router.seg_length_m[mr.edge_seg[e]])
            f = min(max(m / seg_l, 0.0), 1.0) if seg_l > 0 else 0.0
            opp.append(i)
            edges.append(e)
            cost.append(int(round(float(w[e]) * f)))
    return np.array(opp, np.int64), np.array(edges, np.int64), np.array(cost, np.int64)


def _opportunity_ms(rr: RoadReach, mr: Any, opp: np.ndarray, edges: np.ndarray,
                    cost: np.ndarray, n_opp: int) -> np.ndarray:
    """Cost (ms) to every opportunity from a one-to-all answer (inf where not reached)."""
    off = np.asarray(mr.edge_arc_offsets, dtype=np.int64)
    vals = rr.knode_ms[np.asarray(mr.arc_tail, dtype=np.int64)]
    entry = np.full(off.shape[0] - 1, UNREACHED, dtype=np.int64)
    has = np.flatnonzero(off[1:] > off[:-1])
    if has.size:
        entry[has] = np.minimum.reduceat(vals, off[:-1][has])
    t = entry[edges].astype(np.float64)
    t[(entry[edges] >= UNREACHED) | (rr.weights_ms[edges] >= INF_WEIGHT)] = np.inf
    out = np.full(n_opp, np.inf)
    np.minimum.at(out, opp, t + cost)
    return out


def _snapper(ctx: WorkerContext, state: RoutingState, mode: str, job: Job
             ) -> Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    return lambda: _opportunity_edges(ctx, state, mode, job)


def compute_block(job: Job, origin_lat: np.ndarray, origin_lon: np.ndarray) -> np.ndarray:
    """Cumulative opportunity weights within each of :data:`CUTOFFS_MIN` for a block of
    origins: float64 ``[n_origins, len(CUTOFFS_MIN)]`` (an origin off the network: NaN)."""
    ctx = worker_context(job.snapshot_dir, job.live)
    tz = ZoneInfo(ctx.publisher.timezone)
    date = dt.date.fromisoformat(job.date)
    midnight = dt.datetime.combine(date, dt.time(0), tzinfo=tz)
    deps = list(range(job.window[0], job.window[1] + 1, max(job.step_s, 1)))
    road_mode = Mode.WALK if job.mode == "transit" else job.mode
    mr = ctx.router.mode_router(road_mode)
    limit_s = max(CUTOFFS_MIN) * 60.0
    n_opp = job.opp_lat.shape[0]
    n = origin_lat.shape[0]
    times = np.full((len(deps), n, n_opp), np.inf)
    snapped = np.zeros(n, dtype=bool)
    base = ctx.publisher.current()
    okey = hashlib.sha1(job.opp_lat.tobytes() + job.opp_lon.tobytes()).hexdigest()
    for d, sec in enumerate(deps):
        at = midnight + dt.timedelta(seconds=sec)
        state = ctx.publisher.at(base, at) if job.mode != "transit" else base
        opp, edges, cost = state.memo(f"access:opp:{road_mode}:{okey}",
                                      _snapper(ctx, state, road_mode, job))
        for i in range(n):
            la, lo = float(origin_lat[i]), float(origin_lon[i])
            try:
                if job.mode == "transit":
                    rr = ctx.reach.transit_times(state, la, lo, at, limit_s).walk
                else:
                    rr = ctx.reach.road_times(state, job.mode, la, lo, limit_s)
            except SnapError:
                continue
            snapped[i] = True
            times[d, i] = _opportunity_ms(rr, mr, opp, edges, cost, n_opp) / 1000.0
    med = np.median(times, axis=0) if len(deps) > 1 else times[0]
    out = np.full((n, len(CUTOFFS_MIN)), np.nan)
    for c, minutes in enumerate(CUTOFFS_MIN):
        out[:, c] = ((med <= minutes * 60.0) * job.opp_weight[None, :]).sum(axis=1)
    out[~snapped] = np.nan  # an origin off the network has no answer
    return out


# ------------------------------------------------------------------ running on Dask
Progress = Callable[[int, int], None]


def run(job: Job, origin_lat: np.ndarray, origin_lon: np.ndarray, client: Any = None,
        block_size: int = BLOCK_SIZE, progress: Progress | None = None) -> np.ndarray:
    """Accessibility of every origin (``[n, len(CUTOFFS_MIN)]``), as one Dask task per block
    of ``block_size`` origins: on ``client`` (a ``dask.distributed.Client``) or, without one,
    on Dask's synchronous scheduler in this process. ``progress(done, total)`` is called as
    blocks finish."""
    import dask

    n = origin_lat.shape[0]
    starts = list(range(0, n, max(block_size, 1)))
    total = len(starts)
    out = np.full((n, len(CUTOFFS_MIN)), np.nan)
    if progress:
        progress(0, total)
    if total == 0:
        return out
    if client is None:
        from dask.callbacks import Callback

        done = [0]

        class _Count(Callback):
            def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, id: Any
                          ) -> None:
                if isinstance(result, np.ndarray):
                    done[0] += 1
                    if progress:
                        progress(done[0], total)

        tasks = [dask.delayed(compute_block, pure=True)(job, origin_lat[s:s + block_size],
                                                        origin_lon[s:s + block_size])
                 for s in starts]
        with _Count():
            results = dask.compute(*tasks, scheduler="synchronous")
        for s, r in zip(starts, results, strict=True):
            out[s:s + block_size] = r
        return out
    from distributed import as_completed

    # a fresh key per run (hash=False): a second run of the same job must not race the
    # release of the first run's copy
    job_f = client.scatter(job, broadcast=True, hash=False)
    futures = {client.submit(compute_block, job_f, origin_lat[s:s + block_size],
                             origin_lon[s:s + block_size], pure=False): s for s in starts}
    for finished, fut in enumerate(as_completed(list(futures)), start=1):
        s = futures[fut]
        out[s:s + block_size] = fut.result()
        if progress:
            progress(finished, total)
    return out


def default_date(ctx: WorkerContext, mode: str) -> dt.date:
    """Today in the city's timezone; for transit, the first Wednesday of the timetable's
    service period when today lies outside it."""
    today = dt.datetime.now(ZoneInfo(ctx.publisher.timezone)).date()
    if mode != "transit" or ctx.planner is None:
        return today
    period = ctx.planner.transit.service_period
    if period is None or period[0] <= today <= period[1]:
        return today
    d = period[0]
    while d.weekday() != 2 and d < period[1]:
        d += dt.timedelta(days=1)
    return d


def write_outputs(out_path: Path, lat: np.ndarray, lon: np.ndarray, result: np.ndarray,
                  meta: dict[str, Any]) -> list[Path]:
    """Parquet (one row per origin), GeoJSON points and a PNG map beside it; returns the
    paths written."""
    import json

    import pandas as pd

    cols = {f"opportunities_{m}min": result[:, i] for i, m in enumerate(CUTOFFS_MIN)}
    df = pd.DataFrame({"origin": np.arange(lat.shape[0]), "lat": lat, "lon": lon, **cols})
    out_path.parent.mkdir(parents=True, exist_ok=True)
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    table = pa.Table.from_pandas(df, preserve_index=False)
    # which state (timetable / live and its version) and options produced the result
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           b"citynav": json.dumps(meta).encode()})
    pq.write_table(table, out_path)
    feats = []
    for i in range(lat.shape[0]):
        props: dict[str, Any] = {"origin": i}
        for c, m in enumerate(CUTOFFS_MIN):
            v = float(result[i, c])
            props[f"opportunities_{m}min"] = None if math.isnan(v) else v
        feats.append({"type": "Feature", "properties": props, "geometry": {
            "type": "Point", "coordinates": [round(float(lon[i]), 6), round(float(lat[i]), 6)]}})
    gj = out_path.with_suffix(".geojson")
    gj.write_text(json.dumps({"type": "FeatureCollection", "properties": meta,
                              "features": feats}, default=lambda o: int(o)))
    png = out_path.with_suffix(".png")
    _plot(png, lat, lon, result, meta)
    return [out_path, gj, png]


def _plot(path: Path, lat: np.ndarray, lon: np.ndarray, result: np.ndarray,
          meta: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(CUTOFFS_MIN), figsize=(4 * len(CUTOFFS_MIN), 4.2),
                             sharex=True, sharey=True)
    for ax, (i, m) in zip(axes, enumerate(CUTOFFS_MIN), strict=True):
        sc = ax.scatter(lon, lat, c=result[:, i], s=12, cmap="viridis", marker="s")
        ax.set_title(f"within {m} min")
        ax.set_aspect(1.0 / max(math.cos(math.radians(float(np.mean(lat)) if lat.size else 0)),
                                1e-6))
        fig.colorbar(sc, ax=ax, shrink=0.8)
    fig.suptitle(f"Opportunities reachable by {meta.get('mode')} "
                 f"({meta.get('date')} {meta.get('window')})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
