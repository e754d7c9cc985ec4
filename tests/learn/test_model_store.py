"""Model directories: save → load round trip, ids, manifests, refusals of broken directories."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from autoperp.brain.observation import Observation
from autoperp.brain.policy import Policy, PolicyConfig
from autoperp.core.errors import ConfigError
from autoperp.learn.env_config import EnvConfig
from autoperp.learn.model_store import (
    code_version,
    data_manifest,
    load_model,
    make_model_id,
    save_checkpoint,
    save_model,
)
from autoperp.learn.ppo_config import PPOConfig
from autoperp.learn.scalar_log import ScalarLog, read_scalars
from autoperp.sim.market import SimMarket, build_market


def _policy(seed: int = 0) -> Policy:
    cfg = PolicyConfig(
        d_model=16, n_heads=2, h_layers=1, l_layers=1, n_cycles=1, t_steps=1, modalities=("fast",),
        price_features=1, fast_window=4, n_regime=2, seed=seed,
    )  # fmt: skip
    return Policy(cfg).eval()


def _saved(user_data: Path, policy: Policy, model_id: str = "m1") -> Path:
    configs = {
        "policy": policy.config,
        "env": EnvConfig(episode_steps=64),
        "ppo": PPOConfig(n_envs=8, minibatches=2),
    }
    return save_model(
        user_data, model_id, policy, configs, {"seed": 3, "data_manifest_hash": "ab"}, {"sharpe": 1.5}
    )


def _market(close: np.ndarray, symbol: str = "BTC/USDT:USDT") -> SimMarket:
    ts = np.arange(close.size, dtype=np.int64) * 60_000 + 1_700_000_000_000
    df = pd.DataFrame({"ts": ts, "open": close, "high": close * 1.001, "low": close * 0.999, "close": close,
                       "volume": np.ones_like(close)})  # fmt: skip
    return build_market(df, symbol=symbol, timeframe="1m")


def test_round_trip_gives_the_same_outputs_and_configs(tmp_path: Path) -> None:
    pol = _policy(seed=5)
    d = _saved(tmp_path, pol)
    assert {p.name for p in d.iterdir()} >= {"model.pt", "config.json", "manifest.json", "metrics.json"}
    loaded = load_model(tmp_path, "m1")
    obs = Observation(
        regime=torch.zeros(3, 2), fast=torch.randn(3, 4, 1, generator=torch.Generator().manual_seed(0))
    )
    with torch.no_grad():
        a, b = pol(obs), loaded.policy(obs)
    assert torch.equal(a.mean, b.mean) and torch.equal(a.value, b.value)
    assert loaded.policy_config == pol.config
    assert loaded.env_config().episode_steps == 64
    assert loaded.ppo_config().n_envs == 8
    assert loaded.manifest["seed"] == 3 and loaded.manifest["code_version"] == code_version()
    assert loaded.metrics == {"sharpe": 1.5}
    assert loaded.warnings == []


def test_missing_or_corrupt_files_are_refused_naming_the_file(tmp_path: Path) -> None:
    d = _saved(tmp_path, _policy())
    (d / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"config\.json: corrupt JSON"):
        load_model(tmp_path, "m1")
    d = _saved(tmp_path, _policy(), "m2")
    (d / "model.pt").write_bytes(b"garbage")
    with pytest.raises(ConfigError, match=r"model\.pt: corrupt weights"):
        load_model(tmp_path, "m2")
    d = _saved(tmp_path, _policy(), "m3")
    (d / "manifest.json").unlink()
    with pytest.raises(ConfigError, match=r"manifest\.json: missing"):
        load_model(tmp_path, "m3")
    with pytest.raises(ConfigError, match="no such model"):
        load_model(tmp_path, "nope")
    with pytest.raises(ConfigError, match="plain directory name"):
        load_model(tmp_path, "../m1")


def test_weights_that_do_not_fit_the_config_are_refused(tmp_path: Path) -> None:
    d = _saved(tmp_path, _policy())
    cfg = json.loads((d / "config.json").read_text())
    cfg["policy"]["d_model"] = 32
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match=r"model\.pt: weights do not fit"):
        load_model(tmp_path, "m1")


def test_code_version_mismatch_is_only_a_warning(tmp_path: Path) -> None:
    d = _saved(tmp_path, _policy())
    man = json.loads((d / "manifest.json").read_text())
    man["code_version"] = "0.0.1+deadbeef"
    (d / "manifest.json").write_text(json.dumps(man))
    with pytest.warns(UserWarning, match="0.0.1"):
        loaded = load_model(tmp_path, "m1")
    assert loaded.warnings and "0.0.1+deadbeef" in loaded.warnings[0]


def test_model_id_format_and_config_sensitivity() -> None:
    t = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    a = make_model_id("stage1", {"lr": 1e-3}, t)
    assert a.startswith("20260102T030405-stage1-") and len(a.split("-")[-1]) == 8
    assert a == make_model_id("stage1", {"lr": 0.001}, t)
    assert a != make_model_id("stage1", {"lr": 2e-3}, t)


def test_data_manifest_hash_follows_the_closes() -> None:
    c = np.linspace(100, 110, 50)
    h1, entries = data_manifest([_market(c)])
    h2, _ = data_manifest([_market(c)])
    c2 = c.copy()
    c2[10] += 0.01
    h3, _ = data_manifest([_market(c2)])
    assert h1 == h2 != h3
    assert entries[0]["n_bars"] == 50 and entries[0]["symbol"] == "BTC/USDT:USDT"


def test_checkpoint_holds_weights_and_optimizer(tmp_path: Path) -> None:
    pol = _policy()
    opt = torch.optim.Adam(pol.parameters())
    p = save_checkpoint(tmp_path, 3, 96, pol, opt)
    assert p.name == "step_96.pt" and p.parent.name == "checkpoints"
    payload = torch.load(p, weights_only=True)
    assert payload["update"] == 3 and set(payload["model"]) == set(pol.state_dict())


def test_scalar_log_widens_its_header_and_reads_back(tmp_path: Path) -> None:
    log = ScalarLog(tmp_path / "scalars.csv")
    log.log(10, {"a": 1.0, "b": float("nan")})
    log.log(20, {"a": 2.5})
    log.log(30, {"a": 3.0, "c": -1.0})
    rows = read_scalars(tmp_path / "scalars.csv")
    assert [r["step"] for r in rows] == [10, 20, 30]
    assert rows[1]["a"] == 2.5 and np.isnan(rows[0]["b"]) and np.isnan(rows[0]["c"]) and rows[2]["c"] == -1.0
    assert not log.tensorboard or (tmp_path / "tb").exists() is False
