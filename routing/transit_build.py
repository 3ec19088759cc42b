"""Transit part of ``citynav build``: compile GTFS, link stops to the walk graph and compute
stop-to-stop walking transfers on the street network.

Written into ``SNAPSHOT/transit/``: ``timetable/`` (see :mod:`gtfs.timetable`),
``stop_seg``/``stop_frac``/``stop_link_m`` (the walk segment each stop is linked to, the
fraction along it and the straight-line distance to it; ``-1`` = not linked), and the
walking transfers as CSR ``fp_offsets``/``fp_to``/``fp_time_ms``/``fp_dist_m`` (times at the
walk profile's default speed), plus ``validation.json`` (the GTFS report).

A transit-only build (:func:`build_transit_straight_line`, no street network) writes the same
files: no stop is linked (``stop_seg`` -1) and the transfers are straight lines × the detour
factor (:mod:`routing.straight_walk`), ``fp_dist_m`` being that walking distance.

The returned metadata (``meta.json`` ``transit``) reports per feed the validation errors and
warnings (per file, with example messages) and the stops left unlinked to the street network.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gtfs.timetable import Timetable
from routing.graph import ModeGraph, RoadNetwork, Segments
from routing.kernels.limits import INF_WEIGHT
from routing.profiles import Mode
from routing.snap import Projection, Snapper
from routing.snapshot import finite_or_none, strict_json
from routing.straight_walk import WALK_DETOUR_FACTOR, straight_line_transfers

if TYPE_CHECKING:  # scipy and the GTFS compiler (pandas) load where they are used
    from scipy.sparse import csr_matrix

    from gtfs.validate import ValidationReport

#: Stops farther than this from any walkable street are left unlinked (reported).
STOP_LINK_MAX_M = 300.0
#: Walking transfers between stops are kept up to this walking distance.
TRANSFER_MAX_M = 800.0
WALK_DEFAULT_MPS = 5.0 / 3.6

Progress = Callable[[str, int, int], None]


def walk_csr(g: ModeGraph | Any, n_nodes: int, weights: np.ndarray) -> csr_matrix:
    """The walk graph over junctions as a CSR matrix of edge weights (parallel edges keep
    the smallest; zero weights become a tiny positive value so scipy keeps them)."""
    tail = np.asarray(g.edge_tail)
    head = np.asarray(g.edge_head)
    w = np.maximum(np.asarray(weights, dtype=np.float64), 1e-3)
    order = np.lexsort((w, head, tail))
    tail, head, w = tail[order], head[order], w[order]
    first = np.ones(tail.shape[0], dtype=bool)
    first[1:] = (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])
    from scipy.sparse import csr_matrix

    return csr_matrix((w[first], (tail[first], head[first])), shape=(n_nodes, n_nodes))


def stop_offsets(segs: Segments, g: ModeGraph | Any, stop_seg: np.ndarray,
                 stop_frac: np.ndarray, weights: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For each linked stop: (node_u, cost from u to the stop, node_v, cost from v to it),
    along the stop's segment using the given edge weights (inf where the direction is not
    walkable). Costs from the stop *to* u / v are the same by symmetry of the inputs."""
    n = stop_seg.shape[0]
    ok = stop_seg >= 0
    s = np.where(ok, stop_seg, 0)
    u = np.asarray(segs.u)[s].astype(np.int64)
    v = np.asarray(segs.v)[s].astype(np.int64)
    edge_seg = np.asarray(g.edge_seg)
    edge_rev = np.asarray(g.edge_rev)
    fwd_w = np.full(segs.u.shape[0], np.inf)
    bwd_w = np.full(segs.u.shape[0], np.inf)
    ww = np.asarray(weights, dtype=np.float64)
    ww = np.where(ww >= INF_WEIGHT, np.inf, ww)
    fwd_w[edge_seg[~edge_rev]] = ww[~edge_rev]
    bwd_w[edge_seg[edge_rev]] = ww[edge_rev]
    # reaching the stop from u uses the forward edge part p; from v the backward part 1-p
    w = np.minimum(fwd_w[s], bwd_w[s])
    usable = ok & np.isfinite(w)
    cost_u = np.full(n, np.inf)
    cost_v = np.full(n, np.inf)
    cost_u[usable] = w[usable] * stop_frac[usable]
    cost_v[usable] = w[usable] * (1.0 - stop_frac[usable])
    return u, cost_u, v, cost_v


