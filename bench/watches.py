"""Commute watches on northern Kentucky: time from an incident write to the last watch
notification, against re-planning every watch in the same run.

    PYTHONPATH=$PWD .venv/bin/python bench/watches.py [--quick] [--sizes 1000,10000]
                                                      [--rounds N] [--seed N]

For each size, a service (SQLite store in a temporary directory, clock frozen on a Wednesday
08:00 so every watch's window is open) gets that many random watches (mostly car, some bike,
walk and transit; thresholds 0-600 s; ``tests/api/watch_support.py``). Each round closes one
of the busiest edges of the watches' routes the way ``POST /v1/incidents`` does (store write,
then the engine's sync) and waits for the watch worker (its background thread, as in the
server) to have written the notifications; then removes the closure (the "cheaper edges"
path) and waits again. Baseline, same run and same state: re-planning every watch. Prints
median and p95 of POST → first and → last notification (the first notification is
committed at once, the others gathered for at most a second) for the closure and for its
removal, of the full re-plan, and the ratio (full re-plan median / incremental median to the
last notification).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from api.service import Service, load_service  # noqa: E402
from api.watching import WatchPlanError  # noqa: E402
from bench.common import cached_snapshot, percentiles_row, print_table, stats_ms  # noqa: E402
from routing.clock import ReplayClock  # noqa: E402
from tests.api.watch_support import edge_line, random_specs, replan_all  # noqa: E402

NOW = datetime(2020, 1, 15, 8, 0, tzinfo=ZoneInfo("America/New_York"))
DATA = REPO / "data"


def _wait(svc: Service, version: int, timeout_s: float = 600.0) -> tuple[float, float]:
    """perf_counter times of the first and the last notification of ``version``'s evaluation
    (both its end when nothing was notified)."""
    assert svc.watches is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        evs = svc.watches.evaluations
        if evs and evs[-1].version >= version:
            ev = evs[-1]
            return (ev.first_notice or ev.finished), ev.finished
        time.sleep(0.002)
    raise TimeoutError(f"watches not evaluated for version {version}")


def _busiest(svc: Service, k: int) -> list[int]:
    assert svc.watches is not None
    counts: dict[int, int] = {}
    for wid in svc.watches.ids():
        t = svc.watches.tracked(wid)
        if t.spec.mode == "car":
            for e in t.edges.tolist():
                counts[e] = counts.get(e, 0) + 1
    return sorted(counts, key=lambda e: -counts[e])[:k]


def run(snap: Path, n: int, rounds: int, seed: int) -> list[tuple[str, str]]:
    """One size: returns the table rows."""
    tmp = Path(tempfile.mkdtemp(prefix="citynav-bench-watches-"))
    svc = load_service(snap, db_url=f"sqlite:///{tmp / 'incidents.db'}",
                       clock=ReplayClock(NOW, frozen=True))
    svc.start()
    assert svc.watches is not None and svc.store is not None and svc.engine is not None
    try:
        t = time.perf_counter()
        made = 0
        for spec in random_specs(svc, int(n * 1.06), seed=seed):
            if made == n:
                break
            try:
                svc.watches.create("key:bench", spec)
                made += 1
            except WatchPlanError:
                continue
        create_s = time.perf_counter() - t
        if made < n:
            raise RuntimeError(f"only {made} of {n} watches have an answer")
        edges = _busiest(svc, rounds * 3)[::3][:rounds]
        close_s, reopen_s, full_s = [], [], []
        close_first_s, reopen_first_s = [], []
        cands, notified, r_cands, r_notified = [], [], [], []
        for i, edge in enumerate(edges):
            t0 = time.perf_counter()
            inc = svc.store.create({
                "type": "closure", "severity": "high", "start": "2020-01-01T00:00:00Z",
                "geometry": edge_line(svc, edge), "direction": "both",
                "road_effect": {"closed_to": ["car"]},
                "description": {"en": f"bench closure {i}"}}, "bench", "KYTC")
            st = svc.engine.sync()
            first, last = _wait(svc, st.version)
            close_first_s.append(first - t0)
            close_s.append(last - t0)
            ev = svc.watches.evaluations[-1]
            cands.append(ev.replanned)
            notified.append(len(ev.notified))
            t = time.perf_counter()
            replan_all(svc, st)
            full_s.append(time.perf_counter() - t)
            t0 = time.perf_counter()
            svc.store.delete(inc.id, "bench", 1)
            st = svc.engine.sync()
            first, last = _wait(svc, st.version)
            reopen_first_s.append(first - t0)
            reopen_s.append(last - t0)
            ev = svc.watches.evaluations[-1]
            r_cands.append(ev.replanned)
            r_notified.append(len(ev.notified))
        inc_m, _ = stats_ms(close_s)
        reo_m, _ = stats_ms(reopen_s)
        full_m, _ = stats_ms(full_s)
        return [
            ("watches", f"{n} (created in {create_s:.1f} s, "
                        f"{create_s / n * 1000:.2f} ms each)"),
            ("rounds", str(len(edges))),
            ("closure: POST → first notification", percentiles_row(close_first_s)),
            ("closure: POST → last notification", percentiles_row(close_s)),
            ("  re-planned / notified (mean)", f"{sum(cands) / len(cands):.0f} / "
                                               f"{sum(notified) / len(notified):.0f}"),
            ("reopening: DELETE → first notification", percentiles_row(reopen_first_s)),
            ("reopening: DELETE → last notification", percentiles_row(reopen_s)),
            ("  re-planned / notified (mean)", f"{sum(r_cands) / len(r_cands):.0f} / "
                                               f"{sum(r_notified) / len(r_notified):.0f}"),
            ("baseline: re-plan every watch", percentiles_row(full_s)),
            ("ratio full / closure last (median)", f"{full_m / inc_m:.1f}×"),
            ("ratio full / reopening last (median)", f"{full_m / reo_m:.1f}×"),
        ]
    finally:
        svc.close()


def main() -> None:
    """Run the benchmark (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1,000 watches, 5 rounds")
    ap.add_argument("--sizes", default="1000,10000", help="watch counts, comma-separated")
    ap.add_argument("--rounds", type=int, default=10, help="closures per size")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    sizes = [1000] if args.quick else [int(x) for x in args.sizes.split(",")]
    rounds = 5 if args.quick else args.rounds
    snap, _, _ = cached_snapshot("nky", DATA / "northern-kentucky" / "nky_streets.osm.pbf",
                                 [DATA / "northern-kentucky" / "nky_tank_gtfs.zip"],
                                 DATA / "traffic" / "nky_sample_observations.csv")
    for n in sizes:
        print_table(f"commute watches: {n}", run(snap, n, rounds, args.seed))


if __name__ == "__main__":
    main()
