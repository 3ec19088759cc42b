"""A synthetic, documented peak-hour traffic model that generates speed observations.

No public probe (floating-car) data is available offline, so citynav generates plausible
observations from the road network itself, in the observation-file schema that
:func:`routing.typical_ingest.load_observations` reads. The model (see ``data/traffic/README.md``):

    travel-time multiplier = 1 + class_congestion[highway] × intensity(way, direction)
                                 × profile(day type, hour, inbound) × noise
    observed speed         = free-flow speed × night_bonus / multiplier

* ``class_congestion`` — how much a class slows at the worst peak: motorways and arterials
  (trunk/primary/secondary) most, residential streets little.
* ``profile`` — weekday AM peak (Gaussian at 08:00, σ 0.6 h, i.e. 7–9) and PM peak (17:15,
  σ 0.75 h, i.e. 16–18:30) plus a midday plateau; Saturday a broad early-afternoon bump and
  weak peaks; Sunday a weaker bump; nights ≈ free flow.
* ``inbound`` ∈ [-1, 1] — the cosine between the way's direction of travel and the
  direction to the network's centroid (damped within 2 km of it): inbound traffic gets a
  heavier AM peak, outbound a heavier PM peak (``asymmetry``).
* ``intensity`` — a per (way, direction) random factor (0.7–1.3); ``noise`` — per row
  log-normal (σ 0.08); ``night_bonus`` 1.0–1.15 (drivers beat the routing speed at night;
  the loader raises such values to free flow).
* Coverage — probe data exists for every major road but only some minor ones
  (``class_coverage``); the rest falls back to free flow when loaded.

``python -m tests.generators.traffic_model OUT.csv|OUT.parquet --snapshot DIR [--seed N]``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gtfs.geo import haversine_m
from routing.typical import BIN_S, DAY_TYPES, N_BINS

#: Travel-time increase at the worst peak (multiplier − 1) per highway class.
CLASS_CONGESTION: dict[str, float] = {
    "motorway": 1.3, "motorway_link": 1.0, "trunk": 1.1, "trunk_link": 0.8,
    "primary": 1.0, "primary_link": 0.7, "secondary": 0.8, "secondary_link": 0.6,
    "tertiary": 0.5, "tertiary_link": 0.4, "unclassified": 0.3, "residential": 0.15,
    "living_street": 0.05, "service": 0.05, "road": 0.2,
}
#: Share of ways of each class that have probe observations (others: no rows).
CLASS_COVERAGE: dict[str, float] = {
    "motorway": 1.0, "motorway_link": 1.0, "trunk": 1.0, "trunk_link": 1.0,
    "primary": 1.0, "primary_link": 1.0, "secondary": 1.0, "secondary_link": 1.0,
    "tertiary": 1.0, "tertiary_link": 1.0, "unclassified": 0.6, "residential": 0.3,
    "living_street": 0.1, "service": 0.03, "road": 0.3,
}
#: Typical probe reads per 15-min bin at the peak, per class (for the ``samples`` column).
CLASS_SAMPLES: dict[str, float] = {"motorway": 40, "trunk": 30, "primary": 25,
                                   "secondary": 15, "tertiary": 8}
ASYMMETRY = 0.5


def _gauss(h: np.ndarray, mu: float, sigma: float) -> np.ndarray:
    return np.exp(-0.5 * ((h - mu) / sigma) ** 2)


def time_profile(day_type: str, hour: np.ndarray, inbound: np.ndarray,
                 asymmetry: float = ASYMMETRY) -> np.ndarray:
    """Congestion intensity (0 ≈ free flow, ~1 worst peak) for broadcastable arrays of
    local hour (float) and inbound score in [-1, 1]."""
    am, pm = _gauss(hour, 8.0, 0.6), _gauss(hour, 17.25, 0.75)
    if day_type == "weekday":
        midday = 0.3 * _gauss(hour, 12.5, 2.0)
        return am * (1 + asymmetry * inbound) / (1 + asymmetry) \
            + pm * (1 - asymmetry * inbound) / (1 + asymmetry) + midday
    if day_type == "saturday":
        return 0.5 * _gauss(hour, 13.0, 2.5) + 0.1 * am + 0.2 * pm + 0 * inbound
    if day_type == "sunday":
        return 0.35 * _gauss(hour, 14.0, 2.5) + 0 * inbound
    raise ValueError(f"unknown day type {day_type!r}")


def _way_directions(snap: Any) -> pd.DataFrame:
    """One row per (way, direction) with car edges: class, free speed, inbound score."""
    car = snap.modes["car"]
    seg = snap.segments
    es = np.asarray(car.edge_seg)
    rev = np.asarray(car.edge_rev)
    lon, lat = np.asarray(snap.node_lon), np.asarray(snap.node_lat)
    tail, head = np.asarray(car.edge_tail), np.asarray(car.edge_head)
    length = np.asarray(car.edge_length_m, np.float64)
    coslat = np.cos(np.radians(lat.mean()))
    mx = (lon[tail] + lon[head]) / 2
    my = (lat[tail] + lat[head]) / 2
    cx = float((mx * length).sum() / length.sum())
    cy = float((my * length).sum() / length.sum())
    df = pd.DataFrame({
        "way_id": np.asarray(seg.way_id)[es], "rev": rev,
        "highway": np.asarray(seg.highways, dtype=object)[np.asarray(seg.highway_idx)[es]],
        "dx": (lon[head] - lon[tail]) * coslat, "dy": lat[head] - lat[tail],
        "mx": mx * length, "my": my * length, "len": length,
        "spd": np.asarray(car.edge_speed_kmh, np.float64) * length,
    })
    g = df.groupby(["way_id", "rev"], sort=True).agg(
        highway=("highway", "first"), dx=("dx", "sum"), dy=("dy", "sum"), mx=("mx", "sum"),
        my=("my", "sum"), len=("len", "sum"), spd=("spd", "sum")).reset_index()
    g["mx"] /= g["len"]
    g["my"] /= g["len"]
    g["free_kmh"] = g["spd"] / g["len"]
    tx, ty = (cx - g["mx"]) * coslat, cy - g["my"]
    dist_m = haversine_m(g["my"].to_numpy(), g["mx"].to_numpy(), np.full(len(g), cy),
                         np.full(len(g), cx))
    norm = np.hypot(g["dx"], g["dy"]) * np.hypot(tx, ty)
    cos = np.where(norm > 0, (g["dx"] * tx + g["dy"] * ty) / np.where(norm > 0, norm, 1), 0)
    g["inbound"] = cos * np.minimum(dist_m / 2000.0, 1.0)
    return g.drop(columns=["dx", "dy", "mx", "my", "spd"])


def generate_observations(snapshot_or_router: Any, seed: int = 0,
                          day_types: Sequence[str] = DAY_TYPES,
                          class_congestion: dict[str, float] | None = None,
                          class_coverage: dict[str, float] | None = None,
                          asymmetry: float = ASYMMETRY, noise_sigma: float = 0.08,
                          rows_per_bin: int = 1) -> pd.DataFrame:
    """Synthetic observations for the car ways of a snapshot (or router's snapshot).

    Returns a DataFrame with columns ``way_id, direction, day_type, bin, time, speed_kmh,
    samples``: ``rows_per_bin`` rows per covered (way, direction, day type, 15-min bin).
    Deterministic for a given ``seed``.
    """
    snap = getattr(snapshot_or_router, "snapshot", snapshot_or_router)
    cong = CLASS_CONGESTION if class_congestion is None else class_congestion
    cov = CLASS_COVERAGE if class_coverage is None else class_coverage
    rng = np.random.default_rng(seed)
    wd = _way_directions(snap)
    # Coverage is per way (both directions together), like a probe fleet's map matching.
    ways = wd["way_id"].to_numpy()
    u_way, inv = np.unique(ways, return_inverse=True)
    draw = rng.random(u_way.shape[0])[inv]
    keep = draw < wd["highway"].map(cov).fillna(0.0).to_numpy()
    wd = wd[keep].reset_index(drop=True)
    n = len(wd)
    c = wd["highway"].map(cong).fillna(0.1).to_numpy()
    intensity = rng.uniform(0.7, 1.3, n)
    night_bonus = rng.uniform(1.0, 1.15, n)
    base_samples = wd["highway"].map(CLASS_SAMPLES).fillna(4.0).to_numpy()
    hours = (np.arange(N_BINS) * BIN_S + BIN_S / 2) / 3600.0
    frames = []
    for dt in day_types:
        prof = time_profile(dt, hours[None, :], wd["inbound"].to_numpy()[:, None], asymmetry)
        for _ in range(rows_per_bin):
            noise = rng.lognormal(0.0, noise_sigma, (n, N_BINS))
            mult = 1.0 + c[:, None] * intensity[:, None] * prof * noise
            speed = wd["free_kmh"].to_numpy()[:, None] * night_bonus[:, None] / mult
            volume = 0.15 + prof / max(float(prof.max()), 1e-9)
            samples = rng.poisson(base_samples[:, None] * volume) + 1
            frames.append(pd.DataFrame({
                "way_id": np.repeat(wd["way_id"].to_numpy(), N_BINS),
                "direction": np.repeat(np.where(wd["rev"].to_numpy(), "backward", "forward"),
                                       N_BINS),
                "day_type": dt,
                "bin": np.tile(np.arange(N_BINS), n),
                "speed_kmh": np.round(speed.ravel(), 2),
                "samples": samples.ravel(),
            }))
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["way_id", "direction", "day_type", "bin", "speed_kmh", "samples"])
    b = out["bin"].to_numpy()
    labels = np.array([f"{m // 60:02d}:{m % 60:02d}" for m in range(0, 1440, BIN_S // 60)],
                      dtype=object)
    out.insert(4, "time", labels[b.astype(np.int64)])
    return out


def write_observations(df: pd.DataFrame, path: str | Path) -> Path:
    """Write observations as CSV or Parquet (by suffix)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.suffix.lower() in (".parquet", ".pq"):
        df.to_parquet(p, index=False)
    else:
        df.to_csv(p, index=False)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: generate observations for a snapshot (or an OSM extract built on the fly)."""
    ap = argparse.ArgumentParser(prog="python -m tests.generators.traffic_model",
                                 description="Generate synthetic speed observations.")
    ap.add_argument("out", help="output .csv or .parquet")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--snapshot", help="snapshot directory")
    src.add_argument("--osm", help="OSM .pbf (a temporary snapshot is built)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--day-types", default=",".join(DAY_TYPES))
    ap.add_argument("--classes", default="",
                    help="comma-separated highway classes to cover (default: model coverage)")
    args = ap.parse_args(argv)
    from routing.snapshot import load_snapshot

    if args.osm:
        import tempfile

        from routing.build import build_snapshot

        d = Path(tempfile.mkdtemp(prefix="citynav-traffic-")) / "snap"
        build_snapshot(args.osm, d)
        snap = load_snapshot(d)
    else:
        snap = load_snapshot(args.snapshot)
    cov = None
    if args.classes:
        wanted = {c.strip() for c in args.classes.split(",")}
        cov = {k: 1.0 for k in wanted}
    df = generate_observations(snap, seed=args.seed, class_coverage=cov,
                               day_types=[d for d in args.day_types.split(",") if d])
    p = write_observations(df, args.out)
    print(f"{p}: {len(df)} rows, {df[['way_id', 'direction']].drop_duplicates().shape[0]} "
          f"way-directions, snapshot {snap.snapshot_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
