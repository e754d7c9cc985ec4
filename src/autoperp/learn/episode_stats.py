"""Per-episode selection metrics reported by the RL env (never rewarded)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["EpisodeStats"]


@dataclass
class EpisodeStats:
    """Arrays (N,), valid only where the step's ``terminated | truncated`` is True; buffers owned by the env.

    * ``return_``: final equity / initial cash − 1 (fraction; ``return`` is a Python keyword).
    * ``sharpe``: mean / std of the per-step Δ log equity (per step, not annualised; 0 when the std is 0).
    * ``calmar``: ``return_`` / the episode's maximum drawdown (NaN when there was no drawdown).
    * ``consistency``: fraction of steps with a positive Δ log equity.
    * ``liquidated``: the episode ended in a liquidation or a blown account.
    * ``n_steps``: decisions taken; ``final_equity``: USDT at the last bar (after the force-close).
    """

    return_: np.ndarray
    sharpe: np.ndarray
    calmar: np.ndarray
    consistency: np.ndarray
    liquidated: np.ndarray
    n_steps: np.ndarray
    final_equity: np.ndarray

    @property
    def episode_return(self) -> np.ndarray:
        """Alias of ``return_``."""
        return self.return_
