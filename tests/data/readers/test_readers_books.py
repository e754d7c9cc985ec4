"""Order-book layouts built in tmp_path: websocket capture, Binance depth rows, Tardis, Bybit."""

from __future__ import annotations

import json

import numpy as np
import pytest

from autoperp.core.errors import FormatError
from autoperp.core.types import DataKind
from autoperp.data.readers import read_file

T = 1723161256000


def _line(ns: int, obj: dict) -> str:
    return f"{ns} {json.dumps(obj, separators=(',', ':'))}"


def _diff(E: int, U: int, u: int, pu: int, bids=(), asks=()) -> str:
    data = {
        "e": "depthUpdate",
        "E": E,
        "T": E - 1,
        "s": "BTCUSDT",
        "U": U,
        "u": u,
        "pu": pu,
        "b": bids,
        "a": asks,
    }
    return _line(E * 1_000_000 - 1_270_000_000, {"stream": "btcusdt@depth@0ms", "data": data})


def _ticker(T_: int, u: int, b: str, a: str) -> str:
    data = {
        "e": "bookTicker",
        "u": u,
        "s": "BTCUSDT",
        "b": b,
        "B": "1.0",
        "a": a,
        "A": "2.0",
        "T": T_,
        "E": T_,
    }
    return _line(T_ * 1_000_000, {"stream": "btcusdt@bookTicker", "data": data})


def _trade(T_: int, t: int, p: str, m: bool) -> str:
    data = {"e": "trade", "E": T_, "T": T_, "s": "BTCUSDT", "t": t, "p": p, "q": "0.5", "X": "MARKET", "m": m}
    return _line(T_ * 1_000_000, {"stream": "btcusdt@trade", "data": data})


def _snapshot(last: int, E: int) -> str:
    obj = {
        "lastUpdateId": last,
        "E": E,
        "T": E,
        "bids": [["100.0", "1.0"], ["99.0", "2.0"], ["98.0", "3.0"]],
        "asks": [["101.0", "1.0"], ["102.0", "2.0"]],
    }
    return _line(E * 1_000_000, obj)


def _capture(*lines: str) -> str:
    return "\n".join(lines) + "\n"


GOOD = _capture(
    _diff(T + 100, 1, 5, 0, bids=[["99.5", "1.0"]]),  # u < lastUpdateId: dropped
    _trade(T + 150, 7, "100.5", False),
    _diff(T + 200, 6, 12, 5, bids=[["100.0", "0"]], asks=[["100.5", "4.0"]]),  # brackets id 10
    _snapshot(10, T + 210),  # the REST snapshot arrives after the diffs
    _ticker(T + 220, 12, "99.0", "100.5"),
    _diff(T + 1200, 13, 15, 12, bids=[["99.8", "5.0"]]),
    _ticker(T + 1210, 15, "99.8", "100.5"),
    _trade(T + 1500, 8, "99.8", True),
    _diff(T + 2100, 16, 20, 15, asks=[["100.5", "0"]]),
)


def test_ws_capture_rebuild(write, check_frame) -> None:
    frames = read_file(write("usdm_btcusdt_20240101.jsonl.gz", GOOD, compress="gz"), depth=2)
    by = {f.kind: f for f in frames}
    for f in frames:
        check_frame(f)
    book = by[DataKind.BOOK].frame
    # grid: first at ceil(T+200) = T+1000 (holds diffs with E <= T+1000), then T+2000 (adds E=T+1200)
    assert sorted(set(book["ts"])) == [T + 1000, T + 2000]
    at_1000 = book[book.ts == T + 1000]
    assert at_1000[at_1000.side == 1]["price"].tolist() == [99.0, 98.0]  # 100.0 deleted by qty 0
    assert at_1000[at_1000.side == -1]["price"].tolist() == [100.5, 101.0]
    at_2000 = book[book.ts == T + 2000]
    assert at_2000[at_2000.side == 1]["price"].tolist() == [99.8, 99.0]
    assert at_2000["level"].tolist() == [0, 1, 0, 1]
    assert by[DataKind.TRADES].frame["is_buyer_maker"].tolist() == [False, True]
    assert by[DataKind.TRADES].frame["ts"].tolist() == [T + 150, T + 1500]
    assert by[DataKind.QUOTES].frame["bid"].tolist() == [99.0, 99.8]


def test_ws_capture_sequence_break_names_the_line(write) -> None:
    broken = GOOD.replace('"U":16,"u":20,"pu":15', '"U":17,"u":20,"pu":16')
    with pytest.raises(FormatError, match="sequence broken") as err:
        read_file(write("usdm_btcusdt_20240101.jsonl", broken))
    assert err.value.row == 9


def test_ws_capture_gap_after_snapshot(write) -> None:
    gap = GOOD.replace('"U":6,"u":12,"pu":5', '"U":11,"u":12,"pu":5')
    with pytest.raises(FormatError, match="beyond the snapshot") as err:
        read_file(write("usdm_btcusdt_20240101.jsonl", gap))
    assert err.value.row == 3


