"""The vector env steps the same kernel as the backtester: equal money, episodes, resets, bad actions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoperp.core.errors import ValidationError
from autoperp.data.synthetic import generate_series
from autoperp.learn.env_config import EnvConfig
from autoperp.learn.feature_table import TableSpec, build_feature_table
from autoperp.learn.vec_env import VecTradingEnv
from autoperp.sim import SimConfig, build_market, simulate
from autoperp.sim import layout as L

SPEC = TableSpec(fast_window=8, slow_window=2, vol_windows=(5, 10, 20), norm_window=10, volume_window=20,
                 funding_z_window=50, obs_window=4)  # fmt: skip


def synthetic_market(n: int = 3000, seed: int = 1):
    s = generate_series(n, seed=seed)
    return build_market(s.candles.frame, funding=s.funding.frame, mark=s.mark.frame,
                        symbol="BTC/USDT:USDT", timeframe="1m")  # fmt: skip


@pytest.fixture(scope="module")
def market():
    return synthetic_market()


@pytest.fixture(scope="module")
def table(market):
    return build_feature_table([market], None, SPEC)


def run_episode(env: VecTradingEnv, actions_fn) -> tuple[int, int, list[float], list[int], list[float]]:
    obs = env.reset()
    start, end = int(obs.bar[0]), int(env.episode_end[0])
    acts, bars, eqs = [], [], []
    while True:
        a = actions_fn(len(acts))
        acts.append(a)
        _, _, term, trunc, _ = env.step(np.array([a]))
        bars.append(int(env._envi[0, 1]))  # the bar the step ended on (before any auto-reset: auto_reset off)
        eqs.append(float(env.state[0, L.S_LAST_EQUITY]))
        if term[0] or trunc[0]:
            return start, end, acts, bars, eqs


@pytest.mark.parametrize(("interval", "delay", "max_lev"), [("1m", 0, 1.0), ("5m", 1, 2.0)])
def test_equity_equals_simulate(market, table, interval: str, delay: int, max_lev: float) -> None:
    sim = SimConfig(leverage=3.0, delay_bars=delay)
    cfg = EnvConfig(decision_interval=interval, episode_steps=60, max_leverage=max_lev, sim=sim)
    env = VecTradingEnv([market], table, cfg, 1, seed=3, auto_reset=False)
    rng = np.random.default_rng(0)
    start, end, acts, bars, eqs = run_episode(env, lambda i: float(rng.uniform(-1.3, 1.3)))
    k = 5 if interval == "5m" else 1
    assert end == start + 60 * k and bars[-1] == end
    targets = np.full(end - start + 1, np.nan)
    for i, a in enumerate(acts):
        targets[i * k] = np.clip(a, -1, 1) * max_lev
    res = simulate(market.slice(start, end + 1), targets, sim)
    np.testing.assert_allclose(eqs, res.equity[np.array(bars) - start], rtol=1e-12)
    assert res.summary.fills > 10
    assert eqs[-1] == pytest.approx(res.summary.final_equity, rel=1e-12)
    assert env.state[0, L.S_QTY] == 0.0  # force-closed on the episode's last bar


def test_auto_reset_and_truncation(market, table) -> None:
    cfg = EnvConfig(episode_steps=7)
    env = VecTradingEnv([market], table, cfg, 5, seed=1)
    obs = env.reset()
    first = obs.bar.copy()
    for _t in range(7):
        obs, _r, term, trunc, stats = env.step(np.full(5, 0.5))
    assert trunc.all() and not term.any()
    assert (stats.n_steps == 7).all()
    assert np.isfinite(stats.return_).all() and (stats.final_equity > 0).all()
    # the returned observation is the next episode's first: new start bars, flat fresh accounts
    assert not np.array_equal(obs.bar, first + 7)
    assert (env.state[:, L.S_QTY] == 0).all() and (env.state[:, L.S_WALLET] == 10_000.0).all()
    assert (obs.account[:, 0] == 0).all()
    _, _, _, trunc, _ = env.step(np.zeros(5))
    assert not trunc.any()


def test_series_end_truncates(market, table) -> None:
    cfg = EnvConfig(episode_steps=10_000)
    env = VecTradingEnv([market], table, cfg, 1, seed=0, start_range=(2900, 2950), auto_reset=False)
    start = int(env.reset().bar[0])
    assert 2900 <= start <= 2948
    assert env.episode_end[0] == 2949
    n = 0
    while True:
        n += 1
        _, _, term, trunc, _ = env.step(np.ones(1))
        if trunc[0]:
            break
    assert n == 2949 - start and not term[0]


def crash_market():
    n = 200
    ts = 1_704_067_200_000 + np.arange(n, dtype=np.int64) * 3_600_000
    rng = np.random.default_rng(5)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    close[150:] *= 0.8  # a 20% gap down
    open_ = np.concatenate(([100.0], close[:-1]))
    frame = pd.DataFrame({"ts": ts, "open": open_, "high": np.maximum(open_, close) * 1.0005,
                          "low": np.minimum(open_, close) * 0.9995, "close": close, "volume": 1e6})  # fmt: skip
    return build_market(frame, symbol="BTC/USDT:USDT", timeframe="1h")


def test_liquidation_terminates_with_its_loss() -> None:
    m = crash_market()
    spec = TableSpec(fast_window=4, slow_window=2, vol_windows=(3, 5, 8), norm_window=5, volume_window=8,
                     funding_z_window=10, obs_window=4)  # fmt: skip
    table = build_feature_table([m], None, spec)
    cfg = EnvConfig(
        decision_interval="1h", episode_steps=500, max_leverage=20.0, sim=SimConfig(leverage=20.0)
    )
    env = VecTradingEnv([m], table, cfg, 1, seed=0, start_range=(100, 200), auto_reset=False)
    env.reset()
    total = 0.0
    while True:
        _, r, term, trunc, stats = env.step(np.ones(1))
        total += float(r[0])
        if term[0] or trunc[0]:
            break
    assert term[0] and not trunc[0]
    assert stats.liquidated[0] and env.state[0, L.S_N_LIQ] == 1
    assert float(env._envi[0, 1]) == 150  # the crash bar
    assert stats.final_equity[0] < 0.1 * 10_000
    assert total < np.log(0.1)  # the liquidation's loss is in the reward


def test_seeded_runs_repeat(market, table) -> None:
    cfg = EnvConfig(episode_steps=20, obs="window", window=4)

    def run(seed: int) -> np.ndarray:
        env = VecTradingEnv([market], table, cfg, 8, seed=seed)
        rng = np.random.default_rng(1)
        out = []
        for _ in range(50):
            obs, r, *_ = env.step(rng.uniform(-1, 1, 8))
            out.append(np.concatenate([r, obs.bar, obs.window.ravel()]))
        return np.concatenate(out)

    a, b, c = run(7), run(7), run(8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_action_rejected(market, table, bad: float) -> None:
    env = VecTradingEnv([market], table, EnvConfig(), 4, seed=0)
    before = env.state.copy()
    with pytest.raises(ValidationError, match="env 2"):
        env.step(np.array([0.0, 0.5, bad, 1.0]))
    np.testing.assert_array_equal(env.state, before)  # nothing was stepped


def test_out_of_range_clipped(market, table) -> None:
    rewards = []
    for a in (1.0, 7.5, 1e9):
        env = VecTradingEnv([market], table, EnvConfig(), 2, seed=4)
        _, r, *_ = env.step(np.array([a, -a]))
        rewards.append(r.copy())
    np.testing.assert_array_equal(rewards[0], rewards[1])
    np.testing.assert_array_equal(rewards[0], rewards[2])


def test_discrete_actions(market, table) -> None:
    env = VecTradingEnv([market], table, EnvConfig(action="discrete", n_bins=5), 2, seed=0)
    env.step(np.array([4, 0]))
    pos = env.state[:, L.S_QTY]
    assert pos[0] > 0 > pos[1]
    with pytest.raises(ValidationError, match="env 1"):
        env.step(np.array([2, 5]))


def test_scenarios_add_series(market, table) -> None:
    cfg = EnvConfig(scenarios=("flash_crash", "liquidity_drought"), scenario_prob=1.0, episode_steps=5)
    env = VecTradingEnv([market], table, cfg, 16, seed=0)
    assert env.table.n_series == 3 and len(env.markets) == 3
    assert set(env.reset().series.tolist()) <= {1, 2}
    drought = env.markets[2]
    assert drought.data[L.M_SPREAD].max() > 0  # the drought's spread reaches the kernel
    crash = env.markets[1]
    assert crash.data[L.M_CLOSE].min() < market.data[L.M_CLOSE].min()
    cfg0 = EnvConfig(scenarios=("flash_crash",), scenario_prob=0.0)
    env0 = VecTradingEnv([market], table, cfg0, 16, seed=0)
    assert set(env0.reset().series.tolist()) == {0}


def test_sequential_walks_each_bar_once(market, table) -> None:
    cfg = EnvConfig(episode_steps=100)
    env = VecTradingEnv([market], table, cfg, 1, seed=0, sequential=True, start_range=(0, 600))
    obs = env.reset()
    assert obs.bar[0] == table.warmup
    steps = 0
    while not env.finished[0]:
        env.step(np.zeros(1))
        steps += 1
    assert steps == 599 - table.warmup
