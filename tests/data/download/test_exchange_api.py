"""The ccxt source against the loopback server's /fapi/v1 endpoints."""

from __future__ import annotations

import numpy as np
import pytest
from tests.support.fake_binance import FakeBinance, kline_frame

from autoperp.core.errors import DownloadError, UsageError
from autoperp.core.symbols import Symbol
from autoperp.core.time import MS_PER_HOUR, MS_PER_MINUTE, parse_date
from autoperp.core.types import DataKind
from autoperp.data.download.exchange_api import BinanceUsdmApi, infer_interval_h, make_exchange
from autoperp.data.schema import EVENTS

BTC = Symbol.parse("BTC/USDT:USDT")
T0 = parse_date("20240303")


def api(fake: FakeBinance) -> BinanceUsdmApi:
    return BinanceUsdmApi(api_url=fake.url, enable_rate_limit=False, timeout_s=5, retries=1, backoff_s=0.01)


def test_urls_are_moved_to_the_override() -> None:
    ex = make_exchange(api_url="http://127.0.0.1:9")
    assert ex.urls["api"]["fapiPublic"] == "http://127.0.0.1:9/fapi/v1"
    assert all(
        not str(u).startswith("https://fapi.") for k, u in ex.urls["api"].items() if k.startswith("fapi")
    )


def test_klines_paginate_and_drop_the_forming_bar(fake: FakeBinance) -> None:
    now = T0 + 2000 * MS_PER_MINUTE + 30_000  # bar 2000 is still forming
    fake.api_until = now
    mf = api(fake).klines(DataKind.FUTURES, BTC, "1m", T0, T0 + 3000 * MS_PER_MINUTE, now)
    assert mf is not None
    assert fake.hits["/fapi/v1/klines"] == 2  # 1500 + 500 rows
    assert len(mf) == 2000
    assert list(mf.frame.columns) == [
        "ts", "open", "high", "low", "close", "volume", "quote_volume", "trades",
        "taker_buy_volume", "taker_buy_quote_volume",
    ]  # fmt: skip
    assert mf.frame["trades"].dtype == np.int64 and mf.frame["ts"].dtype == np.int64
    ref = kline_frame(BTC, DataKind.FUTURES, "1m", T0, T0 + 2000 * MS_PER_MINUTE)
    np.testing.assert_array_equal(mf.column("ts"), ref["open_time"].to_numpy())
    np.testing.assert_array_equal(mf.column("close"), ref["close"].to_numpy())
    assert mf.timeframe == "1m" and mf.kind is DataKind.FUTURES and "/klines?symbol=BTCUSDT" in mf.source


def test_mark_klines_have_price_columns_only(fake: FakeBinance) -> None:
    mf = api(fake).klines(DataKind.MARK, BTC, "1h", T0, T0 + 5 * MS_PER_HOUR, T0 + 10 * MS_PER_HOUR)
    assert mf is not None and len(mf) == 5
    assert list(mf.frame.columns) == ["ts", "open", "high", "low", "close"]
    assert fake.hits["/fapi/v1/markPriceKlines"] == 1


def test_funding_rows_and_interval(fake: FakeBinance) -> None:
    mf = api(fake).fetch(DataKind.FUNDING, BTC, EVENTS, T0, T0 + 48 * MS_PER_HOUR, T0 + 48 * MS_PER_HOUR)
    assert mf is not None and len(mf) == 6
    assert list(mf.frame.columns) == ["ts", "rate", "interval_h"]
    assert (mf.column("interval_h") == 8).all()
    assert mf.timeframe == EVENTS


def test_agg_trades_window_and_from_id_paging(fake: FakeBinance) -> None:
    # 2 trades a minute: 2 hour windows of 120 trades each
    mf = api(fake).fetch(DataKind.TRADES, BTC, EVENTS, T0, T0 + 2 * MS_PER_HOUR, T0 + 3 * MS_PER_HOUR)
    assert mf is not None and len(mf) == 240
    assert list(mf.frame.columns) == ["ts", "price", "qty", "is_buyer_maker", "id", "first_id", "last_id"]
    assert np.all(np.diff(mf.column("id")) == 1)


def test_bad_symbol_is_a_usage_error(fake: FakeBinance) -> None:
    nope = Symbol.parse("NOPE/USDT:USDT")
    with pytest.raises(UsageError, match="NOPE/USDT:USDT is not a Binance USD-M perpetual"):
        api(fake).klines(DataKind.FUTURES, nope, "1m", T0, T0 + MS_PER_HOUR, T0 + MS_PER_HOUR)


def test_unreachable_api_is_a_download_error() -> None:
    a = BinanceUsdmApi(
        api_url="http://127.0.0.1:9", enable_rate_limit=False, timeout_s=2, retries=1, backoff_s=0.01
    )
    with pytest.raises(DownloadError, match="gave up after 2 attempts"):
        a.klines(DataKind.FUTURES, BTC, "1m", T0, T0 + MS_PER_HOUR, T0 + MS_PER_HOUR)


def test_infer_interval_h() -> None:
    ts = np.array([0, 8, 16, 20, 24]) * MS_PER_HOUR
    assert infer_interval_h(ts).tolist() == [8, 8, 8, 4, 4]
    assert infer_interval_h(np.array([5])).tolist() == [8]
