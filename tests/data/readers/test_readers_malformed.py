"""Malformed input: every problem is a FormatError a user can act on, naming row and column when known."""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from autoperp.core.errors import FormatError, UsageError
from autoperp.core.types import DataKind
from autoperp.data.readers import read_file

HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
    "taker_buy_quote_volume,ignore\n"
)
ROW1 = "1704067200000,1.0,2.0,0.5,1.5,10,1704067259999,15,3,5,7.5,0\n"
ROW2 = "1704067260000,1.5,2.5,1.0,2.0,11,1704067319999,16,4,6,8.5,0\n"
NAME = "BTCUSDT-1m-2024-01.csv"


def _raises(path: Path, match: str, **hints: object) -> FormatError:
    with pytest.raises(FormatError, match=match) as err:
        read_file(path, **hints)  # type: ignore[arg-type]
    assert str(path) in str(err.value)
    return err.value


def test_empty_file(write) -> None:
    _raises(write(NAME, ""), "empty")


def test_gzip_of_nothing(write) -> None:
    _raises(write(NAME + ".gz", "", compress="gz"), "empty")


def test_whitespace_only_file(write) -> None:
    _raises(write(NAME, "\n\n  \n"), "empty")


def test_header_without_rows(write) -> None:
    _raises(write(NAME, HEADER), "no data rows")


