"""`autoperp train`: a tiny run on generated markets end to end (model directory, ledger trial, reload),
config errors as one line, and the environment/command-line precedence of the training config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from autoperp.core.errors import ConfigError
from autoperp.learn.model_store import load_model
from autoperp.learn.train_config import load_train_config
from autoperp.metrics.ledger import TrialLedger
from tests.cli.backtest_support import run_cli

TINY = """
[data]
synthetic = true
synthetic_bars = 1200
synthetic_symbols = ["BTC/USDT:USDT"]
[table]
fast_window = 8
slow_window = 2
vol_windows = [5, 10, 20]
norm_window = 20
volume_window = 20
funding_z_window = 20
return_horizons = [2, 5]
[env]
episode_steps = 16
[policy]
preset = "stage1"
[policy.overrides]
d_model = 16
n_heads = 2
[ppo]
total_steps = 64
n_envs = 4
n_steps = 8
minibatches = 2
checkpoint_every = 1
torch_threads = 1
[split]
validation_fraction = 0.2
"""


def test_tiny_run_saves_a_loadable_model_and_records_a_train_trial(
    tmp_path: Path, user_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "train.toml"
    cfg.write_text(TINY, encoding="utf-8")
    rc, out, err = run_cli(
        ["train", "--config", str(cfg), "--user-data", str(user_data), "--seed", "2", "--no-progress"], capsys
    )
    assert rc == 0, err
    models = list((user_data / "models").iterdir())
    assert len(models) == 1
    d = models[0]
    assert d.name.split("-")[1] == "stage1" and d.name in out
    assert {"model.pt", "config.json", "manifest.json", "metrics.json", "scalars.csv"} <= {
        p.name for p in d.iterdir()
    }
    assert sorted(p.name for p in (d / "checkpoints").iterdir()) == ["step_32.pt", "step_64.pt"]
    manifest = json.loads((d / "manifest.json").read_text())
    assert manifest["seed"] == 2 and len(manifest["data_manifest_hash"]) == 64
    loaded = load_model(user_data, d.name)
    assert loaded.ppo_config().seed == 2 and "account" in loaded.policy_config.modalities
    assert loaded.policy_config.fast_window == 8
    assert "val_sharpe" in loaded.metrics
    trials = TrialLedger.in_user_data(user_data).records()
    assert [t.kind.value for t in trials] == ["train"] and trials[0].model_id == d.name
    assert "val_sharpe" in out
    # the saved weights are the trained ones, not the initial ones
    assert any(
        not torch.equal(v, loaded.policy.state_dict()[k])
        for k, v in type(loaded.policy)(loaded.policy_config).state_dict().items()
    )


def test_bad_config_is_one_line_naming_the_file_and_key(
    tmp_path: Path, user_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[ppo]\nn_envs = 10\nminibatches = 4\n", encoding="utf-8")
    rc, _, err = run_cli(["train", "--config", str(cfg)], capsys)
    assert rc == 2 and "bad.toml" in err and "divisible" in err and len(err.strip().splitlines()) == 1
    rc, _, err = run_cli(["train", "--config", str(tmp_path / "missing.toml")], capsys)
    assert rc == 2 and "missing.toml: config file not found" in err
    rc, _, err = run_cli(["train", "--preset", "huge"], capsys)
    assert rc == 2 and "--preset 'huge'" in err


def test_precedence_file_then_environment_then_command_line(tmp_path: Path) -> None:
    cfg = tmp_path / "t.toml"
    cfg.write_text("[ppo]\nlr = 0.001\nseed = 1\n[data]\nexchange = 'x'\n", encoding="utf-8")
    env = {"AUTOPERP__PPO__LR": "0.002", "AUTOPERP__PPO__SEED": "5", "AUTOPERP__VALIDATION__SPIKE_Z": "40"}
    c = load_train_config(cfg, env, {"ppo": {"seed": 9}})
    assert c.ppo.lr == 0.002 and c.ppo.seed == 9 and c.data.exchange == "x"
    with pytest.raises(ConfigError, match=r"AUTOPERP__PPO__LR"):
        load_train_config(cfg, {"AUTOPERP__PPO__LR": "-1"})
