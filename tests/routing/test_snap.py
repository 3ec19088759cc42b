"""The grid snapper (hot path) agrees with shapely's STRtree nearest on random points."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.mark.parametrize("mode", ["car", "walk"])
def test_grid_snap_matches_strtree(nky_router, mode: str) -> None:
    snapper = nky_router.modes[mode].snapper
    w, s, e, n = nky_router.snapshot.bbox
    rng = np.random.default_rng(3)
    lat = np.asarray(nky_router.snapshot.node_lat)
    lon = np.asarray(nky_router.snapshot.node_lon)
    idx = rng.integers(0, lat.shape[0], 1500)
    pts = list(zip(lat[idx] + rng.normal(0, 5e-4, 1500), lon[idx] + rng.normal(0, 5e-4, 1500),
                   strict=True))
    pts += list(zip(rng.uniform(s, n, 300), rng.uniform(w, e, 300), strict=True))
    found = 0
    for la, lo in pts:
        a = snapper.nearest(lo, la, 1000.0)
        b = snapper.nearest_strtree(lo, la, 1000.0)
        assert (a is None) == (b is None)
        if a is None:
            continue
        found += 1
        assert a.distance_m == pytest.approx(b.distance_m, abs=1e-6)
        if a.segment == b.segment:
            assert a.fraction == pytest.approx(b.fraction, abs=1e-6)
            assert a.lon == pytest.approx(b.lon, abs=1e-9) and a.lat == pytest.approx(b.lat,
                                                                                      abs=1e-9)
    assert found > 1500


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 1), st.floats(0, 1), st.floats(1, 3000))
def test_grid_snap_respects_max_distance(pdx_router, fx: float, fy: float, max_m: float
                                         ) -> None:
    snapper = pdx_router.modes["car"].snapper
    w, s, e, n = pdx_router.snapshot.bbox
    lo, la = w - 0.02 + fx * (e - w + 0.04), s - 0.02 + fy * (n - s + 0.04)
    a = snapper.nearest(lo, la, max_m)
    b = snapper.nearest_strtree(lo, la, max_m)
    assert (a is None) == (b is None)
    if a is not None:
        assert a.distance_m <= max_m + 1e-6
        assert a.distance_m == pytest.approx(b.distance_m, abs=1e-6)
