"""The reward cannot be gamed: churn costs, no free lunch on a driftless walk, it telescopes to the
money the trade log books, and malformed actions earn nothing extra (issue 6 (a)-(d))."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoperp.core.errors import ValidationError
from autoperp.learn.env import TradingEnv
from autoperp.learn.env_config import EnvConfig, RewardConfig
from autoperp.learn.feature_table import TableSpec, build_feature_table
from autoperp.learn.vec_env import VecTradingEnv
from autoperp.sim import build_market

SPEC = TableSpec(fast_window=8, slow_window=2, vol_windows=(5, 10, 20), norm_window=10, volume_window=20,
                 funding_z_window=50, obs_window=4)  # fmt: skip


def gbm_market(n: int, seed: int):
    """Zero log drift random walk (1m bars, 10 bp per bar), so no policy has an edge before costs."""
    rng = np.random.default_rng(seed)
    r = rng.normal(0.0, 0.001, n)
    close = 100.0 * np.exp(np.cumsum(r))
    open_ = np.concatenate(([100.0], close[:-1]))
    wick = np.abs(rng.normal(0, 0.0003, n))
    frame = pd.DataFrame({"ts": 1_704_067_200_000 + 60_000 * np.arange(n, dtype=np.int64), "open": open_,
                          "high": np.maximum(open_, close) * (1 + wick), "low": np.minimum(open_, close) * (1 - wick),
                          "close": close, "volume": 1e6})  # fmt: skip
    return build_market(frame, symbol="BTC/USDT:USDT", timeframe="1m")


@pytest.fixture(scope="module")
def walk():
    markets = [gbm_market(20_000, s) for s in range(4)]
    return markets, build_feature_table(markets, None, SPEC)


def policy_actions(name: str, obs, t: int, rng: np.random.Generator) -> np.ndarray:
    n = obs.bar.shape[0]
    last_ret = obs.window[:, -1, 1]  # close_diff of the decision bar (percent)
    if name == "long":
        return np.ones(n)
    if name == "short":
        return -np.ones(n)
    if name == "random":
        return rng.uniform(-1, 1, n)
    if name == "churn":
        return np.full(n, 1.0 if t % 2 else -1.0)
    if name == "momentum":
        return np.sign(last_ret)
    if name == "reversion":
        return -np.sign(last_ret)
    return np.zeros(n)


def episode_rewards(markets, table, name: str, n_envs: int, episodes: int, seed: int) -> np.ndarray:
    cfg = EnvConfig(obs="window", window=4, episode_steps=64)
    env = VecTradingEnv(markets, table, cfg, n_envs, seed=seed)
    obs = env.reset()
    rng = np.random.default_rng(seed)
    acc = np.zeros(n_envs)
    out: list[float] = []
    t = 0
    while len(out) < episodes:
        obs, r, term, trunc, _ = env.step(policy_actions(name, obs, t, rng))
        acc += r
        done = term | trunc
        out.extend(acc[done].tolist())
        acc[done] = 0.0
        t += 1
    return np.array(out[:episodes])


def test_a_churn_earns_less_than_flat(walk) -> None:
    markets, table = walk
    churn = episode_rewards(markets, table, "churn", 64, 256, 0)
    flat = episode_rewards(markets, table, "flat", 64, 256, 0)
    assert (flat == 0.0).all()
    assert churn.sum() < flat.sum()
    assert churn.mean() < -64 * 2 * 0.0005 * 0.9  # about a taker fee on 2× equity per step


@pytest.mark.parametrize("name", ["long", "short", "random", "churn", "momentum", "reversion"])
def test_b_no_free_lunch_on_a_driftless_walk(walk, name: str) -> None:
    # One-sided test at about 1 standard error: on a zero-drift walk with fees every policy's expected
    # episode reward is ≤ 0 (−costs, − the drawdown penalty, − the ½σ² of a log); asserting
    # mean − 1·SE < 0 fails only if a policy earns clearly more than zero, which would be a reward leak.
    # (mean + 1·SE < 0 would be stricter but flaky for always-long/short, whose cost per episode is a
    # single round trip, small next to the episode's price noise.)
    markets, table = walk
    rewards = np.concatenate([episode_rewards(markets, table, name, 64, 256, s) for s in (11, 12)])
    se = rewards.std(ddof=1) / np.sqrt(rewards.size)
    assert rewards.mean() - se < 0.0, (name, rewards.mean(), se)


def test_c_log_returns_telescope_to_the_trade_log(walk) -> None:
    markets, table = walk
    cfg = EnvConfig(
        obs="window", window=4, episode_steps=200, reward=RewardConfig(lambda_dd=0.5, kappa_dsr=0.1)
    )
    env = TradingEnv(markets, table, cfg, record_trades=True)
    rng = np.random.default_rng(0)
    env.reset(seed=5)
    total_log = 0.0
    done = False
    while not done:
        _, _, term, trunc, info = env.step(rng.uniform(-1, 1, 1).astype(np.float32))
        total_log += info["log_return"]
        done = term or trunc
    log = env.trades()
    assert (log["kind"] == "fill").sum() > 50
    final = 10_000.0 + log["pnl"].sum() - log["fee"].sum() - log["funding"].sum()
    assert total_log == pytest.approx(np.log(final / 10_000.0), abs=1e-9)
    assert info["episode_stats"]["final_equity"] == pytest.approx(final, rel=1e-12)


def test_d_malformed_actions_are_rejected_or_clipped(walk) -> None:
    markets, table = walk
    cfg = EnvConfig(obs="window", window=4, episode_steps=30)
    totals = []
    for big in (1.0, 1e9):
        env = VecTradingEnv(markets, table, cfg, 8, seed=9)
        s = 0.0
        for t in range(40):
            _, r, *_ = env.step(np.full(8, big if t % 3 else -big))
            s += float(r.sum())
        totals.append(s)
    assert totals[0] == totals[1]  # an action of 1e9 earns exactly what 1.0 earns
    env = VecTradingEnv(markets, table, cfg, 8, seed=9)
    for bad in (np.nan, np.inf, -np.inf):
        a = np.zeros(8)
        a[3] = bad
        with pytest.raises(ValidationError, match="env 3"):
            env.step(a)
