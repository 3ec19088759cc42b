"""Speed batches as columns: the log's binary payload round-trips and refuses anything else,
applying a batch at once equals applying its observations one by one, and learning from
columns equals the plain observation-by-observation moving average."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incidents.db import connect
from incidents.migrate import migrate
from incidents.speedlog import SpeedLog
from incidents.speeds import SpeedUpdate, SpeedUpdates
from routing.kernels.td import BIN_MS, N_BINS
from routing.typical import DAY_TYPES, TypicalSpeeds, day_type_of, enforce_fifo
from routing.typical_learn import learn_from_arrays

N_EDGES = 12

_update = st.builds(
    lambda edges, speed, at, conf: SpeedUpdate(np.array(edges, np.int64), speed, at, conf),
    st.lists(st.integers(0, N_EDGES - 1), min_size=1, max_size=4),
    st.floats(1.0, 130.0), st.sampled_from([1_700_000_000.0, 1_700_000_060.0,
                                            1_700_000_120.5]),
    st.floats(0.0, 1.0))


@given(st.lists(_update, min_size=1, max_size=30))
def test_payload_round_trip(updates: list[SpeedUpdate]) -> None:
    cols = SpeedUpdates.of(updates)
    back = SpeedUpdates.from_bytes(cols.to_bytes())
    assert len(back) == len(updates)
    for a, b in zip(back, updates, strict=True):
        assert a.edges.tolist() == b.edges.tolist()
        assert (a.speed_kmh, a.observed_at_s, a.confidence) == \
            (b.speed_kmh, b.observed_at_s, b.confidence)


@given(st.binary(max_size=200))
def test_payload_refuses_garbage(data: bytes) -> None:
    with pytest.raises(ValueError):
        SpeedUpdates.from_bytes(data)


def test_payload_refuses_truncation_and_bad_offsets() -> None:
    good = SpeedUpdates.of([SpeedUpdate(np.array([1, 2]), 30.0, 1.7e9, 1.0)]).to_bytes()
    for cut in (1, 8, len(good) - 1):
        with pytest.raises(ValueError):
            SpeedUpdates.from_bytes(good[:cut])
    bad = bytearray(good)
    bad[6 + 16 + 8] = 7  # offsets[1] no longer equals the edge count
    with pytest.raises(ValueError):
        SpeedUpdates.from_bytes(bytes(bad))


FRESH_S = 60.0


class _Board:
    """What SpeedBoard.apply does, one observation and one edge at a time (reference): the
    newest wins, except that a bus probe (source 1) never replaces a traffic centre's
    (source 0) observation less than ``FRESH_S`` older."""

    def __init__(self) -> None:
        self.at = np.full(N_EDGES, -np.inf)
        self.speed = np.zeros(N_EDGES)
        self.conf = np.zeros(N_EDGES)
        self.source = np.zeros(N_EDGES, np.uint8)

    def apply(self, updates: list[SpeedUpdate], source: int) -> None:
        for u in updates:
            for e in u.edges.tolist():
                if self.at[e] > u.observed_at_s:
                    continue
                if source == 1 and self.source[e] == 0 and \
                        u.observed_at_s - self.at[e] < FRESH_S:
                    continue
                self.at[e], self.speed[e], self.conf[e], self.source[e] = \
                    u.observed_at_s, u.speed_kmh, u.confidence, source


@given(st.lists(st.tuples(st.lists(_update, min_size=1, max_size=15), st.sampled_from([0, 1])),
                min_size=1, max_size=4))
@settings(max_examples=150)
def test_apply_equals_one_by_one(batches: list[tuple[list[SpeedUpdate], int]]) -> None:
    from incidents.speeds import SpeedBoard

    board = SpeedBoard.__new__(SpeedBoard)  # only the per-edge arrays matter here
    board.obs_ms = np.zeros(N_EDGES)
    board.obs_at = np.full(N_EDGES, -np.inf)
    board.obs_conf = np.zeros(N_EDGES)
    board.obs_source = np.zeros(N_EDGES, np.uint8)
    board.fresh_s = FRESH_S
    board.edge_len = np.full(N_EDGES, 100.0)
    board.version = 0
    board._snapshot = None
    import threading

    board._lock = threading.Lock()
    ref = _Board()
    for b, source in batches:
        board.apply(SpeedUpdates.of(b), source)
        ref.apply(b, source)
    assert board.obs_at.tolist() == ref.at.tolist()
    assert board.obs_conf.tolist() == ref.conf.tolist()
    assert board.obs_source.tolist() == ref.source.tolist()
    seen = np.isfinite(ref.at)
    want = 100.0 / (ref.speed[seen] / 3.6) * 1000.0
    assert np.allclose(board.obs_ms[seen], want, rtol=0, atol=1e-9)


def test_log_reads_binary_and_legacy_rows(tmp_path) -> None:
    db = connect(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(db)
    log = SpeedLog(db)
    now = datetime(2026, 1, 5, 8, tzinfo=UTC)
    ups = SpeedUpdates.of([SpeedUpdate(np.array([3, 4]), 42.0, now.timestamp(), 0.5)])
    seq = log.append("snap", "t", ups, now)
    with db.transaction(write=True) as tx:  # a batch written before the binary payload
        tx.execute("INSERT INTO speed_batches (seq, snapshot_id, actor, recorded_at, "
                   "observed_until, n_obs, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (seq + 1, "snap", "t", db.ts_in(now), db.ts_in(now), 1,
                    json.dumps({"o": [[[5], 17.0, now.timestamp(), 1.0]]})))
    got = log.since(0, "snap")
    assert [b.seq for b in got] == [seq, seq + 1]
    assert [u.edges.tolist() for u in got[0].updates] == [[3, 4]]
    assert [(u.edges.tolist(), u.speed_kmh) for u in got[1].updates] == [([5], 17.0)]
    assert len(log.since(0, "other-snapshot")[0].updates) == 0
    db.close()


def _typical() -> TypicalSpeeds:
    rng = np.random.default_rng(3)
    ff = rng.integers(5_000, 20_000, N_EDGES).astype(np.int32)
    row = np.full((len(DAY_TYPES), N_EDGES), -1, np.int32)
    row[0, :4] = np.arange(4)
    ttf, _ = enforce_fifo(ff[:4, None].astype(np.int64) + rng.integers(0, 9_000, (4, N_BINS)))
    obs = rng.random((4, N_BINS)) < 0.5
    return TypicalSpeeds(ff, rng.uniform(50, 400, N_EDGES).astype(np.float32), row, ttf, obs,
                         "snap")


def _learn_reference(typ: TypicalSpeeds, edges, at_s, speed, weight) -> np.ndarray:
    """Observation by observation, in order, then ≥ free flow and FIFO on touched rows:
    the dense [day type, edge, bin] times (free flow where no row)."""
    dense = np.repeat(np.asarray(typ.free_flow_ms, np.int64)[None, :, None], N_BINS, axis=2)
    dense = np.repeat(dense, len(DAY_TYPES), axis=0)
    seen = np.zeros(dense.shape, bool)
    for d in range(len(DAY_TYPES)):
        for e in range(N_EDGES):
            r = typ.row[d, e]
            if r >= 0:
                dense[d, e] = typ.ttf_ms[r]
                seen[d, e] = typ.observed[r]
    touched = set()
    for e, t, s in zip(edges, at_s, speed, strict=True):
        local = datetime.fromtimestamp(t, UTC)
        d = DAY_TYPES.index(day_type_of(local.date()))
        b = ((local.hour * 60 + local.minute) * 60 + local.second) * 1000 // BIN_MS
        ms = float(typ.edge_length_m[e]) / (s / 3.6) * 1000.0
        old = float(dense[d, e, b])
        dense[d, e, b] = round(ms if not seen[d, e, b] else (1 - weight) * old + weight * ms)
        seen[d, e, b] = True
        touched.add((d, e))
    for d, e in touched:
        fixed = np.maximum(dense[d, e], typ.free_flow_ms[e])[None, :]
        dense[d, e] = enforce_fifo(fixed)[0][0]
    return dense


def _dense(typ: TypicalSpeeds) -> np.ndarray:
    out = np.zeros((len(DAY_TYPES), N_EDGES, N_BINS), np.int64)
    for d in range(len(DAY_TYPES)):
        for e in range(N_EDGES):
            r = typ.row[d, e]
            out[d, e] = typ.ttf_ms[r] if r >= 0 else typ.free_flow_ms[e]
    return out


@given(st.lists(st.tuples(st.integers(0, N_EDGES - 1), st.integers(0, 3 * 86_400 - 1),
                          st.floats(3.0, 120.0)), min_size=1, max_size=40),
       st.sampled_from([0.2, 0.5, 1.0]))
@settings(max_examples=80, deadline=None)
def test_learning_from_columns_equals_one_by_one(obs, weight) -> None:
    typ = _typical()
    base = datetime(2026, 1, 5, tzinfo=UTC).timestamp()  # a Monday
    edges = np.array([o[0] for o in obs], np.int64)
    at_s = np.array([base + o[1] for o in obs], np.float64)
    speed = np.array([o[2] for o in obs], np.float64)
    got = learn_from_arrays(typ, edges, at_s, speed, weight=weight)
    assert np.array_equal(_dense(got), _learn_reference(typ, edges, at_s, speed, weight))
    assert _dense(typ).sum() == _dense(_typical()).sum()  # the input is untouched


def test_learning_refuses_bad_input() -> None:
    typ = _typical()
    with pytest.raises(ValueError, match="unknown car edge"):
        learn_from_arrays(typ, np.array([N_EDGES]), np.array([1.7e9]), np.array([30.0]))
    with pytest.raises(ValueError, match="out of range"):
        learn_from_arrays(typ, np.array([0]), np.array([1.7e9]), np.array([-1.0]))
