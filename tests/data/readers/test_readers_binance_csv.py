"""Binance archive CSVs built in tmp_path: klines (header or not, ms or µs, plain/gz/zip), price-index
klines, fundingRate, aggTrades, trades, bookTicker."""

from __future__ import annotations

import numpy as np
import pytest

from autoperp.core.errors import FormatError
from autoperp.core.symbols import Symbol
from autoperp.core.types import DataKind
from autoperp.data.readers import read_file, read_files
from autoperp.data.schema import EVENTS

KLINE_HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
    "taker_buy_quote_volume,ignore\n"
)
KLINE_ROWS = (
    "1704067200000,42283.58,42554.57,42261.02,42475.23,1271.68108,1704067259999,53957248.9,47134,682.57,28957.1,0\n"
    "1704067260000,42475.23,42475.23,42431.00,42450.00,100.5,1704067319999,4266321.5,3000,50.25,2133160.7,0\n"
    "1704067320000,42450.00,42460.00,42400.10,42410.10,80.0,1704067379999,3392808.0,2500,40.0,1696404.0,0\n"
)
KLINE_ROWS_US = KLINE_ROWS.replace("1704067200000,", "1704067200000000,").replace(
    "1704067260000,", "1704067260000000,"
)


@pytest.mark.parametrize("compress", [None, "gz", "zip"])
@pytest.mark.parametrize("header", [True, False])
def test_klines_plain_gz_zip_with_or_without_header(write, check_frame, compress, header) -> None:
    name = {
        None: "BTCUSDT-1m-2024-01.csv",
        "gz": "BTCUSDT-1m-2024-01.csv.gz",
        "zip": "BTCUSDT-1m-2024-01.zip",
    }
    content = (KLINE_HEADER if header else "") + KLINE_ROWS
    path = write(name[compress], content, compress=compress, member="BTCUSDT-1m-2024-01.csv")
    (frame,) = read_file(path)
    check_frame(frame)
    assert frame.kind is DataKind.FUTURES
    assert frame.symbol == Symbol.parse("BTC/USDT:USDT")
    assert frame.timeframe == "1m"
    assert frame.exchange == "binanceusdm"
    assert frame.frame["ts"].tolist() == [1704067200000, 1704067260000, 1704067320000]
    assert frame.frame["trades"].tolist() == [47134, 3000, 2500]
    assert frame.frame["close"].iloc[0] == 42475.23
    assert frame.row_offset == 1 and frame.source == str(path)


def test_klines_microsecond_open_time_per_element(write) -> None:
    (frame,) = read_file(write("ETHUSDT-1m-2025-01.csv", KLINE_ROWS_US))
    assert frame.frame["ts"].tolist() == [1704067200000, 1704067260000, 1704067320000]


def test_klines_rows_kept_as_in_file(write) -> None:
    rows = KLINE_ROWS.splitlines(keepends=True)
    shuffled = rows[2] + rows[0] + rows[0] + rows[1]  # out of order and a duplicate
    (frame,) = read_file(write("BTCUSDT-1m-2024-01.csv", KLINE_HEADER + shuffled))
    assert frame.frame["ts"].tolist() == [1704067320000, 1704067200000, 1704067200000, 1704067260000]


@pytest.mark.parametrize(
    ("folder", "kind"),
    [
        ("markPriceKlines", DataKind.MARK),
        ("indexPriceKlines", DataKind.INDEX),
        ("premiumIndexKlines", DataKind.PREMIUM),
    ],
)
def test_price_index_klines_by_folder(write, check_frame, folder, kind) -> None:
    path = write(f"futures/um/monthly/{folder}/BTCUSDT/1h/BTCUSDT-1h-2024-01.csv", KLINE_HEADER + KLINE_ROWS)
    (frame,) = read_file(path)
    check_frame(frame)
    assert frame.kind is kind and frame.timeframe == "1h"
    assert list(frame.frame.columns) == ["ts", "open", "high", "low", "close"]
    assert any("volume" in n for n in frame.notes)


def test_spot_folder_gives_spot_symbol(write) -> None:
    (frame,) = read_file(write("spot/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01.csv", KLINE_ROWS))
    assert (
        frame.kind is DataKind.SPOT
        and frame.symbol == Symbol.parse("BTC/USDT")
        and frame.exchange == "binance"
    )


def test_hints_override_the_name(write) -> None:
    path = write("BTCUSDT-1m-2024-01.csv", KLINE_ROWS)
    (frame,) = read_file(
        path, kind=DataKind.MARK, symbol=Symbol.parse("ETH/USDT:USDT"), timeframe="5m", exchange="test"
    )
    assert (frame.kind, str(frame.symbol), frame.timeframe, frame.exchange) == (
        DataKind.MARK,
        "ETH/USDT:USDT",
        "5m",
        "test",
    )


def test_unnamed_kline_file_needs_hints(write) -> None:
    path = write("data.csv", KLINE_ROWS)
    with pytest.raises(FormatError, match="symbol="):
        read_file(path)
    with pytest.raises(FormatError, match="timeframe="):
        read_file(path, symbol=Symbol.parse("BTC/USDT:USDT"))
    (frame,) = read_file(path, symbol=Symbol.parse("BTC/USDT:USDT"), timeframe="1m")
    assert len(frame) == 3


def test_read_files_in_threads(write) -> None:
    paths = [write(f"BTCUSDT-1m-2024-0{i}.csv.gz", KLINE_ROWS, compress="gz") for i in range(1, 5)]
    results = read_files(paths, max_workers=2)
    assert [r[0].source for r in results] == [str(p) for p in paths]