def link_stops(segs: Segments, g: ModeGraph, stop_lat: np.ndarray, stop_lon: np.ndarray,
               projection: Projection, max_m: float = STOP_LINK_MAX_M
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Snap stops onto the walk graph: (segment or -1, fraction, distance m)."""
    snappable = np.unique(np.asarray(g.edge_seg)[np.asarray(g.edge_snappable)])
    snapper = Snapper(segs.lon, segs.lat, segs.gstart, segs.gend, snappable, projection)
    n = stop_lat.shape[0]
    seg = np.full(n, -1, dtype=np.int32)
    frac = np.zeros(n, dtype=np.float64)
    dist = np.full(n, np.inf, dtype=np.float64)
    for i in range(n):
        c = snapper.nearest(float(stop_lon[i]), float(stop_lat[i]), max_m)
        if c is not None:
            seg[i], frac[i], dist[i] = c.segment, c.fraction, c.distance_m
    return seg, frac, dist


def walking_transfers(segs: Segments, g: ModeGraph, n_nodes: int, stop_seg: np.ndarray,
                      stop_frac: np.ndarray, max_m: float = TRANSFER_MAX_M,
                      progress: Progress | None = None
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stop-to-stop walking on the street graph within ``max_m`` metres.

    Returns CSR (offsets, to, time_ms at the default walking speed, distance_m). Distances
    are shortest walking distances; times follow the walk profile (steps are slower)."""
    n_stops = stop_seg.shape[0]
    length_w = np.asarray(g.edge_length_m, dtype=np.float64)
    time_w = np.asarray(g.edge_time_ms, dtype=np.float64)
    from scipy.sparse.csgraph import dijkstra

    graph = walk_csr(g, n_nodes, length_w)
    u, cu, v, cv = stop_offsets(segs, g, stop_seg, stop_frac, length_w)
    linked = np.flatnonzero(stop_seg >= 0)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    dists: list[np.ndarray] = []
    batch = 64
    for k in range(0, linked.shape[0], batch):
        if progress:
            progress("walking transfers", k, linked.shape[0])
        src = linked[k:k + batch]
        idx = np.concatenate([u[src], v[src]])
        d = dijkstra(graph, directed=True, indices=idx, limit=max_m)
        du, dv = d[: src.shape[0]], d[src.shape[0]:]
        # distance from stop a (row) to junction x, then junction → stop b
        from_a = np.minimum(du + cu[src, None], dv + cv[src, None])
        to_b = np.minimum(from_a[:, u[linked]] + cu[None, linked],
                          from_a[:, v[linked]] + cv[None, linked])
        # same-segment stops: walk directly along the segment
        same = stop_seg[src][:, None] == stop_seg[linked][None, :]
        seg_len = np.asarray(segs.length_m, dtype=np.float64)[stop_seg[src]][:, None]
        direct = np.abs(stop_frac[src][:, None] - stop_frac[linked][None, :]) * seg_len
        to_b = np.where(same, np.minimum(to_b, direct), to_b)
        a_i, b_i = np.nonzero(to_b <= max_m)
        keep = src[a_i] != linked[b_i]
        rows.append(src[a_i[keep]])
        cols.append(linked[b_i[keep]])
        dists.append(to_b[a_i[keep], b_i[keep]])
    if progress:
        progress("walking transfers", linked.shape[0], max(linked.shape[0], 1))
    r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    dm = np.concatenate(dists) if dists else np.zeros(0)
    order = np.lexsort((c, r))
    r, c, dm = r[order], c[order], dm[order]
    offsets = np.zeros(n_stops + 1, dtype=np.int64)
    np.cumsum(np.bincount(r, minlength=n_stops), out=offsets[1:])
    # time at the profile's average pace over the path ≈ distance × (time/length) of walking
    mean_pace = float(time_w.sum() / max(length_w.sum(), 1e-9))  # ms per metre
    time_ms = np.rint(dm * mean_pace).astype(np.int32)
    return offsets, c.astype(np.int32), time_ms, dm.astype(np.float32)


def build_transit(gtfs_paths: Sequence[str | os.PathLike[str]], net: RoadNetwork,
                  out_dir: Path, progress: Progress) -> dict[str, Any]:
    """Compile feeds and link them to the walk network; returns metadata for meta.json.

    Raises the GTFS layer's errors (e.g. a missing required file) unchanged."""
    tt, report = _compile(gtfs_paths, out_dir, progress)
    walk = net.modes[Mode.WALK]
    lon0 = float((net.node_lon.min() + net.node_lon.max()) / 2)
    lat0 = float((net.node_lat.min() + net.node_lat.max()) / 2)
    proj = Projection(lon0, lat0)
    stop_lat = np.asarray(tt.arrays["stop_lat"], dtype=np.float64)
    stop_lon = np.asarray(tt.arrays["stop_lon"], dtype=np.float64)
    progress("linking stops", 0, 1)
    seg, frac, dist = link_stops(net.segments, walk, stop_lat, stop_lon, proj)
    progress("linking stops", 1, 1)
    off, to, t_ms, d_m = walking_transfers(net.segments, walk, net.node_lon.shape[0], seg, frac,
                                           progress=progress)
    _save_links(out_dir, seg, frac, np.where(np.isfinite(dist), dist, -1.0), off, to, t_ms,
                d_m)
    linked = int((seg >= 0).sum())
    feeds = tt.meta.get("feeds", [])
    feed_names = [str(f["name"]) for f in feeds]
    return {
        "feeds": feeds,
        "counts": {**tt.meta.get("counts", {}), "stops_linked": linked,
                   "stops_unlinked": int(seg.shape[0] - linked),
                   "walking_transfers": int(to.shape[0])},
        "validation": _validation_meta(report, feed_names),
        "unlinked_stops": unlinked_by_feed(np.asarray(tt.arrays["stop_feed"]), seg, feed_names),
        "stop_link_max_m": STOP_LINK_MAX_M,
        "transfer_max_m": TRANSFER_MAX_M,
        "walk_default_mps": round(WALK_DEFAULT_MPS, 4),
        # None (JSON null) when no stop is linked: meta.json never holds NaN
        "mean_link_m": finite_or_none(np.mean(dist[seg >= 0]), 1) if linked else None,
    }


def build_transit_straight_line(gtfs_paths: Sequence[str | os.PathLike[str]], out_dir: Path,
                                progress: Progress,
                                detour_factor: float = WALK_DETOUR_FACTOR) -> dict[str, Any]:
    """The transit part of a transit-only build (no street network): compile the feeds and
    compute straight-line walking transfers (:mod:`routing.straight_walk`: straight line ×
    ``detour_factor`` up to :data:`TRANSFER_MAX_M` walking metres; transfers.txt rules stay
    in the timetable). No stop is linked to a street (``stop_seg`` is -1 throughout).
    Returns metadata for meta.json ``transit``; raises the GTFS layer's errors unchanged."""
    tt, report = _compile(gtfs_paths, out_dir, progress)
    stop_lat = np.asarray(tt.arrays["stop_lat"], dtype=np.float64)
    stop_lon = np.asarray(tt.arrays["stop_lon"], dtype=np.float64)
    progress("walking transfers (straight line)", 0, 1)
    off, to, t_ms, d_m = straight_line_transfers(stop_lat, stop_lon, TRANSFER_MAX_M,
                                                 detour_factor, WALK_DEFAULT_MPS)
    progress("walking transfers (straight line)", 1, 1)
    n = stop_lat.shape[0]
    _save_links(out_dir, np.full(n, -1, np.int32), np.zeros(n), np.full(n, -1.0), off, to,
                t_ms, d_m)
    feeds = tt.meta.get("feeds", [])
    return {
        "feeds": feeds,
        "counts": {**tt.meta.get("counts", {}), "walking_transfers": int(to.shape[0])},
        "validation": _validation_meta(report, [str(f["name"]) for f in feeds]),
        "walking": "straight_line",
        "walk_detour_factor": detour_factor,
        "transfer_max_m": TRANSFER_MAX_M,
        "walk_default_mps": round(WALK_DEFAULT_MPS, 4),
    }


def _compile(gtfs_paths: Sequence[str | os.PathLike[str]], out_dir: Path, progress: Progress
             ) -> tuple[Timetable, ValidationReport]:
    """Compile the feeds and save the timetable and the validation report into ``out_dir``."""
    progress("GTFS compile", 0, 1)
    from gtfs.compile import compile_feeds

    tt, report = compile_feeds(list(gtfs_paths), progress=lambda stage, frac: progress(
        f"GTFS: {stage}", int(frac * 100), 100))
    progress("GTFS compile", 1, 1)
    tt.save(out_dir / "timetable")
    (out_dir / "validation.json").write_text(strict_json(report.to_dict(), ensure_ascii=False))
    return tt, report


def _save_links(out_dir: Path, seg: np.ndarray, frac: np.ndarray, link_m: np.ndarray,
                off: np.ndarray, to: np.ndarray, t_ms: np.ndarray, d_m: np.ndarray) -> None:
    """Write the stop links and walking transfers (see the module docstring)."""
    for name, arr in (("stop_seg", seg), ("stop_frac", frac), ("stop_link_m", link_m),
                      ("fp_offsets", off), ("fp_to", to), ("fp_time_ms", t_ms),
                      ("fp_dist_m", d_m)):
        np.save(out_dir / f"{name}.npy", np.ascontiguousarray(arr), allow_pickle=False)


def _validation_meta(report: ValidationReport, feed_names: Sequence[str]) -> dict[str, Any]:
    return {"errors": report.n_errors, "warnings": report.n_warnings,
            "summary": report.summary(), "feeds": validation_by_feed(report, feed_names)}


def unlinked_by_feed(stop_feed: np.ndarray, stop_seg: np.ndarray, feed_names: Sequence[str],
                     max_m: float = STOP_LINK_MAX_M) -> dict[str, dict[str, Any]]:
    """Per feed name: ``stops`` (compiled stops of the feed), ``unlinked`` (farther than
    ``max_m`` metres from any walkable street, so unreachable on foot), ``share`` (unlinked /
    stops, rounded to 4 digits; ``None`` for a feed without stops) and ``max_link_m``."""
    feed = np.asarray(stop_feed, np.int64)
    unlinked = np.asarray(stop_seg) < 0
    out: dict[str, dict[str, Any]] = {}
    for i, name in enumerate(feed_names):
        mine = feed == i
        n = int(mine.sum())
        u = int((mine & unlinked).sum())
        out[name] = {"stops": n, "unlinked": u,
                     "share": round(u / n, 4) if n else None, "max_link_m": max_m}
    return out


def validation_by_feed(report: ValidationReport, feed_names: Sequence[str]
                       ) -> dict[str, dict[str, Any]]:
    """Per feed name: ``errors`` (rows skipped), ``warnings`` (rows kept, maybe repaired) and
    per file (``stop_times.txt`` …) the counts and up to three distinct example messages."""
    out: dict[str, dict[str, Any]] = {name: {"errors": 0, "warnings": 0, "files": {}}
                                      for name in feed_names}
    for (feed, file, severity), n in sorted(report.counts.items()):
        entry = out.setdefault(feed, {"errors": 0, "warnings": 0, "files": {}})
        key = "errors" if severity == "error" else "warnings"
        entry[key] += int(n)
        f = entry["files"].setdefault(f"{file}.txt", {"errors": 0, "warnings": 0,
                                                      "messages": []})
        f[key] += int(n)
        for issue in report.examples.get((feed, file, severity), []):
            msg = f"{severity}: {issue.message}" + (f" [{issue.field}]" if issue.field else "")
            if msg not in f["messages"] and len(f["messages"]) < 3:
                f["messages"].append(msg)
    return out