def test_ws_capture_without_snapshot_can_still_give_trades(write) -> None:
    lines = [ln for ln in GOOD.splitlines() if "lastUpdateId" not in ln]
    path = write("usdm_btcusdt_20240101.jsonl", "\n".join(lines))
    with pytest.raises(FormatError, match="kind=trades"):
        read_file(path)
    (trades,) = read_file(path, kind=DataKind.TRADES)
    assert len(trades) == 2


def test_ws_capture_bad_number_names_line_and_field(write) -> None:
    bad = GOOD.replace('"b":"99.8","B"', '"b":"abc","B"')
    with pytest.raises(FormatError, match="not a number") as err:
        read_file(write("usdm_btcusdt_20240101.jsonl", bad))
    assert (err.value.row, err.value.field) == (7, "b")


DEPTH_HEADER = "symbol,timestamp,first_update_id,last_update_id,side,update_type,price,qty,pu\n"


def test_depth_rows_snapshot_then_diffs(write, check_frame) -> None:
    rows = (
        "BTCUSDT,1000,10,10,b,snap,100.0,1.0,-1\n"
        "BTCUSDT,1000,10,10,b,snap,99.0,2.0,-1\n"
        "BTCUSDT,1000,10,10,a,snap,101.0,1.0,-1\n"
        "BTCUSDT,1500,8,9,a,set,101.5,1.0,7\n"  # older than the snapshot: skipped
        "BTCUSDT,2000,9,12,b,set,100.0,0.000,8\n"
        "BTCUSDT,2000,9,12,a,set,100.5,3.0,8\n"
        "BTCUSDT,4000,13,14,b,set,99.5,1.0,12\n"
    )
    (frame,) = read_file(write("binance_um_btcusdt-depth.csv", DEPTH_HEADER + rows))
    check_frame(frame)
    df = frame.frame
    assert sorted(set(df.ts)) == [1000, 2000, 4000]
    last = df[df.ts == 4000]
    assert last[last.side == 1]["price"].tolist() == [99.5, 99.0]
    assert last[last.side == -1]["price"].tolist() == [100.5, 101.0]


def test_depth_rows_chain_break(write) -> None:
    rows = "BTCUSDT,2000,9,12,b,set,100.0,1.0,8\nBTCUSDT,3000,13,14,b,set,99.0,1.0,11\n"
    with pytest.raises(FormatError, match="sequence broken") as err:
        read_file(write("binance_um_btcusdt-depth-update.csv", DEPTH_HEADER + rows))
    assert err.value.row == 2


def test_tardis_wide_to_long(write, check_frame) -> None:
    header = "exchange,symbol,timestamp,local_timestamp," + ",".join(
        f"asks[{i}].price,asks[{i}].amount,bids[{i}].price,bids[{i}].amount" for i in range(2)
    )
    row = "binance-futures,ETHUSDT,1598918403696000,1598918403810979,10.5,1,10.4,2,10.6,3,,\n"
    (frame,) = read_file(write("tardis_book.csv", header + "\n" + row))
    check_frame(frame)
    assert str(frame.symbol) == "ETH/USDT:USDT" and frame.exchange == "binanceusdm"
    df = frame.frame
    assert df["side"].tolist() == [1, 1, -1, -1]
    np.testing.assert_array_equal(df["price"].to_numpy(), [10.4, np.nan, 10.5, 10.6])
    np.testing.assert_array_equal(df["qty"].to_numpy(), [2.0, np.nan, 1.0, 3.0])
    assert df["level"].tolist() == [0, 1, 0, 1]
    assert df["ts"].iloc[0] == 1598918403696


def _bybit(kind: str, ts: int, u: int, b, a) -> str:
    return json.dumps(
        {
            "topic": "orderbook.500.XRPUSDT",
            "type": kind,
            "ts": ts,
            "data": {"s": "XRPUSDT", "b": b, "a": a, "u": u, "seq": u},
            "cts": ts,
        }
    )


def test_bybit_orderbook(write, check_frame) -> None:
    lines = [
        _bybit("snapshot", 1_000_500, 7, [["1.0", "10"], ["0.9", "5"]], [["1.1", "3"]]),
        _bybit("delta", 1_000_900, 8, [["1.0", "0"]], [["1.05", "2"]]),
        _bybit("delta", 1_002_100, 9, [["0.95", "1"]], []),
    ]
    (frame,) = read_file(
        write("bybit_linear_xrpusdt-ob500.data.zip", "\n".join(lines), compress="zip", member="x.data")
    )
    check_frame(frame)
    assert frame.exchange == "bybit"
    df = frame.frame
    assert sorted(set(df.ts)) == [1_001_000, 1_002_000]
    first = df[df.ts == 1_001_000]
    assert first[first.side == 1]["price"].tolist() == [0.9]
    assert first[first.side == -1]["price"].tolist() == [1.05, 1.1]


def test_bybit_gap_in_update_ids(write) -> None:
    lines = [
        _bybit("snapshot", 1_000_500, 7, [["1.0", "10"]], [["1.1", "3"]]),
        _bybit("delta", 1_000_900, 9, [["1.0", "0"]], []),
    ]
    with pytest.raises(FormatError, match="sequence broken") as err:
        read_file(write("bybit_linear_xrpusdt-ob500.data", "\n".join(lines)))
    assert err.value.row == 2
