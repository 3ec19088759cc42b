"""WZDx / DATEX II import benchmark on northern Kentucky (in process, SQLite).

    python bench/imports.py [--records N] [--repeat R] [--seed S]

For a WZDx document of N work zones on random car streets of the bundled city, each phase on
a fresh SQLite store and repeated R times:

(a) baseline: the same N incidents created one by one the way ``POST /v1/incidents`` does
    (match the geometry, ``store.create``), no standard in between;
(b) first import of the WZDx document (parse, match, create, remember versions);
(c) the same document again (every record ``unchanged``: the idempotency check);
(d) a newer version of every record (every record ``updated``, a history row each);
(e) citynav's own DATEX II 3 output of those incidents imported as another agency.

Prints median and p95 per document, per record, and the ratio of each phase to the
baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import copy
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import cached_snapshot, print_table, stats_ms  # noqa: E402
from incidents.adapters.datex2 import situation_publication  # noqa: E402
from incidents.imports import apply_document, parse_document  # noqa: E402
from incidents.matching import NetworkMatcher  # noqa: E402
from incidents.store import IncidentStore, open_store  # noqa: E402
from routing.snapshot import Snapshot, load_snapshot  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
NKY_OSM = REPO / "data" / "northern-kentucky" / "nky_streets.osm.pbf"
NOW = datetime.now(UTC).replace(microsecond=0)


def _z(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def street_lines(snap: Snapshot, n: int, seed: int) -> list[list[list[float]]]:
    """Geometries of ``n`` distinct named car segments (at least 3 positions each)."""
    seg = snap.segments
    car = np.unique(np.asarray(snap.modes["car"].edge_seg))
    named = car[np.asarray(seg.name_idx)[car] >= 0]
    rng = random.Random(seed)
    order = named.tolist()
    rng.shuffle(order)
    lon, lat = np.asarray(seg.lon), np.asarray(seg.lat)
    out: list[list[list[float]]] = []
    for s in order:
        a, b = int(seg.gstart[s]), int(seg.gend[s])
        if b - a >= 3:
            out.append([[float(lon[i]), float(lat[i])] for i in range(a, b)])
        if len(out) == n:
            break
    return out


def wzdx(lines: list[list[list[float]]], version: str) -> dict[str, Any]:
    """A WZDx 4.2 feed of one work zone per line."""
    feats = [{"id": f"wz-{i}", "type": "Feature", "properties": {
        "core_details": {"data_source_id": "1", "event_type": "work-zone",
                         "road_names": ["x"], "direction": "northbound",
                         "description": f"Work zone {i}", "update_date": version},
        "start_date": _z(NOW - timedelta(days=1)), "end_date": _z(NOW + timedelta(days=9)),
        "is_start_date_verified": True, "is_end_date_verified": False,
        "is_start_position_verified": False, "is_end_position_verified": False,
        "location_method": "other", "vehicle_impact": "some-lanes-closed",
        "reduced_speed_limit_kph": 40 if version.endswith("1Z") else 30},
        "geometry": {"type": "LineString", "coordinates": line}}
        for i, line in enumerate(lines)]
    return {"feed_info": {"update_date": _z(NOW), "publisher": "bench", "version": "4.2",
                          "data_sources": [{"data_source_id": "1",
                                            "organization_name": "bench"}]},
            "type": "FeatureCollection", "features": feats}


def _fresh(tmp: Path, k: int) -> IncidentStore:
    return open_store(f"sqlite:///{tmp}/bench-{k}.db")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    snap_dir, _, _ = cached_snapshot("nky-roads", NKY_OSM)
    snap = load_snapshot(snap_dir)
    matcher = NetworkMatcher(snap)
    lines = street_lines(snap, args.records, args.seed)
    n = len(lines)
    v1 = wzdx(lines, "2026-01-01T00:00:01Z")
    v2 = wzdx(lines, "2026-01-02T00:00:02Z")
    tmp = Path(tempfile.mkdtemp(prefix="citynav-bench-imports-"))
    times: dict[str, list[float]] = {k: [] for k in ("baseline", "first import", "re-import",
                                                     "newer versions", "DATEX II 3 import")}
    counter = iter(range(1_000_000))

    def run(name: str, fn: Callable[[], object]) -> object:
        t = time.perf_counter()
        out = fn()
        times[name].append(time.perf_counter() - t)
        return out

    for _ in range(args.repeat):
        store = _fresh(tmp, next(counter))

        def baseline(store: IncidentStore = store) -> None:
            for i, line in enumerate(lines):
                geom = {"type": "LineString", "coordinates": line}
                assert not matcher.match(geom, "forward").empty
                store.create({"type": "roadworks", "severity": "moderate",
                              "start": _z(NOW - timedelta(days=1)),
                              "end": _z(NOW + timedelta(days=9)), "geometry": geom,
                              "direction": "forward", "external_id": f"wz-{i}",
                              "road_effect": {"speed_limit_kmh": 40.0},
                              "description": {"en": f"Work zone {i}"}}, "bench", "BASE")

        run("baseline", baseline)
        store.close()
        store = _fresh(tmp, next(counter))

        def imp(doc: dict[str, Any], store: IncidentStore = store, agency: str = "KYTC"
                ) -> dict[str, int]:
            parsed = parse_document(copy.deepcopy(doc))
            return apply_document(store, parsed, agency=agency, actor="bench",
                                  match=matcher.match).counts

        c1 = run("first import", lambda: imp(v1))
        c2 = run("re-import", lambda: imp(v1))
        c3 = run("newer versions", lambda: imp(v2))
        assert c1["created"] == n and c2["unchanged"] == n and c3["updated"] == n, (c1, c2, c3)
        incs = store.list_incidents(agency="KYTC", limit=1000)
        body = situation_publication(incs, NOW, publisher="bench")

        def datex(store: IncidentStore = store, body: bytes = body) -> dict[str, int]:
            return apply_document(store, parse_document(body), agency="MIRROR", actor="bench",
                                  match=matcher.match).counts

        c4 = run("DATEX II 3 import", datex)
        assert c4["created"] == n, c4
        store.close()

    base_med = float(np.median(times["baseline"]))
    rows = []
    for name, samples in times.items():
        med, p95 = stats_ms(samples)
        rows.append((name, f"median {med:8.1f} ms  p95 {p95:8.1f} ms  "
                           f"({med * 1000 / n:6.0f} µs/record)  "
                           f"ratio vs baseline {float(np.median(samples)) / base_med:5.2f}"))
    print_table(f"Import of {n} WZDx work zones on northern Kentucky, {args.repeat} runs, "
                "fresh SQLite store each", rows)


if __name__ == "__main__":
    main()
