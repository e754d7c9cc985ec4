"""Log returns at fixed horizons: log(close_t / close_{t-h}), NaN for the first h bars."""

from __future__ import annotations

import math

import numpy as np


def log_returns(close: np.ndarray, horizon: int) -> np.ndarray:
    """log(close_t / close_{t-horizon}) in natural-log units; NaN where t < horizon."""
    if horizon < 1:
        raise ValueError("a return horizon is at least 1 bar")
    c = np.asarray(close, dtype=np.float64)
    out = np.full(len(c), np.nan)
    if len(c) > horizon:
        with np.errstate(invalid="ignore", divide="ignore"):
            out[horizon:] = np.log(c[horizon:] / c[:-horizon])
    return out


class LogReturnState:
    """Online twin of :func:`log_returns`: remembers the last ``horizon`` closes."""

    def __init__(self, horizon: int) -> None:
        if horizon < 1:
            raise ValueError("a return horizon is at least 1 bar")
        self.horizon = int(horizon)
        self._buf = [math.nan] * self.horizon
        self._t = 0

    def update(self, close: float) -> float:
        """Push one close; the log return over the horizon ending at it."""
        slot = self._t % self.horizon
        past = self._buf[slot]
        self._buf[slot] = close
        full = self._t >= self.horizon
        self._t += 1
        if not full:
            return math.nan
        return float(np.log(close / past))
