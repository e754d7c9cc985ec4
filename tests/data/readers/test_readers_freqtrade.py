"""freqtrade candles and trades in feather, parquet and json (plain and gzipped), plus generic tables."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest

from autoperp.core.symbols import Symbol
from autoperp.core.types import DataKind
from autoperp.data.readers import read_file
from autoperp.data.schema import EVENTS

T0 = 1637110800000  # 2021-11-17 01:00 UTC


def _candles(volume: float | None = 10.0) -> pd.DataFrame:
    dates = pd.to_datetime([T0, T0 + 3_600_000, T0 + 7_200_000], unit="ms", utc=True)
    return pd.DataFrame(
        {
            "date": dates,
            "open": [1.0, 1.1, 1.2],
            "high": [1.2, 1.3, 1.4],
            "low": [0.9, 1.0, 1.1],
            "close": [1.1, 1.2, 1.3],
            "volume": [volume] * 3,
        }
    )


@pytest.mark.parametrize("fmt", ["feather", "parquet"])
def test_futures_candles(tmp_path, check_frame, fmt) -> None:
    path = tmp_path / f"XRP_USDT_USDT-1h-futures.{fmt}"
    getattr(_candles(), f"to_{fmt}")(path)
    (frame,) = read_file(path)
    check_frame(frame)
    assert (frame.kind, str(frame.symbol), frame.timeframe) == (DataKind.FUTURES, "XRP/USDT:USDT", "1h")
    assert frame.frame["ts"].tolist() == [T0, T0 + 3_600_000, T0 + 7_200_000]


@pytest.mark.parametrize(
    ("candle_type", "kind"),
    [("mark", DataKind.MARK), ("index", DataKind.INDEX), ("premiumIndex", DataKind.PREMIUM)],
)
def test_price_only_candles_drop_volume(tmp_path, check_frame, candle_type, kind) -> None:
    path = tmp_path / f"BTC_USDT_USDT-8h-{candle_type}.feather"
    _candles(volume=np.nan).to_feather(path)
    (frame,) = read_file(path)
    check_frame(frame)
    assert frame.kind is kind and "volume" not in frame.frame.columns


def test_funding_rate_feather_keeps_ms_jitter(tmp_path, check_frame) -> None:
    df = _candles(volume=0.0)
    df["date"] = df["date"] + pd.to_timedelta([17, 7, 11], unit="ms")
    df["open"] = [0.0001, -0.0002, 0.0003]
    path = tmp_path / "BTC_USDT_USDT-8h-funding_rate.feather"
    df.to_feather(path)
    (frame,) = read_file(path)
    check_frame(frame)
    assert frame.kind is DataKind.FUNDING and frame.timeframe == EVENTS
    assert frame.frame["ts"].tolist() == [T0 + 17, T0 + 3_600_007, T0 + 7_200_011]
    assert frame.frame["rate"].tolist() == [0.0001, -0.0002, 0.0003]


def test_spot_json_and_json_gz(tmp_path, check_frame) -> None:
    rows = [[T0, 1.0, 1.2, 0.9, 1.1, 5.0], [T0 + 300_000, 1.1, 1.3, 1.0, 1.2, 6.0]]
    plain = tmp_path / "BTC_USDT-5m.json"
    plain.write_text(json.dumps(rows))
    packed = tmp_path / "BTC_USDT-5m.json.gz"
    packed.write_bytes(gzip.compress(json.dumps(rows).encode()))
    for path in (plain, packed):
        (frame,) = read_file(path)
        check_frame(frame)
        assert frame.kind is DataKind.SPOT and frame.symbol == Symbol.parse("BTC/USDT")
        assert frame.timeframe == "5m" and frame.exchange == "binance"
        assert frame.frame["volume"].tolist() == [5.0, 6.0]


def test_json_funding_rate(tmp_path) -> None:
    path = tmp_path / "ETH_USDT_USDT-1h-funding_rate.json"
    path.write_text(json.dumps([[T0 + 3, 0.0001, 0, 0, 0, 0]]))
    (frame,) = read_file(path)
    assert frame.kind is DataKind.FUNDING and frame.frame["ts"].tolist() == [T0 + 3]


def test_freqtrade_trades_feather_and_json(tmp_path, check_frame) -> None:
    df = pd.DataFrame(
        {
            "timestamp": [T0, T0 + 5],
            "id": ["101", "102"],
            "type": [None, None],
            "side": ["buy", "sell"],
            "price": [1.0, 1.1],
            "amount": [2.0, 3.0],
            "cost": [2.0, 3.3],
        }
    )
    feather = tmp_path / "XRP_USDT_USDT-trades.feather"
    df.to_feather(feather)
    js = tmp_path / "XRP_USDT-trades.json"
    js.write_text(json.dumps(df.values.tolist()))
    for path in (feather, js):
        (frame,) = read_file(path)
        check_frame(frame)
        assert frame.kind is DataKind.TRADES
        assert frame.frame["is_buyer_maker"].tolist() == [False, True]
        assert frame.frame["id"].tolist() == [101, 102]


def test_canonical_parquet_round_trip(tmp_path, check_frame) -> None:
    df = pd.DataFrame({"ts": [T0, T0 + 1], "rate": [0.0001, 0.0002], "interval_h": [8.0, 8.0]})
    path = tmp_path / "BTC_USDT_USDT-funding.parquet"
    df.to_parquet(path)
    (frame,) = read_file(path, symbol=Symbol.parse("BTC/USDT:USDT"))
    check_frame(frame)
    assert frame.kind is DataKind.FUNDING and frame.frame["rate"].tolist() == [0.0001, 0.0002]


def test_trade_ticks_with_string_buyer_maker(tmp_path, check_frame) -> None:
    df = pd.DataFrame(
        {
            "timestamp": pd.to_datetime([T0, T0 + 1], unit="ms", utc=True),
            "trade_id": [1, 2],
            "price": [1.0, 2.0],
            "quantity": [0.1, 0.2],
            "buyer_maker": ["True", "False"],
        }
    )
    path = tmp_path / "binance_spot_ethusdt-trades.parquet"
    df.to_parquet(path)
    (frame,) = read_file(path)
    check_frame(frame)
    assert frame.symbol == Symbol.parse("ETH/USDT") and frame.exchange == "binance"
    assert frame.frame["is_buyer_maker"].tolist() == [True, False]
