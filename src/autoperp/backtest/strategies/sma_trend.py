"""SMA trend: long while the fast simple moving average of the close is above the slow one, short while
it is below; in the market from the first bar at which both averages exist."""

from __future__ import annotations

import numpy as np

from autoperp.backtest.market_data import MarketData, Window
from autoperp.backtest.strategies.moving_average import crossing_side, trailing_mean, window_mean
from autoperp.backtest.strategies.params_check import finite, require
from autoperp.backtest.strategy import Strategy

__all__ = ["SmaTrend"]


class SmaTrend(Strategy):
    """Fast/slow SMA crossover on the close (``fast``, ``slow`` in bars; ``exposure`` in units of equity).

    At bar t: side = +1 if SMA_fast > SMA_slow, −1 if below, 0 on a tie (within 1e-9 of the slow SMA).
    The target is side × exposure when the side is non-zero and differs from bar t−1's side, NaN (hold)
    otherwise, so a position is opened once per crossing and not rebalanced as the price drifts.
    """

    name = "sma_trend"
    description = "long above / short below: fast SMA vs slow SMA of the close"
    fast: int = 20
    slow: int = 100
    exposure: float = 1.0

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        require(self.fast >= 1, self.name, "fast", self.fast, "must be at least 1 bar")
        require(self.slow > self.fast, self.name, "slow", self.slow, f"must be longer than fast={self.fast}")
        require(finite(self.exposure), self.name, "exposure", self.exposure, "must be a finite number")

    @property
    def lookback(self) -> int:  # type: ignore[override]
        return self.slow

    def _side(self, close: np.ndarray) -> float:
        if close.shape[0] < self.slow:
            return 0.0
        return float(crossing_side(window_mean(close, self.fast), window_mean(close, self.slow)))

    def decide(self, window: Window) -> float:
        close = window.close
        now = self._side(close)
        if now == 0.0 or now == self._side(close[:-1]):
            return float("nan")
        return now * self.exposure

    def targets(self, data: MarketData) -> np.ndarray:
        side = crossing_side(trailing_mean(data.close, self.fast), trailing_mean(data.close, self.slow))
        prev = np.concatenate(([0.0], side[:-1]))
        return np.where((side != 0.0) & (side != prev), side * self.exposure, np.nan)
