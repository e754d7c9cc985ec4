"""The gymnasium env passes gymnasium's checker and keeps the kernel's trade log on request."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from autoperp.data.synthetic import generate_series
from autoperp.learn.env import TradingEnv
from autoperp.learn.env_config import EnvConfig
from autoperp.learn.feature_table import TableSpec, build_feature_table
from autoperp.sim import build_market

SPEC = TableSpec(fast_window=8, slow_window=2, vol_windows=(5, 10, 20), norm_window=10, volume_window=20,
                 funding_z_window=50, obs_window=4)  # fmt: skip


@pytest.fixture(scope="module")
def setup():
    s = generate_series(2000, seed=2)
    m = build_market(s.candles.frame, funding=s.funding.frame, symbol="BTC/USDT:USDT", timeframe="1m")
    return m, build_feature_table([m], None, SPEC)


@pytest.mark.parametrize(
    ("obs", "action"), [("window", "continuous"), ("indices", "continuous"), ("window", "discrete")]
)
def test_check_env(setup, obs: str, action: str) -> None:
    m, table = setup
    env = TradingEnv([m], table, EnvConfig(obs=obs, action=action, episode_steps=20, window=4))
    check_env(env, skip_render_check=True)
    o, _ = env.reset(seed=1)
    assert env.observation_space.contains(o)


def test_episode_and_trade_log(setup) -> None:
    m, table = setup
    env = TradingEnv([m], table, EnvConfig(obs="window", episode_steps=15, window=4), record_trades=True)
    env.reset(seed=3)
    done = False
    n = 0
    while not done:
        _, _r, term, trunc, info = env.step(np.array([1.0 if n % 2 else -1.0], dtype=np.float32))
        done = term or trunc
        n += 1
    assert n == 15 and trunc and info["episode_stats"]["n_steps"] == 15
    log = env.trades()
    assert (log["kind"] == "fill").sum() == 15
    assert log["kind"].iloc[-1] == "force_close"
    env.reset(seed=3)
    assert len(env.trades()) == 0