def test_truncated_gzip(write) -> None:
    whole = gzip.compress((HEADER + ROW1 * 2000).encode())
    _raises(write(NAME + ".gz", whole[: len(whole) // 2]), "truncated")


def test_truncated_zip(write) -> None:
    path = write("BTCUSDT-1m-2024-01.zip", HEADER + ROW1 * 2000, compress="zip", member=NAME)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _raises(path, "truncated or corrupt")


def test_zip_member_with_bad_crc(write) -> None:
    path = write("BTCUSDT-1m-2024-01.zip", HEADER + ROW1 * 200, compress="zip", member=NAME)
    data = bytearray(path.read_bytes())
    data[60] ^= 0xFF  # inside the deflated payload
    path.write_bytes(bytes(data))
    _raises(path, "corrupt")


def test_zip_without_csv(tmp_path) -> None:
    path = tmp_path / "BTCUSDT-1m-2024-01.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("README.md", "nothing here")
    err = _raises(path, "no CSV")
    assert "README.md" in str(err)


def test_non_numeric_value_names_row_and_column(write) -> None:
    err = _raises(write(NAME, HEADER + ROW1 + ROW2.replace("2.5", "abc", 1)), "not a number")
    assert (err.row, err.field) == (2, "high")


def test_non_numeric_value_without_header(write) -> None:
    err = _raises(write(NAME, ROW1 + ROW1 + ROW2.replace(",11,", ",1O,", 1)), "not a number")
    assert (err.row, err.field) == (3, "volume")


def test_short_row_is_named(write) -> None:
    err = _raises(write(NAME, HEADER + ROW1 + "1704067260000,1.5,2.5\n" + ROW2), "expected 12")
    assert err.row == 2


def test_empty_timestamp_is_named(write) -> None:
    err = _raises(write(NAME, HEADER + ROW1 + "," + ROW2.split(",", 1)[1]), "empty value")
    assert (err.row, err.field) == (2, "open_time")


def test_fractional_trade_count(write) -> None:
    err = _raises(write(NAME, HEADER + ROW1.replace(",3,", ",3.5,")), "whole number")
    assert err.field == "count"


def test_unexpected_kline_header(write) -> None:
    _raises(write(NAME, HEADER.replace("quote_volume", "quote_vol") + ROW1), "unexpected kline header")


def test_unknown_csv_header(write) -> None:
    _raises(write("stuff.csv", "a,b,c\n1,2,3\n"), "unknown CSV layout")


def test_unknown_headerless_csv(write) -> None:
    _raises(write("stuff.csv", "1,2,3,4\n"), "unknown headerless CSV")


def test_funding_rate_not_a_number(write) -> None:
    content = (
        "calc_time,funding_interval_hours,last_funding_rate\n1704067200000,8,0.0001\n1704096000000,8,n/a?\n"
    )
    err = _raises(write("BTCUSDT-fundingRate-2024-01.csv", content), "not a number")
    assert (err.row, err.field) == (2, "last_funding_rate")


def test_agg_trades_bad_boolean(write) -> None:
    content = "1,100.0,1.0,1,1,1704067200000,true\n2,100.0,1.0,2,2,1704067200001,maybe\n"
    err = _raises(write("BTCUSDT-aggTrades-2024-01.csv", content), "true/false")
    assert (err.row, err.field) == (2, "is_buyer_maker")


def test_wrong_kind_hint(write) -> None:
    _raises(write(NAME, HEADER + ROW1), "not 'funding_rate'", kind=DataKind.FUNDING)


def test_unknown_kind_string_is_a_usage_error(write) -> None:
    with pytest.raises(UsageError, match="unknown kind"):
        read_file(write(NAME, HEADER + ROW1), kind="bogus")  # type: ignore[arg-type]


def test_missing_file_and_directory(tmp_path) -> None:
    _raises(tmp_path / "nope.csv", "no such file")
    _raises(tmp_path, "is a directory")


def test_truncated_feather(tmp_path) -> None:
    path = tmp_path / "BTC_USDT_USDT-1h-futures.feather"
    df = pd.DataFrame(
        {
            "date": pd.to_datetime([0, 1], unit="h", utc=True),
            "open": 1.0,
            "high": 1.0,
            "low": 1.0,
            "close": 1.0,
            "volume": 1.0,
        }
    )
    df.to_feather(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _raises(path, "not a readable feather")


def test_feather_missing_column(tmp_path) -> None:
    path = tmp_path / "BTC_USDT_USDT-1h-futures.feather"
    pd.DataFrame({"date": pd.to_datetime([0], unit="h", utc=True), "open": [1.0], "high": [1.0]}).to_feather(
        path
    )
    _raises(path, "unknown feather layout")
    pd.DataFrame(
        {
            "date": pd.to_datetime([0], unit="h", utc=True),
            "open": [1.0],
            "high": [1.0],
            "low": [1.0],
            "close": ["x"],
            "volume": [1.0],
        }
    ).to_feather(path)
    err = _raises(path, "not a number")
    assert (err.row, err.field) == (1, "close")


def test_freqtrade_json_truncated_and_bad_rows(write) -> None:
    rows = [[1704067200000, 1.0, 2.0, 0.5, 1.5, 10.0]] * 3
    text = json.dumps(rows)
    _raises(write("BTC_USDT-1h.json", text[:-5]), "not valid JSON")
    bad = [*rows, [1704067200000, 1.0, 2.0]]
    err = _raises(write("BTC_USDT-1h.json", json.dumps(bad)), "6 fields")
    assert err.row == 4
    worse = [*rows, [1704067200000, 1.0, "high", 0.5, 1.5, 10.0]]
    err = _raises(write("BTC_USDT-1h.json", json.dumps(worse)), "not a number")
    assert (err.row, err.field) == (4, "high")


def test_ws_capture_bad_lines(write) -> None:
    good = '1723161255088169167 {"stream":"btcusdt@trade","data":{"e":"trade","E":1,"T":1723161256322,"s":"BTCUSDT","t":5,"p":"1.0","q":"0.1","m":false}}'
    err = _raises(
        write("usdm_btcusdt_20240808.jsonl", good + "\n" + good.split(" ", 1)[1] + "\n"), "local receive ns"
    )
    assert err.row == 2
    err = _raises(write("usdm_btcusdt_20240808.jsonl", good + "\n" + good[:-10] + "\n"), "JSON")
    assert err.row == 2
    err = _raises(write("usdm_btcusdt_20240808.jsonl", good + "\n\n" + good + "\n"), "empty line")
    assert err.row == 2
    no_price = good.replace('"p":"1.0",', "")
    err = _raises(
        write("usdm_btcusdt_20240808.jsonl", good + "\n" + no_price + "\n"),
        "without 'p'",
        kind=DataKind.TRADES,
    )
    assert (err.row, err.field) == (2, "p")


def test_bybit_not_json(write) -> None:
    line = '{"topic":"orderbook.500.XRPUSDT","type":"snapshot","ts":1,"data":{"s":"XRPUSDT","b":[],"a":[],"u":1,"seq":1},"cts":1}'
    err = _raises(write("bybit_linear_xrpusdt-ob500.data", line + "\n" + line[:40] + "\n"), "JSON")
    assert err.row == 2


def test_news_bad_date(write) -> None:
    buf = io.StringIO()
    pd.DataFrame(
        {
            "source": ["{'id': None, 'name': 'A'}", "{'id': None, 'name': \"B's\"}"],
            "author": ["x", None],
            "title": ["t1", "t2"],
            "description": ["d", "d"],
            "url": ["u", "u"],
            "urlToImage": ["", ""],
            "publishedAt": ["2022-12-23T13:26:36Z", "yesterday"],
            "content": ["c", "c"],
        }
    ).to_csv(buf)
    err = _raises(write("news.csv", buf.getvalue()), "cannot read timestamp")
    assert (err.row, err.field) == (2, "publishedAt")


def test_ohlcv_bad_timestamp(write) -> None:
    content = "timestamp,open,high,low,close,volume\n2021-12-31 23:01:00,1,2,0.5,1.5,10\nnot-a-date,1,2,0.5,1.5,10\n"
    err = _raises(write("btc-perp-2022_1m.csv", content), "cannot read timestamp")
    assert (err.row, err.field) == (2, "timestamp")
