"""ms-UTC time, timeframes and ccxt symbols."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from autoperp.core.errors import UsageError
from autoperp.core.symbols import Symbol
from autoperp.core.time import TimeRange, datetime_to_ms, format_ms, ms_to_datetime, parse_date, to_ms_array
from autoperp.core.timeframes import STANDARD_TIMEFRAMES, can_resample, timeframe_ms


def test_units_normalised_per_element() -> None:
    ms = 1_704_067_200_000
    got = to_ms_array(np.array([ms // 1000, ms, ms * 1000, ms * 1_000_000], dtype=np.int64))
    assert got.tolist() == [ms] * 4


@given(st.integers(min_value=0, max_value=4_102_444_800_000))
def test_datetime_round_trip(ms: int) -> None:
    assert datetime_to_ms(ms_to_datetime(ms)) == ms


def test_timerange_parse() -> None:
    tr = TimeRange.parse("20240101-20240301")
    assert format_ms(tr.start_ms) == "2024-01-01 00:00:00"  # type: ignore[arg-type]
    assert format_ms(tr.end_ms) == "2024-03-01 00:00:00"  # type: ignore[arg-type]
    assert TimeRange.parse("20240101-").end_ms is None
    assert TimeRange.parse("-20240101").start_ms is None
    assert tr.contains(np.array([tr.start_ms, tr.end_ms])).tolist() == [True, False]
    for bad in ("2024", "20240301-20240101", "2024-01-01", "abc-def"):
        with pytest.raises(UsageError):
            TimeRange.parse(bad)


def test_parse_date_forms() -> None:
    want = datetime_to_ms(dt.datetime(2024, 1, 2, tzinfo=dt.UTC))
    assert parse_date("20240102") == parse_date("2024-01-02") == parse_date("1704153600") == want
    assert parse_date("2024-01-02T00:00:00Z") == want


def test_timeframes() -> None:
    assert [timeframe_ms(t) for t in STANDARD_TIMEFRAMES] == [
        60_000, 300_000, 900_000, 3_600_000, 14_400_000, 86_400_000,
    ]  # fmt: skip
    assert can_resample("1m", "1h") and can_resample("5m", "1h") and not can_resample("1h", "1m")
    with pytest.raises(UsageError, match="unknown timeframe '7m'"):
        timeframe_ms("7m")


def test_symbols() -> None:
    s = Symbol.parse("btc/usdt:usdt")
    assert (s.ccxt, s.exchange_id, s.file_stem, s.is_perp) == (
        "BTC/USDT:USDT",
        "BTCUSDT",
        "BTC_USDT_USDT",
        True,
    )
    assert Symbol.from_exchange_id("1000PEPEUSDT") == Symbol("1000PEPE", "USDT", "USDT")
    assert Symbol.from_file_stem("ETH_USDT_USDT") == Symbol.parse("ETH/USDT:USDT")
    assert not Symbol.parse("BTC/USDT").is_perp
    for bad in ("BTCUSDT", "BTC-USDT", "/USDT"):
        with pytest.raises(UsageError, match="ccxt form"):
            Symbol.parse(bad)


def test_human_bytes() -> None:
    from autoperp.core.sizes import human_bytes

    assert [human_bytes(n) for n in (0, 512, 1536, 13_212_057, 5 * 1024**5)] == [
        "0 B", "512 B", "1.5 KiB", "12.6 MiB", "5120.0 TiB",
    ]  # fmt: skip
