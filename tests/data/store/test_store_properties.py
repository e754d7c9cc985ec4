"""Property tests: however a series is cut into overlapping pieces and imported, the store holds exactly
the series; a changed value is always refused and leaves the store as it was."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autoperp.core.errors import StoreError
from autoperp.core.types import DataKind
from autoperp.data.store.base import SeriesKey
from autoperp.data.store.parquet import ParquetStore
from tests.data.frames import BTC, MIN, T0, candles
from tests.support.tree import tree_digest

KEY = SeriesKey("binanceusdm", BTC, DataKind.FUTURES, "1m")
# 70 days: three calendar months
SERIES = candles(70 * 1440, start=T0 - 20 * 1440 * MIN, seed=11)
N = len(SERIES)


pieces = st.lists(
    st.tuples(st.integers(0, N - 1), st.integers(1, 40_000)).map(lambda p: (p[0], min(N, p[0] + p[1]))),
    min_size=1,
    max_size=6,
)


@settings(max_examples=25, deadline=None)
@given(pieces=pieces, batches=st.integers(1, 3))
def test_any_overlapping_import_order_gives_the_union(pieces: list[tuple[int, int]], batches: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        store = ParquetStore(Path(d))
        chunks = [SERIES.iloc[a:b] for a, b in pieces]
        for i in range(batches):  # the same pieces split over one to three write calls
            store.write([(KEY, c) for c in chunks[i::batches]])
        covered = sorted({i for a, b in pieces for i in range(a, b)})
        expected = SERIES.iloc[covered].reset_index(drop=True)
        pd.testing.assert_frame_equal(store.read(KEY), expected)
        digest = tree_digest(Path(d))
        assert store.write([(KEY, c) for c in chunks]) == {KEY: 0}
        assert tree_digest(Path(d)) == digest


@settings(max_examples=20, deadline=None)
@given(
    a=st.integers(0, N - 2),
    length=st.integers(1, 5000),
    row=st.integers(0, 4999),
    col=st.sampled_from(["open", "high", "low", "close", "volume", "taker_buy_volume"]),
)
def test_a_changed_value_is_refused_and_nothing_moves(a: int, length: int, row: int, col: str) -> None:
    b = min(N, a + length)
    with tempfile.TemporaryDirectory() as d:
        store = ParquetStore(Path(d))
        store.write([(KEY, SERIES)])
        digest = tree_digest(Path(d))
        changed = SERIES.iloc[a:b].copy()
        changed.iloc[row % len(changed), changed.columns.get_loc(col)] *= 1.000001
        fresh = candles(10, start=T0 + 400 * 1440 * MIN)  # a valid, unrelated month in the same call
        with pytest.raises(StoreError, match="never overwritten"):
            store.write([(KEY, fresh), (KEY, changed)])
        assert tree_digest(Path(d)) == digest
