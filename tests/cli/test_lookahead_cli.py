"""`autoperp lookahead-analysis`: exit 1 with a table of biased values for a leaking strategy file, exit 0
for the built-ins, exit 2 for bad input (and for a data file inside the vault)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.backtest.synthetic_inputs import BTC, synthetic, write_files
from tests.cli.backtest_support import btc_files, data_args, run_cli

BIASED = """
import numpy as np
import pandas as pd
from autoperp.backtest.strategy import Strategy


class CentredTrend(Strategy):
    name = "centred_trend"
    lookback = 31
    window: int = 31

    def decide(self, window):
        c = window.close
        return float(np.sign(c[-1] - c[-self.window:].mean())) if len(c) >= self.window else float("nan")

    def targets(self, data):
        mean = pd.Series(data.close).rolling(self.window, center=True).mean().to_numpy()
        return np.sign(data.close - mean)
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    return btc_files(tmp_path_factory.mktemp("lookahead-data"), 2_000, seed=4)


def test_biased_strategy_file_exits_1_with_the_values(
    files: dict[str, list[Path]], tmp_path: Path, user_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "centred.py"
    path.write_text(BIASED)
    export = tmp_path / "la.json"
    rc, out, _ = run_cli(
        ["lookahead-analysis", "--strategy-path", str(path), *data_args(files), "--points", "55",
         "--export", str(export)],
        capsys,
    )  # fmt: skip
    assert rc == 1
    assert "55 truncation points" in out
    assert "Lookahead bias: centred_trend" in out and "Biased values" in out
    assert "lookahead bias" in out and "value(s) changed" in out
    rows = [ln for ln in out.splitlines() if ln.strip().startswith("targets")]
    assert rows, out
    doc = json.loads(export.read_text())
    assert doc[0]["biased"] is True and len(doc[0]["points"]) == 55
    assert (
        doc[0]["findings"][0]["truncated"] is None
    )  # NaN on the cut history: the centred mean has no future


@pytest.mark.parametrize("name", ["sma_trend", "buy_and_hold", "funding_carry"])
def test_builtin_strategies_exit_0(
    name: str, files: dict[str, list[Path]], user_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, err = run_cli(["lookahead-analysis", "--strategy", name, *data_args(files)], capsys)
    assert rc == 0, err
    assert "no lookahead bias" in out and "50 truncation points" in out


def test_parameters_reach_the_strategy(
    files: dict[str, list[Path]], user_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, _ = run_cli(
        ["lookahead-analysis", "--strategy", "sma_trend", "--param", "fast=5", "--param", "slow=600",
         *data_args(files), "--points", "50"],
        capsys,
    )  # fmt: skip
    assert rc == 0
    assert "lookback 600" in out


def test_bad_input_exits_2(
    files: dict[str, list[Path]], user_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, _, err = run_cli(["lookahead-analysis", "--strategy", "nope", *data_args(files)], capsys)
    assert rc == 2 and "unknown strategy 'nope'" in err
    rc, _, err = run_cli(
        ["lookahead-analysis", "--strategy", "sma_trend", *data_args(files), "--points", "5000"], capsys
    )
    assert rc == 2 and "need at least 5000" in err
    rc, _, err = run_cli(
        ["lookahead-analysis", "--strategy", "sma_trend", "--datafile", "/no/such.csv"], capsys
    )
    assert rc == 2 and "not found" in err


def test_unknown_model_is_one_line_exit_2(user_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run_cli(["lookahead-analysis", "--model", "M1", "--userdir", str(user_data)], capsys)
    assert rc == 2 and "no such model directory" in err and "Traceback" not in err


def test_model_and_strategy_together_are_refused(user_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run_cli(["lookahead-analysis", "--model", "M1", "--strategy", "sma_trend"], capsys)
    assert rc == 2 and "--model replaces --strategy" in err


def test_a_file_inside_the_vault_is_refused(
    tmp_path: Path, user_data: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shared = tmp_path / "shared"
    vault = shared / "data" / "vault"
    vault.mkdir(parents=True)
    made = write_files(vault, synthetic([BTC], 300, seed=1)[BTC])
    monkeypatch.setenv("AUTOPERP_SHARED", str(shared))
    rc, _, err = run_cli(
        ["lookahead-analysis", "--strategy", "sma_trend", "--datafile", str(made["candles"][0])], capsys
    )
    assert rc == 2
    assert "inside the vault" in err
