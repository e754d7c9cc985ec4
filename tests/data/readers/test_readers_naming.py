"""What file names say: symbol, timeframe, kind, exchange; and which files a directory import picks."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from autoperp.core.types import DataKind
from autoperp.data.readers import is_supported
from autoperp.data.readers.naming import infer_from_name


@pytest.mark.parametrize(
    ("path", "symbol", "timeframe", "kind", "exchange"),
    [
        ("FILUSDT-1m-2023-04.csv.gz", "FIL/USDT:USDT", "1m", DataKind.FUTURES, "binanceusdm"),
        ("BTC_USDT_USDT-8h-funding_rate.feather", "BTC/USDT:USDT", "8h", DataKind.FUNDING, "binanceusdm"),
        ("XRP_USDT_USDT-1h-mark.feather", "XRP/USDT:USDT", "1h", DataKind.MARK, "binanceusdm"),
        ("ETH_USDT-5m.json.gz", "ETH/USDT", "5m", DataKind.SPOT, "binance"),
        ("BTC_USDT_USDT-1h-premiumIndex.parquet", "BTC/USDT:USDT", "1h", DataKind.PREMIUM, "binanceusdm"),
        (
            "data/futures/um/monthly/markPriceKlines/BTCUSDT/1m/BTCUSDT-1m-2024-01.zip",
            "BTC/USDT:USDT",
            "1m",
            DataKind.MARK,
            "binanceusdm",
        ),
        (
            "data/futures/um/daily/indexPriceKlines/BTCUSDT/1h/BTCUSDT-1h-2024-01-02.zip",
            "BTC/USDT:USDT",
            "1h",
            DataKind.INDEX,
            "binanceusdm",
        ),
        ("data/spot/monthly/klines/ETHBTC/1d/ETHBTC-1d-2024-01.zip", None, "1d", DataKind.SPOT, "binance"),
        (
            "data/spot/monthly/klines/SOLUSDC/1d/SOLUSDC-1d-2024-01.zip",
            "SOL/USDC",
            "1d",
            DataKind.SPOT,
            "binance",
        ),
        ("BTCUSD_PERP-1m-2024-01.zip", "BTC/USD:BTC", "1m", DataKind.FUTURES, "binancecoinm"),
        ("BTCUSDT-fundingRate-2024-01.zip", "BTC/USDT:USDT", None, DataKind.FUNDING, "binanceusdm"),
        ("BTCUSDT-aggTrades-2024-01.zip", "BTC/USDT:USDT", None, DataKind.TRADES, "binanceusdm"),
        ("BTCUSDT-trades-2024-01-05.zip", "BTC/USDT:USDT", None, DataKind.TRADES, "binanceusdm"),
        ("BTCUSDT-bookTicker-2024-01-05.zip", "BTC/USDT:USDT", None, DataKind.QUOTES, "binanceusdm"),
        ("usdm_btcusdt_20240808.jsonl.gz", "BTC/USDT:USDT", None, None, "binanceusdm"),
        ("binance_spot_btcusdt-trades.parquet", "BTC/USDT", None, None, "binance"),
        ("bybit_linear_xrpusdt-ob500.data.zip", "XRP/USDT:USDT", None, None, "bybit"),
        ("btc-perp-20211231-20220201_1m.csv.gz", "BTC/USD:USD", "1m", None, "ftx"),
        ("newsapi_crypto_2022-12-23.csv.gz", None, None, None, None),
    ],
)
def test_infer_from_name(path, symbol, timeframe, kind, exchange) -> None:
    info = infer_from_name(PurePosixPath(path))
    assert (str(info.symbol) if info.symbol else None) == symbol
    assert info.timeframe == timeframe
    assert info.kind == kind
    assert info.exchange == exchange


def test_ftx_guess_is_flagged() -> None:
    info = infer_from_name(PurePosixPath("btc-perp-20211231-20220201_1m.csv.gz"))
    assert any("not certain" in n for n in info.notes)


def test_zip_member_name_is_used_when_the_outer_name_says_nothing() -> None:
    info = infer_from_name(PurePosixPath("download.zip"), "BTCUSDT-5m-2024-01.csv")
    assert (str(info.symbol), info.timeframe) == ("BTC/USDT:USDT", "5m")


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("BTCUSDT-1m-2024-01.zip", True),
        ("BTCUSDT-1m-2024-01.zip.CHECKSUM", False),
        ("FILUSDT-1m-2023-04.csv.gz", True),
        ("x.FEATHER", True),
        ("x.parquet", True),
        ("x.json.gz", True),
        ("x.jsonl.gz", True),
        ("2024-12-01_XRPUSDT_ob500.data", True),
        ("SOURCES.md", False),
        (".hidden.csv", False),
        ("notes.txt", False),
    ],
)
def test_is_supported(name, ok) -> None:
    assert is_supported(name) is ok