FUNDING = "calc_time,funding_interval_hours,last_funding_rate\n1704067200000,8,0.00010000\n1704096000000,8,-0.00003750\n"


@pytest.mark.parametrize("compress", [None, "zip"])
def test_funding_rate_csv(write, check_frame, compress) -> None:
    name = "BTCUSDT-fundingRate-2024-01" + (".zip" if compress else ".csv")
    (frame,) = read_file(write(name, FUNDING, compress=compress, member="BTCUSDT-fundingRate-2024-01.csv"))
    check_frame(frame)
    assert frame.kind is DataKind.FUNDING and frame.timeframe == EVENTS
    assert frame.frame["rate"].tolist() == [0.0001, -0.0000375]
    assert frame.frame["interval_h"].tolist() == [8.0, 8.0]
    assert frame.frame["ts"].tolist() == [1704067200000, 1704096000000]


AGG_HEADER = "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker\n"
AGG_ROWS = "26129,0.01633102,4.70443515,27781,27781,1498793709153,true\n26130,0.01633103,1.0,27782,27783,1498793709154,false\n"


@pytest.mark.parametrize("header", [True, False])
def test_agg_trades_csv(write, check_frame, header) -> None:
    content = (AGG_HEADER if header else "") + AGG_ROWS
    path = write(
        "BTCUSDT-aggTrades-2024-01.zip", content, compress="zip", member="BTCUSDT-aggTrades-2024-01.csv"
    )
    (frame,) = read_file(path)
    check_frame(frame)
    assert frame.kind is DataKind.TRADES
    df = frame.frame
    assert df["is_buyer_maker"].tolist() == [True, False]
    assert df["id"].tolist() == [26129, 26130] and df["last_id"].tolist() == [27781, 27783]
    assert df["qty"].iloc[0] == 4.70443515


def test_spot_agg_trades_with_best_match_and_microseconds(write) -> None:
    rows = "1,100.5,0.1,10,10,1735689600123456,True,True\n2,100.6,0.2,11,12,1735689600223456,False,True\n"
    (frame,) = read_file(write("spot/daily/aggTrades/BTCUSDT/BTCUSDT-aggTrades-2025-01-01.csv", rows))
    assert frame.symbol == Symbol.parse("BTC/USDT")
    assert frame.frame["ts"].tolist() == [1735689600123, 1735689600223]


def test_trades_csv(write, check_frame) -> None:
    content = "id,price,qty,quote_qty,time,is_buyer_maker\n1,42000.1,0.5,21000.05,1704067200001,true\n2,42000.2,0.1,4200.02,1704067200002,false\n"
    (frame,) = read_file(write("BTCUSDT-trades-2024-01.csv", content))
    check_frame(frame)
    assert frame.frame["id"].tolist() == [1, 2]
    assert "first_id" not in frame.frame.columns


def test_book_ticker_csv(write, check_frame) -> None:
    content = (
        "update_id,best_bid_price,best_bid_qty,best_ask_price,best_ask_qty,transaction_time,event_time\n"
        "100,42000.0,1.5,42000.1,2.5,1704067200001,1704067200003\n"
    )
    (frame,) = read_file(write("BTCUSDT-bookTicker-2024-01-01.csv", content))
    check_frame(frame)
    assert frame.kind is DataKind.QUOTES
    assert frame.frame.iloc[0].to_dict() == {
        "ts": 1704067200001,
        "bid": 42000.0,
        "bid_qty": 1.5,
        "ask": 42000.1,
        "ask_qty": 2.5,
    }


def test_nan_values_pass_through_for_validation(write) -> None:
    rows = KLINE_ROWS.replace("42554.57", "", 1)
    (frame,) = read_file(write("BTCUSDT-1m-2024-01.csv", rows))
    assert np.isnan(frame.frame["high"].iloc[0])


def test_bom_and_crlf_line_endings(write) -> None:
    content = "\ufeff" + (KLINE_HEADER + KLINE_ROWS).replace("\n", "\r\n")
    (frame,) = read_file(write("BTCUSDT-1m-2024-01.csv", content))
    assert len(frame) == 3 and frame.frame["ts"].iloc[0] == 1704067200000


def test_blank_lines_are_not_rows(write) -> None:
    rows = KLINE_ROWS.splitlines(keepends=True)
    (frame,) = read_file(write("BTCUSDT-1m-2024-01.csv", KLINE_HEADER + rows[0] + "\n" + rows[1]))
    assert len(frame) == 2
    bad = KLINE_HEADER + rows[0] + "\n" + rows[1].replace("42475.23,", "x,", 1)
    with pytest.raises(FormatError, match="not a number") as err:
        read_file(write("BTCUSDT-1m-2024-01.csv", bad))
    assert (err.value.row, err.value.field) == (2, "open")


def test_zip_with_several_csv_members(tmp_path) -> None:
    import zipfile

    path = tmp_path / "bundle.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("BTCUSDT-1m-2024-01.csv", KLINE_ROWS)
        zf.writestr("ETHUSDT-1m-2024-01.csv", KLINE_HEADER + KLINE_ROWS)
        zf.writestr("BTCUSDT-1m-2024-01.csv.CHECKSUM", "abc")
    frames = read_file(path)
    assert [str(f.symbol) for f in frames] == ["BTC/USDT:USDT", "ETH/USDT:USDT"]
    assert frames[0].source == f"{path}::BTCUSDT-1m-2024-01.csv"


def test_stored_zip_member(tmp_path) -> None:
    import zipfile

    path = tmp_path / "BTCUSDT-1m-2024-01.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("BTCUSDT-1m-2024-01.csv", KLINE_ROWS)
    (frame,) = read_file(path)
    assert len(frame) == 3
