"""Funding rate carried forward from settlements, and its rolling z-score."""

from __future__ import annotations

import math

import numpy as np

from autoperp.features.rolling import RollingZScore, rolling_zscore


def funding_ffill(funding_rate: np.ndarray) -> np.ndarray:
    """The last settled rate (fraction per interval) at every bar; NaN before the first settlement."""
    x = np.asarray(funding_rate, dtype=np.float64)
    idx = np.where(np.isfinite(x), np.arange(len(x)), -1)
    np.maximum.accumulate(idx, out=idx)
    return np.where(idx >= 0, x[np.maximum(idx, 0)], np.nan)


def funding_zscore(funding_rate: np.ndarray, window: int) -> np.ndarray:
    """Z-score of the carried-forward rate against its last ``window`` bars (ddof=1)."""
    return rolling_zscore(funding_ffill(funding_rate), window)


class FundingState:
    """Online twin of :func:`funding_ffill` and :func:`funding_zscore`."""

    def __init__(self, window: int) -> None:
        self._last = math.nan
        self._z = RollingZScore(window)

    def update(self, funding_rate: float) -> tuple[float, float]:
        """Push one bar's rate (NaN without a settlement); (carried rate, z-score)."""
        if math.isfinite(funding_rate):
            self._last = funding_rate
        return self._last, self._z.update(self._last)
