"""The Parquet store: round trips, merges, refusals that leave the store unchanged, resampling, listing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autoperp.core.errors import StoreError
from autoperp.core.time import TimeRange
from autoperp.core.types import DataKind
from autoperp.data.schema import EVENTS
from autoperp.data.store.base import SeriesKey
from autoperp.data.store.parquet import ParquetStore
from tests.data.frames import BTC, MIN, T0, candles
from tests.support.tree import tree_digest

KEY = SeriesKey("binanceusdm", BTC, DataKind.FUTURES, "1m")
DAY = 1440


@pytest.fixture
def store(tmp_path: Path) -> ParquetStore:
    return ParquetStore(tmp_path / "data")


def test_round_trip_across_months(store: ParquetStore) -> None:
    df = candles(45 * DAY, start=T0 - 10 * DAY * MIN)  # spans Dec, Jan, Feb
    assert store.write([(KEY, df)]) == {KEY: len(df)}
    files = sorted(p.name for p in (store.root).rglob("*.parquet"))
    assert files == ["2023-12.parquet", "2024-01.parquet", "2024-02.parquet"]
    back = store.read(KEY)
    pd.testing.assert_frame_equal(back, df, check_dtype=True)
    part = store.read(KEY, TimeRange(T0, T0 + 60 * MIN))
    assert len(part) == 60 and part["ts"].iat[0] == T0
    arrays = store.read_arrays(KEY, TimeRange(T0, T0 + 10 * MIN))
    assert arrays["close"].dtype == np.float64 and arrays["ts"].dtype == np.int64


def test_reimport_is_a_noop_and_overlap_merges(store: ParquetStore) -> None:
    df = candles(3000)
    store.write([(KEY, df.iloc[:2000])])
    digest = tree_digest(store.root)
    assert store.write([(KEY, df.iloc[:2000])]) == {KEY: 0}
    assert tree_digest(store.root) == digest
    assert store.write([(KEY, df.iloc[1500:])]) == {KEY: 1000}
    pd.testing.assert_frame_equal(store.read(KEY), df)


def test_conflicting_rows_refused_and_store_unchanged(store: ParquetStore) -> None:
    df = candles(3000)
    store.write([(KEY, df)])
    digest = tree_digest(store.root)
    other = df.iloc[100:200].copy()
    other["close"] *= 1.001
    other["high"] = np.maximum(other["high"], other["close"])
    good_eth = candles(10).assign(ts=lambda d: d["ts"] + 10**9)
    eth_key = SeriesKey("binanceusdm", BTC, DataKind.FUTURES, "5m")
    with pytest.raises(StoreError, match="never overwritten"):
        store.write([(eth_key, good_eth), (KEY, other)])  # the valid series is not written either
    assert tree_digest(store.root) == digest
    assert not list(store.root.rglob("*.tmp"))


def test_column_mismatch_refused(store: ParquetStore) -> None:
    store.write([(KEY, candles(100))])
    with pytest.raises(StoreError, match="columns"):
        store.write([(KEY, candles(100, start=T0 + 10**8, taker=False))])


def test_resampled_in_duckdb_matches_pandas(store: ParquetStore) -> None:
    df = candles(3 * DAY + 17, start=T0 + 13 * MIN, seed=4)  # ragged ends: incomplete buckets dropped
    store.write([(KEY, df)])
    got = store.read_candles("binanceusdm", BTC, "1h")
    s = df.assign(dt=pd.to_datetime(df["ts"], unit="ms")).set_index("dt")
    ref = s.resample("1h").agg(
        {
            "open": "first",
            "high": "max",
            "low": "min",
            "close": "last",
            "volume": "sum",
            "taker_buy_volume": "sum",
            "ts": "count",
        }
    )
    ref = ref[ref["ts"] == 60]
    assert len(got) == len(ref) == 3 * 24 - 1
    np.testing.assert_array_equal(got["ts"].to_numpy(), ref.index.as_unit("ms").asi8)
    for c in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(got[c].to_numpy(), ref[c].to_numpy())
    for c in ("volume", "taker_buy_volume"):
        np.testing.assert_allclose(got[c].to_numpy(), ref[c].to_numpy(), rtol=1e-12)
    four = store.read_candles("binanceusdm", BTC, "4h", TimeRange(T0, T0 + DAY * MIN))
    # the first 4h bucket lacks its first 13 bars, so it is incomplete and left out
    assert list(four["ts"]) == [T0 + 4 * 60 * MIN * k for k in range(1, 6)]


def test_read_missing_series_says_what_to_do(store: ParquetStore) -> None:
    with pytest.raises(StoreError, match="list-data"):
        store.read(KEY)
    with pytest.raises(StoreError, match="none finer"):
        store.read_candles("binanceusdm", BTC, "1h")


def test_list_series_counts_holes_between_imports(store: ParquetStore) -> None:
    df = candles(2 * DAY)
    store.write([(KEY, df.iloc[:DAY]), (KEY, df.iloc[DAY + 30 :])])
    funding = pd.DataFrame({"ts": np.array([T0, T0 + 8 * 3_600_000], np.int64), "rate": [1e-4, -2e-4]})
    fkey = SeriesKey("binanceusdm", BTC, DataKind.FUNDING, EVENTS)
    store.write([(fkey, funding)])
    infos = {i.key: i for i in store.list_series()}
    assert infos[KEY].rows == 2 * DAY - 30
    assert infos[KEY].gaps == 1
    assert infos[KEY].start_ms == T0 and infos[KEY].end_ms == T0 + (2 * DAY - 1) * MIN
    assert infos[fkey].rows == 2 and infos[fkey].gaps == 0


def test_keyless_series_window_merge(store: ParquetStore) -> None:
    q = pd.DataFrame(
        {
            "ts": np.array([1, 1, 2], np.int64) + T0,
            "bid": [1.0, 1.0, 1.1],
            "bid_qty": [1.0, 2, 1],
            "ask": [1.2, 1.2, 1.3],
            "ask_qty": [1.0, 1, 1],
        }
    )
    key = SeriesKey("binanceusdm", BTC, DataKind.QUOTES, EVENTS)
    store.write([(key, q)])
    assert store.write([(key, q)]) == {key: 0}
    with pytest.raises(StoreError, match="differ"):
        store.write([(key, q.assign(bid_qty=5.0))])
    assert len(store.read(key)) == 3


def test_one_writer_at_a_time(store: ParquetStore) -> None:
    batch = store.begin_write()
    with pytest.raises(StoreError, match="another autoperp process"):
        store.begin_write()
    batch.add(KEY, candles(10))
    assert batch.commit() == {KEY: 10}
    with pytest.raises(StoreError, match="already committed"):
        batch.add(KEY, candles(10))
    store.write([(KEY, candles(20, start=T0 + 10 * MIN, seed=5))])  # the lock was released
    assert len(store.read(KEY)) == 30
