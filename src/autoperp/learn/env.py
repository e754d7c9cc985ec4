"""The gymnasium view of the trading env: one account, stepped by the vector env's numba kernel (N = 1).

Observation: with ``obs="window"`` one Box, the last ``window`` rows of the configured feature group
(flattened) followed by the 4 account values; with ``obs="indices"`` a Dict of Boxes materialised from
the feature table: ``fast`` (fast_window, 5), ``slow`` (slow_window, 5), ``regime`` (5), ``flow``,
``alt`` and ``account`` (4). Action: Box(-1, 1, (1,)) (target exposure as a fraction of
``max_leverage``) or Discrete(n_bins). Every value is clipped to ±10, so the spaces are bounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd

from autoperp.core.types import MarginBracket
from autoperp.learn.env_config import EnvConfig
from autoperp.learn.feature_table import CLIP, FeatureTable
from autoperp.learn.vec_env import VecTradingEnv
from autoperp.sim import layout as L
from autoperp.sim.market import SimMarket

__all__ = ["TradingEnv"]


class TradingEnv(gym.Env):
    """One trading account over ``markets``; episodes start at random bars (seeded by ``reset(seed=)``).

    ``record_trades=True`` keeps the kernel's trade log of the current episode (:meth:`trades`).
    ``info`` carries the reward's parts (``log_return``, ``drawdown_penalty``, ``dsr``), ``equity``
    (USDT) and, at the end of an episode, its statistics.
    """

    metadata = {"render_modes": []}  # noqa: RUF012

    def __init__(
        self,
        markets: Sequence[SimMarket],
        table: FeatureTable,
        config: EnvConfig,
        *,
        brackets: tuple[MarginBracket, ...] | None = None,
        start_range: tuple[int, int] | None = None,
        record_trades: bool = False,
        seed: int = 0,
    ) -> None:
        self.vec = VecTradingEnv(markets, table, config, 1, seed=seed, brackets=brackets,
                                 start_range=start_range, record_trades=record_trades, auto_reset=False)  # fmt: skip
        self.config = config
        self.table = self.vec.table
        self._done = True
        if config.action == "discrete":
            self.action_space: gym.Space[Any] = gym.spaces.Discrete(config.n_bins)
        else:
            self.action_space = gym.spaces.Box(-1.0, 1.0, (1,), dtype=np.float32)
        spec = self.table.spec
        self._fast = spec.fast_window if spec is not None else 32
        self._slow = spec.slow_window if spec is not None else 24
        if config.obs == "window":
            size = self.vec.window_size * self.vec._wtab.shape[2] + 4
            self.observation_space: gym.Space[Any] = gym.spaces.Box(-CLIP, CLIP, (size,), dtype=np.float32)
        else:
            g = self.table.groups

            def box(*shape: int) -> gym.spaces.Box:
                return gym.spaces.Box(-CLIP, CLIP, shape, dtype=np.float32)

            self.observation_space = gym.spaces.Dict(
                {
                    "fast": box(self._fast, 5),
                    "slow": box(self._slow, 5),
                    "regime": box(len(g["regime"])),
                    "flow": box(len(g["flow"])),
                    "alt": box(len(g["alt"])),
                    "account": box(4),
                }
            )

    def _observation(self) -> Any:
        o = self.vec._obs
        if self.config.obs == "window":
            assert o.window is not None
            return np.concatenate((o.window[0].reshape(-1), o.account[0])).astype(np.float32)
        t = self.table
        s, b = int(o.series[0]), int(o.bar[0])
        g = t.groups
        si = int(t.slow_index[s, b])
        return {
            "fast": t.bars[s, b - self._fast + 1 : b + 1][:, list(g["price"])].copy(),
            "slow": t.slow[s, si - self._slow + 1 : si + 1].copy(),
            "regime": t.bars[s, b, list(g["regime"])].copy(),
            "flow": t.bars[s, b, list(g["flow"])].copy(),
            "alt": t.bars[s, b, list(g["alt"])].copy(),
            "account": o.account[0].copy(),
        }

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        self.vec.reset(seed=seed)
        self._done = False
        o = self.vec._obs
        return self._observation(), {"series": int(o.series[0]), "bar": int(o.bar[0])}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        a = np.asarray(action, dtype=np.float64).reshape(1)
        _, reward, term, trunc, stats = self.vec.step(a)
        parts = self.vec.reward_parts[0]
        info: dict[str, Any] = {
            "log_return": float(parts[0]),
            "drawdown_penalty": float(-parts[1]),
            "dsr": float(parts[2]),
            "equity": float(self.vec.state[0, L.S_LAST_EQUITY]),
            "bar": int(self.vec._obs.bar[0]),
        }
        if term[0] or trunc[0]:
            info["episode_stats"] = {
                "return": float(stats.return_[0]),
                "sharpe": float(stats.sharpe[0]),
                "calmar": float(stats.calmar[0]),
                "consistency": float(stats.consistency[0]),
                "liquidated": bool(stats.liquidated[0]),
                "n_steps": int(stats.n_steps[0]),
                "final_equity": float(stats.final_equity[0]),
            }
        return self._observation(), float(reward[0]), bool(term[0]), bool(trunc[0]), info

    def trades(self) -> pd.DataFrame:
        """The trade log of the current episode (``record_trades=True``)."""
        return self.vec.trades()
