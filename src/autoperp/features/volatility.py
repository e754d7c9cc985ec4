"""Realised volatility: sqrt of the sum of squared 1-bar log returns over a rolling window."""

from __future__ import annotations

import math

import numpy as np

from autoperp.features.returns import LogReturnState, log_returns
from autoperp.features.rolling import RollingSum, rolling_sum

#: Default windows in bars (30 min, 4 h, 1 day of 1m bars).
DEFAULT_VOL_WINDOWS = (30, 240, 1440)


def realised_vol(close: np.ndarray, window: int) -> np.ndarray:
    """sqrt(sum of squared 1-bar log returns over the last ``window`` bars), not annualised.

    NaN for t < window (the first return needs a previous close) and where a close is missing.
    """
    r = log_returns(close, 1)
    out: np.ndarray = np.sqrt(rolling_sum(r * r, window))
    return out


class RealisedVolState:
    """Online twin of :func:`realised_vol`."""

    def __init__(self, window: int) -> None:
        self._ret = LogReturnState(1)
        self._sum = RollingSum(window)

    def update(self, close: float) -> float:
        """Push one close; the realised vol of the window ending at it."""
        r = self._ret.update(close)
        s = self._sum.update(r * r)
        return math.sqrt(s) if not math.isnan(s) else math.nan
