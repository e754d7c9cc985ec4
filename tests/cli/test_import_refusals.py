"""Malformed inputs: each gives one error line naming the problem, exit code 2, no traceback, and an
unchanged store. The files are built here; nothing comes from ../shared."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autoperp.cli.app import main
from tests.data.frames import T0, candles
from tests.support.tree import tree_digest

HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
    "taker_buy_quote_volume,ignore"
)


def kline_table(n: int = 300, seed: int = 1) -> pd.DataFrame:
    df = candles(n, seed=seed)
    return pd.DataFrame(
        {
            "open_time": df["ts"],
            "open": df["open"].round(4),
            "high": df["high"].round(4) + 0.0001,
            "low": df["low"].round(4) - 0.0001,
            "close": df["close"].round(4),
            "volume": df["volume"].round(3),
            "close_time": df["ts"] + 59_999,
            "quote_volume": (df["volume"] * df["close"]).round(4),
            "count": np.arange(n) + 10,
            "taker_buy_volume": (df["volume"] * 0.4).round(3),
            "taker_buy_quote_volume": (df["volume"] * 0.4 * df["close"]).round(4),
            "ignore": 0,
        }
    )


def csv_text(t: pd.DataFrame, header: bool = True) -> str:
    return t.to_csv(index=False, header=header, float_format="%.6f")


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as ei:
        main(args)
    out, err = capsys.readouterr()
    return int(ei.value.code or 0), out, err


def edit(row: int, col: str, value: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def f(t: pd.DataFrame) -> pd.DataFrame:
        t = t.copy().astype({col: object})
        t.loc[row, col] = value
        return t

    return f


def _dup(t: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([t.iloc[:50], t.iloc[[49]], t.iloc[50:]], ignore_index=True)


def _conflict(t: pd.DataFrame) -> pd.DataFrame:
    extra = t.iloc[[49]].copy()
    extra["volume"] += 1
    return pd.concat([t.iloc[:50], extra, t.iloc[50:]], ignore_index=True)


def _swap(t: pd.DataFrame) -> pd.DataFrame:
    return t.iloc[[*range(30), 31, 30, *range(32, len(t))]].reset_index(drop=True)


def _spike(t: pd.DataFrame) -> pd.DataFrame:
    t = t.copy()
    t.loc[100, ["close", "high"]] = t.loc[100, "close"] * 2
    t.loc[101, ["open", "high"]] = t.loc[100, "close"]
    return t


# (case id, transform of the kline table, text expected in the error line)
KLINE_CASES: list[tuple[str, Callable[[pd.DataFrame], pd.DataFrame], str]] = [
    ("nan_close", edit(10, "close", "nan"), "row 11"),
    ("inf_high", edit(12, "high", "inf"), "row 13"),
    ("text_in_price", edit(5, "high", "abc"), "row 6"),
    ("empty_price", edit(7, "low", ""), "row 8"),
    ("negative_price", edit(9, "low", -1.0), "non_positive_price"),
    ("zero_price", edit(9, "open", 0.0), "non_positive_price"),
    ("high_below_low", edit(14, "low", 10_000.0), "high_below_low"),
    ("open_above_high", lambda t: edit(15, "open", t.loc[15, "high"] + 5)(t), "open_outside_range"),
    ("close_below_low", lambda t: edit(16, "close", t.loc[16, "low"] - 5)(t), "close_outside_range"),
    ("negative_volume", edit(17, "volume", -2.0), "negative_volume"),
    (
        "taker_above_volume",
        lambda t: edit(18, "taker_buy_volume", t.loc[18, "volume"] + 1)(t),
        "taker_buy_exceeds",
    ),
    ("exact_duplicate", _dup, "duplicate_row"),
    ("conflicting_duplicate", _conflict, "duplicate_conflict"),
    ("out_of_order", _swap, "out_of_order"),
    ("gap", lambda t: t.drop(index=range(40, 45)).reset_index(drop=True), "[gap]"),
    ("misaligned", edit(3, "open_time", T0 + 3 * 60_000 + 30_000), "misaligned_timestamp"),
    ("spike", _spike, "price_spike"),
    ("date_in_timestamp", edit(4, "open_time", "2024-01-01"), "row 5"),
]


@pytest.mark.parametrize(("case", "transform", "expect"), KLINE_CASES, ids=[c[0] for c in KLINE_CASES])
def test_bad_kline_rows_refused(
    case: str,
    transform: Callable[[pd.DataFrame], pd.DataFrame],
    expect: str,
    tmp_path: Path,
    user_data: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    good = tmp_path / "ETHUSDT-1m-2023-12.csv"
    good.write_text(
        csv_text(kline_table(seed=9).assign(open_time=lambda d: d["open_time"] - 60_000 * 20_000))
    )
    assert run_cli(["import-data", str(good)], capsys)[0] == 0
    before = tree_digest(user_data)
    bad = tmp_path / "BTCUSDT-1m-2024-01.csv"
    bad.write_text(csv_text(transform(kline_table())))
    code, _out, err = run_cli(["import-data", str(good), str(bad)], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert bad.name in lines[0] and expect in lines[0], lines[0]
    assert tree_digest(user_data) == before


def _write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def _zip(path: Path, members: dict[str, str]) -> Path:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in members.items():
            z.writestr(name, text)
    return _write(path, buf.getvalue())


FILE_CASES: list[tuple[str, Callable[[Path], Path], str]] = [
    ("empty_file", lambda d: _write(d / "BTCUSDT-1m-2024-01.csv", ""), "empty"),
    ("header_only", lambda d: _write(d / "BTCUSDT-1m-2024-01.csv", HEADER + "\n"), "BTCUSDT-1m-2024-01.csv"),
    (
        "missing_column",
        lambda d: _write(d / "BTCUSDT-1m-2024-01.csv", csv_text(kline_table().drop(columns=["close"]))),
        "close",
    ),
    (
        "ragged_row",
        lambda d: _write(d / "BTCUSDT-1m-2024-01.csv", csv_text(kline_table()) + "1704085200000,1,2\n"),
        "BTCUSDT-1m-2024-01.csv",
    ),
    (
        "truncated_gzip",
        lambda d: _write(
            d / "BTCUSDT-1m-2024-01.csv.gz", gzip.compress(csv_text(kline_table()).encode())[:500]
        ),
        "csv.gz",
    ),
    ("zip_without_csv", lambda d: _zip(d / "BTCUSDT-1m-2024-01.zip", {"readme.txt": "hello"}), "zip"),
    ("not_a_zip", lambda d: _write(d / "BTCUSDT-1m-2024-01.zip", b"PK\x03\x04garbage"), "zip"),
    (
        "funding_over_cap",
        lambda d: _write(
            d / "BTCUSDT-fundingRate-2024-01.csv",
            "calc_time,funding_interval_hours,last_funding_rate\n1704067200000,8,0.0001\n1704096000000,8,0.25\n",
        ),
        "funding_rate_cap",
    ),
    (
        "funding_not_a_number",
        lambda d: _write(
            d / "BTCUSDT-fundingRate-2024-01.csv",
            "calc_time,funding_interval_hours,last_funding_rate\n1704067200000,8,0.0001\n1704096000000,8,x\n",
        ),
        "row 2",
    ),
    (
        "freqtrade_json_not_a_list",
        lambda d: _write(d / "BTC_USDT_USDT-1m-futures.json", json.dumps({"a": 1})),
        "json",
    ),
    (
        "freqtrade_json_short_row",
        lambda d: _write(
            d / "BTC_USDT_USDT-1m-futures.json", json.dumps([[T0, 1, 2, 0.5, 1.5, 10], [T0 + 60_000, 1, 2]])
        ),
        "row 2",
    ),
    ("feather_without_date", lambda d: _feather(d / "BTC_USDT_USDT-1m-futures.feather"), "date"),
    ("unknown_format", lambda d: _write(d / "notes.txt", "hello"), "notes.txt"),
    (
        "aggtrades_negative_qty",
        lambda d: _write(
            d / "BTCUSDT-aggTrades-2024-01.csv",
            "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker\n"
            "1,100.0,1.0,1,1,1704067200000,true\n2,100.0,-1.0,2,2,1704067200001,false\n",
        ),
        "negative_volume",
    ),
    (
        "news_empty_title",
        lambda d: _write(
            d / "newsapi_crypto_2024-01-01.csv",
            ",source,author,title,description,url,urlToImage,publishedAt,content\n"
            "0,\"{'id': None, 'name': 'X'}\",a,,d,http://x,,2024-01-01T00:00:00Z,c\n",
        ),
        "row 1",
    ),
]


def _feather(path: Path) -> Path:
    pd.DataFrame({"open": [1.0], "high": [1.0], "low": [1.0], "close": [1.0], "volume": [1.0]}).to_feather(
        path
    )
    return path


@pytest.mark.parametrize(("case", "make", "expect"), FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_bad_files_refused(
    case: str,
    make: Callable[[Path], Path],
    expect: str,
    tmp_path: Path,
    user_data: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = tree_digest(user_data)
    path = make(tmp_path)
    code, _out, err = run_cli(["import-data", str(path)], capsys)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert expect in lines[0], lines[0]
    assert tree_digest(user_data) == before


def test_bad_arguments(tmp_path: Path, user_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = _write(tmp_path / "x.csv", csv_text(kline_table()))
    for args, expect in [
        (["import-data", str(tmp_path / "missing.csv")], "no such file"),
        (["import-data", str(f), "--pair", "BTCUSDT!"], "cannot read pair"),
        (["import-data", str(f), "--pair", "BTC/USDT:USDT", "--timeframe", "7m"], "unknown timeframe"),
        (["list-data", "--pairs", "nope"], "cannot read pair"),
    ]:
        code, _out, err = run_cli(args, capsys)
        assert code == 2, (args, err)
        assert expect in err and len(err.strip().splitlines()) == 1, err


def test_refusal_through_the_real_console_script(tmp_path: Path, user_data: Path) -> None:
    bad = _write(tmp_path / "BTCUSDT-1m-2024-01.csv", csv_text(edit(14, "low", 10_000.0)(kline_table())))
    proc = subprocess.run(
        [sys.executable, "-m", "autoperp.cli.app", "import-data", str(bad)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "row 15" in proc.stderr and "high_below_low" in proc.stderr
    assert not (user_data / "data").exists()


def test_repair_fixes_what_is_fixable_and_logs_it(
    tmp_path: Path, user_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    messy = _dup(_swap(kline_table()).drop(index=range(60, 63)).reset_index(drop=True))
    f = _write(tmp_path / "BTCUSDT-1m-2024-01.csv", csv_text(messy))
    assert run_cli(["import-data", str(f)], capsys)[0] == 2
    code, out, _err = run_cli(["import-data", str(f), "--repair"], capsys)
    assert code == 0
    assert "repaired" in out
    logs = list(user_data.rglob("repair-log.jsonl"))
    assert len(logs) == 1
    entry = json.loads(logs[0].read_text().splitlines()[0])
    assert {a["rule"] for a in entry["actions"]} == {"duplicate_row", "out_of_order", "gap"}
    assert entry["rows_in"] == len(messy) and entry["rows_out"] == len(messy) - 1
    code, out, _ = run_cli(["list-data", "--json"], capsys)
    listed = json.loads(out)
    assert listed[0]["rows"] == 297 and listed[0]["holes"] == 1
    # unfixable problems still refuse under --repair
    bad = _write(tmp_path / "BTCUSDT-1m-2024-02.csv", csv_text(edit(14, "low", 10_000.0)(kline_table())))
    assert run_cli(["import-data", str(bad), "--repair"], capsys)[0] == 2
