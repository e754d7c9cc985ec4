"""`evaluate --model ID` and `lookahead-analysis --model ID`: a model trained by `autoperp train` is
evaluated after costs against the baselines, recorded in the ledger under its id, and passes lookahead
analysis (its features and decisions at t do not change when later bars are removed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from autoperp.backtest.market_data import market_data_from_sim
from autoperp.data.synthetic import generate_series
from autoperp.learn.model_store import load_model
from autoperp.learn.model_strategy import ModelStrategy
from autoperp.metrics.ledger import TrialLedger
from autoperp.sim.market import build_market
from tests.cli.backtest_support import btc_files, data_args, run_cli
from tests.cli.test_train_cli import TINY


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    return btc_files(tmp_path_factory.mktemp("model-data"), 2_500, seed=4)


@pytest.fixture
def model_id(tmp_path: Path, user_data: Path, capsys: pytest.CaptureFixture[str]) -> str:
    cfg = tmp_path / "train.toml"
    cfg.write_text(TINY, encoding="utf-8")
    rc, _, err = run_cli(["train", "--config", str(cfg), "--no-progress"], capsys)
    assert rc == 0, err
    (d,) = (user_data / "models").iterdir()
    return d.name


def test_evaluate_model_against_baselines(
    files: dict[str, list[Path]], user_data: Path, model_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, err = run_cli(["evaluate", "--model", model_id, *data_args(files), "--folds", "3"], capsys)
    assert rc == 0, err
    assert "Out of sample, after costs: strategy vs baselines" in out
    assert "│ model" in out and "│ buy_and_hold" in out
    doc = json.loads(next((user_data / "evaluation_results").glob("*.json")).read_text())
    assert len(doc["segments"]) == 3
    kinds = [(r.kind.value, r.model_id) for r in TrialLedger.in_user_data(user_data).records()]
    assert kinds[0][0] == "train" and kinds[-1][0] == "evaluate"


def test_model_passes_lookahead_analysis(
    files: dict[str, list[Path]], model_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, err = run_cli(
        ["lookahead-analysis", "--model", model_id, *data_args(files), "--points", "4"], capsys
    )
    assert rc == 0, out + err
    assert "no lookahead bias" in out.lower() or "ok" in out.lower()


def test_model_targets_are_causal_and_resimulate_identically(user_data: Path, model_id: str) -> None:
    loaded = load_model(user_data, model_id)
    s = generate_series(1_500, seed=11)
    market = build_market(s.candles.frame, funding=s.funding.frame, symbol="SYN", timeframe="1m")
    strat = ModelStrategy(loaded.policy, loaded.env_config(), loaded.table_spec(), [market])
    full = strat.targets(market_data_from_sim(market))
    decided = np.isfinite(full)
    assert decided.sum() > 100
    assert np.all(np.abs(full[decided]) <= loaded.env_config().max_leverage)
    cut = strat.targets(market_data_from_sim(market).truncated(900))
    np.testing.assert_array_equal(cut, full[:900])
