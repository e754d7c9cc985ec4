"""A trained policy as a backtest :class:`~autoperp.backtest.strategy.Strategy` (``evaluate --model``).

The policy's observation includes its own account (exposure, unrealised PnL, margin ratio), so its
decisions cannot be computed from prices alone: :func:`model_targets` walks the series once through the
RL environment (the same kernel the backtests use), deterministic actions, carry kept across decisions,
and returns the exposure target decided at each decision bar (NaN = hold in between). Handing those
targets to the backtest re-simulates exactly the same fills, because the kernel is the same.

Two things differ from a live run and are said in the evaluation notes by the caller:

* the walk is one long episode from the first bar where every feature window is full; after a
  liquidation the environment starts a fresh account while the re-simulation keeps what is left;
* an evaluation segment re-simulated on its own starts flat, while the walk's account state at that
  bar may hold a position (the targets are the same; the unrealised PnL the policy saw differs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import torch

from autoperp.backtest.market_data import MarketData, Window
from autoperp.backtest.strategy import Strategy
from autoperp.brain.policy import Policy
from autoperp.core.errors import UsageError
from autoperp.learn.env_config import EnvConfig
from autoperp.learn.feature_table import TableSpec, build_feature_table
from autoperp.learn.gather import ObservationGather
from autoperp.learn.vec_env import VecTradingEnv
from autoperp.sim import layout as L
from autoperp.sim.market import SimMarket

__all__ = ["MODEL_NOTES", "ModelStrategy", "model_targets"]

#: What an evaluation of a model should say about how its decisions were made (see the module docstring).
MODEL_NOTES = (
    "model: decisions come from one walk of each series with the model's own account (deterministic "
    "actions, carry kept); the segments re-simulate those decisions, each starting flat",
    "model: after a liquidation the walk starts a fresh account while the re-simulation keeps what is left",
)


def evaluation_env_config(config: EnvConfig, n_bars: int) -> EnvConfig:
    """``config`` for a walk over ``n_bars``: one episode spanning the series, no scenarios, index obs."""
    # bars per step is ≥ 1, so n_bars + 1 steps always outlasts the series
    return config.model_copy(
        update={"episode_steps": n_bars + 1, "scenarios": (), "scenario_prob": 0.0, "obs": "indices"}
    )


@torch.inference_mode()
def model_targets(
    policy: Policy,
    market: SimMarket,
    env_config: EnvConfig,
    table_spec: TableSpec,
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """Exposure targets (units of equity, NaN = hold) of ``policy`` walking ``market`` once (see module)."""
    n = len(market)
    out = np.full(n, np.nan)
    config = evaluation_env_config(env_config, n)
    k = config.bars_per_step(market.timeframe) if market.timeframe else 1
    padded = _padded(market, k + 1)
    table = build_feature_table([padded], None, table_spec)
    if table.warmup >= n:
        return out  # too short for the feature windows: the policy never decides
    env = VecTradingEnv([padded], table, config, n_envs=1, seed=0, sequential=True)
    gather = ObservationGather(env.table, policy.config, device)
    was_training = policy.training
    policy.eval()
    try:
        obs = env.reset()
        carry = policy.initial_carry(1, device)
        while not bool(env.finished[0]):
            o = gather(obs.series, obs.bar, obs.account)
            action, _, _, carry = policy.act(o, carry, deterministic=True)
            a = action.detach().to("cpu", torch.float32).numpy()
            if int(obs.bar[0]) >= n:
                break  # a phantom bar: nothing real is decided there
            out[int(obs.bar[0])] = float(a[0]) * config.max_leverage
            obs, _, terminated, truncated, _ = env.step(a)
            done = terminated | truncated
            if done.any():
                carry = policy.reset_carry(carry, torch.from_numpy(done).to(device))
    finally:
        policy.train(was_training)
    return out


def _padded(market: SimMarket, extra: int) -> SimMarket:
    """``market`` followed by ``extra`` phantom bars repeating its last close (no funding).

    The environment presents a decision only where a whole step follows it, and force-closes at the
    walk's end; the phantom bars let the last real bar be decided with the account as it stands then,
    exactly as in a longer history (features and the account at bar t depend on bars ≤ t only).
    """
    n = len(market)
    bar_ms = int(np.median(np.diff(market.ts))) if n > 1 else 60_000
    ts = np.concatenate([market.ts, market.ts[-1] + bar_ms * np.arange(1, extra + 1, dtype=np.int64)])
    data = np.concatenate([market.data, np.repeat(market.data[:, -1:], extra, axis=1)], axis=1)
    last_close = market.data[L.M_CLOSE, -1]
    for f in (L.M_OPEN, L.M_HIGH, L.M_LOW, L.M_CLOSE, L.M_MARK, L.M_LIQ_LOW, L.M_LIQ_HIGH):
        data[f, n:] = last_close
    data[L.M_FUNDING, n:] = np.nan
    data[L.M_SETTLE_PRICE, n:] = np.nan
    extras = {key: np.concatenate([v, np.repeat(v[-1:], extra)]) for key, v in market.extras.items()}
    return replace(market, ts=ts, data=np.ascontiguousarray(data), extras=extras)


class ModelStrategy(Strategy):
    """A trained policy over the markets it is evaluated on (see the module docstring).

    ``markets`` are the :class:`SimMarket` objects whose views :meth:`targets` is called with (a
    truncated view, as lookahead analysis makes, is matched to the prefix of its market).
    """

    name = "model"
    description = "a trained policy stepping through the simulator with its own account state"
    model_id: str = ""

    def __init__(
        self,
        policy: Policy,
        env_config: EnvConfig,
        table_spec: TableSpec,
        markets: Sequence[SimMarket] = (),
        *,
        model_id: str = "",
        device: torch.device | str = "cpu",
    ) -> None:
        super().__init__(model_id=model_id)
        self._policy = policy
        self._env_config = env_config
        self._spec = table_spec
        self._markets = list(markets)
        self._device = device
        # evaluate asks for the same series more than once (strategy, grid, baselines' dedup): one walk each
        self._memo: dict[tuple[str, int, int], np.ndarray] = {}

    @property
    def env_config(self) -> EnvConfig:
        """The environment the policy was trained in (action scale, decision interval, costs)."""
        return self._env_config

    def bind_markets(self, markets: Sequence[SimMarket]) -> None:
        """The markets :meth:`targets` will be asked about (set once the data is loaded)."""
        self._markets = list(markets)
        self._memo.clear()

    def decide(self, window: Window) -> float:
        raise UsageError("a model strategy decides over a whole series: call targets(data)")

    def _market_for(self, data: MarketData) -> SimMarket:
        n = len(data)
        for m in self._markets:
            if m.symbol == data.symbol and len(m) >= n and np.array_equal(m.ts[:n], data.ts):
                return m if len(m) == n else m.slice(0, n)
        raise UsageError(
            f"model {self.model_id or '?'}: no market given for {data.symbol or 'the data'} "
            f"({n} bars from ts {int(data.ts[0]) if n else '-'})"
        )

    def targets(self, data: MarketData) -> np.ndarray:
        return model_targets(self._policy, self._market_for(data), self._env_config, self._spec, self._device)
