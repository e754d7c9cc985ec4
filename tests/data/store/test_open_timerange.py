"""An unbounded TimeRange reads like no range at all (it used to overflow the month pruning)."""

from __future__ import annotations

from pathlib import Path

from autoperp.core.time import TimeRange
from autoperp.core.types import DataKind
from autoperp.data.schema import MarketFrame
from autoperp.data.store.base import SeriesKey
from autoperp.data.store.parquet import ParquetStore
from autoperp.data.synthetic import generate_series


def test_open_ended_ranges_read_everything(tmp_path: Path) -> None:
    series = generate_series(3 * 24 * 60, symbol="BTC/USDT:USDT", seed=1)
    mf: MarketFrame = series.candles
    store = ParquetStore(tmp_path)
    key = SeriesKey("binanceusdm", mf.symbol, DataKind.FUTURES, "1m")
    store.write([(key, mf.frame)])
    whole = store.read(key)
    assert len(store.read(key, TimeRange())) == len(whole) == len(mf.frame)
    start = int(mf.frame["ts"].iat[100])
    assert len(store.read(key, TimeRange(start_ms=start))) == len(whole) - 100
    assert len(store.read(key, TimeRange(end_ms=start))) == 100
    hourly = store.read_candles("binanceusdm", mf.symbol, "1h", TimeRange())
    assert len(hourly) == 72
