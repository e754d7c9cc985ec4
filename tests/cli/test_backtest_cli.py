"""`autoperp backtesting`: from the store, from --datafile, with a user strategy file, several pairs;
the report is printed and written (HTML + JSON), the run lands in the ledger; bad input is one line and
exit code 2. One test runs SMA trend on the real FILUSDT 1m months."""

from __future__ import annotations

import base64
import calendar
import json
import re
from pathlib import Path

import numpy as np
import pytest

from autoperp.metrics.ledger import TrialLedger
from tests.backtest.synthetic_inputs import BTC, ETH, fill_store, synthetic, write_files
from tests.cli.backtest_support import run_cli

N = 3_000  # 2024-01-01 00:00 → 2024-01-03 02:00, 1m


@pytest.fixture(scope="module")
def market() -> dict:
    return synthetic([BTC, ETH], N, seed=9)


@pytest.fixture
def stored(user_data: Path, market: dict) -> Path:
    fill_store(user_data / "data", market)
    return user_data


def written(out: str, kind: str) -> Path:
    m = re.search(rf"^{kind} report: (.+)$", out, re.MULTILINE)
    assert m, out
    return Path(m.group(1).strip())


def test_backtest_from_the_store_two_pairs(stored: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run_cli(
        ["backtesting", "--strategy", "sma_trend", "--pairs", "BTC/USDT:USDT", "ETH/USDT:USDT",
         "--timeframe", "1m", "--timerange", "20240101-20240103", "--leverage", "2", "--fee", "0.0004",
         "--margin-mode", "isolated", "--initial-cash", "5000", "--param", "fast=10", "slow=60"],
        capsys,
    )  # fmt: skip
    assert rc == 0, err
    assert "BACKTESTING REPORT" in out and "BTC/USDT:USDT" in out and "ETH/USDT:USDT" in out
    html, js = written(out, "html"), written(out, "json")
    assert html.parent == js.parent and html.parent.parent == stored / "backtest_results"
    assert html.is_file() and html.stat().st_size > 100_000
    report = json.loads(js.read_text())
    assert report["run"]["strategy"] == "sma_trend" and report["run"]["trial_id"] == "T000001"
    assert [p["symbol"] for p in report["run"]["pairs"]] == ["BTC/USDT:USDT", "ETH/USDT:USDT"]
    assert [p["allocation"] for p in report["run"]["pairs"]] == [0.5, 0.5]
    assert "trial T000001 recorded" in out
    rec = TrialLedger.in_user_data(stored).get("T000001")
    assert (
        rec.family == "sma_trend"
        and rec.config["params"]["fast"] == 10
        and rec.config["params"]["slow"] == 60
    )
    sim = rec.config["sim"]
    assert (sim["leverage"], sim["taker_fee"], sim["margin_mode"], sim["initial_cash"]) == (
        2,
        0.0004,
        "isolated",
        5000,
    )
    assert rec.data_range.end_ms - rec.data_range.start_ms == 2 * 86_400_000  # the timerange's two days


def test_user_strategy_file(stored: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "mine.py"
    path.write_text(
        "import math\n\n\nclass Dip:\n    lookback = 10\n    depth = 0.001\n\n"
        "    def decide(self, window):\n        c = window.close\n        if len(c) < self.lookback:\n"
        "            return math.nan\n        return 1.0 if c[-1] < c[-self.lookback] * (1 - self.depth) else 0.0\n"
    )
    rc, out, err = run_cli(
        [
            "backtesting",
            "--strategy-path",
            str(path),
            "--pairs",
            "BTC/USDT:USDT",
            "--param",
            "depth=0.002",
            "--no-html",
        ],
        capsys,
    )
    assert rc == 0, err
    assert "Dip" in out
    assert written(out, "json").is_file() and "html report" not in out
    rec = TrialLedger.in_user_data(stored).get("T000001")
    assert rec.family == "Dip" and rec.config["params"] == {"depth": 0.002}


def test_datafile_without_import(
    user_data: Path, market: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = write_files(tmp_path, market[BTC], parts=2)
    export = tmp_path / "out"
    rc, out, err = run_cli(
        ["backtesting", "--strategy", "funding_carry", "--datafile", *map(str, files["candles"]),
         "--datafile-mark", str(files["mark"][0]), "--datafile-funding", str(files["funding"][0]),
         "--param", "threshold=0", "--export-dir", str(export)],
        capsys,
    )  # fmt: skip
    assert rc == 0, err
    assert written(out, "html").parent == export and written(out, "json").parent == export
    report = json.loads(written(out, "json").read_text())
    assert report["run"]["data_sources"] == [
        str(p) for p in files["candles"] + files["mark"] + files["funding"]
    ]
    assert not (user_data / "data").exists()  # nothing was imported


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (
            ["--strategy", "ema_cross", "--pairs", "BTC/USDT:USDT"],
            "unknown strategy 'ema_cross': built-in strategies are buy_and_hold, funding_carry, sma_trend",
        ),
        (["--pairs", "BTC/USDT:USDT"], "give --strategy NAME"),
        (
            ["--strategy", "sma_trend", "--pairs", "SOL/USDT:USDT"],
            "no futures candles of SOL/USDT:USDT on binanceusdm",
        ),
        (
            ["--strategy", "sma_trend", "--pairs", "BTC/USDT:USDT", "--timerange", "20240201-20240101"],
            "empty timerange",
        ),
        (
            ["--strategy", "sma_trend", "--pairs", "BTC/USDT:USDT", "--timerange", "20250101-20250201"],
            "no 1m bars of BTC/USDT:USDT in [2025-01-01 00:00:00, 2025-02-01 00:00:00)",
        ),
        (["--strategy", "sma_trend"], "give --pairs"),
        (["--strategy", "sma_trend", "--pairs", "BTCUSDT"], "cannot read pair 'BTCUSDT'"),
        (
            ["--strategy", "sma_trend", "--pairs", "BTC/USDT:USDT", "--leverage", "500"],
            "--leverage 500.0: Input should be less than or equal to 125",
        ),
        (["--strategy", "sma_trend", "--pairs", "BTC/USDT:USDT", "--fee", "-0.1"], "--fee -0.1"),
        (
            ["--strategy", "sma_trend", "--pairs", "BTC/USDT:USDT", "--timeframe", "7m"],
            "unknown timeframe '7m'",
        ),
        (
            ["--strategy", "sma_trend", "--pairs", "BTC/USDT:USDT", "--param", "fast"],
            "--param 'fast': use KEY=VALUE",
        ),
        (
            ["--strategy", "sma_trend", "--pairs", "BTC/USDT:USDT", "--param", "fast=500"],
            "sma_trend: parameter slow=100 must be longer than fast=500",
        ),
        (
            ["--strategy", "sma_trend", "--datafile", "/nonexistent/BTCUSDT-1m-2024-01.csv"],
            "/nonexistent/BTCUSDT-1m-2024-01.csv: data file not found",
        ),
        (
            ["--strategy", "sma_trend", "--pairs", "BTC/USDT:USDT", "--brackets", "/nonexistent/b.json"],
            "/nonexistent/b.json: bracket file not found",
        ),
        (
            ["--strategy", "sma_trend", "--pairs", "BTC/USDT:USDT", "--margin-mode", "portfolio"],
            "'portfolio' is not one of",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    stored: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    rc, out, err = run_cli(["backtesting", *args], capsys)
    assert rc == 2
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert needle in err
    assert "Traceback" not in err and out == ""
    assert not (stored / "backtest_results").exists()


def test_bad_strategy_file(stored: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.py"
    path.write_text("class X:\n    def decide(self, window)\n        return 1\n")
    rc, _, err = run_cli(["backtesting", "--strategy-path", str(path), "--pairs", "BTC/USDT:USDT"], capsys)
    assert rc == 2 and err == f"error: {path}: line 2: syntax error: expected ':'\n"
    rc, _, err = run_cli(
        ["backtesting", "--strategy-path", str(tmp_path / "absent.py"), "--pairs", "BTC/USDT:USDT"], capsys
    )
    assert rc == 2 and err == f"error: {tmp_path / 'absent.py'}: strategy file not found\n"


# ------------------------------------------------------------------------------------------------ real data
def _figure_data(html: str, div_id: str) -> list[dict]:
    """The trace list passed to Plotly.newPlot for ``div_id``, parsed as JSON (what the browser renders)."""
    m = re.search(r'Plotly\.newPlot\(\s*"' + re.escape(div_id) + r'",\s*', html)
    assert m, f"no Plotly.newPlot for {div_id}"
    traces, _ = json.JSONDecoder().raw_decode(html, m.end())
    return traces


def _values(v: list | dict) -> np.ndarray:
    """A trace's x or y: a JSON list, or plotly's base64 typed array ``{"dtype": "f8", "bdata": ...}``."""
    if isinstance(v, dict):
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
    return np.asarray(v)


@pytest.mark.real_data
def test_sma_trend_on_real_filusdt_months(
    real_dir: Path, user_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = sorted((real_dir / "binance_um_1m_monthly_isda").glob("FILUSDT-1m-2023-*.csv.gz"))
    if len(files) < 2:
        pytest.skip(f"FILUSDT 1m monthly files not found under {real_dir}")
    rc, out, err = run_cli(
        ["backtesting", "--strategy", "sma_trend", "--pairs", "FIL/USDT:USDT", "--timeframe", "1m",
         "--datafile", *map(str, files)],
        capsys,
    )  # fmt: skip
    assert rc == 0, err
    assert "FIL/USDT:USDT" in out and "SUMMARY METRICS" in out
    html_path = written(out, "html")
    html = html_path.read_text()
    assert "Plotly.newPlot" in html and "plotly.js" in html.lower()  # the library is inlined: renders offline
    equity = _figure_data(html, "fig-equity")[0]
    x, y = _values(equity["x"]), _values(equity["y"])
    assert len(x) == len(y) > 100
    assert np.isfinite(y.astype(float)).all() and y[0] == pytest.approx(10_000, rel=0.01)
    assert _figure_data(html, "fig-position") and _figure_data(html, "fig-price-0")
    report = json.loads(written(out, "json").read_text())
    bars = report["portfolio"]["bars"]
    # every 1m bar of every month file (the months are complete; July 2023 is missing from the source)
    assert bars == sum(calendar.monthrange(2023, int(f.name[16:18]))[1] * 1_440 for f in files)
    assert report["portfolio"]["trades"] > 100
